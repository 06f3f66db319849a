"""Seeded training, evaluation and the figures that go with them.

Taught in ``08_cnn_binary`` (:func:`fit`, :func:`evaluate`, :func:`plot_history`,
:func:`plot_confusion`); used again in ``09_cnn_multiclass``, ``10_augmentation``,
``11_transfer_vgg16``, ``12_autoencoder``, ``14_raw_waveform`` and ``15_uncertainty``, and
through :func:`course_utils.learning.multitask.experiment` (``13_multitask``) and
:func:`course_utils.learning.emotion_net.run_experiment` (``16_better_emotion_model``,
``17_new_voices``).

Training shows the network its training clips batch by batch; after every batch the optimiser
moves the weights a little against the gradient of the loss, and one pass over all training clips
is an *epoch*. After each epoch the network is scored on the validation clips, which it never
learns from. Training accuracy keeps rising while validation accuracy levels off and may fall:
the network starts to learn its training clips by heart (overfitting). The validation score
therefore decides which epoch to keep, and the test clips, used once at the end, say how good
that epoch is. A rerun should give the same numbers, so every random draw is seeded.

:func:`fit` keeps the weights of the epoch with the best validation score, as the study
reported the best epoch: ``keras.callbacks.EarlyStopping(restore_best_weights=True)`` watches
the validation accuracy and puts the best weights back when training ends (with
``patience=None`` it never stops early; it only remembers and restores). With ``verbose=0``
Keras prints nothing while it trains; :func:`fit` shows one progress bar per training instead
(:func:`course_utils.base.jupyter.epoch_progress`: a widget in JupyterLab, a line redrawn at
most every 30 s in a headless run).

================================  ====================================================
helper                            what it does
================================  ====================================================
:func:`set_determinism`           seeds and deterministic TensorFlow kernels
:func:`fit`                       seeded training that keeps the best validation epoch
:func:`predict_proba`             class probabilities, also from a sigmoid output
:func:`evaluate`                  accuracy, UAR, macro-F1, per-class report and
                                  confusion matrix on the test clips
:func:`plot_history`              loss and accuracy per epoch, best epoch marked
:func:`plot_confusion`            a confusion matrix as a heatmap
:func:`peak_memory_mb`            the most memory this process has held (chapter 18, ``make bench``)
================================  ====================================================
"""

from __future__ import annotations

import sys
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import tensorflow as tf
from sklearn.metrics import classification_report, confusion_matrix

from course_utils.base import jupyter
from course_utils.learning import diagnosis


# --------------------------------------------------------------------------------------
# Seeded training
# --------------------------------------------------------------------------------------
class _EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch (training plus validation)."""

    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class _RequireLog(keras.callbacks.Callback):
    """Stop with a clear error after the first epoch if ``key`` was not logged."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key

    def on_epoch_end(self, epoch, logs=None):
        if self.key not in (logs or {}):
            raise KeyError(f"monitor {self.key!r} was not logged; logged: {sorted(logs or {})}")


def set_determinism(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow and ask TensorFlow for deterministic kernels.

    ``keras.utils.set_random_seed`` fixes every random draw (initial weights, dropout masks,
    shuffling); ``tf.config.experimental.enable_op_determinism`` makes the kernels whose
    floating-point sums could otherwise change order between runs deterministic (it stays on
    for the rest of the Python session). Used by :func:`fit` (``08_cnn_binary`` to
    ``17_new_voices``) and by ``make bench`` (:mod:`course_utils.tools.bench`).
    """
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def fit(
    model: keras.Model,
    train_ds,
    val_ds,
    epochs: int,
    *,
    seed: int = 0,
    patience: int | None = None,
    monitor: str = "val_accuracy",
    verbose: int = 0,
    callbacks: list | None = None,
    progress: bool | str = True,
) -> pd.DataFrame:
    """Train a compiled model with fixed seeds; keep the weights of the best validation epoch.

    ``train_ds`` and ``val_ds`` are ``tf.data`` datasets
    (:func:`course_utils.learning.pipeline.make_dataset`, which shuffles with its own seed) or
    ``(x, y)`` tuples of arrays (batched by 32; the training pairs shuffled every epoch with
    ``seed``, so that batches sorted by class never reach the optimiser one class at a time).
    ``seed`` goes to :func:`set_determinism` before training (dropout masks; the weights were
    drawn when the model was built, with the builder's seed). ``monitor`` is the validation
    score that decides which epoch is best (``"val_accuracy"``, higher is better; a name
    containing ``"loss"``, e.g. ``"val_loss"`` for the autoencoder, lower is better; ties keep
    the earlier epoch). With ``patience`` training stops after that many epochs without
    improvement. The model ends with the best epoch's weights.

    Returns a DataFrame with one row per epoch: ``epoch`` (1-based), the logged metrics
    (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``) and ``seconds``;
    ``df.attrs["best_epoch"]`` and ``df.attrs["monitor"]`` name the restored epoch.
    A ``monitor`` that the model does not log raises ``KeyError`` after the first epoch.

    ``progress`` adds a bar that counts the epochs and shows the last ``loss`` and ``monitor``
    (:func:`course_utils.base.jupyter.epoch_progress`), named ``training <model name>`` or by
    ``progress`` when it is a string; ``False``: none. The bar draws no random numbers, so
    the results are the same with and without it.

    Taught in ``08_cnn_binary``; called again by ``09_cnn_multiclass`` to ``12_autoencoder``,
    ``14_raw_waveform`` and ``15_uncertainty``, and through
    :func:`course_utils.learning.multitask.experiment` (``13_multitask``) and
    :func:`course_utils.learning.emotion_net.run_experiment` (``16_better_emotion_model``,
    ``17_new_voices``).
    """
    set_determinism(seed)
    if isinstance(train_ds, tuple):  # arrays: shuffled every epoch (seeded), like make_dataset
        n = len(train_ds[0])
        train_ds = tf.data.Dataset.from_tensor_slices(train_ds).shuffle(n, seed=seed, reshuffle_each_iteration=True).batch(32)
    if isinstance(val_ds, tuple):
        val_ds = tf.data.Dataset.from_tensor_slices(val_ds).batch(32)
    mode = "min" if "loss" in monitor else "max"
    stopper = keras.callbacks.EarlyStopping(
        monitor=monitor,
        mode=mode,
        patience=epochs if patience is None else int(patience),
        restore_best_weights=True,
    )
    timer = _EpochTimer()
    bar = []
    if progress:
        desc = progress if isinstance(progress, str) else f"training {model.name}"
        bar.append(jupyter.epoch_progress(epochs, desc, metrics=tuple(dict.fromkeys(("loss", monitor)))))
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        verbose=verbose,
        shuffle=False,  # a tf.data pipeline shuffles itself (seeded)
        callbacks=[_RequireLog(monitor), stopper, timer, *(callbacks or []), *bar],
    )
    df = pd.DataFrame(history.history)
    df.insert(0, "epoch", np.arange(1, len(df) + 1))
    df["seconds"] = timer.seconds
    df.attrs["best_epoch"] = int(stopper.best_epoch) + 1
    df.attrs["monitor"] = monitor
    return df


# --------------------------------------------------------------------------------------
# Scores on the test clips
# --------------------------------------------------------------------------------------
def predict_proba(model: keras.Model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Class probabilities, shape (N, n_classes); a sigmoid output becomes ``[1 - p, p]``.

    ``images`` (N, H, W) get a channel axis; (N, H, W, C) or feature vectors pass unchanged.
    Taught in ``08_cnn_binary`` (one clip's probability, in an exercise); used by
    :func:`evaluate`, by ``15_uncertainty`` and ``16_better_emotion_model``, and by
    :func:`course_utils.learning.emotion_net.predict_shifted` (``17_new_voices``).
    """
    x = np.asarray(images, dtype="float32")
    if x.ndim == 3 and len(model.input_shape) == 4:
        x = x[..., None]
    p = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    if p.ndim == 1 or p.shape[1] == 1:
        p = p.reshape(-1)
        p = np.stack([1.0 - p, p], axis=1)
    return p


def evaluate(model: keras.Model, images: np.ndarray, labels, class_names, batch_size: int = 32) -> dict:
    """Test-set scores of a classifier.

    Returns a dict with ``accuracy`` (float), ``report`` (sklearn's ``classification_report``
    as a DataFrame: precision, recall, F1 and support per class, plus the averages),
    ``confusion`` (sklearn ``confusion_matrix``, rows = true class, columns = predicted,
    in the order of ``class_names``), ``uar`` and ``macro_f1`` (unweighted average recall and
    macro-F1: :func:`course_utils.learning.diagnosis.summary_scores`), ``n_test`` (the number of test
    clips, for the standard error of a comparison), ``predictions`` (N,) and
    ``probabilities`` (N, n_classes).
    Taught in ``08_cnn_binary``; used again by ``09_cnn_multiclass`` to ``12_autoencoder`` and
    ``14_raw_waveform``, and by :func:`course_utils.learning.emotion_net.run_experiment`
    (``16_better_emotion_model``, ``17_new_voices``).
    """
    labels = np.asarray(labels).astype(int).reshape(-1)
    class_names = [str(c) for c in class_names]
    ids = list(range(len(class_names)))
    proba = predict_proba(model, images, batch_size=batch_size)
    if proba.shape[1] != len(class_names):
        raise ValueError(f"model gives {proba.shape[1]} classes but {len(class_names)} class names")
    pred = proba.argmax(axis=1)
    report = classification_report(
        labels, pred, labels=ids, target_names=class_names, output_dict=True, zero_division=0
    )
    report_df = pd.DataFrame({k: v for k, v in report.items() if isinstance(v, dict)}).T
    cm = confusion_matrix(labels, pred, labels=ids)
    scores = diagnosis.summary_scores(cm)
    return {
        "accuracy": float(np.mean(pred == labels)),
        "uar": scores["uar"],
        "macro_f1": scores["macro_f1"],
        "n_test": scores["n_test"],
        "report": report_df,
        "confusion": cm,
        "predictions": pred,
        "probabilities": proba,
    }


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def plot_history(history: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Loss and accuracy per epoch, training against validation, best epoch marked.

    ``history`` is what :func:`fit` returns (or a ``keras.callbacks.History``). A model without
    an accuracy metric (the autoencoder) gets the loss panel only. Taught in ``08_cnn_binary``;
    used again by ``09_cnn_multiclass``, ``11_transfer_vgg16``, ``12_autoencoder``,
    ``14_raw_waveform`` and ``16_better_emotion_model``.
    """
    if isinstance(history, keras.callbacks.History):
        history = pd.DataFrame(history.history)
    df = history if "epoch" in history else history.assign(epoch=np.arange(1, len(history) + 1))
    panels = [("loss", "Loss (cross-entropy)" if "accuracy" in df else "Loss (MSE)")]
    if "accuracy" in df:
        panels.append(("accuracy", "Accuracy (fraction correct)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    best = history.attrs.get("best_epoch")
    for ax, (key, ylabel) in zip(axes[0], panels):
        ax.plot(df["epoch"], df[key], "o-", ms=3, label="training")
        if f"val_{key}" in df:
            ax.plot(df["epoch"], df[f"val_{key}"], "s-", ms=3, label="validation")
        if best is not None:
            ax.axvline(best, color="grey", ls="--", lw=1, label=f"best epoch ({best})")
        ax.set_xlabel("Epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(key.capitalize())
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(cm, class_names, normalize: bool = True, ax=None, title: str | None = None):
    """Confusion matrix as a seaborn heatmap (rows: true class, columns: predicted class).

    With ``normalize`` every row is divided by its total, so the diagonal shows each class's
    recall (a class without test examples stays 0). Returns the Axes. Taught in ``08_cnn_binary``;
    used again by ``10_augmentation``, ``11_transfer_vgg16``, ``12_autoencoder``,
    ``14_raw_waveform`` and ``16_better_emotion_model``.
    """
    cm = np.asarray(cm, dtype=float)
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    if ax is None:
        size = 1.5 + 0.55 * len(class_names)
        _, ax = plt.subplots(figsize=(size + 1.2, size))
    sns.heatmap(
        cm,
        annot=True,
        fmt=".2f" if normalize else ".0f",
        cmap="Blues",
        vmin=0,
        vmax=1 if normalize else None,
        xticklabels=class_names,
        yticklabels=class_names,
        square=True,
        cbar_kws={"label": "fraction of the true class" if normalize else "number of clips"},
        ax=ax,
    )
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(title or ("Confusion matrix (row-normalised)" if normalize else "Confusion matrix (counts)"))
    return ax


def peak_memory_mb() -> float | None:
    """The most memory this Python process has held so far (resident set, MB), or None where the
    operating system does not say (``resource`` exists on Linux and macOS, not on Windows). Taught in
    ``18_pretrained_speech`` (what the model costs in memory); ``make bench`` records it per model
    (:func:`course_utils.tools.bench.measure_model`)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3  # bytes on macOS, kB on Linux
