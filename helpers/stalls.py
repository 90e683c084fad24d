"""What a slow command does to everyone else: run steps while a probe PINGs, and read each step's SLOWLOG entries."""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

import pandas as pd
import redis

from .measure import latency_probe


class Step(NamedTuple):
    """One thing to run: its label, the command name SLOWLOG logs it under, the call, and ✅ (True), ❌ (False) or
    setup (None)."""

    label: str
    command: str
    run: Callable[[], object]
    good: bool | None


def during(pings: pd.DataFrame, start: float, end: float, margin: float = 0.05) -> pd.DataFrame:
    """The probe's PINGs that finished between `start` and `end` (± `margin` s: the probe's clock starts a few ms
    apart from the caller's, so a PING is placed by when it finished, and a stalled one finishes with the stall)."""
    finished = pings["t (s)"] + pings["latency (ms)"] / 1e3
    return pings[(finished >= start - margin) & (finished <= end + margin)]


def run_under_probe(client: redis.Redis, url: str, steps: list[Step], *, gap: float = 0.12,
                    interval: float = 0.002) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run `steps` one by one while another process PINGs `url`; needs `slowlog-log-slower-than 0` on that server.

    Returns (one row per step: server calls and their durations from SLOWLOG, the caller's wall time, the probe's
    worst and 99th-percentile PING during the step; the probe's raw (t, latency) frame).
    """
    rows = []
    with latency_probe(url, interval=interval) as probe:
        time.sleep(0.2)  # a calm baseline first
        for step in steps:
            client.slowlog_reset()
            start = probe.mark()
            answer = step.run()
            end = probe.mark()
            calls = [e["duration"] / 1e3 for e in client.slowlog_get(1_000_000)
                     if e["command"].split()[0].decode().upper() == step.command]
            rows.append({"pattern": step.label, "good": step.good, "start": start, "end": end, "returned": answer,
                         "server calls": len(calls), "longest call (ms)": max(calls),
                         "p99 call (ms)": pd.Series(calls).quantile(0.99), "client wall (s)": end - start})
            time.sleep(gap)  # a gap between steps, so each one stands apart
    pings = probe.frame
    for row in rows:
        seen = during(pings, row["start"], row["end"])["latency (ms)"]
        row["probe worst (ms)"], row["probe p99 (ms)"] = seen.max(), seen.quantile(0.99)
    return pd.DataFrame(rows).set_index("pattern"), pings
