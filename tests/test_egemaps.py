"""Tests of course_utils.sound.egemaps (eGeMAPS through openSMILE), on a few clips the tests make."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils.data import audio, synth
from course_utils.sound import egemaps

from conftest import tone

PITCH = "F0semitoneFrom27.5Hz_sma3nz_amean"
LOUDNESS = "loudness_sma3_amean"
LEVEL = "equivalentSoundLevel_dBp"
#: A few synthetic takes: actor 1 (male) and 2 (female), neutral and angry, one stereo-free set.
NAMES = ["03-01-01-01-01-01-01.wav", "03-01-05-02-01-01-01.wav", "03-01-01-01-02-01-02.wav"]


def _column(name: str) -> int:
    return egemaps.feature_names().index(name)


def _harmonic(f0: float, amplitude: float = 0.3, seconds: float = 0.8, sr: int = 16_000) -> np.ndarray:
    """A voice-like tone: f0 and four harmonics at falling levels, peak ``amplitude``."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    return (amplitude * y / np.max(np.abs(y))).astype(np.float32)


@pytest.fixture(scope="module")
def synthetic_meta(tmp_path_factory) -> pd.DataFrame:
    """Three takes of the offline corpus (synth.render), written as 48 kHz WAV files."""
    root = tmp_path_factory.mktemp("egemaps")
    files = []
    for name in NAMES:
        y, sr = synth.render(name)
        files.append(str(audio.write_wav_atomic(root / name, y, sr)))
    return pd.DataFrame({"path": files})


# --- feature names and one clip -------------------------------------------------------------


def test_feature_names_are_the_88_of_egemaps():
    names = egemaps.feature_names()
    assert len(names) == len(set(names)) == egemaps.N_FEATURES == 88
    for name in (PITCH, LOUDNESS, LEVEL, "jitterLocal_sma3nz_amean", "shimmerLocaldB_sma3nz_amean",
                 "HNRdBACF_sma3nz_amean", "F1frequency_sma3nz_amean", "alphaRatioV_sma3nz_amean",
                 "hammarbergIndexV_sma3nz_amean", "slopeV0-500_sma3nz_amean", "mfcc4_sma3_amean"):
        assert name in names


def test_clip_features_are_88_finite_float32_values():
    values = egemaps.clip_features(_harmonic(200.0), 16_000)
    assert values.shape == (88,) and values.dtype == np.float32 and np.all(np.isfinite(values))
    # f0 in semitones above 27.5 Hz: 12 log2(200 / 27.5) = 34.4
    assert values[_column(PITCH)] == pytest.approx(12 * np.log2(200 / 27.5), abs=0.5)


def test_a_higher_tone_has_a_higher_pitch():
    low, high = (egemaps.clip_features(_harmonic(f0), 16_000)[_column(PITCH)] for f0 in (150.0, 300.0))
    assert high - low == pytest.approx(12.0, abs=0.5)  # one octave


def test_a_louder_tone_is_louder():
    quiet, loud = (egemaps.clip_features(_harmonic(200.0, amplitude), 16_000) for amplitude in (0.05, 0.4))
    assert loud[_column(LOUDNESS)] > 2 * quiet[_column(LOUDNESS)]
    # 8 times the amplitude is 18 dB more level
    assert loud[_column(LEVEL)] - quiet[_column(LEVEL)] == pytest.approx(20 * np.log10(8), abs=1.0)
    assert loud[_column(PITCH)] == pytest.approx(quiet[_column(PITCH)], abs=0.2)  # same pitch


def test_the_rate_given_is_the_rate_used():
    """The same tone at 16 and 22.05 kHz has the same pitch: sr is not ignored."""
    a = egemaps.clip_features(_harmonic(220.0, sr=16_000), 16_000)[_column(PITCH)]
    b = egemaps.clip_features(_harmonic(220.0, sr=22_050), 22_050)[_column(PITCH)]
    assert a == pytest.approx(b, abs=0.3)


def test_a_full_scale_signal_is_not_wrapped_around():
    """opensmile turns floats into 16-bit samples; +1.0 must not wrap to -32768."""
    y = tone(0.5, 16_000, 200.0) * 2  # amplitude 1.0: 100 samples are exactly +1.0
    assert np.count_nonzero(y == 1.0) > 10
    full, below = egemaps.clip_features(y, 16_000), egemaps.clip_features(0.999 * y, 16_000)
    assert np.all(np.isfinite(full))
    # wrapped samples are clicks: loudness would be 4.2 instead of 0.74
    assert full[_column(LOUDNESS)] == pytest.approx(below[_column(LOUDNESS)], rel=0.01)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.zeros(0, np.float32), "empty"),
        (np.zeros(16_000, np.float32), "silent"),
        (np.full(16_000, 1e-6, np.float32), "silent"),
        (np.where(np.arange(16_000) == 5, np.nan, 0.1).astype(np.float32), "1 non-finite"),
        (np.full(16_000, np.inf, np.float32), "non-finite"),
        (_harmonic(200.0, seconds=0.03), "too short"),
        (np.zeros((2, 16_000), np.float32), "mono"),
    ],
    ids=["empty", "zeros", "below-16-bit", "nan", "inf", "30ms", "stereo"],
)
def test_bad_signals_raise_a_clear_error(y, message):
    with pytest.raises(ValueError, match=message):
        egemaps.clip_features(y, 16_000)


def test_a_bad_rate_is_refused():
    with pytest.raises(ValueError, match="sr must be"):
        egemaps.clip_features(_harmonic(200.0), 0)


# --- a metadata table ------------------------------------------------------------------------


def test_extract_gives_one_row_per_file(synthetic_meta):
    X = egemaps.extract(synthetic_meta, progress=False, n_jobs=1)
    assert X.shape == (len(NAMES), 88) and X.dtype == np.float32 and np.all(np.isfinite(X))
    y, sr = audio.load_audio(synthetic_meta["path"][1], sr=egemaps.SAMPLE_RATE)
    np.testing.assert_array_equal(X[1], egemaps.clip_features(y, sr))
    # actor 2 (female voice) speaks higher than actor 1 (male), as in the corpus's design
    assert X[2, _column(PITCH)] > X[0, _column(PITCH)] + 3


def test_extract_of_nothing_and_of_a_table_without_paths():
    assert egemaps.extract(pd.DataFrame({"path": []}), progress=False).shape == (0, 88)
    with pytest.raises(KeyError, match="'path'"):
        egemaps.extract(pd.DataFrame({"file": ["a.wav"]}), progress=False)


def test_extract_names_the_file_that_fails(tmp_path, synthetic_meta):
    silent = audio.write_wav_atomic(tmp_path / "03-01-01-01-01-01-03.wav", np.zeros(16_000, np.float32), 16_000)
    meta = pd.DataFrame({"path": [synthetic_meta["path"][0], str(silent)]})
    with pytest.raises(ValueError, match=re.escape(str(silent)) + ".*silent"):
        egemaps.extract(meta, progress=False, n_jobs=1)
    broken = tmp_path / "03-01-01-01-01-01-04.wav"
    broken.write_bytes(b"not a wav file")
    with pytest.raises(ValueError, match=re.escape(str(broken))):
        egemaps.extract(pd.DataFrame({"path": [str(broken)]}), progress=False, n_jobs=1)


# --- the cache -------------------------------------------------------------------------------


def test_cache_round_trip(tmp_path, synthetic_meta, monkeypatch):
    X = egemaps.cached(synthetic_meta, dataset="synthetic", cache_dir=tmp_path, n_jobs=1, progress=False)
    target = egemaps.cache_path(synthetic_meta, dataset="synthetic", cache_dir=tmp_path)
    assert target.exists() and target.name.startswith("egemaps-synthetic-16000hz-") and target.name.endswith("-3.npz")
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left behind

    def no_extraction(*args, **kwargs):
        raise AssertionError("computed again instead of read from the cache")

    monkeypatch.setattr(egemaps, "extract", no_extraction)
    again = egemaps.cached(synthetic_meta, dataset="synthetic", cache_dir=tmp_path)
    assert again.dtype == np.float32
    np.testing.assert_array_equal(again, X)


def test_cache_key_follows_files_rate_and_dataset(tmp_path, synthetic_meta):
    key = egemaps.cache_path(synthetic_meta, dataset="synthetic", cache_dir=tmp_path)
    assert egemaps.cache_path(synthetic_meta.iloc[:2], dataset="synthetic", cache_dir=tmp_path) != key
    assert egemaps.cache_path(synthetic_meta, dataset="ravdess", cache_dir=tmp_path) != key
    assert egemaps.cache_path(synthetic_meta, dataset="synthetic", sr=22_050, cache_dir=tmp_path) != key
    assert egemaps.cache_path(synthetic_meta, dataset="synthetic", cache_dir=tmp_path) == key


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong-shape"])
def test_a_damaged_cache_is_rebuilt_with_a_one_line_message(tmp_path, synthetic_meta, damage, capsys):
    X = egemaps.cached(synthetic_meta, dataset="synthetic", cache_dir=tmp_path, n_jobs=1, progress=False)
    target = egemaps.cache_path(synthetic_meta, dataset="synthetic", cache_dir=tmp_path)
    if damage == "garbage":
        target.write_bytes(b"this is not a zip archive")
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:300])
    else:
        np.savez(target, features=X[:, :10], filenames=np.array([Path(p).name for p in synthetic_meta["path"]]))
    capsys.readouterr()
    again = egemaps.cached(synthetic_meta, dataset="synthetic", cache_dir=tmp_path, n_jobs=1, progress=False)
    np.testing.assert_array_equal(again, X)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "damaged" in out and str(target) in out and "computing it again" in out
    with np.load(target) as rebuilt:  # written anew, readable
        np.testing.assert_array_equal(rebuilt["features"], X)


def test_a_cache_of_other_files_is_not_used(tmp_path, synthetic_meta, capsys):
    X = egemaps.cached(synthetic_meta, dataset="synthetic", cache_dir=tmp_path, n_jobs=1, progress=False)
    target = egemaps.cache_path(synthetic_meta, dataset="synthetic", cache_dir=tmp_path)
    np.savez(target, features=np.zeros_like(X), filenames=np.array(["a.wav", "b.wav", "c.wav"]))
    again = egemaps.cached(synthetic_meta, dataset="synthetic", cache_dir=tmp_path, n_jobs=1, progress=False)
    np.testing.assert_array_equal(again, X)
    assert "damaged" not in capsys.readouterr().out


# --- real speech -----------------------------------------------------------------------------


def test_a_real_clip(shared_sample):
    """RAVDESS actor 1 (male) and actor 2 (female), neutral, statement 1: plausible voices."""
    pitch = {}
    for actor in (1, 2):
        y, sr = audio.load_audio(shared_sample / f"Actor_{actor:02d}" / f"03-01-01-01-01-01-{actor:02d}.wav", sr=16_000)
        values = egemaps.clip_features(y, sr)
        assert np.all(np.isfinite(values))
        pitch[actor] = 27.5 * 2 ** (values[_column(PITCH)] / 12)  # back to Hz
        assert values[_column("VoicedSegmentsPerSec")] > 0.5  # a sentence has voiced stretches
    assert 70 < pitch[1] < 180 and 140 < pitch[2] < 320 and pitch[2] > pitch[1]


def test_after_tensorflow_the_work_goes_to_a_fresh_process(monkeypatch, synthetic_meta):
    """openSMILE's library crashes a process that loaded TensorFlow first: then a worker does it."""
    import sys

    y = _harmonic(220.0)
    tensorflow_here = "tensorflow" in sys.modules
    if not tensorflow_here:
        in_process = egemaps.clip_features(y, 16_000)
    monkeypatch.setattr(egemaps, "_tensorflow_first", lambda: True)
    in_worker = egemaps.clip_features(y, 16_000)
    assert in_worker[_column("F0semitoneFrom27.5Hz_sma3nz_amean")] == pytest.approx(12 * np.log2(220 / 27.5), abs=0.5)
    if not tensorflow_here:
        np.testing.assert_allclose(in_worker, in_process, rtol=1e-6)
    rows = egemaps.extract(synthetic_meta.iloc[:3], progress=False, n_jobs=1)
    again = np.stack([egemaps.clip_features(*audio.load_audio(p, sr=egemaps.SAMPLE_RATE)) for p in synthetic_meta["path"].iloc[:3]])
    np.testing.assert_allclose(rows, again, rtol=1e-6)
    with pytest.raises(ValueError, match="silent"):  # checked here, before any worker is asked
        egemaps.clip_features(np.zeros(16_000, np.float32), 16_000)


def test_tensorflow_first_sees_the_import_order(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    monkeypatch.setattr(egemaps, "_loaded_before_tensorflow", False)
    assert egemaps._tensorflow_first()
    monkeypatch.setattr(egemaps, "_loaded_before_tensorflow", True)  # openSMILE ran before TensorFlow came
    assert not egemaps._tensorflow_first()
    monkeypatch.setattr(egemaps, "_loaded_before_tensorflow", False)
    monkeypatch.delitem(sys.modules, "tensorflow")
    assert not egemaps._tensorflow_first()
