"""TensorFlow without its C++ start-up notes: every Keras chapter's first import.

On every ``import tensorflow`` TensorFlow 2.21's C++ side writes a few lines straight to the
process's standard error (file descriptor 2, below Python's ``sys.stderr``): absl's "WARNING:
All log messages before absl::InitializeLog() is called are written to STDERR", a note that
oneDNN custom operations are on, "Could not find cuda drivers on your machine", and, at the
first look at the devices, "failed call to cuInit". ipykernel forwards descriptor 2 to the
notebook, so every Keras chapter opened with a red box of them. ``TF_CPP_MIN_LOG_LEVEL`` no
longer stops them: they are written before TensorFlow reads it (absl logs everything to
standard error until it is initialised).

:func:`import_tensorflow` sets ``TF_CPP_MIN_LOG_LEVEL`` (unless it is already set: a teacher
who debugs sets ``0``), then imports TensorFlow and lists its devices with descriptor 2 sent to
a temporary file, and writes back to standard error every line that is not one of those known
start-up notes (:data:`STARTUP_NOISE`): anything else written during the import still shows,
and so do Python's warnings and exceptions (TensorFlow's Python warnings included) afterwards;
the C++ log lines of training stay hidden by the log level, as the chapters always had them
(:data:`TF_LOG_LEVEL`). Called in the import cell of ``06_preprocessing`` and ``08_cnn_binary`` to
``17_new_voices``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator, Sequence

#: The C++ log level :func:`import_tensorflow` sets when none is set, the one the chapters always
#: set: ``3`` hides TensorFlow's C++ info, warning and error *log lines*, which in training are notes,
#: not failures ("Local rendezvous is aborting ... End of sequence" at the end of every ``tf.data``
#: epoch; "NodeDef mentions attribute use_unbounded_threadpool which is not in the op definition",
#: logged as an error by every Keras training on TensorFlow 2.21). A real failure raises a Python
#: exception, and Python's warnings are not touched.
TF_LOG_LEVEL = "3"

#: The start-up lines TensorFlow writes whatever the log level (regular expressions, matched
#: against whole lines). A C++ log line is ``<I|W|E><MMDD> <time> <thread> <file>:<line>] text``.
_LOG = r"[IWE]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] "
STARTUP_NOISE: tuple[re.Pattern, ...] = tuple(re.compile(p) for p in (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    _LOG + r"oneDNN custom operations are on\..*",
    _LOG + r"Could not find cuda drivers on your machine, GPU will not be used\.",
    _LOG + r"failed call to cuInit: .*",
    _LOG + r"This TensorFlow binary is optimized to use available CPU instructions.*",
    r"To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.",
    _LOG + r"Unable to register cu(DNN|FFT|BLAS) factory: .*",
    _LOG + r"TF-TRT Warning: Could not find TensorRT",
    _LOG + r"computation placer already registered\..*",
))


def is_startup_noise(line: str, patterns: Sequence[re.Pattern] = STARTUP_NOISE) -> bool:
    """Whether ``line`` (without its line break) is one of TensorFlow's known start-up notes.
    Used by :func:`import_tensorflow`, in the import cell of ``06_preprocessing`` and ``08_cnn_binary``
    to ``17_new_voices``."""
    return any(p.fullmatch(line.rstrip("\r\n")) for p in patterns)


def drop_startup_noise(text: str, patterns: Sequence[re.Pattern] = STARTUP_NOISE) -> str:
    """``text`` without the lines that are TensorFlow start-up notes (:func:`is_startup_noise`).
    Used by :func:`import_tensorflow`, in the import cell of ``06_preprocessing`` and ``08_cnn_binary``
    to ``17_new_voices``."""
    return "".join(line for line in text.splitlines(keepends=True) if not is_startup_noise(line, patterns))


@contextlib.contextmanager
def filtered_stderr(patterns: Sequence[re.Pattern] = STARTUP_NOISE) -> Iterator[None]:
    """Inside the block, what is written to file descriptor 2 (C and C++ code included) goes to a
    temporary file; afterwards every line but the known start-up notes is written to
    ``sys.stderr`` (in Jupyter: the cell's stderr output), even if the block raised.

    The descriptor is restored from a copy kept open throughout, so that a reader of the
    original descriptor (ipykernel forwards it to the notebook through a pipe) never sees it
    closed. Used by :func:`import_tensorflow`, in the import cell of ``06_preprocessing`` and
    ``08_cnn_binary`` to ``17_new_voices``.
    """
    try:
        fd = 2
        os.fstat(fd)
    except OSError:  # no standard error at all (a daemon): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        for stream in (sys.stderr, sys.__stderr__):
            with contextlib.suppress(Exception):
                stream.flush()
        saved = os.dup(fd)
        os.dup2(capture.fileno(), fd)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.__stderr__.flush()  # what Python itself wrote to descriptor 2 meanwhile
            os.dup2(saved, fd)
            os.close(saved)
            capture.seek(0)
            rest = drop_startup_noise(capture.read().decode("utf-8", errors="replace"), patterns)
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()


def import_tensorflow(log_level: str = TF_LOG_LEVEL):
    """Import TensorFlow (and look up its devices) without its C++ start-up notes; return it.

    ``TF_CPP_MIN_LOG_LEVEL`` is set to ``log_level`` unless the environment already sets it.
    Anything else written during the import (a real warning or error) still reaches standard
    error. Importing Keras afterwards prints nothing more. Call it before anything imports
    TensorFlow: in the import cell of every Keras chapter (``06_preprocessing``,
    ``08_cnn_binary`` to ``17_new_voices``), in place of setting the variable by hand.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", str(log_level))
    with filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the first look at the devices writes "failed call to cuInit" without a GPU
    return tf
