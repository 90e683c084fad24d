"""Notebook 08's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

from typing import Callable

import redis

from ..show import check
from ..streams import age_pending


def recover(r: redis.Redis, prefix: str, recover_fn: Callable[..., object]) -> bool:
    """Notebook 08: take over a dead consumer's idle messages, dead-letter the one delivered too often."""
    stream, dlq, group = f"{prefix}exercise:orders", f"{prefix}exercise:orders:dead", "billing"
    r.delete(stream, dlq)
    r.xgroup_create(stream, group, id="0", mkstream=True)
    # More than 10 live entries with lower IDs, so a look at only the first 10 pending entries finds none to recover.
    live, dead = 12, 6
    ids = [r.xadd(stream, {"order": str(i)}) for i in range(live + dead + 1)]
    r.xreadgroup(group, "alive", {stream: ">"}, count=live)        # m0..m11: a live worker, busy right now
    r.xreadgroup(group, "dead", {stream: ">"}, count=dead)         # m12..m17: a worker that died
    idle, poison, never = ids[live:live + dead - 1], ids[live + dead - 1], ids[live + dead]
    age_pending(r, stream, group, "dead", idle, idle_ms=120_000)
    age_pending(r, stream, group, "dead", [poison], idle_ms=120_000, deliveries=3)  # m17: the poison message
    try:
        recover_fn(r, stream, group, "rescuer", 60_000, 3, dlq)
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        r.delete(stream, dlq)
        return check([(False, f"recover raised {type(exc).__name__}: {exc}")])
    owners = {p["message_id"]: p["consumer"] for p in r.xpending_range(stream, group, "-", "+", 100)}
    dead_letters = [fields for _, fields in r.xrange(dlq)] if r.exists(dlq) else []
    ok = check([
        (all(owners.get(i) == "rescuer" for i in idle),
         f"the dead worker's {len(idle)} idle messages now belong to 'rescuer' (XCLAIM / XAUTOCLAIM with a min idle "
         f"time), though {live} pending entries of a live worker come before them by ID"),
        (all(owners.get(i) == "alive" for i in ids[:live]),
         f"the live worker's {live} recent messages were left alone (they are not idle long enough)"),
        (poison not in owners, "the poison message (delivered 3 times) is no longer pending: it was acknowledged"),
        (any(f.get("order") == str(live + dead - 1) for f in dead_letters),
         f"the poison message is in the dead-letter stream with its fields ({len(dead_letters)} entries there)"),
        (never not in owners, "a message never delivered is not recovery's business (it stays for '>' readers)"),
    ])
    r.delete(stream, dlq)
    return ok


def idempotent(r: redis.Redis, prefix: str, apply_payment: Callable[..., object]) -> bool:
    """Notebook 08: a consumer whose work is applied once per event, however often the event is delivered."""
    account, seen = f"{prefix}exercise:account", f"{prefix}exercise:seen:"
    lab_keys = list(r.scan_iter(match=f"{seen}*")) + [account]
    r.delete(*lab_keys)
    deliveries = ["e1", "e2", "e2", "e3", "e1", "e3", "e3", "e4"]   # at-least-once: redeliveries happen
    amounts = {"e1": 10, "e2": 20, "e3": 30, "e4": 40}
    try:
        for event_id in deliveries:
            apply_payment(r, f"{seen}{event_id}", account, amounts[event_id])
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"apply_payment raised {type(exc).__name__}: {exc}")])
    balance = int(r.hget(account, "balance") or 0)
    markers = list(r.scan_iter(match=f"{seen}*"))
    ttls = [r.ttl(k) for k in markers]
    ok = check([
        (balance == 100, f"8 deliveries of 4 payments add 100 to the balance (found: {balance}) — each once"),
        (len(markers) == 4, f"one 'seen' marker per event ({len(markers)} found)"),
        (bool(ttls) and all(t > 0 for t in ttls), "the markers expire (a TTL), so they do not pile up for ever"),
    ])
    r.delete(*markers, account)
    return ok


def claim_loop(r: redis.Redis, prefix: str, claim_all: Callable[..., object]) -> bool:
    """Notebook 08: an XAUTOCLAIM loop that follows the cursor to 0-0 and reports the deleted IDs it returns."""
    stream, group = f"{prefix}exercise:jobs", "workers"
    r.delete(stream)
    r.xgroup_create(stream, group, id="0", mkstream=True)
    pipe = r.pipeline(transaction=False)
    for i in range(260):
        pipe.xadd(stream, {"job": str(i)})
    ids = pipe.execute()
    r.xreadgroup(group, "dead", {stream: ">"}, count=250)         # a worker that died holding 250 jobs
    r.xreadgroup(group, "alive", {stream: ">"}, count=10)         # a live worker, busy with 10 right now
    age_pending(r, stream, group, "dead", ids[:250], idle_ms=120_000)
    gone = ids[100:105]
    r.xdel(stream, *gone)                                          # trimmed away while still pending
    try:
        result = claim_all(r, stream, group, "rescuer", 60_000)
        claimed, deleted = result
        claimed_ids, deleted_ids = {e[0] for e in claimed}, set(deleted)
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        r.delete(stream)
        return check([(False, f"claim_all raised or returned something else ({type(exc).__name__}: {exc}); "
                              "it returns (claimed entries, deleted IDs)")])
    owners = {p["message_id"]: p["consumer"] for p in r.xpending_range(stream, group, "-", "+", 1_000)}
    alive = set(ids[250:])
    ok = check([
        (claimed_ids == set(ids[:250]) - set(gone),
         f"all {250 - len(gone)} idle jobs of the dead worker claimed ({len(claimed_ids)} returned) — "
         "more than one XAUTOCLAIM page: follow the cursor until it is 0-0"),
        (deleted_ids == set(gone), f"the {len(gone)} deleted IDs XAUTOCLAIM reported are returned "
                                   f"({len(deleted_ids)} found): their payload is gone, someone must know"),
        (all(owners.get(i) == "alive" for i in alive), "the live worker's 10 jobs were left alone"),
    ])
    r.delete(stream)
    return ok
