"""How much does a result move with the seed? And the generated parts of the course's documents.

A notebook trained once gives one accuracy. Run it again with another ``seed`` (other initial
weights, another order of batches, other random splits and augmentation draws) and the number
moves. :func:`run_seeds` runs one notebook with several seeds through papermill
(:func:`course_utils.runner.run_notebook`), each run into a temporary build folder of its own
(``COURSE_BUILD_DIR``), so the course's ``build/results/`` is never touched; it collects the
accuracies each run recorded (:mod:`course_utils.results`) and :func:`spread` tabulates their
mean, standard deviation, minimum and maximum. From the command line::

    python -m course_utils seeds notebooks/07_classical_baseline.ipynb --seeds 0 1 2 --dataset synthetic --quick 1

writes ``build/seeds/07_classical_baseline.md`` (the spread) and ``.csv`` (one row per seed and
metric). Used in the instructor guide, ``docs/instructors.md`` ("Expected results").

The same guide and the README list every notebook's parameters and every "Try it" exercise.
Those lists are generated from the notebooks, so that they cannot go stale:

- :func:`notebook_parameters`: the ``parameters`` cell of a notebook, as (name, default, meaning);
- :func:`exercises`: the "Try it" exercises of a notebook and the hidden solution cells;
- :func:`update_docs`: rewrites the generated blocks of ``README.md`` and ``docs/instructors.md``
  (``tests/test_docs.py`` fails when they differ from the notebooks).
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import re
import tempfile
import time
import tokenize
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import nbformat
import pandas as pd

from course_utils import paths, results, runner
from course_utils.atomic import write_text_atomic

#: What :func:`run_seeds` collects: the accuracies of ``record_accuracy``, or every metric.
METRIC_KINDS = ("accuracies", "all")
#: Columns of :func:`run_seeds`'s table (one row per seed and metric).
RUN_COLUMNS = ["seed", "metric", "task", "model", "protocol", "split", "value", "seconds"]
#: Columns of :func:`spread`'s table (one row per metric).
SPREAD_COLUMNS = ["metric", "task", "model", "protocol", "split", "runs", "mean", "std", "min", "max"]


# --- running a notebook with several seeds -------------------------------------------------


@contextmanager
def build_dir(path: str | Path) -> Iterator[Path]:
    """Point ``COURSE_BUILD_DIR`` at ``path`` inside this block (kernels started here inherit it)."""
    path = Path(path)
    old = os.environ.get("COURSE_BUILD_DIR")
    os.environ["COURSE_BUILD_DIR"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("COURSE_BUILD_DIR", None)
        else:
            os.environ["COURSE_BUILD_DIR"] = old


def collect(results_dir: str | Path, notebook: str, metrics: str = "accuracies") -> pd.DataFrame:
    """What one run of ``notebook`` recorded in ``results_dir``: one row per metric.

    ``metrics="accuracies"``: the accuracies of :meth:`~course_utils.results.NotebookRun.record_accuracy`
    (task, model, protocol and split filled in); ``"all"``: every metric of ``run.record``.
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
    wall time of the run. A failing run raises ``RuntimeError`` naming the seed.
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
            with build_dir(build):
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
    over the seeds of :func:`run_seeds` (columns :data:`SPREAD_COLUMNS`, in recorded order)."""
    keys = ["metric", "task", "model", "protocol", "split"]
    grouped = runs.groupby(keys, sort=False, dropna=False)["value"]
    table = grouped.agg(runs="count", mean="mean", std="std", min="min", max="max").reset_index()
    return table[SPREAD_COLUMNS]


def spread_markdown(table: pd.DataFrame, *, percent: bool = True) -> str:
    """The table of :func:`spread` in Markdown: accuracies in %, the standard deviation and the
    range (max - min) in percentage points (``percent=False``: plain numbers)."""
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
    """A Markdown report of a seed sweep: what was run, the spread table, the time of each seed."""
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


# --- the command line: python -m course_utils seeds ----------------------------------------


def parse_value(text: str):
    """A parameter value from the command line: a Python literal (``10``, ``None``, ``[1, 2]``,
    ``True``) where it is one, else the text itself (``imagenet``)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def add_subcommand(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``seeds`` to the subcommands ``sub`` of ``python -m course_utils`` (see :mod:`course_utils.cli`)."""
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


# --- the generated parts of README.md and docs/instructors.md ------------------------------

#: Meanings of the parameters every notebook has, for a cell that gives none in a comment.
COMMON_MEANINGS = {
    "dataset": '"ravdess", "synthetic" or "auto" (RAVDESS when present, otherwise the offline corpus)',
    "quick": "True: the small, fast run (six actors, smaller images, few epochs)",
    "seed": "the seed of every random choice",
}


@dataclass(frozen=True)
class Parameter:
    """One assignment of a ``parameters`` cell: its name, default (as written) and comment."""

    name: str
    default: str
    meaning: str


@dataclass(frozen=True)
class Exercise:
    """One "Try it" exercise: its notebook, number and text, and the cell indices of its solutions."""

    notebook: str
    number: int
    text: str
    solution_cells: tuple[int, ...] = field(default=())


def _read(notebook: str | Path) -> nbformat.NotebookNode:
    return nbformat.read(str(notebook), as_version=4)


def parameters_cell(notebook: str | Path) -> str:
    """The source of the cell tagged ``parameters`` (papermill injects its values after it)."""
    for cell in _read(notebook).cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell.source
    raise ValueError(f"{Path(notebook).name} has no cell tagged 'parameters'")


def parse_parameters(source: str) -> list[Parameter]:
    """The assignments of a ``parameters`` cell, in order: ``name = value  # meaning``.

    The default is the value's source text; the meaning is the comment on the assignment's
    last line (or :data:`COMMON_MEANINGS` for ``dataset``, ``quick`` and ``seed`` without one).
    """
    tree = ast.parse(source)
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name = node.target.id
        else:
            continue
        meaning = comments.get(node.end_lineno) or comments.get(node.lineno) or COMMON_MEANINGS.get(name, "")
        found.append(Parameter(name, ast.get_source_segment(source, node.value), meaning))
    return found


def notebook_parameters(notebook: str | Path) -> list[Parameter]:
    """Every parameter of a notebook, from its ``parameters`` cell (see :func:`parse_parameters`)."""
    return parse_parameters(parameters_cell(notebook))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def parameter_tables(notebooks: Iterable[str | Path] | None = None) -> str:
    """Markdown: one folded table (parameter, default, meaning) per notebook, for the README."""
    notebooks = list(notebooks) if notebooks is not None else runner.list_notebooks()
    parts = []
    for nb in notebooks:
        params = notebook_parameters(nb)
        rows = [f"| `{p.name}` | `{_cell(p.default)}` | {_cell(p.meaning)} |" for p in params]
        parts.append("\n".join([
            f"<details><summary><code>{Path(nb).stem}</code>: {len(params)} parameters</summary>",
            "",
            "| parameter | default | meaning |",
            "|---|---|---|",
            *rows,
            "",
            "</details>",
        ]))
    return "\n\n".join(parts)


_HEADING = re.compile(r"^#{1,6}\s")
_TRY_IT = re.compile(r"^##\s+Try it\s*$")
_ITEM = re.compile(r"^(?:(\d+)\.|\*\*(\d+)\.\*\*)\s+(.*\S)\s*$")


def exercises(notebook: str | Path) -> list[Exercise]:
    """The "Try it" exercises of a notebook, numbered as in the notebook.

    The section starts at the heading ``## Try it`` and ends at the next heading. Exercises are
    written as a numbered list (``1. ...``) or one per cell (``**1.** ...``); their solutions are
    the code cells tagged ``solution`` in the section, given to the exercises in order (the
    last exercise takes any left over).
    """
    cells = _read(notebook).cells
    items: list[tuple[int, str]] = []
    solutions: list[int] = []
    inside = False
    for index, cell in enumerate(cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if _TRY_IT.match(line):
                    inside = True
                elif _HEADING.match(line) and inside:
                    inside = False
                    break
                elif inside and (m := _ITEM.match(line.strip())):
                    items.append((int(m.group(1) or m.group(2)), m.group(3)))
            if not inside and items:
                break
        elif inside and "solution" in cell.metadata.get("tags", []):
            solutions.append(index)
    name = Path(notebook).stem
    out = []
    for k, (number, text) in enumerate(items):
        mine = solutions[k:k + 1] if k < len(items) - 1 else solutions[k:]
        out.append(Exercise(name, number, text, tuple(mine)))
    return out


def exercise_list(notebooks: Iterable[str | Path] | None = None) -> str:
    """Markdown: every "Try it" exercise, by chapter, for the instructor guide."""
    notebooks = list(notebooks) if notebooks is not None else runner.list_notebooks()
    parts = []
    for nb in notebooks:
        found = exercises(nb)
        lines = [f"**`{Path(nb).stem}`** ({len(found)} exercise{'' if len(found) == 1 else 's'})", ""]
        lines += [f"{e.number}. {e.text}" for e in found]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def marker(name: str, end: bool = False) -> str:
    """The HTML comment that opens (or closes) the generated block ``name``."""
    if end:
        return f"<!-- END generated {name} -->"
    return f"<!-- BEGIN generated {name}: made by course_utils.seeds.update_docs() from the notebooks; do not edit -->"


def generated_block(text: str, name: str) -> str:
    """The text between the markers of block ``name`` (without its surrounding newlines)."""
    begin, end = marker(name), marker(name, end=True)
    if begin not in text or end not in text:
        raise ValueError(f"block {name!r} not found: the text needs the lines {begin!r} and {end!r}")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with the generated block ``name`` replaced by ``content``."""
    generated_block(text, name)  # checks the markers
    head, rest = text.split(marker(name), 1)
    tail = rest.split(marker(name, end=True), 1)[1]
    return f"{head}{marker(name)}\n{content}\n{marker(name, end=True)}{tail}"


def update_docs(readme: str | Path | None = None, guide: str | Path | None = None,
                notebooks: Iterable[str | Path] | None = None) -> list[Path]:
    """Rewrite the generated blocks: the parameter tables of ``README.md`` and the exercise list
    of ``docs/instructors.md``. Returns the files that changed."""
    root = paths.project_root()
    readme = Path(readme) if readme is not None else root / "README.md"
    guide = Path(guide) if guide is not None else root / "docs" / "instructors.md"
    notebooks = list(notebooks) if notebooks is not None else runner.list_notebooks()
    changed = []
    for path, name, content in ((readme, "parameters", parameter_tables(notebooks)),
                                (guide, "exercises", exercise_list(notebooks))):
        old = path.read_text()
        new = replace_block(old, name, content)
        if new != old:
            write_text_atomic(path, new)
            changed.append(path)
    return changed
