"""Transfer learning with VGG16: ImageNet weights, preprocessing, frozen layers, cost.

Taught in ``11_transfer_vgg16``; ``13_multitask`` makes its smaller images with
:func:`downsample`. The model itself is :func:`course_utils.learning.models.vgg16_transfer`
(the study's VGG16, fine-tuned from ``block3_conv1`` on, with a new dense head); this module
holds what the chapter needs around it.

A network trained on over a million photographs (ImageNet) has learnt, in its first layers,
filters for edges, blobs and textures that are useful for almost any image; its later layers
combine them into parts of the objects of its thousand classes. Transfer learning keeps the early
layers as they are (*frozen*), trains the later layers and a new head on the few clips of the
task, and so starts from features that would take far more data to learn from scratch. The
weights only help when the images arrive as the photos did: VGG16 saw 0..255 pixel values in BGR
order with the ImageNet channel means :math:`\\mu_c` subtracted, so a grayscale image :math:`x`
in [0, 1] enters every channel as :math:`x'_c = 255\\, x - \\mu_c`
(:class:`course_utils.learning.models.VGGPreprocess`). The frozen layers are a fixed function of
the image, so their output can be computed once: per epoch of :math:`n_\\text{train}` training
and :math:`n_\\text{val}` validation images, with :math:`F` and :math:`T` the multiply-adds of one
forward pass through the frozen and the trained part, training costs about
:math:`n_\\text{train}(F + 3T) + n_\\text{val}(F + T)`, and only
:math:`3\\, n_\\text{train} T + n_\\text{val} T` once the frozen part's output is cached.

The helpers:

- :func:`weights_status`, :func:`weights_help`, :func:`model_tag`: whether the ImageNet weights
  are on this machine (Keras downloads them once into ``$KERAS_HOME/models``, by default
  ``~/.keras/models``: :func:`keras_home`), how to get them, and an honest name for a result
  (``vgg16_imagenet`` or ``vgg16_random_init``);
- :func:`sample_photo`, :func:`value_table`, :func:`plot_value_histograms`: what VGG16's
  preprocessing does to a photo and to a grayscale spectrogram, done right and done wrong;
- :func:`chain_layers`, :func:`trainable_table`, :func:`parameter_summary`: which layers are
  frozen and how many parameters are trained;
- :func:`macs_table`, :func:`cost_table`: the arithmetic cost of every layer (multiply-adds)
  and of training, at any image size;
- :func:`split_at`, :func:`frozen_features`, :func:`feature_dataset`: the frozen layers before
  ``block3_conv1`` (no batch normalisation, no dropout) compute a fixed function of the
  image, so their output is computed once, cached, and only the layers from ``block3_conv1``
  on are trained on it: the same network, without the frozen layers' forward pass in every epoch;
- :func:`downsample`: smaller images (area averaging of the study's 256 x 256 images);
- :func:`plot_feature_maps`: what the convolutional blocks make of a log-Mel image.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import keras
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter
import numpy as np
import pandas as pd
import tensorflow as tf

from course_utils.base import jupyter, paths
from course_utils.data import cache as disk_cache
from course_utils.learning import models


# --------------------------------------------------------------------------------------
# The ImageNet weights: are they here, and what a result may be called
# --------------------------------------------------------------------------------------
#: The file Keras looks for (and downloads) for ``VGG16(include_top=False, weights="imagenet")``.
WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
#: Where Keras downloads it from (``keras/src/applications/vgg16.py``), as documentation.
WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + WEIGHTS_FILE
#: The MD5 checksum Keras checks the download against.
WEIGHTS_MD5 = "6d6bbae143d832006294945121d1f1fc"


def keras_home() -> Path:
    """Keras' own folder: ``$KERAS_HOME`` if set, else ``~/.keras`` (as ``keras.utils.get_file``).

    Used by :func:`weights_status` (``11_transfer_vgg16``).
    """
    env = os.environ.get("KERAS_HOME")
    return Path(env).expanduser() if env else Path("~/.keras").expanduser()


def weights_status(home: str | Path | None = None) -> dict:
    """Is the VGG16 ImageNet weight file (no top) on this machine, and is it intact?

    Returns a dict: ``path`` (where Keras looks: ``<keras home>/models/`` + :data:`WEIGHTS_FILE`),
    ``exists``, ``size_mb`` (0.0 when missing), ``md5_ok`` (the file's MD5 equals
    :data:`WEIGHTS_MD5`; False when missing) and ``url`` (:data:`WEIGHTS_URL`).
    Taught in ``11_transfer_vgg16``.
    """
    path = Path(home).expanduser() if home is not None else keras_home()
    path = path / "models" / WEIGHTS_FILE
    exists = path.is_file()
    md5_ok = False
    if exists:
        h = hashlib.md5()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        md5_ok = h.hexdigest() == WEIGHTS_MD5
    return {
        "path": path,
        "exists": exists,
        "size_mb": round(path.stat().st_size / 2**20, 1) if exists else 0.0,
        "md5_ok": md5_ok,
        "url": WEIGHTS_URL,
    }


def weights_help(status: dict | None = None) -> str:
    """How to put the ImageNet weights where Keras finds them (a few lines of text).

    Used by ``11_transfer_vgg16``, which prints it.
    """
    status = status or weights_status()
    return (
        f"Keras looks for the file {status['path']}\n"
        f"(folder: $KERAS_HOME/models, default ~/.keras/models). It downloads it on first use from\n"
        f"  {status['url']}\n"
        "(about 56 MB, MD5 " + WEIGHTS_MD5 + "). To get it:\n"
        "  1. run this notebook (or keras.applications.VGG16(include_top=False)) once on a machine\n"
        "     with internet, or\n"
        "  2. download that URL elsewhere and copy the file into the folder above (same name).\n"
        "Then rerun the notebook: it detects the weights and records its results as vgg16_imagenet."
    )


def model_tag(model: keras.Model, weights="imagenet") -> str:
    """An honest short name for results of ``model``: what weights it started from.

    ``vgg16_imagenet`` when ``model.weights_loaded`` and ``weights == "imagenet"``;
    ``vgg16_pretrained`` when weights were loaded from a file; ``vgg16_random_init``
    otherwise (download failed or ``weights=None``). Taught in ``11_transfer_vgg16``.
    """
    if not getattr(model, "weights_loaded", False):
        return "vgg16_random_init"
    return "vgg16_imagenet" if weights == "imagenet" else "vgg16_pretrained"


# --------------------------------------------------------------------------------------
# Preprocessing: what VGG16's first convolution receives
# --------------------------------------------------------------------------------------
#: ImageNet channel means that ``vgg16.preprocess_input`` ('caffe' mode) subtracts, in BGR order.
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


def sample_photo() -> np.ndarray:
    """A colour photograph shipped with matplotlib (Grace Hopper), uint8 RGB, (H, W, 3).

    A stand-in for the ImageNet photos VGG16 was trained on (no download needed). Used by
    ``11_transfer_vgg16``, beside the spectrogram in :func:`value_table` and
    :func:`plot_value_histograms`.
    """
    with plt.matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.asarray(plt.imread(f, format="jpg")).copy()


def _pipelines(gray: np.ndarray, photo: np.ndarray | None) -> dict[str, tuple[np.ndarray, tuple[str, ...]]]:
    """The arrays VGG16's first convolution would receive, by pipeline, with channel names."""
    gray = np.asarray(gray, dtype="float32")
    if gray.ndim == 2:
        gray = gray[None]
    x = gray[..., None]
    out = {}
    if photo is not None:
        p = keras.applications.vgg16.preprocess_input(np.asarray(photo, "float32")[None].copy())
        out["photo, preprocess_input"] = (np.asarray(p), ("B", "G", "R"))
    out["spectrogram [0, 1] x 3 (wrong)"] = (np.repeat(x, 3, axis=-1), ("ch 1", "ch 2", "ch 3"))
    out["spectrogram, VGGPreprocess (right)"] = (keras.ops.convert_to_numpy(models.VGGPreprocess()(x)), ("B", "G", "R"))
    return out


def value_table(gray: np.ndarray, photo: np.ndarray | None = None) -> pd.DataFrame:
    """Per-channel value ranges of what VGG16's first convolution receives.

    ``gray``: log-Mel images (N, H, W) or one (H, W) in [0, 1]; ``photo``: an optional uint8
    RGB photo (:func:`sample_photo`). Rows: pipeline and channel; columns min, mean, max, std.
    Pipelines: the photo through ``vgg16.preprocess_input`` (what the ImageNet weights were
    trained on); the grayscale image repeated to three channels but left in [0, 1] (wrong:
    values about 100 times too small, all positive); :class:`course_utils.learning.models.VGGPreprocess`
    (right: x 255, BGR order, ImageNet means subtracted). Taught in ``11_transfer_vgg16``.
    """
    rows = []
    for name, (arr, channels) in _pipelines(gray, photo).items():
        for c, cname in enumerate(channels):
            v = arr[..., c]
            rows.append({"pipeline": name, "channel": cname, "min": float(v.min()), "mean": float(v.mean()),
                         "max": float(v.max()), "std": float(v.std())})
    return pd.DataFrame(rows).set_index(["pipeline", "channel"])


def plot_value_histograms(gray: np.ndarray, photo: np.ndarray | None = None) -> plt.Figure:
    """Histograms of the values VGG16's first convolution receives, one panel per pipeline.

    Same pipelines as :func:`value_table`, same axes for all panels (the fraction of values in
    each bin, log scale), so that the wrong one (one spike between 0 and 1) stands out against
    the photo and the right one. Channels are drawn in blue, green and red. Taught in ``11_transfer_vgg16``.
    """
    pipes = _pipelines(gray, photo)
    fig, axes = plt.subplots(1, len(pipes), figsize=(4.2 * len(pipes), 3.4), sharex=True, sharey=True)
    bins = np.linspace(-130, 160, 117)  # 2.5 units wide
    for ax, (name, (arr, channels)) in zip(np.atleast_1d(axes), pipes.items()):
        for c, (cname, colour) in enumerate(zip(channels, ("tab:blue", "tab:green", "tab:red"))):
            v = arr[..., c].ravel()
            ax.hist(np.clip(v, bins[0], bins[-1]), bins=bins, weights=np.full(v.size, 1 / v.size), histtype="step",
                    lw=1.4, color=colour, label=cname)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("value fed to block1_conv1 (pixel units)")
        ax.set_ylabel("fraction of values per 2.5-unit bin" if ax is np.atleast_1d(axes)[0] else "")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # plain numbers, no mathtext
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Layers, parameters and cost
# --------------------------------------------------------------------------------------
def chain_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of a chain-shaped model in order, nested models (the VGG16 base) opened up.

    Input layers are left out. :func:`course_utils.learning.models.vgg16_transfer` gives
    ``vgg_preprocess, block1_conv1, ..., block5_pool, gap, dense, dropout, output``.
    Used by :func:`trainable_table`, :func:`macs_table`, :func:`split_at` and
    :func:`plot_feature_maps` (``11_transfer_vgg16``).
    """
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            out.extend(chain_layers(layer))
        else:
            out.append(layer)
    return out


def _block(name: str) -> str:
    if name.startswith("block"):
        return name.split("_")[0]
    return "preprocess" if "preprocess" in name else "head"


def trainable_table(model: keras.Model) -> pd.DataFrame:
    """One row per layer: block, output shape, parameters and whether they are trained.

    ``status`` is ``trained`` (trainable weights), ``frozen`` (weights kept as loaded) or
    ``no weights`` (preprocessing, pooling, dropout). Taught in ``11_transfer_vgg16``.
    """
    rows = []
    shape = tuple(model.input_shape)
    for layer in chain_layers(model):
        shape = tuple(layer.compute_output_shape(shape))
        n = int(layer.count_params()) if layer.weights else 0
        status = "no weights" if not layer.weights else ("trained" if layer.trainable_weights else "frozen")
        rows.append({"layer": layer.name, "block": _block(layer.name), "output shape": "x".join(str(s) for s in shape[1:]),
                     "parameters": n, "status": status})
    return pd.DataFrame(rows).set_index("layer")


def parameter_summary(model: keras.Model) -> pd.DataFrame:
    """Parameters per block, frozen against trained, with a total row.

    Columns ``frozen``, ``trained``, ``total``; the ``total`` row's figures equal
    ``model.count_params()`` and the sizes of ``model.trainable_weights``.
    Taught in ``11_transfer_vgg16``.
    """
    t = trainable_table(model)
    t = t.assign(frozen=np.where(t["status"] == "frozen", t["parameters"], 0),
                 trained=np.where(t["status"] == "trained", t["parameters"], 0))
    order = list(dict.fromkeys(t["block"]))
    summary = t.groupby("block", sort=False)[["frozen", "trained"]].sum().loc[order]
    summary.loc["total"] = summary.sum()
    summary["total"] = summary["frozen"] + summary["trained"]
    return summary.astype(int)


def macs_table(model: keras.Model, side: int | None = None) -> pd.DataFrame:
    """Multiply-adds (MACs) of one forward pass of one image, layer by layer.

    A 'same' convolution with a k x k kernel from C_in to C_out maps costs
    ``H_out * W_out * k * k * C_in * C_out`` MACs; a dense layer ``n_in * n_out``; other layers
    are counted as free. ``side`` evaluates the model at another square input size (the
    shapes are recomputed, the model is not rebuilt); None: the model's own input.
    Columns ``output shape``, ``macs``, ``trainable`` (the layer has trainable weights).
    Used by :func:`cost_table` (``11_transfer_vgg16``).
    """
    h, w, c = model.input_shape[1:]
    shape = (None, side or h, side or w, c)
    rows = []
    for layer in chain_layers(model):
        shape = tuple(layer.compute_output_shape(shape))
        kernel = getattr(layer, "kernel", None)
        macs = 0
        if kernel is not None:
            macs = int(np.prod(kernel.shape))
            if len(kernel.shape) == 4:  # Conv2D: every output position
                macs *= int(shape[1] * shape[2])
        rows.append({"layer": layer.name, "output shape": "x".join(str(s) for s in shape[1:]), "macs": macs,
                     "trainable": bool(layer.trainable_weights)})
    return pd.DataFrame(rows).set_index("layer")


def cost_table(model: keras.Model, sides, *, split_layer: str = "block3_conv1", n_train: int = 1008,
               n_val: int = 216, measured: tuple | None = None) -> pd.DataFrame:
    """What one epoch costs at several image sizes, with and without caching the frozen part.

    Per image: ``frozen GMAC`` (forward through the layers before ``split_layer``) and
    ``trained GMAC`` (forward through the rest). One training step costs about three forward
    passes of the trained part (forward, plus a backward pass about twice as expensive); the
    frozen part needs no backward pass, but Keras runs its forward pass for every image of
    every epoch unless its output is cached. Per epoch (``n_train`` training and ``n_val``
    validation images), in tera-MACs:

    - ``TMAC/epoch uncached`` = n_train (F + 3 T) + n_val (F + T),
    - ``TMAC/epoch cached`` = n_train 3 T + n_val T,

    with F and T the frozen and trained GMAC. With ``measured = (side, seconds per epoch)`` (a
    cached epoch measured with ``n_train`` and ``n_val`` images), or ``(side, seconds, n_train,
    n_val)`` for an epoch measured on other numbers of images (e.g. a shortened run), the
    column ``est. s/epoch (cached)`` scales that time by the arithmetic: an estimate that
    ignores fixed overheads. Taught in ``11_transfer_vgg16``.
    """
    rows = []
    for s in sides:
        t = macs_table(model, s)
        names = list(t.index)
        if split_layer not in names:
            raise ValueError(f"{split_layer!r} is not a layer of the model")
        i = names.index(split_layer)
        frozen, trained = t["macs"].iloc[:i].sum() / 1e9, t["macs"].iloc[i:].sum() / 1e9
        rows.append({"side": int(s), "frozen GMAC": frozen, "trained GMAC": trained,
                     "TMAC/epoch uncached": (n_train * (frozen + 3 * trained) + n_val * (frozen + trained)) / 1e3,
                     "TMAC/epoch cached": (n_train * 3 * trained + n_val * trained) / 1e3})
    table = pd.DataFrame(rows).set_index("side")
    table["saving"] = 1 - table["TMAC/epoch cached"] / table["TMAC/epoch uncached"]
    if measured is not None:
        ref_side, ref_seconds, ref_train, ref_val = (*measured, n_train, n_val)[:4]
        ref = cost_table(model, [ref_side], split_layer=split_layer, n_train=ref_train, n_val=ref_val)
        per_tmac = ref_seconds / ref["TMAC/epoch cached"].iloc[0]
        table["est. s/epoch (cached)"] = table["TMAC/epoch cached"] * per_tmac
    return table


# --------------------------------------------------------------------------------------
# The split: the frozen part's output computed once
# --------------------------------------------------------------------------------------
#: Layers whose output in training differs from their output in inference: a front part that
#: contains one of them is not a fixed function of the image and cannot be cached.
STOCHASTIC_LAYERS = (
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.BatchNormalization,
)
#: Bump when :func:`frozen_features` changes, so that old cache files are not reused.
FEATURES_VERSION = 1


def split_at(model: keras.Model, layer: str = "block3_conv1") -> tuple[keras.Model, keras.Model]:
    """Cut a chain-shaped model before ``layer``: ``(front, back)`` with ``back(front(x)) == model(x)``.

    ``front`` maps the model's input to the output of the layer before ``layer`` (for
    :func:`course_utils.learning.models.vgg16_transfer` and ``block3_conv1``: preprocessing and blocks 1-2,
    output ``block2_pool``); ``back`` maps that to the model's output. Both reuse the model's
    layer objects, so they share its weights: training ``back`` trains ``model``.

    The cut is only allowed where ``front`` is a fixed function of the image: none of its
    layers may have trainable weights, and none may behave differently in training
    (:data:`STOCHASTIC_LAYERS`: dropout, noise, batch normalisation); otherwise ``ValueError``.
    Taught in ``11_transfer_vgg16``.
    """
    chain = chain_layers(model)
    names = [lay.name for lay in chain]
    if layer not in names:
        raise ValueError(f"{layer!r} is not a layer of {model.name}; one of {names}")
    i = names.index(layer)
    if i == 0:
        raise ValueError(f"nothing to cut off before {layer!r}: it is the first layer")
    for lay in chain[:i]:
        if lay.trainable_weights:
            raise ValueError(f"layer {lay.name!r} before {layer!r} is trainable: its output changes during training")
        if isinstance(lay, STOCHASTIC_LAYERS):
            raise ValueError(f"layer {lay.name!r} before {layer!r} ({type(lay).__name__}) behaves differently in training")
    inputs = keras.Input(shape=tuple(model.input_shape[1:]), name=model.inputs[0].name)
    x = inputs
    for lay in chain[:i]:
        x = lay(x)
    front = keras.Model(inputs, x, name=f"frozen_to_{names[i - 1]}")
    cut = keras.Input(shape=tuple(x.shape[1:]), name=names[i - 1])
    y = cut
    for lay in chain[i:]:
        y = lay(y)
    back = keras.Model(cut, y, name=f"trained_from_{layer}")
    return front, back


def _features_key(front: keras.Model, images: np.ndarray) -> str:
    h = hashlib.sha1()
    h.update(f"{FEATURES_VERSION}\0{images.shape}\0{front.output.shape}\0".encode())
    h.update(np.ascontiguousarray(images, dtype=np.float32).tobytes())
    for lay in chain_layers(front):
        h.update(lay.name.encode())
        for w in lay.weights:
            h.update(np.ascontiguousarray(keras.ops.convert_to_numpy(w)).tobytes())
    return h.hexdigest()[:12]


def frozen_features(front: keras.Model, images: np.ndarray, *, batch_size: int = 32, cache: bool = True,
                    cache_dir: str | Path | None = None, progress: bool = True) -> np.ndarray:
    """``front``'s output for every image, computed once and cached on disk.

    ``images``: (N, H, W) in [0, 1] (a channel axis is added) or (N, H, W, C). The cache file
    (``frozen-<key>-<N>.npz`` under ``cache_dir``, default ``paths.cache_dir()``) is named by a
    hash of the images *and* of ``front``'s weights, so ImageNet and random weights, or other
    images, never share an entry; it is written atomically, and a damaged entry is reported and
    computed again (:func:`course_utils.data.cache.cached`). Features are stored as float16
    (half the memory; ReLU outputs of a few hundred at most lose about 0.05 % to rounding)
    unless they exceed float16's range, and the same rounded values are returned on the first
    run as from the cache, so reruns give the same numbers. Taught in ``11_transfer_vgg16``.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    key = _features_key(front, x)
    target = (Path(cache_dir) if cache_dir is not None else paths.cache_dir()) / f"frozen-{key}-{len(x)}.npz"

    def build() -> dict:
        chunks = []
        for start in jupyter.progress(range(0, len(x), batch_size), desc=f"{front.name}", unit="batch",
                                          disable=not progress):
            chunks.append(np.asarray(front.predict_on_batch(x[start:start + batch_size])))
        feats = np.concatenate(chunks).astype(np.float32)
        if np.isfinite(feats).all() and np.abs(feats).max() < np.finfo(np.float16).max:
            feats = feats.astype(np.float16)
        return {"features": feats}

    if not cache:
        return build()["features"]

    def whole(data: dict) -> str | None:
        f = data.get("features")
        return None if f is not None and len(f) == len(x) else f"no features for {len(x)} images"

    return disk_cache.cached(target, build, what="frozen-feature", check=whole)["features"]


def feature_dataset(features: np.ndarray, labels: np.ndarray | None = None, *, batch_size: int = 32,
                    shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of cached features (cast to float32) and labels.

    The counterpart of :func:`course_utils.learning.pipeline.make_dataset` for arrays that already have
    their channel axis (N, H, W, C). With ``shuffle=True`` the order changes every epoch,
    reproducibly for a ``seed``. Taught in ``11_transfer_vgg16``.
    """
    features = np.asarray(features)
    if labels is not None and len(labels) != len(features):
        raise ValueError(f"{len(features)} feature maps but {len(labels)} labels")
    ds = tf.data.Dataset.from_tensor_slices(features if labels is None else (features, np.asarray(labels)))
    if shuffle:
        ds = ds.shuffle(len(features), seed=seed, reshuffle_each_iteration=True)

    def cast(x, *y):
        x = tf.cast(x, tf.float32)
        return (x, *y) if y else x

    ds = ds.map(cast, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------------
# Smaller images
# --------------------------------------------------------------------------------------
def downsample(images: np.ndarray, side: int, chunk: int = 256) -> np.ndarray:
    """Square images (N, H, W) resized to ``side`` x ``side`` by area averaging, float32.

    For an integer factor (256 -> 64) every output pixel is the mean of a block of input
    pixels (``tf.image.resize(method="area")``), so the values stay in [0, 1]: a coarser
    log-Mel image (fewer, wider Mel bands and frames), not a different recipe.
    Taught in ``11_transfer_vgg16``; used by :func:`course_utils.learning.multitask.load_images`
    (``13_multitask``).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {images.shape}")
    if images.shape[1:] == (side, side):
        return images
    out = [tf.image.resize(images[i:i + chunk, ..., None], (side, side), method="area").numpy()[..., 0]
           for i in range(0, len(images), chunk)]
    return np.concatenate(out).astype(np.float32)


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def plot_feature_maps(model: keras.Model, image: np.ndarray, layers=("block1_conv2", "block2_conv2",
                      "block3_conv3", "block4_conv3", "block5_conv3"), n_maps: int = 3,
                      weights_note: str = "") -> plt.Figure:
    """A few feature maps of one log-Mel image after several layers (rows: maps, columns: layers).

    Each column shows the ``n_maps`` channels with the largest mean activation of that layer,
    drawn like the log-Mel image (time to the right, low Mel bands at the bottom), so one
    sees the resolution fall block by block (every pooling halves it) while the number of
    maps grows. ``weights_note`` goes into the title (e.g. "random weights").
    Taught in ``11_transfer_vgg16``.
    """
    chain = chain_layers(model)
    names = [lay.name for lay in chain]
    missing = [n for n in layers if n not in names]
    if missing:
        raise ValueError(f"not layers of the model: {missing}")
    x = np.asarray(image, dtype="float32")[None, ..., None]
    maps = {}
    for lay in chain[: max(names.index(n) for n in layers) + 1]:
        x = lay(x)
        if lay.name in layers:
            maps[lay.name] = keras.ops.convert_to_numpy(x)[0]
    fig, axes = plt.subplots(n_maps, len(layers), figsize=(2.6 * len(layers), 2.1 * n_maps + 0.6), squeeze=False)
    for j, name in enumerate(layers):
        a = maps[name]
        top = np.argsort(-a.mean(axis=(0, 1)), kind="stable")[:n_maps]
        for i, ch in enumerate(top):
            ax = axes[i, j]
            ax.imshow(a[..., ch], origin="lower", aspect="auto", cmap="viridis")
            ax.set_title(f"{name} #{ch}\n{a.shape[0]} x {a.shape[1]} x {a.shape[2]}" if i == 0 else f"map #{ch}",
                         fontsize=8)
            ax.set_xlabel("time (frame)" if i == n_maps - 1 else "", fontsize=8)
            ax.set_ylabel("Mel band (row)" if j == 0 else "", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    note = f" ({weights_note})" if weights_note else ""
    fig.suptitle(f"Strongest feature maps of one log-Mel image, block by block{note}\n"
                 "colour: activation (ReLU output), each map scaled to its own range, bright = high")
    fig.tight_layout()
    return fig
