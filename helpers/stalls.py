"""What a slow command does to everyone else: run steps while a probe PINGs, and read each step's SLOWLOG entries."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Callable, NamedTuple

import matplotlib.pyplot as plt
import pandas as pd
import redis
from tqdm.auto import tqdm

from .measure import latency_probe
from .show import BAD, GOOD, plain


# Builds a set, a hash and a list of members ARGV[1]..ARGV[2] server-side (one EVAL per slice, no round trip per item).
_BUILD = """for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
  redis.call('SADD', KEYS[1], 'member:' .. i); redis.call('HSET', KEYS[2], 'field:' .. i, 'v')
  redis.call('RPUSH', KEYS[3], 'item:' .. i) end"""


def build_big(client: redis.Redis, keys: int, items: int, *, slice_size: int = 25_000) -> int:
    """Fill a private server with `DEBUG POPULATE` (user:0 … user:keys-1) and big:set/hash/list of `items` members;
    needs `enable-debug-command`. Returns the key count."""
    client.execute_command("DEBUG", "POPULATE", keys, "user")
    for first in range(1, items + 1, slice_size):  # slices that stay well under a 5 s socket timeout
        client.eval(_BUILD, 3, "big:set", "big:hash", "big:list", first, min(first + slice_size - 1, items))
    return client.dbsize()


class Step(NamedTuple):
    """One thing to run: its label, the command name SLOWLOG logs it under, the call, and ✅ (True), ❌ (False) or
    setup (None)."""

    label: str
    command: str
    run: Callable[[], object]
    good: bool | None

def during(pings: pd.DataFrame, start: float, end: float, margin: float = 0.02) -> pd.DataFrame:
    """The probe's PINGs sent at most `margin` s before `start` (one sent just before can reach the server after the
    step's first command) that finished by `end` + `margin` s. A PING sent earlier waited for what ran before."""
    finished = pings["t (s)"] + pings["latency (ms)"] / 1e3
    return pings[(pings["t (s)"] >= start - margin) & (finished <= end + margin)]


def run_under_probe(client: redis.Redis, url: str, steps: list[Step], *, gap: float = 0.12,
                    interval: float = 0.002) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run `steps` one by one while another process PINGs `url`; needs `slowlog-log-slower-than 0` on that server.

    Returns (one row per step: server calls and their durations from SLOWLOG, the caller's wall time, the probe's
    worst and 99th-percentile PING during the step; the probe's raw (t, latency) frame).
    """
    rows = []
    with latency_probe(url, interval=interval) as probe:
        time.sleep(0.2)  # a calm baseline first
        for step in tqdm(steps, desc="steps", leave=False):
            client.slowlog_reset()
            start = probe.mark()
            answer = step.run()
            end = probe.mark()
            calls = [e["duration"] / 1e3 for e in client.slowlog_get(1_000_000)
                     if e["command"].split()[0].decode().upper() == step.command]
            rows.append({"pattern": step.label, "good": step.good, "start": start, "end": end, "returned": answer,
                         "server calls": len(calls), "longest call (ms)": max(calls, default=float("nan")),
                         "p99 call (ms)": pd.Series(calls).quantile(0.99),
                         "median call (ms)": pd.Series(calls).median(), "client wall (s)": end - start})
            time.sleep(gap)  # a gap between steps, so each one stands apart
    pings = probe.frame
    for row in rows:
        seen = during(pings, row["start"], row["end"])["latency (ms)"]
        row["probe worst (ms)"], row["probe p99 (ms)"] = seen.max(), seen.quantile(0.99)
    return pd.DataFrame(rows).set_index("pattern"), pings


def plot_pairs(pings: pd.DataFrame, steps: pd.DataFrame, pairs: list[tuple[str, str, str]], title: str) -> plt.Figure:
    """One panel per (name, ❌ label, ✅ label): the probe's PINGs during each step, the ❌ step's worst one labelled."""
    fig, axes = plt.subplots(1, len(pairs), figsize=(13, 3.3), sharey=True)
    for ax, (_, bad, good) in zip(axes, pairs):
        for label, colour in [(bad, BAD), (good, GOOD)]:
            seen = during(pings, steps.loc[label, "start"], steps.loc[label, "end"])
            ax.scatter(seen["t (s)"] - steps.loc[label, "start"], seen["latency (ms)"], s=4, color=colour)
        stall = during(pings, steps.loc[bad, "start"], steps.loc[bad, "end"]).nlargest(1, "latency (ms)")
        ax.annotate(f"{stall['latency (ms)'].iloc[0]:.0f} ms", (stall["t (s)"].iloc[0] - steps.loc[bad, "start"],
                    stall["latency (ms)"].iloc[0]), xytext=(6, -3), textcoords="offset points", fontsize=8)
        ax.set(yscale="log", xlabel="s since the call began")
        ax.set_title(plain(f"{bad[2:]} vs {good[2:]}"), fontsize=8)
    axes[0].set_ylabel("probe PING latency, ms\n(log; lower is better)")
    fig.legend(handles=[plt.Line2D([], [], marker="o", ls="", color=BAD, label=plain("❌ one-shot command")),
                        plt.Line2D([], [], marker="o", ls="", color=GOOD, label=plain("✅ incremental alternative"))],
               loc="lower center", ncol=2)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def crowd(make_pool: Callable[[], redis.ConnectionPool], threads: int = 4, hold: float = 0.3) -> dict:
    """`threads` clients each hold a pooled connection for `hold` s (BLPOP on an empty list), all at once; how each
    call ended, and the seconds until the last one finished."""
    shared = make_pool()
    outcomes: list[str] = []
    gate = threading.Barrier(threads)

    def worker() -> None:
        gate.wait()
        try:
            redis.Redis(connection_pool=shared).blpop(["empty:list"], timeout=hold)
            outcomes.append("ok")
        except redis.ConnectionError as exc:  # a pool that is full refuses: that is what is counted
            outcomes.append(f"ConnectionError: {exc}")
    crew = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in crew:
        t.start()
    for t in crew:
        t.join()
    shared.disconnect()
    return {"outcomes": dict(sorted(Counter(outcomes).items())), "seconds": time.perf_counter() - start}


def serve(get_user: Callable[[int], object], admin: redis.Redis, requests: int, threads: int) -> tuple[float, int]:
    """(seconds, connections the server behind `admin` accepted) for `requests` calls of `get_user` over `threads`."""
    def worker() -> None:
        for i in range(requests // threads):
            get_user(i % 100)
    crew = [threading.Thread(target=worker) for _ in range(threads)]
    before = admin.info("stats")["total_connections_received"]
    start = time.perf_counter()
    for t in crew:
        t.start()
    for t in crew:
        t.join()
    return time.perf_counter() - start, admin.info("stats")["total_connections_received"] - before


def during_stall(admin: redis.Redis, seconds: float, call: Callable[[], object]) -> tuple[str, float]:
    """Run `call` while `admin` holds its server in `DEBUG SLEEP seconds` (needs enable-debug-command); how the call
    ended ('returned …' or the exception's name) and how long it took."""
    stall = threading.Thread(target=admin.execute_command, args=("DEBUG", "SLEEP", seconds))
    stall.start()
    time.sleep(0.05)  # the call below arrives while the server is asleep
    start = time.perf_counter()
    try:
        outcome = f"returned {call()!r}"
    except redis.RedisError as exc:  # a timeout is one of the outcomes being measured
        outcome = type(exc).__name__
    took = time.perf_counter() - start
    stall.join()
    time.sleep(0.05)  # the server works off what the closed connections left queued
    return outcome, took


def hammer(call: Callable[[redis.Redis], object], *, requests: int = 20, threads: int = 1) -> dict:
    """`requests` calls of `call(client)` against a blackhole (20 ms timeout, no retry), from `threads` threads released
    at once; how many reached the dead server and how each failed."""
    from .faults import Blackhole

    with Blackhole() as hole:
        client = redis.Redis(host="127.0.0.1", port=hole.port, socket_timeout=0.02, retry=None)
        errors: Counter = Counter()
        gate = threading.Barrier(threads)

        def worker(n: int) -> None:
            gate.wait()
            for _ in range(n):
                try:
                    call(client)
                except Exception as exc:  # every call fails: count how
                    errors[type(exc).__name__] += 1
        crew = [threading.Thread(target=worker, args=(requests // threads,)) for _ in range(threads)]
        for t in crew:
            t.start()
        for t in crew:
            t.join()
        return {"reached the dead server": hole.settle(), "errors": dict(sorted(errors.items()))}
