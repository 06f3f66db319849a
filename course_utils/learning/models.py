"""The Keras models of the study, rebuilt layer by layer.

Taught in ``08_cnn_binary`` (:func:`study_cnn`, :func:`compile_for`), ``09_cnn_multiclass``
(the actor and emotion heads of :func:`study_cnn`), ``10_augmentation`` (the same CNN on
augmented images), ``11_transfer_vgg16`` (:func:`vgg16_transfer`) and ``12_autoencoder``
(:func:`study_autoencoder`, :func:`study_ffnn`). ``13_multitask`` builds its networks on
:func:`study_trunk`, and ``15_uncertainty`` compiles its network with :func:`compile_for`.

A convolutional network reads a log-Mel image through small filters: a 3 x 3 filter responds
to one local pattern (the start of a sound, a harmonic, the edge of a formant) wherever in time
and frequency it occurs, and every max-pooling layer halves the resolution, so that later layers
see longer stretches of the clip and wider bands. The parameters are counted layer by layer: a
convolution with a :math:`k \\times k` kernel from :math:`C_\\text{in}` to :math:`C_\\text{out}`
channels has :math:`(k^2 C_\\text{in} + 1)\\, C_\\text{out}` parameters whatever the image size,
a dense layer from :math:`n_\\text{in}` to :math:`n_\\text{out}` units has
:math:`(n_\\text{in} + 1)\\, n_\\text{out}`. The convolutions are therefore cheap; the dense
layer after Flatten, whose :math:`n_\\text{in}` grows with the image, holds almost all of the
study's parameters.

Every builder seeds Keras first (``keras.utils.set_random_seed``), so the same ``seed`` gives
the same initial weights, and returns an uncompiled model; :func:`compile_for` adds the
optimiser, loss and metric the study used (Adam, cross-entropy, accuracy).

Parameter counts of the study's tables, which the builders reproduce exactly:

- Table 1 CNN, 256 x 256 x 1, binary: 31,509,121 (the Flatten layer has 62 * 62 * 64 = 246,016
  units, so almost all parameters sit in the first dense layer).
- Table 2 autoencoder: 1,058,273 (see :func:`study_autoencoder` for the choices this needs).
- Table 3 FFNN on the 128-d codes: 74,696.

================================  ====================================================
helper                            what it does
================================  ====================================================
:func:`study_trunk`               the CNN's two convolutions and poolings, up to Flatten
:func:`study_cnn`                 the study's CNN (Table 1), binary or multi-class
:func:`study_autoencoder`         the study's convolutional autoencoder (Table 2) and its
                                  encoder
:func:`study_ffnn`                the study's classifier on the autoencoder's codes
                                  (Table 3)
:class:`VGGPreprocess`            grayscale images as VGG16's ImageNet weights expect them
:func:`vgg16_transfer`            VGG16, frozen up to a layer, with a new dense head
:func:`compile_for`               Adam, the loss that suits the output, and accuracy
================================  ====================================================
"""

from __future__ import annotations

import warnings

import keras
from keras import layers, ops

#: Input shape of the study's images: 256 x 256 log-Mel spectrograms, one channel.
STUDY_INPUT = (256, 256, 1)


# --------------------------------------------------------------------------------------
# Shared pieces: the seed and the output layer
# --------------------------------------------------------------------------------------
def _seed(seed: int | None) -> None:
    if seed is not None:
        keras.utils.set_random_seed(int(seed))


def classifier_output(x, n_classes: int, name: str = "output"):
    """The output layer of a classifier: Dense 1 sigmoid for a binary task (``n_classes`` 1 or 2),
    else Dense ``n`` softmax. Taught in ``08_cnn_binary`` (one sigmoid unit for two classes) and
    ``09_cnn_multiclass`` (softmax); every network of :mod:`course_utils.learning.models` and the
    heads of :mod:`course_utils.learning.multitask` (``13_multitask``) end with it."""
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    if n_classes <= 2:
        return layers.Dense(1, activation="sigmoid", name=name)(x)
    return layers.Dense(n_classes, activation="softmax", name=name)(x)


# --------------------------------------------------------------------------------------
# The study's CNN (Table 1)
# --------------------------------------------------------------------------------------
def study_trunk(inputs):
    """The convolutional trunk of the study's CNN (Table 1), applied to ``inputs``: Conv2D 32 3x3
    ReLU -> MaxPool 2 -> Conv2D 64 3x3 ReLU -> MaxPool 2 -> Flatten (layers ``conv1`` ... ``flatten``).

    Used by :func:`study_cnn` (``08_cnn_binary`` to ``10_augmentation``) and by
    :func:`course_utils.learning.multitask.build_network` (``13_multitask``), so both build the same
    layers in the same order (the same seed gives the same initial weights).
    """
    x = layers.Conv2D(32, (3, 3), activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, (3, 3), activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    return layers.Flatten(name="flatten")(x)


def study_cnn(
    input_shape: tuple[int, int, int] = STUDY_INPUT,
    n_classes: int = 1,
    dense_units: int = 128,
    dropout: float = 0.5,
    name: str = "study_cnn",
    seed: int | None = 0,
) -> keras.Model:
    """The study's CNN (Table 1).

    Conv2D 32 3x3 ReLU -> MaxPool 2 -> Conv2D 64 3x3 ReLU -> MaxPool 2 -> Flatten ->
    Dense ``dense_units`` ReLU -> Dropout ``dropout`` -> output, with 'valid' convolutions
    (Keras' default, as in the study). The output is Dense 1 sigmoid for a binary task
    (``n_classes`` 1 or 2: statement, sex) and Dense ``n_classes`` softmax otherwise.
    The study's heads: binary Dense 128 (31,509,121 parameters at 256 x 256), actor id
    Dense 512 with 24 classes, emotion Dense 256 with 8 classes.

    Taught in ``08_cnn_binary``, ``09_cnn_multiclass`` and ``10_augmentation``.
    """
    _seed(seed)
    inputs = keras.Input(shape=tuple(input_shape), name="log_mel")
    x = study_trunk(inputs)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = classifier_output(x, n_classes)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------------------
# The autoencoder and the classifier on its codes (Tables 2 and 3)
# --------------------------------------------------------------------------------------
def study_autoencoder(
    input_shape: tuple[int, int, int] = STUDY_INPUT,
    latent: int = 128,
    seed: int | None = 0,
) -> tuple[keras.Model, keras.Model]:
    """The study's convolutional autoencoder (Table 2); returns ``(autoencoder, encoder)``.

    Conv2D 32 (2x2) -> MaxPool 4 -> Conv2D 16 (2x2) -> MaxPool 4 -> Flatten (4096) ->
    Dense ``latent`` (the code) -> Dense 4096 -> Reshape 16x16x16 -> Conv2D 16 -> UpSampling 4 ->
    Conv2D 32 -> UpSampling 4 -> Conv2D 1. The encoder shares the layers up to the code.

    The table gives neither all kernels nor the paddings nor the activations; these choices
    reproduce the study's 1,058,273 parameters and a 256 x 256 x 1 output exactly:

    - every convolution has a 2x2 kernel (decoder convolutions: 2*2*16*16+16 = 1,040,
      2*2*16*32+32 = 2,080, 2*2*32*1+1 = 129; the 3,249 parameters left after the dense
      layers allow no other kernel sizes) and 'same' padding (a 'valid' first convolution
      would give 255 -> 63 -> 15 rows, not the 16 x 16 x 16 = 4,096 of the table's Flatten;
      'valid' decoder convolutions would not return to 256 x 256);
    - ReLU on the hidden layers, sigmoid on the last convolution (the images lie in [0, 1])
      and a linear code (activations add no parameters, so the count cannot decide them).

    Trained with MSE (``compile_for(model, None)``). Taught in ``12_autoencoder``.
    """
    _seed(seed)
    h, w, c = input_shape
    if h % 16 or w % 16:
        raise ValueError(f"input height and width must be multiples of 16, got {input_shape}")
    inputs = keras.Input(shape=tuple(input_shape), name="log_mel")
    x = layers.Conv2D(32, (2, 2), padding="same", activation="relu", name="enc_conv1")(inputs)
    x = layers.MaxPooling2D(4, name="enc_pool1")(x)
    x = layers.Conv2D(16, (2, 2), padding="same", activation="relu", name="enc_conv2")(x)
    x = layers.MaxPooling2D(4, name="enc_pool2")(x)
    x = layers.Flatten(name="enc_flatten")(x)
    code = layers.Dense(latent, name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")

    y = layers.Dense((h // 16) * (w // 16) * 16, activation="relu", name="dec_dense")(code)
    y = layers.Reshape((h // 16, w // 16, 16), name="dec_reshape")(y)
    y = layers.Conv2D(16, (2, 2), padding="same", activation="relu", name="dec_conv1")(y)
    y = layers.UpSampling2D(4, name="dec_up1")(y)
    y = layers.Conv2D(32, (2, 2), padding="same", activation="relu", name="dec_conv2")(y)
    y = layers.UpSampling2D(4, name="dec_up2")(y)
    outputs = layers.Conv2D(c, (2, 2), padding="same", activation="sigmoid", name="reconstruction")(y)
    autoencoder = keras.Model(inputs, outputs, name="autoencoder")
    return autoencoder, encoder


def study_ffnn(input_dim: int = 128, n_classes: int = 8, seed: int | None = 0) -> keras.Model:
    """The study's feed-forward classifier on the autoencoder's codes (Table 3).

    Dense 256 ReLU -> Dense 128 ReLU -> Dense 64 ReLU -> Dense ``n_classes`` softmax
    (74,696 parameters for 128-d codes and 8 emotions). Taught in ``12_autoencoder``.
    """
    _seed(seed)
    inputs = keras.Input(shape=(input_dim,), name="code")
    x = inputs
    for units in (256, 128, 64):
        x = layers.Dense(units, activation="relu", name=f"dense{units}")(x)
    outputs = classifier_output(x, n_classes)
    return keras.Model(inputs, outputs, name="study_ffnn")


# --------------------------------------------------------------------------------------
# VGG16 for transfer learning
# --------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="course_utils")
class VGGPreprocess(layers.Layer):
    """Grayscale images in [0, 1] -> what VGG16's ImageNet weights expect.

    Repeats the single channel three times, scales to 0..255 and applies
    ``keras.applications.vgg16.preprocess_input`` ('caffe' mode: RGB -> BGR and subtraction of
    the ImageNet channel means, no scaling). Taught in ``11_transfer_vgg16``.
    """

    def call(self, inputs):
        x = ops.repeat(ops.cast(inputs, "float32"), 3, axis=-1) * 255.0
        return keras.applications.vgg16.preprocess_input(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)


def _vgg16_base(input_shape, weights):
    """VGG16's convolutional base; ``(base, weights_loaded)``, random weights if loading fails."""
    if weights is None:
        return keras.applications.VGG16(include_top=False, weights=None, input_shape=input_shape), False
    try:
        base = keras.applications.VGG16(include_top=False, weights=weights, input_shape=input_shape)
        return base, True
    except Exception as exc:  # no internet, no cached file, corrupt download ...
        warnings.warn(
            f"VGG16 weights {weights!r} could not be loaded ({type(exc).__name__}: {exc}); "
            "falling back to RANDOM weights: this is not transfer learning.",
            RuntimeWarning,
            stacklevel=3,
        )
        base = keras.applications.VGG16(include_top=False, weights=None, input_shape=input_shape)
        return base, False


def vgg16_transfer(
    input_shape: tuple[int, int, int] = STUDY_INPUT,
    n_classes: int = 8,
    weights: str | None = "imagenet",
    trainable_from: str | None = "block3_conv1",
    dense_units: int = 256,
    dropout: float = 0.5,
    seed: int | None = 0,
) -> keras.Model:
    """VGG16 (ImageNet) fine-tuned from ``trainable_from`` on, with a new dense head.

    Inside the model: :class:`VGGPreprocess` (grayscale [0, 1] -> 3 channels, 0..255,
    ``vgg16.preprocess_input``) -> VGG16 convolutional base -> GlobalAveragePooling2D ->
    Dense ``dense_units`` ReLU -> Dropout -> output (softmax, or sigmoid when binary).
    The base's layers before ``trainable_from`` are frozen (the study: ``block3_conv1``);
    ``trainable_from=None`` freezes the whole base (pure feature extraction).

    Without internet the ImageNet weights cannot be downloaded (unless Keras already cached
    them in ``~/.keras/models``): the base then keeps random weights, a ``RuntimeWarning``
    says so, and ``model.weights_loaded`` is False. Check it before calling a result
    "transfer learning". Taught in ``11_transfer_vgg16``.
    """
    _seed(seed)
    h, w, _ = input_shape
    base, loaded = _vgg16_base((h, w, 3), weights)
    names = [layer.name for layer in base.layers]
    if trainable_from is not None and trainable_from not in names:
        raise ValueError(f"trainable_from={trainable_from!r} is not a VGG16 layer; one of {names}")
    trainable = False
    for layer in base.layers:
        if layer.name == trainable_from:
            trainable = True
        layer.trainable = trainable

    inputs = keras.Input(shape=tuple(input_shape), name="log_mel")
    x = VGGPreprocess(name="vgg_preprocess")(inputs)
    x = base(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = classifier_output(x, n_classes)
    model = keras.Model(inputs, outputs, name="vgg16_transfer")
    model.weights_loaded = loaded
    return model


# --------------------------------------------------------------------------------------
# Compiling as the study did
# --------------------------------------------------------------------------------------
def compile_for(model: keras.Model, n_classes: int | None, lr: float = 1e-3) -> keras.Model:
    """Compile as the study did: Adam (learning rate ``lr``) and accuracy.

    Loss: binary cross-entropy for ``n_classes`` 1 or 2 (sigmoid output, labels 0/1), sparse
    categorical cross-entropy for more classes (integer labels; the same loss as the study's
    categorical cross-entropy on one-hot labels), and mean squared error without a metric for
    ``n_classes=None`` (the autoencoder's reconstruction). Returns the model.
    Taught in ``08_cnn_binary``; used again by ``09_cnn_multiclass`` to ``12_autoencoder`` and by
    ``15_uncertainty``.
    """
    optimizer = keras.optimizers.Adam(learning_rate=lr)
    if n_classes is None:
        model.compile(optimizer=optimizer, loss="mse")
    elif n_classes < 1:
        raise ValueError(f"n_classes must be >= 1 or None, got {n_classes}")
    elif n_classes <= 2:
        model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    else:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
