"""Tests of course_utils.learning.training: seeded fit with best-weight restore, evaluate, plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.base import jupyter  # noqa: E402
from course_utils.learning import models, pipeline, training

EPOCHS = 8


def bright_lower_half(n: int, seed: int):
    """32 x 32 noise images; class 1 has a brighter lower half."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.5, (n, 32, 32)).astype("float32")
    y = rng.integers(0, 2, n)
    x[y == 1, 16:, :] += 0.4
    return x, y


def train(seed: int = 0, patience=None, progress=True):
    xt, yt = bright_lower_half(64, 1)
    xv, yv = bright_lower_half(32, 2)
    model = models.compile_for(models.study_cnn((32, 32, 1), dense_units=16, seed=seed), 1)
    hist = training.fit(
        model,
        pipeline.make_dataset(xt, yt, batch_size=16, shuffle=True, seed=seed),
        pipeline.make_dataset(xv, yv, batch_size=16),
        EPOCHS,
        seed=seed,
        patience=patience,
        progress=progress,
    )
    return model, hist, (xv, yv)


@pytest.fixture(scope="module")
def trained():
    return train(seed=0)


def test_fit_history_table(trained):
    _, hist, _ = trained
    assert list(hist.columns) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss", "seconds"]
    assert hist["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert (hist["seconds"] > 0).all()
    assert hist.attrs["monitor"] == "val_accuracy"
    best = hist.attrs["best_epoch"]
    # the first epoch with the highest validation accuracy
    assert best == int(hist["val_accuracy"].to_numpy().argmax()) + 1


def test_fit_learns_the_visible_class(trained):
    _, hist, _ = trained
    assert hist["val_accuracy"].max() >= 0.9  # chance: 0.5
    assert hist["accuracy"].iloc[-1] >= 0.75
    assert hist["loss"].iloc[-1] < hist["loss"].iloc[0]


def test_fit_restores_best_validation_weights(trained):
    model, hist, (xv, yv) = trained
    best = hist.attrs["best_epoch"]
    ev = training.evaluate(model, xv, yv, ["statement 1", "statement 2"])
    assert ev["accuracy"] == pytest.approx(hist["val_accuracy"].iloc[best - 1])
    # this run's last epoch is worse than its best: restoring made a difference
    assert hist["val_accuracy"].iloc[-1] < hist["val_accuracy"].iloc[best - 1]


def test_fit_is_deterministic(trained):
    model, hist, _ = trained  # with the progress bar (the default)
    model2, again, _ = train(seed=0, progress=False)  # the bar draws no random numbers: same run without it
    cols = ["accuracy", "loss", "val_accuracy", "val_loss"]
    np.testing.assert_array_equal(again[cols].to_numpy(), hist[cols].to_numpy())  # bit for bit
    assert again.attrs == hist.attrs
    for w1, w2 in zip(model.get_weights(), model2.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    _, other, _ = train(seed=1)
    assert not np.array_equal(other[cols].to_numpy(), hist[cols].to_numpy())


def test_fit_headless_bar_is_one_line_on_stderr_and_changes_nothing(trained, monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    model, hist, _ = trained
    capsys.readouterr()
    shown_model, shown, _ = train(seed=0, progress=True)
    captured = capsys.readouterr()
    err = captured.err
    assert captured.out == "" and err.count("\n") == 1 and err.count("\r") <= 3  # drawn at the start and the end
    assert f"training {shown_model.name}" in err and f"{EPOCHS}/{EPOCHS}" in err
    assert "loss=" in err and "val_accuracy=" in err  # the last epoch's loss and monitored score
    cols = ["accuracy", "loss", "val_accuracy", "val_loss"]
    np.testing.assert_array_equal(shown[cols].to_numpy(), hist[cols].to_numpy())
    for w1, w2 in zip(model.get_weights(), shown_model.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    train(seed=0, progress=False)
    assert capsys.readouterr().err == ""


def test_fit_patience_stops_early_and_accepts_arrays(capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = rng.integers(0, 3, 40)  # labels unrelated to x: validation stops improving
    model = models.compile_for(models.study_ffnn(input_dim=4, n_classes=3), 3, lr=0.05)
    hist = training.fit(model, (x[:30], y[:30]), (x[30:], y[30:]), 30, patience=2, progress="ffnn on noise")
    assert len(hist) < 30
    assert len(hist) - hist.attrs["best_epoch"] == 2  # two epochs without improvement, then stop
    err = capsys.readouterr().err
    assert "ffnn on noise" in err and f"{len(hist)}/30" in err  # the bar stops where training stopped


def test_fit_autoencoder_monitors_loss_and_rejects_unknown_monitor():
    x = np.random.default_rng(0).uniform(size=(16, 16, 16)).astype("float32")
    ae, _ = models.study_autoencoder((16, 16, 1), latent=4)
    models.compile_for(ae, None)
    ds = pipeline.make_dataset(x, batch_size=8).map(lambda img: (img, img))
    hist = training.fit(ae, ds, ds, 3, monitor="val_loss")
    assert "accuracy" not in hist
    assert hist.attrs["best_epoch"] == int(hist["val_loss"].to_numpy().argmin()) + 1
    fig = training.plot_history(hist)
    assert len(fig.axes) == 1 and "MSE" in fig.axes[0].get_ylabel()
    plt.close(fig)
    with pytest.raises(KeyError, match="val_accuracy"):
        training.fit(ae, ds, ds, 1)


def test_evaluate_multiclass():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(25, 4)).astype("float32")
    y = rng.integers(0, 3, 25)
    model = models.study_ffnn(input_dim=4, n_classes=3)
    ev = training.evaluate(model, x, y, ["calm", "happy", "sad"], batch_size=8)
    cm = ev["confusion"]
    assert cm.shape == (3, 3) and cm.sum() == 25
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y, minlength=3))
    assert ev["probabilities"].shape == (25, 3)
    np.testing.assert_array_equal(ev["predictions"], ev["probabilities"].argmax(axis=1))
    assert ev["accuracy"] == pytest.approx(np.trace(cm) / 25)
    report = ev["report"]
    assert {"calm", "happy", "sad", "macro avg", "weighted avg"} <= set(report.index)
    assert list(report.columns) == ["precision", "recall", "f1-score", "support"]
    assert report.loc["sad", "support"] == (y == 2).sum()
    with pytest.raises(ValueError, match="class names"):
        training.evaluate(model, x, y, ["a", "b"])


def test_evaluate_binary_confusion_sums_to_samples(trained):
    model, _, (xv, yv) = trained
    ev = training.evaluate(model, xv[..., None], yv, ["lower dark", "lower bright"])
    assert ev["confusion"].sum() == len(yv) == 32
    p = ev["probabilities"]
    assert p.shape == (32, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)


def test_plot_history_labels(trained):
    _, hist, _ = trained
    fig = training.plot_history(hist, title="tiny CNN")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "Epoch" and "cross-entropy" in loss_ax.get_ylabel()
    assert "Accuracy" in acc_ax.get_ylabel()
    labels = [t.get_text() for t in acc_ax.get_legend().get_texts()]
    assert labels[:2] == ["training", "validation"] and labels[2].startswith("best epoch")
    assert fig._suptitle.get_text() == "tiny CNN"
    plt.close(fig)


def test_plot_history_from_keras_history():
    h = keras.callbacks.History()
    h.history = {"loss": [1.0, 0.5], "accuracy": [0.4, 0.7]}
    fig = training.plot_history(h)
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(fig.axes[1].lines[0].get_xdata(), [1, 2])
    plt.close(fig)


def test_plot_confusion_normalises_rows():
    cm = np.array([[3, 1, 0], [0, 2, 2], [0, 0, 0]])
    ax = training.plot_confusion(cm, ["a", "b", "c"])
    values = ax.collections[0].get_array().reshape(3, 3)
    np.testing.assert_allclose(values, [[0.75, 0.25, 0], [0, 0.5, 0.5], [0, 0, 0]])
    assert ax.get_xlabel() == "Predicted class" and ax.get_ylabel() == "True class"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert "row-normalised" in ax.get_title()
    plt.close(ax.figure)

    fig, ax2 = plt.subplots()
    out = training.plot_confusion(cm, ["a", "b", "c"], normalize=False, ax=ax2, title="counts")
    assert out is ax2 and ax2.get_title() == "counts"
    np.testing.assert_allclose(ax2.collections[0].get_array().reshape(3, 3), cm)
    assert ax2.collections[0].colorbar.ax.get_ylabel() == "number of clips"
    plt.close(fig)


def test_fit_shuffles_training_arrays_every_epoch():
    """Arrays sorted by class must not reach the optimiser one class per batch."""
    import keras

    class Recorder(keras.Model):
        seen: list = []

        def train_step(self, data):
            _, y = data
            Recorder.seen.append(np.asarray(y).ravel().copy())
            return {"accuracy": 0.5}

        def test_step(self, data):
            return {"accuracy": 0.5}

    inputs = keras.Input((2,))
    model = Recorder(inputs, keras.layers.Dense(1)(inputs))
    model.compile(run_eagerly=True)
    x = np.zeros((64, 2), "float32")
    y = np.repeat([0, 1], 32).astype("float32")  # sorted: two pure batches without shuffling
    training.fit(model, (x, y), (x[:4], y[:4]), epochs=2, seed=3)
    first, second = Recorder.seen[:2], Recorder.seen[2:]
    assert all(0 < b.mean() < 1 for b in first + second)  # every batch mixes both classes
    assert not np.array_equal(first[0], second[0])  # a new order each epoch
    assert sorted(np.concatenate(first)) == sorted(y)  # each epoch sees every pair once
