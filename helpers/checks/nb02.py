"""Notebook 02's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

import threading
from typing import Callable

import redis

from ..server import start_server
from ..show import check


def cache_config(configure_cache: Callable[[redis.Redis, int], object]) -> bool:
    """Notebook 02: a private server configured as a cache of `megabytes` takes 3× that much data without an error."""
    megabytes = 3
    with start_server(name="nb02-check", modules=False) as server:
        client = server.client()
        try:
            configure_cache(client, megabytes)
        except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
            return check([(False, f"configure_cache raised {type(exc).__name__}: {exc}")])
        settings = client.config_get("maxmemory*")
        refused = 0
        for batch in range(9 * megabytes):  # 9 × 1,000 × ~1 KB per MB of limit: about three times the limit
            pipe = client.pipeline(transaction=False)
            for i in range(1000):
                pipe.set(f"cache:{batch}:{i}", "x" * 900)
            refused += sum(isinstance(o, redis.ResponseError) for o in pipe.execute(raise_on_error=False))
        used = client.info("memory")["used_memory"]
    limit = int(settings.get("maxmemory", 0))
    return check([
        (limit == megabytes * 2**20, f"maxmemory is {megabytes} MB (found: {limit / 2**20:.1f} MB)"),
        (settings.get("maxmemory-policy", "").startswith("allkeys-"),
         f"the policy may evict any key, as a cache needs (found: {settings.get('maxmemory-policy')})"),
        (refused == 0, "no write was refused with OOM" + (f" (found: {refused:,} refused)" if refused else "")),
        (0 < limit and used <= 1.1 * limit, "memory stayed at the limit" +
         ("" if 0 < limit and used <= 1.1 * limit else f" ({used / 2**20:.1f} MB used)")),
    ])


def single_flight(r: redis.Redis, prefix: str, get_or_compute: Callable[..., object]) -> bool:
    """Notebook 02: 12 clients ask for a cold key at once; the value is computed once and cached with a TTL."""
    key = f"{prefix}exercise:report"
    r.delete(key, f"{key}:lock")
    computed = []
    gate = threading.Barrier(12)

    def compute() -> str:
        computed.append(1)
        threading.Event().wait(0.2)  # slow enough that every client arrives while it runs
        return "report-v1"

    answers: list = []

    def client() -> None:
        gate.wait()
        try:
            answers.append(get_or_compute(r, key, compute, 60))
        except Exception as exc:  # reported below, not raised
            answers.append(f"{type(exc).__name__}: {exc}")

    workers = [threading.Thread(target=client) for _ in range(12)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ttl = r.ttl(key)
    leftover_lock = r.exists(f"{key}:lock")
    r.delete(key, f"{key}:lock")
    return check([
        (len(computed) == 1, f"12 clients at once, one computation (found: {len(computed)})"),
        (answers.count("report-v1") == 12, f"every client got the value (found: {sorted(set(map(str, answers)))})"),
        (0 < ttl <= 60, f"the cached value has a TTL of at most 60 s (found: {ttl})"),
        (not leftover_lock, f"the lock {key}:lock is released after the computation"),
    ])
