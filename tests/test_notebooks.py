"""Chapters 00-08 run headless (papermill, quick mode, offline corpus) and record results;
nbval reruns the executed copies of those in ``notebook_runs.RERUN`` and the cells marked
``# NBVAL_CHECK_OUTPUT`` must repeat.
The training chapters and 99 are in ``test_notebooks_training`` and ``test_notebooks_models`` (see
``notebook_runs``).

Where ``../shared/ravdess-sample`` exists, notebook 00 also runs on those real recordings.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from course_utils.course import results
from course_utils.tools import runner
from notebook_runs import CELL_TIMEOUT, EARLY, course_build, nbval, run_and_check  # noqa: F401 (course_build: the module's fixture)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("notebook", EARLY, ids=[p.stem for p in EARLY])
def test_notebook_runs_headless_and_records_results(notebook, course_build):
    run_and_check(notebook, course_build)


def test_notebook_00_counts_on_the_offline_corpus(course_build):
    record = json.loads((course_build / "results" / "00_getting_the_data.json").read_text())["metrics"]
    assert record["clips"] == 360 and record["actors"] == 6  # quick mode: six actors x 60 clips
    assert record["missing_files"] == 0 and record["stereo_files"] >= 0
    assert 2.5 < record["mean_duration_s"] < 6.0


def test_nbval_catches_a_changed_output(course_build, tmp_path):
    """nbval is not a formality: alter one checked output and the rerun must fail."""
    executed = course_build / "executed" / "00_getting_the_data.ipynb"
    nb = nbformat.read(executed, as_version=4)
    target = next(c for c in nb.cells if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source and "parse_filename(\"03-01-01-02" in c.source)
    stream = next(o for o in target.outputs if o.get("output_type") == "stream")
    assert "neutral (emotion 01) has no strong" in stream["text"]
    stream["text"] = stream["text"].replace("neutral", "calm")
    tampered = tmp_path / "tampered.ipynb"
    nbformat.write(nb, tampered)
    check = nbval(tampered)
    assert check.returncode != 0 and "failed" in check.stdout.lower()


@pytest.mark.sample
def test_notebook_00_on_real_ravdess_sample(shared_sample, tmp_path, monkeypatch):
    monkeypatch.setenv("RAVDESS_DIR", str(shared_sample))
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    nb = ROOT / "notebooks" / "00_getting_the_data.ipynb"
    runner.run_notebook(nb, tmp_path / "executed", {"dataset": "ravdess", "quick": False}, progress=False, timeout=CELL_TIMEOUT)
    record = json.loads((tmp_path / "results" / "00_getting_the_data.json").read_text())
    assert record["dataset"] == "ravdess"
    m = record["metrics"]
    assert m["clips"] == 120 and m["actors"] == 2 and m["stereo_files"] == 2 and m["missing_files"] == 0


@pytest.mark.sample
@pytest.mark.parametrize("stem", ["07_classical_baseline", "18_pretrained_speech"])
def test_generated_claims_hold_on_real_ravdess_sample(stem, shared_sample, tmp_path, monkeypatch):
    """The sentences a chapter generates about its results (NotebookRun.say) hold on real speech too."""
    monkeypatch.setenv("RAVDESS_DIR", str(shared_sample))
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    runner.run_notebook(ROOT / "notebooks" / f"{stem}.ipynb", tmp_path / "executed", {"dataset": "ravdess", "quick": False},
                        progress=False, timeout=CELL_TIMEOUT)
    path = tmp_path / "results" / f"{stem}.json"
    record = json.loads(path.read_text())
    assert record["dataset"] == "ravdess" and record["claims"], "the chapter made no generated claim"
    assert results.check_claims(path) == []


@pytest.mark.parametrize("stem, bad, shown", [
    ("00_getting_the_data", {"quick": "false"}, "quick = 'false' (a str) is not allowed"),  # papermill -p quick false
    ("08_cnn_binary", {"epochs_sex": -1}, "epochs_sex = -1 (an int) is not allowed"),
    ("05_eda", {"image_size": [128, 128]}, "image_size = [128, 128] (a list) is not allowed"),
    ("07_classical_baseline", {"c_grid": "[0.1, 1]"}, "lists and dicts need -y"),
    ("16_better_emotion_model", {"n_folds": 3, "max_folds": 5}, "max_folds = 5 is more than n_folds = 3"),
], ids=["string-bool", "out-of-range", "wrong-type", "list-as-string", "not-together"])
def test_a_bad_parameter_stops_the_run_in_the_check_cell_with_one_message(stem, bad, shown, tmp_path, monkeypatch):
    """Headless, as a teacher runs it: the run stops right after the parameters, and the error
    shows as the message with its fix, not as a traceback through the course's helpers."""
    import papermill

    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    nb = ROOT / "notebooks" / f"{stem}.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as err:
        runner.run_notebook(nb, tmp_path / "executed", {"dataset": "synthetic", "quick": True, **bad}, progress=False, timeout=120)
    assert err.value.ename == "ParameterError" and shown in err.value.evalue and "Fix:" in err.value.evalue
    executed = nbformat.read(tmp_path / "executed" / nb.name, as_version=4)
    failed = [c for c in executed.cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1 and "params.check(globals()" in failed[0].source
    tb = next(o for o in failed[0].outputs if o.get("output_type") == "error")["traceback"]
    assert len("\n".join(tb).splitlines()) <= 6 and "Traceback" not in "\n".join(tb) and "Fix:" in "\n".join(tb)
    assert not (tmp_path / "results" / f"{stem}.json").exists()
