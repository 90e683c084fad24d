"""How results look: ❌/✅ side-by-side panels, exercise feedback, one plot style for the course (verdicts: claims)."""

from __future__ import annotations

import html
from typing import Iterable

import matplotlib as mpl
import matplotlib.pyplot as plt
from IPython.display import display

BAD, GOOD, NEUTRAL = "#d1495b", "#2e8b57", "#4f6d7a"


def style() -> None:
    """One matplotlib look for every notebook: readable on light and dark themes, labelled, no chart junk."""
    mpl.rcParams.update({
        "figure.figsize": (7.5, 3.6), "figure.dpi": 90, "figure.facecolor": "white", "axes.facecolor": "white",
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "axes.titlesize": 11, "axes.titleweight": "bold", "axes.labelsize": 10, "legend.frameon": False,
        "axes.prop_cycle": mpl.cycler(color=[BAD, GOOD, NEUTRAL, "#edae49", "#00798c", "#66a182"]),
    })


def panel(incorrect: str, correct: str, *, titles: tuple[str, str] = ("❌ Incorrect", "✅ Correct")) -> None:
    """Show two texts (code or results) side by side: the incorrect pattern left, the correct one right."""
    def box(title: str, body: str, colour: str) -> str:
        return (f'<div style="flex:1;border-left:4px solid {colour};padding:4px 10px;min-width:0">'
                f'<b>{html.escape(title)}</b><pre style="white-space:pre-wrap;margin:4px 0">{html.escape(body)}</pre></div>')
    text = f"{titles[0]}\n{incorrect}\n\n{titles[1]}\n{correct}"
    page = f'<div style="display:flex;gap:12px">{box(titles[0], incorrect, BAD)}{box(titles[1], correct, GOOD)}</div>'
    display({"text/html": page, "text/plain": text}, raw=True)


def check(results: Iterable[tuple[bool, str]]) -> bool:
    """Exercise feedback: print ✅ or ❌ with a hint for each (passed, message); True when all passed."""
    results = list(results)
    for passed, message in results:
        print(("✅ " if passed else "❌ ") + message)
    ok = all(passed for passed, _ in results)
    print("🎉 Well done — that is the pattern." if ok else "Not yet: fix what is marked ❌ and run the cell again.")
    return ok


def plain(label: str) -> str:
    """The label with ❌/✅ swapped for ✗/✓, which matplotlib's default font can draw."""
    return label.replace("❌", "✗").replace("✅", "✓").replace("⚠️", "!")


def bars(ax: plt.Axes, labels: list[str], values: list[float], *, colours: list[str] | None = None,
         fmt: str = "{:,.0f}") -> None:
    """Horizontal bars with their values written at the end (the usual ❌ vs ✅ picture)."""
    colours = colours or [BAD, GOOD, NEUTRAL][: len(values)]
    ax.barh([plain(label) for label in labels], values, color=colours)
    ax.invert_yaxis()
    for y, v in enumerate(values):
        ax.text(v, y, " " + fmt.format(v), va="center", fontsize=9)
    ax.margins(x=0.2)
