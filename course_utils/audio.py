"""Audio I/O: load, resample, mix to mono, trim silence, fix the length, write atomically.

Taught in ``01_sound_and_sampling`` (sampling, bit depth) and ``06_preprocessing`` (trimming
and one common length); used by the feature pipeline.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from course_utils.atomic import atomic_path

#: The sample rate every notebook works at (RAVDESS is recorded at 48 kHz).
COURSE_SR = 22_050


def load_audio(path: str | Path, sr: int | None = COURSE_SR, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 in [-1, 1], resampled to ``sr`` (``None`` keeps the file's).

    Stereo files are averaged to mono unless ``mono=False`` (then the shape is
    ``(channels, samples)``). A file that cannot be read raises a ``ValueError`` naming it.
    """
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:
        raise ValueError(
            f"Cannot read audio file {path}: {err}. Fix: the file is damaged or not audio; "
            "delete it and download or generate the data again."
        ) from err
    y = data.T  # (channels, samples)
    if mono:
        y = y.mean(axis=0)
    if sr is not None and sr != file_sr:
        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq")
        file_sr = sr
    return np.ascontiguousarray(y, dtype=np.float32), file_sr


def trim_silence(y: np.ndarray, top_db: float = 30.0) -> tuple[np.ndarray, tuple[int, int]]:
    """Cut the quiet head and tail: everything more than ``top_db`` below the loudest frame.

    Returns the trimmed signal and ``(start, end)`` sample indices into ``y``.
    """
    trimmed, (start, end) = librosa.effects.trim(y, top_db=top_db)
    return trimmed, (int(start), int(end))


def fix_length(y: np.ndarray, n_samples: int) -> np.ndarray:
    """Centre ``y`` in exactly ``n_samples``: crop both ends equally, or pad with zeros."""
    n = len(y)
    if n >= n_samples:
        start = (n - n_samples) // 2
        return y[start : start + n_samples]
    before = (n_samples - n) // 2
    return np.pad(y, (before, n_samples - n - before))


def preprocess(y: np.ndarray, sr: int, duration: float, top_db: float = 30.0) -> np.ndarray:
    """Trim silence, then fix the length to ``duration`` seconds (the study's preprocessing)."""
    trimmed, _ = trim_silence(y, top_db=top_db)
    return fix_length(trimmed, int(round(duration * sr)))


def write_wav_atomic(path: str | Path, y: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    """Write a WAV file via a temporary file in the same folder and a rename.

    ``y`` is ``(samples,)`` or ``(samples, channels)``. A crash never leaves a half-written
    file under ``path``.
    """
    with atomic_path(path) as tmp:
        sf.write(str(tmp), y, sr, subtype=subtype, format="WAV")
    return Path(path)
