"""The generated parts of the course's documents: every notebook's parameters and "Try it" exercises.

The README and the instructor guide list every notebook's parameters and every "Try it"
exercise. Those lists are generated from the notebooks, so that they cannot go stale:

- :func:`notebook_parameters`: the ``parameters`` cell of a notebook, as (name, default, meaning);
- :func:`exercises`: the "Try it" exercises of a notebook and the hidden solution cells;
- :func:`colab_cells`: every notebook's "Open in Colab" badge (in its title cell) and its Colab
  setup cell (after the parameters cell), as :mod:`course_utils.course.colab` makes them;
- :func:`update_docs`: rewrites the generated blocks of ``README.md`` and ``docs/instructors.md``
  (``tests/test_docs.py`` fails when they differ from the notebooks), and Binder's
  self-contained ``binder/requirements.txt`` from the course's pins
  (:func:`course_utils.tools.pins.write_binder_requirements`; ``tests/test_binder.py``).

Build tooling (:mod:`course_utils.tools`): no notebook imports it.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import nbformat

from course_utils.base import paths
from course_utils.course import colab
from course_utils.data.atomic import write_text_atomic
from course_utils.tools import pins, runner


#: Meanings of the parameters every notebook has, for a cell that gives none in a comment.
COMMON_MEANINGS = {
    "dataset": '"ravdess", "synthetic" or "auto" (RAVDESS when present, otherwise the offline corpus)',
    "quick": "True: the small, fast run (six actors, smaller images, few epochs)",
    "seed": "the seed of every random choice",
}


@dataclass(frozen=True)
class Parameter:
    """One assignment of a ``parameters`` cell: its name, default (as written) and comment. Made by
    :func:`parse_parameters`; a row of the README's parameter tables (:func:`parameter_tables`)."""

    name: str
    default: str
    meaning: str


@dataclass(frozen=True)
class Exercise:
    """One "Try it" exercise: its notebook, number and text, and the cell indices of its solutions.
    Made by :func:`exercises`; a line of the instructor guide's list (:func:`exercise_list`)."""

    notebook: str
    number: int
    text: str
    solution_cells: tuple[int, ...] = field(default=())


def _read(notebook: str | Path) -> nbformat.NotebookNode:
    return nbformat.read(str(notebook), as_version=4)


def parameters_cell(notebook: str | Path) -> str:
    """The source of the cell tagged ``parameters`` (papermill injects its values after it). Used by
    :func:`notebook_parameters`, so by :func:`update_docs` and ``tests/test_docs.py``."""
    for cell in _read(notebook).cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell.source
    raise ValueError(f"{Path(notebook).name} has no cell tagged 'parameters'")


def parse_parameters(source: str) -> list[Parameter]:
    """The assignments of a ``parameters`` cell, in order: ``name = value  # meaning``.

    The default is the value's source text; the meaning is the comment on the assignment's
    last line (or :data:`COMMON_MEANINGS` for ``dataset``, ``quick`` and ``seed`` without one).
    Used by :func:`notebook_parameters` and the tests.
    """
    tree = ast.parse(source)
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name = node.target.id
        else:
            continue
        meaning = comments.get(node.end_lineno) or comments.get(node.lineno) or COMMON_MEANINGS.get(name, "")
        found.append(Parameter(name, ast.get_source_segment(source, node.value), meaning))
    return found


def notebook_parameters(notebook: str | Path) -> list[Parameter]:
    """Every parameter of a notebook, from its ``parameters`` cell (see :func:`parse_parameters`).
    Used by :func:`parameter_tables` and by ``tests/test_docs.py`` (the README's defaults are the
    notebooks')."""
    return parse_parameters(parameters_cell(notebook))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def parameter_tables(notebooks: Iterable[str | Path] | None = None) -> str:
    """Markdown: one folded table (parameter, default, meaning) per notebook, for the README
    (:func:`update_docs`); ``tests/test_docs.py`` fails when the README's block differs from it."""
    notebooks = list(notebooks) if notebooks is not None else runner.list_notebooks()
    parts = []
    for nb in notebooks:
        params = notebook_parameters(nb)
        rows = [f"| `{p.name}` | `{_cell(p.default)}` | {_cell(p.meaning)} |" for p in params]
        parts.append("\n".join([
            f"<details><summary><code>{Path(nb).stem}</code>: {len(params)} parameters</summary>",
            "",
            "| parameter | default | meaning |",
            "|---|---|---|",
            *rows,
            "",
            "</details>",
        ]))
    return "\n\n".join(parts)


_HEADING = re.compile(r"^#{1,6}\s")
_TRY_IT = re.compile(r"^##\s+Try it\s*$")
_ITEM = re.compile(r"^(?:(\d+)\.|\*\*(\d+)\.\*\*)\s+(.*\S)\s*$")


def exercises(notebook: str | Path) -> list[Exercise]:
    """The "Try it" exercises of a notebook, numbered as in the notebook.

    The section starts at the heading ``## Try it`` and ends at the next heading. Exercises are
    written as a numbered list (``1. ...``) or one per cell (``**1.** ...``); their solutions are
    the code cells tagged ``solution`` in the section, given to the exercises in order (the
    last exercise takes any left over). Used by :func:`exercise_list` and by ``tests/test_docs.py``
    (every exercise has a hidden solution).
    """
    cells = _read(notebook).cells
    items: list[tuple[int, str]] = []
    solutions: list[int] = []
    inside = False
    for index, cell in enumerate(cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if _TRY_IT.match(line):
                    inside = True
                elif _HEADING.match(line) and inside:
                    inside = False
                    break
                elif inside and (m := _ITEM.match(line.strip())):
                    items.append((int(m.group(1) or m.group(2)), m.group(3)))
            if not inside and items:
                break
        elif inside and "solution" in cell.metadata.get("tags", []):
            solutions.append(index)
    name = Path(notebook).stem
    out = []
    for k, (number, text) in enumerate(items):
        mine = solutions[k:k + 1] if k < len(items) - 1 else solutions[k:]
        out.append(Exercise(name, number, text, tuple(mine)))
    return out


def exercise_list(notebooks: Iterable[str | Path] | None = None) -> str:
    """Markdown: every "Try it" exercise, by chapter, for the instructor guide (:func:`update_docs`);
    ``tests/test_docs.py`` fails when the guide's block differs from it."""
    notebooks = list(notebooks) if notebooks is not None else runner.list_notebooks()
    parts = []
    for nb in notebooks:
        found = exercises(nb)
        lines = [f"**`{Path(nb).stem}`** ({len(found)} exercise{'' if len(found) == 1 else 's'})", ""]
        lines += [f"{e.number}. {e.text}" for e in found]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def marker(name: str, end: bool = False) -> str:
    """The HTML comment that opens (or closes) the generated block ``name``. Used by
    :func:`generated_block` and :func:`replace_block`, and by the tests."""
    if end:
        return f"<!-- END generated {name} -->"
    return f"<!-- BEGIN generated {name}: made by course_utils.tools.docs.update_docs() from the notebooks; do not edit -->"


def generated_block(text: str, name: str) -> str:
    """The text between the markers of block ``name`` (without its surrounding newlines). Used by
    :func:`replace_block` and by ``tests/test_docs.py`` (is the block up to date?)."""
    begin, end = marker(name), marker(name, end=True)
    if begin not in text or end not in text:
        raise ValueError(f"block {name!r} not found: the text needs the lines {begin!r} and {end!r}")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with the generated block ``name`` replaced by ``content``. Used by :func:`update_docs`."""
    generated_block(text, name)  # checks the markers
    head, rest = text.split(marker(name), 1)
    tail = rest.split(marker(name, end=True), 1)[1]
    return f"{head}{marker(name)}\n{content}\n{marker(name, end=True)}{tail}"


#: The id of every chapter's Colab setup cell (ids are unique within a notebook, not across them).
SETUP_CELL_ID = "colab-setup"


def colab_cells(notebook: str | Path, *, write: bool = True) -> bool:
    """Put the "Open in Colab" badge (:func:`course_utils.course.colab.badge`) on the line after the
    title of ``notebook``'s first cell, and the setup cell
    (:func:`course_utils.course.colab.setup_cell_source`) right after its parameters cell, or bring
    them up to date; returns whether anything changed (``write=False``: only say so). Run by
    :func:`update_docs`; ``tests/test_colab.py`` checks every chapter."""
    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    changed = False
    title = nb.cells[0]
    lines = title.source.split("\n")
    if title.cell_type != "markdown" or not lines[0].startswith("# "):
        raise ValueError(f"{path}: the first cell must be the Markdown title ('# N. Title'), found {lines[0][:60]!r}")
    badge = colab.badge(path)
    kept = [line for line in lines[1:] if not line.startswith("[![Open In Colab]")]
    while kept and not kept[0].strip():
        kept.pop(0)
    source = "\n".join([lines[0], "", badge, "", *kept])
    if source != title.source:
        title.source, changed = source, True
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{path}: expected one cell tagged 'parameters', found {len(tagged)}")
    setup = colab.setup_cell_source()
    old = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith(colab.SETUP_MARKER)]
    if old != [tagged[0] + 1] or nb.cells[tagged[0] + 1].source != setup:
        for i in reversed(old):
            del nb.cells[i]
        cell = nbformat.v4.new_code_cell(setup)
        cell.id = SETUP_CELL_ID
        nb.cells.insert(tagged[0] + 1, cell)
        changed = True
    if changed and write:
        write_text_atomic(path, nbformat.writes(nb) + "\n")
    return changed


def update_docs(readme: str | Path | None = None, guide: str | Path | None = None,
                notebooks: Iterable[str | Path] | None = None) -> list[Path]:
    """Rewrite the generated blocks: the parameter tables of ``README.md`` and the exercise list
    of ``docs/instructors.md``, every notebook's Colab badge and setup cell (:func:`colab_cells`),
    and ``binder/requirements.txt`` (the course's pins, for Binder,
    when ``readme`` is the project's own and the project has a ``binder/`` folder). Returns the files that changed. No ``make`` target runs it: run it
    by hand after changing a notebook's parameters or exercises
    (``.venv/bin/python -c "from course_utils.tools import docs; docs.update_docs()"``, as the
    README and the guide say, and as ``tests/test_docs.py`` asks when a block is stale)."""
    root = paths.project_root()
    readme = Path(readme) if readme is not None else root / "README.md"
    guide = Path(guide) if guide is not None else root / "docs" / "instructors.md"
    notebooks = list(notebooks) if notebooks is not None else runner.list_notebooks()
    changed = [Path(nb) for nb in notebooks if colab_cells(nb)]
    for path, name, content in ((readme, "parameters", parameter_tables(notebooks)),
                                (guide, "exercises", exercise_list(notebooks))):
        old = path.read_text()
        new = replace_block(old, name, content)
        if new != old:
            write_text_atomic(path, new)
            changed.append(path)
    if readme.resolve() == (root / "README.md").resolve() and (root / "binder").is_dir():
        binder = pins.write_binder_requirements(root)
        if binder is not None:
            changed.append(binder)
    return changed
