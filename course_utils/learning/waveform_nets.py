"""CNNs on the raw waveform: the whole corpus in memory, M5, SampleCNN and what they learn.

Taught in ``14_raw_waveform``.

Every network before chapter 14 reads a log-Mel image, a picture of the sound that we designed
(a Fourier transform, a Mel filter bank, a logarithm). A raw-waveform network reads the samples
themselves, and its first convolution takes the place of that design: each of its filters is a
short FIR filter, :math:`y[n] = \\sum_i w_i\\, x[n + i]`, so the first layer is a filter bank
learned from the data. Whether that bank ends up Mel-like is what its frequency responses show
(:func:`filter_responses`).

The study could not try this: 1440 signals of about 20,000 samples exhausted R's memory. In
Python the trimmed, fixed-length clips of the whole corpus are one float32 array
(:func:`load_waveforms`, cached on disk like the log-Mel images of
:mod:`course_utils.sound.features`), and two classic 1-D CNNs learn from the samples themselves:

- :func:`m5`: Dai, Dai, Qu, Li & Das (2017), "Very deep convolutional neural networks for raw
  waveforms" (ICASSP): a first convolution with a wide kernel (80 samples, stride 4), then
  3-tap convolutions, batch normalisation, max pooling and global average pooling;
- :func:`samplecnn`: Lee, Park, Kim & Nam (2017), "Sample-level deep convolutional neural
  networks for music auto-tagging using raw waveforms" (SMC): 3-sample strided convolution,
  then blocks of 3-tap convolution and pooling by 3, so that an input of :math:`3^n` samples
  shrinks to one frame;

and, for a like-for-like comparison, :func:`logmel_compact` (a small 2-D CNN with the same
ingredients) on log-Mel images computed from the *same* in-memory signals
(:func:`log_mel_images`).

How much of the signal one output of a layer sees follows from the kernels :math:`k_l` and
strides :math:`s_l` of the layers below it: with :math:`r_0 = j_0 = 1`,
:math:`r_l = r_{l-1} + (k_l - 1)\\, j_{l-1}` input samples (the receptive field), and
neighbouring outputs are :math:`j_l = j_{l-1} s_l` samples apart (the hop). The sample rate
:math:`f_s` sets the trade-off: it keeps frequencies up to :math:`f_s / 2`, and the memory and
the multiply-adds of a clip grow with it (:func:`rate_table`; how much of a clip's energy lies
above a cut-off: :func:`course_utils.sound.spectrogram.band_energy_share`).

==============================  ==============================================================
helper                          what it does
==============================  ==============================================================
:func:`load_waveforms`          every clip trimmed and centred, one float32 array, cached
                                (:func:`load_clip` for one clip, :func:`cache_path` the entry)
:func:`memory_table`            how many MB arrays take, per number type
:func:`log_mel_images`          log-Mel images of the same in-memory signals
:func:`make_wave_dataset`       batches of ``(wave[:, None], label)`` for Keras
:func:`input_statistics`        mean and standard deviation of the training inputs
:func:`m5`, :func:`samplecnn`   the two raw-waveform networks
:func:`logmel_compact`          the 2-D reference network with the same ingredients
:func:`compile_model`           Adam and sparse categorical cross-entropy
:func:`receptive_field`         receptive field and hop of a chain of layers
:func:`layer_table`             what each layer of a 1-D network sees, and its parameters
:func:`multiply_adds`           what one clip costs in a forward pass
:func:`rate_table`              the sample-rate trade-off in numbers
:func:`first_kernel`            the first layer's filters
:func:`filter_responses`        their frequency responses, in dB (:func:`peak_frequencies`:
                                where each passes most)
==============================  ==============================================================

Figures: :func:`plot_receptive_fields` and :func:`plot_filter_responses` (what the first
layer learned, in Hz, next to Mel-spaced centres).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import librosa
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from matplotlib.ticker import FuncFormatter

from course_utils.base import jupyter
from course_utils.data import audio, cache
from course_utils.sound import features

if TYPE_CHECKING:  # pragma: no cover
    import keras
    import tensorflow as tf


def _keras():
    """Keras and its layers, imported on first use: the processes of :func:`load_waveforms`
    import this module to load audio and should not start TensorFlow for that."""
    import keras
    from keras import layers

    return keras, layers


#: Bump when the waveform recipe changes, so that old cache files are not reused.
WAVEFORM_VERSION = 1

#: Bytes per sample of the number types in :func:`memory_table`.
BYTES = {"float16": 2, "int16": 2, "float32": 4, "float64 (R's numeric)": 8}


# --------------------------------------------------------------------------------------
# The corpus in memory
# --------------------------------------------------------------------------------------
def load_clip(path: str | Path, sr: int, n_samples: int, top_db: float = 30.0) -> np.ndarray:
    """One clip as the networks see it: loaded at ``sr``, silence trimmed, centred in ``n_samples``.

    The same recipe as the log-Mel images (:func:`course_utils.data.audio.trim_silence`,
    :func:`course_utils.data.audio.fix_length`), but the length is given in samples (e.g.
    :math:`3^9` for :func:`samplecnn`). float32, shape (n_samples,). Taught in
    ``14_raw_waveform``.
    """
    y, sr = audio.load_audio(path, sr=sr)
    trimmed, _ = audio.trim_silence(y, top_db=top_db)
    return audio.fix_length(trimmed, int(n_samples)).astype(np.float32)


def cache_path(
    meta: pd.DataFrame, *, sr: int, n_samples: int, dataset: str, top_db: float = 30.0, cache_dir: str | Path | None = None
) -> Path:
    """Where :func:`load_waveforms` caches these files at this rate and length.

    The name holds the dataset, the rate, the length and a fingerprint of the file list and the
    recipe (:func:`course_utils.data.cache.entry_path`, built on
    :func:`course_utils.base.paths.files_fingerprint`: names, sizes, modification times), so that
    another subset, a replaced file or another setting gets its own entry. Taught in
    ``14_raw_waveform``.
    """
    return cache.entry_path(f"waves-{dataset}-{int(sr)}hz-{int(n_samples)}", meta["path"], sr, n_samples, top_db,
                            WAVEFORM_VERSION, cache_dir=cache_dir)


def load_waveforms(
    meta: pd.DataFrame,
    *,
    sr: int,
    n_samples: int,
    dataset: str = "data",
    top_db: float = 30.0,
    cache_dir: str | Path | None = None,
    n_jobs: int = -1,
    progress: bool = True,
) -> np.ndarray:
    """Every clip of ``meta`` (column ``path``) as one array (N, n_samples), float32.

    Read from the cache when it holds exactly these files; otherwise loaded with
    :func:`load_clip` in ``n_jobs`` processes (a progress bar) and written to the cache
    atomically; a damaged entry is reported and computed again
    (:func:`course_utils.data.cache.cached`). Taught in ``14_raw_waveform``; also warmed by
    ``python -m course_utils warm-cache`` (:mod:`course_utils.tools.warmup`).
    """
    target = cache_path(meta, sr=sr, n_samples=n_samples, dataset=dataset, top_db=top_db, cache_dir=cache_dir)
    names = [Path(p).name for p in meta["path"]]

    def build() -> dict:
        files = [str(p) for p in meta["path"]]
        jobs = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(load_clip)(p, sr, n_samples, top_db) for p in files)
        waves = np.stack(list(jupyter.progress(jobs, total=len(files), desc="waveforms", unit="file",
                                                   disable=not progress)))
        return {"waves": waves.astype(np.float32), "filenames": np.array(names)}

    entry = cache.cached(target, build, what="waveform", names=names, check=cache.shape_check("waves", (len(names), n_samples)))
    return entry["waves"].astype(np.float32)


def memory_table(rows: Iterable[tuple[str, Sequence[int], str]]) -> pd.DataFrame:
    """How much memory arrays take: one row per ``(what, shape, number type)``.

    The number type is a key of :data:`BYTES` (``"float32"``, ``"float64 (R's numeric)"``...).
    Columns: ``array``, ``shape``, ``values``, ``type``, ``bytes per value``, ``MB`` (10^6 bytes).
    Taught in ``14_raw_waveform``.
    """
    out = []
    for what, shape, dtype in rows:
        if dtype not in BYTES:
            raise KeyError(f"unknown number type {dtype!r}; known: {list(BYTES)}")
        n = int(np.prod(shape))
        out.append({"array": what, "shape": " x ".join(str(int(s)) for s in shape), "values": n, "type": dtype,
                    "bytes per value": BYTES[dtype], "MB": n * BYTES[dtype] / 1e6})
    return pd.DataFrame(out)


def log_mel_images(waves: np.ndarray, sr: int, *, n_fft: int = 512, hop_length: int = 128, n_mels: int = 64) -> np.ndarray:
    """Log-Mel images of in-memory signals (N, n_mels, frames) in [0, 1], the course's recipe.

    The recipe of :func:`course_utils.sound.features.log_mel` and
    :func:`course_utils.sound.features.to_image` (power Mel spectrogram, dB re each clip's
    loudest bin, an 80 dB range scaled to [0, 1]) at the natural size (no resizing), with Mel
    bands up to the Nyquist frequency ``sr / 2``; the spectrograms of all clips are computed
    in one call (``librosa.feature.melspectrogram`` on the 2-D array). Computing them
    from the same array as the waveform networks makes the comparison like for like: same rate,
    same trimming, same samples. Taught in ``14_raw_waveform``.
    """
    waves = np.atleast_2d(np.asarray(waves, dtype=np.float32))
    cfg = features.FeatureConfig(sample_rate=int(sr), n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmax=sr / 2)
    S = librosa.feature.melspectrogram(y=waves, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=cfg.fmin,
                                       fmax=cfg.fmax, power=2.0)
    out = []
    for s in S:
        s_db = librosa.power_to_db(s, ref=np.max, top_db=cfg.db_range)
        out.append(features.to_image(s_db, s_db.shape, cfg.db_range))
    return np.stack(out).astype(np.float32)


def make_wave_dataset(waves: np.ndarray, labels: np.ndarray, *, batch_size: int = 32, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of ``(wave[:, None], label)`` from in-memory arrays.

    The 1-D counterpart of :func:`course_utils.learning.pipeline.make_dataset`: (N, samples)
    signals get a channel axis, giving (batch, samples, 1); with ``shuffle`` the order changes
    every epoch, reproducibly for ``seed``. Taught in ``14_raw_waveform``.
    """
    import tensorflow as tf

    waves = np.asarray(waves, dtype=np.float32)
    if waves.ndim != 2:
        raise ValueError(f"waves must have shape (N, samples), got {waves.shape}")
    if len(labels) != len(waves):
        raise ValueError(f"{len(waves)} signals but {len(labels)} labels")
    ds = tf.data.Dataset.from_tensor_slices((waves[..., None], np.asarray(labels)))
    if shuffle:
        ds = ds.shuffle(len(waves), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------------
# The networks
# --------------------------------------------------------------------------------------
def _output(x, n_classes: int):
    _, layers = _keras()
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    return layers.Dense(n_classes, activation="softmax", name="output")(x)


#: Weight of the old value in batch normalisation's moving mean and variance (what prediction
#: uses). Keras' default 0.99 forgets the moving variance's start of 1 only as 0.99^n: about a
#: thousand steps for raw waveforms (some 30 epochs of a thousand clips). 0.9 (PyTorch's default,
#: written there as 0.1) follows within a few dozen steps, as in
#: :mod:`course_utils.learning.emotion_net` (chapter 16).
BN_MOMENTUM = 0.9


def _conv_block(x, filters: int, kernel: int, name: str, strides: int = 1, padding: str = "same",
                bn_momentum: float = BN_MOMENTUM):
    _, layers = _keras()
    x = layers.Conv1D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def input_statistics(x: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation over every value of the *training* inputs (waveforms or images).

    One pair of numbers for all clips, so that loudness differences between clips survive the
    scaling (statistics of validation or test clips would leak them into the model). Pass them
    as ``input_stats`` to :func:`m5`, :func:`samplecnn` or :func:`logmel_compact`. Taught in
    ``14_raw_waveform``.
    """
    x = np.asarray(x)
    if x.size == 0:
        raise ValueError("no training inputs: the split's training part is empty")
    mean, std = float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
    if not np.isfinite(std) or std <= 0:
        raise ValueError(f"the training inputs have standard deviation {std}: they are constant or not finite "
                         "(silent or damaged audio files?). Fix: check the clips with chapter 05's tables.")
    return mean, std


def _standardise(x, input_stats: tuple[float, float] | None):
    """``(x - mean) / std`` as the model's first layer (a ``Rescaling`` layer: no weights, so the
    parameter counts do not change); ``None``: ``x`` unchanged."""
    if input_stats is None:
        return x
    _, layers = _keras()
    mean, std = (float(v) for v in input_stats)
    if not np.isfinite(std) or std <= 0 or not np.isfinite(mean):
        raise ValueError(f"input_stats must be a finite (mean, std) with std > 0, got {tuple(input_stats)}")
    return layers.Rescaling(1.0 / std, offset=-mean / std, name="standardise")(x)


def m5(
    input_length: int,
    n_classes: int,
    *,
    width: int = 128,
    first_kernel: int = 80,
    first_stride: int = 4,
    pool: int = 4,
    input_stats: tuple[float, float] | None = None,
    seed: int | None = 0,
) -> keras.Model:
    """The M5 network of Dai et al. (2017) for raw waveforms (input: ``input_length`` samples, 1 channel).

    Conv1D ``width`` x ``first_kernel`` (stride ``first_stride``) -> MaxPool ``pool`` ->
    Conv1D ``width`` x 3 -> MaxPool -> Conv1D ``2 width`` x 3 -> MaxPool -> Conv1D ``4 width`` x 3
    -> MaxPool -> global average pooling -> Dense ``n_classes`` softmax; every convolution is
    followed by batch normalisation (momentum :data:`BN_MOMENTUM`) and ReLU ('same' padding, no
    bias: batch normalisation has its own). The paper's M5 has ``width=128`` (about 0.5
    million parameters) and an 80-sample first kernel at 8 kHz (10 ms). Softmax output also
    for two classes, so that every model of the chapter is compiled alike.

    ``input_stats``: the ``(mean, std)`` of the training signals (:func:`input_statistics`);
    the network then standardises its input first. Batch normalisation's moving variance (what
    prediction uses) starts at 1 and keeps :math:`m^n` of that start after :math:`n` steps
    (momentum :math:`m` = :data:`BN_MOMENTUM`). Raw amplitudes (standard deviation about 0.04)
    give the first convolution outputs a variance of about :math:`10^{-5}`: with Keras' default
    :math:`m = 0.99` the network would be normalised with a variance thousands of times too
    large for more than a thousand steps, and could give every clip the same class at
    prediction while its training accuracy rises. Taught in ``14_raw_waveform``.
    """
    keras, layers = _keras()
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    inputs = keras.Input(shape=(int(input_length), 1), name="waveform")
    x = _conv_block(_standardise(inputs, input_stats), width, first_kernel, "block1", strides=first_stride)
    x = layers.MaxPooling1D(pool, name="block1_pool")(x)
    for i, w in enumerate((width, 2 * width, 4 * width), start=2):
        x = _conv_block(x, w, 3, f"block{i}")
        x = layers.MaxPooling1D(pool, name=f"block{i}_pool")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inputs, _output(x, n_classes), name="m5")


def samplecnn(
    input_length: int,
    n_classes: int,
    *,
    channels: Sequence[int] = (32, 32, 32, 64, 64, 64, 64, 64, 128),
    dropout: float = 0.5,
    input_stats: tuple[float, float] | None = None,
    seed: int | None = 0,
) -> keras.Model:
    """A SampleCNN (Lee et al. 2017) for an input of :math:`3^n` samples.

    Conv1D ``channels[0]`` x 3, stride 3 (the "sample-level" front end: frames of 3 samples),
    then one block per further entry of ``channels``: Conv1D x 3 ('same') -> batch
    normalisation -> ReLU -> MaxPool 3. With ``len(channels) = n`` the input of :math:`3^n`
    samples shrinks to exactly one frame (the paper: :math:`3^{10} = 59049` samples at 22,050 Hz,
    channels 128 ... 512; here smaller by default, for a laptop); then dropout and Dense
    ``n_classes`` softmax. ``input_length`` must be a multiple of :math:`3^n`. ``input_stats``:
    as for :func:`m5`. Taught in ``14_raw_waveform``.
    """
    keras, layers = _keras()
    n = len(channels)
    if n < 2 or int(input_length) % 3**n:
        raise ValueError(f"input_length must be a multiple of 3^{n} = {3**n} for {n} layers, got {input_length}")
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    inputs = keras.Input(shape=(int(input_length), 1), name="waveform")
    x = _conv_block(_standardise(inputs, input_stats), channels[0], 3, "frame", strides=3, padding="valid")
    for i, c in enumerate(channels[1:], start=1):
        x = _conv_block(x, c, 3, f"block{i}")
        x = layers.MaxPooling1D(3, name=f"block{i}_pool")(x)
    x = layers.GlobalMaxPooling1D(name="gmp")(x)  # one frame left for 3^n samples: just drops the time axis
    x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, _output(x, n_classes), name="samplecnn")


def logmel_compact(
    input_shape: tuple[int, int, int],
    n_classes: int,
    *,
    widths: Sequence[int] = (16, 32, 64, 128),
    dropout: float = 0.5,
    input_stats: tuple[float, float] | None = None,
    seed: int | None = 0,
) -> keras.Model:
    """A compact 2-D CNN for log-Mel images, built like the 1-D networks (NOT the study's Table 1).

    Per entry of ``widths``: Conv2D 3 x 3 ('same', no bias) -> batch normalisation -> ReLU ->
    MaxPool 2; then global average pooling, dropout, Dense ``n_classes`` softmax. About 0.1
    million parameters at the default widths, in the range of :func:`m5`, where the Table 1 CNN
    has tens of millions in one dense layer. ``input_stats``: the ``(mean, std)`` of the
    training images (:func:`input_statistics`), as for :func:`m5`. Taught in ``14_raw_waveform``.
    """
    keras, layers = _keras()
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    inputs = keras.Input(shape=tuple(input_shape), name="log_mel")
    x = _standardise(inputs, input_stats)
    for i, w in enumerate(widths, start=1):
        x = layers.Conv2D(w, 3, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_bn")(x)
        x = layers.Activation("relu", name=f"block{i}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, _output(x, n_classes), name="logmel_compact")


def compile_model(model: keras.Model, lr: float = 1e-3) -> keras.Model:
    """Adam (learning rate ``lr``), sparse categorical cross-entropy, accuracy: as the study
    compiled its multi-class networks (:func:`course_utils.learning.models.compile_for`), for
    softmax outputs of any size. Taught in ``14_raw_waveform``."""
    keras, _ = _keras()
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# --------------------------------------------------------------------------------------
# What a layer sees, and what a clip costs
# --------------------------------------------------------------------------------------
def receptive_field(spec: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """Receptive field and hop, in input samples, of a chain of ``(kernel, stride)`` layers.

    With :math:`r_0 = 1` and :math:`j_0 = 1`, each layer gives :math:`r_l = r_{l-1} + (k_l - 1) j_{l-1}`
    and :math:`j_l = j_{l-1} s_l`: one output of layer :math:`l` depends on :math:`r_l` consecutive
    input samples, and neighbouring outputs are :math:`j_l` samples apart. Returns ``(r, j)``.
    Taught in ``14_raw_waveform``.
    """
    r, j = 1, 1
    for kernel, stride in spec:
        if kernel < 1 or stride < 1:
            raise ValueError(f"kernel and stride must be >= 1, got {(kernel, stride)}")
        r += (int(kernel) - 1) * j
        j *= int(stride)
    return r, j


def _kernel_stride(layer) -> tuple[int, int] | None:
    _, layers = _keras()
    if isinstance(layer, (layers.Conv1D, layers.Conv2D)):
        return int(layer.kernel_size[0]), int(layer.strides[0])
    if isinstance(layer, (layers.MaxPooling1D, layers.AveragePooling1D, layers.MaxPooling2D, layers.AveragePooling2D)):
        size = layer.pool_size if isinstance(layer.pool_size, int) else layer.pool_size[0]
        strides = layer.strides if isinstance(layer.strides, int) else layer.strides[0]
        return int(size), int(strides)
    return None


def layer_table(model: keras.Model, sr: float | None = None) -> pd.DataFrame:
    """The convolution and pooling layers of a 1-D network: what each one sees of the signal.

    One row per Conv1D / pooling layer: ``layer``, ``kernel``, ``stride``, ``frames`` (output
    length), ``channels``, ``parameters`` (of the convolution and the batch normalisation
    that follows it), ``receptive field`` and ``hop`` (input samples, :func:`receptive_field`),
    and with ``sr`` both in milliseconds. Taught in ``14_raw_waveform``.
    """
    rows, spec = [], []
    names = [layer.name for layer in model.layers]
    for layer in model.layers:
        ks = _kernel_stride(layer)
        if ks is None:
            continue
        spec.append(ks)
        r, j = receptive_field(spec)
        params = layer.count_params()
        bn = layer.name.replace("_conv", "_bn")
        if bn != layer.name and bn in names:
            params += model.get_layer(bn).count_params()
        shape = layer.output.shape
        rows.append({"layer": layer.name, "kernel": ks[0], "stride": ks[1], "frames": int(shape[1]), "channels": int(shape[-1]),
                     "parameters": int(params), "receptive field": r, "hop": j})
    table = pd.DataFrame(rows)
    if sr:
        table["receptive field (ms)"] = 1000 * table["receptive field"] / sr
        table["hop (ms)"] = 1000 * table["hop"] / sr
    return table


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one forward pass of one example through the convolutions and dense layers.

    A convolution costs (output positions) x (kernel size) x (input channels) x (output
    channels); a dense layer (inputs) x (outputs). Batch normalisation, pooling and activations
    are left out (a few operations per value). Training costs about three times a forward pass.
    Taught in ``14_raw_waveform``.
    """
    _, layers = _keras()
    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Dense)):
            kernel = layer.kernel.shape  # (*kernel_size, in, out)
            positions = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
            total += positions * int(np.prod(kernel))
    return int(total)


def rate_table(sample_rates: Sequence[int], seconds: float, n_clips: int, n_classes: int = 8, **m5_args) -> pd.DataFrame:
    """The sample-rate trade-off in numbers: per rate, the samples of a clip of ``seconds``,
    the memory of ``n_clips`` such clips (float32), and an :func:`m5` on them: the first layer's
    kernel and the whole network's receptive field in ms, and multiply-adds per clip.
    Taught in ``14_raw_waveform``."""
    rows = []
    for sr in sample_rates:
        n = int(round(seconds * sr))
        model = m5(n, n_classes, seed=None, **m5_args)
        t = layer_table(model, sr)
        rows.append({"sample rate (Hz)": int(sr), "Nyquist (Hz)": sr / 2, "samples per clip": n,
                     "all clips (MB, float32)": n_clips * n * 4 / 1e6,
                     "first kernel (ms)": float(t["receptive field (ms)"].iloc[0]),
                     "receptive field (ms)": float(t["receptive field (ms)"].iloc[-1]),
                     "M multiply-adds per clip": multiply_adds(model) / 1e6})
        del model
    return pd.DataFrame(rows)


def plot_receptive_fields(tables: dict[str, pd.DataFrame], clip_ms: float | None = None) -> plt.Figure:
    """Receptive field (ms, log scale) after every layer, one line per network (name -> :func:`layer_table` with ``sr``).

    ``clip_ms`` draws the length of a whole clip for reference. Taught in ``14_raw_waveform``.
    """
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for name, t in tables.items():
        ax.plot(np.arange(1, len(t) + 1), t["receptive field (ms)"], "o-", label=name)
    if clip_ms:
        ax.axhline(clip_ms, color="0.4", ls=":", label=f"one clip ({clip_ms:.0f} ms)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 10, 100, 1000 (plain numbers, no mathtext)
    ax.set(xlabel="layer (convolutions and poolings, in order)", ylabel="receptive field (ms, log scale)",
           title="How much of the signal one output of each layer sees")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# What the first layer learned
# --------------------------------------------------------------------------------------
def first_kernel(model: keras.Model) -> np.ndarray:
    """The first convolution's weights as (taps, filters) (one input channel). Taught in ``14_raw_waveform``."""
    _, layers = _keras()
    conv = next(layer for layer in model.layers if isinstance(layer, layers.Conv1D))
    w = np.asarray(conv.get_weights()[0])
    return w[:, 0, :]


def filter_responses(kernel: np.ndarray, sr: float, n_fft: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude frequency responses of FIR filters, in dB re each filter's own maximum.

    ``kernel`` is (taps, filters) (:func:`first_kernel`). Each filter's taps are zero-padded
    to ``n_fft`` and Fourier-transformed (``numpy.fft.rfft``). Returns ``(freqs_hz, response_db)``
    with shapes (n_fft // 2 + 1,) and (filters, n_fft // 2 + 1); a filter of zeros gives -inf.
    Taught in ``14_raw_waveform``.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim == 1:
        kernel = kernel[:, None]
    H = np.abs(np.fft.rfft(kernel, n=n_fft, axis=0)).T  # (filters, bins)
    peak = H.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 20 * np.log10(H / peak)
    return np.fft.rfftfreq(n_fft, d=1 / sr), db


def peak_frequencies(kernel: np.ndarray, sr: float, n_fft: int = 1024) -> np.ndarray:
    """The frequency (Hz) at which each filter of ``kernel`` (taps, filters) passes most.
    Taught in ``14_raw_waveform``."""
    freqs, db = filter_responses(kernel, sr, n_fft)
    return freqs[np.argmax(np.nan_to_num(db, nan=-np.inf), axis=1)]


def plot_filter_responses(kernels: dict[str, np.ndarray], sr: float, n_fft: int = 1024, floor_db: float = -30.0) -> plt.Figure:
    """Frequency responses of first-layer filters, one panel per entry of ``kernels`` (title -> (taps, filters)).

    Filters are sorted by their peak frequency (x axis: filter rank), the y axis is frequency in
    Hz, the colour the response in dB re the filter's maximum, down to ``floor_db``. The cyan
    circles mark each filter's peak, and the white dashed line the centre frequencies of as many
    Mel bands between 0 Hz and ``sr / 2`` (``librosa.mel_frequencies``): if the learned filters
    follow it, the network has found a Mel-like frequency resolution by itself.
    Taught in ``14_raw_waveform``.
    """
    fig, axes = plt.subplots(1, len(kernels), figsize=(5.2 * len(kernels), 4.2), squeeze=False)
    for ax, (title, kernel) in zip(axes[0], kernels.items()):
        freqs, db = filter_responses(kernel, sr, n_fft)
        order = np.argsort(peak_frequencies(kernel, sr, n_fft), kind="stable")
        img = np.clip(np.nan_to_num(db[order], nan=floor_db, neginf=floor_db), floor_db, 0).T
        n = img.shape[1]
        im = ax.imshow(img, origin="lower", aspect="auto", cmap="magma", extent=(0.5, n + 0.5, 0, sr / 2), vmin=floor_db, vmax=0)
        ax.plot(np.arange(1, n + 1), peak_frequencies(kernel, sr, n_fft)[order], "o", mfc="none", mec="cyan", ms=3, mew=0.8,
                label="peak of each filter")
        ax.plot(np.arange(1, n + 1), librosa.mel_frequencies(n_mels=n, fmin=0, fmax=sr / 2), "--", color="white", lw=1.5,
                label=f"{n} Mel-spaced centres")
        ax.set(xlabel="filter (sorted by peak frequency)", ylabel="frequency (Hz)", title=title)
        ax.legend(fontsize=7, loc="upper left")
        fig.colorbar(im, ax=ax, label="response (dB re filter maximum)")
    fig.tight_layout()
    return fig
