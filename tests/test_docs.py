"""The README and the instructor guide agree with the notebooks and the code.

- README: every parameter of every notebook (name and default) and no stale one; every notebook
  in the chapter map; the data citation; commands, make targets and links that exist.
- docs/instructors.md: the list of "Try it" exercises is the notebooks' own; every exercise has
  a hidden solution; the nbconvert command that strips solutions works as printed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from course_utils.data import download
from course_utils.tools import cli, docs, runner

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "instructors.md"
NOTEBOOKS = runner.list_notebooks(ROOT / "notebooks")
FIX = 'Fix: .venv/bin/python -c "from course_utils.tools import docs; docs.update_docs()"'


def _without_comments(text: str) -> str:
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)


def readme_parameters(text: str) -> dict[str, dict[str, str]]:
    """{notebook: {parameter: default}} from the README's folded tables."""
    found = {}
    sections = re.split(r"<summary><code>", text)[1:]
    for section in sections:
        name = section.split("</code>", 1)[0]
        body = section.split("</details>", 1)[0]
        rows = re.findall(r"^\| `([A-Za-z_]\w*)` \| `(.*?)` \| .*\|$", body, flags=re.M)
        found[name] = {param: default.replace("\\|", "|") for param, default in rows}
    return found


def test_readme_lists_every_parameter_of_every_notebook_and_no_stale_one():
    listed = readme_parameters(README.read_text())
    assert set(listed) == {nb.stem for nb in NOTEBOOKS}, f"notebooks in README vs notebooks/ differ. {FIX}"
    problems = []
    for nb in NOTEBOOKS:
        cell = {p.name: p.default for p in docs.notebook_parameters(nb)}
        readme = listed[nb.stem]
        problems += [f"{nb.stem}: {n} missing from README" for n in cell if n not in readme]
        problems += [f"{nb.stem}: README lists {n}, which the notebook no longer has" for n in readme if n not in cell]
        problems += [f"{nb.stem}: {n} defaults to {cell[n]} in the notebook, {readme[n]} in README"
                     for n in cell if n in readme and cell[n] != readme[n]]
    assert not problems, "\n".join(problems) + f"\n{FIX}"


def test_readme_parameter_parser_sees_a_missing_parameter():
    """The check above can fail: drop one row and it is reported."""
    text = README.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `n_fft` |"))
    listed = readme_parameters(text.replace(row + "\n", "", 1))
    assert "n_fft" not in listed["02_spectrum"] and "n_fft" in listed["03_spectrogram"]


def test_readme_parameter_block_is_generated_from_the_notebooks():
    assert docs.generated_block(README.read_text(), "parameters") == docs.parameter_tables(NOTEBOOKS), FIX


def test_readme_chapter_map_has_every_notebook():
    text = README.read_text()
    chapter_map = text.split("## Chapter map", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\d\d_\w+)` ", chapter_map, flags=re.M)
    assert rows == [nb.stem for nb in NOTEBOOKS]


def test_guide_lists_every_exercise_of_every_notebook():
    block = docs.generated_block(GUIDE.read_text(), "exercises")
    assert block == docs.exercise_list(NOTEBOOKS), FIX
    for nb in NOTEBOOKS:
        assert f"**`{nb.stem}`**" in block


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_exercise_has_a_hidden_solution(notebook):
    found = docs.exercises(notebook)
    assert len(found) >= 2, f"{notebook.stem}: fewer than two 'Try it' exercises"
    assert [e.number for e in found] == list(range(1, len(found) + 1))
    cells = nbformat.read(notebook, as_version=4).cells
    for e in found:
        assert e.solution_cells, f"{notebook.stem}: exercise {e.number} has no cell tagged 'solution'"
        for i in e.solution_cells:
            assert cells[i].cell_type == "code" and cells[i].metadata.get("jupyter", {}).get("source_hidden") is True


def _strip_command() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.S)
    command = next(b for b in blocks if "TagRemovePreprocessor" in b).strip()
    return command.replace(".venv/bin/", f"{Path(sys.executable).parent}/")


def test_the_guides_nbconvert_command_strips_the_solutions(tmp_path):
    names = ["00_getting_the_data.ipynb", "08_cnn_binary.ipynb"]
    (tmp_path / "notebooks").mkdir()
    for name in names:
        shutil.copy(ROOT / "notebooks" / name, tmp_path / "notebooks" / name)
    done = subprocess.run(["bash", "-c", _strip_command()], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in names:
        before = nbformat.read(ROOT / "notebooks" / name, as_version=4).cells
        after = nbformat.read(tmp_path / "students" / name, as_version=4).cells
        kept = [c.source for c in before if "solution" not in c.metadata.get("tags", [])]
        assert len(kept) < len(before)
        assert [c.source for c in after] == kept
        assert any("## Try it" in c.source for c in after)


def test_local_links_point_at_files():
    for doc in (README, GUIDE):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"


def test_commands_and_make_targets_in_the_docs_exist():
    commands = set(cli.build_parser()._subparsers._group_actions[0].choices) | {"seeds"}
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    for doc in (README, GUIDE):
        text = _without_comments(doc.read_text())
        for command in re.findall(r"-m course_utils ([a-z][\w-]*)", text):
            assert command in commands, f"{doc.name}: python -m course_utils {command} does not exist"
        for target in re.findall(r"(?:^|`)make ([a-z][\w-]*)", text, flags=re.M):
            assert target in targets, f"{doc.name}: make {target} is not a Makefile target"


def test_readme_says_how_to_cite_the_data_the_study_and_the_course():
    text = README.read_text()
    cite = text.split("## Citing", 1)[1].split("\n## ", 1)[0]
    for fact in (download.RAVDESS_DOI, download.RAVDESS_RECORD, "10.1371/journal.pone.0196391", "CC BY-NC-SA 4.0",
                 "e0196391", "Livingstone, Steven R. and Russo, Frank A.",
                 "Ravdess Emotional Speech Audio - Multiple Deep Learning approaches for the analysis of audio signals"):
        assert fact in cite, fact
    assert download.RAVDESS_MD5.split(":")[1] in text
    entries = re.findall(r"```bibtex\n(.*?)```", cite, flags=re.S)
    keys = []
    for block in entries:
        assert block.count("{") == block.count("}"), block
        keys += re.findall(r"^@\w+\{([\w-]+),", block, flags=re.M)
    assert len(keys) == len(set(keys)) == 4
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("urls", {})
    if "Repository" in urls:
        assert f"url          = {{{urls['Repository']}}}" in cite


def test_readme_marks_the_places_other_parts_of_issue_6_fill():
    text = README.read_text()
    head = text.split("```bash", 1)[0]
    assert "BINDER" in head or "mybinder.org" in head  # the badge (or its place) opens the page
    assert "make site" in text


def test_exercises_named_in_the_guide_exist():
    """The session plan names exercises as chapter.number (e.g. 07.3): each must exist."""
    text = GUIDE.read_text().split("### Every exercise", 1)[0]
    named = set(re.findall(r"\b(\d\d)\.(\d)\b", text))
    assert len(named) >= 20
    count = {nb.stem[:2]: len(docs.exercises(nb)) for nb in NOTEBOOKS}
    missing = [f"{c}.{k}" for c, k in sorted(named) if int(k) > count.get(c, 0)]
    assert not missing, f"the guide names exercises that do not exist: {missing}"
