"""Tests of course_utils.learning.baseline (MFCC clip statistics + SVM), and of the full synthetic corpus."""

from __future__ import annotations

import hashlib
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from course_utils.base import jupyter
from course_utils.data import metadata, synth
from course_utils.learning import baseline

N_FEATURES = 4 * baseline.N_MFCC + 6


def _tone(freq: float, seconds: float = 1.0, sr: int = 22_050) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def small_meta(tmp_path_factory) -> pd.DataFrame:
    """Metadata of a two-actor synthetic corpus (120 files)."""
    root = synth.generate_corpus(tmp_path_factory.mktemp("base") / "c", actors=[1, 2], progress=False)
    return metadata.build_metadata(root)


@pytest.fixture(scope="module")
def full(synthetic_root) -> SimpleNamespace:
    """The full synthetic corpus (1440 files, the session's), its metadata and features."""
    meta = metadata.build_metadata(synthetic_root)
    return SimpleNamespace(root=synthetic_root, meta=meta, features=baseline.extract_features(meta, progress=False))


# --- clip statistics ---------------------------------------------------------------------


def test_clip_statistics_layout_and_determinism():
    y = _tone(220) + 0.01 * np.random.default_rng(0).standard_normal(22_050).astype(np.float32)
    a, b = baseline.clip_statistics(y, 22_050), baseline.clip_statistics(y.copy(), 22_050)
    assert a.shape == (N_FEATURES,) == (len(baseline.feature_names()),)
    assert a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b)
    names = baseline.feature_names()
    assert names[0] == "mfcc_mean_0" and names[20] == "mfcc_std_0" and names[-1] == "zcr_std"


def test_clip_statistics_see_level_and_brightness():
    names = baseline.feature_names()
    low, high, quiet = _tone(200), _tone(3000), 0.1 * _tone(200)
    f_low, f_high, f_quiet = (baseline.clip_statistics(y, 22_050) for y in (low, high, quiet))
    centroid, level = names.index("centroid_mean"), names.index("rms_db_mean")
    assert f_high[centroid] > 5 * f_low[centroid]
    assert f_low[level] - f_quiet[level] == pytest.approx(20, abs=0.5)


def test_clip_statistics_short_and_bad_input():
    assert baseline.clip_statistics(_tone(300, seconds=0.05), 22_050).shape == (N_FEATURES,)
    assert np.isfinite(baseline.clip_statistics(np.zeros(100, np.float32), 22_050)).all()
    with pytest.raises(ValueError, match="mono"):
        baseline.clip_statistics(np.zeros((2, 1000), np.float32), 22_050)


# --- features of files --------------------------------------------------------------------


def test_extract_features_shape_and_determinism(small_meta, monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    sub = small_meta.iloc[::6].reset_index(drop=True)  # 20 files
    serial = baseline.extract_features(sub, progress=False, n_jobs=1)
    capsys.readouterr()
    parallel = baseline.extract_features(sub, progress=True, n_jobs=2)
    err = capsys.readouterr().err  # a text bar on stderr
    assert "clip statistics" in err and "20/20" in err and err.count("\n") == 1
    assert serial.shape == (20, N_FEATURES) and serial.dtype == np.float32
    np.testing.assert_allclose(serial, parallel, rtol=1e-5, atol=1e-5)
    assert len({row.tobytes() for row in serial}) == 20  # every clip has its own vector


def test_extract_features_bad_input():
    with pytest.raises(KeyError, match="path"):
        baseline.extract_features(pd.DataFrame({"x": [1]}))
    empty = baseline.extract_features(pd.DataFrame({"path": []}), progress=False)
    assert empty.shape == (0, N_FEATURES)
    with pytest.raises(ValueError, match="Cannot read audio file"):
        baseline.extract_features(pd.DataFrame({"path": ["/nonexistent.wav"]}), progress=False)


# --- classifier and evaluation ----------------------------------------------------------


def _planted(n_per_class: int = 40, seed: int = 0):
    """Features that carry the label in their first column, and some that carry nothing."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b", "c"], n_per_class)
    meta = pd.DataFrame({"sex": labels, "emotion": rng.permutation(labels)})
    x = rng.standard_normal((len(labels), 5))
    x[:, 0] += 8 * pd.factorize(labels)[0]
    return x, meta


def test_make_classifier_is_a_seeded_scaled_rbf_svm():
    clf = baseline.make_classifier(seed=3)
    assert isinstance(clf, Pipeline)
    svc = clf.steps[-1][1]
    assert isinstance(svc, SVC) and svc.kernel == "rbf" and svc.random_state == 3


def test_evaluate_baseline_learns_signal_and_not_noise():
    x, meta = _planted()
    res = baseline.evaluate_baseline(x, meta, tasks=("sex", "emotion"), seed=0)
    assert list(res.columns) == ["task", "n_classes", "chance", "accuracy", "n_train", "n_test"]
    res = res.set_index("task")
    assert res.loc["sex", "accuracy"] > 0.95  # the label is in the features
    assert res.loc["emotion", "accuracy"] < 0.6  # a shuffled label is not
    assert res.loc["sex", "n_classes"] == 3 and res.loc["sex", "chance"] == pytest.approx(1 / 3)
    assert res.loc["sex", "n_test"] == 36 and res.loc["sex", "n_train"] == 84
    again = baseline.evaluate_baseline(x, meta, tasks=("sex", "emotion"), seed=0).set_index("task")
    pd.testing.assert_frame_equal(res, again)


def test_evaluate_baseline_with_given_split():
    x, meta = _planted()
    train, test = np.arange(0, 120, 2), np.arange(1, 120, 2)
    by_pair = baseline.evaluate_baseline(x, meta, tasks=("sex",), split=(train, test))
    by_object = baseline.evaluate_baseline(x, meta, tasks=("sex",), split=SimpleNamespace(train=train, test=test, val=[]))
    pd.testing.assert_frame_equal(by_pair, by_object)
    assert by_pair.loc[0, "n_train"] == 60 and by_pair.loc[0, "n_test"] == 60


def test_evaluate_baseline_bad_input():
    x, meta = _planted()
    with pytest.raises(ValueError, match="one row per metadata row"):
        baseline.evaluate_baseline(x[:10], meta)
    with pytest.raises(KeyError, match="unknown task"):
        baseline.evaluate_baseline(x, meta, tasks=("mood",))
    with pytest.raises(ValueError, match="share rows"):
        baseline.evaluate_baseline(x, meta, tasks=("sex",), split=([0, 1, 2], [2, 3]))
    with pytest.raises(ValueError, match="row positions"):
        baseline.evaluate_baseline(x, meta, tasks=("sex",), split=([0, 1], [500]))
    with pytest.raises(ValueError, match="split must be"):
        baseline.evaluate_baseline(x, meta, tasks=("sex",), split="70/30")


# --- the full synthetic corpus --------------------------------------------------------------


@pytest.mark.slow
def test_full_corpus_is_ravdess_shaped(full):
    meta = full.meta
    assert sorted(meta["filename"]) == sorted(metadata.expected_filenames())
    counts = metadata.describe_counts(meta)
    assert (counts.drop("neutral") == 96).all().all() and (counts.loc["neutral"] == 48).all()
    assert set(meta["sample_rate"]) == {48_000} and set(meta["bit_depth"]) == {16}
    stereo = (meta["channels"] == 2).mean()
    assert 0.01 <= stereo <= 0.06, f"{stereo:.1%} stereo files"
    assert meta["duration"].nunique() > 1300 and 3.0 < meta["duration"].mean() < 4.5


@pytest.mark.slow
def test_generation_is_fast_enough(tmp_path):
    """The target is 1440 files in under 60 s, i.e. 120 files (two actors) in 5 s; allow 2x."""
    start = time.perf_counter()
    synth.generate_corpus(tmp_path, actors=[7, 8], progress=False)
    seconds = time.perf_counter() - start
    print(f"\n120 files in {seconds:.1f} s")
    assert seconds < 10, f"120 files took {seconds:.1f} s"


@pytest.mark.slow
def test_subset_files_equal_full_set_files(full, tmp_path):
    synth.generate_corpus(tmp_path, actors=[11], workers=1, progress=False)
    for path in sorted((tmp_path / "Actor_11").glob("*.wav")):
        same = full.root / "Actor_11" / path.name
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(same.read_bytes()).digest(), path.name


@pytest.mark.slow
def test_baseline_on_full_corpus(full):
    """Measured (corpus version 2, seed 0): sex 1.00, statement 0.98, actor 0.98, emotion 0.74."""
    res = baseline.evaluate_baseline(full.features, full.meta, seed=0).set_index("task")
    print("\n" + res.to_string())
    acc, chance = res["accuracy"], res["chance"]
    assert acc["sex"] > 0.95
    assert acc["statement"] > 0.85
    assert acc["actor"] > 0.85
    assert 0.55 < acc["emotion"] < 0.95  # learnable, not trivial
    assert (acc > chance + 0.3).all()
    assert acc.idxmin() == "emotion"
    assert (acc < 1.0).any(), "a corpus where every task is perfect teaches nothing"


def test_cached_baseline_features(wav_meta, tmp_path, monkeypatch):
    calls = []

    def fake_extract(meta, progress=True, n_jobs=None):
        calls.append(len(meta))
        return np.arange(len(meta) * 2, dtype=np.float32).reshape(len(meta), 2)

    monkeypatch.setattr(baseline, "extract_features", fake_extract)
    first = baseline.cached_features(wav_meta, cache_dir=tmp_path)
    again = baseline.cached_features(wav_meta, cache_dir=tmp_path)
    np.testing.assert_array_equal(first, again)
    assert calls == [3]
    baseline.cached_features(wav_meta.iloc[:2], cache_dir=tmp_path)  # another file list
    assert calls == [3, 2]


@pytest.mark.slow
def test_trimming_finds_the_silence_of_every_clip(full, tmp_path):
    """The noise floor lies far enough below even the softest takes for trimming at 30 dB."""
    from course_utils.data import audio

    table = audio.trimmed_durations(full.meta, cache_dir=tmp_path)
    removed = table["duration"] - table["trimmed"]
    assert (removed > 0.3).all(), table.loc[removed <= 0.3, "filename"].tolist()[:10]


def test_band_statistics_ignore_padding():
    img = np.zeros((1, 8, 10), np.float32)
    img[0, :4, :5] = 1.0  # low bands at 0 dB, high bands at -80 dB, for 5 frames of sentence
    img[0, 4:, :5] = 0.0 + 1e-6
    stats = baseline.band_statistics(img, n_bands=2)
    assert stats.shape == (1, 4)
    np.testing.assert_allclose(stats[0, :2], [0.0, -80.0], atol=1e-3)  # padding frames (all 0) left out
    np.testing.assert_allclose(stats[0, 2:], [0.0, 0.0], atol=1e-3)
    with pytest.raises(ValueError, match="n_bands"):
        baseline.band_statistics(np.zeros((1, 4, 4)), n_bands=8)


def test_fit_select_picks_c_on_validation_and_scores_test_once():
    x, meta = _planted()
    labels = meta["sex"].to_numpy()
    split = SimpleNamespace(train=np.arange(0, 120, 3), val=np.arange(1, 120, 3), test=np.arange(2, 120, 3))
    # measured per C (val / test): svm 0.01: .325/.325, 1: .825/.9, 10: .8/.9;
    # logreg 0.01: .675/.775, 1: .9/.925, 10: 1/1. The best validation accuracy decides.
    svm = baseline.fit_select(x, labels, split, "svm", c_grid=(0.01, 1.0, 10.0), seed=0)
    assert svm["C"] == 1.0 and svm["val"] == pytest.approx(0.825) and svm["test"] == pytest.approx(0.9)
    logreg = baseline.fit_select(x, labels, split, "logreg", c_grid=(0.01, 1.0, 10.0), seed=0)
    assert logreg["C"] == 10.0 and logreg["test"] == 1.0 and len(logreg["pred"]) == 40
    noisy = baseline.fit_select(x, meta["emotion"].to_numpy(), split, "svm", c_grid=(1.0,))
    assert noisy["test"] < 0.7  # a shuffled label is not learnt
    with pytest.raises(ValueError, match="kind"):
        baseline.make_model("tree")


def test_fit_select_reports_uar_and_can_choose_c_by_it():
    x, meta = _planted()
    labels = meta["sex"].to_numpy()
    split = SimpleNamespace(train=np.arange(0, 120, 3), val=np.arange(1, 120, 3), test=np.arange(2, 120, 3))
    svm = baseline.fit_select(x, labels, split, "svm", c_grid=(0.01, 1.0, 10.0), seed=0, select="uar")
    assert set(svm["scores"]) == {"accuracy", "uar", "macro_f1", "n_test"} and svm["scores"]["accuracy"] == svm["test"]
    assert svm["scores"]["n_test"] == 40
    truth = labels[split.test]
    assert svm["scores"]["uar"] == pytest.approx(np.mean([np.mean(svm["pred"][truth == c] == c) for c in np.unique(truth)]))
    with pytest.raises(ValueError, match="select"):
        baseline.fit_select(x, labels, split, "svm", select="f1")


def test_fit_folds_scores_every_fold_and_averages():
    x, meta = _planted()
    labels = meta["sex"].to_numpy()
    folds = [SimpleNamespace(train=np.arange(k, 120, 3), val=np.arange((k + 1) % 3, 120, 3), test=np.arange((k + 2) % 3, 120, 3))
             for k in range(3)]
    out = baseline.fit_folds(x, labels, folds, "logreg", c_grid=(1.0, 10.0), seed=0)
    assert list(out["per_fold"].index) == [1, 2, 3] and len(out["pred"]) == 3
    assert out["mean"]["n_folds"] == 3
    assert out["mean"]["accuracy"] == pytest.approx(out["per_fold"]["accuracy"].mean())
    assert out["mean"]["uar_std"] == pytest.approx(out["per_fold"]["uar"].std(ddof=1))
    with pytest.raises(ValueError, match="no folds"):
        baseline.fit_folds(x, labels, [], "svm")


def test_fit_proba_gives_probabilities_for_validation_and_test():
    x, meta = _planted()
    labels = meta["sex"].to_numpy()
    split = SimpleNamespace(train=np.arange(0, 120, 3), val=np.arange(1, 120, 3), test=np.arange(2, 120, 3))
    fit = baseline.fit_proba(x, labels, split, "svm", c_grid=(1.0, 10.0), seed=0)
    k = len(np.unique(labels))
    assert fit["probabilities"]["val"].shape == (40, k) and fit["probabilities"]["test"].shape == (40, k)
    np.testing.assert_allclose(fit["probabilities"]["test"].sum(axis=1), 1.0)
    agree = np.mean(fit["classes"][fit["probabilities"]["test"].argmax(axis=1)] == fit["pred"])
    assert agree > 0.9  # Platt-scaled probabilities mostly agree with the plain SVM
