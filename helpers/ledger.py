"""The guide's scorecard: every claim a notebook tests is one JSON line in one file (written by `claims.claim`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .server import PROJECT

# The committed reference run (written by scripts/refresh); a learner's own runs go to results/my-ledger.jsonl.
REFERENCE = PROJECT / "results" / "ledger.jsonl"
REFERENCE_REDIS8 = PROJECT / "results" / "ledger-redis8.jsonl"  # the same run's module-free notebooks on Redis 8.2
COLUMNS = ["notebook", "claim", "guide", "measured", "unit", "holds", "verdict", "kind", "rule", "margin",
           "borderline", "why", "headline", "text", "server", "source", "scale", "run", "commit", "at"]


def path() -> Path:
    """The ledger file this process writes: LAB_LEDGER if set, else results/my-ledger.jsonl in the project."""
    return Path(os.environ.get("LAB_LEDGER", PROJECT / "results" / "my-ledger.jsonl"))


def write(row: dict) -> None:
    """Append one claim's row to this process's ledger."""
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


def rows(source: Path | None = None) -> list[dict]:
    """Every row in `source` (default: this process's ledger), in the order written."""
    try:
        lines = (source or path()).read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def read(source: Path | None = None) -> pd.DataFrame:
    """The latest row per (notebook, claim) in `source` (default: this process's ledger)."""
    frame = pd.DataFrame(rows(source), columns=COLUMNS)
    return frame.drop_duplicates(["notebook", "claim"], keep="last").reset_index(drop=True)
