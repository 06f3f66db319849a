"""Binder's pinned requirements: one self-contained file generated from the course's pins.

The course pins its stack in two files: ``requirements.txt`` (the direct dependencies) and
``constraints.txt`` (every package of the tested stack, a ``pip freeze``). Binder's builder,
repo2docker, installs ``binder/requirements.txt`` in a cached image layer *before* it copies the
repository, but only when that file names no other local file: a line with ``-r`` or ``-c``
"breaks isolation" (``repo2docker/utils.py``: ``is_local_pip_requirement``), and then the whole
stack (TensorFlow included) is installed again after every commit. So
``binder/requirements.txt`` repeats every pin of ``constraints.txt`` itself:

- :func:`read_pins`: the ``name==version`` pins of a requirements file, in order;
- :func:`binder_requirements`: the text of ``binder/requirements.txt`` (every pin of
  ``constraints.txt``, direct dependencies marked), after checking that every pin of
  ``requirements.txt`` is in ``constraints.txt`` at the same version;
- :func:`write_binder_requirements`: writes it (atomically) when it changed.

``docs.update_docs`` calls :func:`write_binder_requirements`, and ``tests/test_binder.py`` fails
when the file differs from what :func:`binder_requirements` makes, so a changed pin reaches
Binder. Build tooling (:mod:`course_utils.tools`): no notebook imports it.
"""

from __future__ import annotations

import re
from pathlib import Path

from course_utils.base import paths
from course_utils.data.atomic import write_text_atomic

_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)")

HEADER = """\
# Binder (repo2docker) installs this file with `pip install -r binder/requirements.txt`, then runs
# binder/postBuild (which installs the course package itself: with a binder/ folder, repo2docker
# reads only the files in it).
#
# GENERATED from ../constraints.txt (every package of the tested stack; "# direct" marks the
# course's own dependencies, ../requirements.txt). Do not edit: change those two files, then run
#   .venv/bin/python -c "from course_utils.tools import docs; docs.update_docs()"
# (tests/test_binder.py fails while this file differs).
#
# Self-contained on purpose: a line with -r or -c names a local file, which repo2docker treats as
# breaking isolation (repo2docker/utils.py: is_local_pip_requirement); it would then install the
# stack after copying the repository, again on every commit, instead of in a cached layer
# (repo2docker/buildpacks/python/__init__.py: _should_preassemble_pip).
"""


def _norm(name: str) -> str:
    """A package name as pip compares them (PEP 503): ``tf_keras`` and ``TF-Keras`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: str | Path) -> dict[str, tuple[str, str]]:
    """The pins of a requirements file: ``{normalised name: (name as written, version)}``, in order.

    Comments and blank lines are skipped; any other line that is not an exact ``name==version``
    pin raises a ``ValueError`` naming the file and the line (the course pins everything)."""
    path = Path(path)
    pins: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        pin = _PIN.fullmatch(line)
        if not pin:
            raise ValueError(f"{path}, line {number}: {line!r} is not an exact pin (name==version). "
                             "Fix: pin it, as every line of the course's requirement files is.")
        pins[_norm(pin.group(1))] = (pin.group(1), pin.group(2))
    return pins


def binder_requirements(root: str | Path | None = None) -> str:
    """The text of ``binder/requirements.txt``: :data:`HEADER`, then every pin of
    ``constraints.txt`` in its order, the direct dependencies (``requirements.txt``) marked.

    Raises a ``ValueError`` when a pin of ``requirements.txt`` is missing from
    ``constraints.txt`` or has another version there (pip would refuse that pair as well)."""
    root = Path(root) if root is not None else paths.project_root()
    direct = read_pins(root / "requirements.txt")
    every = read_pins(root / "constraints.txt")
    for key, (name, version) in direct.items():
        if key not in every:
            raise ValueError(f"requirements.txt pins {name}=={version}, but constraints.txt does not name it. "
                             "Fix: add it to constraints.txt (pip freeze of the course's environment).")
        if every[key][1] != version:
            raise ValueError(f"{name} is {version} in requirements.txt but {every[key][1]} in constraints.txt. "
                             "Fix: pin one version in both.")
    lines = [f"{name}=={version}" + ("  # direct" if key in direct else "") for key, (name, version) in every.items()]
    return HEADER + "\n".join(lines) + "\n"


def write_binder_requirements(root: str | Path | None = None) -> Path | None:
    """Write :func:`binder_requirements` to ``binder/requirements.txt``; returns the path when the
    file changed, else None. Called by ``docs.update_docs``."""
    root = Path(root) if root is not None else paths.project_root()
    target = root / "binder" / "requirements.txt"
    text = binder_requirements(root)
    if target.is_file() and target.read_text() == text:
        return None
    write_text_atomic(target, text)
    return target
