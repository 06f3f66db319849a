"""Running the course's notebooks headless with papermill.

Used by ``make course`` (``python -m course_utils run-notebooks``) and by the test suite.
Each notebook in ``notebooks/`` is executed top to bottom in a fresh kernel, with the
parameters injected after its ``parameters`` cell, into ``build/executed/``; the notebooks in
git stay without outputs.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import papermill as pm

from course_utils import interactive, paths


def list_notebooks(notebook_dir: str | Path | None = None) -> list[Path]:
    """The course notebooks (``NN_name.ipynb``) in teaching order."""
    notebook_dir = Path(notebook_dir) if notebook_dir is not None else paths.project_root() / "notebooks"
    found = sorted(p for p in notebook_dir.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"No notebooks (NN_name.ipynb) in {notebook_dir}")
    return found


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
    figure instead of creating widgets (:mod:`course_utils.interactive`). ``timeout`` limits
    each cell (seconds; ``None``: no limit).
    """
    notebook = Path(notebook)
    output = Path(output_dir) / notebook.name
    output.parent.mkdir(parents=True, exist_ok=True)
    with headless_kernel():
        _execute(notebook, output, parameters, progress, timeout)
    return output


@contextmanager
def headless_kernel():
    """Mark kernels started inside this block as headless (see :mod:`course_utils.interactive`)."""
    old = os.environ.get(interactive.HEADLESS_ENV)
    os.environ[interactive.HEADLESS_ENV] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(interactive.HEADLESS_ENV, None)
        else:
            os.environ[interactive.HEADLESS_ENV] = old


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


def run_all(
    dataset: str,
    quick: bool,
    output_dir: str | Path,
    *,
    notebooks: list[str | Path] | None = None,
    progress: bool = True,
) -> list[tuple[str, float]]:
    """Run every notebook (or the ``notebooks`` given) in order; return (name, seconds) pairs."""
    chosen = [Path(n) for n in notebooks] if notebooks else list_notebooks()
    timings = []
    for nb in chosen:
        print(f"--> {nb.name} (dataset={dataset}, quick={quick})", flush=True)
        t0 = time.perf_counter()
        run_notebook(nb, output_dir, {"dataset": dataset, "quick": bool(quick)}, progress=progress)
        timings.append((nb.name, time.perf_counter() - t0))
        print(f"    done in {timings[-1][1]:.1f} s", flush=True)
    return timings
