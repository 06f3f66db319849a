import json
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_utils.tools import cli

pytestmark = pytest.mark.slow


def test_get_data_synthetic_records_choice(tmp_path, synthetic_root, capsys, monkeypatch):
    monkeypatch.delenv("RAVDESS_DIR", raising=False)
    (tmp_path / "synthetic").symlink_to(synthetic_root, target_is_directory=True)
    record = tmp_path / "build" / "dataset.txt"
    assert cli.main(["get-data", "--dataset", "synthetic", "--dest", str(tmp_path), "--record", str(record)]) == 0
    out = capsys.readouterr().out
    assert "1440 files, 24 actors" in out and "offline synthetic corpus" in out
    assert record.read_text().strip() == "synthetic"


def test_get_data_real_sample_prints_licence_and_gap(shared_sample, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAVDESS_DIR", str(shared_sample))
    assert cli.main(["get-data", "--dataset", "ravdess", "--dest", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "120 files, 2 actors" in out and "1320 of the 1440 files" in out and "CC BY-NC-SA 4.0" in out


def test_get_data_bad_ravdess_dir_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("RAVDESS_DIR", str(tmp_path / "nowhere"))
    proc = subprocess.run([sys.executable, "-m", "course_utils", "get-data", "--dataset", "ravdess", "--dest", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: RAVDESS_DIR is set to") and "Traceback" not in proc.stderr


def test_run_notebooks_and_results(tmp_path, monkeypatch, capsys):
    """run-notebooks executes real notebooks with papermill, results gathers their metrics."""
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    for name, value in (("01_a", "1.5"), ("02_b", "2.5")):
        params = new_code_cell('dataset = "auto"\nquick = False')
        params.metadata["tags"] = ["parameters"]
        body = new_code_cell(
            "from course_utils.course import results\n"
            f"run = results.NotebookRun('{name}', dataset=dataset, quick=quick)\n"
            f"run.record(value={value}, quick_flag=float(quick))\nrun.save()"
        )
        nbformat.write(new_notebook(cells=[params, body]), nbdir / f"{name}.ipynb")
    out_dir = tmp_path / "build" / "executed"
    assert cli.main(["run-notebooks", "--dataset", "synthetic", "--quick", "1", "--output", str(out_dir),
                     str(nbdir / "01_a.ipynb"), str(nbdir / "02_b.ipynb")]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    data = json.loads((tmp_path / "build" / "results" / "02_b.json").read_text())
    assert data["metrics"] == {"value": 2.5, "quick_flag": 1.0} and data["dataset"] == "synthetic"
    md = tmp_path / "build" / "results.md"
    assert cli.main(["results", "--output", str(md)]) == 0
    assert "| 01_a | value | 1.5 | synthetic | quick |" in md.read_text()


def test_results_without_runs_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["results", "--output", str(tmp_path / "r.md")])
    assert exit_.value.code == 1 and "make course" in capsys.readouterr().err
