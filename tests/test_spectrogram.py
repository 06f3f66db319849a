"""course_utils.sound.spectrogram: the STFT by hand equals librosa's, resolution numbers, test
signals, the speech region labels, and the figures of notebook 03."""

from __future__ import annotations

import librosa
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from course_utils.base import jupyter
from course_utils.data import audio
from course_utils.sound import spectrogram as sg

SR = 22050



def speech_like(sr: int = SR, seed: int = 0) -> np.ndarray:
    """0.4 s silence, 0.5 s of a 120 Hz harmonic 'vowel', 0.3 s of high-pass noise, 0.4 s silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.5 * sr)) / sr
    vowel = sum(0.3 / k * np.sin(2 * np.pi * 120 * k * t) for k in range(1, 15))
    noise = rng.normal(0, 1, int(0.3 * sr))
    noise = np.diff(np.diff(noise, prepend=0), prepend=0)  # twice differentiated: energy high up
    noise = 0.1 * noise / np.abs(noise).max()
    gap = np.zeros(int(0.4 * sr))
    return np.concatenate([gap, vowel, noise, gap]).astype(np.float32)


@pytest.mark.parametrize("n_fft,hop,window", [(1024, 256, "hann"), (512, 128, "hann"), (256, 100, "hamming")])
def test_stft_by_hand_equals_librosa(n_fft, hop, window):
    y = np.random.default_rng(1).normal(size=5000).astype(np.float32)
    mine = sg.stft_by_hand(y, n_fft=n_fft, hop_length=hop, window=window)
    ref = librosa.stft(y, n_fft=n_fft, hop_length=hop, window=window)
    assert mine.shape == ref.shape
    assert np.abs(mine - ref).max() < 1e-4 * np.abs(ref).max()


def test_stft_db_is_relative_to_max_and_floored():
    S = sg.stft_db(speech_like(), n_fft=512, hop_length=128)
    assert S.shape[0] == 257
    assert S.max() == pytest.approx(0.0)
    assert S.min() >= -80.0 - 1e-4
    assert sg.stft_db(speech_like(), n_fft=512, hop_length=128, top_db=None).min() < -80


def test_resolution_and_table():
    r = sg.resolution(22050, 1024)
    assert r.hop_length == 256
    assert r.bin_hz == pytest.approx(22050 / 1024)
    assert r.window_ms == pytest.approx(1000 * 1024 / 22050)
    assert r.hop_ms == pytest.approx(1000 * 256 / 22050)
    assert r.frames_per_s == pytest.approx(22050 / 256)
    table = sg.resolution_table(22050, (256, 4096))
    assert list(table["n_fft (samples)"]) == [256, 4096]
    assert list(table["bin spacing (Hz)"]) == [86.1, 5.4]
    assert list(table["hop (samples)"]) == [64, 1024]


def test_tones_and_clicks_and_the_tradeoff():
    y = sg.tones_and_clicks(SR, duration=1.0, freqs=(1000, 1080), click_times=(0.5, 0.52))
    assert y.dtype == np.float32 and len(y) == SR
    clicks = y - sg.tones_and_clicks(SR, duration=1.0, freqs=(1000, 1080), click_amp=0.0)
    assert np.flatnonzero(np.abs(clicks) > 1e-6).tolist() == [int(0.5 * SR), int(round(0.52 * SR))]
    assert clicks[int(0.5 * SR)] == pytest.approx(0.8)
    short = sg.resolves(y, SR, 256, 64)
    long = sg.resolves(y, SR, 4096, 1024)
    assert short == {"tones": False, "clicks": True}
    assert long == {"tones": True, "clicks": False}


def test_chirp_rises():
    y = sg.chirp(SR, duration=0.5, f0=500, f1=4500)
    assert len(y) == SR // 2 and np.abs(y).max() <= 0.5 + 1e-6
    assert abs(y[0]) < 1e-6 and abs(y[-1]) < 1e-3  # faded in and out
    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=256))
    f = librosa.fft_frequencies(sr=SR, n_fft=1024)
    peaks = f[S[:, 4:-4].argmax(axis=0)]
    assert np.all(np.diff(peaks) >= 0)
    assert peaks[0] < 1000 and peaks[-1] > 4000


def test_speech_regions_finds_silence_voiced_noise():
    y = speech_like()
    regions = sg.speech_regions(y, SR)
    assert list(regions["label"]) == ["silence", "voiced", "noise", "silence"]
    voiced = regions.iloc[1]
    noise = regions.iloc[2]
    assert voiced.start == pytest.approx(0.4, abs=0.05) and voiced.end == pytest.approx(0.9, abs=0.05)
    assert noise.end == pytest.approx(1.2, abs=0.05)
    assert noise.hf_share > 0.5 > voiced.hf_share
    assert regions["end"].iloc[-1] == pytest.approx(len(y) / SR)
    assert np.allclose(regions["duration"], regions["end"] - regions["start"])


def test_speech_regions_ignores_a_noise_floor():
    """A recording with a noise floor (like the synthetic corpus): its pauses are silence, not noise."""
    y = speech_like() + np.random.default_rng(2).normal(0, 0.003, len(speech_like())).astype(np.float32)
    regions = sg.speech_regions(y, SR)
    assert regions["label"].iloc[0] == "silence" and regions["label"].iloc[-1] == "silence"
    assert "voiced" in set(regions["label"])


def test_band_energy_share():
    t = np.arange(SR) / SR
    assert sg.band_energy_share(np.sin(2 * np.pi * 1000 * t), SR) < 0.01
    assert sg.band_energy_share(np.sin(2 * np.pi * 6000 * t), SR) > 0.99
    assert sg.band_energy_share(np.zeros(SR), SR) == 0.0


def test_frame_levels_and_region_time():
    y = speech_like()
    levels = sg.frame_levels_db(y, SR)
    assert levels.max() == pytest.approx(0.0) and levels.min() < -100
    regions = sg.speech_regions(y, SR)
    t = sg.region_time(y, SR, regions, "voiced")
    assert 0.4 <= t <= 0.9
    t_sil = sg.region_time(y, SR, regions, "silence", how="middle")
    longest = regions[regions["label"] == "silence"].sort_values("duration").iloc[-1]
    assert t_sil == pytest.approx((longest.start + longest.end) / 2)
    assert sg.region_time(y, SR, regions[regions["label"] != "noise"], "noise") is None
    tiny = pd.DataFrame([{"label": "noise", "start": 0.1001, "end": 0.1002, "duration": 0.0001, "hf_share": 1.0}])
    assert sg.region_time(y, SR, tiny, "noise") == pytest.approx(0.10015)
    with pytest.raises(ValueError, match="loudest"):
        sg.region_time(y, SR, regions, "voiced", how="first")


def test_region_summary_and_table(tmp_path, monkeypatch, capsys):
    y = speech_like()
    summary = sg.region_summary(y, SR)
    assert summary["voiced_s"] == pytest.approx(0.5, abs=0.06)
    assert summary["noise_s"] == pytest.approx(0.3, abs=0.06)
    assert summary["noise_hf_share"] > 0.5 > summary["voiced_hf_share"]
    assert summary["floor_db"] < -100
    only_vowel = sg.region_summary(y[: int(0.9 * SR)], SR)
    assert only_vowel["noise_s"] == 0.0 and np.isnan(only_vowel["noise_hf_share"])

    path = tmp_path / "03-01-01-01-02-01-01.wav"
    audio.write_wav_atomic(path, y, SR)
    meta = pd.DataFrame({"path": [str(path)], "filename": [path.name], "actor": [1], "statement": [2]})
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    capsys.readouterr()
    table = sg.regions_table(meta)
    err = capsys.readouterr().err  # a bar over the clips
    assert "speech regions" in err and "1/1" in err and err.count("\n") == 1
    pd.testing.assert_frame_equal(sg.regions_table(meta, progress=False), table)
    assert capsys.readouterr().err == ""
    assert len(table) == 1 and table.loc[0, "statement"] == 2
    assert table.loc[0, "voiced_s"] == pytest.approx(summary["voiced_s"], abs=0.03)


def test_cepstral_envelope_recovers_a_smooth_envelope():
    n_bins = 1025
    k = np.arange(n_bins)
    smooth = 2.0 * np.cos(np.pi * k / (n_bins - 1) * 3)  # slow: a few humps over the band
    ripple = 1.5 * np.cos(2 * np.pi * k / 20)  # fast: harmonics every 20 bins
    mag = np.exp(smooth + ripple)
    f0 = 20 * SR / 2048  # harmonics 20 bins apart
    env = sg.cepstral_envelope(mag, SR, f0)
    assert env.shape == (n_bins,)
    expected_db = 20 / np.log(10) * smooth
    assert np.abs(env - expected_db)[50:-50].max() < 1.0


def test_plots_are_labelled():
    y = speech_like()
    fig, ax = plt.subplots()
    sg.plot_spectrogram(sg.stft_db(y, 512, 128), SR, 128, ax=ax, title="t", fmax=5000)
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (Hz)"
    assert ax.get_ylim() == (0, 5000) and ax.get_title() == "t"

    fig = sg.plot_stft_steps(sg.chirp(SR), SR, n_fft=1024, hop_length=512, first_frame=3, n_shown=3)
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(axes) >= 1 + 3 + 3 + 1
    assert all(a.get_xlabel() for a in axes)

    fig = sg.plot_tradeoff(y, SR, n_ffts=(256, 1024), tlim=(0.3, 1.0), flim=(0, 3000))
    assert fig.axes[0].get_xlim() == (0.3, 1.0) and fig.axes[0].get_ylim() == (0, 3000)
    assert "256" in fig.axes[0].get_title()

    regions = sg.speech_regions(y, SR)
    fig = sg.plot_regions(y, SR, regions, fmax=8000)
    assert fig.axes[1].get_xlabel() == "time (s)"
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["silence", "voiced", "noise"]

    fig = sg.plot_frame_spectra(y, SR, {"voiced": 0.6, "noise": 1.0, "silence": 1.4}, f0={"voiced": 120.0},
                                fmax={"voiced": 3000})
    assert fig.axes[0].get_xlim() == (0, 3000) and fig.axes[1].get_xlim() == (0, SR / 2)
    assert all(a.get_ylim()[0] <= -90 for a in fig.axes) and fig.axes[2].get_ylim()[0] == -160  # digital silence
    assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None
    assert fig.axes[0].get_ylabel() == "level (dB)"

    fig = sg.plot_linear_vs_db(y, SR, fmax=6000)
    assert "linear" in fig.axes[0].get_title() and "dB" in fig.axes[1].get_title()


def test_explorer_redraws_when_a_slider_moves(monkeypatch):
    monkeypatch.delenv("COURSE_HEADLESS", raising=False)
    shown, updates = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    def fake_display(obj, display_id=False):
        shown.append(obj)
        return Handle() if display_id else None

    monkeypatch.setattr(sg, "display", fake_display)
    y = speech_like()
    box, redraw = sg.explorer(y, SR, n_fft=1024, hop_length=256)
    assert len(shown) == 2 and shown[1].data[:4] == b"\x89PNG"  # sliders, then a static PNG
    n_slider, h_slider = box.children
    n_slider.value = 512
    h_slider.value = 128
    assert len(updates) == 2 and all(u.data[:4] == b"\x89PNG" for u in updates)
    redraw(2048, 512)
    assert len(updates) == 3
    assert plt.get_fignums() == []  # every figure was closed after rendering


def test_explorer_headless_draws_the_start_figure_without_widgets(monkeypatch):
    monkeypatch.setenv("COURSE_HEADLESS", "1")
    shown, updates = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    monkeypatch.setattr(sg, "display", lambda obj, display_id=False: shown.append(obj) or Handle())
    box, redraw = sg.explorer(speech_like(), SR, n_fft=1024, hop_length=256)
    assert box is None and len(shown) == 1 and shown[0].data[:4] == b"\x89PNG"
    redraw(512, 128)
    assert len(updates) == 1 and updates[0].data[:4] == b"\x89PNG"


def test_band_energy_share_separates_low_and_high_tones():
    sr = 22050
    t = np.arange(sr) / sr
    low, high = np.sin(2 * np.pi * 500 * t), np.sin(2 * np.pi * 6000 * t)
    assert sg.band_energy_share(low, sr, 4000) < 0.01
    assert sg.band_energy_share(high, sr, 4000) > 0.99
    assert sg.band_energy_share(low + high, sr, 4000) == pytest.approx(0.5, abs=0.02)
    assert sg.band_energy_share(np.zeros(4096), sr, 4000) == 0.0


def test_energy_share_above_counts_the_cutoff_bin_and_is_zero_for_silence():
    S = np.array([[1.0, 1.0], [2.0, 2.0], [1.0, 1.0]])
    freqs = np.array([0.0, 4000.0, 8000.0])
    assert sg.energy_share_above(S, freqs, 4000.0) == pytest.approx(0.75)  # the bin at the cut-off counts
    assert sg.energy_share_above(S, freqs, 4000.1) == pytest.approx(0.25)
    assert sg.energy_share_above(np.zeros_like(S), freqs, 4000.0) == 0.0
