"""A compact modern CNN for emotion, mixup, actor-held-out cross-validation and ensembles.

Taught in ``16_better_emotion_model``; ``17_new_voices`` trains the same network for longer and
adds test-time averaging and an ensemble with the classical baseline.

The study's emotion CNN (Table 1 with a Dense 256 head) has 63 million parameters
(:func:`study_emotion_parameters`), almost all of them in one dense layer behind a Flatten, for
about a thousand training clips, and overfitted strongly on a random split (its reported
numbers: :mod:`course_utils.course.study`). A modern small network keeps the convolutions and
drops that layer: blocks of convolutions with batch normalisation, then global average pooling,
which averages each channel over the whole image, so that the number of weights no longer
depends on the image size. Two regularisers suit spectrograms: SpecAugment hides bands and
moments (chapter 10), and mixup (Zhang et al., 2018) trains on convex mixtures of two clips
and of their one-hot labels,

.. math:: \\tilde x = \\lambda x_i + (1 - \\lambda) x_j, \\qquad
   \\tilde y = \\lambda y_i + (1 - \\lambda) y_j, \\qquad \\lambda \\sim \\mathrm{Beta}(\\alpha, \\alpha),

so that the network learns to change its answer gradually between clips instead of being
certain everywhere. A random split hears every test voice in training; the number that
matters for new speakers comes from actor-held-out cross-validation, in which every actor is
tested once and no actor is in two parts. This module holds each piece, a thin wrapper of
Keras:

- :func:`compact_cnn`: blocks of (Conv 3x3 - batch normalisation - ReLU) x 2 and pooling,
  global average pooling, dropout and an 8-way softmax: a few hundred thousand parameters;
  optionally per-Mel-band standardisation of the input (:func:`band_standardisation`, a Keras
  ``Normalization`` layer) and SpecAugment (:class:`course_utils.learning.augment.SpecAugment`)
  inside the model; :func:`count_parameters` and :func:`study_emotion_parameters` count weights;
- :func:`sample_beta`, :func:`mixup_batch` and :func:`train_dataset`: mixup on batches of
  (image, one-hot label) pairs, as a seeded ``tf.data`` map; :func:`eval_dataset`: the
  validation batches, never mixed;
- :func:`compile_model`: Adam (optionally with a cosine decay of the learning rate) and
  categorical cross-entropy on one-hot (or mixed) labels;
- :func:`run_experiment`: build, train (:func:`course_utils.learning.training.fit`, early
  stopping), evaluate, for one :class:`Variant` of the ablation (:data:`VARIANTS`);
- the actor folds (:func:`course_utils.data.splits.actor_folds`, which chapter 07's baseline shares):
  :func:`parts_by_actor` checks that no actor is in two parts, :func:`fold_table` lists them,
  :func:`summarise_folds` and :func:`pooled_confusion` gather the folds' results;
- chapter 17: :func:`predict_shifted` (test-time averaging over shifts in time),
  :func:`combine` and :func:`choose_weight` (an ensemble of two models' probabilities, its
  weight chosen on validation voices);
- figures: :func:`plot_beta`, :func:`plot_mixup_pair`, :func:`plot_folds`,
  :func:`plot_protocols`.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import layers
from scipy import stats
from sklearn.metrics import confusion_matrix

from course_utils.data import splits
from course_utils.sound import features
from course_utils.learning import augment, diagnosis, multitask, pipeline, training

#: Emotion classes of RAVDESS.
N_EMOTIONS = 8


# --------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------
def band_standardisation(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of every Mel band (image row) over clips and frames: what the network's
    per-band standardisation subtracts and divides by (not the per-clip band statistics of the
    baseline, :func:`course_utils.learning.baseline.band_statistics`).

    ``images`` (N, bands, frames) are the *training* images only (statistics of validation
    or test images would leak them into the model). Returns two arrays of shape (bands,).
    Taught in ``16_better_emotion_model``.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"images must have shape (N, bands, frames), got {x.shape}")
    return x.mean(axis=(0, 2)).astype(np.float32), x.var(axis=(0, 2)).astype(np.float32)


def compact_cnn(
    input_shape: tuple[int, int, int] = (64, 64, 1),
    n_classes: int = N_EMOTIONS,
    filters: tuple[int, ...] = (16, 32, 64, 128),
    dropout: float = 0.3,
    *,
    band_stats: tuple[np.ndarray, np.ndarray] | None = None,
    spec_augment: layers.Layer | None = None,
    bn_momentum: float = 0.9,
    seed: int | None = 0,
    name: str = "compact_bn",
) -> keras.Model:
    """A compact CNN: conv blocks with batch normalisation, global average pooling, softmax.

    ``Input -> [Normalization per Mel band] -> [SpecAugment] -> blocks -> GAP -> Dropout ->
    Dense n_classes softmax``. Every block is (Conv2D 3x3 'same', no bias -> BatchNorm ->
    ReLU) twice, then 2 x 2 max pooling, with ``filters[i]`` channels in block ``i``. The
    convolutions have no bias because batch normalisation's shift ``beta`` replaces it.

    - ``band_stats``: (mean, variance) per Mel band from :func:`band_standardisation`; each band
      of the input is standardised to mean 0 and variance 1 (``layers.Normalization(axis=1)``,
      fixed, not trained). Without it the images go in as they are, in [0, 1].
    - ``spec_augment``: a :class:`course_utils.learning.augment.SpecAugment` layer, placed
      *after* the standardisation, so that ``fill="mean"`` masks a band with a value close to
      its training average (Park et al. set masks to 0 on normalised features). Active in
      training only.

    ``bn_momentum``: weight of the old value in batch normalisation's running mean and
    variance (used for prediction). Keras' default 0.99 averages over about 100 batches,
    three epochs of ~32 batches here, so validation scores lag behind training; 0.9 (about
    10 batches) follows a small data set's quickly changing weights closely.

    With the defaults (64 x 64 x 1, filters 16-32-64-128, 8 classes) the model has
    about 290,000 parameters, against the study's 63 million. Uncompiled; the same ``seed``
    gives the same initial weights. Taught in ``16_better_emotion_model``.
    """
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2 (softmax), got {n_classes}")
    if not filters:
        raise ValueError("filters must name at least one block")
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    inputs = keras.Input(shape=tuple(input_shape), name="log_mel")
    x = inputs
    if band_stats is not None:
        mean, var = (np.asarray(a, dtype=np.float32).reshape(-1) for a in band_stats)
        if len(mean) != input_shape[0] or len(var) != input_shape[0]:
            raise ValueError(f"band_stats must have {input_shape[0]} values (one per Mel band), got {len(mean)}")
        x = layers.Normalization(axis=1, mean=mean, variance=np.maximum(var, 1e-6), name="band_standardise")(x)
    if spec_augment is not None:
        x = spec_augment(x)
    for b, f in enumerate(filters, start=1):
        for c in (1, 2):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"block{b}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{b}_bn{c}")(x)
            x = layers.ReLU(name=f"block{b}_relu{c}")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="global_avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def count_parameters(model: keras.Model) -> dict[str, int]:
    """Trainable and non-trainable (batch-norm statistics, band statistics) parameters.

    Taught in ``16_better_emotion_model``.
    """
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return {"trainable": trainable, "non_trainable": int(model.count_params()) - trainable, "total": int(model.count_params())}


def study_emotion_parameters(side: int = 256, dense_units: int = 256, n_classes: int = N_EMOTIONS) -> int:
    """Parameters of the study's emotion CNN (Table 1, Dense 256, 8-way softmax) at ``side``.

    Conv 32 3x3 (320) + Conv 64 3x3 (18,496) + Dense on the flattened map
    (``((side - 2) // 2 - 2) // 2`` squared times 64 inputs) + the softmax layer:
    63,001,224 at 256 x 256; computed by :func:`course_utils.learning.multitask.parameter_formula`.
    Taught in ``16_better_emotion_model``.
    """
    return int(multitask.parameter_formula(side, {"emotion": n_classes}, shared_units=dense_units).sum())


def compile_model(model: keras.Model, lr: float = 1e-3, label_smoothing: float = 0.0,
                  decay_steps: int | None = None) -> keras.Model:
    """Adam and categorical cross-entropy on one-hot labels (mixup needs soft labels).

    With ``decay_steps`` the learning rate follows a cosine from ``lr`` down to
    ``lr / 100`` over that many gradient steps (``keras.optimizers.schedules.CosineDecay``):
    large steps first, small ones at the end, where they settle the weights instead of
    shaking them.

    ``label_smoothing`` ``s`` replaces a one-hot target by ``(1 - s) * y + s / K``. The
    ``accuracy`` metric compares the arg-max of the target with the arg-max of the output
    (for a mixed target: its larger part). Returns the model.
    Taught in ``16_better_emotion_model``.
    """
    rate = keras.optimizers.schedules.CosineDecay(lr, int(decay_steps), alpha=0.01) if decay_steps else lr
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy"],
    )
    return model


# --------------------------------------------------------------------------------------
# mixup
# --------------------------------------------------------------------------------------
def sample_beta(alpha: float, size, seed) -> tf.Tensor:
    """``size`` draws of Beta(alpha, alpha), stateless: ``seed`` is a shape-(2,) int tensor.

    Beta(a, a) = G1 / (G1 + G2) with G1, G2 independent Gamma(a, 1) draws
    (``tf.random.stateless_gamma``). Taught in ``16_better_emotion_model``.
    """
    seed = tf.cast(seed, tf.int64)
    g1 = tf.random.stateless_gamma(size, seed=seed, alpha=alpha)
    g2 = tf.random.stateless_gamma(size, seed=seed + tf.constant([0, 1], tf.int64), alpha=alpha)
    return g1 / (g1 + g2)


def mixup_batch(x, y, alpha: float, seed):
    """mixup of one batch: ``x~ = lam x_i + (1 - lam) x_j`` and the same for the labels.

    ``x`` (batch, H, W, C) images, ``y`` (batch, K) one-hot labels; the partner ``j`` of
    every example is a random permutation of the batch and ``lam ~ Beta(alpha, alpha)`` is
    drawn per example. ``seed``: a shape-(2,) integer tensor (stateless random ops), so the
    same seed gives the same mix. Returns ``(x~, y~)`` with the shapes of ``x`` and ``y``.
    Taught in ``16_better_emotion_model``.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.cast(y, tf.float32)
    seed = tf.cast(seed, tf.int64)
    n = tf.shape(x)[0]
    lam = sample_beta(alpha, [n], seed)
    order = tf.argsort(tf.random.stateless_uniform([n], seed=seed + tf.constant([1, 0], tf.int64)))
    lam_x = tf.reshape(lam, [-1, 1, 1, 1])
    lam_y = tf.reshape(lam, [-1, 1])
    x_mixed = lam_x * x + (1.0 - lam_x) * tf.gather(x, order)
    y_mixed = lam_y * y + (1.0 - lam_y) * tf.gather(y, order)
    return x_mixed, y_mixed


def train_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    n_classes: int = N_EMOTIONS,
    *,
    batch_size: int = 32,
    seed: int = 0,
    mixup_alpha: float | None = None,
    max_batches: int | None = None,
) -> tf.data.Dataset:
    """Training batches ``(images (b, H, W, 1), one-hot labels (b, K))``, shuffled, optionally mixed.

    :func:`course_utils.learning.pipeline.make_dataset` (seeded shuffle every epoch), one-hot
    labels, the first ``max_batches`` batches of every epoch if given, then :func:`mixup_batch`
    with ``mixup_alpha`` (None or 0: no mixup). The mixing seeds come from
    ``tf.data.Dataset.random(seed)``, new every epoch and the same on a rerun.
    Taught in ``16_better_emotion_model``.
    """
    onehot = np.eye(n_classes, dtype=np.float32)[np.asarray(labels, dtype=int)]
    ds = pipeline.make_dataset(images, onehot, batch_size=batch_size, shuffle=True, seed=seed)
    if max_batches:
        ds = ds.take(int(max_batches))
    if mixup_alpha:
        alpha = float(mixup_alpha)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(lambda xy, s: mixup_batch(xy[0], xy[1], alpha, s),
                                                 num_parallel_calls=1, deterministic=True)
    return ds


def eval_dataset(images: np.ndarray, labels: np.ndarray, n_classes: int = N_EMOTIONS, batch_size: int = 32) -> tf.data.Dataset:
    """Validation batches with one-hot labels, in order, never augmented.

    Used by :func:`run_experiment` (``16_better_emotion_model``, ``17_new_voices``).
    """
    onehot = np.eye(n_classes, dtype=np.float32)[np.asarray(labels, dtype=int)]
    return pipeline.make_dataset(images, onehot, batch_size=batch_size)


# --------------------------------------------------------------------------------------
# One experiment, and the ablation
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """What a training run adds to the plain compact CNN (part of the ablation).

    Taught in ``16_better_emotion_model``.
    """

    spec_augment: bool = False
    mixup: bool = False


#: The ablation: plain, + SpecAugment, + mixup, + both (the final model).
VARIANTS = {
    "plain": Variant(False, False),
    "specaugment": Variant(True, False),
    "mixup": Variant(False, True),
    "both": Variant(True, True),
}


def run_experiment(
    images: np.ndarray,
    labels: np.ndarray,
    split: splits.Split,
    class_names,
    *,
    variant: Variant = VARIANTS["both"],
    epochs: int = 40,
    patience: int | None = 10,
    batch_size: int = 32,
    max_batches: int | None = None,
    seed: int = 0,
    filters: tuple[int, ...] = (16, 32, 64, 128),
    dropout: float = 0.3,
    standardise: bool = True,
    mixup_alpha: float = 0.2,
    mask_width: int = 8,
    n_masks: int = 2,
    lr: float = 1e-3,
    cosine: bool = True,
    bn_momentum: float = 0.9,
    label_smoothing: float = 0.0,
    keep_model: bool = False,
    progress: bool = True,
    tta_shifts: tuple[int, ...] | None = None,
) -> dict:
    """Build, train and test the compact CNN on one split; the model is freed afterwards.

    The band statistics (if ``standardise``) come from the training images only. Training:
    :func:`course_utils.learning.training.fit` (Adam, with a cosine decay of the learning rate
    over ``epochs`` if ``cosine``, best validation accuracy kept, early stopping after
    ``patience`` epochs without improvement). Returns ``history`` (DataFrame), ``scores``
    (:func:`course_utils.learning.training.evaluate` on the test part), ``parameters``
    (:func:`count_parameters`), ``epochs_run``, ``best_epoch`` and ``seconds`` (wall clock of
    the whole run). With ``keep_model`` the trained network (best validation weights) is
    returned as ``model`` instead of freed: chapter 16 keeps its final model for the clip
    classifier. ``tta_shifts``: also return ``probabilities`` (``{"val": ..., "test": ...}``,
    :func:`predict_shifted` averaged over these shifts of the time axis; ``(0,)``: plain) and
    ``scores_tta`` (the test scores of those averaged probabilities), for test-time averaging
    and ensembles (``17_new_voices``). ``progress``: one bar counting the epochs
    (``training.fit``), named after the variant and the split, e.g.
    ``compact CNN + SpecAugment + mixup, fold 2``.
    Taught in ``16_better_emotion_model``; ``17_new_voices`` runs it too.
    """
    t0 = time.perf_counter()
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels, dtype=int)
    n_classes = len(class_names)
    side = images.shape[1:]
    stats_ = band_standardisation(images[split.train]) if standardise else None
    masks = (augment.SpecAugment(n_masks, mask_width, n_masks, mask_width, fill="mean", seed=seed + 1, name="specaugment")
             if variant.spec_augment else None)
    model = compact_cnn((*side, 1), n_classes, filters, dropout, band_stats=stats_, spec_augment=masks,
                        bn_momentum=bn_momentum, seed=seed)
    steps = -(-len(split.train) // batch_size)
    steps = min(steps, int(max_batches)) if max_batches else steps
    compile_model(model, lr=lr, label_smoothing=label_smoothing, decay_steps=epochs * steps if cosine else None)
    train_ds = train_dataset(images[split.train], labels[split.train], n_classes, batch_size=batch_size, seed=seed,
                             mixup_alpha=mixup_alpha if variant.mixup else None, max_batches=max_batches)
    val_ds = eval_dataset(images[split.val], labels[split.val], n_classes, batch_size)
    added = [name for name, used in (("SpecAugment", variant.spec_augment), ("mixup", variant.mixup)) if used]
    desc = " + ".join(["compact CNN", *added]) + f", {splits.short_name(split)}"
    history = training.fit(model, train_ds, val_ds, epochs, seed=seed, patience=patience, progress=progress and desc)
    scores = training.evaluate(model, images[split.test], labels[split.test], class_names, batch_size=batch_size)
    result = {"history": history, "scores": scores, "parameters": count_parameters(model), "epochs_run": len(history),
              "best_epoch": int(history.attrs["best_epoch"])}
    if tta_shifts is not None:
        result["probabilities"] = {part: predict_shifted(model, images[getattr(split, part)], tta_shifts, batch_size)
                                   for part in ("val", "test")}
        result["scores_tta"] = diagnosis.summary_scores(
            confusion_matrix(labels[split.test], result["probabilities"]["test"].argmax(axis=1), labels=list(range(n_classes))))
    if keep_model:
        result["model"] = model
    del model, train_ds, val_ds
    if not keep_model:
        keras.utils.clear_session(free_memory=True)
        gc.collect()
    result["seconds"] = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------------------
# Actor-held-out cross-validation
# --------------------------------------------------------------------------------------
def parts_by_actor(meta: pd.DataFrame, split: splits.Split) -> dict[str, set[int]]:
    """The actors in each part of a split: ``{"train": {...}, "val": {...}, "test": {...}}``.

    Used by :func:`fold_table` (``16_better_emotion_model``).
    """
    a = meta["actor"].to_numpy()
    return {part: {int(x) for x in a[getattr(split, part)]} for part in ("train", "val", "test")}


def fold_table(meta: pd.DataFrame, folds: list[splits.Split]) -> pd.DataFrame:
    """One row per fold: its test and validation actors (id + sex) and the clips per part.

    ``shared actors`` counts actors found in two parts (0 for a correct actor split).
    Taught in ``16_better_emotion_model``.
    """
    def names(ids):
        return " ".join(f"{i:02d}{'M' if i % 2 else 'F'}" for i in sorted(ids))

    rows = []
    for k, split in enumerate(folds, start=1):
        parts = parts_by_actor(meta, split)
        shared = (parts["train"] & parts["val"]) | (parts["train"] & parts["test"]) | (parts["val"] & parts["test"])
        rows.append({"fold": k, "test actors": names(parts["test"]), "val actors": names(parts["val"]),
                     "train actors": len(parts["train"]), **split.sizes(), "shared actors": len(shared)})
    return pd.DataFrame(rows).set_index("fold")


def summarise_folds(fold_results: list[dict], folds: list[splits.Split], meta: pd.DataFrame) -> pd.DataFrame:
    """Per-fold table: test actors, test clips, accuracy with its binomial SE, best epoch, epochs run.

    Taught in ``16_better_emotion_model``.
    """
    table = fold_table(meta, folds)
    rows = []
    for k, (r, split) in enumerate(zip(fold_results, folds), start=1):
        acc = r["scores"]["accuracy"]
        rows.append({"fold": k, "test actors": table.loc[k, "test actors"], "test clips": len(split.test),
                     "accuracy": acc, "SE": float(diagnosis.binomial_se(acc, len(split.test))),
                     "best epoch": r["best_epoch"], "epochs run": r["epochs_run"]})
    return pd.DataFrame(rows).set_index("fold")


def pooled_confusion(fold_results: list[dict]) -> np.ndarray:
    """Sum of the folds' confusion matrices: every actor's clips counted once (as a test clip).

    Taught in ``16_better_emotion_model``.
    """
    return np.sum([np.asarray(r["scores"]["confusion"]) for r in fold_results], axis=0)


# --------------------------------------------------------------------------------------
# Test-time averaging and ensembles (chapter 17)
# --------------------------------------------------------------------------------------
def predict_shifted(model: keras.Model, images: np.ndarray, shifts: tuple[int, ...] = (0,), batch_size: int = 64) -> np.ndarray:
    """Class probabilities averaged over circular shifts of the time axis (test-time averaging).

    ``images`` (N, bands, frames); each shift ``s`` rolls every image by ``s`` frames
    (``np.roll`` along the frames; the sentence is centred in silence, so a small roll moves it
    in time without cutting it) before the model predicts, and the softmax outputs are averaged.
    ``shifts=(0,)`` is a plain prediction. Returns (N, n_classes). Taught in ``17_new_voices``.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or not len(shifts):
        raise ValueError(f"images must be (N, bands, frames) and shifts non-empty, got {images.shape} and {shifts!r}")
    probs = [training.predict_proba(model, np.roll(images, int(s), axis=2), batch_size=batch_size) for s in shifts]
    return np.mean(probs, axis=0)


def combine(p_a: np.ndarray, p_b: np.ndarray, weight: float) -> np.ndarray:
    """The ensemble ``weight * p_a + (1 - weight) * p_b`` of two models' class probabilities.

    Taught in ``17_new_voices``.
    """
    p_a, p_b = np.asarray(p_a, dtype=float), np.asarray(p_b, dtype=float)
    if p_a.shape != p_b.shape or not 0.0 <= weight <= 1.0:
        raise ValueError(f"need probabilities of the same shape and a weight in [0, 1]: {p_a.shape}, {p_b.shape}, {weight!r}")
    return weight * p_a + (1.0 - weight) * p_b


def choose_weight(p_a: np.ndarray, p_b: np.ndarray, labels, grid=np.linspace(0.0, 1.0, 11), score: str = "uar") -> float:
    """The weight of :func:`combine` with the best ``score`` (``"uar"`` or ``"accuracy"``) on
    *validation* clips; ties keep the weight closest to 0.5 (an even mix). Taught in
    ``17_new_voices``.
    """
    labels = np.asarray(labels, dtype=int)
    n = np.asarray(p_a).shape[1]
    best = None
    for w in grid:
        pred = combine(p_a, p_b, float(w)).argmax(axis=1)
        value = diagnosis.summary_scores(confusion_matrix(labels, pred, labels=list(range(n))))[score]
        key = (value, -abs(float(w) - 0.5))
        if best is None or key > best[0]:
            best = (key, float(w))
    return best[1]


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def plot_beta(alphas=(0.1, 0.2, 0.4, 1.0, 2.0), ax=None):
    """Density of the mixing weight ``lam ~ Beta(alpha, alpha)`` for a few ``alpha``.

    Small ``alpha``: most mixes stay close to one of the two clips; ``alpha = 1``: uniform.
    Returns the Axes. Taught in ``16_better_emotion_model``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.6))
    lam = np.linspace(0.005, 0.995, 399)
    for a in alphas:
        ax.plot(lam, stats.beta.pdf(lam, a, a), label=f"alpha = {a:g}")
    ax.set(xlabel="mixing weight lambda of the first clip", ylabel="probability density",
           ylim=(0, 5), title="mixup: lambda ~ Beta(alpha, alpha)")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_mixup_pair(image_a: np.ndarray, image_b: np.ndarray, lam: float, label_a: str, label_b: str,
                    class_names, config: features.FeatureConfig = features.FeatureConfig()) -> plt.Figure:
    """Two log-Mel images, their mix ``lam a + (1 - lam) b`` and the mixed target.

    Top: the three images (time in s, Mel frequency in Hz); bottom: the soft label the
    network is trained on for the mix. Taught in ``16_better_emotion_model``.
    """
    mixed = lam * np.asarray(image_a) + (1 - lam) * np.asarray(image_b)
    fig = augment.plot_images({f"clip A: {label_a}": image_a, f"clip B: {label_b}": image_b,
                               f"mix: {lam:.2f} A + {1 - lam:.2f} B": mixed}, config, ncols=3,
                              title="mixup of two training clips")
    names = [str(c) for c in class_names]
    target = np.zeros(len(names))
    target[names.index(label_a)] += lam
    target[names.index(label_b)] += 1 - lam
    ax = fig.add_axes([0.08, -0.42, 0.7, 0.3])
    ax.bar(names, target, color=["C3" if t > 0 else "0.7" for t in target])
    ax.set(ylabel="target probability", ylim=(0, 1.05), xlabel="emotion",
           title="the training target of the mix (soft label)")
    ax.tick_params(axis="x", labelsize=8)
    return fig


def plot_folds(per_fold: pd.DataFrame, random_accuracy: float | None = None, chance: float | None = None,
               ax=None, title: str | None = None):
    """Test accuracy of every actor-held-out fold (with +- 1 binomial SE) and their mean.

    ``per_fold`` is :func:`summarise_folds`' table. Optional horizontal lines: the same
    model on the random split, and chance. Returns the Axes.
    Taught in ``16_better_emotion_model``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.5, 3.0 + 1.2 * len(per_fold)), 4.0))
    x = np.arange(len(per_fold))
    acc = 100 * per_fold["accuracy"].to_numpy()
    ax.bar(x, acc, yerr=100 * per_fold["SE"].to_numpy(), capsize=3, color="C0", alpha=0.85, label="fold (+- 1 SE)")
    ax.axhline(acc.mean(), color="C0", ls="-", lw=1.5, label=f"mean of the folds: {acc.mean():.1f} %")
    if random_accuracy is not None:
        ax.axhline(100 * random_accuracy, color="C1", ls="--", lw=1.5, label=f"random split: {100 * random_accuracy:.1f} %")
    if chance is not None:
        ax.axhline(100 * chance, color="0.3", ls=":", lw=1.2, label=f"chance: {100 * chance:.1f} %")
    def label(k, actors):  # fold number, then the test actors two per line
        ids = str(actors).split()
        return "\n".join([f"fold {k}"] + [" ".join(ids[i:i + 2]) for i in range(0, len(ids), 2)])

    ax.set_xticks(x, [label(k, a) for k, a in zip(per_fold.index, per_fold["test actors"])], fontsize=8)
    ax.set(xlabel="fold and its test actors (id, M = male, F = female)", ylabel="test accuracy (%)", ylim=(0, 100),
           title=title or "Emotion with whole actors held out, fold by fold")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_protocols(table: pd.DataFrame, ax=None, title: str | None = None):
    """Grouped bars: accuracy of each model on the random split and with actors held out.

    ``table``: index = model names, columns ``random`` and ``actors`` (fractions; NaN = not
    measured) and optionally ``actors_std`` (error bar of the actors column). Returns the Axes.
    Taught in ``16_better_emotion_model``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 4.0))
    x = np.arange(len(table))
    w = 0.38
    for k, (col, color, label) in enumerate((("random", "C1", "random split (known voices)"),
                                             ("actors", "C0", "actors held out (new voices)"))):
        values = 100 * table[col].astype(float).to_numpy()
        err = 100 * table["actors_std"].astype(float).fillna(0).to_numpy() if (col == "actors" and "actors_std" in table) else None
        pos = x - w / 2 + k * w
        ax.bar(pos, np.nan_to_num(values), width=w, color=color, label=label, yerr=err, capsize=3 if err is not None else 0)
        for xi, v in zip(pos, values):
            ax.text(xi, (v if np.isfinite(v) else 0) + 1.5, f"{v:.0f}" if np.isfinite(v) else "n/a", ha="center", fontsize=8)
    ax.set_xticks(x, list(table.index), fontsize=9)
    ax.set(ylabel="test accuracy (%)", ylim=(0, 105), xlabel="model", title=title or "Random split against actors held out")
    ax.legend(fontsize=8, loc="upper right")
    return ax
