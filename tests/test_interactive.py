import os

import pytest

from course_utils import interactive, runner


def record(**kwargs):
    return kwargs


def test_headless_calls_once_with_start_values_and_creates_no_widget(monkeypatch, capsys):
    monkeypatch.setenv(interactive.HEADLESS_ENV, "1")
    import ipywidgets

    created = []
    monkeypatch.setattr(ipywidgets.Widget, "__init__", lambda self, **kw: created.append(kw))
    out = interactive.explore(record, freq=dict(value=3000, min=100, max=12000, step=50), fixed=dict(seconds=1.0))
    assert out == {"freq": 3000, "seconds": 1.0} and created == []
    assert "headless" in capsys.readouterr().out


def test_live_notebook_gets_sliders(monkeypatch):
    monkeypatch.delenv(interactive.HEADLESS_ENV, raising=False)
    widget = interactive.explore(record, freq=dict(value=3000, min=100, max=12000, step=50),
                                 gain=dict(value=0.5, min=0.0, max=1.0, step=0.1), fixed=dict(seconds=1.0))
    kinds = {type(w).__name__: w for w in widget.widget.children[:2]}
    assert set(kinds) == {"IntSlider", "FloatSlider"}
    assert kinds["IntSlider"].value == 3000 and kinds["IntSlider"].continuous_update is False
    assert widget.widget.result == {"freq": 3000, "gain": 0.5, "seconds": 1.0}


@pytest.mark.parametrize("before", [None, "0"])
def test_runner_marks_kernels_headless_and_restores(monkeypatch, before):
    if before is None:
        monkeypatch.delenv(interactive.HEADLESS_ENV, raising=False)
    else:
        monkeypatch.setenv(interactive.HEADLESS_ENV, before)
    with runner.headless_kernel():
        assert interactive.headless()
    assert os.environ.get(interactive.HEADLESS_ENV) == before
