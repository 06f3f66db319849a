"""Data augmentation for log-Mel images and for waveforms.

Taught in ``10_augmentation``; ``16_better_emotion_model`` trains with :class:`SpecAugment`, and
``14_raw_waveform`` and ``16_better_emotion_model`` read their trainings with
:func:`history_summary`.

Augmentation trains the network on changed copies of its training clips, changed in ways that
keep the label, so that it cannot learn a few hundred clips by heart and has to rely on what the
changes leave alone. The changes must be ones the label survives: a voice a semitone higher or a
little faster still says the same sentence with the same emotion; whether a change of the
*image* keeps the label is less obvious.

The study trained its emotion CNN with the image augmentation of Keras' image generator
(zoom 0.05, width and height shift 0.02) and gained 1.4 percentage points. A log-Mel image is
not a photograph, though: its vertical axis is frequency on the Mel scale, so moving or
stretching it changes the *sound* in ways no voice does. Moving an image up by :math:`b` rows
adds :math:`b\\,\\Delta m` Mel to every frequency, :math:`f' = \\text{mel}^{-1}(\\text{mel}(f) +
b\\,\\Delta m)` (:func:`mel_shift_hz`), while a real pitch shift of :math:`n` semitones multiplies
every frequency by :math:`2^{n/12}`: below 1 kHz, where the Mel scale is linear, the moved
harmonics are no longer multiples of their fundamental. This module holds three families of
augmentation, each the thin wrapper of a library that already implements it:

- :func:`study_image_augmentation`: the study's, as Keras preprocessing layers
  (``RandomZoom``, ``RandomTranslation``);
- :class:`SpecAugment`: time and frequency masking (Park et al., 2019) as a seeded,
  serialisable Keras layer that is active in training only;
- waveform augmentation (:func:`add_noise`, :func:`change_gain`, :func:`pitch_shift`,
  :func:`time_stretch`, :class:`WaveformAugmentation`, :func:`augment_waveform`): the sound is
  changed *before* the log-Mel image is computed (``librosa.effects``), so every change is one a
  microphone or a speaker could make. :func:`augmented_images` precomputes ``K`` augmented
  copies of every training clip (cached on disk) and :func:`versions_dataset` feeds one version
  per clip and epoch, so an epoch has as many batches as without augmentation.

:func:`with_augmentation` puts image augmentation layers in front of a model: Keras runs
them in ``fit`` only (``training=True``); ``predict``, ``evaluate`` and the validation pass
of ``fit`` see the images unchanged.

Also here: :func:`band_spacing_mel`, :func:`band_frequencies` and :func:`mel_shift_hz` (where a
:func:`history_summary` (reading a training's history; the standard error of an accuracy is
:func:`course_utils.learning.diagnosis.binomial_se`); and the chapter's figures, :func:`plot_images`,
:func:`plot_harmonics_after_shift`, :func:`show_waveform_and_image` and
:func:`plot_accuracy_curves`.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import librosa
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from IPython.display import Audio, display
from joblib import Parallel, delayed
from keras import layers, ops

from course_utils.base import jupyter
from course_utils.data import audio, cache
from course_utils.sound import features


# --------------------------------------------------------------------------------------
# Image augmentation: the study's, and how to put it in front of a model
# --------------------------------------------------------------------------------------
def study_image_augmentation(
    seed: int = 0,
    zoom: float = 0.05,
    shift: float = 0.02,
    fill_mode: str = "constant",
    fill_value: float = 0.0,
) -> keras.Sequential:
    """The study's image augmentation as Keras preprocessing layers.

    ``layers.RandomZoom(zoom)`` (one random factor in ``[1 - zoom, 1 + zoom]`` for both axes,
    about the image centre) followed by ``layers.RandomTranslation(shift, shift)`` (up to
    ``shift`` of the height along the Mel axis and of the width along time). At 256 x 256 the
    shift is up to 5 pixels (5 Mel bands, 49 ms) and the zoom up to 13 pixels at the edges.

    Fill mode: pixels that come from outside the image are set to ``fill_value`` = 0 by
    default (``fill_mode="constant"``). In the course's images 0 is -80 dB below the clip's
    loudest bin, the level of the silence that :func:`course_utils.data.audio.fix_length` pads
    with, so what enters from the left or right is the silence that is there anyway.
    Keras' default ``"reflect"`` would mirror the first syllable (or the lowest bands) into
    the gap, inventing speech that was never said; ``"nearest"`` (the default of the
    ``ImageDataGenerator`` the study used from R) repeats the edge column or row. At a
    shift of 5 pixels the choice matters little, but silence is the only fill that is a
    sound the recipe itself produces.

    The layers are active only when Keras calls them with ``training=True`` (inside
    ``fit``); in ``predict`` and ``evaluate`` they return the image unchanged. Each layer
    has its own seed (``seed`` and ``seed + 1``), so a rerun draws the same transforms.
    Taught in ``10_augmentation``.
    """
    seed = int(seed)
    return keras.Sequential(
        [
            layers.RandomZoom(zoom, fill_mode=fill_mode, fill_value=fill_value, seed=seed, name="zoom"),
            layers.RandomTranslation(shift, shift, fill_mode=fill_mode, fill_value=fill_value, seed=seed + 1, name="shift"),
        ],
        name="study_image_augmentation",
    )


@keras.saving.register_keras_serializable(package="course_utils")
class SpecAugment(layers.Layer):
    """Time and frequency masking of log-Mel images (Park et al., 2019), in training only.

    Input: images ``(batch, mel_bands, frames, channels)`` (row 0 = lowest Mel band, as the
    course's images). For every image independently:

    - ``freq_masks`` times: a width ``f`` is drawn uniformly from ``0 .. max_freq_width`` and a
      first band ``f0`` uniformly from ``0 .. bands - f``; bands ``f0 .. f0 + f - 1`` are masked;
    - ``time_masks`` times: the same along time with ``max_time_width`` frames (image columns).

    Masks may overlap; a width of 0 masks nothing. Masked pixels get the image's **mean**
    (``fill="mean"``, default) or its minimum (``fill="min"``, silence at -80 dB in the
    course's images). The mean is Park et al.'s choice (they set masked values to zero on
    features normalised to zero mean) and, for emotion, the safer one: loudness is an emotion
    cue, and a block of silence would make a masked clip look quieter than it was, while the
    mean hides what was there without moving the clip's level towards silence.

    The paper's third operation, time warping, is left out: its authors found it the least
    useful and the most expensive of the three.

    With ``training`` false (the default when called directly, and what Keras passes in
    ``predict``, ``evaluate`` and validation) the layer returns its input unchanged. The
    draws come from a ``keras.random.SeedGenerator(seed)``: the same seed gives the same masks
    on a rerun. Serialisable (``get_config``), so a model containing it saves and loads.
    Taught in ``10_augmentation``; used again by ``16_better_emotion_model`` and, inside
    :func:`course_utils.learning.emotion_net.run_experiment`, by ``17_new_voices``.
    """

    def __init__(
        self,
        freq_masks: int = 2,
        max_freq_width: int = 27,
        time_masks: int = 2,
        max_time_width: int = 25,
        fill: str = "mean",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if fill not in ("mean", "min"):
            raise ValueError(f"fill must be 'mean' or 'min', got {fill!r}")
        for name, value in (("freq_masks", freq_masks), ("max_freq_width", max_freq_width),
                            ("time_masks", time_masks), ("max_time_width", max_time_width)):
            if int(value) != value or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        self.freq_masks = int(freq_masks)
        self.max_freq_width = int(max_freq_width)
        self.time_masks = int(time_masks)
        self.max_time_width = int(max_time_width)
        self.fill = fill
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _bands(self, batch, length, max_width: int, count: int):
        """A boolean (batch, length) mask: the union of ``count`` random bands per row."""
        positions = ops.expand_dims(ops.arange(length, dtype="int32"), 0)  # (1, length)
        mask = ops.zeros((batch, length), dtype="bool")
        max_width = ops.minimum(max_width, length)
        for _ in range(count):
            width = ops.floor(keras.random.uniform((batch, 1), seed=self.seed_generator) * ops.cast(max_width + 1, "float32"))
            width = ops.cast(width, "int32")
            start = ops.floor(keras.random.uniform((batch, 1), seed=self.seed_generator) * ops.cast(length - width + 1, "float32"))
            start = ops.cast(start, "int32")
            mask = ops.logical_or(mask, ops.logical_and(positions >= start, positions < start + width))
        return mask

    def call(self, inputs, training=False):
        if not training or (self.freq_masks + self.time_masks) == 0:
            return inputs
        shape = ops.shape(inputs)
        batch, bands, frames = shape[0], shape[1], shape[2]
        if self.fill == "mean":
            value = ops.mean(inputs, axis=(1, 2, 3), keepdims=True)
        else:
            value = ops.min(inputs, axis=(1, 2, 3), keepdims=True)
        freq = self._bands(batch, bands, self.max_freq_width, self.freq_masks)  # (batch, bands)
        time = self._bands(batch, frames, self.max_time_width, self.time_masks)  # (batch, frames)
        mask = ops.logical_or(freq[:, :, None, None], time[:, None, :, None])
        return ops.where(mask, ops.cast(value, inputs.dtype), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "freq_masks": self.freq_masks,
            "max_freq_width": self.max_freq_width,
            "time_masks": self.time_masks,
            "max_time_width": self.max_time_width,
            "fill": self.fill,
            "seed": self.seed,
        }


def with_augmentation(model: keras.Model, *augmentations: layers.Layer, name: str | None = None) -> keras.Model:
    """``model`` with image augmentation layers in front: ``Input -> augmentations -> model``.

    The easy and safe way to augment images: the layers run inside the training step when
    Keras calls the model with ``training=True`` (``fit``) and are the identity in
    ``predict``, ``evaluate`` and the validation pass of ``fit``, so validation and test
    images are never augmented. The wrapped model shares the weights of ``model`` and adds
    no trainable parameters; compile it (``models.compile_for``) after wrapping.
    Without ``augmentations`` it returns ``model`` itself. Taught in ``10_augmentation``.
    """
    if not augmentations:
        return model
    return keras.Sequential(
        [keras.Input(shape=model.input_shape[1:], name="log_mel"), *augmentations, model],
        name=name or f"{model.name}_augmented",
    )


# --------------------------------------------------------------------------------------
# Where a shift along the Mel axis moves a frequency
# --------------------------------------------------------------------------------------
def band_spacing_mel(config: features.FeatureConfig = features.FeatureConfig()) -> float:
    """Distance between neighbouring Mel band centres of the recipe, in (Slaney) Mel.

    ``librosa.feature.melspectrogram`` spaces ``n_mels + 2`` points evenly on the Mel scale
    from ``fmin`` to ``fmax`` (``librosa.mel_frequencies``); band ``k`` is centred on point
    ``k + 1``. Taught in ``10_augmentation``.
    """
    fmax = config.fmax if config.fmax is not None else config.sample_rate / 2
    lo, hi = librosa.hz_to_mel([config.fmin, fmax])
    return float((hi - lo) / (config.mels + 1))


def band_frequencies(config: features.FeatureConfig = features.FeatureConfig()) -> np.ndarray:
    """Centre frequency (Hz) of every row of the recipe's image (row 0 = lowest band).

    Assumes one image row per Mel band (the course's recipe: ``n_mels`` = image height).
    Taught in ``10_augmentation``; used again by ``16_better_emotion_model``.
    """
    fmax = config.fmax if config.fmax is not None else config.sample_rate / 2
    return librosa.mel_frequencies(config.mels + 2, fmin=config.fmin, fmax=fmax)[1:-1]


def mel_shift_hz(freqs, bands: float, config: features.FeatureConfig = features.FeatureConfig()) -> np.ndarray:
    """Where moving an image up by ``bands`` rows sends each frequency in ``freqs`` (Hz).

    A vertical shift adds the same number of Mel to every frequency:
    ``f' = mel_to_hz(hz_to_mel(f) + bands * spacing)`` (librosa's Slaney Mel scale, the one
    the recipe uses: linear below 1 kHz, logarithmic above). Below 1 kHz that is the same
    offset in Hz for every frequency, above 1 kHz the same ratio. Taught in ``10_augmentation``.
    """
    m = librosa.hz_to_mel(np.asarray(freqs, dtype=float)) + bands * band_spacing_mel(config)
    return np.asarray(librosa.mel_to_hz(m), dtype=float)


# --------------------------------------------------------------------------------------
# Waveform augmentation: changes a microphone or a speaker could make
# --------------------------------------------------------------------------------------
def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator | int | None = None,
              signal_power: float | None = None) -> np.ndarray:
    """``y`` plus white Gaussian noise at a signal-to-noise ratio of ``snr_db`` dB.

    The noise power is ``P_s / 10^(snr_db / 10)`` where ``P_s`` is ``signal_power`` or, if
    not given, the mean power of ``y`` (pass the power of the speech alone when ``y`` holds
    padding). ``rng`` is a NumPy generator or a seed. Taught in ``10_augmentation``.
    """
    y = np.asarray(y, dtype=np.float32)
    rng = np.random.default_rng(rng)
    power = float(np.mean(y.astype(np.float64) ** 2)) if signal_power is None else float(signal_power)
    noise = rng.standard_normal(len(y)) * math.sqrt(power / 10.0 ** (snr_db / 10.0))
    return (y + noise).astype(np.float32)


def change_gain(y: np.ndarray, gain_db: float) -> np.ndarray:
    """``y`` times ``10^(gain_db / 20)``, clipped to full scale [-1, 1] as a recording would be.

    Note that the course's log-Mel images are measured relative to each clip's loudest bin
    (``ref=np.max``), so a gain alone leaves the image unchanged unless it clips.
    Taught in ``10_augmentation``.
    """
    return np.clip(np.asarray(y, dtype=np.float32) * 10.0 ** (gain_db / 20.0), -1.0, 1.0).astype(np.float32)


def pitch_shift(y: np.ndarray, sr: int, n_semitones: float) -> np.ndarray:
    """``librosa.effects.pitch_shift``: every frequency times ``2^(n / 12)``, same duration.

    (librosa stretches the time axis with a phase vocoder and resamples back.)
    Taught in ``10_augmentation``.
    """
    if n_semitones == 0:
        return np.asarray(y, dtype=np.float32)
    return librosa.effects.pitch_shift(np.asarray(y, dtype=np.float32), sr=sr, n_steps=float(n_semitones)).astype(np.float32)


def time_stretch(y: np.ndarray, rate: float) -> np.ndarray:
    """``librosa.effects.time_stretch``: ``rate`` > 1 speaks faster, < 1 slower; pitch kept.

    Taught in ``10_augmentation``.
    """
    if rate == 1:
        return np.asarray(y, dtype=np.float32)
    return librosa.effects.time_stretch(np.asarray(y, dtype=np.float32), rate=float(rate)).astype(np.float32)


@dataclass(frozen=True)
class WaveformAugmentation:
    """The ranges of the random waveform augmentation (part of the cache key).

    Each transform is used with probability ``probability`` (at least one per copy), its
    amount drawn uniformly from its range: ``semitones`` (pitch shift), ``rate`` (time
    stretch), ``gain_db`` and ``snr_db`` (added white noise). The defaults are small, of the
    order of how much one speaker varies from take to take: pitch and speaking rate are
    themselves emotion cues (sad speech is lower and slower, fearful speech higher and
    faster), so larger changes could change what a clip says about its emotion.
    Taught in ``10_augmentation``.
    """

    semitones: tuple[float, float] = (-1.5, 1.5)
    rate: tuple[float, float] = (0.9, 1.1)
    gain_db: tuple[float, float] = (-6.0, 6.0)
    snr_db: tuple[float, float] = (20.0, 40.0)
    probability: float = 0.5

    def draw(self, rng: np.random.Generator | int | None = None) -> dict:
        """One random combination: ``{"semitones", "rate", "gain_db", "snr_db", "noise_seed"}``.

        A transform that is not used gets its neutral value (0 semitones, rate 1, 0 dB gain,
        ``snr_db`` None = no noise). ``rng`` is a NumPy generator or a seed.
        """
        rng = np.random.default_rng(rng)
        names = ("semitones", "rate", "gain_db", "snr_db")
        use = rng.random(len(names)) < self.probability
        if not use.any():
            use[rng.integers(len(names))] = True
        amounts = {name: float(rng.uniform(*getattr(self, name))) for name in names}
        neutral = {"semitones": 0.0, "rate": 1.0, "gain_db": 0.0, "snr_db": None}
        params = {name: (amounts[name] if u else neutral[name]) for name, u in zip(names, use)}
        params["noise_seed"] = int(rng.integers(2**31))
        return params


def augment_waveform(y: np.ndarray, sr: int, params: dict, duration: float = 2.5, top_db: float = 30.0) -> np.ndarray:
    """Apply one combination (:meth:`WaveformAugmentation.draw`) to a loaded clip.

    The course's preprocessing with the augmentation inside it: trim the silence
    (:func:`course_utils.data.audio.trim_silence`), pitch shift, time stretch, gain, fit to the
    common length ``duration`` (:func:`course_utils.data.audio.fix_length`), then add noise over the
    whole clip at ``snr_db`` relative to the power of the trimmed speech (a missing key means
    no change). Returns the fixed-length signal. Taught in ``10_augmentation``.
    """
    speech, _ = audio.trim_silence(np.asarray(y, dtype=np.float32), top_db=top_db)
    speech = pitch_shift(speech, sr, params.get("semitones", 0.0))
    speech = time_stretch(speech, params.get("rate", 1.0))
    speech = change_gain(speech, params.get("gain_db", 0.0))
    out = audio.fix_length(speech, int(round(duration * sr)))
    if params.get("snr_db") is not None:
        power = float(np.mean(speech.astype(np.float64) ** 2))
        out = add_noise(out, params["snr_db"], params.get("noise_seed", 0), signal_power=power)
    return out.astype(np.float32)


def describe(params: dict) -> str:
    """A short description of one combination, naming only the transforms it uses, e.g.
    ``"pitch +0.8 st, stretch 0.93, noise at 27 dB SNR"`` (``"unchanged"`` if none).
    Used by ``10_augmentation`` to title its augmented clips."""
    parts = []
    if params.get("semitones", 0.0):
        parts.append(f"pitch {params['semitones']:+.1f} st")
    if params.get("rate", 1.0) != 1.0:
        parts.append(f"stretch {params['rate']:.2f}")
    if params.get("gain_db", 0.0):
        parts.append(f"gain {params['gain_db']:+.1f} dB")
    if params.get("snr_db") is not None:
        parts.append(f"noise at {params['snr_db']:.0f} dB SNR")
    return ", ".join(parts) or "unchanged"


def waveform_image(y: np.ndarray, sr: int, config: features.FeatureConfig = features.FeatureConfig()) -> np.ndarray:
    """The recipe's image of an already fixed-length signal (``features.log_mel`` + ``to_image``).

    Used by ``10_augmentation``, by :func:`augmented_images` and by :func:`show_waveform_and_image`.
    """
    return features.to_image(features.log_mel(y, sr, config), config.image_size, config.db_range)


# --------------------------------------------------------------------------------------
# Augmented copies, cached on disk, and one version per clip and epoch
# --------------------------------------------------------------------------------------
#: Bump when the waveform augmentation recipe changes, so that old caches are not reused.
AUGMENT_VERSION = 1


def copy_rng(filename: str, copy: int, seed: int) -> np.random.Generator:
    """The generator of copy ``copy`` of one file: the same for the same file name, whatever
    else is in the list (NumPy ``SeedSequence`` of seed, copy and a CRC of the name).
    Taught in ``10_augmentation``; used by :func:`augmented_images`."""
    return np.random.default_rng([int(seed), int(copy), zlib.crc32(Path(filename).name.encode())])


def _augmented_copies(path: str, config: features.FeatureConfig, settings: WaveformAugmentation,
                      copies: int, seed: int) -> np.ndarray:
    """``copies`` augmented images of one file, shape (copies, H, W)."""
    y, sr = audio.load_audio(path, sr=config.sample_rate)
    out = []
    for k in range(copies):
        params = settings.draw(copy_rng(path, k, seed))
        out.append(waveform_image(augment_waveform(y, sr, params, config.duration, config.trim_top_db), sr, config))
    return np.stack(out)


def cache_path(meta: pd.DataFrame, config: features.FeatureConfig, settings: WaveformAugmentation,
                         copies: int, seed: int, dataset: str, cache_dir: str | Path | None = None) -> Path:
    """Cache file of :func:`augmented_images`: named by the dataset, a fingerprint of the files
    (names, sizes, modification times) and of every setting (recipe, ranges, copies, seed).
    Used by ``10_augmentation`` (to say where its copies are cached) and by :func:`augmented_images`."""
    blob = json.dumps({"settings": asdict(settings), "version": AUGMENT_VERSION}, sort_keys=True)
    return cache.entry_path(f"wavaug-{dataset}-{config.key()}", meta["path"], config.key(),
                            hashlib.sha1(blob.encode()).hexdigest(), copies, seed, cache_dir=cache_dir,
                            count=f"{copies}x{len(meta)}")


def augmented_images(
    meta: pd.DataFrame,
    config: features.FeatureConfig = features.FeatureConfig(),
    settings: WaveformAugmentation = WaveformAugmentation(),
    *,
    copies: int = 1,
    seed: int = 0,
    dataset: str = "data",
    cache_dir: str | Path | None = None,
    n_jobs: int = -1,
    progress: bool = True,
) -> np.ndarray:
    """``copies`` waveform-augmented images of every row of ``meta``: array (copies, N, H, W),
    float16 (as stored in the cache; half the memory of float32, and the same values that
    :func:`versions_dataset` feeds).

    Pass the TRAINING clips only: validation and test clips must never be augmented. Copy
    ``k`` of a file uses the combination ``settings.draw(copy_rng(file, k, seed))``, so it is
    reproducible. Computed in ``n_jobs`` threads (joblib) with a progress bar and cached
    atomically under ``paths.cache_dir()`` (float16, as the feature cache); a later call with
    the same files and settings reads the cache. Taught in ``10_augmentation``.
    """
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    target = cache_path(meta, config, settings, copies, seed, dataset, cache_dir)
    names = [Path(p).name for p in meta["path"]]

    def build() -> dict:
        files = [str(p) for p in meta["path"]]
        # Threads, not processes: the work happens in NumPy, soxr and BLAS code that releases the
        # GIL, and a worker process would first have to import TensorFlow (this module imports
        # Keras), about 10 s per worker.
        jobs = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
            delayed(_augmented_copies)(p, config, settings, copies, seed) for p in files
        )
        per_file = list(jupyter.progress(jobs, total=len(files), desc="augmented copies", unit="file",
                                             disable=not progress))
        return {"images": np.stack(per_file, axis=1).astype(np.float16), "filenames": np.array(names)}  # (copies, N, H, W)

    entry = cache.cached(target, build, what="augmented-copies", names=names,
                         check=cache.shape_check("images", (copies, len(names), *config.image_size)))
    return entry["images"].astype(np.float16)


def versions_dataset(
    original: np.ndarray,
    copies: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int = 32,
    seed: int = 0,
    return_versions: bool = False,
) -> tf.data.Dataset:
    """A training ``tf.data.Dataset`` that shows every clip once per epoch, in one version.

    ``original`` (N, H, W) are the unaugmented training images, ``copies`` (K, N, H, W) their
    augmented versions (:func:`augmented_images`). Every epoch the clips are shuffled and,
    for each clip, one of its ``K + 1`` versions (the original or one of the copies) is drawn
    uniformly, both with ``seed`` (``Dataset.shuffle`` and ``Dataset.random`` redraw every
    epoch, reproducibly). An epoch therefore has ``ceil(N / batch_size)`` batches, exactly as
    many as ``pipeline.make_dataset(original, ...)``: augmentation at the same budget.
    Elements are ``(images (B, H, W, 1) float32, labels (B,))``; with ``return_versions`` a
    third tensor says which version each image is (0 = original, k = copy k), to inspect the
    draws. Taught in ``10_augmentation``.
    """
    original = np.asarray(original)
    copies = np.asarray(copies)
    labels = np.asarray(labels)
    if copies.ndim != 4 or original.ndim != 3 or copies.shape[1:] != original.shape:
        raise ValueError(f"copies must be (K, N, H, W) and original (N, H, W); got {copies.shape} and {original.shape}")
    if len(labels) != len(original):
        raise ValueError(f"{len(original)} images but {len(labels)} labels")
    bank = np.concatenate([original[None], copies]).astype(np.float16)  # (K + 1, N, H, W)
    n_versions, n, height, width = bank.shape
    order = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(order, draws).batch(batch_size)

    def lookup(index, draw):
        version = np.mod(draw, n_versions)
        return bank[version, index].astype(np.float32)[..., None], labels[index], version

    def load(index, draw):
        x, y, v = tf.numpy_function(lookup, [index, draw], [tf.float32, tf.as_dtype(labels.dtype), tf.int64],
                                    stateful=False)
        x.set_shape([None, height, width, 1])
        y.set_shape([None])
        v.set_shape([None])
        return (x, y, v) if return_versions else (x, y)

    return ds.map(load, num_parallel_calls=1, deterministic=True).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------------
# Reading the results
# --------------------------------------------------------------------------------------
def history_summary(history: pd.DataFrame) -> dict:
    """Best epoch, its training and validation accuracy, their gap and the seconds per epoch.

    ``history`` is what :func:`course_utils.learning.training.fit` returns. The gap (training minus
    validation accuracy at the best epoch) measures overfitting: large when the network
    knows its training clips much better than new ones. Training accuracy is measured with
    augmentation and dropout on, so augmentation lowers it a little by itself.
    Taught in ``10_augmentation``; used again by ``14_raw_waveform`` and ``16_better_emotion_model``.
    """
    best = int(history.attrs["best_epoch"])
    row = history.loc[history["epoch"] == best].iloc[0]
    return {
        "best_epoch": best,
        "train_accuracy": float(row["accuracy"]),
        "val_accuracy": float(row["val_accuracy"]),
        "gap": float(row["accuracy"] - row["val_accuracy"]),
        "seconds_per_epoch": float(history["seconds"].mean()),
    }


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def _hz_ticks(ax, config: features.FeatureConfig, height: int, fmax_shown: float | None = None) -> None:
    """Label the Mel axis of an image in Hz at a few round frequencies; with ``fmax_shown``
    show only the rows up to that frequency (finer ticks)."""
    centres = band_frequencies(config)
    rows = np.arange(len(centres)) * (height / len(centres)) + 0.5  # row centres in imshow's extent
    top = centres[-1] if fmax_shown is None else min(fmax_shown, centres[-1])
    candidates = (250, 500, 1000, 2000, 4000, 8000) if top > 2500 else (100, 200, 300, 500, 700, 1000, 1500, 2000)
    ticks = [f for f in candidates if centres[0] <= f <= top]
    ax.set_yticks(np.interp(ticks, centres, rows))
    ax.set_yticklabels([f"{f / 1000:g}k" if f >= 1000 else str(f) for f in ticks])
    if fmax_shown is not None:
        ax.set_ylim(0, float(np.interp(top, centres, rows)))
    ax.set_ylabel("frequency (Hz, Mel scale)")


def plot_images(images: dict, config: features.FeatureConfig = features.FeatureConfig(), *, ncols: int = 3,
                title: str | None = None, panel_size: tuple[float, float] = (4.2, 2.9),
                fmax_shown: float | None = None) -> plt.Figure:
    """Log-Mel images side by side (``{panel title: image (H, W)}``), on one colour scale.

    Time in seconds (the image covers ``config.duration``), frequency in Hz on the Mel axis,
    colour = level from 0 (-80 dB) to 1 (the clip's loudest bin). ``fmax_shown`` (Hz) shows
    only the bands up to that frequency, e.g. to see the harmonics of a voice.
    Taught in ``10_augmentation``; used again by ``16_better_emotion_model`` (also through
    :func:`course_utils.learning.emotion_net.plot_mixup_pair`).
    """
    n = len(images)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols + 1.0, panel_size[1] * nrows),
                             squeeze=False, constrained_layout=True)
    im = None
    for ax, (name, img) in zip(axes.flat, images.items()):
        img = np.asarray(img).squeeze()
        im = ax.imshow(img, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=1,
                       extent=(0, config.duration, 0, img.shape[0]))
        _hz_ticks(ax, config, img.shape[0], fmax_shown)
        ax.set_xlabel("time (s)")
        ax.set_title(name, fontsize=10)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.colorbar(im, ax=axes, label="level (0 = -80 dB, 1 = loudest)", shrink=0.9)
    if title:
        fig.suptitle(title)
    return fig


def plot_harmonics_after_shift(f0: float, bands: float, config: features.FeatureConfig = features.FeatureConfig(),
                               n_harmonics: int = 12, ax=None):
    """Harmonics ``k f0`` of a voice before and after a shift of ``bands`` rows along the Mel
    axis, next to a true pitch shift that moves ``f0`` to the same place.

    A real pitch change multiplies every harmonic by the same factor, so they stay on a
    straight line through the origin; a Mel shift adds the same number of Mel, which below
    1 kHz is the same number of Hz, so the shifted partials are no longer multiples of their
    fundamental. Returns the Axes. Taught in ``10_augmentation``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    k = np.arange(1, n_harmonics + 1)
    original = k * f0
    shifted = mel_shift_hz(original, bands, config)
    true_shift = k * shifted[0]
    ax.plot(k, original, "o-", label=f"original voice, f0 = {f0:.0f} Hz")
    ax.plot(k, shifted, "s-", label=f"image shifted up {bands:g} Mel bands")
    ax.plot(k, true_shift, "^--", label=f"real pitch shift to f0 = {shifted[0]:.0f} Hz")
    ax.set_xlabel("harmonic number k")
    ax.set_ylabel("frequency (Hz)")
    ax.set_xticks(k)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Where the harmonics of a voice end up")
    return ax


def show_waveform_and_image(y: np.ndarray, sr: int, config: features.FeatureConfig = features.FeatureConfig(),
                            title: str = "", image: np.ndarray | None = None) -> plt.Figure:
    """A (fixed-length) clip's waveform and its log-Mel image side by side, and a player below:
    see and hear one augmented clip. ``image`` defaults to :func:`waveform_image` of ``y``.
    The player keeps the clip's own level (a quieter copy sounds quieter).
    Taught in ``10_augmentation``."""
    image = waveform_image(y, sr, config) if image is None else image
    fig, (ax_w, ax_i) = plt.subplots(1, 2, figsize=(11, 2.6), gridspec_kw={"width_ratios": [1, 1.15]})
    t = np.arange(len(y)) / sr
    ax_w.plot(t, y, lw=0.5)
    ax_w.set_xlim(0, len(y) / sr)
    ax_w.set_ylim(-1, 1)
    ax_w.set_xlabel("time (s)")
    ax_w.set_ylabel("amplitude (full scale)")
    ax_w.set_title("waveform")
    im = ax_i.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=1,
                     extent=(0, config.duration, 0, image.shape[0]))
    _hz_ticks(ax_i, config, image.shape[0])
    ax_i.set_xlabel("time (s)")
    ax_i.set_title("log-Mel image (what the network sees)")
    fig.colorbar(im, ax=ax_i, label="level (0 = -80 dB, 1 = max)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()
    display(Audio(np.clip(y, -1, 1), rate=int(sr), normalize=False))
    return fig


def plot_accuracy_curves(histories: dict, title: str | None = None) -> plt.Figure:
    """Training and validation accuracy per epoch of several runs (``{name: fit history}``),
    each run's best epoch marked with a star. Taught in ``10_augmentation``."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        best = h.attrs.get("best_epoch")
        for ax, key in zip(axes, ("accuracy", "val_accuracy")):
            ax.plot(h["epoch"], h[key], "o-", color=color, lw=1.4, ms=2.5, label=name)
            if best is not None:
                ax.plot(best, h.loc[h["epoch"] == best, key].iloc[0], "*", color=color, ms=11)
    for ax, label in zip(axes, ("Training accuracy (augmented, dropout on)", "Validation accuracy")):
        ax.set_xlabel("Epoch")
        ax.set_ylabel("accuracy (fraction correct)")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[1].tick_params(labelleft=True)  # the shared scale, labelled on both panels
    axes[1].legend(title="augmentation (star: best epoch)", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
