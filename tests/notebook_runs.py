"""What the notebook tests share: a build folder per test module, one headless run and its checks.

The notebook runs are the longest part of ``make test``: every chapter runs once with papermill,
and the chapters of :data:`RERUN` a second time under nbval (:func:`rerun_chapters`). They are
split over three test modules, so that the pytest-xdist workers of ``make test`` share them
(each module goes whole to one worker: ``--dist loadfile``):

- ``test_notebooks``: chapters 00-08 (:data:`EARLY`), the negative and real-sample tests;
- ``test_notebooks_training``: 09 and the chapters that compare with its results, 13-16, 18
  (which compares with 16) and the summary 99 (:data:`TRAINING`);
- ``test_notebooks_models``: 10, 11, 12 and 17, which read no results of 09-18 (:data:`MODELS`).

Each module has its own build folder (:func:`course_build`): a chapter that reads other
chapters' results sees those of its own module (:func:`results_read` lists them, and
``test_notebooks_training`` checks that none is in another training module) and says so when
one is missing, as it does for a student who runs a chapter alone (the results of 00-08 are
in ``test_notebooks``' folder).
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
#: Which chapters nbval reruns: unset, those of :data:`RERUN`; ``all``, every chapter (before a
#: class, or after changing how a chapter seeds its draws); ``0``, none (the lowest-versions
#: environment: the quick run, its results and claims are what it checks there).
NBVAL_ENV = "COURSE_TEST_NBVAL"
#: The chapters nbval reruns in ``make test``: one for each kind of random draw the course seeds,
#: so that a seed that stops reaching its draw shows as a changed output. 00: the example clips
#: it picks; 07: the random split, the actor folds and the SVMs; 08: a Keras network's initial
#: weights, dropout and shuffled batches; 15: sampled weights and dropout masks at prediction
#: time; 16: SpecAugment's masks and mixup's partners (the final model). The other chapters draw
#: with the same seeded helpers, whose repeatability their unit tests check (``test_training``,
#: ``test_waveform_nets``, ``test_uncertainty``, ``test_speech_models``, ``test_augment``,
#: ``test_emotion_net``, ``test_embeddings``). A rerun costs almost as much as the run (chapter
#: 16 on an idle machine: 67 s, then 53 s), so rerunning every chapter kept CI over 30 minutes.
RERUN = ("00_getting_the_data", "07_classical_baseline", "08_cnn_binary", "15_uncertainty", "16_better_emotion_model")
#: The first chapter of the training modules (the chapters before it run in ``test_notebooks``).
FIRST_TRAINING = "09"
#: The training chapters of ``test_notebooks_models``: those that read no results of 09-18.
MODEL_CHAPTERS = ("10_augmentation", "11_transfer_vgg16", "12_autoencoder", "17_new_voices")
EARLY = [p for p in NOTEBOOKS if p.stem < FIRST_TRAINING]
MODELS = [p for p in NOTEBOOKS if p.stem in MODEL_CHAPTERS]
TRAINING = [p for p in NOTEBOOKS if p.stem >= FIRST_TRAINING and p.stem not in MODEL_CHAPTERS]


def results_read(notebook: Path) -> set[str]:
    """The other chapters whose recorded results ``notebook`` reads: the chapter names that its
    code cells quote (``"07_classical_baseline"``)."""
    stems = {p.stem for p in NOTEBOOKS} - {notebook.stem}
    code = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    return {s for s in stems if f'"{s}"' in code or f"'{s}'" in code}


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


def rerun_chapters(setting: str | None = None) -> frozenset[str]:
    """The chapters (notebook stems) whose executed copy nbval reruns, for a value of
    :data:`NBVAL_ENV` (default: the environment's): :data:`RERUN`, every chapter, or none."""
    setting = os.environ.get(NBVAL_ENV, "") if setting is None else setting
    if setting == "":
        return frozenset(RERUN)
    if setting == "all":
        return frozenset(p.stem for p in NOTEBOOKS)
    if setting == "0":
        return frozenset()
    raise ValueError(f"{NBVAL_ENV}={setting!r}: use all (every chapter), 0 (none) or leave it unset (the chapters of RERUN)")


def run_and_check(notebook: Path, build: Path) -> None:
    """Run ``notebook`` headless (papermill, quick mode, offline corpus) into ``build``, check its
    results record and generated claims, then, for the chapters of :func:`rerun_chapters`, rerun
    the executed copy with nbval."""
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
    if notebook.stem not in rerun_chapters():
        return
    check = nbval(out)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
