"""The training chapters (09-18) and the summary (99) run headless and record results; nbval
reruns the executed copies. Chapters 00-08 are in ``test_notebooks`` (see ``notebook_runs``)."""

from __future__ import annotations

import pytest

from notebook_runs import TRAINING, course_build, run_and_check  # noqa: F401 (course_build: the module's fixture)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("notebook", TRAINING, ids=[p.stem for p in TRAINING])
def test_notebook_runs_headless_and_records_results(notebook, course_build):
    run_and_check(notebook, course_build)


def test_the_split_covers_every_notebook_once():
    from notebook_runs import EARLY, NOTEBOOKS

    assert sorted(EARLY + TRAINING) == NOTEBOOKS and not set(EARLY) & set(TRAINING)
    assert EARLY and TRAINING and TRAINING[-1].stem.startswith("99")
