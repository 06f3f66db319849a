"""Chapters 10, 11, 12 and 17, which read no results of the other training chapters, run
headless and record results (nbval reruns those in ``notebook_runs.RERUN``: none of them today).
A module of their own, so that a third pytest-xdist worker takes them beside
``test_notebooks_training`` (see ``notebook_runs``)."""

from __future__ import annotations

import pytest

from notebook_runs import MODELS, course_build, run_and_check  # noqa: F401 (course_build: the module's fixture)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("notebook", MODELS, ids=[p.stem for p in MODELS])
def test_notebook_runs_headless_and_records_results(notebook, course_build):
    run_and_check(notebook, course_build)
