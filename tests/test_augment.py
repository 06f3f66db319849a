"""Tests of course_utils.learning.augment: image augmentation layers, SpecAugment, waveform
augmentation with its cache, the versions dataset, and the helpers of chapter 10."""

from __future__ import annotations

import math

import keras
import librosa
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from course_utils.data import audio
from course_utils.sound import features, spectrum
from course_utils.learning import augment, models, pipeline


def _runs(mask_1d: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a boolean vector."""
    runs, n = [], 0
    for v in list(mask_1d) + [False]:
        if v:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def _images(n=64, h=20, w=30, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 1.0, (n, h, w, 1)).astype("float32")


# ------------------------------------------------------------------ study image augmentation


def test_study_augmentation_layers_and_fill():
    aug = augment.study_image_augmentation(seed=3)
    zoom, shift = aug.layers
    assert isinstance(zoom, keras.layers.RandomZoom) and isinstance(shift, keras.layers.RandomTranslation)
    assert (zoom.height_lower, zoom.height_upper, zoom.width_factor) == (-0.05, 0.05, None)  # one factor, both axes
    assert (shift.height_lower, shift.height_upper, shift.width_lower, shift.width_upper) == (-0.02, 0.02, -0.02, 0.02)
    assert zoom.fill_mode == shift.fill_mode == "constant" and zoom.fill_value == 0.0
    x = np.full((16, 64, 64, 1), 0.5, dtype="float32")
    out = np.asarray(aug(x, training=True))
    assert out.shape == x.shape
    assert (out == 0).any()  # pixels from outside the image are silence (0), not mirrored speech
    assert not np.allclose(out, x)


def test_study_augmentation_is_identity_in_inference_and_seeded():
    x = _images(8, 64, 64)
    aug = augment.study_image_augmentation(seed=0)
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)
    a = np.asarray(augment.study_image_augmentation(seed=0)(x, training=True))
    b = np.asarray(augment.study_image_augmentation(seed=0)(x, training=True))
    c = np.asarray(augment.study_image_augmentation(seed=1)(x, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# ------------------------------------------------------------------ SpecAugment


def test_specaugment_frequency_masks_have_the_right_widths_and_fill():
    x = _images()
    layer = augment.SpecAugment(freq_masks=1, max_freq_width=6, time_masks=0, seed=0)
    out = np.asarray(layer(x, training=True))
    mean = x.mean(axis=(1, 2, 3))
    widths = []
    for i in range(len(x)):
        masked = out[i, :, :, 0] != x[i, :, :, 0]
        rows = masked.all(axis=1)
        assert (masked.any(axis=1) == rows).all()  # whole Mel bands, across all frames
        runs = _runs(rows)
        assert len(runs) <= 1
        widths.append(runs[0] if runs else 0)
        np.testing.assert_allclose(out[i, rows, :, 0], mean[i], rtol=1e-6)
    assert max(widths) <= 6 and set(widths) == set(range(7))  # every width 0 .. 6 occurs


def test_specaugment_time_masks_have_the_right_widths():
    x = _images()
    layer = augment.SpecAugment(freq_masks=0, time_masks=2, max_time_width=4, fill="min", seed=1)
    out = np.asarray(layer(x, training=True))
    total = []
    for i in range(len(x)):
        at_min = out[i, :, :, 0] == x[i].min()  # the fill: the image's minimum
        cols = at_min.all(axis=0)  # whole frames, across all bands
        changed = out[i, :, :, 0] != x[i, :, :, 0]
        assert not changed[:, ~cols].any()  # nothing outside the masked frames changed
        runs = _runs(cols)
        assert all(r <= 8 for r in runs) and len(runs) <= 2
        total.append(cols.sum())
    assert max(total) <= 8 and max(total) > 4  # two masks of up to 4 frames: more than one mask's worth


def test_specaugment_both_axes_and_width_capped_by_image():
    x = _images(8, 5, 7)
    out = np.asarray(augment.SpecAugment(2, 50, 2, 50, seed=0)(x, training=True))
    assert out.shape == x.shape
    assert (out != x).any()


def test_specaugment_inference_is_identity():
    x = _images(4)
    layer = augment.SpecAugment(2, 6, 2, 6, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(augment.SpecAugment(0, 6, 0, 6)(x, training=True)), x)
    assert layer.compute_output_shape((None, 20, 30, 1)) == (None, 20, 30, 1)


def test_specaugment_is_seeded():
    x = _images(8)
    a = np.asarray(augment.SpecAugment(2, 6, 2, 6, seed=5)(x, training=True))
    b = np.asarray(augment.SpecAugment(2, 6, 2, 6, seed=5)(x, training=True))
    c = np.asarray(augment.SpecAugment(2, 6, 2, 6, seed=6)(x, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_specaugment_config_roundtrip_and_bad_arguments():
    layer = augment.SpecAugment(3, 10, 1, 20, fill="min", seed=7, name="spec")
    clone = augment.SpecAugment.from_config(layer.get_config())
    assert (clone.freq_masks, clone.max_freq_width, clone.time_masks, clone.max_time_width, clone.fill, clone.seed) == (3, 10, 1, 20, "min", 7)
    assert clone.name == "spec"
    with pytest.raises(ValueError, match="fill"):
        augment.SpecAugment(fill="zero")
    with pytest.raises(ValueError, match="max_time_width"):
        augment.SpecAugment(max_time_width=-1)
    with pytest.raises(ValueError, match="freq_masks"):
        augment.SpecAugment(freq_masks=1.5)


# ------------------------------------------------------------------ wrapping a model


def test_with_augmentation_leaves_predictions_and_parameters_unchanged(tmp_path):
    base = models.study_cnn((32, 32, 1), n_classes=8, dense_units=8, seed=0)
    assert augment.with_augmentation(base) is base
    wrapped = augment.with_augmentation(base, augment.study_image_augmentation(0), augment.SpecAugment(1, 4, 1, 4, seed=0))
    assert wrapped.count_params() == base.count_params()
    assert wrapped.name == "study_cnn_augmented"
    x = _images(6, 32, 32)
    p_base = base.predict(x, verbose=0)
    np.testing.assert_allclose(wrapped.predict(x, verbose=0), p_base, rtol=1e-6)
    # the augmentation runs inside training, and changes the output there
    assert not np.allclose(np.asarray(wrapped(x, training=True)), np.asarray(base(x, training=True)))
    # serialisable: save, load, same predictions
    path = tmp_path / "m.keras"
    wrapped.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[1], augment.SpecAugment)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), p_base, rtol=1e-6)


# ------------------------------------------------------------------ Mel shifts


def test_mel_shift_is_a_hz_offset_below_1k_and_a_ratio_above():
    cfg = features.FeatureConfig()
    centres = augment.band_frequencies(cfg)
    assert len(centres) == 256 and centres[0] > 0 and centres[-1] < cfg.sample_rate / 2
    np.testing.assert_allclose(augment.mel_shift_hz(centres[:-5], 5, cfg), centres[5:], rtol=1e-6)
    np.testing.assert_allclose(augment.mel_shift_hz([100.0, 500.0], 0, cfg), [100.0, 500.0])
    low = augment.mel_shift_hz([100.0, 200.0], 5, cfg) - [100.0, 200.0]
    assert low[0] == pytest.approx(low[1]) and low[0] > 0  # the same number of Hz
    high = augment.mel_shift_hz([2000.0, 4000.0], 5, cfg) / [2000.0, 4000.0]
    assert high[0] == pytest.approx(high[1])  # the same ratio
    assert augment.band_spacing_mel(cfg) == pytest.approx(
        (librosa.hz_to_mel(cfg.sample_rate / 2) - librosa.hz_to_mel(0.0)) / 257)
    assert spectrum.semitones(110.0, 220.0) == pytest.approx(12.0)


# ------------------------------------------------------------------ waveform augmentation


def _sine(freq=440.0, seconds=1.0, sr=22_050, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype("float32")


def test_add_noise_hits_the_snr_and_is_seeded():
    y = _sine(seconds=4.0)
    for snr in (0.0, 20.0):
        noisy = augment.add_noise(y, snr, rng=1)
        measured = 10 * np.log10(np.mean(y.astype(float) ** 2) / np.mean((noisy - y).astype(float) ** 2))
        assert measured == pytest.approx(snr, abs=0.1)
    np.testing.assert_array_equal(augment.add_noise(y, 10, rng=3), augment.add_noise(y, 10, rng=3))
    quiet = augment.add_noise(np.zeros(1000, "float32"), 10, rng=0, signal_power=0.01)
    assert np.mean(quiet.astype(float) ** 2) == pytest.approx(0.001, rel=0.15)


def test_change_gain_scales_and_clips():
    y = _sine(amp=0.3)
    np.testing.assert_allclose(augment.change_gain(y, 20 * np.log10(2)), 2 * y, rtol=1e-5)
    loud = augment.change_gain(y, 20.0)
    assert loud.max() == pytest.approx(1.0) and loud.min() == pytest.approx(-1.0)


def _peak_hz(y, sr=22_050):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / sr)[spectrum.argmax()]


def test_pitch_shift_and_time_stretch_wrap_librosa():
    y = _sine(440.0)
    up = augment.pitch_shift(y, 22_050, 12)
    assert len(up) == len(y) and _peak_hz(up) == pytest.approx(880.0, abs=5)
    np.testing.assert_array_equal(augment.pitch_shift(y, 22_050, 0), y)
    fast = augment.time_stretch(y, 2.0)
    assert len(fast) == pytest.approx(len(y) / 2, abs=2) and _peak_hz(fast) == pytest.approx(440.0, abs=5)
    np.testing.assert_array_equal(augment.time_stretch(y, 1.0), y)


def test_draw_respects_ranges_probability_and_seed():
    settings = augment.WaveformAugmentation()
    draws = [settings.draw(np.random.default_rng(i)) for i in range(200)]
    assert settings.draw(5) == settings.draw(5)
    for d in draws:
        used = [d["semitones"] != 0, d["rate"] != 1, d["gain_db"] != 0, d["snr_db"] is not None]
        assert any(used)
        assert -1.5 <= d["semitones"] <= 1.5 and 0.9 <= d["rate"] <= 1.1 and -6 <= d["gain_db"] <= 6
        assert d["snr_db"] is None or 20 <= d["snr_db"] <= 40
    share_pitch = np.mean([d["semitones"] != 0 for d in draws])
    assert 0.4 < share_pitch < 0.7  # probability 0.5, a little more because one is forced when none is drawn
    none = augment.WaveformAugmentation(probability=0.0).draw(0)
    assert sum([none["semitones"] != 0, none["rate"] != 1, none["gain_db"] != 0, none["snr_db"] is not None]) == 1
    every = augment.WaveformAugmentation(probability=1.0).draw(0)
    assert every["snr_db"] is not None and every["rate"] != 1


def test_augment_waveform_is_the_course_preprocessing_plus_the_changes():
    sr = 22_050
    y = np.concatenate([np.zeros(sr // 2), _sine(300.0, 1.0, sr), np.zeros(sr // 2)]).astype("float32")
    neutral = augment.augment_waveform(y, sr, {}, duration=2.0)
    np.testing.assert_array_equal(neutral, audio.preprocess(y, sr, 2.0))
    cfg = features.FeatureConfig(duration=2.0, image_size=(64, 64))
    louder = augment.augment_waveform(y, sr, {"gain_db": 3.0}, duration=2.0)
    assert np.abs(louder).max() == pytest.approx(np.abs(neutral).max() * 10 ** (3 / 20), rel=1e-5)
    # the image is measured relative to the loudest bin: a gain alone does not change it
    np.testing.assert_allclose(augment.waveform_image(louder, sr, cfg), augment.waveform_image(neutral, sr, cfg), atol=1e-4)
    slow = augment.augment_waveform(y, sr, {"rate": 0.5}, duration=3.0)
    assert len(slow) == 3 * sr and np.count_nonzero(slow) > 1.8 * np.count_nonzero(audio.preprocess(y, sr, 3.0))
    noisy = augment.augment_waveform(y, sr, {"snr_db": 10.0, "noise_seed": 1}, duration=2.0)
    assert np.count_nonzero(noisy) == len(noisy)  # noise over the padding too
    np.testing.assert_array_equal(noisy, augment.augment_waveform(y, sr, {"snr_db": 10.0, "noise_seed": 1}, duration=2.0))


def test_augmented_images_shape_cache_and_reproducibility(wav_meta, tmp_path, monkeypatch):
    cfg = features.FeatureConfig(duration=1.5, image_size=(32, 32))
    settings = augment.WaveformAugmentation(probability=1.0)
    copies = augment.augmented_images(wav_meta, cfg, settings, copies=2, seed=0, dataset="t",
                                      cache_dir=tmp_path, n_jobs=1, progress=False)
    assert copies.shape == (2, 3, 32, 32) and copies.dtype == np.float16
    assert 0 <= copies.min() and copies.max() <= 1
    assert not np.array_equal(copies[0], copies[1])
    original = features.compute_images(wav_meta, cfg, dataset="t", cache_dir=tmp_path, n_jobs=1, progress=False)
    assert not np.allclose(copies[0].astype("float32"), original, atol=1e-3)
    target = augment.cache_path(wav_meta, cfg, settings, 2, 0, "t", tmp_path)
    assert target.exists() and target.name.startswith("wavaug-t-")

    def boom(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(augment, "_augmented_copies", boom)
    again = augment.augmented_images(wav_meta, cfg, settings, copies=2, seed=0, dataset="t",
                                     cache_dir=tmp_path, n_jobs=1, progress=False)
    np.testing.assert_array_equal(again, copies)
    # other settings, seed or number of copies: another cache entry
    other = {augment.cache_path(wav_meta, cfg, augment.WaveformAugmentation(), 2, 0, "t", tmp_path),
             augment.cache_path(wav_meta, cfg, settings, 2, 1, "t", tmp_path),
             augment.cache_path(wav_meta, cfg, settings, 1, 0, "t", tmp_path)}
    assert target not in other and len(other) == 3
    with pytest.raises(ValueError, match="copies"):
        augment.augmented_images(wav_meta, cfg, settings, copies=0, cache_dir=tmp_path)


def test_describe_names_only_the_transforms_used():
    assert augment.describe({"semitones": 0.75, "rate": 1.0, "gain_db": 0.0, "snr_db": None}) == "pitch +0.8 st"
    full = {"semitones": -1.2, "rate": 0.93, "gain_db": 2.0, "snr_db": 27.4, "noise_seed": 1}
    assert augment.describe(full) == "pitch -1.2 st, stretch 0.93, gain +2.0 dB, noise at 27 dB SNR"
    assert augment.describe({}) == "unchanged"


def test_image_to_audio_gives_back_a_sound_with_the_image_harmonics():
    sr = 22_050
    cfg = features.FeatureConfig(duration=1.0, n_fft=1024, hop_length=256, image_size=(64, 48))
    tone = _sine(500.0, 1.0, sr)
    image = augment.waveform_image(tone, sr, cfg)
    back = features.image_to_audio(image, cfg, n_iter=8)  # 10 listens to augmented images
    assert len(back) == sr and np.isfinite(back).all() and np.abs(back).max() > 0
    assert _peak_hz(back[2000:-2000]) == pytest.approx(500.0, rel=0.1)  # within a Mel band or so


def test_copy_generators_depend_on_name_copy_and_seed():
    a = augment.copy_rng("/x/03-01-01-01-01-01-01.wav", 0, 0).random()
    assert a == augment.copy_rng("/elsewhere/03-01-01-01-01-01-01.wav", 0, 0).random()
    assert a != augment.copy_rng("/x/03-01-01-01-01-01-01.wav", 1, 0).random()
    assert a != augment.copy_rng("/x/03-01-01-01-01-01-01.wav", 0, 1).random()


# ------------------------------------------------------------------ versions dataset


def _bank(n=10, k=2, h=4, w=3):
    """Image (version v, clip i) is constant v * 100 + i, so every batch tells what it holds."""
    values = np.arange(k + 1)[:, None] * 100 + np.arange(n)[None, :]
    bank = np.broadcast_to(values[:, :, None, None], (k + 1, n, h, w)).astype("float32")
    return bank[0], bank[1:]


def _epoch(ds):
    clips, versions, labels = [], [], []
    for x, y in ds:
        v = x.numpy()[:, 0, 0, 0].astype(int)
        clips += list(v % 100)
        versions += list(v // 100)
        labels += list(y.numpy())
    return np.array(clips), np.array(versions), np.array(labels)


def test_versions_dataset_draws_one_version_per_clip_per_epoch():
    original, copies = _bank()
    labels = np.arange(10) % 3
    ds = augment.versions_dataset(original, copies, labels, batch_size=4, seed=0)
    epochs = [_epoch(ds) for _ in range(6)]
    for clips, versions, lab in epochs:
        assert sorted(clips) == list(range(10))  # every clip exactly once
        np.testing.assert_array_equal(lab, labels[clips])  # labels follow their clip
    versions = np.concatenate([v for _, v, _ in epochs])
    assert set(versions) == {0, 1, 2}  # original and both copies are drawn
    assert not all(np.array_equal(epochs[0][0], e[0]) for e in epochs[1:])  # reshuffled
    # a fresh dataset with the same seed repeats the same sequence of epochs
    again = augment.versions_dataset(original, copies, labels, batch_size=4, seed=0)
    for e, f in zip(epochs[:3], [_epoch(again) for _ in range(3)]):
        np.testing.assert_array_equal(e[0], f[0])
        np.testing.assert_array_equal(e[1], f[1])
    unaugmented = pipeline.make_dataset(original, labels, batch_size=4, shuffle=True)
    assert len(list(ds)) == len(list(unaugmented)) == math.ceil(10 / 4)  # same budget
    x, _ = next(iter(ds))
    assert x.shape == (4, 4, 3, 1) and x.dtype == "float32"
    # with return_versions, the third element names the version of each image
    tagged = augment.versions_dataset(original, copies, labels, batch_size=4, seed=0, return_versions=True)
    for xb, _, vb in tagged:
        np.testing.assert_array_equal(xb.numpy()[:, 0, 0, 0].astype(int) // 100, vb.numpy())


def test_versions_dataset_checks_shapes():
    original, copies = _bank()
    with pytest.raises(ValueError, match="copies"):
        augment.versions_dataset(original, copies[0], np.zeros(10))
    with pytest.raises(ValueError, match="labels"):
        augment.versions_dataset(original, copies, np.zeros(9))


# ------------------------------------------------------------------ results and figures


def test_history_summary():
    h = pd.DataFrame({"epoch": [1, 2, 3], "accuracy": [0.3, 0.6, 0.9], "val_accuracy": [0.2, 0.5, 0.4],
                      "seconds": [2.0, 1.0, 3.0]})
    h.attrs["best_epoch"] = 2
    s = augment.history_summary(h)
    assert s == {"best_epoch": 2, "train_accuracy": 0.6, "val_accuracy": 0.5, "gap": pytest.approx(0.1),
                 "seconds_per_epoch": 2.0}


def test_figures_have_labelled_axes():
    cfg = features.FeatureConfig(image_size=(64, 64))
    img = np.random.default_rng(0).random((64, 64))
    fig = augment.plot_images({"a": img, "b": img, "c": img, "d": img}, cfg, ncols=3, title="t")
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(visible) == 4
    assert all(ax.get_xlabel() == "time (s)" and "Hz" in ax.get_ylabel() for ax in visible)
    assert "1k" in [t.get_text() for t in visible[0].get_yticklabels()]
    fig = augment.plot_images({"low": img}, cfg, fmax_shown=1500)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "200" in labels and "4k" not in labels and ax.get_ylim()[1] < 64
    ax = augment.plot_harmonics_after_shift(120.0, 5, cfg)
    assert ax.get_xlabel() == "harmonic number k" and ax.get_ylabel() == "frequency (Hz)" and len(ax.lines) == 3
    h = pd.DataFrame({"epoch": [1, 2], "accuracy": [0.3, 0.6], "val_accuracy": [0.2, 0.5], "seconds": [1.0, 1.0]})
    h.attrs["best_epoch"] = 2
    y = np.zeros(22_050, "float32")
    y[1000:9000] = 0.3 * np.sin(np.arange(8000) / 5)
    cfg1 = features.FeatureConfig(duration=1.0, image_size=(32, 32))
    fig = augment.show_waveform_and_image(y, 22_050, cfg1, title="a clip")
    assert fig.axes[0].get_ylabel() == "amplitude (full scale)" and "Hz" in fig.axes[1].get_ylabel()
    fig = augment.plot_accuracy_curves({"none": h, "specaugment": h}, title="x")
    assert [a.get_title() for a in fig.axes][1] == "Validation accuracy"
    assert all(a.get_xlabel() == "Epoch" for a in fig.axes)
    plt.close("all")
