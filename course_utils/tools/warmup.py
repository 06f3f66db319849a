"""Warm the feature caches the notebooks read, so that a student's first cells do not wait.

Binder's ``binder/postBuild`` runs ``python -m course_utils warm-cache``, which calls
:func:`warm`; a teacher can run it to prepare a shared machine (a JupyterHub, a lab) before a
class. Each step calls **the same function with the same arguments as the notebook** that
reads the cache (``features.compute_images``, ``eda.acoustic_table``, ``baseline.cached_features``,
``audio.trimmed_durations``, ``waveform_nets.load_waveforms``), so it writes the very file the
notebook looks up: cache names are fingerprints of the files (names, sizes, modification times)
and of every parameter (:func:`course_utils.base.paths.files_fingerprint`). ``tests/test_warmup.py``
reads the notebooks' own code to check that the sizes and parameters below still match.

What is warmed (``quick`` = the six actors of ``quick=True``, 360 clips; ``full`` = all 1440):

=====================  =====  ===========================================  =======================
cache                  mode   notebooks that read it                       profile
=====================  =====  ===========================================  =======================
log-Mel 256 x 256      quick  06, 07, 11 (shrunk to 32 x 32)               binder
log-Mel 128 x 128      quick  05                                           binder
log-Mel 64 x 64        quick  08-10, 12, 13 (shrunk to 32), 15, 16, 17     binder
acoustic table (pyin)  quick  05, 07, 09                                   binder
MFCC clip statistics   quick  06, 07                                       binder
trimmed durations      quick  06                                           binder
waveforms 8 kHz        quick  14                                           binder
log-Mel 256 x 256      full   05, 06, 07, 08, 09, 10, 11 (shrunk), 12      binder
acoustic table (pyin)  full   05, 07, 09                                   binder
MFCC clip statistics   full   06, 07                                       binder
trimmed durations      full   06                                           binder
log-Mel 64 x 64        full   13, 15, 16, 17                               all
waveforms 8 kHz        full   14                                           all
=====================  =====  ===========================================  =======================

The ``binder`` profile is what a Binder student meets: every chapter in quick mode (the
training chapters 08-17 are meant to be run quick on Binder's CPU) and chapters 00-07 in their
default full mode. ``all`` adds the full-mode inputs of the training chapters, for a teacher
preparing a machine for the whole course.

Not warmed (:data:`NOT_WARMED`): chapter 10's waveform-augmented copies (drawn for the
training part of the notebook's split; about 400 MB and many minutes in full mode, seconds in
quick mode), chapter 06's PNG tree (written from the images in a few seconds; part of what the
chapter shows), chapter 11's frozen VGG16 features (they depend on the VGG16 weights, which
the notebook downloads or replaces by random ones) and, for the same reason, chapter 18's Whisper
embeddings.

Cost of the ``binder`` profile on the 1440-clip offline corpus, measured in a fresh virtual
environment as Binder builds it (``binder/postBuild`` on two otherwise idle cores): 11 cache
files, 281 MB (268 MiB) on disk, next to the corpus's 492 MB, written in 186 s; the whole
postBuild (corpus included) took 3 min 31 s and 400 CPU-seconds. Three quarters of the
warm-up is pyin's f0 tracks of the acoustic table (142 s of the 186). :func:`warm` returns the
seconds of each step. The largest step in memory is
the full 256 x 256 images: about 1.3 GB at its peak in the main process (while the images are
stacked, converted and written), next to about 0.5 GB per worker process (librosa loaded).
``n_jobs`` therefore defaults to at most 2 workers (:data:`MAX_JOBS`): a build container may
see every core of its host, but not as much memory. A Binder session then needs only what the
notebook itself loads.

Binder stores the built image as layers whose tar headers keep modification times in whole
seconds (Docker's and containerd's layer writers truncate them), so a file fingerprinted at
build time with nanoseconds would get another fingerprint after the image is pulled, and every
warmed cache would silently miss. ``warm(..., round_mtimes=True)`` (``--whole-second-mtimes``
on the command line, used by ``binder/postBuild``) first rounds the corpus files' modification
times down to whole seconds, so the fingerprints survive the image. Doing so on a machine whose
caches were computed before makes those caches miss once (they are computed again).

Build tooling (:mod:`course_utils.tools`): no notebook imports it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from joblib import cpu_count

from course_utils.base import jupyter, paths
from course_utils.data import audio, datasets, metadata
from course_utils.sound import eda, features
from course_utils.sound.numba_cache import compile_librosa
from course_utils.learning import baseline

#: Profiles of :func:`plan`: ``binder`` (what a Binder student runs), ``all`` (every chapter, both modes).
PROFILES = ("binder", "all")
#: Modes: ``quick`` (six actors) and ``full`` (every clip), as the notebooks' ``quick`` parameter.
MODES = ("quick", "full")
#: Default ceiling of worker processes: each holds about 0.5 GB (librosa), and a build container
#: may see more cores than it has memory for.
MAX_JOBS = 2
#: Chapter 14's parameters cell: ``sample_rate`` (Hz) and ``n_samples`` (3**9 samples, 2.46 s).
WAVEFORM_RATE = 8000
WAVEFORM_SAMPLES = 19683

#: Cached computations of the notebooks that are deliberately not warmed, and why.
NOT_WARMED = {
    ("10_augmentation", "augmented_images"): "drawn for the training part of the notebook's split and seed; "
    "3 x 1008 copies (about 400 MB, many minutes) in full mode, seconds in quick mode",
    ("06_preprocessing", "write_png_tree"): "written from the images in seconds; writing it is part of the chapter",
    ("06_preprocessing", "time_feature_cache"): "times a cold computation on purpose (in a temporary folder)",
    ("11_transfer_vgg16", "frozen_features"): "depends on the VGG16 weights (downloaded or random), "
    "not only on the data",
    ("18_pretrained_speech", "cached_embeddings"): "depends on the Whisper weights (downloaded from the model hub, or the "
    "offline model's random ones), not only on the data; quick mode computes them in seconds with the offline model",
}


# --------------------------------------------------------------------------------------
# The caches: one step each, with the notebooks' own call
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One cache: what it holds, for which mode, which notebooks read it, in which profiles.

    ``kind`` is one of ``images`` (``side`` x ``side`` log-Mel images), ``acoustics``,
    ``baseline``, ``trim`` or ``waveforms``. The rows of :data:`STEPS`; run by :func:`warm`
    (``python -m course_utils warm-cache``) and checked against the notebooks' code by ``tests/test_warmup.py``.
    """

    kind: str
    quick: bool
    notebooks: tuple[str, ...]
    side: int | None = None
    profiles: tuple[str, ...] = PROFILES

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    @property
    def name(self) -> str:
        names = {
            "images": f"log-Mel images {self.side} x {self.side}",
            "acoustics": "acoustic table (pyin f0)",
            "baseline": "MFCC clip statistics",
            "trim": "trimmed durations",
            "waveforms": f"waveforms {WAVEFORM_RATE // 1000} kHz",
        }
        return names[self.kind]

    def feature_config(self) -> features.FeatureConfig:
        """The recipe of an ``images`` step, built as the notebooks build it."""
        if self.kind != "images":
            raise ValueError(f"a {self.kind} step has no image recipe")
        return features.FeatureConfig(image_size=(self.side, self.side))

    def run(self, meta: pd.DataFrame, dataset: str, n_jobs: int, progress: bool = True) -> None:
        """Compute (or read) this cache for ``meta`` with the notebooks' own call."""
        cfg = features.FeatureConfig()
        if self.kind == "images":
            features.compute_images(meta, self.feature_config(), dataset=dataset, n_jobs=n_jobs, progress=progress)
        elif self.kind == "acoustics":  # 05_eda (its parameters' defaults), 07, 09
            eda.acoustic_table(meta, eda.AcousticConfig(), dataset=dataset, n_jobs=n_jobs, progress=progress)
        elif self.kind == "baseline":  # 06, 07: baseline.cached_features(meta)
            baseline.cached_features(meta, n_jobs=n_jobs)
        elif self.kind == "trim":  # 06: audio.trimmed_durations(meta, sr=cfg.sample_rate, top_db=cfg.trim_top_db)
            audio.trimmed_durations(meta, sr=cfg.sample_rate, top_db=cfg.trim_top_db, n_jobs=n_jobs)
        elif self.kind == "waveforms":  # 14: wn.load_waveforms(meta, sr=sample_rate, n_samples=n_samples, ...)
            from course_utils.learning import waveform_nets

            waveform_nets.load_waveforms(meta, sr=WAVEFORM_RATE, n_samples=WAVEFORM_SAMPLES, dataset=dataset,
                                         n_jobs=n_jobs, progress=progress)
        else:
            raise ValueError(f"unknown kind of cache {self.kind!r}")


_IMAGES_256 = ("05_eda", "06_preprocessing", "07_classical_baseline", "08_cnn_binary", "09_cnn_multiclass",
               "10_augmentation", "11_transfer_vgg16", "12_autoencoder")
_ACOUSTICS = ("05_eda", "07_classical_baseline", "09_cnn_multiclass")
_BASELINE = ("06_preprocessing", "07_classical_baseline")

#: Every cache this module knows, cheapest first (the quick ones), in the order :func:`warm` runs them.
STEPS = (
    Step("images", True, ("06_preprocessing", "07_classical_baseline", "11_transfer_vgg16"), side=256),
    Step("images", True, ("05_eda",), side=128),
    Step("images", True, ("08_cnn_binary", "09_cnn_multiclass", "10_augmentation", "12_autoencoder", "13_multitask",
                          "15_uncertainty", "16_better_emotion_model", "17_new_voices"), side=64),
    Step("acoustics", True, _ACOUSTICS),
    Step("baseline", True, _BASELINE),
    Step("trim", True, ("06_preprocessing",)),
    Step("waveforms", True, ("14_raw_waveform",)),
    Step("images", False, _IMAGES_256, side=256),
    Step("acoustics", False, _ACOUSTICS),
    Step("baseline", False, _BASELINE),
    Step("trim", False, ("06_preprocessing",)),
    Step("images", False, ("13_multitask", "15_uncertainty", "16_better_emotion_model", "17_new_voices"), side=64,
         profiles=("all",)),
    Step("waveforms", False, ("14_raw_waveform",), profiles=("all",)),
)


# --------------------------------------------------------------------------------------
# Planning: which steps, how many workers
# --------------------------------------------------------------------------------------
def plan(profile: str = "binder", modes: Iterable[str] = MODES) -> list[Step]:
    """The steps of a profile (see :data:`PROFILES`) for the given modes, in running order. Used by
    :func:`warm` (``python -m course_utils warm-cache``) and the tests."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    modes = tuple(modes)
    unknown = set(modes) - set(MODES)
    if unknown or not modes:
        raise ValueError(f"modes must be some of {', '.join(MODES)}, got {modes!r}")
    return [s for s in STEPS if profile in s.profiles and s.mode in modes]


def default_jobs() -> int:
    """Worker processes: the usable cores (cgroup quotas included, joblib's count), at most :data:`MAX_JOBS`.
    The default of :func:`warm` (``python -m course_utils warm-cache`` without ``--jobs``)."""
    return max(1, min(MAX_JOBS, cpu_count()))


# --------------------------------------------------------------------------------------
# Warming
# --------------------------------------------------------------------------------------
def whole_second_mtimes(files: Iterable[str | Path]) -> int:
    """Round the modification time of each file down to a whole second; returns how many changed.

    A Docker image layer keeps whole seconds only, so fingerprints taken after this survive
    the image (see the module docstring). Access times are kept. Used by :func:`warm` with
    ``round_mtimes`` (``python -m course_utils warm-cache`` ``--whole-second-mtimes``, as ``binder/postBuild`` runs it) and the tests.
    """
    changed = 0
    for f in files:
        st = os.stat(f)
        rest = st.st_mtime_ns % 1_000_000_000
        if rest:
            os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns - rest))
            changed += 1
    return changed


def _cache_files(folder: Path) -> dict[str, int]:
    """Cache entries (files and folders) in ``folder`` with their size in bytes."""
    if not folder.is_dir():
        return {}
    out = {}
    for p in folder.iterdir():
        if p.name.startswith("."):  # temporary files of an atomic write
            continue
        out[p.name] = p.stat().st_size if p.is_file() else sum(q.stat().st_size for q in p.rglob("*") if q.is_file())
    return out


def warm(
    dataset: str | datasets.Dataset = "auto",
    *,
    profile: str = "binder",
    modes: Iterable[str] = MODES,
    n_jobs: int | None = None,
    round_mtimes: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Compute every cache of :func:`plan` ``(profile, modes)`` for ``dataset``; returns a report.

    ``dataset`` is a choice as in the notebooks' parameters (``"auto"``, ``"synthetic"``,
    ``"ravdess"``; resolved with :func:`course_utils.data.datasets.resolve`, which generates the
    offline corpus when it is missing) or a resolved :class:`~course_utils.data.datasets.Dataset`.
    Caches go where the notebooks look: ``paths.cache_dir()`` (``$COURSE_DATA_DIR/cache``).
    A cache that exists already is read, not recomputed, so a second call is quick.

    The report has one row per step: ``cache``, ``mode``, ``clips``, ``notebooks``,
    ``seconds``, ``new_files`` (cache files the step wrote; 0 when it found its cache) and
    ``MB`` (their size). A progress bar counts the steps; the long steps show their own bar.
    ``round_mtimes=True`` first rounds the modification times of the dataset's audio files down
    to whole seconds (:func:`whole_second_mtimes`; for images such as Binder's). Used by
    ``python -m course_utils warm-cache`` (run by ``binder/postBuild``) and the tests.
    """
    steps = plan(profile, modes)
    compile_librosa()  # numba's cache written by this process alone, before any worker starts
    data = dataset if isinstance(dataset, datasets.Dataset) else datasets.resolve(dataset, progress=progress)
    n_jobs = default_jobs() if n_jobs is None else int(n_jobs)
    if round_mtimes:
        changed = whole_second_mtimes(metadata.find_wavs(data.root))
        if progress:
            print(f"modification times rounded down to whole seconds: {changed} file(s)")
    metas = {quick: data.metadata(quick=quick) for quick in sorted({s.quick for s in steps})}
    cache = paths.cache_dir()
    rows = []
    bar = jupyter.progress(steps, desc="warm-up", unit="cache", disable=not progress)
    for step in bar:
        bar.set_postfix_str(f"{step.name}, {step.mode}")
        before = _cache_files(cache)
        t0 = time.perf_counter()
        step.run(metas[step.quick], data.name, n_jobs, progress=progress)
        seconds = time.perf_counter() - t0
        after = _cache_files(cache)
        new = {k: v for k, v in after.items() if k not in before}
        rows.append({"cache": step.name, "mode": step.mode, "clips": len(metas[step.quick]),
                     "notebooks": ", ".join(n[:2] for n in step.notebooks), "seconds": round(seconds, 1),
                     "new_files": len(new), "MB": round(sum(new.values()) / 1e6, 1)})
        if progress:
            bar.write(f"{step.name} ({step.mode}, {len(metas[step.quick])} clips): {seconds:.1f} s, "
                       + (f"wrote {sum(new.values()) / 1e6:.1f} MB" if new else "already cached"))
    bar.close()
    return pd.DataFrame(rows, columns=["cache", "mode", "clips", "notebooks", "seconds", "new_files", "MB"])
