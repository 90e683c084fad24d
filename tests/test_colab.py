"""Google Colab: every notebook opens there with one click, and its first cell installs the course inside Colab only.

Colab itself is not reachable from here: the set-up cell runs with a stand-in `google.colab` module, cloning this
repository and installing requirements-colab.txt into this environment (already satisfied, so nothing changes).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).parents[1]
NOTEBOOKS = sorted((PROJECT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def colab_cell(path: Path) -> dict:
    return next(c for c in cells(path) if c["cell_type"] == "code")


def stand_in_colab(tmp_path: Path) -> Path:
    """A folder with an empty `google.colab` package: put it on PYTHONPATH and the cell believes it is in Colab."""
    fake = tmp_path / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text("")
    return fake


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_badge_and_setup_cell(path: Path) -> None:
    """The title cell links this notebook in Colab; the first code cell is the course's Colab cell, tagged colab."""
    title = "".join(cells(path)[0]["source"])
    assert f"colab.research.google.com/github/OWNER/REPO/blob/main/notebooks/{path.name})" in title
    first = colab_cell(path)
    assert "colab" in first["metadata"].get("tags", [])
    assert "".join(first["source"]) == "".join(colab_cell(NOTEBOOKS[0])["source"]), "one Colab cell for all notebooks"


def test_colab_requirements_are_the_course_pins() -> None:
    """requirements-colab.txt repeats requirements.txt's pins and leaves Colab's own Jupyter and numpy stack alone."""
    pins = lambda name: {l.strip() for l in (PROJECT / name).read_text().splitlines() if l.strip() and l[0] != "#"}
    colab = pins("requirements-colab.txt")
    assert colab <= pins("requirements.txt")
    assert not {l for l in colab if re.match(r"(jupyterlab|ipykernel|numpy|pandas|matplotlib|-e)\b", l)}


def test_setup_cell_does_nothing_outside_colab(tmp_path: Path) -> None:
    """Outside Colab the cell neither clones nor installs nor moves: cwd and sys.path stay as they were."""
    code = "".join(colab_cell(NOTEBOOKS[0])["source"])
    probe = f"import os, sys\nbefore = (os.getcwd(), list(sys.path))\n{code}\nprint(before == (os.getcwd(), sys.path))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, COURSE_DIR=str(tmp_path / "course")))
    assert done.stdout.strip() == "True", done.stderr
    assert not (tmp_path / "course").exists()


def test_setup_cell_in_a_simulated_colab(tmp_path: Path) -> None:
    """With google.colab importable, the cell clones the course, installs its packages and makes `helpers` importable."""
    fake = stand_in_colab(tmp_path)
    course = tmp_path / "course"
    code = "".join(colab_cell(NOTEBOOKS[0])["source"])
    probe = (f"import google.colab\n{code}\nimport helpers\n"
             "print(os.getcwd()); print(helpers.__file__)")
    env = dict(os.environ, PYTHONPATH=str(fake), COURSE_DIR=str(course), COURSE_REPO=str(PROJECT),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=env)
    assert done.returncode == 0, done.stderr[-1500:]
    cwd, helpers_file = done.stdout.strip().splitlines()[-2:]
    assert cwd == str(course / "notebooks") and helpers_file.startswith(str(course))
    assert (course / "requirements-colab.txt").exists()


def test_setup_cell_says_what_to_do_when_the_clone_fails(tmp_path: Path) -> None:
    """A repository that cannot be cloned (the unpublished OWNER/REPO placeholder) gives one sentence, not a traceback."""
    fake = stand_in_colab(tmp_path)
    code = "".join(colab_cell(NOTEBOOKS[0])["source"])
    env = dict(os.environ, PYTHONPATH=str(fake), COURSE_DIR=str(tmp_path / "course"),
               COURSE_REPO=str(tmp_path / "nowhere"), GIT_TERMINAL_PROMPT="0")
    done = subprocess.run([sys.executable, "-c", f"import google.colab\n{code}"], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "Could not fetch the course from" in done.stderr and "COURSE_REPO" in done.stderr
