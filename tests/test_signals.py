import struct

import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.display import Audio

from course_utils.data import audio
from course_utils.sound import plots, signals, spectrum

from conftest import tone as padded_tone


@pytest.fixture
def shown(monkeypatch):
    """Collect what the helpers display (audio players) instead of showing it; no plt.show."""
    out = []
    monkeypatch.setattr(plots, "display", out.append)  # the players are plots.play
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    yield out
    plt.close("all")


def test_tone_has_its_frequency_amplitude_and_phase():
    y = signals.tone(100, 1.0, 8000, amplitude=0.5)
    assert y.dtype == np.float64 and len(y) == 8000
    assert y[0] == pytest.approx(0, abs=1e-12)
    assert y[20] == pytest.approx(0.5)  # a quarter period (2.5 ms) in: the peak
    assert np.max(np.abs(y)) == pytest.approx(0.5)
    assert signals.tone(100, 0.01, 8000, phase=np.pi / 2)[0] == pytest.approx(1.0)
    assert signals.n_samples(0.3, 48_000) == 14_400 and signals.time_axis(3, 4)[-1] == 0.5


def test_harmonic_series_and_their_sum():
    f, a = signals.harmonic_series(220, 4, decay=2)
    assert f.tolist() == [220, 440, 660, 880] and a.tolist() == pytest.approx([1, 1 / 4, 1 / 9, 1 / 16])
    with pytest.raises(ValueError, match="at least 1"):
        signals.harmonic_series(220, 0)
    s = signals.sum_of_sinusoids(f, 0.1, 0.5, 8000)  # a scalar amplitude is shared
    expected = sum(signals.tone(x, 0.5, 8000, amplitude=0.1) for x in f)
    assert np.allclose(s, expected)
    with_phase = signals.sum_of_sinusoids([100], [1.0], 0.1, 8000, phases=[np.pi / 2])
    assert with_phase[0] == pytest.approx(1.0)


def test_fade_ramps_the_ends_only():
    y = np.ones(1000)
    f = signals.fade(y, 1000, seconds=0.1)
    assert f[0] == 0 and f[-1] == 0 and np.all(f[100:900] == 1) and np.all(np.diff(f[:100]) >= 0)
    assert np.array_equal(signals.fade(y[:1], 1000), y[:1])


def test_play_shows_an_unnormalised_player(shown, capsys):
    signals.play(np.full(100, 0.1), 8000, label="quiet")
    assert "quiet" in capsys.readouterr().out
    assert isinstance(shown[0], Audio)
    rate, first = struct.unpack("<I", shown[0].data[24:28])[0], struct.unpack("<h", shown[0].data[44:46])[0]
    assert rate == 8000 and first == pytest.approx(3277, abs=1)  # 0.1 of full scale: not normalised


@pytest.mark.parametrize(
    "freq, rate, alias",
    [(440, 8000, 440), (3000, 4000, 1000), (5000, 8000, 3000), (9000, 8000, 1000), (8000, 8000, 0), (30000, 44100, 14100), (2000, 4000, 2000)],
)
def test_alias_frequency_folds_at_the_nyquist_limit(freq, rate, alias):
    assert signals.alias_frequency(freq, rate) == pytest.approx(alias)


def test_alias_frequency_on_arrays_and_bad_rates():
    out = signals.alias_frequency(np.array([100, 3900, 4100]), 4000)
    assert out.tolist() == [100, 100, 100]
    assert signals.nyquist(22_050) == 11_025
    with pytest.raises(ValueError, match="positive"):
        signals.alias_frequency(100, 0)


def test_sampled_tones_above_nyquist_equal_their_alias():
    t, x = signals.sample_tone(3000, 4000, 0.01)
    assert np.allclose(t, np.arange(40) / 4000)
    _, alias = signals.sample_tone(1000, 4000, 0.01)
    assert np.allclose(x, -alias, atol=1e-9)  # same samples, opposite sign (f_s - f)


def test_sinc_reconstruction_rebuilds_the_band_limited_tone():
    rate = 1000
    n = np.arange(2000)
    t = np.linspace(0.9, 1.1, 50)
    below = signals.sinc_reconstruct(np.sin(2 * np.pi * 123 * n / rate), rate, t)
    assert np.max(np.abs(below - np.sin(2 * np.pi * 123 * t))) < 0.01
    above = signals.sinc_reconstruct(np.sin(2 * np.pi * 877 * n / rate), rate, t)  # alias: 123 Hz, sign flipped
    assert np.max(np.abs(above + np.sin(2 * np.pi * 123 * t))) < 0.01


def test_resampling_filters_but_naive_decimation_aliases():
    sr = 48_000
    y = signals.tone(5000, 1.0, sr, amplitude=0.5)  # above the 4 kHz Nyquist limit of 8 kHz
    filtered = signals.to_rate(y, sr, 8000)
    naive = signals.decimate_naive(y, 6)
    assert len(naive) == 8000 and abs(len(filtered) - 8000) <= 1
    assert np.sqrt(np.mean(filtered[100:-100] ** 2)) < 0.01  # removed
    assert np.sqrt(np.mean(naive**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)  # kept, as an alias
    with pytest.raises(ValueError, match="positive integer"):
        signals.decimate_naive(y, 1.5)


def test_quantize_rounds_to_pcm_levels():
    assert signals.quantization_levels(16) == 65_536 and signals.quantization_step(3) == 0.25
    y = np.linspace(-1, 1, 1001)
    q = signals.quantize(y, 3)
    assert set(np.round(q * 4).astype(int)) <= set(range(-4, 4))  # 8 levels, -1 .. 0.75
    inside = y < 0.75
    assert np.max(np.abs(q[inside] - y[inside])) <= 0.125 + 1e-12  # at most half a step
    assert q[-1] == 0.75  # +1.0 is clipped one step below
    pcm = np.arange(-32768, 32768, 97) / 32768
    assert np.array_equal(signals.quantize(pcm, 16), pcm)  # 16-bit values are already on the grid
    with pytest.raises(ValueError, match="at least 1"):
        signals.quantize(y, 0)


def test_snr_db():
    x = np.ones(100)
    assert signals.snr_db(x, x + 0.1) == pytest.approx(20.0)
    assert signals.snr_db(x, x) == float("inf")
    assert signals.theoretical_snr_db(16) == pytest.approx(98.08)


def test_quantization_table_matches_the_formula_at_many_bits():
    table = signals.quantization_table((4, 8, 16), duration=0.5)
    assert list(table.columns) == ["bits", "levels", "step q", "measured SNR (dB)", "6.02 b + 1.76 (dB)", "difference (dB)"]
    assert table["levels"].tolist() == [16, 256, 65536] and table["step q"].tolist() == ["2^-3", "2^-7", "2^-15"]
    assert abs(table.loc[2, "difference (dB)"]) < 0.1 and abs(table.loc[1, "difference (dB)"]) < 1.0
    assert table.loc[0, "difference (dB)"] < -1.0  # few bits: the formula is too optimistic
    quiet = signals.quantization_table((8,), y=0.01 * signals.tone(997, 0.5, 48_000))
    assert quiet.loc[0, "difference (dB)"] < -35  # 40 dB below full scale -> about 40 dB less SNR


def test_alias_table_formula_agrees_with_the_spectrum():
    table = spectrum.alias_table([(440, 8000), (3000, 4000), (9000, 8000)], duration=1.0)
    assert (table["alias by formula (Hz)"] == table["FFT peak (Hz)"]).all()
    assert table["above Nyquist"].tolist() == ["no", "yes", "yes"]


def test_describe_clip_measures_silence_and_levels(tmp_path):
    path = audio.write_wav_atomic(tmp_path / "clip.wav", padded_tone(seconds=0.5, sr=16_000, pad=0.25), 16_000)
    facts = signals.describe_clip(path)
    assert facts["file"] == "clip.wav" and facts["sample rate (Hz)"] == 16_000 and facts["bit depth"] == 16
    assert facts["samples"] == 16_000 and facts["duration (s)"] == 1.0 and facts["channels"] == 1
    # librosa.effects.trim works in frames (2048 samples, hop 512): a frame or two of slack
    assert facts["silence before (s)"] == pytest.approx(0.25, abs=0.1) and facts["silence after (s)"] == pytest.approx(0.25, abs=0.1)
    assert facts["sentence (s)"] == pytest.approx(0.5, abs=0.15)
    assert facts["silence before (s)"] + facts["sentence (s)"] + facts["silence after (s)"] == pytest.approx(1.0, abs=0.002)
    assert facts["peak (dBFS)"] == pytest.approx(-6.0, abs=0.1)
    pcm, sr = signals.read_pcm(path)
    assert pcm.dtype == np.int16 and sr == 16_000 and facts["levels used"] == len(np.unique(pcm))
    assert pcm.max() == pytest.approx(16384, abs=2)


def test_figures_have_labelled_axes(shown):
    fig = signals.plot_pressure_wave(440)
    assert fig.axes[1].get_xlabel() == "distance (m)" and "Pa" in fig.axes[1].get_ylabel()
    ax = signals.plot_tone_anatomy(220, 0.8, ax=plt.figure().gca())
    assert ax.get_xlabel() == "time (ms)" and "4.55 ms" in ax.get_title()
    ax = signals.plot_sampling(3000, 4000, ax=plt.figure().gca())
    assert "ALIASED" in ax.get_title() and ax.get_xlabel() == "time (ms)"
    rebuilt = ax.lines[1].get_ydata()
    t = ax.lines[1].get_xdata() / 1000
    assert np.max(np.abs(rebuilt + np.sin(2 * np.pi * 1000 * t))) < 0.02  # the dashed curve is the 1 kHz alias
    assert "kept" in signals.plot_sampling(440, 4000, ax=plt.figure().gca()).get_title()
    ax = signals.plot_folding(4000, freq=3000, ax=plt.figure().gca())
    assert "Hz" in ax.get_xlabel() and "Hz" in ax.get_ylabel()
    fig = signals.plot_quantization(3)
    err = fig.axes[1].lines[0].get_ydata()
    assert np.max(np.abs(err)) <= 0.125 + 1e-9 and "error" in fig.axes[1].get_ylabel()


def test_aliasing_explorer_draws_and_plays(shown, capsys):
    fig = signals.aliasing_explorer(3000, 4000, seconds=0.2)
    assert len(fig.axes) == 2 and len(shown) == 2 and all(isinstance(a, Audio) for a in shown)
    assert "1000 Hz" in capsys.readouterr().out
    signals.aliasing_explorer(3990, 4000, seconds=0.1, players=False)  # tiny alias: the window is capped
    assert len(shown) == 2


def test_clip_figures(shown):
    y = padded_tone(0.5, 8000, pad=0.25)
    facts = {"file": "x.wav", "silence before (s)": 0.25, "silence after (s)": 0.25}
    ax = signals.plot_clip_silence(y, 8000, facts, ax=plt.figure().gca())
    assert len(ax.patches) == 2 and ax.get_xlabel() == "time (s)"
    ax = signals.plot_samples_zoom((y * 32767).astype(np.int16), 8000, center=0.5, ms=4, ax=plt.figure().gca())
    assert "32 samples" in ax.get_title() and "integer" in ax.get_ylabel()
    sweep = signals.fade(0.3 * np.sin(2 * np.pi * np.cumsum(np.linspace(100, 6000, 24_000)) / 24_000), 24_000)
    fig = signals.plot_sweep_aliasing(sweep, 24_000, 3, fmin=100, fmax=6000, n_fft=256)
    panels = [a for a in fig.axes if a.get_title()]
    assert len(panels) == 3 and panels[0].get_ylabel() == "frequency (Hz)"
    assert any(line.get_label() == "alias by formula" for line in panels[1].lines)
    fig = signals.show_tones([("a", signals.tone(220, 0.1, 8000)), ("b", signals.tone(440, 0.1, 8000))], 8000, ms=10)
    assert len(fig.axes) == 2 and fig.axes[-1].get_xlabel() == "time (ms)" and len(shown) == 2
