"""A model that takes sound: chapter 16's network with the log-Mel recipe inside, as one Keras file.

Taught in ``16_better_emotion_model`` (section "A model that takes sound").

Every network of the course reads log-Mel *images*, made in Python by
:func:`course_utils.sound.features.signal_image`: trim the silence, centre in a fixed length,
STFT, Mel filter bank, decibels, scale to [0, 1], resize. A program that wants to use a trained
network (a web page, a phone app, another course) would have to repeat that recipe exactly, in the
same order, with the same constants; a small difference (another padding, another Mel formula)
silently changes every answer. TensorFlow's audio tutorials therefore export their models with
the front end inside, so that the saved model's input is the waveform itself. This module does
the same for the course's recipe:

- :class:`LogMelFrontEnd`: a Keras layer that turns a batch of waveforms (mono, float32 in
  [-1, 1], at the recipe's sample rate) into the images the network was trained on, step by step
  as :func:`course_utils.sound.features.signal_image` and
  :func:`course_utils.learning.classify.image_featurizer` do (librosa's ``effects.trim``,
  the course's centring ``audio.fix_length``, librosa's ``feature.melspectrogram`` and
  ``power_to_db``, PIL's bilinear resize, float16 rounding), written with TensorFlow's signal
  functions. The Mel filter bank and the two resize matrices are stored in the layer as fixed
  (non-trainable) weights, so that loading the file needs neither librosa nor PIL;
- :func:`front_end`: that layer for a :class:`course_utils.sound.features.FeatureConfig`;
- :func:`waveform_model`: front end + a trained image network = one ``keras.Model`` whose input
  is named ``waveform``; :func:`class_names` reads back the names of its outputs;
- :func:`save` (atomically: a temporary file, then a rename) and :func:`load`;
  :func:`predict_in_fresh_process` loads the file in a new Python process, the proof that the
  file alone gives the chapter's probabilities.

The input of the saved model is a batch ``(clips, samples)`` at ``config.sample_rate`` Hz, any
number of samples; clips of one batch must have the same length (one clip per call is always
right), because the silence is trimmed from the ends of the array as given. Loading needs
``course_utils`` imported (the layer, and the network's SpecAugment layer, are course layers
registered with Keras); the README shows the few lines.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import keras
import librosa
import numpy as np
import tensorflow as tf
from keras import layers
from PIL import Image

from course_utils.data.atomic import atomic_path
from course_utils.sound import features
from course_utils.learning import augment  # noqa: F401  (registers SpecAugment, a layer of chapter 16's network)

#: librosa.effects.trim's frames (its defaults, which audio.trim_silence uses).
TRIM_FRAME = 2048
TRIM_HOP = 512


# --------------------------------------------------------------------------------------
# Fixed matrices of the recipe
# --------------------------------------------------------------------------------------
def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """PIL's bilinear resize of one axis from ``n_in`` to ``n_out`` values, as a matrix
    ``(n_in, n_out)``: ``row @ M`` is ``Image.resize`` of that row. Found by resizing each unit
    vector (the resize is linear), so it is PIL's own filter, antialiasing included. Used by
    :func:`front_end` (``16_better_emotion_model``)."""
    if n_in == n_out:
        return np.eye(n_in, dtype=np.float32)
    rows = []
    for j in range(n_in):
        unit = np.zeros((1, n_in), dtype=np.float32)
        unit[0, j] = 1.0
        rows.append(np.asarray(Image.fromarray(unit).resize((n_out, 1), Image.BILINEAR), dtype=np.float32)[0])
    return np.stack(rows)


# --------------------------------------------------------------------------------------
# The front end
# --------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="course_utils")
class LogMelFrontEnd(layers.Layer):
    """Waveforms ``(clips, samples)`` -> log-Mel images ``(clips, height, width, 1)`` in [0, 1].

    The recipe of :func:`course_utils.sound.features.signal_image`, step by step:

    1. trim: frames of 2048 samples every 512 (centred, zero-padded), their RMS level in dB
       relative to the loudest frame; keep from the first to the last frame above
       ``-trim_top_db`` dB (``librosa.effects.trim``);
    2. centre the kept part in ``duration`` s: crop both ends equally or pad both with zeros
       (``audio.fix_length``);
    3. power spectrogram (Hann window of ``n_fft``, hop ``hop_length``, centred, zero-padded)
       through the Mel filter bank (``librosa.feature.melspectrogram``);
    4. decibels relative to the loudest bin, floor ``-db_range`` (``librosa.power_to_db``), then
       0 = ``-db_range`` dB and 1 = the loudest bin (``features.to_image``);
    5. resize to ``image_size`` (PIL's bilinear filter, as matrices) and round to float16, as
       the feature cache stores the training images.

    The filter bank and the resize matrices are fixed weights (set by :func:`front_end`, then
    stored in the saved file). ``class_names``: the names of the outputs of the model this
    layer feeds, kept here so that the saved file says what it predicts (:func:`class_names`).
    Taught in ``16_better_emotion_model``.
    """

    def __init__(self, sample_rate: int, duration: float, trim_top_db: float, n_fft: int, hop_length: int,
                 n_mels: int, db_range: float, image_size: Sequence[int], class_names: Sequence[str] = (), **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = int(sample_rate)
        self.duration = float(duration)
        self.trim_top_db = float(trim_top_db)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.n_mels = int(n_mels)
        self.db_range = float(db_range)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.class_names = tuple(str(c) for c in class_names)
        self.n_samples = int(round(self.duration * self.sample_rate))
        self.n_frames = 1 + self.n_samples // self.hop_length
        self.mel_basis = self.add_weight(shape=(self.n_fft // 2 + 1, self.n_mels), initializer="zeros",
                                         trainable=False, name="mel_basis")
        self.resize_time = self.add_weight(shape=(self.n_frames, self.image_size[1]), initializer="zeros",
                                           trainable=False, name="resize_time")
        self.resize_mel = self.add_weight(shape=(self.image_size[0], self.n_mels), initializer="zeros",
                                          trainable=False, name="resize_mel")

    def get_config(self):
        config = super().get_config()
        config.update(sample_rate=self.sample_rate, duration=self.duration, trim_top_db=self.trim_top_db,
                      n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels, db_range=self.db_range,
                      image_size=list(self.image_size), class_names=list(self.class_names))
        return config

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.image_size[0], self.image_size[1], 1)

    def trim_and_centre(self, y):
        """Steps 1 and 2: ``(clips, samples)`` -> ``(clips, n_samples)``."""
        length = tf.shape(y)[1]
        padded = tf.pad(y, [[0, 0], [TRIM_FRAME // 2, TRIM_FRAME // 2]])
        frames = tf.signal.frame(padded, TRIM_FRAME, TRIM_HOP)
        rms = tf.sqrt(tf.reduce_mean(tf.square(frames), axis=-1))
        amin = 1e-5
        db = 20.0 * (_log10(tf.maximum(amin, rms)) - _log10(tf.maximum(amin, tf.reduce_max(rms, axis=-1, keepdims=True))))
        loud = db > -self.trim_top_db
        index = tf.range(tf.shape(loud)[1])[None, :]
        big = tf.int32.max
        first = tf.reduce_min(tf.where(loud, index, big), axis=1)
        last = tf.reduce_max(tf.where(loud, index, -1), axis=1)
        found = tf.reduce_any(loud, axis=1)
        start = tf.where(found, first * TRIM_HOP, 0)
        end = tf.where(found, tf.minimum(length, (last + 1) * TRIM_HOP), 0)
        kept = end - start
        target = self.n_samples
        offset = tf.where(kept >= target, (kept - target) // 2, -((target - kept) // 2))
        position = offset[:, None] + tf.range(target)[None, :]
        inside = (position >= 0) & (position < kept[:, None])
        source = tf.clip_by_value(start[:, None] + position, 0, tf.maximum(length - 1, 0))
        taken = tf.gather(y, source, batch_dims=1)
        return tf.where(inside, taken, tf.zeros_like(taken))

    def call(self, waveforms):
        y = tf.convert_to_tensor(waveforms, dtype=tf.float32)
        y = self.trim_and_centre(y)
        padded = tf.pad(y, [[0, 0], [self.n_fft // 2, self.n_fft // 2]])
        frames = tf.signal.frame(padded, self.n_fft, self.hop_length)
        window = tf.signal.hann_window(self.n_fft, periodic=True, dtype=tf.float32)
        spectrum = tf.signal.rfft(frames * window)
        power = tf.square(tf.math.real(spectrum)) + tf.square(tf.math.imag(spectrum))
        mel = tf.matmul(power, self.mel_basis)  # (clips, frames, mels)
        amin = 1e-10
        db = 10.0 * (_log10(tf.maximum(amin, mel)) - _log10(tf.maximum(amin, tf.reduce_max(mel, axis=[1, 2], keepdims=True))))
        db = tf.maximum(db, tf.reduce_max(db, axis=[1, 2], keepdims=True) - self.db_range)
        image = tf.clip_by_value((db + self.db_range) / self.db_range, 0.0, 1.0)
        image = tf.transpose(image, [0, 2, 1])  # (clips, mels, frames): row 0 the lowest band
        image = tf.matmul(self.resize_mel, tf.matmul(image, self.resize_time))
        image = tf.clip_by_value(image, 0.0, 1.0)
        image = tf.cast(tf.cast(image, tf.float16), tf.float32)  # the precision of the feature cache
        return image[..., None]


def _log10(x):
    return tf.math.log(x) / tf.math.log(tf.constant(10.0, dtype=x.dtype))


def front_end(config: features.FeatureConfig, class_names: Sequence[str] = ()) -> LogMelFrontEnd:
    """The :class:`LogMelFrontEnd` of ``config``, its fixed weights set: librosa's Mel filter bank
    (``librosa.filters.mel``, the Slaney formula and normalisation that
    :func:`course_utils.sound.features.log_mel` uses) and PIL's resize as matrices
    (:func:`resize_matrix`). Taught in ``16_better_emotion_model``."""
    if config.trim_top_db is None:
        raise ValueError("the recipe trims with trim_top_db; a FeatureConfig without it has no front end here")
    layer = LogMelFrontEnd(config.sample_rate, config.duration, config.trim_top_db, config.n_fft, config.hop_length,
                           config.mels, config.db_range, config.image_size, class_names, name="log_mel_front_end")
    basis = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.mels, fmin=config.fmin,
                                fmax=config.fmax).astype(np.float32)
    layer.mel_basis.assign(basis.T)
    layer.resize_time.assign(resize_matrix(layer.n_frames, config.image_size[1]))
    layer.resize_mel.assign(resize_matrix(config.mels, config.image_size[0]).T)
    return layer


# --------------------------------------------------------------------------------------
# The whole model: sound in, probabilities out
# --------------------------------------------------------------------------------------
def waveform_model(image_model: keras.Model, config: features.FeatureConfig, class_names: Sequence[str],
                   name: str = "emotion_from_sound") -> keras.Model:
    """``waveform (clips, samples) -> front end -> image_model -> probabilities``, one Keras model.

    ``image_model`` is a trained network on images of ``config`` (chapter 16's final model). It is
    copied without its training state (rebuilt from its configuration, then its weights), so that the
    saved file holds what a prediction needs and not the optimiser's moments, which would triple
    its size. ``class_names`` are the names of its outputs, in order. Taught in
    ``16_better_emotion_model``."""
    height, width = config.image_size
    expected = tuple(image_model.input_shape[1:3])
    if expected != (height, width):
        raise ValueError(f"the network reads {expected} images but the recipe makes {(height, width)}. "
                         "Fix: pass the FeatureConfig the network was trained with.")
    n_out = int(image_model.output_shape[-1])
    if len(class_names) != n_out:
        raise ValueError(f"the network has {n_out} outputs but {len(class_names)} class names were given")
    network = type(image_model).from_config(image_model.get_config())  # uncompiled (clone_model would compile it)
    network.set_weights(image_model.get_weights())
    inputs = keras.Input(shape=(None,), name="waveform")
    outputs = network(front_end(config, class_names)(inputs))
    return keras.Model(inputs, outputs, name=name)


def _front_end_of(model: keras.Model) -> LogMelFrontEnd:
    for layer in model.layers:
        if isinstance(layer, LogMelFrontEnd):
            return layer
    raise ValueError(f"model {model.name!r} has no LogMelFrontEnd: it does not take sound")


def class_names(model: keras.Model) -> list[str]:
    """The names of a :func:`waveform_model`'s outputs, stored in its front end. Taught in
    ``16_better_emotion_model``."""
    return list(_front_end_of(model).class_names)


def sample_rate(model: keras.Model) -> int:
    """The sample rate (Hz) a :func:`waveform_model` expects its input at. Taught in
    ``16_better_emotion_model``."""
    return _front_end_of(model).sample_rate


def save(model: keras.Model, path: str | Path) -> Path:
    """Save ``model`` as one ``.keras`` file, atomically (a temporary file, then a rename: an
    interrupted save never leaves half a model under ``path``). Taught in
    ``16_better_emotion_model``."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: Keras 3 saves whole models as .keras files. Fix: name it {path.with_suffix('.keras').name}")
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def load(path: str | Path) -> keras.Model:
    """Load a model saved with :func:`save` (the course's layers are registered on import of this
    module). A missing or damaged file raises an error naming it. Taught in
    ``16_better_emotion_model``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist. Fix: run chapter 16 (it saves the model) or check the path")
    try:
        return keras.saving.load_model(path)
    except Exception as err:  # a truncated zip, another format
        raise ValueError(f"{path} is not a loadable Keras model ({type(err).__name__}: {err}). "
                         "Fix: save it again with course_utils.learning.sound_model.save") from err


def predict_in_fresh_process(path: str | Path, waveforms: Sequence[np.ndarray], *, timeout: float = 600) -> np.ndarray:
    """Load the saved model at ``path`` in a new Python process and return its probabilities for
    each waveform (one call per clip, so clips may differ in length): the check that the file
    alone, without this session's objects, gives the chapter's answers. Raises a
    ``RuntimeError`` with the other process's last lines when it fails. Taught in
    ``16_better_emotion_model``."""
    code = ("import sys, numpy as np\n"
            "from course_utils.base import quiet\n"
            "quiet.import_tensorflow()\n"
            "from course_utils.learning import sound_model\n"
            "model = sound_model.load(sys.argv[1])\n"
            "clips = np.load(sys.argv[2])\n"
            "out = np.stack([model.predict(clips[f'clip{k}'][None], verbose=0)[0] for k in range(len(clips.files))])\n"
            "np.save(sys.argv[3], out)\n")
    with tempfile.TemporaryDirectory() as tmp:
        clips, out = Path(tmp) / "clips.npz", Path(tmp) / "out.npy"
        np.savez(clips, **{f"clip{k}": np.asarray(w, dtype=np.float32) for k, w in enumerate(waveforms)})
        done = subprocess.run([sys.executable, "-c", code, str(path), str(clips), str(out)], capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"loading {path} in a fresh process failed:\n" + "\n".join(done.stderr.splitlines()[-8:]))
        return np.load(out)


def match(fresh: np.ndarray, chapter: np.ndarray) -> dict[str, float]:
    """How closely a reloaded model gives the chapter's probabilities (both arrays
    ``(clips, classes)``, rows in the same order): ``max_difference``, the largest absolute
    difference, and ``same_class``, the share of clips with the same predicted class. Recorded by
    ``16_better_emotion_model``; :func:`agreement` says it in words."""
    fresh, chapter = np.asarray(fresh, dtype=float), np.asarray(chapter, dtype=float)
    if fresh.shape != chapter.shape or fresh.ndim != 2 or len(fresh) == 0:
        raise ValueError(f"need two (clips, classes) arrays of one shape, got {fresh.shape} and {chapter.shape}")
    return {"max_difference": float(np.max(np.abs(fresh - chapter))),
            "same_class": float(np.mean(fresh.argmax(1) == chapter.argmax(1)))}


def agreement(fresh: np.ndarray, chapter: np.ndarray, tol: float = 1e-3) -> str:
    """A sentence on whether a reloaded model gives the chapter's probabilities: the largest
    difference against ``tol`` and the share of clips with the same predicted class
    (:func:`match`). Taught in ``16_better_emotion_model``."""
    m = match(fresh, chapter)
    diff, n = m["max_difference"], len(fresh)
    same = int(round(m["same_class"] * n))
    if diff <= tol:
        return (f"The file alone gives the chapter's probabilities: the largest difference over {n} clips is {diff:.1e} "
                f"(within {tol:g}), and the predicted class is the same for {same} of {n}.")
    return (f"The file does NOT give the chapter's probabilities: the largest difference over {n} clips is {diff:.1e} "
            f"(more than {tol:g}); the predicted class is the same for {same} of {n}. Something in the saved recipe differs.")
