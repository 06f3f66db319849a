"""The course's JupyterLab: the settings ``make venv`` and Binder install, and notebooks that open unmodified.

- :func:`install_lab_settings`: no "Would you like to receive official Jupyter news?" toast over
  the output (run by ``make venv`` and ``binder/postBuild``);
- :func:`store_language_info`: notebooks hold the kernel's ``language_info``, so that JupyterLab
  does not mark them modified the moment they open.

Build tooling (:mod:`course_utils.tools`): no notebook imports it. Checked in a real JupyterLab by
``tests/test_lab.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

import nbformat

from course_utils.data.atomic import write_text_atomic


#: JupyterLab settings of the course's environments (``make venv``, Binder): no "Would you like to
#: receive official Jupyter news?" toast, which covered the output on every page (and no news or
#: update check on the network).
LAB_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def lab_overrides_path(prefix: str | Path | None = None) -> Path:
    """JupyterLab 4's settings overrides file of the environment at ``prefix`` (default: this
    Python's ``sys.prefix``): ``<prefix>/share/jupyter/lab/settings/overrides.json``. Used by
    :func:`install_lab_settings` (``make venv``, ``binder/postBuild``) and the tests."""
    return Path(sys.prefix if prefix is None else prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def install_lab_settings(prefix: str | Path | None = None) -> Path:
    """Write :data:`LAB_SETTINGS` into the environment's :func:`lab_overrides_path` (atomically; the
    other settings already there are kept) and return the path. The defaults a student sees; what
    they change in Settings still wins. Run by ``make venv`` and by ``binder/postBuild``."""
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
    ``{"name": "python"}``). Used by :func:`store_language_info` (``binder/postBuild``) and
    ``tests/test_lab.py``."""
    from ipykernel.ipkernel import IPythonKernel

    return json.loads(json.dumps(IPythonKernel.language_info))


def store_language_info(notebooks: Sequence[str | Path]) -> list[Path]:
    """Give each notebook the kernel's ``language_info`` (:func:`kernel_language_info`), so that
    JupyterLab does not mark it modified the moment it opens; return the notebooks changed (the
    others are not rewritten). The repository's notebooks hold that of the course's Python;
    ``binder/postBuild`` runs this for the image's Python, whose patch release (the ``version``
    field) may differ."""
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
