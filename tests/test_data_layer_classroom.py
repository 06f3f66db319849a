"""The data layer on a shared classroom machine (issue 14, section 3).

Each test is one case that was tried: permissions that follow the umask, a copy that lost files
repaired from the kept zip, song and audio-visual files refused, WAVs cut short or holding NaN
named, RAVDESS_DIR pointing at the zip, a read-only or full data folder, short notebook names and
short failure reports of ``run-notebooks``, and the leftovers of ``kill -9``. Downloads go to the
local server of ``conftest`` (127.0.0.1); every zip and WAV is built tiny in ``tmp_path``.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
import soundfile as sf
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_utils.data import atomic, audio, datasets, download as dl, metadata as md
from course_utils.tools import cli, runner
from course_utils.base.errors import CourseError

from test_download import NAMES, _actor_dir, _clean_env, _md5, _zip_bytes, good_zip, make_tree  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def served(server, good_zip, monkeypatch):
    """The good zip served at RAVDESS_URL, with its checksum standing in for Zenodo's, so that
    the CLI (which cannot be given a checksum) downloads from the local server."""
    data, md5 = good_zip
    monkeypatch.setenv("RAVDESS_URL", server.serve(dl.RAVDESS_ZIP, data))
    monkeypatch.setattr(dl, "RAVDESS_MD5", md5)
    return server


@pytest.fixture
def umask():
    """``umask(value)`` sets the process's umask for the test; the old one comes back after."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda value: os.umask(value)
    os.umask(old)


def _cli(capsys, *argv) -> tuple[int, str, str]:
    """Run ``python -m course_utils ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _error(stderr: str) -> str:
    """The error report at the end of stderr (before it: papermill's or pooch's progress bars)."""
    return stderr[stderr.rindex("error: "):] if "error: " in stderr else stderr


def _modes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mode & 0o777 for p in [root, *sorted(root.rglob("*"))]}


def _wav(path: Path, y: np.ndarray, sr: int = 16_000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, subtype=subtype, format="WAV")
    return path


def _dead_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------- 1. permissions


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_download_and_extraction_follow_the_umask(tmp_path, served, capsys, umask, mask, file_mode, dir_mode):
    """Before: ravdess/ was drwx------ (mkdtemp) and the zip -rw------- (pooch's temp file)
    whatever the umask; another user of the machine could not read them."""
    umask(mask)
    dest = tmp_path / "data"
    code, _, err = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)
    assert code == 0, err
    assert (dest / "downloads" / dl.RAVDESS_ZIP).stat().st_mode & 0o777 == file_mode
    modes = _modes(dest / "ravdess")
    assert {m for p, m in modes.items() if (dest / "ravdess" / p).is_dir()} == {dir_mode}
    assert {m for p, m in modes.items() if (dest / "ravdess" / p).is_file()} == {file_mode}


def test_a_private_copy_of_an_older_version_is_opened_up(tmp_path, served, capsys, umask):
    umask(0o022)
    dest = tmp_path / "data"
    assert _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)[0] == 0
    (dest / "ravdess").chmod(0o700)  # what the old code left
    (dest / "downloads" / dl.RAVDESS_ZIP).chmod(0o600)
    assert dl.get_ravdess(dest, download=False, expect_complete=False, verbose=False) == dest / "ravdess"
    assert (dest / "ravdess").stat().st_mode & 0o777 == 0o755
    assert (dest / "downloads" / dl.RAVDESS_ZIP).stat().st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------- 2. repair and --force


def test_get_data_repairs_a_copy_that_lost_files_from_the_kept_zip(tmp_path, served, capsys):
    """Before: "PARTIAL ... Fix: run get-data" (the command just run), exit 0, the file still missing."""
    dest = tmp_path / "data"
    assert _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)[0] == 0
    lost = dest / "ravdess" / _actor_dir(NAMES[1]) / NAMES[1]
    lost.unlink()

    code, out, err = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)

    assert code == 0, err
    assert lost.is_file()
    assert f"lacks 1 of the {len(NAMES)} files extracted from {dl.RAVDESS_ZIP} (first: {NAMES[1]})" in out
    assert f"Extracted {len(NAMES)} files" in out
    assert served.count(dl.RAVDESS_ZIP) == 1  # no second download: the kept zip passed its checksum
    assert f"{len(NAMES)} files, 2 actors" in out
    # The partial-copy banner (a mirror's zip of 6 files) no longer tells to run the same command.
    assert "Fix: download the whole set (python -m course_utils get-data --dataset ravdess)" not in out
    assert "--force" in out


def test_a_notebook_repairs_from_the_kept_zip_without_network(tmp_path, served, capsys):
    dest = tmp_path / "data"
    assert _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)[0] == 0
    lost = dest / "ravdess" / _actor_dir(NAMES[0]) / NAMES[0]
    lost.unlink()
    served.routes.clear()  # offline: any request would fail

    ds = datasets.resolve("auto", dest=dest, progress=False)  # a notebook's data cell

    assert ds.name == "ravdess" and lost.is_file()
    assert served.count(dl.RAVDESS_ZIP) == 1


def test_force_extracts_again_and_downloads_a_damaged_zip_again(tmp_path, served, capsys):
    dest = tmp_path / "data"
    assert _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)[0] == 0
    (dest / "ravdess" / "Actor_01" / "stray.txt").write_text("x")

    code, out, _ = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest, "--force")
    assert code == 0 and not (dest / "ravdess" / "Actor_01" / "stray.txt").exists()
    assert served.count(dl.RAVDESS_ZIP) == 1  # the kept zip passed its checksum: no new download

    (dest / "downloads" / dl.RAVDESS_ZIP).write_bytes(b"damaged")
    code, out, _ = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest, "--force")
    assert code == 0 and served.count(dl.RAVDESS_ZIP) == 2
    assert len(md.find_wavs(dest / "ravdess")) == len(NAMES)


def test_a_hand_made_partial_copy_is_named_with_the_force_fix(tmp_path, served, make_tree, capsys):
    dest = tmp_path / "data"
    make_tree(dest / "ravdess", NAMES[:2])  # copied there by hand: no marker, never replaced silently
    code, out, _ = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)
    assert code == 0 and "PARTIAL copy" in out
    assert "`python -m course_utils get-data --dataset ravdess --force` replaces it with the full set" in out
    assert served.count(dl.RAVDESS_ZIP) == 0
    code, out, _ = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest, "--force")
    assert code == 0 and len(md.find_wavs(dest / "ravdess")) == len(NAMES)


def test_force_with_a_ravdess_dir_folder_says_it_is_never_changed(tmp_path, make_tree, monkeypatch, capsys):
    monkeypatch.setenv("RAVDESS_DIR", str(make_tree(tmp_path / "copy")))
    code, _, err = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", tmp_path / "data", "--force")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "RAVDESS_DIR is set to" in err and "never changes" in err and "Fix: unset RAVDESS_DIR" in err


# --------------------------------------------------------------------------- 3. outside the speech set


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("03-02-03-01-01-01-01.wav", "vocal channel is 02 (song), not 01 (speech)"),
        ("01-01-03-01-01-01-01.wav", "modality is 01 (full-AV), not 03 (audio-only)"),
        ("02-01-03-01-01-01-01.wav", "modality is 02 (video-only), not 03 (audio-only)"),
    ],
)
def test_song_and_audio_visual_files_are_refused_with_the_reason(tmp_path, make_tree, name, reason):
    """Before: counted as speech clips (a song file was one more 'happy' clip of actor 1)."""
    with pytest.raises(md.RavdessNameError, match="not a clip of the RAVDESS speech set") as err:
        md.parse_filename(name)
    assert reason in str(err.value) and "Audio_Speech_Actors_01-24.zip" in str(err.value)
    assert not md.is_ravdess_name(name)

    root = make_tree(tmp_path / "r", NAMES[:2] + [name])
    with pytest.raises(md.RavdessNameError) as err:
        md.build_metadata(root)
    text = str(err.value)
    assert "1 file(s) are not clips of the RAVDESS speech set" in text and name in text and reason in text
    assert "Fix:" in text and "speech set only" in text
    assert isinstance(err.value, CourseError) and isinstance(err.value, ValueError)


def test_a_zip_with_song_files_is_not_taken_for_the_speech_zip(tmp_path, server, make_tree):
    song = "03-02-03-01-01-01-01.wav"
    src = make_tree(tmp_path / "src", [song])
    data = _zip_bytes(tmp_path, {f"Actor_01/{song}": src / "Actor_01" / song})
    url = server.serve(dl.RAVDESS_ZIP, data)
    with pytest.raises(dl.DownloadError, match="(?s)not the RAVDESS speech zip.*vocal channel is 02 \\(song\\)"):
        dl.download_ravdess(tmp_path / "data", url=url, known_hash=_md5(data), progressbar=False, verbose=False)


def test_ravdess_dir_of_song_files_says_why(tmp_path, make_tree, monkeypatch):
    monkeypatch.setenv("RAVDESS_DIR", str(make_tree(tmp_path / "song", ["03-02-03-01-01-01-01.wav"])))
    with pytest.raises(dl.RavdessDirError, match=r"no RAVDESS \.wav file.*vocal channel is 02 \(song\)"):
        dl.locate_ravdess(tmp_path / "data")


# --------------------------------------------------------------------------- 4. cut short, not finite


def _cut_short(tmp_path: Path) -> Path:
    full = _wav(tmp_path / "src" / "full.wav", 0.1 * np.ones(16_000, np.float32))
    cut = tmp_path / "r" / "Actor_01" / NAMES[0]
    cut.parent.mkdir(parents=True)
    cut.write_bytes(full.read_bytes()[: 44 + 2 * 4000])  # the header of 1 s, 0.25 s of samples
    return cut


def test_a_wav_cut_short_is_named(tmp_path):
    """Before: libsndfile quietly read the 0.25 s that were there; the table said 0.25 s."""
    cut = _cut_short(tmp_path)
    assert sf.info(str(cut)).frames == 4000  # libsndfile alone does not notice
    for read in (md.audio_info, audio.load_audio, lambda p: md.build_metadata(p.parent.parent)):
        with pytest.raises(md.AudioFileError) as err:
            read(cut)
        text = str(err.value)
        assert str(cut) in text and "cut short" in text and "promises 16000 samples (1.00 s)" in text
        assert "holds only 4000 (0.25 s)" in text and "Fix: delete it" in text and "get-data" in text
        assert isinstance(err.value, ValueError) and isinstance(err.value, CourseError)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_float_wav_with_samples_that_are_not_finite_is_named(tmp_path, bad):
    """Before: NaN/inf samples passed every check and made every feature NaN downstream."""
    y = 0.1 * np.ones(16_000, np.float32)
    y[8_000] = bad
    path = _wav(tmp_path / "r" / "Actor_01" / NAMES[0], y, subtype="FLOAT")
    for read in (md.audio_info, audio.load_audio, lambda p: md.build_metadata(p.parent.parent)):
        with pytest.raises(md.AudioFileError) as err:
            read(path)
        text = str(err.value)
        assert str(path) in text and "1 sample value(s) that are not finite" in text and "at 0.500 s" in text
        assert "Fix:" in text


def test_good_and_streamed_wavs_still_pass(tmp_path):
    y = 0.1 * np.ones(1600, np.float32)
    good = _wav(tmp_path / "a" / NAMES[0], y, subtype="FLOAT")
    assert md.audio_info(good)["frames"] == 1600 and len(audio.load_audio(good, sr=None)[0]) == 1600
    streamed = tmp_path / "a" / NAMES[1]  # a streaming writer could not go back to write the size
    data = bytearray(_wav(tmp_path / "b.wav", y).read_bytes())
    data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")
    streamed.write_bytes(bytes(data))
    md.check_wav_complete(streamed)
    longer = tmp_path / "a" / NAMES[2]  # trailing chunks after the data (as in real RAVDESS files)
    longer.write_bytes(_wav(tmp_path / "c.wav", y).read_bytes() + b"LIST\x04\x00\x00\x00abcd")
    md.check_wav_complete(longer)


# --------------------------------------------------------------------------- 5. RAVDESS_DIR=zip, read-only, full


def test_ravdess_dir_pointing_at_the_zip_is_used(tmp_path, good_zip, monkeypatch, capsys):
    """Before: "RAVDESS_DIR is set to ...zip, but that folder does not exist"."""
    data, _ = good_zip
    zip_path = tmp_path / "shared" / dl.RAVDESS_ZIP
    zip_path.parent.mkdir()
    zip_path.write_bytes(data)
    monkeypatch.setenv("RAVDESS_DIR", str(zip_path))
    dest = tmp_path / "data"

    code, out, err = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)

    assert code == 0, err
    assert f"RAVDESS_DIR is the zip {zip_path}: extracting it into {dest / 'ravdess'}" in out
    assert f"{len(NAMES)} files, 2 actors" in out
    assert zip_path.read_bytes() == data  # the user's zip is read, never changed
    # Later runs use the extracted folder without extracting again.
    (dest / "ravdess" / "mark").write_text("still here")
    assert dl.locate_ravdess(dest) == dest / "ravdess"
    assert datasets.resolve("auto", dest=dest, progress=False).root == dest / "ravdess"
    assert (dest / "ravdess" / "mark").exists()
    # Another zip at that path is extracted again.
    os.utime(zip_path, ns=(1, 1))
    assert dl.locate_ravdess(dest) == dest / "ravdess" and not (dest / "ravdess" / "mark").exists()


def test_ravdess_dir_pointing_at_another_file_says_to_unpack_it(tmp_path, monkeypatch, capsys):
    archive = tmp_path / "ravdess.tar.gz"
    archive.write_bytes(b"\x1f\x8b not a zip")
    monkeypatch.setenv("RAVDESS_DIR", str(archive))
    code, _, err = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", tmp_path / "data")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert f"RAVDESS_DIR is set to {archive}, which is a file, not a folder or a zip. Fix: unpack it" in err


def test_ravdess_dir_zip_that_is_not_ravdess_is_left_alone(tmp_path, monkeypatch):
    zip_path = tmp_path / "mine.zip"
    zip_path.write_bytes(_zip_bytes(tmp_path, {"Actor_01/my_recording.wav": b"RIFF"}))
    before = zip_path.read_bytes()
    monkeypatch.setenv("RAVDESS_DIR", str(zip_path))
    with pytest.raises(dl.DownloadError, match="(?s)my_recording.wav.*left as it is. Fix: set RAVDESS_DIR"):
        datasets.resolve("auto", dest=tmp_path / "data", progress=False)
    assert zip_path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == []


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: creating anything below ``folder`` fails as on a read-only folder
    (the tests run as root in places, where chmod does not stop a write)."""
    real_mkdir = os.mkdir

    def make(folder: Path):
        folder = str(folder)

        def mkdir(path, *args, **kwargs):
            if os.fspath(path).startswith(folder + os.sep):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", mkdir)

    return make


def test_a_read_only_data_folder_is_one_line_from_the_cli(tmp_path, served, read_only, capsys):
    """Before: a PermissionError traceback from pooch (or mkdtemp)."""
    dest = tmp_path / "data"
    dest.mkdir()
    read_only(dest)
    code, out, err = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"error: Cannot write to the data folder {dest}: Permission denied")
    assert "Fix: set COURSE_DATA_DIR (or get-data's --dest) to a folder you can write to" in err


def test_a_read_only_data_folder_is_a_course_error_in_a_notebook(tmp_path, read_only, monkeypatch):
    dest = tmp_path / "data"
    dest.mkdir()
    read_only(dest)
    monkeypatch.setattr(datasets.synth, "generate_corpus", lambda folder, **kw: Path(folder).mkdir())
    with pytest.raises(dl.DataFolderError) as err:
        datasets.resolve("auto", dest=dest, progress=False)  # no RAVDESS: the corpus must be written
    assert isinstance(err.value, CourseError)
    shown = err.value._render_traceback_()  # what Jupyter shows instead of a traceback
    assert len(shown) == 1 and "DataFolderError" in shown[0] and f"data folder {dest}" in shown[0]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_really_read_only_data_folder(tmp_path, served, capsys):
    dest = tmp_path / "data"
    dest.mkdir()
    dest.chmod(0o555)
    try:
        code, _, err = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)
    finally:
        dest.chmod(0o755)
    assert code == 1 and err.startswith(f"error: Cannot write to the data folder {dest}") and "Fix:" in err


def test_a_full_disk_during_extraction_is_one_line_and_leaves_nothing(tmp_path, served, monkeypatch, capsys):
    """Before: an OSError traceback from zipfile."""
    dest = tmp_path / "data"

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile.shutil, "copyfileobj", no_space)
    code, _, err = _cli(capsys, "get-data", "--dataset", "ravdess", "--dest", dest)
    err = _error(err)
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"error: The disk of the data folder {dest} is full: No space left on device. Fix: free space")
    assert sorted(p.name for p in dest.iterdir()) == ["downloads"]  # no half-extracted folder
    assert [p.name for p in (dest / "downloads").iterdir()] == [dl.RAVDESS_ZIP]  # the good zip is kept


@pytest.mark.slow  # a fresh interpreter imports the whole CLI: a few seconds
def test_a_read_only_data_folder_from_a_real_process(tmp_path):
    """The command itself: exit status 1, one line, no traceback."""
    dest = tmp_path / "data"
    dest.mkdir()
    script = textwrap.dedent(f"""
        import errno, os, sys
        real = os.mkdir
        def mkdir(path, *a, **k):
            if os.fspath(path).startswith({str(dest)!r} + os.sep):
                raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
            return real(path, *a, **k)
        os.mkdir = mkdir
        from course_utils.tools import cli
        sys.exit(cli.main(["get-data", "--dataset", "synthetic", "--dest", {str(dest)!r}]))
    """)
    env = {k: v for k, v in os.environ.items() if k != "RAVDESS_DIR"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.startswith(f"error: Cannot write to the data folder {dest}: Read-only file system")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- 6. run-notebooks


def test_notebooks_are_found_by_file_name_stem_or_number(tmp_path, monkeypatch):
    """Before: `run-notebooks 00_getting_the_data.ipynb` failed unless run from notebooks/'s parent
    with the prefix: papermill's FileNotFoundError traceback."""
    want = ROOT / "notebooks" / "00_getting_the_data.ipynb"
    monkeypatch.chdir(tmp_path)  # anywhere
    for name in ("00", "00_getting_the_data", "00_getting_the_data.ipynb", "notebooks/00_getting_the_data.ipynb"):
        assert runner.find_notebook(name) == want, name
    own = tmp_path / "mine.ipynb"
    own.write_text("{}")
    assert runner.find_notebook(str(own)) == own  # an existing path is used as it is
    with pytest.raises(runner.NotebookNotFoundError, match=r"'0' matches \d+ notebooks.*Fix: give more of the name"):
        runner.find_notebook("0")
    with pytest.raises(runner.NotebookNotFoundError, match="No notebook '42'.*Fix:.*00_getting_the_data") as err:
        runner.find_notebook("42")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, CourseError)


def test_run_notebooks_takes_a_short_name(tmp_path, monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(runner, "run_notebook", lambda nb, out, params, **kw: ran.append((Path(nb), params)))
    code, out, err = _cli(capsys, "run-notebooks", "--dataset", "synthetic", "--quick", "1",
                          "--output", tmp_path / "executed", "00", "05_eda.ipynb")
    assert code == 0, err
    assert [nb for nb, _ in ran] == [ROOT / "notebooks" / "00_getting_the_data.ipynb", ROOT / "notebooks" / "05_eda.ipynb"]
    assert ran[0][1] == {"dataset": "synthetic", "quick": True}
    code, _, err = _cli(capsys, "run-notebooks", "00", "nope")
    assert code == 1 and err.startswith("error: No notebook 'nope'") and len(ran) == 2  # checked before any run


@pytest.mark.slow
def test_a_failing_notebook_is_reported_in_a_few_lines(tmp_path, monkeypatch, capsys):
    """Before: papermill's PapermillExecutionError with its whole traceback (90 lines)."""
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    params = new_code_cell('dataset = "auto"\nquick = False')
    params.metadata["tags"] = ["parameters"]
    cells = [new_markdown_cell("# A chapter"), params, new_code_cell("x = 1"),
             new_code_cell("# the cell that fails\nraise ValueError('the value is wrong\\nsecond line')")]
    nbformat.write(new_notebook(cells=cells), nbdir / "01_bad.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("pass")]), nbdir / "02_next.ipynb")
    out_dir = tmp_path / "executed"

    code, out, err = _cli(capsys, "run-notebooks", "--output", out_dir, nbdir / "01_bad.ipynb", nbdir / "02_next.ipynb")

    assert code == 1 and "Traceback" not in err
    err = _error(err)
    lines = err.strip().splitlines()
    assert lines[0] == "error: 01_bad.ipynb failed in cell 4 of 4 (In [4] of the executed copy): ValueError: the value is wrong"
    assert lines[1].strip() == "second line"
    assert "the cell starts: raise ValueError(" in err
    assert f"the executed copy, with the cell's whole error output: {out_dir / '01_bad.ipynb'}" in err
    assert "not run: 02_next.ipynb" in err and len(lines) <= 6
    assert (out_dir / "01_bad.ipynb").exists() and not (out_dir / "02_next.ipynb").exists()


# --------------------------------------------------------------------------- 7. leftovers of killed runs


def _leftover(root: Path, name: str, mb: float = 0.0, age_s: float = 0.0) -> Path:
    path = root / name
    (path / "Actor_01").mkdir(parents=True)
    (path / "Actor_01" / NAMES[0]).write_bytes(b"\0" * int(mb * 1e6))
    if age_s:
        stamp = time.time() - age_s
        for p in [path, *path.rglob("*")]:
            os.utime(p, (stamp, stamp))
    return path


def test_leftovers_are_removed_only_when_no_running_process_uses_them(tmp_path, capsys):
    """Before: .ravdess.*.partial/ (121 MB after 300 files), .old/ and downloads/tmp* stayed forever."""
    root = tmp_path / "data"
    (root / "downloads").mkdir(parents=True)
    host = atomic.machine()
    dead, stale = _dead_pid(), dl.STALE_AFTER_S + 60
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = [
            _leftover(root, f".ravdess.{dead}@{host}.abcd1234.partial", mb=1.5),
            _leftover(root, f".ravdess.{dead}@{host}.efgh5678.old"),
            _leftover(root, ".ravdess.legacy_1.partial", age_s=stale),  # an older version: no process id
            _leftover(root, f".ravdess.{os.getpid() + 1}@other-host.ijkl9012.partial", age_s=stale),
        ]
        kept = [
            _leftover(root, f".ravdess.{sleeper.pid}@{host}.mnop3456.partial"),  # its process still runs
            _leftover(root, f".ravdess.{os.getpid()}@{host}.qrst7890.partial"),  # this very process
            _leftover(root, ".ravdess.legacy_2.partial"),  # no process id, written a moment ago
            _leftover(root, f".ravdess.{dead}@other-host.uvwx1234.partial"),  # another machine's, fresh
        ]
        old_tmp, new_tmp = root / "downloads" / "tmpab_cd123", root / "downloads" / "tmpef_gh456"
        for tmp in (old_tmp, new_tmp):
            tmp.write_bytes(b"\0" * 1000)
        os.utime(old_tmp, (time.time() - stale, time.time() - stale))
        (root / "downloads" / dl.RAVDESS_ZIP).write_bytes(b"zip")
        os.utime(root / "downloads" / dl.RAVDESS_ZIP, (1, 1))  # old, but not a leftover

        removed = dl.clean_leftovers(root)

        assert sorted(removed) == sorted(gone + [old_tmp])
        assert not any(p.exists() for p in gone + [old_tmp])
        assert all(p.exists() for p in kept + [new_tmp, root / "downloads" / dl.RAVDESS_ZIP])
        out = capsys.readouterr().out
        assert f"Removed {gone[0]} (1.5 MB), left by an interrupted run." in out
    finally:
        sleeper.kill()
        sleeper.wait()
    assert dl.clean_leftovers(root, verbose=False) == [kept[0]]  # its process ended


def test_a_swap_killed_between_its_renames_puts_the_copy_back(tmp_path, make_tree):
    root = tmp_path / "data"
    old = root / f".ravdess.{_dead_pid()}@{atomic.machine()}.abcd1234.old"
    make_tree(old / "ravdess")
    assert dl.clean_leftovers(root, verbose=False) == [old]
    assert len(md.find_wavs(root / "ravdess")) == len(NAMES) and not old.exists()


_KILLED_EXTRACTION = """
import sys, time, zipfile
from pathlib import Path
from course_utils.data import download
real = zipfile.ZipFile._extract_member
def slow(self, member, *args):
    out = real(self, member, *args)
    print("extracted", member.filename if hasattr(member, "filename") else member, flush=True)
    time.sleep(60)  # killed here, with a half-extracted folder
    return out
zipfile.ZipFile._extract_member = slow
download._extract(Path(sys.argv[1]), Path(sys.argv[2]) / "ravdess", "http://example.invalid/zip")
"""


def test_kill_9_during_extraction_is_cleaned_by_the_next_run(tmp_path, good_zip, capsys):
    data, md5 = good_zip
    root = tmp_path / "data"
    (root / "downloads").mkdir(parents=True)
    zip_path = root / "downloads" / dl.RAVDESS_ZIP
    zip_path.write_bytes(data)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_EXTRACTION, str(zip_path), str(root)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().startswith("extracted")
        partial = [p for p in root.iterdir() if p.name.endswith(".partial")]
        assert len(partial) == 1 and f".{proc.pid}@" in partial[0].name
        assert dl.clean_leftovers(root, verbose=False) == []  # its process runs: not touched
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert partial[0].exists()  # what kill -9 leaves

    folder = dl.get_ravdess(root, download=False, known_hash=md5, expect_complete=False, verbose=True)

    assert folder == root / "ravdess" and len(md.find_wavs(folder)) == len(NAMES)
    assert sorted(p.name for p in root.iterdir()) == ["downloads", "ravdess"]
    assert f"Removed {partial[0]}" in capsys.readouterr().out


def test_resolve_cleans_up_too(tmp_path, monkeypatch):
    root = tmp_path / "data"
    left = _leftover(root, f".ravdess.{_dead_pid()}@{atomic.machine()}.abcd1234.partial")
    monkeypatch.setattr(datasets.synth, "generate_corpus", lambda folder, **kw: folder)
    datasets.resolve("synthetic", dest=root, progress=False)
    assert not left.exists()
