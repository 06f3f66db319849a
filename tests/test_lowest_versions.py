"""The course at the lowest versions it declares: a second environment beside the pinned one.

``pyproject.toml`` gives TensorFlow, Keras, TensorFlow Probability, tf-keras, librosa, NumPy and
pandas lower bounds and no upper bounds, so that pip keeps a platform's own TensorFlow (Colab's, built for
its GPU). Those lower bounds are only true if the course runs there: this module builds a virtual
environment from ``tests/lowest-versions.txt`` (the lowest versions, everything else pinned) and
runs in it:

- the unit tests, except those marked ``slow``: they repeat on the whole 1440-file corpus, or in a
  fresh interpreter, what the small tests check (the full-corpus baseline and trimming, the CLI,
  the data resolution, the quiet imports, a two-seed run of chapter 00);
- the quick runs of chapters 00, 08 and 16: papermill, the results record and the generated
  claims. nbval's rerun, which checks that the seeds give the same numbers, runs in the pinned
  environment only.

Both leave out only what the pinned environment already checks, so that this module, which
holds one of the workers of ``make test`` while it runs, costs CI as little as it can.

The environment is kept between runs of this checkout, named by the file's hash (in CI it is
built once, from the package registry). ``COURSE_LOWEST_ENV`` names another folder for it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from conftest import COMPILE_LIBROSA
from notebook_runs import NBVAL_ENV
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOWEST_FILE = ROOT / "tests" / "lowest-versions.txt"
#: Test modules that do not run in the second environment: the notebook runs (chapters 00, 08 and
#: 16 run there on their own, below), the browser tests, the suite's own set-up, and this module.
NOT_THERE = ("test_notebooks.py", "test_notebooks_training.py", "test_notebooks_models.py", "test_lab.py", "test_site.py",
             "test_suite_setup.py", "test_lowest_versions.py")
#: The quick chapter runs of the second environment.
CHAPTERS = ("tests/test_notebooks.py::test_notebook_runs_headless_and_records_results[00_getting_the_data]",
            "tests/test_notebooks.py::test_notebook_runs_headless_and_records_results[08_cnn_binary]",
            "tests/test_notebooks_training.py::test_notebook_runs_headless_and_records_results[16_better_emotion_model]")


def pins(path: Path = LOWEST_FILE) -> dict[str, str]:
    """``{normalised name: version}`` of a ``pip freeze`` file."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[re.sub(r"[-_.]+", "-", name).lower()] = version
    return out


def lower_bounds() -> dict[str, Version]:
    """The ``>=`` bounds of ``pyproject.toml``'s dependencies."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = {}
    for dep in map(Requirement, deps):
        for spec in dep.specifier:
            if spec.operator == ">=":
                bounds[re.sub(r"[-_.]+", "-", dep.name).lower()] = Version(spec.version)
    return bounds


SUPPORTED_FLOOR = ("tensorflow", "keras", "tensorflow-probability", "tf-keras", "librosa", "numpy", "pandas")


def test_the_second_environment_sits_on_the_declared_lower_bounds():
    pinned, bounds = pins(), lower_bounds()
    for name in SUPPORTED_FLOOR:
        version, bound = Version(pinned[name]), bounds[name]
        assert version >= bound, f"{name} {version} is below pyproject's lower bound {bound}"
        assert version.release[:2] == bound.release[:2], (
            f"{name}: the second environment has {version}, but pyproject.toml promises {bound}: "
            "test the lowest release line the course declares, or raise the bound")
    for name, bound in bounds.items():  # every other bound holds there too
        if name in pinned:
            assert Version(pinned[name]) >= bound, f"{name} {pinned[name]} in {LOWEST_FILE.name} is below {bound}"


def test_the_bound_check_sees_a_wrong_floor(tmp_path):
    other = tmp_path / "lowest.txt"
    other.write_text(LOWEST_FILE.read_text().replace("\nkeras==", "\nkeras==9"))
    assert Version(pins(other)["keras"]).release[:2] != lower_bounds()["keras"].release[:2]


# --------------------------------------------------------------------------- the environment
def _env_dir() -> Path:
    digest = hashlib.sha1(LOWEST_FILE.read_bytes() + sys.version.encode()).hexdigest()[:10]
    default = Path(tempfile.gettempdir()) / f"course-lowest-{digest}"
    return Path(os.environ.get("COURSE_LOWEST_ENV") or default)


@pytest.fixture(scope="module")
def lowest() -> Path:
    """The second environment's Python (built on first use; a half-built one is built again)."""
    env = _env_dir()
    done = env / ".complete"
    if not done.exists():
        shutil.rmtree(env, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
        pip = [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-compile"]  # no .pyc for all of TensorFlow: Python writes them for the modules it imports
        build = subprocess.run([*pip, "-r", str(LOWEST_FILE)], capture_output=True, text=True, timeout=1800)
        assert build.returncode == 0, f"could not build the lowest-versions environment:\n{build.stderr[-3000:]}"
        subprocess.run([str(env / "bin" / "python"), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
                       check=True, capture_output=True)
        done.write_text(LOWEST_FILE.read_text())
    python = env / "bin" / "python"
    # numba's cache of this environment's librosa, compiled by one process before the runs below
    # start kernels and feature workers (tests/conftest.py says why)
    compiled = subprocess.run([str(python), "-c", COMPILE_LIBROSA],
                              cwd=ROOT, env=_inner_env(python), capture_output=True, text=True, timeout=900)
    assert compiled.returncode == 0, f"could not compile librosa in the lowest-versions environment:\n{compiled.stderr[-3000:]}"
    return python


def _inner_env(python: Path) -> dict[str, str]:
    """The outer run's settings without what would tie the inner run to it: its xdist worker,
    its coverage, its numba cache (the environment has its own, ``numba-cache``), its build
    folder; Jupyter finds the second environment's kernel."""
    skip = ("PYTEST_", "COV_CORE", "COVERAGE", "COURSE_BUILD_DIR", "NUMBA_CACHE_DIR", "VIRTUAL_ENV", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env.update(PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(python.parents[1] / "numba-cache"), MPLBACKEND="Agg",
               JUPYTER_PATH=str(python.parents[1] / "share" / "jupyter"), PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}")
    return env


def _pytest(python: Path, tmp: Path, args: list[str], **env: str) -> subprocess.CompletedProcess:
    cmd = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--basetemp", str(tmp / "base"), *args]
    return subprocess.run(cmd, cwd=ROOT, env={**_inner_env(python), **env}, capture_output=True, text=True, timeout=3000)


def test_the_second_environment_has_the_lowest_versions_and_its_own_kernel(lowest):
    code = ("import importlib.metadata as md, course_utils, jupyter_client.kernelspec as ks\n"
            f"print(*[md.version(n) for n in {SUPPORTED_FLOOR!r}])\n"
            "print(ks.KernelSpecManager().get_kernel_spec('python3').argv[0])\n"
            "print(course_utils.__file__)")
    out = subprocess.run([str(lowest), "-c", code], env=_inner_env(lowest), capture_output=True, text=True, check=True)
    versions, kernel, package = out.stdout.splitlines()
    assert versions.split() == [pins()[n] for n in SUPPORTED_FLOOR]
    assert Path(kernel) == lowest or Path(kernel).resolve() == lowest.resolve(), f"papermill would start {kernel}"
    assert Path(package).resolve().is_relative_to(ROOT), "the checkout's course_utils, not an installed copy"


def test_unit_tests_pass_at_the_lowest_versions(lowest, tmp_path):
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py") if p.name not in NOT_THERE)
    run = _pytest(lowest, tmp_path, [*modules, "-m", "not slow", "-k", "not fresh_environment"])
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert re.search(r"\d+ passed", run.stdout)


def test_chapters_00_08_16_run_quick_at_the_lowest_versions(lowest, tmp_path):
    run = _pytest(lowest, tmp_path, list(CHAPTERS), **{NBVAL_ENV: "0"})
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert re.search(rf"\b{len(CHAPTERS)} passed", run.stdout), run.stdout[-2000:]
