"""Notebook 04's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

import threading
from typing import Callable

import redis

from ..server import has
from ..show import check


def session(r: redis.Redis, prefix: str, store_session: Callable[..., object]) -> bool:
    """Notebook 04: a flat session stored so that only its 'ip' field expires, after an hour."""
    if not has("hash-field-ttl", r):
        print("This server has no hash-field TTL (it needs Redis 7.4+), so this exercise cannot be checked here.")
        return True
    key = f"{prefix}exercise:session"
    data = {"user_id": "1001", "ip": "192.168.1.1", "user_agent": "Mozilla/5.0"}
    r.delete(key)
    try:
        store_session(r, key, data)
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        r.delete(key)
        return check([(False, f"store_session raised {type(exc).__name__}: {exc}")])
    kind = r.type(key)
    stored = r.hgetall(key) if kind == "hash" else {}
    ttls = dict(zip(data, r.httl(key, *data))) if kind == "hash" else {}
    ok = check([
        (kind == "hash", f"the session is a hash (found: {kind}) — only hashes have per-field expiry"),
        (stored == data, "every field is stored with its value"),
        (0 < ttls.get("ip", -1) <= 3600, f"'ip' expires within an hour (TTL found: {ttls.get('ip')})"),
        (all(ttls.get(f) == -1 for f in ("user_id", "user_agent")), "the other fields do not expire"),
        (r.ttl(key) == -1, "the key itself does not expire (that would drop the whole session)"),
    ])
    r.delete(key)
    return ok


def sale(r: redis.Redis, prefix: str, record_sale: Callable[..., object]) -> bool:
    """Notebook 04: concurrent sales update stock and units sold of a JSON product without losing any."""
    key = f"{prefix}exercise:product"
    r.json().set(key, "$", {"id": "P1", "name": "Kumo Pro Headphones", "stock": 1000, "units_sold": 0,
                            "tags": ["audio"]})
    errors: list[str] = []
    clients = [redis.Redis(connection_pool=r.connection_pool) for _ in range(4)]

    def checkout(client: redis.Redis) -> None:
        try:
            for _ in range(50):
                record_sale(client, key, 1)
        except Exception as exc:  # reported below, not raised in a thread
            errors.append(f"{type(exc).__name__}: {exc}")

    workers = [threading.Thread(target=checkout, args=(c,)) for c in clients]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    doc = r.json().get(key) if r.type(key) == "ReJSON-RL" else {}
    ok = check([
        (not errors, f"record_sale ran without errors{': ' + errors[0] if errors else ''}"),
        (doc.get("stock") == 800, f"4 clients × 50 sales take 200 units out of 1,000: stock 800 "
                                  f"(found: {doc.get('stock')}) — no sale lost"),
        (doc.get("units_sold") == 200, f"units_sold is 200 (found: {doc.get('units_sold')})"),
        (doc.get("tags") == ["audio"] and doc.get("name") == "Kumo Pro Headphones",
         "the rest of the document is untouched"),
    ])
    r.delete(key)
    return ok
