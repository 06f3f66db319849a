import datetime
import io
import json
import os
import re
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from course_utils.base import jupyter
from course_utils.data import audio
from course_utils.sound import features, mel
from course_utils.learning import classify
from course_utils.tools import lab, runner

CLASSES = ["calm", "angry", "sad"]
CFG = features.FeatureConfig(image_size=(32, 32), duration=1.0)
NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def record(**kwargs):
    return kwargs


@pytest.fixture
def headless_on(monkeypatch):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")


@pytest.fixture
def live(monkeypatch):
    monkeypatch.delenv(jupyter.HEADLESS_ENV, raising=False)


@pytest.fixture
def no_widgets(monkeypatch):
    """Fail loudly if anything creates an ipywidget."""
    import ipywidgets

    created = []
    monkeypatch.setattr(ipywidgets.Widget, "__init__", lambda self, **kw: created.append(type(self).__name__))
    return created


# ---------------------------------------------------------------------------------------------
# explore
# ---------------------------------------------------------------------------------------------


def test_headless_calls_once_with_start_values_and_creates_no_widget(headless_on, no_widgets, capsys):
    out = jupyter.explore(record, freq=dict(value=3000, min=100, max=12000, step=50), fixed=dict(seconds=1.0))
    assert out == {"freq": 3000, "seconds": 1.0} and no_widgets == []
    assert "headless" in capsys.readouterr().out


def test_live_notebook_gets_sliders(live):
    widget = jupyter.explore(record, freq=dict(value=3000, min=100, max=12000, step=50),
                                 gain=dict(value=0.5, min=0.0, max=1.0, step=0.1),
                                 bands=dict(value=32, options=[8, 16, 32, 64]), fixed=dict(seconds=1.0))
    kinds = {type(w).__name__: w for w in widget.widget.children[:3]}
    assert set(kinds) == {"IntSlider", "FloatSlider", "SelectionSlider"}
    assert kinds["IntSlider"].value == 3000 and kinds["IntSlider"].continuous_update is False
    assert kinds["SelectionSlider"].options == (8, 16, 32, 64) and kinds["SelectionSlider"].continuous_update is False
    assert widget.widget.result == {"freq": 3000, "gain": 0.5, "bands": 32, "seconds": 1.0}


def test_live_explorer_shows_the_figure_once_and_makes_no_control_of_other_parameters(live, monkeypatch):
    """In JupyterLab, interact displayed the explorers' returned figure a second time, below the
    one they show themselves, and made a control of every parameter with a default (04's
    explorer grew a ``players`` checkbox and an ``n_iter`` slider from -16 to 48)."""
    from ipywidgets.widgets import interaction

    shown, calls = [], []
    monkeypatch.setattr(interaction, "display", lambda *objs, **kw: shown.extend(objs))

    def draw(n_mels: int = 32, *, y=None, players: bool = True, n_iter: int = 16, title: str = "") -> plt.Figure:
        calls.append(dict(n_mels=n_mels, players=players, n_iter=n_iter, title=title))
        fig = plt.figure()
        plt.show()  # the explorer shows its figure itself, and returns it for a direct call
        return fig

    handle = jupyter.explore(draw, n_mels=dict(value=32, options=[8, 16, 32], description="Mel bands"),
                                 fixed=dict(y=np.zeros(4), title="a: "))
    panel = handle.widget
    controls = [type(w).__name__ for w in panel.children[:-1]]
    assert controls == ["SelectionSlider"], "only the slider asked for"
    assert calls == [dict(n_mels=32, players=True, n_iter=16, title="a: ")]
    panel.children[0].value = 8  # the slider moved
    assert calls[-1]["n_mels"] == 8 and isinstance(panel.result, plt.Figure)
    assert shown == [], "the returned figure must not be displayed again"


def test_both_explorers_behind_sliders_get_only_their_sliders(live, monkeypatch):
    from ipywidgets.widgets import interaction

    from course_utils.sound import signals

    monkeypatch.setattr(interaction, "display", lambda *objs, **kw: None)
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    y = (0.3 * np.sin(2 * np.pi * 300 * np.arange(4000) / 8000)).astype(np.float32)
    mel_panel = jupyter.explore(mel.mel_bands_explorer, n_mels=dict(value=8, options=[8, 16]),
                                    fixed=dict(y=y, sr=8000, n_fft=512, hop_length=128, players=False)).widget
    assert [type(w).__name__ for w in mel_panel.children] == ["SelectionSlider", "Output"]
    alias_panel = jupyter.explore(signals.aliasing_explorer, freq=dict(value=3000, min=100, max=12000, step=50),
                                      rate=dict(value=4000, min=1000, max=24000, step=250),
                                      fixed=dict(seconds=0.1, players=False)).widget
    assert [type(w).__name__ for w in alias_panel.children] == ["IntSlider", "IntSlider", "Output"]


@pytest.mark.parametrize("before", [None, "0"])
def test_runner_marks_kernels_headless_and_restores(monkeypatch, before):
    if before is None:
        monkeypatch.delenv(jupyter.HEADLESS_ENV, raising=False)
    else:
        monkeypatch.setenv(jupyter.HEADLESS_ENV, before)
    with runner.headless_kernel():
        assert jupyter.headless()
    assert os.environ.get(jupyter.HEADLESS_ENV) == before


# ---------------------------------------------------------------------------------------------
# progress bars
# ---------------------------------------------------------------------------------------------


def test_headless_progress_is_a_sparse_text_bar(headless_on, no_widgets, capsys):
    import tqdm.std

    bar = jupyter.progress(range(500), desc="clips", unit="file")
    assert type(bar) is tqdm.std.tqdm and bar.mininterval == jupyter.HEADLESS_MININTERVAL
    assert sum(1 for _ in bar) == 500
    captured = capsys.readouterr()
    out = captured.err  # stderr: the course website leaves it out (course_utils.tools.site)
    assert "clips" in out and "500/500" in out and captured.out == ""
    assert out.count("\r") <= 3  # the start and the end, not one line per item
    assert no_widgets == []


def test_headless_progress_redraws_at_most_every_interval(headless_on, monkeypatch):
    """A fake clock, one second per item: a redraw at the start, then every 30 s, then at the end;
    miniters stays 1, so tqdm's monitor thread (which redraws bars whose miniters > 1 every 10 s)
    never adds lines in between."""
    import tqdm.std

    clock = iter(np.arange(0.0, 10_000.0))
    monkeypatch.setattr(tqdm.std, "time", lambda: float(next(clock)))
    stream = io.StringIO()
    bar = jupyter.progress(range(100), desc="slow", file=stream)
    for _ in bar:
        pass
    redraws = stream.getvalue().count("\r")
    assert bar.miniters == 1
    assert 100 // jupyter.HEADLESS_MININTERVAL <= redraws <= 100 // jupyter.HEADLESS_MININTERVAL + 3


def test_course_modules_draw_their_bars_with_progress():
    """tqdm.auto draws a widget bar in any Jupyter kernel, papermill's included (the nbclient#312 risk,
    widget placeholders in the executed notebooks and on the website): the course's modules
    draw their bars with jupyter.progress, never with tqdm directly."""
    package = Path(jupyter.__file__).parents[1]
    exempt = {"jupyter.py"}
    direct = [p.name for p in sorted(package.rglob("*.py"))
              if p.name not in exempt and re.search(r"^\s*(from tqdm|import tqdm)", p.read_text(), re.MULTILINE)]
    assert direct == []


def test_live_progress_is_tqdm_auto(live):
    import tqdm.auto

    bar = jupyter.progress(total=3, desc="x", disable=True)
    assert isinstance(bar, tqdm.auto.tqdm) and bar.total == 3


def test_epoch_progress_counts_the_epochs_keras_runs(headless_on, capsys):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.arange(16) % 2
    callback = jupyter.epoch_progress(3, desc="toy model", metrics=("loss", "val_accuracy"))
    model.fit(x, y, validation_data=(x, y), epochs=3, verbose=0, callbacks=[callback])
    assert callback.bar.n == 3 and callback.bar.total == 3
    out = capsys.readouterr().err
    assert "toy model" in out and "3/3" in out and "val_accuracy=" in out


def test_seconds_per_epoch_leaves_out_the_first_epoch():
    assert jupyter.seconds_per_epoch([5.0, 0.8, 1.0]) == pytest.approx(0.9)
    assert jupyter.seconds_per_epoch([2.5]) == 2.5
    assert np.isnan(jupyter.seconds_per_epoch([]))


def test_epoch_bar_shows_the_seconds_per_epoch_the_chapter_prints(headless_on, monkeypatch):
    """16's bar said 3.5 s per epoch where the printed line said 0.8 s: tqdm timed from the bar's
    creation, smoothed, with the first epoch (tracing) in; the line leaves that epoch out."""
    import time

    clock = iter([100.0, 105.0, 105.0, 105.8, 105.8, 106.6])
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    callback = jupyter.epoch_progress(3, desc="toy", metrics=("loss",), callback_base=object)
    callback.on_train_begin()
    for epoch in range(3):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"loss": 1.0})
    callback.on_train_end()
    assert callback.seconds == pytest.approx([5.0, 0.8, 0.8])
    text = stream.getvalue()
    assert "s/epoch=0.8" in text and "3/3 epochs" in text
    assert "s/it" not in text and "epoch/s" not in text and "s/epoch]" not in text  # no tqdm rate of its own


# ---------------------------------------------------------------------------------------------
# Mel bands (04_mel_scale)
# ---------------------------------------------------------------------------------------------


def test_mel_bands_table_agrees_with_the_filter_bank():
    table = mel.mel_bands_table((8, 256), sr=22_050, n_fft=2048, hop_length=256, harmonic_spacing_hz=100)
    bank = mel.filter_table(22_050, 2048, n_mels=256)
    assert table.loc[256, "numbers per second"] == round(256 * 22_050 / 256)
    assert table.loc[256, "lowest band (Hz wide)"] == pytest.approx(bank["width (Hz)"].iloc[0])
    assert table.loc[256, "bands below 1 kHz"] == int((bank["centre (Hz)"] < 1000).sum())
    assert table.loc[256, "share of the STFT (%)"] == pytest.approx(100 * 256 / 1025)
    reach = table["bands < 100 Hz wide up to (Hz)"]
    assert reach[8] == 0.0 and 1000 < reach[256] < 11_025  # 8 bands are all wider than 100 Hz


def test_mel_bands_figure_draws_bank_frame_and_image():
    sr = 8000
    t = np.arange(int(0.5 * sr)) / sr
    y = (0.5 * np.sin(2 * np.pi * 200 * t) * np.hanning(len(t))).astype(np.float32)
    fig = mel.mel_bands_figure(y, sr, 16, n_fft=512, hop_length=128, title="tone: ")
    bank, frame, image = fig.axes[:3]
    assert len(bank.lines) == 16 and bank.get_xlabel() == "frequency (Hz)"
    assert frame.get_ylabel() == "level (dB re. loudest bin)" and len(frame.collections[0].get_segments()) == 16
    assert image.get_xlabel() == "time (s)" and "16 bands" in image.get_title() and image.get_title().startswith("tone: ")


def test_mel_bands_explorer_plays_the_clip_and_its_rebuild(headless_on, capsys):
    sr = 8000
    y = (0.3 * np.sin(2 * np.pi * 300 * np.arange(sr // 2) / sr)).astype(np.float32)
    fig = jupyter.explore(mel.mel_bands_explorer, n_mels=dict(value=8, options=[8, 16]),
                              fixed=dict(y=y, sr=sr, n_fft=512, hop_length=128, n_iter=2))
    out = capsys.readouterr().out
    assert isinstance(fig, plt.Figure) and "8 bands" in fig.axes[2].get_title()
    assert "the clip" in out and "rebuilt from its 8 Mel bands (Griffin-Lim, 2 iterations)" in out
    assert out.count("Audio object") == 2


# ---------------------------------------------------------------------------------------------
# uploads and preprocessing (16_better_emotion_model)
# ---------------------------------------------------------------------------------------------


def tone_with_silence(sr=48_000, seconds=0.6, freq=300.0, pad=0.3, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    y = 0.5 * np.sin(2 * np.pi * freq * t)
    z = np.zeros(int(pad * sr))
    y = np.concatenate([z, y, z]).astype(np.float32)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


def encoded(y, sr, fmt, subtype=None):
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,suffix", [("WAV", ".wav"), ("FLAC", ".flac"), ("OGG", ".ogg")])
def test_decode_upload_reads_like_load_audio(tmp_path, fmt, suffix):
    y = tone_with_silence(channels=2)
    data = encoded(y, 48_000, fmt)
    got = classify.decode_upload(f"me{suffix}", data, sr=22_050)
    (tmp_path / f"same{suffix}").write_bytes(data)
    expected, _ = audio.load_audio(tmp_path / f"same{suffix}", sr=22_050)
    assert got.dtype == np.float32 and got.ndim == 1 and len(got) == round(1.2 * 22_050)
    np.testing.assert_array_equal(got, expected)


def test_decode_upload_rejects_other_formats_naming_the_file_and_the_fix():
    with pytest.raises(ValueError, match=r"voice memo\.m4a: the classifier reads WAV, FLAC, OGG, MP3 files, not M4A") as err:
        classify.decode_upload("voice memo.m4a", b"....")
    assert "ffmpeg -i recording.m4a recording.wav" in str(err.value)
    with pytest.raises(ValueError, match="files without an extension"):
        classify.decode_upload("recording", b"....")


def test_decode_upload_explains_bytes_that_are_not_audio(tmp_path):
    with pytest.raises(ValueError, match=r"fake\.wav could not be read as WAV audio") as err:
        classify.decode_upload("fake.wav", b"this is text, not sound")
    message = str(err.value)
    assert "Fix:" in message and "renamed" in message and str(tmp_path) not in message and "upload.wav" not in message


def test_decode_upload_rejects_empty_and_silent_recordings():
    with pytest.raises(ValueError, match=r"short\.wav holds 50 ms of sound.*at least one sentence"):
        classify.decode_upload("short.wav", encoded(np.full(2400, 0.5, np.float32), 48_000, "WAV"))
    with pytest.raises(ValueError, match=r"quiet\.flac is silent.*microphone"):
        classify.decode_upload("quiet.flac", encoded(np.zeros(48_000, np.float32), 48_000, "FLAC"))


def nan_wav(sr=48_000):
    y = tone_with_silence(sr=sr)
    y[len(y) // 2: len(y) // 2 + 10] = np.nan
    return encoded(y, sr, "WAV", subtype="FLOAT")  # a float WAV keeps the NaN (16-bit PCM would make it 0)


@pytest.mark.parametrize("sr", [22_050, None])
def test_decode_upload_names_a_damaged_file_with_samples_that_are_not_numbers(sr):
    """Before: librosa's resampler raised ParameterError('Audio buffer is not finite everywhere'),
    a raw traceback; without resampling the NaN reached the model."""
    from course_utils.base.errors import CourseError

    with pytest.raises(CourseError, match=r"broken\.wav is damaged: some of its samples are not numbers") as err:
        classify.decode_upload("broken.wav", nan_wav(), sr=sr)
    assert isinstance(err.value, ValueError) and "Fix: record it again" in str(err.value)
    assert err.value._render_traceback_()[0].endswith("broken.wav is damaged: some of its samples are not numbers "
                                                      "(NaN or infinity), which no recorder writes. Fix: record it again, "
                                                      "or export it again from the recording app or from Audacity (as "
                                                      "16-bit WAV), and upload the new file.")


def muted_microphone(sr=22_050, seconds=3.0, dbfs=-70.0):
    """The noise a muted microphone records: white noise at ``dbfs`` (RMS), as 16-bit WAV bytes
    (at the classifier's rate: resampling from 48 kHz would drop the noise above 11 kHz, 3 dB)."""
    noise = np.random.default_rng(0).standard_normal(int(seconds * sr)) * 10 ** (dbfs / 20)
    return encoded(noise.astype(np.float32), sr, "WAV")


def test_recording_level_is_the_loudest_moment_in_dbfs():
    sr = 8000
    sine = np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    assert classify.recording_level(sine, sr) == pytest.approx(-3.01, abs=0.05)
    quiet_then_loud = np.concatenate([0.001 * sine, 0.1 * sine])
    assert classify.recording_level(quiet_then_loud, sr) == pytest.approx(-23.01, abs=0.05)
    assert classify.recording_level(np.zeros(sr), sr) == float("-inf")
    assert classify.recording_level(np.zeros(0), sr) == float("-inf")


def test_quiet_warning_says_the_level_and_the_fix_only_for_a_muted_microphone():
    y = classify.decode_upload("muted.wav", muted_microphone())
    text = classify.quiet_warning(y, 22_050, "muted.wav")
    assert text.startswith("muted.wav is very quiet: its loudest moment is at -70 dBFS")
    assert "muted microphone" in text and "Fix: unmute the microphone" in text
    speech_level = classify.decode_upload("me.wav", encoded(0.05 * tone_with_silence(), 48_000, "WAV"))
    assert classify.quiet_warning(speech_level, 22_050, "me.wav") is None


def test_image_featurizer_is_the_training_recipe(tmp_path):
    path = tmp_path / "clip.wav"
    audio.write_wav_atomic(path, tone_with_silence(), 48_000)
    featurize = classify.image_featurizer(CFG)
    y, sr = audio.load_audio(path, sr=CFG.sample_rate)
    image = featurize(y, sr)
    assert image.shape == (32, 32) and image.dtype == np.float32
    cached = features.compute_images(pd.DataFrame({"path": [str(path)]}), CFG, dataset="t", cache_dir=tmp_path / "cache",
                                      n_jobs=1, progress=False)
    np.testing.assert_array_equal(image, cached[0])  # the very numbers of the training images
    np.testing.assert_allclose(image, features.clip_image(path, CFG), atol=5e-4)  # float16 of the same recipe
    with pytest.raises(ValueError, match="works at 22050 Hz, got a signal at 16000 Hz"):
        featurize(y, 16_000)


# ---------------------------------------------------------------------------------------------
# class probabilities and the figure
# ---------------------------------------------------------------------------------------------


def softmax_model(batch):
    """A stand-in for a trained model: softmax of three scores from the image's mean level."""
    batch = np.asarray(batch)
    m = batch.reshape(len(batch), -1).mean(axis=1)
    z = np.stack([np.zeros_like(m), 4 * m, -m], axis=1)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_class_probabilities_is_the_models_softmax_for_one_image():
    seen = []
    image = np.full((4, 5), 0.5)
    proba = classify.class_probabilities(lambda b: seen.append(b.shape) or softmax_model(b), image, CLASSES)
    z = np.array([0.0, 2.0, -0.5])
    np.testing.assert_allclose(proba.to_numpy(), np.exp(z) / np.exp(z).sum())
    assert list(proba.index) == CLASSES and proba.idxmax() == "angry" and seen == [(1, 4, 5)]
    one_d = classify.class_probabilities(lambda b: np.array([0.2, 0.3, 0.5]), image, CLASSES)
    assert one_d["sad"] == pytest.approx(0.5)


@pytest.mark.parametrize("output,message", [
    (np.array([[0.5, 0.5]]), "gives 2 probabilities but there are 3 class names"),
    (np.array([[2.0, -1.0, 0.5]]), "must return probabilities"),
    (np.array([[0.2, 0.2, 0.2]]), "summing to 1"),
    (np.array([[np.nan, 0.5, 0.5]]), "must return probabilities"),
])
def test_class_probabilities_refuses_what_is_not_a_probability(output, message):
    with pytest.raises(ValueError, match=message):
        classify.class_probabilities(lambda b: output, np.zeros((4, 4)), CLASSES)


def test_plot_prediction_labels_percentages_prediction_and_truth():
    proba = pd.Series([0.1, 0.7, 0.2], index=CLASSES)
    fig = classify.plot_prediction(np.random.default_rng(0).random((32, 32)), proba, true_label="sad", config=CFG)
    image_ax, bars = fig.axes[:2]
    assert bars.get_xlabel() == "probability (%)" and bars.get_xlim() == (0, 100)
    assert [t.get_text() for t in bars.get_yticklabels()] == ["calm", "angry", "sad (true)"]
    assert sorted(round(p.get_width(), 6) for p in bars.patches) == [10.0, 20.0, 70.0]
    assert bars.get_title() == "predicted class: angry (70.0 %): wrong, it is sad" and bars.get_ylabel() == "class"
    assert "70.0 %" in [t.get_text() for t in bars.texts]
    assert image_ax.get_xlabel() == "time (s)" and image_ax.get_ylabel() == "frequency (Hz, Mel axis)"
    assert "1k" in [t.get_text() for t in image_ax.get_yticklabels()]  # plots.mel_ticks, as every log-Mel figure
    plain = classify.plot_prediction(np.zeros((8, 8)), proba, true_label="angry", title="a clip", class_label="emotion")
    assert plain.axes[0].get_ylabel() == "Mel band" and plain.axes[1].get_title() == "predicted emotion: angry (70.0 %): right"
    assert plain.axes[1].get_ylabel() == "emotion"
    assert plain._suptitle.get_text() == "a clip"


# ---------------------------------------------------------------------------------------------
# the classifier explorer
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def clips(tmp_path):
    rows = []
    for k, (label, freq) in enumerate([("calm", 200.0), ("angry", 400.0), ("sad", 300.0)]):
        p = tmp_path / f"clip{k}.wav"
        audio.write_wav_atomic(p, tone_with_silence(freq=freq, seconds=0.4 + 0.2 * k), 48_000)
        rows.append({"path": str(p), "emotion_name": label})
    return pd.DataFrame(rows)


def make(clips, **kw):
    return classify.classifier_explorer(softmax_model, clips, CLASSES, classify.image_featurizer(CFG),
                                           label_column="emotion_name", config=CFG, **kw)


def test_headless_explorer_shows_one_clip_and_no_widget(headless_on, no_widgets, clips, capsys):
    explorer = make(clips, start=2)
    out = capsys.readouterr().out
    assert no_widgets == [] and "headless" in out and "Audio object" in out
    last = explorer.last
    assert last["true"] == "sad" and last["title"] == "test clip: sad: clip2.wav"
    image = features.clip_image(clips.loc[2, "path"], CFG).astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(last["image"], image)
    pd.testing.assert_series_equal(last["probabilities"], classify.class_probabilities(softmax_model, image, CLASSES))
    assert plt.gcf().axes[1].get_title().startswith("predicted class: ")


def test_upload_gives_the_same_probabilities_as_the_same_clip_from_the_menu(headless_on, clips):
    explorer = make(clips, start=1)
    picked = explorer.last["probabilities"]
    with open(clips.loc[1, "path"], "rb") as f:
        uploaded = explorer.classify_upload("mine.wav", f.read(), show=False)
    pd.testing.assert_series_equal(uploaded, picked)
    assert explorer.last["true"] is None and explorer.last["title"] == "your recording mine.wav"


def test_a_long_upload_says_that_only_the_middle_reaches_the_model(headless_on, clips, capsys):
    explorer = make(clips)
    capsys.readouterr()
    explorer.classify_upload("long.wav", encoded(tone_with_silence(seconds=3.0), 48_000, "WAV"))
    out = capsys.readouterr().out
    assert re.search(r"3\.\d s of sound after trimming the silence: .* only its middle 1 s reach the model", out)


def test_a_muted_microphone_is_classified_after_a_warning(headless_on, clips, capsys):
    explorer = make(clips)
    capsys.readouterr()
    proba = explorer.classify_upload("muted.wav", muted_microphone(), show=False)
    out = capsys.readouterr().out
    assert "Too quiet? muted.wav is very quiet: its loudest moment is at -70 dBFS" in out and "Fix:" in out
    assert explorer.warning.startswith("muted.wav is very quiet") and len(proba) == 3
    explorer.classify_clip(0)
    assert explorer.warning is None


def test_a_shown_prediction_is_also_said_in_words(headless_on, clips, capsys):
    explorer = make(clips, start=2)
    out = capsys.readouterr().out
    predicted = explorer.last["predicted"]
    assert f"test clip: sad: clip2.wav: predicted class {predicted}, " in out and "(true class: sad)" in out


def test_message_html_escapes_shows_code_and_breaks_between_words():
    html = jupyter.message_html("a <b> file: run `ffmpeg -i a.m4a a.wav`, then upload", "error", title="Oops.")
    assert "&lt;b&gt;" in html and "<code>ffmpeg -i a.m4a a.wav</code>" in html and "`" not in html
    assert html.count("<b>") == 1 and "<b>Oops.</b>" in html
    assert "word-break: normal" in html and "white-space: normal" in html


@pytest.fixture
def displayed(monkeypatch):
    """What the explorer displays in its output area (HTML boxes), as HTML text."""
    import IPython.display

    seen = []
    real = IPython.display.display

    def record(*objs, **kw):
        seen.extend(getattr(o, "data", None) for o in objs if isinstance(o, IPython.display.HTML))
        return real(*objs, **kw)

    monkeypatch.setattr(IPython.display, "display", record)
    return seen


def test_live_explorer_builds_menu_upload_and_reacts(live, clips, capsys, displayed):
    import ipywidgets

    explorer = make(clips, describe=lambda r: f"{r['emotion_name']} | {os.path.basename(r['path'])}")
    assert explorer.menu.options == (("calm | clip0.wav", 0), ("angry | clip1.wav", 1), ("sad | clip2.wav", 2))
    assert isinstance(explorer.upload, ipywidgets.FileUpload) and explorer.upload.accept == ".wav,.flac,.ogg,.mp3"
    assert "<code>ffmpeg -i recording.m4a recording.wav</code>" in explorer.box.children[1].value
    assert explorer.last["true"] == "calm"  # the start clip is shown at once
    explorer.menu.value = 2
    assert explorer.last["true"] == "sad"
    with open(clips.loc[0, "path"], "rb") as f:
        data = f.read()
    explorer.upload.value = ({"name": "me.wav", "type": "audio/wav", "size": len(data), "content": memoryview(data),
                              "last_modified": NOW},)
    assert explorer.last["title"] == "your recording me.wav" and explorer.error is None
    # the menu names the upload, not the clip picked before it
    assert explorer.menu.value == classify.UPLOAD_ROW and explorer.menu.label == "your recording: me.wav"
    assert explorer.menu.options[1:] == (("calm | clip0.wav", 0), ("angry | clip1.wav", 1), ("sad | clip2.wav", 2))
    explorer.upload.value = ({"name": "me.m4a", "type": "audio/mp4", "size": 4, "content": memoryview(b"...."),
                              "last_modified": NOW},)
    assert explorer.error.startswith("me.m4a: the classifier reads") and explorer.last["title"] == "your recording me.wav"
    assert explorer.menu.label == "your recording: me.m4a"
    box = displayed[-1]  # the message as HTML: words kept whole, code as code, no backticks
    assert "<b>This file cannot be used.</b> me.m4a: the classifier reads" in box
    assert "<code>ffmpeg -i recording.m4a recording.wav</code>" in box and "`" not in box
    explorer.upload.value = ()  # cleared: nothing happens
    assert explorer.error.startswith("me.m4a")
    explorer.menu.value = 1  # back to a test clip
    assert explorer.last["true"] == "angry" and explorer.error is None
    # the upload button is as wide as its label ("Upload a recor..." before)
    assert explorer.upload.layout.width == "auto"


def test_explorer_checks_its_clips():
    with pytest.raises(ValueError, match="clips is empty"):
        classify.ClassifierExplorer(softmax_model, pd.DataFrame(columns=["path", "label"]), CLASSES, None)
    with pytest.raises(ValueError, match=r"needs the columns \['emotion_name'\]"):
        classify.ClassifierExplorer(softmax_model, pd.DataFrame({"path": ["a.wav"]}), CLASSES, None,
                                       label_column="emotion_name")


def test_map_files_keeps_the_order_in_every_mode():
    from concurrent.futures import ThreadPoolExecutor

    files = [f"f{i}" for i in range(40)]
    expected = [f + "!" for f in files]
    assert jupyter.map_files(str.__add__, files, "!", n_jobs=1, progress_bar=False) == expected
    assert jupyter.map_files(str.__add__, files, "!", n_jobs=2, progress_bar=False) == expected
    with ThreadPoolExecutor(2) as pool:
        assert jupyter.map_files(str.__add__, files, "!", executor=pool, progress_bar=False) == expected
    assert jupyter.map_files(str.__add__, [], "!", progress_bar=False) == []


# ---------------------------------------------------------------------------------------------
# the course's JupyterLab settings (make venv, Binder)
# ---------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_lab_settings_turn_the_news_toast_off_and_keep_other_settings(tmp_path):
    path = lab.lab_overrides_path(tmp_path)
    assert path == tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                "@jupyterlab/apputils-extension:notification": {"doNotDisturbMode": True}}))
    assert lab.install_lab_settings(tmp_path) == path
    settings = json.loads(path.read_text())
    assert settings["@jupyterlab/apputils-extension:notification"] == {"doNotDisturbMode": True, "fetchNews": "false",
                                                                       "checkForUpdates": False}
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    path.write_text("{ not json")  # a damaged file is replaced
    lab.install_lab_settings(tmp_path)
    assert json.loads(path.read_text()) == lab.LAB_SETTINGS


def test_lab_settings_are_valid_for_this_jupyterlab():
    import sys as _sys

    schema_file = (Path(_sys.prefix) / "share" / "jupyter" / "lab" / "schemas" / "@jupyterlab" / "apputils-extension"
                   / "notification.json")
    if not schema_file.exists():
        pytest.skip(f"JupyterLab's schemas not found in {_sys.prefix}")
    schema = json.loads(schema_file.read_text())["properties"]
    values = lab.LAB_SETTINGS["@jupyterlab/apputils-extension:notification"]
    assert values["fetchNews"] in [c["const"] for c in schema["fetchNews"]["oneOf"]]
    assert schema["checkForUpdates"]["type"] == "boolean" and isinstance(values["checkForUpdates"], bool)


def test_make_venv_and_binder_install_the_lab_settings():
    call = "from course_utils.tools import lab; lab.install_lab_settings()"
    makefile = (ROOT / "Makefile").read_text()
    venv_recipe = makefile.split("$(VENV)/.installed:")[1].split("\n\n")[0]
    assert call in venv_recipe
    assert venv_recipe.index("install_lab_settings") < venv_recipe.index("touch $@")
    postbuild = (ROOT / "binder" / "postBuild").read_text()
    assert "lab.install_lab_settings()" in postbuild.split("\nset -euo pipefail\n")[1]
