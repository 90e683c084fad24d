"""Repeatable timing (warm-up, repetitions, medians, ratios) and a latency probe that runs in another process."""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
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


def _probe(url: str, interval: float, duration: float, out) -> None:  # runs in the child process
    import redis

    client = redis.Redis.from_url(url, socket_timeout=duration + 5)
    client.ping()
    out.send("ready")
    start = time.perf_counter()
    points = []
    while time.perf_counter() - start < duration and not out.poll():
        t0 = time.perf_counter()
        client.ping()
        t1 = time.perf_counter()
        points.append((t0 - start, t1 - t0))
        time.sleep(max(0.0, interval - (t1 - t0)))
    out.send(points)


class latency_probe:
    """Context manager: another process sends PING every `interval` s; `.frame` holds (t, latency) afterwards.

    A separate process, not a thread, so what it records is the server's stall, not this kernel's GIL.
    """

    def __init__(self, url: str, *, interval: float = 0.002, max_seconds: float = 60.0):
        self.url, self.interval, self.max_seconds = url, interval, max_seconds
        self.frame = pd.DataFrame(columns=["t (s)", "latency (ms)"])

    def __enter__(self) -> latency_probe:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_probe, args=(self.url, self.interval, self.max_seconds, child), daemon=True)
        self._proc.start()
        if not self._conn.poll(30) or self._conn.recv() != "ready":
            self._proc.kill()
            raise RuntimeError("the latency probe could not connect to Redis")
        self._t0 = time.perf_counter()
        return self

    def mark(self) -> float:
        """Seconds since the probe started: use it to note when something began."""
        return time.perf_counter() - self._t0

    def __exit__(self, *exc) -> None:
        self._conn.send("stop")
        points = self._conn.recv()
        self._proc.join(timeout=5)
        self.frame = pd.DataFrame(points, columns=["t (s)", "latency (ms)"])
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
