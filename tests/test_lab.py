"""Chapters 01, 04 and 16 in a real JupyterLab, driven by headless Chromium (Playwright).

The headless tests call the explorers directly, and papermill has no browser: neither sees what a
student sees. Here JupyterLab runs on 127.0.0.1 (a free port, a token, this environment's
JupyterLab and kernel) on copies of the three chapters in quick mode on the offline corpus, with
``COURSE_BUILD_DIR`` in a temporary folder. Chromium opens each copy, and the test checks:

- no "official Jupyter news?" toast (``make venv`` and Binder turn it off:
  :func:`course_utils.tools.lab.install_lab_settings`), and the notebook is not marked modified
  when it opens (:func:`course_utils.tools.lab.store_language_info`);
- Run All ends with every cell run, no error output and no stderr box (TensorFlow's start-up
  notes: :mod:`course_utils.base.quiet`);
- 01 and 04: a slider dragged redraws the figure, which appears once; 04's explorer has only its
  slider (no ``players`` checkbox, no ``n_iter`` slider);
- 16: the epoch bar and the printed line agree on the seconds per epoch; the upload button's
  label is whole; an uploaded WAV is classified (a line names the prediction) and named in the
  menu; a file that cannot be used gets its message in a box, code shown as code, words whole.

Without Chromium or Playwright the tests skip, saying why, unless ``COURSE_REQUIRE_CHROMIUM=1``
(set by ``.ci/run``): then they fail. Screenshots go to ``build/lab-screenshots/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import headless_chromium
from conftest import needs_chromium

from course_utils.base import jupyter
from course_utils.tools import lab as lab_settings

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "lab-screenshots"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: JupyterLab renders error outputs and stderr streams with this MIME type: the red boxes.
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


# ------------------------------------------------------------------------ stored form (fast)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_hold_what_the_kernel_reports(path):
    """JupyterLab writes the kernel's language_info into a notebook when the kernel starts and
    marks it modified unless it is stored already: every notebook held only {"name": "python"}.
    The patch release of Python may differ from machine to machine (binder/postBuild rewrites it
    for the image's Python); everything else must be stored exactly."""
    nb = json.loads(path.read_text())
    stored, kernel = dict(nb["metadata"]["language_info"]), lab_settings.kernel_language_info()
    stored_version, kernel_version = stored.pop("version", ""), kernel.pop("version")
    assert stored == kernel, f"{path.name}: run lab_settings.store_language_info on it"
    assert stored_version.split(".")[:2] == kernel_version.split(".")[:2]
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5) and all(re.fullmatch(r"[\w-]{1,64}", c["id"]) for c in nb["cells"])
    assert path.read_text().endswith("}\n")


def test_store_language_info_rewrites_only_what_differs(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}, "kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("1 + 1")]
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, path)
    assert lab_settings.store_language_info([path]) == [path]
    assert nbformat.read(path, as_version=4).metadata.language_info == lab_settings.kernel_language_info()
    before = path.stat().st_mtime_ns
    assert lab_settings.store_language_info([path]) == [] and path.stat().st_mtime_ns == before


def test_nbstripout_keeps_the_language_info(tmp_path):
    """The course strips outputs with nbstripout --keep-id (make strip, the git filter): it must not
    take the language_info away again."""
    path = tmp_path / "nb.ipynb"
    shutil.copy(ROOT / "notebooks" / "01_sound_and_sampling.ipynb", path)
    nbstripout = Path(sys.executable).parent / "nbstripout"
    if not nbstripout.exists():
        pytest.skip("nbstripout is not installed beside this Python")
    subprocess.run([str(nbstripout), "--keep-id", str(path)], check=True, timeout=120)
    assert path.read_text() == (ROOT / "notebooks" / "01_sound_and_sampling.ipynb").read_text()


# ------------------------------------------------------------------------ JupyterLab + Chromium


def _needs(what: str, ok) -> None:
    needs_chromium(what, ok, test="JupyterLab test")


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def api(self, method: str, path: str):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        for kernel in self.api("GET", "kernels"):
            self.api("DELETE", f"kernels/{kernel['id']}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quick_copy(name: str, folder: Path, **values) -> Path:
    """A copy of a chapter in quick mode on the offline corpus, with other parameters set to
    ``values`` (its parameters cell edited)."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for key, value in {"dataset": "synthetic", "quick": True, **values}.items():
        cell.source, n = re.subn(rf"^{key} = .*$", f"{key} = {value!r}  # the lab test", cell.source, count=1, flags=re.M)
        assert n == 1, f"{name} has no parameter {key}"
    # the stored language_info holds the course's Python; a patch release of it reports another version
    kernel = lab_settings.kernel_language_info()
    stored = nb.metadata.get("language_info", {})
    if stored.get("version", "").split(".")[:2] == kernel["version"].split(".")[:2]:
        stored["version"] = kernel["version"]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def browser():
    chromium = headless_chromium.find_chromium()
    _needs("Chromium not found. Fix (Debian/Ubuntu): apt-get install chromium", chromium)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    _needs("Playwright for Python is not installed. Fix: make venv (requirements.txt pins it)", sync_playwright)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, synthetic_root, browser):
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    _quick_copy("01_sound_and_sampling", notebooks)
    _quick_copy("04_mel_scale", notebooks)
    _quick_copy("16_better_emotion_model", notebooks, max_folds=1)  # one actor fold of the quick run's two: time
    shutil.copy(Path(synthetic_root) / "Actor_01" / "03-01-05-02-01-01-01.wav", root / "my_recording.wav")  # angry, strong
    (root / "voice memo.m4a").write_bytes(b"....")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items()
           if k not in (jupyter.HEADLESS_ENV, "TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST", "MPLBACKEND")}
    env.update({
        "COURSE_BUILD_DIR": str(root / "build"),
        "JUPYTER_CONFIG_DIR": str(root / ".jupyter" / "config"),
        "JUPYTER_DATA_DIR": str(root / ".jupyter" / "data"),
        "JUPYTER_RUNTIME_DIR": str(root / ".jupyter" / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".jupyter" / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".jupyter" / "lab-workspaces"),
    })
    log = root / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}"]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                lab.api("GET", "status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield lab
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=20)


class Chapter:
    """One chapter open in JupyterLab, in its own browser page."""

    def __init__(self, lab: Lab, browser, name: str):
        self.lab, self.name = lab, name
        self.page = browser.new_page(viewport={"width": 1500, "height": 1000})
        self.page_errors: list[str] = []
        self.page.on("pageerror", lambda err: self.page_errors.append(str(err)))
        # a workspace of its own: JupyterLab would reopen the chapters opened before (and start their kernels)
        self.page.goto(f"{lab.url}/lab/workspaces/{name}/tree/notebooks/{name}.ipynb?token={lab.token}")
        self.panel = self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-CodeCell", state="attached", timeout=90_000)
        self.wait_idle(90)

    # state
    def status(self) -> str | None:
        return self.page.evaluate("""() => { const e = document.querySelector(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
            return e ? e.getAttribute('data-status') : null; }""")

    def wait_idle(self, seconds: float, settle: float = 1.0) -> None:
        deadline, since = time.monotonic() + seconds, None
        while time.monotonic() < deadline:
            if self.status() == "idle":
                since = since or time.monotonic()
                if time.monotonic() - since >= settle:
                    return
            else:
                since = None
            time.sleep(0.25)
        self.fail(f"the kernel did not become idle within {seconds:.0f} s (status {self.status()})")

    def prompts(self) -> list[str]:
        """The input prompts of the code cells ("[3]:", "[*]:", "[ ]:"); cells whose input is hidden
        (the solutions) show none."""
        prompts = self.page.evaluate("""() => [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())""")
        return [p for p in prompts if p]

    def dirty(self) -> bool:
        return self.page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() > 0

    def toasts(self) -> list[str]:
        return self.page.locator(".Toastify__toast").all_text_contents()

    def stderr_boxes(self) -> list[str]:
        return [t[:600] for t in self.panel.locator(STDERR).all_text_contents()]

    def cell(self, text: str):
        cells = self.panel.locator(".jp-CodeCell").filter(has=self.page.locator(".jp-InputArea", has_text=text))
        assert cells.count() == 1, f"{self.name}: {cells.count()} code cells hold {text!r}"
        return cells.first

    def fail(self, message: str):
        self.screenshot("failure")
        pytest.fail(f"{self.name}: {message}\n(screenshot in {SCREENSHOTS}; JupyterLab's log: {self.lab.log})")

    def screenshot(self, what: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.name}-{what}.png"), full_page=False)

    # actions
    def run_all(self, seconds: float) -> float:
        """Run All (the Run menu), wait until every cell has run or one failed; return the seconds."""
        start = time.monotonic()
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
        deadline = start + seconds
        while time.monotonic() < deadline:
            prompts = self.prompts()
            if all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
                break
            if self.stderr_boxes() and not any("*" in p for p in prompts) and self.status() == "idle":
                break  # a cell failed: Run All stopped there
            time.sleep(0.5)
        else:
            self.fail(f"Run All did not finish within {seconds:.0f} s; prompts {self.prompts()}")
        self.wait_idle(60, settle=2.0)
        return time.monotonic() - start

    def check_clean(self) -> None:
        boxes = self.stderr_boxes()
        if boxes:
            self.fail(f"{len(boxes)} error or stderr box(es), the first:\n{boxes[0]}")
        not_run = [p for p in self.prompts() if not re.fullmatch(r"\[\d+\]:", p)]
        if not_run:
            self.fail(f"{len(not_run)} code cells did not run: {not_run[:5]}")
        broken = self.panel.get_by_text(re.compile("Error displaying widget|Error rendering output")).count()
        if broken:
            self.fail("a widget or output could not be displayed")

    def images(self, cell) -> list[str]:
        return cell.locator(".jp-Cell-outputWrapper img").evaluate_all("els => els.map(e => e.src.slice(-200))")

    def wait_images(self, cell, changed_from: list[str] | None = None, seconds: float = 90) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            images = self.images(cell)
            if images and (changed_from is None or images != changed_from):
                self.wait_idle(60, settle=1.5)
                return self.images(cell)
            time.sleep(0.5)
        self.fail(f"no {'new ' if changed_from else ''}figure within {seconds:.0f} s")

    def drag(self, handle, dx: float) -> None:
        """Drag a slider's handle ``dx`` pixels with the mouse (press, move, release)."""
        for _ in range(10):  # cells around it may still change height as they come into view
            handle.scroll_into_view_if_needed()
            time.sleep(0.5)
            box = handle.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            if handle.evaluate("(h, [x, y]) => h.contains(document.elementFromPoint(x, y))", [x, y]):
                break
        else:
            self.fail("the slider's handle cannot be reached with the mouse")
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        self.page.mouse.move(x + dx / 2, y, steps=5)
        self.page.mouse.move(x + dx, y, steps=5)
        self.page.mouse.up()

    def upload(self, button, path: Path) -> None:
        """Click an upload button and choose ``path`` in the file dialog (ipywidgets' FileUpload keeps
        its file input out of the page)."""
        with self.page.expect_file_chooser(timeout=30_000) as chooser:
            button.click()
        chooser.value.set_files(str(path))

    def close(self) -> None:
        self.page.close()
        self.lab.shut_down_kernels()


@pytest.fixture
def open_chapter(lab, browser):
    opened = []

    def open_(name: str) -> Chapter:
        chapter = Chapter(lab, browser, name)
        opened.append(chapter)
        time.sleep(2)  # JupyterLab writes the kernel's language_info when it connects
        assert chapter.toasts() == [], f"{name}: a toast covers the page: {chapter.toasts()}"
        assert not chapter.dirty(), f"{name} is marked modified the moment it opens"
        return chapter

    yield open_
    for chapter in opened:
        chapter.close()


def _slider_redraws_one_figure(chapter: Chapter, explorer: str, dx: float) -> tuple[str, str]:
    cell = chapter.cell(explorer)
    before = chapter.wait_images(cell)
    assert len(before) == 1, f"{chapter.name}: the explorer shows {len(before)} figures, not 1"
    readout = cell.locator(".widget-readout").first
    value_before = readout.text_content().strip()
    chapter.drag(cell.locator(".noUi-handle").first, dx)
    after = chapter.wait_images(cell, changed_from=before)
    value_after = readout.text_content().strip()
    assert value_after != value_before
    assert len(after) == 1, f"{chapter.name}: after the slider moved the explorer shows {len(after)} figures, not 1"
    chapter.screenshot("explorer")
    chapter.check_clean()
    return value_before, value_after


@pytest.mark.slow
def test_01_runs_clean_and_its_slider_redraws_one_figure(open_chapter):
    chapter = open_chapter("01_sound_and_sampling")
    chapter.run_all(240)
    chapter.check_clean()
    before, after = _slider_redraws_one_figure(chapter, "jupyter.explore(", dx=80)
    assert int(after.replace(",", "")) > int(before.replace(",", ""))


@pytest.mark.slow
def test_04_runs_clean_and_its_explorer_has_one_slider(open_chapter):
    chapter = open_chapter("04_mel_scale")
    chapter.run_all(300)
    chapter.check_clean()
    cell = chapter.cell("jupyter.explore(")
    chapter.wait_images(cell)
    controls = cell.locator(".widget-interact").first.evaluate(
        "e => [...e.children].filter(c => !c.classList.contains('widget-output')).map(c => c.textContent.trim())")
    assert len(controls) == 1 and controls[0].startswith("Mel bands"), f"04's explorer has {len(controls)} controls: {controls}"
    before, after = _slider_redraws_one_figure(chapter, "jupyter.explore(", dx=120)
    assert int(after) > int(before)


@pytest.mark.slow
def test_16_runs_clean_and_classifies_an_upload(open_chapter, lab):
    chapter = open_chapter("16_better_emotion_model")
    chapter.run_all(420)
    chapter.check_clean()

    # the epoch bar and the printed line agree on the seconds per epoch
    training = chapter.cell('trained = {"both": en.run_experiment(')
    text = training.locator(".jp-Cell-outputWrapper").text_content()
    printed = float(re.search(r"([\d.]+) s per epoch", text).group(1))
    bar = re.search(r"s/epoch=([\d.]+)", text)
    assert bar, f"no seconds per epoch on the epoch bar: {text[:400]!r}"
    assert abs(float(bar.group(1)) - printed) <= 0.11, f"bar {bar.group(1)} s per epoch, printed {printed} s"

    cell = chapter.cell("classify.classifier_explorer(")
    first = chapter.wait_images(cell)
    button = cell.locator(".widget-upload")
    button.scroll_into_view_if_needed()
    cut = button.evaluate("b => b.scrollWidth > b.clientWidth + 1")
    assert not cut, f"the upload button's label is cut: {button.text_content()!r}"

    chapter.upload(button, lab.root / "my_recording.wav")
    said = cell.get_by_text(re.compile(r"your recording my_recording\.wav: predicted emotion \w+, [\d.]+ %"))
    said.wait_for(timeout=90_000)
    chapter.wait_idle(60, settle=1.5)
    assert chapter.images(cell) != first and len(chapter.images(cell)) == 1
    menu = cell.locator("select").evaluate("s => s.options[s.selectedIndex].text").replace("\xa0", " ")  # ipywidgets: no-break spaces
    assert menu == "your recording: my_recording.wav", f"the menu names {menu!r}"
    chapter.screenshot("upload")
    chapter.check_clean()

    chapter.upload(button, lab.root / "voice memo.m4a")
    box = cell.locator(".course-message.course-error")
    box.wait_for(timeout=60_000)
    message = " ".join(box.text_content().split())
    assert message.startswith("This file cannot be used. voice memo.m4a: the classifier reads WAV")
    assert "`" not in message and box.locator("code").count() >= 1
    assert box.evaluate("e => getComputedStyle(e).wordBreak") != "break-all"
    chapter.screenshot("upload-error")
    chapter.check_clean()
    assert chapter.page_errors == [], chapter.page_errors
