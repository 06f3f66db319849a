"""Feeding a network: ``tf.data`` from memory, the study's PNG files, and how fast each is.

Taught in ``06_preprocessing``. :func:`make_dataset` then feeds the model chapters
(``08_cnn_binary``, ``09_cnn_multiclass``, ``10_augmentation``, ``14_raw_waveform`` and
``15_uncertainty`` call it; ``12_autoencoder``, ``16_better_emotion_model`` and
``17_new_voices`` through :mod:`course_utils.learning.embeddings` and
:mod:`course_utils.learning.emotion_net`), and ``make bench`` (:mod:`course_utils.tools.bench`)
builds on the readers and timers.

A network trains on batches, and the input pipeline has to deliver the next batch before the
model asks for it; otherwise the processor waits. A reader's speed is its throughput,
:math:`r = \\text{images} / \\text{seconds}`, and a reader is fast enough when its :math:`r` is
above the rate at which the model trains (:func:`model_throughput`); beyond that, a faster reader
saves nothing. Reading from memory costs almost nothing per image; reading files costs a file
access and a PNG decoding per image, every epoch.

In Python the 1440 images (256 x 256, float16 on disk) fit in memory, so a ``tf.data.Dataset``
built from the cached array feeds the model (:func:`make_dataset`): shuffled with a fixed seed,
batched and prefetched while the model trains.

The study saved every log-Mel image as a grayscale PNG file and streamed the files through a
Keras ``ImageDataGenerator``, because R could not hold the arrays in memory. The course keeps
the images as one array in memory instead (:func:`course_utils.sound.features.compute_images`,
:func:`make_dataset`). This module measures both ways on the same
images, so that the choice rests on numbers:

=====================  ===========================================================================
reader (key)           what it does
=====================  ===========================================================================
``memory``             ``tf.data`` from the array in memory (:func:`make_dataset`)
``tfdata_png``         ``tf.data`` reading the PNG files (``tf.io.read_file`` + ``tf.io.decode_png``)
``keras_generator``    the study's way: ``ImageDataGenerator(rescale=1/255).flow_from_directory(
                       color_mode="grayscale")`` (legacy: in Keras 3 only under ``tf.keras``)
``keras_directory``    its Keras 3 successor, ``keras.utils.image_dataset_from_directory``
=====================  ===========================================================================

Every reader yields float32 batches of shape ``(batch, H, W, 1)`` in [0, 1], shuffled with a
seed, and is timed over the same number of epochs after one untimed warm-up epoch
(:func:`measure_throughput`, a tidy table with one row per reader and epoch).

The building blocks:

- :func:`write_png_tree`: the images as 8-bit PNG files in one folder per class, written to a
  temporary folder and renamed into place (never half-written), reused when unchanged
  (:func:`png_tree_dir` names the folder next to the feature cache; :func:`to_uint8` rounds to
  256 grey levels);
- :func:`make_reader`: one reader by its key (:func:`memory_dataset`, :func:`png_dataset`,
  :func:`keras_generator`, :func:`keras_directory_dataset`); :func:`available_readers`: the
  keys this installation can run;
- :func:`time_epochs`, :func:`summarise_throughput`: the timing of one reader, and the median
  rate per reader;
- :func:`model_throughput`: how fast a model trains, the rate a reader has to keep up with;
- :func:`time_feature_cache`: :func:`~course_utils.sound.features.compute_images` cold (computed and
  written) against cached (read back), on a given cache folder;
- :func:`plot_trim`, :func:`plot_image_grid`, :func:`plot_throughput`: the chapter's figures.

The chapter's other helpers live where their idea does:
:func:`course_utils.data.audio.trimmed_durations` and
:func:`~course_utils.data.audio.crop_pad_table` (how long the clips are once their silence is
trimmed, and what a common length crops or pads), and
:func:`course_utils.learning.baseline.cached_features` (the baseline's clip statistics, cached
on disk).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
import time
from contextlib import redirect_stdout
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from PIL import Image

from course_utils.base import jupyter
from course_utils.data import atomic
from course_utils.data.atomic import current_umask
from course_utils.sound import features


# --------------------------------------------------------------------------------------
# tf.data from memory: the course's way
# --------------------------------------------------------------------------------------
def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    repeat: bool = False,
) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of ``(image[..., None], label)`` pairs.

    ``images`` is (N, H, W) in [0, 1]; a channel axis is added, giving (batch, H, W, 1).
    ``labels`` (N,) integer class ids (or None for images alone, e.g. for an autoencoder's
    input). With ``shuffle=True`` the order changes every epoch, reproducibly for a ``seed``.

    Taught in ``06_preprocessing``; used by ``08_cnn_binary``, ``09_cnn_multiclass``,
    ``10_augmentation``, ``14_raw_waveform`` and ``15_uncertainty``, and through
    :func:`course_utils.learning.embeddings.autoencoder_dataset` (``12_autoencoder``) and
    :func:`course_utils.learning.emotion_net.train_dataset` (``16_better_emotion_model``,
    ``17_new_voices``).
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    tensors = images if labels is None else (images, np.asarray(labels))
    ds = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def add_channel(x, *y):
        x = tf.expand_dims(tf.cast(x, tf.float32), -1)
        return (x, *y) if y else x

    ds = ds.map(add_channel, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------------
# The study's way: the images as PNG files, one folder per class
# --------------------------------------------------------------------------------------
#: Name of the manifest file in a PNG tree (hidden: Keras readers look at sub-folders only).
MANIFEST = ".manifest.json"


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] as 8-bit grey levels 0 ... 255 (rounded; values outside are clipped).

    The rounding error is at most half a grey level, 1/510 of the range. Used by
    :func:`write_png_tree` (``06_preprocessing``).
    """
    return np.round(np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class PngTree:
    """A folder of PNG images, one sub-folder per class, as Keras' directory readers expect.

    ``files`` and ``labels`` are in the order of the images given to :func:`write_png_tree`;
    ``labels`` are indices into ``class_names`` (sorted alphabetically, as Keras numbers them).
    What :func:`write_png_tree` returns and the file readers read (``06_preprocessing``, and
    ``make bench``).
    """

    root: Path
    files: tuple[Path, ...]
    labels: np.ndarray
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.files)

    def nbytes(self) -> int:
        """Size of the PNG files on disk, in bytes."""
        return sum(f.stat().st_size for f in self.files)


def _fingerprint(pixels: np.ndarray, classes: Sequence[str], names: Sequence[str]) -> str:
    h = hashlib.sha1()
    h.update(str(pixels.shape).encode())
    h.update(np.ascontiguousarray(pixels).tobytes())
    h.update(json.dumps([list(classes), list(names)]).encode())
    return h.hexdigest()


def write_png_tree(
    images: np.ndarray,
    classes: Sequence[str],
    dest: str | Path,
    names: Sequence[str] | None = None,
    progress: bool = True,
) -> PngTree:
    """Write ``images`` (N, H, W) in [0, 1] as 8-bit grayscale PNGs: ``dest/<class>/<name>.png``.

    ``classes`` gives each image's class (a folder name); ``names`` each file's name without
    extension (default ``00000``, ``00001``, ...). Row 0 of an image (the lowest Mel band) is
    the top row of the PNG, so that every reader returns the same array: an image viewer
    shows the spectrogram upside down.

    The tree is written into a temporary folder next to ``dest`` and renamed to ``dest`` when
    complete, so an interrupted run never leaves a half-written tree. A manifest with a
    fingerprint of the pixels, classes and names is stored in it; when ``dest`` already
    holds the same images, nothing is written again. ``progress``: a bar over the files
    written (:func:`course_utils.base.jupyter.progress`). Taught in ``06_preprocessing``;
    ``make bench`` writes one too.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {images.shape}")
    classes = [str(c) for c in classes]
    names = [f"{i:05d}" for i in range(len(images))] if names is None else [Path(str(n)).stem for n in names]
    if not (len(classes) == len(names) == len(images)):
        raise ValueError(f"{len(images)} images, {len(classes)} classes and {len(names)} names: one of each per image")
    if len(set(zip(classes, names))) != len(names):
        raise ValueError("two images would get the same file name: give unique names")
    if any(not c or os.sep in c or c.startswith(".") for c in classes):
        raise ValueError("class names become folder names: no empty names, no path separators, no leading dot")
    pixels = to_uint8(images)
    fingerprint = _fingerprint(pixels, classes, names)
    dest = Path(dest)
    class_names = tuple(sorted(set(classes)))
    lookup = {c: i for i, c in enumerate(class_names)}
    tree = PngTree(
        root=dest,
        files=tuple(dest / c / f"{n}.png" for c, n in zip(classes, names)),
        labels=np.array([lookup[c] for c in classes], dtype=np.int32),
        class_names=class_names,
    )
    if _manifest_matches(dest, fingerprint, len(images)):
        return tree
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; the tree should be like any folder
        for c in class_names:
            (tmp / c).mkdir()
        files = jupyter.progress(zip(pixels, classes, names), total=len(names), desc="PNG files", unit="file",
                                     disable=not progress)
        for img, c, n in files:
            Image.fromarray(img).save(tmp / c / f"{n}.png", format="PNG")
        manifest = {"fingerprint": fingerprint, "count": len(images), "shape": list(images.shape[1:]), "classes": list(class_names)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        atomic.replace_dir(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tree


def png_tree_dir(meta: pd.DataFrame, config=None, dataset: str = "data", cache_dir: str | Path | None = None) -> Path:
    """Where the PNG tree of these files' images is kept: next to their ``.npz`` feature cache.

    The folder is named like :func:`course_utils.sound.features.cache_path` (dataset, recipe hash,
    file-list hash, count) with ``png-`` in place of ``logmel-``. Taught in ``06_preprocessing``.
    """
    config = features.FeatureConfig() if config is None else config
    npz = features.cache_path(meta, config, dataset, cache_dir)
    return npz.with_name("png-" + npz.name.removeprefix("logmel-").removesuffix(".npz"))


def _manifest_matches(dest: Path, fingerprint: str, count: int) -> bool:
    try:
        manifest = json.loads((dest / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("fingerprint") == fingerprint and len(list(dest.glob("*/*.png"))) == count


# --------------------------------------------------------------------------------------
# Readers: four ways to feed the same images to a model
# --------------------------------------------------------------------------------------
#: The readers :func:`measure_throughput` knows, in the order of the chapter, with a label.
READERS = {
    "memory": "tf.data: array in memory",
    "tfdata_png": "tf.data: PNG files",
    "keras_generator": "Keras ImageDataGenerator: PNG files",
    "keras_directory": "keras.utils.image_dataset_from_directory: PNG files",
}


def memory_dataset(images: np.ndarray, labels: np.ndarray, *, batch_size: int = 32, shuffle: bool = True, seed: int = 0):
    """``tf.data`` from the array in memory: :func:`make_dataset`.

    The reader ``memory`` of ``06_preprocessing`` (through :func:`make_reader`); ``make bench``
    uses it too.
    """
    return make_dataset(images, labels, batch_size=batch_size, shuffle=shuffle, seed=seed)


def png_dataset(tree: PngTree, *, batch_size: int = 32, shuffle: bool = True, seed: int = 0):
    """``tf.data`` reading the PNG files: read, decode (1 channel), scale to [0, 1], batch.

    Files are decoded in parallel (``num_parallel_calls=AUTOTUNE``) and the next batches are
    prepared while the current one is used (``prefetch``). The reader ``tfdata_png`` of
    ``06_preprocessing`` (through :func:`make_reader`).
    """
    ds = tf.data.Dataset.from_tensor_slices(([str(f) for f in tree.files], tree.labels))
    if shuffle:
        ds = ds.shuffle(len(tree), seed=seed, reshuffle_each_iteration=True)

    def load(path, label):
        image = tf.io.decode_png(tf.io.read_file(path), channels=1)
        return tf.cast(image, tf.float32) / 255.0, label

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def image_data_generator_class():
    """The legacy ``ImageDataGenerator`` class of the study, and the name it was found under.

    Keras 3 removed ``keras.preprocessing.image.ImageDataGenerator``; TensorFlow's
    ``tf.keras`` namespace (Keras 3's compatibility layer) still has it, marked deprecated.
    Returns ``(None, None)`` where neither has it. Taught in ``06_preprocessing``; used by
    :func:`available_readers` and :func:`keras_generator`.
    """
    found = getattr(getattr(keras, "preprocessing", None), "image", None)
    if found is not None and hasattr(found, "ImageDataGenerator"):  # Keras 2
        return found.ImageDataGenerator, "keras.preprocessing.image.ImageDataGenerator"  # pragma: no cover
    try:
        return tf.keras.preprocessing.image.ImageDataGenerator, "tf.keras.preprocessing.image.ImageDataGenerator"
    except (AttributeError, ImportError):  # pragma: no cover - depends on the installed versions
        return None, None


def available_readers() -> tuple[str, ...]:
    """The keys of :data:`READERS` this installation can run (``keras_generator`` needs the legacy class).

    Used by :func:`measure_throughput` (``06_preprocessing``).
    """
    cls, _ = image_data_generator_class()
    return tuple(r for r in READERS if r != "keras_generator" or cls is not None)


class _KerasGeneratorEpochs:
    """Wraps a Keras ``DirectoryIterator`` (endless) so that each ``iter()`` is one epoch."""

    def __init__(self, iterator):
        self.iterator = iterator

    def __len__(self) -> int:
        return len(self.iterator)

    def __iter__(self):
        return itertools.islice(self.iterator, len(self.iterator))


def keras_generator(tree: PngTree, *, batch_size: int = 32, shuffle: bool = True, seed: int = 0):
    """The study's reader: ``ImageDataGenerator(rescale=1/255).flow_from_directory(...)``.

    Grayscale, ``class_mode="sparse"`` (integer labels); each ``iter()`` of the result is
    one epoch of ``(x, y)`` numpy batches. Raises ``RuntimeError`` where Keras has no
    ``ImageDataGenerator`` any more (use ``keras_directory`` then). The reader
    ``keras_generator`` of ``06_preprocessing`` (through :func:`make_reader`); ``make bench``
    uses it too.
    """
    cls, _ = image_data_generator_class()
    if cls is None:  # pragma: no cover - depends on the installed versions
        raise RuntimeError("this Keras has no ImageDataGenerator. Fix: use the reader 'keras_directory'.")
    height, width = _image_shape(tree)

    with redirect_stdout(StringIO()):  # silence "Found N images belonging to K classes."
        it = cls(rescale=1.0 / 255).flow_from_directory(
            str(tree.root), target_size=(height, width), color_mode="grayscale", class_mode="sparse",
            classes=list(tree.class_names), batch_size=batch_size, shuffle=shuffle, seed=seed,
        )
    return _KerasGeneratorEpochs(it)


def keras_directory_dataset(tree: PngTree, *, batch_size: int = 32, shuffle: bool = True, seed: int = 0):
    """Keras 3's directory reader: ``keras.utils.image_dataset_from_directory``, scaled to [0, 1].

    The reader ``keras_directory`` of ``06_preprocessing`` (through :func:`make_reader`).
    """
    with redirect_stdout(StringIO()):
        ds = keras.utils.image_dataset_from_directory(
            str(tree.root), labels="inferred", label_mode="int", class_names=list(tree.class_names),
            color_mode="grayscale", image_size=_image_shape(tree), batch_size=batch_size, shuffle=shuffle, seed=seed,
        )
    return ds.map(lambda x, y: (x / 255.0, y), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _image_shape(tree: PngTree) -> tuple[int, int]:
    with Image.open(tree.files[0]) as im:
        return im.height, im.width


def make_reader(name: str, images: np.ndarray, labels: np.ndarray, tree: PngTree, *, batch_size: int = 32,
                shuffle: bool = True, seed: int = 0):
    """The reader ``name`` (a key of :data:`READERS`): an iterable whose every ``iter()`` is one epoch.

    Used by :func:`measure_throughput` (``06_preprocessing``).
    """
    if name == "memory":
        return memory_dataset(images, labels, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if name == "tfdata_png":
        return png_dataset(tree, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if name == "keras_generator":
        return keras_generator(tree, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if name == "keras_directory":
        return keras_directory_dataset(tree, batch_size=batch_size, shuffle=shuffle, seed=seed)
    raise ValueError(f"unknown reader {name!r}: choose from {', '.join(READERS)}")


# --------------------------------------------------------------------------------------
# Timing the readers
# --------------------------------------------------------------------------------------
def time_epochs(reader: Iterable, epochs: int = 3, warmup: int = 1, bar=None) -> pd.DataFrame:
    """Time full passes over ``reader`` (each ``iter()`` one epoch), after ``warmup`` untimed ones.

    Every batch is touched (its size read), so that lazy readers really produce it.
    Columns: ``epoch`` (1 ...), ``batches``, ``images``, ``seconds``, ``images_per_s``.
    ``bar`` (a :func:`course_utils.base.jupyter.progress` bar) is advanced after each pass,
    outside the timed part. Used by :func:`measure_throughput` (``06_preprocessing``).
    """
    if epochs < 1 or warmup < 0:
        raise ValueError(f"need epochs >= 1 and warmup >= 0, got {epochs} and {warmup}")
    rows = []
    for epoch in range(warmup + epochs):
        batches = images = 0
        t0 = time.perf_counter()
        for batch in reader:
            x = batch[0] if isinstance(batch, tuple) else batch
            images += int(x.shape[0])
            batches += 1
        seconds = time.perf_counter() - t0
        if bar is not None:
            bar.update(1)
        if epoch >= warmup:
            rows.append(dict(epoch=epoch - warmup + 1, batches=batches, images=images, seconds=seconds,
                             images_per_s=images / seconds if seconds > 0 else float("inf")))
    return pd.DataFrame(rows)


def measure_throughput(
    images: np.ndarray,
    labels: np.ndarray,
    tree: PngTree,
    readers: Sequence[str] | None = None,
    *,
    batch_size: int = 32,
    epochs: int = 3,
    warmup: int = 1,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Images per second of each reader on the same images: one row per reader and epoch.

    ``images`` (N, H, W) and ``labels`` (N,) feed the in-memory reader; ``tree`` (from
    :func:`write_png_tree` with the same images) the file readers. ``readers`` are keys of
    :data:`READERS` (default: :func:`available_readers`). Every reader shuffles with
    ``seed`` and runs ``warmup`` untimed epochs, then ``epochs`` timed ones.
    Columns: ``reader``, ``label``, ``epoch``, ``batches``, ``images``, ``seconds``,
    ``images_per_s``. ``progress``: one bar over all passes (warm-up included), naming the
    reader at work; it is advanced between passes, outside the timed part.
    Taught in ``06_preprocessing``.
    """
    if len(images) != len(tree) or len(labels) != len(images):
        raise ValueError(f"{len(images)} images, {len(labels)} labels and {len(tree)} PNG files: they must match")
    names = list(available_readers() if readers is None else readers)
    tables = []
    with jupyter.progress(total=len(names) * (warmup + epochs), desc="reading speed", unit="pass",
                              disable=not progress) as bar:
        for name in names:
            bar.set_postfix(reader=name, refresh=False)
            reader = make_reader(name, images, labels, tree, batch_size=batch_size, shuffle=True, seed=seed)
            table = time_epochs(reader, epochs=epochs, warmup=warmup, bar=bar)
            table.insert(0, "label", READERS[name])
            table.insert(0, "reader", name)
            tables.append(table)
    return pd.concat(tables, ignore_index=True)


def summarise_throughput(table: pd.DataFrame) -> pd.DataFrame:
    """One row per reader (in the table's order): median images/s over the epochs, and the range.

    Also ``relative``: the median divided by the fastest reader's median. Taught in
    ``06_preprocessing``; used by :func:`plot_throughput`.
    """
    g = table.groupby("reader", sort=False)
    out = pd.DataFrame({
        "label": g["label"].first(),
        "epochs": g["epoch"].count(),
        "images_per_epoch": g["images"].first(),
        "median_images_per_s": g["images_per_s"].median(),
        "min_images_per_s": g["images_per_s"].min(),
        "max_images_per_s": g["images_per_s"].max(),
    })
    out["relative"] = out["median_images_per_s"] / out["median_images_per_s"].max()
    return out


# --------------------------------------------------------------------------------------
# Timing the feature cache and the model
# --------------------------------------------------------------------------------------
def time_feature_cache(
    meta: pd.DataFrame,
    config=None,
    *,
    dataset: str,
    cache_dir: str | Path,
    n_jobs: int = -1,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Time :func:`~course_utils.sound.features.compute_images` cold (compute + write) and cached (read).

    ``cache_dir`` must not hold these images yet (use a fresh, e.g. temporary, folder),
    otherwise the "cold" run would only read them. Returns a table with one row per run
    (``run``, ``seconds``, ``clips``, ``clips_per_s``, ``file``, ``megabytes``) and the images.
    Taught in ``06_preprocessing``; ``make bench`` uses it too.
    """
    config = features.FeatureConfig() if config is None else config
    target = features.cache_path(meta, config, dataset, cache_dir)
    if target.exists():
        raise FileExistsError(f"{target} exists already, so a cold run would only read it. Fix: give an empty cache_dir.")
    rows = []
    for run in ("cold: compute and write", "cached: read back"):
        t0 = time.perf_counter()
        images = features.compute_images(meta, config, dataset=dataset, cache_dir=cache_dir, n_jobs=n_jobs, progress=False)
        seconds = time.perf_counter() - t0
        rows.append(dict(run=run, seconds=seconds, clips=len(meta), clips_per_s=len(meta) / seconds,
                         file=target.name, megabytes=target.stat().st_size / 1e6))
    return pd.DataFrame(rows), images


def model_throughput(model, x: np.ndarray, y: np.ndarray, *, steps: int = 5, warmup: int = 1) -> dict[str, float]:
    """How many images per second a compiled Keras ``model`` trains on: ``train_on_batch(x, y)`` timed.

    The first ``warmup`` steps (which build and trace the model) are not timed. Returns
    ``steps``, ``images``, ``seconds`` and ``images_per_s``: the rate a reader has to beat so
    as not to slow training down. Taught in ``06_preprocessing``.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got {steps} and {warmup}")
    for _ in range(warmup):
        model.train_on_batch(x, y)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    seconds = time.perf_counter() - t0
    return dict(steps=steps, images=steps * len(x), seconds=seconds, images_per_s=steps * len(x) / seconds)


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def plot_trim(y: np.ndarray, sr: int, start: float, end: float, length: float, ax: plt.Axes | None = None,
              title: str | None = None) -> plt.Axes:
    """A waveform with the trimmed-away head and tail shaded and the kept window of ``length`` s framed.

    ``start`` and ``end`` (s) bound the speech that trimming keeps; the window of ``length``
    seconds is centred on it, as :func:`course_utils.data.audio.fix_length` does (where it
    reaches beyond the speech, zeros are padded). Taught in ``06_preprocessing``.
    """
    ax = ax or plt.gca()
    t = np.arange(len(y)) / sr
    ax.plot(t, y, linewidth=0.5, color="tab:blue")
    total = len(y) / sr
    ax.axvspan(0, start, color="0.6", alpha=0.45, label="trimmed silence")
    ax.axvspan(end, total, color="0.6", alpha=0.45)
    centre = (start + end) / 2
    lo, hi = centre - length / 2, centre + length / 2
    ax.axvline(lo, color="tab:red", linestyle="--", linewidth=1.2, label=f"kept {length:g} s window")
    ax.axvline(hi, color="tab:red", linestyle="--", linewidth=1.2)
    ax.set_xlim(min(0.0, lo), max(total, hi))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude (full scale)")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_image_grid(images: Sequence[np.ndarray], titles: Sequence[str], duration: float, ncols: int = 4,
                    cmap: str = "gray") -> plt.Figure:
    """Images (H, W) in [0, 1] side by side, as the network sees them: grey levels, lowest Mel band at the bottom.

    The x axis is time in seconds (the image spans ``duration`` s), the y axis the Mel band
    (image row); one shared colour bar. Taught in ``06_preprocessing``.
    """
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False, constrained_layout=True)
    im = None
    for ax, img, title in zip(axes.flat, images, titles):
        im = ax.imshow(img, origin="lower", aspect="auto", cmap=cmap, vmin=0, vmax=1,
                       extent=(0, duration, 0, img.shape[0]))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("Mel band (row)")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label="pixel value (0 = -80 dB, 1 = loudest)")
    return fig


def plot_throughput(table: pd.DataFrame, ax: plt.Axes | None = None, title: str | None = None,
                    reference: Mapping[str, float] | None = None) -> plt.Axes:
    """Bar chart of the median images/s per reader (log scale), with each timed epoch as a dot.

    ``reference`` draws a dashed vertical line per ``{label: images per second}``, e.g. the
    rate at which a model trains (:func:`model_throughput`). Taught in ``06_preprocessing``.
    """
    ax = ax or plt.gca()
    summary = summarise_throughput(table)
    y = np.arange(len(summary))
    ax.barh(y, summary["median_images_per_s"], color="tab:blue", alpha=0.75, label="median over epochs")
    for i, reader in enumerate(summary.index):
        rates = table.loc[table["reader"] == reader, "images_per_s"]
        ax.plot(rates, np.full(len(rates), i), "o", color="black", markersize=3, label="one epoch" if i == 0 else None)
        ax.text(max(summary["median_images_per_s"].iloc[i], rates.max()) * 1.25, i,
                f"{summary['median_images_per_s'].iloc[i]:,.0f}/s", va="center", fontsize=9)
    for (label, rate), colour in zip((reference or {}).items(), ("tab:red", "tab:green", "tab:purple")):
        ax.axvline(rate, color=colour, linestyle="--", linewidth=1.5, label=f"{label}: {rate:,.0f}/s")
    ax.set_yticks(y, summary["label"])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=summary["max_images_per_s"].max() * 5)
    ax.set_xlabel("throughput (images per second, log scale)")
    ax.set_title(title or "How fast each reader delivers batches")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=3, fontsize=8, frameon=False)
    return ax
