"""Tests of course_utils.learning.transfer (chapter 11): weights, preprocessing, frozen layers, the split."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from course_utils.learning import models, transfer

SIDE = 32  # small inputs keep VGG16 fast


@pytest.fixture(scope="module")
def vgg():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return models.vgg16_transfer((SIDE, SIDE, 1), n_classes=8, weights=None, seed=0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(size=(5, SIDE, SIDE)).astype("float32")


# ----------------------------------------------------------------------------- weights


def test_weights_status_when_the_file_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert transfer.keras_home() == tmp_path
    status = transfer.weights_status()
    assert status["path"] == tmp_path / "models" / transfer.WEIGHTS_FILE
    assert status["exists"] is False and status["md5_ok"] is False and status["size_mb"] == 0.0
    assert status["url"].endswith(transfer.WEIGHTS_FILE) and status["url"].startswith("https://")
    text = transfer.weights_help(status)
    assert str(status["path"]) in text and transfer.WEIGHTS_URL in text and "internet" in text


def test_weights_status_checks_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    assert transfer.keras_home().name == ".keras"
    target = tmp_path / "models" / transfer.WEIGHTS_FILE
    target.parent.mkdir()
    target.write_bytes(b"\0" * 2**20)  # a truncated or corrupt download
    status = transfer.weights_status(tmp_path)
    assert status["exists"] is True and status["size_mb"] == 1.0
    assert status["md5_ok"] is False


def test_weights_loaded_from_a_file_are_reported(tmp_path):
    """Keras accepts a weights file path: then weights_loaded is True and the weights are the file's."""
    keras.utils.set_random_seed(123)
    donor = keras.applications.VGG16(include_top=False, weights=None, input_shape=(SIDE, SIDE, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    donor.save_weights(path)
    model = models.vgg16_transfer((SIDE, SIDE, 1), n_classes=8, weights=str(path), seed=0)
    assert model.weights_loaded is True
    assert transfer.model_tag(model, str(path)) == "vgg16_pretrained"
    assert transfer.model_tag(model, "imagenet") == "vgg16_imagenet"
    got = model.get_layer("vgg16").get_layer("block3_conv1").get_weights()[0]
    np.testing.assert_array_equal(got, donor.get_layer("block3_conv1").get_weights()[0])


def test_offline_fallback_gives_random_weights_and_says_so(monkeypatch):
    real = keras.applications.VGG16

    def offline(include_top, weights, input_shape):
        if weights == "imagenet":
            raise Exception("URL fetch failure: Name or service not known")
        return real(include_top=include_top, weights=weights, input_shape=input_shape)

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.warns(RuntimeWarning, match="RANDOM weights"):
        model = models.vgg16_transfer((SIDE, SIDE, 1), n_classes=8, weights="imagenet")
    assert model.weights_loaded is False
    assert transfer.model_tag(model) == "vgg16_random_init"
    assert transfer.model_tag(object()) == "vgg16_random_init"  # no attribute at all: not loaded


# ----------------------------------------------------------------------------- preprocessing


def test_sample_photo_is_an_rgb_photo():
    photo = transfer.sample_photo()
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
    assert photo.shape[0] > 100 and photo.max() > 200


def test_value_table_right_and_wrong_preprocessing():
    gray = np.zeros((2, 4, 4), "float32")
    gray[:, 0, 0] = 1.0  # one white pixel, the rest black
    photo = np.full((3, 3, 3), 255, np.uint8)
    table = transfer.value_table(gray, photo)
    wrong = table.loc["spectrogram [0, 1] x 3 (wrong)"]
    assert list(wrong.index) == ["ch 1", "ch 2", "ch 3"]
    assert (wrong["min"] == 0).all() and (wrong["max"] == 1).all()
    right = table.loc["spectrogram, VGGPreprocess (right)"]
    np.testing.assert_allclose(right["min"], [-m for m in transfer.IMAGENET_MEAN_BGR], atol=1e-3)
    np.testing.assert_allclose(right["max"], [255 - m for m in transfer.IMAGENET_MEAN_BGR], atol=1e-3)
    ph = table.loc["photo, preprocess_input"]
    np.testing.assert_allclose(ph["mean"], [255 - m for m in transfer.IMAGENET_MEAN_BGR], atol=1e-3)
    assert (ph["std"] == 0).all()
    one = transfer.value_table(gray[0])  # a single (H, W) image, no photo
    assert "photo, preprocess_input" not in one.index.get_level_values(0)


def test_plot_value_histograms_labels_every_panel(images):
    fig = transfer.plot_value_histograms(images[:2], np.zeros((4, 4, 3), np.uint8))
    assert len(fig.axes) == 3
    assert all("pixel units" in ax.get_xlabel() for ax in fig.axes) and "fraction" in fig.axes[0].get_ylabel()
    heights = [sum(p.get_path().vertices[:, 1].max() for p in ax.patches[:1]) for ax in fig.axes]
    assert heights[1] == pytest.approx(1.0)  # [0, 1] values: all in one bin
    assert "wrong" in fig.axes[1].get_title() and "right" in fig.axes[2].get_title()


# ----------------------------------------------------------------------------- layers, parameters, cost


def test_chain_layers_opens_the_base(vgg):
    names = [layer.name for layer in transfer.chain_layers(vgg)]
    assert names[0] == "vgg_preprocess" and names[1] == "block1_conv1"
    assert names[-4:] == ["gap", "dense", "dropout", "output"]
    assert sum(n.endswith(("conv1", "conv2", "conv3")) for n in names) == 13


def test_trainable_table_and_summary(vgg):
    table = transfer.trainable_table(vgg)
    assert table.loc["block1_conv1", "status"] == "frozen"
    assert table.loc["block2_pool", "status"] == "no weights"
    assert table.loc["block3_conv1", "status"] == "trained" and table.loc["output", "status"] == "trained"
    assert table.loc["block1_conv1", "parameters"] == 3 * 3 * 3 * 64 + 64
    assert table.loc["block2_pool", "output shape"] == f"{SIDE // 4}x{SIDE // 4}x128"
    summary = transfer.parameter_summary(vgg)
    assert summary.loc["total", "total"] == vgg.count_params()
    assert summary.loc["total", "trained"] == sum(int(np.prod(w.shape)) for w in vgg.trainable_weights)
    assert summary.loc["block1", "trained"] == 0 and summary.loc["block3", "frozen"] == 0
    assert summary.loc["preprocess", "total"] == 0
    assert list(summary.index[:3]) == ["preprocess", "block1", "block2"]


def test_macs_table_counts_multiply_adds(vgg):
    t = transfer.macs_table(vgg)
    assert t.loc["block1_conv1", "macs"] == SIDE * SIDE * 3 * 3 * 3 * 64
    assert t.loc["block5_conv3", "macs"] == (SIDE // 16) ** 2 * 3 * 3 * 512 * 512
    assert t.loc["dense", "macs"] == 512 * 256 and t.loc["block1_pool", "macs"] == 0
    assert not t.loc["block1_conv1", "trainable"] and t.loc["block3_conv1", "trainable"]
    big = transfer.macs_table(vgg, side=2 * SIDE)
    assert big.loc["block1_conv1", "macs"] == 4 * t.loc["block1_conv1", "macs"]
    assert big.loc["dense", "macs"] == t.loc["dense", "macs"]  # after global pooling: size-free
    assert big.loc["block5_pool", "output shape"] == "2x2x512"


def test_cost_table(vgg):
    t = transfer.cost_table(vgg, [32, 64], n_train=10, n_val=2)
    assert list(t.index) == [32, 64]
    np.testing.assert_allclose(t.loc[64, "trained GMAC"], 4 * t.loc[32, "trained GMAC"], rtol=1e-3)
    f, tr = t.loc[32, "frozen GMAC"], t.loc[32, "trained GMAC"]
    np.testing.assert_allclose(t.loc[32, "TMAC/epoch uncached"], (10 * (f + 3 * tr) + 2 * (f + tr)) / 1e3)
    assert ((t["saving"] > 0) & (t["saving"] < 1)).all()
    timed = transfer.cost_table(vgg, [32, 64], n_train=10, n_val=2, measured=(32, 5.0))
    np.testing.assert_allclose(timed.loc[32, "est. s/epoch (cached)"], 5.0)
    assert timed.loc[64, "est. s/epoch (cached)"] > 15
    # measured on a shortened epoch (5 training, 1 validation image): scaled up to 10 + 2
    short = transfer.cost_table(vgg, [32], n_train=10, n_val=2, measured=(32, 1.0, 5, 1))
    np.testing.assert_allclose(short.loc[32, "est. s/epoch (cached)"], (10 * 3 + 2) / (5 * 3 + 1))
    with pytest.raises(ValueError, match="not a layer"):
        transfer.cost_table(vgg, [32], split_layer="block9_conv1")


# ----------------------------------------------------------------------------- the split


def test_split_model_gives_the_same_outputs(vgg, images):
    front, back = transfer.split_at(vgg, "block3_conv1")
    feats = front.predict(images[..., None], verbose=0)
    assert feats.shape == (5, SIDE // 4, SIDE // 4, 128)
    whole = vgg.predict(images[..., None], verbose=0)
    np.testing.assert_allclose(back.predict(feats, verbose=0), whole, rtol=1e-5, atol=1e-6)
    # through the float16 cache: rounding changes the probabilities only slightly
    half = back.predict(feats.astype(np.float16).astype(np.float32), verbose=0)
    np.testing.assert_allclose(half, whole, atol=2e-3)
    assert len(front.trainable_weights) == 0
    assert len(back.trainable_weights) == len(vgg.trainable_weights)


def test_training_the_back_trains_the_model(images):
    model = models.vgg16_transfer((SIDE, SIDE, 1), n_classes=8, weights=None, seed=1)
    front, back = transfer.split_at(model)
    before = model.get_layer("vgg16").get_layer("block3_conv1").get_weights()[0].copy()
    models.compile_for(back, 8, lr=1e-3)
    back.train_on_batch(front.predict(images[..., None], verbose=0), np.arange(5))
    after = model.get_layer("vgg16").get_layer("block3_conv1").get_weights()[0]
    assert not np.allclose(before, after)  # shared weights: the full model changed too
    np.testing.assert_allclose(back.predict(front.predict(images[..., None], verbose=0), verbose=0),
                               model.predict(images[..., None], verbose=0), rtol=1e-5, atol=1e-6)


def test_split_refuses_where_the_front_is_not_fixed(vgg):
    with pytest.raises(ValueError, match="is not a layer"):
        transfer.split_at(vgg, "block9_conv1")
    with pytest.raises(ValueError, match="first layer"):
        transfer.split_at(vgg, "vgg_preprocess")
    with pytest.raises(ValueError, match="trainable"):
        transfer.split_at(vgg, "block4_conv1")  # block3 trains: its output is not fixed
    inputs = keras.Input((4,))
    x = keras.layers.Dropout(0.5, name="drop")(inputs)
    x = keras.layers.Dense(2, name="late")(x)
    with pytest.raises(ValueError, match="behaves differently in training"):
        transfer.split_at(keras.Model(inputs, x), "late")


def test_frozen_features_are_cached(vgg, images, tmp_path):
    front, _ = transfer.split_at(vgg)
    first = transfer.frozen_features(front, images, cache_dir=tmp_path, progress=False, batch_size=2)
    files = list(tmp_path.glob("frozen-*-5.npz"))
    assert len(files) == 1 and first.dtype == np.float16
    again = transfer.frozen_features(front, images, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first.astype(np.float32), front.predict(images[..., None], verbose=0), rtol=2e-3, atol=1e-3)
    transfer.frozen_features(front, images[:4], cache_dir=tmp_path, progress=False)  # other images: own entry
    assert len(list(tmp_path.glob("frozen-*.npz"))) == 2
    uncached = transfer.frozen_features(front, images, cache=False, cache_dir=tmp_path / "none", progress=False)
    np.testing.assert_array_equal(uncached, first)
    assert not (tmp_path / "none").exists()


def test_frozen_features_keep_float32_when_float16_overflows(tmp_path):
    inputs = keras.Input((2, 2, 1))
    scale = keras.layers.Rescaling(1e6, name="huge")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="late")(scale))
    front, _ = transfer.split_at(model, "late")
    feats = transfer.frozen_features(front, np.ones((3, 2, 2, 1)), cache_dir=tmp_path, progress=False)
    assert feats.dtype == np.float32 and feats.max() == pytest.approx(1e6)


def test_feature_dataset():
    feats = np.arange(6 * 2 * 2 * 3, dtype=np.float16).reshape(6, 2, 2, 3)
    labels = np.arange(6)
    ds = transfer.feature_dataset(feats, labels, batch_size=4, shuffle=True, seed=3)
    x, y = next(iter(ds))
    assert x.dtype == "float32" and tuple(x.shape) == (4, 2, 2, 3) and tuple(y.shape) == (4,)
    def first_epoch(d):
        return [int(v) for _, yb in d for v in yb]

    order = first_epoch(transfer.feature_dataset(feats, labels, batch_size=4, shuffle=True, seed=3))
    again = first_epoch(transfer.feature_dataset(feats, labels, batch_size=4, shuffle=True, seed=3))
    assert sorted(order) == list(range(6)) and order == again  # a seeded shuffle repeats
    assert order != list(range(6)) and first_epoch(ds) != first_epoch(ds)  # and changes every epoch
    only_x = next(iter(transfer.feature_dataset(feats, batch_size=6)))
    np.testing.assert_array_equal(only_x.numpy(), feats.astype(np.float32))
    with pytest.raises(ValueError, match="labels"):
        transfer.feature_dataset(feats, labels[:3])


def test_downsample_averages_blocks():
    img = np.random.default_rng(2).uniform(size=(3, 8, 8)).astype("float32")
    small = transfer.downsample(img, 4, chunk=2)
    np.testing.assert_allclose(small, img.reshape(3, 4, 2, 4, 2).mean(axis=(2, 4)), rtol=1e-5)
    assert small.min() >= 0 and small.max() <= 1
    assert transfer.downsample(img, 8) is not None and transfer.downsample(img, 8).shape == (3, 8, 8)
    with pytest.raises(ValueError, match="shape"):
        transfer.downsample(img[0], 4)


# ----------------------------------------------------------------------------- figures and tables


def test_plot_feature_maps(vgg, images):
    fig = transfer.plot_feature_maps(vgg, images[0], layers=("block1_conv2", "block3_conv3"), n_maps=2,
                                     weights_note="random weights")
    axes = fig.axes
    assert len(axes) == 4
    assert "block1_conv2" in axes[0].get_title() and f"{SIDE} x {SIDE} x 64" in axes[0].get_title()
    assert "random weights" in fig._suptitle.get_text()
    assert axes[2].get_xlabel() == "time (frame)" and axes[0].get_ylabel() == "Mel band (row)"
    with pytest.raises(ValueError, match="not layers"):
        transfer.plot_feature_maps(vgg, images[0], layers=("block9_conv1",))
