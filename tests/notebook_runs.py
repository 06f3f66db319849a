"""What the notebook tests share: a build folder per test module, one headless run and its checks.

The notebook runs are the longest part of ``make test`` (every chapter runs twice: papermill,
then nbval). They are split over two test modules, ``test_notebooks`` (chapters 00-08, the
negative and real-sample tests) and ``test_notebooks_training`` (09-18 and 99), so that the two
pytest-xdist workers of ``make test`` share them (each module goes whole to one worker:
``--dist loadfile``). Each module has its own build folder (:func:`course_build`): chapters that
read other chapters' results (10, 12, 14, 16, 99) see those of their own module and say so when
one is missing, as they do for a student who runs a chapter alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.base import jupyter, paths
from course_utils.course import results
from course_utils.tools import runner

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = runner.list_notebooks(ROOT / "notebooks")
#: Seconds a quick-mode cell may take: a stuck kernel fails the test instead of stalling CI.
CELL_TIMEOUT = 600
#: Set to ``0`` to leave out nbval's rerun (the lowest-versions environment does: the quick run, its
#: results and claims are what it checks there; the rerun, which checks the seeds, runs here).
NBVAL_ENV = "COURSE_TEST_NBVAL"
#: The first chapter of ``test_notebooks_training`` (the chapters before it run in ``test_notebooks``).
FIRST_TRAINING = "09"
EARLY = [p for p in NOTEBOOKS if p.stem < FIRST_TRAINING]
TRAINING = [p for p in NOTEBOOKS if p.stem >= FIRST_TRAINING]


@pytest.fixture(scope="module")
def course_build(tmp_path_factory, synthetic_root):
    """A build folder of its own, so that the tests never touch the project's build/."""
    build = tmp_path_factory.mktemp("build")
    with paths.use_build_dir(build):
        yield build


def nbval(notebook: Path) -> subprocess.CompletedProcess:
    """Run nbval on one executed notebook in a separate pytest (the project's options off)."""
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", f"--nbval-cell-timeout={CELL_TIMEOUT}", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
           "--rootdir", str(notebook.parent), str(notebook)]
    env = {**os.environ, jupyter.HEADLESS_ENV: "1"}  # as papermill's kernels: no widgets
    return subprocess.run(cmd, capture_output=True, text=True, cwd=notebook.parent, timeout=1200, env=env)


def run_and_check(notebook: Path, build: Path) -> None:
    """Run ``notebook`` headless (papermill, quick mode, offline corpus) into ``build``, check its
    results record and generated claims, then rerun the executed copy with nbval (unless
    :data:`NBVAL_ENV` is ``0``)."""
    out = runner.run_notebook(notebook, build / "executed", {"dataset": "synthetic", "quick": True}, progress=False, timeout=CELL_TIMEOUT)
    executed = nbformat.read(out, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    record = json.loads((build / "results" / f"{notebook.stem}.json").read_text())
    assert record["notebook"] == notebook.stem and record["dataset"] == "synthetic" and record["mode"] == "quick"
    assert record["metrics"] and all(isinstance(v, float) for v in record["metrics"].values())
    # every generated claim (NotebookRun.say) follows its numbers, and those numbers were recorded
    assert results.check_claims(build / "results" / f"{notebook.stem}.json") == []

    # nbval: the marked cells give the same output on a rerun of the executed copy
    if os.environ.get(NBVAL_ENV, "1") == "0":
        return
    check = nbval(out)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
