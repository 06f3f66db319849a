"""An autoencoder's codes: encoding, reconstructions, 2-D maps and neighbours in code space.

Taught in ``12_autoencoder``.

The study's autoencoder (Table 2, :func:`course_utils.learning.models.study_autoencoder`) squeezes a
256 x 256 log-Mel image (65,536 pixels) through a *code* of 128 numbers and rebuilds the image
from it: an encoder :math:`f` gives the code :math:`z = f(x) \\in \\mathbb{R}^{128}`, a decoder
:math:`g` the rebuilt image :math:`\\hat x = g(z)`, both trained together, without labels, to make
the output equal to the input under the mean squared error (MSE)

.. math:: \\mathrm{MSE} = \\frac{1}{HW} \\sum_{i,j} (x_{ij} - \\hat x_{ij})^2 .

The code is 512 times smaller than the image, so the network must choose what to keep, and
the MSE chooses whatever lowers the squared error of the pixels most: the broad, loud structure
of an image, set mostly by the speaker and the sentence, before the small changes an emotion
makes. With linear layers only, the best such code is principal component analysis (PCA)
with as many components: the yardstick for how much a code of that size can keep. Which
attribute organises the codes is measured with a k-nearest-neighbour vote and its gain over
chance, :math:`(\\mathrm{acc} - \\mathrm{chance}) / (1 - \\mathrm{chance})`.

This module holds what the chapter does with the codes and the rebuilt images; the heavy
lifting is done by Keras, scikit-learn and librosa, which it wraps:

- :func:`autoencoder_dataset`: ``(image, image)`` pairs for training (input = target);
- :func:`encode`, :func:`reconstruct`: the encoder's codes and the autoencoder's images;
- :func:`code_dataset`: shuffled ``(code, label)`` batches for the classifier on the codes (Table 3);
- :func:`reconstruction_errors`, :func:`error_profile`, :func:`pca_reconstruction`: how much
  is lost, where in the image, and how a linear code of the same size (PCA) does;
- listening to an image: :func:`course_utils.sound.features.image_to_audio` (Griffin-Lim phase estimate);
- :func:`layer_table`: parameters per layer, and which layers hold them;
- :func:`project_2d`, :func:`explained_variance`: codes drawn in two dimensions (PCA, t-SNE);
- :func:`knn_accuracy`, :func:`code_space_table`: which attribute (emotion, sex, actor ...)
  organises the code space, measured with cross-validated k nearest neighbours and the
  silhouette;
- :func:`plot_reconstructions`, :func:`plot_error_profile`, :func:`plot_codes_2d`: figures with
  labelled axes and units.
"""

from __future__ import annotations

from typing import Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.lines import Line2D
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from course_utils.base import jupyter
from course_utils.sound import plots
from course_utils.sound.features import FeatureConfig
from course_utils.learning import pipeline

#: Methods of :func:`project_2d`.
METHODS = ("pca", "tsne")
#: Marker per category of ``markers`` in :func:`plot_codes_2d` (first category: circle ...).
MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")


# --------------------------------------------------------------------------------------
# The architecture: where the parameters are
# --------------------------------------------------------------------------------------
def layer_table(model: keras.Model) -> pd.DataFrame:
    """One row per layer: ``layer``, ``kind``, ``output shape`` (without the batch axis),
    ``parameters`` and ``share (%)`` of the model's total. Taught in ``12_autoencoder``.
    """
    rows = []
    total = model.count_params()
    for layer in model.layers:
        shape = tuple(layer.output.shape[1:])
        n = layer.count_params()
        rows.append({"layer": layer.name, "kind": type(layer).__name__,
                     "output shape": " x ".join(str(s) for s in shape), "parameters": n,
                     "share (%)": round(100.0 * n / total, 2) if total else 0.0})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Training pairs, codes and reconstructions
# --------------------------------------------------------------------------------------
def _with_channel(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images, dtype="float32")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got {np.shape(images)}")
    return x


def autoencoder_dataset(images: np.ndarray, *, batch_size: int = 32, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """A ``tf.data`` dataset of ``(image, image)`` pairs: the input is also the target.

    Built on :func:`course_utils.learning.pipeline.make_dataset` (channel axis added, seeded shuffling,
    batching, prefetching). Taught in ``12_autoencoder``.
    """
    ds = pipeline.make_dataset(images, batch_size=batch_size, shuffle=shuffle, seed=seed)
    return ds.map(lambda x: (x, x), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def code_dataset(codes: np.ndarray, labels: np.ndarray, *, batch_size: int = 32, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """A batched ``tf.data`` dataset of ``(code, label)`` pairs for the classifier on the codes.

    With ``shuffle=True`` the order changes every epoch, reproducibly for a ``seed``. Shuffle
    the training part: the metadata table is sorted, and batches of one emotion each would
    pull the network back and forth (:func:`course_utils.learning.training.fit` does not shuffle
    arrays it is given as ``(x, y)`` tuples). Taught in ``12_autoencoder``.
    """
    codes = np.asarray(codes, dtype=np.float32)
    labels = np.asarray(labels)
    if codes.ndim != 2 or len(codes) != len(labels):
        raise ValueError(f"codes must be (N, latent) with one label each, got {codes.shape} and {labels.shape}")
    ds = tf.data.Dataset.from_tensor_slices((codes, labels))
    if shuffle:
        ds = ds.shuffle(len(codes), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def encode(encoder: keras.Model, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The codes of ``images`` (N, H, W) or (N, H, W, 1): array (N, latent), float32.

    ``encoder`` is the second model :func:`course_utils.learning.models.study_autoencoder` returns; it
    shares its layers with the autoencoder, so it encodes with the trained weights.
    Taught in ``12_autoencoder``.
    """
    codes = encoder.predict(_with_channel(images), batch_size=batch_size, verbose=0)
    return np.asarray(codes, dtype=np.float32).reshape(len(codes), -1)


def reconstruct(autoencoder: keras.Model, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The autoencoder's output for ``images``, shape (N, H, W) like a stack of log-Mel images.

    Taught in ``12_autoencoder``.
    """
    out = autoencoder.predict(_with_channel(images), batch_size=batch_size, verbose=0)
    return np.asarray(out, dtype=np.float32)[..., 0]


# --------------------------------------------------------------------------------------
# What the reconstruction loses
# --------------------------------------------------------------------------------------
def reconstruction_errors(inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Mean squared error of each image, the autoencoder's loss per clip: array (N,).

    .. math:: \\mathrm{MSE}_n = \\frac{1}{HW} \\sum_{i,j} (x_{n,ij} - \\hat x_{n,ij})^2

    ``inputs`` and ``outputs`` are (N, H, W) (or with a channel axis), pixels in [0, 1].
    Taught in ``12_autoencoder``.
    """
    x, y = np.asarray(inputs, dtype=np.float64), np.asarray(outputs, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"inputs {x.shape} and outputs {y.shape} differ in shape")
    return ((x - y) ** 2).reshape(len(x), -1).mean(axis=1)


def error_profile(inputs: np.ndarray, outputs: np.ndarray, axis: str = "mel") -> np.ndarray:
    """Where the error sits: the squared error averaged over clips and over the other image axis.

    ``axis="mel"``: one value per image row (Mel band, row 0 = lowest band), shape (H,);
    ``axis="time"``: one value per column (time frame), shape (W,). Taught in ``12_autoencoder``.
    """
    if axis not in ("mel", "time"):
        raise ValueError(f"axis must be 'mel' or 'time', got {axis!r}")
    x, y = np.asarray(inputs, dtype=np.float64), np.asarray(outputs, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 3:
        raise ValueError(f"inputs and outputs must both be (N, H, W), got {x.shape} and {y.shape}")
    sq = (x - y) ** 2
    return sq.mean(axis=(0, 2)) if axis == "mel" else sq.mean(axis=(0, 1))


def pca_reconstruction(train_images: np.ndarray, images: np.ndarray, n_components: int = 128, seed: int = 0) -> np.ndarray:
    """``images`` rebuilt from ``n_components`` principal components of ``train_images``.

    PCA is the best *linear* code of that size for the squared error: it is what an
    autoencoder without non-linearities learns (``sklearn.decomposition.PCA``, randomized SVD,
    fitted on the flattened training images only). Returns (N, H, W), clipped to [0, 1].
    Taught in ``12_autoencoder``.
    """
    train = np.asarray(train_images, dtype=np.float32)
    x = np.asarray(images, dtype=np.float32)
    n = min(int(n_components), len(train), train[0].size)
    pca = PCA(n_components=n, svd_solver="randomized", random_state=seed).fit(train.reshape(len(train), -1))
    rebuilt = pca.inverse_transform(pca.transform(x.reshape(len(x), -1)))
    return np.clip(rebuilt, 0.0, 1.0).reshape(x.shape).astype(np.float32)


# --------------------------------------------------------------------------------------
# Code space
# --------------------------------------------------------------------------------------
def explained_variance(codes: np.ndarray, n_components: int | None = None) -> np.ndarray:
    """Fraction of the codes' variance along each principal axis (``PCA.explained_variance_ratio_``).

    ``n_components=None``: all (at most min(N, latent)). Taught in ``12_autoencoder``.
    """
    codes = np.asarray(codes, dtype=np.float64)
    return PCA(n_components=n_components).fit(codes).explained_variance_ratio_


def project_2d(
    codes: np.ndarray, method: str = "pca", seed: int = 0, perplexity: float = 30.0, n_threads: int | None = 1,
    progress: bool = True,
) -> np.ndarray:
    """The codes drawn in two dimensions: array (N, 2).

    - ``"pca"``: the first two principal components (``sklearn.decomposition.PCA``): a linear
      view; distances along them are real distances in code space;
    - ``"tsne"``: t-SNE (``sklearn.manifold.TSNE``, PCA initialisation, seeded), which keeps
      *neighbours* together and says little about distances between far-apart groups.
      ``perplexity`` (roughly the number of neighbours each point cares about) is lowered to
      ``(N - 1) / 3`` when there are few codes.

    ``n_threads`` limits the OpenMP threads of t-SNE's gradient (``threadpoolctl``; ``None``: no
    limit). One thread is the default: on a busy machine (other notebooks, other users) threads
    that wait for each other made t-SNE several times slower, and on an idle one a second
    thread saves at most half. t-SNE takes tens of seconds for a thousand codes and reports
    nothing while it runs, so with ``progress`` a one-step bar (:func:`course_utils.base.jupyter.progress`)
    says when it starts and, at the end, how long it took. Taught in ``12_autoencoder``.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) < 3:
        raise ValueError(f"codes must be (N, latent) with N >= 3, got {codes.shape}")
    if method == "pca":
        return PCA(n_components=2).fit_transform(codes)
    if method == "tsne":
        perplexity = float(min(perplexity, (len(codes) - 1) / 3))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, n_jobs=1)
        desc = f"t-SNE of {len(codes)} codes ({codes.shape[1]} numbers each, perplexity {perplexity:.3g})"
        with jupyter.progress(total=1, desc=desc, unit="map", disable=not progress) as bar:
            with threadpool_limits(limits=n_threads):
                points = tsne.fit_transform(codes)
            bar.update(1)
        return points
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _knn(k: int, standardize: bool):
    knn = KNeighborsClassifier(n_neighbors=k)
    return make_pipeline(StandardScaler(), knn) if standardize else knn


def knn_accuracy(
    codes: np.ndarray,
    labels: Sequence,
    *,
    k: int = 5,
    folds: int = 5,
    groups: Sequence | None = None,
    standardize: bool = True,
    seed: int = 0,
    n_threads: int | None = 1,
) -> float:
    """Cross-validated accuracy of a k-nearest-neighbour vote in code space (a fraction).

    Each code is classified by the majority label of its ``k`` nearest codes in the other
    folds (``sklearn.neighbors.KNeighborsClassifier`` after a ``StandardScaler``, fitted per
    fold, inside ``cross_val_score``). A high accuracy means codes with the same label lie
    close together: the attribute organises the code space.

    Folds: ``StratifiedKFold`` (shuffled with ``seed``), or with ``groups`` (e.g. the actor of
    each clip) ``StratifiedGroupKFold``, so that no group is in the training and the test fold
    at once: neighbours must then come from *other* speakers. Fewer folds are used when a class
    (or the number of groups) is too small. ``n_threads``: OpenMP threads of the distance
    computations (see :func:`project_2d`). Taught in ``12_autoencoder``.
    """
    x = np.asarray(codes, dtype=np.float64)
    y = np.asarray(labels)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} codes but {len(y)} labels")
    counts = np.unique(y, return_counts=True)[1]
    if len(counts) < 2:
        raise ValueError("labels must hold at least two classes")
    n_splits = min(int(folds), int(counts.max()))
    if groups is None:
        n_splits = min(n_splits, int(counts.min()))
        cv = StratifiedKFold(n_splits=max(n_splits, 2), shuffle=True, random_state=seed)
        fit_kwargs = {}
    else:
        g = np.asarray(groups)
        if len(g) != len(y):
            raise ValueError(f"{len(y)} labels but {len(g)} groups")
        n_splits = min(n_splits, len(np.unique(g)))
        if n_splits < 2:
            raise ValueError("grouped cross-validation needs at least two groups")
        cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        fit_kwargs = {"groups": g}
    k = int(min(k, len(x) - len(x) // cv.n_splits - 1))
    with threadpool_limits(limits=n_threads):
        scores = cross_val_score(_knn(max(k, 1), standardize), x, y, cv=cv, **fit_kwargs)
    return float(np.mean(scores))


def _class_determines_group(labels: np.ndarray, groups: np.ndarray) -> bool:
    """True if every class lives in a single group (e.g. actor id grouped by actor)."""
    table = pd.DataFrame({"label": labels, "group": groups})
    return bool((table.groupby("label")["group"].nunique() == 1).all())


def _silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    with threadpool_limits(limits=1):
        return float(silhouette_score(x, labels))


def code_space_table(
    codes: np.ndarray,
    attributes: dict[str, Sequence],
    *,
    groups: Sequence | None = None,
    k: int = 5,
    folds: int = 5,
    min_groups: int = 4,
    seed: int = 0,
) -> pd.DataFrame:
    """Which attribute organises the code space? One row per attribute (the index).

    Columns: ``classes``; ``chance`` (the most frequent class's share: what always guessing it
    scores); ``knn`` (:func:`knn_accuracy`, random folds); ``knn_gain`` = (knn - chance) /
    (1 - chance), the share of the way from chance to 100 % (0 = no better than guessing,
    1 = perfect), comparable across attributes with different numbers of classes;
    ``knn_other_groups`` (:func:`knn_accuracy` with ``groups``: neighbours from other speakers
    only; NaN without ``groups``, with fewer than ``min_groups`` groups, or when each class is
    one group, as for actor id); ``silhouette`` (``sklearn.metrics.silhouette_score`` of the
    standardised codes: +1 tight separate clusters, 0 overlapping, below 0 mixed).
    Taught in ``12_autoencoder``.
    """
    x = StandardScaler().fit_transform(np.asarray(codes, dtype=np.float64))
    g = None if groups is None else np.asarray(groups)
    rows = {}
    for name, labels in attributes.items():
        y = np.asarray(labels)
        values, counts = np.unique(y, return_counts=True)
        chance = counts.max() / counts.sum()
        knn = knn_accuracy(codes, y, k=k, folds=folds, seed=seed)
        grouped = np.nan
        if g is not None and len(np.unique(g)) >= min_groups and not _class_determines_group(y, g):
            grouped = knn_accuracy(codes, y, k=k, folds=folds, groups=g, seed=seed)
        rows[name] = {
            "classes": len(values),
            "chance": chance,
            "knn": knn,
            "knn_gain": (knn - chance) / (1 - chance),
            "knn_other_groups": grouped,
            "silhouette": _silhouette(x, y),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("attribute")


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
#: Frequencies (Hz) marked on the Mel axes (125 Hz would crowd 250 Hz at 64 rows).
MEL_TICKS_HZ = (250, 500, 1000, 2000, 4000, 8000)


def _mel_time_axes(ax: plt.Axes, config: FeatureConfig, height: int, *, ylabel: bool, xlabel: bool) -> None:
    pos, labels = plots.mel_ticks(config, height, MEL_TICKS_HZ)
    ax.set_yticks(pos, labels)
    if ylabel:
        ax.set_ylabel("frequency (Hz, Mel scale)")
    if xlabel:
        ax.set_xlabel("time (s)")


def plot_reconstructions(
    inputs: np.ndarray,
    outputs: np.ndarray,
    titles: Sequence[str],
    config: FeatureConfig = FeatureConfig(),
    diff_range_db: float | None = None,
) -> plt.Figure:
    """One row per clip: input image, reconstruction, and their difference, in dB.

    Columns 1-2 show the level in dB re the clip's loudest bin (pixel 0 = ``-db_range`` dB,
    1 = 0 dB) on one shared scale; column 3 shows input minus reconstruction in dB on a
    symmetric diverging scale (red: the reconstruction is too quiet there, blue: too loud;
    ``diff_range_db``: its limit, default the 99th percentile of the absolute difference).
    Rows are titled with ``titles`` and each clip's MSE. Frequency axis in Hz (Mel scale),
    time axis in seconds of the common clip length ``config.duration``.
    Taught in ``12_autoencoder``.
    """
    x, y = np.asarray(inputs, dtype=np.float32), np.asarray(outputs, dtype=np.float32)
    if x.shape != y.shape or x.ndim != 3:
        raise ValueError(f"inputs and outputs must both be (N, H, W), got {x.shape} and {y.shape}")
    if len(titles) != len(x):
        raise ValueError(f"{len(x)} images but {len(titles)} titles")
    n, h = len(x), x.shape[1]
    db = config.db_range
    diff = (x - y) * db
    lim = float(diff_range_db or max(np.percentile(np.abs(diff), 99), 1.0))
    errors = reconstruction_errors(x, y)
    fig, axes = plt.subplots(n, 3, figsize=(13, 2.6 * n + 0.8), squeeze=False, layout="constrained")
    extent = (0, config.duration, 0, h)
    for r in range(n):
        panels = [(x[r] * db - db, "input"), (y[r] * db - db, "reconstruction")]
        for c, (img, what) in enumerate(panels):
            im = axes[r, c].imshow(img, origin="lower", aspect="auto", cmap="magma", vmin=-db, vmax=0, extent=extent)
            axes[r, c].set_title(f"{titles[r]}: {what}", fontsize=9)
        im_d = axes[r, 2].imshow(diff[r], origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, extent=extent)
        axes[r, 2].set_title(f"input - reconstruction (MSE {errors[r]:.4f})", fontsize=9)
        for c in range(3):
            _mel_time_axes(axes[r, c], config, h, ylabel=c == 0, xlabel=r == n - 1)
    fig.colorbar(im, ax=axes[:, :2], label="level (dB re the clip's loudest bin)", shrink=0.9)
    fig.colorbar(im_d, ax=axes[:, 2], label="input - reconstruction (dB)", shrink=0.9)
    return fig


def plot_error_profile(
    profiles: dict[str, np.ndarray], config: FeatureConfig = FeatureConfig(), axis: str = "mel", ax: plt.Axes | None = None
) -> plt.Axes:
    """Mean squared error per Mel band (``axis="mel"``) or per time step (``"time"``), one line
    per entry of ``profiles`` (name -> :func:`error_profile`), on a log y axis.
    Taught in ``12_autoencoder``.
    """
    if axis not in ("mel", "time"):
        raise ValueError(f"axis must be 'mel' or 'time', got {axis!r}")
    ax = ax or plt.gca()
    for name, prof in profiles.items():
        prof = np.asarray(prof)
        if axis == "mel":
            ax.plot(np.arange(len(prof)) + 0.5, prof, label=name)
        else:
            ax.plot((np.arange(len(prof)) + 0.5) * config.duration / len(prof), prof, label=name)
    if axis == "mel":
        height = len(next(iter(profiles.values())))
        pos, labels = plots.mel_ticks(config, height, MEL_TICKS_HZ)
        ax.set_xticks(pos, labels)
        ax.set_xlabel("frequency (Hz, Mel scale)")
        ax.set_title("Reconstruction error per Mel band")
    else:
        ax.set_xlabel("time (s)")
        ax.set_title("Reconstruction error over time")
    ax.set_yscale("log")
    ax.set_ylabel("mean squared error ((pixel value)², log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return ax


def _palette(n: int) -> list:
    """``n`` distinct qualitative colours: tab10 up to 10, tab20 up to 20, else tab20 + tab20b + tab20c."""
    if n <= 10:
        return list(plt.get_cmap("tab10").colors[:n])
    colours = list(plt.get_cmap("tab20").colors) + list(plt.get_cmap("tab20b").colors) + list(plt.get_cmap("tab20c").colors)
    if n > len(colours):
        raise ValueError(f"at most {len(colours)} categories can get distinct colours, got {n}")
    return colours[:n]


def plot_codes_2d(
    points: np.ndarray,
    labels: Sequence,
    title: str,
    *,
    ax: plt.Axes | None = None,
    markers: Sequence | None = None,
    order: Sequence | None = None,
    xlabel: str = "dimension 1 (no unit)",
    ylabel: str = "dimension 2 (no unit)",
    legend_title: str | None = None,
    legend: bool = True,
    marker_title: str = "marker",
    size: float = 16.0,
) -> plt.Axes:
    """A scatter plot of 2-D codes (:func:`project_2d`), one qualitative colour per label.

    ``order`` fixes the order of the labels (default: sorted). With ``markers`` (one category
    per point, e.g. the speaker's sex) each category gets its own marker shape and a second
    legend, so that up to 24 actors stay apart (colour and shape together). The colour legend
    goes to the right of the axes, in two columns when there are more than 12 labels
    (``legend=False``: none, e.g. for the left panel of a pair sharing one legend);
    ``marker_title`` heads the legend of the marker shapes.
    Taught in ``12_autoencoder``.
    """
    pts = np.asarray(points, dtype=float)
    lab = np.asarray(labels)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) != len(lab):
        raise ValueError(f"points must be (N, 2) with one label each, got {pts.shape} and {len(lab)} labels")
    ax = ax or plt.gca()
    classes = list(order) if order is not None else sorted(np.unique(lab).tolist())
    colours = dict(zip(classes, _palette(len(classes))))
    mk = None if markers is None else np.asarray(markers)
    kinds = [None] if mk is None else sorted(np.unique(mk).tolist())
    shapes = dict(zip(kinds, MARKERS)) if mk is not None else {None: "o"}
    for cls in classes:
        for kind in kinds:
            sel = (lab == cls) if mk is None else (lab == cls) & (mk == kind)
            if sel.any():
                ax.scatter(pts[sel, 0], pts[sel, 1], s=size, color=colours[cls], marker=shapes[kind],
                           alpha=0.8, linewidths=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.2)
    if not legend:
        return ax
    def handle_marker(cls):  # a class with a single marker shape (an actor: one sex) shows it in the legend
        kinds_of = set() if mk is None else set(np.unique(mk[lab == cls]).tolist())
        return shapes[kinds_of.pop()] if len(kinds_of) == 1 else "o"

    handles = [Line2D([], [], ls="", marker=handle_marker(c), color=colours[c], label=str(c)) for c in classes]
    colour_legend = ax.legend(handles=handles, title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                              ncols=2 if len(classes) > 12 else 1, fontsize=8, title_fontsize=9, frameon=False,
                              handletextpad=0.2, columnspacing=0.6)
    if mk is not None:
        ax.add_artist(colour_legend)
        shape_handles = [Line2D([], [], ls="", marker=shapes[k], color="0.3", label=str(k)) for k in kinds]
        ax.legend(handles=shape_handles, title=marker_title, loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=8,
                  title_fontsize=9, frameon=False)
    return ax
