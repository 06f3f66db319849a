"""Tests of course_utils.sound.eda: per-clip measurements, their cache, summaries, distances, figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from course_utils.data import audio, metadata
from course_utils.sound import eda, spectrum
from course_utils.data import cache as cache_mod
from course_utils.sound.features import FeatureConfig

from conftest import tone

SR = audio.COURSE_SR



@pytest.fixture(scope="module")
def padded_tone() -> np.ndarray:
    """0.5 s of digital silence, 1 s of a 220 Hz sine at amplitude 0.5, 0.5 s of silence."""
    return tone(1.0, SR, 220.0, pad=0.5)


@pytest.fixture(scope="module")
def fake_table() -> pd.DataFrame:
    """Labels of 4 actors x 60 clips with made-up measurements of known structure:
    level = actor offset + emotion offset, f0 = sex base x emotion factor (+ small noise)."""
    rows = [metadata.parse_filename(n).as_dict() for n in metadata.expected_filenames([1, 2, 3, 4])]
    t = pd.DataFrame(rows)
    t["emotion_name"] = pd.Categorical(t["emotion_name"], categories=list(metadata.EMOTIONS.values()))
    t["intensity_name"] = pd.Categorical(t["intensity_name"], categories=list(metadata.INTENSITIES.values()))
    t["sex"] = pd.Categorical(t["sex"], categories=["male", "female"])
    rng = np.random.default_rng(0)
    n = len(t)
    t["duration_s"] = 3.5 + 0.01 * np.arange(n) / n
    t["lead_silence_s"] = 0.8 + 0.1 * rng.random(n)
    t["trail_silence_s"] = 0.7 + 0.1 * rng.random(n)
    t["speech_s"] = t["duration_s"] - t["lead_silence_s"] - t["trail_silence_s"] + 0.2 * (t["emotion"] == 4)
    t["rms_dbfs"] = -30 + 3.0 * t["actor"] + 2.0 * t["emotion"] + 0.1 * rng.standard_normal(n)
    t["peak_dbfs"] = t["rms_dbfs"] + 15
    t["noise_floor_dbfs"] = -90.0
    t["snr_db"] = t["peak_dbfs"] - t["noise_floor_dbfs"]
    base = np.where(t["sex"] == "male", 110.0, 220.0)
    t["f0_median_hz"] = base * 2 ** ((t["emotion"] - 4) / 12) * 2 ** (0.05 * rng.standard_normal(n) / 12)
    t["f0_p10_hz"] = t["f0_median_hz"] * 0.9
    t["f0_p90_hz"] = t["f0_median_hz"] * 1.2
    t["f0_range_st"] = eda.semitones(t["f0_p90_hz"], t["f0_p10_hz"])
    t["voiced_fraction"] = 0.8
    t["channels"] = np.where(np.arange(n) % 50 == 0, 2, 1)
    t["bit_depth"] = 16
    t["sample_rate"] = 48_000
    return t


# ------------------------------------------------------------------ measurements


def test_units():
    assert eda.dbfs(1.0) == 0.0 and eda.dbfs(0.5) == pytest.approx(-6.0206, abs=1e-4)
    assert np.isneginf(eda.dbfs(0.0))
    assert eda.semitones(440.0, 220.0) == pytest.approx(12.0)
    s = eda.semitones(pd.Series([220.0, 110.0], index=["a", "b"]), 220.0)
    assert isinstance(s, pd.Series) and list(s.index) == ["a", "b"] and s["b"] == pytest.approx(-12.0)


def test_config_key_follows_the_parameters():
    assert eda.AcousticConfig().key() == eda.AcousticConfig().key()
    assert eda.AcousticConfig(top_db=20).key() != eda.AcousticConfig().key()
    assert eda.AcousticConfig(fmax=500).key() != eda.AcousticConfig().key()
    assert eda.AcousticConfig(fmin=65).key() != eda.AcousticConfig().key()  # an old search range: another cache file


def test_silence_bounds_find_the_tone(padded_tone):
    start, end = eda.silence_bounds(padded_tone, SR)
    assert abs(start / SR - 0.5) < 0.06 and abs(end / SR - 1.5) < 0.06
    # a louder threshold (smaller top_db) keeps less of the soft edges, never more
    s20, e20 = eda.silence_bounds(padded_tone, SR, eda.AcousticConfig(top_db=10))
    assert s20 >= start and e20 <= end


def test_clip_acoustics_measures_silence_level_and_pitch(padded_tone):
    m = eda.clip_acoustics(padded_tone, SR)
    assert set(m) == set(eda.ACOUSTIC_COLUMNS) and all(isinstance(v, float) for v in m.values())
    assert m["duration_s"] == pytest.approx(2.0)
    assert m["lead_silence_s"] == pytest.approx(0.5, abs=0.06)
    assert m["trail_silence_s"] == pytest.approx(0.5, abs=0.06)
    assert m["lead_silence_s"] + m["speech_s"] + m["trail_silence_s"] == pytest.approx(2.0)
    assert m["rms_dbfs"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.7)  # sine: peak / sqrt 2
    assert m["peak_dbfs"] == pytest.approx(-6.02, abs=0.01)
    assert m["noise_floor_dbfs"] == pytest.approx(eda.FLOOR_DBFS, abs=0.01)  # digital silence
    assert m["snr_db"] > 100
    assert m["f0_median_hz"] == pytest.approx(220.0, rel=0.01)
    assert m["f0_p10_hz"] <= m["f0_median_hz"] <= m["f0_p90_hz"] and m["f0_range_st"] < 0.5
    assert m["voiced_fraction"] > 0.9


def test_clip_acoustics_lower_tone_lower_f0_quieter_lower_level():
    high = eda.clip_acoustics(tone(0.6, SR, 300.0, pad=0.2), SR)
    low = eda.clip_acoustics(0.1 * tone(0.6, SR, 150.0, pad=0.2), SR)
    assert eda.semitones(high["f0_median_hz"], low["f0_median_hz"]) == pytest.approx(12.0, abs=0.3)
    assert high["rms_dbfs"] - low["rms_dbfs"] == pytest.approx(20.0, abs=0.5)


def test_clip_acoustics_without_voiced_frames_gives_nan(monkeypatch, padded_tone):
    silent = spectrum.F0Track(times=np.zeros(10), f0=np.full(10, np.nan), voiced=np.zeros(10, dtype=bool),
                              voiced_prob=np.zeros(10), sr=SR, hop_length=512)
    monkeypatch.setattr(spectrum, "track_f0", lambda *args, **kwargs: silent)
    m = eda.clip_acoustics(padded_tone, SR)
    assert np.isnan(m["f0_median_hz"]) and np.isnan(m["f0_range_st"]) and m["voiced_fraction"] == 0.0
    assert m["rms_dbfs"] < 0  # the rest is still measured


def test_clip_acoustics_refuses_bad_input():
    with pytest.raises(ValueError, match="mono"):
        eda.clip_acoustics(np.zeros((2, 100), dtype=np.float32), SR)
    with pytest.raises(ValueError, match="empty"):
        eda.clip_acoustics(np.zeros(0, dtype=np.float32), SR)


# ------------------------------------------------------------------ table and cache


@pytest.fixture
def small_meta(tmp_path, make_wav_tree):
    names = ["03-01-01-01-01-01-01.wav", "03-01-05-02-01-01-02.wav", "03-01-04-01-02-02-01.wav"]
    make_wav_tree(tmp_path / "data", names, sr=48_000, seconds=0.4)
    return metadata.build_metadata(tmp_path / "data")


def test_acoustic_table_is_cached_atomically(small_meta, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = eda.acoustic_table(small_meta, dataset="t", cache_dir=cache, n_jobs=1, progress=False)
    assert list(first["filename"]) == list(small_meta["filename"])
    assert list(first.columns) == [*eda.META_COLUMNS, *eda.ACOUSTIC_COLUMNS]
    assert first["f0_median_hz"].between(190, 240).all()  # the fixture's tones: 200, 210, 220 Hz
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".csv" and not files[0].name.startswith(".")
    assert files[0] == eda.cache_path(small_meta, eda.AcousticConfig(), "t", cache)

    def boom(*args, **kwargs):
        raise AssertionError("measured again although cached")

    monkeypatch.setattr(eda, "file_acoustics", boom)
    again = eda.acoustic_table(small_meta, dataset="t", cache_dir=cache, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(first, again, check_exact=True)  # floats survive the CSV exactly
    # another parameter set is another cache entry (and is measured)
    with pytest.raises(AssertionError, match="measured again"):
        eda.acoustic_table(small_meta, eda.AcousticConfig(top_db=20), dataset="t", cache_dir=cache, n_jobs=1, progress=False)


def test_acoustic_table_ignores_a_stale_or_damaged_cache(small_meta, tmp_path):
    cache = tmp_path / "cache"
    target = eda.cache_path(small_meta, eda.AcousticConfig(), "t", cache)
    cache.mkdir()
    target.write_text("filename,duration_s\nother.wav,1.0\n")
    table = eda.acoustic_table(small_meta, dataset="t", cache_dir=cache, n_jobs=1, progress=False)
    assert list(table["filename"]) == list(small_meta["filename"]) and table["duration_s"].notna().all()
    target.write_bytes(b"")  # an empty file cannot be parsed: removed and measured again
    again = eda.acoustic_table(small_meta, dataset="t", cache_dir=cache, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(table, again, check_exact=True)
    target.write_text("a,b\n1,2\n")  # parsed, but not an acoustic table
    assert cache_mod.read(target, what="acoustics", names=list(small_meta["filename"])) is None and not target.exists()


def test_file_acoustics_loads_at_the_course_rate(small_meta):
    m = eda.file_acoustics(small_meta["path"][0])
    assert m["duration_s"] == pytest.approx(0.4, abs=1e-3)


def test_channel_difference(tmp_path):
    same = tmp_path / "same.wav"
    audio.write_wav_atomic(same, tone(0.3, 48_000, 300.0, channels=2), 48_000)
    assert np.isneginf(eda.channel_difference_db(same))
    y = tone(0.3, 48_000, 300.0, channels=2)
    y[:, 1] *= 0.9  # right channel 10 % softer: difference 0.1 / mix 0.95
    other = tmp_path / "other.wav"
    audio.write_wav_atomic(other, y, 48_000)
    assert eda.channel_difference_db(other) == pytest.approx(20 * np.log10(0.1 / 0.95), abs=0.2)
    mono = tmp_path / "mono.wav"
    audio.write_wav_atomic(mono, tone(0.3, 48_000, 300.0), 48_000)
    assert np.isnan(eda.channel_difference_db(mono))


# ------------------------------------------------------------------ summaries


def test_format_table_and_field_counts(fake_table):
    fmt = eda.format_table(fake_table)
    assert list(fmt["layout"]) == ["mono", "stereo"] and fmt["files"].sum() == len(fake_table)
    assert fmt.loc[fmt["layout"] == "stereo", "files"].item() == (np.arange(len(fake_table)) % 50 == 0).sum()
    counts = eda.field_counts(fake_table)
    assert counts.loc["neutral", ("intensity", "strong")] == 0
    assert counts.loc["neutral", ("intensity", "normal")] == 16  # 4 actors x 2 statements x 2 takes
    assert counts.loc["angry", ("sex", "male")] == 16 and counts.loc["angry", ("statement", "Kids")] == 16
    assert counts["all"].sum() == len(fake_table)


def test_group_summary(fake_table):
    s = eda.group_summary(fake_table, by="emotion_name", columns=["rms_dbfs"], stat="mean", decimals=None)
    assert list(s.index) == list(metadata.EMOTIONS.values())
    assert s.loc["neutral", "clips"] == 16 and s.loc["sad", "clips"] == 32
    # level = -30 + 3 * actor + 2 * emotion: actors 1..4 average 7.5 dB
    assert s.loc["angry", "rms_dbfs"] == pytest.approx(-30 + 7.5 + 10, abs=0.1)
    rounded = eda.group_summary(fake_table, by=["sex", "emotion_name"])
    assert rounded.index.nlevels == 2 and (rounded["f0_median_hz"] == rounded["f0_median_hz"].round(2)).all()


def test_variance_explained(fake_table):
    f0 = eda.variance_explained(fake_table, "f0_median_hz")
    assert f0["actor"] >= f0["sex"] > 0.8 and f0["emotion_name"] < 0.2  # an octave between the sexes
    t = fake_table.assign(x=fake_table["actor"] * 1.0)
    only_actor = eda.variance_explained(t, "x")
    assert only_actor["actor"] == pytest.approx(1.0) and only_actor["emotion_name"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="no variance"):
        eda.variance_explained(fake_table.assign(x=1.0), "x")


def test_relative_to_actor(fake_table):
    rel = eda.relative_to_actor(fake_table, "rms_dbfs")
    assert rel.groupby(fake_table["actor"]).median().abs().max() < 1e-9
    st = eda.relative_to_actor(fake_table, "f0_median_hz", log=True)
    # within an actor, angry (5) is one semitone above sad (4) by construction
    med = st.groupby(fake_table["emotion_name"], observed=True).median()
    assert med["angry"] - med["sad"] == pytest.approx(1.0, abs=0.1)


def test_extremes(fake_table):
    ex = eda.extremes(fake_table)
    assert list(ex["extreme"])[:2] == ["loudest sentence", "quietest sentence"]
    assert ex.loc[0, "value"] == fake_table["rms_dbfs"].max() and ex.loc[1, "value"] == fake_table["rms_dbfs"].min()
    assert fake_table.loc[ex.loc[0, "row"], "filename"] == ex.loc[0, "filename"]
    assert ex.loc[0, "emotion_name"] == "surprised" and ex.loc[0, "actor"] == 4


# ------------------------------------------------------------------ similarity


def test_mean_images_and_distances():
    images = np.stack([np.zeros((4, 5)), np.zeros((4, 5)), np.full((4, 5), 0.5), np.full((4, 5), 0.25)]).astype(np.float32)
    labels = ["a", "a", "b", "c"]
    means = eda.mean_by_label(images, labels, ["a", "b", "c"])
    assert means.shape == (3, 4, 5) and means[1].mean() == pytest.approx(0.5)
    d = eda.image_distances(means, ["a", "b", "c"], db_range=80.0)
    assert d.loc["a", "b"] == pytest.approx(40.0) and d.loc["b", "c"] == pytest.approx(20.0)
    assert np.allclose(d.to_numpy(), d.to_numpy().T) and np.all(np.diag(d.to_numpy()) == 0)
    pairs = eda.closest_pairs(d, n=2)
    assert list(pairs.iloc[0][["emotion A", "emotion B"]]) == ["a", "c"] or list(pairs.iloc[0][["emotion A", "emotion B"]]) == ["b", "c"]
    assert pairs["distance"].tolist() == [20.0, 20.0]
    with pytest.raises(ValueError, match="no images"):
        eda.mean_by_label(images, labels, ["a", "z"])


def test_feature_distances_take_the_speaker_out(fake_table):
    d = eda.feature_distances(fake_table, columns=("rms_dbfs", "f0_median_hz"))
    assert list(d.index) == list(metadata.EMOTIONS.values())
    # emotions are equally spaced on both features: neighbours are closer than far codes
    assert d.loc["neutral", "calm"] < d.loc["neutral", "surprised"]
    assert eda.closest_pairs(d, n=1)["distance"].item() == pytest.approx(d.to_numpy()[~np.eye(8, dtype=bool)].min())
    pooled = eda.feature_distances(fake_table, columns=("rms_dbfs",), within=None)
    assert pooled.loc["neutral", "surprised"] > pooled.loc["neutral", "calm"]


# ------------------------------------------------------------------ figures


def test_count_and_distribution_figures(fake_table):
    fig = eda.plot_counts(fake_table)
    assert len(fig.axes) == 5  # four panels and the heatmap's colour bar
    assert all(ax.get_ylabel() for ax in fig.axes[:4]) and fig.axes[3].get_xlabel().startswith("actor")
    ax = eda.plot_by_group(fake_table, "rms_dbfs")
    assert ax.get_ylabel() == eda.LABELS["rms_dbfs"] and ax.get_xlabel() == "emotion"
    ax = eda.plot_by_group(fake_table, "f0_median_hz", kind="violin", hue=None, log=True, ax=plt.figure().gca())
    assert ax.get_yscale() == "log" and all(t.get_text().isdigit() for t in ax.get_yticklabels())
    ax = eda.plot_by_group(fake_table, "rms_dbfs", by="actor", ax=plt.figure().gca())
    assert ax.get_xlabel() == "actor"
    with pytest.raises(ValueError, match="kind"):
        eda.plot_by_group(fake_table, "rms_dbfs", kind="bar")


def test_duration_and_f0_figures(fake_table):
    fig = eda.plot_durations(fake_table, common_length=2.5)
    assert [ax.get_xlabel() for ax in fig.axes] == ["duration (s)", "emotion", "emotion"]
    assert fig.axes[1].get_ylim() == fig.axes[2].get_ylim()
    fig = eda.plot_f0(fake_table)
    assert "semitones" in fig.axes[1].get_ylabel() and fig.axes[0].get_yscale() == "log"



def test_image_figures():
    cfg = FeatureConfig(image_size=(32, 40))
    rng = np.random.default_rng(1)
    means = rng.random((8, 32, 40)).astype(np.float32)
    names = list(metadata.EMOTIONS.values())
    fig = eda.plot_mean_images(means, names, cfg)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(panels) == 8 and panels[0].get_ylabel().startswith("frequency") and panels[-1].get_xlabel() == "time (s)"
    ims = [ax.get_images()[0] for ax in panels]
    assert len({im.get_clim() for im in ims}) == 1  # one shared colour scale
    fig = eda.plot_differences(means, names, cfg)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(panels) == 7 and all(" - neutral" in ax.get_title() for ax in panels)
    lo, hi = panels[0].get_images()[0].get_clim()
    assert lo == -hi  # symmetric around 0 dB
    assert panels[3].get_xlabel() == "time (s)"  # angry: lowest panel of its column


def test_distance_matrix_figure():
    d = pd.DataFrame([[0, 1.5], [1.5, 0]], index=["a", "b"], columns=["a", "b"])
    ax = eda.plot_distance_matrix(d, title="t", unit="dB")
    assert ax.get_title() == "t" and ax.get_xlabel() == "emotion"
    assert ax.figure.axes[-1].get_ylabel() == "distance (dB)"


def test_clip_figures(padded_tone, tmp_path, capsys):
    fig = eda.plot_clip_measurements(padded_tone, SR, title="a tone")
    top, bottom = fig.axes[0], fig.axes[1]
    assert top.get_title() == "a tone" and "dB" in top.get_ylabel() and "Hz" in bottom.get_ylabel()
    assert bottom.get_xlabel() == "time (s)"
    path = tmp_path / "tone.wav"
    audio.write_wav_atomic(path, padded_tone, SR)
    fig = eda.show_extreme(path, "loud")
    assert "grey: silence" in fig.axes[0].get_title() and fig.axes[0].get_ylim()[1] == pytest.approx(0.55, abs=0.01)
    quiet = tmp_path / "steady.wav"
    audio.write_wav_atomic(quiet, tone(1.0, SR, 200.0), SR)
    fig = eda.show_extreme(quiet, "steady")
    assert "no silence found" in fig.axes[0].get_title()
    assert "Audio" in capsys.readouterr().out  # the player (its text form outside a notebook)
