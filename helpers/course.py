"""The course at a glance: every notebook's title, time and server needs, read from its first cell."""

from __future__ import annotations

import json
import re

import pandas as pd

from .server import PROJECT

# The notebooks that need no module (Query Engine, JSON): they run, and are tested, on Redis 8.2 too.
MODULE_FREE = ("01", "02", "03", "08", "09", "10", "11")


def module_free() -> list[str]:
    """Paths of the notebooks that run on a server without modules, relative to the project."""
    return [str(p.relative_to(PROJECT)) for p in sorted((PROJECT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
            if p.name[:2] in MODULE_FREE]


if __name__ == "__main__":
    print(" ".join(module_free()))


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
