"""The course website (:mod:`course_utils.tools.site`): its sources, its build, and a look at it.

Fast tests build the sources from small notebooks written here and drive the build with a
stand-in for Jupyter Book. The end-to-end tests execute two chapters (00 and 03, quick mode,
offline corpus), build the site with the real Jupyter Book (``.venv-site``, ``make site-venv``)
and open it in headless Chromium: the navigation, a chapter's title, figures, audio players and
formulas, the results table, and screenshots that are more than a blank page (kept in
``build/site-screenshots/`` for people to look at). Without Chromium or Jupyter Book those tests
skip, saying why, unless ``COURSE_REQUIRE_CHROMIUM=1`` (set by ``.ci/run``): then they fail.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import posixpath
import re
import stat
import sys
import wave
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pytest
import headless_chromium
from conftest import needs_chromium
import yaml
from PIL import Image

from course_utils.base import paths
from course_utils.course import results
from course_utils.tools import cli, runner, site

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "site-screenshots"


# ------------------------------------------------------------------------------- helpers


def _png_output() -> dict:
    img = Image.new("RGB", (40, 30), "white")
    img.paste((30, 90, 200), (5, 5, 35, 25))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(buf.getvalue()).decode(), "text/plain": "<Figure>"})


def _audio_output() -> dict:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes((np.sin(np.arange(800) / 5) * 8000).astype("<i2").tobytes())
    src = base64.b64encode(buf.getvalue()).decode()
    html = f'<audio controls="controls"><source src="data:audio/wav;base64,{src}" type="audio/wav" /></audio>'
    return nbformat.v4.new_output("display_data", data={"text/html": html, "text/plain": "<IPython.lib.display.Audio object>"})


def make_notebook(title: str, *, dataset: str = "synthetic", quick: bool = False) -> nbformat.NotebookNode:
    """A small executed notebook: a heading, a figure, an audio player, a solution, stderr, a widget."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"dataset": dataset, "quick": quick}}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    plot = nbformat.v4.new_code_cell("plot()", outputs=[_png_output(), _audio_output()])
    check = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(42)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="42\n"),
        nbformat.v4.new_output("stream", name="stderr", text="100%|#####| 3/3 progress\n")])
    widget = nbformat.v4.new_code_cell("explorer()", outputs=[nbformat.v4.new_output(
        "display_data", data={site.WIDGET_MIME: {"model_id": "abc", "version_major": 2, "version_minor": 0},
                              "text/plain": "interactive(children=(IntSlider(...)))"})])
    solution = nbformat.v4.new_code_cell("answer = 1", metadata={"tags": ["solution"], "jupyter": {"source_hidden": True}})
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"*A note before the title.*\n\n# {title}\n\nSome text with $x^2$."),
        nbformat.v4.new_code_cell("dataset = 'auto'", metadata={"tags": ["parameters"]}),
        plot, check, widget,
        nbformat.v4.new_markdown_cell("## Try it"),
        solution,
    ]
    return nb


@pytest.fixture
def executed(tmp_path) -> Path:
    """Three executed notebooks (00, 05, 99) written out of order, and their results files."""
    folder = tmp_path / "executed"
    folder.mkdir()
    for stem, title in [("99_results", "99. Results"), ("05_eda", "5. Exploratory data analysis"), ("00_getting_the_data", "0. Getting the data")]:
        nbformat.write(make_notebook(title), folder / f"{stem}.ipynb")
    run = results.NotebookRun("05_eda", dataset="synthetic", quick=False, results_dir=tmp_path / "results")
    run.record(clips=1440.0)
    run.record_accuracy("emotion", "svm", "actors", 0.475)
    run.record_accuracy("emotion", "svm", "random", 0.5, split="validation")
    run.save()
    other = results.NotebookRun("07_classical_baseline", dataset="synthetic", quick=True, results_dir=tmp_path / "results")
    other.record_accuracy("sex", "svm", "random", 0.9)
    other.save()
    return folder


README = """# Deep Learning for Audio Signals

[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/x/y)

```bash
make course
```

Set-up text that the site leaves out.

---

An open course about **audio**, with [a guide](docs/guide.md) and
[the paper](https://doi.org/10.1/x).

A second paragraph that stays out.

## What the course teaches

- the spectrogram, see [chapter notes](docs/notes.md)

## Chapter map

| notebook | chapter | quick | full |
|---|---|---|---|
| `00_getting_the_data` | where the data come from | 5 s | 5 s |
| `05_eda` | counts and durations | 10 s | 2 min |
"""


def _fake_program(path: Path, body: str) -> str:
    """An executable Python script (a stand-in for jupyter-book or chromium)."""
    path.write_text(f"#!{sys.executable}\nimport sys, pathlib\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


FAKE_BOOK = """
args = sys.argv[1:]
assert args[0] == "build" and args[2] == "--path-output", args
src, out = pathlib.Path(args[1]), pathlib.Path(args[3])
html = out / "_build" / "html"
html.mkdir(parents=True)
(html / "index.html").write_text((src / "_toc.yml").read_text())
print("build succeeded")
"""


class _Tags(HTMLParser):
    """Every start tag of a page, with its attributes, and the text inside each h1."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.h1: list[str] = []
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_h1 = self._in_h1 or tag == "h1"
        if tag == "h1":
            self.h1.append("")

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        if self._in_h1:
            self.h1[-1] += data


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


# ------------------------------------------------------------------------- sources (fast)


def test_executed_notebooks_come_in_chapter_order(executed):
    assert [p.stem for p in site.executed_notebooks(executed)] == ["00_getting_the_data", "05_eda", "99_results"]


def test_no_executed_notebooks_is_a_clear_error_naming_the_fix(tmp_path):
    for folder in (tmp_path / "missing", tmp_path):
        with pytest.raises(FileNotFoundError, match=r"make course QUICK=1"):
            site.executed_notebooks(folder)
    with pytest.raises(FileNotFoundError, match="No executed notebooks"):
        site.build_site(tmp_path, tmp_path / "site", jupyter_book="/nonexistent")
    assert not (tmp_path / "site").exists()


def test_chapter_title_is_the_first_heading():
    assert site.chapter_title(make_notebook("3. The spectrogram"), "03_x") == "3. The spectrogram"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# a comment, not a heading"),
                                         nbformat.v4.new_markdown_cell("no heading here")])
    assert site.chapter_title(nb, "03_spectrogram") == "03_spectrogram"
    nb.cells.append(nbformat.v4.new_markdown_cell("text\n### Deeper title ###\n# later"))
    assert site.chapter_title(nb, "x") == "Deeper title"


def test_prepare_notebook_folds_solutions_and_drops_what_needs_a_kernel():
    nb = make_notebook("0. Title")
    ready = site.prepare_notebook(nb)
    assert "widgets" not in ready.metadata and "widgets" in nb.metadata  # the original is untouched
    solution = ready.cells[-1]
    assert solution.metadata["tags"] == ["solution", "hide-cell"]
    assert site.prepare_notebook(ready).cells[-1].metadata["tags"] == ["solution", "hide-cell"]  # no second tag
    check = ready.cells[3]
    assert check.source == "print(42)"  # the test marker is not shown to readers
    assert [o["name"] for o in check.outputs] == ["stdout"]  # stderr (progress bars, warnings) left out
    note = ready.cells[4].outputs[0]
    assert site.WIDGET_MIME not in note["data"] and "JupyterLab" in note["data"]["text/html"]
    plot = ready.cells[2].outputs
    assert "image/png" in plot[0]["data"] and "<audio" in plot[1]["data"]["text/html"]
    assert nb.cells[3].source.startswith("# NBVAL_CHECK_OUTPUT") and len(nb.cells[3].outputs) == 2


def _chapters(*stems: str, run: str = "synthetic, full") -> list[site.Chapter]:
    return [site.Chapter(s, f"{int(s[:2])}. {s[3:]}", int(s[:2]), run) for s in stems]


def test_toc_puts_chapters_in_parts_and_ends_with_the_results():
    toc = yaml.safe_load(site.toc_yaml(_chapters("00_a", "03_b", "08_c", "13_d", "16_e", "99_results")))
    assert toc["format"] == "jb-book" and toc["root"] == "intro"
    files = [[c["file"] for c in part["chapters"]] for part in toc["parts"]]
    assert files == [["chapters/00_a", "chapters/03_b"], ["chapters/08_c"], ["chapters/13_d", "chapters/16_e"],
                     ["chapters/99_results", "results"]]
    assert "The corpus and a baseline" not in [p["caption"] for p in toc["parts"]]  # no chapter 05-07: no empty part
    only_results = yaml.safe_load(site.toc_yaml([]))
    assert only_results["parts"] == [{"caption": "Results", "chapters": [{"file": "results"}]}]


def test_config_turns_execution_off_and_ships_mathjax():
    config = yaml.safe_load(site.config_yaml("My course"))
    assert config["title"] == "My course" and config["execute"]["execute_notebooks"] == "off"
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]
    assert config["sphinx"]["config"]["html_theme_options"]["navbar_persistent"] == []
    assert "dollarmath" in config["parse"]["myst_enable_extensions"]
    assert config["sphinx"]["config"]["nb_code_prompt_show"] == "Show the solution"


def test_front_page_takes_what_the_course_teaches_from_the_readme():
    page = site.intro_markdown(_chapters("00_getting_the_data", "05_eda"), README, built="2026-01-01")
    assert page.startswith(f"# {site.TITLE}\n")
    assert "An open course about **audio**, with a guide and [the paper](https://doi.org/10.1/x)." in page
    assert "Set-up text" not in page and "second paragraph" not in page and "mybinder" not in page
    assert "## What the course teaches\n\n- the spectrogram, see chapter notes" in page
    assert "| [0. getting_the_data](chapters/00_getting_the_data.ipynb) | where the data come from | synthetic, full |" in page
    assert "| [5. eda](chapters/05_eda.ipynb) | counts and durations |" in page
    assert "[Results](results.md)" in page and "Built 2026-01-01 from 2 executed notebook(s)" in page
    assert "offline synthetic corpus" in page and "CC BY-NC-SA 4.0" in page


def test_front_page_without_readme_and_on_real_data():
    page = site.intro_markdown(_chapters("00_getting_the_data", run="ravdess, full"), "")
    assert "RAVDESS, the Ryerson Audio-Visual Database" in page  # the fallback sentence
    assert "synthetic corpus" not in page and "What the course teaches" not in page
    assert "| [0. getting_the_data](chapters/00_getting_the_data.ipynb) |  | ravdess, full |" in page


def test_readme_without_a_rule_gives_its_first_plain_paragraph():
    readme = "# Title\n\n[![Binder](b.svg)](https://x)\n\n```bash\nmake course\n```\n\n- a list\n\nThe course.\nIt teaches [sound](docs/s.md).\n\nMore.\n"
    assert site._readme_intro(readme) == "The course. It teaches sound."
    assert site._readme_section(readme, "What the course teaches") == ""


def test_results_page_has_accuracies_and_every_metric(executed, tmp_path):
    page = site.results_markdown(tmp_path / "results", _chapters("05_eda"))
    assert "## Accuracies" in page and "| emotion | actors | svm | 47.5 | [05](chapters/05_eda.ipynb) | synthetic, full |" in page
    assert "| emotion | random (validation) | svm | 50.0 | [05](chapters/05_eda.ipynb) |" in page
    assert "### 5. eda\n\n[The chapter](chapters/05_eda.ipynb) ran on dataset synthetic, full mode" in page
    assert "| clips | 1440 |" in page
    assert "### 07_classical_baseline (no page: not executed)" in page and "quick mode" in page
    assert "| sex | random | svm | 90.0 | 07 | synthetic, quick |" in page  # no page to link to
    assert page.index("### 5. eda") < page.index("### 07_classical")  # in chapter order


def test_results_page_names_a_single_run_once_instead_of_a_column(tmp_path):
    for name, task in (("07_classical_baseline", "sex"), ("09_cnn_multiclass", "emotion")):
        run = results.NotebookRun(name, dataset="synthetic", quick=False, results_dir=tmp_path)
        run.record_accuracy(task, "svm", "random", 0.9)
        run.save()
    page = site.results_markdown(tmp_path, [])
    assert "Every row comes from a full-mode run on the synthetic dataset." in page
    assert "| task | protocol | model | accuracy (%) | chapter |\n" in page and "synthetic, full |" not in page


def test_results_page_without_results_says_how_to_get_them(tmp_path):
    page = site.results_markdown(tmp_path / "none", [])
    assert "No results were recorded yet" in page and "make course QUICK=1" in page and "| metric" not in page


def test_results_page_without_accuracies(tmp_path):
    run = results.NotebookRun("01_sound", dataset="ravdess", quick=True, results_dir=tmp_path)
    run.record(peak_db=-9.1)
    run.save()
    page = site.results_markdown(tmp_path, [])
    assert "## Accuracies" not in page and "| peak_db | -9.1 |" in page and "Dataset ravdess, quick mode" in page


def test_stage_sources_writes_a_complete_book(executed, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    chapters = site.stage_sources(executed, tmp_path / "src", results_dir=tmp_path / "results", readme=readme)
    assert [c.stem for c in chapters] == ["00_getting_the_data", "05_eda", "99_results"]
    assert chapters[1] == site.Chapter("05_eda", "5. Exploratory data analysis", 5, "synthetic, full")
    src = tmp_path / "src"
    assert sorted(p.name for p in src.iterdir()) == ["_config.yml", "_toc.yml", "chapters", "intro.md", "results.md"]
    staged = nbformat.read(src / "chapters" / "05_eda.ipynb", as_version=4)
    assert staged.cells[-1].metadata["tags"] == ["solution", "hide-cell"]
    assert "counts and durations" in (src / "intro.md").read_text()
    chapters = site.stage_sources(executed, tmp_path / "src2", results_dir=tmp_path / "results", readme=tmp_path / "absent.md")
    assert "What the course teaches" not in (tmp_path / "src2" / "intro.md").read_text()


def test_run_label_is_empty_without_papermill_parameters():
    nb = nbformat.v4.new_notebook()
    assert site._run_label(nb) == ""
    nb.metadata["papermill"] = {"parameters": {"dataset": "ravdess", "quick": True}}
    assert site._run_label(nb) == "ravdess, quick"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_site_tools_are_pinned_in_their_own_constraints():
    req, con = _pins(ROOT / "requirements-site.txt"), _pins(ROOT / "constraints-site.txt")
    assert set(req) == {"jupyter-book", "sphinx-mathjax-offline"}
    assert all(con.get(name) == version for name, version in req.items())
    assert all(re.fullmatch(r"[0-9][0-9a-z.]*", v) for v in con.values()) and len(con) > 50
    assert "sphinx" in con and "myst-nb" in con and "pydata-sphinx-theme" in con  # the transitive ones too
    assert con["markdown-it-py"] != _pins(ROOT / "constraints.txt")["markdown-it-py"]  # why the site has its own venv


# --------------------------------------------------------------------------- build (fast)


def test_build_site_replaces_the_old_site_in_one_step(executed, tmp_path, capsys):
    book = _fake_program(tmp_path / "jupyter-book", FAKE_BOOK)
    out = tmp_path / "build" / "site"
    out.mkdir(parents=True)
    (out / "stale.html").write_text("old")
    got = site.build_site(executed, out, results_dir=tmp_path / "results", jupyter_book=book)
    assert got == out and not (out / "stale.html").exists()
    toc = yaml.safe_load((out / "index.html").read_text())  # the stand-in copied the _toc.yml it was given
    assert toc["parts"][0]["chapters"][0]["file"] == "chapters/00_getting_the_data"
    assert sorted(p.name for p in out.parent.iterdir()) == ["site"]  # no temporary folders left
    printed = capsys.readouterr().out
    assert "from 3 executed notebook(s)" in printed and "Site written to" in printed


@pytest.mark.parametrize("body", ["print('Sphinx error: boom'); sys.exit(2)", "print('did nothing')"])
def test_a_failed_build_leaves_the_old_site(executed, tmp_path, body):
    book = _fake_program(tmp_path / "jupyter-book", body)
    out = tmp_path / "build" / "site"
    out.mkdir(parents=True)
    (out / "index.html").write_text("old")
    with pytest.raises(RuntimeError, match="the site was not changed") as err:
        site.build_site(executed, out, results_dir=tmp_path / "results", jupyter_book=book)
    assert ("boom" in str(err.value)) == ("boom" in body)
    assert (out / "index.html").read_text() == "old"
    assert sorted(p.name for p in out.parent.iterdir()) == ["site"]


def test_build_site_defaults_to_the_build_folder(executed, tmp_path, monkeypatch):
    build = tmp_path / "build"
    (build / "executed").mkdir(parents=True)
    for nb in executed.iterdir():
        (build / "executed" / nb.name).write_bytes(nb.read_bytes())
    monkeypatch.setenv("COURSE_BUILD_DIR", str(build))
    monkeypatch.setenv(site.JUPYTER_BOOK_ENV, _fake_program(tmp_path / "jb", FAKE_BOOK))
    assert site.build_site() == build / "site" and (build / "site" / "index.html").is_file()



def test_find_jupyter_book(tmp_path, monkeypatch):
    fake = _fake_program(tmp_path / "jb", "pass")
    monkeypatch.setenv(site.JUPYTER_BOOK_ENV, fake)
    assert site.find_jupyter_book() == fake
    monkeypatch.setenv(site.JUPYTER_BOOK_ENV, str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        site.find_jupyter_book()
    monkeypatch.delenv(site.JUPYTER_BOOK_ENV)
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="Fix: make site"):
        site.find_jupyter_book()
    on_path = tmp_path / "bin"
    on_path.mkdir()
    _fake_program(on_path / "jupyter-book", "pass")
    monkeypatch.setenv("PATH", str(on_path))
    assert site.find_jupyter_book() == str(on_path / "jupyter-book")
    local = tmp_path / site.SITE_VENV / "bin"
    local.mkdir(parents=True)
    _fake_program(local / "jupyter-book", "pass")
    assert site.find_jupyter_book() == str(local / "jupyter-book")  # .venv-site comes before the PATH


def test_command_line(executed, tmp_path, monkeypatch, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    site.add_subcommand(sub)
    args = parser.parse_args(["site", "--executed", str(executed), "--output", str(tmp_path / "s")])
    assert args.func is site._site_command and args.results.endswith("results")
    monkeypatch.setenv(site.JUPYTER_BOOK_ENV, _fake_program(tmp_path / "jb", FAKE_BOOK))
    out = tmp_path / "cli-site"
    assert cli.main(["site", "--executed", str(executed), "--results", str(tmp_path / "results"), "--output", str(out)]) == 0
    assert (out / "index.html").is_file()
    with pytest.raises(SystemExit) as exit_:
        cli.main(["site", "--executed", str(tmp_path / "nothing"), "--output", str(out)])
    assert exit_.value.code == 1 and "make course QUICK=1" in capsys.readouterr().err


# ------------------------------------------------------------------------ chromium (fast)


def test_image_stats_tell_a_blank_page_from_a_drawn_one(tmp_path):
    Image.new("RGB", (200, 100), "white").save(tmp_path / "blank.png")
    blank = headless_chromium.image_stats(tmp_path / "blank.png")
    assert blank == {"ink": 0.0, "colours": 1.0, "width": 200.0, "height": 100.0}
    img = Image.new("RGB", (200, 100), "white")
    img.paste((20, 20, 20), (0, 0, 100, 50))
    img.paste((200, 40, 40), (100, 50, 200, 100))
    drawn = headless_chromium.image_stats(_save(img, tmp_path / "drawn.png"))
    assert drawn["ink"] == pytest.approx(0.5) and drawn["colours"] == 3.0


def _save(img: Image.Image, path: Path) -> Path:
    img.save(path)
    return path


def test_chromium_helpers_report_a_missing_or_failing_browser(tmp_path, monkeypatch):
    monkeypatch.setenv(headless_chromium.CHROMIUM_ENV, "/opt/my-chromium")
    assert headless_chromium.find_chromium() == "/opt/my-chromium"
    monkeypatch.delenv(headless_chromium.CHROMIUM_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert headless_chromium.find_chromium() is None
    with pytest.raises(FileNotFoundError, match="apt-get install chromium"):
        headless_chromium.chromium_dom(tmp_path / "page.html")
    failing = _fake_program(tmp_path / "chromium", "print('crash', file=sys.stderr); sys.exit(3)")
    assert headless_chromium.find_chromium() == failing
    with pytest.raises(RuntimeError, match="exit status 3.*crash"):
        headless_chromium.chromium_dom("http://localhost/x.html")
    lazy = _fake_program(tmp_path / "lazy", "print('<html></html>')")
    assert headless_chromium.chromium_dom(tmp_path / "page.html", chromium=lazy).strip() == "<html></html>"
    with pytest.raises(RuntimeError, match="no screenshot"):
        headless_chromium.chromium_screenshot(tmp_path / "page.html", tmp_path / "shot.png", chromium=lazy)
    assert not (tmp_path / "shot.png").exists()
    painter = _fake_program(tmp_path / "painter", (
        "from PIL import Image\n"
        "arg = dict(a[2:].split('=', 1) for a in sys.argv[1:] if a.startswith('--') and '=' in a)\n"
        "w, h = map(int, arg['window-size'].split(','))\n"
        "Image.new('RGB', (w, h), (10, 120, 200)).save(arg['screenshot'])"))
    shot = headless_chromium.chromium_screenshot(tmp_path / "page.html", tmp_path / "shots" / "page.png", size=(64, 48), chromium=painter)
    assert headless_chromium.image_stats(shot) == {"ink": 1.0, "colours": 1.0, "width": 64.0, "height": 48.0}


def test_urls_for_files_and_web_pages(tmp_path):
    assert headless_chromium._url(tmp_path / "a b.html") == (tmp_path / "a b.html").as_uri()
    assert headless_chromium._url("https://example.org/x.html") == "https://example.org/x.html"


# --------------------------------------------------------------- end to end (Jupyter Book, Chromium)


def _needs(what: str, ok) -> None:
    needs_chromium(what, ok, test="website test")


@pytest.fixture(scope="module")
def built_site(tmp_path_factory, request):
    """Chapters 00 and 03 executed in quick mode on the offline corpus, and the site built from them."""
    _needs("Chromium not found. Fix (Debian/Ubuntu): apt-get install chromium", headless_chromium.find_chromium())
    try:
        site.find_jupyter_book()
    except FileNotFoundError as err:
        _needs(str(err), False)
    request.getfixturevalue("synthetic_root")  # the offline corpus, only once the tools are there
    build = tmp_path_factory.mktemp("site-build")
    with paths.use_build_dir(build):
        for name in ("00_getting_the_data", "03_spectrogram"):
            runner.run_notebook(ROOT / "notebooks" / f"{name}.ipynb", build / "executed",
                                {"dataset": "synthetic", "quick": True}, progress=False, timeout=600)
        return site.build_site(build / "executed", build / "site", results_dir=build / "results")


@pytest.fixture(scope="module")
def dom(built_site):
    """``dom(page)``: the page's DOM after JavaScript (one Chromium run per page)."""
    seen: dict[str, str] = {}

    def get(page: str) -> str:
        if page not in seen:
            seen[page] = headless_chromium.chromium_dom(built_site / page)
        return seen[page]

    return get


@pytest.mark.slow
def test_every_page_has_the_navigation(built_site, dom):
    for page in ("intro.html", "chapters/03_spectrogram.html", "results.html"):
        hrefs = [a.get("href", "") for tag, a in _parse(dom(page)).tags if tag == "a"]
        links = {posixpath.normpath(posixpath.join(posixpath.dirname(page), h.split("#")[0])) for h in hrefs if h and not h.startswith("#")}
        for target in ("intro.html", "chapters/00_getting_the_data.html", "chapters/03_spectrogram.html", "results.html"):
            assert target in links or target == page, (page, target, sorted(links))
    assert (built_site / "index.html").is_file()  # the site opens at index.html


@pytest.mark.slow
def test_a_chapter_page_shows_its_title_figures_audio_and_formulas(built_site, dom):
    html = dom("chapters/03_spectrogram.html")
    page = _parse(html)
    assert html.count("Show the solution") >= 2  # the exercises' solutions, folded
    assert "NBVAL_CHECK_OUTPUT" not in html
    assert any("3. The spectrogram" in h for h in page.h1)
    images = [a["src"] for tag, a in page.tags if tag == "img" and "_images/" in a.get("src", "")]
    assert len(images) >= 3 and all((built_site / "chapters" / src).resolve().is_file() for src in images)
    assert sum(tag == "audio" for tag, _ in page.tags) >= 2
    assert any(tag == "source" and a.get("src", "").startswith("data:audio/wav;base64,") for tag, a in page.tags)
    assert any(tag == "mjx-container" for tag, _ in page.tags)  # MathJax ran: formulas are typeset, offline
    # previous and next: the front page's chapter 00 before, the results after
    prev_next = {a.get("class"): a.get("href") for tag, a in page.tags if tag == "a" and a.get("class") in ("left-prev", "right-next")}
    assert prev_next == {"left-prev": "00_getting_the_data.html", "right-next": "../results.html"}


@pytest.mark.slow
def test_the_results_page_has_the_table(built_site, dom):
    html = dom("results.html")
    assert "<table" in html and "3. The spectrogram" in html and "0. Getting the data" in html
    for name in ("00_getting_the_data", "03_spectrogram"):
        record = json.loads((built_site.parent / "results" / f"{name}.json").read_text())
        for metric in record["metrics"]:
            assert f"<td><p>{metric}</p></td>" in html, metric


@pytest.mark.slow
@pytest.mark.parametrize("page", ["intro.html", "chapters/00_getting_the_data.html", "chapters/03_spectrogram.html", "results.html"])
def test_screenshots_are_not_blank(built_site, page):
    png = headless_chromium.chromium_screenshot(built_site / page, SCREENSHOTS / (page.replace("/", "_").removesuffix(".html") + ".png"))
    stats = headless_chromium.image_stats(png)
    assert stats["width"] == 1280 and stats["height"] == 1000
    assert stats["ink"] > 0.03, stats  # text, sidebar and figures, not an empty page
    assert stats["colours"] >= 30, stats
