"""Notebook 03's exercise checks: each runs the learner's code against a real (private or proxied) Redis."""

from __future__ import annotations

import time
from typing import Callable

import redis

from .. import faults
from ..server import start_server
from ..show import check


def scan_count(count_matching: Callable[[redis.Redis, str], int]) -> bool:
    """Notebook 03: count the keys that match a pattern without KEYS (checked in INFO commandstats)."""
    with start_server(name="nb03-check-scan", modules=False) as server:
        client = server.client()
        pipe = client.pipeline(transaction=False)
        for i in range(3_000):
            pipe.set(f"order:{i}", 1)
            pipe.set(f"user:{i}", 1)
        pipe.execute()
        client.config_resetstat()
        try:
            found = count_matching(client, "order:*")
        except Exception as exc:  # a half-written function: say what broke, don't stop Run All
            return check([(False, f"count_matching raised {type(exc).__name__}: {exc}")])
        stats = client.info("commandstats")
    return check([
        (found == 3_000, f"3,000 keys match 'order:*' (found: {found})"),
        ("cmdstat_keys" not in stats, "no KEYS command reached the server"),
        ("cmdstat_scan" in stats, "the keyspace was walked with SCAN"),
    ])


def fail_fast(make_client: Callable[[str, int], redis.Redis]) -> bool:
    """Notebook 03: a client whose timeout × attempts is under 1 s, that gives up within that budget on a dead server,
    tries it at most twice, and still works."""
    with faults.Blackhole() as dead:
        try:
            client = make_client("127.0.0.1", dead.port)
        except Exception as exc:
            return check([(False, f"make_client raised {type(exc).__name__}: {exc}")])
        settings = client.connection_pool.connection_kwargs
        timeouts = [settings.get("socket_timeout"), settings.get("socket_connect_timeout")]
        retry = client.get_retry()
        tries = 1 + (retry.get_retries() if retry is not None else 0)
        # The configured worst case: every attempt waits the longest timeout (None = no timeout at all).
        budget = tries * max(t for t in timeouts if t is not None) if None not in timeouts else float("inf")
        outcome = faults.bounded(lambda: client.get("anything"), guard=2.0)
        attempts = dead.settle()
    with start_server(name="nb03-check-live", modules=False) as live:
        try:
            works = bool(make_client("127.0.0.1", live.port).ping())
        except redis.RedisError:
            works = False
    failed = outcome.result in ("TimeoutError", "ConnectionError")
    return check([
        (outcome.result != "hung", f"the call returned within the 2 s guard (it took {outcome.seconds:.2f} s)"),
        (failed, f"it failed with a redis TimeoutError or ConnectionError (got: {outcome.result})"),
        (budget < 1.0, f"timeout × attempts is under 1 s (configured: {tries} × {timeouts} s)"),
        # A multiple of the configured budget, not an absolute time: back-off and a busy machine add to it.
        (failed and outcome.seconds < 2 * budget + 0.2,
         f"it gave up within its configured budget of {budget:.2f} s (took {outcome.seconds:.2f} s)"),
        (attempts <= 2, f"it tried the dead server at most twice (tried {attempts} times)"),
        (works, "the same settings still reach a live server"),
    ])


def pooled(make_get_user: Callable[[str], Callable[[int], str | None]]) -> bool:
    """Notebook 03: a get_user function that reuses pooled connections (counted by the server)."""
    with start_server(name="nb03-check-pool", modules=False) as server:
        admin = server.client()
        admin.mset({f"user:{i}": f"name-{i}" for i in range(200)})
        before = admin.info("stats")["total_connections_received"]
        try:
            get_user = make_get_user(server.url)
            answers = [get_user(i) for i in range(200)]
        except Exception as exc:
            return check([(False, f"your code raised {type(exc).__name__}: {exc}")])
        opened = admin.info("stats")["total_connections_received"] - before
    answers = [a.decode() if isinstance(a, bytes) else a for a in answers]
    return check([
        (answers == [f"name-{i}" for i in range(200)], "all 200 users read correctly"),
        (opened <= 2, f"200 requests opened at most 2 connections (opened: {opened})"),
    ])


def batched(fetch_all: Callable[[redis.Redis, list[str]], list], *, delay: float = 0.001) -> bool:
    """Notebook 03: fetch many keys through a 1 ms-each-way proxy in far fewer round trips than one per key."""
    n = 500
    keys = [f"batch:{i}" for i in range(n)]
    with start_server(name="nb03-check-batch", modules=False) as server, \
            faults.LatencyProxy(server.port, delay) as proxy:
        server.client().mset({k: str(i) for i, k in enumerate(keys)})
        client = redis.Redis.from_url(proxy.url, decode_responses=True, retry=None)
        client.ping()
        start = time.perf_counter()
        try:
            values = fetch_all(client, keys)
        except Exception as exc:
            return check([(False, f"fetch_all raised {type(exc).__name__}: {exc}")])
        elapsed = time.perf_counter() - start
    one_per_key = n * 2 * delay  # the least that one round trip per key could take
    return check([
        (list(values) == [str(i) for i in range(n)], f"all {n} values, in order"),
        (elapsed < one_per_key / 5, f"{elapsed * 1e3:.0f} ms, under a fifth of the {one_per_key * 1e3:.0f} ms "
                                    "that one round trip per key needs at least"),
    ])
