"""Notebook 01's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

import threading
from typing import Callable

import redis

from ..show import check


def cart(r: redis.Redis, prefix: str, add_to_cart: Callable[..., object]) -> bool:
    """Notebook 01: a shopping cart kept as a hash, updated atomically by concurrent clients."""
    key = f"{prefix}exercise:cart"
    r.delete(key)
    clients = [redis.Redis(connection_pool=r.connection_pool) for _ in range(4)]

    def shopper(client: redis.Redis) -> None:
        for _ in range(50):
            add_to_cart(client, key, "sku-42", 1)

    workers = [threading.Thread(target=shopper, args=(c,)) for c in clients]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    add_to_cart(r, key, "sku-7", 3)
    kind = r.type(key)
    items = r.hgetall(key) if kind == "hash" else {}
    ok = check([
        (kind == "hash", f"the cart is a hash (found: {kind})"),
        (items.get("sku-7") == "3", "adding 3 of sku-7 gives quantity 3"),
        (items.get("sku-42") == "200", f"4 shoppers × 50 adds of sku-42 give 200 (found: {items.get('sku-42')}) — "
                                       "no update lost, so the update is atomic"),
    ])
    r.delete(key)
    return ok


def cache_key(make_key: Callable[[str, str], str]) -> bool:
    """Notebook 01: cache keys for long URLs — short, structured, stable, distinct."""
    url = "https://api.example.com/v2/users?filter=active&sort=-created_at&fields=id,name,email&page=" + "9" * 150
    try:
        key = make_key("api", url)
        other = make_key("api", url + "0")
        again = make_key("api", url)
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"make_key raised {type(exc).__name__}: {exc}")])
    key = key if isinstance(key, str) else ""
    return check([
        (key.startswith("cache:api:"), f"the key starts with 'cache:api:' (found: {key[:30]!r})"),
        (0 < len(key) <= 64, f"the key is short: {len(key)} characters for a {len(url)}-character URL (≤ 64)"),
        (" " not in key and key == key.lower(), "no spaces, one case"),
        (key == again, "the same URL always gives the same key"),
        (key != other, "different URLs give different keys"),
    ])
