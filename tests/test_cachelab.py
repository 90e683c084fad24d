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
