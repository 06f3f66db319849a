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
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from numbers import Real
from pathlib import Path

import pandas as pd

from course_utils import paths
from course_utils.atomic import write_text_atomic

DATASETS = ("ravdess", "synthetic")
COLUMNS = ["notebook", "metric", "value", "dataset", "mode", "seconds", "written"]

#: Evaluation protocols of :meth:`NotebookRun.record_accuracy` and what each one means.
PROTOCOLS = {
    "random": "stratified random 70 / 15 / 15 % split (the study's): every actor in train and test",
    "actors": "whole actors held out: test voices never heard in training",
    "repetition": "second takes held out (actor id): same voices, unseen recordings",
    "statement": "one sentence held out (actor id): same voices, unseen words",
}
#: Tasks of :meth:`NotebookRun.record_accuracy` (the study's four).
TASKS = ("sex", "statement", "actor", "emotion")
ACCURACY_COLUMNS = ["notebook", "task", "model", "protocol", "accuracy", "split", "dataset", "mode"]


def write_json_atomic(path: str | Path, payload: dict) -> Path:
    """Write JSON through a temporary file in the same folder and a rename."""
    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


class NotebookRun:
    """The metrics of one notebook run, with its dataset, mode and run time.

    Create it right after the dataset is resolved (``dataset`` must be the name of the data
    actually used, never ``"auto"``); the clock starts then.
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
        self._t0 = time.perf_counter()

    def record(self, **metrics: float) -> None:
        """Add metrics (plain numbers; NaN and infinities are refused)."""
        for name, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                raise ValueError(f"metric {name!r} must be a finite number, got {value!r}")
            self.metrics[name] = float(value)

    def record_accuracy(self, task: str, model: str, protocol: str, accuracy: float, *, split: str = "test") -> None:
        """Record one classifier's accuracy in the form ``99_results`` compares across chapters.

        ``task``: one of :data:`TASKS`; ``model``: a short name (``"cnn"``, ``"svm"``,
        ``"vgg16"`` ...); ``protocol``: a key of :data:`PROTOCOLS`; ``accuracy``: a fraction in
        [0, 1]; ``split``: ``"test"`` (default) or ``"validation"``. It is also recorded as the plain
        metric ``<task>_<model>_<protocol>_accuracy`` (``_val_accuracy`` for validation).
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {tuple(PROTOCOLS)}, got {protocol!r}")
        if split not in ("test", "validation"):
            raise ValueError(f"split must be 'test' or 'validation', got {split!r}")
        if not model or not str(model).replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"model must be a short name of letters, digits, '_' or '-', got {model!r}")
        suffix = "accuracy" if split == "test" else "val_accuracy"
        name = f"{task}_{model}_{protocol}_{suffix}"
        self.record(**{name: accuracy})
        if not 0.0 <= accuracy <= 1.0:
            del self.metrics[name]
            raise ValueError(f"accuracy must be a fraction in [0, 1], got {accuracy!r}")
        row = {"task": task, "model": str(model), "protocol": protocol, "accuracy": float(accuracy), "split": split}
        self.accuracies = [a for a in self.accuracies if (a["task"], a["model"], a["protocol"], a["split"])
                           != (task, row["model"], protocol, split)] + [row]

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
        }
        return write_json_atomic(self.path, payload)


def load_results(results_dir: str | Path | None = None) -> pd.DataFrame:
    """Every recorded metric as one long table (columns: :data:`COLUMNS`), sorted by notebook."""
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
    Taught in ``99_results``."""
    results_dir = Path(results_dir) if results_dir is not None else paths.results_dir()
    rows = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            for acc in data.get("accuracies", []):
                rows.append({"notebook": data["notebook"], "dataset": data["dataset"], "mode": data["mode"], **acc})
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as err:
            raise ValueError(f"results file {path} is damaged ({err}). Fix: delete it and rerun its notebook.") from err
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table: whole numbers as integers, others with 4
    significant digits (large ones as ``14100.5``, never ``1.41e+04``)."""

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


def write_results_markdown(output: str | Path, results_dir: str | Path | None = None) -> Path:
    """Write ``build/results.md``: every metric the notebooks recorded, in one table."""
    table = load_results(results_dir)
    if table.empty:
        raise FileNotFoundError(
            f"No results in {results_dir or paths.results_dir()}. Fix: run the notebooks first (make course)."
        )
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    datasets = ", ".join(sorted(table["dataset"].unique()))
    text = (
        "# Course results\n\n"
        f"Gathered {stamp} from {table['notebook'].nunique()} notebook(s); dataset(s): {datasets}.\n"
        "`seconds` is the notebook's run time; `mode` is quick (small, fast run) or full.\n\n"
        + to_markdown(table)
        + "\n"
    )
    return write_text_atomic(output, text)
