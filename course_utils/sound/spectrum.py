"""The spectrum of a signal: the FFT, its frequency axis, harmonics and the fundamental (f0).

Taught in ``02_spectrum``. ``01_sound_and_sampling`` measures aliases with :func:`peak_frequency`
and :func:`alias_table`; ``05_eda`` tracks every clip's pitch with :func:`track_f0` (through
:func:`course_utils.sound.eda.clip_acoustics`) and flags artefacts with :func:`at_search_edge`;
every chapter that tracks pitch searches the course's f0 range (:data:`SPEECH_FMIN` to
:data:`SPEECH_FMAX`), and ``10_augmentation`` measures pitch shifts with :func:`semitones`.

The intuition: every periodic sound is a sum of sinusoids (Fourier), and its spectrum lists how
much of each frequency it holds. A voiced sound is periodic with the period of the vocal folds:
its spectrum is a comb of *harmonics* at ``k * f0``, and the fundamental frequency ``f0`` is what
we hear as its pitch.

The discrete Fourier transform of ``N`` samples taken at ``sr`` Hz,

.. math:: X[k] = \\sum_{n=0}^{N-1} x[n]\\, e^{-2\\pi i k n / N}, \\qquad k = 0, \\dots, N/2,

measures how much of a sinusoid of frequency :math:`k \\cdot sr / N` Hz is in the signal;
``numpy.fft.rfft`` computes it with the fast Fourier transform and ``numpy.fft.rfftfreq``
gives the frequency of every bin. Two neighbouring bins are :math:`sr / N` Hz apart. The ear
hears ratios of frequencies, so pitch intervals are measured in semitones,
:math:`12 \\log_2(f_2 / f_1)` (an octave is 12).

================================  ====================================================
helper                            what it does
================================  ====================================================
:func:`magnitude_spectrum`        windowed FFT -> (frequencies in Hz, amplitudes)
:func:`bin_frequency`             frequency of bin ``k``: ``k * sr / n_fft``
:func:`frequency_resolution`      bin spacing ``sr / n_fft``
:func:`to_db`                     amplitudes in dB (``20 log10``)
:func:`leakage_table`             how far a tone's energy leaks, per window
:func:`peak_frequency`            the strongest frequency of a signal; :func:`alias_table`
                                  the alias of sampled tones, by formula and measured
:func:`pick_peaks`                spectral peaks (``scipy.signal.find_peaks``) with phases
:func:`resynthesize`              the sum of sinusoids the peaks describe
:func:`find_harmonics`            the peaks at (about) ``k * f0``; :func:`harmonic_f0`
                                  the fundamental they imply
:func:`track_f0`                  f0 over a clip with ``librosa.pyin``, silent frames gated
:func:`f0_stats`                  median, range (Hz and semitones) of the voiced frames
:func:`f0_summary`                those statistics for many files, pooled per group
:func:`semitones`                 the distance of two frequencies in semitones
:func:`at_search_edge`            f0 values at the edge of the search range (artefacts)
:func:`steady_voiced_frame`       a frame that shows harmonics well; :func:`noisy_frame`
                                  one of noise (a fricative)
================================  ====================================================

Plotting helpers: :func:`plot_components`, :func:`plot_spectrum`, :func:`mark_harmonics`,
:func:`plot_time_and_frequency`, :func:`plot_leakage`, :func:`plot_f0_track`,
:func:`plot_f0_contours`, :func:`plot_f0_survey`, :func:`hz_log_axis`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.signal

from course_utils.base import jupyter
from course_utils.data import audio
from course_utils.sound import signals

#: The course's f0 search range for speech (Hz), used by every chapter that tracks pitch
#: (02, 03, 04, 05, 07, 10). Why these values:
#:
#: - ``SPEECH_FMIN`` lies well below the lowest speaking f0 of adult men (the literature puts
#:   typical male speaking f0 at roughly 85-180 Hz, :data:`LITERATURE_F0_HZ`), so that a low
#:   voice, or a voice that drops into creak at the end of a sentence, is not cut off at the
#:   floor of the search. A value *at* the floor is a sign of an artefact (the hum of a quiet
#:   tail, creak, a missed period), never a voice's real range: :func:`at_search_edge` flags it.
#: - ``SPEECH_FMAX`` lies well above the highest clip medians of shouted or fearful female speech
#:   (on the real RAVDESS they reach beyond 500 Hz), with room for the peaks of their contours.
#: - A wider range costs time and invites octave errors: pyin searches a grid of candidate
#:   pitches over the whole range (this one costs about 2.5 times the time of 65-500 Hz).
SPEECH_FMIN = 50.0
SPEECH_FMAX = 1000.0

#: Typical adult speaking f0 from the literature (Hz; Titze 1994, *Principles of Voice
#: Production*; Baken 1987): the one range the course quotes, in chapters 01, 02 and 03.
LITERATURE_F0_HZ = {"male": (85.0, 180.0), "female": (165.0, 255.0)}
LITERATURE_F0_SOURCE = "Titze 1994; Baken 1987"

#: :func:`at_search_edge`: how close (semitones) to ``fmin`` or ``fmax`` a value counts as "at the edge".
SEARCH_EDGE_ST = 0.5


# --------------------------------------------------------------------------------------
# The spectrum
# --------------------------------------------------------------------------------------
def bin_frequency(k, sr: float, n_fft: int):
    """The frequency (Hz) of FFT bin ``k``: ``k * sr / n_fft``.

    Taught in ``02_spectrum``.
    """
    return np.asarray(k) * sr / n_fft


def frequency_resolution(sr: float, n_fft: int) -> float:
    """The spacing of the FFT bins (Hz): ``sr / n_fft``; longer frames resolve finer.

    Taught in ``02_spectrum``.
    """
    return sr / n_fft


def magnitude_spectrum(x: np.ndarray, sr: float, n_fft: int | None = None, window: str = "hann") -> tuple[np.ndarray, np.ndarray]:
    """The amplitude spectrum of ``x``: frequencies (Hz) and amplitudes of bins ``0 .. n_fft/2``.

    ``x`` is multiplied by ``window`` (``"hann"``, ``"boxcar"`` for none, any name
    ``scipy.signal.get_window`` knows), zero-padded to ``n_fft`` samples (default:
    ``len(x)``) and transformed with ``numpy.fft.rfft``. The amplitudes are scaled by
    ``2 / sum(window)``, so that a sine of amplitude ``A`` whose frequency falls on a bin
    shows a peak of height ``A``. Taught in ``02_spectrum``; ``01_sound_and_sampling`` measures
    with it how much of a recording's energy lies above a new Nyquist limit.
    """
    x = np.asarray(x, dtype=float)
    n_fft = n_fft or len(x)
    if n_fft < len(x):
        raise ValueError(f"n_fft ({n_fft}) must be at least the length of the signal ({len(x)})")
    w = scipy.signal.get_window(window, len(x), fftbins=True)
    X = np.fft.rfft(x * w, n=n_fft)
    return np.fft.rfftfreq(n_fft, d=1.0 / sr), np.abs(X) * 2.0 / np.sum(w)


def complex_spectrum(x: np.ndarray, sr: float, n_fft: int | None = None, window: str = "hann") -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`magnitude_spectrum`, but the complex bins (amplitude and phase).

    Used by :func:`pick_peaks` (``02_spectrum``), which keeps the phases.
    """
    x = np.asarray(x, dtype=float)
    n_fft = n_fft or len(x)
    w = scipy.signal.get_window(window, len(x), fftbins=True)
    return np.fft.rfftfreq(n_fft, d=1.0 / sr), np.fft.rfft(x * w, n=n_fft) * 2.0 / np.sum(w)


def to_db(mag: np.ndarray, ref: float = 1.0, floor_db: float = -120.0) -> np.ndarray:
    """Amplitudes in dB relative to ``ref`` (``20 log10(mag / ref)``), never below ``floor_db``.

    Used by :func:`plot_spectrum`, :func:`pick_peaks`, :func:`find_harmonics` and
    :func:`leakage_table` (``02_spectrum``).
    """
    mag = np.asarray(mag, dtype=float)
    return np.maximum(20 * np.log10(np.maximum(mag, 1e-12) / ref), floor_db)


def leakage_table(sr: float = 22_050, n_fft: int = 1024, bin=46, offsets=(0.0, 0.5), windows=("boxcar", "hann"), distances=(5, 20), floor_db: float = -120.0) -> pd.DataFrame:
    """How a window changes the spectrum of a pure tone of ``n_fft`` samples.

    For a tone at ``bin + offset`` bins (``offset`` 0: exactly on a bin; 0.5: half-way
    between two) and each window: the ``peak`` level (dB re the tone's amplitude: below 0
    when the tone falls between bins, the "scalloping loss") and the level ``d`` bins
    away from the peak (leakage), floored at ``floor_db``. ``boxcar`` is no window at all.

    Taught in ``02_spectrum``.
    """
    rows = []
    for offset in offsets:
        x = np.sin(2 * np.pi * (bin + offset) * np.arange(n_fft) / n_fft)
        for window in windows:
            _, mag = magnitude_spectrum(x, sr, window=window)
            row = {"tone (bins)": bin + offset, "tone (Hz)": round(float(bin_frequency(bin + offset, sr, n_fft)), 2), "window": window}
            row["peak (dB)"] = round(float(to_db(mag.max(), floor_db=floor_db)), 2) + 0.0  # + 0.0: no "-0.0"
            for d in distances:
                row[f"{d} bins away (dB)"] = round(float(to_db(mag[bin + d] / mag.max(), floor_db=floor_db)), 1) + 0.0
            rows.append(row)
    return pd.DataFrame(rows)


def peak_frequency(x: np.ndarray, sr: float, window: str = "hann") -> float:
    """The frequency (Hz) of the strongest bin of ``x``'s spectrum (DC excluded).

    Resolution ``sr / len(x)``: a 1-second signal is measured to 1 Hz.

    Used by ``01_sound_and_sampling`` (directly and through :func:`alias_table`) to measure
    the frequency an aliased tone is heard at; the spectrum itself is the subject of
    ``02_spectrum``.
    """
    freqs, mag = magnitude_spectrum(x, sr, window=window)
    return float(freqs[1 + np.argmax(mag[1:])])


def alias_table(pairs, duration: float = 1.0) -> pd.DataFrame:
    """For each (tone Hz, sample rate Hz): the alias by formula and the peak of the sampled spectrum.

    Each tone is sampled for ``duration`` s (resolution ``1 / duration`` Hz) and the strongest
    frequency of the samples is measured with :func:`peak_frequency`: the two columns must
    agree. Taught in ``01_sound_and_sampling``.
    """
    rows = []
    for freq, rate in pairs:
        _, x = signals.sample_tone(freq, rate, duration)
        rows.append(
            {
                "tone (Hz)": freq,
                "sample rate (Hz)": rate,
                "Nyquist (Hz)": signals.nyquist(rate),
                "above Nyquist": "yes" if freq > signals.nyquist(rate) else "no",
                "alias by formula (Hz)": signals.alias_frequency(freq, rate),
                "FFT peak (Hz)": peak_frequency(x, rate),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Peaks, resynthesis and harmonics
# --------------------------------------------------------------------------------------
def pick_peaks(
    x: np.ndarray,
    sr: float,
    n_fft: int | None = None,
    window: str = "hann",
    min_db: float = -40.0,
    min_distance_hz: float = 20.0,
    max_peaks: int | None = None,
) -> pd.DataFrame:
    """The spectral peaks of ``x``: frequency (Hz), amplitude, level (dB re the strongest), phase.

    Peaks are local maxima of :func:`magnitude_spectrum` found by ``scipy.signal.find_peaks``,
    at most ``min_db`` below the strongest and at least ``min_distance_hz`` apart; sorted by
    frequency (the ``max_peaks`` strongest, where given). The phase (rad) is that of a cosine,
    as :func:`resynthesize` uses it. Taught in ``02_spectrum``.
    """
    freqs, X = complex_spectrum(x, sr, n_fft=n_fft, window=window)
    mag = np.abs(X)
    ref = mag.max()
    distance = max(1, int(round(min_distance_hz / (freqs[1] - freqs[0]))))
    idx, _ = scipy.signal.find_peaks(mag, height=ref * 10 ** (min_db / 20), distance=distance)
    if max_peaks is not None and len(idx) > max_peaks:
        idx = np.sort(idx[np.argsort(mag[idx])[::-1][:max_peaks]])
    return pd.DataFrame(
        {
            "frequency (Hz)": freqs[idx],
            "amplitude": mag[idx],
            "level (dB)": to_db(mag[idx], ref=ref),
            "phase (rad)": np.angle(X[idx]),
        }
    )


def resynthesize(peaks: pd.DataFrame, duration: float, sr: float) -> np.ndarray:
    """The signal ``sum_k A_k cos(2 pi f_k t + phi_k)`` of a :func:`pick_peaks` table.

    Taught in ``02_spectrum``.
    """
    n = int(round(duration * sr))
    y = np.zeros(n)
    for f, a, p in peaks[["frequency (Hz)", "amplitude", "phase (rad)"]].itertuples(index=False):
        y += a * librosa.tone(f, sr=sr, length=n, phi=p)
    return y


def find_harmonics(freqs: np.ndarray, mag: np.ndarray, f0: float, n_harmonics: int = 10, tolerance: float = 0.25) -> pd.DataFrame:
    """The strongest bin near each multiple of the fundamental, for k = 1 .. ``n_harmonics``.

    The search for harmonic k looks within ``tolerance * f0`` of ``k * f0'``, where ``f0'`` is
    ``f0`` refined by the harmonics found so far (the mean of ``found_j / j`` over the real
    peaks): a small error in ``f0`` (pyin works to 0.1 semitone) grows k-fold at harmonic k.
    Columns: ``harmonic`` (k), ``expected (Hz)`` (k f0), ``found (Hz)``, ``amplitude``, ``is peak``
    (whether the found bin is a local maximum, i.e. a real harmonic and not the slope of a
    neighbour) and ``level (dB)`` (re the strongest harmonic). Harmonics above the highest
    frequency of ``freqs`` are left out. Taught in ``02_spectrum``.
    """
    freqs = np.asarray(freqs)
    mag = np.asarray(mag)
    rows = []
    estimates = []
    for k in range(1, n_harmonics + 1):
        f0_now = np.mean(estimates) if estimates else f0
        target = k * f0_now
        sel = np.flatnonzero(np.abs(freqs - target) <= tolerance * f0)
        if target > freqs[-1] or len(sel) == 0:
            break
        i = sel[np.argmax(mag[sel])]
        is_peak = bool(0 < i < len(mag) - 1 and mag[i] > mag[i - 1] and mag[i] >= mag[i + 1])
        if is_peak:
            estimates.append(freqs[i] / k)
        rows.append({"harmonic": k, "expected (Hz)": k * f0, "found (Hz)": freqs[i], "amplitude": mag[i], "is peak": is_peak})
    table = pd.DataFrame(rows, columns=["harmonic", "expected (Hz)", "found (Hz)", "amplitude", "is peak"])
    table["level (dB)"] = to_db(table["amplitude"].to_numpy(dtype=float), ref=table["amplitude"].max()) if len(table) else []
    return table


def harmonic_f0(harmonics: pd.DataFrame) -> float:
    """The fundamental implied by the found harmonics: the least-squares slope of found (Hz) against k.

    Only real peaks count; NaN when there is none.

    Taught in ``02_spectrum``.
    """
    real = harmonics[harmonics["is peak"]]
    if real.empty:
        return float("nan")
    k = real["harmonic"].to_numpy(dtype=float)
    return float(np.sum(k * real["found (Hz)"].to_numpy(dtype=float)) / np.sum(k * k))


# --------------------------------------------------------------------------------------
# The fundamental frequency
# --------------------------------------------------------------------------------------
@dataclass
class F0Track:
    """The result of :func:`track_f0`: one value per frame.

    ``times`` (s, frame centres), ``f0`` (Hz, NaN where unvoiced), ``voiced`` (bool) and
    ``voiced_prob`` (pyin's probability that the frame is voiced); ``hop_length`` (samples)
    and ``sr`` (Hz) describe the frames.

    Taught in ``02_spectrum``.
    """

    times: np.ndarray
    f0: np.ndarray
    voiced: np.ndarray
    voiced_prob: np.ndarray
    sr: float
    hop_length: int

    def frame_of(self, time: float) -> int:
        """The index of the frame whose centre is nearest to ``time`` (s)."""
        return int(np.argmin(np.abs(self.times - time)))


def track_f0(
    y: np.ndarray,
    sr: float,
    fmin: float = SPEECH_FMIN,
    fmax: float = SPEECH_FMAX,
    frame_length: int = 2048,
    hop_length: int = 512,
    gate_db: float | None = 40.0,
) -> F0Track:
    """Track the fundamental frequency with probabilistic YIN (``librosa.pyin``).

    pyin tries every candidate period between ``1/fmax`` and ``1/fmin`` in each frame of
    ``frame_length`` samples (it needs two periods of ``fmin``: 2048 samples at 22,050 Hz
    cover 93 ms) and lets a hidden Markov model choose a smooth path and decide voiced or
    not. On real recordings pyin may call the low hum of a silent tail "voiced" at ``fmin``;
    ``gate_db`` marks every frame more than ``gate_db`` dB below the clip's loudest frame
    unvoiced (``None``: no gate). Taught in ``02_spectrum``; ``05_eda`` measures every clip's pitch
    with it (:func:`course_utils.sound.eda.clip_acoustics`, no gate: the clip's silence is trimmed first).
    """
    with warnings.catch_warnings():  # pyin warns on frames with no trough; they come out unvoiced
        warnings.simplefilter("ignore", RuntimeWarning)
        f0, voiced, prob = librosa.pyin(y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame_length, hop_length=hop_length)
    if gate_db is not None:
        rms = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop_length)[0][: len(f0)]
        loud = librosa.amplitude_to_db(rms, ref=np.max) > -gate_db
        voiced = voiced & loud
    f0 = np.where(voiced, f0, np.nan)
    times = librosa.times_like(f0, sr=sr, hop_length=hop_length)
    return F0Track(times=times, f0=f0, voiced=voiced, voiced_prob=prob, sr=sr, hop_length=hop_length)


def at_search_edge(f0, fmin: float = SPEECH_FMIN, fmax: float = SPEECH_FMAX, tolerance_st: float = SEARCH_EDGE_ST):
    """True where an f0 value (Hz) lies within ``tolerance_st`` semitones of the edge of the
    search range, ``fmin`` or ``fmax``: there the tracker ran into the limit it was given, so
    the value is an artefact of the search (a hum, creak, an octave error), not a measurement of
    the voice. NaN gives False. Numbers, arrays and pandas objects alike.

    Taught in ``02_spectrum`` and ``05_eda``.
    """
    f = np.asarray(f0, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        near = (np.abs(12.0 * np.log2(f / fmin)) <= tolerance_st) | (np.abs(12.0 * np.log2(f / fmax)) <= tolerance_st)
    near = near & np.isfinite(f)
    if isinstance(f0, pd.Series):
        return pd.Series(near, index=f0.index, name=f0.name)
    return near if near.ndim else bool(near)


def semitones(f_from, f_to):
    """The distance from ``f_from`` to ``f_to`` in semitones: ``12 log2(f_to / f_from)``.

    An octave (double the frequency) is 12 semitones, whatever the starting pitch: the ear
    hears ratios, not differences, which is why pitch ranges of voices are compared in
    semitones.

    Taught in ``02_spectrum``; ``10_augmentation`` measures pitch shifts with it, and ``05_eda``
    uses it through :func:`course_utils.sound.eda.semitones`.
    """
    return 12.0 * np.log2(np.divide(f_to, f_from))  # numbers, arrays and pandas objects alike


def f0_stats(track: F0Track, low: float = 5.0, high: float = 95.0) -> dict:
    """Summary of the voiced frames of a :class:`F0Track` (see :func:`values_stats`).

    Adds ``voiced fraction``: the share of all frames that are voiced.

    Taught in ``02_spectrum``.
    """
    return {**values_stats(track.f0[track.voiced], low, high), "voiced fraction": float(np.mean(track.voiced))}


def values_stats(f0: np.ndarray, low: float = 5.0, high: float = 95.0) -> dict:
    """``median (Hz)``, the ``low``-th and ``high``-th percentiles (a range that ignores the odd
    octave error), that range in ``semitones`` and the number of ``voiced frames``.

    ``f0`` holds the f0 values (Hz) of voiced frames; NaNs are ignored. All NaN (and 0 frames)
    when there is none.

    Used by :func:`f0_stats` and :func:`f0_summary` (``02_spectrum``).
    """
    v = np.asarray(f0, dtype=float)
    v = v[np.isfinite(v)]
    keys = ("median (Hz)", f"p{low:g} (Hz)", f"p{high:g} (Hz)", "range (semitones)")
    if len(v) == 0:
        return {**{k: float("nan") for k in keys}, "voiced frames": 0}
    lo, hi = np.percentile(v, [low, high])
    return dict(zip(keys, (float(np.median(v)), float(lo), float(hi), float(semitones(lo, hi))))) | {"voiced frames": int(len(v))}


#: :func:`f0_summary` shows a progress bar (by default) from this many files on.
PROGRESS_MIN_FILES = 10


def f0_summary(paths, groups=None, sr: int = audio.COURSE_SR, *, progress: bool | None = None,
               **track_kwargs) -> pd.DataFrame:
    """Track f0 in every file of ``paths`` and summarise the voiced frames of each group.

    ``groups`` (one label per path, e.g. the actor; default: the file name) decides which
    files are pooled: the statistics of :func:`values_stats` are computed over all voiced
    frames of a group's files together, with ``clips`` counting the files; ``at search edge``
    is True where the group's 5th or 95th percentile lies at the edge of the search range
    (:func:`at_search_edge`: an artefact of the tracker, not the voice's range). pyin is slow
    (it tries every candidate period in every frame). ``progress``: a bar over the files
    (:func:`course_utils.base.jupyter.progress`); ``None`` (default) shows it for
    :data:`PROGRESS_MIN_FILES` files or more only, so a call on a few clips (a second or two)
    prints nothing, e.g. in a cell whose output the tests compare. Taught in ``02_spectrum``.
    """
    paths = [Path(p) for p in paths]
    groups = [p.name for p in paths] if groups is None else list(groups)
    if len(groups) != len(paths):
        raise ValueError(f"{len(paths)} paths but {len(groups)} group labels")
    pooled: dict = {}
    show = len(paths) >= PROGRESS_MIN_FILES if progress is None else bool(progress)
    bar = jupyter.progress(zip(paths, groups), total=len(paths), desc="f0 (pyin)", unit="clip", disable=not show)
    for path, group in bar:
        y, file_sr = audio.load_audio(path, sr=sr)
        track = track_f0(y, file_sr, **track_kwargs)
        pooled.setdefault(group, []).append(track.f0[track.voiced])
    fmin, fmax = track_kwargs.get("fmin", SPEECH_FMIN), track_kwargs.get("fmax", SPEECH_FMAX)
    rows = []
    for g, v in pooled.items():
        stats = values_stats(np.concatenate(v))
        low, high = stats["p5 (Hz)"], stats["p95 (Hz)"]
        edge = bool(at_search_edge(low, fmin, fmax) or at_search_edge(high, fmin, fmax))
        rows.append({"group": g, "clips": len(v), **stats, "at search edge": edge})
    return pd.DataFrame(rows).set_index("group")


# --------------------------------------------------------------------------------------
# Frames worth a look
# --------------------------------------------------------------------------------------
def steady_voiced_frame(track: F0Track, y: np.ndarray, tolerance: float = 0.03) -> int:
    """The frame best suited to show harmonics: voiced, f0 steady, loud.

    Among voiced frames whose neighbours' f0 differs by less than ``tolerance`` (relative),
    the one with the highest RMS; raises ``ValueError`` when no frame is voiced.

    Taught in ``02_spectrum``.
    """
    f0 = track.f0
    steady = track.voiced.copy()
    steady[1:-1] &= (np.abs(f0[2:] / f0[1:-1] - 1) < tolerance) & (np.abs(f0[:-2] / f0[1:-1] - 1) < tolerance)
    steady[[0, -1]] = False
    if not steady.any():
        steady = track.voiced
    if not steady.any():
        raise ValueError("no voiced frame in this signal")
    rms = librosa.feature.rms(y=y, frame_length=2 * track.hop_length, hop_length=track.hop_length)[0]
    rms = np.pad(rms, (0, max(0, len(f0) - len(rms))))[: len(f0)]
    return int(np.argmax(np.where(steady, rms, -1.0)))


def noisy_frame(y: np.ndarray, sr: float, frame_length: int = 1024, hop_length: int = 256, within_db: float = 30.0) -> int:
    """The start sample of the noisiest loud frame (a fricative like the "s" of "Kids").

    Among frames less than ``within_db`` below the loudest, the one with the highest
    zero-crossing rate (noise crosses zero far more often than a voiced sound).

    Taught in ``02_spectrum``.
    """
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=frame_length, hop_length=hop_length, center=False)[0]
    rms = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop_length, center=False)[0]
    loud = librosa.amplitude_to_db(rms, ref=np.max) > -within_db
    return int(np.argmax(np.where(loud, zcr, -1.0))) * hop_length


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def plot_spectrum(
    freqs: np.ndarray,
    mag: np.ndarray,
    ax: plt.Axes | None = None,
    db: bool = True,
    ref: float | None = None,
    fmax: float | None = None,
    floor_db: float = -100.0,
    title: str | None = None,
    **line_kwargs,
) -> plt.Axes:
    """Draw an amplitude spectrum: frequency (Hz) against level (dB re ``ref``) or amplitude.

    ``ref`` defaults to the spectrum's maximum (0 dB = strongest bin); ``fmax`` crops the
    frequency axis.

    Taught in ``02_spectrum``.
    """
    ax = ax or plt.gca()
    if db:
        ref = ref if ref is not None else float(np.max(mag))
        ax.plot(freqs, to_db(mag, ref=ref, floor_db=floor_db), linewidth=0.9, **line_kwargs)
        ax.set_ylabel("level (dB)" if ref == 1.0 else "level (dB re strongest)")
        ax.set_ylim(bottom=floor_db)
    else:
        ax.plot(freqs, mag, linewidth=0.9, **line_kwargs)
        ax.set_ylabel("amplitude (full scale)")
        ax.set_ylim(bottom=0)
    ax.set_xlabel("frequency (Hz)")
    ax.set_xlim(0, fmax or freqs[-1])
    if title:
        ax.set_title(title)
    return ax


def mark_harmonics(ax: plt.Axes, harmonics: pd.DataFrame, ref: float | None = None, label_first: int = 6) -> plt.Axes:
    """Mark the harmonics of a :func:`find_harmonics` table on a dB spectrum.

    ``ref`` must be the reference the spectrum was drawn with (:func:`plot_spectrum`'s default
    is the spectrum's maximum; default here: the strongest harmonic). Real peaks get a
    triangle and, for the first ``label_first``, their number k; every multiple ``k f0`` of
    the given f0 gets a dotted line.

    Taught in ``02_spectrum``.
    """
    ref = ref if ref is not None else float(harmonics["amplitude"].max())
    for row in harmonics.itertuples(index=False):
        k, expected, found, amplitude, is_peak = row[:5]
        ax.axvline(expected, color="C3", linestyle=":", linewidth=0.7, alpha=0.8)
        if is_peak:
            y = float(to_db(amplitude, ref=ref))
            ax.plot([found], [y], "v", color="C3", markersize=6)
            if k <= label_first:
                ax.annotate(f"{k}", (found, y), textcoords="offset points", xytext=(0, 6), ha="center", color="C3", fontsize=8)
    return ax


def plot_time_and_frequency(examples: list[tuple[str, np.ndarray]], sr: float, ms: float = 30.0, fmax: float | None = None, floor_db: float = -80.0) -> plt.Figure:
    """One row per (title, signal): its middle ``ms`` milliseconds on the left, its spectrum right.

    The spectrum is that of the whole signal (Hann window), in dB re its strongest bin.

    Taught in ``02_spectrum``.
    """
    fig, axes = plt.subplots(len(examples), 2, figsize=(11, 2.0 * len(examples)), squeeze=False, gridspec_kw={"width_ratios": [1, 1.3]})
    for (title, x), (left, right) in zip(examples, axes):
        n = min(len(x), int(round(ms / 1000 * sr)))
        start = (len(x) - n) // 2
        t_ms = 1000 * (start + np.arange(n)) / sr
        left.plot(t_ms, x[start : start + n], linewidth=0.8)
        left.set_xlim(t_ms[0], t_ms[-1])
        left.set_ylabel("amplitude")
        left.set_title(f"{title}: time domain", fontsize=10)
        freqs, mag = magnitude_spectrum(x, sr)
        plot_spectrum(freqs, mag, ax=right, fmax=fmax, floor_db=floor_db)
        right.set_title(f"{title}: frequency domain ({1000 * len(x) / sr:.0f} ms)", fontsize=10)
    axes[-1, 0].set_xlabel("time within the signal (ms)")
    for ax in axes[:-1].flat:
        ax.set_xlabel("")
    axes[-1, 1].set_xlabel("frequency (Hz)")
    fig.tight_layout()
    return fig


def plot_f0_track(
    y: np.ndarray,
    sr: float,
    track: F0Track,
    ax: plt.Axes | None = None,
    fmax: float = 2000.0,
    n_fft: int = 2048,
    harmonics: int = 0,
    title: str | None = None,
    colorbar: bool = True,
) -> plt.Axes:
    """A linear-frequency spectrogram (dB, up to ``fmax`` Hz) with the f0 track drawn on it.

    ``harmonics`` > 1 also draws ``2 f0 ... harmonics * f0`` (thin dashed), to show that the
    bright bands of a voice are the multiples of its fundamental.

    Taught in ``02_spectrum``.
    """
    ax = ax or plt.gca()
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=track.hop_length))
    S_db = librosa.amplitude_to_db(S, ref=np.max, top_db=80)
    img = librosa.display.specshow(S_db, sr=sr, hop_length=track.hop_length, x_axis="time", y_axis="linear", ax=ax, cmap="magma")
    ax.plot(track.times, track.f0, color="cyan", linewidth=2, label="f0 (pyin)")
    for k in range(2, harmonics + 1):
        ax.plot(track.times, k * track.f0, color="cyan", linewidth=0.7, linestyle="--", label="2 f0, 3 f0, ..." if k == 2 else None)
    ax.set_ylim(0, fmax)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    if colorbar:
        plt.colorbar(img, ax=ax, format="%+2.0f dB", label="level (dB)")
    return ax


def plot_components(freqs, amplitudes, sr: float = 22_050, periods: float = 3.0, phases=None) -> plt.Figure:
    """Sinusoids (left, stacked) and their sum (right), over ``periods`` periods of the lowest.

    The picture of Fourier's idea: a complex periodic wave is a sum of simple ones.

    Taught in ``02_spectrum``.
    """
    freqs = np.asarray(freqs, dtype=float)
    amplitudes = np.broadcast_to(np.asarray(amplitudes, dtype=float), freqs.shape)
    phases = np.zeros_like(freqs) if phases is None else np.broadcast_to(np.asarray(phases, dtype=float), freqs.shape)
    duration = periods / freqs.min()
    t_ms = 1000 * np.arange(int(round(duration * sr))) / sr
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1, 1.2]})
    offset = 2.2 * amplitudes.max()
    for i, (f, a, p) in enumerate(zip(freqs, amplitudes, phases)):
        y = signals.tone(f, duration, sr, amplitude=a, phase=p)
        left.plot(t_ms, y - i * offset, linewidth=1)
        left.text(t_ms[-1] * 1.01, -i * offset, f"{f:g} Hz", va="center", fontsize=8)
    left.set_yticks([])
    left.set_xlim(0, t_ms[-1] * 1.12)
    left.set_xlabel("time (ms)")
    left.set_ylabel("components (offset for clarity)")
    left.set_title("the sinusoids")
    total = signals.sum_of_sinusoids(freqs, amplitudes, duration, sr, phases)
    right.plot(t_ms, total, color="k", linewidth=1.2)
    right.set_xlim(0, t_ms[-1])
    right.set_xlabel("time (ms)")
    right.set_ylabel("amplitude (full scale)")
    right.set_title(f"their sum: a periodic wave, period {1000 / freqs.min():.2f} ms")
    fig.tight_layout()
    return fig


def hz_log_axis(ax: plt.Axes, ticks=(50, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500, 600, 800)) -> plt.Axes:
    """Put the y axis of ``ax`` on a log scale with plain-number ticks in Hz (inside its limits).

    Used by :func:`plot_f0_contours` and :func:`plot_f0_survey` (``02_spectrum``).
    """
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_locator(plt.FixedLocator([t for t in ticks if lo <= t <= hi]))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
    return ax


def plot_f0_contours(tracks: list[tuple[str, F0Track]], ax: plt.Axes | None = None, ref_hz: float = 100.0) -> plt.Axes:
    """Several f0 tracks on one axis: frequency on a log scale (Hz, left), semitones re ``ref_hz`` (right).

    On a log axis equal distances are equal ratios, so the semitone scale on the right is
    evenly spaced.

    Taught in ``02_spectrum``.
    """
    ax = ax or plt.gca()
    for label, track in tracks:
        ax.plot(track.times, track.f0, linewidth=2, label=label)
    ax.set_yscale("log")
    voiced = np.concatenate([t.f0[t.voiced] for _, t in tracks]) if tracks else np.array([])
    if len(voiced):
        ax.set_ylim(0.85 * np.min(voiced), 1.15 * np.max(voiced))
    hz_log_axis(ax)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("f0 (Hz, log scale)")
    right = ax.twinx()
    right.set_ylim(*semitones(ref_hz, np.array(ax.get_ylim())))
    right.yaxis.set_major_locator(plt.MultipleLocator(6))
    right.set_ylabel(f"semitones re {ref_hz:g} Hz")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_f0_survey(summary: pd.DataFrame, ax: plt.Axes | None = None, low: str = "p5 (Hz)", high: str = "p95 (Hz)") -> plt.Axes:
    """Median f0 (dot) and range (bar, ``low`` to ``high``) per actor, coloured by sex.

    ``summary`` is an :func:`f0_summary` table with an integer index (actor) and a ``sex``
    column ("male"/"female"); actors whose range reaches the edge of the search range
    (column ``at search edge``) are marked with a cross.

    Taught in ``02_spectrum``.
    """
    ax = ax or plt.gca()
    for sex, colour in (("male", "C0"), ("female", "C3")):
        part = summary[summary["sex"].astype(str) == sex]
        if part.empty:
            continue
        x = part.index.to_numpy()
        ax.vlines(x, part[low], part[high], color=colour, alpha=0.5, linewidth=3)
        ax.plot(x, part["median (Hz)"], "o", color=colour, label=f"{sex}: median, {low.split()[0]}-{high.split()[0]} range")
    if "at search edge" in summary.columns and summary["at search edge"].any():
        edge = summary[summary["at search edge"].astype(bool)]
        ax.plot(edge.index.to_numpy(), edge[low], "x", color="k", markersize=8,
                label="range reaches the edge of the\nsearch range (an artefact)")
    ax.set_yscale("log")
    ax.set_ylim(0.85 * np.nanmin(summary[low]), 1.15 * np.nanmax(summary[high]))
    hz_log_axis(ax)
    ax.set_xticks(summary.index.to_numpy())
    ax.set_xlabel("actor")
    ax.set_ylabel("f0 (Hz, log scale)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return ax


def plot_leakage(sr: float = 22_050, n_fft: int = 1024, bin: int = 46, span: int = 30, windows=("boxcar", "hann")) -> plt.Figure:
    """Why windows matter, in three panels.

    Left: a frame holding a non-whole number of periods, repeated as the DFT sees it: cut off
    hard (``boxcar``) it jumps at the seam, tapered (``hann``) it does not. Middle and right:
    the spectra (dB) of a tone exactly on bin ``bin`` and of one half-way between two bins,
    ``span`` bins either side, for each window.

    Taught in ``02_spectrum``.
    """
    names = {"boxcar": "no window (rectangular)", "hann": "Hann window"}
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    n = np.arange(n_fft)
    cycles = 3.3  # few periods, so that the seam is visible; the same happens at any frequency
    x_demo = np.sin(2 * np.pi * cycles * n / n_fft)
    t2 = 1000 * np.arange(2 * n_fft) / sr
    for i, window in enumerate(windows):
        w = scipy.signal.get_window(window, n_fft, fftbins=True)
        axes[0].plot(t2, np.tile(x_demo * w, 2) - 2.6 * i, linewidth=1, color=f"C{i}", label=names.get(window, window))
    axes[0].axvline(1000 * n_fft / sr, color="k", linestyle="--", linewidth=0.8)
    axes[0].text(1000 * n_fft / sr, 1.25, " seam", fontsize=8, va="bottom")
    axes[0].set_yticks([])
    axes[0].set_ylim(-5.0, 1.9)
    axes[0].set_xlim(0, t2[-1])
    axes[0].set_xlabel("time (ms)")
    axes[0].set_ylabel("frame, repeated (offset)")
    axes[0].set_title(f"The DFT sees the frame repeated ({cycles:g} periods per frame)", fontsize=10)
    axes[0].legend(loc="lower center", ncol=2, fontsize=8)
    for ax, offset in zip(axes[1:], (0.0, 0.5)):
        x = np.sin(2 * np.pi * (bin + offset) * n / n_fft)
        for i, window in enumerate(windows):
            freqs, mag = magnitude_spectrum(x, sr, window=window)
            ax.plot(freqs, to_db(mag, floor_db=-120), color=f"C{i}", marker=".", markersize=3, linewidth=0.9, label=names.get(window, window))
        f_tone = bin_frequency(bin + offset, sr, n_fft)
        ax.axvline(f_tone, color="0.6", linestyle=":", linewidth=0.8)
        ax.set_xlim(bin_frequency(bin - span, sr, n_fft), bin_frequency(bin + span, sr, n_fft))
        ax.set_ylim(-125, 8)
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("level (dB re the tone's amplitude)")
        where = "exactly on a bin" if offset == 0 else "half-way between two bins"
        ax.set_title(f"{f_tone:.1f} Hz: {where}", fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig
