"""Tests of course_utils.learning.speech_models (chapter 18): where the weights come from, the local
random-weight preset and its loading path, Whisper's input, the embeddings and light fine-tuning.

Nothing here touches the network: the hub is made unreachable (or asked for a local port), and
every model is the offline preset that chapter 18 loads on a machine without internet, made in a
temporary data folder and loaded with keras-hub's ``from_preset`` exactly as the chapter loads it.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras_hub = pytest.importorskip("keras_hub")

from course_utils.base.errors import CourseError, InputError  # noqa: E402
from course_utils.data import audio, splits  # noqa: E402
from course_utils.learning import speech_models as sm  # noqa: E402


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data folder of its own: the local preset and the embeddings' cache go there."""
    folder = tmp_path_factory.mktemp("speech-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def encoder(data_dir):
    """The chapter's offline model: the default local preset (seed 0), loaded through from_preset."""
    source = sm.choose_source("offline", seed=0)
    return sm.load_encoder(source)


@pytest.fixture
def offline_hub(monkeypatch):
    """A machine where the hub cannot be reached and nothing was downloaded before."""
    calls = []

    def unreachable(host, timeout=sm.HUB_TIMEOUT_S, port=443):
        calls.append((host, timeout))
        return False, "gaierror: [Errno -2] Name or service not known"

    monkeypatch.setattr(sm, "hub_reachable", unreachable)
    monkeypatch.setattr(sm, "hub_cached", lambda preset: None)
    return calls


def _weights(folder: Path) -> list[np.ndarray]:
    backbone = keras_hub.models.WhisperBackbone.from_preset(str(folder))
    return [np.asarray(w) for w in backbone.get_weights()]


# ----------------------------------------------------------------------------- the local preset


def test_the_local_preset_is_a_keras_hub_preset_with_random_weights_marked(encoder, data_dir):
    folder = Path(encoder.source.preset)
    assert folder.parent == data_dir / "cache" / "presets" and folder.name.startswith("whisper-random-")
    assert sm.preset_is_whole(folder)
    marker = json.loads((folder / sm.MARKER_FILE).read_text())
    assert marker["random_init"] is True and marker["seed"] == 0
    assert marker["architecture"] == sm.OFFLINE_ARCHITECTURE
    config = json.loads((folder / "config.json").read_text())
    assert config["class_name"] == "WhisperBackbone"  # keras-hub's own format, from save_to_preset
    assert json.loads((folder / "audio_converter.json").read_text())["config"]["max_audio_length"] == 30
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_the_local_preset_is_the_same_for_the_same_seed_and_differs_for_another(tmp_path):
    a = sm.local_preset(seed=3, folder=tmp_path / "a")
    b = sm.local_preset(seed=3, folder=tmp_path / "b")
    c = sm.local_preset(seed=4, folder=tmp_path / "c")
    assert a.name == b.name != c.name
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb))
    assert not all(np.array_equal(x, y) for x, y in zip(wa, wc))


def test_a_whole_local_preset_is_reused_and_a_damaged_one_made_again(tmp_path, capsys):
    folder = sm.local_preset(seed=0, folder=tmp_path)
    stamp = (folder / "model.weights.h5").stat().st_mtime_ns
    assert sm.local_preset(seed=0, folder=tmp_path) == folder
    assert (folder / "model.weights.h5").stat().st_mtime_ns == stamp  # reused, not rewritten
    (folder / "model.weights.h5").unlink()  # a copy that lost a file
    assert not sm.preset_is_whole(folder)
    again = sm.local_preset(seed=0, folder=tmp_path)
    assert again == folder and sm.preset_is_whole(folder)
    assert "incomplete: made again" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


def test_preset_files_measure_the_folder(encoder):
    files = sm.preset_files(sm.preset_folder(encoder.source))
    assert set(sm.PRESET_FILES) <= set(files["file"])
    on_disk = sum(p.stat().st_size for p in Path(encoder.source.preset).rglob("*") if p.is_file())
    assert files["megabytes"].sum() == pytest.approx(on_disk / 1e6)
    assert files["file"].iloc[0] == "model.weights.h5"  # the weights are the bulk


# ----------------------------------------------------------------------------- choosing the source


def test_offline_when_asked_without_trying_the_hub(data_dir, offline_hub):
    source = sm.choose_source("offline", seed=0)
    assert offline_hub == []
    assert not source.hub and not source.pretrained and "offline" in source.reason
    assert "RANDOM weights" in source.describe() and source.preset in source.describe()
    assert sm.model_tag(source) == "whisper_random_init"


def test_auto_falls_back_offline_and_says_why(data_dir, offline_hub):
    source = sm.choose_source("auto", sm.HUB_PRESET, timeout=1.5, seed=0)
    assert offline_hub == [("www.kaggle.com", 1.5)]
    assert not source.pretrained and Path(source.preset).is_dir()
    assert "www.kaggle.com" in source.reason and "Name or service not known" in source.reason
    text = source.describe()
    assert text.startswith("OFFLINE") and "NOT use Whisper's trained weights" in text and sm.HUB_PRESET in text


def test_hub_only_refuses_to_fall_back_and_names_the_fix(data_dir, offline_hub):
    with pytest.raises(CourseError, match="could not be reached") as err:
        sm.choose_source("hub", sm.HUB_PRESET, seed=0)
    assert "Fix:" in str(err.value) and "source = 'auto'" in str(err.value)


def test_a_reachable_hub_or_an_earlier_download_is_taken(monkeypatch, tmp_path):
    monkeypatch.setattr(sm, "hub_cached", lambda preset: None)
    monkeypatch.setattr(sm, "hub_reachable", lambda host, timeout=5.0, port=443: (True, ""))
    online = sm.choose_source("auto", sm.HUB_PRESET)
    assert online.hub and online.pretrained and online.preset == sm.HUB_PRESET
    assert online.describe().startswith("PRETRAINED") and sm.model_tag(online) == "whisper_tiny_en"
    monkeypatch.setattr(sm, "hub_cached", lambda preset: tmp_path)
    monkeypatch.setattr(sm, "hub_reachable", lambda *a, **k: pytest.fail("a cached preset needs no network"))
    cached = sm.choose_source("hub", sm.HUB_PRESET)
    assert cached.hub and str(tmp_path) in cached.reason


def test_a_local_folder_is_taken_as_it_is(encoder, tmp_path):
    random_copy = sm.choose_source("auto", encoder.source.preset)
    assert not random_copy.hub and not random_copy.pretrained  # the marker says: random weights
    trained_copy = tmp_path / "whisper_tiny_en"
    trained_copy.mkdir()
    for name in sm.PRESET_FILES:
        (trained_copy / name).write_bytes((Path(encoder.source.preset) / name).read_bytes())
    source = sm.choose_source("auto", str(trained_copy))
    assert source.pretrained and sm.model_tag(source) == "whisper_tiny_en"
    (trained_copy / "model.weights.h5").unlink()
    with pytest.raises(InputError, match="lacks some of"):
        sm.choose_source("auto", str(trained_copy))


def test_unknown_sources_and_presets_are_refused():
    with pytest.raises(ValueError, match="source must be one of"):
        sm.choose_source("online")
    with pytest.raises(InputError, match="Fix: set preset"):
        sm.choose_source("auto", "whisper_huge_xx")


def test_hub_hosts():
    assert sm.hub_host("whisper_tiny_en") == "www.kaggle.com"
    assert sm.hub_host("kaggle://keras/whisper/keras/whisper_tiny_en/4") == "www.kaggle.com"
    assert sm.hub_host("hf://openai/whisper-tiny") == "huggingface.co"
    assert sm.hub_host("no/such/folder") is None


def test_hub_reachable_answers_quickly_either_way():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert sm.hub_reachable("127.0.0.1", timeout=2, port=port) == (True, "")
    t0 = time.perf_counter()
    ok, why = sm.hub_reachable("127.0.0.1", timeout=2, port=port)  # nobody listens there any more
    assert not ok and "Error" in why and time.perf_counter() - t0 < 3


def test_hub_reachable_waits_no_longer_than_its_timeout_even_for_a_hanging_name_lookup(monkeypatch):
    def hanging(*args, **kwargs):
        time.sleep(30)  # a resolver that never answers: socket's own timeout does not cover it
        raise OSError("the name lookup gave up")  # as one does in the end (the probe thread outlives the test)

    monkeypatch.setattr(socket, "create_connection", hanging)
    t0 = time.perf_counter()
    ok, why = sm.hub_reachable("www.kaggle.com", timeout=0.5)
    assert not ok and "within 0.5 s" in why and time.perf_counter() - t0 < 2


def test_hub_cached_is_none_for_what_was_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path))
    assert sm.hub_cached(sm.HUB_PRESET) is None
    assert sm.hub_cached("/a/local/folder") is None


def test_a_hub_preset_that_fails_to_load_falls_back_offline(data_dir, monkeypatch):
    monkeypatch.setattr(sm, "hub_cached", lambda preset: None)
    monkeypatch.setattr(sm, "hub_reachable", lambda *a, **k: (True, ""))
    real_load = sm.load_encoder

    def load(source, window_seconds=30):
        if source.hub:
            raise ConnectionError("download interrupted")
        return real_load(source, window_seconds)

    monkeypatch.setattr(sm, "load_encoder", load)
    enc = sm.open_encoder("auto", seed=0)
    assert not enc.source.pretrained and "download interrupted" in enc.source.reason
    with pytest.raises(ConnectionError):
        sm.open_encoder("hub", seed=0)


# ----------------------------------------------------------------------------- the encoder


def test_the_offline_encoder_has_the_architecture_it_was_saved_with(encoder):
    arch = sm.OFFLINE_ARCHITECTURE
    assert isinstance(encoder.backbone, keras_hub.models.WhisperBackbone)
    assert (encoder.n_layers, encoder.width) == (arch["num_layers"], arch["hidden_dim"])
    assert len(encoder.model.outputs) == encoder.n_layers + 1 == len(sm.layer_names(encoder.n_layers))
    table = sm.parameter_table(encoder)
    assert table.loc["whole backbone", "parameters"] == encoder.backbone.count_params()
    assert table.loc["encoder (used here)", "parameters"] + table.loc["decoder and text embedding (not used)", "parameters"] \
        == table.loc["whole backbone", "parameters"]
    assert table.loc["whole backbone", "megabytes"] == pytest.approx(4 * encoder.backbone.count_params() / 1e6)


def test_a_preset_without_its_converter_gets_whispers_settings(encoder, tmp_path, capsys):
    copy = tmp_path / "no_converter"
    copy.mkdir()
    for name in ("config.json", "model.weights.h5", "metadata.json"):
        (copy / name).write_bytes((Path(encoder.source.preset) / name).read_bytes())
    enc = sm.load_encoder(sm.Source(str(copy), False, True, "a copy"), window_seconds=10)
    assert "no audio_converter.json" in capsys.readouterr().out
    assert enc.converter.max_audio_length == 10 and enc.converter.num_mels == 80 and enc.converter.sampling_rate == 16_000


def test_a_window_longer_than_the_position_table_is_refused(encoder):
    with pytest.raises(InputError, match="at most 30 s"):
        sm.load_encoder(encoder.source, window_seconds=31)


def test_clip_positions_count_the_positions_that_hear_the_clip():
    assert sm.clip_positions(16_000) == 50  # 1 s: 100 frames of 10 ms, 50 positions of 20 ms
    assert sm.clip_positions(1) == 1
    assert sm.clip_positions(161) == 1 and sm.clip_positions(321) == 2
    assert sm.clip_positions(16_000 * 60) == 1500  # cut at the 30-s window
    assert sm.clip_positions(16_000 * 60, window_seconds=10) == 500
    with pytest.raises(ValueError):
        sm.clip_positions(0)


def test_features_are_the_converters_log_mel_of_the_padded_clip(encoder):
    rng = np.random.default_rng(0)
    clips = [0.1 * rng.standard_normal(8_000).astype(np.float32), 0.1 * rng.standard_normal(20_000).astype(np.float32)]
    x = sm.features(encoder, clips)
    assert x.shape == (2, 3000, 80) and x.dtype == np.float32
    padded = np.zeros((2, 480_000), np.float32)
    padded[0, :8000], padded[1, :20000] = clips
    reference = np.asarray(encoder.converter(padded))  # keras-hub's NumPy path, called eagerly
    assert np.max(np.abs(x - reference)) < 1e-3
    assert np.allclose(x[0, 100:], x[0, -1])  # after the clip only the padding's floor


def test_embed_pools_the_clips_positions_only(encoder):
    rng = np.random.default_rng(1)
    clips = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (16_000, 24_000, 9_000)]
    out = sm.embed(encoder, clips, batch_size=2, progress=False)
    assert out["pooled"].shape == (3, encoder.n_layers + 1, encoder.width)
    assert list(out["positions"]) == [50, 75, 29]
    layers = encoder.model.predict_on_batch(sm.features(encoder, clips[:1]))
    manual = np.stack([np.asarray(h)[0, :50].mean(axis=0) for h in layers])
    assert np.allclose(out["pooled"][0], manual, atol=1e-5)
    assert out["top"].shape == (3, 75, encoder.width) and out["top"].dtype == np.float16
    assert np.allclose(out["top"][0, :50], np.asarray(layers[-2])[0, :50], atol=1e-2)
    assert not out["top"][0, 50:].any() and out["top"][1, 74].any()
    alone = sm.embed(encoder, clips[2:], progress=False)  # a clip's embedding does not depend on its batch
    assert np.allclose(alone["pooled"][0], out["pooled"][2], atol=1e-5)


def test_cached_embeddings_are_computed_once(encoder, wav_meta, data_dir):
    first = sm.cached_embeddings(wav_meta, "synthetic", encoder, progress=False)
    assert first["from_cache"] is False
    entry = sm.cache_path(wav_meta, "synthetic", encoder)
    assert entry.is_file() and entry.parent == data_dir / "cache" and "whisper_random_init" in entry.name
    again = sm.cached_embeddings(wav_meta, "synthetic", encoder, progress=False)
    assert again["from_cache"] is True and np.array_equal(first["pooled"], again["pooled"])
    assert list(again["filenames"]) == [Path(p).name for p in wav_meta["path"]]
    # trimmed at 30 dB: the 0.4 s of silence on both sides are not the clip's
    expected = [sm.clip_positions(int(s * 16_000)) for s in (0.6, 0.8, 1.0)]
    assert np.all(np.abs(first["positions"] - expected) <= 8), (first["positions"], expected)
    assert sm.cache_path(wav_meta, "synthetic", encoder, top_db=20.0) != entry  # another recipe, another entry


def test_a_silent_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "03-01-01-01-01-01-01.wav"
    audio.write_wav_atomic(path, np.zeros(48_000, np.float32), 48_000)
    with pytest.raises(InputError, match=str(path)) as err:
        sm.load_clip(path)
    assert "Fix:" in str(err.value)


def test_time_per_clip_measures_both_steps(encoder):
    clips = [np.zeros(16_000, np.float32) + 0.01] * 3
    t = sm.time_per_clip(encoder, clips, batch_size=2)
    assert t["clips"] == 3 and t["converter"] > 0 and t["encoder"] > 0
    assert t["total"] == pytest.approx(t["converter"] + t["encoder"])


# ----------------------------------------------------------------------------- fine-tuning


def test_the_finetuning_network_starts_from_the_top_block_and_sees_only_the_clip(encoder):
    model = sm.finetune_model(encoder, 8, seed=0, dropout=0.3)
    top = encoder.backbone.get_layer(f"transformer_encoder_layer_{encoder.n_layers - 1}")
    block = next(layer for layer in model.layers if type(layer) is type(top))
    assert block is not top  # a copy: training it leaves the backbone as it was
    assert all(np.array_equal(a, b) for a, b in zip(block.get_weights(), top.get_weights()))
    rng = np.random.default_rng(0)
    states = rng.standard_normal((2, 10, encoder.width)).astype(np.float32)
    mask = np.array([[1] * 6 + [0] * 4, [1] * 10], np.float32)
    p = model.predict({"states": states, "mask": mask}, verbose=0)
    noisy = states.copy()
    noisy[0, 6:] = 100.0  # what lies after the clip's end
    q = model.predict({"states": noisy, "mask": mask}, verbose=0)
    assert np.allclose(p, q, atol=1e-5) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)


def _toy(encoder, n=96, positions=12, seed=0):
    """States whose mean over the clip depends on the class: a problem a fine-tuned head can learn."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    centres = 2.0 * rng.standard_normal((4, encoder.width))
    top = (0.5 * rng.standard_normal((n, positions, encoder.width)) + centres[y][:, None]).astype(np.float16)
    lengths = rng.integers(4, positions + 1, n)
    for i, p in enumerate(lengths):
        top[i, p:] = 0
    idx = np.arange(n)
    split = splits.Split(idx[idx % 3 == 0], idx[idx % 3 == 1], idx[idx % 3 == 2], name="toy")
    return {"top": top, "positions": lengths}, y, split


def test_finetuning_learns_is_reproducible_and_leaves_the_backbone_alone(encoder):
    data, y, split = _toy(encoder)
    before = [np.array(w) for w in encoder.backbone.get_weights()]
    runs = [sm.finetune(encoder, data, y, split, ["a", "b", "c", "d"], epochs=3, lr=3e-3, batch_size=8, seed=0,
                        progress=False) for _ in range(2)]
    r = runs[0]
    assert r["scores"]["accuracy"] > 0.5 and r["epochs_run"] == 3 and 0 <= r["best_epoch"] <= 3
    assert r["scores"]["confusion"].sum() == len(split.test) == r["scores"]["n_test"]
    assert np.allclose(r["scores"]["probabilities"], runs[1]["scores"]["probabilities"], atol=1e-6)
    head = encoder.width * 4 + 4
    assert r["trainable"] > head  # the top block is trained too, not only the softmax layer
    assert all(np.array_equal(a, b) for a, b in zip(before, encoder.backbone.get_weights()))
    assert isinstance(r["history"], pd.DataFrame) and r["seconds_per_epoch"] > 0


def test_a_head_from_the_linear_classifier_computes_what_it_computes(encoder):
    from course_utils.learning import baseline

    rng = np.random.default_rng(0)
    y = np.arange(120) % 4
    X = (rng.standard_normal((120, 16)) * rng.uniform(0.5, 3, 16) + 2.0 * np.eye(4, 16)[y] + 5.0).astype(np.float32)
    idx = np.arange(120)
    split = splits.Split(idx[idx % 3 == 0], idx[idx % 3 == 1], idx[idx % 3 == 2])
    fit = baseline.fit_select(X, y, split, "logreg", c_grid=[1.0], seed=0)
    head = sm.head_from_linear(fit["model"], 6)  # two classes more than the training clips hold
    kernel = head["kernel"]
    logits = ((X - head["mean"]) / head["scale"]) @ kernel + head["bias"]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert kernel.shape == (16, 6) and np.allclose(p[:, :4], fit["model"].predict_proba(X), atol=1e-4)
    assert np.all(p[:, 4:] < 1e-6)


def test_finetuning_can_start_from_the_linear_classifier(encoder):
    data, y, split = _toy(encoder)
    head = {"mean": np.zeros(encoder.width, np.float32), "scale": np.ones(encoder.width, np.float32),
            "kernel": np.zeros((encoder.width, 4), np.float32), "bias": np.array([5.0, 0.0, 0.0, 0.0], np.float32)}
    r = sm.finetune(encoder, data, y, split, ["a", "b", "c", "d"], epochs=1, lr=1e-9, batch_size=8, dropout=0.0, head=head,
                    progress=False)
    assert np.all(r["start_scores"]["predictions"] == 0)  # the network starts as the head it was given
    assert np.all(r["scores"]["predictions"] == 0)  # and with no learning it stays so
    with pytest.raises(ValueError, match="head must be"):
        sm.finetune(encoder, data, y, split, ["a", "b", "c", "d"], head="random", progress=False)


def test_the_network_with_a_linear_head_computes_what_the_regression_computes(encoder):
    from course_utils.learning import baseline

    data, y, split = _toy(encoder)
    trunk = sm.finetune_trunk(encoder)
    masks = (np.arange(data["top"].shape[1])[None, :] < data["positions"][:, None]).astype(np.float32)
    inputs = {"states": data["top"].astype(np.float32), "mask": masks}
    feats = np.asarray(trunk.predict(inputs, verbose=0))
    fit = baseline.fit_select(feats, y, split, "logreg", c_grid=[1.0], seed=0)
    model = sm.finetune_model(encoder, 4, dropout=0.5, head=sm.head_from_linear(fit["model"], 4), trunk=trunk)
    assert np.allclose(model.predict(inputs, verbose=0), fit["model"].predict_proba(feats), atol=1e-4)


def test_a_start_that_no_epoch_beats_on_validation_is_kept(encoder):
    data, y, split = _toy(encoder)
    r = sm.finetune(encoder, data, y, split, ["a", "b", "c", "d"], epochs=1, lr=0.5, batch_size=8, progress=False)  # a step far too large
    assert r["history"]["val_accuracy"].max() <= r["history"].attrs["start_val_accuracy"]
    assert r["best_epoch"] == 0 and np.allclose(r["scores"]["probabilities"], r["start_scores"]["probabilities"])


def test_the_linear_start_is_a_fitted_classifier_on_the_networks_own_vectors(encoder):
    data, y, split = _toy(encoder)
    r = sm.finetune(encoder, data, y, split, ["a", "b", "c", "d"], epochs=1, lr=1e-9, batch_size=8, progress=False)
    assert r["start_scores"]["accuracy"] > 0.9  # the toy classes are linearly separable: the start already solves them
    assert np.allclose(r["scores"]["probabilities"], r["start_scores"]["probabilities"], atol=1e-3)  # dropout is off at test time


# ----------------------------------------------------------------------------- names and figures


def test_layer_names_and_model_tags():
    assert sm.layer_names(2) == ["input of block 1", "block 1", "output (block 2 + layer norm)"]
    assert sm.layer_names(4)[1:4] == ["block 1", "block 2", "block 3"]
    assert sm.model_tag(sm.Source("kaggle://keras/whisper/keras/whisper_base_en/4", True, True, "")) == "whisper_base_en"
    assert sm.model_tag(sm.Source("hf://openai/whisper-tiny", True, True, "")) == "whisper_tiny"
    assert sm.model_tag(sm.Source("/copies/tiny", False, True, "")) == "whisper_tiny"
    assert sm.model_tag(sm.Source("/copies/tiny", False, False, "")) == "whisper_random_init"
    kagglehub_copy = "/home/me/.cache/kagglehub/models/keras/whisper/keras/whisper_tiny_en/4"
    assert sm.model_tag(sm.Source(kagglehub_copy, False, True, "")) == "whisper_tiny_en"


def test_figures_have_labelled_axes(encoder):
    x = sm.features(encoder, [0.1 * np.random.default_rng(0).standard_normal(32_000).astype(np.float32)])[0]
    fig = sm.plot_input(encoder, x, 32_000, title="a clip")
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == ["time (s)", "time (s)"]
    assert "Hz" in fig.axes[0].get_ylabel()
    hz = sm.band_frequencies(encoder)
    assert len(hz) == 80 and np.all(np.diff(hz) >= 0) and hz.max() <= 8000
    table = pd.DataFrame({"validation UAR": [0.2, 0.3, 0.25]}, index=sm.layer_names(2))
    ax = sm.plot_layer_probe(table, chance=0.125)
    assert "UAR" in ax.get_ylabel() and ax.get_xlabel()
