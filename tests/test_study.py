"""Tests of course_utils.course.study: the study's numbers as data."""

from __future__ import annotations

import pandas as pd
import pytest

from course_utils.course import study


def test_results_table_holds_the_papers_numbers():
    t = study.results_table()
    assert list(t.columns) == ["task", "model", "head", "epochs", "accuracy", "chance", "measured_on", "approximate", "note"]
    assert len(t) == 7
    got = {(r.task, r.model): r.accuracy for r in t.itertuples()}
    assert got[("statement", "cnn")] == pytest.approx(0.9491)
    assert got[("sex", "cnn")] == pytest.approx(0.9722)
    assert got[("actor", "cnn")] == pytest.approx(0.5556)
    assert got[("emotion", "cnn")] == pytest.approx(0.4259)
    assert got[("emotion", "cnn_augmented")] == pytest.approx(0.4398)
    assert t["accuracy"].between(0, 1).all()
    assert set(t["model"]) == set(study.MODELS)


def test_epochs_and_flags():
    t = study.results_table().set_index(["task", "model"])
    assert t.loc[("statement", "cnn"), "epochs"] == 40
    assert t.loc[("sex", "cnn"), "epochs"] == 50
    assert pd.isna(t.loc[("emotion", "vgg16"), "epochs"])
    assert str(t["epochs"].dtype) == "Int64"
    assert t.loc[("emotion", "autoencoder_ffnn"), "measured_on"] == "validation"
    assert t.loc[("emotion", "vgg16"), "approximate"] and not t.loc[("emotion", "cnn"), "approximate"]
    assert "neutral" in t.loc[("emotion", "cnn"), "note"]


def test_chance_levels():
    assert study.chance("sex") == 0.5 and study.chance("statement") == 0.5
    assert study.chance("actor") == pytest.approx(0.0417, abs=1e-4)
    assert study.chance("emotion") == 0.125
    t = study.results_table()
    assert (t["chance"] == t["task"].map(study.CHANCE)).all()
    with pytest.raises(KeyError, match="unknown task"):
        study.chance("speaker")


def test_study_accuracy_lookup():
    assert study.study_accuracy("sex") == 0.9722
    assert study.study_accuracy("emotion", "cnn_augmented") == 0.4398
    assert study.study_accuracy("emotion", "autoencoder_ffnn") == 0.20
    with pytest.raises(KeyError, match="reports no result"):
        study.study_accuracy("sex", "vgg16")
    with pytest.raises(KeyError, match="unknown task"):
        study.study_accuracy("mood")


def test_parameter_counts():
    assert study.PARAMETERS == {"cnn": 31_509_121, "autoencoder": 1_058_273, "ffnn": 74_696}


def test_split_printed_versus_correct():
    assert study.SPLIT_PRINTED == (1008, 432, 432) and sum(study.SPLIT_PRINTED) == 1872
    assert study.SPLIT_CORRECT == (1008, 216, 216) and sum(study.SPLIT_CORRECT) == study.N_FILES
    t = study.split_table()
    assert t.loc["total", "paper"] == 1872 and t.loc["total", "correct"] == 1440
    assert t.loc["test", "correct"] == 216 and t.loc["test", "paper / files"] == 0.3
    small = study.split_table(360)
    assert tuple(small["correct"].iloc[:3]) == (252, 54, 54)


def test_compare_adds_study_and_chance():
    measured = pd.DataFrame({"task": ["sex", "emotion", "actor"], "protocol": ["a", "b", "c"], "accuracy": [1.0, 0.5, 0.9]})
    out = study.compare(measured)
    assert list(out["protocol"]) == ["a", "b", "c"]
    assert out["study"].tolist() == [0.9722, 0.4259, 0.5556]
    assert out["chance"].tolist() == [0.5, 0.125, 1 / 24]
    assert out["vs_study"].tolist() == pytest.approx([1.0 - 0.9722, 0.5 - 0.4259, 0.9 - 0.5556])
    aug = study.compare(measured, model="cnn_augmented")
    assert aug["study"].isna().tolist() == [True, False, True]
    with pytest.raises(KeyError, match="missing"):
        study.compare(measured.drop(columns="accuracy"))
    with pytest.raises(KeyError, match="unknown task"):
        study.compare(pd.DataFrame({"task": ["pitch"], "accuracy": [0.1]}))
