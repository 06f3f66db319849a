"""tf.data input pipelines for Keras.

Taught in ``06_preprocessing``; used by every model notebook.

The study streamed PNG files through a Keras ``ImageDataGenerator`` because R could not hold
the arrays in memory. In Python the 1440 images (256 x 256, float16 on disk) fit in memory,
so a ``tf.data.Dataset`` built from the cached array feeds the model: shuffled with a fixed
seed, batched and prefetched while the model trains.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


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
