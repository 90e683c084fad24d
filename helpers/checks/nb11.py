"""Notebook 11's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

import threading
from typing import Callable

import redis

from ..show import check


def window_hit_ratio(fn: Callable[[dict, dict], float | None]) -> bool:
    """Notebook 11: the hit ratio between two INFO snapshots, not since start-up."""
    week = {"keyspace_hits": 1_000_000, "keyspace_misses": 20_000}
    storm = {"keyspace_hits": 1_000_300, "keyspace_misses": 20_700}
    try:
        in_storm, quiet = fn(week, storm), fn(storm, storm)
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"window_hit_ratio raised {type(exc).__name__}: {exc}")])
    return check([
        (isinstance(in_storm, float) and abs(in_storm - 0.3) < 1e-9,
         f"300 hits and 700 misses in the window give 0.3 (found: {in_storm!r}; 0.98 means the counters since "
         "start-up were used)"),
        (quiet is None, f"a window without reads gives None, not a division by zero (found: {quiet!r})"),
    ])


def named_connections(url: str, make_client: Callable[[str, str], redis.Redis]) -> bool:
    """Notebook 11: every connection of a client's pool carries its name in CLIENT LIST."""
    name = "nb11-exercise-worker"
    try:
        client = make_client(url, name)
        gate = threading.Barrier(4)

        def work() -> None:
            gate.wait()
            client.blpop(["nb11:exercise:none"], timeout=0.2)  # holds its connection, so the pool opens four

        workers = [threading.Thread(target=work) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        observer = redis.Redis.from_url(url, decode_responses=True)
        named = sum(1 for c in observer.client_list() if c.get("name") == name)
        opened = len(client.connection_pool._available_connections) + len(client.connection_pool._in_use_connections)
        client.close()
        observer.close()
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"make_client raised {type(exc).__name__}: {exc}")])
    return check([
        (opened >= 4, f"four threads at once made the pool open {opened} connections"),
        (named == opened, f"{named} of {opened} connections carry the name {name!r} in CLIENT LIST"),
    ])
