import numpy as np
import pytest

from course_utils.learning import pipeline


def test_make_dataset_batches_with_channel_axis():
    x = np.random.default_rng(0).random((10, 8, 6)).astype(np.float16)
    y = np.arange(10)
    ds = pipeline.make_dataset(x, y, batch_size=4)
    batches = list(ds.as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(4, 8, 6, 1), (4, 8, 6, 1), (2, 8, 6, 1)]
    assert batches[0][0].dtype == np.float32
    assert np.concatenate([b[1] for b in batches]).tolist() == list(range(10))
    np.testing.assert_allclose(batches[0][0][..., 0], x[:4].astype(np.float32))


def test_shuffle_is_seeded_and_images_alone_work():
    x = np.zeros((20, 2, 2)) + np.arange(20)[:, None, None]
    order = lambda seed: np.concatenate([b[1] for b in pipeline.make_dataset(x, np.arange(20), batch_size=5, shuffle=True, seed=seed).as_numpy_iterator()])
    assert order(1).tolist() == order(1).tolist() != list(range(20))
    assert sorted(order(1)) == list(range(20))
    only = next(iter(pipeline.make_dataset(x, batch_size=3)))
    assert tuple(only.shape) == (3, 2, 2, 1)
    rep = pipeline.make_dataset(x, np.arange(20), batch_size=8, repeat=True)
    assert len(list(rep.take(5))) == 5


def test_make_dataset_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        pipeline.make_dataset(np.zeros((4, 4)), None)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        pipeline.make_dataset(np.zeros((4, 2, 2)), np.zeros(3))


def test_pipeline_feeds_a_keras_model():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 64)
    x = (rng.random((64, 16, 16)) * 0.2 + y[:, None, None] * 0.6).astype(np.float32)  # class 1 is brighter
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(pipeline.make_dataset(x, y, batch_size=16, shuffle=True), epochs=15, shuffle=False, verbose=0)  # the tf.data pipeline shuffles
    assert history.history["accuracy"][-1] > 0.9
