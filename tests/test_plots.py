import matplotlib.pyplot as plt
import numpy as np

from course_utils.sound import plots
from course_utils.sound.features import FeatureConfig

from conftest import tone


def test_waveform_axes_are_labelled_in_seconds():
    ax = plots.plot_waveform(tone(0.5, 8000), 8000, title="t")
    assert ax.get_xlabel() == "time (s)" and "amplitude" in ax.get_ylabel() and ax.get_title() == "t"
    assert ax.get_xlim() == (0.0, 0.5)
    plt.close("all")


def test_gallery_hides_unused_axes():
    fig = plots.waveform_gallery([("a", tone(0.1, 8000)), ("b", tone(0.2, 8000)), ("c", tone(0.1, 8000))], 8000, ncols=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["a", "b", "c"] and len(fig.axes) == 4
    plt.close(fig)


def test_log_mel_has_units():
    fig, a = plt.subplots()
    plots.plot_log_mel(np.random.default_rng(0).random((16, 20)), ax=a, title="m", duration=2.0)
    assert a.get_xlabel() == "time (s)" and a.get_ylabel() == "Mel band" and a.images[0].get_extent()[1] == 2.0
    plots.plot_log_mel(np.zeros((4, 4)), ax=a)
    assert a.get_xlabel() == "frame"
    plt.close(fig)


def test_play_shows_an_audio_player(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr(plots, "display", shown.append)
    plots.play(tone(0.1, 8000), 8000, label="angry")
    assert capsys.readouterr().out == "angry\n"
    assert type(shown[0]).__name__ == "Audio" and shown[0].data[:4] == b"RIFF"


def test_show_clip_puts_a_player_under_the_waveform(monkeypatch):
    shown = []
    monkeypatch.setattr(plots, "display", shown.append)
    monkeypatch.setattr(plt, "show", lambda: None)
    fig = plots.show_clip(tone(0.2, 8000), 8000, title="sad")
    ax = fig.axes[0]
    assert ax.get_title() == "sad" and ax.get_ylim() == (-1.0, 1.0) and ax.get_xlabel() == "time (s)"
    assert type(shown[0]).__name__ == "Audio"
    fitted = plots.show_clip(tone(0.2, 8000) * 0.1, 8000, title="quiet", ylim=None)
    assert fitted.axes[0].get_ylim()[1] < 0.2
    plt.close("all")


def test_mel_ticks_are_increasing():
    cfg = FeatureConfig(image_size=(128, 128))
    pos, labels = plots.mel_ticks(cfg, 128)
    assert np.all(np.diff(pos) > 0) and labels[0] == "125" and labels[-1] == "8k"
    assert 0 < pos[0] < pos[-1] < 128
    half = plots.mel_ticks(cfg, 64)[0]
    np.testing.assert_allclose(half, pos / 2)
