"""Notebook 07's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

from typing import Callable

import numpy as np
import redis

from ..show import check


def threshold(cache, value: float, probes: list[dict], probe_vectors: np.ndarray, labelled: list[dict]) -> bool:
    """Notebook 07: a distance threshold that answers ≥ 40 % of paraphrases and serves ≤ 10 % of hard negatives."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return check([(False, f"my_threshold should be a number (found {value!r})")])
    if not 0 <= value <= 2:
        return check([(False, f"a cosine distance threshold lies between 0 and 2 (found {value})")])
    correct = wrong = 0
    for probe, vector in zip(probes, probe_vectors):
        hits = cache.check(vector=vector.tolist(), distance_threshold=value)
        if hits and probe["should_hit"] and hits[0]["response"] == labelled[probe["entry"]]["answer"]:
            correct += 1
        elif hits:
            wrong += 1
    positives = sum(p["should_hit"] for p in probes)
    negatives = len(probes) - positives
    return check([
        (correct >= 0.4 * positives, f"{correct} of {positives} paraphrases answered (need ≥ 40 %)"),
        (wrong <= 0.1 * negatives, f"{wrong} wrong answers served to {negatives} hard negatives (need ≤ 10 %)"),
    ])


def tenant_lookup(ask_tenant: Callable, vectorizer, r: redis.Redis, prefix: str) -> bool:
    """Notebook 07: a lookup that only returns the asking tenant's cached answer."""
    from redisvl.extensions.cache.llm import SemanticCache

    cache = SemanticCache(name=f"{prefix}exercise", distance_threshold=0.2, vectorizer=vectorizer, redis_client=r,
                          filterable_fields=[{"name": "tenant", "type": "tag"}], overwrite=True)
    try:
        cache.clear()
        cache.store("What are your opening hours?", "acme: 9-18", filters={"tenant": "acme"})
        cache.store("What are your opening hours?", "globex: 8-20", filters={"tenant": "globex"})
        cache.store("How do I reset my password?", "globex: use the reset link", filters={"tenant": "globex"})
        try:
            acme = ask_tenant(cache, "What time do you open?", "acme")
            globex = ask_tenant(cache, "What time do you open?", "globex")
            acme_reset = ask_tenant(cache, "How can I reset my password?", "acme")
        except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
            return check([(False, f"ask_tenant raised {type(exc).__name__}: {exc}")])
        return check([
            (acme == "acme: 9-18", f"acme gets acme's opening hours (got {acme!r})"),
            (globex == "globex: 8-20", f"globex gets globex's opening hours (got {globex!r})"),
            (acme_reset is None, f"acme gets no answer that only globex cached (got {acme_reset!r})"),
        ])
    finally:
        cache.delete()
