"""Notebook 09's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

from typing import Callable

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from ..show import check


def user_keys(rc: RedisCluster, prefix: str, make_keys: Callable[[int], dict[str, str]]) -> bool:
    """Notebook 09: a user's profile, settings and cart keys share one slot; different users spread out."""
    try:
        users = {uid: make_keys(uid) for uid in range(1, 201)}
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"make_keys raised {type(exc).__name__}: {exc}")])
    first = users[1]
    shape = isinstance(first, dict) and {"profile", "settings", "cart"} <= set(first)
    if not shape:
        return check([(False, "make_keys(user_id) returns a dict with 'profile', 'settings' and 'cart' keys")])
    together = all(len({rc.keyslot(k) for k in keys.values()}) == 1 for keys in users.values())
    slots = {rc.keyslot(keys["profile"]) for keys in users.values()}
    try:  # the proof: an atomic multi-key update and an MGET across the three keys
        pipe = rc.pipeline(transaction=True)
        pipe.set(first["profile"], "Alice").set(first["settings"], "dark").rpush(first["cart"], "sku-42")
        pipe.execute()
        atomic = rc.mget(first["profile"], first["settings"]) == ["Alice", "dark"]
    except (redis.RedisError, RedisClusterException):
        atomic = False
    finally:  # the cluster client splits a multi-key DEL by slot
        rc.delete(*(key for keys in users.values() for key in keys.values()))
    return check([
        (all(k.startswith(prefix) for k in first.values()), f"every key starts with the notebook's prefix {prefix!r}"),
        (together, "a user's three keys hash to one slot (a hash tag around the user's id)"),
        (atomic, "a MULTI/EXEC and an MGET over one user's keys work in the cluster"),
        (len(slots) >= 150, f"200 users land in many slots ({len(slots)} distinct; ≥ 150), so no hot slot"),
    ])


def read_after_write(primary: redis.Redis, replica: redis.Redis,
                     save_and_read: Callable[[redis.Redis, redis.Redis, str, str], object],
                     prefix: str, trials: int = 20) -> bool:
    """Notebook 09: a replica read that always sees the write just made (the reads must go to the replica)."""
    key = f"{prefix}exercise:raw"
    before = int(replica.info("commandstats").get("cmdstat_get", {}).get("calls", 0))
    waits_before = int(primary.info("commandstats").get("cmdstat_wait", {}).get("calls", 0))
    stale = 0
    try:
        for i in range(trials):
            if save_and_read(primary, replica, key, f"version-{i}") != f"version-{i}":
                stale += 1
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"save_and_read raised {type(exc).__name__}: {exc}")])
    finally:
        primary.delete(key)
    replica_reads = int(replica.info("commandstats").get("cmdstat_get", {}).get("calls", 0)) - before
    waits = int(primary.info("commandstats").get("cmdstat_wait", {}).get("calls", 0)) - waits_before
    return check([
        (stale == 0, "every read returned the value just written (no stale read)"),
        (replica_reads >= trials, "the reads were served by the replica, so the primary is spared"),
        (waits >= trials, f"each write waited for the replicas' acknowledgement with WAIT ({waits} of {trials}), "
                          "not for a guess of the lag"),
    ])
