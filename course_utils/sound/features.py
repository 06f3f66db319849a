"""Log-Mel spectrogram images and the on-disk feature cache.

Taught in ``04_mel_scale`` (the log-Mel spectrogram, :func:`log_mel`) and ``06_preprocessing``
(trimming, one common length, 256 x 256 grayscale images in [0, 1], the cache); every later
chapter that learns from these images reads them with :func:`compute_images`.

The recipe follows the study: every clip is loaded at the course sample rate, its silent head
and tail are cut, it is centred in one common length, turned into a log-Mel spectrogram and
scaled to a one-channel image with pixels in [0, 1]. Images are computed once per
(dataset, file list, parameters) and cached on disk; a cache file is written to a temporary
name and renamed, so an interrupted run never leaves a half-written cache behind.
:func:`image_to_audio` goes back from an image to a sound one can listen to (taught in
``10_augmentation`` and ``12_autoencoder``), and :func:`speaker_standardise` describes every
clip relative to its speaker's usual voice (taught in ``17_new_voices``).

A pixel is a level in dB relative to the clip's loudest bin, scaled over ``R = db_range``
(80 dB) to [0, 1]:

.. math::

   p = \\operatorname{clip}\\bigl((L + R) / R,\\ 0,\\ 1\\bigr), \\qquad
   L = 10 \\log_{10}\\bigl(M / \\max M\\bigr)\\ \\text{dB},

where :math:`M` is the Mel power spectrogram. The intuition: the image shows where in time and
where on the (Mel) frequency axis a clip's energy lies, relative to its own loudest moment, so
that a network sees the shape of the sound rather than how loud it happened to be recorded.

================================  ====================================================
helper                            what it does
================================  ====================================================
:class:`FeatureConfig`            every parameter of the recipe; its hash keys the cache
:func:`log_mel`                   log-Mel spectrogram in dB re the clip's loudest bin
:func:`to_image`                  dB -> pixels in [0, 1], resized
:func:`signal_image`              the recipe for a loaded signal; :func:`clip_image`
                                  for a file
:func:`compute_images`            the images of a whole table, cached (:func:`cache_path`)
:func:`image_to_audio`            listen to an image (Griffin-Lim phase estimate)
:func:`speaker_standardise`       per-speaker standardisation of features or images
================================  ====================================================
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from PIL import Image

from course_utils.base import jupyter
from course_utils.base.errors import InputError
from course_utils.data import audio, cache

#: Bump when the recipe changes, so that old cache files are not reused.
FEATURE_VERSION = 1


# --------------------------------------------------------------------------------------
# The recipe
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureConfig:
    """Every parameter of the log-Mel image recipe (the cache key is derived from it).

    ``n_mels=None`` uses as many Mel bands as the image has rows.

    Taught in ``06_preprocessing``; ``04_mel_scale`` and the chapters after ``06_preprocessing``
    make or read their images with it.
    """

    sample_rate: int = audio.COURSE_SR
    duration: float = 2.5  # s; on real RAVDESS 95 % of clips are shorter once trimmed at 30 dB
    trim_top_db: float = 30.0
    n_fft: int = 2048
    hop_length: int = 256
    n_mels: int | None = None
    fmin: float = 0.0
    fmax: float | None = None
    db_range: float = 80.0
    image_size: tuple[int, int] = field(default=(256, 256))

    @property
    def mels(self) -> int:
        return self.n_mels or self.image_size[0]

    def key(self) -> str:
        """A short hash of the recipe."""
        blob = json.dumps({**asdict(self), "version": FEATURE_VERSION}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


def log_mel(y: np.ndarray, sr: int, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Log-Mel spectrogram in dB relative to the clip's loudest bin: shape (n_mels, frames).

    Values lie in ``[-config.db_range, 0]``.

    Taught in ``04_mel_scale`` and ``06_preprocessing``; ``11_transfer_vgg16`` calls it too, and
    the waveform augmentations of ``10_augmentation`` build their images with it.
    """
    S = librosa.feature.melspectrogram(
        y=y,
        sr=sr,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_mels=config.mels,
        fmin=config.fmin,
        fmax=config.fmax,
        power=2.0,
    )
    return librosa.power_to_db(S, ref=np.max, top_db=config.db_range).astype(np.float32)


def to_image(S_db: np.ndarray, size: tuple[int, int], db_range: float = 80.0) -> np.ndarray:
    """Scale a dB spectrogram to [0, 1] (0 = ``-db_range`` dB, 1 = the loudest bin) and resize.

    Row 0 is the lowest Mel band (draw with ``origin="lower"``). Resizing is bilinear.

    Taught in ``06_preprocessing``; ``11_transfer_vgg16`` calls it too, and
    :func:`course_utils.sound.mel.image_steps` (``04_mel_scale``), the waveform augmentations of
    ``10_augmentation`` and the images of ``14_raw_waveform`` use it.
    """
    img = np.clip((S_db + db_range) / db_range, 0.0, 1.0).astype(np.float32)
    height, width = size
    if img.shape != (height, width):
        img = np.asarray(Image.fromarray(img).resize((width, height), Image.BILINEAR))
        img = np.clip(img, 0.0, 1.0)
    return img.astype(np.float32)


#: The peak amplitude below which a signal counts as silent: -100 dBFS, below the noise floor of
#: any 16-bit recording (about -96 dBFS); :func:`signal_image` refuses it.
SILENCE_PEAK = 1e-5


def signal_image(y: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The recipe for a sound already loaded at ``config.sample_rate``: trim, fix length,
    log-Mel, image. Shape (H, W). What :func:`clip_image` does after loading a file.

    An empty signal, one with samples that are not finite (NaN, infinity) or a silent one (peak
    below :data:`SILENCE_PEAK`, -100 dBFS) raises :class:`course_utils.base.errors.InputError`: its
    image would be uniform (every pixel 1.0, since the image is scaled to its loudest bin) and
    look like data. Used by :func:`clip_image` (``06_preprocessing``) and by
    :func:`course_utils.learning.classify.image_featurizer` (``16_better_emotion_model``, for
    recorded clips).
    """
    y = np.asarray(y)
    if y.size == 0:
        raise InputError("the signal is empty (0 samples): there is nothing to make an image of. "
                         "Fix: check the file or the recording (audio.load_audio returns what the file holds)")
    if not np.all(np.isfinite(y)):
        bad = int(np.size(y) - np.count_nonzero(np.isfinite(y)))
        raise InputError(f"{bad} of {y.size} samples are not finite (NaN or infinity): the file is damaged. "
                         "Fix: re-export or re-record it, or remove it from the corpus")
    peak = float(np.max(np.abs(y)))
    if peak < SILENCE_PEAK:
        level = "digital silence, every sample 0" if peak == 0 else f"peak {20 * np.log10(peak):.0f} dBFS"
        raise InputError(f"the signal is silent ({level}): its log-Mel image would be uniform. "
                         "Fix: check the microphone or the file; a clip needs sound above -100 dBFS")
    y = audio.preprocess(y, config.sample_rate, config.duration, top_db=config.trim_top_db)
    return to_image(log_mel(y, config.sample_rate, config), config.image_size, config.db_range)


def clip_image(path: str | Path, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The full recipe for one file: load, trim, fix length, log-Mel, image. Shape (H, W).
    A file the recipe cannot use raises :class:`course_utils.base.errors.InputError` naming it.
    Taught in ``06_preprocessing``; ``04_mel_scale`` and ``08_cnn_binary`` call it too."""
    y, _ = audio.load_audio(path, sr=config.sample_rate)
    try:
        return signal_image(y, config)
    except InputError as err:
        raise InputError(f"{path}: {err}") from None


# --------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------
def cache_path(meta: pd.DataFrame, config: FeatureConfig, dataset: str, cache_dir: str | Path | None = None) -> Path:
    """Where the images of these files under this recipe are cached.

    The name holds the dataset, the recipe hash and a fingerprint of the file list (names,
    sizes, modification times: :func:`course_utils.base.paths.files_fingerprint`), so a different
    subset or a replaced file gets its own cache entry.

    Taught in ``06_preprocessing``; :mod:`course_utils.learning.pipeline` names its folders
    after it.
    """
    return cache.entry_path(f"logmel-{dataset}-{config.key()}", meta["path"], cache_dir=cache_dir)


def compute_images(
    meta: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),
    *,
    dataset: str = "data",
    cache_dir: str | Path | None = None,
    n_jobs: int = -1,
    progress: bool = True,
) -> np.ndarray:
    """Log-Mel images of every row of ``meta`` (column ``path``): array (N, H, W), float32.

    Loaded from the cache when it holds them; otherwise computed in parallel (``n_jobs``
    processes, all cores by default) with a progress bar, and cached atomically. A damaged
    cache entry is reported in one line and computed again (:func:`course_utils.data.cache.cached`).
    Taught in ``06_preprocessing``; ``05_eda``, ``07_classical_baseline`` to ``13_multitask`` (that
    one through :mod:`course_utils.learning.multitask`) and ``15_uncertainty`` to
    ``17_new_voices`` read their images with it.
    """
    target = cache_path(meta, config, dataset, cache_dir)
    names = [Path(p).name for p in meta["path"]]

    def build() -> dict:

        files = list(meta["path"])
        jobs = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(clip_image)(p, config) for p in files)
        bar = jupyter.progress(jobs, total=len(files), desc="log-Mel images", unit="file", disable=not progress)
        return {"images": np.stack(list(bar)).astype(np.float16), "filenames": np.array(names)}

    entry = cache.cached(target, build, what="log-Mel image", names=names,
                         check=cache.shape_check("images", (len(names), *config.image_size)))
    return entry["images"].astype(np.float32)


# --------------------------------------------------------------------------------------
# Listening to an image
# --------------------------------------------------------------------------------------
def image_to_audio(image: np.ndarray, config: FeatureConfig = FeatureConfig(), n_iter: int = 32) -> np.ndarray:
    """Listen to a log-Mel image: undo the scaling and resizing, estimate a phase, resynthesise.

    The image's pixels are levels in dB re the clip's loudest bin (0 = ``-db_range`` dB,
    1 = 0 dB), resized to ``config.image_size``. This resizes back to the Mel bands and frames
    of ``config.duration`` s, converts to power, maps the Mel bands back to STFT bins
    with the pseudo-inverse of the Mel filter bank (``librosa.filters.mel``, ``numpy.linalg.pinv``,
    clipped at zero; ``librosa.feature.inverse.mel_to_stft`` solves the same problem with a
    non-negativity constraint but takes seconds per image) and estimates a phase with
    ``librosa.griffinlim`` (``n_iter`` iterations, seeded). The image holds no phase and no absolute level,
    so the result sounds rough even for a perfect image; compare images by resynthesising both
    (e.g. an input and its reconstruction, or an image before and after augmentation).
    Returns ``config.duration`` s at ``config.sample_rate``, peak 0.9.
    Taught in ``10_augmentation`` and ``12_autoencoder``.
    """
    img = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D (rows = Mel bands, columns = time), got {img.shape}")
    n_frames = 1 + int(round(config.duration * config.sample_rate)) // config.hop_length
    if img.shape != (config.mels, n_frames):
        img = np.asarray(Image.fromarray(img).resize((n_frames, config.mels), Image.BILINEAR))
    power = librosa.db_to_power(img * config.db_range - config.db_range)
    mel_basis = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.mels,
                                    fmin=config.fmin, fmax=config.fmax)
    magnitude = np.sqrt(np.maximum(np.linalg.pinv(mel_basis) @ power, 0.0))
    y = librosa.griffinlim(magnitude, n_iter=n_iter, hop_length=config.hop_length, random_state=0)
    y = audio.fix_length(y.astype(np.float32), int(round(config.duration * config.sample_rate)))
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return (0.9 * y / peak if peak > 0 else y).astype(np.float32)


# --------------------------------------------------------------------------------------
# Per-speaker standardisation
# --------------------------------------------------------------------------------------
def speaker_standardise(x: np.ndarray, speakers, eps: float = 1e-3) -> np.ndarray:
    """Standardise every speaker's clips with that speaker's own mean and standard deviation.

    ``x``: clip features (N, D), e.g. the clip statistics of chapter 07, or log-Mel images
    (N, H, W); ``speakers``: one speaker id per clip (the RAVDESS actor). For features, every
    column is standardised within each speaker over that speaker's clips (NaN, e.g. the f0 of an
    unvoiced clip, is ignored and kept); for images, every Mel band (row) within each speaker over
    the speaker's clips and frames. Returns a float32 copy.

    What it is: a speaker's voice (pitch, timbre, loudness, microphone distance) shifts all of its
    clips alike; subtracting the speaker's average leaves how each clip *differs* from that
    speaker's usual voice, which is what emotion changes. It uses no labels, but it needs a batch of
    the speaker's recordings (here all of them; in an application, a few minutes of the new
    speaker's unlabelled speech) before it can classify one of them. Taught in
    ``17_new_voices``.
    """
    x = np.asarray(x, dtype=np.float32)
    speakers = np.asarray(speakers)
    if x.ndim not in (2, 3) or len(x) != len(speakers):
        raise ValueError(f"x must be (N, D) features or (N, H, W) images with one speaker per clip: got {x.shape} for "
                         f"{len(speakers)} speaker ids")
    axes = (0,) if x.ndim == 2 else (0, 2)
    out = np.empty_like(x)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        part = x[rows]
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(part, axis=axes, keepdims=True)
            std = np.nanstd(part, axis=axes, keepdims=True)
        out[rows] = (part - np.nan_to_num(mean)) / (np.nan_to_num(std) + eps)
    return out
