"""Every notebook has the course's shape: title, setup, ❌/✅, a measurement with a plot and asserts, exercise, clean-up."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
RULE_NOTEBOOKS = [nb for nb in NOTEBOOKS if not nb.name.startswith("00-")]


def source(nb: nbformat.NotebookNode, kind: str) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == kind)


@pytest.fixture(params=RULE_NOTEBOOKS, ids=[nb.stem for nb in RULE_NOTEBOOKS])
def notebook(request: pytest.FixtureRequest) -> nbformat.NotebookNode:
    return nbformat.read(request.param, as_version=4)


def test_there_are_notebooks() -> None:
    """The course has its notebooks, named NN-topic.ipynb."""
    assert RULE_NOTEBOOKS, "no notebooks found under notebooks/"


def test_title_time_and_needs(notebook: nbformat.NotebookNode) -> None:
    """The first cell is a title with what you learn, the time it takes and what the server needs."""
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    for word in ("You will learn", "Time:", "Needs:"):
        assert word in first.source, f"the first cell should say '{word}'"


def test_setup_cell_connects_with_a_prefix(notebook: nbformat.NotebookNode) -> None:
    """The first code cell connects through helpers and sets the notebook's own key prefix."""
    setup = next(c for c in notebook.cells if c.cell_type == "code" and "colab" not in c.metadata.get("tags", []))
    assert "lab.connect(" in setup.source and "lab.key_prefix(" in setup.source


def test_rules_follow_the_rhythm(notebook: nbformat.NotebookNode) -> None:
    """Claim, ❌ incorrect, ✅ correct, 📏 measure and a verdict appear, with asserts and at least one plot."""
    md, code = source(notebook, "markdown"), source(notebook, "code")
    for mark in ("The claim", "❌", "✅", "📏"):
        assert mark in md, f"no '{mark}' in the notebook's text"
    assert "lab.claim(" in code, "no verdict: every claim goes through lab.claim(...)"
    assert re.search(r"^assert ", code, re.M), "no assert on a measured property"
    pngs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]
    assert pngs, "no plot in the stored outputs"


def test_exercise_with_check_and_hidden_solution(notebook: nbformat.NotebookNode) -> None:
    """Each notebook has a 'Your turn' with an automatic check, and solutions that are hidden but run."""
    assert "Your turn" in source(notebook, "markdown")
    solutions = [c for c in notebook.cells if "solution" in c.metadata.get("tags", [])]
    assert solutions, "no cell tagged 'solution'"
    for cell in solutions:
        assert cell.metadata.get("jupyter", {}).get("source_hidden"), "solutions should be collapsed"
        assert cell.execution_count is not None and "assert checks." in cell.source


def test_clean_up_and_checklist(notebook: nbformat.NotebookNode) -> None:
    """The notebook ends by deleting its keys and giving a review checklist."""
    md = source(notebook, "markdown")
    assert "## Clean-up" in md and "## Review checklist" in md
    assert "lab.delete_prefix(" in source(notebook, "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_stored_outputs_are_clean(path: Path) -> None:
    """Every code cell was run, in order, and no stored output is an error or a warning."""
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert None not in counts, "some code cells were committed without being run"
    assert counts == sorted(counts), "cells were run out of order"
    for cell in code:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"stored error in cell: {cell.source[:60]!r}"
            assert not (out.output_type == "stream" and out.name == "stderr"), \
                f"stored stderr (a warning?) in cell: {cell.source[:60]!r}"


@pytest.mark.parametrize("path", RULE_NOTEBOOKS, ids=[nb.stem for nb in RULE_NOTEBOOKS])
def test_navigation_links(path: Path) -> None:
    """The title cell links to the previous notebook, and every notebook it links to exists."""
    first = nbformat.read(path, as_version=4).cells[0].source
    links = re.findall(r"\]\((\d\d-[\w-]+\.ipynb)\)", first)
    previous = next(nb.name for nb in NOTEBOOKS if int(nb.name[:2]) == int(path.name[:2]) - 1)
    assert previous in links, f"no link back to {previous}"
    for link in links:
        assert (path.parent / link).exists(), f"dead link to {link}"
