"""One claim, one verdict, one record: the rule that decides is written beside the claim, and the box and the ledger
row come from the same object, so they cannot disagree.

    lab.claim("03", "Pipeline vs sequential GETs, 1,000 keys", guide="5-10x faster for batch operations",
              measured=speedup, unit="× faster", holds_if=lab.at_least(5),
              text=f"The pipeline was {speedup:.1f}× faster for 1,000 keys on loopback.")
"""

from __future__ import annotations

import html
import math
import numbers
import os
import subprocess
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import ledger
from . import server as _server
from .show import BAD, GOOD

HOLDS, FAILS, CAVEAT = "holds", "does not hold", "holds with a caveat"
VERDICTS = (HOLDS, FAILS, CAVEAT)
KINDS = {
    "measured": "computed from the measurement by the rule shown",
    "scripted": "a deterministic scenario: the count is a property of the script, not of chance",
    "judgement": "the author's reading of the measurement",
}
BORDERLINE = 0.25  # a computed claim within ±25 % of its threshold is borderline: another machine may flip it


@dataclass(frozen=True)
class Rule:
    """`measured OP threshold` decides whether a claim holds; `margin` is measured ÷ threshold."""

    op: str
    threshold: float

    def passes(self, value: float) -> bool:
        """True when `value` satisfies the rule."""
        return {">=": value >= self.threshold, "<=": value <= self.threshold, "==": value == self.threshold}[self.op]

    def margin(self, value: float) -> float | None:
        """measured ÷ threshold (None for an exact count or a zero threshold, where a margin means nothing)."""
        if self.op == "==" or self.threshold == 0:
            return None
        return value / self.threshold

    def borderline(self, value: float) -> bool:
        """True when `value` lies within ±25 % of the threshold."""
        margin = self.margin(value)
        return margin is not None and abs(margin - 1) <= BORDERLINE

    def __str__(self) -> str:
        symbol = {">=": "≥", "<=": "≤", "==": "="}[self.op]
        return f"{symbol} {_number(self.threshold)}"


def at_least(threshold: float) -> Rule:
    """The claim holds if the measurement is ≥ `threshold`."""
    return Rule(">=", float(threshold))


def at_most(threshold: float) -> Rule:
    """The claim holds if the measurement is ≤ `threshold`."""
    return Rule("<=", float(threshold))


def exactly(value: float) -> Rule:
    """The claim holds if the measurement equals `value` (a count)."""
    return Rule("==", float(value))


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


@lru_cache(maxsize=1)
def _commit() -> str:
    try:
        done = subprocess.run(["git", "-C", str(_server.PROJECT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


_RUN = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"


def run_id() -> str:
    """The id of this run: LAB_RUN_ID (scripts/refresh sets one for all notebooks), else one per kernel."""
    return os.environ.get("LAB_RUN_ID") or _RUN


_servers: dict[int, tuple[object, dict]] = {}  # kept with the object, so an id is never reused while cached


def provenance(measured_on: object = None) -> dict:
    """Which server produced a measurement (version, source): the lab's, or one the notebook started (`.client()`)."""
    if isinstance(measured_on, dict):
        return measured_on
    if measured_on is None:
        found = _server.last_server
        if found is None:
            return {"version": "?", "source": "no server (connect() was not called)"}
        return {"version": found.version, "source": f"the lab's server: {found.how}"}
    key = id(measured_on)
    if key not in _servers:
        started = hasattr(measured_on, "client")
        client = measured_on.client() if started else measured_on
        try:
            info = client.info("server")
            if "redis_version" not in info:  # a cluster client answers per node
                info = next(iter(info.values()))
            version = str(info.get("redis_version", "?"))
        except Exception:  # a server the notebook already stopped: say so rather than guess
            version = "?"
        kind = getattr(getattr(measured_on, "server", measured_on), "kind", "") or _server.binaries().kind
        source = (f"private server started by the notebook ({kind})" if started
                  else f"a client of the notebook's ({type(measured_on).__name__})")
        _servers[key] = (measured_on, {"version": version, "source": source})
    return _servers[key][1]


@dataclass
class Claim:
    """A tested claim of the guide with its measurement, the rule that decides and the verdict it gives."""

    notebook: str
    claim: str
    guide: str
    measured: float
    unit: str
    text: str
    kind: str = "measured"
    rule: Rule | None = None
    also: dict[str, bool] = field(default_factory=dict)
    caveat: dict[str, bool] = field(default_factory=dict)
    judged: str = ""
    why: str = ""
    headline: bool = False
    server: dict = field(default_factory=dict)
    _shown: bool = field(default=False, repr=False)

    @property
    def verdict(self) -> str:
        """holds, does not hold, or holds with a caveat — from the rule and conditions, or the judgement."""
        if self.kind == "judgement":
            return self.judged
        if not (self.rule.passes(self.measured) if self.rule else True) or not all(self.also.values()):
            return FAILS
        return CAVEAT if any(self.caveat.values()) else HOLDS

    @property
    def holds(self) -> bool | None:
        """True / False / None (caveat), as the ledger has always stored it."""
        return {HOLDS: True, FAILS: False, CAVEAT: None}[self.verdict]

    @property
    def margin(self) -> float | None:
        """measured ÷ threshold for a measured claim (a scripted count or a judgement has no margin to speak of)."""
        return self.rule.margin(self.measured) if self.rule and self.kind == "measured" else None

    @property
    def borderline(self) -> bool:
        """True when the measurement lies within ±25 % of the threshold."""
        return bool(self.rule and self.kind == "measured" and self.rule.borderline(self.measured))

    def reasons(self) -> list[str]:
        """What decided the verdict, one phrase each: the rule and its margin, the conditions, the caveats."""
        parts = []
        if self.kind == "judgement":
            parts.append(f"judgement: {self.why}")
        elif self.rule:
            mark = "✓" if self.rule.passes(self.measured) else "✗"
            # measured ÷ threshold: above 1 clears a ≥ rule, below 1 a ≤ rule — so a ≤ rule says it in words
            margin = ("" if self.margin is None else f", margin {self.margin:.2f}×" if self.rule.op == ">="
                      else f", measured {self.margin:.2f}× the limit")
            parts.append(f"{mark} holds if measured {self.rule}{margin}" + (" — borderline" if self.borderline else ""))
        for name, ok in self.also.items():
            parts.append(f"{'✓' if ok else '✗'} {name}")
        for name, applies in self.caveat.items():
            if applies:
                parts.append(f"⚠ caveat: {name}")
        if self.kind == "scripted":
            parts.append("scripted: the count is a property of the script")
        return parts

    def row(self) -> dict:
        """The ledger row for this claim."""
        return {"notebook": self.notebook, "claim": self.claim, "guide": self.guide,
                "measured": round(float(self.measured), 4), "unit": self.unit, "holds": self.holds,
                "verdict": self.verdict, "kind": self.kind, "rule": str(self.rule) if self.rule else "",
                "margin": None if self.margin is None else round(self.margin, 3), "borderline": self.borderline,
                "why": self.why or "; ".join(n for n, applies in self.caveat.items() if applies and self.verdict == CAVEAT),
                "headline": self.headline, "text": self.text, "server": self.server.get("version", "?"),
                "source": self.server.get("source", ""), "scale": os.environ.get("LAB_SCALE", "full"),
                "run": run_id(), "commit": _commit(), "at": time.strftime("%Y-%m-%dT%H:%M:%S")}

    def __repr__(self) -> str:
        return f"Verdict — {self.mark}: {self.text} [{'; '.join(self.reasons())}]"

    @property
    def mark(self) -> str:
        return {HOLDS: "✅ holds", FAILS: "❌ does not hold", CAVEAT: "⚠️ holds with a caveat"}[self.verdict]

    def _repr_html_(self) -> str:
        colour = {HOLDS: GOOD, FAILS: BAD, CAVEAT: "#edae49"}[self.verdict]
        facts = (f"📏 {html.escape(_number(self.measured))} {html.escape(self.unit)} · "
                 + " · ".join(html.escape(p) for p in self.reasons())
                 + f" · {html.escape(self.kind)} on Redis {html.escape(self.server.get('version', '?'))}")
        return (f'<div class="lab-claim" data-notebook="{self.notebook}" data-verdict="{self.verdict}" '
                f'data-headline="{str(self.headline).lower()}" '
                f'style="border:2px solid {colour};border-radius:6px;padding:6px 12px">'
                f'<b>{html.escape(self.claim)} — {self.mark}</b><br>{html.escape(self.text)}'
                f'<br><small>{facts}</small></div>')

    def _ipython_display_(self) -> None:
        # claim() shows the box once; the same object as a cell's last expression does not show it again
        if not self._shown:
            self._shown = True
            from IPython.display import display
            display({"text/html": self._repr_html_(), "text/plain": repr(self)}, raw=True)


def claim(notebook: str, claim: str, *, guide: str, measured: float, unit: str, text: str,
          holds_if: Rule | None = None, also: dict[str, bool] | None = None, caveat: dict[str, bool] | None = None,
          kind: str = "measured", verdict: str = "", why: str = "", headline: bool = False,
          measured_on: object = None) -> Claim:
    """Decide, show and record one claim: `holds_if` on `measured`, every `also` true, a true `caveat` → caveat."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if isinstance(measured, bool) or not isinstance(measured, numbers.Real) or not math.isfinite(float(measured)):
        raise ValueError(f"{claim!r}: a verdict needs a measurement (a finite number), not {measured!r}")
    if kind == "judgement":
        if verdict not in VERDICTS or not why.strip():
            raise ValueError(f"{claim!r}: a judgement names its verdict ({', '.join(VERDICTS)}) and its reason (why=)")
    elif verdict or holds_if is None and not also:
        raise ValueError(f"{claim!r}: a {kind} claim is decided by holds_if= (and also=), not typed in")
    for name, value in {**(also or {}), **(caveat or {})}.items():
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{claim!r}: condition {name!r} must be a computed bool, not {value!r}")
    result = Claim(notebook, claim, guide, float(measured), unit, text, kind, holds_if,
                   {k: bool(v) for k, v in (also or {}).items()}, {k: bool(v) for k, v in (caveat or {}).items()},
                   verdict, why, headline, provenance(measured_on))
    ledger.write(result.row())
    try:
        from IPython import get_ipython
        if get_ipython() is not None:
            result._ipython_display_()
    except ImportError:
        pass
    return result
