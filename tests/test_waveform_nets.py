"""Tests of course_utils.learning.waveform_nets (chapter 14): the in-memory corpus and its cache, M5,
SampleCNN and the compact log-Mel CNN, receptive fields, costs and first-layer filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.data import audio
from course_utils.learning import waveform_nets as wn

SR = 8000


@pytest.fixture
def tone_meta(tmp_path):
    """Three WAV files at 16 kHz: silence, a tone (different frequencies and lengths), silence."""
    rows = []
    for i, (f0, dur) in enumerate(((440.0, 0.3), (880.0, 0.5), (220.0, 0.2))):
        sr = 16000
        t = np.arange(int(dur * sr)) / sr
        y = np.concatenate([np.zeros(sr // 5), 0.5 * np.sin(2 * np.pi * f0 * t), np.zeros(sr // 5)]).astype(np.float32)
        path = tmp_path / f"03-01-01-01-01-01-0{i + 1}.wav"
        audio.write_wav_atomic(path, y, sr)
        rows.append({"path": str(path)})
    return pd.DataFrame(rows)


def test_load_clip_trims_resamples_and_centres(tone_meta):
    y = wn.load_clip(tone_meta["path"][0], SR, 8000)
    assert y.shape == (8000,) and y.dtype == np.float32
    # a 0.3 s tone = 2400 samples at 8 kHz, centred in 1 s: (near) silence at both ends, tone in the middle
    assert np.abs(y[:1000]).max() < 0.01 and np.abs(y[-1000:]).max() < 0.01
    assert np.abs(y[3500:4500]).max() > 0.4
    short = wn.load_clip(tone_meta["path"][1], SR, 1000)  # longer than 1000 samples: cropped, all tone
    assert np.abs(short).min() < 0.5 and np.abs(short[::5]).max() > 0.4


def test_load_waveforms_caches_atomically_and_reuses(tone_meta, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    waves = wn.load_waveforms(tone_meta, sr=SR, n_samples=3000, dataset="t", cache_dir=cache, n_jobs=1, progress=False)
    assert waves.shape == (3, 3000) and waves.dtype == np.float32
    target = wn.cache_path(tone_meta, sr=SR, n_samples=3000, dataset="t", cache_dir=cache)
    assert target.exists() and target.name.startswith("waves-t-8000hz-3000-")
    assert [p.name for p in cache.iterdir()] == [target.name]  # no temporary file left behind

    def fail(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(wn, "load_clip", fail)
    again = wn.load_waveforms(tone_meta, sr=SR, n_samples=3000, dataset="t", cache_dir=cache, n_jobs=1, progress=False)
    np.testing.assert_array_equal(again, waves)
    # another length or subset has its own cache entry
    assert wn.cache_path(tone_meta, sr=SR, n_samples=2000, dataset="t", cache_dir=cache) != target
    assert wn.cache_path(tone_meta.iloc[:2], sr=SR, n_samples=3000, dataset="t", cache_dir=cache) != target


def test_memory_table_counts_bytes():
    t = wn.memory_table([("waves", (1440, 19683), "float32"), ("R", (1440, 256, 256), "float64 (R's numeric)")])
    assert t["values"].tolist() == [1440 * 19683, 1440 * 65536]
    assert t["MB"].tolist() == pytest.approx([1440 * 19683 * 4 / 1e6, 1440 * 65536 * 8 / 1e6])
    assert t["shape"].iloc[1] == "1440 x 256 x 256"
    with pytest.raises(KeyError, match="number type"):
        wn.memory_table([("x", (2,), "int8")])



def test_log_mel_images_shape_and_range():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3**7)).astype(np.float32)
    img = wn.log_mel_images(x, SR, n_fft=256, hop_length=64, n_mels=32)
    assert img.shape == (2, 32, 1 + 3**7 // 64)
    assert img.min() >= 0 and img.max() == pytest.approx(1.0)


def test_make_wave_dataset_batches_with_channel_and_shuffles_reproducibly():
    waves = np.arange(10 * 6, dtype=np.float32).reshape(10, 6)
    labels = np.arange(10)
    ds = wn.make_wave_dataset(waves, labels, batch_size=4, shuffle=True, seed=1)
    x, y = next(iter(ds))
    assert tuple(x.shape) == (4, 6, 1) and tuple(y.shape) == (4,)
    np.testing.assert_array_equal(x.numpy()[:, :, 0], waves[y.numpy()])  # pairs stay together
    order = [int(v) for _, yb in wn.make_wave_dataset(waves, labels, batch_size=4, shuffle=True, seed=1) for v in yb.numpy()]
    again = [int(v) for _, yb in wn.make_wave_dataset(waves, labels, batch_size=4, shuffle=True, seed=1) for v in yb.numpy()]
    assert sorted(order) == list(range(10)) and order == again and order != list(range(10))
    with pytest.raises(ValueError, match="shape"):
        wn.make_wave_dataset(waves[..., None], labels)
    with pytest.raises(ValueError, match="labels"):
        wn.make_wave_dataset(waves, labels[:3])


def test_receptive_field_formula():
    assert wn.receptive_field([]) == (1, 1)
    assert wn.receptive_field([(3, 1)]) == (3, 1)
    assert wn.receptive_field([(3, 3), (3, 1), (3, 3)]) == (3 + 2 * 3 + 2 * 3, 9)
    # M5: 80/4, pool 4, 3, pool 4, 3, pool 4, 3, pool 4
    spec = [(80, 4), (4, 4), (3, 1), (4, 4), (3, 1), (4, 4), (3, 1), (4, 4)]
    assert wn.receptive_field(spec) == (1772, 1024)
    with pytest.raises(ValueError):
        wn.receptive_field([(0, 1)])


def test_m5_structure_parameters_and_layer_table():
    model = wn.m5(3**7, 8, width=8, seed=0)
    assert model.input_shape == (None, 3**7, 1) and model.output_shape == (None, 8)
    # convolutions without bias + batch norm (4 per channel) + dense
    expected = (80 * 8 + 4 * 8) + (3 * 8 * 8 + 4 * 8) + (3 * 8 * 16 + 4 * 16) + (3 * 16 * 32 + 4 * 32) + (32 * 8 + 8)
    assert model.count_params() == expected
    t = wn.layer_table(model, SR)
    assert t["layer"].tolist()[:2] == ["block1_conv", "block1_pool"]
    assert t["parameters"].iloc[0] == 80 * 8 + 4 * 8 and t["parameters"].iloc[1] == 0
    assert t["receptive field"].iloc[-1] == 1772 and t["hop"].iloc[-1] == 1024
    assert t["receptive field (ms)"].iloc[0] == pytest.approx(10.0)
    assert t["frames"].iloc[0] == int(np.ceil(3**7 / 4)) and t["channels"].iloc[-1] == 32
    assert "hop (ms)" not in wn.layer_table(model)
    with pytest.raises(ValueError):
        wn.m5(3**7, 1)


def test_samplecnn_reduces_3_to_the_n_samples_to_one_frame():
    channels = (4, 4, 8, 8)
    model = wn.samplecnn(3**4, 3, channels=channels, seed=0)
    t = wn.layer_table(model, SR)
    assert t["frames"].iloc[-1] == 1 and t["frames"].iloc[0] == 27
    assert t["receptive field"].iloc[0] == 3 and t["hop"].iloc[-1] == 3**4
    assert model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="multiple of 3"):
        wn.samplecnn(100, 3, channels=channels)


def test_models_are_seeded_and_train():
    a, b = wn.m5(3**7, 2, width=4, seed=3), wn.m5(3**7, 2, width=4, seed=3)
    np.testing.assert_array_equal(wn.first_kernel(a), wn.first_kernel(b))
    assert wn.first_kernel(a).shape == (80, 4)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3**7, 1)).astype(np.float32), rng.integers(0, 2, 16)
    wn.compile_model(a)
    before = wn.first_kernel(a).copy()
    a.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(before, wn.first_kernel(a))
    assert a.loss == "sparse_categorical_crossentropy"


def test_logmel_compact_and_multiply_adds():
    model = wn.logmel_compact((16, 16, 1), 4, widths=(2, 4), seed=0)
    assert model.output_shape == (None, 4)
    # conv1: 16*16 positions * 9 * 1 * 2; conv2: 8*8 * 9 * 2 * 4; dense 4 * 4
    assert wn.multiply_adds(model) == 16 * 16 * 9 * 2 + 8 * 8 * 9 * 2 * 4 + 4 * 4
    m = wn.m5(3**7, 2, width=4, seed=0)
    frames1 = int(np.ceil(3**7 / 4))
    assert wn.multiply_adds(m) > frames1 * 80 * 4  # at least the first layer


def test_rate_table_doubles_cost_with_rate():
    t = wn.rate_table([8000, 16000], seconds=0.5, n_clips=10, width=4)
    assert t["samples per clip"].tolist() == [4000, 8000]
    assert t["all clips (MB, float32)"].tolist() == pytest.approx([0.16, 0.32])
    assert t["first kernel (ms)"].tolist() == pytest.approx([10.0, 5.0])
    ratio = t["M multiply-adds per clip"].iloc[1] / t["M multiply-adds per clip"].iloc[0]
    assert 1.8 < ratio < 2.2


def test_filter_responses_find_the_pass_band():
    sr, taps = 8000, 80
    n = np.arange(taps)
    window = np.hanning(taps)
    kernel = np.stack([window * np.cos(2 * np.pi * f * n / sr) for f in (500, 2000)], axis=1)
    freqs, db = wn.filter_responses(kernel, sr, n_fft=1024)
    assert freqs[-1] == sr / 2 and db.shape == (2, 513)
    assert db.max(axis=1) == pytest.approx([0, 0])
    peaks = wn.peak_frequencies(kernel, sr)
    assert peaks == pytest.approx([500, 2000], abs=sr / 1024)
    f1, db1 = wn.filter_responses(kernel[:, 0], sr)  # one filter as a 1-D array
    assert db1.shape == (1, 513)


def test_plots_have_units():
    sr = 8000
    rng = np.random.default_rng(0)
    fig = wn.plot_filter_responses({"a": rng.normal(size=(80, 6)), "b": rng.normal(size=(80, 6))}, sr)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "frequency (Hz)" and "sorted" in ax.get_xlabel() and ax.get_title() == "a"
    assert any("dB" in a.get_ylabel() for a in fig.axes[2:])  # colour bars
    model = wn.m5(3**7, 2, width=4, seed=0)
    fig2 = wn.plot_receptive_fields({"m5": wn.layer_table(model, sr)}, clip_ms=91.0)
    ax2 = fig2.axes[0]
    assert "ms" in ax2.get_ylabel() and ax2.get_yscale() == "log" and len(ax2.lines) == 2


def test_log_mel_images_follow_the_course_recipe():
    from course_utils.sound import features

    rng = np.random.default_rng(1)
    x = (rng.normal(size=(2, 4000)) * np.linspace(0, 1, 4000)).astype(np.float32)
    img = wn.log_mel_images(x, SR, n_fft=256, hop_length=64, n_mels=32)
    cfg = features.FeatureConfig(sample_rate=SR, n_fft=256, hop_length=64, n_mels=32, fmax=SR / 2)
    one = features.to_image(features.log_mel(x[1], SR, cfg), img.shape[1:], cfg.db_range)
    np.testing.assert_allclose(img[1], one, atol=1e-5)


def test_loading_audio_does_not_start_tensorflow():
    import subprocess
    import sys

    code = "import sys, course_utils.learning.waveform_nets; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_input_statistics_are_one_mean_and_std_over_every_value():
    rng = np.random.default_rng(1)
    x = (0.04 * rng.normal(size=(20, 500)) + 0.01).astype(np.float32)
    x[:10] *= 3  # louder clips stay louder after the scaling: one pair for all clips
    mean, std = wn.input_statistics(x)
    assert mean == pytest.approx(float(np.mean(x, dtype=np.float64)), rel=1e-6)
    assert std == pytest.approx(float(np.std(x, dtype=np.float64)), rel=1e-6)
    with pytest.raises(ValueError, match="constant"):
        wn.input_statistics(np.zeros((3, 10), np.float32))
    with pytest.raises(ValueError, match="empty"):
        wn.input_statistics(np.zeros((0, 10), np.float32))


@pytest.mark.parametrize("build, shape", [
    (lambda stats: wn.m5(3**7, 3, width=4, input_stats=stats, seed=5), (3**7, 1)),
    (lambda stats: wn.samplecnn(3**4, 3, channels=(4, 4, 8, 8), input_stats=stats, seed=5), (3**4, 1)),
    (lambda stats: wn.logmel_compact((16, 16, 1), 3, widths=(2, 4), input_stats=stats, seed=5), (16, 16, 1)),
])
def test_input_stats_standardise_first_without_new_parameters(build, shape):
    rng = np.random.default_rng(2)
    x = (0.04 * rng.normal(size=(4, *shape)) + 0.3).astype(np.float32)
    mean, std = wn.input_statistics(x)
    plain, scaled = build(None), build((mean, std))
    assert scaled.layers[1].name == "standardise" and "standardise" not in [layer.name for layer in plain.layers]
    assert scaled.count_params() == plain.count_params()  # a Rescaling layer has no weights
    # the same weights (same seed): the scaled model on x is the plain model on (x - mean) / std
    np.testing.assert_allclose(scaled.predict(x, verbose=0), plain.predict((x - mean) / std, verbose=0), rtol=1e-4, atol=1e-6)
    assert not np.allclose(plain.predict(x, verbose=0), scaled.predict(x, verbose=0), atol=1e-4)
    if shape[-1] == 1 and len(shape) == 2:
        assert wn.layer_table(scaled)["layer"].tolist() == wn.layer_table(plain)["layer"].tolist()
    with pytest.raises(ValueError, match="std > 0"):
        build((0.0, 0.0))


def test_standardised_input_lets_batch_norm_learn_the_true_variance_early():
    """Why chapter 14 standardises and uses momentum 0.9: batch normalisation's moving variance
    starts at 1. Raw amplitudes of std 0.04 give the first convolution outputs far below that,
    so even with momentum 0.9, after 48 steps the moving variance is still several times the
    true one; with standardised input it has reached it."""
    import keras

    assert wn.BN_MOMENTUM == pytest.approx(0.9)
    rng = np.random.default_rng(3)
    x = (0.04 * rng.normal(size=(64, 3**7, 1))).astype(np.float32)
    y = rng.integers(0, 2, 64)
    ratios = {}
    for label, stats in (("raw", None), ("standardised", wn.input_statistics(x))):
        model = wn.compile_model(wn.m5(3**7, 2, width=4, input_stats=stats, seed=0))
        assert model.get_layer("block1_bn").momentum == pytest.approx(wn.BN_MOMENTUM)
        model.fit(x, y, epochs=6, batch_size=8, verbose=0, shuffle=False)  # 48 steps
        conv = keras.Model(model.inputs, model.get_layer("block1_conv").output)
        true_var = np.var(conv.predict(x, verbose=0), axis=(0, 1))
        moving = np.asarray(model.get_layer("block1_bn").moving_variance)
        ratios[label] = float(np.median(moving / true_var))
    assert ratios["raw"] > 5 and ratios["standardised"] < 1.5, ratios
