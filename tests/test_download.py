"""Tests of course_utils.data.download against a local HTTP server (no internet needed).

The server runs on 127.0.0.1 in a thread and serves zips built here from tiny RAVDESS-named
WAVs; it can also send an interrupted body, a 404 and bytes that are not a zip.
"""

from __future__ import annotations

import hashlib
import os
import socket
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from course_utils.data import download as dl
from course_utils.data.metadata import RavdessNameError, expected_filenames, find_wavs

SR = 48_000
TIMEOUT = 5  # seconds: every download in these tests is local

# Three clips of each of two actors.
NAMES = expected_filenames([1])[:3] + expected_filenames([2])[:3]


# --------------------------------------------------------------------------- helpers


def _md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def _actor_dir(name: str) -> str:
    return f"Actor_{int(name[-6:-4]):02d}"


def _zip_bytes(tmp: Path, members: dict[str, bytes | Path], compression=zipfile.ZIP_DEFLATED) -> bytes:
    path = tmp / f"build-{len(list(tmp.glob('build-*.zip')))}.zip"
    with zipfile.ZipFile(path, "w", compression) as zf:
        for arcname, content in members.items():
            if isinstance(content, Path):
                zf.write(content, arcname)
            else:
                zf.writestr(arcname, content)
    return path.read_bytes()


def _files_below(root: Path) -> list[Path]:
    """Every file below ``root``, hidden ones included."""
    return [Path(d) / f for d, _, files in os.walk(root) for f in files]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def make_tree(make_wav_tree):
    """``make_tree(root, names=NAMES, prefix="")``: tiny (0.2 s, 48 kHz, 16-bit) RAVDESS wavs in
    ``root/prefix/Actor_XX/`` (conftest's ``make_wav_tree``); returns ``root``."""

    def make(root: Path, names=NAMES, prefix: str = "") -> Path:
        make_wav_tree(Path(root) / prefix, names, sr=SR, seconds=0.2)
        return Path(root)

    return make


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("RAVDESS_DIR", "RAVDESS_URL", "COURSE_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def good_zip(tmp_path, make_tree) -> tuple[bytes, str]:
    """A valid zip in the Zenodo layout (Actor_01/, Actor_02/) and its MD5."""
    tree = make_tree(tmp_path / "src")
    data = _zip_bytes(tmp_path, {f"{_actor_dir(n)}/{n}": tree / _actor_dir(n) / n for n in NAMES})
    return data, _md5(data)


def _get(dest, url, md5, **kw):
    kw.setdefault("progressbar", False)
    kw.setdefault("verbose", False)
    return dl.download_ravdess(dest, url=url, known_hash=md5, timeout=TIMEOUT, **kw)


def _assert_clean(data: Path):
    """Nothing in the cache: no zip (or pooch temp file), no ravdess/, no partial folder."""
    if data.exists():
        assert _files_below(data) == []
        assert [p.name for p in data.iterdir()] in ([], ["downloads"])


# --------------------------------------------------------------------------- constants


def test_constants():
    assert dl.RAVDESS_URL.startswith("https://zenodo.org/records/1188976/files/")
    assert dl.RAVDESS_ZIP in dl.RAVDESS_URL
    assert dl.RAVDESS_MD5 == "md5:bc696df654c87fed845eb13823edef8a"
    assert "1188976" in dl.RAVDESS_DOI
    assert "CC BY-NC-SA 4.0" in dl.LICENCE
    assert "Livingstone" in dl.CITATION and "e0196391" in dl.CITATION
    assert issubclass(dl.DownloadError, RuntimeError)


# --------------------------------------------------------------------------- downloads


def test_good_download_extracts_and_is_not_repeated(tmp_path, server, good_zip):
    data, md5 = good_zip
    url = server.serve(dl.RAVDESS_ZIP, data)
    dest = tmp_path / "data"

    folder = _get(dest, url, md5)

    assert folder == dest / "ravdess"
    assert sorted(p.relative_to(folder).as_posix() for p in find_wavs(folder)) == sorted(
        f"{_actor_dir(n)}/{n}" for n in NAMES
    )
    assert (dest / "downloads" / dl.RAVDESS_ZIP).read_bytes() == data  # kept for re-extraction
    assert sorted(p.name for p in dest.iterdir()) == ["downloads", "ravdess"]  # no temp folder
    df = dl.check_ravdess(folder, expect_complete=False)
    assert sorted(df["filename"]) == sorted(NAMES)
    assert set(df["actor"]) == {1, 2}
    assert set(df["sample_rate"]) == {SR} and set(df["bit_depth"]) == {16}
    assert server.count(dl.RAVDESS_ZIP) == 1

    # Second call: the folder is complete, nothing is downloaded or extracted again.
    stamp = folder.stat().st_ino
    assert _get(dest, url, md5) == folder
    assert dl.get_ravdess(dest, url=url, known_hash=md5, expect_complete=False, verbose=False) == folder
    assert server.count(dl.RAVDESS_ZIP) == 1
    assert folder.stat().st_ino == stamp

    # The folder lost a file: it is not silently used as it is, but extracted again from the
    # kept zip (its checksum checked): no new request.
    victim = find_wavs(folder)[0]
    victim.unlink()
    assert _get(dest, url, md5) == folder
    assert victim.exists()
    # force=True extracts again from the kept zip: no new request.
    (folder / "notes.txt").write_text("not part of the zip")
    assert _get(dest, url, md5, force=True) == folder
    assert not (folder / "notes.txt").exists()
    assert server.count(dl.RAVDESS_ZIP) == 1
    assert sorted(p.name for p in dest.iterdir()) == ["downloads", "ravdess"]

    # A folder the course did not extract (no marker) is never replaced without force.
    (folder / ".ravdess-extracted.json").unlink()
    victim.unlink()
    with pytest.raises(dl.DownloadError, match="not a complete copy.*--force"):
        _get(dest, url, md5)
    assert _get(dest, url, md5, force=True) == folder and victim.exists()


def test_zip_in_downloads_is_reused(tmp_path, server, good_zip, capsys):
    data, md5 = good_zip
    url = server.serve(dl.RAVDESS_ZIP, data)
    dest = tmp_path / "data"
    (dest / "downloads").mkdir(parents=True)
    (dest / "downloads" / dl.RAVDESS_ZIP).write_bytes(data)
    (dest / "ravdess").mkdir()  # an empty folder is fine to extract into

    folder = _get(dest, url, md5, verbose=True)

    assert len(find_wavs(folder)) == len(NAMES)
    assert server.count(dl.RAVDESS_ZIP) == 0
    out = capsys.readouterr().out
    assert "Checking" in out and f"Extracted {len(NAMES)} files to {folder}" in out


def test_default_dest_env_url_and_progressbar(tmp_path, server, good_zip, monkeypatch, capsys):
    data, md5 = good_zip
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "course-data"))
    monkeypatch.setenv("RAVDESS_URL", server.serve("mirror.zip", data))

    folder = dl.get_ravdess(known_hash=md5, timeout=TIMEOUT, expect_complete=False)

    assert folder == (tmp_path / "course-data" / "ravdess").resolve()
    assert server.count("mirror.zip") == 1
    captured = capsys.readouterr()
    assert f"Downloading {dl.RAVDESS_ZIP} from {server.url('mirror.zip')}" in captured.out
    assert f"Extracted {len(NAMES)} files" in captured.out
    assert "CC BY-NC-SA 4.0" in captured.out and "Livingstone" in captured.out
    assert f"{len(NAMES)} files, 2 actors" in captured.out
    assert "100%" in captured.err  # tqdm's progress bar


def test_checksum_mismatch(tmp_path, server, good_zip):
    data, md5 = good_zip
    url = server.serve(dl.RAVDESS_ZIP, data)
    dest = tmp_path / "data"
    (dest / "downloads").mkdir(parents=True)
    (dest / "downloads" / dl.RAVDESS_ZIP).write_bytes(b"an old, damaged copy")
    wrong = "md5:" + "0" * 32

    with pytest.raises(dl.DownloadError) as err:
        _get(dest, url, wrong)

    msg = str(err.value)
    assert isinstance(err.value, RuntimeError)
    assert wrong in msg and md5.split(":")[1] in msg  # expected and actual
    assert url in msg and "run again" in msg and "RAVDESS_URL" in msg
    assert server.count(dl.RAVDESS_ZIP) == 1
    _assert_clean(dest)


def test_interrupted_download_leaves_nothing(tmp_path, server, good_zip):
    data, md5 = good_zip
    url = server.serve(dl.RAVDESS_ZIP, data, mode="truncate")
    dest = tmp_path / "data"

    with pytest.raises(dl.DownloadError, match="Could not download.*check your connection.*RAVDESS_DIR"):
        _get(dest, url, md5)

    assert server.count(dl.RAVDESS_ZIP) == 1
    _assert_clean(dest)


def test_http_404(tmp_path, server):
    url = server.url("no-such-file.zip")
    with pytest.raises(dl.DownloadError, match="404") as err:
        _get(tmp_path / "data", url, dl.RAVDESS_MD5)
    assert url in str(err.value) and "RAVDESS_DIR" in str(err.value)
    _assert_clean(tmp_path / "data")


def test_connection_refused(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/{dl.RAVDESS_ZIP}"
    with pytest.raises(dl.DownloadError, match="check your connection") as err:
        _get(tmp_path / "data", url, dl.RAVDESS_MD5)
    assert url in str(err.value) and "set RAVDESS_DIR" in str(err.value)
    _assert_clean(tmp_path / "data")


def test_corrupted_zip_is_removed_and_retried(tmp_path, server, good_zip):
    junk = b"this is an HTML error page, not a zip\n" * 50
    url = server.serve(dl.RAVDESS_ZIP, junk)
    dest = tmp_path / "data"

    with pytest.raises(dl.DownloadError, match="not a valid zip") as err:
        _get(dest, url, _md5(junk))

    assert str(dest / "downloads" / dl.RAVDESS_ZIP) in str(err.value)
    assert "run again" in str(err.value)
    _assert_clean(dest)

    # A retry downloads again (the bad file is gone) and succeeds.
    data, md5 = good_zip
    server.serve(dl.RAVDESS_ZIP, data)
    assert len(find_wavs(_get(dest, url, md5))) == len(NAMES)
    assert server.count(dl.RAVDESS_ZIP) == 2


def test_damaged_member_is_an_error(tmp_path, server, make_tree):
    """A zip whose member fails its CRC check: nothing is left under ravdess/."""
    wav = make_tree(tmp_path / "src", NAMES[:1]) / "Actor_01" / NAMES[0]
    data = bytearray(_zip_bytes(tmp_path, {f"Actor_01/{NAMES[0]}": wav}, compression=zipfile.ZIP_STORED))
    data[data.index(wav.read_bytes()[1000:1100]) + 50] ^= 0xFF  # one flipped bit in the samples
    data = bytes(data)
    url = server.serve(dl.RAVDESS_ZIP, data)
    with pytest.raises(dl.DownloadError, match="not a valid zip.*CRC"):
        _get(tmp_path / "data", url, _md5(data))
    _assert_clean(tmp_path / "data")


@pytest.mark.parametrize("evil", ["../evil.wav", "Actor_01/../../evil.wav", "/tmp/evil.wav", "C:/evil.wav"])
def test_zip_slip_is_rejected(tmp_path, server, make_tree, evil):
    wav = make_tree(tmp_path / "src", NAMES[:1]) / "Actor_01" / NAMES[0]
    data = _zip_bytes(tmp_path, {f"Actor_01/{NAMES[0]}": wav, evil: b"gotcha"})
    url = server.serve(dl.RAVDESS_ZIP, data)
    dest = tmp_path / "data"

    with pytest.raises(dl.DownloadError, match="zip-slip") as err:
        _get(dest, url, _md5(data))

    assert repr(evil) in str(err.value)
    assert not (tmp_path / "evil.wav").exists()
    _assert_clean(dest)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"README.txt": b"hello"}, "holds no .wav files"),
        ({"Actor_01/my_recording.wav": b"RIFF"}, "my_recording.wav"),
    ],
)
def test_zip_that_is_not_ravdess(tmp_path, server, members, message):
    data = _zip_bytes(tmp_path, members)
    url = server.serve(dl.RAVDESS_ZIP, data)
    with pytest.raises(dl.DownloadError, match=message):
        _get(tmp_path / "data", url, _md5(data))
    _assert_clean(tmp_path / "data")


def test_existing_full_copy_is_not_downloaded(tmp_path, server, make_tree):
    """A hand-made complete copy (no marker) in <dest>/ravdess counts as complete."""
    one = (make_tree(tmp_path / "src", NAMES[:1]) / "Actor_01" / NAMES[0]).read_bytes()
    folder = tmp_path / "data" / "ravdess"
    for name in expected_filenames():
        path = folder / _actor_dir(name) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(one)

    assert _get(tmp_path / "data", server.url(dl.RAVDESS_ZIP), dl.RAVDESS_MD5) == folder
    assert dl.get_ravdess(tmp_path / "data", download=False, verbose=False) == folder
    assert server.requests == Counter()
    assert len(dl.check_ravdess(folder)) == 1440


# --------------------------------------------------------------------------- locate / check


def test_ravdess_dir_zenodo_layout(tmp_path, monkeypatch, make_tree):
    root = make_tree(tmp_path / "zenodo")
    monkeypatch.setenv("RAVDESS_DIR", str(root))
    # RAVDESS_DIR wins over <dest>/ravdess.
    assert dl.locate_ravdess(tmp_path / "data") == root
    assert dl.get_ravdess(tmp_path / "data", download=False, expect_complete=False, verbose=False) == root
    df = dl.check_ravdess(root, expect_complete=False)
    assert sorted(df["filename"]) == sorted(NAMES)


def test_ravdess_dir_kaggle_layout_has_no_duplicates(tmp_path, monkeypatch, make_tree):
    root = tmp_path / "kaggle"
    make_tree(root, prefix="audio_speech_actors_01-24")
    make_tree(root)  # Kaggle ships every actor folder twice
    assert len(list(root.rglob("*.wav"))) == 2 * len(NAMES)
    monkeypatch.setenv("RAVDESS_DIR", str(root))

    folder = dl.locate_ravdess()
    df = dl.check_ravdess(folder, expect_complete=False)

    assert folder == root
    assert len(df) == len(NAMES) and df["filename"].is_unique
    assert sorted(df["filename"]) == sorted(NAMES)


def test_wrong_ravdess_dir_does_not_fall_back(tmp_path, monkeypatch, make_tree):
    make_tree(tmp_path / "data" / "ravdess")  # a good copy that must NOT be used instead
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("RAVDESS_DIR", str(missing))
    with pytest.raises(FileNotFoundError, match="RAVDESS_DIR") as err:
        dl.locate_ravdess(tmp_path / "data")
    assert str(missing) in str(err.value)
    with pytest.raises(FileNotFoundError, match="RAVDESS_DIR"):
        dl.get_ravdess(tmp_path / "data")

    empty = make_tree(tmp_path / "empty", ["my_recording.wav"])
    monkeypatch.setenv("RAVDESS_DIR", str(empty))
    with pytest.raises(FileNotFoundError, match="no RAVDESS .wav file") as err:
        dl.locate_ravdess()
    assert "RAVDESS_DIR" in str(err.value) and str(empty) in str(err.value)


def test_locate_without_any_copy(tmp_path, make_tree):
    assert dl.locate_ravdess(tmp_path / "data") is None
    (tmp_path / "data" / "ravdess").mkdir(parents=True)
    assert dl.locate_ravdess(tmp_path / "data") is None  # a folder without wavs is no copy
    make_tree(tmp_path / "data" / "ravdess")
    assert dl.locate_ravdess(tmp_path / "data") == tmp_path / "data" / "ravdess"


def test_get_without_download_says_how(tmp_path):
    with pytest.raises(FileNotFoundError, match="RAVDESS_DIR is not set.*get-data"):
        dl.get_ravdess(tmp_path / "data", download=False)


def test_missing_files_are_listed(tmp_path, make_tree):
    root = make_tree(tmp_path / "partial")
    with pytest.raises(dl.MissingFilesError) as err:
        dl.check_ravdess(root)
    msg = str(err.value)
    n_missing = 1440 - len(NAMES)
    assert f"missing {n_missing} of the 1440" in msg
    assert expected_filenames([1])[3] in msg  # the first missing file
    assert f"and {n_missing - 10} more" in msg
    assert "expect_complete=False" in msg and "get-data" in msg
    assert len(err.value.missing) == n_missing and isinstance(err.value, FileNotFoundError)

    df = dl.check_ravdess(root, expect_complete=False)
    assert sorted(df["filename"]) == sorted(NAMES)


def test_unreadable_file_is_named(tmp_path, make_tree):
    root = make_tree(tmp_path / "r")
    bad = root / "Actor_01" / expected_filenames([1])[10]
    bad.write_bytes(b"\x00garbage, not a wav" * 10)
    with pytest.raises(ValueError, match="Cannot read audio file") as err:
        dl.check_ravdess(root, expect_complete=False)
    assert str(bad) in str(err.value)


def test_non_ravdess_wav_is_listed(tmp_path, make_tree):
    root = make_tree(tmp_path / "r")
    make_tree(root, ["my_recording.wav"])  # lands in Actor_01/
    with pytest.raises(RavdessNameError, match="my_recording.wav"):
        dl.check_ravdess(root, expect_complete=False)


# --------------------------------------------------------------------------- real recordings


@pytest.mark.sample
def test_real_sample_round_trip(tmp_path, server, shared_sample):
    """../shared/ravdess-sample (conftest's ``shared_sample``: skipped where it is absent)."""
    wavs = sorted(shared_sample.glob("Actor_*/*.wav"))
    assert len(wavs) == 120
    data = _zip_bytes(  # built in tmp only: the recordings never enter the repository
        tmp_path, {w.relative_to(shared_sample).as_posix(): w for w in wavs}, compression=zipfile.ZIP_STORED
    )
    url = server.serve(dl.RAVDESS_ZIP, data)

    folder = dl.get_ravdess(
        tmp_path / "data", url=url, known_hash=_md5(data), progressbar=False, timeout=30,
        expect_complete=False, verbose=False,
    )
    df = dl.check_ravdess(folder, expect_complete=False)

    assert len(df) == 120 and df["filename"].is_unique
    assert set(df["actor"]) == {1, 2}
    assert set(df["sample_rate"]) == {48_000} and set(df["bit_depth"]) == {16}
    assert (df["channels"] == 2).sum() == 2
    with pytest.raises(dl.MissingFilesError, match="missing 1320 of the 1440"):
        dl.check_ravdess(folder)
