"""Exploratory data analysis: what every clip holds, measured, summarised and drawn.

Taught in ``05_eda``. The acoustic table (:func:`acoustic_table`) is read back from its cache by
``07_classical_baseline`` (pitch features), ``09_cnn_multiclass`` (which also compares the
emotions with :func:`image_distances` and :func:`feature_distances`) and ``17_new_voices``
(through :func:`course_utils.learning.baseline.feature_matrix`).

The idea: look before you learn. Before a model sees the corpus, measure what the ear notices
first in every clip (how long it is, how much of it is silence, how loud and how high the voice
is), then ask which of these the emotion changes and which the speaker. Levels are in dB re full
scale, :math:`L = 20 \\log_{10} \\mathrm{RMS}` dBFS; pitch intervals in semitones,
:math:`12 \\log_2(f / f_\\mathrm{ref})`. A measure that mostly tells the speakers apart says
little about emotion until it is taken relative to each speaker (:func:`relative_to_actor`).

One row per clip (:func:`acoustic_table`) with what the ear notices first:

=====================  ==================================================================
column                 meaning
=====================  ==================================================================
``duration_s``         length of the file (s)
``lead_silence_s``     quiet head: time before the first frame within ``top_db`` dB of the
                       clip's loudest frame (``librosa.effects.trim``), s
``trail_silence_s``    quiet tail, measured the same way, s
``speech_s``           what is left between the two: the sentence, s
``rms_dbfs``           loudness of the trimmed sentence: RMS level in dB re full scale
                       (an amplitude-1 square wave is 0 dBFS, an amplitude-1 sine -3 dBFS)
``peak_dbfs``          the largest absolute sample, dBFS
``noise_floor_dbfs``   level of the quietest frames (5th percentile of frame RMS), dBFS;
                       digital silence (exact zeros) counts as :data:`FLOOR_DBFS`
``snr_db``             loudest frame minus the noise floor, dB: where it is below
                       ``top_db``, no frame counts as silence and nothing is trimmed
``f0_median_hz``       median fundamental frequency of the voiced frames (``librosa.pyin``)
``f0_p10_hz``,         10th and 90th percentile of f0 over the voiced frames, Hz
``f0_p90_hz``
``f0_range_st``        ``12 log2(p90 / p10)``: the pitch range, semitones
``voiced_fraction``    share of the sentence's frames that pyin calls voiced
=====================  ==================================================================

pyin is accurate but slow (it tries every candidate period in every frame), so the table is
computed in parallel (``n_jobs`` processes) and cached on disk, keyed by dataset, file list and
parameters, and written atomically (like the log-Mel images of :mod:`course_utils.sound.features`).

================================  ====================================================
helper                            what it does
================================  ====================================================
:func:`clip_acoustics`            the measurements of one signal (:class:`AcousticConfig`)
:func:`acoustic_table`            those of every clip, cached
:func:`format_table`              how the files are stored (channels, bits, rate);
                                  :func:`channel_difference_db` how alike two channels are
:func:`field_counts`              files per emotion and sex, intensity, statement
:func:`group_summary`             a statistic of each measure per group
:func:`variance_explained`        how much of a measure each factor explains (eta squared)
:func:`relative_to_actor`         a measure relative to each actor's own median
:func:`extremes`                  the clips at the ends of the distributions
:func:`mean_by_label`             the mean log-Mel image of each emotion
:func:`image_distances`           how far apart those mean images are (dB);
                                  :func:`feature_distances` the same for clip measures
:func:`closest_pairs`             the closest pairs of a distance table
================================  ====================================================

Figures: :func:`plot_counts`, :func:`plot_by_group`, :func:`plot_durations`, :func:`plot_f0`,
:func:`plot_mean_images`, :func:`plot_differences`, :func:`plot_distance_matrix`,
:func:`plot_clip_measurements` and :func:`show_extreme` (with a player).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from joblib import Parallel, delayed
from matplotlib.ticker import FixedLocator, NullLocator

from course_utils.base import jupyter
from course_utils.data import audio, cache
from course_utils.sound import plots, spectrum
from course_utils.sound.features import FeatureConfig

#: Bump when the measurements change, so that old cache files are not reused.
ACOUSTICS_VERSION = 1

#: The measured columns of :func:`acoustic_table`, in order.
ACOUSTIC_COLUMNS = (
    "duration_s",
    "lead_silence_s",
    "trail_silence_s",
    "speech_s",
    "rms_dbfs",
    "peak_dbfs",
    "noise_floor_dbfs",
    "snr_db",
    "f0_median_hz",
    "f0_p10_hz",
    "f0_p90_hz",
    "f0_range_st",
    "voiced_fraction",
)

#: Axis labels (with units) of the measured columns.
LABELS = {
    "duration_s": "file duration (s)",
    "lead_silence_s": "leading silence (s)",
    "trail_silence_s": "trailing silence (s)",
    "speech_s": "speech after trimming (s)",
    "rms_dbfs": "RMS level of the speech (dBFS)",
    "peak_dbfs": "peak level (dBFS)",
    "noise_floor_dbfs": "noise floor (dBFS)",
    "snr_db": "loudest frame above the noise floor (dB)",
    "f0_median_hz": "median f0 (Hz)",
    "f0_p10_hz": "f0, 10th percentile (Hz)",
    "f0_p90_hz": "f0, 90th percentile (Hz)",
    "f0_range_st": "f0 range p10-p90 (semitones)",
    "voiced_fraction": "voiced share of frames",
}

#: Metadata columns carried into the acoustic table.
META_COLUMNS = (
    "filename",
    "actor",
    "sex",
    "emotion",
    "emotion_name",
    "intensity_name",
    "statement",
    "repetition",
    "channels",
    "bit_depth",
    "sample_rate",
)

#: Frame levels are clipped here (dBFS): far below 16-bit quantisation noise, i.e. digital silence.
FLOOR_DBFS = -120.0

#: The colour of each sex in the figures of ``05_eda``, ``07_classical_baseline`` and ``09_cnn_multiclass``.
SEX_PALETTE = {"male": "#4C72B0", "female": "#DD8452"}


# --------------------------------------------------------------------------------------
# Measuring one clip
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AcousticConfig:
    """Every parameter of the per-clip measurements (the cache key is derived from it).

    ``top_db`` matches the trimming of the feature pipeline
    (:attr:`course_utils.sound.features.FeatureConfig.trim_top_db`), so "silence" means here what is
    cut there. ``frame_length`` / ``hop_length`` are the frames of both the level and the
    pitch analysis (93 / 23 ms at 22050 Hz); 93 ms hold more than four periods of the lowest
    f0 searched (``fmin``). ``fmin`` / ``fmax`` are the course's pyin search range,
    :data:`course_utils.sound.spectrum.SPEECH_FMIN` / :data:`~course_utils.sound.spectrum.SPEECH_FMAX`
    (the reasons are given there); both are part of the cache key.

    Taught in ``05_eda``.
    """

    sample_rate: int = audio.COURSE_SR
    top_db: float = 30.0
    frame_length: int = 2048
    hop_length: int = 512
    fmin: float = spectrum.SPEECH_FMIN
    fmax: float = spectrum.SPEECH_FMAX

    def key(self) -> str:
        """A short hash of the parameters."""
        blob = json.dumps({**asdict(self), "version": ACOUSTICS_VERSION}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


def dbfs(x: float | np.ndarray) -> float | np.ndarray:
    """An amplitude (full scale = 1) in dB re full scale: ``20 log10(x)``; 0 gives ``-inf``.

    Used by :func:`clip_acoustics`, :func:`channel_difference_db` and the figures of ``05_eda``.
    """
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(x)


def semitones(f: float | np.ndarray, ref: float | np.ndarray) -> float | np.ndarray:
    """The interval from ``ref`` to ``f`` in semitones (12 = one octave): the argument order
    of this chapter's tables (value, then reference) for :func:`course_utils.sound.spectrum.semitones`.

    Works on numbers, arrays and pandas objects (a Series in, a Series out).

    Taught in ``05_eda``.
    """
    return spectrum.semitones(ref, f)


def frame_rms(y: np.ndarray, config: AcousticConfig = AcousticConfig()) -> np.ndarray:
    """RMS of every frame (full scale = 1), the frames ``librosa.effects.trim`` looks at.

    Used by :func:`clip_acoustics` and :func:`plot_clip_measurements` (``05_eda``).
    """
    return librosa.feature.rms(y=y, frame_length=config.frame_length, hop_length=config.hop_length)[0]


def silence_bounds(y: np.ndarray, sr: int, config: AcousticConfig = AcousticConfig()) -> tuple[int, int]:
    """Start and end sample of the sentence: the span ``librosa.effects.trim`` keeps.

    A frame is "silence" when its RMS is more than ``config.top_db`` dB below the loudest
    frame of the clip. The bounds are multiples of the hop (23 ms at 22050 Hz).

    Taught in ``05_eda``.
    """
    _, (start, end) = librosa.effects.trim(
        y, top_db=config.top_db, frame_length=config.frame_length, hop_length=config.hop_length
    )
    return int(start), int(end)


def _pitch(y: np.ndarray, sr: int, config: AcousticConfig) -> spectrum.F0Track:
    """pyin over ``config``'s search range and frames (:func:`course_utils.sound.spectrum.track_f0`),
    without its level gate: the clip's silence is trimmed before."""
    return spectrum.track_f0(y, sr, config.fmin, config.fmax, config.frame_length, config.hop_length, gate_db=None)


def clip_acoustics(y: np.ndarray, sr: int, config: AcousticConfig = AcousticConfig()) -> dict[str, float]:
    """The measurements of one mono signal (see the module docstring): a dict of floats.

    f0 statistics are NaN when pyin finds no voiced frame.

    Taught in ``05_eda``.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"clip_acoustics needs a mono signal (1-D), got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("clip_acoustics got an empty signal")
    start, end = silence_bounds(y, sr, config)
    speech = y[start:end]
    rms = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2)))
    frame_db = dbfs(np.maximum(frame_rms(y, config), 10 ** (FLOOR_DBFS / 20)))
    floor = float(np.percentile(frame_db, 5))
    out = {
        "duration_s": len(y) / sr,
        "lead_silence_s": start / sr,
        "trail_silence_s": (len(y) - end) / sr,
        "speech_s": (end - start) / sr,
        "rms_dbfs": float(dbfs(rms)),
        "peak_dbfs": float(dbfs(float(np.max(np.abs(y))))),
        "noise_floor_dbfs": floor,
        "snr_db": float(frame_db.max()) - floor,
    }
    track = _pitch(speech, sr, config)
    f0, voiced = track.f0, track.voiced
    if voiced.any():
        p10, p50, p90 = np.percentile(f0[voiced], [10, 50, 90])
        out.update(f0_median_hz=p50, f0_p10_hz=p10, f0_p90_hz=p90, f0_range_st=float(semitones(p90, p10)))
    else:
        out.update(f0_median_hz=np.nan, f0_p10_hz=np.nan, f0_p90_hz=np.nan, f0_range_st=np.nan)
    out["voiced_fraction"] = float(voiced.mean())
    return {k: float(v) for k, v in out.items()}


def file_acoustics(path: str | Path, config: AcousticConfig = AcousticConfig()) -> dict[str, float]:
    """:func:`clip_acoustics` of one file, loaded mono at ``config.sample_rate``.

    Used by :func:`acoustic_table` (``05_eda``).
    """
    y, sr = audio.load_audio(path, sr=config.sample_rate)
    return clip_acoustics(y, sr, config)


# --------------------------------------------------------------------------------------
# The acoustic table of a corpus (cached)
# --------------------------------------------------------------------------------------
def cache_path(
    meta: pd.DataFrame, config: AcousticConfig, dataset: str, cache_dir: str | Path | None = None
) -> Path:
    """Where the acoustic table of these files under these parameters is cached.

    The name holds the dataset, the parameter hash and a fingerprint of the file list (names,
    sizes, modification times: :func:`course_utils.base.paths.files_fingerprint`), so a different
    subset or a replaced file gets its own entry.

    Used by :func:`acoustic_table` (``05_eda``).
    """
    return cache.entry_path(f"acoustics-{dataset}-{config.key()}", meta["path"], suffix=".csv", cache_dir=cache_dir)


def acoustic_table(
    meta: pd.DataFrame,
    config: AcousticConfig = AcousticConfig(),
    *,
    dataset: str = "data",
    cache_dir: str | Path | None = None,
    n_jobs: int = 2,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per row of ``meta``: its labels (:data:`META_COLUMNS`) and measurements.

    Read from the cache when it holds these files; otherwise measured in parallel
    (``n_jobs`` processes) with a progress bar, and cached atomically as CSV (floats written
    and read back exactly, so a cached rerun gives the same numbers); a damaged entry is
    reported and measured again (:func:`course_utils.data.cache.cached`). Taught in ``05_eda``;
    ``07_classical_baseline`` and ``09_cnn_multiclass`` read it back, and ``17_new_voices`` through
    :func:`course_utils.learning.baseline.feature_matrix`.
    """
    target = cache_path(meta, config, dataset, cache_dir)
    names = [Path(p).name for p in meta["path"]]

    def build() -> pd.DataFrame:
        files = list(meta["path"])
        jobs = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(file_acoustics)(p, config) for p in files)
        rows = list(jupyter.progress(jobs, total=len(files), desc="acoustics (pyin)", unit="file", disable=not progress))
        table = pd.DataFrame(rows, columns=list(ACOUSTIC_COLUMNS))
        table.insert(0, "filename", names)
        return table

    measured = cache.cached(target, build, what="acoustics", names=names, check=cache.columns_check(ACOUSTIC_COLUMNS))
    labels = meta[[c for c in META_COLUMNS if c in meta]].reset_index(drop=True)
    return pd.concat([labels, measured[list(ACOUSTIC_COLUMNS)].reset_index(drop=True)], axis=1)


# --------------------------------------------------------------------------------------
# How the corpus is stored and balanced
# --------------------------------------------------------------------------------------
def format_table(meta: pd.DataFrame) -> pd.DataFrame:
    """How the files are stored: counts per (channels, bit depth, sample rate).

    Taught in ``05_eda``.
    """
    t = meta.groupby(["channels", "bit_depth", "sample_rate"]).size().rename("files").reset_index()
    t.insert(0, "layout", t["channels"].map({1: "mono", 2: "stereo"}).fillna(t["channels"].astype(str) + " channels"))
    return t


def channel_difference_db(path: str | Path) -> float:
    """How different the two channels of a stereo file are: RMS of ``left - right`` in dB
    relative to the RMS of their mean (the mono mix every notebook uses).

    Very negative (e.g. -40 dB): the channels are nearly the same signal, and averaging
    them loses nothing. NaN for a mono file; ``-inf`` for identical channels.

    Taught in ``05_eda``.
    """
    y, _ = audio.load_audio(path, sr=None, mono=False)
    if y.shape[0] != 2:
        return float("nan")
    diff = np.sqrt(np.mean((y[0].astype(np.float64) - y[1]) ** 2))
    mix = np.sqrt(np.mean(((y[0].astype(np.float64) + y[1]) / 2) ** 2))
    return float(dbfs(diff / mix)) if mix > 0 else float("nan")


def field_counts(meta: pd.DataFrame) -> pd.DataFrame:
    """Files per emotion and each of sex, intensity and statement (one wide table).

    Taught in ``05_eda``.
    """
    parts = {
        "sex": pd.crosstab(meta["emotion_name"], meta["sex"]),
        "intensity": pd.crosstab(meta["emotion_name"], meta["intensity_name"]),
        "statement": pd.crosstab(meta["emotion_name"], meta["statement"].map({1: "Kids", 2: "Dogs"})),
    }
    table = pd.concat(parts, axis=1)
    table[("all", "")] = meta.groupby("emotion_name", observed=False).size()
    table.columns.names = ["field", "value"]
    return table.rename_axis("emotion")


# --------------------------------------------------------------------------------------
# Summaries: groups, speakers, extremes
# --------------------------------------------------------------------------------------
def group_summary(
    table: pd.DataFrame,
    by: str | Sequence[str] = "emotion_name",
    columns: Sequence[str] = ("speech_s", "lead_silence_s", "trail_silence_s", "rms_dbfs", "f0_median_hz"),
    stat: str = "median",
    decimals: int | None = 2,
) -> pd.DataFrame:
    """One row per group: the number of clips and ``stat`` (``median``, ``mean`` ...) of each column.

    Taught in ``05_eda``.
    """
    g = table.groupby(by, observed=True)
    out = g[list(columns)].agg(stat)
    out.insert(0, "clips", g.size())
    return out.round(decimals) if decimals is not None else out


def variance_explained(
    table: pd.DataFrame, column: str, factors: Sequence[str] = ("actor", "sex", "emotion_name")
) -> pd.Series:
    """Share of the variance of ``column`` explained by each factor's group means (eta squared).

    :math:`\\eta^2 = \\sum_g n_g (\\bar x_g - \\bar x)^2 / \\sum_i (x_i - \\bar x)^2`: 1 when the
    factor alone fixes the value, 0 when every group has the same mean. Factors are judged one
    at a time (sex is nested in actor, so actor's share is at least sex's). Rows where
    ``column`` is NaN are left out.

    Taught in ``05_eda``.
    """
    d = table.dropna(subset=[column])
    x = d[column].to_numpy(dtype=float)
    total = float(np.sum((x - x.mean()) ** 2))
    if total == 0.0:
        raise ValueError(f"{column!r} has no variance: nothing to explain")
    shares = {}
    for f in factors:
        means = d.groupby(f, observed=True)[column].transform("mean").to_numpy(dtype=float)
        shares[f] = float(np.sum((means - x.mean()) ** 2) / total)
    return pd.Series(shares, name=column)


def relative_to_actor(table: pd.DataFrame, column: str, *, log: bool = False) -> pd.Series:
    """``column`` relative to each actor's own median: a difference, or with ``log=True`` an
    interval in semitones (for f0). Removes the speaker, keeps what the emotion changes.

    Taught in ``05_eda``.
    """
    ref = table.groupby("actor", observed=True)[column].transform("median")
    rel = semitones(table[column], ref) if log else table[column] - ref
    return pd.Series(np.asarray(rel, dtype=float), index=table.index, name=f"{column} re actor")


def extremes(table: pd.DataFrame) -> pd.DataFrame:
    """The clips at the ends of the distributions, one row each, with what makes them extreme.

    Loudest and quietest sentence (``rms_dbfs``), longest leading and trailing silence,
    longest and shortest sentence (``speech_s``).

    Taught in ``05_eda``.
    """
    picks = [
        ("loudest sentence", "rms_dbfs", "idxmax"),
        ("quietest sentence", "rms_dbfs", "idxmin"),
        ("longest leading silence", "lead_silence_s", "idxmax"),
        ("longest trailing silence", "trail_silence_s", "idxmax"),
        ("longest sentence", "speech_s", "idxmax"),
        ("shortest sentence", "speech_s", "idxmin"),
    ]
    rows = []
    for what, col, how in picks:
        i = getattr(table[col], how)()
        rows.append({"extreme": what, "measure": col, "value": float(table.at[i, col]), "row": i})
    out = pd.DataFrame(rows)
    keep = [c for c in ("filename", "actor", "sex", "emotion_name", "intensity_name") if c in table]
    return pd.concat([out, table.loc[out["row"], keep].reset_index(drop=True)], axis=1)


# --------------------------------------------------------------------------------------
# How far apart the emotions are
# --------------------------------------------------------------------------------------
def mean_by_label(images: np.ndarray, labels: Sequence, order: Sequence) -> np.ndarray:
    """The mean image of each label in ``order``: array ``(len(order), H, W)``.

    Taught in ``05_eda``; ``09_cnn_multiclass`` uses it too.
    """
    labels = np.asarray(labels, dtype=object)
    missing = [o for o in order if not np.any(labels == o)]
    if missing:
        raise ValueError(f"no images with label(s) {missing}")
    return np.stack([images[labels == o].mean(axis=0) for o in order])


def image_distances(means: np.ndarray, names: Sequence[str], db_range: float = 80.0) -> pd.DataFrame:
    """RMS difference between every two mean log-Mel images, in dB.

    Image pixels are levels scaled to [0, 1] over ``db_range`` dB
    (:func:`course_utils.sound.features.to_image`), so a pixel difference times ``db_range`` is a
    difference in dB: :math:`d(a, b) = R \\sqrt{\\operatorname{mean}_{m,t} (A_{m,t} - B_{m,t})^2}`.

    Taught in ``05_eda``; ``09_cnn_multiclass`` uses it too.
    """
    flat = means.reshape(len(means), -1).astype(np.float64)
    d = np.sqrt(((flat[:, None, :] - flat[None, :, :]) ** 2).mean(axis=2)) * db_range
    return pd.DataFrame(d, index=list(names), columns=list(names))


def feature_distances(
    table: pd.DataFrame,
    columns: Sequence[str] = ("speech_s", "rms_dbfs", "f0_median_hz", "f0_range_st"),
    by: str = "emotion_name",
    within: str | None = "actor",
) -> pd.DataFrame:
    """Euclidean distance between the group centroids of standardised clip measures.

    Each column is z-scored within each ``within`` group (each actor, by default: this takes
    the speaker out, so that what remains is how an emotion moves a voice away from its own
    average), then averaged per ``by`` group. ``f0`` columns in Hz are compared on a log scale.

    Taught in ``05_eda``; ``09_cnn_multiclass`` uses it too.
    """
    d = table.dropna(subset=list(columns)).copy()
    for c in columns:
        v = np.log2(d[c]) if c.endswith("_hz") else d[c]
        if within is None:
            d[c] = (v - v.mean()) / v.std(ddof=0)
        else:
            g = v.groupby(d[within], observed=True)
            d[c] = (v - g.transform("mean")) / g.transform("std", ddof=0).replace(0.0, np.nan)
    centroids = d.groupby(by, observed=True)[list(columns)].mean()
    x = centroids.to_numpy(dtype=float)
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    names = [str(i) for i in centroids.index]
    return pd.DataFrame(dist, index=names, columns=names)


def closest_pairs(dist: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """The ``n`` pairs with the smallest distance in a symmetric distance table.

    Taught in ``05_eda``; ``09_cnn_multiclass`` uses it too.
    """
    names = list(dist.index)
    pairs = [
        (names[i], names[j], float(dist.iat[i, j])) for i in range(len(names)) for j in range(i + 1, len(names))
    ]
    pairs.sort(key=lambda p: (p[2], p[0], p[1]))
    return pd.DataFrame(pairs[:n], columns=["emotion A", "emotion B", "distance"])


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def _emotion_order(table: pd.DataFrame) -> list[str]:
    col = table["emotion_name"]
    cats = list(col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype) else sorted(col.unique())
    present = set(col.astype(str))
    return [c for c in cats if c in present]


def plot_counts(meta: pd.DataFrame) -> plt.Figure:
    """Files per emotion by sex, intensity and statement (count plots) and per actor (heatmap).

    Taught in ``05_eda``.
    """
    order = _emotion_order(meta)
    d = meta.assign(
        emotion=meta["emotion_name"].astype(str),
        statement_text=meta["statement"].map({1: '"Kids ..."', 2: '"Dogs ..."'}),
    )
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    for ax, hue, title, palette in (
        (axes[0, 0], "sex", "Files per emotion and sex", SEX_PALETTE),
        (axes[0, 1], "intensity_name", "Files per emotion and intensity", "Greens"),
        (axes[1, 0], "statement_text", "Files per emotion and statement", "Purples"),
    ):
        sns.countplot(data=d, x="emotion", hue=hue, order=order, ax=ax, palette=palette)
        for container in ax.containers:
            ax.bar_label(container, fontsize=7)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend above the bars
        ax.set_xlabel("emotion")
        ax.set_ylabel("files")
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=30)
        ax.legend(title=hue.replace("_name", "").replace("_text", ""), fontsize=8, loc="upper center", ncol=2)
    counts = pd.crosstab(d["actor"], d["emotion"]).reindex(columns=order)
    sns.heatmap(counts.T, annot=len(counts) <= 24, fmt="d", cmap="Blues", cbar_kws={"label": "files"}, ax=axes[1, 1],
                annot_kws={"fontsize": 7})
    axes[1, 1].set_xlabel("actor (odd = male, even = female)")
    axes[1, 1].set_ylabel("emotion")
    axes[1, 1].set_title("Files per actor and emotion")
    fig.tight_layout()
    return fig


def plot_by_group(
    table: pd.DataFrame,
    column: str,
    *,
    by: str = "emotion_name",
    hue: str | None = "sex",
    kind: str = "box",
    ax: plt.Axes | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    log: bool = False,
) -> plt.Axes:
    """A seaborn box (``kind="box"``) or violin plot of ``column`` per ``by`` group (and ``hue``).

    ``log=True`` draws the y axis logarithmically with plain-number tick labels (for Hz).

    Taught in ``05_eda``.
    """
    ax = ax or plt.gca()
    d = table.dropna(subset=[column])
    order = _emotion_order(d) if by == "emotion_name" else None
    palette = SEX_PALETTE if hue == "sex" else None
    kw = dict(data=d, x=by, y=column, hue=hue, order=order, ax=ax, palette=palette)
    if hue is None:
        kw.pop("palette")
        kw["color"] = "#8DA0CB"
    if kind == "box":
        sns.boxplot(**kw, fliersize=2, linewidth=0.8)
    elif kind == "violin":
        sns.violinplot(**kw, inner="quartile", cut=0, linewidth=0.8, density_norm="width")
    else:
        raise ValueError(f"kind must be 'box' or 'violin', got {kind!r}")
    if log:
        ax.set_yscale("log")
        lo, hi = d[column].min(), d[column].max()
        ticks = [t for t in (50, 60, 80, 100, 125, 150, 200, 250, 300, 400, 500, 600, 800) if lo * 0.8 <= t <= hi * 1.25]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_yticklabels([str(t) for t in ticks])
    ax.set_xlabel(by.replace("_name", ""))
    ax.set_ylabel(ylabel or LABELS.get(column, column))
    ax.set_title(title or f"{LABELS.get(column, column)} per {by.replace('_name', '')}")
    ax.tick_params(axis="x", rotation=30)
    if hue is not None and ax.get_legend() is not None:
        ax.legend(title=hue, fontsize=8)
    return ax


def plot_durations(table: pd.DataFrame, common_length: float | None = None) -> plt.Figure:
    """Histograms of file and sentence length, box plots of the leading and trailing silence.

    ``common_length`` (s) marks the length every clip is cut or padded to later.

    Taught in ``05_eda``.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    bins = np.linspace(0, table["duration_s"].max() * 1.02, 40)
    ax.hist(table["duration_s"], bins=bins, alpha=0.6, label="whole file")
    ax.hist(table["speech_s"], bins=bins, alpha=0.6, label="sentence (silence trimmed)")
    if common_length is not None:
        ax.axvline(common_length, color="k", ls="--", lw=1, label=f"common length {common_length:g} s")
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("clips")
    ax.set_title("Length of files and of the sentences in them")
    ax.legend(fontsize=8)
    for ax, col in zip(axes[1:], ("lead_silence_s", "trail_silence_s")):
        plot_by_group(table, col, hue=None, ax=ax, title=f"{LABELS[col].split(' (')[0].capitalize()} per emotion")
    ymax = max(axes[1].get_ylim()[1], axes[2].get_ylim()[1])
    for ax in axes[1:]:
        ax.set_ylim(0, ymax)
    fig.tight_layout()
    return fig


def plot_f0(table: pd.DataFrame) -> plt.Figure:
    """Median f0 per clip by emotion and sex (Hz, log axis) and relative to each actor (semitones).

    Taught in ``05_eda``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.5))
    plot_by_group(table, "f0_median_hz", kind="box", ax=axes[0], log=True, ylabel="median f0 (Hz, log scale)",
                  title="Median f0 per clip, by emotion and sex")
    rel = table.assign(f0_rel_st=relative_to_actor(table, "f0_median_hz", log=True))
    plot_by_group(rel, "f0_rel_st", kind="box", ax=axes[1], ylabel="median f0 re the actor's median (semitones)",
                  title="The same, relative to each actor's own median f0")
    axes[1].axhline(0, color="0.4", lw=0.8)
    fig.tight_layout()
    return fig


def _image_grid(n: int, ncols: int) -> tuple[plt.Figure, np.ndarray]:
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols + 1.2, 2.7 * nrows + 0.6), squeeze=False,
                             sharey=True, layout="constrained")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return fig, axes


def _image_axes(ax: plt.Axes, config: FeatureConfig, height: int, title: str, k: int, n: int, ncols: int) -> None:
    """Mel-band ticks in Hz; y label on the first column, x label on the lowest panel of each column."""
    pos, labels = plots.mel_ticks(config, height)
    ax.set_yticks(pos, labels)
    if k % ncols == 0:
        ax.set_ylabel("frequency (Hz, Mel scale)")
    if k + ncols >= n:
        ax.set_xlabel("time (s)")
    else:
        ax.tick_params(axis="x", labelbottom=False)
    ax.set_title(title, fontsize=10)


def plot_mean_images(means: np.ndarray, names: Sequence[str], config: FeatureConfig, ncols: int = 4) -> plt.Figure:
    """One panel per mean log-Mel image, on one shared colour scale in dB re each clip's maximum.

    Taught in ``05_eda``.
    """
    db = (means - 1.0) * config.db_range
    vmin, vmax = float(np.floor(db.min())), float(np.ceil(db.max()))
    fig, axes = _image_grid(len(means), ncols)
    h = means.shape[1]
    for k, (ax, img, name) in enumerate(zip(axes.flat, db, names)):
        im = ax.imshow(img, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax,
                       extent=(0, config.duration, 0, h))
        _image_axes(ax, config, h, name, k, len(means), ncols)
    fig.colorbar(im, ax=axes, label="mean level (dB re each clip's maximum)", shrink=0.9)
    fig.suptitle("Mean log-Mel spectrogram per emotion (trimmed, centred clips)")
    return fig


def plot_differences(
    means: np.ndarray, names: Sequence[str], config: FeatureConfig, reference: str = "neutral", ncols: int = 4
) -> plt.Figure:
    """Each mean log-Mel image minus the ``reference`` one, in dB, on one symmetric colour scale.

    Red: louder than the reference at that time and Mel band; blue: quieter.

    Taught in ``05_eda``.
    """
    names = list(names)
    ref = means[names.index(reference)]
    others = [(n, (m - ref) * config.db_range) for n, m in zip(names, means) if n != reference]
    lim = float(np.ceil(max(np.percentile(np.abs(d), 99.5) for _, d in others)))
    fig, axes = _image_grid(len(others), ncols)
    h = means.shape[1]
    for k, (ax, (name, d)) in enumerate(zip(axes.flat, others)):
        im = ax.imshow(d, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       extent=(0, config.duration, 0, h))
        _image_axes(ax, config, h, f"{name} - {reference}", k, len(others), ncols)
    fig.colorbar(im, ax=axes, label=f"difference from {reference} (dB)", shrink=0.9)
    fig.suptitle(f"How each emotion's mean log-Mel spectrogram differs from {reference}")
    return fig


def plot_distance_matrix(dist: pd.DataFrame, ax: plt.Axes | None = None, title: str = "", unit: str = "") -> plt.Axes:
    """An annotated heatmap of a symmetric distance table (diagonal left blank).

    Taught in ``05_eda``.
    """
    ax = ax or plt.gca()
    mask = np.eye(len(dist), dtype=bool)
    sns.heatmap(dist, mask=mask, annot=True, fmt=".1f", cmap="viridis_r", square=True, ax=ax,
                cbar_kws={"label": f"distance{f' ({unit})' if unit else ''}", "shrink": 0.8},
                annot_kws={"fontsize": 8})
    ax.set_xlabel("emotion")
    ax.set_ylabel("emotion")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
    ax.tick_params(axis="y", rotation=0)
    return ax


def plot_clip_measurements(y: np.ndarray, sr: int, config: AcousticConfig = AcousticConfig(), title: str = "") -> plt.Figure:
    """What :func:`clip_acoustics` measures, drawn for one clip.

    Top: frame level in dB re the loudest frame, the ``-top_db`` threshold and the silence it
    marks. Bottom: spectrogram (log frequency) with the pyin f0 track of the trimmed sentence.

    Taught in ``05_eda``.
    """
    start, end = silence_bounds(y, sr, config)
    rms = frame_rms(y, config)
    t = librosa.frames_to_time(np.arange(len(rms)), sr=sr, hop_length=config.hop_length)
    fig, axes = plt.subplots(2, 1, figsize=(10.5, 5.8), sharex=True, height_ratios=[1, 1.4], layout="constrained")
    ax = axes[0]
    level = dbfs(np.maximum(rms, 1e-10) / rms.max())
    ax.plot(t, level, lw=1, label="frame level")
    ax.axhline(-config.top_db, color="C3", ls="--", lw=1, label=f"threshold: {-config.top_db:g} dB")
    for a, b in ((0, start / sr), (end / sr, len(y) / sr)):
        ax.axvspan(a, b, color="0.85", zorder=0)
    ax.set_ylim(max(level.min(), -90) - 3, 3)
    ax.set_ylabel("level (dB re loudest frame)")
    ax.set_title(title or "Silence: frames more than top_db below the loudest")
    ax.legend(loc="lower center", fontsize=8)
    ax = axes[1]
    S = librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=config.frame_length, hop_length=config.hop_length)), ref=np.max)
    img = librosa.display.specshow(S, sr=sr, hop_length=config.hop_length, x_axis="time", y_axis="log", ax=ax,
                                   cmap="gray_r", vmin=-70, vmax=0)
    fig.colorbar(img, ax=axes, label="spectrogram level (dB re max)", shrink=0.6, location="right")
    f0 = _pitch(y[start:end], sr, config).f0
    tf = start / sr + librosa.frames_to_time(np.arange(len(f0)), sr=sr, hop_length=config.hop_length)
    ax.plot(tf, f0, color="C1", lw=2, label="pyin f0 (voiced frames)")
    ax.set_ylim(config.fmin * 0.8, 4000)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz, log scale)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Spectrogram and fundamental frequency")
    return fig


def show_extreme(path: str | Path, title: str, config: AcousticConfig = AcousticConfig()) -> plt.Figure:
    """The waveform of one clip with its silent head and tail shaded, and its player.

    The amplitude axis fits the clip's peak (given in the title, in dBFS); the player is not
    normalised, so that a quiet clip sounds quiet.

    Taught in ``05_eda``.
    """
    y, sr = audio.load_audio(path, sr=config.sample_rate)
    start, end = silence_bounds(y, sr, config)
    peak = float(np.max(np.abs(y))) or 1.0
    note = "grey: silence" if (start, end) != (0, len(y)) else f"no silence found at top_db = {config.top_db:g} dB"
    fig, ax = plt.subplots(figsize=(9, 2.2))
    ax.plot(np.arange(len(y)) / sr, y, lw=0.6)
    for a, b in ((0, start / sr), (end / sr, len(y) / sr)):
        ax.axvspan(a, b, color="0.85", zorder=0)
    ax.set_xlim(0, len(y) / sr)
    ax.set_ylim(-1.1 * peak, 1.1 * peak)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude (full scale)")
    ax.set_title(f"{title}\npeak {float(dbfs(peak)):.1f} dBFS; {note}", fontsize=10)
    fig.tight_layout()
    plt.show()
    plots.play(y, sr, normalize=False)
    return fig
