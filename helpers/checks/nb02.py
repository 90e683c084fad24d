"""Notebook 02's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

import threading
import time
from typing import Callable

import redis

from ..server import start_server
from ..show import check


def _fill(client: redis.Redis, prefix: str, count: int, ttl: Callable[[int], int]) -> tuple[int, int]:
    """`count` ~1 KB values `prefix`0…, pipelined 1,000 at a time: (written, refused with an error)."""
    refused = 0
    for start in range(0, count, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(start + 1000, count)):
            pipe.set(f"{prefix}{i}", "x" * 900, ex=ttl(i))
        refused += sum(isinstance(o, redis.ResponseError) for o in pipe.execute(raise_on_error=False))
    return count - refused, refused


def _kept(client: redis.Redis, prefix: str, count: int) -> int:
    """How many of `prefix`0 … `prefix`{count-1} still exist."""
    return sum(client.exists(*[f"{prefix}{i}" for i in range(j, min(j + 100, count))]) for j in range(0, count, 100))


def split_config(configure: Callable[[redis.Redis, redis.Redis, int], object]) -> bool:
    """Notebook 02: sessions (a 7-day TTL) on one server, cache entries (EX ≤ 1 h) on another, each capped at
    `megabytes`: the cache takes 3× its limit and refuses nothing; the sessions, written past their limit, lose none —
    the writes past the limit are refused, an error the app sees and alerts on, not a silent log-out."""
    megabytes, week = 2, 7 * 86_400
    with start_server(name="nb02-check-sessions", modules=False) as s_server, \
            start_server(name="nb02-check-cache", modules=False) as c_server:
        sessions, cache = s_server.client(), c_server.client()
        try:
            configure(sessions, cache, megabytes)
        except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
            return check([(False, f"configure raised {type(exc).__name__}: {exc}")])
        limits = {name: int(c.config_get("maxmemory").get("maxmemory", 0)) for name, c in
                  (("sessions", sessions), ("cache", cache))}
        policies = {name: c.config_get("maxmemory-policy").get("maxmemory-policy", "") for name, c in
                    (("sessions", sessions), ("cache", cache))}
        cache_count = 3 * megabytes * 1000    # ~1 KB each: three times the cache's limit
        _, cache_refused = _fill(cache, "cache:", cache_count, lambda i: 600 + i % 3000)   # 10 min to 1 h
        cache_used = cache.info("memory")["used_memory"]
        session_count = 2 * megabytes * 1000  # twice what the sessions' limit holds: a login storm past the sizing
        stored, session_refused = _fill(sessions, "session:", session_count, lambda i: week)
        kept = _kept(sessions, "session:", session_count)
    results = [
        (all(limit == megabytes * 2**20 for limit in limits.values()),
         f"both servers capped at {megabytes} MB (found: sessions {limits['sessions'] / 2**20:.1f} MB, cache "
         f"{limits['cache'] / 2**20:.1f} MB)"),
        (cache_refused == 0, f"the cache refused no write at 3× its limit (found: {cache_refused:,} refused; policy "
                             f"{policies['cache']})"),
        (0 < limits["cache"] and cache_used <= 1.1 * limits["cache"], "the cache stayed at its limit" +
         ("" if 0 < limits["cache"] and cache_used <= 1.1 * limits["cache"] else f" ({cache_used / 2**20:.1f} MB used)")),
        (kept == stored, f"no stored session was evicted (found: {stored - kept:,} of {stored:,} gone; policy "
                         f"{policies['sessions']})"),
        (session_refused > 0, "past their limit, session writes were refused with OOM — an error to alert on"
                              + ("" if session_refused else " (found: none refused)")),
    ]
    return check(results)


def stale_while_revalidate(r: redis.Redis, prefix: str, get_fresh: Callable[..., object]) -> bool:
    """Notebook 02: once the value is stale, 12 clients at once get an answer without waiting, and one recomputes."""
    key, fresh_for, clients, compute_s = f"{prefix}exercise:report", 1, 12, 0.6
    r.delete(key, f"{key}:lock")
    computed: list[str] = []
    finished: list[str] = []
    stolen: list[bool] = []

    def compute(version: str, seconds: float, steal: bool = False) -> Callable[[], str]:
        def run() -> str:
            computed.append(version)
            time.sleep(seconds)  # the slow report query
            if steal:  # as if this holder's lock had expired meanwhile and another client had taken it
                stolen.append(bool(r.set(f"{key}:lock", "another-client", xx=True, px=10_000)))
            finished.append(version)
            return version
        return run

    def at_once(work: Callable[[], object]) -> None:
        gate = threading.Barrier(clients)

        def client() -> None:
            gate.wait()
            work()

        workers = [threading.Thread(target=client) for _ in range(clients)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    try:
        first = get_fresh(r, key, compute("report-v1", 0.0), fresh_for)
    except Exception as exc:  # reported, not raised
        return check([(False, f"get_fresh raised {type(exc).__name__}: {exc}")])
    lock_left = r.exists(f"{key}:lock")
    at_once(r.ping)  # opens one pooled connection per client now, so connecting is not counted as waiting below
    time.sleep(fresh_for + 0.2)  # now the value is older than fresh_for
    computed.clear()
    finished.clear()
    answers: list[tuple[object, float]] = []

    def read() -> None:
        started = time.monotonic()
        try:
            answer = get_fresh(r, key, compute("report-v2", compute_s, steal=True), fresh_for)
        except Exception as exc:
            answer = f"{type(exc).__name__}: {exc}"
        answers.append((answer, time.monotonic() - started))

    at_once(read)
    waited_until = time.monotonic() + 3 * compute_s
    while (not computed or len(finished) < len(computed)) and time.monotonic() < waited_until:
        time.sleep(0.02)  # a refresh in the background: let it start and finish
    time.sleep(0.05)  # its write lands after compute returns
    recomputed = len(computed)
    after = get_fresh(r, key, compute("report-v3", 0.0), fresh_for)
    ttl, other_lock = r.ttl(key), r.get(f"{key}:lock")
    r.delete(key, f"{key}:lock")
    # quick: answered in well under the recomputation's 600 ms (a 50 ms round trip leaves room for 4 of them)
    quick = sum(seconds < 0.4 for _, seconds in answers)
    return check([
        (first == "report-v1", f"a cold key is computed and returned (found: {first!r})"),
        (recomputed == 1, "12 clients on a stale value, one recomputation" +
         ("" if recomputed == 1 else f" (found: {recomputed})")),
        (quick >= clients - 1, "the others answered with the stale value without waiting for the recomputation" +
         ("" if quick >= clients - 1 else f" (found: {quick} of {clients} in < 400 ms)")),
        (quick == clients, "the caller that started the refresh did not wait for it either (it runs off the request "
                           "path)" + ("" if quick == clients else f" (found: {quick} of {clients} in < 400 ms)")),
        ({a for a, _ in answers} <= {"report-v1", "report-v2"},
         "every answer is the old or the new value" +
         ("" if {a for a, _ in answers} <= {"report-v1", "report-v2"} else f" (found: {sorted({str(a) for a, _ in answers})})")),
        (after == "report-v2", f"afterwards the refreshed value is served (found: {after!r})"),
        (ttl > 0, "the entry still has a hard TTL, so an unread key goes away" + ("" if ttl > 0 else f" (found: TTL {ttl})")),
        (not lock_left, f"after the cold compute the lock {key.removeprefix(prefix)}:lock is released"),
        (any(stolen) and other_lock in ("another-client", b"another-client"),
         "a release leaves another client's lock alone (a token and compare-and-delete)" +
         ("" if any(stolen) and other_lock in ("another-client", b"another-client") else
          f" (found: no lock {key.removeprefix(prefix)}:lock was held during the recomputation)" if not any(stolen) else
          " (found: the other client's lock was deleted)")),
    ])
