"""The Mel scale, Mel filter banks, log-Mel spectrograms and MFCCs: thin wrappers of librosa.

Taught in ``04_mel_scale``.

The idea: pitch is not frequency. A step of 500 Hz is an octave from 500 Hz up and hardly a
change from 10 kHz up; the Mel scale (Stevens, Volkmann and Newman 1937) is an axis of perceived pitch,
close to linear in Hz below about 1 kHz and logarithmic above, on which equal distances sound
equally far apart. A Mel spectrogram puts a spectrogram on that axis: a bank of overlapping
triangular filters :math:`F`, narrow and many low down, wide and few high up, sums the power
under each triangle,

.. math:: M[b, m] = \\sum_k F[b, k]\\, |X[m, k]|^2, \\qquad \\text{i.e. } M = F\\,|X|^2,

and a logarithm (dB) makes it readable: the log-Mel spectrogram, the picture the course's
networks learn from (:mod:`course_utils.sound.features` makes it into an image). MFCCs are one
step more: the discrete cosine transform of each log-Mel frame, whose first coefficients keep
the smooth spectral envelope and drop the fine harmonic detail.

Two Mel formulas are in common use, and librosa has both:

- **HTK** (O'Shaughnessy 1987, used by the HTK toolkit): ``m = 2595 log10(1 + f / 700)``,
  so that 1000 Hz is 1000 Mel; ``librosa.hz_to_mel(f, htk=True)``.
- **Slaney** (Auditory Toolbox, 1998; librosa's default): linear below 1 kHz
  (``m = 3 f / 200``) and logarithmic above (``m = 15 + 27 ln(f / 1000) / ln 6.4``), in its
  own units, so that 1000 Hz is 15 "Mel"; ``librosa.hz_to_mel(f)``.

Both place the same frequencies almost at the same *relative* position; the filter banks
they give differ a little below 1 kHz. The course's features (:mod:`course_utils.sound.features`)
use librosa's defaults: Slaney Mel and Slaney-normalised triangular filters.

=================================================  ============================================
helper                                             what it does
=================================================  ============================================
:func:`hz_to_mel` / :func:`mel_to_hz`              the two formulas, both ways
:func:`tone_pair`                                  two tones in a row, to hear a distance
:func:`mel_table` / :func:`pair_distances`         reference frequencies and pairs in Mel
:func:`filterbank` / :func:`filter_table`          the triangular filters and their edges
:func:`mel_spectrogram`                            the Mel power spectrogram, :math:`F\\,|X|^2`
:func:`mel_bands_table`                            what a number of Mel bands keeps;
                                                   :func:`mel_bands_explorer` the slider
:func:`spectral_summary` / :func:`voice_table`     f0, spectral centroid and share of energy
                                                   above 4 kHz of a voice, per clip (cached)
:func:`image_steps`                                every step of the course's log-Mel image
:func:`mfcc` / :func:`envelope_from_mfcc`          MFCCs, and the envelope they describe
:func:`envelope_error_db`                          how far that envelope lies from the frame
=================================================  ============================================

Plotting helpers: :func:`plot_mel_curves`, :func:`plot_filterbank`, :func:`specshow_mel`,
:func:`plot_linear_vs_mel`, :func:`mel_bands_figure`, :func:`plot_side_by_side`,
:func:`plot_image_steps`, :func:`plot_dct_basis`, :func:`plot_mfcc_envelope` and :func:`plot_mfcc`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.fft

from course_utils.base import jupyter
from course_utils.data import audio, cache
from course_utils.sound import features, plots, spectrogram, spectrum

#: The two Mel formulas of :func:`hz_to_mel`: HTK's ``2595 log10(1 + f / 700)`` and Slaney's.
FORMULAS = ("htk", "slaney")


# --------------------------------------------------------------------------------------
# The Mel scale
# --------------------------------------------------------------------------------------
def hz_to_mel(f, formula: str = "htk"):
    """Frequency in Hz -> Mel, with the ``"htk"`` or the ``"slaney"`` formula (``librosa.hz_to_mel``).

    Used by :func:`mel_table`, :func:`pair_distances` and :func:`plot_mel_curves`
    (``04_mel_scale``, which teaches both formulas).
    """
    _check(formula)
    return librosa.hz_to_mel(f, htk=formula == "htk")


def mel_to_hz(m, formula: str = "htk"):
    """Mel -> Hz, the inverse of :func:`hz_to_mel` (``librosa.mel_to_hz``).

    Used by the tests (the round trip Hz -> Mel -> Hz); no chapter calls it. The idea of
    ``04_mel_scale``.
    """
    _check(formula)
    return librosa.mel_to_hz(m, htk=formula == "htk")


def _check(formula: str) -> None:
    if formula not in FORMULAS:
        raise ValueError(f"unknown Mel formula {formula!r}: choose 'htk' (2595 log10(1 + f/700)) or 'slaney' (librosa's default)")


def tone_pair(f1: float, f2: float, sr: int = audio.COURSE_SR, duration: float = 0.6, gap: float = 0.3,
              amp: float = 0.3) -> np.ndarray:
    """Two sine tones one after the other (``f1``, a pause, ``f2``), faded in and out: for listening.

    Taught in ``04_mel_scale``: 500 Hz then 1000 Hz, and 10,000 Hz then 10,500 Hz, are the same
    distance in Hz but not in pitch.
    """
    t = np.arange(int(duration * sr)) / sr
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    tones = [amp * fade * np.sin(2 * np.pi * f * t) for f in (f1, f2)]
    return np.concatenate([tones[0], np.zeros(int(gap * sr)), tones[1]]).astype(np.float32)


def mel_table(freqs=(100, 250, 500, 1000, 2000, 4000, 8000, 10000, 10500), fmax: float = 11025.0) -> pd.DataFrame:
    """Reference frequencies in both Mel formulas, raw and relative (0 = 0 Hz, 1 = ``fmax``).

    The relative columns show where each frequency lands on a Mel axis that ends at
    ``fmax``: that, not the unit, is what decides the filter bank.

    Taught in ``04_mel_scale``.
    """
    f = np.asarray(freqs, dtype=float)
    rows = {"frequency (Hz)": f.astype(int)}
    for formula in FORMULAS:
        m = hz_to_mel(f, formula)
        rows[f"{formula} Mel"] = np.round(m, 2)
        rows[f"{formula} relative"] = np.round(m / hz_to_mel(fmax, formula), 3)
    return pd.DataFrame(rows)


def pair_distances(pairs=((500, 1000), (10000, 10500)), formula: str = "htk") -> pd.DataFrame:
    """For pairs of frequencies: their distance in Hz, in Mel, and the Mel distance per 100 Hz.

    Taught in ``04_mel_scale``.
    """
    rows = []
    for a, b in pairs:
        d = float(hz_to_mel(b, formula) - hz_to_mel(a, formula))
        rows.append({"pair (Hz)": f"{a} vs {b}", "distance (Hz)": b - a, f"distance ({formula} Mel)": round(d, 2),
                     f"{formula} Mel per 100 Hz": round(100 * d / (b - a), 2)})
    return pd.DataFrame(rows)


def plot_mel_curves(fmax: float = 11025.0, pairs=((500, 1000), (10000, 10500))) -> plt.Figure:
    """Left: HTK Mel against Hz, with the pairs' distances marked on both axes.
    Right: both formulas on a relative scale (0 to 1 at ``fmax``).

    Taught in ``04_mel_scale``.
    """
    f = np.linspace(0, fmax, 1000)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    a.plot(f, hz_to_mel(f, "htk"), color="k")
    for (f1, f2), c in zip(pairs, ("tab:blue", "tab:red")):
        m1, m2 = hz_to_mel(f1, "htk"), hz_to_mel(f2, "htk")
        a.axvspan(f1, f2, color=c, alpha=0.25)
        a.axhspan(m1, m2, color=c, alpha=0.25)
        top = hz_to_mel(fmax, "htk")
        text_x = f2 - 0.5 * fmax if f2 > fmax / 2 else f2 + 0.12 * fmax
        a.annotate(f"{f1}-{f2} Hz: {m2 - m1:.0f} Mel", xy=(f2, m2), xytext=(text_x, m2 - 0.25 * top),
                   color=c, arrowprops=dict(arrowstyle="->", color=c))
    a.set_xlabel("frequency (Hz)")
    a.set_ylabel("pitch (Mel, HTK)")
    a.set_title("Mel scale (HTK): 2595 log10(1 + f / 700)")
    a.set_xlim(0, fmax)
    a.set_ylim(0, None)
    for formula, style in zip(FORMULAS, ("-", "--")):
        b.plot(f, hz_to_mel(f, formula) / hz_to_mel(fmax, formula), style, label=formula)
    b.plot([0, fmax], [0, 1], ":", color="0.5", label="linear (Hz)")
    b.axvline(1000, color="0.7", linewidth=0.8)
    b.set_xlabel("frequency (Hz)")
    b.set_ylabel(f"relative Mel position (1 = {fmax:.0f} Hz)")
    b.set_title("HTK and Slaney formulas, relative")
    b.set_xlim(0, fmax)
    b.legend()
    return fig


# --------------------------------------------------------------------------------------
# The filter bank
# --------------------------------------------------------------------------------------
def filterbank(sr: int = audio.COURSE_SR, n_fft: int = 2048, n_mels: int = 40, norm: str | None = "slaney",
               formula: str = "slaney", fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Triangular Mel filters ``(n_mels, 1 + n_fft // 2)``: ``librosa.filters.mel``.

    ``norm="slaney"`` (librosa's default) scales each triangle to unit area, so wide
    high-frequency filters get low peaks and every band sums the same *density* of energy;
    ``norm=None`` gives every triangle a peak of 1.

    Taught in ``04_mel_scale``.
    """
    _check(formula)
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, norm=norm, htk=formula == "htk", fmin=fmin, fmax=fmax)


def filter_table(sr: int = audio.COURSE_SR, n_fft: int = 2048, n_mels: int = 40, formula: str = "slaney",
                 fmin: float = 0.0, fmax: float | None = None) -> pd.DataFrame:
    """Each Mel filter's triangle: lower edge, centre and upper edge (Hz), its width, and the FFT bins it covers.

    The ``n_mels + 2`` edge frequencies are equally spaced in Mel between ``fmin`` and
    ``fmax`` (``librosa.mel_frequencies``); filter ``i`` rises from edge ``i`` to a peak at
    edge ``i + 1`` and falls to edge ``i + 2``. ``fft bins`` counts the bins with a weight
    above zero: where it is 0, the band is empty (librosa warns about it).

    Taught in ``04_mel_scale``.
    """
    _check(formula)
    fmax = sr / 2 if fmax is None else fmax
    edges = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=fmin, fmax=fmax, htk=formula == "htk")
    fb = filterbank(sr, n_fft, n_mels, norm=None, formula=formula, fmin=fmin, fmax=fmax)
    return pd.DataFrame({
        "band": np.arange(n_mels),
        "lower (Hz)": edges[:-2],
        "centre (Hz)": edges[1:-1],
        "upper (Hz)": edges[2:],
        "width (Hz)": edges[2:] - edges[:-2],
        "fft bins": (fb > 0).sum(axis=1),
    })


def plot_filterbank(sr: int = audio.COURSE_SR, n_fft: int = 2048, n_mels: int = 40, formula: str = "slaney") -> plt.Figure:
    """The triangular filters without (top) and with (bottom) Slaney area normalisation.

    Taught in ``04_mel_scale``.
    """
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    fig, axes = plt.subplots(2, 1, figsize=(12, 6), sharex=True, constrained_layout=True)
    for ax, norm in zip(axes, (None, "slaney")):
        fb = filterbank(sr, n_fft, n_mels, norm=norm, formula=formula)
        colours = plt.cm.viridis(np.linspace(0, 0.9, n_mels))
        for row, c in zip(fb, colours):
            ax.plot(freqs, row, color=c, linewidth=0.9)
        ax.set_ylabel("weight")
        ax.set_title(f"{n_mels} Mel filters ({formula} Mel), norm={norm!r}"
                     + (": every peak is 1" if norm is None else ": every triangle has the same area"))
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("frequency (Hz)")
    axes[-1].set_xlim(0, sr / 2)
    return fig


# --------------------------------------------------------------------------------------
# Mel spectrograms
# --------------------------------------------------------------------------------------
def mel_spectrogram(y: np.ndarray, sr: int, n_fft: int = 2048, hop_length: int = 256, n_mels: int = 128, **kwargs) -> np.ndarray:
    """Mel power spectrogram ``(n_mels, frames)``: ``librosa.feature.melspectrogram`` (power 2).

    It is the filter bank applied to the power spectrogram: ``filterbank(...) @ |STFT|**2``.

    Taught in ``04_mel_scale``.
    """
    return librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0, **kwargs)


def specshow_mel(S_db: np.ndarray, sr: int, hop_length: int, ax: plt.Axes | None = None, title: str | None = None,
                 colorbar: bool = True, fmax: float | None = None, vmin: float | None = -80.0, label: str = "level (dB re. max)"):
    """Draw a Mel spectrogram (``librosa.display.specshow`` with a Mel frequency axis in Hz) and a colour bar.

    Used by :func:`plot_linear_vs_mel`, :func:`mel_bands_figure`, :func:`plot_side_by_side` and
    :func:`plot_image_steps` (``04_mel_scale``).
    """
    ax = ax or plt.gca()
    img = librosa.display.specshow(S_db, sr=sr, hop_length=hop_length, x_axis="time", y_axis="mel", ax=ax,
                                   fmax=fmax, vmin=vmin, cmap="magma")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz, Mel-spaced)")
    if title:
        ax.set_title(title)
    if colorbar:
        plt.colorbar(img, ax=ax, format="%+.0f dB" if "dB" in label else None, label=label)
    return img


def plot_linear_vs_mel(y: np.ndarray, sr: int, n_fft: int = 2048, hop_length: int = 256, n_mels: int = 128,
                       title: str = "") -> plt.Figure:
    """Three views of one clip: linear-frequency STFT (dB), Mel power (linear), log-Mel (dB).

    Taught in ``04_mel_scale``.
    """
    fig, axes = plt.subplots(3, 1, figsize=(11, 10), sharex=True, constrained_layout=True)
    S_db = librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)), ref=np.max, top_db=80)
    img = librosa.display.specshow(S_db, sr=sr, hop_length=hop_length, x_axis="time", y_axis="linear", ax=axes[0],
                                   cmap="magma", vmin=-80)
    axes[0].set_ylabel("frequency (Hz)")
    axes[0].set_title(f"{title}linear frequency: STFT magnitude, dB ({1 + n_fft // 2} bins)")
    plt.colorbar(img, ax=axes[0], format="%+.0f dB", label="level (dB re. max)")
    M = mel_spectrogram(y, sr, n_fft, hop_length, n_mels)
    specshow_mel(M / M.max(), sr, hop_length, ax=axes[1], vmin=0, label="power (1 = max)",
                 title=f"Mel power spectrogram, linear power ({n_mels} bands): only the loudest bins are visible")
    specshow_mel(librosa.power_to_db(M, ref=np.max, top_db=80), sr, hop_length, ax=axes[2],
                 title=f"log-Mel spectrogram: power_to_db(ref=max), {n_mels} bands")
    for ax in axes[:-1]:
        ax.set_xlabel("")
    axes[-1].set_xlabel("time (s)")
    return fig


# --------------------------------------------------------------------------------------
# How many Mel bands?
# --------------------------------------------------------------------------------------
def mel_bands_table(counts: Sequence[int] = (8, 16, 32, 64, 128, 256), sr: int = 22_050, n_fft: int = 2048,
                    hop_length: int = 256, harmonic_spacing_hz: float = 100.0) -> pd.DataFrame:
    """What a number of Mel bands keeps: one row per count in ``counts``.

    Columns: the numbers per second of sound (bands x frames per second) and their share of
    the STFT's ``1 + n_fft // 2`` bins (%), the width of the lowest and the highest triangle (Hz),
    the bands below 1 kHz, and up to which frequency the triangles are narrower than
    ``harmonic_spacing_hz`` (a rough limit below which harmonics that far apart, those of a
    voice at that f0, stay in separate bands; 0 where no band is that narrow). Edges from
    :func:`filter_table` (Slaney Mel, 0 Hz to ``sr / 2``).
    Taught in ``04_mel_scale``.
    """
    rows = []
    frames_per_s = sr / hop_length
    for n in counts:
        bank = filter_table(sr, n_fft, n_mels=int(n))
        narrow = bank.loc[bank["width (Hz)"] < harmonic_spacing_hz, "upper (Hz)"]
        rows.append({
            "Mel bands": int(n),
            "numbers per second": round(n * frames_per_s),
            "share of the STFT (%)": 100 * n / (1 + n_fft // 2),
            "lowest band (Hz wide)": float(bank["width (Hz)"].iloc[0]),
            "highest band (Hz wide)": float(bank["width (Hz)"].iloc[-1]),
            "bands below 1 kHz": int((bank["centre (Hz)"] < 1000).sum()),
            f"bands < {harmonic_spacing_hz:g} Hz wide up to (Hz)": float(narrow.max()) if len(narrow) else 0.0,
        })
    return pd.DataFrame(rows).set_index("Mel bands")


def mel_bands_figure(y: np.ndarray, sr: int, n_mels: int = 32, *, n_fft: int = 2048, hop_length: int = 256,
                     frame: int | None = None, fmax_frame: float = 4000.0, title: str = "") -> plt.Figure:
    """Three views of what ``n_mels`` Mel bands make of a clip.

    Top left, the triangular filters (each drawn with a peak of 1; the course's filters are
    Slaney-normalised, same area); top right, one frame (default: the loudest) as the STFT
    sees it and as the bands see it (each band's weighted mean power, dB re. the frame's
    loudest bin, drawn over the band), up to ``fmax_frame`` Hz; below, the log-Mel spectrogram
    with the frame marked. Used by :func:`mel_bands_explorer` (``04_mel_scale``).
    """
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    F = filterbank(sr, n_fft, n_mels)
    M = F @ S
    frame = int(np.argmax(S.sum(axis=0))) if frame is None else int(frame)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    bank = filter_table(sr, n_fft, n_mels)

    fig = plt.figure(figsize=(12, 7.6), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.2])
    ax_bank, ax_frame, ax_img = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])

    peak = F / np.maximum(F.max(axis=1, keepdims=True), 1e-12)
    for row, colour in zip(peak, plt.cm.viridis(np.linspace(0, 0.9, n_mels))):
        ax_bank.plot(freqs, row, color=colour, linewidth=0.8)
    ax_bank.set(xlim=(0, sr / 2), ylim=(0, 1.05), xlabel="frequency (Hz)", ylabel="weight (peak drawn as 1)",
                title=f"{n_mels} triangular Mel filters, lowest {bank['width (Hz)'].iloc[0]:.0f} Hz wide, "
                      f"highest {bank['width (Hz)'].iloc[-1]:,.0f} Hz")
    ax_bank.grid(alpha=0.3)

    power = S[:, frame]
    ref = max(float(power.max()), 1e-20)
    band_mean = (F @ power) / np.maximum(F.sum(axis=1), 1e-12)
    to_db = lambda p: 10 * np.log10(np.maximum(p, ref * 1e-8) / ref)  # noqa: E731
    ax_frame.plot(freqs, to_db(power), color="0.55", linewidth=0.8, label=f"STFT: {1 + n_fft // 2} bins")
    ax_frame.hlines(to_db(band_mean), (bank["lower (Hz)"] + bank["centre (Hz)"]) / 2,
                    (bank["centre (Hz)"] + bank["upper (Hz)"]) / 2, color="C3", linewidth=2,
                    label=f"{n_mels} Mel bands: mean power under each triangle")
    ax_frame.set(xlim=(0, fmax_frame), ylim=(-80, 5), xlabel="frequency (Hz)", ylabel="level (dB re. loudest bin)",
                 title=f"One frame, at {librosa.frames_to_time(frame, sr=sr, hop_length=hop_length):.2f} s: "
                       f"where do the harmonics go?")
    ax_frame.legend(loc="upper right", fontsize=8)
    ax_frame.grid(alpha=0.3)

    S_db = librosa.power_to_db(M, ref=np.max, top_db=80)
    specshow_mel(S_db, sr, hop_length, ax=ax_img,
                     title=f"{title}log-Mel spectrogram with {n_mels} bands: {n_mels} x {M.shape[1]} = "
                           f"{M.size:,} numbers (the STFT: {S.size:,})")
    ax_img.axvline(librosa.frames_to_time(frame, sr=sr, hop_length=hop_length), color="w", linestyle="--", linewidth=1)
    return fig


def mel_bands_explorer(y: np.ndarray, sr: int, n_mels: int = 32, *, n_fft: int = 2048, hop_length: int = 256,
                       title: str = "", players: bool = True, n_iter: int = 16) -> plt.Figure:
    """:func:`mel_bands_figure`, shown, and two players: the clip, and what its ``n_mels`` bands
    sound like when turned back into a signal (``librosa.feature.inverse.mel_to_audio``,
    Griffin-Lim with ``n_iter`` iterations).

    The function behind the notebook's slider (:func:`~course_utils.base.jupyter.explore`).
    Taught in ``04_mel_scale``.
    """
    fig = mel_bands_figure(y, sr, n_mels, n_fft=n_fft, hop_length=hop_length, title=title)
    plt.show()
    if players:
        M = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0)
        back = librosa.feature.inverse.mel_to_audio(M, sr=sr, n_fft=n_fft, hop_length=hop_length, n_iter=n_iter,
                                                    length=len(y))
        plots.play(y, sr, label="the clip")
        plots.play(back, sr, label=f"rebuilt from its {n_mels} Mel bands (Griffin-Lim, {n_iter} iterations)")
    return fig


# --------------------------------------------------------------------------------------
# A male and a female voice
# --------------------------------------------------------------------------------------
def plot_side_by_side(clips: list[tuple[str, np.ndarray]], sr: int, n_fft: int = 2048, hop_length: int = 256,
                      n_mels: int = 128) -> plt.Figure:
    """Log-Mel spectrograms of several clips next to each other, on one colour scale and one time scale
    (each panel as wide as its clip is long).

    Taught in ``04_mel_scale``.
    """
    durations = [len(y) / sr for _, y in clips]
    fig, axes = plt.subplots(1, len(clips), figsize=(6 * len(clips), 4), sharey=True, constrained_layout=True,
                             width_ratios=durations)
    axes = np.atleast_1d(axes)
    img = None
    for ax, (title, y), d in zip(axes, clips, durations):
        S_db = features.log_mel(y, sr, features.FeatureConfig(n_fft=n_fft, hop_length=hop_length, n_mels=n_mels))
        img = specshow_mel(S_db, sr, hop_length, ax=ax, title=title, colorbar=False)
        ax.set_xlim(0, d)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.colorbar(img, ax=list(axes), format="%+.0f dB", label="level (dB re. each clip's max)")
    return fig


def spectral_summary(y: np.ndarray, sr: int, cutoff_hz: float = 4000.0, n_fft: int = 2048, hop_length: int = 512,
                     top_db: float = 30.0) -> dict:
    """Three numbers that describe a voice in one clip, over its frames within ``top_db`` of the loudest.

    ``hf_share``: share of the energy above ``cutoff_hz``
    (:func:`course_utils.sound.spectrogram.energy_share_above`); ``centroid_hz``: the energy-weighted
    mean frequency (spectral centroid); ``f0_hz``: the median fundamental frequency
    (``librosa.yin`` over the course's search range, :data:`course_utils.sound.spectrum.SPEECH_FMIN` to
    :data:`~course_utils.sound.spectrum.SPEECH_FMAX`) of those frames.

    Taught in ``04_mel_scale``.
    """
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    f = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    e = S.sum(axis=0)
    loud = e >= e.max() * 10 ** (-top_db / 10) if e.max() > 0 else np.ones_like(e, dtype=bool)
    S = S[:, loud]
    total = S.sum()
    f0 = librosa.yin(y, fmin=spectrum.SPEECH_FMIN, fmax=spectrum.SPEECH_FMAX, sr=sr, frame_length=n_fft,
                     hop_length=hop_length)[: len(loud)][loud]
    return {
        "hf_share": spectrogram.energy_share_above(S, f, cutoff_hz),
        "centroid_hz": float((f[:, None] * S).sum() / total) if total > 0 else 0.0,
        "f0_hz": float(np.median(f0)),
    }


#: Bump when :func:`spectral_summary` changes, so that old cache entries of :func:`voice_table` are not reused.
VOICE_VERSION = 1


#: The columns :func:`voice_table` measures per clip (those of :func:`spectral_summary`).
VOICE_COLUMNS = ("hf_share", "centroid_hz", "f0_hz")


def cache_path(meta: pd.DataFrame, cutoff_hz: float = 4000.0, cache_dir=None):
    """Where the :func:`voice_table` of these files is cached: a CSV file under
    :func:`course_utils.base.paths.cache_dir`, named by a fingerprint of the files (names, sizes,
    modification times: :func:`course_utils.base.paths.files_fingerprint`) and of the recipe (sample
    rate, cut-off, :data:`VOICE_VERSION`), so that another subset, a replaced file or another
    setting gets its own entry. Used by :func:`voice_table` (``04_mel_scale``)."""
    return cache.entry_path("voices", meta["path"], audio.COURSE_SR, float(cutoff_hz), VOICE_VERSION, suffix=".csv",
                            cache_dir=cache_dir)


def voice_table(meta: pd.DataFrame, cutoff_hz: float = 4000.0, progress: bool = True, *, cache_dir=None) -> pd.DataFrame:
    """:func:`spectral_summary` of every clip of ``meta`` (column ``path``), with its ``actor`` and ``sex``.

    A pass over every clip takes a while, so the measurements are cached on disk
    (:func:`cache_path`, in ``cache_dir``, default :func:`course_utils.base.paths.cache_dir`;
    written atomically and read back exactly): a rerun of ``04_mel_scale`` reads them in a
    moment, and a damaged entry is reported, removed and measured again
    (:func:`course_utils.data.cache.cached`). ``progress``: a bar over the clips
    (:func:`course_utils.base.jupyter.progress`) while they are measured. Taught in
    ``04_mel_scale``.
    """
    names = [Path(str(p)).name for p in meta["path"]]

    def measure() -> pd.DataFrame:
        rows = []
        clips = jupyter.progress(meta["path"], total=len(meta), desc="voice spectra", unit="clip",
                                     disable=not progress)
        for path in clips:
            y, sr = audio.load_audio(path)
            rows.append(spectral_summary(y, sr, cutoff_hz))
        table = pd.DataFrame(rows, columns=list(VOICE_COLUMNS))
        table.insert(0, "filename", names)
        return table

    def complete(table: pd.DataFrame) -> str | None:
        missing = [c for c in VOICE_COLUMNS if c not in table.columns]
        return f"has no column {missing[0]}" if missing else None

    measured = cache.cached(cache_path(meta, cutoff_hz, cache_dir), measure, what="voice spectra",
                            names=names, check=complete)
    labels = pd.DataFrame({"actor": meta["actor"].to_numpy(), "sex": meta["sex"].astype(str).to_numpy()})
    return pd.concat([labels, measured[list(VOICE_COLUMNS)].reset_index(drop=True).astype(float)], axis=1)


# --------------------------------------------------------------------------------------
# The course's log-Mel image, step by step
# --------------------------------------------------------------------------------------
def image_steps(path, config: features.FeatureConfig = features.FeatureConfig()) -> dict:
    """Every intermediate step of :func:`course_utils.sound.features.clip_image` for one file.

    Returns a dict with ``y`` (loaded), ``sr``, ``trim`` (start, end samples of the kept
    part), ``fixed`` (trimmed and centred in ``config.duration`` s), ``log_mel`` (dB) and
    ``image`` (in [0, 1], equal to ``features.clip_image(path, config)``).

    Taught in ``04_mel_scale``.
    """
    y, sr = audio.load_audio(path, sr=config.sample_rate)
    _, trim = audio.trim_silence(y, top_db=config.trim_top_db)
    fixed = audio.preprocess(y, sr, config.duration, top_db=config.trim_top_db)
    S_db = features.log_mel(fixed, sr, config)
    return {"y": y, "sr": sr, "trim": trim, "fixed": fixed, "log_mel": S_db,
            "image": features.to_image(S_db, config.image_size, config.db_range)}


def plot_image_steps(steps: dict, config: features.FeatureConfig = features.FeatureConfig(), title: str = "") -> plt.Figure:
    """The course's log-Mel image recipe in four panels (see :func:`image_steps`).

    Taught in ``04_mel_scale``.
    """

    sr = steps["sr"]
    fig, axes = plt.subplots(4, 1, figsize=(11, 12), constrained_layout=True, height_ratios=[1, 1, 2, 2])
    y, (s, e) = steps["y"], steps["trim"]
    t = np.arange(len(y)) / sr
    axes[0].plot(t, y, color="0.3", linewidth=0.4)
    axes[0].axvspan(s / sr, e / sr, color="tab:green", alpha=0.2, label=f"kept: within {config.trim_top_db:.0f} dB of the loudest frame")
    axes[0].set_xlim(0, len(y) / sr)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(f"{title}1. the clip as loaded ({len(y) / sr:.2f} s at {sr} Hz): silence trimmed")
    fixed = steps["fixed"]
    axes[1].plot(np.arange(len(fixed)) / sr, fixed, color="0.3", linewidth=0.4)
    axes[1].set_xlim(0, len(fixed) / sr)
    axes[1].set_title(f"2. trimmed ({(e - s) / sr:.2f} s), centred in {config.duration} s "
                      + ("(cut at both ends)" if e - s > len(fixed) else "(padded with zeros)"))
    for ax in axes[:2]:
        ax.set_xlabel("time (s)")
        ax.set_ylabel("amplitude")
        spacer = plt.colorbar(plt.cm.ScalarMappable(cmap="gray"), ax=ax)  # keeps the four panels equally wide
        spacer.ax.set_visible(False)
    specshow_mel(steps["log_mel"], sr, config.hop_length, ax=axes[2], vmin=-config.db_range,
                 title=f"3. log-Mel: {config.mels} Mel bands, n_fft {config.n_fft}, hop {config.hop_length}, "
                       f"{steps['log_mel'].shape[1]} frames, dB re. max, floor -{config.db_range:.0f} dB")
    img = axes[3].imshow(steps["image"], origin="lower", aspect="auto", cmap="gray", vmin=0, vmax=1)
    axes[3].set_xlabel("pixel column (time)")
    axes[3].set_ylabel("pixel row (Mel band)")
    axes[3].set_title(f"4. the image the networks see: {steps['image'].shape[0]} x {steps['image'].shape[1]} pixels, "
                      "(dB + 80) / 80, in [0, 1]")
    plt.colorbar(img, ax=axes[3], label="pixel value (0 = -80 dB, 1 = max)")
    return fig


# --------------------------------------------------------------------------------------
# MFCCs
# --------------------------------------------------------------------------------------
def mfcc(S_db: np.ndarray, n_mfcc: int = 20) -> np.ndarray:
    """MFCCs from a log-Mel spectrogram in dB: the type-II DCT (orthonormal) of each frame, first ``n_mfcc``.

    Same as ``librosa.feature.mfcc(S=S_db, n_mfcc=n_mfcc)``.

    Taught in ``04_mel_scale``.
    """
    return librosa.feature.mfcc(S=S_db, n_mfcc=n_mfcc)


def envelope_from_mfcc(coefficients: np.ndarray, n_mels: int) -> np.ndarray:
    """Back from the first MFCCs of a frame (or frames) to a smooth log-Mel spectrum (dB).

    The missing higher coefficients are taken as 0 and the orthonormal DCT is inverted
    (``scipy.fft.idct``): what remains is the spectral envelope without the fine harmonic
    ripple.

    Used by :func:`envelope_error_db` and :func:`plot_mfcc_envelope` (``04_mel_scale``).
    """
    c = np.asarray(coefficients, dtype=float)
    pad = [(0, n_mels - c.shape[0])] + [(0, 0)] * (c.ndim - 1)
    return scipy.fft.idct(np.pad(c, pad), type=2, norm="ortho", axis=0)


def plot_dct_basis(n_mels: int = 128, n_shown: int = 4) -> plt.Figure:
    """The first DCT-II basis functions over the Mel bands: what each MFCC measures.

    Taught in ``04_mel_scale``.
    """
    fig, ax = plt.subplots(figsize=(10, 3.2), constrained_layout=True)
    bands = np.arange(n_mels)
    for k in range(n_shown):
        basis = scipy.fft.idct(np.eye(n_mels)[k], type=2, norm="ortho")
        ax.plot(bands, basis, label=f"MFCC {k}")
    ax.set_xlabel("Mel band (low to high frequency)")
    ax.set_ylabel("weight")
    ax.set_title("What the first MFCCs weigh: cosines over the log-Mel spectrum of a frame")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlim(0, n_mels - 1)
    return fig


def envelope_error_db(S_db: np.ndarray, n_mfcc: int) -> float:
    """Root-mean-square difference (dB) between a log-Mel spectrogram and its rebuild from ``n_mfcc`` MFCCs.

    Taught in ``04_mel_scale``.
    """
    rebuilt = envelope_from_mfcc(mfcc(S_db, n_mfcc), S_db.shape[0])
    return float(np.sqrt(np.mean((rebuilt - S_db) ** 2)))


def plot_mfcc_envelope(frame_db: np.ndarray, ks=(5, 13, 20), sr: int = audio.COURSE_SR, fmax: float | None = None,
                       title: str = "") -> plt.Figure:
    """One log-Mel frame (dB) and its rebuilds from the first ``k`` MFCCs, for each ``k`` in ``ks``.

    The x axis is the Mel band, labelled with its centre frequency in Hz.

    Taught in ``04_mel_scale``.
    """
    n_mels = len(frame_db)
    fig, ax = plt.subplots(figsize=(11, 3.6), constrained_layout=True)
    bands = np.arange(n_mels)
    ax.plot(bands, frame_db, color="0.5", linewidth=1.0, label=f"log-Mel frame ({n_mels} bands)")
    coefficients = scipy.fft.dct(frame_db, type=2, norm="ortho")
    for k in ks:
        ax.plot(bands, envelope_from_mfcc(coefficients[:k], n_mels), linewidth=1.6, label=f"from the first {k} MFCCs")
    centres = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0, fmax=fmax or sr / 2)[1:-1]
    ticks = np.linspace(0, n_mels - 1, 8).astype(int)
    ax.set_xticks(ticks, [f"{centres[i]:.0f}" for i in ticks])
    ax.set_xlim(0, n_mels - 1)
    ax.set_xlabel("Mel band centre (Hz)")
    ax.set_ylabel("level (dB re. max)")
    ax.set_title(f"{title}a log-Mel frame and the smooth envelopes its first MFCCs describe")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_mfcc(C: np.ndarray, sr: int, hop_length: int, title: str = "") -> plt.Figure:
    """MFCCs over time: MFCC 0 (the frame's overall level) as a curve on top, MFCCs 1 ... K-1 as an image below.

    MFCC 0 is drawn apart because it is far larger than the others and would swamp their colour scale.

    Taught in ``04_mel_scale``.
    """
    times = librosa.frames_to_time(np.arange(C.shape[1]), sr=sr, hop_length=hop_length)
    fig, (a, b) = plt.subplots(2, 1, figsize=(11, 5), sharex=True, height_ratios=[1, 2.2], constrained_layout=True)
    a.plot(times, C[0], color="k", linewidth=1)
    a.set_ylabel("MFCC 0 (dB)")
    a.set_title(f"{title}MFCC 0: the overall level of each frame")
    a.grid(alpha=0.3)
    rest = C[1:]
    limit = float(np.abs(rest).max()) or 1.0
    step = times[1] - times[0] if len(times) > 1 else hop_length / sr
    img = b.imshow(rest, origin="lower", aspect="auto", cmap="coolwarm", vmin=-limit, vmax=limit,
                   extent=(times[0] - step / 2, times[-1] + step / 2, 0.5, C.shape[0] - 0.5))
    b.set_yticks(np.arange(1, C.shape[0], max(1, C.shape[0] // 10)))
    b.set_xlabel("time (s)")
    b.set_ylabel("MFCC index")
    b.set_title(f"MFCCs 1 to {C.shape[0] - 1}: the shape of the spectral envelope")
    plt.colorbar(img, ax=b, label="coefficient (dB)")
    return fig
