"""Chapter 16's network as one Keras file that takes sound (course_utils.learning.sound_model)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from course_utils.base import quiet

quiet.import_tensorflow()

import keras  # noqa: E402

from course_utils.data import audio  # noqa: E402
from course_utils.sound import features  # noqa: E402
from course_utils.learning import augment, emotion_net, sound_model  # noqa: E402

CFG = features.FeatureConfig(image_size=(32, 32), duration=1.0)
NAMES = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


def voice(seconds: float, lead: float, tail: float, f0: float = 180.0, seed: int = 0, sr: int = CFG.sample_rate) -> np.ndarray:
    """A vowel-like tone (f0 and harmonics, a slow level change, a little noise) between silences."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 8))
    y = 0.3 * y / np.max(np.abs(y)) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t)) + 0.003 * rng.standard_normal(len(t))
    silence = lambda s: 1e-4 * rng.standard_normal(int(s * sr))  # noqa: E731
    return np.concatenate([silence(lead), y, silence(tail)]).astype(np.float32)


def test_resize_matrix_is_pils_bilinear_resize():
    rng = np.random.default_rng(0)
    for n_in, n_out in ((216, 64), (87, 32), (20, 50)):
        img = rng.random((5, n_in)).astype(np.float32)
        pil = np.asarray(Image.fromarray(img).resize((n_out, 5), Image.BILINEAR))
        np.testing.assert_allclose(img @ sound_model.resize_matrix(n_in, n_out), pil, atol=1e-6)
    assert np.array_equal(sound_model.resize_matrix(7, 7), np.eye(7))
    assert sound_model.front_end(features.FeatureConfig()).n_frames == 216  # 2.5 s at 22,050 Hz, hop 256


@pytest.mark.parametrize("seconds, lead, tail", [(0.5, 0.3, 0.2), (1.6, 0.1, 0.4), (0.91, 0.0, 0.0), (2.2, 0.7, 0.05)],
                         ids=["padded", "cropped", "no-silence", "long-lead"])
def test_the_front_end_makes_the_training_images(seconds, lead, tail):
    """Trimming and centring exactly as audio.preprocess; images as signal_image rounded to float16
    (the cache's precision), up to one float16 step where float32 arithmetic differs."""
    y = voice(seconds, lead, tail, seed=int(10 * seconds))
    front = sound_model.front_end(CFG)
    centred = np.asarray(front.trim_and_centre(y[None]))[0]
    assert np.array_equal(centred, audio.preprocess(y, CFG.sample_rate, CFG.duration, top_db=CFG.trim_top_db))
    want = features.signal_image(y, CFG).astype(np.float16).astype(np.float32)
    got = np.asarray(front(y[None]))[0, :, :, 0]
    assert got.shape == CFG.image_size and got.dtype == np.float32
    assert np.max(np.abs(got - want)) <= 2.0**-11 and np.mean(got != want) < 0.01


def test_the_front_end_keeps_separate_mel_and_image_sizes():
    cfg = features.FeatureConfig(image_size=(24, 40), n_mels=48, duration=1.0)
    y = voice(0.8, 0.2, 0.2)
    got = np.asarray(sound_model.front_end(cfg)(y[None]))[0, :, :, 0]
    want = features.signal_image(y, cfg).astype(np.float16).astype(np.float32)
    assert got.shape == (24, 40) and np.max(np.abs(got - want)) <= 2.0**-10


@pytest.fixture(scope="module")
def image_net():
    images = np.stack([features.signal_image(voice(0.6, 0.1, 0.1, f0=120 + 20 * k, seed=k), CFG) for k in range(6)])
    stats = emotion_net.band_standardisation(images)
    spec = augment.SpecAugment(1, 3, 1, 3, fill="mean", seed=1)
    return emotion_net.compact_cnn((32, 32, 1), 8, (4, 8), 0.3, band_stats=stats, spec_augment=spec, seed=0)


def test_the_saved_model_gives_the_networks_probabilities_in_a_fresh_process(image_net, tmp_path):
    model = sound_model.waveform_model(image_net, CFG, NAMES)
    assert model.input_shape == (None, None) and model.inputs[0].name.startswith("waveform")
    clips = [voice(0.5, 0.2, 0.1, f0=150, seed=3), voice(1.4, 0.05, 0.3, f0=240, seed=4)]  # two lengths
    featurize = lambda y: features.signal_image(y, CFG).astype(np.float16).astype(np.float32)  # noqa: E731
    want = np.stack([image_net.predict(featurize(y)[None, :, :, None], verbose=0)[0] for y in clips])
    here = np.stack([model.predict(y[None], verbose=0)[0] for y in clips])
    np.testing.assert_allclose(here, want, atol=1e-3)
    image_net.compile(optimizer="adam", loss="categorical_crossentropy")  # as a trained network is
    image_net.fit(np.zeros((2, 32, 32, 1), np.float32), np.eye(8)[:2], epochs=1, verbose=0)
    model = sound_model.waveform_model(image_net, CFG, NAMES)  # the trained weights, not the optimiser
    here = np.stack([model.predict(y[None], verbose=0)[0] for y in clips])
    np.testing.assert_allclose(here, np.stack([image_net.predict(featurize(y)[None, :, :, None], verbose=0)[0] for y in clips]), atol=1e-3)
    path = sound_model.save(model, tmp_path / "m.keras")
    assert path.is_file() and not [p for p in tmp_path.iterdir() if p != path]  # no temporary file left
    import zipfile
    import h5py
    with zipfile.ZipFile(path) as z:
        z.extract("model.weights.h5", tmp_path / "unzipped")
    with h5py.File(tmp_path / "unzipped" / "model.weights.h5") as weights:
        stored = []
        weights.visit(stored.append)
    assert not [name for name in stored if "optimizer" in name]
    again = sound_model.predict_in_fresh_process(path, clips)
    np.testing.assert_allclose(again, here, atol=1e-5)
    loaded = sound_model.load(path)
    assert sound_model.class_names(loaded) == NAMES and sound_model.sample_rate(loaded) == CFG.sample_rate


def test_clear_errors(image_net, tmp_path):
    with pytest.raises(ValueError, match="reads \\(32, 32\\) images but the recipe makes \\(64, 64\\)"):
        sound_model.waveform_model(image_net, features.FeatureConfig(image_size=(64, 64)), NAMES)
    with pytest.raises(ValueError, match="8 outputs but 3 class names"):
        sound_model.waveform_model(image_net, CFG, NAMES[:3])
    model = sound_model.waveform_model(image_net, CFG, NAMES)
    with pytest.raises(ValueError, match="m.keras"):
        sound_model.save(model, tmp_path / "m.h5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sound_model.load(tmp_path / "missing.keras")
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="broken.keras is not a loadable Keras model"):
        sound_model.load(tmp_path / "broken.keras")
    with pytest.raises(RuntimeError, match="fresh process failed"):
        sound_model.predict_in_fresh_process(tmp_path / "broken.keras", [voice(0.3, 0.1, 0.1)])
    with pytest.raises(ValueError, match="does not take sound"):
        sound_model.class_names(image_net)
    with pytest.raises(ValueError, match="does not take sound"):
        sound_model.sample_rate(image_net)


def test_an_interrupted_save_leaves_nothing(image_net, tmp_path, monkeypatch):
    model = sound_model.waveform_model(image_net, CFG, NAMES)

    def broken(self, path, *args, **kwargs):
        open(path, "wb").write(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", broken)
    with pytest.raises(KeyboardInterrupt):
        sound_model.save(model, tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []


def test_agreement_says_which_way_it_went():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    good = sound_model.agreement(p + 1e-5, p)
    assert good.startswith("The file alone gives the chapter's probabilities") and "same for 2 of 2" in good
    bad = sound_model.agreement(p[:, ::-1], p)
    assert "does NOT give" in bad and "same for 0 of 2" in bad
    with pytest.raises(ValueError, match="one shape"):
        sound_model.agreement(p, p[:1])
    assert sound_model.match(p[:, ::-1], p) == {"max_difference": pytest.approx(0.6), "same_class": 0.0}
    assert sound_model.match(p + 1e-5, p) == {"max_difference": pytest.approx(1e-5), "same_class": 1.0}
