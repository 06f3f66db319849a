"""course_utils.sound.mel: the two Mel formulas, the filter bank, log-Mel, the course image's steps,
MFCCs and their envelopes, and the figures of notebook 04."""

from __future__ import annotations

import warnings

import librosa
import numpy as np
import pandas as pd
import pytest

from course_utils.base import jupyter
from course_utils.data import audio
from course_utils.sound import features
from course_utils.sound import mel as ml

SR = 22050



def voice(f0: float, seconds: float = 1.0, sr: int = SR, pad: float = 0.3) -> np.ndarray:
    """A harmonic 'voice' at ``f0`` with a falling spectrum, between two silences."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(0.4 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, int(5000 // f0)))
    z = np.zeros(int(pad * sr))
    return np.concatenate([z, y, z]).astype(np.float32)


def test_formulas_match_their_definitions():
    f = np.array([0.0, 250.0, 1000.0, 4000.0, 10000.0])
    assert np.allclose(ml.hz_to_mel(f, "htk"), 2595 * np.log10(1 + f / 700))
    slaney = np.where(f < 1000, 3 * f / 200, 15 + 27 * np.log(np.maximum(f, 1e-9) / 1000) / np.log(6.4))
    assert np.allclose(ml.hz_to_mel(f, "slaney"), slaney)
    for formula in ml.FORMULAS:
        assert np.allclose(ml.mel_to_hz(ml.hz_to_mel(f, formula), formula), f, atol=1e-6)
    with pytest.raises(ValueError, match="unknown Mel formula"):
        ml.hz_to_mel(100, "mel")
    with pytest.raises(ValueError, match="htk"):
        ml.mel_to_hz(100, "bark")


def test_mel_table_and_pair_distances():
    table = ml.mel_table((500, 1000, 11025), fmax=11025)
    assert list(table.columns) == ["frequency (Hz)", "htk Mel", "htk relative", "slaney Mel", "slaney relative"]
    assert table["htk Mel"].iloc[1] == pytest.approx(1000, abs=0.05)
    assert table["slaney Mel"].iloc[1] == pytest.approx(15.0)
    assert list(table["htk relative"].iloc[[-1]]) == [1.0] and list(table["slaney relative"].iloc[[-1]]) == [1.0]
    pairs = ml.pair_distances(((500, 1000), (10000, 10500)), formula="htk")
    low, high = pairs["distance (htk Mel)"]
    assert low == pytest.approx(392.54, abs=0.01) and high == pytest.approx(51.47, abs=0.01)
    assert low / high > 7
    assert pairs["htk Mel per 100 Hz"].iloc[0] == pytest.approx(low / 5, abs=0.01)
    assert "slaney Mel per 100 Hz" in ml.pair_distances(formula="slaney").columns


def test_filterbank_norms_and_table():
    raw = ml.filterbank(SR, 2048, 40, norm=None)
    area = ml.filterbank(SR, 2048, 40, norm="slaney")
    assert raw.shape == area.shape == (40, 1025)
    assert raw.max() <= 1.0 + 1e-6 and raw[-1].max() == pytest.approx(1.0, abs=0.05)
    assert area[0].max() > 5 * area[-1].max()  # wide high triangles get low peaks
    edges = librosa.mel_frequencies(n_mels=42, fmin=0, fmax=SR / 2)
    assert np.allclose(area.max(axis=1)[-5:], 2 / (edges[-5:] - edges[-7:-2]), rtol=0.05)
    htk = ml.filterbank(SR, 2048, 40, norm=None, formula="htk")
    assert not np.allclose(htk, raw)

    table = ml.filter_table(SR, 2048, 256)
    assert len(table) == 256
    assert table["lower (Hz)"].iloc[0] == 0.0 and table["upper (Hz)"].iloc[-1] == pytest.approx(SR / 2)
    assert np.allclose(table["width (Hz)"], table["upper (Hz)"] - table["lower (Hz)"])
    assert table["width (Hz)"].iloc[0] == pytest.approx(25.9, abs=0.1)
    assert (table["fft bins"] > 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert (ml.filter_table(SR, 512, 256)["fft bins"] == 0).sum() > 0  # too short an FFT: empty bands


def test_white_noise_is_flat_only_with_slaney_norm():
    noise = np.random.default_rng(0).normal(size=2 * SR).astype(np.float32)
    power = (np.abs(librosa.stft(noise, n_fft=2048, hop_length=256)) ** 2).mean(axis=1)
    tilt = {norm: 10 * np.log10((b := ml.filterbank(SR, 2048, 40, norm=norm) @ power)[-1] / b[0]) for norm in (None, "slaney")}
    assert abs(tilt["slaney"]) < 2 and tilt[None] > 6


def test_mel_spectrogram_is_filterbank_times_power():
    y = voice(150)
    M = ml.mel_spectrogram(y, SR, n_fft=1024, hop_length=256, n_mels=64)
    by_hand = ml.filterbank(SR, 1024, 64) @ np.abs(librosa.stft(y, n_fft=1024, hop_length=256)) ** 2
    assert M.shape == by_hand.shape and np.allclose(M, by_hand, rtol=1e-4, atol=1e-6 * M.max())
    S_db = features.log_mel(y, SR, features.FeatureConfig(n_fft=1024, hop_length=256, n_mels=64))
    assert S_db.max() == pytest.approx(0.0) and S_db.min() >= -80 - 1e-4


def test_spectral_summary_separates_low_and_high_voices(tmp_path, monkeypatch, capsys):
    low, high = ml.spectral_summary(voice(110), SR), ml.spectral_summary(voice(220), SR)
    assert low["f0_hz"] == pytest.approx(110, rel=0.03) and high["f0_hz"] == pytest.approx(220, rel=0.03)
    assert high["centroid_hz"] > low["centroid_hz"]
    assert 0.0 <= low["hf_share"] < 0.05
    t = np.arange(SR) / SR
    assert ml.spectral_summary(np.sin(2 * np.pi * 6000 * t).astype(np.float32), SR)["hf_share"] > 0.99
    silent = ml.spectral_summary(np.zeros(SR, dtype=np.float32), SR)
    assert silent["hf_share"] == 0.0 and silent["centroid_hz"] == 0.0

    rows = []
    for i, (f0, sex) in enumerate(((110, "male"), (220, "female"))):
        path = tmp_path / f"03-01-01-01-01-01-0{i + 1}.wav"
        audio.write_wav_atomic(path, voice(f0), SR)
        rows.append({"path": str(path), "actor": i + 1, "sex": sex})
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    capsys.readouterr()
    table = ml.voice_table(pd.DataFrame(rows), cache_dir=tmp_path / "cache")
    err = capsys.readouterr().err  # a bar over the clips
    assert "voice spectra" in err and "2/2" in err and err.count("\n") == 1
    assert list(table["sex"]) == ["male", "female"]
    assert table["f0_hz"].iloc[1] > 1.8 * table["f0_hz"].iloc[0]
    pd.testing.assert_frame_equal(ml.voice_table(pd.DataFrame(rows), progress=False, cache_dir=tmp_path / "cache"), table)
    assert capsys.readouterr().err == ""


def _voice_clips(folder, f0s=(110, 220, 165)):
    rows = []
    for i, f0 in enumerate(f0s):
        path = folder / f"03-01-01-01-01-01-0{i + 1}.wav"
        audio.write_wav_atomic(path, voice(f0, seconds=0.5), SR)
        rows.append({"path": str(path), "actor": i + 1, "sex": "male" if i % 2 == 0 else "female"})
    return pd.DataFrame(rows)


def test_voice_table_is_cached_and_a_rerun_measures_nothing(tmp_path, monkeypatch):
    """04 measured every clip again on every run (about 30 s for 1440 clips)."""
    meta = _voice_clips(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    first = ml.voice_table(meta, progress=False)  # default: the course's cache folder
    target = ml.cache_path(meta)
    assert target.exists() and target.parent == tmp_path / "data" / "cache" and target.name.startswith("voices-")
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # written atomically: no leftovers
    calls = []
    real = ml.spectral_summary
    monkeypatch.setattr(ml, "spectral_summary", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = ml.voice_table(meta, progress=False)
    assert calls == []
    pd.testing.assert_frame_equal(again, first)  # the same numbers, exactly
    assert list(first.columns) == ["actor", "sex", "hf_share", "centroid_hz", "f0_hz"]
    # another subset, another cut-off or a replaced file: another entry
    assert ml.cache_path(meta.iloc[:2]) != target
    assert ml.cache_path(meta, cutoff_hz=3000) != target
    assert ml.cache_path(meta, cache_dir=cache).parent == cache
    audio.write_wav_atomic(meta.loc[0, "path"], voice(120, seconds=0.5), SR)
    assert ml.cache_path(meta) != target


@pytest.mark.parametrize("damage", [b"", b"filename,hf_share\n", b"\x00\x01 not a table"])
def test_a_damaged_voice_cache_is_measured_again(tmp_path, damage, capsys):
    meta = _voice_clips(tmp_path)
    cache = tmp_path / "cache"
    good = ml.voice_table(meta, progress=False, cache_dir=cache)
    target = ml.cache_path(meta, cache_dir=cache)
    target.write_bytes(damage)
    capsys.readouterr()
    again = ml.voice_table(meta, progress=False, cache_dir=cache)
    pd.testing.assert_frame_equal(again, good)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "voice spectra cache" in out and "computing it again" in out


def test_image_steps_reproduce_clip_image(tmp_path):
    path = tmp_path / "03-01-01-01-01-01-01.wav"
    audio.write_wav_atomic(path, voice(150, seconds=1.5, sr=48000, pad=0.8), 48000)
    config = features.FeatureConfig(image_size=(64, 64), n_mels=64)
    steps = ml.image_steps(path, config)
    assert steps["sr"] == config.sample_rate
    assert len(steps["fixed"]) == int(round(config.duration * config.sample_rate))
    start, end = steps["trim"]
    assert start / steps["sr"] == pytest.approx(0.8, abs=0.1) and (end - start) / steps["sr"] == pytest.approx(1.5, abs=0.15)
    assert steps["log_mel"].shape[0] == 64
    assert np.array_equal(steps["image"], features.clip_image(path, config))
    fig = ml.plot_image_steps(steps, config, title="t: ")
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles[0].startswith("t: 1.") and "padded" in titles[1] and "64 x 64" in titles[3]

    long_path = tmp_path / "03-01-01-01-01-02-01.wav"
    audio.write_wav_atomic(long_path, voice(150, seconds=3.0, sr=48000), 48000)
    fig = ml.plot_image_steps(ml.image_steps(long_path, config), config)
    assert "cut at both ends" in [a.get_title() for a in fig.axes if a.get_title()][1]


def test_mfcc_and_envelopes():
    S_db = features.log_mel(voice(150), SR, features.FeatureConfig(n_mels=64))
    C = ml.mfcc(S_db, 13)
    assert C.shape == (13, S_db.shape[1])
    assert np.allclose(C, librosa.feature.mfcc(S=S_db, n_mfcc=13))
    full = ml.envelope_from_mfcc(ml.mfcc(S_db, 64), 64)
    assert np.allclose(full, S_db, atol=1e-3)  # all coefficients: the spectrum comes back
    one_frame = ml.envelope_from_mfcc(C[:, 0], 64)
    assert one_frame.shape == (64,)
    errors = [ml.envelope_error_db(S_db, k) for k in (5, 13, 40, 64)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-3


def test_tone_pair():
    y = ml.tone_pair(500, 1000, SR, duration=0.5, gap=0.25)
    assert y.dtype == np.float32 and len(y) == int(0.5 * SR) * 2 + int(0.25 * SR)
    first, second = y[: int(0.5 * SR)], y[-int(0.5 * SR):]
    f = np.fft.rfftfreq(len(first), 1 / SR)
    assert f[np.abs(np.fft.rfft(first)).argmax()] == pytest.approx(500, abs=3)
    assert f[np.abs(np.fft.rfft(second)).argmax()] == pytest.approx(1000, abs=3)
    assert abs(y[0]) < 1e-6 and np.all(y[int(0.5 * SR) : int(0.75 * SR)] == 0)


def test_figures_are_labelled():
    fig = ml.plot_mel_curves(fmax=SR / 2)
    left, right = fig.axes
    assert left.get_xlabel() == "frequency (Hz)" and "Mel" in left.get_ylabel()
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["htk", "slaney", "linear (Hz)"]

    fig = ml.plot_filterbank(SR, 1024, n_mels=20)
    assert len(fig.axes[0].lines) == 20 and "norm=None" in fig.axes[0].get_title()
    assert fig.axes[1].get_xlabel() == "frequency (Hz)"

    y = voice(150)
    fig = ml.plot_linear_vs_mel(y, SR, n_fft=1024, n_mels=64, title="x: ")
    assert fig.axes[0].get_title().startswith("x: ") and fig.axes[0].get_ylabel() == "frequency (Hz)"
    assert "Mel" in fig.axes[2].get_ylabel() and fig.axes[2].get_xlabel() == "time (s)"

    fig = ml.plot_side_by_side([("a", y), ("b", y[: SR // 2])], SR, n_mels=64)
    assert fig.axes[0].get_xlim() == (0, len(y) / SR) and fig.axes[1].get_xlim() == (0, 0.5)
    widths = [a.get_position().width for a in fig.axes[:2]]
    assert widths[0] / widths[1] == pytest.approx(len(y) / SR / 0.5, rel=0.05)  # one time scale

    fig = ml.plot_dct_basis(n_mels=32, n_shown=3)
    assert len(fig.axes[0].lines) == 3
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), 1 / np.sqrt(32))

    S_db = features.log_mel(y, SR, features.FeatureConfig(n_mels=64))
    fig = ml.plot_mfcc_envelope(S_db[:, 40], ks=(5, 13), sr=SR)
    assert len(fig.axes[0].lines) == 3 and "Hz" in fig.axes[0].get_xlabel()

    fig = ml.plot_mfcc(ml.mfcc(S_db, 13), SR, 256, title="m: ")
    assert fig.axes[0].get_ylabel() == "MFCC 0 (dB)" and fig.axes[1].get_ylabel() == "MFCC index"
    assert fig.axes[1].get_xlabel() == "time (s)"
