"""The warm-up computes exactly the caches the notebooks read, and they are then hits.

Two kinds of tests:
- read the notebooks' own code (parameters cell, ``side = ...``, ``cfg = ...`` lines and every
  call of a caching function) and check that the warm-up's steps produce the same cache keys,
  for the notebooks they claim to serve, in both modes: a notebook that changes its image size
  or its parameters fails here until the warm-up follows;
- warm a tiny RAVDESS-named corpus and call the caching functions as the notebooks do, with
  every computation replaced by one that raises: only a cache hit can pass.
"""

from __future__ import annotations

import ast
import functools
import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from course_utils.base import paths
from course_utils.data import audio, datasets, metadata
from course_utils.sound import eda, features
from course_utils.learning import baseline
from course_utils.tools import cli, warmup
from course_utils.learning import waveform_nets as wn

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: Functions that read or write an on-disk cache, by the name the notebooks call them with.
CACHED = ("compute_images", "load_images", "acoustic_table", "cached_features", "trimmed_durations", "load_waveforms",
          "augmented_images", "write_png_tree", "frozen_features", "time_feature_cache", "cached_embeddings")
#: Variables of the notebooks that hold a recipe or a size: their top-level assignments are run.
RECIPE_NAMES = {"side", "cfg", "feature_config", "acoustic_config"}


# --------------------------------------------------------------------------- the notebooks' calls


@functools.lru_cache(maxsize=None)
def _code_cells(path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(source, tags)`` of each code cell (read as JSON: quicker than validating with nbformat),
    IPython's syntax (the Colab setup cell's ``%pip``) turned into Python, as the kernel does."""
    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(path.read_text())["cells"]
    python = TransformerManager().transform_cell
    return tuple((python("".join(c["source"])), tuple(c.get("metadata", {}).get("tags", [])))
                 for c in cells if c["cell_type"] == "code")


def _func_name(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def notebook_cache_keys(path: Path, quick: bool) -> set[tuple]:
    """The cache keys one notebook looks up in one mode, evaluated from its own code.

    The parameters cell is run, ``quick`` set, then the top-level assignments of
    :data:`RECIPE_NAMES` and the arguments of every caching call, in the notebook's order.
    """
    cells = _code_cells(path)
    ns = {"features": features, "eda": eda, "audio": audio}
    params = next(source for source, tags in cells if "parameters" in tags)
    exec(params, ns)
    ns["quick"] = quick
    keys = set()
    for source, tags in cells:
        if "parameters" in tags:
            continue
        for stmt in ast.parse(source).body:
            if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                    and stmt.targets[0].id in RECIPE_NAMES):
                exec(compile(ast.Module([stmt], []), str(path), "exec"), ns)
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call) and _func_name(node) in CACHED:
                    key = _key_of(node, ns)
                    if key is not None:
                        keys.add(key)
    return keys


def _key_of(call: ast.Call, ns: dict) -> tuple | None:
    name = _func_name(call)
    if name in ("augmented_images", "write_png_tree", "frozen_features", "time_feature_cache", "cached_embeddings"):
        return None  # not warmed: see warmup.NOT_WARMED (checked below)
    assert isinstance(call.args[0], ast.Name) and call.args[0].id == "meta", \
        f"{name} is called on {ast.unparse(call.args[0])}, not on the notebook's whole `meta`"
    kw = {k.arg: k.value for k in call.keywords}
    value = lambda node: eval(compile(ast.Expression(node), "<nb>", "eval"), ns)  # noqa: E731
    if name == "compute_images":
        cfg = value(call.args[1]) if len(call.args) > 1 else features.FeatureConfig()
        return ("images", cfg.key())
    if name == "load_images":  # multitask.load_images: the smallest of its sources (64, 256) >= side
        side = int(value(call.args[1]))
        base = next((s for s in (64, 256) if s >= side), side)
        return ("images", features.FeatureConfig(image_size=(base, base)).key())
    if name == "acoustic_table":
        return ("acoustics", (value(call.args[1]) if len(call.args) > 1 else eda.AcousticConfig()).key())
    if name == "cached_features":
        return ("baseline",)
    if name == "trimmed_durations":  # the fingerprint holds str() of each setting
        return ("trim", str(value(kw["sr"])), str(value(kw["top_db"])))
    if name == "load_waveforms":
        return ("waveforms", str(value(kw["sr"])), str(value(kw["n_samples"])))
    raise AssertionError(name)


def step_key(step: warmup.Step) -> tuple:
    """The cache key the warm-up's step produces, in the form of :func:`notebook_cache_keys`."""
    cfg = features.FeatureConfig()
    return {
        "images": lambda: ("images", step.feature_config().key()),
        "acoustics": lambda: ("acoustics", eda.AcousticConfig().key()),
        "baseline": lambda: ("baseline",),
        "trim": lambda: ("trim", str(cfg.sample_rate), str(cfg.trim_top_db)),
        "waveforms": lambda: ("waveforms", str(warmup.WAVEFORM_RATE), str(warmup.WAVEFORM_SAMPLES)),
    }[step.kind]()


@pytest.fixture(scope="module")
def nb_keys() -> dict[tuple[str, bool], set[tuple]]:
    return {(p.stem, quick): notebook_cache_keys(p, quick) for p in NOTEBOOKS for quick in (True, False)}


def test_every_claim_of_the_warm_up_is_a_key_the_notebook_looks_up(nb_keys):
    for step in warmup.STEPS:
        for nb in step.notebooks:
            assert (nb, step.quick) in nb_keys, f"{nb} is not a notebook"
            assert step_key(step) in nb_keys[(nb, step.quick)], \
                f"{step.name} ({step.mode}) does not match what {nb} reads: {sorted(nb_keys[(nb, step.quick)])}"


def test_every_cache_a_notebook_reads_is_warmed_in_the_all_profile(nb_keys):
    steps = warmup.plan("all")
    for (nb, quick), keys in nb_keys.items():
        for key in keys:
            serving = [s for s in steps if s.quick == quick and step_key(s) == key]
            assert serving, f"{nb} ({'quick' if quick else 'full'}) reads {key}, which no step warms"
            assert any(nb in s.notebooks for s in serving), f"warmed, but the step does not name {nb}"


def test_the_binder_profile_covers_quick_mode_and_chapters_00_to_07_in_full(nb_keys):
    steps = warmup.plan("binder")
    for (nb, quick), keys in nb_keys.items():
        if quick or nb < "08":
            for key in keys:
                assert any(s.quick == quick and step_key(s) == key for s in steps), (nb, quick, key)


def test_every_cached_call_is_warmed_or_listed_as_not_warmed():
    for path in NOTEBOOKS:
        calls = {_func_name(n) for source, _ in _code_cells(path) for n in ast.walk(ast.parse(source))
                 if isinstance(n, ast.Call) and _func_name(n) in CACHED}
        for name in calls:
            warmed = name in ("compute_images", "load_images", "acoustic_table", "cached_features",
                              "trimmed_durations", "load_waveforms")
            assert warmed or (path.stem, name) in warmup.NOT_WARMED, f"{path.stem} calls {name}: warm it or say why not"
    assert all(reason for reason in warmup.NOT_WARMED.values())


def test_the_key_check_sees_a_changed_notebook(tmp_path):
    """The contract test is not a formality: a notebook that changes its image size no longer matches."""
    src = next(p for p in NOTEBOOKS if p.stem.startswith("08_"))
    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace("(64 if quick else 256)", "(48 if quick else 256)")
    changed = tmp_path / src.name
    nbformat.write(nb, changed)
    step = next(s for s in warmup.STEPS if s.quick and s.side == 64)
    assert step_key(step) in notebook_cache_keys(src, True)
    assert step_key(step) not in notebook_cache_keys(changed, True)


# --------------------------------------------------------------------------- warming a tiny corpus


@pytest.fixture
def tiny(tmp_path, make_wav_tree, monkeypatch):
    """Six clips of actors 1 and 2 (the quick subset) and two of actor 7 (full mode only), with
    sub-second modification times; the cache goes to a data folder of its own."""
    names = [n for a in (1, 2, 7) for n in metadata.expected_filenames([a])[:2 if a == 7 else 3]]
    root = tmp_path / "corpus"
    files = make_wav_tree(root, names, sr=16_000, seconds=0.4)
    for k, f in enumerate(files):
        os.utime(f, ns=(1_700_000_000_123_456_789 + k, 1_700_000_000_123_456_789 + k))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    return datasets.Dataset("synthetic", root)


def _forbid_computing(monkeypatch):
    """Every computation behind the caches raises: a call can only succeed by reading its cache."""
    def boom(*_args, **_kwargs):
        raise AssertionError("computed instead of read from the cache")

    for module, name in ((features, "clip_image"), (eda, "file_acoustics"), (baseline, "extract_features"),
                         (audio, "_trim_one"), (wn, "load_clip")):
        monkeypatch.setattr(module, name, boom)


def _as_the_notebooks_call(data: datasets.Dataset, quick: bool) -> dict[str, object]:
    """The caching calls of the notebooks, as written there (sizes of quick / full mode)."""
    meta = data.metadata(quick=quick)
    cfg = features.FeatureConfig()
    out = {
        "06 images": features.compute_images(meta, cfg, dataset=data.name, n_jobs=1),
        "05 images": features.compute_images(
            meta, features.FeatureConfig(image_size=tuple((128, 128) if quick else (256, 256))),
            dataset=data.name, n_jobs=1),
        "07 acoustics": eda.acoustic_table(meta, dataset=data.name, n_jobs=1),
        "05 acoustics": eda.acoustic_table(meta, eda.AcousticConfig(top_db=30.0),  # f0_range=None: the course's range
                                           dataset=data.name, n_jobs=1),
        "06 baseline": baseline.cached_features(meta, n_jobs=1),
        "06 trim": audio.trimmed_durations(meta, sr=cfg.sample_rate, top_db=cfg.trim_top_db, n_jobs=1),
        "15 images": features.compute_images(meta, features.FeatureConfig(image_size=(64, 64)),
                                             dataset=data.name, n_jobs=1),
        "14 waves": wn.load_waveforms(meta, sr=8000, n_samples=19683, dataset=data.name, n_jobs=1),
    }
    return {k: (v.shape if hasattr(v, "shape") else v) for k, v in out.items()}


def test_warm_writes_each_cache_once_and_the_notebooks_calls_then_hit(tiny, monkeypatch):
    png = paths.cache_dir() / "png-synthetic-earlier"  # what was there before is not reported
    (png / "neutral").mkdir(parents=True)
    (png / "neutral" / "a.png").write_bytes(b"png")
    (paths.cache_dir() / ".logmel-half-written.tmp").write_bytes(b"x")  # an atomic write in progress
    report = warmup.warm(tiny, profile="all", n_jobs=1, progress=False)
    assert list(report.columns) == ["cache", "mode", "clips", "notebooks", "seconds", "new_files", "MB"]
    assert len(report) == len(warmup.plan("all")) == len(warmup.STEPS)
    assert (report["new_files"] == 1).all() and (report["MB"] >= 0).all()
    assert set(report.loc[report["mode"] == "quick", "clips"]) == {6}
    assert set(report.loc[report["mode"] == "full", "clips"]) == {8}
    written = sorted(p.name for p in paths.cache_dir().iterdir())
    assert len(written) == len(report) + 2

    _forbid_computing(monkeypatch)
    for quick, n in ((True, 6), (False, 8)):
        shapes = _as_the_notebooks_call(tiny, quick)
        assert shapes["06 images"] == (n, 256, 256) and shapes["15 images"] == (n, 64, 64)
        assert shapes["14 waves"] == (n, 19683) and shapes["06 baseline"][0] == n
        assert shapes["05 images"] == ((n, 128, 128) if quick else (n, 256, 256))
    assert sorted(p.name for p in paths.cache_dir().iterdir()) == written  # nothing new was written

    again = warmup.warm(tiny, profile="all", n_jobs=1, progress=False)
    assert (again["new_files"] == 0).all() and (again["MB"] == 0).all()


def test_a_missing_cache_would_be_computed(tiny, monkeypatch):
    """The hit test above can fail: without the warm-up the same calls compute, and raise."""
    warmup.warm(tiny, profile="binder", modes=["quick"], n_jobs=1, progress=False)
    _forbid_computing(monkeypatch)
    with pytest.raises(AssertionError, match="computed instead of read"):
        _as_the_notebooks_call(tiny, quick=False)  # full mode was not warmed


def _only(monkeypatch, kind: str, quick: bool, side: int | None = None) -> None:
    """Keep one step of the warm-up (a test about something else need not run pyin)."""
    step = next(s for s in warmup.STEPS if s.kind == kind and s.quick == quick and s.side == side)
    monkeypatch.setattr(warmup, "STEPS", (step,))


def test_whole_second_mtimes_keep_the_keys_through_an_image_layer(tiny, monkeypatch):
    _only(monkeypatch, "images", False, 64)
    meta = tiny.metadata()
    cfg = features.FeatureConfig(image_size=(64, 64))
    before = features.cache_path(meta, cfg, tiny.name)
    # a Docker layer stores whole seconds: the same files, extracted from an image, have another key
    layer = [os.stat(p).st_mtime_ns // 10**9 * 10**9 for p in meta["path"]]
    assert any(os.stat(p).st_mtime_ns != t for p, t in zip(meta["path"], layer))

    warmup.warm(tiny, profile="all", modes=["full"], n_jobs=1, progress=False, round_mtimes=True)
    assert all(os.stat(p).st_mtime_ns % 10**9 == 0 for p in meta["path"])
    warmed = features.cache_path(meta, cfg, tiny.name)
    assert warmed != before and warmed.exists()
    for p, t in zip(meta["path"], layer):  # "pull the image": whole seconds, as stored
        os.utime(p, ns=(t, t))
    assert features.cache_path(meta, cfg, tiny.name) == warmed
    assert warmup.whole_second_mtimes(meta["path"]) == 0  # nothing left to round


def test_plan_profiles_and_modes():
    binder, everything = warmup.plan("binder"), warmup.plan("all")
    assert set(binder) < set(everything)
    assert {s.kind for s in everything if s not in binder} == {"images", "waveforms"}
    assert all(s.mode == "quick" for s in warmup.plan("all", ["quick"]))
    assert [s.mode for s in binder] == sorted((s.mode for s in binder), key=["quick", "full"].index)
    with pytest.raises(ValueError, match="unknown profile"):
        warmup.plan("everything")
    with pytest.raises(ValueError, match="modes must be"):
        warmup.plan("binder", ["slow"])
    with pytest.raises(ValueError, match="modes must be"):
        warmup.plan("binder", [])


def test_steps_know_their_recipe_and_refuse_unknown_kinds():
    step = warmup.Step("images", True, ("08_cnn_binary",), side=64)
    assert step.feature_config().image_size == (64, 64) and step.name == "log-Mel images 64 x 64"
    with pytest.raises(ValueError, match="no image recipe"):
        warmup.Step("trim", True, ("06_preprocessing",)).feature_config()
    with pytest.raises(ValueError, match="unknown kind"):
        warmup.Step("spectra", True, ()).run(pd.DataFrame({"path": []}), "synthetic", 1)


def test_default_jobs_is_bounded():
    assert 1 <= warmup.default_jobs() <= warmup.MAX_JOBS


def test_warm_cache_command(tiny, monkeypatch, capsys):
    """``python -m course_utils warm-cache`` on a copy of RAVDESS (RAVDESS_DIR): a table, then the total."""
    _only(monkeypatch, "images", True, 128)
    monkeypatch.setenv("RAVDESS_DIR", str(tiny.root))
    args = ["warm-cache", "--dataset", "ravdess", "--mode", "quick", "--jobs", "1", "--whole-second-mtimes"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "log-Mel images 128 x 128" in out and "Caches ready in" in out
    # the size report counts everything under data/, hidden leftovers of killed runs included
    assert "hidden files included" in out and "cache" in out.split("hidden files included")[1] and "total" in out
    assert any(p.name.startswith("logmel-ravdess-") for p in paths.cache_dir().iterdir())
    assert all(os.stat(p).st_mtime_ns % 10**9 == 0 for p in metadata.find_wavs(tiny.root))
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["warm-cache"]
    assert next(a for a in sub._actions if a.dest == "profile").choices == warmup.PROFILES


def test_images_of_the_warm_up_equal_a_fresh_computation(tiny, monkeypatch):
    """Warmed images are the notebook's images: equal to computing one clip on its own."""
    _only(monkeypatch, "images", True, 64)
    warmup.warm(tiny, profile="binder", modes=["quick"], n_jobs=1, progress=False)
    meta = tiny.metadata(quick=True)
    cached = features.compute_images(meta, features.FeatureConfig(image_size=(64, 64)), dataset=tiny.name, n_jobs=1)
    one = features.clip_image(meta["path"].iloc[0], features.FeatureConfig(image_size=(64, 64)))
    np.testing.assert_allclose(cached[0], one, atol=1e-3)  # float16 in the cache


def test_compile_librosa_leaves_the_course_nothing_to_compile(tmp_path):
    """After compile_librosa, the course's own uses of librosa write no new entry into numba's
    cache, so parallel workers only read it (two writers can corrupt it: kernels crashed in CI)."""
    import subprocess
    import sys

    cache = tmp_path / "numba"
    code = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from course_utils.tools import warmup\n"
        "from course_utils.data import audio\n"
        "from course_utils.sound import eda, features, spectrogram, spectrum\n"
        "warmup.compile_librosa()\n"
        "before = {p.name for p in Path(sys.argv[1]).rglob('*.nbi')}\n"
        "sr = audio.COURSE_SR\n"
        "t = np.arange(int(1.5 * sr)) / sr\n"
        "y = (0.3 * np.sin(2 * np.pi * 180 * t) * (t > 0.3)).astype(np.float32)\n"
        "eda.clip_acoustics(y, sr)\n"
        "features.signal_image(y, features.FeatureConfig(image_size=(32, 32)))\n"
        "spectrogram.frame_levels_db(y, sr)\n"
        "spectrum.track_f0(y, sr)\n"
        "after = {p.name for p in Path(sys.argv[1]).rglob('*.nbi')}\n"
        "print(len(before), sorted(after - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(cache)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr[-3000:]
    count, new = done.stdout.strip().split(" ", 1)
    assert int(count) >= 10 and new == "[]", done.stdout
