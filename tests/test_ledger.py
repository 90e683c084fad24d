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
    assert frame.empty and list(frame.columns) == ["notebook", "claim", "guide", "measured", "unit", "holds",
                                                   "server", "scale", "at"]


def test_record_and_read_round_trip(ledger_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What record() writes, read() returns, one JSON line per record, with the run's scale."""
    monkeypatch.setenv("LAB_SCALE", "small")
    entry = ledger.record("nb01", "pipelining is faster", 12.34567, "x", True, guide="Use pipelines", server="7.4.1")
    assert ledger.path() == ledger_file and json.loads(ledger_file.read_text()) == entry
    row = ledger.read().iloc[0]
    assert (row["notebook"], row["claim"], row["measured"], row["unit"], row["holds"], row["scale"]) == \
        ("nb01", "pipelining is faster", 12.3457, "x", True, "small")


def test_latest_record_per_claim_wins(ledger_file: Path) -> None:
    """Recording a notebook's claim again replaces it when read; other claims and notebooks stay."""
    ledger.record("nb01", "claim A", 2.0, "x", False)
    ledger.record("nb01", "claim B", 5.0, "x", True)
    ledger.record("nb02", "claim A", 7.0, "ms", None)
    ledger.record("nb01", "claim A", 3.0, "x", True)
    frame = ledger.read()
    assert len(ledger_file.read_text().splitlines()) == 4 and len(frame) == 3
    latest = frame.set_index(["notebook", "claim"])
    assert latest.loc[("nb01", "claim A"), "measured"] == 3.0 and latest.loc[("nb01", "claim A"), "holds"]
    assert latest.loc[("nb02", "claim A"), "measured"] == 7.0
