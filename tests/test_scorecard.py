"""The scorecard: built from the reference run's ledger, and the README's table never drifts from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import ledger, scorecard

PROJECT = Path(__file__).parents[1]


def test_readme_table_is_generated_from_the_reference_run() -> None:
    """README.md's notebook table is exactly what `python -m helpers.scorecard` makes of results/ledger.jsonl."""
    readme = (PROJECT / "README.md").read_text()
    fresh = scorecard.render_readme(readme, scorecard.scorecard())
    assert readme == fresh, "README.md's table is stale: run `scripts/refresh` (or `python -m helpers.scorecard`)"


def test_every_notebook_is_in_the_reference_run() -> None:
    """Each notebook under notebooks/ recorded at least one claim in the reference ledger."""
    recorded = set(scorecard.scorecard()["notebook"])
    for nb in sorted((PROJECT / "notebooks").glob("[01][0-9]-*.ipynb")):
        if nb.name[:2] != "00":
            assert nb.name[:2] in recorded, f"{nb.name} has no claims in results/ledger.jsonl: run scripts/refresh {nb}"


def test_verdicts_and_headline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """True/False/None become holds / does not hold / holds with a caveat; a notebook's first claim is its headline."""
    monkeypatch.setenv("LAB_LEDGER", str(tmp_path / "ledger.jsonl"))
    ledger.record("02", "first claim", 3.14159, "×", True)
    ledger.record("02", "second claim", 0.5, "s", None)
    ledger.record("03", "a claim", 10, "ms", False)
    card = scorecard.scorecard(tmp_path / "ledger.jsonl")
    assert list(card["verdict"]) == ["holds", "holds with a caveat", "does not hold"]
    table = scorecard.readme_table(card)
    assert "first claim: **3.142 ×**" in table and "second claim" not in table
    assert "| 01 | Data Structures & Keys | *(not written yet)* |" in table


def test_readme_without_markers_is_an_error() -> None:
    """Rendering into a README that lost its markers fails loudly instead of silently dropping the table."""
    with pytest.raises(ValueError):
        scorecard.render_readme("# no table here", scorecard.scorecard())


def test_reference_ledger_lines_are_json() -> None:
    """Every line of the committed ledger parses and names a notebook, a claim and a verdict."""
    for line in ledger.REFERENCE.read_text().splitlines():
        entry = json.loads(line)
        assert {"notebook", "claim", "measured", "unit", "holds"} <= entry.keys()
