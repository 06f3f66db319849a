"""A trained classifier on a clip the student picks or records (``16_better_emotion_model``).

The chapter's last section: the model classifies a test clip chosen from a menu, or a recording
the student uploads, and shows what it saw (the log-Mel image) and what it answered (a
probability per emotion: the softmax :math:`p_k = e^{z_k} / \\sum_j e^{z_j}` of the network's
outputs :math:`z_k`; the predicted emotion is the largest :math:`p_k`). A network only knows
images made the way its training images were made, so a recording goes through exactly the
recipe of the training images (:func:`image_featurizer`). A file that cannot be used gets a
message that names it and the fix (:func:`decode_upload`); a recording too quiet to hold speech
gets a warning (:func:`quiet_warning`): its level (:func:`recording_level`, :math:`10 \\log_{10}`
of the mean square of its loudest 100 ms, in dBFS) is far below that of speech into a working
microphone.

=============================  ==================================================================
:func:`classifier_explorer`    the menu, the upload button and the result (headless: one clip);
                               returns its :class:`ClassifierExplorer`
:func:`decode_upload`          an uploaded file's bytes as a signal, or a clear error
:func:`recording_level`        the loudest 100 ms in dBFS; :func:`quiet_warning` in words
:func:`image_featurizer`       the training clips' recipe for a sound already loaded
:func:`class_probabilities`    a model's probability per class for one image
:func:`plot_prediction`        the image and the probabilities, side by side
=============================  ==================================================================
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_utils.base import jupyter
from course_utils.base.errors import InputError
from course_utils.data import audio
from course_utils.sound import features, plots

#: File types an upload may have: what libsndfile (``soundfile``) decodes.
UPLOAD_FORMATS = (".wav", ".flac", ".ogg", ".mp3")

#: How to make a file the classifier can read, for messages and the notebook.
RECORDING_HELP = (
    "Record 2 to 4 seconds of speech with any recorder app (Windows Sound Recorder, QuickTime or "
    "Voice Memos on a Mac or an iPhone, the recorder of an Android phone, Audacity) and save or "
    "export it as WAV, FLAC, OGG or MP3. Apps that only save M4A, AAC or WebM need one more step: "
    "export as WAV from Audacity, or convert with `ffmpeg -i recording.m4a recording.wav`."
)


# --------------------------------------------------------------------------------------
# Reading a recording
# --------------------------------------------------------------------------------------
#: The level below which a recording is too quiet to be speech into a working microphone (dBFS,
#: the loudest 100 ms, RMS): a muted or unselected microphone records its own noise, at about
#: -60 to -90 dBFS. The quietest clip of the RAVDESS sample is at -44 dBFS, speech into a phone or
#: a laptop microphone usually at -35 to -10 dBFS.
QUIET_DBFS = -50.0

#: The peak amplitude below which a recording is silence (-80 dBFS): refused.
SILENT_PEAK = 1e-4


def recording_level(y: np.ndarray, sr: int, window_s: float = 0.1) -> float:
    """The level of the loudest ``window_s`` of a sound in dBFS (RMS; 0 dBFS is a full-scale
    square wave, -3 dBFS a full-scale sine); -inf for silence. Used by :func:`quiet_warning`
    (the explorer of ``16_better_emotion_model``)."""
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
    ``None`` otherwise. The classifier still answers: it then classifies noise. Used by
    :class:`ClassifierExplorer` for every upload (``16_better_emotion_model``)."""
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
    corpus is read (:func:`course_utils.data.audio.load_audio`, on a temporary copy of the bytes).

    Raises :class:`course_utils.base.errors.InputError` (a ``ValueError``, shown as its message alone
    in a notebook) naming the file and the fix when the type is not one of
    :data:`UPLOAD_FORMATS`, the bytes are not audio, a sample is not a finite number (a damaged
    file: librosa's resampler refused it with a ``ParameterError``), or the sound is shorter than
    ``min_seconds`` or silent (peak below :data:`SILENT_PEAK`). A sound that is merely too quiet
    is returned: :func:`quiet_warning` says so. Taught in ``16_better_emotion_model``.
    """
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


# --------------------------------------------------------------------------------------
# From a sound to an answer
# --------------------------------------------------------------------------------------
def image_featurizer(config) -> Callable[[np.ndarray, int], np.ndarray]:
    """The training clips' recipe for a sound already loaded: ``featurize(y, sr) -> image (H, W)``.

    Trim the silence, centre in ``config.duration`` s, log-Mel, image
    (:func:`course_utils.sound.features.signal_image`, what
    :func:`course_utils.sound.features.clip_image` does after loading a file); then the pixels
    are rounded to float16 and back, as :func:`course_utils.sound.features.compute_images`
    stores and returns them. A recorded clip so reaches a model as the very numbers its
    training images were. ``config`` is the :class:`course_utils.sound.features.FeatureConfig`
    of the model's images. Taught in ``16_better_emotion_model``.
    """
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
    Used by :class:`ClassifierExplorer` (``16_better_emotion_model``).
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


def plot_prediction(image: np.ndarray, probabilities: pd.Series, *, true_label: str | None = None, config=None,
                    title: str = "", class_label: str = "class") -> plt.Figure:
    """What the model saw and what it answered: the log-Mel image (left) and a horizontal bar
    chart of the class probabilities in percent (right), the predicted class in red and the
    true class, if known, named on its bar. ``config`` (the ``FeatureConfig`` of the image)
    labels the axes in seconds and Hz; ``class_label`` names the classes' axis (e.g. "emotion").
    Used by :class:`ClassifierExplorer`: the figure of the explorer of ``16_better_emotion_model``.
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
        left.set_yticks(*plots.mel_ticks(config, image.shape[0], (250, 500, 1000, 2000, 4000, 8000)))
        left.set_ylabel("frequency (Hz, Mel axis)")
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


# --------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------
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
        clip = self.clips.iloc[int(row)]
        y, _ = audio.load_audio(clip["path"], sr=self.sr)
        self.warning = None
        return self.classify(y, f"test clip: {self.describe(clip)}", true_label=str(clip[self.label_column]))

    def classify_upload(self, name: str, content: bytes, show: bool = True) -> pd.Series:
        """Classify an uploaded file (:func:`decode_upload`; a file that cannot be used raises
        :class:`course_utils.base.errors.InputError`, a ``ValueError``). A recording too quiet to hold
        speech is classified after a warning (:func:`quiet_warning`), also with ``show=False``."""
        y = decode_upload(name, content, sr=self.sr)
        self.warning = quiet_warning(y, self.sr, name)
        if self.warning:
            jupyter.say(self.warning, "warning", title="Too quiet?")
        note = None
        if self.config is not None:
            kept = len(audio.trim_silence(y, top_db=self.config.trim_top_db)[0]) / self.sr
            if kept > self.config.duration:
                note = (f"{kept:.1f} s of sound after trimming the silence: like every training clip, only its middle "
                        f"{self.config.duration:g} s reach the model.")
        return self.classify(y, f"your recording {name}", note=note, show=show)

    def _show(self, action: Callable[[], Any]) -> None:
        """Run ``action`` with its output in the explorer's output area (replacing the last one); a
        file or sound that cannot be used gets its message in a box (:func:`~course_utils.base.jupyter.message_html`)."""
        from IPython.display import HTML, clear_output, display

        with self.output:
            clear_output(wait=True)
            try:
                action()
            except ValueError as err:
                self.error = str(err)
                display(HTML(jupyter.message_html(self.error, "error", title="This file cannot be used.")))

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
        help_text = widgets.HTML(jupyter.message_html(f"Pick a test clip, or upload a recording of your own. {RECORDING_HELP}",
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
    if jupyter.headless():
        print("(A headless run: the result for one test clip. In JupyterLab a menu of the test clips and an "
              "upload button for your own recording appear here.)")
        explorer.classify_clip(start)
    else:
        display(explorer.widget(start))
    return explorer
