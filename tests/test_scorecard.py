"""The scorecard: built from the reference run's ledger, and the README's table never drifts from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import claims, ledger, scorecard

PROJECT = Path(__file__).parents[1]


def test_readme_table_is_generated_from_the_reference_run() -> None:
    """README.md's notebook table is exactly what `python -m helpers.scorecard` makes of results/ledger.jsonl."""
    readme = (PROJECT / "README.md").read_text()
    fresh = scorecard.render_readme(readme, scorecard.scorecard(), scorecard.scorecard(ledger.REFERENCE_REDIS8))
    assert readme == fresh, "README.md's table is stale: run `scripts/refresh` (or `python -m helpers.scorecard`)"


def test_every_notebook_is_in_the_reference_run() -> None:
    """Each notebook under notebooks/ recorded at least one claim in the reference ledger."""
    recorded = set(scorecard.scorecard()["notebook"])
    for nb in sorted((PROJECT / "notebooks").glob("[01][0-9]-*.ipynb")):
        if nb.name[:2] != "00":
            assert nb.name[:2] in recorded, f"{nb.name} has no claims in results/ledger.jsonl: run scripts/refresh {nb}"


def fake_claim(nb: str, title: str, measured: float, threshold: float, *, headline: bool = False, **kw) -> None:
    claims.claim(nb, title, guide="", measured=measured, unit="×", text=f"measured {measured}",
                 holds_if=claims.at_least(threshold), headline=headline, measured_on={"version": "9.9", "source": "x"},
                 **kw)


def test_verdicts_and_headline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verdicts come from the rows; the README shows the claim marked headline=True, borderline ones said so."""
    monkeypatch.setenv("LAB_LEDGER", str(tmp_path / "ledger.jsonl"))
    fake_claim("02", "first claim", 3.14159, 1)
    fake_claim("02", "second claim", 1.1, 1, headline=True)
    fake_claim("03", "a claim", 10, 20, headline=True)
    fake_claim("03", "a judged claim", 10, 20, kind="judgement", verdict="holds with a caveat", why="a reason")
    card = scorecard.scorecard(tmp_path / "ledger.jsonl")
    assert list(card["verdict"]) == ["holds", "holds", "does not hold", "holds with a caveat"]
    table = scorecard.readme_table(card)
    assert "second claim: **1.1 ×** | holds (borderline) |" in table and "first claim" not in table
    assert "| 01 | Data Structures & Keys | *(no headline claim)* |" in table
    assert "Computed from the measurement by a written rule: 3" in table and "judgement of a measurement: 1" in table
    assert "Redis 9.9 (x): 4 claims" in table


def test_headline_boxes_agree_with_the_readme() -> None:
    """The headline verdict box stored in each notebook says what the README's row for that notebook says."""
    readme = (PROJECT / "README.md").read_text()
    for nb in sorted((PROJECT / "notebooks").glob("[01][0-9]-*.ipynb")):
        if nb.name[:2] == "00":
            continue
        boxes = [html for cell in json.loads(nb.read_text())["cells"] for out in cell.get("outputs", [])
                 for html in ["".join(out.get("data", {}).get("text/html", []))] if 'data-headline="true"' in html]
        assert len(boxes) == 1, f"{nb.name}: {len(boxes)} stored headline boxes (run scripts/refresh {nb})"
        verdict = re.search(r'data-verdict="([^"]+)"', boxes[0]).group(1)
        row = next(line for line in readme.splitlines() if line.startswith(f"| {nb.name[:2]} |"))
        assert row.split("|")[4].strip().split(" (")[0] == verdict, f"{nb.name}: box says {verdict}, README: {row}"


def test_reference_run_tests_each_claim_once() -> None:
    """In the reference ledger no claim of a run is recorded twice with different outcomes."""
    rows = ledger.rows(ledger.REFERENCE)
    outcomes: dict[tuple, set] = {}
    for row in rows:
        outcomes.setdefault((row["run"], row["notebook"], row["claim"]), set()).add(row["verdict"])
    twice = {key: seen for key, seen in outcomes.items() if len(seen) > 1}
    assert not twice, f"claims recorded with different outcomes in one run: {twice}"


def test_readme_without_markers_is_an_error() -> None:
    """Rendering into a README that lost its markers fails loudly instead of silently dropping the table."""
    with pytest.raises(ValueError):
        scorecard.render_readme("# no table here", scorecard.scorecard())


def test_reference_ledger_lines_are_json() -> None:
    """Every line of the committed ledger parses and names a notebook, a claim and a verdict."""
    for line in ledger.REFERENCE.read_text().splitlines():
        entry = json.loads(line)
        assert set(ledger.COLUMNS) <= entry.keys()


def test_module_free_notebooks_are_in_the_redis8_run() -> None:
    """Every notebook that needs no module has claims in the Redis 8.2 reference ledger, and nothing else has."""
    from helpers.course import MODULE_FREE

    assert set(scorecard.scorecard(ledger.REFERENCE_REDIS8)["notebook"]) == set(MODULE_FREE), \
        "run `LAB_SERVER=redis8 scripts/refresh`, then `scripts/refresh`"
