import numpy as np
import pandas as pd
import pytest

from course_utils.base import jupyter
from course_utils.data import audio
from course_utils.sound import features
from course_utils.sound.features import FeatureConfig

from conftest import tone


@pytest.fixture
def clips(tmp_path):
    paths = []
    for i, f in enumerate([200.0, 800.0, 3000.0]):
        p = tmp_path / "wav" / f"03-01-0{i + 1}-01-01-01-01.wav"
        audio.write_wav_atomic(p, tone(1.0, 48_000, f, pad=0.4), 48_000)
        paths.append(str(p))
    return pd.DataFrame({"path": paths})


def test_log_mel_range_and_shape():
    cfg = FeatureConfig(image_size=(64, 64), duration=1.0)
    y = tone(1.0, 22_050, 1000.0)
    S = features.log_mel(y, 22_050, cfg)
    assert S.shape == (64, 1 + 22_050 // 256)
    assert S.max() == pytest.approx(0.0) and S.min() >= -80.0


def test_to_image_scales_and_resizes():
    S = np.linspace(-100, 0, 40 * 50, dtype=np.float32).reshape(40, 50)
    img = features.to_image(S, (32, 16))
    assert img.shape == (32, 16) and img.dtype == np.float32
    assert img.min() == 0.0 and img.max() <= 1.0 and img.max() > 0.95
    same = features.to_image(S, (40, 50))
    assert same[0, 0] == 0.0 and same[-1, -1] == 1.0


def test_clip_image_puts_low_tones_low(clips):
    cfg = FeatureConfig(image_size=(64, 48), duration=1.0)
    low = features.clip_image(clips["path"][0], cfg)
    high = features.clip_image(clips["path"][2], cfg)
    assert low.shape == high.shape == (64, 48)
    assert np.argmax(low.mean(axis=1)) < np.argmax(high.mean(axis=1))


def test_signal_image_is_clip_image_after_loading(clips):
    from course_utils.data import audio

    cfg = FeatureConfig(image_size=(64, 48), duration=1.0)
    y, _ = audio.load_audio(clips["path"][1], sr=cfg.sample_rate)
    np.testing.assert_array_equal(features.signal_image(y, cfg), features.clip_image(clips["path"][1], cfg))


def test_compute_images_caches_atomically(clips, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")  # as in papermill's kernels: a text bar, no widget
    cfg = FeatureConfig(image_size=(32, 32), duration=1.0)
    cache = tmp_path / "cache"
    capsys.readouterr()
    first = features.compute_images(clips, cfg, dataset="t", cache_dir=cache, n_jobs=1)
    err = capsys.readouterr().err
    assert "log-Mel images" in err and "3/3" in err and err.count("\n") == 1
    assert first.shape == (3, 32, 32) and first.dtype == np.float32
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz" and not files[0].name.startswith(".")

    def boom(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(features, "clip_image", boom)
    again = features.compute_images(clips, cfg, dataset="t", cache_dir=cache, n_jobs=1, progress=False)
    np.testing.assert_array_equal(first, again)
    # another recipe or another subset is another cache entry
    assert features.cache_path(clips, cfg, "t", cache) != features.cache_path(clips, FeatureConfig(image_size=(32, 16)), "t", cache)
    assert features.cache_path(clips, cfg, "t", cache) != features.cache_path(clips.iloc[:2], cfg, "t", cache)
    with pytest.raises(AssertionError, match="recomputed"):
        features.compute_images(clips.iloc[:2], cfg, dataset="t", cache_dir=cache, n_jobs=1, progress=False)
    assert len(list(cache.iterdir())) == 1  # the failed run left nothing behind


def test_config_key_is_stable_and_sensitive():
    assert FeatureConfig().key() == FeatureConfig().key()
    assert FeatureConfig().key() != FeatureConfig(hop_length=512).key()
    assert FeatureConfig().mels == 256 and FeatureConfig(n_mels=128).mels == 128


@pytest.mark.sample
def test_real_ravdess_sample_images(shared_sample, tmp_path):
    """The whole recipe on real speech: 120 clips of actors 01 and 02 (two of them stereo)."""
    from course_utils.data import metadata

    meta = metadata.build_metadata(shared_sample)
    assert len(meta) == 120 and (meta["channels"] == 2).sum() == 2
    cfg = FeatureConfig(image_size=(128, 128))
    images = features.compute_images(meta, cfg, dataset="sample", cache_dir=tmp_path, progress=False)
    assert images.shape == (120, 128, 128) and images.min() >= 0 and images.max() <= 1
    # trimmed speech fills most of the 2.5 s window: few all-quiet frames, and the loudest pixel is 1
    frame_level = images.mean(axis=1)
    assert np.median((frame_level > 0.2).mean(axis=1)) > 0.6
    assert np.allclose(images.max(axis=(1, 2)), 1.0, atol=0.03)  # bilinear resizing softens the peak a little
    # the stereo clips give images like the others
    stereo = meta.index[meta["channels"] == 2]
    assert np.all(images[stereo].mean(axis=(1, 2)) > 0.2)


def test_speaker_standardise_removes_each_speakers_offset_and_keeps_differences():
    rng = np.random.default_rng(0)
    speakers = np.repeat([1, 2, 3], 20)
    emotion = np.tile([0.0, 1.0], 30)  # what should survive
    voice = np.repeat([100.0, 200.0, 300.0], 20)  # what should go
    x = np.stack([voice + 10 * emotion + rng.normal(0, 1, 60), rng.normal(0, 1, 60)], axis=1)
    x[0, 1] = np.nan
    z = features.speaker_standardise(x, speakers)
    for s in (1, 2, 3):
        part = z[speakers == s]
        np.testing.assert_allclose(np.nanmean(part, axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(np.nanstd(part, axis=0), 1, atol=1e-2)
    assert np.isnan(z[0, 1]) and z.dtype == np.float32
    assert np.corrcoef(z[:, 0], emotion)[0, 1] > 0.95 and abs(np.corrcoef(x[:, 0], emotion)[0, 1]) < 0.2
    images = rng.random((6, 4, 5)).astype(np.float32) + np.repeat([0.0, 5.0], 3)[:, None, None]
    zi = features.speaker_standardise(images, [1, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(zi[:3].mean(axis=(0, 2)), 0, atol=1e-5)  # every band of speaker 1
    np.testing.assert_allclose(zi[3:].mean(axis=(0, 2)), 0, atol=1e-5)
    with pytest.raises(ValueError, match="one speaker per clip"):
        features.speaker_standardise(images, [1, 2])
