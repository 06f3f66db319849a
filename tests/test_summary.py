"""course_utils.course.summary: the course's accuracies next to the baseline, the study and chance."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from course_utils.course import results, study, summary


def _write(tmp_path, notebook, dataset, mode, accs, seconds_metric=1.0):
    run = results.NotebookRun(notebook, dataset=dataset, quick=(mode == "quick"), results_dir=tmp_path)
    for args in accs:
        run.record_accuracy(*args[:4], **(args[4] if len(args) > 4 else {}))
    run.record(x=seconds_metric)
    run.save()


@pytest.fixture
def results_dir(tmp_path):
    _write(tmp_path, "07_classical_baseline", "synthetic", "full", [
        ("emotion", "svm", "random", 0.80), ("emotion", "logreg", "random", 0.70),
        ("emotion", "svm", "actors", 0.40), ("emotion", "logreg", "actors", 0.45),
        ("emotion", "svm_mfcc_only", "random", 0.99),  # an ablation: not the baseline
        ("sex", "svm", "random", 1.0)])
    _write(tmp_path, "09_cnn_multiclass", "synthetic", "full", [
        ("emotion", "cnn", "random", 0.50), ("emotion", "cnn", "actors", 0.30), ("actor", "cnn", "repetition", 0.9)])
    _write(tmp_path, "10_augmentation", "synthetic", "quick", [
        ("emotion", "cnn_study_augmentation", "random", 0.25), ("emotion", "cnn_specaugment", "random", 0.6)])
    _write(tmp_path, "12_autoencoder", "ravdess", "full", [
        ("emotion", "autoencoder_ffnn", "random", 0.2), ("emotion", "autoencoder_ffnn", "random", 0.22, {"split": "validation"})])
    return tmp_path


@pytest.mark.parametrize("model, family", [
    ("cnn", "cnn"), ("cnn_specaugment", "cnn"), ("cnn_study_augmentation", "cnn_augmented"), ("cnn_study_image", "cnn_augmented"), ("cnn_none", "cnn"),
    ("vgg16_random_init", "vgg16"), ("vgg16_imagenet", "vgg16"), ("autoencoder_ffnn", "autoencoder_ffnn"),
    ("svm", None), ("m5", None)])
def test_study_model(model, family):
    assert summary.study_model(model) == family


def test_accuracy_table(results_dir):
    table = summary.accuracy_table(results.load_accuracies(results_dir))
    row = lambda nb, model, protocol, split="test": table[(table["notebook"] == nb) & (table["model"] == model)
                                                          & (table["protocol"] == protocol) & (table["split"] == split)].iloc[0]
    cnn = row("09_cnn_multiclass", "cnn", "random")
    assert cnn["baseline"] == 0.80 and cnn["study"] == pytest.approx(0.4259) and cnn["chance"] == 0.125
    assert cnn["vs_baseline"] == pytest.approx(-0.30) and cnn["vs_study"] == pytest.approx(0.5 - 0.4259)
    held = row("09_cnn_multiclass", "cnn", "actors")
    assert held["baseline"] == 0.45 and np.isnan(held["study"])  # the study never held actors out
    assert row("10_augmentation", "cnn_study_augmentation", "random")["study"] == pytest.approx(0.4398)
    assert np.isnan(row("09_cnn_multiclass", "cnn", "repetition")["baseline"])  # 07 recorded no actor/repetition
    # the baseline is matched on the dataset: 12 ran on ravdess, 07 on synthetic
    assert np.isnan(row("12_autoencoder", "autoencoder_ffnn", "random")["baseline"])
    assert row("12_autoencoder", "autoencoder_ffnn", "random", "validation")["study"] == pytest.approx(0.20)
    assert list(table["task"].unique()) == ["sex", "actor", "emotion"]  # the study's task order


def test_provenance_and_run_table(results_dir):
    runs = summary.run_table(results.load_results(results_dir))
    assert list(runs["notebook"]) == ["07_classical_baseline", "09_cnn_multiclass", "10_augmentation", "12_autoencoder"]
    notes = summary.provenance(runs)
    assert any("different datasets" in n for n in notes)
    assert any("synthetic corpus" in n for n in notes)
    assert any("1 notebook(s) ran in quick mode" in n and "10_augmentation" in n for n in notes)
    clean = runs[runs["notebook"] == "12_autoencoder"]
    assert summary.provenance(clean) == []
    assert "No results" in summary.provenance(runs.iloc[:0])[0]


def test_plots(results_dir):
    table = summary.accuracy_table(results.load_accuracies(results_dir))
    fig = summary.plot_accuracies(table, "random")
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["sex (chance 50.0 %, dashed)", "emotion (chance 12.5 %, dashed)"]
    emotion = fig.axes[1]
    labels = [t.get_text() for t in emotion.get_yticklabels()]
    assert "study: cnn" in labels and "cnn (09)" in labels and "cnn_study_augmentation (10) [quick]" in labels
    widths = [p.get_width() for p in emotion.patches]
    assert widths == sorted(widths)  # best on top
    assert any(p.get_hatch() == "//" for p in emotion.patches)
    assert fig.axes[-1].get_xlabel() == "test accuracy (fraction)"
    held = summary.plot_accuracies(table, "actors")
    assert not any(p.get_hatch() == "//" for ax in held.axes for p in ax.patches)
    empty = summary.plot_accuracies(table, "statement")
    assert "no results" in empty.axes[0].texts[0].get_text()
    runs = summary.run_table(results.load_results(results_dir))
    ax = summary.plot_run_times(runs)
    assert "total" in ax.get_title() and ax.get_xlabel() == "run time (minutes)"
    plt.close("all")


def test_headline_ranks_emotion_by_uar_and_sets_the_baseline_of_the_same_protocol(tmp_path):
    _write(tmp_path, "07_classical_baseline", "ravdess", "full", [
        ("emotion", "svm", "random", 0.80, {"uar": 0.78}), ("emotion", "logreg", "random", 0.75, {"uar": 0.79, "n_test": 216}),
        ("emotion", "svm", "actor_folds", 0.45, {"uar": 0.44, "accuracy_std": 0.02, "n_folds": 6}),
        ("sex", "svm", "actors", 0.9)])
    _write(tmp_path, "16_better_emotion_model", "ravdess", "full", [
        ("emotion", "compact_bn", "random", 0.70, {"uar": 0.60}), ("emotion", "compact_bn_plain", "random", 0.68, {"uar": 0.66, "n_test": 216}),
        ("emotion", "compact_bn", "actor_folds", 0.55, {"uar": 0.54, "n_folds": 6})])
    _write(tmp_path, "08_cnn_binary", "ravdess", "full", [("sex", "cnn", "random", 0.97), ("sex", "cnn", "actors", 0.93)])
    # chapter 17 trains the baseline again: a baseline, not the course's best model, even where it scores highest
    _write(tmp_path, "17_new_voices", "ravdess", "full", [("emotion", "svm_all", "actor_folds", 0.5, {"uar": 0.50, "n_folds": 6})])
    table = summary.accuracy_table(results.load_accuracies(tmp_path))
    head = summary.headline_table(table).set_index(["task", "protocol"])
    assert list(head.columns) == summary.HEADLINE_COLUMNS[2:]
    emo = head.loc[("emotion", "random")]
    assert emo["best model"] == "compact_bn_plain"  # ranked by uar (0.66 > 0.60), not by accuracy
    assert emo["baseline model"] == "logreg" and emo["baseline uar"] == 0.79 and emo["baseline accuracy"] == 0.75
    assert emo["study"] == pytest.approx(0.4398)  # its best: the augmented CNN and emo["chance"] == 0.125
    folds = head.loc[("emotion", "actor_folds")]
    assert folds["best model"] == "compact_bn" and folds["baseline model"] == "svm_all" and folds["baseline uar"] == 0.50
    assert np.isnan(folds["study"])
    assert head.loc[("sex", "random"), "baseline model"] == "-" and np.isnan(head.loc[("sex", "random"), "baseline accuracy"])
    assert head.loc[("sex", "actors"), "baseline accuracy"] == 0.9 and head.loc[("sex", "random"), "study"] == pytest.approx(0.9722)
    assert ("statement", "random") not in head.index  # no course model: no row
    assert summary.primary_score("emotion") == "uar" and summary.primary_score("sex") == "accuracy"
    with pytest.raises(ValueError, match="task must be"):
        summary.primary_score("mood")
    out = summary.write_results_markdown(tmp_path / "results.md", tmp_path)
    text = out.read_text()
    assert text.index("## Headline") < text.index("## Every recorded metric")
    assert "| emotion | random | compact_bn_plain | 16_better_emotion_model | full | 68.0 | 66.0 | - | 216 | logreg | 75.0 | 79.0 | 216 | 44.0 | 12.5 |" in text
    assert "| 08_cnn_binary | sex_cnn_random_accuracy | 0.97 | ravdess | full |" in text


def test_write_results_markdown_needs_results(tmp_path):
    with pytest.raises(FileNotFoundError, match="make course"):
        summary.write_results_markdown(tmp_path / "r.md", tmp_path)
    run = results.NotebookRun("00_getting_the_data", dataset="synthetic", quick=True, results_dir=tmp_path)
    run.record(clips=1440)
    run.save()
    text = summary.write_results_markdown(tmp_path / "r.md", tmp_path).read_text()
    assert "## Headline" not in text and "| 00_getting_the_data | clips | 1440 | synthetic | quick |" in text


def test_headline_comparisons_call_a_difference_within_its_standard_error_level(tmp_path):
    from course_utils.course import phrases

    def head(ours, base, n_ours=72, n_base=72):
        _write(tmp_path, "07_classical_baseline", "ravdess", "full", [("sex", "logreg", "random", base, {"n_test": n_base})])
        _write(tmp_path, "08_cnn_binary", "ravdess", "full", [("sex", "cnn", "random", ours, {"n_test": n_ours})])
        return summary.headline_table(summary.accuracy_table(results.load_accuracies(tmp_path)))

    (label, kw), (study_label, study_kw) = summary.headline_comparisons(head(65 / 72, 66 / 72))
    assert label == "sex, random (accuracy)" and kw["b_name"] == "the baseline (logreg)" and kw["a_name"] == "cnn (ch. 08)"
    assert kw["se"] == pytest.approx(phrases.difference_se(65 / 72, 72, 66 / 72, 72))
    assert " are level" in phrases.compare(**kw)  # one clip of 72: within the noise
    assert study_label.startswith("sex, random split, against the study's best")
    assert study_kw["se"] == pytest.approx(phrases.difference_se(65 / 72, 72, 0.9722, 216), abs=1e-4)
    (_, kw), _ = summary.headline_comparisons(head(0.70, 0.95))
    assert "is behind the baseline (logreg)" in phrases.compare(**kw)
    # a results file without clip counts (written before they were recorded): no standard error
    _write(tmp_path, "08_cnn_binary", "ravdess", "full", [("sex", "cnn", "random", 0.9)])
    (_, kw), (_, study_kw) = summary.headline_comparisons(summary.headline_table(summary.accuracy_table(results.load_accuracies(tmp_path))))
    assert "se" not in kw and "se" not in study_kw


def test_chapter_table_puts_a_chapter_beside_the_others_the_study_and_chance():
    ours = pd.DataFrame({"model": ["vgg16_random_init"], "protocol": ["random"], "accuracy": [0.3]})
    others = pd.DataFrame([
        {"notebook": "07_classical_baseline", "task": "emotion", "model": "svm", "protocol": "random",
         "accuracy": 0.8, "split": "test", "dataset": "synthetic", "mode": "full"},
        {"notebook": "07_classical_baseline", "task": "sex", "model": "svm", "protocol": "random",
         "accuracy": 1.0, "split": "test", "dataset": "synthetic", "mode": "full"},
        {"notebook": "09_cnn_multiclass", "task": "emotion", "model": "cnn", "protocol": "random",
         "accuracy": 0.5, "split": "test", "dataset": "ravdess", "mode": "full"},
        {"notebook": "11_transfer_vgg16", "task": "emotion", "model": "vgg16_random_init", "protocol": "random",
         "accuracy": 0.2, "split": "test", "dataset": "synthetic", "mode": "quick"},
    ])
    table = summary.chapter_table(ours, others, dataset="synthetic", exclude_notebook="11_transfer_vgg16")
    assert list(table.columns) == ["source", "model", "protocol", "accuracy", "vs chance"]
    assert table["source"].iloc[0] == "this chapter"
    assert "07_classical_baseline (full)" in set(table["source"])
    assert "09_cnn_multiclass (full)" not in set(table["source"])  # other dataset
    assert (table["model"] == "svm").sum() == 1  # emotion only
    assert len(table[table["source"].str.startswith("11_")]) == 0
    paper = table[table["source"] == "study (paper)"]
    assert set(paper["model"]) == set(study.results_table().query("task == 'emotion'")["model"])
    assert "random (validation)" in set(paper["protocol"])
    chance = table[table["source"] == "chance"]
    assert chance["accuracy"].iloc[0] == pytest.approx(0.125) and chance["vs chance"].iloc[0] == 0
    alone = summary.chapter_table(ours, None)
    assert set(alone["source"]) == {"this chapter", "study (paper)", "chance"}
    assert len(summary.chapter_table(ours, others.iloc[:0])) == len(alone)
