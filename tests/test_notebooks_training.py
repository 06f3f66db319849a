"""The training chapters (09-18) and the summary (99) run headless and record results; nbval
reruns the executed copies of those in ``notebook_runs.RERUN``. Chapters 00-08 are in
``test_notebooks`` (see ``notebook_runs``)."""

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


def test_the_reruns_are_chapters_and_the_setting_is_checked():
    from notebook_runs import NOTEBOOKS, RERUN, rerun_chapters

    stems = {p.stem for p in NOTEBOOKS}
    assert set(RERUN) <= stems and len(set(RERUN)) == len(RERUN)
    assert rerun_chapters("") == set(RERUN) and rerun_chapters("all") == stems and rerun_chapters("0") == set()
    with pytest.raises(ValueError, match="COURSE_TEST_NBVAL='1'"):
        rerun_chapters("1")
