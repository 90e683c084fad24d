"""helpers.cachelab: pacing, request streams, the stampede harness, rebinding globals (with real private servers)."""

from __future__ import annotations

import time

import numpy as np

import helpers as lab
from helpers import cachelab


def test_paced_yields_every_tick_in_wall_clock_time() -> None:
    """Ticks come one per interval: 5 ticks of 50 ms take at least 200 ms."""
    started = time.monotonic()
    assert list(cachelab.paced(5, 0.05)) == [0, 1, 2, 3, 4]
    assert time.monotonic() - started >= 0.2


def test_workloads_are_skewed_and_repeatable() -> None:
    """Same seed, same streams; the catalogue's hottest key is requested far more often than the median one."""
    first, again = cachelab.workloads(2000), cachelab.workloads(2000)
    for name in first:
        assert (first[name] == again[name]).all() and len(first[name]) == 2000
    counts = np.unique(first["stable hot set + one-off scans"], return_counts=True)[1]
    assert counts.max() > 10 * np.median(counts)


def test_cold_start_counts_computations() -> None:
    """A read that always computes is counted once per client."""
    assert cachelab.cold_start(lambda compute: compute(), threads=4, compute_seconds=0.0)["recomputations"] == 4


def test_with_globals_rebinds_only_the_named_globals() -> None:
    """The function's code is unchanged; only the names given resolve elsewhere."""
    def read() -> str:
        return r + suffix  # noqa: F821 - globals supplied by with_globals

    rebound = cachelab.with_globals(read, r="private", suffix="!")
    assert rebound() == "private!"


def test_slow_source_counts_rounds_of_computation() -> None:
    """Calls close together are one round; a quiet gap starts the next."""
    source = cachelab.SlowSource(0.0)
    source.starts = [0.0, 0.01, 0.05, 1.0, 1.02, 3.0]
    assert source.rounds(quiet=0.5) == 3
    source.reset()
    assert source.rounds() == 0


def test_busiest_expiry_counts_keys_per_window() -> None:
    """Keys with the same TTL expire in one window; spread TTLs do not."""
    with lab.start_server(name="t-expiry", modules=False) as server:
        client = server.client()
        for i in range(30):
            client.set(f"same:{i}", 1, ex=3605)  # mid-window, so no key straddles two
            client.set(f"spread:{i}", 1, ex=3000 + 20 * i)
        assert cachelab.busiest_expiry(client, [f"same:{i}" for i in range(30)]) == 30
        assert cachelab.busiest_expiry(client, [f"spread:{i}" for i in range(30)]) == 1


def test_stampede_counts_each_strategys_computations() -> None:
    """A reader that always computes is counted on every read; one that caches computes only to warm up."""
    cache: dict[str, str] = {}

    def cached(compute) -> str:
        return cache.get("k") or cache.setdefault("k", compute())

    table = cachelab.stampede({"always": lambda compute: compute(), "cached": cached}, compute_seconds=0.0,
                              threads=2, seconds=0.2, pause=0.01)
    assert table.loc["always", "recomputations"] > 10 and table.loc["always", "failed reads"] == 0
    assert table.loc["cached", "recomputations"] == 0 and table.loc["cached", "rounds of recomputation"] == 0


def test_stop_many_stops_every_server() -> None:
    """Servers stopped in parallel are all gone afterwards."""
    servers = cachelab.start_many(["cachelab-stop-a", "cachelab-stop-b"], modules=False)
    cachelab.stop_many(servers)
    assert not any(server.alive() for server in servers)


def test_stampede_counts_slow_reads() -> None:
    """A read that computes for 60 ms is counted as slow; one that returns at once is not."""
    table = cachelab.stampede({"slow": lambda compute: compute(), "fast": lambda compute: None}, compute_seconds=0.06,
                              threads=2, seconds=0.3, pause=0.01)
    assert table.loc["slow", "reads over 50 ms"] > 0 and table.loc["fast", "reads over 50 ms"] == 0
