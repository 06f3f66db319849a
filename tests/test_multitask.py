"""Tests of course_utils.learning.multitask: the shared-trunk network, its losses, data and comparisons."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from course_utils.base import jupyter  # noqa: E402
from course_utils.learning import models, multitask as mt

HEADS = {"sex": 2, "statement": 2, "actor": 6, "emotion": 8}


def toy_meta():
    """Six actors x 8 emotions x 2 statements: 96 rows with the columns task_labels reads."""
    rows = [{"actor": a, "emotion": e, "statement": s, "sex": "male" if a % 2 else "female"}
            for a in (1, 2, 5, 6, 9, 10) for e in range(1, 9) for s in (1, 2)]
    return pd.DataFrame(rows)


def toy_data(n: int = 96, side: int = 32, seed: int = 0):
    """Noise images in which the sex label brightens the lower half (learnable), other labels random."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.5, (n, side, side)).astype("float32")
    meta = toy_meta().iloc[:n].reset_index(drop=True)
    targets = mt.task_targets(meta)
    x[targets["sex"][0] == 1, side // 2:, :] += 0.4
    return x, targets


@pytest.fixture(scope="module")
def trained():
    x, targets = toy_data()
    split = SimpleNamespace(train=np.arange(0, 64), val=np.arange(64, 80), test=np.arange(80, 96))
    multi = mt.experiment(x, targets, split, shared_units=16, epochs=3, patience=None, batch_size=16, seed=0)
    single = {t: mt.experiment(x, {t: targets[t]}, split, shared_units=16, epochs=2, patience=None, batch_size=16,
                               max_batches=2, seed=0, name=f"single_{t}") for t in ("sex", "emotion")}
    return multi, single, split


def test_flat_size_matches_the_study_and_refuses_tiny_images():
    assert mt.flat_size(256) == 246_016  # Table 1's Flatten
    assert mt.flat_size(64) == 12_544
    with pytest.raises(ValueError):
        mt.flat_size(8)


def test_load_images_area_averages_the_smallest_large_enough_cache(monkeypatch):
    asked = []

    def fake(meta, config, dataset, n_jobs):
        asked.append(config.image_size)
        h, w = config.image_size
        return np.tile(np.arange(w, dtype="float32") / w, (len(meta), h, 1))

    monkeypatch.setattr(mt.features, "compute_images", fake)
    meta = toy_meta().iloc[:3]
    small = mt.load_images(meta, 32, dataset="synthetic")
    assert asked[-1] == (64, 64) and small.shape == (3, 32, 32)
    np.testing.assert_allclose(small[0, 0, 0], (0 + 1 / 64) / 2)  # mean of a 2 x 2 block
    assert mt.load_images(meta, 64, dataset="synthetic").shape == (3, 64, 64) and asked[-1] == (64, 64)
    assert mt.load_images(meta, 128, dataset="synthetic").shape == (3, 128, 128) and asked[-1] == (256, 256)
    assert mt.load_images(meta, 300, dataset="synthetic").shape == (3, 300, 300) and asked[-1] == (300, 300)


def test_task_targets_numbers_the_actors_present():
    targets = mt.task_targets(toy_meta())
    y, names = targets["actor"]
    assert names == ["01 M", "02 F", "05 M", "06 F", "09 M", "10 F"]
    assert y.min() == 0 and y.max() == 5 and y.dtype == np.int64
    assert targets["sex"][1] == ["male", "female"] and set(targets["sex"][0]) == {0, 1}
    assert len(targets["emotion"][1]) == 8 and targets["emotion"][0].max() == 7
    assert list(mt.task_targets(toy_meta(), ("emotion",))) == ["emotion"]


@pytest.mark.parametrize("shared,head_units", [(256, None), (None, {"sex": 16, "actor": 32}), (64, {"emotion": 8})])
def test_parameter_formula_equals_keras(shared, head_units):
    model = mt.build_network((64, 64, 1), HEADS, shared_units=shared, head_units=head_units, seed=0)
    formula = mt.parameter_formula(64, HEADS, shared_units=shared, head_units=head_units)
    assert formula.sum() == model.count_params()
    assert formula["convolutions"] == 18_816
    assert sorted(model.output_names) == sorted(HEADS)


def test_one_head_network_is_the_study_cnn():
    """Same layers, same seed: the single-task network is models.study_cnn, weight for weight."""
    ours = mt.build_network((32, 32, 1), {"sex": 2}, shared_units=128, seed=3)
    study = models.study_cnn((32, 32, 1), n_classes=1, dense_units=128, seed=3)
    assert ours.count_params() == study.count_params()
    for a, b in zip(ours.get_weights(), study.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_build_network_refuses_bad_heads():
    with pytest.raises(ValueError):
        mt.build_network((32, 32, 1), {})
    with pytest.raises(ValueError):
        mt.build_network((32, 32, 1), {"sex": 2}, head_units={"emotion": 8})
    with pytest.raises(ValueError):
        mt.build_network((32, 32, 1), {"sex": 1})


def test_losses_and_compile_weights():
    assert mt.losses_for(HEADS) == {"sex": "binary_crossentropy", "statement": "binary_crossentropy",
                                    "actor": "sparse_categorical_crossentropy",
                                    "emotion": "sparse_categorical_crossentropy"}
    heads = {"sex": 2, "emotion": 8}
    model = mt.build_network((32, 32, 1), heads, shared_units=8)
    with pytest.raises(ValueError, match="actor"):
        mt.compile_network(model, heads, {"actor": 1.0})
    with pytest.raises(ValueError):
        mt.compile_network(model, heads, {"sex": -1.0})
    mt.compile_network(model, heads, {"emotion": 0.5})
    x, targets = toy_data(32)
    logs = model.evaluate(mt.make_dataset(x, {t: targets[t][0] for t in heads}), return_dict=True, verbose=0)
    # Keras minimises L = sum_k w_k L_k: the emotion loss counts half
    assert logs["loss"] == pytest.approx(logs["sex_loss"] + 0.5 * logs["emotion_loss"], rel=1e-4)


def test_make_dataset_yields_images_and_label_dicts():
    x, targets = toy_data(40)
    labels = {t: y for t, (y, _) in targets.items()}
    ds = mt.make_dataset(x, labels, batch_size=16, shuffle=True, seed=1)
    batches = list(ds)
    assert len(batches) == 3
    image, y = batches[0]
    assert image.shape == (16, 32, 32, 1) and set(y) == set(HEADS)
    assert sum(len(b[1]["sex"]) for b in batches) == 40
    assert len(list(mt.make_dataset(x, labels, batch_size=16, max_batches=1))) == 1
    # the same seed gives the same order
    again = next(iter(mt.make_dataset(x, labels, batch_size=16, shuffle=True, seed=1)))
    np.testing.assert_array_equal(again[1]["emotion"], y["emotion"])
    with pytest.raises(ValueError):
        mt.make_dataset(x[0], labels)
    with pytest.raises(ValueError):
        mt.make_dataset(x, {"sex": labels["sex"][:3]})


def test_experiment_records_history_scores_and_costs(trained):
    multi, single, split = trained
    assert multi["epochs_run"] == 3 and 1 <= multi["best_epoch"] <= 3
    assert {"val_sex_loss", "val_emotion_accuracy", "seconds"} <= set(multi["history"].columns)
    assert multi["train_seconds"] > 0 and multi["parameters"] > single["sex"]["parameters"]
    assert set(multi["scores"]) == set(HEADS)
    s = multi["scores"]["emotion"]
    assert s["probabilities"].shape == (16, 8) and s["confusion"].sum() == 16
    assert s["accuracy"] == pytest.approx(s["correct"].mean())
    # an untrained network starts near log K for every head
    init = multi["initial"]
    np.testing.assert_allclose(init["initial loss"], init["log K"], rtol=0.15)
    assert init["share"].sum() == pytest.approx(1.0)
    assert init.loc["emotion", "share"] > init.loc["sex", "share"]
    assert single["sex"]["epochs_run"] == 2 and set(single["sex"]["scores"]) == {"sex"}
    assert multi["loss_weights"] == {t: 1.0 for t in HEADS}


def test_experiment_bar_is_named_and_changes_nothing(trained, monkeypatch, capsys):
    """One progress bar per training, named after the network, its heads and the split; the same
    numbers without it (the fixture trained with the bar, the default)."""
    _, single, split = trained
    x, targets = toy_data()
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    capsys.readouterr()
    kw = dict(shared_units=16, epochs=2, patience=None, batch_size=16, max_batches=2, seed=0, name="single_sex")
    quiet = mt.experiment(x, {"sex": targets["sex"]}, split, progress=False, **kw)
    assert capsys.readouterr().err == ""
    cols = [c for c in single["sex"]["history"].columns if c != "seconds"]
    np.testing.assert_array_equal(quiet["history"][cols].to_numpy(), single["sex"]["history"][cols].to_numpy())
    np.testing.assert_array_equal(quiet["scores"]["sex"]["probabilities"], single["sex"]["scores"]["sex"]["probabilities"])
    mt.experiment(x, {"sex": targets["sex"]}, split, **kw)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "single_sex (sex), split" in err and "2/2" in err and "val_loss=" in err


def test_evaluate_heads_checks_class_names(trained):
    x, targets = toy_data()
    model = mt.build_network((32, 32, 1), {"sex": 2}, shared_units=8)
    with pytest.raises(ValueError):
        mt.evaluate_heads(model, x[:4], {"sex": (targets["sex"][0][:4], ["a", "b", "c"])})
    p = mt.probabilities(model, x[:4])
    assert p["sex"].shape == (4, 2)
    np.testing.assert_allclose(p["sex"].sum(axis=1), 1.0, rtol=1e-6)


def test_head_history_and_loss_shares(trained):
    multi, single, _ = trained
    h = mt.head_history(multi["history"], "sex", 4)
    assert list(h.columns) == ["epoch", "loss", "val_loss", "accuracy", "val_accuracy"]
    np.testing.assert_array_equal(h["val_loss"], multi["history"]["val_sex_loss"])
    assert list(mt.head_history(single["sex"]["history"], "sex", 1).columns)[1] == "loss"
    with pytest.raises(KeyError):
        mt.head_history(multi["history"], "pitch", 4)
    shares = mt.loss_shares(multi)
    # with all weights 1 the heads' losses add up to the total training loss
    np.testing.assert_allclose(shares.sum(axis=1), multi["history"]["loss"], rtol=1e-3)
    assert list(mt.loss_shares(multi, "val_").columns) == list(HEADS)


def test_mcnemar_counts_disagreements_only():
    a = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 1], bool)
    b = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1], bool)
    r = mt.mcnemar(a, b)
    assert (r["a_only"], r["b_only"]) == (8, 0)
    assert r["p_value"] == pytest.approx(2 / 2**8)
    assert mt.mcnemar(a, a)["p_value"] == 1.0
    with pytest.raises(ValueError):
        mt.mcnemar(a, b[:3])


def test_comparison_and_cost_tables(trained):
    multi, single, _ = trained
    table = mt.multi_vs_single(multi, single, study_accuracy={"sex": 0.97}, chance={"sex": 0.5, "emotion": 0.125})
    assert list(table.index) == ["sex", "emotion"]  # tasks with a single-task network only
    row = table.loc["emotion"]
    assert row["difference"] == pytest.approx(row["multi-task"] - row["single-task"])
    assert np.isnan(row["study"]) and table.loc["sex", "study"] == 0.97
    assert 0 <= row["p (McNemar)"] <= 1 and row["test clips"] == 16
    costs = mt.cost_table(multi, single)
    assert costs.loc["single-task, sum of 2", "parameters"] == single["sex"]["parameters"] + single["emotion"]["parameters"]
    assert costs.loc["single-task sex", "epochs run"] == 2
    assert costs["seconds per epoch"].notna().all()


def test_figures_have_labelled_axes(trained):
    multi, single, _ = trained
    fig = mt.plot_head_curves({"multi-task": multi, "single-task": single}, title="toy")
    assert len(fig.axes) == 8
    assert fig.axes[0].get_ylabel().startswith("cross-entropy") and "sex" in fig.axes[0].get_title()
    # the sex column holds both networks: 2 lines each (training, validation), a best-epoch dot each and log K
    assert len(fig.axes[0].lines) == 2 * 3 + 1
    fig2 = mt.plot_head_curves({"multi-task": multi}, tasks=["emotion"])
    assert len(fig2.axes) == 2 and fig2.axes[1].get_xlabel() == "epoch"
    fig3 = mt.plot_loss_shares(multi, title="toy")
    assert "nats" in fig3.axes[0].get_ylabel() and fig3.axes[1].get_ylim() == (0, 100)
    table = mt.multi_vs_single(multi, single, study_accuracy={"sex": 0.97}, chance={"sex": 0.5, "emotion": 0.125})
    ax = mt.plot_comparison(table)
    assert ax.get_ylabel() == "test accuracy (%)"
    assert len(ax.patches) == 3 * 2  # multi, single, study bars for two tasks
    fig4, ax4 = plt.subplots()
    assert mt.plot_comparison(table.drop(columns=["study", "chance"]), ax=ax4, title="t") is ax4
    assert ax4.get_title() == "t"


def test_reference_accuracies_keep_the_best_per_task_and_protocol():
    recorded = pd.DataFrame([
        {"notebook": "07_classical_baseline", "task": "emotion", "model": "svm", "protocol": "random", "accuracy": 0.5,
         "split": "test", "dataset": "synthetic", "mode": "full"},
        {"notebook": "07_classical_baseline", "task": "emotion", "model": "logreg", "protocol": "random", "accuracy": 0.6,
         "split": "test", "dataset": "synthetic", "mode": "full"},
        {"notebook": "07_classical_baseline", "task": "emotion", "model": "svm", "protocol": "random", "accuracy": 0.9,
         "split": "validation", "dataset": "synthetic", "mode": "full"},
        {"notebook": "07_classical_baseline", "task": "sex", "model": "svm", "protocol": "actors", "accuracy": 0.8,
         "split": "test", "dataset": "ravdess", "mode": "full"},
        {"notebook": "09_cnn_multiclass", "task": "emotion", "model": "cnn", "protocol": "random", "accuracy": 0.7,
         "split": "test", "dataset": "synthetic", "mode": "quick"},
    ])
    base = mt.reference_accuracies(recorded, dataset="synthetic", notebooks=["07_classical_baseline"])
    assert list(base.index) == [("emotion", "random")]
    assert base.loc[("emotion", "random"), "accuracy"] == 0.6 and base.loc[("emotion", "random"), "model"] == "logreg"
    cnn = mt.reference_accuracies(recorded, dataset="synthetic", notebooks=["08_cnn_binary", "09_cnn_multiclass"], model_names=["cnn"])
    assert cnn.loc[("emotion", "random"), "mode"] == "quick"
    assert mt.reference_accuracies(recorded, dataset="synthetic", notebooks=["07_classical_baseline"], model_names=["knn"]).empty
