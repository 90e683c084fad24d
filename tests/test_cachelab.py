"""helpers.cachelab against a real private server: the memory check's verdicts, replay outcomes, rebinding globals."""

from __future__ import annotations

import numpy as np

import helpers as lab
from helpers import cachelab


def test_memory_health_judges_by_policy() -> None:
    """No limit warns; a full evicting cache is healthy; refused writes are critical."""
    with lab.start_server(name="t-health", modules=False) as server:
        client = server.client()
        assert cachelab.memory_health(client)["status"] == "warning"
        client.config_set("maxmemory", "2mb")
        client.config_set("maxmemory-policy", "allkeys-lru")
        outcomes = cachelab.replay(client, np.array([f"k{i}" for i in range(5000)]))
        assert (outcomes == 0).all()  # every request a miss, every miss stored (by evicting)
        assert cachelab.memory_health(client)["status"] == "healthy"
        client.config_set("maxmemory-policy", "noeviction")
        outcomes = cachelab.replay(client, np.array([f"new{i}" for i in range(100)]))
        assert (outcomes == -1).sum() > 50  # the first few fit in what the last eviction freed
        assert cachelab.memory_health(client)["status"] == "critical"


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
