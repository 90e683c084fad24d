"""Repeatable timing (warm-up, repetitions, medians, ratios) and a latency probe that runs in another process."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd

INCORRECT, CORRECT = "❌ incorrect", "✅ correct"


def scale(small: int, full: int) -> int:
    """`small` when LAB_SCALE=small (the tests), else `full` (what a learner runs by default)."""
    return small if os.environ.get("LAB_SCALE", "full") == "small" else full


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one pattern, over repetitions."""

    label: str
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def fastest(self) -> float:
        return min(self.samples)

    @property
    def slowest(self) -> float:
        return max(self.samples)


def time_it(fn: Callable[[], object], *, label: str = "", warmup: int = 2, repeat: int = 9) -> Timing:
    """Run `fn` `warmup` times untimed, then `repeat` times timed."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing(label, tuple(samples))


def compare(incorrect: Callable[[], object], correct: Callable[[], object], *, labels: tuple[str, str] = (INCORRECT, CORRECT),
            warmup: int = 2, repeat: int = 9, per: int = 1, unit: str = "ms") -> pd.DataFrame:
    """Time both patterns, interleaved so drift hits both alike; one row each with median, spread and ratio.

    `per` divides each sample (e.g. the number of operations one call does) so the table reads per operation.
    `ratio` is each row's median over the correct pattern's median: how many times slower than the correct one.
    """
    for _ in range(warmup):
        incorrect()
        correct()
    samples: dict[str, list[float]] = {labels[0]: [], labels[1]: []}
    for i in range(repeat):
        order = [(labels[0], incorrect), (labels[1], correct)]
        for label, fn in order if i % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            fn()
            samples[label].append((time.perf_counter() - start) / per)
    return table([Timing(label, tuple(s)) for label, s in samples.items()], unit=unit)


FACTOR = {"s": 1.0, "ms": 1e3, "µs": 1e6}


def table(timings: list[Timing], *, unit: str = "ms", baseline: str | None = None) -> pd.DataFrame:
    """A tidy table of timings: median, fastest, slowest (in `unit`), repetitions, and ratio to `baseline` (last row).

    Fastest and slowest rather than p10/p90: with the 5-9 repetitions used here a "p10" is the fastest run anyway.
    """
    k = FACTOR[unit]
    base = next((t for t in timings if t.label == baseline), timings[-1])
    rows = [{"pattern": t.label, f"median ({unit})": t.median * k, f"fastest ({unit})": t.fastest * k,
             f"slowest ({unit})": t.slowest * k, "repetitions": len(t.samples),
             "ratio": t.median / base.median if base.median else float("nan")} for t in timings]
    return pd.DataFrame(rows).set_index("pattern").round(3)


def ratio(df: pd.DataFrame) -> float:
    """The incorrect pattern's median over the correct one's (the first row over the last) from a compare() table."""
    return float(df["ratio"].iloc[0] / df["ratio"].iloc[-1])


# ---------------------------------------------------------------- a second client that keeps asking PING


# The probe runs as `python -c` with only redis-py imported: it starts in a fraction of a second, where a
# multiprocessing child would import this whole package first. time.perf_counter is the system's monotonic clock on
# Linux and macOS, so the probe's timestamps and the caller's marks are on one clock.
_PROBE = """
import json, select, sys, time
import redis
url, interval, limit = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
client = redis.Redis.from_url(url, socket_timeout=limit + 5)
client.ping()
print("ready", flush=True)
points, start = [], time.perf_counter()
while time.perf_counter() - start < limit and not select.select([sys.stdin], [], [], 0)[0]:
    t0 = time.perf_counter()
    client.ping()
    t1 = time.perf_counter()
    points.append((t0, t1 - t0))
    time.sleep(max(0.0, interval - (t1 - t0)))
print(json.dumps(points), flush=True)
"""


class latency_probe:
    """Context manager: another process sends PING every `interval` s; `.frame` holds (t, latency) afterwards.

    A separate process, not a thread, so what it records is the server's stall, not this kernel's GIL.
    """

    def __init__(self, url: str, *, interval: float = 0.002, max_seconds: float = 60.0):
        self.url, self.interval, self.max_seconds = url, interval, max_seconds
        self.frame = pd.DataFrame(columns=["t (s)", "latency (ms)"])

    def __enter__(self) -> latency_probe:
        self._proc = subprocess.Popen([sys.executable, "-c", _PROBE, self.url, str(self.interval), str(self.max_seconds)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self._proc.stdout.readline().strip() != "ready":
            self._proc.kill()
            raise RuntimeError("the latency probe could not connect to Redis")
        self._t0 = time.perf_counter()
        return self

    def mark(self) -> float:
        """Seconds since the probe started, on the probe's clock: use it to note when something began."""
        return time.perf_counter() - self._t0

    def __exit__(self, *exc) -> None:
        self._proc.stdin.write("stop\n")
        self._proc.stdin.close()
        points = json.loads(self._proc.stdout.readline() or "[]")
        self._proc.wait(timeout=5)
        self.frame = pd.DataFrame(points, columns=["t (s)", "latency (ms)"])
        self.frame["t (s)"] -= self._t0
        self.frame["latency (ms)"] *= 1e3

    @property
    def worst_ms(self) -> float:
        """The longest single PING the probe saw, in milliseconds."""
        return float(self.frame["latency (ms)"].max()) if len(self.frame) else float("nan")


def net_bytes(r, fn: Callable[[], object], *, times: int = 50) -> float:
    """Bytes on the wire (in + out, as the server counts them) per call of `fn`; use a private server.

    The INFO calls that read the counters are measured once on their own and subtracted.
    """
    def counters() -> int:
        stats = r.info("stats")
        return stats["total_net_input_bytes"] + stats["total_net_output_bytes"]

    def total(call: Callable[[], object]) -> int:
        before = counters()
        for _ in range(times):
            call()
        return counters() - before

    return (total(fn) - total(lambda: None)) / times


def race(clients: list, step: Callable[[object], object], *, times: int) -> None:
    """Run `step(client)` `times` times in one thread per client, all released at the same moment."""
    import threading

    start = threading.Barrier(len(clients))

    def worker(client: object) -> None:
        start.wait()
        for _ in range(times):
            step(client)

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
