"""Tests of course_utils.learning.emotion_net: the compact CNN, mixup and actor-held-out folds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import keras
import tensorflow as tf

from course_utils.base import jupyter
from course_utils.learning import emotion_net as en
from course_utils.data import splits
from course_utils.sound import features
from course_utils.learning import models, training


def _meta(n_actors: int = 24, clips: int = 4) -> pd.DataFrame:
    actors = np.repeat(np.arange(1, n_actors + 1), clips)
    return pd.DataFrame({"actor": actors, "emotion": np.tile(np.arange(1, clips + 1), n_actors)})


# ------------------------------------------------------------------ folds


def test_actor_folds_test_every_actor_once_and_share_no_actor():
    meta = _meta()
    folds = splits.actor_folds(meta, 6, seed=3)
    assert len(folds) == 6
    tested = []
    for split in folds:
        parts = en.parts_by_actor(meta, split)
        assert not parts["train"] & parts["val"] and not parts["train"] & parts["test"] and not parts["val"] & parts["test"]
        assert parts["train"] | parts["val"] | parts["test"] == set(range(1, 25))
        assert len(parts["test"]) == 4 and len(parts["val"]) == 4 and len(parts["train"]) == 16
        assert sum(a % 2 for a in parts["test"]) == 2 and sum(a % 2 for a in parts["val"]) == 2  # half male
        assert len(split.train) + len(split.val) + len(split.test) == len(meta)
        tested += sorted(parts["test"])
    assert sorted(tested) == list(range(1, 25))
    # validation group of fold k is the test group of fold k + 1
    assert en.parts_by_actor(meta, folds[0])["val"] == en.parts_by_actor(meta, folds[1])["test"]
    table = en.fold_table(meta, folds)
    assert list(table["shared actors"]) == [0] * 6 and list(table["test"]) == [16] * 6
    assert table.loc[1, "test actors"].count("M") == 2


def test_actor_folds_are_seeded_and_refuse_too_few_actors():
    meta = _meta()
    a = [f.test.tolist() for f in splits.actor_folds(meta, 6, seed=0)]
    assert a == [f.test.tolist() for f in splits.actor_folds(meta, 6, seed=0)]
    assert a != [f.test.tolist() for f in splits.actor_folds(meta, 6, seed=1)]
    assert len(splits.actor_folds(_meta(6), 3)) == 3  # the quick subset: 3 male, 3 female
    with pytest.raises(ValueError, match="n_folds"):
        splits.actor_folds(meta, 2)
    with pytest.raises(ValueError, match="too few"):
        splits.actor_folds(_meta(2), 3)


def test_fold_table_counts_shared_actors():
    meta = _meta(6)
    bad = splits.Split(np.arange(0, 12), np.arange(8, 16), np.arange(16, 24))  # actor 3 in train and val
    assert en.fold_table(meta, [bad]).loc[1, "shared actors"] == 1


# ------------------------------------------------------------------ the network


def test_compact_cnn_shape_parameters_and_band_standardisation():
    model = en.compact_cnn((64, 64, 1))
    counts = en.count_parameters(model)
    assert 200_000 < counts["trainable"] < 500_000
    assert counts["non_trainable"] == 2 * (16 + 32 + 64 + 128) * 2  # moving mean and variance of every BN
    assert model.output_shape == (None, 8)
    x = np.random.default_rng(0).random((3, 16, 12)).astype("float32")
    mean, var = en.band_standardisation(x)
    assert mean.shape == (16,) and np.allclose(mean, x.mean(axis=(0, 2)), atol=1e-6)
    small = en.compact_cnn((16, 12, 1), 5, (4,), band_stats=(mean, var), seed=0)
    out = np.asarray(small(x[..., None], training=False))
    assert out.shape == (3, 5) and np.allclose(out.sum(axis=1), 1, atol=1e-5)
    norm = small.get_layer("band_standardise")(x[..., None])
    assert np.allclose(np.asarray(norm).mean(axis=(0, 2, 3)), 0, atol=1e-4)
    assert np.allclose(np.asarray(norm).var(axis=(0, 2, 3)), 1, atol=1e-3)
    same = en.compact_cnn((16, 12, 1), 5, (4,), band_stats=(mean, var), seed=0)
    assert np.allclose(np.asarray(same(x[..., None])), out)


def test_compact_cnn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_classes"):
        en.compact_cnn((8, 8, 1), 1)
    with pytest.raises(ValueError, match="filters"):
        en.compact_cnn((8, 8, 1), 3, ())
    with pytest.raises(ValueError, match="one per Mel band"):
        en.compact_cnn((8, 8, 1), 3, (4,), band_stats=(np.zeros(5), np.ones(5)))
    with pytest.raises(ValueError, match="shape"):
        en.band_standardisation(np.zeros((2, 3)))


def test_study_emotion_parameters_match_keras():
    assert en.study_emotion_parameters(256) == 63_001_224
    keras_count = models.study_cnn((32, 32, 1), n_classes=8, dense_units=256, seed=0).count_params()
    assert en.study_emotion_parameters(32) == keras_count


def test_compile_model_uses_categorical_cross_entropy_with_smoothing():
    model = en.compile_model(en.compact_cnn((8, 8, 1), 3, (2,)), lr=0.01, label_smoothing=0.1)
    assert isinstance(model.loss, __import__("keras").losses.CategoricalCrossentropy)
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)


# ------------------------------------------------------------------ mixup


def test_beta_draws_are_seeded_and_follow_alpha():
    a = en.sample_beta(0.2, [4000], tf.constant([1, 2]))
    b = en.sample_beta(0.2, [4000], tf.constant([1, 2]))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    a = np.asarray(a)
    assert a.min() >= 0 and a.max() <= 1 and abs(a.mean() - 0.5) < 0.03
    assert np.mean((a < 0.1) | (a > 0.9)) > 0.5  # alpha 0.2: mostly near one clip
    u = np.asarray(en.sample_beta(1.0, [4000], tf.constant([3, 4])))
    assert abs(np.mean(u < 0.25) - 0.25) < 0.03  # alpha 1: uniform


def test_mixup_batch_mixes_images_and_labels_with_the_same_weight():
    rng = np.random.default_rng(0)
    x = rng.random((6, 4, 5, 1)).astype("float32")
    y = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2]]
    xm, ym = (np.asarray(t) for t in en.mixup_batch(x, y, 0.4, tf.constant([5, 6])))
    assert xm.shape == x.shape and ym.shape == y.shape
    assert np.allclose(ym.sum(axis=1), 1, atol=1e-6)
    for i in range(6):  # every mix is lam x_i + (1 - lam) x_j with the label's lam
        found = False
        for j in range(6):
            lam = None
            for cls in range(3):
                if y[i, cls] != y[j, cls]:
                    lam = ym[i, cls] if y[i, cls] == 1 else 1 - ym[i, cls]
            if lam is None:  # same class: label unchanged, any lam
                if np.allclose(ym[i], y[i]):
                    found = found or any(np.allclose(xm[i], l * x[i] + (1 - l) * x[j], atol=1e-5) for l in np.linspace(0, 1, 1001))
                continue
            if np.allclose(xm[i], lam * x[i] + (1 - lam) * x[j], atol=1e-5):
                found = True
        assert found, i
    again = np.asarray(en.mixup_batch(x, y, 0.4, tf.constant([5, 6]))[0])
    assert np.array_equal(again, xm)
    other = np.asarray(en.mixup_batch(x, y, 0.4, tf.constant([7, 6]))[0])
    assert not np.allclose(other, xm)


def test_train_dataset_one_hot_batches_mixup_and_max_batches():
    x = np.random.default_rng(1).random((20, 4, 4)).astype("float32")
    y = np.arange(20) % 4
    plain = list(en.train_dataset(x, y, 4, batch_size=8, seed=0))
    assert [b[0].shape[0] for b in plain] == [8, 8, 4] and plain[0][0].shape[1:] == (4, 4, 1)
    assert set(np.unique(np.asarray(plain[0][1]))) <= {0.0, 1.0}
    mixed = en.train_dataset(x, y, 4, batch_size=8, seed=0, mixup_alpha=1.0, max_batches=2)
    epoch1 = [np.asarray(b[1]) for b in mixed]
    epoch2 = [np.asarray(b[1]) for b in mixed]
    assert len(epoch1) == 2 and np.allclose(epoch1[0].sum(axis=1), 1, atol=1e-6)
    assert not set(np.unique(epoch1[0])) <= {0.0, 1.0}  # soft labels
    assert not np.allclose(epoch1[0], epoch2[0])  # new draws every epoch
    rerun = [np.asarray(b[1]) for b in en.train_dataset(x, y, 4, batch_size=8, seed=0, mixup_alpha=1.0, max_batches=2)]
    assert np.allclose(rerun[0], epoch1[0])  # ... and the same on a rerun
    val = list(en.eval_dataset(x, y, 4, batch_size=16))
    assert np.array_equal(np.asarray(val[0][1]).argmax(axis=1), y[:16])


# ------------------------------------------------------------------ experiments


def test_run_experiment_trains_tests_and_summarises_folds(monkeypatch, capsys):
    rng = np.random.default_rng(0)
    meta = _meta(6, 8)
    y = np.tile(np.arange(4), 12)
    x = rng.random((48, 8, 8)).astype("float32") * 0.3
    x[np.arange(48), y * 2, :] += 0.7  # class = brightest band pair: learnable
    folds = splits.actor_folds(meta, 3, seed=0)
    res = [en.run_experiment(x, y, f, list("abcd"), epochs=2, patience=1, batch_size=8, filters=(4,), mask_width=2,
                             n_masks=1, mixup_alpha=0.4, seed=0) for f in folds[:2]]
    r = res[0]
    assert set(r) >= {"history", "scores", "parameters", "epochs_run", "best_epoch", "seconds"}
    assert 1 <= r["best_epoch"] <= r["epochs_run"] <= 2 and r["parameters"]["trainable"] > 0
    assert r["scores"]["confusion"].sum() == len(folds[0].test)
    again = en.run_experiment(x, y, folds[0], list("abcd"), epochs=2, patience=1, batch_size=8, filters=(4,), mask_width=2,
                              n_masks=1, mixup_alpha=0.4, seed=0, progress=False)
    assert again["scores"]["accuracy"] == r["scores"]["accuracy"]  # deterministic, with or without the progress bar
    cols = ["loss", "accuracy", "val_loss", "val_accuracy"]
    np.testing.assert_array_equal(again["history"][cols].to_numpy(), r["history"][cols].to_numpy())
    np.testing.assert_array_equal(again["scores"]["probabilities"], r["scores"]["probabilities"])
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    capsys.readouterr()
    plain = en.run_experiment(x, y, folds[0], list("abcd"), variant=en.VARIANTS["plain"], epochs=1, patience=None,
                              batch_size=8, filters=(4,), standardise=False, max_batches=1)
    assert plain["epochs_run"] == 1
    err = capsys.readouterr().err  # one bar, named after the variant and the split
    assert err.count("\n") == 1 and "compact CNN, fold 1" in err and "1/1" in err
    table = en.summarise_folds(res, folds[:2], meta)
    assert list(table.index) == [1, 2] and (table["test clips"] == 16).all()
    assert np.allclose(table["SE"], np.sqrt(table["accuracy"] * (1 - table["accuracy"]) / 16))
    assert en.pooled_confusion(res).sum() == 32
    assert "model" not in r  # freed by default


def test_run_experiment_keeps_its_model_on_request():
    from course_utils.learning import training

    rng = np.random.default_rng(1)
    meta = _meta(6, 8)
    y = np.tile(np.arange(4), 12)
    x = rng.random((48, 8, 8)).astype("float32")
    split = splits.actor_folds(meta, 3, seed=0)[0]
    kw = dict(epochs=1, patience=None, batch_size=8, filters=(4,), mask_width=2, n_masks=1, seed=0)
    kept = en.run_experiment(x, y, split, list("abcd"), keep_model=True, **kw)
    proba = training.predict_proba(kept["model"], x[split.test])
    assert np.allclose(proba, kept["scores"]["probabilities"], atol=1e-5)  # the model that was tested
    en.run_experiment(x, y, split, list("abcd"), **kw)  # a later run frees its own model (clear_session) ...
    assert np.allclose(training.predict_proba(kept["model"], x[split.test]), proba, atol=1e-5)  # ... the kept one still works


# ------------------------------------------------------------------ figures


def test_figures_have_labelled_axes():
    ax = en.plot_beta((0.2, 1.0))
    assert len(ax.lines) == 2 and "lambda" in ax.get_xlabel() and ax.get_ylabel()
    cfg = features.FeatureConfig(image_size=(16, 16))
    a, b = np.zeros((16, 16)), np.ones((16, 16))
    fig = en.plot_mixup_pair(a, b, 0.7, "happy", "sad", ["neutral", "happy", "sad"], cfg)
    bars = fig.axes[-1]
    heights = [p.get_height() for p in bars.patches]
    assert heights == pytest.approx([0.0, 0.7, 0.3]) and bars.get_ylabel()
    mixed = fig.axes[2].images[0].get_array()
    assert np.allclose(mixed, 0.3)
    per_fold = pd.DataFrame({"test actors": ["01M 02F", "03M 04F"], "accuracy": [0.5, 0.6], "SE": [0.05, 0.05]}, index=[1, 2])
    ax = en.plot_folds(per_fold, random_accuracy=0.8, chance=0.125)
    assert "%" in ax.get_ylabel() and len(ax.patches) == 2 and len(ax.lines) >= 3
    table = pd.DataFrame({"random": [0.8, 0.4], "actors": [0.5, np.nan], "actors_std": [0.05, np.nan]}, index=["a", "b"])
    ax = en.plot_protocols(table)
    assert len(ax.patches) == 4 and "%" in ax.get_ylabel()
    assert "n/a" in [t.get_text() for t in ax.texts]
    plt.close("all")


def test_combine_and_choose_weight_pick_the_better_model_on_validation():
    labels = np.array([0, 1, 2, 0, 1, 2])
    good = np.eye(3)[labels] * 0.8 + 0.2 / 3
    bad = np.roll(good, 1, axis=1)
    assert en.choose_weight(good, bad, labels) > 0.5 and en.choose_weight(bad, good, labels) < 0.5
    mix = en.combine(good, bad, 0.25)
    np.testing.assert_allclose(mix, 0.25 * good + 0.75 * bad)
    assert en.choose_weight(good, good, labels) == 0.5  # a tie keeps the even mix
    with pytest.raises(ValueError, match="same shape"):
        en.combine(good, bad[:2], 0.5)


def test_predict_shifted_averages_rolled_predictions():
    model = keras.Sequential([keras.Input((4, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    images = np.random.default_rng(0).random((5, 4, 6)).astype(np.float32)
    plain = en.predict_shifted(model, images, (0,))
    np.testing.assert_allclose(plain, training.predict_proba(model, images), atol=1e-6)
    both = en.predict_shifted(model, images, (-1, 1))
    expected = (training.predict_proba(model, np.roll(images, -1, axis=2)) + training.predict_proba(model, np.roll(images, 1, axis=2))) / 2
    np.testing.assert_allclose(both, expected, atol=1e-6)
    with pytest.raises(ValueError, match="shifts"):
        en.predict_shifted(model, images, ())
