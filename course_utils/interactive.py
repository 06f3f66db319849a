"""Sliders in JupyterLab, still pictures in headless runs.

Used by the explorers of ``01_sound_and_sampling`` (sample rate and aliasing) and
``03_spectrogram`` (window and hop).

A headless run (papermill, nbval: :func:`course_utils.runner.run_notebook` marks the kernel
with ``COURSE_HEADLESS=1``) has nobody to move a slider, and creating ipywidgets there is
not free: every widget opens a comm, and under nbclient a cell that creates widgets
sometimes never gets its reply (jupyter/nbclient#312; seen here too, a test run stuck on the
``interact`` cell of chapter 01). So in a headless run the explorers draw the figure of
their starting values, and create no widget at all.
"""

from __future__ import annotations

import os
from typing import Any, Callable

#: The environment variable that marks a headless kernel.
HEADLESS_ENV = "COURSE_HEADLESS"


def headless() -> bool:
    """Whether this kernel runs headless (no one to move a slider)."""
    return os.environ.get(HEADLESS_ENV) == "1"


def explore(function: Callable, *, fixed: dict[str, Any] | None = None, **sliders: dict) -> Any:
    """``ipywidgets.interact`` with sliders, or one call with the start values when headless.

    Each keyword of ``sliders`` is the settings of one slider (``value``, ``min``, ``max``,
    ``step``, ``description``): an ``IntSlider`` when ``value`` is an int, a ``FloatSlider``
    otherwise; the function is called again when a slider is released. ``fixed`` holds the
    arguments that have no slider.

    >>> explore(draw, freq=dict(value=3000, min=100, max=12000, step=50), fixed=dict(seconds=1.0))  # doctest: +SKIP
    """
    fixed = dict(fixed or {})
    if headless():
        print("(A headless run: the figure for the sliders' start values. In JupyterLab, sliders appear here.)")
        return function(**{name: spec["value"] for name, spec in sliders.items()}, **fixed)
    import ipywidgets as widgets

    controls = {}
    for name, spec in sliders.items():
        kind = widgets.IntSlider if isinstance(spec["value"], int) else widgets.FloatSlider
        controls[name] = kind(continuous_update=False, **spec)
    controls.update({name: widgets.fixed(value) for name, value in fixed.items()})
    return widgets.interact(function, **controls)
