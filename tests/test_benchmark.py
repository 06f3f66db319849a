"""Tests of course_utils.learning.pipeline: the PNG tree, the readers, the timers, trimmed lengths."""

from __future__ import annotations

import io
import json
import math
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from course_utils.base import jupyter
from course_utils.learning import pipeline
from course_utils.data.atomic import current_umask
from course_utils.sound.features import FeatureConfig


H, W = 12, 10


@pytest.fixture
def small():
    """11 random images (12 x 10) in [0, 1] in three classes, with names."""
    rng = np.random.default_rng(0)
    images = rng.random((11, H, W)).astype(np.float32)
    classes = ["sad", "angry", "calm", "sad", "calm", "angry", "sad", "sad", "calm", "angry", "calm"]
    names = [f"clip-{i:02d}.wav" for i in range(11)]
    return images, classes, names


@pytest.fixture
def tree(small, tmp_path):
    images, classes, names = small
    return pipeline.write_png_tree(images, classes, tmp_path / "png", names=names)


def _as_keys(x: np.ndarray, y: np.ndarray) -> Counter:
    """A multiset of (label, 8-bit pixels) pairs of a batch stack, to compare readers regardless of order."""
    pixels = np.round(np.asarray(x)[..., 0] * 255).astype(np.uint8)
    return Counter((int(label), p.tobytes()) for label, p in zip(np.asarray(y), pixels))


# ------------------------------------------------------------------ PNG tree


def test_to_uint8_rounds_and_clips():
    out = pipeline.to_uint8(np.array([[-0.5, 0.0, 0.5, 1.0, 2.0, 1 / 255 * 0.49, 1 / 255 * 0.51]]))
    assert out.dtype == np.uint8
    assert out.tolist() == [[0, 0, 128, 255, 255, 0, 1]]


def test_write_png_tree_layout_and_pixels(small, tree, tmp_path):
    images, classes, names = small
    assert tree.class_names == ("angry", "calm", "sad")
    assert tree.labels.tolist() == [tree.class_names.index(c) for c in classes]
    assert len(tree) == 11 and tree.files[0] == tmp_path / "png" / "sad" / "clip-00.png"
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [pipeline.MANIFEST, "angry", "calm", "sad"]
    for f, img in zip(tree.files, images):
        with Image.open(f) as im:
            assert im.mode == "L"
            back = np.asarray(im)
        np.testing.assert_array_equal(back, pipeline.to_uint8(img))
        assert np.abs(back / 255.0 - img).max() <= 0.5 / 255 + 1e-7
    assert tree.nbytes() == sum(f.stat().st_size for f in tree.files) > 0
    manifest = json.loads((tmp_path / "png" / pipeline.MANIFEST).read_text())
    assert manifest["count"] == 11 and manifest["shape"] == [H, W] and manifest["classes"] == list(tree.class_names)
    assert [p.name for p in tmp_path.iterdir()] == ["png"]  # no temporary folder left behind
    assert (tmp_path / "png").stat().st_mode & 0o777 == 0o777 & ~current_umask()  # not left private like mkdtemp's


def test_write_png_tree_reuses_an_unchanged_tree_and_replaces_a_changed_one(small, tree, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    images, classes, names = small
    stamp = tree.files[0].stat().st_mtime_ns
    (tree.files[0]).touch()  # any rewrite would give a new file
    touched = tree.files[0].stat().st_mtime_ns
    capsys.readouterr()
    again = pipeline.write_png_tree(images, classes, tmp_path / "png", names=names)
    assert again.files[0].stat().st_mtime_ns == touched >= stamp
    assert capsys.readouterr().err == ""  # nothing written, no bar
    changed = images.copy()
    changed[0] = 0.0
    new = pipeline.write_png_tree(changed, classes, tmp_path / "png", names=names)
    err = capsys.readouterr().err  # a bar over the files written
    assert "PNG files" in err and f"{len(images)}/{len(images)}" in err and err.count("\n") == 1
    assert np.asarray(Image.open(new.files[0])).max() == 0
    assert [p.name for p in tmp_path.iterdir()] == ["png"]
    # a tree with a file missing is rewritten, not trusted
    new.files[3].unlink()
    pipeline.write_png_tree(changed, classes, tmp_path / "png", names=names, progress=False)
    assert new.files[3].exists() and capsys.readouterr().err == ""


def test_write_png_tree_default_names(small, tmp_path):
    images, classes, _ = small
    t = pipeline.write_png_tree(images[:3], classes[:3], tmp_path / "t")
    assert [f.name for f in t.files] == ["00000.png", "00001.png", "00002.png"]


def test_an_interrupted_write_leaves_nothing(small, tmp_path, monkeypatch):
    images, classes, names = small
    calls = {"n": 0}
    real_save = Image.Image.save

    def failing_save(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("interrupted")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        pipeline.write_png_tree(images, classes, tmp_path / "png", names=names)
    assert list(tmp_path.iterdir()) == []


def test_write_png_tree_refuses_bad_input(small, tmp_path):
    images, classes, names = small
    with pytest.raises(ValueError, match="shape"):
        pipeline.write_png_tree(images[0], classes, tmp_path / "x")
    with pytest.raises(ValueError, match="one of each"):
        pipeline.write_png_tree(images, classes[:3], tmp_path / "x")
    with pytest.raises(ValueError, match="same file name"):
        pipeline.write_png_tree(images[:2], ["a", "a"], tmp_path / "x", names=["n", "n"])
    with pytest.raises(ValueError, match="folder names"):
        pipeline.write_png_tree(images[:2], ["a", ".hidden"], tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_png_tree_dir_sits_next_to_the_feature_cache(tmp_path):
    from course_utils.sound import features

    wav = tmp_path / "03-01-01-01-01-01-01.wav"
    wav.write_bytes(b"RIFF")
    meta = pd.DataFrame({"path": [str(wav)]})
    cfg = FeatureConfig(duration=1.0)
    npz = features.cache_path(meta, cfg, "synthetic", tmp_path / "cache")
    folder = pipeline.png_tree_dir(meta, cfg, "synthetic", tmp_path / "cache")
    assert folder.parent == npz.parent == tmp_path / "cache"
    assert npz.name == f"logmel-{folder.name.removeprefix('png-')}.npz"
    assert pipeline.png_tree_dir(meta, dataset="synthetic", cache_dir=tmp_path).name != folder.name  # another recipe


# ------------------------------------------------------------------ readers


@pytest.mark.parametrize("name", list(pipeline.READERS))
def test_every_reader_delivers_the_same_images_and_labels(name, small, tree):
    images, _, _ = small
    reader = pipeline.make_reader(name, images, tree.labels, tree, batch_size=4, shuffle=False)
    batches = [(np.asarray(x), np.asarray(y)) for x, y in reader]
    assert [b[0].shape for b in batches] == [(4, H, W, 1), (4, H, W, 1), (3, H, W, 1)]
    assert all(b[0].dtype == np.float32 for b in batches)
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert 0.0 <= x.min() and x.max() <= 1.0
    expected = _as_keys(pipeline.to_uint8(images)[..., None] / 255.0, tree.labels)
    assert _as_keys(x, y) == expected
    assert len(list(iter(reader))) == 3  # a second pass is a second full epoch


@pytest.mark.parametrize("name", ["memory", "tfdata_png", "keras_generator"])
def test_shuffling_is_seeded(name, small, tree):
    images, _, _ = small

    def epoch_labels(seed):
        reader = pipeline.make_reader(name, images, tree.labels, tree, batch_size=4, shuffle=True, seed=seed)
        return [np.concatenate([np.asarray(y) for _, y in reader]).tolist() for _ in range(2)]

    first, second = epoch_labels(3)
    assert epoch_labels(3) == [first, second]
    assert sorted(first) == sorted(tree.labels.tolist())


def test_make_reader_rejects_unknown_names(small, tree):
    with pytest.raises(ValueError, match="unknown reader 'pickle'"):
        pipeline.make_reader("pickle", small[0], tree.labels, tree)


def test_the_study_generator_is_found_under_tf_keras(monkeypatch):
    cls, where = pipeline.image_data_generator_class()
    assert cls.__name__ == "ImageDataGenerator"
    assert where == "tf.keras.preprocessing.image.ImageDataGenerator"
    assert pipeline.available_readers() == tuple(pipeline.READERS)
    monkeypatch.setattr(pipeline, "image_data_generator_class", lambda: (None, None))
    assert pipeline.available_readers() == ("memory", "tfdata_png", "keras_directory")


# ------------------------------------------------------------------ timing


def test_time_epochs_counts_batches_and_images():
    batches = [(np.zeros((4, 2)), np.zeros(4))] * 3 + [(np.zeros((1, 2)), np.zeros(1))]
    bar = jupyter.progress(total=4, file=io.StringIO())
    table = pipeline.time_epochs(batches, epochs=3, warmup=1, bar=bar)
    assert bar.n == 4  # advanced after every pass, the warm-up one included
    assert table["epoch"].tolist() == [1, 2, 3]
    assert set(table["batches"]) == {4} and set(table["images"]) == {13}
    assert (table["seconds"] > 0).all() and np.isfinite(table["images_per_s"]).all()
    only_x = pipeline.time_epochs([np.zeros((2, 5))], epochs=1, warmup=0)
    assert only_x["images"].tolist() == [2]
    with pytest.raises(ValueError, match="epochs"):
        pipeline.time_epochs(batches, epochs=0)


def test_measure_throughput_is_a_tidy_table(small, tree, monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    images, _, _ = small
    capsys.readouterr()
    table = pipeline.measure_throughput(images, tree.labels, tree, batch_size=4, epochs=2, warmup=1, seed=0)
    err = capsys.readouterr().err  # one bar over every pass of every reader
    passes = len(pipeline.available_readers()) * 3
    assert "reading speed" in err and f"{passes}/{passes}" in err and err.count("\n") == 1
    assert list(table.columns) == ["reader", "label", "epoch", "batches", "images", "seconds", "images_per_s"]
    assert table["reader"].tolist() == [r for r in pipeline.READERS for _ in range(2)]
    assert (table["images"] == 11).all() and (table["batches"] == 3).all()
    assert (table["images_per_s"] > 0).all() and np.isfinite(table["images_per_s"]).all()
    np.testing.assert_allclose(table["images_per_s"], table["images"] / table["seconds"])
    with pytest.raises(ValueError, match="must match"):
        pipeline.measure_throughput(images[:5], tree.labels[:5], tree)


def test_summarise_throughput():
    table = pd.DataFrame({
        "reader": ["a", "a", "a", "b", "b", "b"], "label": ["A"] * 3 + ["B"] * 3, "epoch": [1, 2, 3] * 2,
        "images": [10] * 6, "images_per_s": [100.0, 300.0, 200.0, 10.0, 50.0, 20.0],
    })
    s = pipeline.summarise_throughput(table)
    assert s.index.tolist() == ["a", "b"] and s["label"].tolist() == ["A", "B"]
    assert s["median_images_per_s"].tolist() == [200.0, 20.0]
    assert s["min_images_per_s"].tolist() == [100.0, 10.0] and s["max_images_per_s"].tolist() == [300.0, 50.0]
    assert s["relative"].tolist() == [1.0, 0.1] and s["epochs"].tolist() == [3, 3]


def test_time_feature_cache_cold_then_cached(wav_meta, tmp_path):
    cfg = FeatureConfig(image_size=(32, 24), duration=1.0)
    table, images = pipeline.time_feature_cache(wav_meta, cfg, dataset="test", cache_dir=tmp_path / "cache", n_jobs=1)
    assert table["run"].tolist() == ["cold: compute and write", "cached: read back"]
    assert (table["seconds"] > 0).all() and np.isfinite(table["clips_per_s"]).all()
    assert (table["clips"] == 3).all() and table["file"].str.startswith("logmel-test-").all()
    assert (tmp_path / "cache" / table["file"][0]).stat().st_size / 1e6 == pytest.approx(table["megabytes"][0])
    assert images.shape == (3, 32, 24) and images.dtype == np.float32
    with pytest.raises(FileExistsError, match="empty cache_dir"):
        pipeline.time_feature_cache(wav_meta, cfg, dataset="test", cache_dir=tmp_path / "cache", n_jobs=1)


def test_model_throughput_times_training_steps():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    out = pipeline.model_throughput(model, np.zeros((8, 4), np.float32), np.zeros(8), steps=3, warmup=1)
    assert out["steps"] == 3 and out["images"] == 24
    assert out["seconds"] > 0 and math.isfinite(out["images_per_s"]) and out["images_per_s"] > 0
    with pytest.raises(ValueError, match="steps"):
        pipeline.model_throughput(model, np.zeros((8, 4)), np.zeros(8), steps=0)


# ------------------------------------------------------------------ figures


def test_plot_trim_shades_and_frames():
    sr = 1000
    y = np.zeros(3000, np.float32)
    fig, ax = plt.subplots()
    pipeline.plot_trim(y, sr, start=0.5, end=2.0, length=2.5, ax=ax, title="clip")
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "amplitude (full scale)" and ax.get_title() == "clip"
    assert len(ax.patches) == 2  # the two shaded, trimmed-away parts
    assert [line.get_xdata()[0] for line in ax.lines[1:]] == [0.0, 2.5]
    assert ax.get_xlim() == (0.0, 3.0)
    plt.close(fig)


def test_plot_image_grid_labels_every_panel():
    imgs = [np.zeros((8, 8)), np.ones((8, 8)), np.full((8, 8), 0.5)]
    fig = pipeline.plot_image_grid(imgs, ["a", "b", "c"], duration=2.5, ncols=2)
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in visible] == ["a", "b", "c"]
    assert all(ax.get_xlabel() == "time (s)" for ax in visible)
    assert visible[0].images[0].get_extent() == [0, 2.5, 0, 8]
    assert sum(1 for ax in fig.axes if not ax.get_visible()) == 1
    plt.close(fig)


def test_plot_throughput_bars_dots_and_reference():
    table = pd.DataFrame({
        "reader": ["a", "a", "b", "b"], "label": ["fast", "fast", "slow", "slow"], "epoch": [1, 2, 1, 2],
        "images": [10] * 4, "images_per_s": [1000.0, 1200.0, 10.0, 12.0],
    })
    fig, ax = plt.subplots()
    pipeline.plot_throughput(table, ax=ax, reference={"model": 50.0})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["fast", "slow"]
    assert [round(p.get_width()) for p in ax.patches] == [1100, 11]
    assert ax.get_xscale() == "log" and "images per second" in ax.get_xlabel()
    assert any(line.get_xdata()[0] == 50.0 for line in ax.lines)
    assert "model: 50/s" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
