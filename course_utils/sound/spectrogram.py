"""The short-time Fourier transform and the spectrogram, for teaching.

Taught in ``03_spectrogram``. ``14_raw_waveform`` measures with :func:`band_energy_share` what
resampling to a lower rate throws away, and ``04_mel_scale``'s voice summary
(:func:`course_utils.sound.mel.spectral_summary`) takes its share of energy above 4 kHz from
:func:`energy_share_above`.

The idea: speech changes every few milliseconds, so one spectrum of a whole clip blurs its
sounds together. The STFT cuts the signal into short, overlapping frames, multiplies each by a
window and takes the spectrum of each; side by side, one column per frame, the spectra form the
spectrogram, a picture of frequency against time. For frame :math:`m`, hop :math:`H` and a
window :math:`w` of :math:`N` samples,

.. math:: X[m, k] = \\sum_{n=0}^{N-1} x[n + mH]\\, w[n]\\, e^{-2\\pi i k n / N}, \\qquad k = 0, \\dots, N/2.

A window of :math:`N` samples at :math:`sr` Hz lasts :math:`N / sr` s, and its bins lie
:math:`sr / N` Hz apart: a longer window resolves frequency more finely and time more coarsely.
No window does both; that is the time/frequency trade-off.

The STFT itself is :func:`librosa.stft`; this module wraps it and adds what a chapter about
it needs: a tiny explicit frame-by-frame version (:func:`stft_by_hand`, checked against
librosa in the tests), the time and frequency resolution of a window (:func:`resolution`),
test signals that make the time/frequency trade-off visible (:func:`tones_and_clicks`,
:func:`chirp`), a rough silence / voiced / noise labelling of speech frames
(:func:`speech_regions`), and the figures of the chapter.

=============================================  ================================================
helper                                         what it does
=============================================  ================================================
:func:`stft_by_hand`                           the STFT frame by frame, as the formula says
:func:`stft_db`                                magnitude spectrogram in dB (``librosa.stft``)
:func:`resolution` / :func:`resolution_table`  window and hop in ms, bin spacing in Hz
:func:`tones_and_clicks` / :func:`chirp`       test signals for the trade-off
:func:`resolves`                               does a setting show two tones and two clicks?
:func:`frame_levels_db`                        each frame's energy, dB re the loudest frame
:func:`speech_regions`                         silence / voiced / noise regions of speech;
                                               :func:`region_time` a moment of one kind
:func:`regions_table`                          seconds of each kind per clip, and how much of
                                               their energy lies high (:func:`region_summary`)
:func:`energy_share_above`                     share of the energy above a cut-off;
                                               :func:`band_energy_share` of a signal
:func:`cepstral_envelope`                      the smooth envelope (formants) of a spectrum
=============================================  ================================================

Plotting helpers: :func:`plot_spectrogram`, :func:`plot_stft_steps`, :func:`plot_tradeoff`,
:func:`plot_linear_vs_db`, :func:`plot_regions`, :func:`plot_frame_spectra`, and
:func:`explorer` (sliders for the window and the hop).

Conventions (as in librosa): ``n_fft`` is the window length in samples, ``hop_length`` the
step between frames; frames are centred (frame ``m`` is centred at sample ``m * hop_length``,
the signal padded with ``n_fft // 2`` zeros on both sides); the window is a periodic Hann.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import librosa
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.ndimage
import scipy.signal
from IPython.display import Image, display

from course_utils.base import jupyter
from course_utils.data import audio

#: Colours of the region labels of :func:`speech_regions`.
REGION_COLOURS = {"silence": "0.55", "voiced": "tab:green", "noise": "tab:orange"}


# --------------------------------------------------------------------------------------
# The transform
# --------------------------------------------------------------------------------------
def stft_by_hand(y: np.ndarray, n_fft: int = 1024, hop_length: int = 256, window: str = "hann") -> np.ndarray:
    """The STFT written out frame by frame (for reading, not for use): complex ``(1 + n_fft // 2, frames)``.

    For every frame ``m``: take ``n_fft`` samples starting at ``m * hop_length`` of the
    zero-padded signal, multiply them by the window, and keep the first ``1 + n_fft // 2``
    values of their discrete Fourier transform (the rest mirror them for a real signal).
    Equals ``librosa.stft(y, n_fft=n_fft, hop_length=hop_length, window=window)`` up to
    rounding; use that one in practice: it is the same computation, vectorised.

    Taught in ``03_spectrogram``, which draws its steps with :func:`plot_stft_steps`.
    """
    y = np.asarray(y, dtype=np.float64)
    w = scipy.signal.get_window(window, n_fft, fftbins=True)  # periodic, as librosa uses
    padded = np.pad(y, n_fft // 2)  # centred frames: frame m is centred at sample m * hop
    n_frames = 1 + (len(padded) - n_fft) // hop_length
    X = np.empty((1 + n_fft // 2, n_frames), dtype=np.complex128)
    for m in range(n_frames):
        frame = padded[m * hop_length : m * hop_length + n_fft]
        X[:, m] = np.fft.rfft(frame * w)
    return X


def stft_db(
    y: np.ndarray,
    n_fft: int = 1024,
    hop_length: int = 256,
    window: str = "hann",
    ref=np.max,
    top_db: float | None = 80.0,
) -> np.ndarray:
    """Magnitude spectrogram in dB: ``librosa.amplitude_to_db(|librosa.stft(y)|, ref=ref, top_db=top_db)``.

    With ``ref=np.max`` (default) 0 dB is the loudest bin of this signal and everything
    else is negative; ``top_db`` cuts the floor that far below the maximum (``None``: no cut).
    Shape ``(1 + n_fft // 2, frames)``.

    Taught in ``03_spectrogram``.
    """
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length, window=window))
    return librosa.amplitude_to_db(S, ref=ref, top_db=top_db)


@dataclass(frozen=True)
class Resolution:
    """Time and frequency resolution of one STFT setting: what :func:`resolution` returns
    (``03_spectrogram``)."""

    n_fft: int
    hop_length: int
    window_ms: float
    hop_ms: float
    bin_hz: float
    frames_per_s: float


def resolution(sr: int, n_fft: int, hop_length: int | None = None) -> Resolution:
    """Window length and hop in ms, and the spacing of the frequency bins in Hz (``sr / n_fft``).

    ``hop_length=None`` means ``n_fft // 4`` (librosa's default).

    Taught in ``03_spectrogram``.
    """
    hop_length = n_fft // 4 if hop_length is None else hop_length
    return Resolution(
        n_fft=n_fft,
        hop_length=hop_length,
        window_ms=1000.0 * n_fft / sr,
        hop_ms=1000.0 * hop_length / sr,
        bin_hz=sr / n_fft,
        frames_per_s=sr / hop_length,
    )


def resolution_table(sr: int, n_ffts=(256, 512, 1024, 2048, 4096), hop_fraction: float = 0.25) -> pd.DataFrame:
    """One row per window length: window and hop in samples and ms, bin spacing in Hz, frames per second.

    Taught in ``03_spectrogram``.
    """
    rows = []
    for n in n_ffts:
        r = resolution(sr, n, max(1, int(round(n * hop_fraction))))
        rows.append(
            {
                "n_fft (samples)": r.n_fft,
                "window (ms)": round(r.window_ms, 1),
                "hop (samples)": r.hop_length,
                "hop (ms)": round(r.hop_ms, 1),
                "bin spacing (Hz)": round(r.bin_hz, 1),
                "frames per second": round(r.frames_per_s, 1),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Test signals and what a window can resolve
# --------------------------------------------------------------------------------------
def tones_and_clicks(
    sr: int = 22050,
    duration: float = 1.0,
    freqs: tuple[float, float] = (1000.0, 1080.0),
    click_times: tuple[float, float] = (0.5, 0.52),
    tone_amp: float = 0.2,
    click_amp: float = 0.8,
) -> np.ndarray:
    """Two steady tones close in frequency plus two clicks close in time (float32).

    The tones need a long window to be seen apart, the clicks a short one: no single
    window shows both (the time/frequency trade-off).

    Taught in ``03_spectrogram``.
    """
    t = np.arange(int(round(duration * sr))) / sr
    y = sum(tone_amp * np.sin(2 * np.pi * f * t) for f in freqs)
    for c in click_times:
        y[int(round(c * sr))] += click_amp
    return y.astype(np.float32)


def chirp(sr: int = 22050, duration: float = 0.5, f0: float = 500.0, f1: float = 4500.0, amp: float = 0.5) -> np.ndarray:
    """A linear sweep from ``f0`` to ``f1`` Hz (``scipy.signal.chirp``), faded in and out (float32).

    Taught in ``03_spectrogram``.
    """
    t = np.arange(int(round(duration * sr))) / sr
    y = amp * scipy.signal.chirp(t, f0=f0, t1=duration, f1=f1, method="linear")
    fade = min(len(y) // 10, int(0.01 * sr))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
    return y.astype(np.float32)


def _count_peaks(x: np.ndarray, prominence_db: float) -> int:
    """Peaks of a dB curve that stand at least ``prominence_db`` above the dip between them."""
    peaks, _ = scipy.signal.find_peaks(np.concatenate([[-np.inf], x, [-np.inf]]), prominence=prominence_db)
    return len(peaks)


def resolves(
    y: np.ndarray,
    sr: int,
    n_fft: int,
    hop_length: int,
    freqs: tuple[float, float] = (1000.0, 1080.0),
    click_times: tuple[float, float] = (0.5, 0.52),
    prominence_db: float = 3.0,
) -> dict:
    """Does this STFT setting show the two tones as two peaks, and the two clicks as two events?

    Tones: the time-averaged spectrum (dB) between the two tone frequencies +- 100 Hz must
    hold two peaks at least ``prominence_db`` high. Clicks: the level above 3 kHz (where the
    tones have no energy), frame by frame around the clicks, must hold two such peaks.
    Returns ``{"tones": bool, "clicks": bool}``.

    Taught in ``03_spectrogram``.
    """
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    f = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    t = librosa.frames_to_time(np.arange(S.shape[1]), sr=sr, hop_length=hop_length)
    band = (f >= min(freqs) - 100) & (f <= max(freqs) + 100)
    spectrum_db = 10 * np.log10(S[band].mean(axis=1) + 1e-12)
    span = (t >= min(click_times) - 0.05) & (t <= max(click_times) + 0.05)
    level_db = 10 * np.log10(S[f >= 3000][:, span].sum(axis=0) + 1e-12)
    return {
        "tones": _count_peaks(spectrum_db, prominence_db) >= 2,
        "clicks": _count_peaks(level_db, prominence_db) >= 2,
    }


# --------------------------------------------------------------------------------------
# Speech: silence, voiced, noise
# --------------------------------------------------------------------------------------
def frame_levels_db(y: np.ndarray, sr: int, n_fft: int = 1024, hop_length: int = 256) -> np.ndarray:
    """Energy of every STFT frame in dB relative to the loudest frame (0 dB = loudest, all others negative).

    Taught in ``03_spectrogram``; :func:`region_time` and :func:`region_summary` use it.
    """
    e = (np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2).sum(axis=0)
    return 10 * np.log10(np.maximum(e, 1e-20) / max(e.max(), 1e-20))


def speech_regions(
    y: np.ndarray,
    sr: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    silence_db: float = -40.0,
    cutoff_hz: float = 3000.0,
    noise_share: float = 0.5,
    min_frames: int = 5,
) -> pd.DataFrame:
    """A rough labelling of a speech clip into *silence*, *voiced* and *noise* (frication) regions.

    Frame by frame (power spectrogram, ``n_fft`` / ``hop_length``):

    - **silence**: the frame's energy is more than ``-silence_db`` dB below the loudest
      frame, or less than 10 dB above the recording's noise floor (its 10 % quietest frame);
    - **noise**: otherwise, when more than ``noise_share`` of the frame's energy lies above
      ``cutoff_hz`` (fricatives such as /s/, /z/, /f/, bursts of /t/, /k/);
    - **voiced**: the rest (vowels and voiced consonants: energy in low harmonics).

    Labels are smoothed by a median filter over ``min_frames`` frames. This is a teaching
    aid with fixed thresholds, not a phonetic segmentation: a voiced fricative such as /z/
    may be labelled voiced or noise. Returns one row per region: ``label``, ``start`` and
    ``end`` (s), ``duration`` (s), ``hf_share`` (mean share of energy above the cutoff).

    Taught in ``03_spectrogram``.
    """
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    f = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    energy = S.sum(axis=0) + 1e-20
    level = 10 * np.log10(energy / energy.max())
    floor = np.percentile(level, 10)
    threshold = max(silence_db, floor + 10.0)
    hf = S[f >= cutoff_hz].sum(axis=0) / energy
    codes = np.where(level < threshold, 0, np.where(hf > noise_share, 2, 1))
    if min_frames > 1:
        codes = scipy.ndimage.median_filter(codes, size=min_frames, mode="nearest")
    names = ("silence", "voiced", "noise")
    rows = []
    start = 0
    for i in range(1, len(codes) + 1):
        if i == len(codes) or codes[i] != codes[start]:
            t0 = librosa.frames_to_time(start, sr=sr, hop_length=hop_length)
            t1 = min(librosa.frames_to_time(i, sr=sr, hop_length=hop_length), len(y) / sr)
            rows.append(
                {
                    "label": names[codes[start]],
                    "start": float(t0),
                    "end": float(t1),
                    "duration": float(t1 - t0),
                    "hf_share": float(hf[start:i].mean()),
                }
            )
            start = i
    return pd.DataFrame(rows, columns=["label", "start", "end", "duration", "hf_share"])


def region_time(y: np.ndarray, sr: int, regions: pd.DataFrame, label: str, how: str = "loudest",
                n_fft: int = 1024, hop_length: int = 256):
    """A representative moment (s) of the regions labelled ``label``, or ``None`` if there are none.

    ``how="loudest"``: the loudest frame inside those regions (for *voiced*, usually the
    middle of a stressed vowel); ``how="middle"``: the middle of the longest such region
    (for *silence*, a moment far from any speech).

    Taught in ``03_spectrogram``.
    """
    part = regions[regions["label"] == label]
    if part.empty:
        return None
    if how == "middle":
        row = part.loc[part["duration"].idxmax()]
        return float((row.start + row.end) / 2)
    if how != "loudest":
        raise ValueError(f"how must be 'loudest' or 'middle', got {how!r}")
    levels = frame_levels_db(y, sr, n_fft, hop_length)
    t = librosa.frames_to_time(np.arange(len(levels)), sr=sr, hop_length=hop_length)
    inside = np.zeros(len(levels), dtype=bool)
    for row in part.itertuples():
        inside |= (t >= row.start) & (t < row.end)
    if not inside.any():  # regions shorter than a hop
        return float((part["start"].iloc[0] + part["end"].iloc[0]) / 2)
    return float(t[np.flatnonzero(inside)[np.argmax(levels[inside])]])


def region_summary(y: np.ndarray, sr: int, **kwargs) -> dict:
    """Seconds of silence, voiced and noise (:func:`speech_regions`) in one clip, the mean
    share of energy above the cutoff in voiced and in noise regions (duration-weighted, NaN
    where a clip has none) and the clip's noise floor (its 10 % quietest frame, dB re. the loudest).

    Used by :func:`regions_table` (``03_spectrogram``).
    """
    regions = speech_regions(y, sr, **kwargs)
    out = {}
    for label in REGION_COLOURS:
        part = regions[regions["label"] == label]
        out[f"{label}_s"] = float(part["duration"].sum())
        if label != "silence":
            w = part["duration"].to_numpy()
            out[f"{label}_hf_share"] = float(np.average(part["hf_share"], weights=w)) if w.sum() > 0 else float("nan")
    out["floor_db"] = float(np.percentile(frame_levels_db(y, sr), 10))
    return out


def regions_table(meta: pd.DataFrame, progress: bool = True) -> pd.DataFrame:
    """:func:`region_summary` of every clip of ``meta`` (column ``path``), with its statement and actor.

    ``progress``: a bar over the clips (:func:`course_utils.base.jupyter.progress`).

    Taught in ``03_spectrogram``.
    """
    rows = []
    clips = jupyter.progress(meta.itertuples(), total=len(meta), desc="speech regions", unit="clip",
                                 disable=not progress)
    for row in clips:
        y, sr = audio.load_audio(row.path)
        rows.append({"filename": row.filename, "actor": row.actor, "statement": row.statement, **region_summary(y, sr)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Energy above a cut-off
# --------------------------------------------------------------------------------------
def energy_share_above(S: np.ndarray, freqs: np.ndarray, cutoff_hz: float) -> float:
    """Share (0 to 1) of the energy of a power spectrogram ``S`` (frequency bins x frames, bin
    frequencies ``freqs`` in Hz) that lies in the bins at or above ``cutoff_hz``; 0 for silence.

    Used by ``04_mel_scale``'s voice summary (:func:`course_utils.sound.mel.spectral_summary`)
    and by :func:`band_energy_share` (``14_raw_waveform``). The idea is that of
    ``03_spectrogram``, where :func:`speech_regions` measures the same share frame by frame to
    tell noise from voiced speech.
    """
    total = S.sum()
    return float(S[np.asarray(freqs) >= cutoff_hz].sum() / total) if total > 0 else 0.0


def band_energy_share(y: np.ndarray, sr: int, cutoff_hz: float = 4000.0, n_fft: int = 2048, hop_length: int = 512) -> float:
    """Share (0 to 1) of a signal's spectral energy at or above ``cutoff_hz`` (its power
    spectrogram, summed over time: :func:`energy_share_above`).

    Used by ``14_raw_waveform``, which measures with it what resampling to ``2 * cutoff_hz``
    throws away; the idea of ``03_spectrogram`` (energy above a cut-off).
    """
    S = np.abs(librosa.stft(np.asarray(y, dtype=np.float32), n_fft=n_fft, hop_length=hop_length)) ** 2
    return energy_share_above(S, librosa.fft_frequencies(sr=sr, n_fft=n_fft), cutoff_hz)


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def plot_spectrogram(
    S_db: np.ndarray,
    sr: int,
    hop_length: int,
    ax: plt.Axes | None = None,
    title: str | None = None,
    fmax: float | None = None,
    colorbar: bool = True,
    vmin: float | None = None,
):
    """Draw a dB spectrogram (linear frequency axis in Hz, time in s) with a colour bar in dB.

    ``fmax`` limits the frequency axis; ``vmin`` fixes the bottom of the colour scale.
    Returns the image (for a shared colour bar).

    Taught in ``03_spectrogram``.
    """
    ax = ax or plt.gca()
    n_fft = 2 * (S_db.shape[0] - 1)
    times = librosa.frames_to_time(np.arange(S_db.shape[1] + 1), sr=sr, hop_length=hop_length) - 0.5 * hop_length / sr
    freqs = np.arange(S_db.shape[0] + 1) * sr / n_fft - 0.5 * sr / n_fft
    img = ax.pcolormesh(times, freqs, S_db, cmap="magma", shading="flat", vmin=vmin, rasterized=True)
    ax.set_xlim(max(times[0], 0.0), times[-1])
    ax.set_ylim(0, fmax or sr / 2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    if title:
        ax.set_title(title)
    if colorbar:
        plt.colorbar(img, ax=ax, format="%+.0f dB", label="level (dB re. max)")
    return img


def plot_stft_steps(
    y: np.ndarray,
    sr: int,
    n_fft: int = 1024,
    hop_length: int = 512,
    first_frame: int = 6,
    n_shown: int = 4,
    fmax: float = 6000.0,
) -> plt.Figure:
    """The STFT as a picture, in four rows.

    1. the signal with ``n_shown`` consecutive, overlapping windows drawn on it;
    2. each of those frames after multiplying it by the window;
    3. each frame's magnitude spectrum (dB);
    4. all spectra side by side: the spectrogram, with the shown frames outlined.

    Taught in ``03_spectrogram``.
    """
    colours = plt.cm.tab10(np.arange(n_shown))
    X = stft_by_hand(y, n_fft=n_fft, hop_length=hop_length)
    S_db = librosa.amplitude_to_db(np.abs(X), ref=np.max, top_db=80)
    padded = np.pad(np.asarray(y, dtype=np.float64), n_fft // 2)
    w = scipy.signal.get_window("hann", n_fft, fftbins=True)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)

    fig = plt.figure(figsize=(12, 10))
    grid = fig.add_gridspec(4, n_shown, height_ratios=[1.1, 1, 1, 1.5], hspace=0.75, wspace=0.3)
    ax = fig.add_subplot(grid[0, :])
    t = np.arange(len(y)) / sr
    ax.plot(t, y, color="0.4", linewidth=0.5)
    peak = np.abs(y).max() or 1.0
    for i, c in zip(range(first_frame, first_frame + n_shown), colours):
        start = (i * hop_length - n_fft // 2) / sr  # in the unpadded signal's time
        tw = start + np.arange(n_fft) / sr
        ax.plot(tw, peak * w, color=c, linewidth=1.6, label=f"frame {i}")
    ax.set_xlim(0, len(y) / sr)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    ax.set_title(f"1. The signal and {n_shown} overlapping Hann windows ({n_fft} samples = {1000 * n_fft / sr:.0f} ms, "
                 f"hop {hop_length} = {1000 * hop_length / sr:.0f} ms)")
    ax.legend(loc="upper right", ncol=n_shown, fontsize=8)

    for j, (i, c) in enumerate(zip(range(first_frame, first_frame + n_shown), colours)):
        frame = padded[i * hop_length : i * hop_length + n_fft] * w
        ax = fig.add_subplot(grid[1, j])
        ax.plot(1000 * np.arange(n_fft) / sr, frame, color=c, linewidth=0.6)
        ax.set_xlabel("time in frame (ms)")
        ax.set_ylabel("amplitude" if j == 0 else "")
        ax.set_title(f"2. frame {i} x window", fontsize=10)
        ax = fig.add_subplot(grid[2, j])
        ax.plot(freqs, S_db[:, i], color=c, linewidth=0.8)
        ax.set_xlim(0, fmax)
        ax.set_ylim(-80, 3)
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("level (dB)" if j == 0 else "")
        ax.set_title(f"3. |DFT| of frame {i}", fontsize=10)

    ax = fig.add_subplot(grid[3, :])
    plot_spectrogram(S_db, sr, hop_length, ax=ax, fmax=fmax,
                     title="4. All frames' spectra side by side, one column each: the spectrogram")
    for i, c in zip(range(first_frame, first_frame + n_shown), colours):
        tc = i * hop_length / sr
        half = 0.5 * hop_length / sr
        ax.add_patch(plt.Rectangle((tc - half, 0), 2 * half, fmax, fill=False, edgecolor=c, linewidth=1.8))
    return fig


def plot_tradeoff(y: np.ndarray, sr: int, n_ffts=(256, 1024, 4096), hop_fraction: float = 0.25,
                  fmax: float | None = None, tlim: tuple[float, float] | None = None,
                  flim: tuple[float, float] | None = None) -> plt.Figure:
    """The same signal under several window lengths, side by side (dB, one colour scale).

    ``tlim`` (s) and ``flim`` (Hz) zoom into a part of the picture.

    Taught in ``03_spectrogram``.
    """
    fig, axes = plt.subplots(1, len(n_ffts), figsize=(4.2 * len(n_ffts), 3.6), sharey=True, constrained_layout=True)
    img = None
    for ax, n in zip(np.atleast_1d(axes), n_ffts):
        hop = max(1, int(n * hop_fraction))
        r = resolution(sr, n, hop)
        img = plot_spectrogram(stft_db(y, n, hop), sr, hop, ax=ax, fmax=fmax, colorbar=False, vmin=-80,
                               title=f"n_fft={n}: {r.window_ms:.0f} ms, {r.bin_hz:.1f} Hz")
        if tlim:
            ax.set_xlim(*tlim)
        if flim:
            ax.set_ylim(*flim)
        if ax is not np.atleast_1d(axes)[0]:
            ax.set_ylabel("")
    fig.colorbar(img, ax=axes, format="%+.0f dB", label="level (dB re. max)")
    return fig


def plot_linear_vs_db(y: np.ndarray, sr: int, n_fft: int = 1024, hop_length: int = 256, fmax: float | None = None,
                      title: str = "") -> plt.Figure:
    """The same spectrogram with magnitudes drawn linearly (left) and in dB (right).

    Taught in ``03_spectrogram``.
    """
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length))
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 3.8), sharey=True, constrained_layout=True)
    img = plot_spectrogram(S / S.max(), sr, hop_length, ax=a, fmax=fmax, colorbar=False,
                           title=f"{title}magnitude, linear (1 = max)")
    plt.colorbar(img, ax=a, label="magnitude (1 = max)")
    plot_spectrogram(librosa.amplitude_to_db(S, ref=np.max, top_db=80), sr, hop_length, ax=b, fmax=fmax,
                     title=f"{title}magnitude in dB: amplitude_to_db(ref=max, top_db=80)")
    b.set_ylabel("")
    return fig


def plot_regions(y: np.ndarray, sr: int, regions: pd.DataFrame, n_fft: int = 1024, hop_length: int = 256,
                 title: str | None = None, fmax: float | None = None) -> plt.Figure:
    """Spectrogram of a speech clip with its regions (:func:`speech_regions`) as coloured bands above it.

    Below it, the waveform with the same bands, so that the regions can be found by ear.

    Taught in ``03_spectrogram``.
    """
    fig, (ax_s, ax_w) = plt.subplots(2, 1, figsize=(12, 6.5), height_ratios=[3, 1.2], sharex=True, constrained_layout=True)
    plot_spectrogram(stft_db(y, n_fft, hop_length), sr, hop_length, ax=ax_s, fmax=fmax, vmin=-80,
                     title=title or "Spectrogram with silence / voiced / noise regions")
    top = fmax or sr / 2
    ax_s.set_ylim(0, top * 1.08)
    t = np.arange(len(y)) / sr
    ax_w.plot(t, y, color="0.3", linewidth=0.4)
    ax_w.set_xlabel("time (s)")
    ax_w.set_ylabel("amplitude")
    for row in regions.itertuples():
        c = REGION_COLOURS[row.label]
        ax_s.add_patch(plt.Rectangle((row.start, top * 1.01), row.end - row.start, top * 0.07, color=c, clip_on=False))
        if row.label != "silence":
            ax_w.axvspan(row.start, row.end, color=c, alpha=0.25, linewidth=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in REGION_COLOURS.values()]
    ax_w.legend(handles, list(REGION_COLOURS), loc="upper right", ncol=3, fontsize=8)
    ax_s.set_xlabel("")
    return fig


def cepstral_envelope(magnitude: np.ndarray, sr: int, f0: float, keep: float = 0.6) -> np.ndarray:
    """A smooth spectral envelope (dB) under a harmonic spectrum, by cepstral smoothing.

    The log magnitude spectrum (``1 + n_fft // 2`` values) is transformed once more; its
    slow part, the *quefrencies* below ``keep / f0`` seconds, is the envelope (the formants),
    the fast part the harmonic ripple. Keeping only the slow part and transforming back
    gives the envelope.

    Used by :func:`plot_frame_spectra` (``03_spectrogram``).
    """
    log_mag = np.log(np.maximum(np.asarray(magnitude, dtype=float), 1e-10))
    ceps = np.fft.irfft(log_mag)
    q = max(1, int(keep * sr / f0))
    lifter = np.zeros_like(ceps)
    lifter[:q] = 1.0
    lifter[len(ceps) - q + 1 :] = 1.0
    return 20 / np.log(10) * np.fft.rfft(ceps * lifter).real


def plot_frame_spectra(y: np.ndarray, sr: int, times: dict[str, float], n_fft: int = 2048,
                       fmax: float | dict[str, float] | None = None, f0: dict[str, float] | None = None) -> plt.Figure:
    """The magnitude spectrum (dB) of one windowed frame at each named time (``{"label": seconds}``).

    ``fmax`` limits the frequency axis (one value, or one per label). ``f0`` (``{"label": Hz}``)
    marks the multiples of a fundamental frequency in that label's panel and draws the
    spectral envelope (:func:`cepstral_envelope`), whose peaks are the formants. All panels
    share one reference: 0 dB is the largest value of any of them.

    Taught in ``03_spectrogram``.
    """
    w = scipy.signal.get_window("hann", n_fft, fftbins=True)
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    fig, axes = plt.subplots(len(times), 1, figsize=(11, 2.7 * len(times)), constrained_layout=True)
    axes = np.atleast_1d(axes)
    padded = np.pad(np.asarray(y, dtype=np.float64), n_fft // 2)
    spectra = {}
    for label, t in times.items():
        c = int(round(t * sr))
        spectra[label] = np.abs(np.fft.rfft(padded[c : c + n_fft] * w))
    ref = max(m.max() for m in spectra.values()) or 1.0
    for ax, (label, mag) in zip(axes, spectra.items()):
        ax.plot(freqs, 20 * np.log10(np.maximum(mag, 1e-10) / ref), linewidth=0.7, label="spectrum")
        top = (fmax.get(label) if isinstance(fmax, dict) else fmax) or sr / 2
        if f0 and label in f0:
            env = cepstral_envelope(mag, sr, f0[label]) - 20 * np.log10(ref)
            ax.plot(freqs, env, color="k", linewidth=1.4, label="envelope (formants at its peaks)")
            for k in range(1, int(top // f0[label]) + 1):
                ax.axvline(k * f0[label], color="tab:red", alpha=0.3, linewidth=0.7,
                           label=f"multiples of f0 = {f0[label]:.0f} Hz" if k == 1 else None)
            ax.legend(loc="upper right", fontsize=8)
        ax.set_xlim(0, top)
        level = 20 * np.log10(np.maximum(mag, 1e-10) / ref)
        shown = level[freqs <= top]
        ax.set_ylim(max(-160.0, min(-90.0, float(np.percentile(shown, 1)) - 5)), 3)  # room for deep studio silence
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("level (dB)")
        ax.set_title(f"{label}: frame at {times[label]:.2f} s ({1000 * n_fft / sr:.0f} ms window)")
        ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------------------
# Interactive
# --------------------------------------------------------------------------------------
def _figure_png(fig: plt.Figure) -> Image:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return Image(data=buf.getvalue(), format="png")


def explorer(y: np.ndarray, sr: int, n_ffts=(256, 512, 1024, 2048, 4096), hops=(64, 128, 256, 512, 1024),
             n_fft: int = 1024, hop_length: int = 256, fmax: float | None = None, title: str = "signal"):
    """Sliders for window length and hop, and the spectrogram they give, redrawn on every change.

    The figure is shown as an ordinary output and updated in place when a slider moves (in
    JupyterLab). In a headless run (:func:`course_utils.base.jupyter.headless`) only the
    starting figure is drawn and no widget is created. Returns ``(widget box or None, redraw
    function)``; ``redraw(n_fft, hop_length)`` draws a setting from code.

    Taught in ``03_spectrogram``.
    """
    def figure(n: int, hop: int) -> plt.Figure:
        r = resolution(sr, n, hop)
        fig, ax = plt.subplots(figsize=(10, 3.6), constrained_layout=True)
        plot_spectrogram(stft_db(y, n, hop), sr, hop, ax=ax, fmax=fmax, vmin=-80,
                         title=f"{title}: window {n} samples = {r.window_ms:.1f} ms, hop {hop} = {r.hop_ms:.1f} ms, "
                               f"bins {r.bin_hz:.1f} Hz apart")
        return fig

    if jupyter.headless():  # no one to move a slider: the starting figure, no widgets
        handle = display(_figure_png(figure(n_fft, hop_length)), display_id=True)
        return None, lambda n, hop: handle.update(_figure_png(figure(n, hop)))
    import ipywidgets as widgets

    n_slider = widgets.SelectionSlider(options=list(n_ffts), value=n_fft, description="n_fft",
                                       continuous_update=False)
    h_slider = widgets.SelectionSlider(options=list(hops), value=hop_length, description="hop",
                                       continuous_update=False)
    box = widgets.HBox([n_slider, h_slider])
    display(box)
    handle = display(_figure_png(figure(n_fft, hop_length)), display_id=True)

    def redraw(n: int, hop: int) -> None:
        handle.update(_figure_png(figure(n, hop)))

    def on_change(_change) -> None:
        redraw(n_slider.value, h_slider.value)

    n_slider.observe(on_change, names="value")
    h_slider.observe(on_change, names="value")
    return box, redraw
