import json

import pytest

from course_utils import results


def test_run_save_load_and_markdown(tmp_path):
    run = results.NotebookRun("08_cnn_binary", dataset="synthetic", quick=True, results_dir=tmp_path)
    run.record(sex_test_accuracy=0.97, statement_test_accuracy=0.5, samples=175704.0, alias_hz=14100.5, err=2.7e-08)
    path = run.save()
    data = json.loads(path.read_text())
    assert data["mode"] == "quick" and data["dataset"] == "synthetic" and data["seconds"] >= 0
    r0 = results.NotebookRun("00_getting_the_data", dataset="ravdess", quick=False, results_dir=tmp_path)
    r0.record(clips=1440)
    r0.save()
    table = results.load_results(tmp_path)
    assert list(table["notebook"]) == ["00_getting_the_data"] + ["08_cnn_binary"] * 5
    assert table.loc[table["metric"] == "clips", "value"].item() == 1440
    out = results.write_results_markdown(tmp_path / "results.md", tmp_path)
    text = out.read_text()
    assert "| notebook | metric | value | dataset | mode | seconds | written |" in text
    assert "| 08_cnn_binary | sex_test_accuracy | 0.97 | synthetic | quick |" in text
    assert "dataset(s): ravdess, synthetic" in text
    assert "| samples | 175704 |" in text and "| alias_hz | 14100.5 |" in text and "| err | 2.7e-08 |" in text


def test_record_refuses_non_numbers_and_empty_runs(tmp_path):
    run = results.NotebookRun("x", dataset="synthetic", quick=False, results_dir=tmp_path)
    for bad in (float("nan"), float("inf"), "0.9", True, None):
        with pytest.raises(ValueError, match="finite number"):
            run.record(acc=bad)
    with pytest.raises(ValueError, match="nothing recorded"):
        run.save()


def test_dataset_must_be_resolved(tmp_path):
    with pytest.raises(ValueError, match="datasets.resolve"):
        results.NotebookRun("x", dataset="auto", quick=True, results_dir=tmp_path)


def test_damaged_and_missing_results(tmp_path):
    with pytest.raises(FileNotFoundError, match="make course"):
        results.write_results_markdown(tmp_path / "r.md", tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json.*delete it"):
        results.load_results(tmp_path)
