"""Notebook parameters: one meaning per name across the course, checked before anything runs.

Every chapter opens with a cell tagged ``parameters`` (papermill replaces its values) and calls
:func:`check` in the cell right after it::

    from course_utils.course import params

    params.check(globals(), "08_cnn_binary")

A value the chapter cannot use stops the run there, with one message that names the parameter,
the value, what is allowed and the fix, instead of failing twenty cells later inside Keras. Strings
that look like booleans (``papermill -p quick false`` passes the string ``"false"``) are refused,
not guessed: papermill turns only ``True``, ``False`` and ``None`` into Python values.

:data:`PARAMETERS` gives each name its one meaning and its allowed values; :data:`CHAPTERS` lists
the names each chapter declares (a test keeps it equal to the notebooks' parameters cells) and the
few places where a chapter allows less than the course (VGG16 needs at least 32 pixels, the
autoencoder a multiple of 16). Each meaning is a :class:`Spec`, made by one of :func:`flag`,
:func:`whole`, :func:`real`, :func:`choice`, :func:`sequence`, :func:`mapping` and :func:`path`.

Taught in ``00_getting_the_data`` (its Parameters section and exercise 4).
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from course_utils.base.errors import ParameterError
from course_utils.data import metadata

_TRUTHY_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0", "y", "n", "t", "f"}


# --------------------------------------------------------------------------------------
# Kinds of value: what a parameter means and which values it takes
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """What one parameter means and which values it takes. Used by :func:`check`, every chapter's
    parameter check (taught in ``00_getting_the_data``)."""

    meaning: str  #: what the parameter sets, the same in every chapter
    allowed: str  #: the allowed values, in words
    example: Any  #: a valid value, shown in the fix
    test: Callable[[Any], bool]  #: True for an allowed value (None is handled by ``none``)
    none: str | None = None  #: what None means, or None when None is not allowed
    structured: bool = False  #: a list, tuple or dict: papermill needs -y (YAML) for it


def _is_whole(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def flag(meaning: str, example: bool = True) -> Spec:
    """True or False, a real bool (not the string "false"). Used by :data:`PARAMETERS`, so by every chapter's parameter check (:func:`check`, taught in
    ``00_getting_the_data``)."""
    return Spec(meaning, "True or False", example, lambda v: isinstance(v, (bool, np.bool_)))


def whole(meaning: str, lo: int | None = None, hi: int | None = None, *, none: str | None = None,
          multiple_of: int | None = None, example: int | None = None, exclude: tuple[int, ...] = ()) -> Spec:
    """A whole number in ``[lo, hi]`` (either end open when None), optionally a multiple of
    ``multiple_of`` and never one of ``exclude``. Used by :data:`PARAMETERS`, so by every chapter's parameter check (:func:`check`, taught in
    ``00_getting_the_data``)."""
    words = "a whole number" + (f" from {lo} to {hi}" if lo is not None and hi is not None else
                                f" >= {lo}" if lo is not None else f" <= {hi}" if hi is not None else "")
    if multiple_of:
        words += f", a multiple of {multiple_of}"
    if exclude:
        words += ", not " + " or ".join(map(str, exclude))

    def test(v):
        return (_is_whole(v) and (lo is None or v >= lo) and (hi is None or v <= hi)
                and (not multiple_of or v % multiple_of == 0) and v not in exclude)

    return Spec(meaning, words, lo if example is None else example, test, none)


def real(meaning: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
         none: str | None = None, example: float | None = None) -> Spec:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``). Used by :data:`PARAMETERS`, so by every chapter's parameter check (:func:`check`, taught in
    ``00_getting_the_data``)."""
    left = ">" if lo_open else ">="
    words = "a number" + (f" {left} {lo}" if lo is not None else "") + (f"{' and' if lo is not None else ''} <= {hi}" if hi is not None else "")

    def test(v):
        if not _is_real(v):
            return False
        v = float(v)
        return (lo is None or (v > lo if lo_open else v >= lo)) and (hi is None or v <= hi)

    if example is None:
        raise ValueError(f"real({meaning!r}): give an example value")
    return Spec(meaning, words, example, test, none)


def choice(meaning: str, values: tuple, *, none: str | None = None, also: Callable[[Any], bool] | None = None,
           also_words: str = "") -> Spec:
    """One of ``values`` (or anything ``also`` accepts, described by ``also_words``). Used by :data:`PARAMETERS`, so by every chapter's parameter check (:func:`check`, taught in
    ``00_getting_the_data``)."""
    words = "one of " + ", ".join(map(repr, values)) + (f", or {also_words}" if also_words else "")
    return Spec(meaning, words, values[0], lambda v: (isinstance(v, str) and v in values) or bool(also and also(v)), none)


def sequence(meaning: str, item: Spec, *, min_len: int = 1, length: int | None = None, unique: bool = False,
             increasing: bool = False, none: str | None = None, example: Any = None) -> Spec:
    """A list or tuple of values that each pass ``item``. Used by :data:`PARAMETERS`, so by every chapter's parameter check (:func:`check`, taught in
    ``00_getting_the_data``)."""
    n = f"exactly {length}" if length else f"at least {min_len}"
    words = f"a list of {n} values, each {item.allowed}" + (", all different" if unique else "") + (", increasing" if increasing else "")

    def test(v):
        if not isinstance(v, (list, tuple)) or not all(item.test(x) for x in v):
            return False
        if (length and len(v) != length) or len(v) < min_len:
            return False
        if unique and len(set(v)) != len(v):
            return False
        return not increasing or all(a < b for a, b in zip(v, v[1:]))

    return Spec(meaning, words, list(example) if example is not None else [item.example] * (length or min_len), test, none, structured=True)


def mapping(meaning: str, keys: tuple[str, ...], item: Spec, *, example: Any = None) -> Spec:
    """A dict from some of ``keys`` to values that pass ``item``. Used by :data:`PARAMETERS`, so by every chapter's parameter check (:func:`check`, taught in
    ``00_getting_the_data``)."""
    words = f"a dict from some of {', '.join(map(repr, keys))} to {item.allowed}"

    def test(v):
        return isinstance(v, Mapping) and len(v) > 0 and set(v) <= set(keys) and all(item.test(x) for x in v.values())

    return Spec(meaning, words, example if example is not None else {keys[0]: item.example}, test, structured=True)


def _path_like(v: Any) -> bool:
    return isinstance(v, (str, Path)) and str(v).strip() != "" and str(v).strip().lower() not in _TRUTHY_WORDS | {"none", "null"}


def path(meaning: str, *, none: str | None = None, example: str = "build/results") -> Spec:
    """A file or folder path (a string or ``pathlib.Path``). Used by :data:`PARAMETERS`, so by every chapter's parameter check (:func:`check`, taught in
    ``00_getting_the_data``)."""
    return Spec(meaning, "a path (a string)", example, _path_like, none)


# --------------------------------------------------------------------------------------
# Every parameter of the course, and the parameters of each chapter
# --------------------------------------------------------------------------------------
_RAVDESS_NAME = re.compile(r"^\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.wav$")  # lower-case .wav, as RAVDESS ships it
_TASKS = tuple(metadata.TASKS)
_DEFAULT = "the chapter's default, see its parameters cell"
#: The layers of Keras' VGG16 base, in order (``trainable_from`` names one).
_VGG16_LAYERS = tuple(name for b, convs in enumerate((2, 2, 3, 3, 3), start=1)
                      for name in [f"block{b}_conv{c}" for c in range(1, convs + 1)] + [f"block{b}_pool"])

#: ``image_size`` where a chapter has no default to fall back on (None is not allowed): 15-17.
_FIXED_SIDE = whole("the side of the (square) log-Mel image, in pixels", 16, 1024, example=64)
_epochs = whole("training epochs (at most, when early stopping is on)", 1, 10_000, none=_DEFAULT, example=50)
_actors = whole("actors held out (each of validation and test)", 1, 10, none=_DEFAULT, example=4)
_lr = real("the learning rate of Adam", 0.0, 1.0, lo_open=True, example=0.001)
_fraction = real("a fraction", 0.0, 1.0, example=0.5)
_units = whole("units of a dense layer", 1, 100_000, example=256)

#: Every notebook parameter of the course, with its one meaning. Used by :func:`check`.
PARAMETERS: dict[str, Spec] = {
    # every chapter
    "dataset": choice("which corpus to use", ("auto", "ravdess", "synthetic")),
    "quick": flag("the small, fast run (a few actors, few epochs)", example=False),
    "seed": whole("the seed of every random choice", 0, 2**32 - 1, example=0),
    "n_jobs": whole("processes for per-clip work (-1: all cores)", -1, 256, exclude=(0,), example=-1),
    # sizes and schedules of the networks
    "image_size": whole("the side of the (square) log-Mel image, in pixels: bands = frames", 16, 1024, none=_DEFAULT, example=64),
    "epochs": _epochs,
    "epochs_sex": _epochs, "epochs_statement": _epochs, "epochs_actor": _epochs, "epochs_emotion": _epochs,
    "epochs_dropout": _epochs, "epochs_bayes": _epochs,
    "ffnn_epochs": replace(_epochs, meaning="epochs of the feed-forward network on the codes"),
    "patience": whole("early stopping: epochs without a better validation score", 1, 10_000,
                      none="no early stopping (every epoch runs; chapter 17 keeps the best one)", example=10),
    "batch_size": whole("examples per gradient step", 1, 4096, example=32),
    "max_train_batches": whole("batches per training epoch", 1, 1_000_000, none="every batch (quick mode: a few)", example=3),
    "lr": _lr, "study_lr": replace(_lr, none="skip that comparison"), "head_lr": replace(_lr, none="skip that comparison"),
    "lr_bayes": _lr,
    "dense_units": _units, "latent": replace(_units, meaning="the size of the autoencoder's code"),
    "shared_units": replace(_units, none="no shared dense layer"),
    "single_units": mapping("the dense units of each single-task head", _TASKS, _units),
    "loss_weights": mapping("the weight of each head's loss", _TASKS, real("a loss weight", 0.0, 1000.0, example=1.0)),
    "filters": sequence("channels of the convolution blocks", whole("channels", 1, 4096, example=16), example=[16, 32, 64, 128]),
    "dropout": Spec("the dropout rate", "a number >= 0 and < 1", 0.3, lambda v: _is_real(v) and 0.0 <= float(v) < 1.0),
    # actors, folds and tasks
    "n_val_actors": _actors, "n_test_actors": _actors,
    "held_out_actors": replace(_actors, none=None),
    # splits.actor_folds: a test, a validation and a training group, each with both sexes (12 + 12 actors)
    "n_folds": whole("actor-held-out folds", 3, 12, none=_DEFAULT, example=6),
    "max_folds": whole("folds actually run (the first ones)", 1, 12, none="all of them (quick: 2)", example=2),
    "tasks": sequence("tasks to train", choice("a task", ("emotion", "sex")), unique=True, none=_DEFAULT, example=["emotion", "sex"]),
    "ffnn_tasks": sequence("tasks of the classifier on the codes", choice("a task", _TASKS), unique=True, none=_DEFAULT, example=["emotion"]),
    "actors_singletask": sequence("tasks that also get a single-task network with actors held out",
                                  choice("a task", ("sex", "statement", "emotion")), min_len=0, unique=True, none=_DEFAULT,
                                  example=["sex", "emotion"]),
    # augmentation, the better model
    "variants": sequence("the augmentation variants to train",
                         choice("a variant", ("none", "study_image", "specaugment", "waveform", "specaugment_waveform")),
                         unique=True, none=_DEFAULT, example=["none", "specaugment"]),
    "ablation": sequence("the variants trained besides the final model", choice("a variant", ("plain", "specaugment", "mixup")),
                         min_len=0, unique=True, none=_DEFAULT, example=["plain"]),
    "waveform_copies": whole("augmented copies of every training clip", 1, 20, none=_DEFAULT, example=3),
    "freq_masks": whole("SpecAugment: frequency masks per image", 0, 10, example=2),
    "time_masks": whole("SpecAugment: time masks per image", 0, 10, example=2),
    "n_masks": whole("SpecAugment: masks per axis", 0, 10, example=2),
    "max_mask_fraction": real("SpecAugment: the widest mask as a fraction of the image side", 0.0, 0.5, lo_open=True, example=0.125),
    "mask_fraction": real("SpecAugment: the widest mask as a fraction of the image side", 0.0, 0.5, lo_open=True, example=0.125),
    "mixup_alpha": real("mixup: lambda ~ Beta(alpha, alpha)", 0.0, 100.0, lo_open=True, example=0.2),
    "tta_shifts": sequence("test-time shifts of the time axis, in frames", whole("a shift", -64, 64, example=0),
                           unique=True, example=[-4, -2, 0, 2, 4]),
    "speaker_norm_images": flag("standardise the CNN's images per speaker"),
    "ensemble_weight": real("the weight of the CNN in the ensemble", 0.0, 1.0, none="chosen on the validation voices", example=0.5),
    # transfer learning
    "weights": choice("VGG16's starting weights", ("imagenet",), none="random weights",
                      also=lambda v: _path_like(v) and str(v).endswith(".h5"), also_words="a path to a .h5 or .weights.h5 file"),
    "trainable_from": choice("the first trained VGG16 layer", _VGG16_LAYERS, none="freeze the whole base"),
    # pretrained speech models (chapter 18)
    "source": choice("where the speech model's weights come from", ("auto", "hub", "offline")),
    "preset": Spec("the keras-hub preset of the speech model", "a preset name, a kaggle:// or hf:// handle, or a preset folder (a string)",
                   "whisper_tiny_en", _path_like),
    "hub_timeout": real("seconds to wait for the model hub before taking the offline path", 0.0, 120.0, lo_open=True, example=5.0),
    "window_seconds": whole("the window every clip is padded to, in seconds (Whisper's is 30)", 1, 30, none=_DEFAULT, example=30),
    # the autoencoder
    "n_examples": whole("test clips shown with their reconstructions", 1, 50, example=3),
    "griffin_lim_iters": whole("Griffin-Lim iterations", 1, 1000, none=_DEFAULT, example=32),
    "knn_k": whole("neighbours of the k-NN vote", 1, 100, example=5),
    "tsne_perplexity": real("t-SNE's perplexity", 1.0, 1000.0, example=30.0),
    # uncertainty
    "T": whole("sampled predictions per clip", 2, 10_000, none=_DEFAULT, example=50),
    "n_listen": whole("clips to listen to", 0, 50, example=3),
    # raw waveforms
    "sample_rate": whole("the sample rate of the waveforms (Hz)", 1000, 96_000, example=8000),
    "n_samples": whole("samples per clip", 729, 10_000_000, example=19683),
    "m5_width": whole("channels of M5's first layer", 1, 1024, example=64),
    "standardise": flag("standardise every network's input with the training clips' statistics"),
    # the classical baseline
    "n_bands": whole("log-Mel bands summarised", 1, 512, example=32),
    "c_grid": sequence("the values of C tried on the validation set", real("a C", 0.0, None, lo_open=True, example=1.0),
                       unique=True, example=[0.1, 1.0, 10.0, 100.0]),
    # signals, spectra, Mel (chapters 01-05)
    "example_clip": Spec("the RAVDESS file name of the chapter's example clip", "a RAVDESS file name like '03-01-01-01-01-01-01.wav'",
                         "03-01-01-01-01-01-01.wav", lambda v: isinstance(v, str) and bool(_RAVDESS_NAME.match(v))),
    "tone_seconds": real("length of the test tones (s)", 0.0, 60.0, lo_open=True, example=1.0),
    "bit_depths": sequence("bit depths of the quantisation tables", whole("a bit depth", 1, 32, example=8), unique=True,
                           example=[2, 4, 8, 16]),
    "sr": whole("the sample rate of the chapter (Hz)", 1000, 192_000, example=22_050),
    "f0_tone": real("the fundamental of the composite tone (Hz)", 0.0, 5000.0, lo_open=True, example=220.0),
    "n_harmonics": whole("harmonics in the composite tone", 1, 50, example=6),
    "frame_length": whole("samples in the analysis frame", 16, 1 << 20, example=1024),
    "n_fft": whole("the FFT size (samples)", 16, 1 << 20, example=2048),
    "hop_length": whole("the hop between frames (samples)", 1, 1 << 20, example=256),
    "n_mels": whole("Mel bands", 1, 512, example=128),
    "n_mels_explorer": choice("Mel bands the explorer starts with", ("8", "16", "32", "64", "128", "256"),
                              also=lambda v: _is_whole(v) and v in (8, 16, 32, 64, 128, 256), also_words="as a number"),
    "n_mfcc": whole("MFCCs", 1, 128, example=20),
    "clips_full": whole("clips measured in full mode", 1, 100_000, example=1440),
    "clips_quick": whole("clips measured in quick mode", 1, 100_000, example=48),
    "compare_emotion": whole("the RAVDESS emotion code compared (1 neutral ... 8 surprised)", 1, 8, example=1),
    "compare_statement": whole("the statement (1 kids, 2 dogs)", 1, 2, example=1),
    "male_actor": whole("an odd (male) actor id", 1, 23, example=1),
    "female_actor": whole("an even (female) actor id", 2, 24, example=2),
    "top_db": real("dB below the loudest frame that count as silence", 0.0, 120.0, lo_open=True, example=30.0),
    "f0_range": sequence("(fmin, fmax) where pyin looks for f0 (Hz)", real("a frequency", 20.0, 5000.0, example=50.0),
                         length=2, increasing=True, none="the course's range", example=[50, 1000]),
    # preprocessing benchmarks
    "bench_epochs": whole("timed epochs per reader", 1, 100, example=5),
    "cnn_steps": whole("timed training steps of the study's CNN", 1, 1000, example=5),
    "cache_timing_clips": whole("clips timed cold against cached", 1, 100_000, none="all of them (quick mode: 40)", example=40),
    # the summary
    "results_dir": path("the folder of the results files", none="build/results"),
    "bench_file": path("make bench's JSON file", none="build/bench.json", example="build/bench.json"),
}

#: The parameters each chapter declares, and where a chapter allows less than :data:`PARAMETERS`.
CHAPTERS: dict[str, dict[str, Spec | None]] = {
    "00_getting_the_data": dict.fromkeys(["dataset", "quick", "seed"]),
    "01_sound_and_sampling": dict.fromkeys(["dataset", "quick", "seed", "example_clip", "tone_seconds", "bit_depths"]),
    "02_spectrum": dict.fromkeys(["dataset", "quick", "seed", "sr", "f0_tone", "n_harmonics", "frame_length", "n_fft",
                                  "compare_emotion", "compare_statement", "male_actor", "female_actor"]),
    "03_spectrogram": dict.fromkeys(["dataset", "quick", "seed", "n_fft", "hop_length", "clips_full", "clips_quick"]),
    "04_mel_scale": dict.fromkeys(["dataset", "quick", "seed", "n_fft", "hop_length", "n_mels", "n_mels_explorer", "n_mfcc",
                                   "clips_full", "clips_quick"]),
    "05_eda": dict.fromkeys(["dataset", "quick", "seed", "top_db", "f0_range", "image_size", "n_jobs"]),
    "06_preprocessing": dict.fromkeys(["dataset", "quick", "seed", "held_out_actors", "batch_size", "bench_epochs", "cnn_steps",
                                       "cache_timing_clips"]),
    "07_classical_baseline": dict.fromkeys(["dataset", "quick", "seed", "n_bands", "c_grid", "held_out_actors", "n_folds"]),
    "08_cnn_binary": dict.fromkeys(["dataset", "quick", "seed", "image_size", "epochs_sex", "epochs_statement", "patience",
                                    "batch_size", "max_train_batches", "n_val_actors", "n_test_actors", "n_jobs"]),
    "09_cnn_multiclass": dict.fromkeys(["dataset", "quick", "seed", "image_size", "epochs_actor", "epochs_emotion", "patience",
                                        "batch_size", "max_train_batches", "n_val_actors", "n_test_actors", "n_listen", "n_jobs"]),
    "10_augmentation": dict.fromkeys(["dataset", "quick", "seed", "image_size", "epochs", "patience", "batch_size",
                                      "max_train_batches", "variants", "waveform_copies", "freq_masks", "time_masks",
                                      "max_mask_fraction", "n_jobs"]),
    "11_transfer_vgg16": {**dict.fromkeys(["dataset", "quick", "seed", "weights", "trainable_from", "epochs", "max_train_batches",
                                           "patience", "batch_size", "lr", "study_lr", "head_lr", "dense_units", "n_val_actors",
                                           "n_test_actors", "n_jobs"]),
                          "image_size": whole("the side of the (square) log-Mel image, in pixels", 32, 1024, none=_DEFAULT,
                                              example=64)},
    "12_autoencoder": {**dict.fromkeys(["dataset", "quick", "seed", "latent", "epochs", "ffnn_epochs", "batch_size",
                                        "max_train_batches", "ffnn_tasks", "n_val_actors", "n_test_actors", "n_examples",
                                        "griffin_lim_iters", "knn_k", "tsne_perplexity", "n_jobs"]),
                       "image_size": whole("the side of the (square) log-Mel image, in pixels", 16, 1024, multiple_of=16,
                                           none=_DEFAULT, example=64)},
    "13_multitask": dict.fromkeys(["dataset", "quick", "seed", "image_size", "epochs", "patience", "batch_size", "max_train_batches",
                                   "shared_units", "single_units", "loss_weights", "actors_singletask", "n_val_actors",
                                   "n_test_actors", "n_jobs"]),
    "14_raw_waveform": dict.fromkeys(["dataset", "quick", "seed", "sample_rate", "n_samples", "m5_width", "standardise",
                                      "epochs_emotion", "epochs_sex", "patience", "batch_size", "max_train_batches", "tasks",
                                      "n_val_actors", "n_test_actors", "n_jobs"]),
    "15_uncertainty": {**dict.fromkeys(["dataset", "quick", "seed", "epochs_dropout", "epochs_bayes", "patience", "batch_size",
                                        "lr_bayes", "max_train_batches", "T", "n_val_actors", "n_test_actors", "n_listen", "n_jobs"]),
                       "image_size": _FIXED_SIDE},
    "16_better_emotion_model": {**dict.fromkeys(["dataset", "quick", "seed", "epochs", "patience", "batch_size", "max_train_batches",
                                                 "filters", "dropout", "mixup_alpha", "n_masks", "mask_fraction", "n_folds",
                                                 "max_folds", "ablation", "n_jobs"]),
                                "image_size": _FIXED_SIDE},
    "17_new_voices": {**dict.fromkeys(["dataset", "quick", "seed", "epochs", "patience", "batch_size", "max_train_batches", "n_folds",
                                       "max_folds", "tta_shifts", "speaker_norm_images", "ensemble_weight", "c_grid", "n_jobs"]),
                      "image_size": _FIXED_SIDE},
    "18_pretrained_speech": dict.fromkeys(["dataset", "quick", "seed", "source", "preset", "hub_timeout", "window_seconds", "c_grid",
                                           "epochs", "lr", "batch_size", "dropout", "max_train_batches", "n_folds", "max_folds"]),
    "99_results": dict.fromkeys(["dataset", "quick", "seed", "results_dir", "bench_file"]),
}


# --------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------
def spec(chapter: str, name: str) -> Spec:
    """The spec of parameter ``name`` in ``chapter``: the chapter's own, else the course's.
    Used by :func:`check`; taught in ``00_getting_the_data``."""
    if chapter not in CHAPTERS:
        raise KeyError(f"unknown chapter {chapter!r}; choose from {sorted(CHAPTERS)}")
    if name not in CHAPTERS[chapter]:
        raise KeyError(f"{chapter} has no parameter {name!r}; its parameters: {', '.join(CHAPTERS[chapter])}")
    return CHAPTERS[chapter][name] or PARAMETERS[name]


def _fix(name: str, s: Spec) -> str:
    ex = s.example
    if s.structured:
        return (f"Fix: set {name} = {ex!r} in the parameters cell, or run papermill with "
                f"-y '{name}: {json.dumps(ex)}' (lists and dicts need -y; -p passes a string)")
    if isinstance(ex, str):
        return f"Fix: set {name} = {ex!r} in the parameters cell, or run papermill with -p {name} {ex}"
    return f"Fix: set {name} = {ex!r} in the parameters cell, or run papermill with -p {name} {ex} (without -r)"


def problem(chapter: str, name: str, value: Any) -> str | None:
    """None when ``value`` is allowed for ``name`` in ``chapter``; else the message: the
    parameter, the value and its type, what is allowed, and the fix. Used by :func:`check`; the
    messages are those of ``00_getting_the_data``'s exercise 4."""
    s = spec(chapter, name)
    if value is None and s.none is not None:
        return None
    if value is not None and s.test(value):
        return None
    allowed = s.allowed + (f", or None ({s.none})" if s.none is not None else "")
    kind = type(value).__name__
    shown = f"{value!r} ({'an' if kind[0] in 'aeiou' else 'a'} {kind})"
    hint = ""
    if isinstance(value, str) and value.strip().lower() in _TRUTHY_WORDS | {"none", "null"}:
        hint = (" Strings that look like True, False or None are not guessed: papermill turns only the exact words "
                "True, False and None into Python values, and -r passes every value as a string.")
    elif isinstance(value, str) and s.structured:
        hint = " A list or dict passed with -p or -r arrives as a string."
    return f"{chapter}: {name} = {shown} is not allowed. {name}: {s.meaning}; allowed: {allowed}.{hint}\n{_fix(name, s)}"


def check(namespace: Mapping[str, Any], chapter: str) -> None:
    """Check the parameters of ``chapter`` in ``namespace`` (the notebook's ``globals()``, right
    after its ``parameters`` cell); raise :class:`~course_utils.base.errors.ParameterError` with one
    message for every value the chapter cannot use, and one line per missing parameter.

    Run it in the cell right after the parameters cell of every chapter; taught in
    ``00_getting_the_data`` (its Parameters section and exercise 4).

    >>> check({"dataset": "auto", "quick": "false", "seed": 0}, "00_getting_the_data")
    Traceback (most recent call last):
    ...
    course_utils.base.errors.ParameterError: 00_getting_the_data: quick = 'false' (a str) is not allowed. quick: ...
    """
    if chapter not in CHAPTERS:
        raise KeyError(f"unknown chapter {chapter!r}; choose from {sorted(CHAPTERS)}")
    messages = []
    for name in CHAPTERS[chapter]:
        if name not in namespace:
            messages.append(f"{chapter}: parameter {name} is missing. Fix: run the parameters cell (the first code cell) "
                            f"before this one, or restore its line {name} = ... from the course's copy of the notebook.")
            continue
        msg = problem(chapter, name, namespace[name])
        if msg:
            messages.append(msg)
    if messages:
        raise ParameterError("\n".join(messages))
    _check_together(namespace, chapter)


def _check_together(ns: Mapping[str, Any], chapter: str) -> None:
    """Values that are fine alone but not together."""
    if ns.get("max_folds") is not None and ns.get("n_folds") is not None and ns["max_folds"] > ns["n_folds"]:
        raise ParameterError(f"{chapter}: max_folds = {ns['max_folds']} is more than n_folds = {ns['n_folds']}: only "
                             f"{ns['n_folds']} folds exist.\nFix: set max_folds to at most {ns['n_folds']}, or None for all of them")
    if ns.get("clips_quick") is not None and ns.get("clips_full") is not None and ns["clips_quick"] > ns["clips_full"]:
        raise ParameterError(f"{chapter}: clips_quick = {ns['clips_quick']} is more than clips_full = {ns['clips_full']}.\n"
                             f"Fix: set clips_quick to at most clips_full")
    if "male_actor" in ns and _is_whole(ns["male_actor"]) and ns["male_actor"] % 2 == 0:
        raise ParameterError(f"{chapter}: male_actor = {ns['male_actor']} is even, and even RAVDESS actors are women.\n"
                             f"Fix: choose an odd actor id, e.g. male_actor = 1")
    if "female_actor" in ns and _is_whole(ns["female_actor"]) and ns["female_actor"] % 2 == 1:
        raise ParameterError(f"{chapter}: female_actor = {ns['female_actor']} is odd, and odd RAVDESS actors are men.\n"
                             f"Fix: choose an even actor id, e.g. female_actor = 2")
