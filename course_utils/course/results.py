"""What the notebooks measured: one JSON file per notebook, one table for the course.

Every notebook ends by saving its metrics::

    data = datasets.resolve(dataset)          # "auto" becomes "ravdess" or "synthetic"
    run = results.NotebookRun("08_cnn_binary", dataset=data.name, quick=quick)
    ...
    run.record(sex_test_accuracy=0.97, statement_test_accuracy=0.95)
    run.save()

which writes ``build/results/08_cnn_binary.json`` (atomically). ``make course`` and the
summary notebook ``99_results`` gather them into ``build/results.md``: one row per metric,
with the dataset and mode it came from, when it was written and how long the notebook ran.

Taught in ``00_getting_the_data`` ("What we measured"); :meth:`NotebookRun.record_scores` and the
generated sentences of :meth:`NotebookRun.say` in ``07_classical_baseline``. Besides
:class:`NotebookRun`: :func:`check_claims` (do a run's sentences still follow its numbers?),
:func:`load_results` and :func:`load_accuracies` (every run's numbers, read back) and
:func:`to_markdown` (a table as Markdown).
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from numbers import Real
from pathlib import Path

import pandas as pd

from course_utils.base import paths
from course_utils.data.atomic import write_text_atomic
from course_utils.course import phrases, study

DATASETS = ("ravdess", "synthetic")
COLUMNS = ["notebook", "metric", "value", "dataset", "mode", "seconds", "written"]

#: Evaluation protocols of :meth:`NotebookRun.record_accuracy` and what each one means.
PROTOCOLS = {
    "random": "stratified random 70 / 15 / 15 % split (the study's): every actor in train and test",
    "actors": "whole actors held out: test voices never heard in training",
    "actor_folds": "cross-validation over whole actors (chapter 16's folds): the mean over the folds, every actor "
                   "tested once by a model that never heard it",
    "repetition": "second takes held out (actor id): same voices, unseen recordings",
    "statement": "one sentence held out (actor id): same voices, unseen words",
}
#: Tasks of :meth:`NotebookRun.record_accuracy` (the study's four).
TASKS = ("sex", "statement", "actor", "emotion")
#: Optional scores beside the accuracy (:meth:`NotebookRun.record_accuracy`): unweighted average
#: recall and macro-F1 (:func:`course_utils.learning.diagnosis.summary_scores`), and for a mean over
#: folds the standard deviations across folds and the number of folds; ``n_test``, the number of
#: test clips (all folds together for a mean over folds), for the standard error of a comparison.
EXTRA_SCORES = ("uar", "macro_f1", "accuracy_std", "uar_std", "n_folds", "n_test")
ACCURACY_COLUMNS = ["notebook", "task", "model", "protocol", "accuracy", *EXTRA_SCORES, "split", "dataset", "mode"]


# --------------------------------------------------------------------------------------
# Recording a run
# --------------------------------------------------------------------------------------
def write_json_atomic(path: str | Path, payload: dict) -> Path:
    """Write JSON through a temporary file in the same folder and a rename
    (:func:`course_utils.data.atomic.write_text_atomic`). Used by :meth:`NotebookRun.save` (every
    chapter, ``00_getting_the_data`` on) and by ``make bench`` (``build/bench.json``)."""
    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


class NotebookRun:
    """The metrics of one notebook run, with its dataset, mode and run time.

    Create it right after the dataset is resolved (``dataset`` must be the name of the data
    actually used, never ``"auto"``); the clock starts then. Taught in ``00_getting_the_data``
    ("What we measured"); every chapter creates one in its data cell and saves it in its last.
    """

    def __init__(self, notebook: str, *, dataset: str, quick: bool, results_dir: str | Path | None = None):
        if dataset not in DATASETS:
            raise ValueError(
                f"dataset must be the one actually used, {' or '.join(DATASETS)}, got {dataset!r}. "
                "Fix: resolve it first: data = datasets.resolve(dataset); NotebookRun(..., dataset=data.name)"
            )
        self.notebook = notebook
        self.dataset = dataset
        self.mode = "quick" if quick else "full"
        self.results_dir = Path(results_dir) if results_dir is not None else paths.results_dir()
        self.metrics: dict[str, float] = {}
        self.accuracies: list[dict] = []
        self.claims: list[dict] = []
        self._t0 = time.perf_counter()

    def record(self, **metrics: float) -> None:
        """Add metrics (plain numbers; NaN and infinities are refused)."""
        for name, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                raise ValueError(f"metric {name!r} must be a finite number, got {value!r}")
            self.metrics[name] = float(value)

    def record_accuracy(self, task: str, model: str, protocol: str, accuracy: float, *, split: str = "test",
                        uar: float | None = None, macro_f1: float | None = None, accuracy_std: float | None = None,
                        uar_std: float | None = None, n_folds: int | None = None, n_test: int | None = None) -> None:
        """Record one classifier's accuracy in the form ``99_results`` compares across chapters.

        ``task``: one of :data:`TASKS`; ``model``: a short name (``"cnn"``, ``"svm"``,
        ``"vgg16"`` ...); ``protocol``: a key of :data:`PROTOCOLS`; ``accuracy``: a fraction in
        [0, 1]; ``split``: ``"test"`` (default) or ``"validation"``. Optional, beside it
        (:data:`EXTRA_SCORES`): ``uar`` and ``macro_f1`` (fractions; every emotion chapter
        gives them, since neutral has half as many clips), and for a mean over folds
        ``accuracy_std``, ``uar_std`` (standard deviations across folds) and ``n_folds``; and
        ``n_test``, the number of test clips (all folds together), which ``99_results`` needs for
        the standard error of a comparison.
        Each is also recorded as a plain metric ``<task>_<model>_<protocol>_<score>``
        (``_val_<score>`` for validation). :meth:`record_scores` takes them from a dict.
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {tuple(PROTOCOLS)}, got {protocol!r}")
        if split not in ("test", "validation"):
            raise ValueError(f"split must be 'test' or 'validation', got {split!r}")
        if not model or not str(model).replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"model must be a short name of letters, digits, '_' or '-', got {model!r}")
        scores = {"accuracy": accuracy, "uar": uar, "macro_f1": macro_f1, "accuracy_std": accuracy_std,
                  "uar_std": uar_std, "n_folds": n_folds, "n_test": n_test}
        scores = {k: v for k, v in scores.items() if v is not None}
        for name, value in scores.items():
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if name not in ("n_folds", "n_test") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")
        for name in ("n_folds", "n_test"):
            if name in scores and (scores[name] < 1 or float(scores[name]) != int(scores[name])):
                raise ValueError(f"{name} must be a whole number >= 1, got {scores[name]!r}")
        prefix = f"{task}_{model}_{protocol}_" + ("" if split == "test" else "val_")
        self.record(**{prefix + name: value for name, value in scores.items()})
        row = {"task": task, "model": str(model), "protocol": protocol, **{k: float(v) for k, v in scores.items()},
               "split": split}
        self.accuracies = [a for a in self.accuracies if (a["task"], a["model"], a["protocol"], a["split"])
                           != (task, row["model"], protocol, split)] + [row]

    def record_scores(self, task: str, model: str, protocol: str, scores, *, split: str = "test") -> None:
        """:meth:`record_accuracy` from a dict of scores: ``training.evaluate(...)``,
        :func:`course_utils.learning.diagnosis.summary_scores` or :func:`~course_utils.learning.diagnosis.fold_mean` (its keys
        ``accuracy`` and any of :data:`EXTRA_SCORES`; an extra score that is None or NaN counts
        as not measured; other keys are ignored).
        Taught in ``07_classical_baseline``."""
        if "accuracy" not in scores:
            raise ValueError(f"scores need an 'accuracy', got keys {sorted(scores)}")
        extra = {k: scores[k] for k in EXTRA_SCORES
                 if k in scores and scores[k] is not None and not (isinstance(scores[k], float) and math.isnan(scores[k]))}
        self.record_accuracy(task, model, protocol, scores["accuracy"], split=split, **extra)

    def say(self, phrase: str, **args) -> str:
        """A judging sentence from :data:`course_utils.course.phrases.PHRASES`, kept as a *claim*.

        ``run.say("compare", a=cnn, b=svm, a_name="the CNN", b_name="the SVM")`` returns the
        phrase's sentence and saves ``{"phrase", "args", "text"}`` with the run's results, so
        that the tests can check every generated claim against the recorded metrics
        (:func:`check_claims`): record the numbers a claim uses (``run.record``,
        ``record_accuracy``) in the same run. Taught in ``07_classical_baseline``.
        """
        if phrase not in phrases.PHRASES:
            raise ValueError(f"unknown phrase {phrase!r}; choose from {sorted(phrases.PHRASES)}")
        args = {k: ([x if isinstance(x, str) else float(x) for x in v] if isinstance(v, (list, tuple)) else v)
                for k, v in args.items()}
        text = phrases.PHRASES[phrase](**args)
        self.claims.append({"phrase": phrase, "args": args, "text": text})
        return text

    @property
    def path(self) -> Path:
        return self.results_dir / f"{self.notebook}.json"

    def save(self) -> Path:
        """Write ``<results_dir>/<notebook>.json`` and return its path."""
        if not self.metrics:
            raise ValueError(f"{self.notebook}: nothing recorded; call run.record(...) before run.save()")
        payload = {
            "notebook": self.notebook,
            "dataset": self.dataset,
            "mode": self.mode,
            "seconds": round(time.perf_counter() - self._t0, 2),
            "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "metrics": self.metrics,
            "accuracies": self.accuracies,
            "claims": self.claims,
        }
        return write_json_atomic(self.path, payload)


# --------------------------------------------------------------------------------------
# Checking the claims
# --------------------------------------------------------------------------------------
#: Claim arguments that are constants, not measurements (chance levels, clip counts, names).
_CONSTANT_ARGS = {"chance", "n", "n_per_fold", "n_known", "n_new", "se", "digits", "a_name", "b_name", "name", "names"}


def check_claims(path: str | Path) -> list[str]:
    """Problems with the generated claims of one results file (an empty list: all hold).

    For every claim saved by :meth:`NotebookRun.say`: the phrase, applied again to its
    arguments, must give the saved text (the words follow the numbers), and every measured
    number among its arguments (all but :data:`_CONSTANT_ARGS`) must be one of the run's
    recorded metrics or one of the study's published figures (:mod:`course_utils.course.study`): the
    words are about what was recorded. No chapter calls it: the notebook tests
    (``tests/test_notebooks.py``) check every executed chapter's claims with it. The claims are
    those of :meth:`NotebookRun.say`, taught in ``07_classical_baseline``.
    """
    data = json.loads(Path(path).read_text())
    published = study.results_table()["accuracy"].tolist() + list(study.CHANCE.values())  # the study's figures
    recorded = [float(v) for v in data.get("metrics", {}).values()] + [float(v) for v in published]
    problems = []
    for claim in data.get("claims", []):
        phrase, args, text = claim["phrase"], claim["args"], claim["text"]
        try:
            again = phrases.PHRASES[phrase](**args)
        except (KeyError, TypeError) as err:  # a results file written by an older version of the phrase
            problems.append(f"{phrase}: cannot be checked ({err}); rerun {data['notebook']} to record it again")
            continue
        if again != text:
            problems.append(f"{phrase}: saved {text!r} but its numbers say {again!r}")
        for name, value in args.items():
            if name in _CONSTANT_ARGS:
                continue
            for v in (value if isinstance(value, list) else [value]):
                if not any(math.isclose(float(v), r, rel_tol=1e-9, abs_tol=1e-12) for r in recorded):
                    problems.append(f"{phrase}: {name}={v!r} in {text!r} is not a recorded metric of {data['notebook']}")
    return problems


# --------------------------------------------------------------------------------------
# Reading the results back
# --------------------------------------------------------------------------------------
def load_results(results_dir: str | Path | None = None) -> pd.DataFrame:
    """Every recorded metric as one long table (columns: :data:`COLUMNS`), sorted by notebook.
    Used by ``99_results`` (how each chapter ran), ``build/results.md``
    (:func:`course_utils.course.summary.write_results_markdown`), the seed sweeps and the website."""
    results_dir = Path(results_dir) if results_dir is not None else paths.results_dir()
    rows = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            for metric, value in data["metrics"].items():
                rows.append({**{k: data[k] for k in COLUMNS if k in data}, "metric": metric, "value": value})
        except (json.JSONDecodeError, KeyError, AttributeError) as err:
            raise ValueError(f"results file {path} is damaged ({err}). Fix: delete it and rerun its notebook.") from err
    return pd.DataFrame(rows, columns=COLUMNS)


def load_accuracies(results_dir: str | Path | None = None) -> pd.DataFrame:
    """Every accuracy recorded with :meth:`NotebookRun.record_accuracy`, one row each
    (columns: :data:`ACCURACY_COLUMNS`), with the dataset and mode of its notebook run.
    Taught in ``99_results``; ``09_cnn_multiclass`` to ``16_better_emotion_model`` read the earlier
    chapters' accuracies with it, to put their own beside them."""
    results_dir = Path(results_dir) if results_dir is not None else paths.results_dir()
    rows = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            for acc in data.get("accuracies", []):
                rows.append({"notebook": data["notebook"], "dataset": data["dataset"], "mode": data["mode"], **acc})
                if "accuracy" not in acc:
                    raise KeyError("accuracy")
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as err:
            raise ValueError(f"results file {path} is damaged ({err}). Fix: delete it and rerun its notebook.") from err
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table: whole numbers as integers, others with 4
    significant digits (large ones as ``14100.5``, never ``1.41e+04``). Writes the tables of
    ``build/results.md`` (whose headline table ``99_results`` shows), of the seed sweeps and of
    the website's results page; no chapter calls it."""

    def fmt(v) -> str:
        if not isinstance(v, float):
            return str(v)
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.1f}" if abs(v) >= 1e4 else f"{v:.4g}"

    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])
