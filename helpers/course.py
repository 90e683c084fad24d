"""The course at a glance: every notebook's title, time and server needs, read from its first cell."""

from __future__ import annotations

import json
import re

import pandas as pd

from .server import PROJECT


def catalogue() -> pd.DataFrame:
    """One row per notebook: number, title, time, what it needs from the server, and its file."""
    rows = []
    for path in sorted((PROJECT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
        title = re.search(r"^#\s+(.+)$", first, re.M)
        time = re.search(r"\*\*Time:\*\*\s*(.+?)(?:\.\s|\.$|\n)", first)
        needs = re.search(r"\*\*Needs:\*\*\s*(.+?)(?:\n\n|$)", first, re.S)
        rows.append({"#": path.name[:2], "notebook": title.group(1).split("·")[-1].strip() if title else path.stem,
                     "time": time.group(1).strip() if time else "",
                     "needs": " ".join(needs.group(1).split()) if needs else "", "file": path.name})
    return pd.DataFrame(rows).set_index("#")
