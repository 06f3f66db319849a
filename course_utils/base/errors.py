"""Errors a student or teacher can act on: one message naming the cause and the fix.

The course raises :class:`CourseError` (or a subclass) for bad input it can explain: a notebook
parameter out of range, a damaged cache entry, a data folder that cannot be written. In
JupyterLab, Colab and in papermill's report such an error shows as its message alone, not as a
screen of traceback through the course's helpers: IPython asks an exception for
``_render_traceback_()`` before it formats one (the hook IPython documents for exactly this), and
``%tb`` still shows the full traceback to whoever wants it. In plain Python (scripts, the tests)
it is an ordinary exception with its traceback.

Taught in ``00_getting_the_data`` (what a clear error looks like) and used by every chapter's
parameter check (:func:`course_utils.course.params.check`).
"""

from __future__ import annotations

RED, RESET = "\x1b[31m", "\x1b[0m"


class CourseError(Exception):
    """An error whose message says what went wrong and how to fix it; shown without a traceback
    in notebooks. Taught in ``00_getting_the_data`` (exercise 4: the parameter check's message);
    every chapter raises it, or one of its subclasses, for input it can explain."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the class name and the message, in red."""
        lines = str(self).splitlines() or [""]
        return [f"{RED}{type(self).__name__}{RESET}: {lines[0]}", *lines[1:]]


class ParameterError(CourseError, ValueError):
    """A notebook parameter with a value the chapter cannot use (:func:`course_utils.course.params.check`).
    Taught in ``00_getting_the_data`` (its Parameters section and exercise 4); raised in every
    chapter's first code cells."""


class InputError(CourseError, ValueError):
    """A signal or file the course cannot use (empty, silent, not finite), named with the fix.
    Raised by the feature recipe (:func:`course_utils.sound.features.clip_image`) of ``04_mel_scale``,
    ``06_preprocessing`` and every chapter that computes log-Mel images, and by the classifier
    explorer of ``16_better_emotion_model``; the file errors of ``00_getting_the_data``
    (:class:`course_utils.data.metadata.RavdessNameError`, :class:`course_utils.data.metadata.AudioFileError`)
    are kinds of it."""
