"""The package's architecture, checked: layers that import only the layers below, and no cycle.

``course_utils`` is split into layers (see its ``__init__``): base -> data -> sound -> learning ->
course, and the build tooling (``tools``) beside them. A module may import its own layer and the
layers below; nothing but ``tools`` (and ``python -m course_utils``) imports ``tools``; no notebook
imports ``tools``. The imports are read from the source (``ast``), wherever they are, so an import
inside a function cannot hide a cycle; outside ``tools`` (whose command line loads its
subcommands when they run), the course's own imports sit at the top of the module, where a reader
sees them.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "course_utils"
#: The layers, lowest first.
LAYERS = ("base", "data", "sound", "learning", "course")
#: Beside the layers: may import any of them; only it imports itself.
TOOLS = "tools"


def module_name(path: Path, package: Path) -> str:
    """``course_utils/sound/mel.py`` -> ``course_utils.sound.mel``."""
    rel = path.relative_to(package.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_of(path: Path, package_name: str) -> list[tuple[str, int, bool]]:
    """Every import of a module of ``package_name`` in ``path``: (module, line, at the top level)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == package_name or node.module.startswith(package_name + "."):
                for alias in node.names:  # `from pkg.layer import mod` imports pkg.layer.mod
                    found.append((f"{node.module}.{alias.name}", node.lineno, id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(package_name + "."):
                    found.append((alias.name, node.lineno, id(node) in top))
    return found


def graph(package: Path) -> dict[str, list[tuple[str, int, bool]]]:
    """Module -> the package's modules it imports (names resolved to modules that exist)."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        out = []
        for target, line, at_top in imports_of(path, package.name):
            while target not in modules and "." in target:  # `from pkg.data.audio import load_audio`
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name and target.count(".") >= 2:
                out.append((target, line, at_top))
        edges[name] = out
    return edges


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) >= 3 else None


def problems(package: Path) -> list[str]:
    """Everything that breaks the architecture, one line each (empty: none)."""
    edges, found = graph(package), []
    packages = {module_name(p, package) for p in package.rglob("__init__.py")}
    for module in edges:
        layer = layer_of(module)
        if module in packages:
            continue
        if module.count(".") == 1 and not module.endswith(("__main__",)):
            found.append(f"{module}: a module outside the layers; put it in one of {', '.join(LAYERS + (TOOLS,))}")
        elif layer is not None and layer not in LAYERS + (TOOLS,):
            found.append(f"{module}: unknown layer {layer!r}")
    for module, targets in edges.items():
        src = layer_of(module)
        for target, line, at_top in targets:
            dst = layer_of(target)
            if dst == TOOLS and src != TOOLS and not module.endswith("__main__"):
                found.append(f"{module}:{line} imports the build tooling {target}")
            elif src in LAYERS and dst in LAYERS and LAYERS.index(dst) > LAYERS.index(src):
                found.append(f"{module}:{line} imports {target}, a higher layer ({dst} above {src})")
            if not at_top and src != TOOLS:
                found.append(f"{module}:{line} imports {target} inside a function: move it to the top")
    # cycles (depth-first search over the module graph)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t, _, _ in edges.get(m, []):
            if state.get(t) == 1:
                found.append("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    return found


def test_the_package_keeps_its_layers_and_has_no_cycle():
    assert problems(PACKAGE) == []


def test_every_module_sits_in_a_layer_and_every_layer_has_modules():
    names = {module_name(p, PACKAGE) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    for layer in LAYERS + (TOOLS,):
        assert any(n.startswith(f"course_utils.{layer}.") for n in names), layer
    assert {n for n in names if n.count(".") == 1} == {"course_utils.__main__"}


def test_no_notebook_imports_the_build_tooling():
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert "course_utils.tools" not in code, nb.name
        assert "from course_utils import" not in code, f"{nb.name}: import from a layer, e.g. course_utils.sound"


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


@pytest.mark.parametrize("files, expected", [
    ({"base/a.py": "from pkg.sound import b\n", "sound/b.py": ""}, "a higher layer (sound above base)"),
    ({"sound/a.py": "from pkg.sound import b\n", "sound/b.py": "def f():\n    from pkg.sound import a\n"},
     "import cycle: pkg.sound.a -> pkg.sound.b -> pkg.sound.a"),
    ({"sound/a.py": "def f():\n    from pkg.data import b\n", "data/b.py": ""}, "inside a function"),
    ({"course/a.py": "import pkg.tools.cli\n", "tools/cli.py": ""}, "imports the build tooling"),
    ({"loose.py": ""}, "a module outside the layers"),
], ids=["upward", "cycle", "hidden", "tooling", "outside"])
def test_the_check_finds_each_kind_of_problem(tmp_path, files, expected):
    """The checker is not a formality: each kind of problem, planted in a small package, is found."""
    package = _write(tmp_path, {"__init__.py": "", **files})
    for layer in {rel.split("/")[0] for rel in files if "/" in rel}:
        (package / layer / "__init__.py").write_text("")
    found = problems(package)
    assert any(expected in line for line in found), found


def test_every_cross_reference_in_the_docstrings_names_something_that_exists():
    """``:func:`x``` and friends name a helper of the same module or a full dotted path; after a
    helper moved, a stale reference would send a student looking for nothing."""
    import importlib
    import re

    stale = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path, PACKAGE)
        if name.endswith("__main__"):
            continue
        source = path.read_text()
        tree = ast.parse(source)
        local = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        local |= {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                  for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
        for ref in re.findall(r":(?:func|class|data|meth|mod):`~?([\w.]+)`", source):
            if "." not in ref:
                if ref not in local:
                    stale.append(f"{name}: {ref}")
                continue
            if not ref.startswith("course_utils"):
                continue
            parts = ref.split(".")
            for k in range(len(parts), 0, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:k]))
                    break
                except ImportError:
                    continue
            try:
                for attr in parts[k:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                stale.append(f"{name}: {ref}")
    assert stale == []


def _public_helpers(path: Path) -> list[tuple[str, str]]:
    """(name, docstring) of every public function and class defined at the top of a module."""
    tree = ast.parse(path.read_text())
    return [(n.name, ast.get_docstring(n) or "") for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def helpers_without_a_chapter(package: Path, notebooks: Path) -> list[str]:
    """Public helpers of the layers (not ``tools``) whose docstring names no chapter of ``notebooks``
    (by its stem, ``"09_cnn_multiclass"``): a student who opens the helper cannot find where it
    is taught."""
    stems = [p.stem for p in notebooks.glob("[0-9][0-9]_*.ipynb")]
    missing = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] not in LAYERS:
            continue
        for name, doc in _public_helpers(path):
            if not any(stem in doc for stem in stems):
                missing.append(f"{module_name(path, package)}.{name}")
    return missing


def test_every_public_helper_names_the_chapter_that_teaches_it():
    assert helpers_without_a_chapter(PACKAGE, ROOT / "notebooks") == []


def test_the_chapter_check_finds_a_helper_without_a_chapter(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "03_spectrogram.ipynb").write_text("{}")
    package = _write(tmp_path, {"sound/__init__.py": "", "tools/__init__.py": "",
                                "sound/a.py": 'def taught():\n    """Taught in ``03_spectrogram``."""\n\n'
                                              'def lost():\n    """Does something."""\n\n'
                                              'def _private():\n    pass\n\n'
                                              'class Lost:\n    pass\n',
                                "tools/b.py": 'def build():\n    """A make target."""\n'})
    assert helpers_without_a_chapter(package, notebooks) == ["pkg.sound.a.lost", "pkg.sound.a.Lost"]
