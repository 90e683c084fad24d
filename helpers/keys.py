"""Key prefixes that keep notebooks (and workshop attendees) apart on one server, and clean-up by prefix."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import redis


def attendee_prefix() -> str:
    """LAB_PREFIX if set, else 'USER:' when REDIS_URL names a user other than default (workshop mode), else ''."""
    if "LAB_PREFIX" in os.environ:
        return os.environ["LAB_PREFIX"]
    user = urlsplit(os.environ.get("REDIS_URL", "")).username
    return f"{user}:" if user and user != "default" else ""


def key_prefix(notebook: str) -> str:
    """The notebook's key prefix, e.g. 'nb01:', or 'att07:nb01:' for workshop attendee att07."""
    return f"{attendee_prefix()}{notebook}:"


def delete_prefix(r: redis.Redis, prefix: str, *, batch: int = 1000) -> int:
    """Delete every key that starts with `prefix` (SCAN + UNLINK, never KEYS); returns how many were deleted."""
    deleted = 0
    pending: list = []
    for key in r.scan_iter(match=f"{prefix}*", count=batch):
        pending.append(key)
        if len(pending) >= batch:
            deleted += r.unlink(*pending)
            pending.clear()
    if pending:
        deleted += r.unlink(*pending)
    return deleted


def memory_of(r: redis.Redis, match: str, *, batch: int = 1000) -> tuple[int, int]:
    """(bytes, keys): the summed exact MEMORY USAGE of every key matching `match`, found with SCAN.

    Exact means SAMPLES 0, which walks every element of a collection: right for the lab's own keys, not for a scan of
    a production keyspace (there keep the default sampling, SAMPLES 5).
    """
    total = count = 0
    keys = list(set(r.scan_iter(match=match, count=batch)))   # SCAN may return a key twice
    for i in range(0, len(keys), batch):
        pipe = r.pipeline(transaction=False)
        for key in keys[i:i + batch]:
            pipe.memory_usage(key, samples=0)
        sizes = [s or 0 for s in pipe.execute()]
        total += sum(sizes)
        count += len(sizes)
    return total, count
