"""The project's files agree with each other: pins, conda environment, notebooks, README."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def _conda_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                name, version = line.split("#")[0].strip().split("==")
                pins[name.lower()] = version
        elif dep not in ("python=3.11", "pip"):
            name, version = dep.split("=")
            pins[name.lower()] = version
    return pins


def test_requirements_are_exact_pins():
    pins = _pins(ROOT / "requirements.txt")
    assert len(pins) >= 20 and all(re.fullmatch(r"[0-9][0-9a-z.]*", v) for v in pins.values())


def test_environment_yml_names_the_same_packages_and_versions():
    assert _conda_pins() == _pins(ROOT / "requirements.txt")


def test_constraints_agree_with_requirements():
    req, con = _pins(ROOT / "requirements.txt"), _pins(ROOT / "constraints.txt")
    for name, version in req.items():
        assert con.get(name) == version, f"{name}: requirements {version}, constraints {con.get(name)}"


def test_pyproject_dependencies_are_pinned_in_requirements():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    req = _pins(ROOT / "requirements.txt")
    deps = [dep for extra in project["optional-dependencies"].values() for dep in extra] + project["dependencies"]
    for dep in deps:
        name = re.split(r"[<>=!~ ]", dep)[0].lower()
        assert name in req, f"{name} is a dependency in pyproject.toml but not pinned in requirements.txt"


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1).split("\n")
    assert [line for line in first_block if line] == ["make course", "make test"]
    assert text.index("```bash") < text.index("## ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_clean_with_parameters_first(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), f"{path.name} has stored outputs: run make strip"
    assert "parameters" in code[0]["metadata"].get("tags", []), f"{path.name}: the first code cell must be tagged 'parameters'"
    src = "".join(code[0]["source"])
    assert re.search(r"^dataset = ", src, re.M) and re.search(r"^quick = ", src, re.M)
    assert any("run.save()" in "".join(c["source"]) for c in code), f"{path.name} never saves its results"
    assert any("NBVAL_CHECK_OUTPUT" in "".join(c["source"]) for c in code), f"{path.name} has no cell for nbval to check"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
