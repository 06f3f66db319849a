"""Running the course's notebooks headless with papermill.

Used by ``make course`` (``python -m course_utils run-notebooks``) and by the test suite.
Each notebook in ``notebooks/`` is executed top to bottom in a fresh kernel, with the
parameters injected after its ``parameters`` cell, into ``build/executed/``; the notebooks in
git stay without outputs.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import papermill as pm

from course_utils.base import jupyter, paths
from course_utils.base.errors import CourseError


class NotebookNotFoundError(CourseError, FileNotFoundError):
    """A notebook named on the command line matches none of the course's notebooks (or several).
    Raised by :func:`find_notebook`: ``python -m course_utils run-notebooks NAME ...``."""


class NotebookFailedError(CourseError, RuntimeError):
    """A cell of a headless run raised: the message says which notebook, which cell, the error
    and where the executed copy (with the cell's whole error output) is; ``executed`` is that path.
    Raised by :func:`run_all`: ``python -m course_utils run-notebooks`` (``make notebooks``, part of
    ``make course``)."""

    def __init__(self, message: str, executed: Path):
        super().__init__(message)
        self.executed = executed


def list_notebooks(notebook_dir: str | Path | None = None) -> list[Path]:
    """The course notebooks (``NN_name.ipynb``) in teaching order. Used by :func:`run_all` (``make
    notebooks``), :func:`find_notebook`, the generated docs (:func:`course_utils.tools.docs.update_docs`)
    and the tests."""
    notebook_dir = Path(notebook_dir) if notebook_dir is not None else paths.project_root() / "notebooks"
    found = sorted(p for p in notebook_dir.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"No notebooks (NN_name.ipynb) in {notebook_dir}")
    return found


def find_notebook(name: str | Path, notebook_dir: str | Path | None = None) -> Path:
    """The notebook that ``name`` means: a path to an existing file, else a notebook of
    ``notebook_dir`` (default: the course's ``notebooks/``) named by its file name
    (``00_getting_the_data.ipynb``), its stem (``00_getting_the_data``) or the start of it
    (``00``). Raises :class:`NotebookNotFoundError` listing the notebooks when none or several
    match. Used by :func:`run_all`: ``python -m course_utils run-notebooks`` with notebook names
    (``make notebooks`` runs them all)."""
    path = Path(name)
    if path.is_file():
        return path
    notebook_dir = Path(notebook_dir) if notebook_dir is not None else paths.project_root() / "notebooks"
    known = list_notebooks(notebook_dir)
    key = path.name.removesuffix(".ipynb")
    exact = [nb for nb in known if nb.stem == key]
    found = exact or [nb for nb in known if key and nb.stem.startswith(key)]
    if len(found) == 1:
        return found[0]
    listing = ", ".join(nb.stem for nb in known)
    if found:
        raise NotebookNotFoundError(
            f"{name!r} matches {len(found)} notebooks: {', '.join(nb.name for nb in found)}. "
            "Fix: give more of the name."
        )
    raise NotebookNotFoundError(
        f"No notebook {name!r} in {notebook_dir}. Fix: name it by its file name, its stem or its number "
        f"(00_getting_the_data.ipynb, 00_getting_the_data or 00); the notebooks are {listing}."
    )


def run_notebook(
    notebook: str | Path,
    output_dir: str | Path,
    parameters: dict,
    *,
    progress: bool = True,
    timeout: int | None = None,
) -> Path:
    """Execute one notebook with papermill; return the path of the executed copy.

    The kernel starts in the notebook's folder, as it does in JupyterLab. A failing cell
    raises ``papermill.PapermillExecutionError``; the executed copy (with the error) is
    still written, for reading. The kernel is marked headless: explorers draw their starting
    figure instead of creating widgets (:mod:`course_utils.base.jupyter`). ``timeout`` limits
    each cell (seconds; ``None``: no limit). Used by :func:`run_all` (``make notebooks``), by
    ``python -m course_utils seeds`` (:func:`course_utils.tools.seeds.run_seeds`) and by the
    notebook tests.
    """
    notebook = Path(notebook)
    output = Path(output_dir) / notebook.name
    output.parent.mkdir(parents=True, exist_ok=True)
    with headless_kernel():
        _execute(notebook, output, parameters, progress, timeout)
    return output


@contextmanager
def headless_kernel():
    """Mark kernels started inside this block as headless (see :mod:`course_utils.base.jupyter`).
    Used by :func:`run_notebook` and the tests."""
    old = os.environ.get(jupyter.HEADLESS_ENV)
    os.environ[jupyter.HEADLESS_ENV] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(jupyter.HEADLESS_ENV, None)
        else:
            os.environ[jupyter.HEADLESS_ENV] = old


def _execute(notebook: Path, output: Path, parameters: dict, progress: bool, timeout: int | None) -> None:
    pm.execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters,
        cwd=str(notebook.parent),
        progress_bar=progress,
        execution_timeout=timeout,
        kernel_name="python3",
        language="python",
    )


def _failure(notebook: Path, executed: Path, err: pm.PapermillExecutionError, not_run: list[Path]) -> NotebookFailedError:
    """A few lines about a failed cell, instead of papermill's screen of traceback."""
    cell = err.cell_index + 1
    try:  # the executed copy holds papermill's injected cell: number the cells as in the notebook itself
        cells = [c for c in nbformat.read(executed, as_version=4).cells  # less papermill's error banners
                 if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
        injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])]
        if injected and err.cell_index > injected[0]:
            cell -= 1
        total = f" of {len(cells) - len(injected)}"
    except Exception:  # noqa: BLE001 - the report must not fail on a damaged copy
        total = ""
    value = re.sub(r"\x1b\[[0-9;]*m", "", str(err.evalue)).strip().splitlines() or [""]
    shown = value[:6] + (["..."] if len(value) > 6 else [])
    first = next((line.strip() for line in str(err.source).splitlines() if line.strip() and not line.startswith("#")), "")
    lines = [
        f"{notebook.name} failed in cell {cell}{total} (In [{err.exec_count}] of the executed copy): "
        f"{err.ename}: {shown[0]}",
        *(f"    {line}" for line in shown[1:]),
        f"  the cell starts: {first[:100]}" if first else "",
        f"  the executed copy, with the cell's whole error output: {executed}",
        f"  not run: {', '.join(nb.name for nb in not_run)}" if not_run else "",
    ]
    return NotebookFailedError("\n".join(line for line in lines if line), executed)


def run_all(
    dataset: str,
    quick: bool,
    output_dir: str | Path,
    *,
    notebooks: list[str | Path] | None = None,
    progress: bool = True,
) -> list[tuple[str, float]]:
    """Run every notebook (or the ``notebooks`` given) in order; return (name, seconds) pairs.

    A notebook may be named as :func:`find_notebook` allows (``00`` is ``notebooks/00_getting_the_data.ipynb``);
    every name is checked before the first notebook runs. A failing cell stops the run with a
    :class:`NotebookFailedError`: notebook, cell, error and where the executed copy is, in a few
    lines. Used by ``python -m course_utils run-notebooks`` (``make notebooks``, part of
    ``make course``).
    """
    chosen = [find_notebook(n) for n in notebooks] if notebooks else list_notebooks()
    timings = []
    for i, nb in enumerate(chosen):
        print(f"--> {nb.name} (dataset={dataset}, quick={quick})", flush=True)
        t0 = time.perf_counter()
        try:
            run_notebook(nb, output_dir, {"dataset": dataset, "quick": bool(quick)}, progress=progress)
        except pm.PapermillExecutionError as err:
            raise _failure(nb, Path(output_dir) / nb.name, err, chosen[i + 1:]) from err
        timings.append((nb.name, time.perf_counter() - t0))
        print(f"    done in {timings[-1][1]:.1f} s", flush=True)
    return timings
