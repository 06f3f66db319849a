"""The course's results side by side: every model, the classical baseline and the study.

Taught in ``99_results``; ``11_transfer_vgg16`` puts its own accuracies beside the other
chapters' with :func:`chapter_table`. The notebooks record their accuracies with
:meth:`course_utils.course.results.NotebookRun.record_accuracy`; :func:`course_utils.course.results.load_accuracies`
reads them back. This module puts them next to

- the **classical baseline** of ``07_classical_baseline`` (the best of its SVM and logistic
  regression on all features, for the same task, protocol and dataset);
- the **study**'s number for the same task and model family (:mod:`course_utils.course.study`; the study
  used the random split only, so its numbers sit next to the ``random`` protocol);
- **chance** (one over the number of classes);

and says where the rows came from (dataset and mode), so that a quick-mode smoke test or the
synthetic corpus is never mistaken for a result on real speech.

:func:`headline_table` keeps one row per task and protocol: the best model beside the best
baseline, the study and chance (emotion is ranked by unweighted average recall, since neutral has
half as many clips as the other emotions); :func:`write_results_markdown` puts it at the top of
``build/results.md``, above every recorded metric.

=================================  ==============================================================
helper                             what it gives
=================================  ==============================================================
:func:`accuracy_table`             every recorded accuracy with the baseline, the study and chance
:func:`headline_table`             the best model per task and protocol (:func:`primary_score`:
                                   UAR for emotion); :func:`headline_comparisons` the sentences
:func:`chapter_table`              one chapter's accuracies beside the others', the study, chance
:func:`write_results_markdown`     ``build/results.md``; :func:`provenance` warns where the
                                   numbers came from, :func:`run_table` how each notebook ran
:func:`plot_accuracies`            one bar per model and task; :func:`plot_run_times` run times
:func:`bench_tables`               ``make bench``'s result as tables; :func:`bench_report` as text
=================================  ==============================================================
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from course_utils.base import paths
from course_utils.data.atomic import write_text_atomic
from course_utils.course import phrases, results, study
from course_utils.course.results import PROTOCOLS, TASKS

#: The notebook whose classifiers are the baseline, and their model names (on the course's clip
#: statistics, on eGeMAPS, and on both combined).
BASELINE_NOTEBOOK = "07_classical_baseline"
BASELINE_MODELS = ("svm", "logreg", "svm_egemaps", "logreg_egemaps", "svm_combined", "logreg_combined")
#: The same classical baseline trained again in a later chapter, next to what that chapter adds
#: (``17_new_voices``: the SVM on statistics + eGeMAPS, without per-speaker normalisation). In
#: :func:`headline_table` it counts as a baseline, never as the course's best model.
BASELINE_RERUNS = {"17_new_voices": ("svm_all",)}
#: Order of the protocols in tables and figures.
PROTOCOL_ORDER = tuple(PROTOCOLS)


# --------------------------------------------------------------------------------------
# Every accuracy beside the baseline, the study and chance
# --------------------------------------------------------------------------------------
def is_baseline(rows: pd.DataFrame) -> pd.Series:
    """Which rows of an accuracy table are the classical baseline: chapter 07's classifiers
    (:data:`BASELINE_MODELS`) and their reruns in later chapters (:data:`BASELINE_RERUNS`).
    Taught in ``99_results``."""
    mask = (rows["notebook"] == BASELINE_NOTEBOOK) & rows["model"].isin(BASELINE_MODELS)
    for notebook, models in BASELINE_RERUNS.items():
        mask |= (rows["notebook"] == notebook) & rows["model"].isin(models)
    return mask


def study_model(model: str) -> str | None:
    """The study's model family (a key of :data:`course_utils.course.study.MODELS`) that a course model
    re-creates, or ``None`` (baseline classifiers and the course's own new models).

    ``cnn`` -> ``cnn``; ``cnn_study_image`` (any CNN name with "study": chapter 10's run of the
    study's own image augmentation) -> ``cnn_augmented``; other ``cnn_*`` variants -> ``cnn`` (the study's CNN is what they change);
    ``vgg16*`` -> ``vgg16``; ``autoencoder*`` -> ``autoencoder_ffnn``. Used by
    :func:`accuracy_table` (``99_results``).
    """
    if model in study.MODELS:
        return model
    if model.startswith("cnn"):
        return "cnn_augmented" if "study" in model else "cnn"
    if model.startswith("vgg16"):
        return "vgg16"
    if model.startswith("autoencoder"):
        return "autoencoder_ffnn"
    return None


def _study_lookup() -> dict[tuple[str, str], float]:
    table = study.results_table()
    return {(r.task, r.model): r.accuracy for r in table.itertuples()}


def accuracy_table(accuracies: pd.DataFrame) -> pd.DataFrame:
    """One row per recorded accuracy with the baseline, the study and chance beside it.

    ``accuracies``: :func:`course_utils.course.results.load_accuracies`. Adds ``baseline`` (best 07
    classifier, same task, protocol and dataset; NaN where 07 has not run so), ``baseline_uar``
    (the best 07 unweighted average recall there, where recorded), ``vs_baseline``,
    ``study_model``, ``study`` (the study's accuracy for the same task and model family, on the
    random split only; NaN otherwise), ``vs_study`` and ``chance``. Sorted by task, protocol,
    notebook, model. Validation accuracies are kept and marked in ``split``. Taught in
    ``99_results``; ``build/results.md`` starts from it too (:func:`write_results_markdown`).
    """
    acc = accuracies.copy()
    base = acc[(acc["notebook"] == BASELINE_NOTEBOOK) & acc["model"].isin(BASELINE_MODELS) & (acc["split"] == "test")]
    best = base.groupby(["task", "protocol", "dataset"])["accuracy"].max()
    keys = list(zip(acc["task"], acc["protocol"], acc["dataset"]))
    acc["baseline"] = [best.get(k, np.nan) for k in keys]
    acc["vs_baseline"] = acc["accuracy"] - acc["baseline"]
    acc["study_model"] = acc["model"].map(study_model)
    lookup = _study_lookup()
    acc["study"] = [
        lookup.get((t, m), np.nan) if p == "random" and m is not None else np.nan
        for t, m, p in zip(acc["task"], acc["study_model"], acc["protocol"])
    ]
    acc["vs_study"] = acc["accuracy"] - acc["study"]
    base_uar = base.dropna(subset=["uar"]).groupby(["task", "protocol", "dataset"])["uar"].max()
    acc["baseline_uar"] = [base_uar.get(k, np.nan) for k in keys]
    acc["chance"] = acc["task"].map(study.CHANCE)
    acc["task"] = pd.Categorical(acc["task"], TASKS, ordered=True)
    acc["protocol"] = pd.Categorical(acc["protocol"], PROTOCOL_ORDER, ordered=True)
    acc = acc.sort_values(["task", "protocol", "notebook", "model"]).reset_index(drop=True)
    acc["task"] = acc["task"].astype(str)
    acc["protocol"] = acc["protocol"].astype(str)
    return acc


def primary_score(task: str) -> str:
    """The score that ranks models of ``task``: ``"uar"`` for emotion (classes of unequal size:
    neutral has half as many clips), ``"accuracy"`` for the balanced tasks. Taught in ``99_results``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return "uar" if task == "emotion" else "accuracy"


# --------------------------------------------------------------------------------------
# One chapter's accuracies beside the other chapters' (chapter 11)
# --------------------------------------------------------------------------------------
def chapter_table(ours: pd.DataFrame, others: pd.DataFrame | None = None, *, task: str = "emotion",
                  dataset: str | None = None, exclude_notebook: str | None = None) -> pd.DataFrame:
    """A chapter's accuracies next to other chapters' (``results.load_accuracies()``), the study's and chance.

    ``ours``: columns ``model``, ``protocol``, ``accuracy`` (test accuracies of this run);
    ``others``: the table of :func:`course_utils.course.results.load_accuracies` (or None), filtered
    to ``task``, the test split, ``dataset`` (when given) and without ``exclude_notebook``
    (this chapter's own older results). The study's rows for ``task`` come from
    :func:`course_utils.course.study.results_table` (source ``study (paper)``), and a chance row.
    Columns: ``source``, ``model``, ``protocol``, ``accuracy``, ``vs chance`` (difference).
    Used by ``11_transfer_vgg16``.
    """
    parts = [ours.assign(source="this chapter")[["source", "model", "protocol", "accuracy"]]]
    if others is not None and len(others):
        o = others[(others["task"] == task) & (others["split"] == "test")]
        if dataset is not None:
            o = o[o["dataset"] == dataset]
        if exclude_notebook is not None:
            o = o[o["notebook"] != exclude_notebook]
        if len(o):
            parts.append(o.assign(source=o["notebook"] + " (" + o["mode"] + ")")[["source", "model", "protocol", "accuracy"]])
    s = study.results_table()
    s = s[s["task"] == task]
    parts.append(pd.DataFrame({"source": "study (paper)", "model": s["model"],
                               "protocol": np.where(s["measured_on"] == "test", "random", "random (validation)"),
                               "accuracy": s["accuracy"]}))
    parts.append(pd.DataFrame([{"source": "chance", "model": "-", "protocol": "-", "accuracy": study.chance(task)}]))
    table = pd.concat(parts, ignore_index=True)
    table["vs chance"] = table["accuracy"] - study.chance(task)
    return table


# --------------------------------------------------------------------------------------
# The headline: the best model per task and protocol
# --------------------------------------------------------------------------------------
#: Columns of :func:`headline_table`.
HEADLINE_COLUMNS = ["task", "protocol", "best model", "notebook", "mode", "accuracy", "uar", "macro_f1", "n_test",
                    "baseline model", "baseline accuracy", "baseline uar", "baseline n_test", "study", "chance"]
#: Columns that count clips or folds, not fractions (kept out of the percentages).
COUNT_COLUMNS = ("n_folds", "n_test", "baseline n_test")


def _best_row(rows: pd.DataFrame, score: str) -> pd.Series | None:
    """The row with the highest ``score`` (accuracy where a row lacks it)."""
    if rows.empty:
        return None
    ranking = rows[score].fillna(rows["accuracy"]) if score in rows else rows["accuracy"]
    return rows.loc[ranking.astype(float).idxmax()]


def headline_table(table: pd.DataFrame) -> pd.DataFrame:
    """The best model per task and protocol, next to the best baseline, the study and chance.

    ``table``: :func:`accuracy_table` (test rows of one dataset). For each task and protocol
    with at least one course model: the best model by :func:`primary_score` (its notebook and
    mode, accuracy, UAR and macro-F1 where recorded), the best classical baseline under the same
    protocol (chapter 07's or a rerun of it, :func:`is_baseline`; NaN where none ran), the study's best test accuracy for the
    task (random split only: the study used no other) and chance; ``n_test`` and ``baseline n_test``
    count the test clips where the chapters recorded them. One row per (task, protocol),
    in the order of :data:`~course_utils.course.results.TASKS` and :data:`PROTOCOL_ORDER`.
    Taught in ``99_results``.
    """
    test = table[table["split"] == "test"]
    st = study.results_table()
    study_best = st[st["measured_on"] == "test"].groupby("task")["accuracy"].max()
    rows = []
    for task in TASKS:
        score = primary_score(task)
        for protocol in PROTOCOL_ORDER:
            part = test[(test["task"] == task) & (test["protocol"] == protocol)]
            baseline_rows = is_baseline(part)
            base = part[baseline_rows]
            best = _best_row(part[~baseline_rows & (part["notebook"] != BASELINE_NOTEBOOK)], score)
            if best is None:
                continue
            b = _best_row(base, score)
            rows.append({
                "task": task, "protocol": protocol, "best model": best["model"], "notebook": best["notebook"],
                "mode": best["mode"], "accuracy": best["accuracy"], "uar": best.get("uar", np.nan),
                "macro_f1": best.get("macro_f1", np.nan), "n_test": best.get("n_test", np.nan),
                "baseline model": b["model"] if b is not None else "-",
                "baseline accuracy": b["accuracy"] if b is not None else np.nan,
                "baseline uar": b.get("uar", np.nan) if b is not None else np.nan,
                "baseline n_test": b.get("n_test", np.nan) if b is not None else np.nan,
                "study": study_best.get(task, np.nan) if protocol == "random" else np.nan,
                "chance": study.CHANCE[task],
            })
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def headline_comparisons(headline: pd.DataFrame) -> list[tuple[str, dict]]:
    """The comparisons ``99_results`` states for its headline table, as arguments of
    :func:`course_utils.course.phrases.compare`.

    For every row of :func:`headline_table`: the best model against the baseline of the same
    protocol, by :func:`primary_score` (UAR for emotion), where the baseline ran; and on the
    random split, its accuracy against the study's best. Returns ``(label, kwargs)`` pairs,
    e.g. ``("emotion, random (UAR)", {"a": ..., "b": ..., "a_name": ..., "b_name": ..., "se": ...})``.
    ``se`` is the standard error of the difference (:func:`course_utils.course.phrases.difference_se`)
    from the recorded test clips (the study's test set: 216 clips, :data:`course_utils.course.study.SPLIT_CORRECT`),
    so that a difference within it is called level; it is left out where a result has no
    recorded clip count (a results file written before the counts were recorded). For UAR the
    binomial standard error is an approximation. Taught in ``99_results``.
    """
    def counted(x) -> int | None:
        return int(x) if pd.notna(x) and x >= 1 else None

    out = []
    for _, r in headline.iterrows():
        score = primary_score(r["task"])
        name = f"{r['best model']} (ch. {str(r['notebook'])[:2]})"
        n_ours = counted(r.get("n_test", np.nan))
        ours, base = r[score], r[f"baseline {score}"]
        if pd.notna(ours) and pd.notna(base):
            kwargs = {"a": float(ours), "b": float(base), "a_name": name, "b_name": f"the baseline ({r['baseline model']})"}
            n_base = counted(r.get("baseline n_test", np.nan))
            if n_ours and n_base:
                kwargs["se"] = phrases.difference_se(float(ours), n_ours, float(base), n_base)
            out.append((f"{r['task']}, {r['protocol']} ({'UAR' if score == 'uar' else 'accuracy'})", kwargs))
        if r["protocol"] == "random" and pd.notna(r["study"]):
            kwargs = {"a": float(r["accuracy"]), "b": float(r["study"]), "a_name": name, "b_name": "the study"}
            if n_ours:
                kwargs["se"] = phrases.difference_se(float(r["accuracy"]), n_ours, float(r["study"]), study.SPLIT_CORRECT[2])
            out.append((f"{r['task']}, random split, against the study's best (accuracy)", kwargs))
    return out


# --------------------------------------------------------------------------------------
# build/results.md and where the numbers came from
# --------------------------------------------------------------------------------------
def _percent_table(table: pd.DataFrame) -> pd.DataFrame:
    """Fractions as percentages with one decimal, counts as whole numbers, NaN as '-' (for Markdown)."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype.kind == "f" and column in COUNT_COLUMNS:
            out[column] = [("-" if pd.isna(v) else f"{v:.0f}") for v in out[column]]
        elif out[column].dtype.kind == "f":
            out[column] = [("-" if pd.isna(v) else f"{100 * v:.1f}") for v in out[column]]
    return out


def write_results_markdown(output: str | Path, results_dir: str | Path | None = None) -> Path:
    """Write ``build/results.md``: the headline table (:func:`headline_table`, in percent) of
    every dataset that has results, then every metric the notebooks recorded, in one table.
    Its headline table is the one ``99_results`` shows (and says so); written by ``make results``
    (``python -m course_utils results``), with which ``make course`` ends."""
    table = results.load_results(results_dir)
    if table.empty:
        raise FileNotFoundError(
            f"No results in {results_dir or paths.results_dir()}. Fix: run the notebooks first (make course)."
        )
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    datasets = sorted(table["dataset"].unique())
    parts = [
        "# Course results\n",
        f"Gathered {stamp} from {table['notebook'].nunique()} notebook(s); dataset(s): {', '.join(datasets)}.\n",
    ]
    comparison = accuracy_table(results.load_accuracies(results_dir))
    for dataset in datasets:
        head = headline_table(comparison[comparison["dataset"] == dataset])
        if head.empty:
            continue
        parts.append(f"## Headline: the best model per task and protocol ({dataset} data)\n")
        parts.append("Accuracy, unweighted average recall (uar: the mean recall over classes) and macro-F1 in percent; "
                     "emotion is ranked by uar. `baseline`: the better of chapter 07's SVM and logistic regression under "
                     "the same protocol; `study`: the study's best test accuracy (random split only); protocols: "
                     + "; ".join(f"`{k}`: {v}" for k, v in PROTOCOLS.items()) + ".\n")
        notes = provenance(table[table["dataset"] == dataset].drop_duplicates("notebook"))
        parts.extend(f"- {note}" for note in notes)
        parts.append(("\n" if notes else "") + results.to_markdown(_percent_table(head)) + "\n")
    parts.append("## Every recorded metric\n")
    parts.append("`seconds` is the notebook's run time; `mode` is quick (small, fast run) or full.\n")
    parts.append(results.to_markdown(table))
    return write_text_atomic(output, "\n".join(parts) + "\n")


def provenance(runs: pd.DataFrame) -> list[str]:
    """Warnings about where the numbers came from: mixed datasets, quick-mode rows, synthetic data.

    ``runs``: one row per notebook with ``dataset`` and ``mode`` (e.g. from
    :func:`course_utils.course.results.load_results`, deduplicated). Returns plain sentences (empty
    when every notebook ran in full mode on real RAVDESS). Used by ``99_results`` and
    :func:`write_results_markdown`.
    """
    notes = []
    if runs.empty:
        return ["No results yet. Run the notebooks first (make course)."]
    datasets = sorted(runs["dataset"].unique())
    if len(datasets) > 1:
        notes.append(f"The notebooks ran on different datasets ({', '.join(datasets)}): compare rows of one dataset only.")
    if "synthetic" in datasets:
        notes.append("Rows from the synthetic corpus test the code, not the method: they are not results on real speech.")
    quick = sorted(runs.loc[runs["mode"] == "quick", "notebook"])
    if quick:
        notes.append(f"{len(quick)} notebook(s) ran in quick mode (a smoke test on six actors, not a result): {', '.join(quick)}.")
    return notes


def run_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per notebook: dataset, mode, run time in seconds and when it was written. Used by
    ``99_results``."""
    cols = ["notebook", "dataset", "mode", "seconds", "written"]
    return results[cols].drop_duplicates("notebook").sort_values("notebook").reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def _bar_rows(table: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Rows to draw for ``protocol``: the course's test accuracies and (random split) the study's."""
    sub = table[(table["protocol"] == protocol) & (table["split"] == "test")]
    rows = pd.DataFrame({
        "task": sub["task"],
        "label": sub["model"] + " (" + sub["notebook"].str[:2] + ")" + np.where(sub["mode"] == "quick", " [quick]", ""),
        "accuracy": sub["accuracy"],
        "kind": np.where(sub["notebook"] == BASELINE_NOTEBOOK, "baseline (07)", "course"),
    })
    if protocol == "random" and len(rows):
        st = study.results_table()
        st = st[(st["measured_on"] == "test") & st["task"].isin(rows["task"])]
        rows = pd.concat([rows, pd.DataFrame({"task": st["task"], "label": "study: " + st["model"],
                                              "accuracy": st["accuracy"], "kind": "study"})], ignore_index=True)
    return rows


#: Bar colours of :func:`plot_accuracies`.
KIND_COLOURS = {"course": "tab:blue", "baseline (07)": "tab:gray", "study": "tab:red"}


def plot_accuracies(table: pd.DataFrame, protocol: str = "random", title: str | None = None) -> plt.Figure:
    """One panel per task: a horizontal bar per model with its test accuracy under ``protocol``.

    Blue: the course's networks; grey: the classical baseline (07); red, hatched: the study
    (random split only); the dashed line is chance. Bars are sorted, best on top; quick-mode rows
    say ``[quick]``. Returns the figure (an empty one with a message when nothing matches).
    Used by ``99_results``.
    """
    rows = _bar_rows(table, protocol)
    tasks = [t for t in TASKS if t in set(rows["task"])]
    if not tasks:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.text(0.5, 0.5, f"no results with protocol '{protocol}'", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    heights = [max(2, (rows["task"] == t).sum()) for t in tasks]
    fig, axes = plt.subplots(len(tasks), 1, figsize=(9, 0.32 * sum(heights) + 1.2 * len(tasks)),
                             gridspec_kw={"height_ratios": heights}, sharex=True, squeeze=False)
    for ax, task in zip(axes[:, 0], tasks):
        part = rows[rows["task"] == task].sort_values("accuracy")
        y = np.arange(len(part))
        bars = ax.barh(y, part["accuracy"], color=[KIND_COLOURS[k] for k in part["kind"]], height=0.7)
        for bar, kind in zip(bars, part["kind"]):
            if kind == "study":
                bar.set_hatch("//")
                bar.set_edgecolor("black")
        for yi, acc in zip(y, part["accuracy"]):
            ax.text(min(acc, 1.0) + 0.01, yi, f"{100 * acc:.1f} %", va="center", fontsize=7)
        ax.axvline(study.CHANCE[task], color="black", linestyle="--", linewidth=1)
        ax.set_yticks(y, part["label"], fontsize=8)
        ax.set_title(f"{task} (chance {100 * study.CHANCE[task]:.1f} %, dashed)", fontsize=9, loc="left")
        ax.set_xlim(0, 1.12)
    axes[-1, 0].set_xlabel("test accuracy (fraction)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, hatch="//" if k == "study" else None, ec="black" if k == "study" else c)
               for k, c in KIND_COLOURS.items()]
    fig.legend(handles, list(KIND_COLOURS), loc="upper right", fontsize=8, ncol=3)
    fig.suptitle(title or f"Test accuracy, protocol '{protocol}'\n{PROTOCOLS[protocol]}", fontsize=10, x=0.02, ha="left")
    fig.tight_layout()
    return fig


def plot_run_times(runs: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars: each notebook's run time in minutes, coloured by mode. Used by ``99_results``."""
    ax = ax or plt.subplots(figsize=(8, 0.3 * len(runs) + 1.2))[1]
    data = runs.assign(minutes=runs["seconds"] / 60)
    sns.barplot(data=data, y="notebook", x="minutes", hue="mode", dodge=False, ax=ax, orient="h")
    ax.set_xlabel("run time (minutes)")
    ax.set_ylabel("notebook")
    ax.set_title(f"Notebook run times (total {data['minutes'].sum():.1f} min)")
    return ax


# --------------------------------------------------------------------------------------
# The benchmark (make bench, build/bench.json), shown in 99
# --------------------------------------------------------------------------------------
def bench_tables(payload: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The features table and the models table of a bench result, ready to print.

    The models table has one row per (model, reader), in the order of the run's settings (the
    course's reader first), and ``speed-up``: the training rate over the study's reader's for the
    same model. Written by ``make bench`` (:func:`course_utils.tools.bench.run_bench`); shown in
    ``99_results``.
    """
    feats = pd.DataFrame(payload["features"])[["step", "files", "seconds", "files_per_s"]]
    models = pd.DataFrame(payload["models"])
    # the order of the run (run_bench measures the models and readers in the order asked for)
    models["model"] = pd.Categorical(models["model"], list(dict.fromkeys(models["model"])), ordered=True)
    models["reader"] = pd.Categorical(models["reader"], list(dict.fromkeys(models["reader"])), ordered=True)
    models = models.sort_values(["model", "reader"]).reset_index(drop=True)
    study_rate = models[models["reader"] == "keras_generator"].assign(model=lambda d: d["model"].astype(str)).set_index("model")["train_samples_per_s"]
    table = pd.DataFrame({
        "model": models["model"].astype(str),
        "reader": models["reader"].map({"memory": "course", "keras_generator": "study"}).astype(str),
        "parameters": models["parameters"],
        "train/s": models["train_samples_per_s"],
        "infer/s": models["infer_samples_per_s"],
        "epoch s": models["epoch_s"],
        "peak MB": models["peak_memory_mb"],
        "speed-up": models["train_samples_per_s"].to_numpy() / models["model"].astype(str).map(study_rate).to_numpy(dtype=float),
    })
    return feats, table


def bench_report(payload: dict) -> str:
    """The bench result as text: settings, the features table and the models table
    (:func:`bench_tables`). Printed by ``make bench`` and by ``99_results``."""
    feats, table = bench_tables(payload)
    m, s = payload["machine"], payload["settings"]
    head = (f"bench on {payload['files']} {payload['dataset']} files ({payload['mode']} mode), "
            f"{s['side']} x {s['side']} images, batch {s['batch_size']}; {m['cpus']} CPUs, {m['gpus']} GPUs, "
            f"TensorFlow {m['tensorflow']}, Keras {m['keras']}; took {payload['seconds']:.0f} s")
    note = (f"Models: samples per second (reader course = tf.data from memory, study = PNG files through "
            f"ImageDataGenerator);\nepoch s = {s['n_train']} training / train rate + {s['n_val']} validation / "
            "inference rate; speed-up = training rate / the study reader's")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.1f}".format):
        return "\n\n".join([head, "Features", feats.to_string(index=False), note, table.to_string(index=False)])
