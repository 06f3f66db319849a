"""Tests of course_utils.learning.models: the study's architectures and their parameter counts."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from course_utils.learning import models


def cnn_params(h: int, w: int, dense: int, n_out: int) -> int:
    """Table 1 by hand: two 'valid' 3x3 convolutions, each followed by a 2x2 max-pool."""
    conv1 = 3 * 3 * 1 * 32 + 32
    conv2 = 3 * 3 * 32 * 64 + 64
    fh, fw = ((h - 2) // 2 - 2) // 2, ((w - 2) // 2 - 2) // 2
    flat = fh * fw * 64
    return conv1 + conv2 + (flat * dense + dense) + (dense * n_out + n_out)


def test_study_cnn_binary_matches_table_1():
    model = models.study_cnn()
    assert model.count_params() == 31_509_121
    assert cnn_params(256, 256, 128, 1) == 31_509_121
    assert model.get_layer("flatten").output.shape[-1] == 246_016 == 62 * 62 * 64
    out = model.get_layer("output")
    assert out.units == 1 and out.activation is keras.activations.sigmoid
    assert model.get_layer("dropout").rate == 0.5


@pytest.mark.parametrize("dense, n_classes", [(512, 24), (256, 8)], ids=["actor", "emotion"])
def test_study_cnn_multiclass_heads(dense, n_classes):
    model = models.study_cnn(n_classes=n_classes, dense_units=dense, dropout=0.3)
    assert model.count_params() == cnn_params(256, 256, dense, n_classes)
    out = model.get_layer("output")
    assert out.units == n_classes and out.activation is keras.activations.softmax
    assert model.get_layer("dropout").rate == 0.3


def test_study_cnn_two_classes_is_binary_and_small_input():
    model = models.study_cnn((32, 32, 1), n_classes=2, dense_units=16, name="tiny")
    assert model.name == "tiny"
    assert model.output.shape == (None, 1)
    assert model.count_params() == cnn_params(32, 32, 16, 1)
    with pytest.raises(ValueError, match="n_classes"):
        models.study_cnn((32, 32, 1), n_classes=0)


def test_builders_are_seeded():
    a = models.study_cnn((32, 32, 1), dense_units=8, seed=3).get_weights()
    b = models.study_cnn((32, 32, 1), dense_units=8, seed=3).get_weights()
    c = models.study_cnn((32, 32, 1), dense_units=8, seed=4).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_study_autoencoder_matches_table_2():
    ae, enc = models.study_autoencoder()
    assert ae.count_params() == 1_058_273
    # by hand: 2x2 kernels everywhere, 'same' padding
    enc_convs = (2 * 2 * 1 * 32 + 32) + (2 * 2 * 32 * 16 + 16)
    dense = (4096 * 128 + 128) + (128 * 4096 + 4096)
    dec_convs = (2 * 2 * 16 * 16 + 16) + (2 * 2 * 16 * 32 + 32) + (2 * 2 * 32 * 1 + 1)
    assert enc_convs + dense + dec_convs == 1_058_273
    assert ae.output.shape == (None, 256, 256, 1)
    assert ae.get_layer("enc_flatten").output.shape[-1] == 4096
    assert enc.output.shape == (None, 128)
    # the encoder is the first half of the autoencoder: same layer objects
    assert enc.get_layer("code") is ae.get_layer("code")
    assert ae.get_layer("reconstruction").activation is keras.activations.sigmoid


def test_study_autoencoder_small_input_runs_and_rejects_bad_shape():
    ae, enc = models.study_autoencoder((32, 32, 1), latent=8)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 1)).astype("float32")
    y = ae.predict(x, verbose=0)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert enc.predict(x, verbose=0).shape == (2, 8)
    with pytest.raises(ValueError, match="multiples of 16"):
        models.study_autoencoder((40, 40, 1))


def test_study_ffnn_matches_table_3():
    model = models.study_ffnn()
    expected = (128 * 256 + 256) + (256 * 128 + 128) + (128 * 64 + 64) + (64 * 8 + 8)
    assert model.count_params() == expected == 74_696
    assert model.output.shape == (None, 8)
    assert model.get_layer("output").activation is keras.activations.softmax


def test_vgg_preprocess_equals_keras_preprocess_input():
    x = np.random.default_rng(1).uniform(size=(2, 8, 8, 1)).astype("float32")
    got = np.asarray(models.VGGPreprocess()(x))
    want = keras.applications.vgg16.preprocess_input(np.repeat(x, 3, axis=-1) * 255.0)
    assert got.shape == (2, 8, 8, 3)
    np.testing.assert_allclose(got, want, atol=1e-4)
    # black pixel -> minus the ImageNet means in BGR order
    zero = np.asarray(models.VGGPreprocess()(np.zeros((1, 1, 1, 1), "float32")))[0, 0, 0]
    np.testing.assert_allclose(zero, [-103.939, -116.779, -123.68], atol=1e-3)
    assert models.VGGPreprocess().compute_output_shape((None, 8, 8, 1)) == (None, 8, 8, 3)


@pytest.fixture(scope="module")
def vgg_small():
    return models.vgg16_transfer((32, 32, 1), n_classes=8, weights=None)


def test_vgg16_transfer_freezes_before_block3(vgg_small):
    model = vgg_small
    assert model.weights_loaded is False
    base = model.get_layer("vgg16")
    frozen = [layer.name for layer in base.layers if not layer.trainable]
    assert frozen[1:] == ["block1_conv1", "block1_conv2", "block1_pool",
                          "block2_conv1", "block2_conv2", "block2_pool"]  # [0] is the input
    assert base.get_layer("block3_conv1").trainable and base.get_layer("block5_conv3").trainable
    # trainable: 9 conv layers of blocks 3-5 (kernel + bias) and 2 dense layers of the head
    assert len(model.trainable_weights) == 9 * 2 + 2 * 2
    p = model.predict(np.full((2, 32, 32, 1), 0.5, "float32"), verbose=0)
    assert p.shape == (2, 8)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)


def test_vgg16_transfer_options():
    frozen = models.vgg16_transfer((32, 32, 1), n_classes=2, weights=None, trainable_from=None)
    assert not any(layer.trainable for layer in frozen.get_layer("vgg16").layers)
    assert len(frozen.trainable_weights) == 4  # the head only
    assert frozen.output.shape == (None, 1)
    with pytest.raises(ValueError, match="not a VGG16 layer"):
        models.vgg16_transfer((32, 32, 1), weights=None, trainable_from="block9_conv1")


def test_vgg16_transfer_falls_back_when_download_fails(monkeypatch):
    from keras.src.utils import file_utils

    def no_internet(*args, **kwargs):
        raise Exception("URL fetch failure: no internet")

    monkeypatch.setattr(file_utils, "get_file", no_internet)
    with pytest.warns(RuntimeWarning, match="RANDOM weights"):
        model = models.vgg16_transfer((32, 32, 1), weights="imagenet")
    assert model.weights_loaded is False
    assert model.output.shape == (None, 8)


def test_vgg16_transfer_reports_loaded_weights(monkeypatch):
    real = keras.applications.VGG16
    calls = []

    def fake_vgg16(include_top, weights, input_shape):
        calls.append(weights)
        return real(include_top=include_top, weights=None, input_shape=input_shape)

    monkeypatch.setattr(keras.applications, "VGG16", fake_vgg16)
    model = models.vgg16_transfer((32, 32, 1), weights="imagenet")
    assert calls == ["imagenet"]
    assert model.weights_loaded is True


@pytest.mark.parametrize(
    "n_classes, loss, metric",
    [(1, "binary_crossentropy", True), (2, "binary_crossentropy", True),
     (8, "sparse_categorical_crossentropy", True), (None, "mse", False)],
)
def test_compile_for(n_classes, loss, metric):
    model = models.study_ffnn(input_dim=4, n_classes=n_classes or 3)
    assert models.compile_for(model, n_classes, lr=0.01) is model
    assert model.loss == loss
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert np.isclose(float(model.optimizer.learning_rate), 0.01)
    x = np.zeros((4, 4), "float32")
    y = np.zeros(4, "float32") if n_classes else np.zeros((4, 3), "float32")
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert ("accuracy" in logs) is metric


def test_compile_for_rejects_zero_classes():
    with pytest.raises(ValueError, match="n_classes"):
        models.compile_for(models.study_ffnn(input_dim=4, n_classes=3), 0)
