"""Figures with labelled axes and units, and audio players beside them.

Used from ``00_getting_the_data`` on: a player (:func:`play`) in most chapters, a waveform with
its player below it (:func:`show_clip`) to introduce a clip, log-Mel images
(:func:`plot_log_mel`), and the Mel-band ticks in Hz (:func:`mel_ticks`) of the image figures of
other modules. The idea: a figure of sound needs units on both axes, and a player beside it,
because the ear checks what the eye sees.

================================  ====================================================
helper                            what it does
================================  ====================================================
:func:`plot_waveform`             time (s) against amplitude (full scale)
:func:`play`                      an audio player, normalised or at the signal's level
:func:`show_clip`                 a compact waveform with its player below
:func:`waveform_gallery`          one small waveform per clip, shared amplitude axis
:func:`plot_log_mel`              a log-Mel image with a colour bar in [0, 1]
:func:`mel_ticks`                 where given frequencies (Hz) lie on a log-Mel image
================================  ====================================================
"""

from __future__ import annotations

from typing import Sequence

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Audio, display


def plot_waveform(y: np.ndarray, sr: int, ax: plt.Axes | None = None, title: str | None = None) -> plt.Axes:
    """Draw a waveform: time in seconds against amplitude (full scale = 1).

    Used by ``02_spectrum`` and ``06_preprocessing``, by :func:`show_clip` and
    :func:`waveform_gallery`, and by
    :func:`course_utils.learning.uncertainty.plot_clip_with_probabilities` (``15_uncertainty``).
    """
    ax = ax or plt.gca()
    t = np.arange(len(y)) / sr
    ax.plot(t, y, linewidth=0.6)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude (full scale)")
    ax.set_xlim(0, len(y) / sr)
    if title:
        ax.set_title(title)
    return ax


def plot_log_mel(image: np.ndarray, ax: plt.Axes | None = None, title: str | None = None, duration: float | None = None):
    """Draw a log-Mel image (row 0 = lowest Mel band) with a colour bar in [0, 1].

    With ``duration`` (s) the x axis is labelled in seconds, otherwise in frames.

    Used by ``07_classical_baseline``, ``11_transfer_vgg16``, ``13_multitask`` and
    ``14_raw_waveform``.
    """
    ax = ax or plt.gca()
    extent = None if duration is None else (0, duration, 0, image.shape[0])
    im = ax.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=1, extent=extent)
    ax.set_xlabel("time (s)" if duration is not None else "frame")
    ax.set_ylabel("Mel band")
    if title:
        ax.set_title(title)
    plt.colorbar(im, ax=ax, label="level (0 = -80 dB, 1 = loudest)")
    return ax


def play(y: np.ndarray, sr: int, label: str | None = None, normalize: bool = True) -> None:
    """Show an audio player (and a label above it) in the notebook.

    ``normalize=True`` plays every clip at full scale; ``normalize=False`` keeps its own
    level (clipped to [-1, 1]), so that a softer signal *sounds* softer.

    Used by ``00_getting_the_data`` to ``06_preprocessing``, ``10_augmentation`` to
    ``12_autoencoder``, and ``14_raw_waveform`` to ``16_better_emotion_model``; also by
    :func:`show_clip` and by the players of :func:`course_utils.sound.signals.play`,
    :func:`course_utils.sound.eda.show_extreme` and
    :func:`course_utils.sound.mel.mel_bands_explorer`.
    """
    if label:
        print(label)
    if not normalize:
        y = np.clip(y, -1, 1)
    display(Audio(y, rate=int(sr), normalize=normalize))


def show_clip(y: np.ndarray, sr: int, title: str, ylim: float | None = 1.0) -> plt.Figure:
    """A compact waveform with its audio player right below it: see and hear one clip.

    ``ylim`` fixes the amplitude axis (default: full scale, so clips compare by loudness);
    ``None`` lets it fit the clip.

    Used by ``00_getting_the_data``, ``03_spectrogram``, ``07_classical_baseline`` to
    ``09_cnn_multiclass`` and ``12_autoencoder`` to ``14_raw_waveform``.
    """
    fig, ax = plt.subplots(figsize=(9, 1.8))
    plot_waveform(y, sr, ax=ax, title=title)
    if ylim is not None:
        ax.set_ylim(-ylim, ylim)
    fig.tight_layout()
    plt.show()
    play(y, sr, normalize=False)
    return fig


def waveform_gallery(clips: list[tuple[str, np.ndarray]], sr: int, ncols: int = 2) -> plt.Figure:
    """One small waveform per (title, signal) pair, on a shared amplitude axis.

    Used by ``14_raw_waveform``.
    """
    nrows = int(np.ceil(len(clips) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 2.2 * nrows), sharey=True, squeeze=False)
    for ax, (title, y) in zip(axes.flat, clips):
        plot_waveform(y, sr, ax=ax, title=title)
    for ax in list(axes.flat)[len(clips) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig



def mel_ticks(config, height: int, freqs: Sequence[float] = (125, 250, 500, 1000, 2000, 4000, 8000)):
    """Row positions and labels (Hz: ``"500"``, ``"2k"``) of ``freqs`` on a log-Mel image ``height``
    rows high, made with ``config`` (a :class:`course_utils.sound.features.FeatureConfig`: its Mel
    bands, ``fmin``, ``fmax``, rate). The frequencies outside the image's range are left out.
    ``ax.set_yticks(*mel_ticks(config, image.shape[0]))``.

    Used by the figures of log-Mel images with a frequency axis in Hz:
    :func:`course_utils.sound.eda.plot_mean_images` and
    :func:`course_utils.sound.eda.plot_differences` (``05_eda``),
    :func:`course_utils.learning.embeddings.plot_reconstructions` and
    :func:`course_utils.learning.embeddings.plot_error_profile` (``12_autoencoder``), and
    :func:`course_utils.learning.classify.plot_prediction` (``16_better_emotion_model``).
    """
    fmax = config.fmax or config.sample_rate / 2
    centres = librosa.mel_frequencies(n_mels=config.mels + 2, fmin=config.fmin, fmax=fmax)[1:-1]
    rows = np.arange(config.mels) * height / config.mels + 0.5 * height / config.mels
    keep = [f for f in freqs if centres[0] <= f <= centres[-1]]
    return np.interp(keep, centres, rows), [f"{f:g}" if f < 1000 else f"{f / 1000:g}k" for f in keep]
