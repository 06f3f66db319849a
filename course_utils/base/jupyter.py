"""Live or headless: what the course's code does in JupyterLab and in a run without a screen.

A headless run (papermill, nbval: :func:`course_utils.tools.runner.run_notebook` marks the kernel
with ``COURSE_HEADLESS=1``) has nobody to move a slider, and creating ipywidgets there is
not free: every widget opens a comm, and under nbclient a cell that creates widgets
sometimes never gets its reply (jupyter/nbclient#312; seen here too, a test run stuck on the
``interact`` cell of chapter 01). So in a headless run the explorers draw the figure of
their starting values and create no widget at all, and progress bars are plain text
(``tqdm.auto`` would draw a widget bar in any Jupyter kernel, papermill's included).

The lowest layer of the package (:mod:`course_utils.base`): every layer above uses it, and it
imports neither matplotlib nor TensorFlow (Keras is imported by :func:`epoch_progress` when called).

========================  ==================================================================
:func:`headless`          whether the kernel runs headless
:func:`explore`           sliders in JupyterLab; one call with the start values headless
:func:`progress`          a progress bar (tqdm's widget live; a text line headless)
:func:`map_files`         a function over files, in processes, with one bar
:func:`epoch_progress`    a Keras callback: one bar per training, seconds per epoch
                          (:func:`seconds_per_epoch`, also what the chapters print)
:func:`message_html`      a message box for a notebook's output; :func:`say` shows one
========================  ==================================================================

The explorers themselves live with the chapters that teach them: sampling and aliasing
(:mod:`course_utils.sound.signals`, ``01``), window and hop (:mod:`course_utils.sound.spectrogram`,
``03``), Mel bands (:mod:`course_utils.sound.mel`, ``04``), a trained classifier on a recording
(:mod:`course_utils.learning.classify`, ``16``). What a student sees in JupyterLab is checked in a
real one, in headless Chromium (``tests/test_lab.py``).
"""

from __future__ import annotations

import functools
import html
import inspect
import os
import re
import sys
import time
from typing import Any, Callable, Sequence

#: The environment variable that marks a headless kernel.
HEADLESS_ENV = "COURSE_HEADLESS"

#: Seconds between two updates of a text progress bar in a headless run: a few lines per
#: long step in the executed notebook, not one per item.
HEADLESS_MININTERVAL = 30.0


# --------------------------------------------------------------------------------------
# Live or headless
# --------------------------------------------------------------------------------------
def headless() -> bool:
    """Whether this kernel runs headless (no one to move a slider): ``$COURSE_HEADLESS`` is ``1``,
    as :func:`course_utils.tools.runner.headless_kernel` sets it for papermill and the tests.

    Asked by :func:`explore`, :func:`progress` and :func:`say`, and by the explorers of
    ``03_spectrogram`` and ``16_better_emotion_model``: so it decides what every chapter's bars
    and the sliders of ``01_sound_and_sampling`` and ``04_mel_scale`` look like in a run without
    a screen (a static copy of ``01_sound_and_sampling`` shows only the sliders' start values).
    """
    return os.environ.get(HEADLESS_ENV) == "1"


# --------------------------------------------------------------------------------------
# Sliders
# --------------------------------------------------------------------------------------
def explore(function: Callable, *, fixed: dict[str, Any] | None = None, **sliders: dict) -> Any:
    """``ipywidgets.interact`` with sliders, or one call with the start values when headless.

    Each keyword of ``sliders`` is the settings of one slider (``value``, ``min``, ``max``,
    ``step``, ``description``): an ``IntSlider`` when ``value`` is an int, a ``FloatSlider``
    otherwise, and a ``SelectionSlider`` when the settings hold ``options`` (a list of the
    values it offers, e.g. numbers of Mel bands 8, 16, 32 ...). The function is called again
    when a slider is released. ``fixed`` holds the arguments that have no slider; every other
    parameter of ``function`` keeps its default (``interact`` would make a control of each
    one: a ``players`` checkbox, an ``n_iter`` slider from -16 to 48).

    The function draws its figure itself (``plt.show()``) and may return it, for a direct call:
    the value it returns is never shown again (``interact`` displays it, so the figure appeared
    twice). Live, the controls are displayed here and ``function`` is returned with the panel as
    its ``widget`` (``ipywidgets.interact``'s convention); headless, the function's value.
    Taught in ``01_sound_and_sampling`` (the aliasing explorer); ``04_mel_scale`` uses it for
    its Mel-band explorer.

    >>> explore(draw, freq=dict(value=3000, min=100, max=12000, step=50), fixed=dict(seconds=1.0))  # doctest: +SKIP
    """
    fixed = dict(fixed or {})
    if headless():
        print("(A headless run: the figure for the sliders' start values. In JupyterLab, sliders appear here.)")
        return function(**{name: spec["value"] for name, spec in sliders.items()}, **fixed)

    import ipywidgets as widgets
    from IPython.display import display

    controls = {}
    for name, spec in sliders.items():
        if "options" in spec:
            kind = widgets.SelectionSlider
        else:
            kind = widgets.IntSlider if isinstance(spec["value"], int) else widgets.FloatSlider
        controls[name] = kind(continuous_update=False, **spec)
    controls.update({name: widgets.fixed(value) for name, value in fixed.items()})
    for name, parameter in inspect.signature(function).parameters.items():
        if name not in controls and parameter.default is not inspect.Parameter.empty:
            controls[name] = widgets.fixed(parameter.default)
    panel = widgets.interactive(function, {"manual": False, "auto_display": False}, **controls)
    display(panel)

    @functools.wraps(function)
    def handle(*args, **kwargs):
        return function(*args, **kwargs)

    handle.widget = panel
    return handle


# --------------------------------------------------------------------------------------
# Progress bars
# --------------------------------------------------------------------------------------
def progress(iterable=None, **kwargs):
    """A progress bar over ``iterable`` (or ``total=`` steps updated by hand): ``tqdm``.

    In JupyterLab it is tqdm's widget bar; in a headless run a text bar on standard error
    that is redrawn at most every :data:`HEADLESS_MININTERVAL` seconds (``miniters=1`` keeps
    tqdm's monitor thread from redrawing it in between), so a long step leaves one line in
    the executed notebook (each redraw starts with ``\r``) and no widget. Standard error,
    as tqdm's own default: the course website leaves ``stderr`` streams out
    (:mod:`course_utils.tools.site`). nbval compares ``stderr`` as strictly as ``stdout``, so a
    bar, whose line holds timings, must never run in a ``# NBVAL_CHECK_OUTPUT`` cell.
    Other keywords go to ``tqdm`` (``desc``, ``unit``, ``total``, ``disable`` ...).

    Used by every long per-clip step of the chapters: the offline corpus
    (``00_getting_the_data``), the pitch tracks of ``02_spectrum`` and ``05_eda``, the trimming
    and the log-Mel images of ``06_preprocessing`` (and every chapter after it that computes
    them), the training bars of ``08_cnn_binary`` to ``17_new_voices`` (:func:`epoch_progress`).

    >>> for path in progress(paths, desc="clips", unit="file"): ...  # doctest: +SKIP
    """
    if headless():
        from tqdm.std import tqdm

        kwargs.setdefault("mininterval", HEADLESS_MININTERVAL)
        kwargs.setdefault("miniters", 1)
        kwargs.setdefault("file", sys.stderr)
        kwargs.setdefault("ncols", 100)
    else:
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)


def map_files(fn, files, *args, n_jobs: int = 1, desc: str = "files", progress_bar: bool = True, executor=None) -> list:
    """``[fn(f, *args) for f in files]`` in ``n_jobs`` processes (joblib, batches of 16), with one
    :func:`progress` bar counting the files; ``n_jobs=1`` runs in this process. ``executor``: a
    ``concurrent.futures`` executor to use instead (e.g. fresh worker processes). The results keep
    the order of ``files``. Used by the feature extractors of the classical baseline: the clip
    statistics (:func:`course_utils.learning.baseline.cached_features`, ``06_preprocessing`` and
    ``07_classical_baseline``) and eGeMAPS (:func:`course_utils.sound.egemaps.cached`,
    ``07_classical_baseline`` and ``17_new_voices``).
    """
    bar = progress(total=len(files), desc=desc, unit="file", disable=not progress_bar)
    try:
        if executor is not None:
            results = executor.map(fn, files, *([a] * len(files) for a in args), chunksize=16)
        elif n_jobs == 1:
            results = (fn(f, *args) for f in files)
        else:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=16)(delayed(fn)(f, *args) for f in files)
        rows = []
        for row in results:
            rows.append(row)
            bar.update()
        return rows
    finally:
        bar.close()


def seconds_per_epoch(seconds: Sequence[float]) -> float:
    """The typical duration of an epoch: the mean over the epochs after the first, which also
    traces and compiles the model (the first alone when there is only one). What the bar of
    :func:`epoch_progress` shows, and what the chapters print from ``history["seconds"]``
    (:func:`course_utils.learning.training.fit` times every epoch from its start to its end, as the
    bar does), so that the two agree. Explained in ``16_better_emotion_model``; printed and
    recorded by every chapter that trains a network, ``08_cnn_binary`` to ``17_new_voices``
    (all but ``13_multitask``)."""
    seconds = [float(s) for s in seconds]
    if not seconds:
        return float("nan")
    later = seconds[1:] or seconds
    return sum(later) / len(later)


#: The epoch bar's layout: tqdm's own rate and time left are left out (tqdm measures them from
#: the bar's creation and smooths them, so the first epoch, which traces the model, dominated
#: them: 3.5 s per epoch on a bar whose chapter printed 0.8 s); the bar shows
#: :func:`seconds_per_epoch` instead, measured the same way as the printed line.
EPOCH_BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} epochs [{elapsed}{postfix}]"


def epoch_progress(epochs: int, desc: str = "training", metrics: Sequence[str] = ("loss", "val_accuracy"),
                   callback_base: type | None = None):
    """A Keras callback that counts epochs in one :func:`progress` bar, with the last ``metrics``.

    ``model.fit(..., verbose=0, callbacks=[epoch_progress(40, "emotion")])``: one bar per
    training instead of Keras' lines per epoch (or nothing at all with ``verbose=0``); it
    stops where early stopping stops. After the metrics the bar shows the seconds per epoch,
    each epoch timed from its start to its end and the first (which traces the model) left out
    once there are others (:func:`seconds_per_epoch`), as ``16_better_emotion_model``'s printed
    line counts them. ``callback_base``: the callback class to derive from, ``keras.callbacks.Callback``
    (imported when called) by default; ``tf_keras.callbacks.Callback`` for the TensorFlow
    Probability models of ``15_uncertainty``. Used through :func:`course_utils.learning.training.fit`
    by every chapter that trains a network, ``08_cnn_binary`` to ``17_new_voices``.
    """
    if callback_base is None:
        import keras

        callback_base = keras.callbacks.Callback

    class EpochProgress(callback_base):
        def __init__(self):
            super().__init__()
            self.bar = None
            self.seconds: list[float] = []
            self._start = None

        def on_train_begin(self, logs=None):
            self.seconds = []
            self.bar = progress(total=int(epochs), desc=desc, unit="epoch", bar_format=EPOCH_BAR_FORMAT)

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if self._start is not None:
                self.seconds.append(time.perf_counter() - self._start)
            logs = logs or {}
            shown = {m: f"{float(logs[m]):.3f}" for m in metrics if m in logs}
            if self.seconds:
                shown["s/epoch"] = f"{seconds_per_epoch(self.seconds):.1f}"
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            if self.bar is not None:
                self.bar.close()

    return EpochProgress()


# --------------------------------------------------------------------------------------
# Messages in a notebook's output
# --------------------------------------------------------------------------------------
def message_html(text: str, kind: str = "error", title: str = "") -> str:
    """A message for a notebook's output as HTML: escaped, `code` between backticks shown as code,
    lines broken between words (a stream's text in JupyterLab breaks anywhere, even mid-word), in
    a box coloured for an ``"error"``, a ``"warning"`` or a ``"note"``; ``title`` in bold first.
    Used by the classifier explorer of ``16_better_emotion_model``."""
    body = re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text, quote=False))
    if title:
        body = f"<b>{html.escape(title, quote=False)}</b> {body}"
    border, background = {"error": ("var(--jp-error-color1, #d32f2f)", "var(--jp-error-color3, #ffebee)"),
                          "warning": ("var(--jp-warn-color1, #f57c00)", "var(--jp-warn-color3, #fff3e0)"),
                          "note": ("var(--jp-border-color2, #e0e0e0)", "transparent")}[kind]
    return (f'<div class="course-message course-{kind}" style="white-space: normal; word-break: normal; '
            f'overflow-wrap: break-word; line-height: 1.4; max-width: 70em; margin: 4px 0; padding: 4px 10px; '
            f'border-left: 4px solid {border}; background: {background}">{body}</div>')


def say(text: str, kind: str = "note", title: str = "") -> None:
    """``text`` in the notebook: a :func:`message_html` box in JupyterLab, plain lines headless.
    Used by the classifier explorer of ``16_better_emotion_model`` (a recording that is too quiet)."""
    if headless():
        print(f"{title} {text}".strip())
        return
    from IPython.display import HTML, display

    display(HTML(message_html(text, kind, title)))
