"""``make bench``: how fast the course's features and models run here, next to the study's way.

The study saved each log-Mel image as a PNG file and streamed the files through a Keras
``ImageDataGenerator`` (R could not hold the arrays in memory). The course keeps the images in
one array and feeds ``tf.data`` from memory. :func:`run_bench` measures both ways in the same
run, on the same images, and writes ``build/bench.json``:

- **features**: log-Mel images computed and written to the ``.npz`` cache (cold) and read back
  (cached), in files per second; the study's way: the same images written as PNG files, and
  read back through ``ImageDataGenerator``;
- **models**: for every network of chapters 08-12, training and inference samples per second with
  each reader (a training step includes fetching its batch; the rate of the median step, so that
  a step slowed down by another program does not move it), the time of one epoch of the study's
  split (1008 training + 216 validation clips on the full set), the parameter count and the
  peak memory of the process.

Every (model, reader) pair runs in a fresh process (``multiprocessing`` "spawn"), so that its
peak resident memory (``ru_maxrss``) is its own and one measurement cannot warm up the next.
Numbers depend on the machine and on what else runs on it: ``bench.json`` records the CPU count,
versions and the settings. Taught in ``06_preprocessing`` (readers and throughput, with
:mod:`course_utils.learning.pipeline`); the README's run-time estimate for the full course comes from
it, and ``99_results`` prints its last result (:func:`course_utils.course.summary.bench_report`).
Command line: ``python -m course_utils bench`` (``make bench``; ``make bench QUICK=1`` for
:func:`quick_settings`). Build tooling (:mod:`course_utils.tools`): no notebook imports it.
"""

from __future__ import annotations

import itertools
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from course_utils.base import paths
from course_utils.course.results import write_json_atomic

#: The networks measured, with the chapter that trains them.
MODELS = {
    "cnn_binary": "Table 1 CNN, Dense 128, 1 sigmoid (sex, statement; 08)",
    "cnn_actor": "Table 1 CNN, Dense 512, 24-way softmax (actor; 09)",
    "cnn_emotion": "Table 1 CNN, Dense 256, 8-way softmax (emotion; 09, 10)",
    "autoencoder": "Table 2 autoencoder, MSE (12)",
    "vgg16": "VGG16, trainable from block3_conv1, new head (emotion; 11)",
}
#: The two ways of feeding images: the course's and the study's.
READERS = {
    "memory": "course: tf.data from arrays in memory",
    "keras_generator": "study: PNG files through Keras ImageDataGenerator",
}


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchSettings:
    """What one bench run measures: the defaults are ``make bench``'s (``python -m course_utils
    bench``); :func:`quick_settings` gives those of ``make bench QUICK=1``. Recorded in
    ``bench.json``."""

    side: int = 256  # image side in pixels (the study's 256)
    batch_size: int = 32  # the study's batch size
    train_steps: int = 8  # timed training steps per (model, reader)
    infer_steps: int = 8  # timed inference batches per (model, reader)
    warmup: int = 2  # untimed steps first (tracing, first allocations)
    vgg_steps: int = 2  # VGG16 is ~60 times slower: fewer timed steps
    n_train: int = 1008  # clips per training epoch, for the epoch-time estimate
    n_val: int = 216  # clips per validation pass
    n_jobs: int = -1  # processes for the log-Mel images
    seed: int = 0


def quick_settings() -> BenchSettings:
    """Settings of ``make bench QUICK=1`` (``python -m course_utils bench --quick 1``, run on the
    six actors of quick mode): 64 x 64 images and a few steps."""
    return BenchSettings(side=64, train_steps=3, infer_steps=3, warmup=1, vgg_steps=1, n_train=252, n_val=54)


# --------------------------------------------------------------------------------------
# The models: one measurement per (model, reader)
# --------------------------------------------------------------------------------------
def build_model(name: str, side: int, seed: int = 0):
    """The compiled model ``name`` (a key of :data:`MODELS`) for ``side x side`` images, and its
    number of classes (``None`` for the autoencoder, whose target is its input). Used by
    :func:`measure_model` (``make bench``) and the tests."""
    from course_utils.learning import models

    shape = (side, side, 1)
    if name == "cnn_binary":
        return models.compile_for(models.study_cnn(shape, n_classes=1, seed=seed), 1), 2
    if name == "cnn_actor":
        return models.compile_for(models.study_cnn(shape, n_classes=24, dense_units=512, seed=seed), 24), 24
    if name == "cnn_emotion":
        return models.compile_for(models.study_cnn(shape, n_classes=8, dense_units=256, seed=seed), 8), 8
    if name == "autoencoder":
        auto, _ = models.study_autoencoder(shape, seed=seed)
        return models.compile_for(auto, None), None
    if name == "vgg16":
        return models.compile_for(models.vgg16_transfer(shape, n_classes=8, weights=None, seed=seed), 8), 8
    raise ValueError(f"unknown model {name!r}: choose from {', '.join(MODELS)}")


def _endless(reader):
    """Batches of ``reader`` (each ``iter()`` one epoch) without end, as ``(x, y)`` numpy-able pairs."""
    while True:
        yield from reader


def measure_model(name: str, reader: str, images_file: str, tree, settings: BenchSettings) -> dict:
    """Training and inference samples/s of model ``name`` fed by ``reader`` (a key of :data:`READERS`).

    ``images_file``: a ``.npy`` of the images (N, H, W) in [0, 1], loaded only by the in-memory
    reader; ``tree``: the same images as a :class:`course_utils.learning.pipeline.PngTree` (its labels are the
    classes used here). Each timed training step fetches its batch from the reader and runs
    ``train_on_batch``; inference runs ``predict_on_batch`` on fetched batches. Used by
    :func:`run_bench` (``make bench``), in a fresh process per call, and the tests.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from course_utils.learning import pipeline, training

    training.set_determinism(settings.seed)
    model, n_classes = build_model(name, settings.side, seed=settings.seed)
    labels = tree.labels if n_classes is None else tree.labels % n_classes
    if reader == "memory":
        images = np.load(images_file)
        source = pipeline.memory_dataset(images, labels, batch_size=settings.batch_size, seed=settings.seed)
    elif reader == "keras_generator":
        source = pipeline.keras_generator(tree, batch_size=settings.batch_size, seed=settings.seed)
    else:
        raise ValueError(f"unknown reader {reader!r}: choose from {', '.join(READERS)}")
    steps = settings.vgg_steps if name == "vgg16" else settings.train_steps
    infer = settings.vgg_steps if name == "vgg16" else settings.infer_steps
    batches = _endless(source)

    def step():
        x, y = next(batches)
        x = np.asarray(x, dtype="float32")
        y = np.asarray(y) if n_classes is not None else x
        if n_classes is not None:
            y = y % n_classes  # the generator numbers classes by folder
        model.train_on_batch(x, y)
        return len(x)

    for _ in range(settings.warmup):
        step()
    train_rates = []
    for _ in range(steps):
        t0 = time.perf_counter()
        n = step()
        train_rates.append(n / (time.perf_counter() - t0))

    def predict():
        x, _ = next(batches)
        model.predict_on_batch(np.asarray(x, dtype="float32"))
        return len(x)

    predict()  # warm-up
    infer_rates = []
    for _ in range(infer):
        t0 = time.perf_counter()
        n = predict()
        infer_rates.append(n / (time.perf_counter() - t0))
    # the median step: one step slowed down by another program does not move it
    train_rate, infer_rate = float(np.median(train_rates)), float(np.median(infer_rates))
    return {
        "model": name,
        "reader": reader,
        "parameters": int(model.count_params()),
        "train_samples_per_s": train_rate,
        "infer_samples_per_s": infer_rate,
        "epoch_s": settings.n_train / train_rate + settings.n_val / infer_rate,
        "timed_train_steps": steps,
        "train_rate_range": [float(min(train_rates)), float(max(train_rates))],
        "peak_memory_mb": training.peak_memory_mb(),
    }


# --------------------------------------------------------------------------------------
# The features: the course's cache and the study's PNG files
# --------------------------------------------------------------------------------------
def measure_features(meta: pd.DataFrame, dataset: str, workdir: str, settings: BenchSettings) -> tuple[list[dict], object]:
    """Files/s of the course's feature cache (cold, cached) and of the study's PNG files (write, read).

    Writes into ``workdir``: the feature cache, ``images.npy`` (for :func:`measure_model`) and the
    PNG tree (``png/``). Returns the feature rows and the PNG tree. Used by :func:`run_bench`
    (``make bench``) and the tests.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from course_utils.sound import features
    from course_utils.learning import pipeline

    config = features.FeatureConfig(image_size=(settings.side, settings.side))
    work = Path(workdir)
    table, images = pipeline.time_feature_cache(meta, config, dataset=dataset, cache_dir=work / "cache",
                                                 n_jobs=settings.n_jobs)
    rows = [
        {"step": "course: compute log-Mel images, write .npz cache (cold)", "seconds": table["seconds"].iloc[0]},
        {"step": "course: read .npz cache (cached)", "seconds": table["seconds"].iloc[1]},
    ]
    np.save(work / "images.npy", images)
    t0 = time.perf_counter()
    tree = pipeline.write_png_tree(images, [f"{e:02d}" for e in meta["emotion"]], work / "png",
                                    names=[Path(p).stem for p in meta["path"]])
    rows.append({"step": "study: write PNG files (images already computed)", "seconds": time.perf_counter() - t0})
    reader = pipeline.keras_generator(tree, batch_size=settings.batch_size, shuffle=False)
    t0 = time.perf_counter()
    for _ in reader:
        pass
    rows.append({"step": "study: read PNG files through ImageDataGenerator", "seconds": time.perf_counter() - t0})
    for row in rows:
        row["files"] = len(meta)
        row["files_per_s"] = len(meta) / row["seconds"]
    rows[-1]["megabytes"] = tree.nbytes() / 1e6
    rows[0]["megabytes"] = float(table["megabytes"].iloc[0])
    return rows, tree


# --------------------------------------------------------------------------------------
# A whole run
# --------------------------------------------------------------------------------------
def _call(isolate: bool, fn, *args):
    """Run ``fn(*args)`` in a fresh spawned process (``isolate``) or here."""
    if not isolate:
        return fn(*args)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def machine() -> dict:
    """The machine and versions a bench ran on (CPU count, platform, Python, TensorFlow, Keras, GPUs).
    Used by :func:`run_bench` (``make bench``): recorded in ``bench.json``."""
    import keras
    import tensorflow as tf

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def run_bench(
    meta: pd.DataFrame,
    dataset: str,
    *,
    settings: BenchSettings = BenchSettings(),
    model_names=tuple(MODELS),
    readers=tuple(READERS),
    output: str | Path | None = None,
    isolate: bool = True,
    mode: str = "full",
    progress=print,
) -> dict:
    """Measure features and every (model, reader); write the result as JSON to ``output``.

    ``output`` defaults to ``build/bench.json`` (written atomically). ``isolate=False`` runs
    everything in this process (for tests: peak memory is then this process's). ``progress``
    receives one line per measurement (``None``: silent). Returns the JSON as a dict. Used by
    ``python -m course_utils bench`` (``make bench``) and the tests.
    """
    say = progress or (lambda *_: None)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-bench-") as work:
        say(f"features: {len(meta)} files, {settings.side} x {settings.side} images ...")
        feature_rows, tree = _call(isolate, measure_features, meta, dataset, work, settings)
        model_rows = []
        for name, reader in itertools.product(model_names, readers):
            t0 = time.perf_counter()
            row = _call(isolate, measure_model, name, reader, str(Path(work) / "images.npy"), tree, settings)
            model_rows.append(row)
            say(f"{name:12s} {reader:16s} train {row['train_samples_per_s']:8.1f}/s  "
                f"infer {row['infer_samples_per_s']:8.1f}/s  ({time.perf_counter() - t0:.0f} s)")
    payload = {
        "dataset": dataset,
        "mode": mode,
        "files": len(meta),
        "settings": asdict(settings),
        "machine": machine(),
        "seconds": round(time.perf_counter() - t_start, 1),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "features": feature_rows,
        "models": model_rows,
    }
    write_json_atomic(Path(output) if output else paths.build_dir() / "bench.json", payload)
    return payload
