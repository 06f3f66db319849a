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
    options = re.findall(r"(--dist \S+|--no-loadscope-reorder|--max-worker-restart=\S+|-n \S+)", line)
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


def test_each_worker_starts_with_librosa_compiled():
    """Under pytest-xdist each worker has a numba cache of its own, copied from the one that a
    single process compiled before the workers started (``conftest.pytest_configure``): running
    the course's librosa functions then writes nothing into it, so the worker's kernels and
    feature processes only read it (two writers can corrupt it; a worker crashed in a rehearsal)."""
    from conftest import COMPILE_LIBROSA, NUMBA_SEED, worker_numba_cache

    if "PYTEST_XDIST_WORKER" not in os.environ:
        pytest.skip("only the workers of make test (pytest-xdist) get a seeded numba cache")
    cache = Path(os.environ["NUMBA_CACHE_DIR"])
    assert cache == worker_numba_cache(os.environ["PYTEST_XDIST_WORKER"], seed=cache / "no-seed") != NUMBA_SEED
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbi")}
    assert len(before) >= 10, f"librosa is not compiled in {cache}"
    subprocess.run([sys.executable, "-c", COMPILE_LIBROSA], capture_output=True, text=True, check=True, timeout=600)
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbi")} == before, "the worker compiled librosa itself"


def test_a_worker_cache_is_refreshed_from_the_seed(tmp_path, monkeypatch):
    import tempfile

    from conftest import worker_numba_cache

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seed = tmp_path / "seed"
    (seed / "librosa").mkdir(parents=True)
    (seed / "librosa" / "f.nbi").write_text("compiled")
    first = worker_numba_cache("gw7", seed=seed)
    assert first.parent == tmp_path and first.name.endswith("-gw7") and (first / "librosa" / "f.nbi").read_text() == "compiled"
    (first / "librosa" / "f.nbi").write_text("out of step")  # what two writers can leave behind
    (first / "librosa" / "g.nbi").write_text("compiled later")
    again = worker_numba_cache("gw7", seed=seed)
    assert again == first and (again / "librosa" / "f.nbi").read_text() == "compiled"
    assert (again / "librosa" / "g.nbi").exists()  # what the seed does not hold is left alone


def test_a_crashed_worker_ends_the_run_instead_of_hanging(tmp_path):
    """A worker that dies (a segfault in compiled code) fails the run at once: with ``loadfile``,
    pytest-xdist replaced a crashed worker and then waited for ever."""
    options = [o if o != "$(TEST_WORKERS)" else "2" for o in _make_test_options()]
    assert "--max-worker-restart=0" in options
    (tmp_path / "test_crash.py").write_text("import os, signal\ndef test_dies():\n    os.kill(os.getpid(), signal.SIGSEGV)\n"
                                          "def test_after():\n    pass\n")
    (tmp_path / "test_other.py").write_text("import time\ndef test_slow():\n    time.sleep(3)\n")
    run = subprocess.run([sys.executable, "-m", "pytest", *options, "-p", "no:cacheprovider", "-o", "addopts=", "-q",
                          "--rootdir", str(tmp_path), str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode != 0 and re.search(r"worker 'gw\d' crashed while running", run.stdout), run.stdout[-2000:]
    # no replacement worker: the crash is one failure, and the rest of its module is not handed out
    assert re.search(r"\b1 failed, 1 passed\b", run.stdout), run.stdout[-2000:]
