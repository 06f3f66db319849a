"""One cache mechanism (issue 14, section 2): every per-clip cache heals itself, killed runs
leave nothing behind, and the size report counts everything under data/."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils.data import atomic, audio, cache, metadata, synth
from course_utils.sound import eda, features
from course_utils.learning import baseline, waveform_nets

NAMES = ["03-01-01-01-01-01-01.wav", "03-01-05-02-01-01-02.wav", "03-01-04-01-02-02-01.wav"]


@pytest.fixture(scope="module")
def meta(tmp_path_factory) -> pd.DataFrame:
    """Three clips of the offline corpus (synth.render) as 48 kHz WAV files."""
    root = tmp_path_factory.mktemp("clips")
    for name in NAMES:
        y, sr = synth.render(name)
        audio.write_wav_atomic(root / f"Actor_{int(name[-6:-4]):02d}" / name, y, sr)
    return metadata.build_metadata(root)


SMALL = features.FeatureConfig(image_size=(32, 32))


def _augment():
    from course_utils.learning import augment  # imports Keras: only for the tests that need it

    return augment


def _frozen(m, d):
    """Chapter 11's frozen-feature cache, with a tiny seeded front network in place of VGG16."""
    import keras

    from course_utils.learning import transfer

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 1))
    front = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="c")(inputs), name="front")
    images = features.compute_images(m, SMALL, dataset="t", cache_dir=d / "images", n_jobs=1, progress=False)
    return transfer.frozen_features(front, images, cache_dir=d, progress=False)

#: Each per-clip cache of the course: (how to compute it, where it is kept).
CACHES = {
    "log-Mel images": (lambda m, d: features.compute_images(m, SMALL, dataset="t", cache_dir=d, n_jobs=1, progress=False),
                       lambda m, d: features.cache_path(m, SMALL, "t", d)),
    "acoustics": (lambda m, d: eda.acoustic_table(m, dataset="t", cache_dir=d, n_jobs=1, progress=False),
                  lambda m, d: eda.cache_path(m, eda.AcousticConfig(), "t", d)),
    "clip statistics": (lambda m, d: baseline.cached_features(m, cache_dir=d, n_jobs=1),
                        lambda m, d: next(d.glob("baseline-*.npz"))),
    "trimmed durations": (lambda m, d: audio.trimmed_durations(m, cache_dir=d, n_jobs=1, progress=False),
                          lambda m, d: next(d.glob("trim-*.csv"))),
    "augmented copies": (lambda m, d: _augment().augmented_images(m, SMALL, copies=2, dataset="t", cache_dir=d, n_jobs=1,
                                                                  progress=False),
                         lambda m, d: next(d.glob("wavaug-*.npz"))),
    "frozen features": (lambda m, d: _frozen(m, d), lambda m, d: next(d.glob("frozen-*.npz"))),
    "waveforms": (lambda m, d: waveform_nets.load_waveforms(m, sr=8000, n_samples=2187, dataset="t", cache_dir=d, n_jobs=1,
                                                            progress=False),
                  lambda m, d: waveform_nets.cache_path(m, sr=8000, n_samples=2187, dataset="t", cache_dir=d)),
}


def _same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("damage", ["zero bytes", "truncated", "not a zip or table", "other clips"])
@pytest.mark.parametrize("kind", list(CACHES))
def test_a_damaged_cache_entry_is_reported_in_one_line_removed_and_rebuilt(kind, damage, meta, tmp_path, capsys):
    compute, where = CACHES[kind]
    first = compute(meta, tmp_path)
    target = where(meta, tmp_path)
    if damage == "zero bytes":
        target.write_bytes(b"")
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 3)])
    elif damage == "not a zip or table":
        target.write_bytes(b"\x00\x01 this is not what the course wrote")
    else:
        other = metadata.build_metadata(meta["path"].iloc[0].rsplit("/", 2)[0]).iloc[:1]
        compute(other, tmp_path / "other")
        target.write_bytes(where(other, tmp_path / "other").read_bytes())
    capsys.readouterr()
    again = compute(meta, tmp_path)
    _same(first, again)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert str(target) in out and "removed, computing it again" in out
    # an entry of other clips is stale; the frozen features are named by their images, so one for other images is damaged
    assert ("stale" if damage == "other clips" and kind != "frozen features" else "damaged") in out
    capsys.readouterr()
    _same(first, compute(meta, tmp_path))  # healed: read from the rebuilt entry, silently
    assert capsys.readouterr().out == ""


def test_a_cache_entry_that_fails_its_check_is_rebuilt(meta, tmp_path, capsys):
    images = features.compute_images(meta, SMALL, dataset="t", cache_dir=tmp_path, n_jobs=1, progress=False)
    target = features.cache_path(meta, SMALL, "t", tmp_path)
    np.savez(target, images=np.full((3, 16, 16), np.nan, np.float16), filenames=np.array([Path(p).name for p in meta["path"]]))
    np.testing.assert_array_equal(features.compute_images(meta, SMALL, dataset="t", cache_dir=tmp_path, n_jobs=1, progress=False),
                                  images)
    assert "images of shape (3, 16, 16)" in capsys.readouterr().out


def test_read_and_cached_formats(tmp_path):
    with pytest.raises(ValueError, match=".npz or .csv"):
        cache.cached(tmp_path / "x.json", lambda: {}, what="x")
    (tmp_path / "kept.json").write_text("{}")
    with pytest.raises(ValueError, match=".npz or .csv"):
        cache.read(tmp_path / "kept.json", what="x")
    assert (tmp_path / "kept.json").exists()  # not taken for a damaged entry and removed
    table = pd.DataFrame({"filename": ["a.wav"], "v": [0.1 + 0.2]})
    got = cache.cached(tmp_path / "t.csv", lambda: table, what="t", names=["a.wav"])
    pd.testing.assert_frame_equal(cache.read(tmp_path / "t.csv", what="t", names=["a.wav"]), got, check_exact=True)
    assert cache.read(tmp_path / "missing.npz", what="t") is None
    np.savez(tmp_path / "n.npz", x=np.ones(2))
    assert cache.read(tmp_path / "n.npz", what="t", names=["a.wav"]) is None  # no list of clips: damaged
    check = cache.shape_check("x", (2, None))
    assert "shape (2,)" in check({"x": np.ones(2)}) and check({"x": np.ones((2, 5))}) is None
    assert "not finite" in check({"x": np.full((2, 1), np.inf)}) and "no 'y'" in cache.shape_check("y", (1,))({})


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_leftovers_of_killed_runs_are_removed_at_the_next_run_and_live_writes_are_kept(tmp_path):
    dead, now = _dead_pid(), time.time()
    dead_tmp = tmp_path / f".logmel-t-abc-3.npz.{dead}.k2j3h4g5.npz"
    live_tmp = tmp_path / f".logmel-t-abc-3.npz.{os.getpid()}.a1b2c3d4.npz"
    old_style = tmp_path / ".trim-abc-3.csv.q1w2e3r4.csv"  # before the process id was in the name
    young_old_style = tmp_path / ".waves-t-abc-3.npz.z9x8c7v6.npz"
    entry = tmp_path / "logmel-t-abc-3.npz"
    for p in (dead_tmp, live_tmp, old_style, young_old_style, entry):
        p.write_bytes(b"x" * 1000)
    os.utime(old_style, (now - 2 * atomic.ABANDONED_AFTER_S,) * 2)
    removed = atomic.clean_leftovers(tmp_path)
    assert sorted(removed) == sorted([dead_tmp, old_style])
    assert live_tmp.exists() and young_old_style.exists() and entry.exists()


def test_after_kill_9_during_a_write_the_next_run_cleans_up(meta, tmp_path):
    """A process killed inside atomic_path leaves its temporary file; the next cached() removes it."""
    target = tmp_path / "cache" / "logmel-t-killed-3.npz"
    code = textwrap.dedent(f"""
        import sys, time, numpy as np
        from course_utils.data.atomic import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            np.savez(tmp, images=np.zeros((300, 256, 256), np.float16))
            print(tmp, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    tmp = Path(proc.stdout.readline().strip())
    assert tmp.exists() and tmp.stat().st_size > 1_000_000
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert tmp.exists() and not target.exists()  # what kill -9 leaves behind
    features.compute_images(meta, SMALL, dataset="t", cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    assert not tmp.exists()
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == []


_COMPUTE = textwrap.dedent("""
    import sys, time, pandas as pd
    from pathlib import Path
    from course_utils.data import cache
    target, log, release = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    def build():
        with open(log, "a") as f:
            f.write("built\\n")
        while not release.exists():  # the test says when the computation may end
            time.sleep(0.05)
        return pd.DataFrame({"filename": ["a.wav", "b.wav"], "v": [0.25, 0.5]})
    table = cache.cached(target, build, what="demo", names=["a.wav", "b.wav"])
    print("got", table["v"].tolist(), flush=True)
""")


def _compute(target: Path, log: Path, release: Path) -> subprocess.Popen:
    """A process that computes cache entry ``target`` (it writes a line to ``log`` when it starts
    computing) and finishes its computation once the file ``release`` exists."""
    return subprocess.Popen([sys.executable, "-c", _COMPUTE, str(target), str(log), str(release)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


def test_a_second_process_waits_for_the_entry_another_computes_and_reads_it(tmp_path):
    target, log, release = tmp_path / "cache" / "demo-x-2.csv", tmp_path / "built.txt", tmp_path / "release"
    first = _compute(target, log, release)
    _wait_for(log)  # the first one computes (and holds the entry's lock) until released
    second = _compute(target, log, release)
    ready, _, _ = select.select([second.stdout], [], [], 120)
    if not ready:  # never blocked: let both finish, then fail
        release.touch()
    said = second.stdout.readline()  # it finds the entry being computed and says so
    assert said == "Another process is computing the demo cache demo-x-2.csv: waiting for it, then reading its result.\n"
    release.touch()
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert log.read_text() == "built\n"  # computed once
    assert out1.splitlines() == ["got [0.25, 0.5]"] and out2.splitlines() == ["got [0.25, 0.5]"]
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # the lock lives elsewhere
    assert cache.lock_path(target).parent != target.parent


def test_a_killed_computation_frees_the_entry_for_the_next_process(tmp_path):
    target, log = tmp_path / "demo-x-2.csv", tmp_path / "built.txt"
    stuck = _compute(target, log, tmp_path / "never")
    _wait_for(log)
    stuck.send_signal(signal.SIGKILL)
    stuck.wait()
    (tmp_path / "now").touch()
    after = _compute(target, log, tmp_path / "now")  # no waiting for a lock its dead holder cannot release
    out, err = after.communicate(timeout=120)
    assert after.returncode == 0, err
    assert out.splitlines() == ["got [0.25, 0.5]"] and log.read_text() == "built\nbuilt\n"


def test_without_a_lock_the_entry_is_computed_as_before(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setattr(cache, "lock_path", lambda target: blocker / "x.lock")  # mkdir fails: no lock to be had
    table = pd.DataFrame({"filename": ["a.wav"], "v": [1.0]})
    got = cache.cached(tmp_path / "t.csv", lambda: table, what="t", names=["a.wav"])
    pd.testing.assert_frame_equal(got, table)
    assert (tmp_path / "t.csv").exists() and capsys.readouterr().out == ""


def test_without_a_lock_an_error_of_the_computation_is_reported_alone(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setattr(cache, "lock_path", lambda target: blocker / "x.lock")

    def build():
        raise ValueError("a clip could not be read")

    with pytest.raises(ValueError, match="a clip could not be read") as error:
        cache.cached(tmp_path / "t.csv", build, what="t", names=["a.wav"])
    assert error.value.__context__ is None  # not "during handling of" the lock's OSError
    assert not (tmp_path / "t.csv").exists()


def test_the_lock_of_an_entry_is_one_per_entry_and_user(tmp_path):
    a, b = cache.lock_path(tmp_path / "a.npz"), cache.lock_path(tmp_path / "b.npz")
    assert a != b and a.parent == b.parent and a.suffix == ".lock"
    assert cache.lock_path(tmp_path / "x" / ".." / "a.npz") == a  # the same entry, however it is named
    assert str(os.getuid()) in a.parent.name


def test_the_size_report_counts_everything_under_data(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "logmel-a.npz").write_bytes(b"x" * 2_000_000)
    (tmp_path / "cache" / f".logmel-a.npz.{_dead_pid()}.abcdefgh.npz").write_bytes(b"x" * 3_000_000)
    (tmp_path / ".ravdess.1234.xyz.partial" / "Actor_01").mkdir(parents=True)
    (tmp_path / ".ravdess.1234.xyz.partial" / "Actor_01" / "a.wav").write_bytes(b"x" * 1_000_000)
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "tmpa1b2c3d4").write_bytes(b"x" * 4_000_000)
    (tmp_path / "synthetic" / "Actor_01").mkdir(parents=True)
    (tmp_path / "synthetic" / "Actor_01" / "b.wav").write_bytes(b"x" * 500_000)
    report = cache.usage(tmp_path).set_index("part")
    assert report.loc["leftovers of interrupted runs", "MB"] == 8.0 and report.loc["leftovers of interrupted runs", "files"] == 3
    assert report.loc["cache", "MB"] == 2.0 and report.loc["synthetic", "MB"] == 0.5
    assert report.loc["total", "MB"] == 10.5 and report.loc["total", "files"] == 5
    assert list(cache.usage(tmp_path / "nothing")["part"]) == ["total"]


def test_atomic_names_carry_the_process_id(tmp_path):
    with atomic.atomic_path(tmp_path / "x.npz") as tmp:
        m = atomic.LEFTOVER_PATTERN.match(tmp.name)
        assert m and int(m.group("pid")) == os.getpid() and m.group("name") == "x.npz"
        np.savez(tmp, a=np.ones(1))
    assert (tmp_path / "x.npz").exists() and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("signal_, words", [
    (np.zeros(0, np.float32), "empty"),
    (np.zeros(22_050, np.float32), "digital silence"),
    (np.full(22_050, 1e-6, np.float32), "peak -120 dBFS"),
    (np.array([0.1, np.nan] * 11_025, np.float32), "not finite"),
])
def test_signal_image_refuses_silence_empty_and_nan_signals(signal_, words):
    from course_utils.base.errors import InputError

    with pytest.raises(InputError, match=words) as err:
        features.signal_image(signal_, SMALL)
    assert "Fix:" in str(err.value)


def test_clip_image_names_the_file(tmp_path):
    from course_utils.base.errors import InputError

    path = audio.write_wav_atomic(tmp_path / "03-01-01-01-01-01-01.wav", np.zeros(4800, np.float32), 48_000)
    with pytest.raises(InputError, match=str(path)):
        features.clip_image(path, SMALL)


def test_a_killed_corpus_generation_leaves_nothing_behind(tmp_path):
    dest = tmp_path / "corpus"
    synth.generate_corpus(dest, actors=[1], progress=False)
    victim = next((dest / "Actor_01").glob("*.wav"))
    left = dest / "Actor_01" / f".{victim.name}.{_dead_pid()}@{atomic.machine()}.abcd1234.wav"
    left.write_bytes(b"half a wav")
    victim.unlink()  # the file the killed run was writing
    synth.generate_corpus(dest, actors=[1], progress=False)
    assert victim.exists() and not left.exists()


def test_replace_dir_puts_the_old_folder_back_when_the_rename_fails(tmp_path, monkeypatch):
    new, target = tmp_path / "new", tmp_path / "site"
    new.mkdir(), target.mkdir()
    (target / "index.html").write_text("old")
    real_rename = os.replace

    def rename(src, dst):
        if Path(src) == new:
            raise OSError("disk full")
        real_rename(src, dst)

    monkeypatch.setattr(atomic.os, "replace", rename)
    with pytest.raises(OSError, match="disk full"):
        atomic.replace_dir(new, target)
    assert (target / "index.html").read_text() == "old" and new.is_dir()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".old")]  # the aside copy is gone
    monkeypatch.setattr(atomic.os, "replace", real_rename)
    atomic.replace_dir(new, tmp_path / "fresh")  # no old folder to move away
    assert (tmp_path / "fresh").is_dir() and not new.exists()


def test_entry_path_names_an_entry_by_kind_fingerprint_and_count(wav_meta, tmp_path):
    """One naming for every per-clip cache: the kind, a fingerprint of the files and the recipe, the
    count. The names are those the course has always used, so caches warmed before stay valid."""
    from course_utils.base import paths

    files = wav_meta["path"]
    fp = paths.files_fingerprint(files, 22_050, 30.0)
    assert cache.entry_path("trim", files, 22_050, 30.0, suffix=".csv", cache_dir=tmp_path) == tmp_path / f"trim-{fp}-3.csv"
    assert cache.entry_path("wavaug-t-abc", files, 1, count="2x3", cache_dir=tmp_path).name.endswith("-2x3.npz")
    assert cache.entry_path("trim", files, 22_050, 30.0).parent == paths.cache_dir()
    assert cache.entry_path("trim", files[:2], 22_050, 30.0) != cache.entry_path("trim", files, 22_050, 30.0)
    assert cache.entry_path("trim", files, 22_050, 20.0) != cache.entry_path("trim", files, 22_050, 30.0)
    cfg = features.FeatureConfig()
    assert features.cache_path(wav_meta, cfg, "t", tmp_path) == tmp_path / f"logmel-t-{cfg.key()}-{paths.files_fingerprint(files)}-3.npz"
