"""RAVDESS file names and the metadata table.

Taught in notebook ``00_getting_the_data`` (the file name decoded field by field) and used
by ``05_eda`` and every model notebook.

A RAVDESS file name has seven two-digit fields, for example ``03-01-06-01-02-01-12.wav``::

    modality - vocal channel - emotion - intensity - statement - repetition - actor

Odd actor ids are male, even ids female. The speech part of RAVDESS has 24 actors x 60
trials = 1440 files: 8 emotions, 2 intensities (neutral has only "normal"), 2 statements,
2 repetitions.

==================================  ===========================================================
helper                              what it does
==================================  ===========================================================
:func:`parse_filename`              one file name -> a :class:`RavdessRecord` (or an error
                                    naming what is wrong: :class:`RavdessNameError`)
:func:`check_filenames`             many names at once, one error listing every bad one
:func:`expected_filenames`          every name of the speech set; :func:`missing_files` those
                                    a table lacks
:func:`find_wavs`                   the wavs below a folder (Zenodo's and Kaggle's layouts)
:func:`audio_info`                  duration, rate, channels, bit depth of one file, which must
                                    be whole (:func:`check_wav_complete`) and finite
                                    (:func:`check_finite_samples`; else :class:`AudioFileError`)
:func:`build_metadata`              the metadata table: one row per clip
:func:`describe_counts`             clips per emotion and sex
:func:`task_labels`                 labels and class names of one of the study's four tasks
:func:`one_per_emotion`             one clip per emotion, to listen to side by side
==================================  ===========================================================
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import soundfile as sf

from course_utils.base.errors import InputError

MODALITIES = {1: "full-AV", 2: "video-only", 3: "audio-only"}
VOCAL_CHANNELS = {1: "speech", 2: "song"}
EMOTIONS = {
    1: "neutral",
    2: "calm",
    3: "happy",
    4: "sad",
    5: "angry",
    6: "fearful",
    7: "disgust",
    8: "surprised",
}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
REPETITIONS = {1: "1st", 2: "2nd"}
N_ACTORS = 24

#: The four tasks of the study: the metadata column each one predicts.
TASKS = {"sex": "sex", "statement": "statement", "actor": "actor", "emotion": "emotion"}

FIELDS = ("modality", "vocal_channel", "emotion", "intensity", "statement", "repetition", "actor")
_NAME_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.wav$", re.IGNORECASE)
_RANGES = {
    "modality": MODALITIES,
    "vocal_channel": VOCAL_CHANNELS,
    "emotion": EMOTIONS,
    "intensity": INTENSITIES,
    "statement": STATEMENTS,
    "repetition": REPETITIONS,
    "actor": {i: f"Actor_{i:02d}" for i in range(1, N_ACTORS + 1)},
}


#: Every clip of the speech set (the 1440 files the course uses) is audio-only speech.
_SPEECH_SET = {"modality": 3, "vocal_channel": 1}
_OUTSIDE = "the course uses only the speech set (Audio_Speech_Actors_01-24.zip)"


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------
class RavdessNameError(InputError):
    """One or more file names do not follow the RAVDESS scheme, or name a clip outside its speech
    set (a song, an audio-visual file). A ``ValueError``; in a notebook it shows as its message
    alone (:class:`course_utils.base.errors.InputError`). Taught in ``00_getting_the_data``."""


class AudioFileError(InputError):
    """An audio file that cannot be used: unreadable, cut short (its header promises more samples
    than it holds) or holding samples that are not finite numbers. A ``ValueError`` whose message
    names the file and the fix. Raised by :func:`audio_info` (``00_getting_the_data``'s metadata
    table) and :func:`course_utils.data.audio.load_audio` (every chapter that reads sound)."""


# --------------------------------------------------------------------------------------
# File names
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RavdessRecord:
    """The seven fields of one RAVDESS file name, as integers, with their names.

    Build one with :func:`parse_filename`. Taught in ``00_getting_the_data`` (the file name, field
    by field); :meth:`as_dict` is one row of every chapter's metadata table.
    """

    filename: str
    modality: int
    vocal_channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def sex(self) -> str:
        """``"male"`` for odd actor ids, ``"female"`` for even ones."""
        return "male" if self.actor % 2 == 1 else "female"

    @property
    def emotion_name(self) -> str:
        return EMOTIONS[self.emotion]

    @property
    def intensity_name(self) -> str:
        return INTENSITIES[self.intensity]

    @property
    def statement_text(self) -> str:
        return STATEMENTS[self.statement]

    @property
    def modality_name(self) -> str:
        return MODALITIES[self.modality]

    @property
    def vocal_channel_name(self) -> str:
        return VOCAL_CHANNELS[self.vocal_channel]

    def as_dict(self) -> dict:
        """All fields and their names, as one flat dictionary (one metadata row)."""
        row = asdict(self)
        row.update(
            sex=self.sex,
            emotion_name=self.emotion_name,
            intensity_name=self.intensity_name,
            statement_text=self.statement_text,
            modality_name=self.modality_name,
            vocal_channel_name=self.vocal_channel_name,
        )
        return row


def _problem(name: str) -> str | None:
    """Why ``name`` is not a valid RAVDESS file name, or ``None`` if it is."""
    m = _NAME_RE.match(name)
    if not m:
        return "expected 7 two-digit fields like 03-01-06-01-02-01-12.wav"
    values = dict(zip(FIELDS, (int(g) for g in m.groups())))
    for field, allowed in _RANGES.items():
        if values[field] not in allowed:
            lo, hi = min(allowed), max(allowed)
            return f"{field} is {values[field]:02d}, must be {lo:02d}-{hi:02d}"
    if values["emotion"] == 1 and values["intensity"] == 2:
        return "neutral (emotion 01) has no strong intensity (02)"
    if values["modality"] != _SPEECH_SET["modality"]:
        return (f"modality is {values['modality']:02d} ({MODALITIES[values['modality']]}), not 03 (audio-only): "
                f"{_OUTSIDE}")
    if values["vocal_channel"] != _SPEECH_SET["vocal_channel"]:
        return (f"vocal channel is {values['vocal_channel']:02d} ({VOCAL_CHANNELS[values['vocal_channel']]}), "
                f"not 01 (speech): {_OUTSIDE}")
    return None


def parse_filename(name: str | Path) -> RavdessRecord:
    """Parse a RAVDESS file name (a path is fine: only its last part is read).

    >>> r = parse_filename("03-01-06-01-02-01-12.wav")
    >>> r.emotion_name, r.statement, r.actor, r.sex
    ('fearful', 2, 12, 'female')

    Raises :class:`RavdessNameError` naming the file and what is wrong with it, also for a
    well-formed name outside the speech set: a song (vocal channel 02) or an audio-visual file
    (modality 01 or 02) is not one of the 1440 clips the course uses.

    Taught in ``00_getting_the_data`` (section 4 and exercise 1); every chapter's metadata table
    is built from it (:func:`build_metadata`), and so is every file of the offline corpus.
    """
    base = Path(name).name
    problem = _problem(base)
    if problem:
        what = "a clip of the RAVDESS speech set" if _OUTSIDE in problem else "a RAVDESS file name"
        raise RavdessNameError(f"{base!r} is not {what}: {problem}.")
    values = [int(g) for g in _NAME_RE.match(base).groups()]
    return RavdessRecord(base, *values)


def is_ravdess_name(name: str | Path) -> bool:
    """Whether ``name`` (or a path's last part) is a valid file name of the RAVDESS speech set.
    Used by :func:`course_utils.data.download.locate_ravdess` to recognise a copy of RAVDESS (every
    chapter's data cell; the ways to point at one are taught in ``00_getting_the_data``)."""
    return _problem(Path(name).name) is None


def name_problem(name: str | Path) -> str | None:
    """Why ``name`` (or a path's last part) is not a file name of the RAVDESS speech set, or
    ``None`` when it is one. Used to explain a refused ``RAVDESS_DIR``
    (:func:`course_utils.data.download.locate_ravdess`; ``RAVDESS_DIR`` is taught in
    ``00_getting_the_data``)."""
    return _problem(Path(name).name)


def check_filenames(names: Iterable[str | Path], max_listed: int = 20) -> list[RavdessRecord]:
    """Parse many names at once; raise one error that lists the bad names (the first
    ``max_listed`` of them, and how many there are in all). Used by :func:`build_metadata` (every
    chapter's table, ``00_getting_the_data`` on) and by the extraction of the RAVDESS zip."""
    records, bad = [], []
    for name in names:
        problem = _problem(Path(name).name)
        if problem:
            bad.append(f"  {name}: {problem}")
        else:
            records.append(parse_filename(name))
    if bad:
        more = f"\n  ... and {len(bad) - max_listed} more" if len(bad) > max_listed else ""
        outside = any(_OUTSIDE in line for line in bad)
        raise RavdessNameError(
            f"{len(bad)} file(s) "
            + ("are not clips of the RAVDESS speech set" if outside else "do not follow the RAVDESS naming scheme")
            + ":\n"
            + "\n".join(bad[:max_listed])
            + more
            + "\nFix: move files that are not RAVDESS clips out of the data folder "
            "(or rename them to the 7-field scheme)"
            + ("; the song (vocal channel 02) and audio-visual (modality 01, 02) recordings of RAVDESS "
               "belong in a folder of their own: the course works on the speech set only." if outside else ".")
        )
    return records


def expected_filenames(actors: Iterable[int] = range(1, N_ACTORS + 1)) -> list[str]:
    """Every file name of the RAVDESS speech set (60 per actor), in a fixed order.

    The count of ``00_getting_the_data`` (7 x 2 x 2 x 2 + 1 x 2 x 2 = 60 per actor); used by
    :func:`missing_files`, by the offline corpus (the files it writes) and by every chapter's data
    cell, which warns about a partial copy (:func:`course_utils.data.datasets.resolve`).
    """
    names = []
    for actor in actors:
        for emotion in EMOTIONS:
            for intensity in (1,) if emotion == 1 else (1, 2):
                for statement in STATEMENTS:
                    for repetition in REPETITIONS:
                        names.append(f"03-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}.wav")
    return names


def find_wavs(root: str | Path) -> list[Path]:
    """All ``.wav`` files below ``root``, one per file name, sorted by name.

    Handles both published layouts: Zenodo's zip (``Actor_01/ ... Actor_24/``) and Kaggle's
    copy, which holds the same actor folders twice (top level and inside
    ``audio_speech_actors_01-24/``): a name seen twice is kept once (the first in sorted path
    order). Taught in ``00_getting_the_data`` (a copy from Zenodo or from Kaggle); used by
    :func:`build_metadata` and by the search for a copy of RAVDESS in every chapter's data cell.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"RAVDESS folder {root} does not exist. Fix: download the data with "
            "`python -m course_utils get-data --dataset ravdess`, or set RAVDESS_DIR to the "
            "folder that holds Actor_01 ... Actor_24."
        )
    found = []
    for folder, _dirs, files in os.walk(root, followlinks=True):  # shared copies may be symlinks
        found += [Path(folder) / f for f in files if f.lower().endswith(".wav") and not f.startswith(".")]
    seen: dict[str, Path] = {}
    for path in sorted(found):
        seen.setdefault(path.name, path)
    return [seen[k] for k in sorted(seen)]


# --------------------------------------------------------------------------------------
# The files themselves: header, completeness, finite samples
# --------------------------------------------------------------------------------------
def audio_info(path: str | Path) -> dict:
    """Duration (s), sample rate (Hz), channels and bit depth of one audio file.

    Raises :class:`AudioFileError` (a ``ValueError``) naming the file and the fix when it cannot
    be read, when it is cut short (:func:`check_wav_complete`) and, for a float WAV, when a
    sample is not a finite number (:func:`check_finite_samples`; 16-bit files cannot hold one).
    The audio columns of the metadata table of ``00_getting_the_data`` (:func:`build_metadata`);
    :func:`course_utils.sound.signals.describe_clip` reads one clip's facts with it in
    ``01_sound_and_sampling``.
    """
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises LibsndfileError / RuntimeError variants
        raise AudioFileError(
            f"Cannot read audio file {path}: {err}. Fix: the file is damaged or not audio; "
            "delete it and download or generate the data again."
        ) from err
    check_wav_complete(path)
    if info.subtype in ("FLOAT", "DOUBLE"):
        try:
            samples, _ = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as err:
            raise AudioFileError(
                f"Cannot read audio file {path}: {err}. Fix: the file is damaged or not audio; "
                "delete it and download or generate the data again."
            ) from err
        check_finite_samples(samples, info.samplerate, path)
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "PCM_U8": 8, "PCM_S8": 8, "FLOAT": 32, "DOUBLE": 64}
    return {
        "duration": info.frames / info.samplerate,
        "sample_rate": info.samplerate,
        "channels": info.channels,
        "bit_depth": bits.get(info.subtype),
        "frames": info.frames,
    }


#: A WAV data size at or above this is the placeholder of a writer that streamed its output and
#: could not go back to write the real size (0xFFFFFFFF, or sox's 0x7FFFF000): not a promise.
_STREAMED_SIZE = 0x7FFF_F000
_FIX_DATA = ("delete it and run `python -m course_utils get-data` again (it restores the course's own "
             "copy of the data), or copy the file again from a complete copy of RAVDESS")


def _wav_data_sizes(path: str | Path) -> tuple[int, int, int] | None:
    """``(bytes promised, bytes held, bytes per frame)`` of a RIFF WAV's ``data`` chunk, or
    ``None`` for a file that is not a RIFF WAV or has no readable chunk list."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        order = "<" if head[:4] == b"RIFF" else ">"
        size = os.fstat(f.fileno()).st_size
        pos, block = 12, 0
        for _ in range(256):  # a WAV has a handful of chunks; stop on a damaged chunk list
            if pos + 8 > size:
                return None
            f.seek(pos)
            chunk_id, chunk_size = struct.unpack(order + "4sI", f.read(8))
            if chunk_id == b"fmt " and chunk_size >= 14:
                block = struct.unpack(order + "H", f.read(14)[12:14])[0]
            elif chunk_id == b"data":
                return chunk_size, size - pos - 8, block
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


def check_wav_complete(path: str | Path) -> None:
    """Raise :class:`AudioFileError` when a WAV's header promises more samples than the file
    holds (an interrupted copy or download: libsndfile would quietly read the shorter clip).

    Other formats, and WAVs written by a streaming writer (no size in the header), pass. Used by
    :func:`audio_info` (the metadata table of ``00_getting_the_data``) and
    :func:`course_utils.data.audio.load_audio`.
    """
    try:
        sizes = _wav_data_sizes(path)
    except OSError as err:
        raise AudioFileError(f"Cannot read audio file {path}: {err}. Fix: check that it exists and can be read.") from err
    if sizes is None:
        return
    promised, held, block = sizes
    if promised == 0 or promised >= _STREAMED_SIZE or held >= promised:
        return
    block = block or 1
    try:
        rate = sf.info(str(path)).samplerate
    except RuntimeError:  # pragma: no cover - soundfile's errors; it read this header a moment ago
        rate = 0
    seconds = (lambda n: f" ({n / rate:.2f} s)") if rate else (lambda n: "")
    raise AudioFileError(
        f"Audio file {path} is cut short: its header promises {promised // block} samples"
        f"{seconds(promised // block)} but the file holds only {held // block}{seconds(held // block)}, "
        f"as after an interrupted copy or download. Fix: {_FIX_DATA}."
    )


def check_finite_samples(samples: np.ndarray, sr: int, path: str | Path) -> None:
    """Raise :class:`AudioFileError` naming ``path`` when a sample is NaN or infinite (a float
    WAV written from a computation that failed): every feature of it would be NaN. ``samples``
    is ``(samples,)`` or ``(samples, channels)``, as soundfile reads them; ``sr`` gives the time.
    Used by :func:`audio_info` (``00_getting_the_data``) and :func:`course_utils.data.audio.load_audio`."""
    finite = np.isfinite(samples)
    if finite.all():
        return
    first = int(np.argwhere(~finite)[:, 0].min())
    raise AudioFileError(
        f"Audio file {path} holds {int((~finite).sum())} sample value(s) that are not finite numbers "
        f"(NaN or infinity), the first at {first / sr:.3f} s: a float WAV written from a computation "
        f"that failed. Fix: replace it with a good recording; for the course's data, {_FIX_DATA}."
    )


# --------------------------------------------------------------------------------------
# The metadata table
# --------------------------------------------------------------------------------------
def build_metadata(root: str | Path, *, with_audio_info: bool = True) -> pd.DataFrame:
    """The metadata table of a RAVDESS-style folder: one row per clip.

    Columns: ``path``, ``filename``, the seven fields as integers (``modality`` ...
    ``actor``), their names (``emotion_name``, ``intensity_name``, ``statement_text``, ...),
    ``sex`` and, unless ``with_audio_info=False``, ``duration`` (s), ``sample_rate`` (Hz),
    ``channels`` and ``bit_depth``.

    Every wav below ``root`` must have a RAVDESS name: otherwise one error lists them all.
    A damaged file raises an error that names it. Taught in ``00_getting_the_data`` (section 5);
    every chapter starts from it (:meth:`course_utils.data.datasets.Dataset.metadata`).
    """
    paths = find_wavs(root)
    if not paths:
        raise FileNotFoundError(
            f"No .wav files below {root}. Fix: point RAVDESS_DIR at the folder holding "
            "Actor_01 ... Actor_24, or run `python -m course_utils get-data`."
        )
    records = check_filenames(paths)
    rows = []
    for path, rec in zip(paths, records):
        row = {"path": str(path), **rec.as_dict()}
        if with_audio_info:
            info = audio_info(path)
            info.pop("frames")
            row.update(info)
        rows.append(row)
    df = pd.DataFrame(rows)
    for col, cats in (("emotion_name", EMOTIONS), ("intensity_name", INTENSITIES)):
        df[col] = pd.Categorical(df[col], categories=list(cats.values()))
    df["sex"] = pd.Categorical(df["sex"], categories=["male", "female"])
    return df.reset_index(drop=True)


def missing_files(df: pd.DataFrame, actors: Iterable[int] | None = None) -> list[str]:
    """File names of the full speech set (or of ``actors``) that the table lacks. Used in
    ``00_getting_the_data`` (a partial copy shows up there) and by ``python -m course_utils get-data``."""
    if actors is None:
        actors = range(1, N_ACTORS + 1)
    have = set(df["filename"])
    return [n for n in expected_filenames(actors) if n not in have]


def describe_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Files per emotion and sex: 96 per cell on the full set, 48 for neutral. Taught in
    ``00_getting_the_data`` (neutral's half share); ``05_eda`` shows it again."""
    return pd.crosstab(df["emotion_name"], df["sex"], dropna=False)


def task_labels(df: pd.DataFrame, task: str) -> tuple[np.ndarray, list[str]]:
    """Integer labels and class names for one of the four tasks of the study.

    ``sex`` -> 0 male, 1 female; ``statement`` -> 0 "Kids...", 1 "Dogs...";
    ``actor`` -> 0..23 for actors 01..24; ``emotion`` -> 0..7 in RAVDESS code order.
    Called by ``06_preprocessing``, ``08_cnn_binary`` to ``12_autoencoder`` and ``14_raw_waveform``
    to ``17_new_voices``, and by ``13_multitask`` through
    :func:`course_utils.learning.multitask.task_targets`.
    """
    if task == "sex":
        return (df["sex"].astype(str) == "female").to_numpy(dtype=np.int64), ["male", "female"]
    if task == "statement":
        return df["statement"].to_numpy(dtype=np.int64) - 1, list(STATEMENTS.values())
    if task == "actor":
        return df["actor"].to_numpy(dtype=np.int64) - 1, [f"Actor_{i:02d}" for i in range(1, N_ACTORS + 1)]
    if task == "emotion":
        return df["emotion"].to_numpy(dtype=np.int64) - 1, list(EMOTIONS.values())
    raise ValueError(f"unknown task {task!r}: choose one of {sorted(TASKS)}")


def one_per_emotion(df: pd.DataFrame, actor: int | None = None, statement: int = 1, repetition: int = 1) -> pd.DataFrame:
    """One clip per emotion, all from one actor and sentence (strong intensity where it exists).

    ``actor=None`` picks the lowest actor id in the table. Used to listen to the eight
    emotions side by side: taught in ``00_getting_the_data`` (section 6 and exercise 3), used again
    in ``05_eda``, ``06_preprocessing`` and ``07_classical_baseline``.
    """
    actor = int(df["actor"].min()) if actor is None else actor
    sel = df[(df["actor"] == actor) & (df["statement"] == statement) & (df["repetition"] == repetition)]
    sel = sel.sort_values(["emotion", "intensity"]).groupby("emotion", as_index=False).last()
    if sel.empty:
        raise ValueError(f"no clips of actor {actor}, statement {statement}, repetition {repetition} in the table")
    return sel.reset_index(drop=True)
