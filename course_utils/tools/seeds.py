"""How much does a result move with the seed?

A notebook trained once gives one accuracy. Run it again with another ``seed`` (other initial
weights, another order of batches, other random splits and augmentation draws) and the number
moves. :func:`run_seeds` runs one notebook with several seeds through papermill
(:func:`course_utils.tools.runner.run_notebook`), each run into a temporary build folder of its own
(``COURSE_BUILD_DIR``), so the course's ``build/results/`` is never touched; it collects the
accuracies each run recorded (:mod:`course_utils.course.results`) and :func:`spread` tabulates their
mean, standard deviation, minimum and maximum. From the command line::

    python -m course_utils seeds notebooks/07_classical_baseline.ipynb --seeds 0 1 2 --dataset synthetic --quick 1

writes ``build/seeds/07_classical_baseline.md`` (the spread) and ``.csv`` (one row per seed and
metric). Used in the instructor guide, ``docs/instructors.md`` ("Expected results").

Build tooling (:mod:`course_utils.tools`): no notebook imports it.
"""

from __future__ import annotations

import argparse
import ast
import tempfile
import time
from pathlib import Path
from typing import Iterable

import pandas as pd

from course_utils.base import paths
from course_utils.data.atomic import write_text_atomic
from course_utils.course import results
from course_utils.tools import runner

#: What :func:`run_seeds` collects: the accuracies of ``record_accuracy``, or every metric.
METRIC_KINDS = ("accuracies", "all")
#: Columns of :func:`run_seeds`'s table (one row per seed and metric).
RUN_COLUMNS = ["seed", "metric", "task", "model", "protocol", "split", "value", "seconds"]
#: Columns of :func:`spread`'s table (one row per metric).
SPREAD_COLUMNS = ["metric", "task", "model", "protocol", "split", "runs", "mean", "std", "min", "max"]


# --------------------------------------------------------------------------------------
# Running a notebook with several seeds
# --------------------------------------------------------------------------------------
def collect(results_dir: str | Path, notebook: str, metrics: str = "accuracies") -> pd.DataFrame:
    """What one run of ``notebook`` recorded in ``results_dir``: one row per metric.

    ``metrics="accuracies"``: the accuracies of :meth:`~course_utils.course.results.NotebookRun.record_accuracy`
    (task, model, protocol and split filled in); ``"all"``: every metric of ``run.record``.
    Used by :func:`run_seeds` (``python -m course_utils seeds``) and the tests.
    """
    if metrics not in METRIC_KINDS:
        raise ValueError(f"metrics must be one of {METRIC_KINDS}, got {metrics!r}")
    if not (Path(results_dir) / f"{notebook}.json").exists():
        raise RuntimeError(f"{notebook} wrote no results file into {results_dir}. Fix: it must end with run.save().")
    columns = ["metric", "task", "model", "protocol", "split", "value"]
    if metrics == "all":
        table = results.load_results(results_dir)
        table = table[table["notebook"] == notebook]
        out = table[["metric", "value"]].reset_index(drop=True)
        return out.reindex(columns=columns)
    table = results.load_accuracies(results_dir)
    table = table[table["notebook"] == notebook].reset_index(drop=True)
    suffix = table["split"].map({"test": "accuracy", "validation": "val_accuracy"})
    table["metric"] = table["task"] + "_" + table["model"] + "_" + table["protocol"] + "_" + suffix
    return table.rename(columns={"accuracy": "value"})[columns]


def run_seeds(
    notebook: str | Path,
    seeds: Iterable[int] = (0, 1, 2),
    *,
    dataset: str = "auto",
    quick: bool = False,
    parameters: dict | None = None,
    metrics: str = "accuracies",
    keep_dir: str | Path | None = None,
    progress: bool = False,
    timeout: int | None = None,
) -> pd.DataFrame:
    """Run ``notebook`` once per seed; return what each run recorded (columns :data:`RUN_COLUMNS`).

    Each run gets ``dataset``, ``quick``, ``seed`` and the other ``parameters`` through papermill
    and a build folder of its own: a temporary one, or ``keep_dir/seed_<seed>`` to keep the
    executed notebooks (``executed/``) and results files (``results/``). ``seconds`` is the
    wall time of the run. A failing run raises ``RuntimeError`` naming the seed. Used by
    ``python -m course_utils seeds`` and the tests.
    """
    if metrics not in METRIC_KINDS:
        raise ValueError(f"metrics must be one of {METRIC_KINDS}, got {metrics!r}")
    notebook = Path(notebook)
    if not notebook.exists():
        raise FileNotFoundError(f"No notebook {notebook}. Fix: give a path such as notebooks/07_classical_baseline.ipynb")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"give one or more different seeds, got {seeds}")
    fixed = {k: v for k, v in (parameters or {}).items() if k not in ("dataset", "quick", "seed")}
    frames = []
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix=f"course-seed{seed}-") as tmp:
            build = Path(keep_dir) / f"seed_{seed}" if keep_dir is not None else Path(tmp)
            with paths.use_build_dir(build):
                if progress:
                    print(f"--> {notebook.name}, seed {seed} (dataset={dataset}, quick={bool(quick)})", flush=True)
                t0 = time.perf_counter()
                try:
                    runner.run_notebook(notebook, build / "executed",
                                        {**fixed, "dataset": dataset, "quick": bool(quick), "seed": seed},
                                        progress=progress, timeout=timeout)
                except Exception as err:  # papermill's errors have no common base class we could name
                    where = f" (executed copy: {build / 'executed' / notebook.name})" if keep_dir is not None else ""
                    raise RuntimeError(f"{notebook.name} failed with seed {seed}{where}: {err}") from err
                seconds = time.perf_counter() - t0
                if progress:
                    print(f"    done in {seconds:.1f} s", flush=True)
                table = collect(build / "results", notebook.stem, metrics)
        frames.append(table.assign(seed=seed, seconds=round(seconds, 1)))
    return pd.concat(frames, ignore_index=True)[RUN_COLUMNS]


def spread(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (``ddof=1``; NaN for a single run), min and max of each metric
    over the seeds of :func:`run_seeds` (columns :data:`SPREAD_COLUMNS`, in recorded order). Used by
    :func:`report` (``python -m course_utils seeds``) and the tests."""
    keys = ["metric", "task", "model", "protocol", "split"]
    grouped = runs.groupby(keys, sort=False, dropna=False)["value"]
    table = grouped.agg(runs="count", mean="mean", std="std", min="min", max="max").reset_index()
    return table[SPREAD_COLUMNS]


def spread_markdown(table: pd.DataFrame, *, percent: bool = True) -> str:
    """The table of :func:`spread` in Markdown: accuracies in %, the standard deviation and the
    range (max - min) in percentage points (``percent=False``: plain numbers). Used by
    :func:`report` (``python -m course_utils seeds``) and the tests."""
    is_acc = table["task"].notna().all() and len(table) > 0
    if percent and is_acc:
        rows = ["| task | model | protocol | split | runs | mean | std (points) | min | max | range (points) |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in table.itertuples(index=False):
            rows.append(f"| {r.task} | {r.model} | {r.protocol} | {r.split} | {r.runs} | {100 * r.mean:.1f} % | "
                        f"{_points(r.std)} | {100 * r.min:.1f} % | {100 * r.max:.1f} % | {100 * (r.max - r.min):.1f} |")
        return "\n".join(rows)
    return results.to_markdown(table[["metric", "runs", "mean", "std", "min", "max"]])


def _points(std: float) -> str:
    return "-" if pd.isna(std) else f"{100 * std:.1f}"


def report(runs: pd.DataFrame, *, notebook: str, dataset: str, quick: bool) -> str:
    """A Markdown report of a seed sweep: what was run, the spread table, the time of each seed.
    What ``python -m course_utils seeds`` prints and writes to ``build/seeds/<notebook>.md``; the tests check it."""
    seeds = sorted(runs["seed"].unique())
    times = runs.groupby("seed", sort=True)["seconds"].first()
    lines = [
        f"# Spread across seeds: {notebook}",
        "",
        f"Seeds {', '.join(str(s) for s in seeds)}; dataset {dataset}; {'quick' if quick else 'full'} mode. "
        "`std` is the sample standard deviation over the seeds (ddof = 1).",
        "",
        spread_markdown(spread(runs)),
        "",
        "Run time per seed: " + ", ".join(f"seed {s}: {t:.0f} s" for s, t in times.items()) + ".",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# The command line: python -m course_utils seeds
# --------------------------------------------------------------------------------------
def parse_value(text: str):
    """A parameter value from the command line: a Python literal (``10``, ``None``, ``[1, 2]``,
    ``True``) where it is one, else the text itself (``imagenet``). Used by ``python -m course_utils seeds`` for its
    ``-p NAME VALUE`` options, and the tests."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def add_subcommand(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``seeds`` to the subcommands ``sub`` of ``python -m course_utils`` (see :mod:`course_utils.tools.cli`).
    Used by :func:`course_utils.tools.cli.build_parser`."""
    p = sub.add_parser("seeds", help="run one notebook with several seeds; mean, std, min and max of its accuracies",
                       description="Run one notebook with several seeds (each into a temporary build folder) and "
                                   "write the spread of its recorded accuracies: mean, standard deviation, min, max.")
    p.add_argument("notebook", help="the notebook, e.g. notebooks/07_classical_baseline.ipynb")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to run (default: 0 1 2)")
    p.add_argument("--dataset", choices=("ravdess", "synthetic", "auto"), default="auto")
    p.add_argument("--quick", type=int, choices=(0, 1), default=0)
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="another parameter of the notebook, e.g. -p epochs_emotion 10 (repeatable)")
    p.add_argument("--metrics", choices=METRIC_KINDS, default="accuracies",
                   help="the accuracies of record_accuracy (default) or every recorded metric")
    p.add_argument("--keep", help="keep each seed's executed notebook and results under this folder")
    p.add_argument("--output", help="the Markdown report (default: <build>/seeds/<notebook>.md; a .csv beside it)")
    p.set_defaults(func=_seeds_command)
    return p


def _seeds_command(args: argparse.Namespace) -> int:
    notebook = Path(args.notebook)
    output = Path(args.output) if args.output else paths.build_dir() / "seeds" / f"{notebook.stem}.md"
    parameters = {name: parse_value(value) for name, value in args.parameter}
    runs = run_seeds(notebook, args.seeds, dataset=args.dataset, quick=bool(args.quick), parameters=parameters,
                     metrics=args.metrics, keep_dir=args.keep, progress=True)
    text = report(runs, notebook=notebook.stem, dataset=args.dataset, quick=bool(args.quick))
    write_text_atomic(output, text)
    write_text_atomic(output.with_suffix(".csv"), runs.to_csv(index=False))
    print(text)
    print(f"Wrote {output} and {output.with_suffix('.csv')}")
    return 0
