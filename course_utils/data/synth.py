"""The offline corpus: real synthesized English speech in RAVDESS's exact layout.

Taught in notebook ``00_getting_the_data`` (section "The offline corpus, and how it differs
from real actors"); used by every notebook when RAVDESS is not available
(:func:`course_utils.data.datasets.resolve`).

:func:`generate_corpus` writes 24 "actors" x 60 trials = 1440 WAV files named and foldered
exactly like the speech part of RAVDESS (``Actor_01/03-01-EE-II-SS-RR-AA.wav``; see
:mod:`course_utils.data.metadata`): 48 kHz, 16-bit PCM, silence of random length before and after
the sentence, a low noise floor (-78 to -68 dBFS, a different one per actor) and a few stereo
files whose two channels are nearly identical. The speech comes from the open-source
synthesiser **espeak-ng** (the ``espeakng_loader`` wheel bundles the library and its data;
it is driven through ``ctypes``, see :class:`Espeak`).

Actors
------
Odd ids are male voices, even ids female, as in RAVDESS. Each actor has its own espeak-ng
voice variant (``m1`` ... ``m8`` and named male variants; ``f1`` ... ``f5`` and named female
ones, :data:`MALE_VARIANTS`, :data:`FEMALE_VARIANTS`), base pitch and pitch range (male
lower), speaking rate, speech level, timbre (a spectral tilt and one resonance of its own,
applied with ``scipy.signal``) and noise floor; and its own *expressiveness* (how far its
emotions go from its neutral voice) and *biases* (its own way of sounding sad, angry ...).
See :func:`actor_profile`.

Emotions: prosody rules
-----------------------
The emotions are rules from the literature on emotional speech synthesis: Murray & Arnott
(1993), "Toward the simulation of emotion in synthetic speech: a review of the literature on
human vocal emotion", JASA 93(2), 1097-1108, whose table of vocal effects (speech rate, pitch
average, pitch range, intensity, voice quality, pitch changes) drives most rows; and Schröder
(2001), "Emotional speech synthesis: a review", Eurospeech 2001, for the way such rules are
turned into synthesiser settings. Murray & Arnott describe directions and rough sizes in words
("much higher", "slightly slower"); the numbers below are this module's choice, tuned so that
the course's baseline finds emotion hard but learnable. Calm and surprised are not in Murray & Arnott's table:
calm is built as a low-arousal version of neutral, surprised as a high-arousal, wide-range
voice with a rising (question) contour, following the arousal dimension discussed by Schröder.
The rules are the data table :data:`EMOTION_RULES` (shown by :func:`rules_table`); at *normal*
intensity (values are changes from the actor's neutral voice):

=========  =====  =====  =====  ======  ======  =======  ======  =====  ================
emotion    pitch  range  rate   loud    breath  tension  jitter  pause  contour
           (st)   (%)    (%)    (dB)    (0-1)   (dB)     (%)     (10ms)
=========  =====  =====  =====  ======  ======  =======  ======  =====  ================
neutral     0.0     0      0     0.0    0.00     0.0      0.0     0    .
calm       -1.0   -25    -10    -4.0    0.15    -2.5      0.0     1    .
happy      +3.0   +40     +8    +3.0    0.08    +1.5      0.6     0    ! or .
sad        -2.0   -45    -15    -6.0    0.35    -4.0      0.6     2    .
angry      +2.0   +50    +10    +7.0    0.10    +5.0      0.6     0    ! or .
fearful    +5.0   +15    +18    +1.0    0.25    +1.5      2.5     1    ! , or .
disgust    -3.0   +15    -22    -2.0    0.10    +1.0      0.5     1    .
surprised  +4.0   +65     0     +3.0    0.05    +1.0      0.4     0    ? or !
=========  =====  =====  =====  ======  ======  =======  ======  =====  ================

*Strong* intensity multiplies every deviation by :data:`STRONG_FACTOR`. On top of the rule,
each actor scales all deviations by its expressiveness (0.6-1.4) and adds its own bias per
emotion, and each take (repetition) adds a small random jitter (:data:`ACTOR_BIAS_SD`,
:data:`TAKE_SD`), so that emotion is hard but learnable. Pitch, range, rate and pause are
espeak-ng's own settings; loudness, breathiness (noise mixed into the voiced parts, following
the speech envelope), tension (spectral tilt above 1.5 kHz: tense = brighter, lax =
duller) and jitter (random, smooth f0 and tempo irregularity) are applied to the signal.

How it differs from real actors
-------------------------------
The voices are synthetic and far more alike than 24 people; the emotions are rules that move
pitch, rate, loudness and voice quality the same way in every sentence, whereas a human actor
changes timing, articulation and voice quality in ways no rule captures. A model trained on
this corpus learns these rules, not human emotion: **it does not transfer to real speech**.
Use the corpus to learn the course's methods offline, and RAVDESS to learn what they can do.

Reproducibility
---------------
Everything random about a file depends only on ``(seed, file name)``: the same call writes
byte-identical files, in any order, with any number of workers, and a subset of actors gives
exactly the files of the full set. (espeak-ng keeps a few counters from one utterance to the
next, for its pitch "flutter" and its "roughness" modulation; the voice variants written
here switch both off, and espeak-ng's random generator is reseeded before every utterance,
so an utterance does not depend on the ones before it. See :func:`voice_variant_text`.) A manifest ``corpus.json`` is written last: a later call that
finds a complete corpus with the same seed and generator version returns at once
(:func:`read_manifest`, :func:`corpus_is_complete`).

The pieces, in the order of the code: :func:`actor_profile` and :func:`take_parameters` (every
setting of a file, drawn from its name and the seed), :func:`rules_table` (the rules as a
table), :class:`Espeak` and :func:`engine` (espeak-ng, one per process), :func:`render` (one
file in memory) and :func:`generate_corpus` (every file, in parallel, then the manifest).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import soxr
from scipy import signal

from course_utils.base import jupyter
from course_utils.data import audio, metadata
from course_utils.data.atomic import clean_leftovers, write_text_atomic

#: Version of the generator; a corpus written by another version is regenerated. Bump it
#: whenever a change (rules, voices, processing) changes the bytes written.
GENERATOR_VERSION = "2"  # 2: noise floor lowered so that trimming at 30 dB works on soft takes
#: Sample rate of the written files (RAVDESS's).
SAMPLE_RATE = 48_000
#: File name of the manifest, written last into the corpus folder.
MANIFEST_NAME = "corpus.json"
#: Share of files written as (nearly identical) stereo, as a handful of real RAVDESS files.
STEREO_FRACTION = 0.03
#: Strong intensity multiplies every deviation from neutral by this factor.
STRONG_FACTOR = 1.7
#: Silence before and after the sentence, seconds (uniform ranges).
HEAD_SILENCE = (0.5, 1.1)
TAIL_SILENCE = (0.5, 1.1)

#: espeak-ng voice variants used as the starting point of each actor's voice (index: the
#: actor's rank among its sex, so Actor_01 -> m1, Actor_02 -> f1, Actor_03 -> m2 ...).
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m6", "m7", "m8", "Andy", "Denis", "Hugo", "michel", "travis")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Andrea", "Annie", "anika", "belinda", "linda", "steph", "aunty")

#: The prosody rules, at normal intensity, as changes from the actor's neutral voice.
#: Columns (see :data:`RULE_COLUMNS` for units): pitch level, pitch range, speaking rate,
#: loudness, breathiness, tension, jitter, pause between words, sentence contour (the final
#: punctuation espeak-ng reads: "." falling, "!" exclamation, "?" rising, "," continuing,
#: with their probabilities).
EMOTION_RULES: dict[str, dict] = {
    # Comments quote the direction of Murray & Arnott's (1993) summary table; the numbers are
    # this module's choice (the paper gives words such as "much higher", not values).
    "neutral":   dict(pitch=0.0, range=0, rate=0, loudness=0.0, breath=0.00, tension=0.0, jitter=0.0, pause=0, contour={".": 1.0}),
    # calm: low-arousal neutral (not in M&A): slightly lower, narrower, slower, softer, lax
    "calm":      dict(pitch=-1.0, range=-25, rate=-10, loudness=-4.0, breath=0.15, tension=-2.5, jitter=0.0, pause=1, contour={".": 1.0}),
    # M&A happiness: faster or slower, pitch much higher, range much wider, louder, breathy
    # "blaring" voice, smooth upward inflections
    "happy":     dict(pitch=3.0, range=40, rate=8, loudness=3.0, breath=0.08, tension=1.5, jitter=0.6, pause=0, contour={"!": 0.6, ".": 0.4}),
    # M&A sadness: slightly slower, slightly lower, slightly narrower, softer, resonant,
    # downward inflections, slurring (range narrowed more than "slightly" here, to be learnable)
    "sad":       dict(pitch=-2.0, range=-45, rate=-15, loudness=-6.0, breath=0.35, tension=-4.0, jitter=0.6, pause=2, contour={".": 1.0}),
    # M&A anger: slightly faster, pitch very much higher, range much wider, louder, breathy
    # chest tone, abrupt changes on stressed syllables, tense articulation
    "angry":     dict(pitch=2.0, range=50, rate=10, loudness=7.0, breath=0.10, tension=5.0, jitter=0.6, pause=0, contour={"!": 0.7, ".": 0.3}),
    # M&A fear: much faster, pitch very much higher, range much wider, normal intensity,
    # irregular voicing, precise articulation
    "fearful":   dict(pitch=5.0, range=15, rate=18, loudness=1.0, breath=0.25, tension=1.5, jitter=2.5, pause=1, contour={"!": 0.4, ",": 0.3, ".": 0.3}),
    # M&A disgust: very much slower, pitch very much lower, range slightly wider, softer,
    # grumbled chest tone, wide downward terminal inflections
    "disgust":   dict(pitch=-3.0, range=15, rate=-22, loudness=-2.0, breath=0.10, tension=1.0, jitter=0.5, pause=1, contour={".": 1.0}),
    # surprise (not in M&A): high arousal, higher, much wider range, rising terminal contour
    "surprised": dict(pitch=4.0, range=65, rate=0, loudness=3.0, breath=0.05, tension=1.0, jitter=0.4, pause=0, contour={"?": 0.6, "!": 0.4}),
}

#: Unit and meaning of each numeric column of :data:`EMOTION_RULES`.
RULE_COLUMNS = {
    "pitch": ("st", "pitch level, semitones"),
    "range": ("%", "pitch range, % change"),
    "rate": ("%", "speaking rate, % change"),
    "loudness": ("dB", "speech level, dB"),
    "breath": ("0-1", "breathiness: aspiration noise in the voiced parts, share of the speech envelope"),
    "tension": ("dB", "spectral tilt above 1.5 kHz, dB (tense > 0, lax < 0)"),
    "jitter": ("%", "f0 and tempo irregularity: depth of a random smooth modulation, %"),
    "pause": ("10 ms", "extra pause between words, units of 10 ms"),
}
_NUMERIC = tuple(RULE_COLUMNS)

#: Spread (standard deviation) of each actor's own bias per emotion and rule column.
ACTOR_BIAS_SD = dict(pitch=1.0, range=12.0, rate=6.0, loudness=1.5, breath=0.05, tension=1.2, jitter=0.3, pause=0.7)
#: Spread of the random jitter of one take (file) around its actor's emotion settings.
TAKE_SD = dict(pitch=0.6, range=10.0, rate=4.0, loudness=1.2, breath=0.03, tension=0.8, jitter=0.2, pause=0.5)
#: Every take has at least this much f0 jitter (%), neutral included.
BASE_JITTER = 0.4
#: Limits of a take's deviation from neutral (after expressiveness, bias and jitter), so
#: that no take becomes unnatural (a 60 % slower sentence, a voice drowned in noise).
DEVIATION_LIMITS = dict(pitch=(-8.0, 10.0), range=(-90.0, 100.0), rate=(-35.0, 45.0), loudness=(-12.0, 12.0),
                        breath=(0.0, 0.6), tension=(-10.0, 10.0), jitter=(-BASE_JITTER, 5.0), pause=(0.0, 4.0))

_TENSION_HZ = 1500.0  # corner frequency of the tension / tilt shelf


# --------------------------------------------------------------------------------------
# Randomness: a generator per (seed, key), independent of call order
# --------------------------------------------------------------------------------------
def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}. Fix: pass e.g. seed=0.")
    return int(seed)


def _rng(seed: int, *key) -> np.random.Generator:
    """A random generator that depends only on ``seed`` and ``key`` (stable across runs)."""
    digest = hashlib.sha256(repr((int(seed),) + tuple(key)).encode()).digest()
    return np.random.default_rng(np.random.SeedSequence(int.from_bytes(digest[:16], "little")))


# --------------------------------------------------------------------------------------
# Actors and takes
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActorProfile:
    """Everything that makes one synthetic actor sound like itself (see :func:`actor_profile`).
    Part of the offline corpus of ``00_getting_the_data`` ("Actors" above)."""

    actor: int
    sex: str
    variant: str  #: espeak-ng voice variant the actor's voice starts from
    pitch_hz: tuple[int, int]  #: base and top of the voice's pitch range, Hz (espeak-ng's "pitch")
    rate_wpm: float  #: neutral speaking rate, words per minute
    level_db: float  #: neutral speech level (RMS of the voiced part), dBFS
    noise_db: float  #: noise floor (RMS), dBFS
    tilt_db: float  #: own spectral tilt above 1.5 kHz, dB
    resonance: tuple[float, float, float]  #: own resonance: centre Hz, gain dB, Q
    expressiveness: float  #: scales every emotion's deviation from neutral
    bias: dict = field(default_factory=dict, compare=False)  #: bias[emotion][column]


def _check_actor(actor) -> int:
    if isinstance(actor, bool) or not isinstance(actor, (int, np.integer)) or not 1 <= actor <= metadata.N_ACTORS:
        raise ValueError(
            f"unknown actor id {actor!r}: RAVDESS actors are the integers 1 ... {metadata.N_ACTORS}. "
            f"Fix: pass actors as a list of ids in that range, e.g. actors=[1, 2, 3]."
        )
    return int(actor)


def actor_profile(actor: int, seed: int = 0) -> ActorProfile:
    """The voice of one actor: variant, pitch, rate, level, timbre, noise floor, expressiveness.

    Odd ids are male, even female; the variant is fixed by the id, the rest is drawn from a
    generator that depends only on ``(seed, actor)``. Part of the offline corpus of ``00_getting_the_data``
    (each voice its own variant, pitch, rate and timbre).
    """
    actor, seed = _check_actor(actor), _check_seed(seed)
    rng = _rng(seed, "actor", actor)
    male = actor % 2 == 1
    rank = (actor - 1) // 2
    if male:
        low = rng.uniform(72, 100)
        top = low + rng.uniform(30, 50)
    else:
        low = rng.uniform(150, 200)
        top = low + rng.uniform(55, 90)
    profile = dict(
        actor=actor,
        sex="male" if male else "female",
        variant=(MALE_VARIANTS if male else FEMALE_VARIANTS)[rank],
        pitch_hz=(int(round(low)), int(round(top))),
        rate_wpm=float(rng.uniform(130, 170)),
        level_db=float(rng.uniform(-32, -26)),
        noise_db=float(rng.uniform(-78, -68)),  # real RAVDESS: median -113, 90th percentile -81 dBFS
        tilt_db=float(rng.uniform(-3, 3)),
        resonance=(float(np.exp(rng.uniform(np.log(700), np.log(3500)))), float(rng.uniform(-5, 5)), float(rng.uniform(0.8, 2.0))),
        expressiveness=float(rng.uniform(0.6, 1.4)),
    )
    bias = {}
    for emotion in EMOTION_RULES:
        brng = _rng(seed, "actor-bias", actor, emotion)
        draws = {col: float(brng.normal(0.0, ACTOR_BIAS_SD[col])) for col in _NUMERIC}
        bias[emotion] = {col: 0.0 for col in _NUMERIC} if emotion == "neutral" else draws
    return ActorProfile(**profile, bias=bias)


@dataclass(frozen=True)
class TakeParameters:
    """The settings of one file (one take), derived from its name: see :func:`take_parameters`.
    Part of the offline corpus of ``00_getting_the_data``."""

    name: str
    text: str  #: the sentence with its final punctuation (the contour)
    profile: ActorProfile
    deviation: dict  #: the emotion's change from neutral, per rule column, for this take
    pitch: int  #: espeak-ng espeakPITCH, 0-100 (50 = the voice's own)
    pitch_range: int  #: espeak-ng espeakRANGE, 0-100 (50 = the voice's own)
    rate: int  #: espeak-ng espeakRATE, words per minute
    word_gap: int  #: espeak-ng espeakWORDGAP, units of 10 ms
    gain_db: float  #: speech level, dBFS
    breath: float
    tension_db: float
    jitter: float  #: %
    head_s: float
    tail_s: float
    stereo: bool
    noise_seed: int


def take_parameters(name: str, seed: int = 0) -> TakeParameters:
    """Every setting used to render the file ``name`` (a RAVDESS file name).

    deviation = intensity factor x (actor expressiveness x rule + actor bias) + take jitter,
    where the intensity factor is 1 (normal) or :data:`STRONG_FACTOR` (strong), clipped to
    :data:`DEVIATION_LIMITS`. Part of the offline corpus of ``00_getting_the_data``: what :func:`render` speaks.
    """
    rec = metadata.parse_filename(name)
    seed = _check_seed(seed)
    profile = actor_profile(rec.actor, seed)
    rule = EMOTION_RULES[rec.emotion_name]
    k = STRONG_FACTOR if rec.intensity == 2 else 1.0
    rng = _rng(seed, "take", rec.filename)
    bias = profile.bias[rec.emotion_name]
    dev = {}
    for col in _NUMERIC:
        value = k * (profile.expressiveness * rule[col] + bias[col]) + float(rng.normal(0.0, TAKE_SD[col]))
        dev[col] = float(np.clip(value, *DEVIATION_LIMITS[col]))
    marks = list(rule["contour"])
    mark = marks[int(rng.choice(len(marks), p=list(rule["contour"].values())))]
    pitch = int(round(np.clip(50 + dev["pitch"] * 50 / 12, 0, 100)))  # 50 steps per octave
    pitch_range = int(round(np.clip(50 * (1 + dev["range"] / 100), 0, 100)))
    rate = int(round(np.clip(profile.rate_wpm * (1 + dev["rate"] / 100), 80, 450)))
    return TakeParameters(
        name=rec.filename,
        text=rec.statement_text + mark,
        profile=profile,
        deviation=dev,
        pitch=pitch,
        pitch_range=pitch_range,
        rate=rate,
        word_gap=int(round(max(0.0, dev["pause"]))),
        gain_db=profile.level_db + dev["loudness"],
        breath=float(max(0.0, dev["breath"])),
        tension_db=profile.tilt_db + dev["tension"],
        jitter=float(max(0.0, BASE_JITTER + dev["jitter"])),
        head_s=float(rng.uniform(*HEAD_SILENCE)),
        tail_s=float(rng.uniform(*TAIL_SILENCE)),
        stereo=bool(rng.random() < STEREO_FRACTION),
        noise_seed=int(rng.integers(2**63)),
    )


def rules_table(intensity: str = "normal") -> pd.DataFrame:
    """The prosody rules as a table, one row per emotion (values: change from neutral).

    ``intensity="strong"`` shows the rules multiplied by :data:`STRONG_FACTOR`. Actor
    expressiveness, actor biases and take jitter come on top (see :func:`take_parameters`).
    Taught in ``00_getting_the_data`` (the rules of the offline corpus); ``10_augmentation`` shows
    its pitch and rate columns again, to size its pitch shift and time stretch.
    """
    if intensity not in ("normal", "strong"):
        raise ValueError(f"intensity must be 'normal' or 'strong', got {intensity!r}")
    k = STRONG_FACTOR if intensity == "strong" else 1.0
    rows = []
    for emotion, rule in EMOTION_RULES.items():
        if emotion == "neutral" and intensity == "strong":
            continue  # RAVDESS has no strong neutral
        row = {"emotion": emotion}
        row.update({col: round(k * rule[col], 2) for col in _NUMERIC})
        row["contour"] = " / ".join(f"{m} {p:.0%}" for m, p in rule["contour"].items())
        rows.append(row)
    df = pd.DataFrame(rows).set_index("emotion")
    df.columns = [f"{c} ({RULE_COLUMNS[c][0]})" if c in RULE_COLUMNS else c for c in df.columns]
    return df


# --------------------------------------------------------------------------------------
# espeak-ng through ctypes
# --------------------------------------------------------------------------------------
class EspeakError(RuntimeError):
    """espeak-ng could not be loaded, initialised, or failed to speak. Raised while the offline
    corpus of ``00_getting_the_data`` is written."""


class Espeak:
    """A minimal ``ctypes`` binding of espeak-ng's C API (``speak_lib.h``), one per process.

    The library keeps global state, so it is initialised once per process: use
    :func:`engine`, which creates the one instance (a second ``Espeak`` in the same process
    raises). Calls used, with their C signatures:

    - ``int espeak_Initialize(espeak_AUDIO_OUTPUT output, int buflength, const char *path,
      int options)``: ``AUDIO_OUTPUT_SYNCHRONOUS`` (2) makes ``espeak_Synth`` return only
      when the whole text is spoken; ``buflength`` 0 = 60 ms buffers; ``path`` = the folder
      that holds ``espeak-ng-data``; option ``0x8000`` (DONT_EXIT) returns an error instead
      of exiting the process. Returns the sample rate (22050), or 0 / -1 on failure.
    - ``void espeak_SetSynthCallback(int (*cb)(short *wav, int numsamples, espeak_EVENT *events))``:
      called with each buffer of 16-bit samples (``wav`` NULL at the end, ``numsamples`` may
      be 0); return 0 to continue.
    - ``espeak_ERROR espeak_SetVoiceByName(const char *name)``, e.g. ``b"en-us+m3"``:
      language ``en-us`` with the variant file ``voices/!v/m3``. A missing variant is
      silently ignored, so :meth:`speak` checks ``espeak_GetCurrentVoice()->identifier``
      (``espeak_VOICE *espeak_GetCurrentVoice(void)``), which ends in ``+m3`` when it loaded.
    - ``espeak_ERROR espeak_SetParameter(espeak_PARAMETER p, int value, int relative)``:
      RATE=1 (words/min, 80-450), VOLUME=2 (0-200, 100 normal), PITCH=3 (0-100, 50 = the
      voice's base; 0 halves and 100 doubles it), RANGE=4 (0-100, 50 = the voice's range),
      WORDGAP=7 (pause between words, 10 ms units); ``relative`` 0 = absolute.
    - ``espeak_ERROR espeak_Synth(const void *text, size_t size, unsigned position,
      espeak_POSITION_TYPE type, unsigned end_position, unsigned flags, unsigned *uid,
      void *user_data)``: ``size`` includes the terminating zero; POS_CHARACTER = 1;
      flags 0 = espeakCHARS_AUTO (UTF-8), plain text (no SSML).
    - ``espeak_ERROR espeak_Synchronize(void)``: wait until speaking is done.
    - ``espeak_ng_STATUS espeak_ng_SetRandSeed(long seed)`` (espeak-ng >= 1.52): its own
      random generator, reseeded before each utterance.

    The voice of the offline corpus of ``00_getting_the_data`` (:func:`render`).
    """

    AUDIO_OUTPUT_SYNCHRONOUS = 2
    INITIALIZE_DONT_EXIT = 0x8000
    POS_CHARACTER = 1
    CHARS_AUTO = 0
    RATE, VOLUME, PITCH, RANGE, WORDGAP = 1, 2, 3, 4, 7
    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
    _initialised_in: int | None = None  # pid of the process that initialised the library

    class _Voice(ctypes.Structure):
        """``espeak_VOICE``: name, languages, identifier, gender, age, variant, xx1, score, spare."""

        _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                    ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                    ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]

    def __init__(self, data_parent: str | Path):
        if Espeak._initialised_in == os.getpid():
            raise EspeakError("espeak-ng is already initialised in this process. Fix: use synth.engine().")
        try:
            import espeakng_loader
        except ImportError as err:  # pragma: no cover - a dependency of the course
            raise EspeakError("espeakng_loader is not installed. Fix: pip install espeakng-loader") from err
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [self._CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(self._Voice)
        self._seed = getattr(lib, "espeak_ng_SetRandSeed", None)
        if self._seed is not None:
            self._seed.argtypes = [ctypes.c_long]
        self.sample_rate = lib.espeak_Initialize(
            self.AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_parent).encode(), self.INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise EspeakError(
                f"espeak-ng could not be initialised with its data in {data_parent} (returned "
                f"{self.sample_rate}). Fix: reinstall the wheel: pip install --force-reinstall espeakng-loader"
            )
        Espeak._initialised_in = os.getpid()
        self._chunks: list[np.ndarray] = []
        self._callback = self._CALLBACK(self._collect)  # keep a reference: C holds only a pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib
        self._lock = threading.Lock()

    def _collect(self, wav, numsamples, events) -> int:
        if wav and numsamples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
        return 0

    def speak(self, text: str, voice: str, *, rate: int = 175, pitch: int = 50, pitch_range: int = 50,
              volume: int = 100, word_gap: int = 0) -> np.ndarray:
        """Speak ``text`` with ``voice`` (e.g. ``"en-us+m3"``): int16 samples at :attr:`sample_rate`."""
        with self._lock:
            self._chunks = []
            err = self._lib.espeak_SetVoiceByName(voice.encode())
            current = self._lib.espeak_GetCurrentVoice()
            identifier = (current.contents.identifier or b"").decode() if current else ""
            variant = voice.partition("+")[2]
            if err != 0 or (variant and not identifier.endswith("+" + variant)):
                raise EspeakError(f"espeak-ng has no voice {voice!r} (error {err}, current voice {identifier!r}).")
            for param, value in ((self.RATE, rate), (self.VOLUME, volume), (self.PITCH, pitch),
                                 (self.RANGE, pitch_range), (self.WORDGAP, word_gap)):
                self._lib.espeak_SetParameter(param, int(value), 0)
            if self._seed is not None:
                self._seed(1)
            data = text.encode("utf-8")
            err = self._lib.espeak_Synth(data, len(data) + 1, 0, self.POS_CHARACTER, 0, self.CHARS_AUTO, None, None)
            self._lib.espeak_Synchronize()
            if err != 0 or not self._chunks:
                raise EspeakError(f"espeak-ng failed to speak {text!r} with {voice!r} (error {err}).")
            return np.concatenate(self._chunks)


_ENGINE: Espeak | None = None
_DATA_DIR: Path | None = None
_DATA_OWNER: int | None = None
_STATE_LOCK = threading.Lock()


def _cleanup_data_dir() -> None:
    if _DATA_DIR is not None and _DATA_OWNER == os.getpid():
        shutil.rmtree(_DATA_DIR, ignore_errors=True)


def _data_dir() -> Path:
    """This process's private copy of the English part of espeak-ng-data (about 2 MB).

    It holds the actors' voice variants (:func:`voice_variant_text`) next to the bundled
    data, so the installed package is never written to. Removed when the process exits.
    """
    global _DATA_DIR, _DATA_OWNER
    with _STATE_LOCK:
        if _DATA_DIR is None or not (_DATA_DIR / "espeak-ng-data" / "phontab").is_file():
            import atexit

            import espeakng_loader

            src = Path(espeakng_loader.get_data_path())
            root = Path(tempfile.mkdtemp(prefix="course_utils_espeak_"))

            def ignore(folder, names):
                skip = [n for n in names if n.endswith("_dict") and n != "en_dict"]
                return skip + (["!v"] if Path(folder).name == "voices" else [])

            shutil.copytree(src, root / "espeak-ng-data", ignore=ignore)
            (root / "espeak-ng-data" / "voices" / "!v").mkdir(parents=True, exist_ok=True)
            if _DATA_OWNER is None:
                atexit.register(_cleanup_data_dir)
            _DATA_DIR, _DATA_OWNER = root, os.getpid()
        return _DATA_DIR


def engine() -> Espeak:
    """The process's espeak-ng (initialised on first use, once per process). Used by
    :func:`render`: part of the offline corpus of ``00_getting_the_data``."""
    global _ENGINE
    data = _data_dir()
    with _STATE_LOCK:
        if _ENGINE is None:
            _ENGINE = Espeak(data)
        return _ENGINE


def voice_variant_text(profile: ActorProfile) -> str:
    """The espeak-ng voice-variant file of an actor.

    It starts from the bundled variant (formants, tone, voicing ...), drops its pitch,
    breath, echo, flutter and roughness lines, sets the actor's own pitch range, and adds
    ``flutter 0`` and ``roughness 8``: espeak-ng's flutter and roughness use counters that
    run on from one utterance to the next, which would make a file depend on the files
    spoken before it in the same process. (Jitter is added to the signal instead.)
    Part of the offline corpus of ``00_getting_the_data`` (every actor's voice).
    """
    import espeakng_loader

    src = Path(espeakng_loader.get_data_path()) / "voices" / "!v" / profile.variant
    drop = ("name", "gender", "pitch", "flutter", "roughness", "breath", "breathw", "echo", "klatt", "language")
    keep = []
    for line in src.read_text(encoding="utf-8", errors="replace").splitlines():
        word = line.split()[0].lower() if line.split() else ""
        if word and not word.startswith("//") and word not in drop:
            keep.append(line.strip())
    lo, hi = profile.pitch_hz
    head = ["language variant", f"name actor{profile.actor:02d}", f"gender {profile.sex}"]
    tail = [f"pitch {lo} {hi}", "flutter 0", "roughness 8"]
    return "\n".join(head + keep + tail) + "\n"


def _voice_name(profile: ActorProfile) -> str:
    """Write the actor's variant (content-addressed, so processes never race) and name it."""
    text = voice_variant_text(profile)
    name = "c" + hashlib.sha1(text.encode()).hexdigest()[:12]
    path = _data_dir() / "espeak-ng-data" / "voices" / "!v" / name
    if not path.is_file():
        write_text_atomic(path, text)
    return f"en-us+{name}"


# --------------------------------------------------------------------------------------
# Signal processing: breath, timbre, level, noise floor
# --------------------------------------------------------------------------------------
def _shelf_sos(freq: float, gain_db: float, sr: int) -> np.ndarray:
    """RBJ-cookbook high shelf (slope 1) as one second-order section."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / sr
    cw, alpha = np.cos(w0), np.sin(w0) / 2 * np.sqrt(2)
    sa = 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - sa)]
    den = [(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sa]
    return np.array([b + den]) / den[0]


def _peak_sos(freq: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """RBJ-cookbook peaking equaliser as one second-order section."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / sr
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a]
    return np.array([b + den]) / den[0]


_BREATH_BAND = signal.butter(2, [500, 6000], btype="bandpass", fs=SAMPLE_RATE, output="sos")
_ENVELOPE_LP = signal.butter(2, 30, fs=SAMPLE_RATE, output="sos")
_NOISE_LP = signal.butter(1, 4000, fs=SAMPLE_RATE, output="sos")


def _smooth_noise(n: int, sr: int, rng: np.random.Generator, lo: float = 2.0, hi: float = 9.0) -> np.ndarray:
    """A smooth random curve with unit standard deviation (a sum of 4 slow sinusoids)."""
    t = np.arange(n) / sr
    freqs, phases = rng.uniform(lo, hi, 4), rng.uniform(0, 2 * np.pi, 4)
    s = np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]).sum(axis=0)
    return s / np.sqrt(2.0)  # each unit sine has variance 1/2


def _warp(y: np.ndarray, depth: float, rng: np.random.Generator) -> np.ndarray:
    """Jitter: read ``y`` at a smoothly varying speed 1 +- depth (f0 and tempo wobble)."""
    if depth <= 0:
        return y
    speed = 1.0 + depth * _smooth_noise(len(y), SAMPLE_RATE, rng)
    pos = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    pos = pos[pos <= len(y) - 1]
    return np.interp(pos, np.arange(len(y)), y)


def _active_rms(y: np.ndarray, frame: int = 960) -> float:
    """RMS of the frames within 35 dB of the loudest one (the voiced part of the sentence)."""
    n = len(y) // frame
    rms = np.sqrt(np.mean(y[: n * frame].reshape(n, frame) ** 2, axis=1))
    active = rms[rms > rms.max() * 10 ** (-35 / 20)]
    return float(np.sqrt(np.mean(active**2)))


def render(name: str, seed: int = 0) -> tuple[np.ndarray, int]:
    """Render one file of the corpus in memory: ``(samples, 48000)``.

    ``samples`` is int16, shape ``(n,)`` for mono or ``(n, 2)`` for the few stereo files:
    exactly what :func:`generate_corpus` writes for ``name``. Part of the offline corpus of ``00_getting_the_data``.
    """
    p = take_parameters(name, seed)
    prof = p.profile
    rng = np.random.default_rng(p.noise_seed)
    eng = engine()
    pcm = eng.speak(p.text, _voice_name(prof), rate=p.rate, pitch=p.pitch, pitch_range=p.pitch_range,
                    volume=100, word_gap=p.word_gap)
    y = soxr.resample(pcm.astype(np.float64) / 32768.0, eng.sample_rate, SAMPLE_RATE, quality="HQ")
    y = _warp(y, p.jitter / 100.0, rng)
    # breathiness: band-limited noise that follows the speech envelope
    if p.breath > 0:
        env = np.maximum(signal.sosfilt(_ENVELOPE_LP, np.abs(y)), 0.0)
        noise = signal.sosfilt(_BREATH_BAND, rng.standard_normal(len(y)))
        y = y + p.breath * 1.25 * env * noise / (np.std(noise) + 1e-12)
    # timbre: actor resonance, actor tilt + emotion tension
    sos = np.vstack([_peak_sos(prof.resonance[0], prof.resonance[1], prof.resonance[2], SAMPLE_RATE),
                     _shelf_sos(_TENSION_HZ, p.tension_db, SAMPLE_RATE)])
    y = signal.sosfilt(sos, y)
    # level, then a safety limit at -1 dBFS
    y = y * (10 ** (p.gain_db / 20) / (_active_rms(y) + 1e-12))
    peak = np.max(np.abs(y))
    if peak > 0.89:
        y = y * (0.89 / peak)
    head, tail = int(p.head_s * SAMPLE_RATE), int(p.tail_s * SAMPLE_RATE)
    y = np.concatenate([np.zeros(head), y, np.zeros(tail)])
    floor = signal.sosfilt(_NOISE_LP, rng.standard_normal(len(y)))
    y = y + floor * (10 ** (prof.noise_db / 20) / (np.std(floor) + 1e-12))
    if p.stereo:
        other = y * 10 ** (rng.uniform(-0.5, 0.5) / 20) + rng.standard_normal(len(y)) * 10 ** ((prof.noise_db - 6) / 20)
        y = np.stack([y, other], axis=1)
    return np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16), SAMPLE_RATE


# --------------------------------------------------------------------------------------
# The corpus: writing it, checking it
# --------------------------------------------------------------------------------------
def _relpath(name: str) -> str:
    return f"Actor_{metadata.parse_filename(name).actor:02d}/{name}"


def read_manifest(dest: str | Path) -> dict | None:
    """The manifest of a corpus folder, or ``None`` when it is missing or unreadable. Read by
    :func:`generate_corpus` (a complete corpus is not written again) and the tests; the corpus is
    that of ``00_getting_the_data``."""
    try:
        manifest = json.loads((Path(dest) / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and isinstance(manifest.get("files"), dict) else None


def _valid_files(dest: Path, seed: int) -> dict[str, int]:
    """Files the manifest vouches for (same seed and version) that are still there, same size."""
    manifest = read_manifest(dest)
    if not manifest or manifest.get("seed") != seed or manifest.get("version") != GENERATOR_VERSION:
        return {}
    valid = {}
    for rel, size in manifest["files"].items():
        try:
            if (dest / rel).stat().st_size == size:
                valid[rel] = size
        except OSError:
            continue
    return valid


def _write_manifest(dest: Path, seed: int, files: dict[str, int]) -> None:
    """Write ``corpus.json`` atomically: seed, versions, and the size of every file."""
    try:
        from importlib.metadata import version

        loader = version("espeakng-loader")
    except Exception:  # pragma: no cover - informative only
        loader = "unknown"
    text = json.dumps(
        {"generator": "course_utils.data.synth", "version": GENERATOR_VERSION, "seed": seed,
         "espeakng_loader": loader, "sample_rate": SAMPLE_RATE, "n_files": len(files),
         "files": dict(sorted(files.items()))},
        indent=1,
    )
    write_text_atomic(dest / MANIFEST_NAME, text)


def _write_one(job: tuple[str, str, int]) -> tuple[str, int]:
    """Worker: render one file and write it atomically. Returns (relative path, size)."""
    dest, name, seed = job
    y, sr = render(name, seed)
    path = audio.write_wav_atomic(Path(dest) / _relpath(name), y, sr)
    return _relpath(name), path.stat().st_size


def _init_worker(data_dir: str) -> None:
    """Pool initialiser: use the parent's private espeak-ng data folder (no copy per worker)."""
    global _DATA_DIR
    if _DATA_DIR is None:
        _DATA_DIR = Path(data_dir)  # owned (and removed) by the parent


def _check_actors(actors) -> list[int]:
    if actors is None:
        return list(range(1, metadata.N_ACTORS + 1))
    if isinstance(actors, (int, np.integer)) and not isinstance(actors, bool):
        actors = [actors]
    try:
        actors = list(actors)
    except TypeError:
        raise ValueError(f"actors must be a list of actor ids (1 ... {metadata.N_ACTORS}) or None, got {actors!r}.") from None
    if not actors:
        raise ValueError("actors is empty. Fix: pass None for all 24 actors, or a list such as [1, 2, 3].")
    return sorted({_check_actor(a) for a in actors})


def _check_dest(dest) -> Path:
    if dest is None or str(dest) == "":
        raise ValueError("dest is empty. Fix: pass the folder to write the corpus into, e.g. 'data/synthetic'.")
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(
            f"dest {dest} is a file, not a folder. Fix: pass a folder path (it is created if "
            "missing), or move that file away."
        )
    for actor_dir in dest.glob("Actor_*"):
        if not actor_dir.is_dir():
            raise NotADirectoryError(f"{actor_dir} is a file, but the corpus needs a folder there. Fix: remove it.")
    return dest


def generate_corpus(
    dest: str | Path,
    *,
    actors: Iterable[int] | None = None,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write the synthetic RAVDESS-style corpus into ``dest`` and return ``dest``.

    ``dest/Actor_XX/03-01-EE-II-SS-RR-XX.wav`` for the 60 trials of each actor in ``actors``
    (all 24 by default), as listed by :func:`course_utils.data.metadata.expected_filenames`; then
    ``dest/corpus.json`` (seed, generator version, file sizes), written last.

    Idempotent: files that a manifest of the same seed and version lists with their size are
    kept; only missing ones are made, so a complete corpus returns in milliseconds. Without
    a valid manifest (e.g. an interrupted first run) nothing in ``dest`` is trusted and every
    requested file is written again (the bytes are the same: the output depends only on the
    seed and the file name). ``workers`` processes (default: the number of CPUs) share the
    work; ``workers=1`` runs in this process.

    Taught in ``00_getting_the_data`` (section 3); every chapter's data cell calls it when RAVDESS
    is not there (:func:`course_utils.data.datasets.resolve`), as do ``get-data --dataset
    synthetic`` and Binder's ``postBuild``.
    """
    dest = _check_dest(dest)
    actors = _check_actors(actors)
    seed = _check_seed(seed)
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None (all CPUs), got {workers!r}.")
    names = metadata.expected_filenames(actors)
    valid = _valid_files(dest, seed)
    todo = [n for n in names if _relpath(n) not in valid]
    if not todo:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MANIFEST_NAME).unlink(missing_ok=True)  # nothing is vouched for until we are done
    for actor in actors:  # leftovers of an interrupted write (older versions: .*.tmp)
        for tmp in (dest / f"Actor_{actor:02d}").glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        clean_leftovers(dest / f"Actor_{actor:02d}")
    data_dir = _data_dir()
    for actor in actors:  # write the voice variants once, before any worker starts
        _voice_name(actor_profile(actor, seed))
    jobs = [(str(dest), n, seed) for n in todo]
    workers = int(min(workers, len(jobs)))
    done = dict(valid)

    bar = jupyter.progress(total=len(jobs), desc="synthetic corpus", unit="file", disable=not progress)
    try:
        if workers == 1:
            for job in jobs:
                rel, size = _write_one(job)
                done[rel] = size
                bar.update()
        else:
            ctx = multiprocessing.get_context()
            with ctx.Pool(workers, initializer=_init_worker, initargs=(str(data_dir),)) as pool:
                for rel, size in pool.imap_unordered(_write_one, jobs, chunksize=8):
                    done[rel] = size
                    bar.update()
                pool.close()
                pool.join()
    finally:
        bar.close()
    _write_manifest(dest, seed, done)
    return dest


def corpus_is_complete(dest: str | Path, *, actors: Iterable[int] | None = None, seed: int = 0) -> bool:
    """Whether ``dest`` holds every file of ``actors`` for ``seed``, vouched for by its manifest.
    No chapter calls it (the tests do): :func:`generate_corpus` makes the same check before it
    writes anything. The corpus is that of ``00_getting_the_data``."""
    dest, seed = Path(dest), _check_seed(seed)
    valid = _valid_files(dest, seed)
    return all(_relpath(n) in valid for n in metadata.expected_filenames(_check_actors(actors)))


__all__: Sequence[str] = (
    "ACTOR_BIAS_SD", "ActorProfile", "EMOTION_RULES", "Espeak", "EspeakError", "FEMALE_VARIANTS",
    "GENERATOR_VERSION", "MALE_VARIANTS", "MANIFEST_NAME", "RULE_COLUMNS", "SAMPLE_RATE",
    "STEREO_FRACTION", "STRONG_FACTOR", "TAKE_SD", "TakeParameters", "actor_profile",
    "corpus_is_complete", "engine", "generate_corpus", "read_manifest", "render", "rules_table",
    "take_parameters", "voice_variant_text",
)
