"""Pretrained speech representations: Whisper's encoder from keras-hub, one embedding per clip,
a linear classifier on the embeddings and light fine-tuning.

Taught in ``18_pretrained_speech``.

Chapter 11 borrowed a network trained on photographs. A network trained on *speech* has heard
far more voices than RAVDESS' 24 actors: Whisper (Radford et al., 2022) was trained to transcribe
and translate 680,000 hours of speech collected from the web, with the transcripts as (weak)
labels; wav2vec 2.0 (Baevski et al., 2020) learnt from unlabelled speech alone, by predicting
masked stretches of it (self-supervised). Their encoders turn a clip into a sequence of vectors
that carry what was said, who said it and how. keras-hub offers Whisper (and Moonshine) with
their weights on the Kaggle model hub; this module uses Whisper's encoder:

1. **The input** (:class:`Encoder`, its ``converter``: keras-hub's ``WhisperAudioConverter``):
   the waveform at 16 kHz, padded with silence to a window of 30 s, a short-time Fourier
   transform (400 samples = 25 ms, hop 160 = 10 ms), 80 Mel bands up to 8 kHz,
   :math:`\\log_{10}` of the power, everything more than 8 decades (80 dB) below the window's
   loudest bin raised to that floor, then :math:`(x + 4) / 4`: 3000 frames of 80 numbers.
2. **The encoder** (the first half of keras-hub's ``WhisperBackbone``): two 1-D convolutions (the
   second with stride 2: one *position* per 20 ms, 1500 per window), sinusoidal position
   embeddings, then :math:`L` transformer blocks. It has no padding mask: every position, silence
   included, attends to every other, and Whisper was only ever trained on full 30-s windows.
   keras-hub's backbone accepts shorter inputs (its position table is cut to the input's length),
   but that is a use the model never saw in training; by default the clip is padded to the whole
   window, as Whisper expects (``window_seconds``), and the cost of that choice is measured.
3. **One embedding per clip** (:func:`embed`, :func:`cached_embeddings`): the mean of the
   encoder's vectors over the positions that cover the clip itself, :math:`P` of them
   (:func:`clip_positions`), not over the padding,

   .. math:: e = \\frac{1}{P} \\sum_{p=1}^{P} h_p \\in \\mathbb{R}^{D},

   kept for the output of every block (:func:`layer_names`), so that one can ask *which* layer
   knows most about emotion.
4. **A linear classifier** on the embeddings: chapter 07's logistic regression
   (:func:`course_utils.learning.baseline.fit_select`).
5. **Light fine-tuning** (:func:`finetune_trunk`, :func:`finetune_model`, :func:`finetune`): a copy
   of the top block and its layer norm, pooled over the clip, and a softmax layer that starts as a
   linear classifier fitted on the copy's own starting vectors (:func:`head_from_linear`; LP-FT,
   Kumar et al., 2022) are trained on the clips' vectors as they enter the top block (computed once
   with the embeddings and cached), the rest of the encoder frozen.

Where the weights come from (:func:`choose_source`, :func:`open_encoder`): where the machine is
online (Binder, Colab, a laptop), keras-hub downloads the preset ``whisper_tiny_en`` from the
Kaggle hub once and reads it from its download cache afterwards. Offline (no route to the hub
within ``timeout`` seconds, or ``source="offline"``), the same code runs on a small Whisper of
the same architecture with **random weights**, made once, deterministically from the seed, and
saved as a local preset in the data cache (:func:`local_preset`), then loaded back through the
same ``from_preset`` call that loads the hub's preset. Its embeddings are random features of the
log-Mel spectrogram, not what Whisper learnt, and every result made with it is named so
(:func:`model_tag`). What it costs (:func:`preset_files`, :func:`parameter_table`,
:func:`time_per_clip`): the preset's files on disk, the parameters and their bytes, the seconds
per clip on this machine.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.metrics import confusion_matrix

try:  # the optional extra "speech" (pyproject.toml); the rest of the course works without it
    import keras_hub
except ImportError:  # pragma: no cover - the course's requirements install it
    keras_hub = None
try:
    from kagglehub.cache import Cache as _KaggleCache
    from kagglehub.handle import parse_model_handle as _parse_model_handle
except ImportError:  # pragma: no cover - installed with keras-hub
    _KaggleCache = _parse_model_handle = None

from course_utils.base import jupyter, paths
from course_utils.base.errors import CourseError, InputError
from course_utils.data import atomic, audio, cache, splits
from course_utils.learning import baseline, diagnosis, training
from course_utils.learning.training import peak_memory_mb  # noqa: F401 (chapter 18 calls it as sm.peak_memory_mb)

#: The hub preset of the chapter: Whisper's smallest English model (keras-hub's name for it).
HUB_PRESET = "whisper_tiny_en"
#: Where the weights may come from (:func:`choose_source`).
SOURCES = ("auto", "hub", "offline")
#: Whisper's sample rate (Hz), the hop of its frames (samples: 10 ms) and its window (s).
SAMPLE_RATE = 16_000
HOP = 160
WINDOW_SECONDS = 30
#: Seconds to wait for the model hub before taking the offline path.
HUB_TIMEOUT_S = 5.0
#: The small Whisper of the offline path: the architecture of ``WhisperBackbone`` (80 Mel bands,
#: a 30-s window of 3000 frames), with 2 blocks of width 64 instead of whisper_tiny_en's 4 of 384.
OFFLINE_ARCHITECTURE = {"vocabulary_size": 512, "num_layers": 2, "num_heads": 2, "hidden_dim": 64,
                        "intermediate_dim": 256, "num_mels": 80, "max_encoder_sequence_length": 3000,
                        "max_decoder_sequence_length": 64}
#: The file that marks a preset folder made by :func:`local_preset` (random weights, its seed).
MARKER_FILE = "course_preset.json"
#: The files a preset folder needs for this chapter (backbone and audio converter).
PRESET_FILES = ("config.json", "model.weights.h5", "audio_converter.json")
#: dB below the loudest frame that count as silence when a clip is trimmed (as chapter 06).
TRIM_TOP_DB = 30.0
#: Bump when the embeddings' recipe changes, so that old cache entries are not reused.
EMBEDDING_VERSION = 1
_PRESET_VERSION = 1


def _require_keras_hub() -> None:
    if keras_hub is None:
        raise CourseError("keras-hub is not installed, and chapter 18 needs it for Whisper.\n"
                          "Fix: .venv/bin/pip install -r requirements.txt -c constraints.txt "
                          "(or pip install 'course-utils[speech]'), then restart the kernel")


# --------------------------------------------------------------------------------------
# Where the weights come from
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Where the Whisper weights of a run come from, and why: made by :func:`choose_source`,
    printed by ``18_pretrained_speech``.

    ``preset`` is what ``from_preset`` receives (a hub preset name or handle, or a local preset
    folder); ``hub``: from the model hub (downloaded now or earlier); ``pretrained``: the weights
    Whisper's authors trained (False: random weights, the offline path); ``reason``: why this
    source, in words."""

    preset: str
    hub: bool
    pretrained: bool
    reason: str

    def describe(self) -> str:
        """A few lines that say plainly where the weights come from (``18_pretrained_speech``)."""
        if self.pretrained:
            where = "from the model hub" if self.hub else f"from the local preset {self.preset}"
            return (f"PRETRAINED: Whisper's own weights ({Path(self.preset).name if not self.hub else self.preset}), "
                    f"loaded {where}.\nWhy: {self.reason}.")
        return ("OFFLINE: this run does NOT use Whisper's trained weights. It runs the same code on a small Whisper of the\n"
                "same architecture with RANDOM weights, saved as a local preset and loaded back with from_preset:\n"
                f"  {self.preset}\n"
                "Its embeddings are random features of the log-Mel spectrogram, not what Whisper learnt from speech.\n"
                f"Why offline: {self.reason}.\n"
                f"On a machine with internet (Binder, Colab, a laptop) the same cells load {HUB_PRESET} from the hub.")


def _kaggle_handle(preset: str) -> str | None:
    """The Kaggle handle of a hub preset (a built-in name or ``kaggle://...``); None otherwise."""
    if preset.startswith("kaggle://"):
        return preset
    if keras_hub is not None:
        meta = keras_hub.models.WhisperBackbone.presets.get(preset)
        if meta is not None:
            return meta["kaggle_handle"]
    return None


def hub_host(preset: str) -> str | None:
    """The host that serves ``preset``: ``www.kaggle.com`` for keras-hub's built-in presets and
    ``kaggle://`` handles, ``huggingface.co`` for ``hf://`` handles, None for a local folder or an
    unknown name. Used by :func:`choose_source` (``18_pretrained_speech``)."""
    if preset.startswith("hf://"):
        return "huggingface.co"
    if _kaggle_handle(preset) is not None:
        return "www.kaggle.com"
    return None


def hub_reachable(host: str, timeout: float = HUB_TIMEOUT_S, port: int = 443) -> tuple[bool, str]:
    """Can this machine open a connection to ``host`` within ``timeout`` seconds? Returns
    ``(True, "")`` or ``(False, the reason)``. A short test before a download, so that an offline
    machine (a classroom without internet, the course's CI) takes the offline path at once instead
    of waiting for the download's own retries; the name lookup counts against ``timeout`` too. Used by
    :func:`choose_source` (``18_pretrained_speech``)."""
    found: dict = {}

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                found["ok"] = True
        except OSError as err:
            found["error"] = f"{type(err).__name__}: {err}"

    # the socket's timeout does not cover the name lookup, which can hang on a machine without a
    # route: the probe runs in a thread of its own, and after `timeout` nobody waits for it any more
    thread = threading.Thread(target=probe, name=f"probe {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if found.get("ok"):
        return True, ""
    return False, found.get("error", f"no answer (name lookup or connection) within {timeout:g} s")


def hub_cached(preset: str) -> Path | None:
    """The folder of a complete earlier download of ``preset`` in kagglehub's download cache
    (``$KAGGLEHUB_CACHE``, by default ``~/.cache/kagglehub``), or None: such a copy loads without
    the network. Used by :func:`choose_source` and :func:`preset_folder` (``18_pretrained_speech``)."""
    handle = _kaggle_handle(preset)
    if handle is None or _KaggleCache is None:
        return None
    try:
        h = _parse_model_handle(handle.removeprefix("kaggle://"))
        found = [_KaggleCache().load_from_cache(h, name) for name in PRESET_FILES]
    except Exception:  # a handle kagglehub cannot parse, an unreadable cache: not cached
        return None
    return Path(found[0]).parent if all(found) else None


def _marker(folder: str | Path) -> dict | None:
    path = Path(folder) / MARKER_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def preset_is_whole(folder: str | Path) -> bool:
    """Does ``folder`` hold a loadable preset for this chapter: every file of :data:`PRESET_FILES`,
    with a ``config.json`` that parses? Used by :func:`local_preset` (a damaged copy is made
    again) and :func:`choose_source` (``18_pretrained_speech``)."""
    folder = Path(folder)
    if not all((folder / name).is_file() and (folder / name).stat().st_size > 0 for name in PRESET_FILES):
        return False
    try:
        json.loads((folder / "config.json").read_text())
    except ValueError:
        return False
    return True


def local_preset(seed: int = 0, architecture: dict | None = None, folder: str | Path | None = None) -> Path:
    """A small Whisper with **random weights**, saved as a keras-hub preset folder; returns the folder.

    The backbone is ``keras_hub.models.WhisperBackbone(**architecture)``
    (:data:`OFFLINE_ARCHITECTURE` updated with ``architecture``), its weights drawn after
    ``keras.utils.set_random_seed(seed)``, so that the same seed gives the same weights; it is
    saved with keras-hub's own ``save_to_preset``, beside a ``WhisperAudioConverter`` with Whisper's
    settings and :data:`MARKER_FILE` (random weights, the seed, the architecture). The folder is
    ``<data>/cache/presets/whisper-random-<hash of architecture and seed>`` (``folder``: another
    parent folder). It is written under a temporary name and renamed when complete
    (:func:`course_utils.data.atomic.replace_dir`); one that exists and is whole
    (:func:`preset_is_whole`) is reused, a damaged one made again. ``from_preset(<folder>)`` loads it
    like a preset from the hub: the offline path of ``18_pretrained_speech``.
    """
    _require_keras_hub()
    arch = {**OFFLINE_ARCHITECTURE, **(architecture or {})}
    recipe = json.dumps({"architecture": arch, "seed": int(seed), "version": _PRESET_VERSION}, sort_keys=True)
    parent = Path(folder) if folder is not None else paths.cache_dir() / "presets"
    target = parent / f"whisper-random-{hashlib.sha1(recipe.encode()).hexdigest()[:10]}"
    if preset_is_whole(target) and _marker(target) is not None:
        return target
    if target.exists():
        print(f"The local preset {target} is incomplete: made again.", flush=True)
    parent.mkdir(parents=True, exist_ok=True)
    atomic.clean_leftovers(parent)
    tmp = Path(tempfile.mkdtemp(prefix=atomic.temp_prefix(target), dir=parent))
    try:
        keras.utils.set_random_seed(int(seed))
        backbone = keras_hub.models.WhisperBackbone(**arch)
        converter = keras_hub.layers.WhisperAudioConverter(num_mels=arch["num_mels"])
        backbone.save_to_preset(str(tmp))
        converter.save_to_preset(str(tmp))
        (tmp / MARKER_FILE).write_text(json.dumps({
            "random_init": True, "seed": int(seed), "architecture": arch,
            "made_by": "course_utils.learning.speech_models.local_preset (chapter 18_pretrained_speech)",
            "keras_hub_version": keras_hub.__version__}, indent=2) + "\n")
        tmp.chmod(0o777 & ~atomic.current_umask())
        del backbone, converter
        return atomic.replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def choose_source(source: str = "auto", preset: str = HUB_PRESET, *, timeout: float = HUB_TIMEOUT_S, seed: int = 0,
                  architecture: dict | None = None) -> Source:
    """Decide where the weights come from, without waiting long for a network that is not there.

    - ``source="offline"``: the local random-weight preset (:func:`local_preset`), as asked;
    - ``preset`` a local preset folder: that folder (random weights if :func:`local_preset` made
      it, otherwise taken as trained weights, e.g. a copy of the hub's preset);
    - a hub preset that kagglehub downloaded before (:func:`hub_cached`): the hub's preset, read
      from the download cache without the network;
    - otherwise the hub is tried (:func:`hub_reachable`, at most ``timeout`` seconds): reachable,
      the hub's preset (downloaded when it is loaded); not reachable, with ``source="auto"`` the
      local random-weight preset, the reason said, and with ``source="hub"`` a
      :class:`course_utils.base.errors.CourseError` naming the fix.

    Returns a :class:`Source`. Taught in ``18_pretrained_speech``.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "offline":
        return _offline("source = 'offline' was asked for; the model hub was not tried", seed, architecture)
    if os.path.isdir(preset):
        if not preset_is_whole(preset):
            raise InputError(f"The preset folder {preset} lacks some of {', '.join(PRESET_FILES)}.\n"
                             f"Fix: copy the whole preset folder (as keras-hub's save_to_preset writes it), or set "
                             f"preset = {HUB_PRESET!r}")
        marker = _marker(preset)
        random_init = bool(marker and marker.get("random_init"))
        why = "a local preset folder was given" + (" (made by local_preset: random weights)" if random_init else "")
        return Source(str(preset), hub=False, pretrained=not random_init, reason=why)
    host = hub_host(preset)
    if host is None:
        raise InputError(f"preset = {preset!r} is neither a preset of keras-hub's Whisper, a kaggle:// or hf:// handle, "
                         f"nor a folder.\nFix: set preset = {HUB_PRESET!r} (or another of "
                         f"{', '.join(sorted(keras_hub.models.WhisperBackbone.presets)) if keras_hub else 'keras-hub presets'})")
    cached = hub_cached(preset)
    if cached is not None:
        return Source(preset, hub=True, pretrained=True, reason=f"it was downloaded before and is read from {cached}")
    ok, why = hub_reachable(host, timeout)
    if ok:
        return Source(preset, hub=True, pretrained=True,
                      reason=f"the model hub ({host}) answered; the preset is downloaded once and kept in kagglehub's cache")
    message = f"the model hub ({host}) could not be reached within {timeout:g} s ({why})"
    if source == "hub":
        raise CourseError(f"source = 'hub', but {message}.\nFix: connect this machine to the internet, copy a downloaded "
                          f"preset folder here and set preset to its path, or set source = 'auto' (or 'offline') for the "
                          f"random-weight model")
    return _offline(message, seed, architecture)


def _offline(reason: str, seed: int, architecture: dict | None) -> Source:
    return Source(str(local_preset(seed, architecture)), hub=False, pretrained=False, reason=reason)


def model_tag(source: Source) -> str:
    """An honest short name for results made with ``source``: the preset's name for trained weights
    (``whisper_tiny_en``), ``whisper_random_init`` for the offline random model. The models of
    ``18_pretrained_speech`` are recorded under it (``whisper_tiny_en_linear`` ...), as chapter 11
    records ``vgg16_random_init``."""
    if not source.pretrained:
        return "whisper_random_init"
    if not source.hub:
        folder = Path(source.preset)
        name = folder.parent.name if folder.name.isdigit() else folder.name  # kagglehub's copy: .../whisper_tiny_en/4
    elif "://" in source.preset:  # kaggle://org/model/framework/variant[/version], hf://org/name
        parts = source.preset.split("://", 1)[1].strip("/").split("/")
        name = parts[3] if source.preset.startswith("kaggle://") and len(parts) >= 4 else parts[-1]
    else:
        name = source.preset
    name = "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()
    return name if name.startswith("whisper") else f"whisper_{name}"


def preset_folder(source: Source) -> Path | None:
    """Where the preset's files lie on this machine: the local folder, or kagglehub's download cache
    for a hub preset (None when it has not been downloaded). Used by :func:`preset_files`
    (``18_pretrained_speech``)."""
    if not source.hub:
        return Path(source.preset)
    return hub_cached(source.preset)


def preset_files(folder: str | Path) -> pd.DataFrame:
    """The files of a preset folder and their sizes: one row per file (``file``, ``megabytes``),
    largest first: what a download of the preset costs, measured on disk. Taught in
    ``18_pretrained_speech``."""
    folder = Path(folder)
    rows = [{"file": str(p.relative_to(folder)), "megabytes": p.stat().st_size / 1e6}
            for p in sorted(folder.rglob("*")) if p.is_file()]
    return pd.DataFrame(rows, columns=["file", "megabytes"]).sort_values("megabytes", ascending=False, ignore_index=True)


# --------------------------------------------------------------------------------------
# The encoder
# --------------------------------------------------------------------------------------
@dataclass
class Encoder:
    """Whisper loaded for this chapter: the ``backbone`` (keras-hub's ``WhisperBackbone``,
    encoder and decoder), its audio ``converter`` (``WhisperAudioConverter``, the window set to
    ``window_seconds``; :meth:`log_mel` runs it), ``model``: a Keras model from the converter's
    log-Mel features to the encoder's vectors after every block (:func:`layer_names`), and the
    :class:`Source` of the weights. Made by :func:`load_encoder`; taught in ``18_pretrained_speech``."""

    backbone: keras.Model
    converter: keras.layers.Layer
    model: keras.Model
    source: Source
    window_seconds: int

    def __post_init__(self):
        # keras-hub runs a preprocessing layer called eagerly in NumPy; inside a tf.function it takes
        # its TensorFlow path, the same numbers about eight times faster
        self._convert = tf.function(lambda audio: self.converter(audio), reduce_retracing=True)

    def log_mel(self, batch: np.ndarray) -> np.ndarray:
        """The converter's output for a (N, window samples) batch of waveforms, as NumPy."""
        return np.asarray(self._convert(tf.constant(batch, dtype=tf.float32)), dtype=np.float32)

    @property
    def n_layers(self) -> int:
        """Transformer blocks of the encoder."""
        return int(self.backbone.num_layers)

    @property
    def width(self) -> int:
        """Numbers per position (the embedding's length)."""
        return int(self.backbone.hidden_dim)

    @property
    def window_samples(self) -> int:
        return int(self.window_seconds * SAMPLE_RATE)


def layer_names(n_layers: int) -> list[str]:
    """Names of the encoder outputs that :func:`embed` pools, in order: the input of the first
    block (what the convolutions and the position embeddings make of the frames), the output of
    blocks 1 to ``n_layers - 1``, and the encoder's output (the last block, then its layer norm).
    Taught in ``18_pretrained_speech``."""
    return ["input of block 1"] + [f"block {k}" for k in range(1, n_layers)] + [f"output (block {n_layers} + layer norm)"]


def load_encoder(source: Source, window_seconds: int = WINDOW_SECONDS) -> Encoder:
    """Load the backbone and the audio converter of ``source`` with keras-hub's ``from_preset`` (the
    same call for the hub's preset and for a local folder) and build the model of the encoder's
    outputs (:class:`Encoder`). ``window_seconds``: the converter's window, Whisper's 30 s by
    default; at most what the backbone's position table holds. A preset without ``audio_converter.json``
    gets keras-hub's converter with Whisper's settings (said in one line). Taught in ``18_pretrained_speech``.
    """
    _require_keras_hub()
    backbone = keras_hub.models.WhisperBackbone.from_preset(source.preset)
    frames = int(window_seconds) * SAMPLE_RATE // HOP
    if not 1 <= int(window_seconds) or frames > backbone.max_encoder_sequence_length:
        raise InputError(f"window_seconds = {window_seconds!r}: this encoder takes at most "
                         f"{backbone.max_encoder_sequence_length * HOP // SAMPLE_RATE} s ({backbone.max_encoder_sequence_length} frames).\n"
                         f"Fix: set window_seconds to a whole number from 1 to {backbone.max_encoder_sequence_length * HOP // SAMPLE_RATE}")
    try:
        converter = keras_hub.layers.WhisperAudioConverter.from_preset(source.preset, max_audio_length=int(window_seconds))
    except FileNotFoundError:  # a preset saved without its converter: Whisper's own settings, keras-hub's defaults
        print(f"{source.preset} has no audio_converter.json: using WhisperAudioConverter with Whisper's settings.", flush=True)
        converter = keras_hub.layers.WhisperAudioConverter(num_mels=int(backbone.num_mels), max_audio_length=int(window_seconds))
    n = int(backbone.num_layers)
    outputs = [backbone.get_layer("encoder_embeddings_dropout").output]
    outputs += [backbone.get_layer(f"transformer_encoder_layer_{k}").output for k in range(n - 1)]
    outputs.append(backbone.output["encoder_sequence_output"])
    model = keras.Model(backbone.input["encoder_features"], outputs, name="whisper_encoder_layers")
    return Encoder(backbone, converter, model, source, int(window_seconds))


def open_encoder(source: str = "auto", preset: str = HUB_PRESET, *, timeout: float = HUB_TIMEOUT_S, seed: int = 0,
                 window_seconds: int = WINDOW_SECONDS, architecture: dict | None = None) -> Encoder:
    """:func:`choose_source`, then :func:`load_encoder`; with ``source="auto"`` a hub preset that
    fails to load (a download cut off, a hub that refuses) falls back to the offline model, the
    error given as the reason. Taught in ``18_pretrained_speech``."""
    chosen = choose_source(source, preset, timeout=timeout, seed=seed, architecture=architecture)
    try:
        return load_encoder(chosen, window_seconds)
    except InputError:
        raise
    except Exception as err:
        if source != "auto" or not chosen.hub:
            raise
        reason = f"loading {preset} from the hub failed ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
        return load_encoder(_offline(reason, seed, architecture), window_seconds)


def parameter_table(encoder: Encoder) -> pd.DataFrame:
    """Where the backbone's parameters are and what they weigh: rows ``encoder (used here)``,
    ``decoder and text embedding (not used)`` and ``whole backbone``, columns ``parameters`` and
    ``megabytes`` (the bytes of the weights, at their stored precision). Taught in
    ``18_pretrained_speech`` (what the model costs in memory)."""
    def size(variables) -> tuple[int, int]:
        seen = {id(v): v for v in variables}
        count = sum(int(np.prod(v.shape)) for v in seen.values())
        nbytes = sum(int(np.prod(v.shape)) * np.dtype(keras.backend.standardize_dtype(v.dtype)).itemsize for v in seen.values())
        return count, nbytes

    enc = size(encoder.model.weights)
    whole = size(encoder.backbone.weights)
    rows = {"encoder (used here)": enc, "decoder and text embedding (not used)": (whole[0] - enc[0], whole[1] - enc[1]),
            "whole backbone": whole}
    return pd.DataFrame({"parameters": [v[0] for v in rows.values()], "megabytes": [v[1] / 1e6 for v in rows.values()]},
                        index=list(rows))


# --------------------------------------------------------------------------------------
# Clips in, one embedding per clip out
# --------------------------------------------------------------------------------------
def clip_positions(n_samples: int, window_seconds: int = WINDOW_SECONDS) -> int:
    """How many encoder positions cover a clip of ``n_samples`` samples at 16 kHz: the converter
    makes one frame per 160 samples (10 ms), :math:`F = \\lceil n / 160 \\rceil`, and the stride-2
    convolution one position per two frames, :math:`P = \\lceil F / 2 \\rceil` (at least 1, at most the
    window's). The positions after them see only the padding. Taught in ``18_pretrained_speech``."""
    n = int(n_samples)
    if n < 1:
        raise ValueError(f"a clip needs at least one sample, got {n_samples!r}")
    frames = min(math.ceil(n / HOP), int(window_seconds) * SAMPLE_RATE // HOP)
    return max(1, math.ceil(frames / 2))


def load_clip(path: str | Path, top_db: float = TRIM_TOP_DB) -> np.ndarray:
    """One file as Whisper hears it: mono at 16 kHz (:func:`course_utils.data.audio.load_audio`), the
    silence before and after the speech trimmed as in chapter 06 (``top_db`` below the loudest
    frame; :func:`course_utils.data.audio.trim_silence`). A file with almost nothing left raises an
    :class:`course_utils.base.errors.InputError` naming it. Taught in ``18_pretrained_speech``."""
    y, _ = audio.load_audio(path, sr=SAMPLE_RATE)
    if not np.any(np.abs(y) > 1e-5):
        raise InputError(f"{path}: the file is silent (every sample is zero), so it has no speech to embed.\n"
                         "Fix: check the recording, or remove the file from the data folder")
    y, _ = audio.trim_silence(y, top_db=top_db)
    if len(y) < 2 * HOP:
        raise InputError(f"{path}: less than 20 ms of sound is left after trimming the silence ({top_db:g} dB below "
                         "the loudest frame).\nFix: check the file (is it silent?), or remove it from the data folder")
    return y


def load_clips(paths_: Sequence[str | Path], *, top_db: float = TRIM_TOP_DB, n_jobs: int = 1, progress: bool = True) -> list[np.ndarray]:
    """:func:`load_clip` of every file, with one progress bar; ``n_jobs`` processes (1, the default,
    is usually fastest: a worker process first imports TensorFlow and keras-hub with this module,
    which takes longer than resampling a few hundred clips). Taught in ``18_pretrained_speech``."""
    files = [str(p) for p in paths_]
    return jupyter.map_files(load_clip, files, top_db, n_jobs=n_jobs, desc="clips at 16 kHz", progress_bar=progress)


def features(encoder: Encoder, waveforms: Sequence[np.ndarray]) -> np.ndarray:
    """Whisper's log-Mel input of each waveform (16 kHz): each padded with silence (or cut) to the
    window, then keras-hub's ``WhisperAudioConverter``. Returns (N, frames, 80) float32. Taught in
    ``18_pretrained_speech``."""
    batch = np.zeros((len(waveforms), encoder.window_samples), dtype=np.float32)
    for i, y in enumerate(waveforms):
        y = np.asarray(y, dtype=np.float32).reshape(-1)[: encoder.window_samples]
        batch[i, : len(y)] = y
    return encoder.log_mel(batch)


def embed(encoder: Encoder, waveforms: Sequence[np.ndarray], *, batch_size: int = 8, keep_top: bool = True,
          progress: bool = True) -> dict:
    """The embeddings of a list of waveforms (16 kHz), ``batch_size`` clips at a time.

    Returns a dict: ``pooled`` (N, L + 1, D) float32, the mean of the encoder's vectors over the
    clip's positions (:func:`clip_positions`) after every block (:func:`layer_names`);
    ``positions`` (N,); with ``keep_top``, ``top`` (N, P_max, D) float16: the vectors of the clip's
    positions as they enter the top block (zeros after a clip's end), for :func:`finetune`; and
    ``seconds``, the time the encoder and the converter took. Taught in ``18_pretrained_speech``.
    """
    n, width, n_out = len(waveforms), encoder.width, encoder.n_layers + 1
    positions = np.array([clip_positions(len(y), encoder.window_seconds) for y in waveforms], dtype=np.int32)
    pooled = np.zeros((n, n_out, width), dtype=np.float32)
    top = np.zeros((n, int(positions.max(initial=1)), width), dtype=np.float16) if keep_top else None
    t0 = time.perf_counter()
    with jupyter.progress(total=n, desc=f"Whisper embeddings ({model_tag(encoder.source)})", unit="clip",
                          disable=not progress) as bar:
        for start in range(0, n, batch_size):
            part = list(range(start, min(n, start + batch_size)))
            outs = encoder.model.predict_on_batch(features(encoder, [waveforms[i] for i in part]))
            outs = [np.asarray(o, dtype=np.float32) for o in outs]
            for j, i in enumerate(part):
                p = positions[i]
                pooled[i] = np.stack([o[j, :p].mean(axis=0) for o in outs])
                if keep_top:
                    top[i, :p] = outs[-2][j, :p]
            bar.update(len(part))
    out = {"pooled": pooled, "positions": positions, "seconds": np.float64(time.perf_counter() - t0)}
    if keep_top:
        out["top"] = top
    return out


def cache_path(meta: pd.DataFrame, dataset: str, encoder: Encoder, *, top_db: float = TRIM_TOP_DB,
               cache_dir: str | Path | None = None) -> Path:
    """The cache entry of :func:`cached_embeddings`: named by the dataset, the model
    (:func:`model_tag` and the preset) and the recipe (window, trimming, version), fingerprinted
    with the clips' files (:func:`course_utils.data.cache.entry_path`). Taught in ``18_pretrained_speech``."""
    recipe = (encoder.source.preset if encoder.source.hub else Path(encoder.source.preset).name,
              encoder.window_seconds, float(top_db), SAMPLE_RATE, EMBEDDING_VERSION)
    key = hashlib.sha1(json.dumps([str(r) for r in recipe]).encode()).hexdigest()[:12]
    return cache.entry_path(f"speech-{dataset}-{model_tag(encoder.source)}-{key}", meta["path"], *recipe, cache_dir=cache_dir)


def cached_embeddings(meta: pd.DataFrame, dataset: str, encoder: Encoder, *, batch_size: int = 8, n_jobs: int = 1,
                      top_db: float = TRIM_TOP_DB, progress: bool = True, cache_dir: str | Path | None = None) -> dict:
    """:func:`embed` of every clip of ``meta`` (loaded with :func:`load_clips`), cached on disk
    (:func:`cache_path`; written atomically by :func:`course_utils.data.cache.cached`, a damaged entry
    reported and made again). Returns the dict of :func:`embed` (with ``top``) plus ``filenames``
    and ``from_cache`` (True when nothing was computed: ``seconds`` is then the time it took when
    it was). Taught in ``18_pretrained_speech``."""
    names = [Path(p).name for p in meta["path"]]
    computed = []

    def build() -> dict:
        clips = load_clips(meta["path"], top_db=top_db, n_jobs=n_jobs, progress=progress)
        out = embed(encoder, clips, batch_size=batch_size, keep_top=True, progress=progress)
        computed.append(True)
        return {**out, "filenames": np.array(names)}

    n_out = encoder.n_layers + 1
    check = cache.shape_check("pooled", (len(names), n_out, encoder.width))
    data = cache.cached(cache_path(meta, dataset, encoder, top_db=top_db, cache_dir=cache_dir), build,
                        what="Whisper-embedding", names=names, check=check)
    return {**data, "from_cache": not computed}


def time_per_clip(encoder: Encoder, waveforms: Sequence[np.ndarray], *, batch_size: int = 8) -> dict:
    """Seconds per clip on this machine, measured: the log-Mel input (converter) and the encoder,
    for the clips of ``waveforms`` in batches of ``batch_size``, after one untimed batch (the first
    call traces the model). Returns ``{"converter": s, "encoder": s, "total": s, "clips": n}``.
    Taught in ``18_pretrained_speech`` (what the model costs in time)."""
    waveforms = list(waveforms)
    if not waveforms:
        raise ValueError("need at least one clip to time")
    encoder.model.predict_on_batch(features(encoder, waveforms[:batch_size]))  # warm-up: tracing
    t_conv = t_enc = 0.0
    for start in range(0, len(waveforms), batch_size):
        t0 = time.perf_counter()
        x = features(encoder, waveforms[start:start + batch_size])
        t1 = time.perf_counter()
        encoder.model.predict_on_batch(x)
        t2 = time.perf_counter()
        t_conv, t_enc = t_conv + (t1 - t0), t_enc + (t2 - t1)
    n = len(waveforms)
    return {"converter": t_conv / n, "encoder": t_enc / n, "total": (t_conv + t_enc) / n, "clips": n}


# --------------------------------------------------------------------------------------
# Light fine-tuning
# --------------------------------------------------------------------------------------
def head_from_linear(pipeline, n_classes: int) -> dict:
    """What chapter 07's fitted logistic regression (:func:`course_utils.learning.baseline.make_model`
    with ``kind="logreg"``: imputation, standardisation :math:`z = (x - \\mu)/\\sigma`, then
    :math:`\\mathrm{softmax}(Wz + b)`) needs to run inside a network: ``mean`` :math:`\\mu` and
    ``scale`` :math:`\\sigma` of the features, and ``kernel`` :math:`W^\\top` (D, K) and ``bias`` (K,)
    of the softmax layer, the classes in the order 0 ... K - 1 (a class the training clips lacked
    gets a very negative bias). Used by :func:`finetune` to start from a linear classifier (LP-FT);
    taught in ``18_pretrained_speech``."""
    scaler, clf = pipeline.named_steps["scale"], pipeline.named_steps["clf"]
    coef, intercept = np.asarray(clf.coef_, dtype=np.float64), np.asarray(clf.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row
        coef, intercept = np.vstack([-coef, coef]) / 2, np.array([-intercept[0], intercept[0]]) / 2
    kernel = np.zeros((coef.shape[1], n_classes))
    bias = np.full(n_classes, -30.0)
    for row, k in enumerate(np.asarray(clf.classes_, dtype=int)):
        kernel[:, k], bias[k] = coef[row], intercept[row]
    return {"mean": np.asarray(scaler.mean_, dtype=np.float32), "scale": np.asarray(scaler.scale_, dtype=np.float32),
            "kernel": kernel.astype(np.float32), "bias": bias.astype(np.float32)}


def finetune_trunk(encoder: Encoder) -> keras.Model:
    """The trained part of light fine-tuning: a *copy* of the encoder's top block (its weights,
    trainable), a copy of the final layer norm and the mean over the clip's positions. Inputs:
    ``states`` (N, P, D), the vectors as they enter the top block (:func:`embed`'s ``top``), and
    ``mask`` (N, P), 1 on the clip's positions: the block's attention and the mean see only those.
    Output: one vector of D numbers per clip. The rest of the encoder stays frozen, as its output
    was computed once. Used by :func:`finetune_model`; taught in ``18_pretrained_speech``."""
    n = encoder.n_layers
    top = encoder.backbone.get_layer(f"transformer_encoder_layer_{n - 1}")
    norm = encoder.backbone.get_layer("encoder_layer_norm")
    block = top.__class__.from_config(top.get_config())
    block_norm = norm.__class__.from_config(norm.get_config())
    states = keras.Input((None, encoder.width), name="states")
    mask = keras.Input((None,), name="mask")
    x = block_norm(block(states, padding_mask=mask))
    m = keras.ops.expand_dims(mask, -1)
    pooled = keras.ops.sum(x * m, axis=1) / keras.ops.maximum(keras.ops.sum(m, axis=1), 1.0)
    trunk = keras.Model({"states": states, "mask": mask}, pooled, name="whisper_top_block")
    block.set_weights(top.get_weights())
    block_norm.set_weights(norm.get_weights())
    return trunk


def finetune_model(encoder: Encoder, n_classes: int, *, dropout: float = 0.0, seed: int = 0, head: dict | None = None,
                   trunk: keras.Model | None = None) -> keras.Model:
    """The network of light fine-tuning: :func:`finetune_trunk` (``trunk``: one made already), then
    the clip vector standardised with fixed statistics, dropout and a new softmax layer of
    ``n_classes``. ``head``: :func:`head_from_linear` (the standardisation's ``mean`` and ``scale`` and
    the softmax layer's starting ``kernel`` and ``bias``); None: no standardisation and a randomly
    initialised layer. Dropout acts on standardised numbers, so that dropping one does not shift the
    logits by its mean. Taught in ``18_pretrained_speech``."""
    trunk = trunk or finetune_trunk(encoder)
    x = trunk.output
    if head is not None:
        mean = keras.ops.convert_to_tensor(np.asarray(head["mean"], dtype=np.float32))
        scale = keras.ops.convert_to_tensor(np.asarray(head["scale"], dtype=np.float32))
        x = (x - mean) / scale
    x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    out = keras.layers.Dense(n_classes, activation="softmax", name="emotion",
                             kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(x)
    model = keras.Model(trunk.inputs, out, name="whisper_top_block_and_head")
    if head is not None:
        model.get_layer("emotion").set_weights([np.asarray(head["kernel"]), np.asarray(head["bias"])])
    return model


def _dataset(top: np.ndarray, positions: np.ndarray, labels: np.ndarray, rows: np.ndarray, *, batch_size: int,
             shuffle: bool = False, seed: int = 0, max_batches: int | None = None) -> tf.data.Dataset:
    rows = np.asarray(rows)
    p_max = int(positions[rows].max())
    mask = (np.arange(p_max)[None, :] < positions[rows][:, None]).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices(({"states": top[rows, :p_max], "mask": mask}, np.asarray(labels)[rows]))
    if shuffle:
        ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: ({"states": tf.cast(x["states"], tf.float32), "mask": x["mask"]}, y))
    if max_batches:
        ds = ds.take(int(max_batches))
    return ds.prefetch(tf.data.AUTOTUNE)


def _linear_head(trunk: keras.Model, top: np.ndarray, positions: np.ndarray, labels: np.ndarray, split, n_classes: int, *,
                 batch_size: int, c_grid: Sequence[float], seed: int) -> tuple[dict, dict, float]:
    """Chapter 07's logistic regression on the trunk's clip vectors before any training (C chosen by
    UAR on the validation clips): its :func:`head_from_linear`, its test scores and its validation
    accuracy, which are those of the network it starts (dropout acts only in training)."""
    rows = np.concatenate([split.train, split.val, split.test])
    feats = np.zeros((len(labels), int(trunk.output.shape[-1])), dtype=np.float32)
    feats[rows] = np.asarray(trunk.predict(_dataset(top, positions, labels, rows, batch_size=batch_size), verbose=0))
    fit = baseline.fit_select(feats, labels, split, "logreg", c_grid=c_grid, seed=seed, select="uar")
    proba = np.zeros((len(split.test), n_classes))
    proba[:, np.asarray(fit["model"].classes_, dtype=int)] = fit["model"].predict_proba(feats[split.test])
    pred = proba.argmax(axis=1)
    cm = confusion_matrix(labels[split.test], pred, labels=list(range(n_classes)))
    start = {**diagnosis.summary_scores(cm), "confusion": cm, "predictions": pred, "probabilities": proba}
    val_accuracy = float(np.mean(fit["model"].predict(feats[split.val]) == labels[split.val]))
    return head_from_linear(fit["model"], n_classes), start, val_accuracy


def finetune(encoder: Encoder, data: dict, labels: np.ndarray, split, class_names: Sequence[str], *, epochs: int = 3,
             lr: float = 1e-4, batch_size: int = 16, max_batches: int | None = None, dropout: float = 0.0, seed: int = 0,
             patience: int | None = None, head: str | dict | None = "linear", c_grid: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
             progress: bool = True) -> dict:
    """Light fine-tuning on one split: :func:`finetune_model` trained on ``split.train`` with Adam
    (learning rate ``lr`` with a cosine decay over the planned steps) and
    :func:`course_utils.learning.training.fit` (seeded; the best validation epoch's weights kept, and
    the starting weights, ``best_epoch`` 0, when no epoch beats them on the validation clips),
    scored once on ``split.test``. ``data``: :func:`cached_embeddings` (its ``top`` and
    ``positions``).

    ``head``: where the softmax layer starts. ``"linear"`` (the default; LP-FT, Kumar et al., 2022):
    chapter 07's logistic regression fitted on the trunk's clip vectors before any training (its
    ``C`` from ``c_grid`` by validation UAR; :func:`head_from_linear`), so that fine-tuning starts
    where a linear classifier ends; ``None``: random weights; or a dict of :func:`head_from_linear`.

    Returns ``history``, ``scores`` (accuracy, uar, macro_f1, n_test, confusion, predictions,
    probabilities, as :func:`course_utils.learning.training.evaluate`), ``start_scores`` (the
    test scores of the starting network, before any training step: what fine-tuning changed),
    ``trainable`` (parameters trained), ``best_epoch``, ``epochs_run``, ``seconds_per_epoch`` and
    ``seconds``. The network is freed afterwards. Taught in ``18_pretrained_speech``."""
    t0 = time.perf_counter()
    labels = np.asarray(labels, dtype=int)
    top, positions = np.asarray(data["top"]), np.asarray(data["positions"])
    n_classes = len(class_names)
    training.set_determinism(seed)
    trunk = finetune_trunk(encoder)
    start = start_val = None
    if isinstance(head, str):
        if head != "linear":
            raise ValueError(f"head must be 'linear', None or a dict of head_from_linear, got {head!r}")
        head, start, start_val = _linear_head(trunk, top, positions, labels, split, n_classes, batch_size=batch_size,
                                              c_grid=c_grid, seed=seed)
    model = finetune_model(encoder, n_classes, dropout=dropout, seed=seed, head=head, trunk=trunk)
    test_ds = _dataset(top, positions, labels, split.test, batch_size=batch_size)

    def scores() -> dict:
        proba = np.asarray(model.predict(test_ds, verbose=0))
        pred = proba.argmax(axis=1)
        cm = confusion_matrix(labels[split.test], pred, labels=list(range(n_classes)))
        return {**diagnosis.summary_scores(cm), "confusion": cm, "predictions": pred, "probabilities": proba}

    if start is None:  # a head given, or random: the starting network is scored as it is
        start = scores()
    steps = -(-len(split.train) // batch_size)
    steps = min(steps, int(max_batches)) if max_batches else steps
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, epochs * steps), alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train_ds = _dataset(top, positions, labels, split.train, batch_size=batch_size, shuffle=True, seed=seed, max_batches=max_batches)
    val_ds = _dataset(top, positions, labels, split.val, batch_size=batch_size)
    if start_val is None:
        start_val = float(model.evaluate(val_ds, verbose=0, return_dict=True)["accuracy"])
    start_weights = model.get_weights()
    name = str(getattr(split, "name", "split")).split(":")[0].split(" (")[0]
    history = training.fit(model, train_ds, val_ds, epochs, seed=seed, patience=patience,
                           progress=progress and f"Whisper top block + softmax, {name}")
    best_epoch = int(history.attrs["best_epoch"])
    kept = float(history["val_accuracy"].max()) <= start_val  # no epoch beat the start on the validation clips: keep the start
    if kept:
        model.set_weights(start_weights)
        best_epoch = 0
    history.attrs["start_val_accuracy"] = start_val
    result = {"history": history, "scores": start if kept else scores(), "start_scores": start, "best_epoch": best_epoch,
              "epochs_run": len(history), "trainable": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
              "seconds_per_epoch": jupyter.seconds_per_epoch(history["seconds"])}
    del model, trunk, train_ds, val_ds, test_ds
    gc.collect()
    result["seconds"] = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def band_frequencies(encoder: Encoder) -> np.ndarray:
    """The centre frequency (Hz) of each of Whisper's Mel bands: the peak of its triangular filter
    in the converter's filter bank (Slaney's Mel scale, 0 to 8 kHz). Taught in ``18_pretrained_speech``."""
    filters = np.asarray(encoder.converter.mel_filters)  # (fft bins, mels)
    hz = np.fft.rfftfreq(encoder.converter.num_fft_bins, 1.0 / encoder.converter.sampling_rate)
    return hz[np.argmax(filters, axis=0)]


def plot_input(encoder: Encoder, feats: np.ndarray, n_samples: int, title: str = "") -> plt.Figure:
    """Whisper's log-Mel input of one clip (``feats``: (frames, 80), :func:`features`), twice: the
    whole window, where the padding shows, and the clip's own part. Time in seconds, frequency in Hz
    (the bands' centres, :func:`band_frequencies`), level as the converter scales it. Taught in
    ``18_pretrained_speech``."""
    feats = np.asarray(feats)
    hz = band_frequencies(encoder)
    seconds = len(feats) * HOP / SAMPLE_RATE
    clip_s = n_samples / SAMPLE_RATE
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), gridspec_kw={"width_ratios": [2.2, 1]}, layout="constrained")
    vmin, vmax = float(feats.min()), float(feats.max())
    for ax, end in ((axes[0], seconds), (axes[1], min(seconds, clip_s * 1.1))):
        frames = max(1, int(round(end * SAMPLE_RATE / HOP)))
        im = ax.imshow(feats[:frames].T, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax,
                       extent=(0, frames * HOP / SAMPLE_RATE, 0, feats.shape[1]))
        ax.axvline(clip_s, color="w", ls="--", lw=1)
        ticks = [k for k in (250, 500, 1000, 2000, 4000, 8000) if hz.min() <= k <= hz.max()]
        ax.set_yticks([int(np.argmin(np.abs(hz - k))) + 0.5 for k in ticks], [f"{k:,}" for k in ticks])
        ax.set(xlabel="time (s)", ylabel="frequency (Hz, Mel scale)")
    axes[0].set_title(f"the whole window ({seconds:g} s; dashed: end of the clip)")
    axes[1].set_title("the clip's own part")
    fig.colorbar(im, ax=axes, label="(log10 power + 4) / 4", shrink=0.9)
    if title:
        fig.suptitle(title)
    return fig


def plot_layer_probe(table: pd.DataFrame, chance: float, ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """Validation UAR of a linear classifier on the embedding of each layer (``table``: one row per
    layer with ``validation UAR``), with chance. Taught in ``18_pretrained_speech``."""
    ax = ax or plt.gca()
    values = 100 * table["validation UAR"].to_numpy(dtype=float)
    ax.plot(range(len(values)), values, "o-")
    ax.axhline(100 * chance, color="0.4", ls=":", label=f"chance ({100 * chance:.1f} %)")
    ax.set_xticks(range(len(values)), [str(i).replace(" (", "\n(") for i in table.index], fontsize=8)
    ax.set(xlabel="encoder output pooled over the clip", ylabel="validation UAR (%)", ylim=(0, 100),
           title=title or "Which layer knows emotion? Logistic regression per layer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax
