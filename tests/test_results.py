import json

import numpy as np
import pytest

from course_utils.learning import diagnosis
from course_utils.course import results


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
    text = results.to_markdown(table)
    assert "| notebook | metric | value | dataset | mode | seconds | written |" in text
    assert "| 08_cnn_binary | sex_test_accuracy | 0.97 | synthetic | quick |" in text
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
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json.*delete it"):
        results.load_results(tmp_path)


def test_record_accuracy_is_structured_and_flat(tmp_path):
    run = results.NotebookRun("09_cnn_multiclass", dataset="synthetic", quick=False, results_dir=tmp_path)
    run.record_accuracy("emotion", "cnn", "random", 0.5)
    run.record_accuracy("emotion", "cnn", "random", 0.625)  # a rerun replaces, never duplicates
    run.record_accuracy("emotion", "cnn", "actors", 0.25)
    run.record_accuracy("actor", "cnn", "repetition", 0.75, split="validation")
    assert run.metrics["emotion_cnn_random_accuracy"] == 0.625
    assert run.metrics["actor_cnn_repetition_val_accuracy"] == 0.75
    run.save()
    other = results.NotebookRun("00_x", dataset="ravdess", quick=True, results_dir=tmp_path)
    other.record(clips=10)
    other.save()  # no accuracies: contributes no rows
    acc = results.load_accuracies(tmp_path)
    assert list(acc.columns) == results.ACCURACY_COLUMNS
    assert len(acc) == 3
    row = acc[(acc["protocol"] == "random")].iloc[0]
    assert (row["notebook"], row["task"], row["model"], row["accuracy"], row["dataset"], row["mode"], row["split"]) == (
        "09_cnn_multiclass", "emotion", "cnn", 0.625, "synthetic", "full", "test")
    assert results.load_accuracies(tmp_path / "none").empty


@pytest.mark.parametrize(
    "args, match",
    [
        (("mood", "cnn", "random", 0.5), "task"),
        (("emotion", "cnn", "loso", 0.5), "protocol"),
        (("emotion", "c n n", "random", 0.5), "model"),
        (("emotion", "cnn", "random", 1.5), r"\[0, 1\]"),
        (("emotion", "cnn", "random", float("nan")), "finite"),
    ],
)
def test_record_accuracy_refuses_bad_input(tmp_path, args, match):
    run = results.NotebookRun("x", dataset="synthetic", quick=False, results_dir=tmp_path)
    with pytest.raises(ValueError, match=match):
        run.record_accuracy(*args)
    assert run.metrics == {} and run.accuracies == []
    with pytest.raises(ValueError, match="split"):
        run.record_accuracy("emotion", "cnn", "random", 0.5, split="train")


def test_load_accuracies_names_a_damaged_file(tmp_path):
    (tmp_path / "bad.json").write_text('{"notebook": "x", "accuracies": [{"task": "sex"}]}')
    with pytest.raises(ValueError, match="bad.json"):
        results.load_accuracies(tmp_path)


def test_record_scores_keeps_uar_macro_f1_and_fold_spread(tmp_path):
    run = results.NotebookRun("16_x", dataset="synthetic", quick=False, results_dir=tmp_path)
    run.record_scores("emotion", "cnn", "random", {"accuracy": 0.6, "uar": 0.55, "macro_f1": 0.5, "confusion": [[1]]})
    folds = diagnosis.fold_mean([{"accuracy": 0.5, "uar": 0.4, "macro_f1": 0.3}, {"accuracy": 0.7, "uar": 0.6, "macro_f1": 0.5}])
    assert folds["n_folds"] == 2 and folds["accuracy"] == pytest.approx(0.6) and folds["uar"] == pytest.approx(0.5)
    assert folds["accuracy_std"] == pytest.approx(0.1414, abs=1e-4) and folds["macro_f1"] == pytest.approx(0.4)
    run.record_scores("emotion", "cnn", "actor_folds", folds)
    run.save()
    acc = results.load_accuracies(tmp_path).set_index("protocol")
    assert acc.loc["random", "uar"] == 0.55 and acc.loc["random", "macro_f1"] == 0.5 and np.isnan(acc.loc["random", "n_folds"])
    assert acc.loc["actor_folds", "n_folds"] == 2 and acc.loc["actor_folds", "uar_std"] == pytest.approx(0.1414, abs=1e-4)
    assert run.metrics["emotion_cnn_actor_folds_uar"] == pytest.approx(0.5)
    assert run.metrics["emotion_cnn_random_macro_f1"] == 0.5
    one = diagnosis.fold_mean([{"accuracy": 0.5}])
    assert one == {"accuracy": 0.5, "accuracy_std": 0.0, "n_folds": 1}


@pytest.mark.parametrize("kwargs, match", [
    ({"uar": 1.5}, "uar must be a fraction"), ({"macro_f1": float("nan")}, "macro_f1 must be a finite"),
    ({"n_folds": 0}, "n_folds must be a whole number"), ({"n_folds": 2.5}, "n_folds must be a whole number"),
])
def test_record_accuracy_refuses_bad_extra_scores(tmp_path, kwargs, match):
    run = results.NotebookRun("x", dataset="synthetic", quick=False, results_dir=tmp_path)
    with pytest.raises(ValueError, match=match):
        run.record_accuracy("emotion", "cnn", "random", 0.5, **kwargs)
    assert not run.metrics and not run.accuracies
    with pytest.raises(ValueError, match="need an 'accuracy'"):
        run.record_scores("emotion", "cnn", "random", {"uar": 0.5})
    with pytest.raises(ValueError, match="no folds"):
        diagnosis.fold_mean([])


def test_claims_are_saved_and_checked_against_the_metrics(tmp_path):
    run = results.NotebookRun("07_x", dataset="synthetic", quick=False, results_dir=tmp_path)
    run.record_accuracy("emotion", "svm", "random", 0.8)
    run.record(cnn=0.6)
    text = run.say("compare", a=0.6, b=0.8, a_name="the CNN", b_name="the SVM")
    assert text == "the CNN (60.0 %) is behind the SVM (80.0 %) by 20.0 percentage points"
    assert run.say("versus_chance", acc=0.8, chance=0.125, n=216).startswith("far above chance")
    path = run.save()
    assert results.check_claims(path) == []
    data = json.loads(path.read_text())
    data["claims"][0]["text"] = text.replace("behind", "ahead of")  # words that no longer follow the numbers
    data["claims"][1]["args"]["acc"] = 0.81  # a number that was never recorded
    path.write_text(json.dumps(data))
    problems = results.check_claims(path)
    assert len(problems) == 2 and "its numbers say" in problems[0] and "acc=0.81" in problems[1]
    with pytest.raises(ValueError, match="unknown phrase"):
        run.say("boast", a=1)


def test_a_claim_from_an_older_phrase_is_reported_not_raised(tmp_path):
    import json

    path = tmp_path / "15_x.json"
    path.write_text(json.dumps({"notebook": "15_x", "metrics": {"a": 0.5},
                                "claims": [{"phrase": "uncertainty_shift", "args": {"ece_known": 0.5}, "text": "t"},
                                           {"phrase": "gone", "args": {}, "text": "t"}]}))
    problems = results.check_claims(path)
    assert len(problems) == 2 and all("rerun 15_x" in p for p in problems)
