"""eGeMAPS: the field's standard acoustic parameter set for affect, through openSMILE.

Taught in ``07_classical_baseline``, beside the course's own clip statistics
(:mod:`course_utils.learning.baseline`); ``17_new_voices`` reads the cached values back through
:func:`course_utils.learning.baseline.feature_matrix`. The chapters call
:func:`cached`; :func:`extract` and :func:`clip_features` do its work.

eGeMAPS, the *extended Geneva Minimalistic Acoustic Parameter Set* (Eyben, Scherer, Schuller,
Sundberg, André, Busso, Devillers, Epps, Laukka, Narayanan, Truong: "The Geneva Minimalistic
Acoustic Parameter Set (GeMAPS) for Voice Research and Affective Computing", IEEE Transactions
on Affective Computing 7(2), 190-202, 2016, https://doi.org/10.1109/TAFFC.2015.2457417), is a
small set of voice parameters chosen by experts for what they say about emotion and their
physiological meaning, not a large brute-force feature set. Each clip becomes 88 numbers:
functionals (means, coefficients of variation, percentiles, slopes, ...) over the clip of 25
low-level descriptors measured every 10 ms:

- frequency: pitch (f0 in semitones from 27.5 Hz), jitter, formants F1-F3 and their bandwidths;
- energy and amplitude: loudness, shimmer, harmonics-to-noise ratio (HNR);
- spectral balance: alpha ratio, Hammarberg index, spectral slopes 0-500 and 500-1500 Hz,
  H1-H2, H1-A3, formant amplitudes, spectral flux, MFCC 1-4;
- plus temporal features: rate of loudness peaks, voiced and unvoiced segments per second and
  their lengths, and the equivalent sound level.

The numbers come from audEERING's ``opensmile`` package (version 2.6.0, feature set
``eGeMAPSv02``), whose wheel ships the SMILExtract library, so it runs offline. Clips are read
with :func:`course_utils.data.audio.load_audio` at 16 kHz (the rate eGeMAPS is usually computed at),
and the feature matrix is cached on disk like the course's other features (:func:`cached`).
"""

from __future__ import annotations

import os
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from joblib.externals.loky import ProcessPoolExecutor

from course_utils.base import jupyter
from course_utils.data import audio, cache

#: opensmile's name of the feature set.
FEATURE_SET = "eGeMAPSv02"
#: Number of eGeMAPS functionals per clip.
N_FEATURES = 88
#: The sample rate clips are read at (Hz).
SAMPLE_RATE = 16_000
#: The shortest signal eGeMAPS measures: one 60 ms pitch frame (s).
MIN_SECONDS = 0.06
#: Bump when the recipe changes, so that old cache files are not reused.
EGEMAPS_VERSION = 1

_INT16_MAX = 32767 / 32768  # opensmile hands the binary 16-bit samples: y * 32768 as int16


@lru_cache(maxsize=1)
def _smile():
    """One openSMILE extractor per process (building it reads the config: about 0.3 s)."""
    import opensmile  # imported here: ``import course_utils`` stays light

    return opensmile.Smile(feature_set=opensmile.FeatureSet[FEATURE_SET], feature_level=opensmile.FeatureLevel.Functionals)


#: Set once openSMILE has processed a signal in this process while TensorFlow was not loaded.
_loaded_before_tensorflow = False


def _tensorflow_first() -> bool:
    """True when TensorFlow is loaded in this process and openSMILE's native library is not yet.

    openSMILE 2.6's library, loaded *after* TensorFlow 2.21 into the same process, crashes the
    process (a segmentation fault inside ``SMILEapi``, seen in a notebook that imports Keras
    first and in the test suite); loaded before, both work. In that case the extraction runs in a
    fresh worker process (:func:`_worker`), which imports no TensorFlow.
    """
    return "tensorflow" in sys.modules and not _loaded_before_tensorflow


@lru_cache(maxsize=None)
def _worker(n: int = 1) -> ProcessPoolExecutor:
    """Fresh worker processes for openSMILE (loky's process pool, as joblib uses it: started once
    per size and kept for the session; a worker imports only this module's dependencies, no
    TensorFlow). A pool of its own, so that joblib's shared executor is left alone."""
    return ProcessPoolExecutor(max_workers=n)


def _values(y: np.ndarray, sr: int) -> np.ndarray:
    """openSMILE on a checked signal, in this process."""
    global _loaded_before_tensorflow
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Segment too short": checked by clip_features
        values = _smile().process_signal(y, int(sr)).to_numpy(dtype=np.float32)[0]
    _loaded_before_tensorflow = _loaded_before_tensorflow or "tensorflow" not in sys.modules
    return values


def _opensmile_version() -> str:
    import opensmile

    return opensmile.__version__


def feature_names() -> list[str]:
    """The 88 column names of eGeMAPS, in order, as openSMILE's feature set names them.

    For example ``F0semitoneFrom27.5Hz_sma3nz_amean`` (mean pitch in semitones over voiced
    frames), ``loudness_sma3_amean``, ``jitterLocal_sma3nz_amean``,
    ``HNRdBACF_sma3nz_amean``, ``equivalentSoundLevel_dBp``. Used by the tests; no chapter
    calls it. The names of the values ``07_classical_baseline`` compares with the course's
    statistics.
    """
    return list(_smile().feature_names)


def clip_features(y: np.ndarray, sr: int) -> np.ndarray:
    """One loaded signal -> its 88 eGeMAPS values (float32, in the order of :func:`feature_names`).

    ``y`` is a mono signal (1-D) in [-1, 1] at ``sr`` Hz, at least :data:`MIN_SECONDS` long.
    openSMILE reads 16-bit samples, so values beyond the 16-bit range are clipped. Raises a
    ``ValueError`` that says what is wrong for an empty, too short, silent (nothing above one
    16-bit step) or non-finite (NaN, inf) signal. Used by :func:`extract`, behind
    :func:`cached` (``07_classical_baseline``).
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"clip_features needs a mono signal (1-D), got shape {y.shape}. Fix: load with mono=True.")
    if not (isinstance(sr, (int, np.integer)) and sr > 0):
        raise ValueError(f"sr must be a positive whole number of samples per second, got {sr!r}")
    if y.size == 0:
        raise ValueError("the signal is empty (0 samples): eGeMAPS needs sound. Fix: check the file or the trimming.")
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if bad:
        raise ValueError(f"the signal has {bad} non-finite samples (NaN or inf) of {y.size}. Fix: check the processing that made it.")
    if y.size < MIN_SECONDS * sr:
        raise ValueError(
            f"the signal is too short for eGeMAPS: {y.size / sr * 1000:.0f} ms, it needs at least "
            f"{MIN_SECONDS * 1000:.0f} ms (one pitch frame)."
        )
    if np.max(np.abs(y)) < 1 / 32768:
        raise ValueError("the signal is silent (no sample reaches one 16-bit step): eGeMAPS would be all zeros.")
    y = np.clip(y, -1.0, _INT16_MAX)
    values = _worker().submit(_values, y, int(sr)).result() if _tensorflow_first() else _values(y, sr)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"openSMILE returned {int(np.count_nonzero(~np.isfinite(values)))} non-finite eGeMAPS values.")
    return values


def _features_of(path: str, sr: int) -> np.ndarray:
    y, file_sr = audio.load_audio(path, sr=sr)  # names the file if it cannot be read
    try:
        return clip_features(y, file_sr)
    except ValueError as err:
        raise ValueError(f"eGeMAPS of {path} failed: {err}") from err


def extract(meta: pd.DataFrame, sr: int = SAMPLE_RATE, progress: bool = True, n_jobs: int | None = None) -> np.ndarray:
    """The eGeMAPS matrix of a metadata table: one row per row of ``meta`` (column ``path``).

    Each file is read with :func:`course_utils.data.audio.load_audio` (mono, resampled to ``sr``)
    and measured with :func:`clip_features`; a file that fails raises a ``ValueError`` naming
    it. ``n_jobs`` processes share the files (default: the number of CPUs; 1 = in this
    process), with the course's progress bar (``progress``). Returns float32 of shape
    ``(len(meta), 88)``. Used by :func:`cached` (``07_classical_baseline``).
    """
    if "path" not in meta.columns:
        raise KeyError("meta has no 'path' column. Fix: build it with course_utils.data.metadata.build_metadata(root).")
    files = [str(p) for p in meta["path"]]
    if not files:
        return np.zeros((0, N_FEATURES), dtype=np.float32)
    n_jobs = (os.cpu_count() or 1) if n_jobs is None else n_jobs
    n_jobs = max(1, min(int(n_jobs), len(files) // 16 or 1))

    # openSMILE must not load after TensorFlow (see _tensorflow_first): then fresh processes do the work
    rows = jupyter.map_files(_features_of, files, sr, n_jobs=n_jobs, desc="eGeMAPS", progress_bar=progress,
                                 executor=_worker(n_jobs) if _tensorflow_first() else None)
    return np.stack(rows).astype(np.float32)


def cache_path(meta: pd.DataFrame, *, dataset: str, sr: int = SAMPLE_RATE, cache_dir: str | Path | None = None) -> Path:
    """Where :func:`cached` keeps the eGeMAPS of these files.

    The name holds the dataset, the rate and a fingerprint of the file list (names, sizes,
    modification times: :func:`course_utils.base.paths.files_fingerprint`) and of the recipe
    (feature set, opensmile version, rate, :data:`EGEMAPS_VERSION`), so another subset, a
    replaced file or another setting gets its own entry. Used by :func:`cached`
    (``07_classical_baseline``).
    """
    return cache.entry_path(f"egemaps-{dataset}-{int(sr)}hz", meta["path"], FEATURE_SET, _opensmile_version(), int(sr),
                            EGEMAPS_VERSION, cache_dir=cache_dir)


def cached(
    meta: pd.DataFrame,
    *,
    dataset: str,
    cache_dir: str | Path | None = None,
    n_jobs: int | None = None,
    sr: int = SAMPLE_RATE,
    progress: bool = True,
) -> np.ndarray:
    """:func:`extract` of ``meta``, cached on disk: array ``(len(meta), 88)``, float32.

    Read from the cache file (:func:`cache_path`, under ``paths.cache_dir()`` unless
    ``cache_dir`` is given) when it holds exactly these files; otherwise computed and written
    atomically (a temporary file, then a rename). A damaged cache file is computed again,
    with a one-line message. Taught in ``07_classical_baseline``; ``17_new_voices`` reads it
    through :func:`course_utils.learning.baseline.feature_matrix`.
    """
    target = cache_path(meta, dataset=dataset, sr=sr, cache_dir=cache_dir)
    names = [Path(p).name for p in meta["path"]]

    def build() -> dict:
        return {"features": extract(meta, sr=sr, progress=progress, n_jobs=n_jobs), "filenames": np.array(names)}

    entry = cache.cached(target, build, what="eGeMAPS", names=names, check=cache.shape_check("features", (len(names), N_FEATURES)))
    return entry["features"].astype(np.float32)
