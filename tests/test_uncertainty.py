"""Tests of course_utils.learning.uncertainty (chapter 15): measures by hand, models on tiny inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.base import jupyter  # noqa: E402
from course_utils.learning import models, uncertainty as U


# --------------------------------------------------------------------------- measures

def test_entropy_of_uniform_and_one_hot():
    assert U.entropy(np.full(8, 1 / 8)) == pytest.approx(np.log(8))
    assert U.entropy(np.array([0.0, 1.0, 0.0])) == pytest.approx(0.0)
    assert U.entropy(np.array([[0.5, 0.5], [1.0, 0.0]])) == pytest.approx([np.log(2), 0.0])


def test_decompose_separates_disagreement_from_noise():
    # two sampled networks, each certain, disagreeing: all uncertainty is epistemic
    disagree = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    d = U.decompose(disagree)
    assert d["total"][0] == pytest.approx(np.log(2))
    assert d["aleatoric"][0] == pytest.approx(0.0)
    assert d["epistemic"][0] == pytest.approx(np.log(2))
    np.testing.assert_allclose(d["mean"], [[0.5, 0.5]])
    # two networks that agree on 50/50: all uncertainty is aleatoric
    agree = np.array([[[0.5, 0.5]], [[0.5, 0.5]]])
    d = U.decompose(agree)
    assert d["aleatoric"][0] == pytest.approx(np.log(2))
    assert d["epistemic"][0] == pytest.approx(0.0)
    # a deterministic prediction (N, K) is T = 1: no epistemic part
    d = U.decompose(np.array([[0.2, 0.8], [0.6, 0.4]]))
    np.testing.assert_allclose(d["epistemic"], 0.0)
    np.testing.assert_allclose(d["total"], d["aleatoric"])
    with pytest.raises(ValueError):
        U.decompose(np.zeros(3))


def test_ece_matches_a_hand_computed_example():
    # 5 predictions, 3 classes, 15 bins of width 1/15
    probs = np.array([
        [0.90, 0.05, 0.05],  # conf 0.90 -> bin 13 (0.8667, 0.9333], correct
        [0.90, 0.05, 0.05],  # conf 0.90 -> bin 13, wrong (label 1)
        [0.10, 0.60, 0.30],  # conf 0.60 -> bin 8 (0.5333, 0.6], correct
        [0.40, 0.35, 0.25],  # conf 0.40 -> bin 5 (0.3333, 0.4], wrong
        [0.00, 0.00, 1.00],  # conf 1.00 -> bin 14 (0.9333, 1], correct
    ])
    labels = np.array([0, 1, 1, 2, 2])
    # by hand: bin 13: |0.5 - 0.9| * 2/5; bin 8: |1 - 0.6| * 1/5; bin 5: |0 - 0.4| * 1/5; bin 14: 0
    expected = 0.4 * 2 / 5 + 0.4 / 5 + 0.4 / 5
    assert U.expected_calibration_error(probs, labels) == pytest.approx(expected)
    table = U.reliability_table(probs, labels)
    assert len(table) == U.N_BINS and table["count"].sum() == 5
    assert table.loc[13, "count"] == 2 and table.loc[13, "accuracy"] == pytest.approx(0.5)
    assert table.loc[8, "count"] == 1 and table.loc[5, "count"] == 1 and table.loc[14, "count"] == 1
    assert np.isnan(table.loc[0, "accuracy"])  # empty bin
    # the bin edge 0.6 = 9/15 belongs to the bin it closes, (8/15, 9/15]
    assert table.loc[8, "upper"] == pytest.approx(0.6)


def test_ece_is_zero_when_confidence_equals_accuracy_and_bins_are_validated():
    # four predictions at confidence 0.75 of which three are right: perfectly calibrated
    probs = np.tile([0.75, 0.25], (4, 1))
    labels = np.array([0, 0, 0, 1])
    assert U.expected_calibration_error(probs, labels) == pytest.approx(0.0)
    # overconfident: always 100 % sure, right half of the time -> ECE 0.5
    assert U.expected_calibration_error(np.tile([1.0, 0.0], (4, 1)), np.array([0, 1, 0, 1])) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        U.reliability_table(probs, labels, n_bins=0)
    with pytest.raises(ValueError):
        U.reliability_table(probs, labels[:3])


def test_coverage_curve_keeps_the_most_certain_first():
    u = np.array([0.1, 0.9, 0.2, 0.8])
    correct = np.array([True, False, True, True])
    c = U.coverage_curve(u, correct, coverages=[0.25, 0.5, 0.75, 1.0])
    assert c["kept"].tolist() == [1, 2, 3, 4]
    assert c["accuracy"].tolist() == pytest.approx([1.0, 1.0, 1.0, 0.75])
    default = U.coverage_curve(u, correct)
    assert default["coverage"].tolist() == pytest.approx(np.arange(1, 11) / 10)
    assert default["kept"].min() == 1  # at least one prediction kept
    with pytest.raises(ValueError):
        U.coverage_curve(u, correct[:2])


def test_summarize_reports_plain_floats():
    samples = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.4, 0.6]]])
    s = U.summarize(samples, [0, 0])
    assert s["accuracy"] == pytest.approx(0.5)
    assert s["nll"] == pytest.approx(-(np.log(0.8) + np.log(0.3)) / 2)
    assert s["mean_confidence"] == pytest.approx(0.75)
    assert s["mean_epistemic"] > 0 and s["mean_entropy"] == pytest.approx(s["mean_aleatoric"] + s["mean_epistemic"])
    assert all(isinstance(v, float) for v in s.values())


# --------------------------------------------------------------------------- figures

def test_figures_are_labelled():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=40)
    labels = rng.integers(0, 4, 40)
    table = U.reliability_table(probs, labels)
    ax, ax_n = U.plot_reliability(table, title="test", ece=U.expected_calibration_error(probs, labels))
    assert "ECE" in ax.get_title() and ax_n.get_xlabel().startswith("confidence") and ax_n.get_ylabel() == "clips"
    ent = U.entropy(probs)
    ax = U.plot_entropy_hist(ent, probs.argmax(1) == labels, 4)
    assert "nats" in ax.get_xlabel() and len(ax.get_legend().get_texts()) == 2
    ax = U.plot_coverage({"a": U.coverage_curve(ent, probs.argmax(1) == labels)}, chance=0.25)
    assert "%" in ax.get_xlabel() and "%" in ax.get_ylabel()
    ax = U.plot_probability_bars(probs[0], list("abcd"), true=1, spread=np.full(4, 0.05))
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd") and ax.get_ylabel() == "probability"
    plt.close("all")


# --------------------------------------------------------------------------- models

def test_mc_dropout_samples_vary_but_repeat_with_the_seed(monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    model = U.dropout_cnn((12, 12, 1), n_classes=3, filters=(4,), dense_units=8, seed=0)
    x = np.random.default_rng(0).random((5, 12, 12)).astype("float32")
    capsys.readouterr()
    a = U.mc_dropout_samples(model, x, T=4, seed=1, batch_size=2)
    err = capsys.readouterr().err  # a bar over the passes
    assert "MC dropout, 5 clips" in err and "4/4" in err and err.count("\n") == 1
    model(x[..., None], training=True)  # advance the dropout seeds: the next call must not care
    b = U.mc_dropout_samples(model, x, T=4, seed=1, batch_size=2, progress=False)
    assert capsys.readouterr().err == ""
    assert a.shape == (4, 5, 3)
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-6)  # same seed (and batching), same masks
    c = U.mc_dropout_samples(model, x, T=4, seed=2, batch_size=2)
    assert np.abs(a - c).max() > 1e-4  # another seed, other masks
    assert np.abs(a[0] - a[1]).max() > 1e-4  # dropout on: passes differ
    det = np.asarray(model(x[..., None], training=False))
    np.testing.assert_allclose(np.asarray(model(x[..., None], training=False)), det)  # dropout off: fixed
    with pytest.raises(ValueError):
        U.mc_dropout_samples(model, x, T=0)
    with pytest.raises(ValueError):
        U.mc_dropout_samples(models.study_ffnn(4, 3), np.zeros((2, 4)), T=2)


def test_bayes_cnn_trains_with_the_scaled_kl_and_samples_reproducibly(monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    rng = np.random.default_rng(0)
    x = rng.random((24, 12, 12)).astype("float32")
    y = rng.integers(0, 3, 24)
    model = U.bayes_cnn((12, 12, 1), n_classes=3, n_train=24, filters=(4,), dense_units=8, seed=0)
    kl0 = U.kl_term(model)
    assert kl0 > 0
    # the KL term is the per-layer KL divided by n_train: a model for 48 examples has half of it
    half = U.bayes_cnn((12, 12, 1), n_classes=3, n_train=48, filters=(4,), dense_units=8, seed=0)
    assert U.kl_term(half) == pytest.approx(kl0 / 2, rel=1e-5)
    capsys.readouterr()
    h = U.fit_bayes(model, (x, y), (x[:8], y[:8]), epochs=2, batch_size=8, max_train_batches=2, patience=None)
    err = capsys.readouterr().err  # one bar: epochs, the last loss and monitored score
    assert err.count("\n") == 1 and "training bayes_cnn" in err and "2/2" in err and "val_loss=" in err
    twin = U.bayes_cnn((12, 12, 1), n_classes=3, n_train=24, filters=(4,), dense_units=8, seed=0)
    quiet = U.fit_bayes(twin, (x, y), (x[:8], y[:8]), epochs=2, batch_size=8, max_train_batches=2, patience=None,
                        progress=False)
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(quiet.drop(columns="seconds").to_numpy(), h.drop(columns="seconds").to_numpy())
    for w1, w2 in zip(model.get_weights(), twin.get_weights()):  # the bar draws no random numbers
        np.testing.assert_array_equal(w1, w2)
    assert list(h.columns) == ["epoch", "loss", "accuracy", "nll", "val_loss", "val_accuracy", "val_nll", "kl", "seconds"]
    assert len(h) == 2 and 1 <= h.attrs["best_epoch"] <= 2 and h.attrs["monitor"] == "val_loss"
    assert (h["kl"] > 0).all() and (h["loss"] > h["kl"]).all()
    # validation is measured after the epoch, with the KL of that moment: val_loss = val NLL + KL / N
    np.testing.assert_allclose(h["val_loss"], h["val_nll"] + h["kl"], rtol=1e-4)
    a = U.bayes_samples(model, x[:6], T=3, seed=2, batch_size=4)
    err = capsys.readouterr().err
    assert "Bayesian CNN, 6 clips" in err and "3/3" in err
    np.testing.assert_array_equal(U.bayes_samples(model, x[:6], T=3, seed=2, batch_size=4, progress=False), a)
    b = U.bayes_samples(model, x[:6], T=3, seed=2)
    assert a.shape == (3, 6, 3)
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
    assert np.abs(a[0] - a[1]).max() > 1e-5  # new weights every pass
    np.testing.assert_allclose(U.bayes_samples(model, x[:6], T=3, seed=2, batch_size=4), a, atol=1e-6)
    assert b.shape == a.shape
    with pytest.raises(ValueError):
        U.bayes_samples(model, x, T=0)
    with pytest.raises(ValueError):
        U.kl_scaled(0)


def test_clip_figure_has_waveform_and_bars():
    y = np.sin(np.linspace(0, 100, 2205))
    fig = U.plot_clip_with_probabilities(y, 22050, np.full(4, 0.25), list("abcd"), true=2, title="clip", spread=np.zeros(4))
    ax_w, ax_p = fig.axes
    assert ax_w.get_xlabel() == "time (s)" and ax_w.get_title() == "clip"
    assert ax_p.get_ylabel() == "probability" and len(ax_p.patches) == 4
    plt.close(fig)
