"""Notebook 11's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

import threading
import time
from typing import Callable

import redis

from ..show import check


def rejected_alert(fn: Callable[[dict, dict], str | None], server_url: str) -> bool:
    """Notebook 11: an alert on connections refused during a window, not on the counter since start-up."""
    r = redis.Redis.from_url(server_url, decode_responses=True)

    def snap() -> dict:
        return {**r.info(), "_t": time.monotonic()}

    def overflow() -> None:
        # more connections than maxclients: the last ones are refused ("max number of clients reached")
        extra = [redis.Redis.from_url(server_url, retry=None) for _ in range(int(r.config_get("maxclients")["maxclients"]))]
        for c in extra:
            try:
                c.ping()
            except redis.ConnectionError:
                pass
        for c in extra:
            c.close()

    try:
        overflow()                                     # yesterday's incident: the counter is now above 0
        a, b = snap(), snap()
        quiet = fn(a, b)
        overflow()
        refusing = fn(b, snap())
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"rejected_alert raised {type(exc).__name__}: {exc}")])
    finally:
        r.close()
    return check([
        (quiet is None, f"no connection refused in the window, {a['rejected_connections']} since start-up: no alert "
                        f"(found: {quiet!r})"),
        (refusing == "critical", f"connections refused in the window: 'critical' (found: {refusing!r})"),
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


def replica_health(fn: Callable[[redis.Redis], tuple[int, dict]], replica_url: str, primary_port: int) -> bool:
    """Notebook 11: a replica's /health answers 200 when linked, 503 when its link is down or it is stalled."""
    fast = {"socket_timeout": 0.3, "socket_connect_timeout": 0.3, "retry": None, "decode_responses": True}
    admin = redis.Redis.from_url(replica_url, decode_responses=True)
    try:
        linked = fn(redis.Redis.from_url(replica_url, **fast))
        admin.execute_command("CLIENT", "PAUSE", 1000, "ALL")
        try:
            stalled = fn(redis.Redis.from_url(replica_url, **fast))
        finally:
            admin.execute_command("CLIENT", "UNPAUSE")
        admin.replicaof("127.0.0.1", 1)  # a port nothing listens on: the link goes down
        unlinked = fn(redis.Redis.from_url(replica_url, **fast))
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"replica_health raised {type(exc).__name__}: {exc}")])
    finally:
        admin.replicaof("127.0.0.1", primary_port)
        admin.close()
    return check([
        (linked[0] == 200, f"a replica linked to its primary answers 200 (found: {linked})"),
        (unlinked[0] == 503, f"a replica whose link to the primary is down answers 503 (found: {unlinked})"),
        (stalled[0] == 503, f"a stalled replica answers 503 within its timeout, not a crash (found: {stalled})"),
    ])
