"""Where the course keeps things: project root, data, build products.

Every location can be moved with an environment variable, so that tests, Binder and teachers
with a shared copy of RAVDESS can point the notebooks elsewhere:

==================  ==========================================  ==========================
variable            meaning                                     default
==================  ==========================================  ==========================
``COURSE_ROOT``     the course checkout                         the folder above this package
``COURSE_DATA_DIR`` data: corpora, downloads, feature cache     ``<root>/data``
``COURSE_BUILD_DIR`` executed notebooks, results                ``<root>/build``
``RAVDESS_DIR``     an existing copy of RAVDESS (Zenodo/Kaggle) ``<data>/ravdess``
==================  ==========================================  ==========================

Taught in ``00_getting_the_data`` (where RAVDESS goes, ``RAVDESS_DIR``, and where every chapter
saves what it measured) and ``06_preprocessing`` (the feature cache); used by every chapter.
:func:`use_build_dir` moves the build folder for a block (seed sweeps, the tests).
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator


def project_root() -> Path:
    """The course checkout: ``$COURSE_ROOT``, else the folder that holds ``course_utils``.

    Used by every chapter through :func:`data_dir` and :func:`build_dir` (``00_getting_the_data``
    on), and by the build tooling (the notebook runner, the website, the generated docs)."""
    env = os.environ.get("COURSE_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve().parents[2]  # course_utils/base/paths.py -> the checkout
    if (here / "notebooks").is_dir():
        return here
    return Path.cwd().resolve()


def data_dir() -> Path:
    """Data folder: ``$COURSE_DATA_DIR`` or ``<root>/data``. Where every chapter's data cell
    (:func:`course_utils.data.datasets.resolve`, ``00_getting_the_data`` on) and
    ``python -m course_utils get-data`` look for RAVDESS and the offline corpus."""
    env = os.environ.get("COURSE_DATA_DIR")
    return Path(env).expanduser().resolve() if env else project_root() / "data"


def build_dir() -> Path:
    """Build products: ``$COURSE_BUILD_DIR`` or ``<root>/build``. Holds :func:`results_dir`
    (every chapter); ``99_results`` reads ``make bench``'s ``bench.json`` from it."""
    env = os.environ.get("COURSE_BUILD_DIR")
    return Path(env).expanduser().resolve() if env else project_root() / "build"


def results_dir() -> Path:
    """Where notebooks write their metrics (one JSON file each).

    Every chapter saves there (:class:`course_utils.course.results.NotebookRun`; explained at the
    end of ``00_getting_the_data``); ``10_augmentation``, ``12_autoencoder``, ``14_raw_waveform``,
    ``16_better_emotion_model`` and ``99_results`` read other chapters' results from it."""
    return build_dir() / "results"


def cache_dir() -> Path:
    """Where computed features are cached: ``<data>/cache``. Taught in ``06_preprocessing`` (the
    feature cache, :mod:`course_utils.data.cache`), which also times a cold run in a temporary
    folder inside it; every chapter that computes per-clip features from ``05_eda`` on reads it."""
    return data_dir() / "cache"


def files_fingerprint(files: Iterable[str | Path], *settings) -> str:
    """A short hash that identifies a list of files and the settings computed from them.

    It covers each file's name, size and modification time, so that a cache entry is not
    reused for another subset, or after a file was replaced (a regenerated corpus has files
    of the same names and sizes), and the ``settings`` (any values with a ``str``).
    Taught in ``06_preprocessing`` (the name of a cache file); every cache entry is named with it
    (:func:`course_utils.data.cache.entry_path`).
    """
    h = hashlib.sha1()
    for f in files:
        st = os.stat(f)
        h.update(f"{Path(f).name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    h.update(json.dumps([str(s) for s in settings]).encode())
    return h.hexdigest()[:12]


@contextmanager
def use_build_dir(path: str | Path) -> Iterator[Path]:
    """Point ``COURSE_BUILD_DIR`` at ``path`` inside this block (kernels started here inherit it):
    :func:`build_dir` then returns ``path``. No chapter calls it: ``python -m course_utils seeds``
    (:func:`course_utils.tools.seeds.run_seeds`) and the notebook tests use it, so that their runs
    never touch the course's ``build/results/`` (the results folder of ``00_getting_the_data``)."""
    path = Path(path)
    old = os.environ.get("COURSE_BUILD_DIR")
    os.environ["COURSE_BUILD_DIR"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("COURSE_BUILD_DIR", None)
        else:
            os.environ["COURSE_BUILD_DIR"] = old
