"""Binder gets the course's environment: the same pins, the same Python, a postBuild that works.

repo2docker (Binder's builder) reads only binder/ when that folder exists; it installs
binder/requirements.txt with pip (self-contained: generated from the course's pins, see
course_utils.tools.pins), sets
Python from binder/runtime.txt (one line, ``python-X.Y``) and runs binder/postBuild.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from course_utils.tools import cli, pins, warmup

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def _norm(name: str) -> str:
    """A package name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve_requirements(path: Path, _seen: frozenset = frozenset()) -> tuple[dict[str, str], dict[str, str]]:
    """``(requirements, constraints)`` of a pip requirements file, as pip reads it.

    ``-r`` / ``--requirement`` files are read recursively and ``-c`` / ``--constraint`` files
    give constraints, both relative to the file that names them. Only exact ``name==version``
    pins are allowed; anything else fails the test that reads the file.
    """
    path = path.resolve()
    assert path.is_file(), f"{path} (named in a requirements file) does not exist"
    assert path not in _seen, f"{path} includes itself"
    reqs, cons = {}, {}
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        option = re.fullmatch(r"(-r|--requirement|-c|--constraint)[ =]\s*(\S+)", line)
        if option:
            sub_req, sub_con = resolve_requirements(path.parent / option.group(2), _seen | {path})
            if option.group(1) in ("-r", "--requirement"):
                reqs.update(sub_req)
                cons.update(sub_con)
            else:  # everything a constraints file names constrains
                cons.update(sub_req)
                cons.update(sub_con)
            continue
        pin = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)", line)
        assert pin, f"{path.name}: {line!r} is not an exact pin (name==version)"
        reqs[_norm(pin.group(1))] = pin.group(2)
    return reqs, cons


def _conda_pins() -> dict[str, str]:
    """environment.yml's pins: conda ``name=version`` and the pip section's ``name==version``."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        lines = dep["pip"] if isinstance(dep, dict) else [dep]
        for line in lines:
            name, _, version = line.split("#")[0].strip().replace("==", "=").partition("=")
            if name not in ("python", "pip"):
                pins[_norm(name)] = version
    return pins


def is_local_pip_requirement(line: str) -> bool:
    """repo2docker's rule (``repo2docker/utils.py``, same name): does a requirements line name a
    local file? One such line makes repo2docker install the requirements after copying the
    repository, on every build, instead of in a cached layer."""
    line = line.split("#", 1)[0].strip()
    if not line:
        return False
    if line.startswith(("-r", "-c")):
        return True
    if line.startswith("-"):
        line = line.split(None, 1)[1]
    if "file://" in line:
        return True
    path = line.split("://", 1)[1] if "://" in line else line
    return path.startswith(".")


def test_binder_requirements_name_no_local_file():
    """So that repo2docker installs the stack in a cached layer, before copying the repository."""
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    assert not [line for line in lines if is_local_pip_requirement(line)]
    assert is_local_pip_requirement("-r ../requirements.txt") and is_local_pip_requirement("-c ../constraints.txt")
    assert is_local_pip_requirement("-e .") and not is_local_pip_requirement("numpy==2.4.6  # direct")


def test_binder_requirements_are_generated_from_the_course_pins():
    assert (BINDER / "requirements.txt").read_text() == pins.binder_requirements(ROOT), (
        "binder/requirements.txt is stale. Fix: .venv/bin/python -c "
        "\"from course_utils.tools import docs; docs.update_docs()\"")


def test_binder_requirements_are_the_course_pins():
    binder_req, binder_con = resolve_requirements(BINDER / "requirements.txt")
    course_req, _ = resolve_requirements(ROOT / "requirements.txt")
    course_con, _ = resolve_requirements(ROOT / "constraints.txt")
    assert binder_req == course_con and not binder_con and len(binder_req) > 100
    assert {k: binder_req[k] for k in course_req} == course_req and len(course_req) >= 20


def test_binder_pins_the_versions_of_environment_yml():
    course_req, _ = resolve_requirements(ROOT / "requirements.txt")
    assert _conda_pins() == course_req


def test_the_pin_check_fails_on_a_changed_pin(tmp_path):
    """A changed pin in constraints.txt changes Binder's file; a contradiction between the two
    course files is refused with the fix."""
    for name in ("requirements.txt", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "binder").mkdir()
    shutil.copy(BINDER / "requirements.txt", tmp_path / "binder" / "requirements.txt")
    assert pins.write_binder_requirements(tmp_path) is None  # the copy is up to date
    text = (tmp_path / "constraints.txt").read_text()
    (tmp_path / "constraints.txt").write_text(re.sub(r"(?m)^absl-py==.*$", "absl-py==1.0.0", text))
    assert pins.binder_requirements(tmp_path) != (BINDER / "requirements.txt").read_text()
    assert pins.write_binder_requirements(tmp_path) == tmp_path / "binder" / "requirements.txt"
    assert "\nabsl-py==1.0.0\n" in (tmp_path / "binder" / "requirements.txt").read_text()
    (tmp_path / "constraints.txt").write_text(re.sub(r"(?m)^numpy==.*$", "numpy==1.0.0", text))
    with pytest.raises(ValueError, match="numpy is .* in requirements.txt but 1.0.0 in constraints.txt"):
        pins.binder_requirements(tmp_path)
    (tmp_path / "constraints.txt").write_text(re.sub(r"(?m)^numpy==.*\n", "", text))
    with pytest.raises(ValueError, match="constraints.txt does not name it"):
        pins.binder_requirements(tmp_path)
    (tmp_path / "constraints.txt").write_text(text + "numpy>=2\n")
    with pytest.raises(ValueError, match="not an exact pin"):
        pins.binder_requirements(tmp_path)


def test_runtime_txt_is_the_course_python():
    text = (BINDER / "runtime.txt").read_text()
    assert re.fullmatch(r"python-3\.\d+\n?", text), "runtime.txt must be the single line python-X.Y"
    version = text.strip().removeprefix("python-")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python={version}" in env["dependencies"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"{version}.0" in SpecifierSet(requires)
    assert f"python{version}" in (ROOT / "Makefile").read_text()


def test_postbuild_is_an_executable_strict_bash_script():
    script = BINDER / "postBuild"
    assert os.access(script, os.X_OK), "repo2docker runs binder/postBuild directly: chmod +x"
    lines = script.read_text().splitlines()
    assert lines[0] in ("#!/usr/bin/env bash", "#!/bin/bash")
    commands = [line.strip() for line in lines[1:] if line.strip() and not line.lstrip().startswith("#")]
    assert commands[0] == "set -euo pipefail", "a failed step must fail the build"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0


def _course_utils_calls() -> list[list[str]]:
    calls = []
    for line in (BINDER / "postBuild").read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:3] == ["python", "-m", "course_utils"]:
            calls.append(words[3:])
    return calls


def test_postbuild_only_calls_commands_of_the_course_cli():
    calls = _course_utils_calls()
    assert [c[0] for c in calls] == ["get-data", "warm-cache"]
    parser = cli.build_parser()
    for args in calls:
        try:
            parsed = parser.parse_args(args)
        except SystemExit as exc:  # argparse: unknown command, option or choice
            command = " ".join(args)
            raise AssertionError(f"postBuild calls `python -m course_utils {command}`, which the CLI rejects") from exc
        assert callable(parsed.func)
    warm = parser.parse_args(calls[1])
    assert warm.dataset == "synthetic" and warm.whole_second_mtimes and warm.profile in warmup.PROFILES
    assert parser.parse_args(calls[0]).dest == "data", "the corpus goes where the notebooks look (data/)"


def test_the_cli_check_fails_on_an_unknown_command():
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["warm-caches", "--dataset", "synthetic"])


# --------------------------------------------------------------------------- the README's badge


def repository_url() -> str:
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    return urls["Repository"]


def binder_link(repository: str) -> str:
    """The Binder address of the course: JupyterLab opened on notebooks/."""
    owner_repo = urlparse(repository).path.strip("/").removesuffix(".git")
    return f"https://mybinder.org/v2/gh/{owner_repo}/HEAD?urlpath=lab/tree/notebooks"


def test_repository_url_is_a_github_repository():
    url = urlparse(repository_url())
    assert url.scheme == "https" and url.netloc == "github.com" and len(url.path.strip("/").split("/")) == 2


def _check_links(readme: str, repository: str) -> list[str]:
    """The README's mybinder.org links, each checked against the repository; [] when there is none."""
    links = re.findall(r"https?://mybinder\.org/v2/[^\s)\]\"'>]+", readme)
    expected = urlparse(binder_link(repository))
    for link in links:
        got = urlparse(link)
        assert got.scheme == "https", f"{link}: use https"
        assert got.path.split("/")[3:5] == expected.path.split("/")[3:5], \
            f"{link} opens another repository than {repository} (pyproject.toml [project.urls] Repository)"
        assert got.path.startswith("/v2/gh/"), f"{link}: a GitHub repository is /v2/gh/OWNER/REPO/REF"
        assert parse_qs(got.query).get("urlpath") == ["lab/tree/notebooks"], f"{link}: open JupyterLab on notebooks/"
    return links


def test_readme_binder_badge_opens_this_repository_in_jupyterlab():
    readme = (ROOT / "README.md").read_text()
    links = _check_links(readme, repository_url())
    if not links:
        pytest.skip("README.md has no mybinder.org badge yet: add "
                    f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_link(repository_url())})")
    assert "https://mybinder.org/badge_logo.svg" in readme


def test_the_badge_check_fails_on_another_repository():
    good = f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_link(repository_url())})"
    assert _check_links(good, repository_url()) == [binder_link(repository_url())]
    owner = urlparse(repository_url()).path.strip("/").split("/")[0]
    for bad in (good.replace(f"/gh/{owner}/", "/gh/someone-else/"), good.replace("lab/tree/notebooks", "lab"),
                good.replace("https://mybinder", "http://mybinder")):
        with pytest.raises(AssertionError):
            _check_links(bad, repository_url())
