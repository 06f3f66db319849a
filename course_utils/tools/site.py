"""The course website: a static site built from the executed notebooks (``make site``).

``make course`` leaves every chapter executed in ``build/executed/`` (code, printed output,
figures, audio players). :func:`build_site` turns those copies into a website in
``build/site/``: a front page (what the course teaches, the chapter map), one page per
chapter in teaching order (00 ... 17, 99), and a results page with every number the notebooks
recorded (``build/results/*.json``, read with :mod:`course_utils.course.results`). A sidebar lists all
pages and every page links to the previous and the next one. Nothing is executed again: the
site shows the runs that ``make course`` made. Open ``build/site/index.html`` in a browser, or
publish the folder on any static web host.

The tool: **Jupyter Book 1.x** (Sphinx with ``myst-nb``; notebook execution off). It is the
standard for courses built from notebooks, renders the outputs as they are (PNG figures,
HTML tables, the ``<audio>`` players that ``IPython.display.Audio`` writes), gives full-text
search, a sidebar and previous/next links, and needs no Node.js. Its MyST parser needs
``markdown-it-py`` 3, while the course's stack pins 4.3 (through ``rich`` and Keras), so
the two cannot share one environment. The site tools therefore live in a virtual
environment of their own, ``.venv-site`` (``requirements-site.txt`` with every transitive
pin in ``constraints-site.txt``; ``make site`` creates it). That is clean, because the site
build only reads ``.ipynb`` files: this module runs in the course's environment, prepares
the book's sources with ``nbformat`` and calls ``.venv-site/bin/jupyter-book build`` in a
subprocess. ``sphinx-mathjax-offline`` ships MathJax with the site, so formulas render
without a network (a classroom offline, the headless test).

What the site changes in its copies of the notebooks (the executed notebooks stay as they
are):

- cells tagged ``solution`` (the worked solutions of the "Try it" exercises, hidden in
  JupyterLab) are folded behind a "Show the solution" button (tag ``hide-cell``);
- interactive explorers (ipywidgets) need a running kernel: their outputs are replaced by a
  note that says so; the figure the explorer drew at its starting values stays;
- ``stderr`` streams (progress bars, library warnings) are left out, and so is the line
  ``# NBVAL_CHECK_OUTPUT`` that marks cells for the tests.

The build writes into a temporary folder beside ``build/site`` and replaces the old site
with one rename, so a failed build never leaves half a site.

Headless Chromium checks the site (``tests/test_site.py``, with the test-only helpers of
``tests/headless_chromium.py``: the DOM after JavaScript ran, screenshots, is a screenshot more
than a blank page?).

Command line (:func:`add_subcommand`; ``make site`` runs the first)::

    python -m course_utils site                     # build/executed -> build/site
    python -m course_utils site --executed /tmp/run/executed --results /tmp/run/results --output /tmp/run/site

Build tooling (:mod:`course_utils.tools`): no notebook imports it.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pandas as pd
import yaml

from course_utils.base import paths
from course_utils.data import atomic, download
from course_utils.course import results

TITLE = "Deep Learning for Audio Signals"
#: The sidebar's parts: a caption and the chapter numbers it holds (together 00-99); the
#: results page ends the last part, and parts without chapters are left out.
PARTS: tuple[tuple[str, range], ...] = (
    ("Data, sound and spectra", range(0, 5)),
    ("The corpus and a baseline", range(5, 8)),
    ("The study's networks", range(8, 13)),
    ("Beyond the study", range(13, 99)),
    ("Results", range(99, 100)),
)
CHAPTERS_DIR = "chapters"
#: The README section the front page shows (with the README's first paragraph after ``---``).
TEACHES_SECTION = "What the course teaches"
RESULTS_PAGE = "results"
#: Where ``make site`` keeps the site tools (see the module docstring).
SITE_VENV = ".venv-site"
JUPYTER_BOOK_ENV = "COURSE_JUPYTER_BOOK"
EXPLORER_NOTE = (
    '<p class="course-explorer-note"><strong>Interactive explorer.</strong> Its sliders need '
    "a running Python kernel: open this chapter in JupyterLab (the <code>notebooks/</code> "
    "folder) to move them. The figure above or below shows its starting values.</p>"
)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
NO_EXECUTED_FIX = "Fix: run the notebooks first: make course QUICK=1 (small and fast) or make course (full)."


@dataclass(frozen=True)
class Chapter:
    """One executed notebook as a page of the site. Made by :func:`stage_sources` (``make site``, ``python -m course_utils site``)."""

    stem: str  # "03_spectrogram"
    title: str  # "3. The spectrogram" (the notebook's first heading)
    number: int  # 3
    run: str  # "synthetic, full": the dataset and mode it was executed with ("" if unknown)

    @property
    def docname(self) -> str:
        return f"{CHAPTERS_DIR}/{self.stem}"


# --------------------------------------------------------------------------------------
# The chapters: the executed notebooks, made ready for the site
# --------------------------------------------------------------------------------------
def executed_notebooks(executed_dir: str | Path) -> list[Path]:
    """The executed chapters (``NN_name.ipynb``) in ``executed_dir``, in teaching order.

    Raises ``FileNotFoundError`` (with the command that makes them) when there are none. Used by
    :func:`build_site` and :func:`stage_sources` (``make site``, ``python -m course_utils site``), and the tests.
    """
    executed_dir = Path(executed_dir)
    found = sorted(executed_dir.glob("[0-9][0-9]_*.ipynb")) if executed_dir.is_dir() else []
    if not found:
        raise FileNotFoundError(f"No executed notebooks (NN_name.ipynb) in {executed_dir}. {NO_EXECUTED_FIX}")
    return found


def chapter_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The text of the notebook's first Markdown heading (``# 3. The spectrogram``), else ``fallback``.
    Used by :func:`stage_sources` (``make site``, ``python -m course_utils site``) and the tests."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            match = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
            if match:
                return match.group(1).strip()
    return fallback


def _run_label(nb: nbformat.NotebookNode) -> str:
    """The label "synthetic, full" from papermill's record of the parameters it injected ("" if none)."""
    params = nb.metadata.get("papermill", {}).get("parameters", {})
    if "dataset" not in params:
        return ""
    mode = "quick" if params.get("quick") else "full"
    return f"{params['dataset']}, {mode}"


def prepare_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an executed notebook, made ready for the site (see the module docstring). Used by
    :func:`stage_sources` (``make site``, ``python -m course_utils site``) and the tests."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)  # no widget state: the site has no kernel to drive it
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source = re.sub(r"\A# NBVAL_CHECK_OUTPUT[^\n]*\n?", "", cell.source)  # for the tests, not for readers
        tags = list(cell.metadata.get("tags", []))
        if "solution" in tags and "hide-cell" not in tags:
            cell.metadata["tags"] = tags + ["hide-cell"]
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                continue
            if WIDGET_MIME in out.get("data", {}):
                out = nbformat.v4.new_output("display_data", data={"text/html": EXPLORER_NOTE})
            outputs.append(out)
        cell.outputs = outputs
    return nb


def _chapter_number(stem: str) -> int:
    return int(stem[:2])


# --------------------------------------------------------------------------------------
# The book's table of contents and settings
# --------------------------------------------------------------------------------------
def toc_yaml(chapters: list[Chapter]) -> str:
    """Jupyter Book's ``_toc.yml``: the front page, then the chapters in :data:`PARTS`. Used by
    :func:`stage_sources` (``make site``, ``python -m course_utils site``) and the tests."""
    parts = [{"caption": caption, "chapters": [{"file": c.docname} for c in chapters if c.number in numbers]}
             for caption, numbers in PARTS]
    parts[-1]["chapters"].append({"file": RESULTS_PAGE})
    parts = [p for p in parts if p["chapters"]]
    return yaml.safe_dump({"format": "jb-book", "root": "intro", "parts": parts}, sort_keys=False)


def config_yaml(title: str = TITLE) -> str:
    """Jupyter Book's ``_config.yml``: no execution, offline MathJax, the book theme. Used by
    :func:`stage_sources` (``make site``, ``python -m course_utils site``) and the tests."""
    config = {
        "title": title,
        "author": "",
        "copyright": "",
        "only_build_toc_files": True,
        "exclude_patterns": ["_build", "**.ipynb_checkpoints"],
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["amsmath", "colon_fence", "dollarmath", "linkify", "substitution"]},
        "html": {
            "home_page_in_navbar": True,
            "use_download_button": True,
            "extra_footer": "Built with Jupyter Book from the notebooks that <code>make course</code> executed.",
        },
        "sphinx": {
            "extra_extensions": ["sphinx-mathjax-offline"],
            "config": {
                "html_show_copyright": False,
                "html_show_sphinx": False,
                "nb_merge_streams": True,
                # only the exercises' solutions are folded (tag hide-cell): say so on their buttons
                "nb_code_prompt_show": "Show the solution",
                "nb_code_prompt_hide": "Hide the solution",
                "suppress_warnings": ["mystnb.unknown_mime_type", "myst.header"],
                # navbar_persistent []: no empty top bar that only repeats the sidebar's search box
                # (pydata-sphinx-theme 0.17 adds one unless the option is set)
                "html_theme_options": {"navigation_with_keys": True, "show_toc_level": 2, "navbar_persistent": []},
            },
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


# --------------------------------------------------------------------------------------
# The front page and the results page
# --------------------------------------------------------------------------------------
def _readme_intro(readme: str) -> str:
    """What the course teaches: the README's first paragraph after its first ``---`` rule
    (else its first plain paragraph), relative links turned into plain text."""
    lines = readme.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.strip() == "---"), 0)
    current: list[str] = []
    in_fence = False
    for line in lines[start:] + [""]:
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence or (not current and stripped.startswith(("#", "|", ">", "- ", "* ", "![", "[!["))):
            continue
        if stripped:
            current.append(stripped)
        elif current:
            break
    return _plain_relative_links(" ".join(current))


def _plain_relative_links(text: str) -> str:
    """Markdown links to files of the repository (which the site does not have) as plain text."""
    return re.sub(r"\[([^\]]+)\]\((?!https?:|mailto:)[^)]+\)", r"\1", text)


def _readme_section(readme: str, title: str) -> str:
    """The README's section ``## <title>`` (up to the next ``##`` heading), or ""."""
    match = re.search(rf"^## {re.escape(title)}[ \t]*\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    return _plain_relative_links(f"## {title}\n{match.group(1)}".strip()) if match else ""


def _readme_topics(readme: str) -> dict[str, str]:
    """The topic of each notebook from the README's chapter map (``| `03_spectrogram` | ... |``)."""
    topics = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and re.fullmatch(r"`\d\d_\w+`", cells[0]):
            topics[cells[0].strip("`")] = cells[1]
    return topics


def intro_markdown(chapters: list[Chapter], readme: str = "", *, built: str | None = None) -> str:
    """The front page: what the course teaches (the README's opening paragraph and its
    section "What the course teaches"), the chapter map with links and the topic of each
    chapter (from the README's chapter map), how the pages were made, and the data's licence
    and citation. Parts missing from the README are left out. Used by :func:`stage_sources`
    (``make site``, ``python -m course_utils site``) and the tests."""
    built = built or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    intro = _readme_intro(readme) or (
        "An open course that teaches deep learning on audio, one Jupyter notebook per chapter, "
        "built around RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song."
    )
    teaches = _readme_section(readme, TEACHES_SECTION)
    topics = _readme_topics(readme)
    rows = ["| chapter | what it teaches | run |", "|---|---|---|"]
    for c in chapters:
        topic = topics.get(c.stem, "").replace("|", "/")
        rows.append(f"| [{c.title}]({c.docname}.ipynb) | {topic} | {c.run} |")
    rows.append(f"| [Results]({RESULTS_PAGE}.md) | every number the notebooks recorded, in one table | |")
    runs = sorted({c.run for c in chapters if c.run})
    synthetic = any(r.startswith("synthetic") for r in runs)
    note = (
        "\n\n```{note}\nSome chapters ran on the **offline synthetic corpus** (speech synthesized with espeak-ng "
        "in RAVDESS's layout). It teaches the methods; it is not human emotion, and its numbers are not "
        "numbers on real speech.\n```" if synthetic else ""
    )
    return f"""# {TITLE}

{intro}

{teaches}

## Chapters

Each page is a chapter's notebook as `make course` executed it: the text, the code, what it printed,
its figures and its audio players. The worked solutions of the exercises are folded: press
"Show the solution" to see one. The sliders of the interactive explorers need a running kernel: open the
notebooks in JupyterLab for those.

{chr(10).join(rows)}

Built {built} from {len(chapters)} executed notebook(s) (`run`: the dataset and the mode each one ran
with).{note}

## The data

RAVDESS is licensed {download.LICENCE}; each user downloads it from
[Zenodo](https://zenodo.org/records/1188976), and the course never ships its files. Please cite:

> {download.CITATION}
"""


def results_markdown(results_dir: str | Path | None, chapters: list[Chapter]) -> str:
    """The results page: every accuracy recorded for comparison, then every metric,
    chapter by chapter (read with :func:`course_utils.course.results.load_results`). Used by
    :func:`stage_sources` (``make site``, ``python -m course_utils site``) and the tests."""
    table = results.load_results(results_dir)
    accuracies = results.load_accuracies(results_dir)
    titles = {c.stem: c for c in chapters}
    lines = [
        "# Results",
        "",
        "Every number the notebooks recorded (one JSON file per notebook in `build/results/`), "
        "gathered when this site was built. `mode` is quick (the small, fast run) or full; "
        "`seconds` is the notebook's run time.",
        "",
    ]
    if table.empty:
        lines += ["```{warning}", f"No results were recorded yet. {NO_EXECUTED_FIX}", "```", ""]
        return "\n".join(lines)
    if not accuracies.empty:
        acc = accuracies.sort_values(["task", "protocol", "split", "notebook", "model"])
        compact = pd.DataFrame({
            "task": acc["task"],
            "protocol": acc["protocol"] + acc["split"].map(lambda s: "" if s == "test" else f" ({s})"),
            "model": acc["model"],
            "accuracy (%)": (100 * acc["accuracy"]).map(lambda v: f"{v:.1f}"),
            "chapter": acc["notebook"].map(lambda n: f"[{n[:2]}]({titles[n].docname}.ipynb)" if n in titles else n[:2]),
            "run": acc["dataset"] + ", " + acc["mode"],
        })
        runs = compact["run"].unique()
        same_run = ""
        if len(runs) == 1:  # one dataset and mode for every row: say it once, keep the table narrow
            compact = compact.drop(columns="run")
            dataset, mode = runs[0].split(", ")
            same_run = f" Every row comes from a {mode}-mode run on the {dataset} dataset."
        lines += [
            "## Accuracies",
            "",
            "Test accuracies in the form chapter 99 compares them, by task and evaluation protocol: "
            + "; ".join(f"`{k}`: {v}" for k, v in results.PROTOCOLS.items()) + "." + same_run,
            "",
            results.to_markdown(compact),
            "",
        ]
    lines += ["## Every metric, chapter by chapter", ""]
    for notebook, rows in table.groupby("notebook", sort=True):
        first = rows.iloc[0]
        chapter = titles.get(notebook)
        heading = chapter.title if chapter else f"{notebook} (no page: not executed)"
        page = f"[The chapter]({chapter.docname}.ipynb) ran on dataset" if chapter else "Dataset"
        lines += [
            f"### {heading}",
            "",
            f"{page} {first['dataset']}, {first['mode']} mode, {first['seconds']:g} s, written {first['written']}.",
            "",
            results.to_markdown(rows[["metric", "value"]]),
            "",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# The book's sources, written
# --------------------------------------------------------------------------------------
def stage_sources(
    executed_dir: str | Path,
    src: str | Path,
    *,
    results_dir: str | Path | None = None,
    readme: str | Path | None = None,
) -> list[Chapter]:
    """Write the book's sources into ``src`` (config, table of contents, front page,
    results page, the prepared notebooks); return the chapters in order. Used by
    :func:`build_site` (``make site``) and the tests."""
    src = Path(src)
    (src / CHAPTERS_DIR).mkdir(parents=True, exist_ok=True)
    chapters = []
    for path in executed_notebooks(executed_dir):
        nb = nbformat.read(path, as_version=4)
        chapters.append(Chapter(path.stem, chapter_title(nb, path.stem), _chapter_number(path.stem), _run_label(nb)))
        nbformat.write(prepare_notebook(nb), src / CHAPTERS_DIR / path.name)
    readme = Path(readme) if readme is not None else paths.project_root() / "README.md"
    readme_text = readme.read_text() if readme.is_file() else ""
    (src / "_config.yml").write_text(config_yaml())
    (src / "_toc.yml").write_text(toc_yaml(chapters))
    (src / "intro.md").write_text(intro_markdown(chapters, readme_text))
    (src / f"{RESULTS_PAGE}.md").write_text(results_markdown(results_dir, chapters))
    return chapters


# --------------------------------------------------------------------------------------
# Building the site
# --------------------------------------------------------------------------------------
def find_jupyter_book() -> str:
    """The ``jupyter-book`` program: ``$COURSE_JUPYTER_BOOK``, else the one in ``.venv-site``,
    else one on the ``PATH``. Used by :func:`build_site` (``make site``, ``python -m course_utils site``) and the tests."""
    env = os.environ.get(JUPYTER_BOOK_ENV)
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"${JUPYTER_BOOK_ENV} is {env}, which does not exist.")
        return env
    local = paths.project_root() / SITE_VENV / "bin" / "jupyter-book"
    if local.is_file():
        return str(local)
    found = shutil.which("jupyter-book")
    if found:
        return found
    raise FileNotFoundError(
        f"Jupyter Book is not installed (looked in {local.parent} and on the PATH). "
        "Fix: make site (it creates .venv-site from requirements-site.txt)."
    )


def build_site(
    executed_dir: str | Path | None = None,
    output: str | Path | None = None,
    *,
    results_dir: str | Path | None = None,
    readme: str | Path | None = None,
    jupyter_book: str | None = None,
    timeout: float | None = 1800,
) -> Path:
    """Build the site from the executed notebooks; return the folder (``build/site``).

    ``executed_dir`` defaults to ``build/executed``, ``output`` to ``build/site``,
    ``results_dir`` to ``build/results``. Raises ``FileNotFoundError`` when there are no
    executed notebooks or no Jupyter Book, ``RuntimeError`` (with the end of its log) when
    Jupyter Book fails; the previous site is then left as it was. Used by
    ``python -m course_utils site`` (``make site``) and the tests.
    """
    executed_dir = Path(executed_dir) if executed_dir is not None else paths.build_dir() / "executed"
    output = Path(output) if output is not None else paths.build_dir() / "site"
    executed_notebooks(executed_dir)  # fail early, before anything is written
    program = jupyter_book or find_jupyter_book()
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}-build-", dir=output.parent))
    try:
        t0 = time.perf_counter()
        chapters = stage_sources(executed_dir, work / "src", results_dir=results_dir, readme=readme)
        print(f"Building the site from {len(chapters)} executed notebook(s) in {executed_dir} ...", flush=True)
        cmd = [program, "build", str(work / "src"), "--path-output", str(work / "out"), "--builder", "html"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        html = work / "out" / "_build" / "html"
        if proc.returncode != 0 or not (html / "index.html").is_file():
            log = (proc.stdout + proc.stderr)[-3000:]
            raise RuntimeError(f"Jupyter Book failed (exit status {proc.returncode}); the site was not changed. Its log ends:\n{log}")
        atomic.replace_dir(html, output)
        print(f"Site written to {output} in {time.perf_counter() - t0:.0f} s: open {output / 'index.html'}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return output


# --------------------------------------------------------------------------------------
# The command line: python -m course_utils site
# --------------------------------------------------------------------------------------
def _site_command(args: argparse.Namespace) -> int:
    build_site(args.executed, args.output, results_dir=args.results)
    return 0


def add_subcommand(sub) -> argparse.ArgumentParser:
    """Add the ``site`` command to the subparsers ``sub`` of ``python -m course_utils``. Used by
    :func:`course_utils.tools.cli.build_parser`."""
    p = sub.add_parser("site", help="build the course website from the executed notebooks into build/site")
    p.add_argument("--executed", default=str(paths.build_dir() / "executed"), help="executed notebooks (default: %(default)s)")
    p.add_argument("--results", default=str(paths.results_dir()), help="results JSON files (default: %(default)s)")
    p.add_argument("--output", default=str(paths.build_dir() / "site"), help="the site folder (default: %(default)s)")
    p.set_defaults(func=_site_command)
    return p
