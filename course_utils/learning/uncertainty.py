"""Uncertainty of a classifier: Bayesian CNNs, Monte-Carlo dropout and calibration.

Taught in ``15_uncertainty``.

The study (section 4) wished for "Bayesian CNNs (TensorFlow Probability) for an uncertainty
with every prediction". A softmax output already *looks* like one ("angry, 0.9"), but two
questions decide whether it can be trusted. Is it *calibrated*: of the clips called angry with
probability 0.9, are nine in ten angry? The expected calibration error measures the gap,
:math:`\\mathrm{ECE} = \\sum_b \\frac{n_b}{N} |\\mathrm{acc}(b) - \\mathrm{conf}(b)|` over bins
:math:`b` of the confidence. And does the network notice what it does not know? A model that
gives :math:`T` predictions :math:`p_1, \\dots, p_T` (sampled networks) instead of one splits the
entropy :math:`H(p) = -\\sum_k p_k \\log p_k` of its mean prediction :math:`\\bar p` in two:

.. math:: H(\\bar p) = \\frac{1}{T}\\sum_t H(p_t) + I,

the *aleatoric* part (what each sampled network is itself unsure about: noise in the data)
plus the *epistemic* part :math:`I \\ge 0`, the mutual information (how much the sampled
networks disagree: lack of knowledge, 0 for a single deterministic network).

This module builds the three classifiers of the chapter on one compact architecture and
measures how much their probabilities can be trusted:

- :func:`dropout_cnn`: a Keras 3 CNN with dropout. Its ordinary prediction (dropout off) is the
  **softmax reference**; run ``T`` times with dropout *on* (:func:`mc_dropout_samples`) it is
  **Monte-Carlo dropout** (Gal & Ghahramani, 2016).
- :func:`bayes_cnn`: the same architecture with TensorFlow Probability's Flipout layers
  (``tfp.layers.Convolution2DFlipout``, ``tfp.layers.DenseFlipout``): every weight is a Normal
  distribution :math:`q(w)`, trained by maximising the evidence lower bound
  :math:`\\mathbb{E}_q[\\log p(\\mathcal{D} \\mid w)] - \\mathrm{KL}(q \\,\\|\\, p)` (ELBO, Blundell
  et al., 2015; Flipout: Wen et al., 2018; the KL term: :func:`kl_scaled`, :func:`kl_term`).
  TFP's layers are **tf_keras (Keras 2) layers**: they were never ported to Keras 3, so this
  one model is a ``tf_keras`` model, trained by :func:`fit_bayes` and sampled by
  :func:`bayes_samples`.
- Measures on the ``(T, N, K)`` samples of predicted probabilities: :func:`entropy`,
  :func:`decompose` (predictive entropy = expected entropy + mutual information),
  :func:`expected_calibration_error`, :func:`reliability_table`, :func:`coverage_curve`,
  :func:`summarize`; figures :func:`plot_reliability`, :func:`plot_entropy_hist`,
  :func:`plot_coverage`, :func:`plot_probability_bars`, :func:`plot_clip_with_probabilities`.

Entropies are in **nats** (natural logarithm); with ``K`` classes they lie in ``[0, log K]``
(``log 8 = 2.08`` for the eight emotions).
"""

from __future__ import annotations

import os
import time
import warnings

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import layers
from sklearn.metrics import confusion_matrix

from course_utils.base import jupyter
from course_utils.sound import plots
from course_utils.learning import diagnosis

#: Number of equal-width confidence bins of the expected calibration error (Guo et al., 2017).
N_BINS = 15


# --------------------------------------------------------------------------------------
# The softmax reference and Monte-Carlo dropout (Keras 3)
# --------------------------------------------------------------------------------------
def dropout_cnn(
    input_shape: tuple[int, int, int] = (64, 64, 1),
    n_classes: int = 8,
    *,
    filters: tuple[int, ...] = (16, 32, 64),
    dense_units: int = 64,
    conv_dropout: float = 0.2,
    dropout: float = 0.5,
    seed: int | None = 0,
    name: str = "dropout_cnn",
) -> keras.Model:
    """A compact Keras 3 CNN with dropout after every block (the chapter's shared architecture).

    For each entry of ``filters``: Conv2D 3x3 ReLU -> MaxPool 2 -> Dropout ``conv_dropout``; then
    Flatten -> Dense ``dense_units`` ReLU -> Dropout ``dropout`` -> Dense ``n_classes`` softmax.
    Dropout layers get seeds of their own (``seed + 1, seed + 2, ...``), so that
    :func:`mc_dropout_samples` can replay the same masks. Uncompiled; compile with
    :func:`course_utils.learning.models.compile_for` (``compile_for(model, n_classes)``). Taught
    in ``15_uncertainty``.
    """
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    base = 0 if seed is None else int(seed)
    inputs = keras.Input(shape=tuple(input_shape), name="log_mel")
    x = inputs
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(f, 3, activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        x = layers.Dropout(conv_dropout, seed=base + i, name=f"dropout{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, seed=base + len(filters) + 1, name="dropout_dense")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def _as_batch(images) -> np.ndarray:
    x = np.asarray(images, dtype="float32")
    return x[..., None] if x.ndim == 3 else x


def mc_dropout_samples(model: keras.Model, images, T: int = 50, *, seed: int = 0, batch_size: int = 256,
                       progress: bool = True) -> np.ndarray:
    """``T`` stochastic forward passes with dropout ON: probabilities of shape ``(T, N, K)``.

    Every pass calls ``model(x, training=True)``, so each Dropout layer draws a fresh mask (a
    different thinned network per pass); the other layers behave as at test time (this CNN has
    no batch normalisation, whose statistics ``training=True`` would also change). Before the
    first pass the seed state of every Dropout layer is reset from ``seed``: the same call gives
    the same samples however often the model was called before (for the same ``batch_size``:
    masks are drawn batch by batch). ``progress``: a bar over the ``T`` passes
    (:func:`course_utils.base.jupyter.progress`; it draws no random numbers).
    Taught in ``15_uncertainty``.
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    dropouts = [layer for layer in model.layers if isinstance(layer, layers.Dropout)]
    if not dropouts:
        raise ValueError("the model has no Dropout layer: Monte-Carlo dropout needs one")
    for i, layer in enumerate(dropouts):
        layer.seed_generator.state.assign(np.array([int(seed) * 1000 + i, 0], dtype="int64"))
    x = _as_batch(images)
    out = np.empty((T, len(x), model.output_shape[-1]), dtype="float32")
    for t in jupyter.progress(range(T), desc=f"MC dropout, {len(x)} clips", unit="pass", disable=not progress):
        for start in range(0, len(x), batch_size):
            out[t, start:start + batch_size] = np.asarray(model(x[start:start + batch_size], training=True))
    return out


# --------------------------------------------------------------------------------------
# The Bayesian CNN (TensorFlow Probability's Flipout layers, tf_keras)
# --------------------------------------------------------------------------------------
def _tfp():
    """Import tf_keras and TensorFlow Probability (quietly: TFP warns about Keras 2 internals)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow_probability as tfp
        import tf_keras
    return tf_keras, tfp


def kl_scaled(n_train: int):
    """A ``kernel_divergence_fn`` for TFP layers: ``KL(q || p) / n_train``.

    Keras minimises the *mean* loss over a batch, so the KL term of the ELBO, which belongs to
    the whole training set once, is divided by the number of training examples.
    Taught in ``15_uncertainty``.
    """
    if n_train < 1:
        raise ValueError(f"n_train must be >= 1, got {n_train}")
    _, tfp = _tfp()

    def divergence(q, p, _):
        return tfp.distributions.kl_divergence(q, p) / float(n_train)

    return divergence


def bayes_cnn(
    input_shape: tuple[int, int, int] = (64, 64, 1),
    n_classes: int = 8,
    n_train: int = 1008,
    *,
    filters: tuple[int, ...] = (16, 32, 64),
    dense_units: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
):
    """The same compact CNN with TensorFlow Probability Flipout layers, compiled (tf_keras).

    Conv2D layers become ``tfp.layers.Convolution2DFlipout`` and Dense layers
    ``tfp.layers.DenseFlipout``: each kernel weight gets a Normal posterior ``q = N(mu, sigma^2)``
    (mean-field; two trainable numbers per weight) and a standard Normal prior ``N(0, 1)``;
    biases stay point estimates. Each layer adds ``KL(q || p) / n_train`` (:func:`kl_scaled`) to
    the model's losses, so Keras minimises the negative ELBO per example:
    ``mean NLL of the batch + KL / n_train``. No dropout: the weight noise plays its part.
    The output layer gives logits; the loss is sparse categorical cross-entropy ``from_logits``;
    the metrics are the accuracy and that cross-entropy alone (``nll``, the loss without the KL).
    Layers get seeds ``seed + 1, ...`` (Flipout's sign flips); weights are drawn after
    ``tf_keras.utils.set_random_seed(seed)``.

    TFP's layers are Keras 2 layers (``tf_keras``): they cannot sit in a Keras 3 model.
    Taught in ``15_uncertainty``.
    """
    tf_keras, tfp = _tfp()
    tf_keras.utils.set_random_seed(int(seed))
    div = kl_scaled(n_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tf_keras.Sequential(name="bayes_cnn")
        model.add(tf_keras.Input(shape=tuple(input_shape), name="log_mel"))
        for i, f in enumerate(filters, start=1):
            model.add(tfp.layers.Convolution2DFlipout(f, 3, activation="relu", kernel_divergence_fn=div,
                                                      seed=int(seed) + i, name=f"conv{i}"))
            model.add(tf_keras.layers.MaxPooling2D(2, name=f"pool{i}"))
        model.add(tf_keras.layers.Flatten(name="flatten"))
        model.add(tfp.layers.DenseFlipout(dense_units, activation="relu", kernel_divergence_fn=div,
                                          seed=int(seed) + len(filters) + 1, name="dense"))
        model.add(tfp.layers.DenseFlipout(n_classes, kernel_divergence_fn=div,
                                          seed=int(seed) + len(filters) + 2, name="logits"))
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=lr),
                  loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy", tf_keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="nll")])
    return model


def kl_term(model) -> float:
    """The model's KL term as Keras adds it to the loss: ``sum_l KL(q_l || p_l) / n_train``.

    (TFP computes the KL of Normal distributions in closed form, so it depends on the weights'
    means and scales only, not on the input.) Taught in ``15_uncertainty``.
    """
    total = 0.0
    for layer in model.layers:
        if getattr(layer, "kernel_posterior", None) is not None and layer.kernel_divergence_fn is not None:
            kl = layer.kernel_divergence_fn(layer.kernel_posterior, layer.kernel_prior, None)
            total += float(np.asarray(kl))
    return total


def fit_bayes(model, train: tuple, val: tuple, epochs: int, *, batch_size: int = 32, patience: int | None = None,
              seed: int = 0, max_train_batches: int | None = None, monitor: str = "val_loss",
              verbose: int = 0, progress: bool | str = True) -> pd.DataFrame:
    """Train a :func:`bayes_cnn` (tf_keras) with fixed seeds; keep the best validation epoch.

    ``train`` and ``val`` are ``(images, labels)`` arrays. The training pairs are shuffled every
    epoch with ``seed`` (``tf.data``); ``max_train_batches`` keeps only that many batches per epoch.
    ``tf_keras.callbacks.EarlyStopping(monitor=monitor, restore_best_weights=True)`` restores the
    best epoch's means and scales (``patience=None``: never stop early). The default monitor is
    ``"val_loss"``, the negative ELBO per clip on the validation set (NLL + KL / N), the quantity
    training minimises: while the KL term falls it keeps improving, whereas the validation accuracy
    of one weight sample per epoch is noisy and would stop training too early.

    Returns a DataFrame like :func:`course_utils.learning.training.fit`: ``epoch``, ``loss``
    (the negative ELBO per example, NLL + KL / N, averaged over the epoch), ``accuracy``,
    ``nll`` (the cross-entropy alone), the same three for validation (``val_*``, measured after
    the epoch), ``kl`` (the KL term after the epoch) and ``seconds``; ``attrs["best_epoch"]`` is 1-based. ``progress``: one bar
    counting the epochs with the last ``loss`` and ``monitor`` (:func:`course_utils.base.jupyter.progress`,
    named ``training <model name>`` or by ``progress`` when it is a string; it draws no random
    numbers, so the results are the same without it). Taught in ``15_uncertainty``.
    """
    tf_keras, _ = _tfp()
    tf_keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
    x, y = _as_batch(train[0]), np.asarray(train[1])
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=int(seed), reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if max_train_batches:
        ds = ds.take(int(max_train_batches))
    val_ds = tf.data.Dataset.from_tensor_slices((_as_batch(val[0]), np.asarray(val[1]))).batch(batch_size)

    desc = progress if isinstance(progress, str) else f"training {model.name}"
    shown = tuple(dict.fromkeys(("loss", monitor)))

    class Log(tf_keras.callbacks.Callback):  # epoch times and the KL term
        def on_train_begin(self, logs=None):
            self.seconds, self.kl = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            self.kl.append(kl_term(self.model))

    log = Log()
    mode = "min" if "loss" in monitor else "max"
    stopper = tf_keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, restore_best_weights=True,
                                               patience=epochs if patience is None else int(patience))
    bar = ([jupyter.epoch_progress(epochs, desc, metrics=shown, callback_base=tf_keras.callbacks.Callback)]
           if progress else [])
    history = model.fit(ds, validation_data=val_ds, epochs=int(epochs), verbose=verbose, callbacks=[log, stopper, *bar])
    df = pd.DataFrame(history.history)
    df = df[[c for c in ("loss", "accuracy", "nll", "val_loss", "val_accuracy", "val_nll") if c in df]]
    df.insert(0, "epoch", np.arange(1, len(df) + 1))
    df["kl"] = log.kl
    df["seconds"] = log.seconds
    df.attrs["best_epoch"] = int(stopper.best_epoch) + 1
    df.attrs["monitor"] = monitor
    return df


def bayes_samples(model, images, T: int = 50, *, seed: int = 0, batch_size: int = 256,
                  progress: bool = True) -> np.ndarray:
    """``T`` forward passes of a :func:`bayes_cnn`, each with new weights drawn from ``q``.

    Returns softmax probabilities of shape ``(T, N, K)``. Flipout draws one weight perturbation
    per batch and decorrelates the examples of a batch by random sign flips; the global
    TensorFlow seed is set from ``seed`` first, so the same call gives the same samples.
    ``progress``: a bar over the ``T`` passes (:func:`course_utils.base.jupyter.progress`).
    Taught in ``15_uncertainty``.
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")

    tf_keras, _ = _tfp()
    tf_keras.utils.set_random_seed(int(seed))
    x = _as_batch(images)
    out = np.empty((T, len(x), model.output_shape[-1]), dtype="float32")
    for t in jupyter.progress(range(T), desc=f"Bayesian CNN, {len(x)} clips", unit="pass", disable=not progress):
        for start in range(0, len(x), batch_size):
            logits = model(x[start:start + batch_size], training=False)
            out[t, start:start + batch_size] = tf.nn.softmax(logits).numpy()
    return out


# --------------------------------------------------------------------------------------
# Entropy, and two kinds of not knowing
# --------------------------------------------------------------------------------------
def entropy(p, axis: int = -1) -> np.ndarray:
    """Shannon entropy ``H(p) = -sum_k p_k log p_k`` in nats along ``axis`` (``0 log 0 = 0``).

    Taught in ``15_uncertainty``.
    """
    p = np.asarray(p, dtype="float64")
    logs = np.log(np.where(p > 0, p, 1.0))
    return -np.sum(p * logs, axis=axis)


def _samples(probs) -> np.ndarray:
    p = np.asarray(probs, dtype="float64")
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3:
        raise ValueError(f"probabilities must have shape (N, K) or (T, N, K), got {p.shape}")
    return p


def decompose(probs) -> dict:
    """Predictive entropy and its split into aleatoric and epistemic parts.

    ``probs``: samples ``(T, N, K)`` (or one deterministic prediction ``(N, K)``, i.e. ``T = 1``).
    With the mean prediction ``pbar = mean_t p_t``:

    - ``total`` = ``H(pbar)``, the predictive entropy;
    - ``aleatoric`` = ``mean_t H(p_t)``, the expected entropy (what each sampled network
      itself is unsure about: noise in the data);
    - ``epistemic`` = ``total - aleatoric``, the mutual information between the prediction and the
      weights (how much the sampled networks disagree: lack of knowledge; 0 when ``T = 1``).

    Returns a dict of arrays of length N plus ``mean`` (``pbar``, shape (N, K)).
    Taught in ``15_uncertainty``.
    """
    p = _samples(probs)
    mean = p.mean(axis=0)
    total = entropy(mean)
    aleatoric = entropy(p).mean(axis=0)
    epistemic = np.maximum(total - aleatoric, 0.0)  # >= 0 (Jensen); clip rounding below zero
    return {"total": total, "aleatoric": aleatoric, "epistemic": epistemic, "mean": mean}


# --------------------------------------------------------------------------------------
# Calibration, and abstaining on uncertain clips
# --------------------------------------------------------------------------------------
def reliability_table(probs, labels, n_bins: int = N_BINS) -> pd.DataFrame:
    """Confidence against accuracy in ``n_bins`` equal-width bins of the confidence.

    ``probs`` (N, K) are predicted probabilities (for samples, pass their mean); the
    confidence of a prediction is its largest probability, the prediction its arg-max. Bin
    ``b`` holds confidences in ``((b-1)/n_bins, b/n_bins]`` (the first bin includes 0).
    Returns one row per bin: ``lower``, ``upper``, ``count``, ``confidence`` (mean),
    ``accuracy`` (fraction correct; NaN in an empty bin) and ``gap`` (accuracy - confidence).
    Taught in ``15_uncertainty``.
    """
    p = np.asarray(probs, dtype="float64")
    labels = np.asarray(labels).astype(int).reshape(-1)
    if p.ndim != 2 or len(p) != len(labels):
        raise ValueError(f"need probabilities (N, K) and N labels, got {p.shape} and {labels.shape}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        inside = bins == b
        n = int(inside.sum())
        rows.append({"lower": edges[b], "upper": edges[b + 1], "count": n,
                     "confidence": confidence[inside].mean() if n else np.nan,
                     "accuracy": correct[inside].mean() if n else np.nan})
    table = pd.DataFrame(rows)
    table["gap"] = table["accuracy"] - table["confidence"]
    return table


def expected_calibration_error(probs, labels, n_bins: int = N_BINS) -> float:
    """ECE = ``sum_b (n_b / N) |acc(b) - conf(b)|`` over equal-width confidence bins.

    The average distance between how sure the model is and how often it is right, weighted by
    the number of predictions per bin (empty bins count zero). 0 for a perfectly calibrated
    model. Taught in ``15_uncertainty``.
    """
    table = reliability_table(probs, labels, n_bins)
    used = table[table["count"] > 0]
    return float((used["count"] * used["gap"].abs()).sum() / used["count"].sum())


def coverage_curve(uncertainty, correct, coverages=None) -> pd.DataFrame:
    """Accuracy when the model abstains on the most uncertain clips.

    Sorts the predictions by ``uncertainty`` (e.g. the predictive entropy), keeps the most
    certain fraction ``coverage`` (at least one prediction) and measures the accuracy on them.
    ``coverages`` default: 0.1, 0.2, ..., 1.0. Returns ``coverage``, ``kept`` and ``accuracy``.
    Ties are broken by position (stable sort), so the curve is reproducible.
    Taught in ``15_uncertainty``.
    """
    u = np.asarray(uncertainty, dtype="float64").reshape(-1)
    c = np.asarray(correct, dtype=bool).reshape(-1)
    if len(u) != len(c) or len(u) == 0:
        raise ValueError(f"need as many uncertainties as correctness flags (> 0), got {len(u)} and {len(c)}")
    cov = np.round(np.arange(1, 11) / 10, 2) if coverages is None else np.asarray(coverages, dtype="float64")
    order = np.argsort(u, kind="stable")
    hits = np.cumsum(c[order])
    kept = np.clip(np.ceil(cov * len(u) - 1e-9).astype(int), 1, len(u))
    return pd.DataFrame({"coverage": cov, "kept": kept, "accuracy": hits[kept - 1] / kept})


def summarize(probs, labels, n_bins: int = N_BINS) -> dict:
    """Accuracy, negative log-likelihood, ECE and mean entropies of (sampled) predictions.

    ``probs``: ``(N, K)`` or samples ``(T, N, K)``; the scores use the mean prediction.
    Returns plain floats: ``accuracy``, ``uar``, ``macro_f1``, ``nll`` (mean ``-log pbar_y``), ``ece``,
    ``mean_entropy``, ``mean_aleatoric``, ``mean_epistemic``, ``mean_confidence``.
    Taught in ``15_uncertainty``.
    """
    parts = decompose(probs)
    mean = parts["mean"]
    labels = np.asarray(labels).astype(int).reshape(-1)
    p_true = mean[np.arange(len(labels)), labels]
    cm = confusion_matrix(labels, mean.argmax(axis=1), labels=list(range(mean.shape[1])))
    return {
        **diagnosis.summary_scores(cm),  # accuracy, uar, macro_f1
        "nll": float(-np.mean(np.log(np.clip(p_true, 1e-12, 1.0)))),
        "ece": expected_calibration_error(mean, labels, n_bins),
        "mean_entropy": float(parts["total"].mean()),
        "mean_aleatoric": float(parts["aleatoric"].mean()),
        "mean_epistemic": float(parts["epistemic"].mean()),
        "mean_confidence": float(mean.max(axis=1).mean()),
    }


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def plot_reliability(table: pd.DataFrame, ax=None, title: str | None = None, ece: float | None = None):
    """Reliability diagram: accuracy per confidence bin against the diagonal, counts below.

    ``table`` from :func:`reliability_table`. Bars: accuracy of each bin (blue); red hatched
    boxes: the gap to the bin's mean confidence; the dashed diagonal is perfect calibration.
    A small panel underneath shows how many predictions fall in each bin. Returns the two Axes.
    Taught in ``15_uncertainty``.
    """
    if ax is None:
        fig = plt.figure(figsize=(4.6, 5.0))
        ax = fig.add_subplot(111)
    fig = ax.figure
    pos = ax.get_position()
    ax.set_position([pos.x0, pos.y0 + pos.height * 0.3, pos.width, pos.height * 0.7])
    ax_n = fig.add_axes([pos.x0, pos.y0, pos.width, pos.height * 0.22], sharex=ax)
    width = table["upper"] - table["lower"]
    mids = (table["lower"] + table["upper"]) / 2
    acc = table["accuracy"].fillna(0.0)
    conf = table["confidence"].fillna(mids)
    has = table["count"] > 0
    ax.bar(table["lower"][has], acc[has], width=width[has], align="edge", color="C0", edgecolor="k", lw=0.5,
           label="accuracy in the bin")
    ax.bar(table["lower"][has], (conf - acc)[has], bottom=acc[has], width=width[has], align="edge",
           color="C3", alpha=0.3, hatch="//", edgecolor="C3", lw=0.5, label="gap to mean confidence")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (fraction correct)")
    ax.legend(loc="upper left", fontsize=7)
    ax.grid(alpha=0.3)
    plt.setp(ax.get_xticklabels(), visible=False)
    heading = title or "Reliability diagram"
    if ece is not None:
        heading += f"\nECE = {ece:.3f}"
    ax.set_title(heading, fontsize=10)
    ax_n.bar(table["lower"], table["count"], width=width, align="edge", color="0.6", edgecolor="k", lw=0.5)
    ax_n.set_xlabel("confidence (largest predicted probability)")
    ax_n.set_ylabel("clips")
    return ax, ax_n


def plot_entropy_hist(total, correct, n_classes: int, ax=None, title: str | None = None):
    """Histograms of the predictive entropy for correct and for wrong predictions.

    The x-axis runs from 0 (certain) to ``log K`` nats (uniform over ``K`` classes).
    Taught in ``15_uncertainty``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    total = np.asarray(total, dtype="float64")
    correct = np.asarray(correct, dtype=bool)
    top = np.log(n_classes)
    bins = np.linspace(0, top, 21)
    for mask, label, color in ((correct, "correct", "C2"), (~correct, "wrong", "C3")):
        if mask.any():
            ax.hist(total[mask], bins=bins, alpha=0.55, color=color, edgecolor="k", lw=0.4,
                    label=f"{label} ({mask.sum()}, median {np.median(total[mask]):.2f})")
    ax.axvline(top, color="0.3", ls=":", lw=1)
    ax.set_xlabel(f"predictive entropy (nats; max log {n_classes} = {top:.2f})")
    ax.set_ylabel("test clips")
    ax.set_title(title or "Predictive entropy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_coverage(curves: dict, ax=None, title: str | None = None, chance: float | None = None):
    """Coverage-accuracy curves: accuracy on the kept clips against the fraction kept.

    ``curves`` maps a label to a :func:`coverage_curve` table. Taught in ``15_uncertainty``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, (label, c) in enumerate(curves.items()):
        ax.plot(100 * c["coverage"], 100 * c["accuracy"], "o-", ms=3, color=f"C{i}", label=label)
    if chance is not None:
        ax.axhline(100 * chance, color="0.4", ls=":", lw=1.2, label=f"chance ({100 * chance:.1f} %)")
    ax.set_xlabel("coverage (% of test clips answered, most certain first)")
    ax.set_ylabel("accuracy on the answered clips (%)")
    ax.set_xlim(0, 102)
    ax.set_title(title or "Abstaining on the most uncertain clips")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_probability_bars(prob, class_names, true: int, ax=None, title: str | None = None, spread=None):
    """One clip's predicted probabilities as bars: true class green, predicted class outlined.

    ``spread`` (optional, length K): the standard deviation of each probability over the
    samples, drawn as error bars. Used by :func:`plot_clip_with_probabilities`
    (``15_uncertainty``).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 2.6))
    prob = np.asarray(prob, dtype="float64")
    colors = ["C2" if k == true else "0.7" for k in range(len(prob))]
    bars = ax.bar(range(len(prob)), prob, color=colors, edgecolor="k", lw=0.5,
                  yerr=spread, capsize=2 if spread is not None else 0)
    bars[int(np.argmax(prob))].set_linewidth(2.0)
    ax.set_xticks(range(len(prob)))
    ax.set_xticklabels(class_names, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_title(title or "Predicted probabilities", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_clip_with_probabilities(y, sr: int, prob, class_names, true: int, title: str, spread=None):
    """A clip's waveform (left) beside its predicted probabilities (right); returns the figure.

    Put an audio player under it (:func:`course_utils.sound.plots.play`). Taught in
    ``15_uncertainty``.
    """
    fig, (ax_w, ax_p) = plt.subplots(1, 2, figsize=(10, 2.6), gridspec_kw={"width_ratios": [1.6, 1]})
    plots.plot_waveform(np.asarray(y), int(sr), ax=ax_w)
    ax_w.set_title(title, fontsize=9)
    plot_probability_bars(prob, class_names, true, ax=ax_p, spread=spread,
                          title="mean probability ± s.d. over the samples" if spread is not None else "probability")
    fig.tight_layout()
    return fig
