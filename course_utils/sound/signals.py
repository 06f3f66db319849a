"""Sound as numbers: tones, sampling, aliasing, quantisation and the facts of one clip.

Taught in ``01_sound_and_sampling``; ``02_spectrum`` builds its composite tones with
:func:`harmonic_series` and :func:`sum_of_sinusoids`, and plays and compares them with
:func:`tone`, :func:`fade`, :func:`play` and :func:`snr_db`.

A tone is a sine wave :math:`x(t) = A \\sin(2\\pi f t + \\varphi)` with amplitude :math:`A`,
frequency :math:`f` (Hz) and period :math:`T = 1/f`. Sampling at a rate :math:`f_s` keeps the
values :math:`x[n] = x(n / f_s)`; every frequency above the Nyquist limit :math:`f_s/2` folds
back to an *alias* below it. Storing a sample with :math:`b` bits rounds it to one of
:math:`2^b` levels and adds quantisation noise, about :math:`6.02\\,b + 1.76` dB below a
full-scale sine.

The intuition: a microphone turns air pressure into a curve; a recording keeps only points
of that curve, evenly spaced in time, each rounded to a whole number. Sampled fast enough
(more than twice the highest frequency), the points determine the curve again; too slowly,
they fit a lower tone just as well, and that lower tone is what a sound card plays.

================================  ====================================================
helper                            what it does
================================  ====================================================
:func:`tone`                      a sine wave (``librosa.tone``) with amplitude and phase
:func:`sum_of_sinusoids`          several tones added up; :func:`harmonic_series` gives
                                  the frequencies and amplitudes of a harmonic sound
:func:`fade` / :func:`play`       short fades against clicks; a player at the signal's
                                  own level
:func:`sample_tone`               a tone sampled at a rate: sample times and values
:func:`nyquist`                   half the sample rate
:func:`alias_frequency`           the frequency a tone is heard at after sampling
:func:`sinc_reconstruct`          the band-limited curve through samples (Whittaker-Shannon)
:func:`to_rate`                   resampling with an anti-alias filter;
                                  :func:`decimate_naive` without one
:func:`quantize`                  round to ``bits``-bit PCM levels
:func:`snr_db`                    signal-to-noise ratio of a copy against the original
:func:`theoretical_snr_db`        the formula ``6.02 b + 1.76`` dB
:func:`quantization_table`        measured SNR per bit depth next to ``6.02 b + 1.76``
:func:`describe_clip`             sample rate, bit depth, samples, duration, silences
:func:`read_pcm`                  the integers a 16-bit WAV file stores
================================  ====================================================

Plotting helpers (each returns its axes or figure): :func:`plot_pressure_wave`,
:func:`plot_tone_anatomy`, :func:`plot_sampling`, :func:`plot_folding`,
:func:`aliasing_explorer` (the function behind the notebook's slider),
:func:`plot_sweep_aliasing`, :func:`plot_quantization`, :func:`plot_clip_silence`,
:func:`plot_samples_zoom` and :func:`show_tones` (figure and players).
"""

from __future__ import annotations

from pathlib import Path

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import soundfile as sf

from course_utils.data import audio, metadata
from course_utils.sound import plots

#: Sample rate that stands in for continuous time in figures (Hz).
ANALOG_SR = 192_000
#: Speed of sound in air at 20 degrees C (m/s).
SPEED_OF_SOUND = 343.0
#: Sample rate of the players of the aliasing demos (Hz): plays every tone up to 22 kHz.
PLAYBACK_SR = 44_100


# --------------------------------------------------------------------------------------
# Tones
# --------------------------------------------------------------------------------------
def n_samples(duration: float, sr: float) -> int:
    """The number of samples in ``duration`` seconds at ``sr`` Hz (rounded to the nearest).

    Used by :func:`tone`, :func:`sum_of_sinusoids`, :func:`fade` and the figures of
    ``01_sound_and_sampling``.
    """
    return int(round(duration * sr))


def time_axis(n: int, sr: float) -> np.ndarray:
    """The times (s) of ``n`` samples at ``sr`` Hz: ``n / sr`` for ``n = 0, 1, ...``.

    Used by :func:`sample_tone` and the figures of ``01_sound_and_sampling``.
    """
    return np.arange(n) / sr


def tone(freq: float, duration: float, sr: float, amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """A sine tone ``amplitude * sin(2 pi freq t + phase)``, ``duration`` s long at ``sr`` Hz.

    A thin wrapper around ``librosa.tone`` (which draws a cosine of phase ``phi``), returning
    float64 so that quantisation experiments are not limited by float32's 24-bit mantissa.
    Taught in ``01_sound_and_sampling``; ``02_spectrum`` uses it too.
    """
    y = librosa.tone(freq, sr=sr, length=n_samples(duration, sr), phi=phase - np.pi / 2)
    return amplitude * y.astype(np.float64)


def harmonic_series(f0: float, n_harmonics: int, decay: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies ``k * f0`` and amplitudes ``1 / k**decay`` of harmonics ``k = 1 .. n``.

    ``decay=1`` gives the amplitudes of a sawtooth wave, a bright sound like a bowed string;
    ``decay=2`` a duller one. Taught in ``02_spectrum``.
    """
    if n_harmonics < 1:
        raise ValueError(f"n_harmonics must be at least 1, got {n_harmonics}")
    k = np.arange(1, n_harmonics + 1)
    return f0 * k, 1.0 / k**decay


def sum_of_sinusoids(freqs, amplitudes, duration: float, sr: float, phases=None) -> np.ndarray:
    """The sum of sine tones with the given frequencies (Hz), amplitudes and phases (rad).

    Taught in ``02_spectrum``: every periodic sound is such a sum (Fourier).
    """
    freqs = np.atleast_1d(np.asarray(freqs, dtype=float))
    amplitudes = np.broadcast_to(np.asarray(amplitudes, dtype=float), freqs.shape)
    phases = np.zeros_like(freqs) if phases is None else np.broadcast_to(np.asarray(phases, dtype=float), freqs.shape)
    y = np.zeros(n_samples(duration, sr))
    for f, a, p in zip(freqs, amplitudes, phases):
        y += tone(f, duration, sr, amplitude=a, phase=p)
    return y


def fade(y: np.ndarray, sr: float, seconds: float = 0.01) -> np.ndarray:
    """``y`` with short raised-cosine fades in and out, so that a player does not click.

    Taught in ``01_sound_and_sampling``; ``02_spectrum`` uses it too.
    """
    n = min(n_samples(seconds, sr), len(y) // 2)
    if n == 0:
        return y.copy()
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))
    out = y.copy()
    out[:n] *= ramp
    out[len(y) - n :] *= ramp[::-1]
    return out


def play(y: np.ndarray, sr: float, label: str | None = None) -> None:
    """A player for ``y`` at its own loudness: :func:`course_utils.sound.plots.play` without
    normalisation, so that a softer tone *sounds* softer and nobody gets a full-scale sine in
    their headphones.

    Taught in ``01_sound_and_sampling``; ``02_spectrum`` uses it too.
    """
    plots.play(y, sr, label, normalize=False)


# --------------------------------------------------------------------------------------
# Sampling and aliasing
# --------------------------------------------------------------------------------------
def nyquist(rate: float) -> float:
    """The Nyquist frequency, half the sample rate: the highest frequency a rate can hold.

    Used by :func:`course_utils.sound.spectrum.alias_table` (``01_sound_and_sampling``, which
    teaches the limit).
    """
    return rate / 2


def sample_tone(freq: float, rate: float, duration: float, amplitude: float = 1.0, phase: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Sample the tone ``amplitude * sin(2 pi freq t + phase)`` at ``rate`` Hz.

    Returns the sample times ``n / rate`` (s) and the values ``x(n / rate)``.
    Taught in ``01_sound_and_sampling``.
    """
    x = tone(freq, duration, rate, amplitude=amplitude, phase=phase)
    return time_axis(len(x), rate), x


def alias_frequency(freq, rate):
    """The frequency (Hz) a tone of ``freq`` Hz appears at after sampling at ``rate`` Hz.

    Sampling cannot tell ``f`` from ``f + k * rate`` for any integer ``k``, nor ``f`` from
    ``-f``; the frequency heard is the one of them that lies in ``[0, rate / 2]``::

        f_alias = | f - rate * round(f / rate) |

    Below the Nyquist limit it is ``freq`` itself. Works on arrays. Taught in
    ``01_sound_and_sampling``.
    """
    freq = np.asarray(freq, dtype=float)
    rate = np.asarray(rate, dtype=float)
    if np.any(rate <= 0):
        raise ValueError("the sample rate must be positive")
    out = np.abs(freq - rate * np.round(freq / rate))
    return float(out) if out.ndim == 0 else out


def sinc_reconstruct(samples: np.ndarray, rate: float, t: np.ndarray, t0: float = 0.0) -> np.ndarray:
    """The band-limited curve through ``samples`` (taken at ``t0 + n / rate``), evaluated at ``t``.

    The Whittaker-Shannon formula, what an ideal digital-to-analogue converter does::

        x(t) = sum_n x[n] sinc(rate * (t - t0) - n)

    It returns the one signal without energy above ``rate / 2`` that passes through every
    sample: for a tone above the Nyquist limit, the alias. Near the ends of a finite sample
    train it is less exact; draw a window in the middle.

    Taught in ``01_sound_and_sampling``.
    """
    n = np.arange(len(samples))
    return np.sinc(rate * (np.asarray(t)[:, None] - t0) - n[None, :]) @ np.asarray(samples, dtype=float)


def to_rate(y: np.ndarray, sr: float, target_sr: float) -> np.ndarray:
    """Resample ``y`` from ``sr`` to ``target_sr`` the right way (``librosa.resample``, soxr).

    Going down, the resampler first removes everything above the new Nyquist limit (an
    anti-alias filter); going up, it fills in the band-limited curve between the samples,
    as a sound card does. Taught in ``01_sound_and_sampling``.
    """
    return librosa.resample(np.asarray(y, dtype=float), orig_sr=sr, target_sr=target_sr, res_type="soxr_hq")


def decimate_naive(y: np.ndarray, factor: int) -> np.ndarray:
    """Keep every ``factor``-th sample and nothing else: sampling WITHOUT an anti-alias filter.

    Everything above the new Nyquist limit folds back as aliases. Compare :func:`to_rate`.

    Taught in ``01_sound_and_sampling``.
    """
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}")
    return np.asarray(y)[:: int(factor)]


# --------------------------------------------------------------------------------------
# Quantisation
# --------------------------------------------------------------------------------------
def quantization_levels(bits: int) -> int:
    """How many values a ``bits``-bit sample can take: ``2 ** bits`` (16 bits: 65,536).

    Used by :func:`quantization_table` and :func:`plot_quantization` (``01_sound_and_sampling``).
    """
    return 2 ** int(bits)


def quantization_step(bits: int) -> float:
    """The distance between two neighbouring levels on the full scale [-1, 1): ``2 / 2**bits``.

    Used by :func:`plot_quantization` (``01_sound_and_sampling``).
    """
    return 2.0 / quantization_levels(bits)


def quantize(y: np.ndarray, bits: int) -> np.ndarray:
    """Round ``y`` (full scale [-1, 1]) to the levels of ``bits``-bit PCM, as a WAV file stores it.

    Signed ``bits``-bit integers run from ``-2**(bits-1)`` to ``2**(bits-1) - 1``; a sample
    is scaled by ``2**(bits-1)``, rounded to the nearest integer, clipped to that range and
    scaled back. (So +1.0 itself is clipped one step below: PCM has one more negative level
    than positive ones.) Taught in ``01_sound_and_sampling``.
    """
    if bits < 1:
        raise ValueError(f"bits must be at least 1, got {bits}")
    scale = 2.0 ** (int(bits) - 1)
    return np.clip(np.round(np.asarray(y, dtype=float) * scale), -scale, scale - 1) / scale


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-noise ratio (dB) of ``test`` against ``reference``: the noise is their difference.

    ``10 log10( sum(reference**2) / sum((test - reference)**2) )``; infinite for a perfect copy.

    Taught in ``01_sound_and_sampling``; ``02_spectrum`` measures a resynthesis with it.
    """
    reference = np.asarray(reference, dtype=float)
    noise = np.asarray(test, dtype=float) - reference
    p_noise = np.sum(noise**2)
    if p_noise == 0:
        return float("inf")
    return float(10 * np.log10(np.sum(reference**2) / p_noise))


def theoretical_snr_db(bits):
    """The textbook SNR of a full-scale sine quantised to ``bits`` bits: ``6.02 bits + 1.76`` dB.

    It follows from a uniform rounding error of step ``q`` (power ``q**2 / 12``) against a sine
    of power ``1/2``: every extra bit halves ``q`` and buys ``20 log10 2 = 6.02`` dB.

    Taught in ``01_sound_and_sampling``.
    """
    return 6.02 * np.asarray(bits, dtype=float) + 1.76


def quantization_table(
    bits=(2, 4, 8, 12, 16, 24), freq: float = 997.0, sr: int = 48_000, duration: float = 1.0, y: np.ndarray | None = None
) -> pd.DataFrame:
    """Quantise a signal to each bit depth; the measured SNR next to the formula.

    By default the signal is a full-scale sine of ``freq`` Hz: 997 Hz (a prime number of
    cycles per second) is the test tone of audio engineers, whose samples hit ever new points
    of the wave, so that the rounding error behaves like noise. Pass ``y`` to measure another
    signal (speech, say) against the same formula. Columns: ``bits``, ``levels``, ``step q``
    (on the full scale, written as a power of two), ``measured SNR (dB)``, ``6.02 b + 1.76 (dB)`` and their ``difference (dB)``,
    rounded to 2 decimals.

    Taught in ``01_sound_and_sampling``.
    """
    y = tone(freq, duration, sr) if y is None else np.asarray(y, dtype=float)
    rows = []
    for b in bits:
        measured = snr_db(y, quantize(y, b))
        formula = float(theoretical_snr_db(b))
        rows.append(
            {
                "bits": int(b),
                "levels": quantization_levels(b),
                "step q": f"2^{1 - int(b)}",
                "measured SNR (dB)": round(measured, 2),
                "6.02 b + 1.76 (dB)": round(formula, 2),
                "difference (dB)": round(measured - formula, 2),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# One recorded clip
# --------------------------------------------------------------------------------------
def describe_clip(path: str | Path, top_db: float = 30.0) -> dict:
    """The facts of one audio file, read at its own sample rate.

    Keys: ``file``, ``sample rate (Hz)``, ``bit depth``, ``channels``, ``samples``,
    ``duration (s)``, ``silence before (s)``, ``sentence (s)``, ``silence after (s)``,
    ``peak (dBFS)``, ``levels used`` (how many of the 2**bits values occur). The silences are what ``audio.trim_silence`` (``top_db`` below the
    loudest frame) cuts from the head and the tail. Taught in ``01_sound_and_sampling``.
    """
    info = metadata.audio_info(path)
    y, sr = audio.load_audio(path, sr=None)
    _, (start, end) = audio.trim_silence(y, top_db=top_db)
    peak = float(np.max(np.abs(y)))
    return {
        "file": Path(path).name,
        "sample rate (Hz)": int(sr),
        "bit depth": info["bit_depth"],
        "channels": int(info["channels"]),
        "samples": int(info["frames"]),
        "duration (s)": round(info["frames"] / sr, 3),
        "silence before (s)": round(start / sr, 3),
        "sentence (s)": round((end - start) / sr, 3),
        "silence after (s)": round((len(y) - end) / sr, 3),
        "peak (dBFS)": round(float(20 * np.log10(max(peak, 1e-10))), 1),
        "levels used": int(len(np.unique(read_pcm(path)[0]))) if info["bit_depth"] == 16 else None,
    }


def read_pcm(path: str | Path) -> tuple[np.ndarray, int]:
    """The integers a 16-bit WAV file really stores (first channel), and its sample rate.

    (A stereo file's second channel is left out, so that the numbers are the file's own.)

    ``audio.load_audio`` divides them by 32,768 to get floats in [-1, 1).

    Taught in ``01_sound_and_sampling``.
    """
    data, sr = sf.read(str(path), dtype="int16", always_2d=True)
    return data[:, 0], sr


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def plot_pressure_wave(freq: float = 440.0, n_wavelengths: float = 3.0, pressure_pa: float = 0.02, seed: int = 0) -> plt.Figure:
    """Air molecules squeezed and stretched by a tone, and the pressure along the way.

    Top: a snapshot of air molecules (dots) displaced by a sound wave of ``freq`` Hz: dense
    bands are compressions, sparse ones rarefactions. Bottom: the pressure deviation (Pa)
    from atmospheric pressure along the same line, with one wavelength marked.

    Taught in ``01_sound_and_sampling``.
    """
    wavelength = SPEED_OF_SOUND / freq
    length = n_wavelengths * wavelength
    rng = np.random.default_rng(seed)
    n = 2500
    x0 = rng.uniform(0, length, n)
    y0 = rng.uniform(0, 1, n)
    k = 2 * np.pi / wavelength
    # each molecule moves by -d sin(kx): the air is densest (pressure highest) where cos(kx) = 1
    x = x0 - 0.8 * np.sin(k * x0) / k
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.2), sharex=True, gridspec_kw={"height_ratios": [1.2, 1]})
    top.scatter(x, y0, s=1.5, color="0.2")
    top.set_yticks([])
    top.set_ylabel("air")
    top.set_title(f"A {freq:g} Hz tone in air: compressions and rarefactions (wavelength {wavelength:.2f} m)")
    xs = np.linspace(0, length, 1000)
    p = pressure_pa * np.cos(k * xs)
    bottom.plot(xs, p, color="C3")
    bottom.axhline(0, color="0.5", linewidth=0.8)
    bottom.set_xlabel("distance (m)")
    bottom.set_ylabel("pressure change (Pa)")
    bottom.set_xlim(0, length)
    bottom.annotate("", xy=(wavelength, 1.15 * pressure_pa), xytext=(0, 1.15 * pressure_pa), arrowprops={"arrowstyle": "<->"})
    bottom.text(wavelength / 2, 1.22 * pressure_pa, f"wavelength = c / f = {wavelength:.2f} m", ha="center", va="bottom")
    bottom.set_ylim(-1.5 * pressure_pa, 1.6 * pressure_pa)
    fig.tight_layout()
    return fig


def plot_tone_anatomy(freq: float = 220.0, amplitude: float = 0.8, periods: float = 3.0, ax: plt.Axes | None = None) -> plt.Axes:
    """A sine tone over a few periods with its amplitude and one period marked (time in ms).

    Taught in ``01_sound_and_sampling``.
    """
    ax = ax or plt.gca()
    period = 1.0 / freq
    duration = periods * period
    t = time_axis(n_samples(duration, ANALOG_SR), ANALOG_SR)
    y = amplitude * np.sin(2 * np.pi * freq * t)
    ax.plot(1000 * t, y, color="C0")
    ax.axhline(0, color="0.6", linewidth=0.8)
    peak1 = 0.25 * period
    peak2 = 1.25 * period
    ax.annotate("", xy=(1000 * peak2, amplitude * 1.08), xytext=(1000 * peak1, amplitude * 1.08), arrowprops={"arrowstyle": "<->", "color": "C3"})
    ax.text(1000 * (peak1 + peak2) / 2, amplitude * 1.13, f"period T = {1000 * period:.2f} ms", ha="center", va="bottom", color="C3")
    xa = 1000 * 2.25 * period if periods >= 2.5 else 1000 * peak1
    ax.annotate("", xy=(xa, amplitude), xytext=(xa, 0), arrowprops={"arrowstyle": "<->", "color": "C2"})
    ax.text(xa + 1000 * 0.04 * period, amplitude / 2, f"amplitude A = {amplitude:g}", color="C2", va="center")
    ax.set_xlim(0, 1000 * duration)
    ax.set_ylim(-1.05 * amplitude - 0.05, 1.45 * amplitude)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("amplitude (full scale)")
    ax.set_title(f"A {freq:g} Hz tone: f = 1 / T = 1 / {1000 * period:.2f} ms")
    return ax


def plot_sampling(freq: float, rate: float, ax: plt.Axes | None = None, window: float | None = None, start: float = 0.05) -> plt.Axes:
    """A tone (thin line), its samples at ``rate`` Hz (dots) and the curve a converter rebuilds.

    ``window`` (s, default: 4 periods of the slower of the tone and its alias, between 5 and
    60 sample intervals) is drawn from ``start`` s on; the rebuilt curve (dashed) is the
    band-limited interpolation of :func:`sinc_reconstruct`, a tone at :func:`alias_frequency`.

    Used by :func:`aliasing_explorer` (``01_sound_and_sampling``).
    """
    ax = ax or plt.gca()
    alias = alias_frequency(freq, rate)
    if window is None:
        slow = min(f for f in (freq, alias, rate / 2) if f > 0)
        window = float(np.clip(4.0 / slow, 5.0 / rate, 60.0 / rate))
    margin = 200.0 / rate  # samples on both sides, so that the interpolation is exact enough
    n_fine = int(np.clip(30 * freq * window, 2000, 20000))  # about 30 points per period of the tone
    t_fine = np.linspace(start, start + window, n_fine)
    n0 = int(np.floor((start - margin) * rate))
    n = np.arange(max(n0, 0), int(np.ceil((start + window + margin) * rate)) + 1)
    ts = n / rate
    xs = np.sin(2 * np.pi * freq * ts)
    rebuilt = sinc_reconstruct(xs, rate, t_fine, t0=ts[0])
    inside = (ts >= start) & (ts <= start + window)
    ms = 1000.0
    ax.plot(ms * t_fine, np.sin(2 * np.pi * freq * t_fine), color="0.55", linewidth=0.9, label=f"tone, {freq:g} Hz")
    ax.plot(ms * t_fine, rebuilt, "--", color="C3", linewidth=1.4, label=f"rebuilt from the samples, {alias:g} Hz")
    ax.plot(ms * ts[inside], xs[inside], "o", color="C0", markersize=4, label=f"samples, {rate:g} Hz")
    ax.vlines(ms * ts[inside], 0, xs[inside], color="C0", linewidth=0.6)
    ax.set_xlim(ms * start, ms * (start + window))
    ax.set_ylim(-1.25, 1.6)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("amplitude (full scale)")
    verdict = "below the Nyquist limit: kept" if freq < rate / 2 else "above the Nyquist limit: ALIASED"
    ax.set_title(f"{freq:g} Hz sampled at {rate:g} Hz (Nyquist {rate / 2:g} Hz), {verdict}")
    ax.legend(loc="upper right", ncol=3, fontsize=8, frameon=False)
    return ax


def plot_folding(rate: float, freq: float | None = None, fmax: float | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """The frequency heard after sampling at ``rate``, for every input frequency up to ``fmax``.

    The zig-zag "folds" the frequency axis at multiples of ``rate / 2``; ``freq`` is marked.

    Used by :func:`aliasing_explorer` (``01_sound_and_sampling``).
    """
    ax = ax or plt.gca()
    fmax = fmax or 2.5 * rate
    f = np.linspace(0, fmax, 2001)
    ax.plot(f, alias_frequency(f, rate), color="C0")
    for k in range(1, int(fmax // (rate / 2)) + 1):
        ax.axvline(k * rate / 2, color="0.8", linewidth=0.8, zorder=0)
    ax.axhline(rate / 2, color="C1", linestyle=":", label=f"Nyquist limit {rate / 2:g} Hz")
    if freq is not None:
        a = alias_frequency(freq, rate)
        ax.plot([freq], [a], "o", color="C3", label=f"{freq:g} Hz is heard at {a:g} Hz")
    ax.set_xlim(0, fmax)
    ax.set_ylim(0, rate / 2 * 1.25)
    ax.set_xlabel("frequency of the tone (Hz)")
    ax.set_ylabel("frequency after sampling (Hz)")
    ax.set_title(f"Folding at a sample rate of {rate:g} Hz")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return ax


def aliasing_explorer(freq: float = 3000.0, rate: float = 4000.0, seconds: float = 1.0, level: float = 0.3, players: bool = True) -> plt.Figure:
    """Sample a tone of ``freq`` Hz at ``rate`` Hz: draw it, fold it, and play both versions.

    The function behind the notebook's ``ipywidgets.interact`` sliders; called directly it
    draws the same figure once. The first player is the tone itself, the second what the
    samples sound like when a sound card rebuilds them (:func:`to_rate`), i.e. the alias.

    Taught in ``01_sound_and_sampling``.
    """
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 3.4), gridspec_kw={"width_ratios": [1.7, 1]})
    plot_sampling(freq, rate, ax=a)
    plot_folding(rate, freq=freq, fmax=max(2.5 * rate, 1.1 * freq), ax=b)
    fig.tight_layout()
    plt.show()
    if players:
        original = fade(tone(freq, seconds, PLAYBACK_SR, amplitude=level), PLAYBACK_SR)
        _, samples = sample_tone(freq, rate, seconds, amplitude=level)
        heard = fade(to_rate(samples, rate, PLAYBACK_SR), PLAYBACK_SR)
        play(original, PLAYBACK_SR, f"the tone, {freq:g} Hz")
        play(heard, PLAYBACK_SR, f"sampled at {rate:g} Hz and played back: {alias_frequency(freq, rate):g} Hz")
    return fig


def plot_quantization(bits: int = 3, freq: float = 50.0, periods: float = 1.0, amplitude: float | None = None, axes=None) -> plt.Figure:
    """A sine, its ``bits``-bit version (steps) and the rounding error, with the levels drawn.

    ``amplitude`` defaults to the largest positive level of ``bits``-bit PCM, ``1 - q``, so that
    the sine is never clipped and the error stays within half a step.

    Taught in ``01_sound_and_sampling``.
    """
    if axes is None:
        fig, axes = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    else:
        fig = axes[0].figure
    top, bottom = axes
    sr = 4000
    t = time_axis(n_samples(periods / freq, sr), sr)
    step = quantization_step(bits)
    amplitude = 1 - step if amplitude is None else amplitude
    y = amplitude * np.sin(2 * np.pi * freq * t)
    q = quantize(y, bits)
    for level in np.arange(-1, 1, step):
        top.axhline(level, color="0.88", linewidth=0.7, zorder=0)
    top.plot(1000 * t, y, color="0.4", linewidth=1, label="original")
    top.step(1000 * t, q, where="mid", color="C0", label=f"{bits}-bit: {quantization_levels(bits)} levels")
    top.set_ylabel("amplitude (full scale)")
    top.set_ylim(-1.1, 1.1)
    top.set_title(f"Quantisation to {bits} bits: step $q = 2 / 2^{{{bits}}} = {step:g}$ (grey lines: the levels)")
    top.legend(loc="upper right", fontsize=8)
    bottom.plot(1000 * t, q - y, color="C3")
    bottom.axhline(step / 2, color="C3", linestyle=":", linewidth=0.8)
    bottom.axhline(-step / 2, color="C3", linestyle=":", linewidth=0.8)
    bottom.set_ylabel("error (full scale)")
    bottom.set_ylim(-0.75 * step, 0.75 * step)
    bottom.set_xlabel("time (ms)")
    bottom.set_xlim(0, 1000 * t[-1])
    bottom.set_title("Quantisation error: between -q/2 and +q/2 (dotted)")
    fig.tight_layout()
    return fig


def plot_clip_silence(y: np.ndarray, sr: float, facts: dict, ax: plt.Axes | None = None, title: str | None = None) -> plt.Axes:
    """A clip's waveform with its silent head and tail (from :func:`describe_clip`) shaded.

    Taught in ``01_sound_and_sampling``.
    """
    ax = ax or plt.gca()
    t = time_axis(len(y), sr)
    ax.plot(t, y, linewidth=0.5, color="C0")
    head = facts["silence before (s)"]
    tail_start = len(y) / sr - facts["silence after (s)"]
    ax.axvspan(0, head, color="0.85", label=f"silence before: {head:.2f} s")
    ax.axvspan(tail_start, len(y) / sr, color="0.7", label=f"silence after: {facts['silence after (s)']:.2f} s")
    ax.set_xlim(0, len(y) / sr)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude (full scale)")
    ax.set_title(title or facts["file"])
    ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_sweep_aliasing(sweep: np.ndarray, sr: int, factor: int, fmin: float, fmax: float, n_fft: int = 512) -> plt.Figure:
    """Spectrograms of a linear sweep ``fmin -> fmax`` Hz: as recorded, sampled naively, resampled.

    The middle panel keeps every ``factor``-th sample (:func:`decimate_naive`): the sweep
    folds at the new Nyquist limit, exactly where :func:`alias_frequency` predicts (dashed).
    The right panel uses :func:`to_rate`, whose filter removes what cannot be kept.

    Taught in ``01_sound_and_sampling``.
    """
    rate = sr // factor
    versions = [
        (f"recorded at {sr / 1000:g} kHz", sweep, sr),
        (f"every {factor}th sample: {rate / 1000:g} kHz, no filter", decimate_naive(sweep, factor), rate),
        (f"resampled to {rate / 1000:g} kHz with a filter", to_rate(sweep, sr, rate), rate),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), sharey=True, layout="constrained")
    duration = len(sweep) / sr
    for ax, (title, y, r) in zip(axes, versions):
        n = max(64, n_fft * r // sr)  # frames of the same duration at every rate
        S_db = librosa.amplitude_to_db(np.abs(librosa.stft(np.asarray(y, dtype=float), n_fft=n, hop_length=n // 4)), ref=np.max, top_db=80)
        img = librosa.display.specshow(S_db, sr=r, hop_length=n // 4, x_axis="time", y_axis="linear", ax=ax, cmap="magma")
        ax.axhline(r / 2, color="w", linestyle=":", linewidth=1)
        if r < sr:
            ax.set_facecolor("0.85")
            ax.text(duration / 2, (r / 2 + min(sr / 2, 1.05 * fmax)) / 2, f"above {r / 2:g} Hz:\nnothing can be stored", ha="center", va="center", color="0.3")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, duration)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)" if ax is axes[0] else "")
    t = np.linspace(0, duration, 400)
    axes[1].plot(t, alias_frequency(fmin + (fmax - fmin) * t / duration, rate), "--", color="cyan", linewidth=1.3, dashes=(3, 3), label="alias by formula")
    axes[1].legend(loc="upper right", fontsize=8, framealpha=0.9)
    axes[0].set_ylim(0, sr / 2 if fmax > sr / 2 else 1.05 * fmax)
    fig.colorbar(img, ax=axes, format="%+2.0f dB", label="level (dB)", fraction=0.03, pad=0.01)
    return fig


def plot_samples_zoom(pcm: np.ndarray, sr: int, center: float, ms: float = 4.0, ax: plt.Axes | None = None) -> plt.Axes:
    """A few milliseconds of a file around ``center`` (s): every sample as the integer it is stored as.

    Taught in ``01_sound_and_sampling``.
    """
    ax = ax or plt.gca()
    c = int(round(center * sr))
    half = int(round(ms / 2000 * sr))
    lo, hi = max(c - half, 0), min(c + half, len(pcm))
    t = 1000 * time_axis(len(pcm), sr)[lo:hi]
    v = pcm[lo:hi].astype(int)
    ax.plot(t, v, color="0.7", linewidth=0.8, zorder=0)
    ax.vlines(t, 0, v, color="C0", linewidth=0.6)
    ax.plot(t, v, "o", color="C0", markersize=3)
    ax.axhline(0, color="0.5", linewidth=0.6)
    ax.set_xlim(t[0], t[-1])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("stored value (integer)")
    ax.secondary_yaxis("right", functions=(lambda v: v / 32768, lambda v: v * 32768)).set_ylabel("full scale (value / 32768)")
    ax.set_title(f"{ms:g} ms = {hi - lo} samples at {sr} Hz, each one 16-bit integer")
    return ax


def show_tones(examples: list[tuple[str, np.ndarray]], sr: float, ms: float = 10.0, ylim: float = 1.0) -> plt.Figure:
    """The first ``ms`` milliseconds of each (label, signal) on shared axes, then a player for each.

    Players keep the level of each signal (see :func:`play`): softer tones sound softer.

    Taught in ``01_sound_and_sampling``.
    """
    fig, axes = plt.subplots(len(examples), 1, figsize=(9, 1.3 + 1.1 * len(examples)), sharex=True, sharey=True, squeeze=False)
    n = n_samples(ms / 1000, sr)
    for ax, (label, y) in zip(axes[:, 0], examples):
        ax.plot(1000 * time_axis(n, sr), y[:n], linewidth=1)
        ax.set_ylim(-ylim, ylim)
        ax.set_ylabel("amplitude")
        ax.set_title(label, fontsize=10)
    axes[-1, 0].set_xlabel("time (ms)")
    axes[-1, 0].set_xlim(0, ms)
    fig.tight_layout()
    plt.show()
    for label, y in examples:
        play(fade(y, sr), sr, label)
    return fig
