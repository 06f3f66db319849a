"""Google Colab: the badge that opens a chapter there, and the setup cell that makes it run.

Every chapter has an "Open in Colab" badge in its title cell (and in the README's chapter map) and,
right after its parameters cell, the same setup cell (:func:`setup_cell_source`)::

    import sys

    if "google.colab" in sys.modules:  # on Colab only; elsewhere this cell does nothing
        %pip install --quiet "course-utils @ git+https://github.com/.../deep-learning-audio-signals@main"
        from course_utils.course import colab

        colab.setup(dataset)

On Colab it installs ``course_utils`` from the course's repository at :data:`REF`, the same
branch or tag the badge opens the notebook from, so that notebook and package match. pip keeps
Colab's own TensorFlow, built for its GPU: the package declares ranges without upper bounds
(``pyproject.toml``), and Colab's versions lie in them. Then :func:`setup` gets the data (Colab is
online: the Zenodo download of ``get-data``, checked against its MD5), says which GPU the
chapter will train on, and switches on Colab's manager for ipywidgets 8 (the sliders of chapters
01, 03 and 04). Outside Colab (JupyterLab, Binder, papermill, the tests) the cell imports ``sys``
and nothing else happens.

Change :data:`REPOSITORY` or :data:`REF` (a fork, a release tag) and run
``docs.update_docs()``: the badges and the setup cells of every chapter follow (a test keeps
them equal to what this module makes).

Taught in ``00_getting_the_data`` (where to run the course: a laptop, Binder or Colab).
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path
from urllib.parse import urlparse

from course_utils.base import quiet
from course_utils.base.errors import CourseError
from course_utils.data import datasets
from course_utils.sound import numba_cache

#: The course's public repository (``pyproject.toml``'s ``[project.urls] Repository``; a test
#: keeps the two equal). Badges open notebooks from it; the setup cell installs the package from it.
REPOSITORY = "https://github.com/dl-audio-course/deep-learning-audio-signals"
#: The branch or tag that badges open and that the setup cell installs: one version for both.
REF = "main"
#: The distribution name of ``course_utils`` (``pyproject.toml``'s ``[project] name``).
DISTRIBUTION = "course-utils"
#: Colab's badge image, as Colab's own documentation gives it.
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: The first line of every chapter's setup cell: how the tests and :mod:`course_utils.tools.docs` find it.
SETUP_MARKER = "# Colab only"
#: Packages whose version a fresh Colab kernel may already have imported: if the install changed
#: one of them on disk, the running kernel still holds the old one (:func:`stale_modules`).
WATCHED = {"numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "keras": "keras", "tensorflow": "tensorflow",
           "librosa": "librosa", "sklearn": "scikit-learn", "matplotlib": "matplotlib", "ipywidgets": "ipywidgets"}


def _owner_repo(repository: str) -> str:
    url = urlparse(repository)
    parts = url.path.strip("/").removesuffix(".git").split("/")
    if url.netloc != "github.com" or len(parts) != 2 or not all(parts):
        raise ValueError(f"{repository!r} is not a GitHub repository address (https://github.com/OWNER/REPO): "
                         "Colab opens notebooks from GitHub only")
    return "/".join(parts)


def colab_url(notebook: str | Path, *, repository: str = REPOSITORY, ref: str = REF) -> str:
    """The address that opens ``notebooks/<notebook>.ipynb`` of ``repository`` at ``ref`` in Colab
    (``https://colab.research.google.com/github/OWNER/REPO/blob/REF/notebooks/NAME.ipynb``). The
    badges of every chapter and of the README point there (``00_getting_the_data``)."""
    name = Path(notebook).stem
    return f"https://colab.research.google.com/github/{_owner_repo(repository)}/blob/{ref}/notebooks/{name}.ipynb"


def badge(notebook: str | Path, *, repository: str = REPOSITORY, ref: str = REF) -> str:
    """The Markdown "Open in Colab" badge of a chapter: Colab's badge image linking to
    :func:`colab_url`. In every chapter's title cell and in the README's chapter map
    (``00_getting_the_data``)."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook, repository=repository, ref=ref)})"


def install_requirement(*, repository: str = REPOSITORY, ref: str = REF) -> str:
    """The pip requirement of the setup cell: ``course-utils @ git+<repository>@<ref>``. A local
    repository (``file:///...``) stands in for GitHub in the tests. Used by :func:`setup_cell_source`
    (every chapter's setup cell, ``00_getting_the_data``)."""
    if not repository or any(c in repository + ref for c in " \"'\n"):
        raise ValueError(f"repository {repository!r} and ref {ref!r} must be non-empty, without spaces or quotes")
    return f"{DISTRIBUTION} @ git+{repository}@{ref}"


def setup_cell_source(*, repository: str = REPOSITORY, ref: str = REF) -> str:
    """The text of every chapter's setup cell (the cell after the parameters cell): on Colab only,
    install the course at :data:`REF` and call :func:`setup`; elsewhere nothing. ``%pip`` installs
    into the running kernel's Python. Kept equal in every notebook by ``tests/test_colab.py``;
    explained in ``00_getting_the_data``."""
    return (
        f"{SETUP_MARKER} (elsewhere this cell does nothing): install the course at this notebook's version,\n"
        "# get the data and use Colab's GPU (Runtime > Change runtime type > GPU, before running).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "{install_requirement(repository=repository, ref=ref)}"\n'
        "    from course_utils.course import colab\n"
        "\n"
        "    colab.setup(dataset)"
    )


def on_colab() -> bool:
    """True inside a Colab kernel (it has imported ``google.colab``), as the setup cell tests it.
    Used by :func:`setup` (``00_getting_the_data``)."""
    return "google.colab" in sys.modules


def stale_modules(watched: dict[str, str] | None = None) -> list[str]:
    """Modules this kernel imported whose installed version is now another: ``"numpy 2.0.2 (2.4.6
    installed)"``. A kernel keeps the version it imported; after the setup cell's install changed
    one, the session must restart. Checked by :func:`setup` (``00_getting_the_data``)."""
    stale = []
    for module, dist in (WATCHED if watched is None else watched).items():
        mod = sys.modules.get(module)
        loaded = getattr(mod, "__version__", None) if mod is not None else None
        if loaded is None:
            continue
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        if installed != loaded:
            stale.append(f"{module} {loaded} ({installed} installed)")
    return stale


def gpu_report() -> str:
    """One sentence: the GPUs TensorFlow sees and what that means for the training chapters, or
    how to get one on Colab. Printed by :func:`setup` (``00_getting_the_data``)."""
    tf = quiet.import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return ("No GPU in this session: the chapters run on the CPU (quick mode in seconds, the training chapters' "
                "full mode slowly). On Colab: Runtime > Change runtime type > a GPU, then run all cells again.")
    names = []
    for gpu in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name") or gpu.name)
        except (RuntimeError, ValueError):
            names.append(gpu.name)
    return (f"TensorFlow {tf.__version__} sees {len(gpus)} GPU{'s' if len(gpus) > 1 else ''} ({', '.join(names)}): "
            "the networks train there; feature extraction (librosa) still runs on the CPU.")


def _enable_widgets() -> None:
    """Colab draws ipywidgets 8 (the course's sliders) only with its custom widget manager."""
    try:
        from google.colab import output  # only on Colab
    except ImportError:
        return
    enable = getattr(output, "enable_custom_widget_manager", None)
    if enable is not None:
        enable()


def _installed_version() -> str:
    try:
        return f"{importlib.metadata.version(DISTRIBUTION)} installed"
    except importlib.metadata.PackageNotFoundError:  # a checkout on the path, not installed
        return "(not installed: a checkout on the Python path)"


def setup(dataset: str = "auto", *, force: bool = False) -> datasets.Dataset | None:
    """What the setup cell does on Colab after installing the course: check that the session holds
    no stale packages, get the data, print what the chapter will run on, and return the data set.

    - ``dataset`` is the chapter's parameter. ``"auto"`` and ``"ravdess"`` download RAVDESS from
      Zenodo into ``/content/data`` (about 200 MB, its MD5 checked; once per Colab session, then
      found there); ``"synthetic"`` generates the offline corpus. The chapter's own data cell then
      finds the same copy.
    - It compiles librosa's numba code once, in this process (:func:`course_utils.sound.numba_cache.compile_librosa`:
      about 40 s on a fresh Colab, instant afterwards), so that the chapters' parallel workers
      never write numba's cache at the same moment.
    - Outside Colab it checks for stale packages and returns None (``force=True``: everything, as
      on Colab; the tests use it): a laptop or Binder already has the course and gets its data
      in the chapter's data cell.
    - A package the install upgraded after the kernel imported it raises :class:`course_utils.base.errors.CourseError` with
      the fix (restart the session, run all cells again).

    Taught in ``00_getting_the_data``; called by every chapter's setup cell.
    """
    stale = stale_modules()
    if stale:
        raise CourseError(
            "This Colab session imported packages before the course's install changed them: "
            + "; ".join(stale)
            + ".\nFix: Runtime > Restart session, then run all cells again (the install is then already done)."
        )
    if not (force or on_colab()):
        return None
    _enable_widgets()
    data = datasets.resolve(dataset, download_ok=True)
    seconds = numba_cache.compile_librosa()  # before a chapter's parallel workers could compile it twice
    print(f"Course {_installed_version()} from {REF}; data: {data.description}; librosa compiled ({seconds:.0f} s)")
    print(gpu_report())
    return data
