"""Audio I/O: load, resample, mix to mono, trim silence, fix the length, write atomically.

Taught in ``01_sound_and_sampling`` (sampling, bit depth) and ``06_preprocessing`` (trimming
and one common length: :func:`trimmed_durations`, :func:`crop_pad_table`); used by the
feature pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import librosa
import numpy as np
import pandas as pd
import soundfile as sf
from joblib import Parallel, delayed

from course_utils.base import jupyter, paths
from course_utils.data import cache, metadata
from course_utils.data.atomic import atomic_path

#: The sample rate every notebook works at (RAVDESS is recorded at 48 kHz).
COURSE_SR = 22_050


def load_audio(path: str | Path, sr: int | None = COURSE_SR, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 in [-1, 1], resampled to ``sr`` (``None`` keeps the file's).

    Stereo files are averaged to mono unless ``mono=False`` (then the shape is
    ``(channels, samples)``). A file that cannot be read, a WAV cut short (its header promises
    more samples than it holds) and samples that are not finite (NaN or infinity in a float WAV)
    raise :class:`course_utils.data.metadata.AudioFileError`, a ``ValueError`` naming the file and
    the fix. Taught in ``01_sound_and_sampling`` (the course's rate of 22,050 Hz, resampling,
    values in [-1, 1)); used by every chapter that listens to or measures a clip,
    ``00_getting_the_data`` to ``16_better_emotion_model``.
    """
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:
        raise metadata.AudioFileError(
            f"Cannot read audio file {path}: {err}. Fix: the file is damaged or not audio; "
            "delete it and download or generate the data again."
        ) from err
    metadata.check_wav_complete(path)
    metadata.check_finite_samples(data, file_sr, path)
    y = data.T  # (channels, samples)
    if mono:
        y = y.mean(axis=0)
    if sr is not None and sr != file_sr:
        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq")
        file_sr = sr
    return np.ascontiguousarray(y, dtype=np.float32), file_sr


def trim_silence(y: np.ndarray, top_db: float = 30.0) -> tuple[np.ndarray, tuple[int, int]]:
    """Cut the quiet head and tail: everything more than ``top_db`` below the loudest frame.

    Returns the trimmed signal and ``(start, end)`` sample indices into ``y``. Taught in
    ``06_preprocessing`` (where it cuts: :func:`trimmed_durations`), the first step of
    :func:`preprocess`; ``03_spectrogram`` and ``14_raw_waveform`` call it directly.
    """
    trimmed, (start, end) = librosa.effects.trim(y, top_db=top_db)
    return trimmed, (int(start), int(end))


def fix_length(y: np.ndarray, n_samples: int) -> np.ndarray:
    """Centre ``y`` in exactly ``n_samples``: crop both ends equally, or pad with zeros.
    Taught in ``06_preprocessing`` (one common length, :func:`crop_pad_table`); the second step of
    :func:`preprocess`, and the length of the raw waveforms of ``14_raw_waveform``."""
    n = len(y)
    if n >= n_samples:
        start = (n - n_samples) // 2
        return y[start : start + n_samples]
    before = (n_samples - n) // 2
    return np.pad(y, (before, n_samples - n - before))


def preprocess(y: np.ndarray, sr: int, duration: float, top_db: float = 30.0) -> np.ndarray:
    """Trim silence, then fix the length to ``duration`` seconds (the study's preprocessing).
    Taught in ``06_preprocessing``; the start of every log-Mel image
    (:func:`course_utils.sound.features.clip_image`), and called directly by ``08_cnn_binary`` to
    ``16_better_emotion_model`` (all but ``14_raw_waveform``), to show or play a clip as the network
    gets it."""
    trimmed, _ = trim_silence(y, top_db=top_db)
    return fix_length(trimmed, int(round(duration * sr)))


def write_wav_atomic(path: str | Path, y: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    """Write a WAV file via a temporary file in the same folder and a rename.

    ``y`` is ``(samples,)`` or ``(samples, channels)``. A crash never leaves a half-written
    file under ``path`` (:func:`course_utils.data.atomic.atomic_path`). Writes every file of the
    offline corpus (``00_getting_the_data``).
    """
    with atomic_path(path) as tmp:
        sf.write(str(tmp), y, sr, subtype=subtype, format="WAV")
    return Path(path)


def _trim_one(path: str, sr: int, top_db: float) -> tuple[float, float, float]:
    y, sr = load_audio(path, sr=sr)
    _, (start, end) = trim_silence(y, top_db=top_db)
    return len(y) / sr, start / sr, end / sr


def trimmed_durations(
    meta: pd.DataFrame,
    sr: int = COURSE_SR,
    top_db: float = 30.0,
    *,
    cache_dir: str | Path | None = None,
    n_jobs: int = -1,
    progress: bool = True,
) -> pd.DataFrame:
    """Where :func:`trim_silence` cuts each clip, in seconds: one row per row of ``meta``.

    Columns: ``filename``, ``duration`` (the whole clip), ``start`` and ``end`` (the kept
    part), ``trimmed`` (= end - start). Computed at sample rate ``sr`` (as the feature
    recipe does) in ``n_jobs`` processes with a progress bar (``progress``:
    :func:`course_utils.base.jupyter.progress`), and cached as a CSV file in ``cache_dir``
    (default ``paths.cache_dir()``; :func:`course_utils.data.cache.cached`: written atomically, a
    damaged entry reported and computed again). Taught in ``06_preprocessing``.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    target = cache.entry_path("trim", meta["path"], sr, top_db, suffix=".csv", cache_dir=cache_dir)
    names = [Path(p).name for p in meta["path"]]

    def build() -> pd.DataFrame:

        jobs = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_trim_one)(str(p), sr, top_db) for p in meta["path"])
        rows = list(jupyter.progress(jobs, total=len(meta), desc="trimming", unit="file", disable=not progress))
        table = pd.DataFrame(rows, columns=["duration", "start", "end"])
        table.insert(0, "filename", names)
        table["trimmed"] = table["end"] - table["start"]
        return table

    return cache.cached(target, build, what="trimmed-durations", names=names,
                        check=cache.columns_check(["duration", "start", "end", "trimmed"]))


def crop_pad_table(trimmed: Sequence[float], lengths: Sequence[float]) -> pd.DataFrame:
    """What a common length does to clips of the given trimmed lengths (s): one row per length.

    Columns: ``length_s``, ``cropped`` and ``padded`` (share of clips longer / shorter than
    the length), ``mean_cut_s`` (mean speech cut off a cropped clip, 0 if none),
    ``mean_pad_s`` (mean silence added to a padded clip), ``speech_lost`` (share of all
    trimmed speech that cropping removes). Taught in ``06_preprocessing`` (choosing one common
    length).
    """
    t = np.asarray(trimmed, dtype=float)
    if t.size == 0:
        raise ValueError("no trimmed lengths given")
    rows = []
    for length in lengths:
        over, under = t > length, t < length
        cut = np.clip(t - length, 0, None)
        rows.append(dict(
            length_s=float(length),
            cropped=float(over.mean()),
            padded=float(under.mean()),
            mean_cut_s=float(cut[over].mean()) if over.any() else 0.0,
            mean_pad_s=float((length - t[under]).mean()) if under.any() else 0.0,
            speech_lost=float(cut.sum() / t.sum()),
        ))
    return pd.DataFrame(rows)
