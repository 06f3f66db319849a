"""course_utils.tools.seeds: seed sweeps (with a fake papermill runner, plus one real run) and the
generated lists of parameters and exercises."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from course_utils.base import paths
from course_utils.course import results
from course_utils.tools import docs, runner, seeds

ROOT = Path(__file__).resolve().parents[1]

#: Accuracies the fake notebook records, per seed: (emotion svm random, sex svm actors)
FAKE_ACC = {0: (0.50, 0.90), 1: (0.60, 0.80), 2: (0.70, 1.00)}


@pytest.fixture
def fake_runner(monkeypatch):
    """Replace papermill by a function that records results as a notebook would."""
    calls = []

    def run_notebook(notebook, output_dir, parameters, *, progress=True, timeout=None):
        build = Path(os.environ["COURSE_BUILD_DIR"])
        calls.append({"notebook": Path(notebook), "output_dir": Path(output_dir), "parameters": dict(parameters),
                      "build": build, "results_dir": paths.results_dir()})
        if parameters.get("fail"):
            raise RuntimeError("cell 3 raised ZeroDivisionError")
        out = Path(output_dir) / Path(notebook).name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("{}")
        if parameters.get("silent"):
            return out
        used = "synthetic" if parameters["dataset"] == "auto" else parameters["dataset"]  # as datasets.resolve would
        run = results.NotebookRun(Path(notebook).stem, dataset=used, quick=parameters["quick"])
        emotion, sex = FAKE_ACC[parameters["seed"]]
        run.record_accuracy("emotion", "svm", "random", emotion)
        run.record_accuracy("sex", "svm", "actors", sex)
        run.record(n_features=155.0)
        run.save()
        return out

    monkeypatch.setattr(runner, "run_notebook", run_notebook)
    return calls


@pytest.fixture
def notebook_file(tmp_path):
    nb = tmp_path / "07_fake.ipynb"
    nb.write_text("{}")
    return nb


def test_run_seeds_runs_each_seed_in_its_own_build_folder(fake_runner, notebook_file, monkeypatch):
    monkeypatch.setenv("COURSE_BUILD_DIR", "/somewhere/else")
    runs = seeds.run_seeds(notebook_file, [0, 1, 2], dataset="synthetic", quick=True,
                           parameters={"epochs": 3, "seed": 99, "quick": False})
    assert list(runs.columns) == seeds.RUN_COLUMNS
    assert len(runs) == 6 and sorted(runs["seed"].unique()) == [0, 1, 2]
    # every run saw the seed, the dataset, quick and the extra parameter; a "seed" in parameters is ignored
    assert [c["parameters"] for c in fake_runner] == [
        {"epochs": 3, "dataset": "synthetic", "quick": True, "seed": s} for s in (0, 1, 2)]
    builds = [c["build"] for c in fake_runner]
    assert len(set(builds)) == 3 and all(str(b) != "/somewhere/else" for b in builds)
    assert all(c["results_dir"] == c["build"] / "results" and c["output_dir"] == c["build"] / "executed" for c in fake_runner)
    assert not any(b.exists() for b in builds)  # temporary folders are removed
    assert os.environ["COURSE_BUILD_DIR"] == "/somewhere/else"  # restored
    emo = runs[runs["metric"] == "emotion_svm_random_accuracy"].set_index("seed")["value"]
    assert emo.to_dict() == {0: 0.5, 1: 0.6, 2: 0.7}
    row = runs.iloc[0]
    assert (row["task"], row["model"], row["protocol"], row["split"]) == ("emotion", "svm", "random", "test")
    assert (runs["seconds"] >= 0).all()


def test_spread_gives_mean_std_min_max_per_metric(fake_runner, notebook_file):
    table = seeds.spread(seeds.run_seeds(notebook_file, [0, 1, 2]))
    assert list(table.columns) == seeds.SPREAD_COLUMNS
    assert table["metric"].tolist() == ["emotion_svm_random_accuracy", "sex_svm_actors_accuracy"]
    emo = table.iloc[0]
    assert emo["runs"] == 3 and emo["mean"] == pytest.approx(0.6) and emo["std"] == pytest.approx(0.1)
    assert (emo["min"], emo["max"]) == (0.5, 0.7)
    sex = table.iloc[1]
    assert sex["mean"] == pytest.approx(0.9) and sex["std"] == pytest.approx(0.1) and sex["protocol"] == "actors"


def test_all_metrics_and_a_single_seed(fake_runner, notebook_file):
    runs = seeds.run_seeds(notebook_file, [2], metrics="all")
    assert set(runs["metric"]) == {"emotion_svm_random_accuracy", "sex_svm_actors_accuracy", "n_features"}
    assert runs["task"].isna().all()
    table = seeds.spread(runs)
    assert table["runs"].eq(1).all() and table["std"].isna().all()
    text = seeds.spread_markdown(table)
    assert text.splitlines()[0] == "| metric | runs | mean | std | min | max |"
    assert "| n_features | 1 | 155 |" in text


def test_keep_dir_keeps_each_seed(fake_runner, notebook_file, tmp_path):
    seeds.run_seeds(notebook_file, [0, 1], keep_dir=tmp_path / "keep")
    for s in (0, 1):
        assert (tmp_path / "keep" / f"seed_{s}" / "results" / "07_fake.json").exists()
        assert (tmp_path / "keep" / f"seed_{s}" / "executed" / "07_fake.ipynb").exists()


def test_a_failing_run_names_the_seed(fake_runner, notebook_file, tmp_path):
    with pytest.raises(RuntimeError, match=r"failed with seed 0: cell 3"):
        seeds.run_seeds(notebook_file, [0], parameters={"fail": True})
    with pytest.raises(RuntimeError, match=r"seed 1 \(executed copy: .*seed_1/executed/07_fake.ipynb\)"):
        seeds.run_seeds(notebook_file, [1], parameters={"fail": True}, keep_dir=tmp_path)
    with pytest.raises(RuntimeError, match="wrote no results file"):
        seeds.run_seeds(notebook_file, [0], parameters={"silent": True})


def test_bad_arguments_are_refused(notebook_file, tmp_path):
    with pytest.raises(FileNotFoundError, match="No notebook"):
        seeds.run_seeds(tmp_path / "missing.ipynb")
    with pytest.raises(ValueError, match="different seeds"):
        seeds.run_seeds(notebook_file, [1, 1])
    with pytest.raises(ValueError, match="different seeds"):
        seeds.run_seeds(notebook_file, [])
    with pytest.raises(ValueError, match="metrics must be"):
        seeds.run_seeds(notebook_file, [0], metrics="loss")
    with pytest.raises(ValueError, match="metrics must be"):
        seeds.collect(tmp_path, "07_fake", metrics="loss")


def test_markdown_report_in_percent(fake_runner, notebook_file):
    runs = seeds.run_seeds(notebook_file, [0, 1, 2])
    text = seeds.spread_markdown(seeds.spread(runs))
    assert "| emotion | svm | random | test | 3 | 60.0 % | 10.0 | 50.0 % | 70.0 % | 20.0 |" in text
    plain = seeds.spread_markdown(seeds.spread(runs), percent=False)
    assert "| emotion_svm_random_accuracy | 3 | 0.6 | 0.1 | 0.5 | 0.7 |" in plain
    one = seeds.spread_markdown(seeds.spread(runs[runs["seed"] == 0]))
    assert "| 1 | 50.0 % | - | 50.0 % | 50.0 % | 0.0 |" in one
    rep = seeds.report(runs, notebook="07_fake", dataset="synthetic", quick=True)
    assert rep.startswith("# Spread across seeds: 07_fake")
    assert "Seeds 0, 1, 2; dataset synthetic; quick mode" in rep and "seed 2:" in rep


def test_validation_accuracies_are_named_as_results_names_them(tmp_path):
    run = results.NotebookRun("12_fake", dataset="synthetic", quick=True, results_dir=tmp_path)
    run.record_accuracy("emotion", "ffnn", "random", 0.2, split="validation")
    run.save()
    table = seeds.collect(tmp_path, "12_fake")
    assert table["metric"].tolist() == ["emotion_ffnn_random_val_accuracy"] == list(run.metrics)


def test_build_dir_restores_an_unset_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    with paths.use_build_dir(tmp_path) as b:
        assert b == tmp_path and paths.build_dir() == tmp_path.resolve()
    assert "COURSE_BUILD_DIR" not in os.environ


def test_parse_value():
    assert seeds.parse_value("10") == 10 and seeds.parse_value("None") is None
    assert seeds.parse_value("[1, 2]") == [1, 2] and seeds.parse_value("False") is False
    assert seeds.parse_value("imagenet") == "imagenet" and seeds.parse_value("block3_conv1") == "block3_conv1"


def test_command_line_writes_report_and_csv(fake_runner, notebook_file, tmp_path, capsys, monkeypatch):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    seeds.add_subcommand(sub)
    out = tmp_path / "out" / "spread.md"
    args = parser.parse_args(["seeds", str(notebook_file), "--seeds", "0", "1", "--dataset", "synthetic", "--quick", "1",
                              "-p", "epochs", "5", "-p", "weights", "imagenet", "--output", str(out)])
    assert args.func(args) == 0
    assert fake_runner[0]["parameters"] == {"epochs": 5, "weights": "imagenet", "dataset": "synthetic", "quick": True, "seed": 0}
    assert "| emotion | svm | random | test | 2 | 55.0 % |" in out.read_text()
    csv = pd.read_csv(out.with_suffix(".csv"))
    assert len(csv) == 4 and set(csv["seed"]) == {0, 1}
    printed = capsys.readouterr().out
    assert "seed 0" in printed and f"Wrote {out}" in printed
    # default output: <build>/seeds/<notebook>.md
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "b"))
    args = parser.parse_args(["seeds", str(notebook_file), "--seeds", "0"])
    assert (args.dataset, args.quick, args.metrics) == ("auto", 0, "accuracies")
    args.func(args)
    assert (tmp_path / "b" / "seeds" / "07_fake.md").exists()


@pytest.mark.slow
def test_real_run_of_notebook_00_with_two_seeds(synthetic_root, tmp_path, monkeypatch):
    """papermill for real: chapter 00 (quick, offline corpus) with seeds 0 and 1; its counts do
    not depend on the seed, so their spread is zero."""
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "untouched"))
    runs = seeds.run_seeds(ROOT / "notebooks" / "00_getting_the_data.ipynb", [0, 1], dataset="synthetic", quick=True,
                           metrics="all", timeout=600)
    table = seeds.spread(runs).set_index("metric")
    assert table.loc["clips", "mean"] == 360 and table.loc["clips", "runs"] == 2
    assert (table["std"] == 0).all()
    assert not (tmp_path / "untouched").exists()


# --- parameters cells -----------------------------------------------------------------------

CELL = '''dataset = "auto"  # "ravdess" | "synthetic"
quick = False
seed = 0
sizes = {"a": 1,
         "b": 2}  # one size per task
rate: float = 0.5  # an annotated one
import math
x, y = 1, 2
'''


def test_parse_parameters_reads_names_defaults_and_comments():
    found = docs.parse_parameters(CELL)
    assert [p.name for p in found] == ["dataset", "quick", "seed", "sizes", "rate"]
    by = {p.name: p for p in found}
    assert by["dataset"].default == '"auto"' and by["dataset"].meaning == '"ravdess" | "synthetic"'
    assert by["quick"].meaning == docs.COMMON_MEANINGS["quick"]  # no comment: the common meaning
    assert by["sizes"].default == '{"a": 1,\n         "b": 2}' and by["sizes"].meaning == "one size per task"
    assert by["rate"].default == "0.5" and by["rate"].meaning == "an annotated one"


def _notebook(path: Path, cells) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nbformat.write(nb, str(path))
    return path


def _solution(source: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["solution"]
    cell.metadata["jupyter"] = {"source_hidden": True}
    return cell


def _params(source: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def test_notebook_parameters_and_tables(tmp_path):
    nb = _notebook(tmp_path / "05_x.ipynb", [nbformat.v4.new_markdown_cell("# 5"), _params(CELL)])
    assert [p.name for p in docs.notebook_parameters(nb)][:3] == ["dataset", "quick", "seed"]
    table = docs.parameter_tables([nb])
    assert table.startswith("<details><summary><code>05_x</code>: 5 parameters</summary>")
    assert '| `dataset` | `"auto"` | "ravdess" \\| "synthetic" |' in table
    no_params = _notebook(tmp_path / "06_y.ipynb", [nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        docs.notebook_parameters(no_params)


def test_exercises_in_both_styles(tmp_path):
    listed = _notebook(tmp_path / "01_list.ipynb", [
        nbformat.v4.new_markdown_cell("## 1. Intro\n\n1. not an exercise"),
        nbformat.v4.new_markdown_cell("## Try it\n\n1. **First.** Do this.\n2. Do that.\n\nSolutions are below."),
        _solution("print(1)"), _solution("print(2)"),
        nbformat.v4.new_markdown_cell("## Summary\n\n1. not an exercise either"),
        _solution("print('after the section')"),
    ])
    found = docs.exercises(listed)
    assert [(e.number, e.text, e.solution_cells) for e in found] == [
        (1, "**First.** Do this.", (2,)), (2, "Do that.", (3,))]
    one_per_cell = _notebook(tmp_path / "08_cells.ipynb", [
        nbformat.v4.new_markdown_cell("Some text.\n\n## Try it\n\n**1.** Count them."),
        _solution("a"),
        nbformat.v4.new_markdown_cell("**2.** Listen."),
        _solution("b"), _solution("c"),
        nbformat.v4.new_code_cell("run.save()"),
    ])
    found = docs.exercises(one_per_cell)
    assert [(e.notebook, e.number, e.solution_cells) for e in found] == [("08_cells", 1, (1,)), ("08_cells", 2, (3, 4))]
    text = docs.exercise_list([listed, one_per_cell])
    assert text == ("**`01_list`** (2 exercises)\n\n1. **First.** Do this.\n2. Do that.\n\n"
                    "**`08_cells`** (2 exercises)\n\n1. Count them.\n2. Listen.")
    assert docs.exercises(_notebook(tmp_path / "02_none.ipynb", [nbformat.v4.new_markdown_cell("## Summary")])) == []


def test_generated_blocks_are_replaced_and_checked(tmp_path):
    nb = _notebook(tmp_path / "00_a.ipynb", [nbformat.v4.new_markdown_cell("# 0. A"), _params("dataset = 'auto'  # which data"),
                                             nbformat.v4.new_markdown_cell("## Try it\n\n1. Go.")])
    readme, guide = tmp_path / "README.md", tmp_path / "guide.md"
    readme.write_text(f"# R\n\n{docs.marker('parameters')}\nold\n{docs.marker('parameters', end=True)}\n\nend\n")
    guide.write_text(f"{docs.marker('exercises')}\n{docs.marker('exercises', end=True)}\n")
    assert docs.update_docs(readme, guide, [nb]) == [nb, readme, guide]  # the notebook: its Colab badge and cell
    assert docs.generated_block(readme.read_text(), "parameters") == docs.parameter_tables([nb])
    assert readme.read_text().startswith("# R\n\n") and readme.read_text().endswith("\n\nend\n")
    assert docs.generated_block(guide.read_text(), "exercises") == "**`00_a`** (1 exercise)\n\n1. Go."
    assert docs.update_docs(readme, guide, [nb]) == []  # up to date: nothing rewritten
    with pytest.raises(ValueError, match="block 'exercises' not found"):
        docs.replace_block("no markers here", "exercises", "x")


def test_update_docs_defaults_to_the_project_files(monkeypatch, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "notebooks").mkdir()
    nb = _notebook(tmp_path / "notebooks" / "00_a.ipynb",
                   [nbformat.v4.new_markdown_cell("# 0. A"), _params("seed = 0"), nbformat.v4.new_markdown_cell("## Try it\n\n1. Go.")])
    (tmp_path / "README.md").write_text(f"{docs.marker('parameters')}\n{docs.marker('parameters', end=True)}\n")
    (tmp_path / "docs" / "instructors.md").write_text(f"{docs.marker('exercises')}\n{docs.marker('exercises', end=True)}\n")
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    monkeypatch.setattr(runner, "list_notebooks", lambda: [nb])
    assert docs.update_docs() == [nb, tmp_path / "README.md", tmp_path / "docs" / "instructors.md"]
    assert "| `seed` | `0` | the seed of every random choice |" in (tmp_path / "README.md").read_text()
