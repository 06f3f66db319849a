"""Chapter 09, the training chapters that compare with its results (13-16, 18) and the summary
(99) run headless and record results; nbval reruns the executed copies of those in
``notebook_runs.RERUN``. Chapters 00-08 are in ``test_notebooks``, 10-12 and 17 in
``test_notebooks_models`` (see ``notebook_runs``)."""

from __future__ import annotations

import pytest

from notebook_runs import TRAINING, course_build, run_and_check  # noqa: F401 (course_build: the module's fixture)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("notebook", TRAINING, ids=[p.stem for p in TRAINING])
def test_notebook_runs_headless_and_records_results(notebook, course_build):
    run_and_check(notebook, course_build)


def test_the_split_covers_every_notebook_once_and_keeps_what_a_chapter_reads_beside_it():
    from notebook_runs import EARLY, MODEL_CHAPTERS, MODELS, NOTEBOOKS, results_read

    assert sorted(EARLY + TRAINING + MODELS) == NOTEBOOKS and len({*EARLY, *TRAINING, *MODELS}) == len(NOTEBOOKS)
    assert EARLY and MODELS and len(MODELS) == len(MODEL_CHAPTERS) and TRAINING[-1].stem.startswith("99")
    for group in (TRAINING, MODELS):  # a training chapter finds the training results it compares with
        stems = {p.stem for p in group}
        for notebook in group:
            later = {s for s in results_read(notebook) if s >= "09"}
            assert later <= stems, f"{notebook.stem} reads the results of {sorted(later - stems)}, run in another module"
    assert results_read(NOTEBOOKS[[p.stem for p in NOTEBOOKS].index("16_better_emotion_model")]) == {
        "07_classical_baseline", "09_cnn_multiclass"}  # the check sees what a chapter reads


def test_the_reruns_are_chapters_and_the_setting_is_checked():
    from notebook_runs import NOTEBOOKS, RERUN, rerun_chapters

    stems = {p.stem for p in NOTEBOOKS}
    assert set(RERUN) <= stems and len(set(RERUN)) == len(RERUN)
    assert rerun_chapters("") == set(RERUN) and rerun_chapters("all") == stems and rerun_chapters("0") == set()
    with pytest.raises(ValueError, match="COURSE_TEST_NBVAL='1'"):
        rerun_chapters("1")


def test_the_readme_names_the_chapters_nbval_reruns():
    import re
    from pathlib import Path

    from notebook_runs import RERUN

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    named = re.search(r"nbval reruns chapters ([\d, and]+), one for each kind", readme)
    assert named, "the README's 'For developers' no longer says which chapters nbval reruns"
    assert sorted(re.findall(r"\d\d", named.group(1))) == sorted(s[:2] for s in RERUN)
    words = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
    assert f"and {words.get(len(RERUN), len(RERUN))} of them a second time under nbval" in readme
