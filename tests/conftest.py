"""Shared fixtures of the test suite.

- ``shared_sample``: ../shared/ravdess-sample (real RAVDESS files of actors 01 and 02), or a
  skip with a message where it is absent. Read only; never copied into the project.
- ``synthetic_root``: the full offline corpus (1440 files), generated once into the project's
  data folder (idempotent: a later run reuses it).
- ``make_wav_tree``: writes tiny RAVDESS-named WAV files into a folder; ``wav_meta``: three
  clips of a tone between silences.
- Every test runs with matplotlib's Agg backend and has its figures closed afterwards.
- ``make test`` runs the suite on three pytest-xdist workers (``--dist loadfile``), each process
  computing on one thread (:data:`TEST_THREADS`). Each test module is one unit of work, so that
  its module fixtures (a JupyterLab server, a trained model, the notebooks' build folder) are
  made once, and the longest modules are handed out first (:data:`LONGEST_FIRST`), so that no
  worker waits for the others at the end.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# numba (librosa's compiler) caches compiled functions on disk, an index file beside data files.
# Two processes filling one cache at once can leave them out of step, and every later process
# that loads such an entry crashes (notebook kernels segfaulted in librosa's peak picking in a
# fresh clone, where both xdist workers compiled librosa at the same moment; a worker itself
# crashed there when its kernels' feature processes had compiled it side by side, and
# pytest-xdist then hung). So, as ``make venv`` does for the installed cache: before the workers
# start, one process compiles librosa into a seed cache (:func:`pytest_configure`,
# :data:`NUMBA_SEED`), and each worker, with the kernels and subprocesses it starts, gets a copy
# of its own (:func:`worker_numba_cache`), kept between runs of this checkout and refreshed from
# the seed. Set before anything imports numba.
#
#: One compute thread per process under ``make test``: its workers already keep every core busy,
#: and TensorFlow's and OpenMP's thread pools (one thread per core each, by default) then only
#: spin against each other. Measured on 2 cores: a quick run of chapter 16 took 61 s of user CPU
#: time with the default pools and 47 s with one thread. The variables reach the kernels, nbval's
#: runs and the second environment's runs the workers start; a value already set (a developer's)
#: is kept.
TEST_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
_CHECKOUT = hashlib.sha1(str(Path(__file__).resolve().parents[1]).encode()).hexdigest()[:8]
#: The numba cache compiled once, before the workers start, and copied to each of them.
NUMBA_SEED = Path(tempfile.gettempdir()) / f"course-numba-{_CHECKOUT}-seed"
#: The code a fresh interpreter runs to compile librosa into the numba cache it is given.
COMPILE_LIBROSA = "from course_utils.sound.numba_cache import compile_librosa; compile_librosa()"


def worker_numba_cache(worker: str, seed: Path = NUMBA_SEED) -> Path:
    """The numba cache of xdist worker ``worker``: a folder of its own, refreshed from ``seed``
    (the compiled entries overwrite whatever an earlier run left there)."""
    cache = Path(tempfile.gettempdir()) / f"course-numba-{_CHECKOUT}-{worker}"
    if seed.is_dir():
        shutil.copytree(seed, cache, dirs_exist_ok=True)
    return cache


if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = str(worker_numba_cache(os.environ["PYTEST_XDIST_WORKER"]))
    for _name, _value in TEST_THREADS.items():
        os.environ.setdefault(_name, _value)

import matplotlib

matplotlib.use("Agg")  # the tests draw figures without a screen

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils.base import paths
from course_utils.data import audio

ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = ROOT.parent / "shared" / "ravdess-sample"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Test modules that take minutes (measured in CI), longest first: handed out first.
LONGEST_FIRST = ("test_lowest_versions", "test_notebooks_training", "test_notebooks", "test_notebooks_models", "test_lab",
                 "test_site")


def pytest_configure(config):
    """Under pytest-xdist, in the controller before any worker starts: compile librosa once
    into :data:`NUMBA_SEED` (about 40 s the first time on 2 cores, a few seconds after), in a
    process of its own, as ``make venv`` compiles the installed cache."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        env = {**os.environ, **TEST_THREADS, "NUMBA_CACHE_DIR": str(NUMBA_SEED)}
        done = subprocess.run([sys.executable, "-c", COMPILE_LIBROSA], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise pytest.UsageError(f"compiling librosa into {NUMBA_SEED} failed:\n{done.stderr[-3000:]}")


def pytest_collection_modifyitems(config, items):
    """The longest modules first (``make test``: ``-n 2 --dist loadfile --no-loadscope-reorder``
    keeps the collection order of the files; without xdist only the order changes).

    ``loadfile`` (each test module goes whole to one worker), not ``loadgroup`` with a mark per
    module: pytest-xdist 3.8's ``loadgroup`` rewrites ``item._nodeid``, which pytest 9 no longer
    reads, so every test became its own group and a test that reads what an earlier test of its
    module wrote could land on the other worker (CI of 11206f8)."""

    def rank(item) -> int:
        name = item.module.__name__.rpartition(".")[2]
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order inside a module is kept


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test drew, so that memory does not grow over the suite."""
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def shared_sample() -> Path:
    if not (SHARED_SAMPLE / "Actor_01").is_dir():
        pytest.skip(f"real RAVDESS sample not found at {SHARED_SAMPLE}: tests on real speech skipped")
    return SHARED_SAMPLE


@pytest.fixture(scope="session")
def synthetic_root() -> Path:
    """The offline corpus in the project's data folder. Under pytest-xdist the workers share that
    folder: a file lock lets the first one write it while the others wait, then reuse it."""
    from filelock import FileLock

    from course_utils.data import synth

    dest = paths.data_dir() / "synthetic"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest.parent / ".synthetic.lock")):
        return Path(synth.generate_corpus(dest, progress=False))


def tone(seconds: float = 0.5, sr: int = 48_000, freq: float = 220.0, pad: float = 0.0, channels: int = 1) -> np.ndarray:
    """A sine tone with ``pad`` seconds of silence on both sides, amplitude 0.5."""
    t = np.arange(int(seconds * sr)) / sr
    y = 0.5 * np.sin(2 * np.pi * freq * t)
    z = np.zeros(int(pad * sr))
    y = np.concatenate([z, y, z]).astype(np.float32)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


@pytest.fixture
def make_wav_tree():
    """``make_wav_tree(root, names, sr=48000, seconds=0.3)`` writes one small WAV per name."""

    def make(root: Path, names, sr: int = 48_000, seconds: float = 0.3, channels: int = 1) -> list[Path]:
        out = []
        for i, name in enumerate(names):
            actor = int(name[-6:-4]) if name[-6:-4].isdigit() else 1
            p = Path(root) / f"Actor_{actor:02d}" / name
            audio.write_wav_atomic(p, tone(seconds, sr, 200 + 10 * i, channels=channels), sr)
            out.append(p)
        return out

    return make


@pytest.fixture
def wav_meta(tmp_path):
    """Three clips: 0.4 s of silence, a tone of 0.6 / 0.8 / 1.0 s, 0.4 s of silence (48 kHz)."""
    import pandas as pd

    paths = []
    for i, seconds in enumerate([0.6, 0.8, 1.0]):
        p = tmp_path / "wav" / f"03-01-0{i + 1}-01-01-01-01.wav"
        audio.write_wav_atomic(p, tone(seconds, 48_000, 300.0 + 200 * i, pad=0.4), 48_000)
        paths.append(str(p))
    return pd.DataFrame({"path": paths})


def needs_chromium(what: str, ok, *, test: str) -> None:
    """Skip ``test`` (a few words: which browser test) when ``ok`` is false, saying ``what`` is
    missing; fail instead when ``COURSE_REQUIRE_CHROMIUM=1`` (set by ``.ci/run``), so that CI
    never skips a browser test silently. Used by ``test_site.py`` and ``test_lab.py`` (the browser itself: ``tests/headless_chromium.py``)."""
    if not ok:
        message = f"{test} in headless Chromium skipped: {what}"
        if os.environ.get("COURSE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{message} (COURSE_REQUIRE_CHROMIUM=1 requires it)")
        pytest.skip(message)


# --------------------------------------------------------------------------- a local web server
class _Handler(BaseHTTPRequestHandler):
    timeout = 5  # seconds: every download in the tests is local

    def do_GET(self):  # noqa: N802 (http.server's name)
        state = self.server.state
        path = self.path.split("?", 1)[0]
        state.requests[path] += 1
        mode, data = state.routes.get(path, ("404", b""))
        if mode == "404":
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        if mode == "truncate":  # promise more than is sent, then close: an interrupted download
            self.send_header("Content-Length", str(len(data) + 100_000))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        self.close_connection = True

    def log_message(self, *args):  # keep the test output clean
        pass


class _State:
    def __init__(self, base: str):
        self.base = base
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.requests: Counter = Counter()

    def serve(self, name: str, data: bytes, mode: str = "ok") -> str:
        """Serve ``data`` at ``/name``; returns a Zenodo-like URL (with ``?download=1``)."""
        self.routes[f"/{name}"] = (mode, data)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}?download=1"

    def count(self, name: str) -> int:
        return self.requests[f"/{name}"]


@pytest.fixture
def server():
    """A web server on 127.0.0.1 standing in for Zenodo: ``server.serve(name, data)`` returns the
    URL of ``data`` (mode ``"truncate"``: an interrupted download); ``server.count(name)`` the requests."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = _State(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd.state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
