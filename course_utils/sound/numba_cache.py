"""numba's on-disk cache of librosa, written by one process before any parallel work.

librosa compiles its inner loops (pyin's Viterbi, peak picking, the yin cumulative mean) with
numba, which caches the machine code beside librosa's sources. Two processes that compile the
same function at the same moment (joblib's workers in chapters 05-07, two kernels) can leave the
cache's index and data files out of step, and a later process that loads that entry crashes.
:func:`compile_librosa` runs every librosa function the course uses once, in one process, right
after an install: ``make venv``, ``python -m course_utils warm-cache`` (Binder's postBuild) and
Colab's setup cell call it.
"""

from __future__ import annotations

import functools
import time

import librosa
import numpy as np

from course_utils.data import audio


@functools.cache
def compile_librosa() -> float:
    """Compile librosa's numba functions in this one process, so that numba's on-disk cache is
    written once; returns the seconds it took (about 40 s on a fresh install, under 5 s after).
    Once per process: a second call returns the first one's seconds at once.

    numba caches compiled functions beside librosa's sources: an index file and data files per
    function. Two processes compiling the same function at once (joblib's workers, two kernels)
    can leave the index and the data out of step, and every later process that loads that
    entry crashes (a segfault, seen as "Kernel died"). Compiling once, alone, right after the
    install leaves nothing for parallel processes to write. Each function is called with float32
    and float64 signals, whose compiled versions differ. Run by ``make venv``, by
    :func:`course_utils.tools.warmup.warm` before its workers start (so by ``binder/postBuild``'s
    ``warm-cache``) and by Colab's setup cell (:func:`course_utils.course.colab.setup`), where the
    course is installed without ``make``.
    Taught in ``00_getting_the_data`` (where to run the course)."""
    start = time.perf_counter()
    sr = audio.COURSE_SR
    t = np.arange(sr) / sr
    for dtype in (np.float32, np.float64):
        y = (0.3 * np.sin(2 * np.pi * 150 * t) * (t > 0.2) + 1e-4 * np.cos(2 * np.pi * 3000 * t)).astype(dtype)
        librosa.pyin(y, fmin=60, fmax=600, sr=sr)
        librosa.yin(y, fmin=60, fmax=600, sr=sr)
        librosa.effects.trim(y, top_db=30)
        S = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=32)
        librosa.feature.mfcc(S=librosa.power_to_db(S), n_mfcc=13)
        librosa.feature.rms(y=y)
        librosa.feature.spectral_centroid(y=y, sr=sr)
        librosa.feature.zero_crossing_rate(y)
        librosa.griffinlim(np.abs(librosa.stft(y, n_fft=512)), n_iter=2)
        envelope = librosa.onset.onset_strength(y=y, sr=sr)
        librosa.util.peak_pick(envelope, pre_max=3, post_max=3, pre_avg=3, post_avg=5, delta=0.1, wait=10)
        librosa.util.localmax(envelope)
        librosa.util.localmin(envelope)
    return time.perf_counter() - start
