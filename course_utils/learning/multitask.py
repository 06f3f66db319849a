"""Multi-task learning: one network, a shared trunk and one head per task.

Taught in ``13_multitask``.

The study trained one Table 1 CNN per task and named multi-task learning as something R kept it
from trying (its section 4). A multi-task network has one convolutional trunk that all tasks
share and one small output layer (*head*) per task. The idea: what one task needs, another may
use too (the pitch that tells a woman's voice from a man's also helps to tell one actor from
another), so the trunk learns from the labels of all tasks at once, and one network replaces
four. Training minimises the weighted sum of the heads' losses,

:math:`L = \\sum_k w_k L_k`,

so the heads pull the shared weights in their own directions, each with the strength of its
:math:`w_k L_k`. An untrained head starts near :math:`\\log K_k` (a uniform guess over
:math:`K_k` classes), so with equal weights the heads with many classes (24 actors) pull hardest
at first.

This module builds, trains and evaluates the multi-task version and the single-task networks it
is compared with, from the same pieces, so that the comparison is like for like:

- :func:`load_images`: the cached log-Mel images at the chosen side (area-averaged);
- :func:`task_targets`: integer labels and class names of the four tasks (actor classes are the
  actors present, as in chapter 09);
- :func:`build_network`: the Table 1 convolutional trunk, an optional *shared* dense layer, and
  one named output per task (an optional dense layer of its own per head); a single-task network
  is the same builder with one head, so trunk, initialisation and layer names match;
- :func:`parameter_formula`: the parameter count by hand (it equals ``model.count_params()``);
  :func:`flat_size`: the width of the trunk's Flatten layer;
- :func:`compile_network`: Adam, one loss per head (:func:`losses_for`: binary cross-entropy for
  two classes, sparse categorical cross-entropy for more), ``loss_weights`` and an accuracy per
  head; the total loss is :math:`L = \\sum_k w_k L_k`;
- :func:`make_dataset`: a ``tf.data`` pipeline of ``(image, {task: label})`` pairs;
- :func:`initial_losses`: the loss of each head before training, next to :math:`\\log K`;
- :func:`experiment`: build, train (:func:`course_utils.learning.training.fit`: early stopping
  on the validation loss, best weights kept), time and test one network;
  :func:`evaluate_heads` scores every head (:func:`probabilities`: each head's class
  probabilities);
- :func:`multi_vs_single` and :func:`mcnemar`: multi-task against single-task accuracy on the
  same test clips, with an exact McNemar test of the difference; :func:`cost_table`: their
  parameters, epochs and training time;
- :func:`reference_accuracies`: what chapters 07-09 recorded, to set beside the results;
- figures: :func:`plot_head_curves` (learning curves per head, from :func:`head_history`),
  :func:`plot_loss_shares` (how much of the total loss each head contributes, epoch by epoch:
  :func:`loss_shares`) and :func:`plot_comparison` (bars per task).
"""

from __future__ import annotations

import gc
import time
from typing import Mapping, Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import layers
from matplotlib.ticker import MaxNLocator
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix

from course_utils.data import metadata, splits
from course_utils.sound import features
from course_utils.learning import diagnosis, models, training, transfer

#: The study's four tasks, in the order the course uses everywhere.
TASKS = ("sex", "statement", "actor", "emotion")


# --------------------------------------------------------------------------------------
# Images and labels
# --------------------------------------------------------------------------------------
def load_images(meta: pd.DataFrame, side: int, *, dataset: str, sources: Sequence[int] = (64, 256),
                n_jobs: int = -1) -> np.ndarray:
    """Log-Mel images (N, side, side) from the smallest cached recipe at least as large.

    :func:`course_utils.sound.features.compute_images` at the first size in ``sources`` that is
    >= ``side`` (the course keeps 64 x 64 and 256 x 256 caches), area-averaged down to ``side``
    when smaller (:func:`course_utils.learning.transfer.downsample`: each new pixel is the mean of
    a block, as in chapter 11); a side
    above every source is computed at that size. Taught in ``13_multitask``.
    """
    side = int(side)
    base = next((s for s in sorted(sources) if s >= side), side)
    images = features.compute_images(meta, features.FeatureConfig(image_size=(base, base)), dataset=dataset, n_jobs=n_jobs)
    return images if base == side else transfer.downsample(images, side)


def task_targets(meta: pd.DataFrame, tasks: Sequence[str] = TASKS) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Integer labels and class names of each task, ``{task: (y, names)}``.

    Sex, statement and emotion come from ``metadata.task_labels``. Actor classes are the actors
    *present* (``"01 M"``, ``"02 F"``: odd ids male), numbered 0..n-1, so a subset of actors
    (quick mode: six) gets as many outputs as it has actors. Taught in ``13_multitask``.
    """
    out = {}
    for task in tasks:
        if task == "actor":
            actors = sorted(int(a) for a in meta["actor"].unique())
            y = np.searchsorted(actors, meta["actor"].to_numpy()).astype(np.int64)
            out[task] = (y, [f"{a:02d} {'M' if a % 2 else 'F'}" for a in actors])
        else:
            y, names = metadata.task_labels(meta, task)
            out[task] = (np.asarray(y, dtype=np.int64), list(names))
    return out


# --------------------------------------------------------------------------------------
# The network: one trunk, one head per task, and its parameters
# --------------------------------------------------------------------------------------
#: Parameters of the Table 1 convolutions (conv1 + conv2), whatever the image size.
CONV_PARAMETERS = (3 * 3 * 1 + 1) * 32 + (3 * 3 * 32 + 1) * 64


def flat_size(side: int) -> int:
    """Numbers after Flatten in the Table 1 trunk for a ``side`` x ``side`` input.

    'Valid' 3 x 3 convolutions take 2 pixels off a side, pooling halves it (rounding down):
    256 -> 62 x 62 x 64 = 246,016; 64 -> 14 x 14 x 64 = 12,544. Taught in ``13_multitask``.
    """
    after = ((int(side) - 2) // 2 - 2) // 2
    if after < 1:
        raise ValueError(f"a {side} x {side} image is too small for the Table 1 trunk")
    return after * after * 64


def _output(x, n_classes: int, name: str):
    """Dense 1 sigmoid for two classes, else Dense ``n_classes`` softmax (as ``models.study_cnn``)."""
    if n_classes < 2:
        raise ValueError(f"head {name!r} needs at least 2 classes, got {n_classes}")
    return models.classifier_output(x, n_classes, name)


def build_network(
    input_shape: tuple[int, int, int],
    heads: Mapping[str, int],
    *,
    shared_units: int | None = 256,
    head_units: Mapping[str, int] | None = None,
    dropout: float = 0.5,
    seed: int | None = 0,
    name: str = "multitask",
) -> keras.Model:
    """The Table 1 trunk with one output per task; outputs are a dict named by task.

    Conv2D 32 3x3 ReLU -> MaxPool 2 -> Conv2D 64 3x3 ReLU -> MaxPool 2 -> Flatten (the layers of
    :func:`course_utils.learning.models.study_cnn`, built by
    :func:`course_utils.learning.models.study_trunk`), then, if ``shared_units``, a shared Dense
    ``shared_units`` ReLU -> Dropout; then per task in ``heads`` (``{task: n_classes}``) an
    optional Dense ``head_units[task]`` ReLU -> Dropout of its own and the output layer named ``task``
    (sigmoid for 2 classes, softmax otherwise). With one head and ``shared_units`` equal to the
    study's dense width this *is* the study's single-task CNN. Seeded, uncompiled.
    Taught in ``13_multitask``.
    """
    if not heads:
        raise ValueError("a network needs at least one head")
    head_units = dict(head_units or {})
    unknown = set(head_units) - set(heads)
    if unknown:
        raise ValueError(f"head_units names heads that do not exist: {sorted(unknown)}")
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    inputs = keras.Input(shape=tuple(input_shape), name="log_mel")
    x = models.study_trunk(inputs)
    if shared_units:
        x = layers.Dense(int(shared_units), activation="relu", name="shared_dense")(x)
        x = layers.Dropout(dropout, name="shared_dropout")(x)
    outputs = {}
    for task, n_classes in heads.items():
        h = x
        if head_units.get(task):
            h = layers.Dense(int(head_units[task]), activation="relu", name=f"{task}_dense")(h)
            h = layers.Dropout(dropout, name=f"{task}_dropout")(h)
        outputs[task] = _output(h, int(n_classes), task)
    return keras.Model(inputs, outputs, name=name)


def parameter_formula(
    side: int,
    heads: Mapping[str, int],
    *,
    shared_units: int | None = 256,
    head_units: Mapping[str, int] | None = None,
) -> pd.Series:
    """Parameters of :func:`build_network` by hand, part by part (index: part; sum = total).

    Convolutions :data:`CONV_PARAMETERS` (18,816), shared dense :math:`(F + 1) u`, per head an
    optional dense :math:`(n_\\text{in} + 1) u_k` and the output :math:`(n_\\text{in} + 1) K'`
    (:math:`K' = 1` for a sigmoid). Taught in ``13_multitask``; used by
    :func:`course_utils.learning.emotion_net.study_emotion_parameters` (``16_better_emotion_model``).
    """
    head_units = dict(head_units or {})
    parts = {"convolutions": CONV_PARAMETERS}
    width = flat_size(side)
    if shared_units:
        parts["shared dense"] = (width + 1) * int(shared_units)
        width = int(shared_units)
    for task, n_classes in heads.items():
        w = width
        if head_units.get(task):
            parts[f"{task} dense"] = (w + 1) * int(head_units[task])
            w = int(head_units[task])
        parts[f"{task} output"] = (w + 1) * (1 if n_classes == 2 else int(n_classes))
    return pd.Series(parts, name="parameters")


# --------------------------------------------------------------------------------------
# Losses, compiling and feeding
# --------------------------------------------------------------------------------------
def losses_for(heads: Mapping[str, int]) -> dict[str, str]:
    """The loss of each head: binary cross-entropy for 2 classes, sparse categorical otherwise.

    Used by :func:`compile_network` (``13_multitask``).
    """
    return {t: ("binary_crossentropy" if n == 2 else "sparse_categorical_crossentropy") for t, n in heads.items()}


def compile_network(
    model: keras.Model,
    heads: Mapping[str, int],
    loss_weights: Mapping[str, float] | None = None,
    lr: float = 1e-3,
) -> keras.Model:
    """Compile with Adam, one loss and one accuracy per head and the weights :math:`w_k`.

    Keras minimises :math:`L = \\sum_k w_k L_k`; a head missing from ``loss_weights`` gets
    :math:`w_k = 1`, a weight for a head the model does not have is an error (a typo would
    otherwise silently be ignored). Weights must be >= 0. Returns the model.
    Taught in ``13_multitask``.
    """
    weights = {t: 1.0 for t in heads}
    for task, w in (loss_weights or {}).items():
        if task not in weights:
            raise ValueError(f"loss weight for {task!r}, but the model's heads are {list(heads)}")
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"loss weights must be finite and >= 0, got {task}={w}")
        weights[task] = float(w)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=losses_for(heads),
        loss_weights=weights,
        metrics={t: ["accuracy"] for t in heads},
    )
    return model


def make_dataset(
    images: np.ndarray,
    targets: Mapping[str, np.ndarray],
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    max_batches: int | None = None,
) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of ``(image[..., None], {task: label})`` pairs.

    ``images`` (N, H, W) in [0, 1]; ``targets`` one integer label array (N,) per task. Shuffled
    every epoch with ``seed`` when ``shuffle``; ``max_batches`` keeps only the first batches
    (a shorter epoch for trying things out). Taught in ``13_multitask``.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {images.shape}")
    targets = {t: np.asarray(y, dtype=np.int64) for t, y in targets.items()}
    for task, y in targets.items():
        if len(y) != len(images):
            raise ValueError(f"{len(images)} images but {len(y)} labels for {task!r}")
    ds = tf.data.Dataset.from_tensor_slices((images, targets))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda x, y: (tf.expand_dims(tf.cast(x, tf.float32), -1), y),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size)
    if max_batches:
        ds = ds.take(int(max_batches))
    return ds.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------------
# Training and testing one network
# --------------------------------------------------------------------------------------
def initial_losses(model: keras.Model, dataset, heads: Mapping[str, int]) -> pd.DataFrame:
    """Each head's loss before training, next to :math:`\\log K` (a uniform guess).

    A freshly initialised network answers roughly uniformly, so head *k* starts near
    :math:`\\log K_k` (:math:`\\log 2 = 0.69` for a binary head, :math:`\\log 24 = 3.18` for 24
    actors): with equal weights the heads with many classes dominate the total loss at first.
    ``share`` is each head's part of :math:`\\sum_k L_k`. Used by :func:`experiment`, whose
    ``initial`` table ``13_multitask`` sets beside :math:`\\log K`.
    """
    logs = model.evaluate(dataset, return_dict=True, verbose=0)
    rows = []
    for task, n in heads.items():
        loss = logs.get(f"{task}_loss", logs["loss"] if len(heads) == 1 else np.nan)
        rows.append({"head": task, "classes": n, "log K": float(np.log(n)), "initial loss": float(loss)})
    table = pd.DataFrame(rows).set_index("head")
    table["share"] = table["initial loss"] / table["initial loss"].sum()
    return table


def probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 32) -> dict[str, np.ndarray]:
    """Class probabilities of every head, ``{task: (N, K)}`` (a sigmoid becomes ``[1 - p, p]``).

    Used by :func:`evaluate_heads` (``13_multitask``).
    """
    x = np.asarray(images, dtype="float32")
    if x.ndim == 3:
        x = x[..., None]
    raw = model.predict(x, batch_size=batch_size, verbose=0)
    if not isinstance(raw, dict):  # one head: Keras may return the bare array
        raw = {model.output_names[0]: raw}
    out = {}
    for task, p in raw.items():
        p = np.asarray(p)
        if p.ndim == 1 or p.shape[1] == 1:
            p = p.reshape(-1)
            p = np.stack([1.0 - p, p], axis=1)
        out[task] = p
    return out


def evaluate_heads(model: keras.Model, images: np.ndarray, targets: Mapping[str, tuple[np.ndarray, list[str]]],
                   batch_size: int = 32) -> dict[str, dict]:
    """Test scores of every head: ``{task: {accuracy, uar, macro_f1, confusion, predictions, probabilities, correct}}``.

    ``targets`` maps each head to ``(labels, class_names)`` of the test clips (one predict call
    for all heads). Used by :func:`experiment` (``13_multitask``).
    """
    proba = probabilities(model, images, batch_size)
    scores = {}
    for task, p in proba.items():
        y, names = targets[task]
        y = np.asarray(y).astype(int)
        if p.shape[1] != len(names):
            raise ValueError(f"head {task!r} gives {p.shape[1]} classes but has {len(names)} class names")
        pred = p.argmax(axis=1)
        cm = confusion_matrix(y, pred, labels=list(range(len(names))))
        scores[task] = {
            **diagnosis.summary_scores(cm),  # accuracy, uar, macro_f1
            "confusion": cm,
            "predictions": pred,
            "probabilities": p,
            "correct": pred == y,
        }
    return scores


def experiment(
    images: np.ndarray,
    targets: Mapping[str, tuple[np.ndarray, list[str]]],
    split,
    *,
    shared_units: int | None = 256,
    head_units: Mapping[str, int] | None = None,
    loss_weights: Mapping[str, float] | None = None,
    epochs: int = 50,
    patience: int | None = 10,
    batch_size: int = 32,
    max_batches: int | None = None,
    seed: int = 0,
    name: str = "multitask",
    progress: bool = True,
) -> dict:
    """Build, train and test one network whose heads are the tasks of ``targets``.

    ``targets``: ``{task: (labels of all clips, class names)}``; ``split`` a ``splits.Split``.
    Training is :func:`course_utils.learning.training.fit` (seeded; early stopping after
    ``patience`` epochs without a lower **validation loss**, the weighted sum :math:`\\sum_k w_k L_k` the network minimises;
    the best epoch's weights are kept). The model is freed afterwards.

    Returns ``history`` (DataFrame, one row per epoch), ``scores`` (:func:`evaluate_heads` on the
    test clips), ``initial`` (:func:`initial_losses` on the validation clips), ``parameters``,
    ``train_seconds`` (wall clock of ``fit``), ``epochs_run``, ``best_epoch``, ``heads`` and
    ``loss_weights``. ``progress``: one bar counting the epochs (``fit``), named
    after the network, its heads and the split. Taught in ``13_multitask``.
    """
    heads = {t: len(names) for t, (_, names) in targets.items()}
    labels = {t: y for t, (y, _) in targets.items()}
    train_ds = make_dataset(images[split.train], {t: y[split.train] for t, y in labels.items()},
                            batch_size=batch_size, shuffle=True, seed=seed, max_batches=max_batches)
    val_ds = make_dataset(images[split.val], {t: y[split.val] for t, y in labels.items()}, batch_size=batch_size)
    model = build_network(images.shape[1:] + (1,), heads, shared_units=shared_units, head_units=head_units,
                          seed=seed, name=name)
    model = compile_network(model, heads, loss_weights)
    initial = initial_losses(model, val_ds, heads)
    start = time.perf_counter()
    desc = f"{name} ({', '.join(heads)}), {splits.short_name(split)}"
    history = training.fit(model, train_ds, val_ds, int(epochs), seed=seed, patience=patience, monitor="val_loss",
                           progress=progress and desc)
    seconds = time.perf_counter() - start
    test_targets = {t: (y[split.test], targets[t][1]) for t, y in labels.items()}
    scores = evaluate_heads(model, images[split.test], test_targets, batch_size)
    result = {
        "history": history,
        "scores": scores,
        "initial": initial,
        "parameters": int(model.count_params()),
        "train_seconds": float(seconds),
        "epochs_run": int(len(history)),
        "best_epoch": int(history.attrs["best_epoch"]),
        "heads": heads,
        "loss_weights": {t: float((loss_weights or {}).get(t, 1.0)) for t in heads},
        "split": split,
    }
    del model
    keras.utils.clear_session(free_memory=True)
    gc.collect()
    return result


# --------------------------------------------------------------------------------------
# Learning curves and each head's share of the loss
# --------------------------------------------------------------------------------------
def head_history(history: pd.DataFrame, task: str, n_heads: int) -> pd.DataFrame:
    """The columns ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` of one head.

    Keras names them ``sex_loss``, ``val_sex_accuracy`` ... in a multi-output model; a
    one-output model logs them without the prefix (unless Keras adds it anyway): both work.
    Used by :func:`plot_head_curves` and :func:`loss_shares` (``13_multitask``).
    """
    out = {"epoch": history["epoch"]}
    for key in ("loss", "accuracy"):
        for pre in ("", "val_"):
            named = f"{pre}{task}_{key}"
            if named in history:
                out[f"{pre}{key}"] = history[named]
            elif n_heads == 1 and f"{pre}{key}" in history:
                out[f"{pre}{key}"] = history[f"{pre}{key}"]
            else:
                raise KeyError(f"no column {named!r} in the history; columns: {list(history.columns)}")
    return pd.DataFrame(out)


def _epoch_axis(ax, n_epochs: int) -> None:
    """Whole-numbered epochs 1..n on the x axis, with room for a single epoch."""
    ax.set_xlim(0.5, n_epochs + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def plot_head_curves(results: Mapping[str, dict], tasks: Sequence[str] | None = None, title: str | None = None) -> plt.Figure:
    """Learning curves per head: loss (top row) and accuracy (bottom row), one column per task.

    ``results``: ``{label: experiment result}``, e.g. ``{"multi-task": mt, "single-task": st}``
    where ``st`` maps each task to its own single-task result (``{"sex": result, ...}``) or is
    itself a result. Solid lines training, dashed validation; a dot marks each network's best
    (kept) epoch; dotted grey lines: uniform guess (:math:`\\log K`, chance :math:`1/K`).
    Taught in ``13_multitask``.
    """
    def lookup(res, task):
        if "history" in res:
            return res if task in res["heads"] else None
        return res.get(task)

    if tasks is None:
        tasks = [t for t in TASKS if any(lookup(r, t) is not None for r in results.values())]
    max_epoch = max(len(r["history"]) for res in results.values() for t in tasks
                    if (r := lookup(res, t)) is not None)
    fig, axes = plt.subplots(2, len(tasks), figsize=(3.6 * len(tasks), 6.2), squeeze=False, sharex="col")
    for j, task in enumerate(tasks):
        k = None
        for i, (label, res) in enumerate(results.items()):
            r = lookup(res, task)
            if r is None:
                continue
            k = r["heads"][task]
            h = head_history(r["history"], task, len(r["heads"]))
            color = f"C{i}"
            best = r["best_epoch"]
            for row, key in enumerate(("loss", "accuracy")):
                ax = axes[row, j]
                ax.plot(h["epoch"], h[key], ".-", color=color, lw=1.2, ms=3, label=f"{label}, training")
                ax.plot(h["epoch"], h[f"val_{key}"], ".--", color=color, lw=1.5, ms=3, label=f"{label}, validation")
                b = h.loc[h["epoch"] == best, f"val_{key}"]
                ax.plot([best], b, "o", color=color, ms=6, mec="k")
        if k is not None:
            axes[0, j].axhline(np.log(k), color="0.5", ls=":", lw=1.2, label=f"uniform guess, log {k}")
            axes[1, j].axhline(1 / k, color="0.5", ls=":", lw=1.2, label=f"chance, 1/{k}")
        axes[0, j].set_title(f"{task} ({k} classes)" if k else task)
        axes[0, j].set_ylabel("cross-entropy loss (nats)")
        axes[1, j].set_ylabel("accuracy (fraction correct)")
        axes[1, j].set_xlabel("epoch")
        axes[1, j].set_ylim(0, 1.02)
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
            _epoch_axis(ax, max_epoch)
    handles, labels = axes[1, 0].get_legend_handles_labels()
    h0, l0 = axes[0, 0].get_legend_handles_labels()
    handles = handles[:-1] + [h0[-1], plt.Line2D([], [], ls="", marker="o", color="0.6", mec="k", ms=6)]
    labels = labels[:-1] + ["uniform guess (log K), chance (1/K)", "epoch kept (lowest validation loss)"]
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def loss_shares(result: dict, split: str = "") -> pd.DataFrame:
    """Each head's weighted loss :math:`w_k L_k` per epoch and its share of the total.

    ``split`` ``""`` (training) or ``"val_"``. Columns: one per head (weighted loss in nats),
    index: epoch. Taught in ``13_multitask``.
    """
    h = result["history"]
    n = len(result["heads"])
    table = pd.DataFrame({t: result["loss_weights"][t] * head_history(h, t, n)[f"{split}loss"].to_numpy()
                          for t in result["heads"]}, index=pd.Index(h["epoch"], name="epoch"))
    return table


def plot_loss_shares(result: dict, title: str | None = None) -> plt.Figure:
    """Stacked weighted training losses :math:`w_k L_k` per epoch (left, nats) and each head's
    share of the total (right, %): which task drives the shared trunk, and when.
    Taught in ``13_multitask``."""
    table = loss_shares(result)
    share = 100 * table.div(table.sum(axis=1).replace(0, np.nan), axis=0)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    colors = [f"C{TASKS.index(t) if t in TASKS else i}" for i, t in enumerate(table.columns)]
    axes[0].stackplot(table.index, table.T.to_numpy(), labels=[f"{t} (w = {result['loss_weights'][t]:g})" for t in table],
                      colors=colors, alpha=0.8)
    axes[0].set(xlabel="epoch", ylabel="weighted training loss w·L (nats)", title="Total loss, stacked by head")
    axes[1].stackplot(share.index, share.T.fillna(0).to_numpy(), colors=colors, alpha=0.8)
    axes[1].set(xlabel="epoch", ylabel="share of the total loss (%)", ylim=(0, 100), title="Each head's share")
    for ax in axes:
        ax.grid(alpha=0.3)
        _epoch_axis(ax, len(table))
    axes[0].legend(fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Multi-task against single-task
# --------------------------------------------------------------------------------------
def mcnemar(correct_a, correct_b) -> dict:
    """Exact McNemar test of two classifiers scored on the *same* clips.

    Only the clips where they disagree count: ``a_only`` (a right, b wrong) and ``b_only``.
    Under "equally good" each disagreement is a fair coin, so the two-sided p-value is a
    binomial test of ``a_only`` out of ``a_only + b_only`` at 1/2 (1.0 when they never
    disagree). Taught in ``13_multitask``.
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"both classifiers must be scored on the same clips, got {a.shape} and {b.shape}")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = a_only + b_only
    p = 1.0 if n == 0 else float(binomtest(a_only, n, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p_value": p}


def multi_vs_single(multi: dict, single: Mapping[str, dict], *, study_accuracy: Mapping[str, float] | None = None,
                     chance: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Per task: multi-task and single-task test accuracy, their difference, McNemar's test.

    ``multi`` is one :func:`experiment` result; ``single`` maps each task to the single-task
    result trained on the same split. Columns: ``multi-task``, ``single-task``, ``difference``
    (multi minus single, fraction), ``multi only`` / ``single only`` (clips only one of them
    got right), ``p (McNemar)``, ``test clips``, and ``study`` / ``chance`` when given.
    Tasks without a single-task network are left out. Taught in ``13_multitask``.
    """
    rows = []
    for task in multi["heads"]:
        if task not in single:
            continue
        m, s = multi["scores"][task], single[task]["scores"][task]
        test = mcnemar(m["correct"], s["correct"])
        row = {"task": task, "multi-task": m["accuracy"], "single-task": s["accuracy"],
               "difference": m["accuracy"] - s["accuracy"], "multi only": test["a_only"],
               "single only": test["b_only"], "p (McNemar)": test["p_value"], "test clips": len(m["correct"])}
        if study_accuracy is not None:
            row["study"] = study_accuracy.get(task, np.nan)
        if chance is not None:
            row["chance"] = chance.get(task, np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("task")


def reference_accuracies(recorded: pd.DataFrame, *, dataset: str, notebooks: Sequence[str],
                         model_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Accuracies other chapters recorded (``results.load_accuracies()``), best per (task, protocol).

    Keeps the test accuracies of ``notebooks`` on ``dataset`` (and ``model_names``, if given) and
    returns, indexed by ``(task, protocol)``, the best ``accuracy`` with the ``model``,
    ``notebook`` and ``mode`` (quick or full) it came from; empty when nothing was recorded.
    Taught in ``13_multitask``.
    """
    keep = (recorded["notebook"].isin(list(notebooks)) & (recorded["dataset"] == dataset)
            & (recorded["split"] == "test"))
    if model_names is not None:
        keep &= recorded["model"].isin(list(model_names))
    hits = recorded[keep].sort_values("accuracy", ascending=False, kind="stable")
    best = hits.drop_duplicates(["task", "protocol"]).set_index(["task", "protocol"]).sort_index()
    return best[["accuracy", "model", "notebook", "mode"]]


def cost_table(multi: dict, single: Mapping[str, dict]) -> pd.DataFrame:
    """Parameters, epochs run and training seconds: the multi-task network against the
    single-task networks of the same tasks, one row each plus their sum.
    Taught in ``13_multitask``."""
    rows = [{"network": f"multi-task ({len(multi['heads'])} heads)", "parameters": multi["parameters"],
             "epochs run": multi["epochs_run"], "best epoch": multi["best_epoch"],
             "training seconds": multi["train_seconds"]}]
    tasks = [t for t in multi["heads"] if t in single]
    for task in tasks:
        r = single[task]
        rows.append({"network": f"single-task {task}", "parameters": r["parameters"], "epochs run": r["epochs_run"],
                     "best epoch": r["best_epoch"], "training seconds": r["train_seconds"]})
    table = pd.DataFrame(rows).set_index("network")
    singles = table.iloc[1:]
    table.loc[f"single-task, sum of {len(tasks)}"] = [singles["parameters"].sum(), singles["epochs run"].sum(),
                                                      np.nan, singles["training seconds"].sum()]
    table["seconds per epoch"] = table["training seconds"] / table["epochs run"]
    return table


def plot_comparison(table: pd.DataFrame, title: str | None = None, ax=None):
    """Bars per task: multi-task and single-task test accuracy (%), with the study's accuracy,
    the course's CNN and a baseline as further bars where the table has those columns
    (``study``, ``cnn``, ``baseline``) and chance as a dashed line per task. Each bar is labelled with its value.
    Returns the Axes. Taught in ``13_multitask``."""
    series = [("multi-task", "multi-task", "C0"), ("single-task", "single-task", "C1"),
              ("cnn", "the course's CNN, 256 px (ch. 08/09)", "C4"), ("baseline", "classical baseline (ch. 07)", "C2"),
              ("study", "the study's CNN (random split)", "C3")]
    series = [s for s in series if s[0] in table and table[s[0]].notna().any()]
    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 + 1.9 * len(table), 4))
    x = np.arange(len(table))
    w = 0.8 / len(series)
    for k, (col, label, color) in enumerate(series):
        pos = x - 0.4 + w * (k + 0.5)
        values = table[col].astype(float)
        ax.bar(pos, 100 * values.fillna(0), width=w, color=color, label=label)
        for xi, v in zip(pos, values):
            if pd.notna(v):
                ax.text(xi, 100 * v + 1, f"{100 * v:.0f}", ha="center", fontsize=8)
    if "chance" in table:
        for k, c in enumerate(table["chance"]):
            ax.hlines(100 * c, k - 0.4, k + 0.4, colors="0.3", linestyles="--", label="chance (1/K)" if k == 0 else None)
    ax.set_xticks(x, list(table.index))
    ax.set(xlabel="task", ylabel="test accuracy (%)", ylim=(0, 112), title=title or "Multi-task against single-task")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return ax
