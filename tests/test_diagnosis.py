"""Per-class scores and confusions on small hand-made confusion matrices."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support

from course_utils.learning import diagnosis

# rows: true class, columns: predicted class
CM = np.array(
    [
        [8, 2, 0],  # a: 10 clips, 2 taken for b
        [1, 6, 3],  # b: 10 clips
        [0, 0, 5],  # c: 5 clips, all right
    ]
)
NAMES = ["a", "b", "c"]


def test_actor_names_give_id_and_sex():
    assert diagnosis.actor_names([1, 2, 11, 24]) == ["01 M", "02 F", "11 M", "24 F"]
    assert diagnosis.actor_names(np.array([3])) == ["03 M"]


def test_per_class_table_by_hand():
    t = diagnosis.per_class_table(CM, NAMES)
    assert list(t.columns) == diagnosis.PER_CLASS_COLUMNS and list(t.index) == NAMES
    assert t["support"].tolist() == [10, 10, 5] and t["predicted"].tolist() == [9, 8, 8]
    assert t["correct"].tolist() == [8, 6, 5]
    assert t.loc["a", "precision"] == pytest.approx(8 / 9) and t.loc["a", "recall"] == pytest.approx(0.8)
    assert t.loc["c", "precision"] == pytest.approx(5 / 8) and t.loc["c", "recall"] == 1.0
    p, r = 8 / 9, 0.8
    assert t.loc["a", "f1"] == pytest.approx(2 * p * r / (p + r))


def test_per_class_table_agrees_with_sklearn():
    truth = np.repeat([0, 1, 2], CM.sum(axis=1))
    pred = np.concatenate([np.repeat([0, 1, 2], row) for row in CM])
    p, r, f, s = precision_recall_fscore_support(truth, pred, labels=[0, 1, 2], zero_division=0)
    t = diagnosis.per_class_table(CM, NAMES)
    np.testing.assert_allclose(t["precision"], p)
    np.testing.assert_allclose(t["recall"], r)
    np.testing.assert_allclose(t["f1"], f)
    assert t["support"].tolist() == s.tolist()


def test_per_class_table_marks_unmeasurable_scores_as_nan():
    cm = np.array([[3, 0, 0], [2, 0, 0], [0, 0, 0]])  # b never right, c absent and never predicted
    t = diagnosis.per_class_table(cm, NAMES)
    assert t.loc["b", "recall"] == 0.0 and np.isnan(t.loc["b", "precision"]) and np.isnan(t.loc["b", "f1"])
    assert np.isnan(t.loc["c", "recall"]) and np.isnan(t.loc["c", "precision"])
    cm0 = np.array([[0, 1], [1, 0]])  # both classes always wrong: precision = recall = 0, F1 = 0
    assert diagnosis.per_class_table(cm0, ["x", "y"])["f1"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "cm, names, message",
    [
        (np.zeros((2, 3)), ["a", "b"], "square"),
        (np.array([[1, -1], [0, 1]]), ["a", "b"], "negative"),
        (np.eye(2), ["a", "b", "c"], "class names"),
    ],
)
def test_bad_matrices_are_refused(cm, names, message):
    with pytest.raises(ValueError, match=message):
        diagnosis.per_class_table(cm, names)


def test_top_confusions_sorted_with_shares():
    t = diagnosis.top_confusions(CM, NAMES, k=2)
    assert list(t.columns) == ["true", "predicted", "count", "share of true", "share of errors"]
    assert t[["true", "predicted", "count"]].values.tolist() == [["b", "c", 3], ["a", "b", 2]]
    assert t["share of true"].tolist() == pytest.approx([0.3, 0.2])
    assert t["share of errors"].tolist() == pytest.approx([0.5, 2 / 6])
    everything = diagnosis.top_confusions(CM, NAMES, k=None)
    assert len(everything) == 3 and everything["count"].sum() == CM.sum() - np.trace(CM)


def test_top_confusions_tie_broken_by_share_of_true_class():
    cm = np.array([[10, 2, 0], [0, 4, 2], [0, 0, 1]])  # two cells of 2: b->c is 1/3 of b, a->b 1/6 of a
    t = diagnosis.top_confusions(cm, NAMES)
    assert t[["true", "predicted"]].values.tolist() == [["b", "c"], ["a", "b"]]


def test_top_confusions_of_a_perfect_classifier_is_empty():
    assert diagnosis.top_confusions(np.diag([3, 4]), ["x", "y"]).empty


def test_confused_pairs_add_both_directions():
    t = diagnosis.confused_pairs(CM, NAMES)
    assert len(t) == 3  # every unordered pair of three classes, also the empty one
    first = t.iloc[0]
    assert (first["class A"], first["class B"], first["A as B"], first["B as A"], first["count"]) == ("a", "b", 2, 1, 3)
    assert t.iloc[1][["class A", "class B", "count"]].tolist() == ["b", "c", 3]  # tie: class order
    assert t.iloc[2]["count"] == 0
    assert t["share of errors"].tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert len(diagnosis.confused_pairs(CM, NAMES, k=1)) == 1
    assert np.isnan(diagnosis.confused_pairs(np.eye(2), ["x", "y"])["share of errors"]).all()


def test_same_group_share_counts_within_group_errors():
    # classes 0, 1 male; 2, 3 female
    cm = np.array(
        [
            [5, 3, 1, 0],
            [2, 5, 0, 0],
            [0, 0, 5, 2],
            [0, 1, 1, 5],
        ]
    )
    s = diagnosis.same_group_share(cm, ["M", "M", "F", "F"])
    assert s["errors"] == 10 and s["within"] == 8
    assert s["share"] == pytest.approx(0.8)
    assert s["chance"] == pytest.approx(1 / 3)  # one of the three other classes is of the same sex
    assert s["ratio"] == pytest.approx(2.4)
    assert 0 < s["p_value"] < 0.01


def test_same_group_share_chance_is_11_of_23_for_24_actors():
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 4, size=(24, 24))
    s = diagnosis.same_group_share(cm, ["M" if a % 2 else "F" for a in range(1, 25)])
    assert s["chance"] == pytest.approx(11 / 23)
    sex = np.array([a % 2 for a in range(24)])
    off = ~np.eye(24, dtype=bool)
    assert s["within"] == cm[(sex[:, None] == sex[None, :]) & off].sum()


def test_same_group_share_weights_chance_by_errors_of_unequal_groups():
    # groups of 1 and 2 classes; only class 0 (alone in its group) errs: nothing can stay inside
    cm = np.array([[1, 1, 1], [0, 2, 0], [0, 0, 2]])
    s = diagnosis.same_group_share(cm, ["x", "y", "y"])
    assert s["chance"] == 0.0 and s["within"] == 0 and s["share"] == 0.0
    assert np.isnan(s["ratio"]) and np.isnan(s["p_value"])


def test_same_group_share_without_errors_and_bad_groups():
    s = diagnosis.same_group_share(np.diag([4, 4, 4]), ["M", "M", "F"])
    assert s["errors"] == 0 and np.isnan(s["share"]) and np.isnan(s["p_value"])
    assert s["chance"] == pytest.approx(np.mean([0.5, 0.5, 0.0]))
    with pytest.raises(ValueError, match="group labels"):
        diagnosis.same_group_share(np.eye(3), ["M", "F"])
    with pytest.raises(ValueError, match="group labels"):
        diagnosis.plot_confusion_large(np.eye(3), NAMES, groups=["M"])


def test_plot_per_class_draws_bars_support_and_chance():
    t = diagnosis.per_class_table(np.array([[3, 0, 0], [2, 0, 0], [0, 0, 0]]), NAMES)
    ax = diagnosis.plot_per_class(t, title="T", chance=1 / 3)
    assert ax.get_title() == "T" and "fraction" in ax.get_xlabel()
    assert len(ax.patches) == 6  # precision and recall bar per class (NaN drawn as empty bars)
    widths = [p.get_width() for p in ax.patches]
    assert widths[:3] == pytest.approx([0.6, 0.0, 0.0]) and widths[3:] == pytest.approx([1.0, 0.0, 0.0])
    assert [t.get_text() for t in ax.texts] == ["n=3", "n=2", "n=0"]
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first class on top
    fig, ax2 = plt.subplots()
    assert diagnosis.plot_per_class(t, ax=ax2, label_support=False) is ax2 and not ax2.texts


def test_plot_confusion_large_reorders_by_group_and_blanks_empty_cells():
    cm = np.array([[4, 0, 1], [0, 5, 0], [2, 0, 2]])
    names = ["01 M", "02 F", "03 M"]
    colors = {"M": "blue", "F": "red"}
    ax = diagnosis.plot_confusion_large(cm, names, groups=["M", "F", "M"], group_colors=colors, title="T")
    assert ax.get_title() == "T" and ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["01 M", "03 M", "02 F"]  # males first (the first group seen), then females
    assert [t.get_color() for t in ax.get_xticklabels()] == ["blue", "blue", "red"]
    texts = [t.get_text() for t in ax.texts]
    # row-normalised % in the new order (01 M, 03 M, 02 F); cells without clips left blank
    assert texts == ["80", "20", "", "50", "50", "", "", "", "100"]
    assert len(ax.lines) == 2  # one horizontal and one vertical line between the two blocks
    cbar = ax.collections[0].colorbar
    assert "%" in cbar.ax.get_ylabel()


def test_plot_confusion_large_counts_without_groups():
    fig, ax = plt.subplots()
    out = diagnosis.plot_confusion_large(np.array([[3, 1], [0, 2]]), ["x", "y"], ax=ax, normalize=False)
    assert out is ax and [t.get_text() for t in ax.texts] == ["3", "1", "", "2"]
    assert "clips" in ax.collections[0].colorbar.ax.get_ylabel() and not ax.lines


def _history(acc, val_acc, loss, val_loss, best=None):
    h = pd.DataFrame({"epoch": np.arange(1, len(acc) + 1), "loss": loss, "accuracy": acc,
                      "val_loss": val_loss, "val_accuracy": val_acc})
    if best is not None:
        h.attrs["best_epoch"] = best
    return h


def test_overfitting_summary_of_an_overfitting_curve():
    h = _history(acc=[0.3, 0.6, 0.9, 1.0], val_acc=[0.3, 0.5, 0.45, 0.4],
                 loss=[2.0, 1.0, 0.4, 0.1], val_loss=[2.0, 1.5, 1.8, 3.0], best=2)
    s = diagnosis.overfitting_summary(h)
    assert s["epochs"] == 4 and s["best_epoch"] == 2 and s["best_val_accuracy"] == 0.5
    assert s["final_train_accuracy"] == 1.0 and s["final_val_accuracy"] == 0.4
    assert s["gap"] == pytest.approx(0.6)
    assert s["min_val_loss_epoch"] == 2 and s["val_loss_rise"] == pytest.approx(2.0)
    assert s["train_loss_drop"] == pytest.approx(0.05)


def test_overfitting_summary_without_best_epoch_and_errors():
    h = _history(acc=[0.5, 0.6], val_acc=[0.7, 0.6], loss=[1.0, 0.8], val_loss=[0.5, 0.6]).drop(columns="epoch")
    s = diagnosis.overfitting_summary(h)
    assert s["best_epoch"] == 1 and s["best_val_accuracy"] == 0.7 and s["gap"] == pytest.approx(0.0)
    with pytest.raises(KeyError, match="val_loss"):
        diagnosis.overfitting_summary(h.drop(columns="val_loss"))
    with pytest.raises(ValueError, match="no epochs"):
        diagnosis.overfitting_summary(h.iloc[:0])


def test_summary_scores_match_sklearn():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    rng = np.random.default_rng(0)
    truth = np.r_[np.zeros(10, int), np.ones(30, int), np.full(20, 2)]
    pred = np.where(rng.random(60) < 0.6, truth, rng.integers(0, 4, 60))  # class 3 only predicted
    got = diagnosis.label_scores(truth, pred)
    assert got["accuracy"] == pytest.approx(accuracy_score(truth, pred))
    assert got["uar"] == pytest.approx(balanced_accuracy_score(truth, pred))
    assert got["macro_f1"] == pytest.approx(f1_score(truth, pred, average="macro"))
    # UAR weighs every class alike: always predicting the big class scores 1/K, accuracy does not
    majority = diagnosis.label_scores(truth, np.ones(60, int))
    assert majority["accuracy"] == pytest.approx(0.5) and majority["uar"] == pytest.approx(1 / 3)
    assert diagnosis.label_scores(["a", "b"], ["a", "b"]) == {"accuracy": 1.0, "uar": 1.0, "macro_f1": 1.0, "n_test": 2.0}
    assert got["n_test"] == 60.0
    assert "n_test" not in diagnosis.summary_scores(np.array([[0.5, 0.25], [0.0, 0.25]]))  # normalised: no clip count
    with pytest.raises(ValueError, match="square confusion matrix"):
        diagnosis.summary_scores(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="as many predictions"):
        diagnosis.label_scores([1, 2], [1])


def test_binomial_se_one_accuracy_or_many():
    assert diagnosis.binomial_se(0.5, 100) == pytest.approx(0.05)
    assert isinstance(diagnosis.binomial_se(0.5, 100), float)
    assert diagnosis.binomial_se(0.125, 216) == pytest.approx(np.sqrt(0.125 * 0.875 / 216))
    assert diagnosis.binomial_se(0.0, 10) == 0.0 and diagnosis.binomial_se(1.0, 10) == 0.0
    np.testing.assert_allclose(diagnosis.binomial_se([0.0, 0.9], 100), [0.0, 0.03])
    assert diagnosis.binomial_se(0.5, np.int64(25)) == pytest.approx(0.1)
    for p, n in [(-0.1, 10), (1.1, 10), ([0.5, 1.2], 10), (0.5, 0), (0.5, 2.5), (0.5, True), (float("nan"), 10)]:
        with pytest.raises(ValueError):
            diagnosis.binomial_se(p, n)
