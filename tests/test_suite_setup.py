"""``make test`` runs on pytest-xdist workers; each test module must go whole to one worker.

Module fixtures (the notebooks' build folder, a JupyterLab server, a trained model) are made once
per worker, and some tests read what an earlier test of their module wrote (chapter 00's counts
after chapter 00's run). A scheduler that splits a module across workers breaks both; it happened
once, silently, when pytest 9 stopped reading the node ids pytest-xdist's ``loadgroup`` rewrites.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make_test_options() -> list[str]:
    """The pytest-xdist options of the Makefile's ``test`` recipe (``-n``, ``--dist``, ...)."""
    recipe = re.search(r"^test:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    line = next(l for l in recipe.splitlines() if "pytest" in l)
    options = re.findall(r"(--dist \S+|--no-loadscope-reorder|-n \S+)", line)
    assert any(o.startswith("--dist") for o in options), line
    return [part for o in options for part in o.split()]


def test_make_test_hands_each_module_whole_to_one_worker(tmp_path):
    options = [o if o != "$(TEST_WORKERS)" else "2" for o in _make_test_options()]
    log = tmp_path / "log.txt"
    for name in ("test_first.py", "test_second.py"):
        (tmp_path / name).write_text(
            "import os, pytest\n"
            "@pytest.mark.parametrize('i', range(6))\n"
            "def test_x(i, request):\n"
            f"    with open({str(log)!r}, 'a') as f:\n"
            "        f.write(f\"{request.node.path.name} {os.environ['PYTEST_XDIST_WORKER']}\\n\")\n")
    run = subprocess.run([sys.executable, "-m", "pytest", *options, "-p", "no:cacheprovider", "-o", "addopts=", "-q",
                          "--rootdir", str(tmp_path), str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    workers: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        module, worker = line.split()
        workers.setdefault(module, set()).add(worker)
    assert set(workers) == {"test_first.py", "test_second.py"}
    assert all(len(w) == 1 for w in workers.values()), workers


def test_each_worker_computes_on_one_thread():
    """Under pytest-xdist every test process, and what it starts, has one compute thread
    (``conftest.TEST_THREADS``): the workers share the cores, and thread pools sized to all of them
    spin against each other."""
    from conftest import TEST_THREADS

    if "PYTEST_XDIST_WORKER" not in os.environ:
        pytest.skip("only the workers of make test (pytest-xdist) set the threads")
    here = {name: os.environ.get(name) for name in TEST_THREADS}
    assert all(here.values()), here  # one thread each, unless a developer set another number
    code = f"import os, json; print(json.dumps({{k: os.environ.get(k) for k in {sorted(TEST_THREADS)!r}}}))"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(child.stdout) == here, "a process the worker starts computes on other threads"
