"""Scores of a classifier beyond one accuracy: per class, which classes it confuses, over folds.

Taught in ``09_cnn_multiclass`` (actor identity with 24 classes, emotion with 8). The summary
scores (:func:`summary_scores`, :func:`label_scores`) are taught in ``07_classical_baseline``,
:func:`fold_mean` in ``16_better_emotion_model``; ``14_raw_waveform``, ``16_better_emotion_model``
and ``17_new_voices`` use the per-class tables and scores again.

One accuracy hides everything a teacher wants to see. Given a confusion matrix :math:`C`
(rows: true class, columns: predicted class, :math:`C_{ij}` = clips of class *i* predicted as
*j*; ``training.evaluate(...)["confusion"]``, sklearn's ``confusion_matrix``):

- :func:`summary_scores`: accuracy, **unweighted average recall**
  (UAR :math:`= \\frac{1}{K} \\sum_c C_{cc} / \\sum_j C_{cj}`, the mean of the per-class recalls,
  sklearn's balanced accuracy) and **macro-F1** (the mean of the per-class F1): the field's
  numbers for an unbalanced test set (RAVDESS has half as many neutral clips). Accuracy weighs
  every clip the same, UAR every class, so a classifier that never names a small class loses
  little accuracy but a whole class's share of UAR. :func:`label_scores` gives the same from
  true and predicted labels, :func:`fold_mean` their mean over the folds of a cross-validation,
  and :func:`binomial_se` how far an accuracy measured on ``n`` clips would move on another
  draw of the test set;
- :func:`per_class_table`: precision :math:`C_{cc} / \\sum_i C_{ic}`, recall
  :math:`C_{cc} / \\sum_j C_{cj}`, their harmonic mean F1, and the support of every class;
  :func:`plot_per_class` draws precision and recall side by side;
  :func:`actor_names`: short class names for actors, ``"01 M"``, ``"02 F"`` (odd ids male);
- :func:`top_confusions`: the largest off-diagonal cells, each as a share of its true class;
  :func:`confused_pairs`: the same per unordered pair of classes (both directions added);
- :func:`same_group_share`: how many errors stay inside a group of classes (an actor mistaken
  for another actor of the same sex) against what errors spread at random would give;
- :func:`plot_confusion_large`: a confusion matrix that stays readable at 24 classes
  (percentages without decimals, empty cells left blank, classes ordered and framed by group);
- :func:`overfitting_summary`: what a learning curve says about overfitting, as numbers.

The functions only count: they work on any classifier's confusion matrix (the CNN of
chapter 09, the SVM of chapter 07).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy.stats import binomtest


# --------------------------------------------------------------------------------------
# Accuracy, UAR and macro-F1 of a whole test set, and over folds
# --------------------------------------------------------------------------------------
#: The scores of :func:`summary_scores`, in the order the course reports them.
SCORE_NAMES = ("accuracy", "uar", "macro_f1")


def summary_scores(cm) -> dict[str, float]:
    """Accuracy, unweighted average recall and macro-F1 of a confusion matrix (rows = true class).

    - ``accuracy`` = trace / total: every clip weighs the same, so a large class weighs more;
    - ``uar`` (unweighted average recall, sklearn's ``balanced_accuracy_score``): the mean of
      the recalls of the classes present in the test set, so every *class* weighs the same;
      chance is 1 / K whatever the class sizes;
    - ``macro_f1``: the mean F1 = 2 TP / (support + predicted) over the classes that occur in
      the test set or among the predictions (sklearn's ``f1_score(average="macro")``).

    A matrix of counts also gives ``n_test``, the number of clips, for the standard error of a
    comparison (:func:`course_utils.course.phrases.difference_se`). Taught in ``07_classical_baseline``
    (through :func:`label_scores`); :func:`course_utils.learning.training.evaluate` (``08_cnn_binary``
    on) and the helpers of ``13_multitask``, ``15_uncertainty`` and ``16_better_emotion_model``
    compute it, so every emotion chapter records all three.
    """
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.sum() <= 0:
        raise ValueError(f"need a square confusion matrix with at least one clip, got shape {cm.shape}")
    correct = np.diag(cm)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    present = support > 0
    occurs = present | (predicted > 0)
    scores = {
        "accuracy": float(correct.sum() / cm.sum()),
        "uar": float(np.mean(correct[present] / support[present])),
        "macro_f1": float(np.mean(2 * correct[occurs] / (support[occurs] + predicted[occurs]))),
    }
    if np.all(cm == np.round(cm)):  # counts, not a normalised matrix
        scores["n_test"] = float(cm.sum())
    return scores


def label_scores(y_true, y_pred) -> dict[str, float]:
    """:func:`summary_scores` from true and predicted labels (any hashable labels).

    Used by :func:`course_utils.learning.baseline.fit_select` (``07_classical_baseline``, where
    UAR and macro-F1 are taught) and by ``17_new_voices``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need as many predictions as labels (at least one), got {y_true.shape} and {y_pred.shape}")
    labels = np.unique(np.concatenate([y_true, y_pred]))
    index = {label: k for k, label in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)))
    np.add.at(cm, ([index[v] for v in y_true], [index[v] for v in y_pred]), 1)
    return summary_scores(cm)


def binomial_se(p, n: int):
    """The standard error ``sqrt(p (1 - p) / n)`` of an accuracy ``p`` measured on ``n`` clips.

    How much an accuracy would move if the test set were drawn again: with 216 test clips and an
    accuracy near 0.5 it is about 3.4 percentage points. ``p`` is one fraction (a float comes
    back) or an array of them (an array comes back). Taught in ``07_classical_baseline`` ("Small
    test sets are noisy") and ``10_augmentation`` (the formula); called in ``06_preprocessing``,
    ``08_cnn_binary``, ``09_cnn_multiclass``, ``14_raw_waveform`` and ``16_better_emotion_model``,
    and the yardstick of :mod:`course_utils.course.phrases` (``difference_se``, ``versus_chance``,
    ``spread_vs_binomial``) and of :func:`course_utils.learning.emotion_net.summarise_folds`.
    """
    arr = np.asarray(p, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any((arr < 0.0) | (arr > 1.0)):
        raise ValueError(f"p must be a fraction in [0, 1], got {p!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer, float)) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive whole number of clips, got {n!r}")
    se = np.sqrt(arr * (1.0 - arr) / int(n))
    return float(se) if se.ndim == 0 else se


def fold_mean(fold_scores) -> dict[str, float]:
    """The mean of per-fold scores (dicts with ``accuracy`` and optionally ``uar``, ``macro_f1``,
    ``n_test``), with the standard deviations across folds (``accuracy_std``, ``uar_std``; 0 for
    one fold), the test clips of all folds together (``n_test``, where every fold has it) and
    ``n_folds``: what :meth:`course_utils.course.results.NotebookRun.record_scores` records for the
    ``actor_folds`` protocol. Taught in ``16_better_emotion_model``; used again by ``17_new_voices``
    and by :func:`course_utils.learning.baseline.fit_folds` (``07_classical_baseline``)."""
    fold_scores = list(fold_scores)
    if not fold_scores:
        raise ValueError("no folds to average. Fix: run at least one fold.")
    out: dict[str, float] = {}
    for name in ("accuracy", "uar", "macro_f1"):
        values = [float(f[name]) for f in fold_scores if name in f]
        if len(values) == len(fold_scores):
            out[name] = float(sum(values) / len(values))
            if name != "macro_f1":
                mean = out[name]
                var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
                out[f"{name}_std"] = math.sqrt(var)
    if "accuracy" not in out:
        raise ValueError("every fold needs an 'accuracy'")
    if all("n_test" in f for f in fold_scores):
        out["n_test"] = float(sum(float(f["n_test"]) for f in fold_scores))  # every clip of the folds, once
    out["n_folds"] = len(fold_scores)
    return out


# --------------------------------------------------------------------------------------
# Per class: precision, recall and F1
# --------------------------------------------------------------------------------------
#: The columns of :func:`per_class_table`, in order.
PER_CLASS_COLUMNS = ["support", "predicted", "correct", "precision", "recall", "f1"]


def _square(cm, class_names: Sequence[str] | None = None) -> np.ndarray:
    """A confusion matrix as a square float array (checked against ``class_names``)."""
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {cm.shape}")
    if (cm < 0).any():
        raise ValueError("a confusion matrix holds counts: negative entries are not allowed")
    if class_names is not None and len(class_names) != len(cm):
        raise ValueError(f"{len(cm)} classes in the matrix but {len(class_names)} class names")
    return cm


def actor_names(actors: Sequence[int]) -> list[str]:
    """Short class names for RAVDESS actors: id and sex, ``[1, 2] -> ["01 M", "02 F"]``.

    Odd ids are male, even ids female (the RAVDESS convention). Taught in ``09_cnn_multiclass``.
    """
    return [f"{int(a):02d} {'M' if int(a) % 2 else 'F'}" for a in actors]


def per_class_table(cm, class_names: Sequence[str]) -> pd.DataFrame:
    """Precision, recall and F1 of every class, from a confusion matrix (rows = true class).

    One row per class (index: ``class_names``) with ``support`` (clips of the class in the
    test set, the row sum), ``predicted`` (clips predicted as the class, the column sum),
    ``correct`` (the diagonal), ``precision`` = correct / predicted, ``recall`` = correct /
    support and ``f1`` = 2 P R / (P + R). A ratio with nothing to divide by (a class never
    predicted, or absent from the test set) is NaN, not 0: "not measured" is not "wrong".
    Taught in ``09_cnn_multiclass``; used again by ``14_raw_waveform`` and
    ``16_better_emotion_model``.
    """
    cm = _square(cm, class_names)
    correct = np.diag(cm)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, correct / predicted, np.nan)
        recall = np.where(support > 0, correct / support, np.nan)
        total = precision + recall
        f1 = np.where(total > 0, 2 * precision * recall / total, np.where(np.isnan(total), np.nan, 0.0))
    table = pd.DataFrame(
        {
            "support": support.astype(int),
            "predicted": predicted.astype(int),
            "correct": correct.astype(int),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        },
        index=pd.Index([str(c) for c in class_names], name="class"),
    )
    return table[PER_CLASS_COLUMNS]


def plot_per_class(
    table: pd.DataFrame,
    ax: plt.Axes | None = None,
    title: str | None = None,
    chance: float | None = None,
    label_support: bool = True,
) -> plt.Axes:
    """Precision and recall of every class as horizontal bars (a :func:`per_class_table`).

    One row per class, top to bottom in the table's order; ``chance`` draws a dashed line
    (e.g. 1 / number of classes, the recall of random guessing); ``label_support`` writes the
    number of test clips of each class at the right edge. Missing values (NaN) draw no bar.
    Returns the Axes. Taught in ``09_cnn_multiclass``.
    """
    n = len(table)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 1.2 + 0.32 * n))
    y = np.arange(n)
    h = 0.4
    ax.barh(y - h / 2, table["precision"].fillna(0), height=h, color="C0", label="precision")
    ax.barh(y + h / 2, table["recall"].fillna(0), height=h, color="C1", label="recall")
    if chance is not None:
        ax.axvline(chance, color="0.3", ls="--", lw=1, label=f"chance ({chance:.1%})")
    if label_support:
        for k, s in enumerate(table["support"]):
            ax.text(1.02, k, f"n={int(s)}", va="center", ha="left", fontsize=7, color="0.3",
                    transform=ax.get_yaxis_transform())
    ax.set_yticks(y, [str(c) for c in table.index])
    ax.set_ylim(n - 0.5, -0.5)  # first class at the top
    ax.set_xlim(0, 1)
    ax.set_xlabel("score (fraction of clips)")
    ax.set_ylabel(str(table.index.name or "class"))
    ax.set_title(title or "Precision and recall per class")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return ax


# --------------------------------------------------------------------------------------
# Which class is mistaken for which
# --------------------------------------------------------------------------------------
def top_confusions(cm, class_names: Sequence[str], k: int | None = 10) -> pd.DataFrame:
    """The ``k`` largest off-diagonal cells: which class is mistaken for which, how often.

    Columns: ``true``, ``predicted``, ``count`` (clips), ``share of true`` (count divided by
    the clips of the true class: the fraction of that class that goes this wrong way) and
    ``share of errors`` (count divided by all errors). Sorted by count, then by share of the
    true class, then by name; cells with count 0 are left out (an empty table when there are
    no errors). ``k=None`` keeps all. Taught in ``09_cnn_multiclass``; used again by
    ``16_better_emotion_model``.
    """
    cm = _square(cm, class_names)
    names = [str(c) for c in class_names]
    support = cm.sum(axis=1)
    errors = cm.sum() - np.trace(cm)
    rows = [
        (names[i], names[j], int(cm[i, j]), cm[i, j] / support[i], cm[i, j] / errors)
        for i in range(len(cm))
        for j in range(len(cm))
        if i != j and cm[i, j] > 0
    ]
    rows.sort(key=lambda r: (-r[2], -r[3], r[0], r[1]))
    out = pd.DataFrame(rows, columns=["true", "predicted", "count", "share of true", "share of errors"])
    return (out if k is None else out.head(k)).reset_index(drop=True)


def confused_pairs(cm, class_names: Sequence[str], k: int | None = None) -> pd.DataFrame:
    """Confusions per unordered pair of classes, both directions added.

    Columns: ``class A``, ``class B`` (A before B in ``class_names``), ``A as B``, ``B as A``,
    ``count`` (their sum) and ``share of errors``. Every pair is listed (also those with 0),
    sorted by count (largest first), ties in class order; ``k`` keeps the first ``k``.
    The symmetric view suits "are these two emotions hard to tell apart?", where the direction
    matters less than the total. Taught in ``09_cnn_multiclass``.
    """
    cm = _square(cm, class_names)
    names = [str(c) for c in class_names]
    errors = cm.sum() - np.trace(cm)
    rows = []
    for i in range(len(cm)):
        for j in range(i + 1, len(cm)):
            both = cm[i, j] + cm[j, i]
            rows.append((names[i], names[j], int(cm[i, j]), int(cm[j, i]), int(both), both / errors if errors else np.nan))
    out = pd.DataFrame(rows, columns=["class A", "class B", "A as B", "B as A", "count", "share of errors"])
    out = out.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
    return out if k is None else out.head(k)


def same_group_share(cm, groups: Sequence) -> pd.Series:
    """How many errors stay inside a group of classes, against errors spread at random.

    ``groups`` gives each class's group (e.g. the sex of each actor class). Returns a Series:

    - ``errors``: all off-diagonal clips; ``within``: those whose wrong class is in the true
      class's group;
    - ``share``: within / errors (NaN without errors);
    - ``chance``: the share expected if each error went to one of the other classes at random,
      :math:`\\sum_i e_i \\frac{n_{g(i)} - 1}{n - 1} / \\sum_i e_i` with :math:`e_i` the errors
      of class *i*, :math:`n_{g(i)}` the size of its group and *n* the number of classes
      (11/23 = 47.8 % for 24 actors, 12 of each sex);
    - ``ratio``: share / chance; ``p_value``: one-sided binomial test of ``within`` out of
      ``errors`` against ``chance`` (a rough guide: it treats the errors as independent,
      which clips of one speaker are not).

    Taught in ``09_cnn_multiclass``.
    """
    cm = _square(cm)
    groups = np.asarray(list(groups), dtype=object)
    if len(groups) != len(cm):
        raise ValueError(f"{len(cm)} classes but {len(groups)} group labels")
    n = len(cm)
    same = groups[:, None] == groups[None, :]
    off = ~np.eye(n, dtype=bool)
    per_class_errors = (cm * off).sum(axis=1)
    errors = float(per_class_errors.sum())
    within = float((cm * (same & off)).sum())
    group_size = same.sum(axis=1)
    stay = (group_size - 1) / (n - 1) if n > 1 else np.zeros(n)
    chance = float((per_class_errors * stay).sum() / errors) if errors else float(np.mean(stay))
    share = within / errors if errors else np.nan
    p = binomtest(int(within), int(errors), chance, alternative="greater").pvalue if errors and 0 < chance < 1 else np.nan
    return pd.Series(
        {
            "errors": errors,
            "within": within,
            "share": share,
            "chance": chance,
            "ratio": share / chance if chance > 0 else np.nan,
            "p_value": float(p),
        }
    )


def plot_confusion_large(
    cm,
    class_names: Sequence[str],
    *,
    groups: Sequence | None = None,
    group_colors: Mapping | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
    normalize: bool = True,
) -> plt.Axes:
    """A confusion matrix that stays readable with many classes (24 actors).

    Cells show whole percentages of the true class (``normalize``) or counts; empty cells stay
    blank, so the eye finds the errors. With ``groups`` (one label per class) the classes are
    reordered group by group (stable: the given order within a group), the blocks are framed
    by lines and, with ``group_colors`` (group -> colour), the tick labels are coloured by
    group: errors inside the diagonal blocks stay within a group. Rows: true class, columns:
    predicted class. Returns the Axes. Taught in ``09_cnn_multiclass``.
    """
    cm = _square(cm, class_names)
    names = np.array([str(c) for c in class_names], dtype=object)
    order = np.arange(len(cm))
    if groups is not None:
        groups = np.asarray(list(groups), dtype=object)
        if len(groups) != len(cm):
            raise ValueError(f"{len(cm)} classes but {len(groups)} group labels")
        first_seen = {g: k for k, g in reversed(list(enumerate(groups)))}
        order = np.array(sorted(order, key=lambda i: (first_seen[groups[i]], i)))
    cm, names = cm[np.ix_(order, order)], names[order]
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        values = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0) * 100
    else:
        values = cm
    n = len(cm)
    if ax is None:
        side = max(3.5, 2.0 + 0.36 * n)
        _, ax = plt.subplots(figsize=(side + 1.3, side))
    annot = np.where(cm > 0, np.vectorize(lambda v: f"{v:.0f}")(values), "")
    sns.heatmap(
        values,
        annot=annot,
        fmt="",
        cmap="Blues",
        vmin=0,
        vmax=100 if normalize else None,
        square=True,
        linewidths=0.3,
        linecolor="0.92",
        xticklabels=list(names),
        yticklabels=list(names),
        annot_kws={"fontsize": 7 if n > 12 else 9},
        cbar_kws={"label": "share of the true class (%)" if normalize else "number of clips", "shrink": 0.8},
        ax=ax,
    )
    if groups is not None:
        g = groups[order]
        for b in np.flatnonzero(g[1:] != g[:-1]) + 1:
            ax.axhline(b, color="0.2", lw=1.2)
            ax.axvline(b, color="0.2", lw=1.2)
        if group_colors:
            for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
                for label, grp in zip(labels, g):
                    label.set_color(group_colors.get(grp, "black"))
    ax.tick_params(axis="x", rotation=90, labelsize=8 if n > 12 else 10)
    ax.tick_params(axis="y", rotation=0, labelsize=8 if n > 12 else 10)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or ("Confusion matrix (% of the true class)" if normalize else "Confusion matrix (clips)"))
    return ax


# --------------------------------------------------------------------------------------
# Overfitting, read from a learning curve
# --------------------------------------------------------------------------------------
def overfitting_summary(history: pd.DataFrame) -> pd.Series:
    """What a learning curve says about overfitting, as numbers.

    ``history`` is what :func:`course_utils.learning.training.fit` returns (columns ``loss``,
    ``accuracy``, ``val_loss``, ``val_accuracy``; ``attrs["best_epoch"]``). Returns a Series with
    ``epochs``, ``best_epoch`` (the restored epoch; the best validation accuracy if not recorded),
    ``best_val_accuracy``, ``final_train_accuracy``, ``final_val_accuracy``, ``gap`` = final
    training minus final validation accuracy, ``min_val_loss_epoch`` (where validation loss is
    lowest: the usual onset of overfitting), ``val_loss_rise`` = final / lowest validation
    loss (1: no rise) and ``train_loss_drop`` = final / first training loss. Taught in
    ``09_cnn_multiclass``.
    """
    missing = {"loss", "accuracy", "val_loss", "val_accuracy"} - set(history.columns)
    if missing:
        raise KeyError(f"history lacks the columns {sorted(missing)}")
    if history.empty:
        raise ValueError("history has no epochs")
    epoch = history["epoch"].to_numpy() if "epoch" in history else np.arange(1, len(history) + 1)
    best = history.attrs.get("best_epoch")
    if best is None:
        best = int(epoch[int(np.argmax(history["val_accuracy"].to_numpy()))])
    best_row = int(np.flatnonzero(epoch == best)[0])
    val_loss = history["val_loss"].to_numpy(dtype=float)
    k_min = int(np.argmin(val_loss))
    return pd.Series(
        {
            "epochs": float(len(history)),
            "best_epoch": float(best),
            "best_val_accuracy": float(history["val_accuracy"].iloc[best_row]),
            "final_train_accuracy": float(history["accuracy"].iloc[-1]),
            "final_val_accuracy": float(history["val_accuracy"].iloc[-1]),
            "gap": float(history["accuracy"].iloc[-1] - history["val_accuracy"].iloc[-1]),
            "min_val_loss_epoch": float(epoch[k_min]),
            "val_loss_rise": float(val_loss[-1] / val_loss[k_min]) if val_loss[k_min] > 0 else np.nan,
            "train_loss_drop": float(history["loss"].iloc[-1] / history["loss"].iloc[0]) if history["loss"].iloc[0] > 0 else np.nan,
        }
    )
