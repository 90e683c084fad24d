"""The guide's scorecard: every notebook records each claim it tested, one JSON line per claim, in one file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd

from . import server as _server
from .server import PROJECT


# The committed reference run (written by scripts/refresh); a learner's own runs go to results/my-ledger.jsonl.
REFERENCE = PROJECT / "results" / "ledger.jsonl"


def path() -> Path:
    """The ledger file this process writes: LAB_LEDGER if set, else results/my-ledger.jsonl in the project."""
    return Path(os.environ.get("LAB_LEDGER", PROJECT / "results" / "my-ledger.jsonl"))


def record(notebook: str, claim: str, measured: float, unit: str, holds: bool | None, *, guide: str = "",
           server: str = "") -> dict:
    """Record one tested claim (the latest record of a notebook's claim wins when read)."""
    if not server and _server.last_server is not None:
        server = f"Redis {_server.last_server.version}"
    entry = {"notebook": notebook, "claim": claim, "guide": guide, "measured": round(float(measured), 4),
             "unit": unit, "holds": None if holds is None else bool(holds), "server": server, "scale": os.environ.get("LAB_SCALE", "full"),
             "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def read(source: Path | None = None) -> pd.DataFrame:
    """All claims recorded in `source` (default: this process's ledger), the latest per (notebook, claim)."""
    try:
        lines = (source or path()).read_text().splitlines()
    except OSError:
        lines = []
    rows = [json.loads(line) for line in lines if line.strip()]
    columns = ["notebook", "claim", "guide", "measured", "unit", "holds", "server", "scale", "at"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.drop_duplicates(["notebook", "claim"], keep="last").reset_index(drop=True)
