"""Sliders, menus and progress bars in JupyterLab; still pictures and a few lines of text headless.

Used by the explorers of ``01_sound_and_sampling`` (sample rate and aliasing),
``03_spectrogram`` (window and hop), ``04_mel_scale`` (number of Mel bands:
:func:`mel_bands_explorer`) and ``16_better_emotion_model`` (a trained model classifying a
clip the student picks or records: :func:`classifier_explorer`), and by long loops
(:func:`progress`, :func:`epoch_progress`).

A headless run (papermill, nbval: :func:`course_utils.runner.run_notebook` marks the kernel
with ``COURSE_HEADLESS=1``) has nobody to move a slider, and creating ipywidgets there is
not free: every widget opens a comm, and under nbclient a cell that creates widgets
sometimes never gets its reply (jupyter/nbclient#312; seen here too, a test run stuck on the
``interact`` cell of chapter 01). So in a headless run the explorers draw the figure of
their starting values and create no widget at all, and progress bars are plain text
(``tqdm.auto`` would draw a widget bar in any Jupyter kernel, papermill's included).

What a student sees in JupyterLab is checked in a real one, in headless Chromium
(``tests/test_lab.py``): each explorer's figure appears once, the controls are the sliders asked
for, the upload works. The course's JupyterLab itself is set up here too: no news toast over the
output (:func:`install_lab_settings`, run by ``make venv`` and Binder), and notebooks that are not
marked modified the moment they open (:func:`store_language_info`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_utils.errors import InputError

#: The environment variable that marks a headless kernel.
HEADLESS_ENV = "COURSE_HEADLESS"

#: Seconds between two updates of a text progress bar in a headless run: a few lines per
#: long step in the executed notebook, not one per item.
HEADLESS_MININTERVAL = 30.0

#: File types an upload may have: what libsndfile (``soundfile``) decodes.
UPLOAD_FORMATS = (".wav", ".flac", ".ogg", ".mp3")

#: How to make a file the classifier can read, for messages and the notebook.
RECORDING_HELP = (
    "Record 2 to 4 seconds of speech with any recorder app (Windows Sound Recorder, QuickTime or "
    "Voice Memos on a Mac or an iPhone, the recorder of an Android phone, Audacity) and save or "
    "export it as WAV, FLAC, OGG or MP3. Apps that only save M4A, AAC or WebM need one more step: "
    "export as WAV from Audacity, or convert with `ffmpeg -i recording.m4a recording.wav`."
)


def headless() -> bool:
    """Whether this kernel runs headless (no one to move a slider)."""
    return os.environ.get(HEADLESS_ENV) == "1"


# ----------------------------------------------------------------------------------------
# The course's JupyterLab
# ----------------------------------------------------------------------------------------

#: JupyterLab settings of the course's environments (``make venv``, Binder): no "Would you like to
#: receive official Jupyter news?" toast, which covered the output on every page (and no news or
#: update check on the network).
LAB_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def lab_overrides_path(prefix: str | Path | None = None) -> Path:
    """JupyterLab 4's settings overrides file of the environment at ``prefix`` (default: this
    Python's ``sys.prefix``): ``<prefix>/share/jupyter/lab/settings/overrides.json``."""
    return Path(sys.prefix if prefix is None else prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def install_lab_settings(prefix: str | Path | None = None) -> Path:
    """Write :data:`LAB_SETTINGS` into the environment's :func:`lab_overrides_path` (atomically; the
    other settings already there are kept) and return the path. The defaults a student sees; what
    they change in Settings still wins. Run by ``make venv`` and by ``binder/postBuild``."""
    import json

    from course_utils.atomic import write_text_atomic

    path = lab_overrides_path(prefix)
    try:
        current = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        current = {}
    if not isinstance(current, dict):
        current = {}
    for plugin, values in LAB_SETTINGS.items():
        current[plugin] = {**(current.get(plugin) if isinstance(current.get(plugin), dict) else {}), **values}
    write_text_atomic(path, json.dumps(current, indent=2) + "\n")
    return path


def kernel_language_info() -> dict:
    """The ``language_info`` the course's kernel (ipykernel on this Python) reports. JupyterLab
    writes it into a notebook's metadata as soon as the kernel starts, and marks the notebook
    modified unless the notebook already holds exactly that (every notebook did, with its stored
    ``{"name": "python"}``). Used by :func:`store_language_info`."""
    import json

    from ipykernel.ipkernel import IPythonKernel

    return json.loads(json.dumps(IPythonKernel.language_info))


def store_language_info(notebooks: Sequence[str | Path]) -> list[Path]:
    """Give each notebook the kernel's ``language_info`` (:func:`kernel_language_info`), so that
    JupyterLab does not mark it modified the moment it opens; return the notebooks changed (the
    others are not rewritten). The repository's notebooks hold that of the course's Python;
    ``binder/postBuild`` runs this for the image's Python, whose patch release (the ``version``
    field) may differ."""
    import nbformat

    from course_utils.atomic import write_text_atomic

    info, changed = kernel_language_info(), []
    for path in map(Path, notebooks):
        nb = nbformat.read(path, as_version=4)
        if nb.metadata.get("language_info") == info:
            continue
        nb.metadata["language_info"] = info
        text = nbformat.writes(nb)
        write_text_atomic(path, text if text.endswith("\n") else text + "\n")
        changed.append(path)
    return changed


# ----------------------------------------------------------------------------------------
# Sliders
# ----------------------------------------------------------------------------------------


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

    >>> explore(draw, freq=dict(value=3000, min=100, max=12000, step=50), fixed=dict(seconds=1.0))  # doctest: +SKIP
    """
    fixed = dict(fixed or {})
    if headless():
        print("(A headless run: the figure for the sliders' start values. In JupyterLab, sliders appear here.)")
        return function(**{name: spec["value"] for name, spec in sliders.items()}, **fixed)
    import functools
    import inspect

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


# ----------------------------------------------------------------------------------------
# Progress bars
# ----------------------------------------------------------------------------------------


def progress(iterable=None, **kwargs):
    """A progress bar over ``iterable`` (or ``total=`` steps updated by hand): ``tqdm``.

    In JupyterLab it is tqdm's widget bar; in a headless run a text bar on standard error
    that is redrawn at most every :data:`HEADLESS_MININTERVAL` seconds (``miniters=1`` keeps
    tqdm's monitor thread from redrawing it in between), so a long step leaves one line in
    the executed notebook (each redraw starts with ``\r``) and no widget. Standard error,
    as tqdm's own default: the course website leaves ``stderr`` streams out
    (:mod:`course_utils.site`). nbval compares ``stderr`` as strictly as ``stdout``, so a
    bar, whose line holds timings, must never run in a ``# NBVAL_CHECK_OUTPUT`` cell.
    Other keywords go to ``tqdm`` (``desc``, ``unit``, ``total``, ``disable`` ...).

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
    the order of ``files``. Used by the feature extractors of ``07_classical_baseline``.
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
    :func:`epoch_progress` shows, and what ``16_better_emotion_model`` prints from
    ``history["seconds"]`` (:func:`course_utils.training.fit` times every epoch from its start to
    its end, as the bar does), so that the two agree."""
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
    Probability models of ``15_uncertainty``.
    """
    import time

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


# ----------------------------------------------------------------------------------------
# How many Mel bands? (04_mel_scale)
# ----------------------------------------------------------------------------------------


def mel_bands_table(counts: Sequence[int] = (8, 16, 32, 64, 128, 256), sr: int = 22_050, n_fft: int = 2048,
                    hop_length: int = 256, harmonic_spacing_hz: float = 100.0) -> pd.DataFrame:
    """What a number of Mel bands keeps: one row per count in ``counts``.

    Columns: the numbers per second of sound (bands x frames per second) and their share of
    the STFT's ``1 + n_fft // 2`` bins (%), the width of the lowest and the highest triangle (Hz),
    the bands below 1 kHz, and up to which frequency the triangles are narrower than
    ``harmonic_spacing_hz`` (a rough limit below which harmonics that far apart, those of a
    voice at that f0, stay in separate bands; 0 where no band is that narrow). Edges from
    :func:`course_utils.mel.filter_table` (Slaney Mel, 0 Hz to ``sr / 2``).
    Taught in ``04_mel_scale``.
    """
    from course_utils import mel

    rows = []
    frames_per_s = sr / hop_length
    for n in counts:
        bank = mel.filter_table(sr, n_fft, n_mels=int(n))
        narrow = bank.loc[bank["width (Hz)"] < harmonic_spacing_hz, "upper (Hz)"]
        rows.append({
            "Mel bands": int(n),
            "numbers per second": round(n * frames_per_s),
            "share of the STFT (%)": 100 * n / (1 + n_fft // 2),
            "lowest band (Hz wide)": float(bank["width (Hz)"].iloc[0]),
            "highest band (Hz wide)": float(bank["width (Hz)"].iloc[-1]),
            "bands below 1 kHz": int((bank["centre (Hz)"] < 1000).sum()),
            f"bands < {harmonic_spacing_hz:g} Hz wide up to (Hz)": float(narrow.max()) if len(narrow) else 0.0,
        })
    return pd.DataFrame(rows).set_index("Mel bands")


def mel_bands_figure(y: np.ndarray, sr: int, n_mels: int = 32, *, n_fft: int = 2048, hop_length: int = 256,
                     frame: int | None = None, fmax_frame: float = 4000.0, title: str = "") -> plt.Figure:
    """Three views of what ``n_mels`` Mel bands make of a clip.

    Top left, the triangular filters (each drawn with a peak of 1; the course's filters are
    Slaney-normalised, same area); top right, one frame (default: the loudest) as the STFT
    sees it and as the bands see it (each band's weighted mean power, dB re. the frame's
    loudest bin, drawn over the band), up to ``fmax_frame`` Hz; below, the log-Mel spectrogram
    with the frame marked. Taught in ``04_mel_scale``.
    """
    import librosa

    from course_utils import mel

    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    F = mel.filterbank(sr, n_fft, n_mels)
    M = F @ S
    frame = int(np.argmax(S.sum(axis=0))) if frame is None else int(frame)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    bank = mel.filter_table(sr, n_fft, n_mels)

    fig = plt.figure(figsize=(12, 7.6), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.2])
    ax_bank, ax_frame, ax_img = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])

    peak = F / np.maximum(F.max(axis=1, keepdims=True), 1e-12)
    for row, colour in zip(peak, plt.cm.viridis(np.linspace(0, 0.9, n_mels))):
        ax_bank.plot(freqs, row, color=colour, linewidth=0.8)
    ax_bank.set(xlim=(0, sr / 2), ylim=(0, 1.05), xlabel="frequency (Hz)", ylabel="weight (peak drawn as 1)",
                title=f"{n_mels} triangular Mel filters, lowest {bank['width (Hz)'].iloc[0]:.0f} Hz wide, "
                      f"highest {bank['width (Hz)'].iloc[-1]:,.0f} Hz")
    ax_bank.grid(alpha=0.3)

    power = S[:, frame]
    ref = max(float(power.max()), 1e-20)
    band_mean = (F @ power) / np.maximum(F.sum(axis=1), 1e-12)
    to_db = lambda p: 10 * np.log10(np.maximum(p, ref * 1e-8) / ref)  # noqa: E731
    ax_frame.plot(freqs, to_db(power), color="0.55", linewidth=0.8, label=f"STFT: {1 + n_fft // 2} bins")
    ax_frame.hlines(to_db(band_mean), (bank["lower (Hz)"] + bank["centre (Hz)"]) / 2,
                    (bank["centre (Hz)"] + bank["upper (Hz)"]) / 2, color="C3", linewidth=2,
                    label=f"{n_mels} Mel bands: mean power under each triangle")
    ax_frame.set(xlim=(0, fmax_frame), ylim=(-80, 5), xlabel="frequency (Hz)", ylabel="level (dB re. loudest bin)",
                 title=f"One frame, at {librosa.frames_to_time(frame, sr=sr, hop_length=hop_length):.2f} s: "
                       f"where do the harmonics go?")
    ax_frame.legend(loc="upper right", fontsize=8)
    ax_frame.grid(alpha=0.3)

    S_db = librosa.power_to_db(M, ref=np.max, top_db=80)
    mel.specshow_mel(S_db, sr, hop_length, ax=ax_img,
                     title=f"{title}log-Mel spectrogram with {n_mels} bands: {n_mels} x {M.shape[1]} = "
                           f"{M.size:,} numbers (the STFT: {S.size:,})")
    ax_img.axvline(librosa.frames_to_time(frame, sr=sr, hop_length=hop_length), color="w", linestyle="--", linewidth=1)
    return fig


def mel_bands_explorer(y: np.ndarray, sr: int, n_mels: int = 32, *, n_fft: int = 2048, hop_length: int = 256,
                       title: str = "", players: bool = True, n_iter: int = 16) -> plt.Figure:
    """:func:`mel_bands_figure`, shown, and two players: the clip, and what its ``n_mels`` bands
    sound like when turned back into a signal (``librosa.feature.inverse.mel_to_audio``,
    Griffin-Lim with ``n_iter`` iterations: about 1 to 2 s on one core for a 3-s clip).

    The function behind the notebook's slider (:func:`explore`). Taught in ``04_mel_scale``.
    """
    import librosa

    from course_utils import plots

    fig = mel_bands_figure(y, sr, n_mels, n_fft=n_fft, hop_length=hop_length, title=title)
    plt.show()
    if players:
        M = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0)
        back = librosa.feature.inverse.mel_to_audio(M, sr=sr, n_fft=n_fft, hop_length=hop_length, n_iter=n_iter,
                                                    length=len(y))
        plots.play(y, sr, label="the clip")
        plots.play(back, sr, label=f"rebuilt from its {n_mels} Mel bands (Griffin-Lim, {n_iter} iterations)")
    return fig


# ----------------------------------------------------------------------------------------
# A trained classifier on a clip the student picks or records (16_better_emotion_model)
# ----------------------------------------------------------------------------------------


#: The level below which a recording is too quiet to be speech into a working microphone (dBFS,
#: the loudest 100 ms, RMS): a muted or unselected microphone records its own noise, at about
#: -60 to -90 dBFS. The quietest clip of the RAVDESS sample is at -44 dBFS, speech into a phone or
#: a laptop microphone usually at -35 to -10 dBFS.
QUIET_DBFS = -50.0

#: The peak amplitude below which a recording is silence (-80 dBFS): refused.
SILENT_PEAK = 1e-4


def recording_level(y: np.ndarray, sr: int, window_s: float = 0.1) -> float:
    """The level of the loudest ``window_s`` of a sound in dBFS (RMS; 0 dBFS is a full-scale
    square wave, -3 dBFS a full-scale sine); -inf for silence. Taught in ``16_better_emotion_model``."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    n = max(1, min(len(y), int(round(window_s * sr))))
    frames = len(y) // n
    if frames == 0:
        return float("-inf")
    power = np.mean(y[: frames * n].reshape(frames, n) ** 2, axis=1).max()
    return float(10 * np.log10(power)) if power > 0 else float("-inf")


def quiet_warning(y: np.ndarray, sr: int, name: str, threshold_dbfs: float = QUIET_DBFS) -> str | None:
    """A warning in plain words when a recording is too quiet to hold speech (its loudest moment
    below ``threshold_dbfs``): its level, what it probably is (a muted microphone) and the fix;
    ``None`` otherwise. The classifier still answers: it then classifies noise. Taught in
    ``16_better_emotion_model``."""
    level = recording_level(y, sr)
    if level >= threshold_dbfs:
        return None
    return (f"{name} is very quiet: its loudest moment is at {level:.0f} dBFS, where speech into a working microphone "
            f"is at about -35 to -10 dBFS. It is probably the noise of a muted microphone, or of one that is not the "
            f"one the recorder app uses, so the answer below is about noise, not about a voice. Fix: unmute the "
            f"microphone, choose it in the recorder app (or in the system's sound settings), speak at a normal "
            f"volume about 30 cm from it, and record again.")


def _non_finite(path: Path) -> bool:
    """Whether an audio file holds samples that are not finite numbers (NaN, infinity)."""
    import soundfile as sf

    try:
        data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:  # not readable at all: another message
        return False
    return not np.isfinite(data).all()


def _damaged(name: str) -> InputError:
    return InputError(f"{name} is damaged: some of its samples are not numbers (NaN or infinity), which no "
                      f"recorder writes. Fix: record it again, or export it again from the recording app or from "
                      f"Audacity (as 16-bit WAV), and upload the new file.")


def decode_upload(name: str, content: bytes, sr: int | None = 22_050, min_seconds: float = 0.2) -> np.ndarray:
    """The sound in an uploaded file's bytes: mono float32 at ``sr`` Hz, read exactly as the
    corpus is read (:func:`course_utils.audio.load_audio`, on a temporary copy of the bytes).

    Raises :class:`course_utils.errors.InputError` (a ``ValueError``, shown as its message alone
    in a notebook) naming the file and the fix when the type is not one of
    :data:`UPLOAD_FORMATS`, the bytes are not audio, a sample is not a finite number (a damaged
    file: librosa's resampler refused it with a ``ParameterError``), or the sound is shorter than
    ``min_seconds`` or silent (peak below :data:`SILENT_PEAK`). A sound that is merely too quiet
    is returned: :func:`quiet_warning` says so. Taught in ``16_better_emotion_model``.
    """
    from course_utils import audio

    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_FORMATS:
        raise InputError(f"{name}: the classifier reads {', '.join(s[1:].upper() for s in UPLOAD_FORMATS)} files, "
                         f"not {suffix[1:].upper() or 'files without an extension'}. Fix: {RECORDING_HELP}")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / f"upload{suffix}"
        copy.write_bytes(bytes(content))
        try:
            y, file_sr = audio.load_audio(copy, sr=sr)
        except Exception as err:  # soundfile's errors, librosa's ParameterError, audio's ValueError
            if _non_finite(copy):
                raise _damaged(name) from err
            reason = str(err.__cause__ or err).replace(str(copy), name)
            raise InputError(f"{name} could not be read as {suffix[1:].upper()} audio ({reason}). Fix: check that the "
                             f"file plays on your computer and was saved as a real {suffix[1:].upper()} file, "
                             f"not renamed. {RECORDING_HELP}") from err
    if not np.isfinite(y).all():
        raise _damaged(name)
    if len(y) < min_seconds * file_sr:
        raise InputError(f"{name} holds {1000 * len(y) / file_sr:.0f} ms of sound. Fix: record at least one "
                         f"sentence, 2 to 4 seconds long.")
    if np.abs(y).max() < SILENT_PEAK:
        raise InputError(f"{name} is silent (peak below -80 dB full scale). Fix: check that the microphone is "
                         "on and chosen in the recorder app, speak closer to it, and record again.")
    return y


def image_featurizer(config) -> Callable[[np.ndarray, int], np.ndarray]:
    """The training clips' recipe for a sound already loaded: ``featurize(y, sr) -> image (H, W)``.

    Trim the silence, centre in ``config.duration`` s, log-Mel, image
    (:func:`course_utils.features.signal_image`, what ``features.clip_image`` does after
    loading a file); then the pixels are rounded to float16 and back, as
    :func:`course_utils.features.compute_images` stores and returns them. A recorded clip so
    reaches a model as the very numbers its training images were. ``config`` is the
    ``features.FeatureConfig`` of the model's images. Taught in ``16_better_emotion_model``.
    """
    from course_utils import features

    def featurize(y: np.ndarray, sr: int) -> np.ndarray:
        if sr != config.sample_rate:
            raise ValueError(f"the recipe works at {config.sample_rate} Hz, got a signal at {sr} Hz")
        image = features.signal_image(y, config)
        return image.astype(np.float16).astype(np.float32)  # the precision of the feature cache

    return featurize


def class_probabilities(predict: Callable[[np.ndarray], Any], image: np.ndarray, class_names: Sequence[str]) -> pd.Series:
    """The model's probability for each class of one image, as a Series indexed by class name.

    ``predict`` maps a batch of images ``(N, H, W)`` to probabilities ``(N, C)``, e.g.
    ``lambda x: training.predict_proba(model, x)``. It must return one probability per class
    name, none negative, summing to 1 (a softmax output): anything else raises ``ValueError``.
    Taught in ``16_better_emotion_model``.
    """
    p = np.asarray(predict(np.asarray(image, dtype=np.float32)[None]), dtype=float)
    p = p.reshape(-1) if p.ndim == 1 else p[0]
    names = [str(c) for c in class_names]
    if len(p) != len(names):
        raise ValueError(f"the model gives {len(p)} probabilities but there are {len(names)} class names")
    if not np.isfinite(p).all() or p.min() < -1e-6 or abs(p.sum() - 1) > 1e-3:
        raise ValueError(f"predict must return probabilities (a softmax output) summing to 1, got {np.round(p, 4)} "
                         f"(sum {p.sum():.4f})")
    return pd.Series(np.clip(p, 0, 1), index=names, name="probability")


def _mel_ticks(ax, config, rows: int) -> None:
    """Label an image's Mel rows with frequencies in Hz."""
    import librosa

    fmax = config.fmax if config.fmax is not None else config.sample_rate / 2
    centres = librosa.mel_frequencies(rows + 2, fmin=config.fmin, fmax=fmax)[1:-1]
    ticks = [f for f in (250, 500, 1000, 2000, 4000, 8000) if centres[0] <= f <= centres[-1]]
    ax.set_yticks(np.interp(ticks, centres, np.arange(rows) + 0.5), [f"{f:,}" for f in ticks])
    ax.set_ylabel("frequency (Hz, Mel axis)")


def plot_prediction(image: np.ndarray, probabilities: pd.Series, *, true_label: str | None = None, config=None,
                    title: str = "", class_label: str = "class") -> plt.Figure:
    """What the model saw and what it answered: the log-Mel image (left) and a horizontal bar
    chart of the class probabilities in percent (right), the predicted class in red and the
    true class, if known, named on its bar. ``config`` (the ``FeatureConfig`` of the image)
    labels the axes in seconds and Hz; ``class_label`` names the classes' axis (e.g. "emotion").
    Taught in ``16_better_emotion_model``.
    """
    image = np.asarray(image).squeeze()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1.1, 1]},
                                      constrained_layout=True)
    extent = None if config is None else (0, config.duration, 0, image.shape[0])
    im = left.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=1, extent=extent)
    fig.colorbar(im, ax=left, label="level (0 = -80 dB, 1 = loudest)")
    if config is None:
        left.set(xlabel="frame", ylabel="Mel band")
    else:
        left.set_xlabel("time (s)")
        _mel_ticks(left, config, image.shape[0])
    left.set_title("what the model sees: the log-Mel image", fontsize=10)

    predicted = str(probabilities.idxmax())
    percent = 100 * probabilities.to_numpy()
    order = np.arange(len(probabilities))[::-1]  # first class on top
    colours = ["C3" if name == predicted else "0.65" for name in probabilities.index]
    right.barh(order, percent, color=colours)
    labels = [f"{name} (true)" if name == true_label else name for name in probabilities.index]
    right.set_yticks(order, labels)
    for k, v in zip(order, percent):
        right.text(min(v + 1.5, 88), k, f"{v:.1f} %", va="center", fontsize=8)
    right.axvline(100 / len(probabilities), color="0.3", linestyle=":", linewidth=1,
                  label=f"chance (1/{len(probabilities)} = {100 / len(probabilities):.1f} %)")
    right.set(xlim=(0, 100), xlabel="probability (%)", ylabel=class_label)
    right.legend(loc="lower right", fontsize=8)
    verdict = "" if true_label is None else (": right" if predicted == true_label else f": wrong, it is {true_label}")
    right.set_title(f"predicted {class_label}: {predicted} ({100 * probabilities.max():.1f} %){verdict}", fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


def message_html(text: str, kind: str = "error", title: str = "") -> str:
    """A message for a notebook's output as HTML: escaped, `code` between backticks shown as code,
    lines broken between words (a stream's text in JupyterLab breaks anywhere, even mid-word), in
    a box coloured for an ``"error"``, a ``"warning"`` or a ``"note"``; ``title`` in bold first.
    Used by the classifier explorer of ``16_better_emotion_model``."""
    import html

    body = re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text, quote=False))
    if title:
        body = f"<b>{html.escape(title, quote=False)}</b> {body}"
    border, background = {"error": ("var(--jp-error-color1, #d32f2f)", "var(--jp-error-color3, #ffebee)"),
                          "warning": ("var(--jp-warn-color1, #f57c00)", "var(--jp-warn-color3, #fff3e0)"),
                          "note": ("var(--jp-border-color2, #e0e0e0)", "transparent")}[kind]
    return (f'<div class="course-message course-{kind}" style="white-space: normal; word-break: normal; '
            f'overflow-wrap: break-word; line-height: 1.4; max-width: 70em; margin: 4px 0; padding: 4px 10px; '
            f'border-left: 4px solid {border}; background: {background}">{body}</div>')


def _say(text: str, kind: str = "note", title: str = "") -> None:
    """``text`` in the notebook: a :func:`message_html` box in JupyterLab, plain lines headless."""
    if headless():
        print(f"{title} {text}".strip())
        return
    from IPython.display import HTML, display

    display(HTML(message_html(text, kind, title)))


#: The menu's value for the student's own recording (clips are rows 0, 1, ...).
UPLOAD_ROW = -1


class ClassifierExplorer:
    """A trained classifier applied to a clip the student picks from ``clips`` or uploads.

    Built by :func:`classifier_explorer`, which documents the arguments. ``last`` holds the
    latest result: ``{"title", "probabilities" (Series), "predicted", "true", "image"}``;
    ``error`` the message of the latest upload that could not be used (``None`` otherwise);
    ``warning`` what :func:`quiet_warning` said of the latest upload (``None`` otherwise).
    Taught in ``16_better_emotion_model``.
    """

    def __init__(self, predict, clips: pd.DataFrame, class_names, featurize, *, label_column: str = "label",
                 sr: int = 22_050, config=None, describe: Callable[[Any], str] | None = None, class_label: str = "class"):
        if len(clips) == 0:
            raise ValueError("clips is empty: give at least one clip (a table with a 'path' column)")
        missing = {"path", label_column} - set(clips.columns)
        if missing:
            raise ValueError(f"clips needs the columns {sorted(missing)}")
        self.predict, self.class_names, self.featurize = predict, [str(c) for c in class_names], featurize
        self.clips, self.label_column, self.sr, self.config = clips.reset_index(drop=True), label_column, sr, config
        self.describe = describe or (lambda row: f"{row[label_column]}: {Path(str(row['path'])).name}")
        self.class_label = class_label
        self.last: dict | None = None
        self.error: str | None = None
        self.warning: str | None = None
        self.uploaded: tuple[str, bytes] | None = None
        self.output = None
        self._menu_quiet = False

    def options(self) -> list[tuple[str, int]]:
        """``(menu text, row)`` for every clip: the Dropdown's options."""
        return [(self.describe(row), k) for k, row in self.clips.iterrows()]

    def classify(self, y: np.ndarray, title: str, true_label: str | None = None, note: str | None = None,
                 show: bool = True) -> pd.Series:
        """Featurize a sound at ``self.sr`` Hz and predict; with ``show``, draw :func:`plot_prediction`,
        say the answer in a line of text, and add a player of the sound."""
        from course_utils import plots

        image = self.featurize(y, self.sr)
        proba = class_probabilities(self.predict, image, self.class_names)
        predicted = str(proba.idxmax())
        if show:
            plot_prediction(image, proba, true_label=true_label, config=self.config, title=title,
                            class_label=self.class_label)
            plt.show()
            truth = "" if true_label is None else f" (true {self.class_label}: {true_label})"
            print(f"{title}: predicted {self.class_label} {predicted}, {100 * float(proba.max()):.1f} %{truth}")
            if note:
                print(note)
            plots.play(y, self.sr, label=f"{title} (as loaded, before trimming)")
        self.last = {"title": title, "probabilities": proba, "predicted": predicted, "true": true_label,
                     "image": image}
        return proba

    def classify_clip(self, row: int) -> pd.Series:
        """Classify clip ``row`` of ``clips`` (its true label shown)."""
        from course_utils import audio

        clip = self.clips.iloc[int(row)]
        y, _ = audio.load_audio(clip["path"], sr=self.sr)
        self.warning = None
        return self.classify(y, f"test clip: {self.describe(clip)}", true_label=str(clip[self.label_column]))

    def classify_upload(self, name: str, content: bytes, show: bool = True) -> pd.Series:
        """Classify an uploaded file (:func:`decode_upload`; a file that cannot be used raises
        :class:`course_utils.errors.InputError`, a ``ValueError``). A recording too quiet to hold
        speech is classified after a warning (:func:`quiet_warning`), also with ``show=False``."""
        y = decode_upload(name, content, sr=self.sr)
        self.warning = quiet_warning(y, self.sr, name)
        if self.warning:
            _say(self.warning, "warning", title="Too quiet?")
        note = None
        if self.config is not None:
            from course_utils import audio

            kept = len(audio.trim_silence(y, top_db=self.config.trim_top_db)[0]) / self.sr
            if kept > self.config.duration:
                note = (f"{kept:.1f} s of sound after trimming the silence: like every training clip, only its middle "
                        f"{self.config.duration:g} s reach the model.")
        return self.classify(y, f"your recording {name}", note=note, show=show)

    def _show(self, action: Callable[[], Any]) -> None:
        """Run ``action`` with its output in the explorer's output area (replacing the last one); a
        file or sound that cannot be used gets its message in a box (:func:`message_html`)."""
        from IPython.display import HTML, clear_output, display

        with self.output:
            clear_output(wait=True)
            try:
                action()
            except ValueError as err:
                self.error = str(err)
                display(HTML(message_html(self.error, "error", title="This file cannot be used.")))

    def _menu_shows_upload(self, name: str) -> None:
        """Put the uploaded file first in the menu and select it, without classifying anything."""
        self._menu_quiet = True
        try:
            self.menu.options = [(f"your recording: {name}", UPLOAD_ROW), *self.options()]
            self.menu.value = UPLOAD_ROW
        finally:
            self._menu_quiet = False

    def widget(self, start: int = 0):
        """The widgets: a Dropdown of the clips (and of the last upload), an upload button, help,
        and the output area."""
        import ipywidgets as widgets

        menu = widgets.Dropdown(options=self.options(), value=int(start), description="test clip",
                                layout=widgets.Layout(width="60%"), style={"description_width": "initial"})
        # width auto: the button as wide as its label, "Upload a recording (1)", not cut to "Upload a recor..."
        upload = widgets.FileUpload(accept=",".join(UPLOAD_FORMATS), multiple=False, description="Upload a recording",
                                    layout=widgets.Layout(width="auto", min_width="max-content"))
        self.output = widgets.Output()
        help_text = widgets.HTML(message_html(f"Pick a test clip, or upload a recording of your own. {RECORDING_HELP}",
                                              "note"))

        def on_menu(change) -> None:
            if self._menu_quiet:
                return
            self.error = None
            if change["new"] == UPLOAD_ROW and self.uploaded is not None:
                self._show(lambda: self.classify_upload(*self.uploaded))
            elif change["new"] is not None and change["new"] != UPLOAD_ROW:
                self._show(lambda: self.classify_clip(change["new"]))

        def on_upload(change) -> None:
            files = change["new"]
            if not files:
                return
            self.error = None
            chosen = files[-1]
            self.uploaded = (str(chosen["name"]), bytes(chosen["content"]))
            self._menu_shows_upload(self.uploaded[0])
            self._show(lambda: self.classify_upload(*self.uploaded))

        menu.observe(on_menu, names="value")
        upload.observe(on_upload, names="value")
        self.menu, self.upload = menu, upload
        self.box = widgets.VBox([widgets.HBox([menu, upload]), help_text, self.output])
        self._show(lambda: self.classify_clip(start))
        return self.box


def classifier_explorer(predict: Callable[[np.ndarray], Any], clips: pd.DataFrame, class_names: Sequence[str],
                        featurize: Callable[[np.ndarray, int], np.ndarray], *, label_column: str = "label",
                        sr: int = 22_050, config=None, start: int = 0,
                        describe: Callable[[Any], str] | None = None, class_label: str = "class") -> ClassifierExplorer:
    """A trained classifier on a clip the student picks or records, with its class probabilities.

    - ``predict``: a batch of images ``(N, H, W)`` -> probabilities ``(N, C)``, in the order
      of ``class_names`` (e.g. ``lambda x: training.predict_proba(model, x)``);
    - ``clips``: a table with a ``path`` column and the true label in ``label_column``, e.g.
      the test clips; ``describe(row)`` writes a row's menu text (and figure title);
    - ``featurize(y, sr) -> image``: the model's preprocessing for a sound at ``sr`` Hz,
      exactly that of its training images (:func:`image_featurizer`); ``config`` (the
      ``FeatureConfig`` of the images) labels the figure's axes, ``class_label`` the classes'.

    In JupyterLab: a Dropdown of the clips and a ``FileUpload`` button (WAV, FLAC, OGG, MP3:
    see :data:`RECORDING_HELP`); the chosen clip is classified and shown with
    :func:`plot_prediction` and a player; a file that cannot be used gets a message naming it
    and the fix. Headless: no widget; the result for clip ``start`` only. Returns the
    :class:`ClassifierExplorer` (its ``last`` result). Taught in ``16_better_emotion_model``.
    """
    from IPython.display import display

    explorer = ClassifierExplorer(predict, clips, class_names, featurize, label_column=label_column, sr=sr,
                                  config=config, describe=describe, class_label=class_label)
    if headless():
        print("(A headless run: the result for one test clip. In JupyterLab a menu of the test clips and an "
              "upload button for your own recording appear here.)")
        explorer.classify_clip(start)
    else:
        display(explorer.widget(start))
    return explorer
