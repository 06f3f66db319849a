"""The classical baseline: clip statistics and a scikit-learn classifier.

Taught in ``07_classical_baseline`` (the baseline every deep model of the course has to beat);
``06_preprocessing`` uses its MFCC statistics and SVM to compare splits, and ``17_new_voices``
builds on chapter 07's features and classifiers.

A classical classifier needs one fixed-length vector per clip, but clips differ in length. The
classical answer: compute a feature :math:`x_k(t)` in every frame :math:`t = 1, \\dots, T` and
keep its statistics over time, the mean :math:`\\mu_k = \\frac{1}{T}\\sum_t x_k(t)` and the
standard deviation :math:`\\sigma_k = \\sqrt{\\frac{1}{T}\\sum_t (x_k(t) - \\mu_k)^2}`. The mean
describes the clip's average timbre or level, the standard deviation how much it moves.

So each clip becomes one vector (:func:`clip_statistics`): the mean and standard deviation
over time of 20 MFCCs and of their deltas, plus a few cheap clip statistics (level, spectral
centroid, zero-crossing rate). A standard scaler and an RBF support vector machine
(:func:`make_classifier`) then predict each task of the study (sex, statement, actor, emotion)
from these vectors (:func:`evaluate_baseline`). Chapter 07 adds log-Mel band and pitch
statistics and eGeMAPS, and chooses the regularisation parameter :math:`C` on validation data
(:func:`fit_select`).

==============================  ================================================================
helper                          what it does
==============================  ================================================================
:func:`clip_statistics`         one clip -> MFCC, level, centroid and ZCR statistics
                                (:func:`feature_names` names the columns)
:func:`cached_features`         those of a whole table (:func:`extract_features`), cached
:func:`evaluate_baseline`       a scaler and an SVM per task, on one split
:func:`band_statistics`         mean and spread over time of pooled log-Mel bands, in dB
:func:`feature_matrix`          chapter 07's clip features in one matrix
:func:`make_model`              imputation, scaling, then an SVM or a logistic regression
:func:`fit_select`              C chosen on the validation part, the test part scored once
:func:`fit_folds`               :func:`fit_select` on every fold of a cross-validation
:func:`fit_proba`               :func:`fit_select` with class probabilities, for an ensemble
==============================  ================================================================

Chapter 07 reports what the baseline scores on the data at hand. The offline synthetic corpus
(:mod:`course_utils.data.synth`) is tuned so that every task is well above chance there too and
emotion is the hardest, but its numbers say nothing about real speech.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import librosa
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from course_utils.base import jupyter, paths
from course_utils.data import audio, cache
from course_utils.sound import eda, egemaps, features
from course_utils.learning import diagnosis

#: Number of MFCCs.
N_MFCC = 20
#: The default tasks: metadata column each one predicts.
TASKS = ("sex", "statement", "actor", "emotion")

_N_FFT, _HOP = 2048, 512


# --------------------------------------------------------------------------------------
# Clip statistics of MFCCs
# --------------------------------------------------------------------------------------
def feature_names(n_mfcc: int = N_MFCC) -> list[str]:
    """Names of the columns of :func:`clip_statistics`, in order.

    Layout (``4 * n_mfcc + 6`` values, 86 for 20 MFCCs):

    ====================  =====================================================
    columns               content
    ====================  =====================================================
    0 .. n-1              ``mfcc_mean_0 ..``  mean over time of each MFCC
    n .. 2n-1             ``mfcc_std_0 ..``   standard deviation of each MFCC
    2n .. 3n-1            ``delta_mean_0 ..`` mean of each MFCC delta
    3n .. 4n-1            ``delta_std_0 ..``  standard deviation of each delta
    4n, 4n+1              ``rms_db_mean``, ``rms_db_std``: frame level, dB
    4n+2, 4n+3            ``centroid_mean``, ``centroid_std``: spectral centroid, kHz
    4n+4, 4n+5            ``zcr_mean``, ``zcr_std``: zero-crossing rate
    ====================  =====================================================

    Used by ``04_mel_scale`` (how many numbers the baseline keeps per clip); the features
    themselves are taught in ``07_classical_baseline``.
    """
    names = []
    for stat in ("mfcc_mean", "mfcc_std", "delta_mean", "delta_std"):
        names += [f"{stat}_{i}" for i in range(n_mfcc)]
    return names + ["rms_db_mean", "rms_db_std", "centroid_mean", "centroid_std", "zcr_mean", "zcr_std"]


def clip_statistics(y: np.ndarray, sr: int, n_mfcc: int = N_MFCC) -> np.ndarray:
    """One clip -> one vector of clip-level statistics (float32, see :func:`feature_names`).

    ``y`` is a mono signal (1-D). MFCCs use a 2048-sample window and a 512-sample hop
    (93 / 23 ms at 22050 Hz); deltas are taken over 9 frames (fewer for very short clips).
    Taught in ``07_classical_baseline`` (its MFCC group of features), which reads these
    statistics through :func:`cached_features`, as ``06_preprocessing`` does.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"clip_statistics needs a mono signal (1-D), got shape {y.shape}. Fix: load with mono=True.")
    if len(y) < _N_FFT:
        y = np.pad(y, (0, _N_FFT - len(y)))
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=_N_FFT, hop_length=_HOP)
    width = min(9, mfcc.shape[1] if mfcc.shape[1] % 2 == 1 else mfcc.shape[1] - 1)
    delta = librosa.feature.delta(mfcc, width=max(width, 3), mode="nearest")
    rms_db = librosa.amplitude_to_db(librosa.feature.rms(y=y, frame_length=_N_FFT, hop_length=_HOP)[0], ref=1.0, top_db=None)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr, n_fft=_N_FFT, hop_length=_HOP)[0] / 1000.0
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=_N_FFT, hop_length=_HOP)[0]
    parts = [mfcc.mean(axis=1), mfcc.std(axis=1), delta.mean(axis=1), delta.std(axis=1)]
    extras = [rms_db.mean(), rms_db.std(), centroid.mean(), centroid.std(), zcr.mean(), zcr.std()]
    return np.concatenate(parts + [np.array(extras)]).astype(np.float32)


def _features_of(path: str, sr: int) -> np.ndarray:
    y, file_sr = audio.load_audio(path, sr=sr)
    return clip_statistics(y, file_sr)


def extract_features(meta: pd.DataFrame, sr: int = audio.COURSE_SR, progress: bool = True, n_jobs: int | None = None) -> np.ndarray:
    """The feature matrix of a metadata table: one row per row of ``meta`` (column ``path``).

    Audio is read with :func:`course_utils.data.audio.load_audio` (mono, resampled to ``sr``).
    ``n_jobs`` processes share the files (default: the number of CPUs; 1 = in this process).
    Returns float32 of shape ``(len(meta), len(feature_names()))``. Taught in
    ``07_classical_baseline`` (its table of features names it); ``06_preprocessing`` and
    ``07_classical_baseline`` call it through :func:`cached_features`.
    """
    if "path" not in meta.columns:
        raise KeyError("meta has no 'path' column. Fix: build it with course_utils.data.metadata.build_metadata(root).")
    paths = [str(p) for p in meta["path"]]
    if not paths:
        return np.zeros((0, len(feature_names())), dtype=np.float32)
    n_jobs = (os.cpu_count() or 1) if n_jobs is None else n_jobs
    n_jobs = max(1, min(int(n_jobs), len(paths) // 16 or 1))

    rows = jupyter.map_files(_features_of, paths, sr, n_jobs=n_jobs, desc="clip statistics", progress_bar=progress)
    return np.stack(rows).astype(np.float32)


def cached_features(meta: pd.DataFrame, *, cache_dir: str | Path | None = None, n_jobs: int | None = None) -> np.ndarray:
    """:func:`extract_features` of ``meta``, cached on disk (:func:`course_utils.data.cache.cached`).

    The cache file is named by a fingerprint of the file list
    (:func:`course_utils.base.paths.files_fingerprint`), so a different subset gets its own; a
    damaged one is reported and computed again. Taught in ``07_classical_baseline``; used by
    ``06_preprocessing``, by :func:`feature_matrix` (``17_new_voices``) and by
    ``python -m course_utils warm-cache`` (:mod:`course_utils.tools.warmup`).
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    target = cache.entry_path("baseline", meta["path"], N_MFCC, audio.COURSE_SR, cache_dir=cache_dir)
    names = [Path(p).name for p in meta["path"]]

    def build() -> dict:
        return {"features": extract_features(meta, progress=False, n_jobs=n_jobs), "filenames": np.array(names)}

    # f0 statistics are NaN for a clip without voiced frames (the classifiers impute them): not a damage
    return cache.cached(target, build, what="clip-statistics", names=names,
                        check=cache.shape_check("features", (len(names), None), finite=False))["features"]


# --------------------------------------------------------------------------------------
# One classifier per task
# --------------------------------------------------------------------------------------
def make_classifier(seed: int = 0) -> Pipeline:
    """A standard scaler and an RBF support vector machine (C=10, gamma='scale'), seeded.

    Used by :func:`evaluate_baseline` (``06_preprocessing``).
    """
    return make_pipeline(StandardScaler(), SVC(kernel="rbf", C=10.0, gamma="scale", random_state=seed))


def _indices(split, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row positions from a ``(train, test)`` pair or an object with .train/.test."""
    if hasattr(split, "train") and hasattr(split, "test"):
        train, test = split.train, split.test
    else:
        try:
            train, test = split
        except (TypeError, ValueError):
            raise ValueError(
                "split must be None (a seeded stratified 70/30 split per task), a pair "
                "(train_rows, test_rows), or an object with .train and .test (course_utils.data.splits.Split)."
            ) from None
    train, test = np.asarray(train, dtype=int), np.asarray(test, dtype=int)
    for part, idx in (("train", train), ("test", test)):
        if idx.ndim != 1 or len(idx) == 0 or idx.min() < 0 or idx.max() >= n:
            raise ValueError(f"split.{part} must be a non-empty list of row positions in 0 ... {n - 1}.")
    if np.intersect1d(train, test).size:
        raise ValueError("split.train and split.test share rows: a test row must never be trained on.")
    return train, test


def evaluate_baseline(
    features: np.ndarray,
    meta: pd.DataFrame,
    tasks: Sequence[str] = TASKS,
    split=None,
    seed: int = 0,
    test_size: float = 0.3,
) -> pd.DataFrame:
    """Train and test the baseline on each task; one row per task.

    Labels are the metadata columns named by ``tasks`` (``sex``, ``statement``, ``actor``,
    ``emotion``). ``split=None`` draws, per task, a seeded random split stratified by that
    task's label (``test_size`` held out, 30 % by default); a ``(train, test)`` pair of row
    positions, or a :class:`course_utils.data.splits.Split` (its ``train`` and ``test``; ``val``
    is not used), gives every task the same split.

    Columns: ``task``, ``n_classes``, ``chance`` (share of the most frequent class in the
    test part: what always guessing it scores), ``accuracy`` (on the test part),
    ``n_train``, ``n_test``. Used by ``06_preprocessing``, which trains the same classifier
    on several splits to show how much hearing a voice in training helps.
    """
    features = np.asarray(features)
    if features.ndim != 2 or len(features) != len(meta):
        raise ValueError(
            f"features must be a matrix with one row per metadata row: got shape {features.shape} "
            f"for {len(meta)} rows. Fix: features = extract_features(meta)."
        )
    rows = []
    for task in tasks:
        if task not in meta.columns:
            raise KeyError(f"unknown task {task!r}: meta has no such column. Tasks are metadata columns, e.g. {list(TASKS)}.")
        labels = meta[task].astype(str).to_numpy()
        if split is None:
            train, test = train_test_split(np.arange(len(meta)), test_size=test_size, stratify=labels, random_state=seed)
        else:
            train, test = _indices(split, len(meta))
        clf = make_classifier(seed).fit(features[train], labels[train])
        accuracy = float(np.mean(clf.predict(features[test]) == labels[test]))
        _, counts = np.unique(labels[test], return_counts=True)
        rows.append(dict(task=task, n_classes=int(len(np.unique(labels))), chance=float(counts.max() / counts.sum()),
                         accuracy=accuracy, n_train=len(train), n_test=len(test)))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# More clip statistics: log-Mel bands, pitch and eGeMAPS
# --------------------------------------------------------------------------------------
#: The pitch columns of :func:`course_utils.sound.eda.acoustic_table` used as clip features.
F0_COLUMNS = ["f0_median_hz", "f0_p10_hz", "f0_p90_hz", "f0_range_st", "voiced_fraction"]


def band_statistics(images: np.ndarray, n_bands: int = 32, db_range: float = 80.0) -> np.ndarray:
    """Mean and standard deviation over time of ``n_bands`` pooled log-Mel bands, per clip.

    ``images`` are the course's log-Mel images (N, H, W) in [0, 1]
    (:func:`course_utils.sound.features.compute_images`); they are turned back into dB
    (``db_range`` below the clip's loudest bin = 0), ``H`` rows are averaged into ``n_bands``
    bands, and only the frames of the sentence count (the zero padding of short clips is left
    out). Returns (N, 2 * n_bands): the band means, then the band standard deviations, in dB.
    Taught in ``07_classical_baseline``.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1] < n_bands:
        raise ValueError(f"images must be (N, H, W) with H >= n_bands = {n_bands}, got {images.shape}")
    rows = images.shape[1] // n_bands
    band_db = db_range * (images[:, : rows * n_bands].reshape(len(images), n_bands, rows, -1).mean(axis=2) - 1.0)
    speech = (images.max(axis=1) > 0)[:, None, :]  # frames that are not padding
    n_frames = np.maximum(speech.sum(axis=-1), 1)
    mean = (band_db * speech).sum(axis=-1) / n_frames
    std = np.sqrt((((band_db - mean[..., None]) ** 2) * speech).sum(axis=-1) / n_frames)
    return np.hstack([mean, std]).astype(np.float32)


def feature_matrix(meta: pd.DataFrame, dataset: str, *, n_bands: int = 32, with_egemaps: bool = True,
                   n_jobs: int | None = None) -> np.ndarray:
    """Chapter 07's clip features in one matrix, each part read from its cache: the MFCC
    statistics (:func:`cached_features`), the log-Mel band statistics of the 256 x 256 images
    (:func:`band_statistics`), the five f0 values (:data:`F0_COLUMNS` of
    :func:`course_utils.sound.eda.acoustic_table`) and, with ``with_egemaps``, the 88 eGeMAPS values
    (:func:`course_utils.sound.egemaps.cached`). Used by ``17_new_voices``;
    ``07_classical_baseline`` builds the same features step by step.
    """
    images = features.compute_images(meta, features.FeatureConfig(), dataset=dataset, n_jobs=n_jobs)
    parts = [cached_features(meta, n_jobs=n_jobs), band_statistics(images, n_bands),
             eda.acoustic_table(meta, dataset=dataset)[F0_COLUMNS].to_numpy(dtype=np.float32)]
    if with_egemaps:
        parts.append(egemaps.cached(meta, dataset=dataset, n_jobs=n_jobs, progress=False))
    return np.hstack(parts).astype(np.float32)


# --------------------------------------------------------------------------------------
# Choosing C on the validation set
# --------------------------------------------------------------------------------------
def make_model(kind: str = "svm", C: float = 10.0, seed: int = 0, probability: bool = False) -> Pipeline:
    """Median imputation (a clip without voiced frames has no f0), standardisation, then an
    RBF SVM (``kind="svm"``) or a logistic regression (``kind="logreg"``), seeded.
    ``probability``: the SVM also gives class probabilities: scikit-learn's
    ``CalibratedClassifierCV(SVC(), ensemble=False)`` (Platt's sigmoid fitted on 5-fold
    cross-validated decision values, then the SVM refitted on all training clips; slower). A
    logistic regression always has them. Used by :func:`fit_select` and :func:`fit_proba`
    (``07_classical_baseline``, ``17_new_voices``)."""
    if kind == "svm":
        clf = SVC(kernel="rbf", gamma="scale", C=C, random_state=seed)
        if probability:
            clf = CalibratedClassifierCV(clf, ensemble=False)
    elif kind == "logreg":
        clf = LogisticRegression(C=C, max_iter=5000, random_state=seed)
    else:
        raise ValueError(f"kind must be 'svm' or 'logreg', got {kind!r}")
    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()), ("clf", clf)])


def fit_select(X: np.ndarray, labels: np.ndarray, split, kind: str = "svm",
               c_grid: Sequence[float] = (0.1, 1.0, 10.0, 100.0), seed: int = 0, select: str = "accuracy") -> dict:
    """Fit one model per C on ``split.train``, keep the best on ``split.val``, score it once on
    ``split.test``.

    ``select``: the validation score that picks C, ``"accuracy"`` or ``"uar"`` (unweighted
    average recall: every class weighs the same). Returns a dict: ``C``, ``val`` (that
    validation score) and ``test`` accuracy, ``scores`` (test accuracy, UAR and macro-F1:
    :func:`course_utils.learning.diagnosis.label_scores`), the fitted ``model`` and the test predictions
    ``pred``. Ties keep the smaller C (the stronger regularisation). Taught in
    ``07_classical_baseline``; ``17_new_voices`` uses it too (and through :func:`fit_proba`).
    """
    if select not in ("accuracy", "uar"):
        raise ValueError(f"select must be 'accuracy' or 'uar', got {select!r}")
    X, labels = np.asarray(X), np.asarray(labels)
    best = None
    for C in c_grid:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # lbfgs notes on tiny quick-mode sets
            model = make_model(kind, C, seed).fit(X[split.train], labels[split.train])
        val = diagnosis.label_scores(labels[split.val], model.predict(X[split.val]))[select]
        if best is None or val > best["val"]:
            best = {"C": C, "val": val, "model": model}
    pred = best["model"].predict(X[split.test])
    scores = diagnosis.label_scores(labels[split.test], pred)
    return {**best, "test": scores["accuracy"], "scores": scores, "pred": pred}


def fit_folds(X: np.ndarray, labels: np.ndarray, folds: Sequence, kind: str = "svm",
              c_grid: Sequence[float] = (0.1, 1.0, 10.0, 100.0), seed: int = 0, select: str = "accuracy") -> dict:
    """:func:`fit_select` on every fold of a cross-validation (the actor folds of
    :func:`course_utils.data.splits.actor_folds`).

    Returns ``per_fold`` (a DataFrame: C, accuracy, uar, macro_f1 and test clips per fold),
    ``mean`` (:func:`course_utils.learning.diagnosis.fold_mean`: the means, the standard deviations across
    folds and ``n_folds``) and ``pred`` (each fold's test predictions). The same folds as
    chapter 16, so that the baseline and the network are compared on the same test voices.
    Taught in ``07_classical_baseline``.
    """
    if not len(folds):
        raise ValueError("no folds given. Fix: folds = splits.actor_folds(meta, n_folds, seed=seed)")
    fits = [fit_select(X, labels, split, kind, c_grid=c_grid, seed=seed, select=select) for split in folds]
    per_fold = pd.DataFrame([{"fold": k, "C": f["C"], **f["scores"], "test clips": len(split.test)}
                             for k, (f, split) in enumerate(zip(fits, folds), start=1)]).set_index("fold")
    return {"per_fold": per_fold, "mean": diagnosis.fold_mean([f["scores"] for f in fits]), "pred": [f["pred"] for f in fits]}


def fit_proba(X: np.ndarray, labels: np.ndarray, split, kind: str = "svm",
              c_grid: Sequence[float] = (0.1, 1.0, 10.0, 100.0), seed: int = 0, select: str = "uar") -> dict:
    """:func:`fit_select`, then the chosen model again with class probabilities, for an ensemble.

    Returns the dict of :func:`fit_select` (C chosen on validation by ``select``; its ``pred``
    and ``scores`` are the plain classifier's) plus ``classes`` (the label order of the columns)
    and ``probabilities``: ``{"val": (n_val, K), "test": (n_test, K)}``. Used by
    ``17_new_voices`` for the baseline member of its ensemble.
    """
    fit = fit_select(X, labels, split, kind, c_grid=c_grid, seed=seed, select=select)
    X, labels = np.asarray(X), np.asarray(labels)
    model = make_model(kind, fit["C"], seed, probability=True).fit(X[split.train], labels[split.train])
    fit["classes"] = model.classes_
    fit["probabilities"] = {part: model.predict_proba(X[getattr(split, part)]) for part in ("val", "test")}
    return fit
