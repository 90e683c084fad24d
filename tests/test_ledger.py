"""helpers.ledger: the scorecard file round trip, where the latest record of a (notebook, claim) wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import ledger


@pytest.fixture
def ledger_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ledger file in a temp folder (LAB_LEDGER)."""
    target = tmp_path / "sub" / "ledger.jsonl"
    monkeypatch.setenv("LAB_LEDGER", str(target))
    return target


def test_read_without_a_file_is_empty(ledger_file: Path) -> None:
    """No ledger yet reads as an empty table with the ledger's columns."""
    frame = ledger.read()
    assert frame.empty and list(frame.columns) == ledger.COLUMNS


def test_write_and_read_round_trip(ledger_file: Path) -> None:
    """What write() appends, rows() returns, one JSON line per row, in a folder made on demand."""
    ledger.write({"notebook": "01", "claim": "a", "verdict": "holds"})
    assert ledger.path() == ledger_file and ledger.rows() == [{"notebook": "01", "claim": "a", "verdict": "holds"}]


def test_latest_record_per_claim_wins(ledger_file: Path) -> None:
    """Recording a notebook's claim again replaces it when read; other claims and notebooks stay."""
    for nb, claim, measured in [("01", "A", 2.0), ("01", "B", 5.0), ("02", "A", 7.0), ("01", "A", 3.0)]:
        ledger.write({"notebook": nb, "claim": claim, "measured": measured})
    frame = ledger.read()
    assert len(ledger_file.read_text().splitlines()) == 4 and len(frame) == 3
    latest = frame.set_index(["notebook", "claim"])
    assert latest.loc[("01", "A"), "measured"] == 3.0 and latest.loc[("02", "A"), "measured"] == 7.0
