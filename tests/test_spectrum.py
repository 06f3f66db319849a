import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from course_utils.base import jupyter
from course_utils.data import audio
from course_utils.sound import eda, signals, spectrum

SR = 16_000



def voice_like(f0: float, seconds: float = 0.6, pad: float = 0.2, sr: int = SR) -> np.ndarray:
    """A harmonic tone (10 harmonics, 1/k) with silence around it: a stand-in for a vowel."""
    f, a = signals.harmonic_series(f0, 10)
    y = signals.fade(signals.sum_of_sinusoids(f, 0.05 * a, seconds, sr), sr)
    z = np.zeros(int(pad * sr))
    return np.concatenate([z, y, z])


def test_frequency_axis():
    assert spectrum.bin_frequency(10, 22_050, 2048) == pytest.approx(107.666, abs=1e-3)
    assert spectrum.frequency_resolution(22_050, 22_050) == 1.0
    f, mag = spectrum.magnitude_spectrum(np.zeros(1000), 8000)
    assert len(f) == 501 and f[-1] == 4000 and f[1] == 8.0 and np.all(mag == 0)


@pytest.mark.parametrize("window", ["hann", "boxcar"])
def test_a_sine_on_a_bin_shows_its_amplitude(window):
    x = signals.tone(250, 1.0, SR, amplitude=0.4)
    f, mag = spectrum.magnitude_spectrum(x, SR, window=window)
    assert f[np.argmax(mag)] == 250 and mag.max() == pytest.approx(0.4, rel=1e-6)
    f2, mag2 = spectrum.magnitude_spectrum(x, SR, n_fft=4 * SR, window=window)  # zero-padded: finer grid, same peak
    assert f2[1] == 0.25 and mag2.max() == pytest.approx(0.4, rel=1e-6)
    with pytest.raises(ValueError, match="at least the length"):
        spectrum.magnitude_spectrum(x, SR, n_fft=100)


def test_complex_spectrum_keeps_the_phase_and_db_floor():
    x = np.cos(2 * np.pi * 100 * np.arange(SR) / SR + 0.7)
    f, X = spectrum.complex_spectrum(x, SR)
    assert np.angle(X[100]) == pytest.approx(0.7) and abs(X[100]) == pytest.approx(1.0)
    assert spectrum.to_db(np.array([1.0, 0.1, 0.0])).tolist() == pytest.approx([0.0, -20.0, -120.0])
    assert spectrum.to_db(0.5, ref=0.5) == 0


def test_peak_frequency():
    x = signals.sum_of_sinusoids([300, 1234], [0.2, 0.5], 1.0, SR)
    assert spectrum.peak_frequency(x, SR) == 1234.0


def test_pick_peaks_takes_a_tone_apart_and_resynthesis_puts_it_back():
    f, a = signals.harmonic_series(200, 5)
    x = signals.sum_of_sinusoids(f, 0.2 * a, 1.0, SR, phases=[0.0, 0.5, 1.0, 1.5, 2.0])
    peaks = spectrum.pick_peaks(x, SR, min_db=-60)
    assert peaks["frequency (Hz)"].tolist() == f.tolist()
    assert peaks["amplitude"].to_numpy() == pytest.approx(0.2 * a, rel=1e-6)
    assert peaks["level (dB)"].iloc[0] == 0 and peaks["level (dB)"].iloc[1] == pytest.approx(-6.02, abs=0.01)
    assert signals.snr_db(x, spectrum.resynthesize(peaks, 1.0, SR)) > 100
    strongest = spectrum.pick_peaks(x, SR, min_db=-60, max_peaks=2)
    assert strongest["frequency (Hz)"].tolist() == [200.0, 400.0]


def test_harmonics_are_found_even_from_a_slightly_wrong_f0():
    f0 = 123.0
    f, a = signals.harmonic_series(f0, 25)
    x = signals.sum_of_sinusoids(f, a / 10, 0.5, SR)
    freqs, mag = spectrum.magnitude_spectrum(x, SR, n_fft=4 * len(x))
    table = spectrum.find_harmonics(freqs, mag, f0 * 1.006, n_harmonics=25)  # 0.1 semitone off
    assert len(table) == 25 and table["is peak"].all()
    assert np.max(np.abs(table["found (Hz)"] - f)) <= 0.6  # the refinement keeps up to harmonic 25
    assert table["level (dB)"].max() == 0 and table["expected (Hz)"].iloc[-1] == pytest.approx(25 * f0 * 1.006)
    assert spectrum.harmonic_f0(table) == pytest.approx(f0, abs=0.05)
    top = spectrum.find_harmonics(np.linspace(0, 1000, 101), np.ones(101), 300.0, n_harmonics=10)
    assert top["harmonic"].max() == 3  # stops at the highest frequency of the spectrum
    flat = spectrum.find_harmonics(np.linspace(0, 1000, 101), np.ones(101), 100.0, n_harmonics=3)
    assert not flat["is peak"].any() and np.isnan(spectrum.harmonic_f0(flat))
    empty = spectrum.find_harmonics(np.array([0.0, 10.0]), np.ones(2), 100.0)
    assert empty.empty and "level (dB)" in empty.columns


def test_leakage_table_shows_what_the_window_buys():
    t = spectrum.leakage_table(sr=22_050, n_fft=1024, bin=46, distances=(20,))
    on_bin = t[t["tone (bins)"] == 46.0]
    half = t[t["tone (bins)"] == 46.5].set_index("window")
    assert (on_bin["20 bins away (dB)"] == -120.0).all() and (on_bin["peak (dB)"] == 0.0).all()
    assert half.loc["boxcar", "peak (dB)"] == pytest.approx(-3.92, abs=0.05)
    assert half.loc["hann", "peak (dB)"] == pytest.approx(-1.42, abs=0.05)
    assert half.loc["boxcar", "20 bins away (dB)"] > -40 and half.loc["hann", "20 bins away (dB)"] < -80
    assert not (t["peak (dB)"].astype(str) == "-0.0").any()


def test_track_f0_finds_the_pitch_and_gates_the_silence():
    y = voice_like(150.0)
    track = spectrum.track_f0(y, SR, frame_length=1024, hop_length=256)
    assert len(track.times) == len(track.f0) == len(track.voiced) == len(track.voiced_prob)
    stats = spectrum.f0_stats(track)
    assert stats["median (Hz)"] == pytest.approx(150, rel=0.01) and stats["range (semitones)"] < 0.5
    assert 0.4 < stats["voiced fraction"] < 0.8
    assert not track.voiced[track.frame_of(0.05)] and track.voiced[track.frame_of(0.5)]
    assert np.isnan(track.f0[~track.voiced]).all()
    ungated = spectrum.track_f0(y, SR, frame_length=1024, hop_length=256, gate_db=None)
    assert ungated.voiced.sum() >= track.voiced.sum()


def test_semitones_and_stats_of_no_voice():
    assert spectrum.semitones(100, 200) == pytest.approx(12) and spectrum.semitones(200, 100) == pytest.approx(-12)
    none = spectrum.values_stats(np.array([np.nan, np.nan]))
    assert none["voiced frames"] == 0 and np.isnan(none["median (Hz)"]) and np.isnan(none["range (semitones)"])
    some = spectrum.values_stats(np.array([100.0, 200.0, np.nan]), low=0, high=100)
    assert some["median (Hz)"] == 150 and some["range (semitones)"] == pytest.approx(12) and some["voiced frames"] == 2


def test_search_range_is_one_course_wide_pair_with_room_for_every_voice():
    assert spectrum.SPEECH_FMIN < 0.75 * spectrum.LITERATURE_F0_HZ["male"][0]  # well below the lowest male voice
    assert spectrum.SPEECH_FMAX > 600.0  # above real female clip medians in shouted speech
    assert eda.AcousticConfig().fmin == spectrum.SPEECH_FMIN and eda.AcousticConfig().fmax == spectrum.SPEECH_FMAX
    assert "Titze" in spectrum.LITERATURE_F0_SOURCE


def test_at_search_edge_flags_the_floor_and_the_ceiling_only():
    fmin, fmax = spectrum.SPEECH_FMIN, spectrum.SPEECH_FMAX
    assert spectrum.at_search_edge(fmin) and spectrum.at_search_edge(fmin * 1.01) and spectrum.at_search_edge(fmax)
    assert not spectrum.at_search_edge(2 * fmin) and not spectrum.at_search_edge(float("nan"))
    got = spectrum.at_search_edge(np.array([fmin, 120.0, 0.99 * fmax]))
    assert got.tolist() == [True, False, True]
    s = spectrum.at_search_edge(pd.Series([65.0, 200.0], index=["a", "b"]), fmin=65.0, fmax=500.0)
    assert isinstance(s, pd.Series) and s.to_dict() == {"a": True, "b": False}
    assert not spectrum.at_search_edge(65.0 * 2 ** (1 / 12), fmin=65.0, fmax=500.0)  # a semitone above: a voice


def test_f0_summary_pools_files_per_group(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    paths = []
    for i, f0 in enumerate((110.0, 112.0, 220.0)):
        paths.append(audio.write_wav_atomic(tmp_path / f"{i}.wav", voice_like(f0, seconds=0.4, pad=0.1), SR))
    capsys.readouterr()
    table = spectrum.f0_summary(paths, groups=["low", "low", "high"], sr=SR, frame_length=1024, hop_length=256)
    # three files: no bar by default (the output of a cell that nbval compares stays the same)
    assert capsys.readouterr() == ("", "")
    shown = spectrum.f0_summary(paths, groups=["low", "low", "high"], sr=SR, progress=True, frame_length=1024,
                                hop_length=256)
    err = capsys.readouterr().err
    assert "f0 (pyin)" in err and "3/3" in err
    pd.testing.assert_frame_equal(shown, table)
    many = spectrum.f0_summary(paths * 4, sr=SR, frame_length=1024, hop_length=256)  # 12 files: a bar by default
    assert len(paths) * 4 >= spectrum.PROGRESS_MIN_FILES and "12/12" in capsys.readouterr().err
    assert many["clips"].tolist() == [4, 4, 4]
    assert table.index.tolist() == ["low", "high"] and table["clips"].tolist() == [2, 1]
    assert 109 < table.loc["low", "median (Hz)"] < 113 and table.loc["high", "median (Hz)"] == pytest.approx(220, rel=0.01)
    assert table.loc["low", "p5 (Hz)"] < 111 < table.loc["low", "p95 (Hz)"]
    assert not table["at search edge"].any()  # 110-220 Hz voices lie far inside the search range
    edge = spectrum.f0_summary(paths[:1], sr=SR, fmin=108.0, frame_length=1024, hop_length=256)
    assert edge["at search edge"].all()  # a floor just below the voice: its low percentile sits at the floor
    by_file = spectrum.f0_summary(paths[:1], sr=SR, frame_length=1024, hop_length=256)
    assert by_file.index.tolist() == ["0.wav"]
    with pytest.raises(ValueError, match="group labels"):
        spectrum.f0_summary(paths, groups=["a"])


def test_choosing_frames():
    y = voice_like(200.0)
    track = spectrum.track_f0(y, SR, frame_length=1024, hop_length=256)
    i = spectrum.steady_voiced_frame(track, y)
    assert track.voiced[i] and 0.2 < track.times[i] < 0.8
    silent = spectrum.F0Track(track.times, np.full_like(track.f0, np.nan), np.zeros_like(track.voiced), track.voiced_prob, SR, 256)
    with pytest.raises(ValueError, match="no voiced frame"):
        spectrum.steady_voiced_frame(silent, y)
    wobbly = spectrum.F0Track(track.times, np.where(track.voiced, 100.0 * (1 + 0.1 * (np.arange(len(track.f0)) % 2)), np.nan), track.voiced, track.voiced_prob, SR, 256)
    assert wobbly.voiced[spectrum.steady_voiced_frame(wobbly, y)]  # no steady frame: any voiced one
    noise = 0.05 * np.random.default_rng(0).standard_normal(SR // 2)
    mixed = np.concatenate([signals.tone(150, 0.5, SR, amplitude=0.05), noise])
    assert spectrum.noisy_frame(mixed, SR) >= SR // 2 - 1024


def test_spectrum_figures_have_units():
    x = signals.sum_of_sinusoids([200, 400], [0.2, 0.1], 0.5, SR)
    f, mag = spectrum.magnitude_spectrum(x, SR)
    ax = spectrum.plot_spectrum(f, mag, ax=plt.figure().gca(), fmax=1000, title="t")
    assert ax.get_xlabel() == "frequency (Hz)" and "dB" in ax.get_ylabel() and ax.get_xlim() == (0, 1000)
    ax = spectrum.plot_spectrum(f, mag, ax=plt.figure().gca(), db=False)
    assert "amplitude" in ax.get_ylabel() and ax.get_xlim()[1] == SR / 2
    ax = spectrum.plot_spectrum(f, mag, ax=plt.figure().gca(), ref=1.0)
    assert ax.get_ylabel() == "level (dB)"
    table = spectrum.find_harmonics(f, mag, 200.0, n_harmonics=2)
    table.loc[1, "is peak"] = False
    n_lines = len(ax.lines)
    spectrum.mark_harmonics(ax, table, ref=1.0)
    assert len(ax.lines) == n_lines + 2 + 1  # a dotted line per multiple, a marker per real peak
    assert [t.get_text() for t in ax.texts] == ["1"]


def test_time_frequency_and_component_figures():
    fig = spectrum.plot_time_and_frequency([("a", signals.tone(200, 0.1, SR)), ("b", np.ones(800))], SR, ms=20)
    assert len(fig.axes) == 4 and fig.axes[2].get_xlabel().startswith("time") and fig.axes[3].get_xlabel() == "frequency (Hz)"
    assert fig.axes[0].get_xlim()[1] - fig.axes[0].get_xlim()[0] == pytest.approx(20, abs=0.1)
    fig = spectrum.plot_components([100, 200, 300], [1, 0.5, 0.3], SR, periods=2)
    assert len(fig.axes[0].lines) == 3 and "10.00 ms" in fig.axes[1].get_title()
    fig = spectrum.plot_leakage(sr=SR, n_fft=512, bin=20, span=10)
    assert len(fig.axes) == 3 and "half-way" in fig.axes[2].get_title() and "dB" in fig.axes[1].get_ylabel()


def test_f0_figures():
    y = voice_like(180.0)
    track = spectrum.track_f0(y, SR, frame_length=1024, hop_length=256)
    fig, ax = plt.subplots()
    spectrum.plot_f0_track(y, SR, track, ax=ax, fmax=800, harmonics=3, title="x")
    assert ax.get_ylabel() == "frequency (Hz)" and ax.get_ylim() == (0, 800) and len(ax.lines) == 3 and len(fig.axes) == 2
    fig, ax = plt.subplots()
    low = spectrum.F0Track(track.times, track.f0 / 2, track.voiced, track.voiced_prob, SR, 256)
    spectrum.plot_f0_contours([("high", track), ("low", low)], ax=ax)
    right = [a for a in fig.axes if a is not ax][0]
    assert ax.get_yscale() == "log" and "semitones" in right.get_ylabel()
    assert right.get_ylim()[1] - right.get_ylim()[0] == pytest.approx(spectrum.semitones(*ax.get_ylim()))
    summary = pd.DataFrame({"median (Hz)": [110.0, 220.0], "p5 (Hz)": [90.0, 180.0], "p95 (Hz)": [130.0, 300.0], "sex": ["male", "female"]}, index=[1, 2])
    ax = spectrum.plot_f0_survey(summary, ax=plt.figure().gca())
    assert ax.get_xlabel() == "actor" and ax.get_yscale() == "log" and len(ax.get_legend().get_texts()) == 2
    assert 100 in ax.get_yticks() and 200 in ax.get_yticks()
