"""Colab: every chapter's badge and setup cell, and the setup cell run as Colab would run it.

The last test is the one that matters: a fresh Python environment without the course (it sees the
pinned packages, as Colab has its own TensorFlow), a local git repository made from this checkout
standing in for GitHub, a stand-in ``google.colab`` module, and the setup cell executed by IPython
exactly as every notebook holds it. It installs the package from the repository, finds the data and
reports the (absent) GPU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import types
from pathlib import Path

import nbformat
import pytest

from course_utils.base.errors import CourseError
from course_utils.course import colab
from course_utils.data import download
from course_utils.tools import docs, runner

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = runner.list_notebooks(ROOT / "notebooks")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


# --------------------------------------------------------------------------- names and addresses
def test_repository_and_distribution_are_the_projects():
    assert colab.REPOSITORY == PROJECT["urls"]["Repository"]
    assert colab.DISTRIBUTION == PROJECT["name"]


def test_colab_url_and_badge():
    url = colab.colab_url("notebooks/16_better_emotion_model.ipynb")
    assert url == ("https://colab.research.google.com/github/dl-audio-course/deep-learning-audio-signals/"
                   "blob/main/notebooks/16_better_emotion_model.ipynb")
    assert colab.colab_url("05_eda", repository="https://github.com/me/fork.git", ref="v1.0") == \
        "https://colab.research.google.com/github/me/fork/blob/v1.0/notebooks/05_eda.ipynb"
    assert colab.badge("05_eda") == f"[![Open In Colab]({colab.BADGE_IMAGE})]({colab.colab_url('05_eda')})"


@pytest.mark.parametrize("repository", ["https://gitlab.com/a/b", "https://github.com/only-owner", "file:///tmp/repo"])
def test_colab_opens_github_repositories_only(repository):
    with pytest.raises(ValueError, match="GitHub"):
        colab.colab_url("05_eda", repository=repository)


def test_install_requirement():
    assert colab.install_requirement() == f"course-utils @ git+{colab.REPOSITORY}@{colab.REF}"
    assert colab.install_requirement(repository="file:///tmp/repo", ref="v2") == "course-utils @ git+file:///tmp/repo@v2"
    for bad in ('https://x/"; rm -rf /', "", "a b"):
        with pytest.raises(ValueError):
            colab.install_requirement(repository=bad)


# --------------------------------------------------------------------------- every chapter
def _parameters_index(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_has_its_badge_and_the_setup_cell(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    title = nb.cells[0].source.split("\n")
    assert title[2] == colab.badge(nb_path), f"{nb_path.name}: the line after the title must be its Colab badge"
    i = _parameters_index(nb)
    assert nb.cells[i + 1].source == colab.setup_cell_source(), f"{nb_path.name}: the cell after the parameters"
    assert sum(c.source.startswith(colab.SETUP_MARKER) for c in nb.cells) == 1
    assert not docs.colab_cells(nb_path, write=False), "run docs.update_docs()"


def test_colab_cells_repairs_a_notebook(tmp_path):
    src = ROOT / "notebooks" / "05_eda.ipynb"
    nb = nbformat.read(src, as_version=4)
    i = _parameters_index(nb)
    del nb.cells[i + 1]  # no setup cell
    nb.cells[0].source = nb.cells[0].source.replace(colab.badge(src) + "\n\n", "")  # no badge
    nb.cells.append(nbformat.v4.new_code_cell(colab.setup_cell_source(ref="old")))  # a stale one elsewhere
    path = tmp_path / src.name
    nbformat.write(nb, path)
    assert docs.colab_cells(path, write=False) and nbformat.read(path, as_version=4).cells[i + 1].source != colab.setup_cell_source()
    assert docs.colab_cells(path)
    fixed = nbformat.read(path, as_version=4)
    assert fixed.cells[i + 1].source == colab.setup_cell_source()
    assert fixed.cells[0].source.split("\n")[2] == colab.badge(src)
    assert sum(c.source.startswith(colab.SETUP_MARKER) for c in fixed.cells) == 1
    assert len(fixed.cells) == len(nbformat.read(src, as_version=4).cells)
    assert not docs.colab_cells(path)  # nothing more to do


def test_colab_cells_refuses_a_notebook_without_a_title(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    path = tmp_path / "42_x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="42_x.ipynb: the first cell must be the Markdown title"):
        docs.colab_cells(path)


def test_readme_chapter_map_has_a_colab_badge_per_chapter():
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `(\d\d_\w+)` (.*?) \|", readme, flags=re.M)
    assert sorted(name for name, _ in rows) == sorted(p.stem for p in NOTEBOOKS)
    for name, badge in rows:
        assert badge == colab.badge(name), f"README chapter map, {name}: its badge must be {colab.badge(name)}"


def test_setup_cell_does_nothing_outside_colab():
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(colab.setup_cell_source())
    calls = []
    namespace = {"get_ipython": lambda: types.SimpleNamespace(run_line_magic=lambda *a: calls.append(a)), "dataset": "auto"}
    assert "google.colab" not in sys.modules
    exec(compile(code, "setup-cell", "exec"), namespace)
    assert calls == [] and "colab" not in namespace
    assert colab.setup("auto") is None  # outside Colab: the checks only


def test_importing_the_setup_module_leaves_tensorflow_alone():
    code = "import sys, course_utils.course.colab; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- setup()
def test_stale_modules_and_the_restart_message(monkeypatch):
    assert colab.stale_modules() == []  # this environment: what is imported is what is installed
    monkeypatch.setitem(sys.modules, "fakepkg", types.SimpleNamespace(__version__="1.0"))
    monkeypatch.setattr(colab.importlib.metadata, "version", lambda dist: "2.0" if dist == "fake-pkg" else "0")
    assert colab.stale_modules({"fakepkg": "fake-pkg"}) == ["fakepkg 1.0 (2.0 installed)"]
    assert colab.stale_modules({"fakepkg": "fake-pkg", "not_imported": "x"}) == ["fakepkg 1.0 (2.0 installed)"]
    monkeypatch.setattr(colab, "WATCHED", {"fakepkg": "fake-pkg"})
    with pytest.raises(CourseError, match=r"fakepkg 1.0 \(2.0 installed\).*\nFix: Runtime > Restart session"):
        colab.setup("auto", force=True)


def test_gpu_report_with_and_without_gpus(monkeypatch):
    assert colab.gpu_report().startswith("No GPU in this session")
    tf = colab.quiet.import_tensorflow()
    gpus = [types.SimpleNamespace(name="/physical_device:GPU:0"), types.SimpleNamespace(name="/physical_device:GPU:1")]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus)
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda gpu: {"device_name": "Tesla T4"})
    report = colab.gpu_report()
    assert report.startswith(f"TensorFlow {tf.__version__} sees 2 GPUs (Tesla T4, Tesla T4)")


def test_setup_downloads_ravdess_as_on_colab(tmp_path, monkeypatch, make_wav_tree, server, capsys):
    import hashlib

    names = [f"03-01-0{e}-01-0{s}-01-{a:02d}.wav" for a in (1, 2) for e in (1, 2) for s in (1, 2)]
    make_wav_tree(tmp_path / "tree", names)
    archive = Path(shutil.make_archive(str(tmp_path / "ravdess"), "zip", tmp_path / "tree"))
    data = archive.read_bytes()
    monkeypatch.setenv("RAVDESS_URL", server.serve("ravdess.zip", data))
    monkeypatch.setattr(download, "RAVDESS_MD5", "md5:" + hashlib.md5(data).hexdigest())
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RAVDESS_DIR", raising=False)
    enabled = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(output=output))
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    assert colab.on_colab()
    found = colab.setup("auto")
    assert server.count("ravdess.zip") == 1
    assert found.name == "ravdess" and found.root == tmp_path / "data" / "ravdess"
    assert len(list(found.root.rglob("*.wav"))) == len(names)
    assert enabled == [True]
    out = capsys.readouterr().out
    assert "data: the real RAVDESS recordings in" in out and "No GPU in this session" in out
    assert re.search(r"; librosa compiled \(\d+ s\)", out), out  # numba's cache, before any parallel worker


# --------------------------------------------------------------------------- the cell, as on Colab
def _stand_in_repository(path: Path) -> str:
    """A git repository holding this checkout's files (committed or not, as git lists them)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, path / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "stand-in for GitHub"]):
        subprocess.run([*git, *args], cwd=path, check=True, capture_output=True)
    return path.as_uri()


def _fresh_environment(path: Path) -> Path:
    """A new virtual environment without the course. It sees this environment's packages (a
    ``.pth`` file naming a folder of links to them, the course's own left out), as a Colab
    runtime has its TensorFlow, NumPy and librosa: pip must keep them and add the course."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    shared = path / "preinstalled"
    shared.mkdir()
    for entry in ours.iterdir():
        if entry.name.startswith(("course_utils", "__editable__", "_course_utils")) or entry.suffix == ".pth":
            continue
        (shared / entry.name).symlink_to(entry)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "preinstalled.pth").write_text(str(shared) + "\n")
    return python


def test_setup_cell_installs_the_course_in_a_fresh_environment(tmp_path, shared_sample):
    if shutil.which("git") is None:
        pytest.skip("git is needed to stand in for GitHub")
    repo = tmp_path / "repo"
    repo.mkdir()
    url = _stand_in_repository(repo)
    python = _fresh_environment(tmp_path / "venv")
    fake = tmp_path / "colab-stand-in" / "google" / "colab"  # google/ stays a namespace package (protobuf)
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "output.py").write_text("def enable_custom_widget_manager():\n    print('WIDGETS ON')\n")
    probe = (
        "import course_utils, json, importlib.metadata as md\n"
        "print('RESULT ' + json.dumps({'course': course_utils.__file__, 'tensorflow': str(md.distribution('tensorflow').locate_file(''))}))"
    )
    cell = "import google.colab\ndataset = 'ravdess'\n" + colab.setup_cell_source(repository=url) + "\n" + probe
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONPATH=str(tmp_path / "colab-stand-in"), RAVDESS_DIR=str(shared_sample),
               COURSE_DATA_DIR=str(tmp_path / "content" / "data"), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_BUILD_ISOLATION="0", HOME=str(tmp_path / "home"))
    run = subprocess.run([str(python), "-m", "IPython", "--quick", "--no-banner", "--colors=nocolor", "-c", cell],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert "RESULT " in out, out[-4000:]
    found = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    venv = (tmp_path / "venv").resolve()
    assert Path(found["course"]).resolve().is_relative_to(venv), f"the course came from {found['course']}, not the fresh install"
    assert "preinstalled" in found["tensorflow"], "pip replaced the platform's TensorFlow"
    assert "WIDGETS ON" in out
    assert "installed from main; data: the real RAVDESS recordings in" in out  # the version pip installed
    assert "; librosa compiled (" in out
    assert "No GPU in this session" in out
