"""Notebook 06's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..show import check
from ..vectors import recall


def tuned_search(search: Callable[[np.ndarray], list[int]], base: np.ndarray, queries: np.ndarray,
                 truth_distances: np.ndarray) -> bool:
    """Notebook 06: a VectorQuery on the HNSW index tuned (ef_runtime) to recall@10 ≥ 0.99."""
    try:
        found = [list(search(q)) for q in queries]
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"search raised {type(exc).__name__}: {exc}")])
    sizes_ok = all(len(ids) == 10 for ids in found)
    ints_ok = all(isinstance(i, (int, np.integer)) and 0 <= i < len(base) for ids in found for i in ids)
    got = recall(found, truth_distances, base, queries) if sizes_ok and ints_ok else 0.0
    nearest_first = sizes_ok and ints_ok and all(
        np.all(np.diff(1 - base[ids] @ q) >= -1e-5) for ids, q in zip(found, queries))
    return check([
        (sizes_ok, "every query returns exactly 10 ids"),
        (ints_ok, "ids are the numbers at the end of the keys"),
        (nearest_first, "results come nearest first"),
        (got >= 0.99, f"recall@10 = {got:.3f} (needs ≥ 0.99: raise ef_runtime)"),
    ])


def ask(ask_fn: Callable[[str], list[dict]], questions: list[dict], unanswerable: list[str]) -> bool:
    """Notebook 06: retrieval with a distance threshold, at most 3 chunks, each with its source and position."""
    try:
        answered = [ask_fn(q["q"]) for q in questions]
        refused = [ask_fn(q) for q in unanswerable]
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"ask raised {type(exc).__name__}: {exc}")])
    every = [hit for hits in answered + refused for hit in hits]
    right_page = sum(any(h.get("source") in set(q["answers"]) for h in hits) for hits, q in zip(answered, questions))
    return check([
        (all(len(h) <= 3 for h in answered + refused), "at most 3 chunks per question"),
        (all("source" in h and "chunk_index" in h for h in every), "every chunk carries its source and chunk_index"),
        (all(refused_hits == [] for refused_hits in refused),
         f"unanswerable questions get no chunks ({sum(bool(h) for h in refused)} of {len(refused)} got some)"),
        (all(answered), f"answerable questions get chunks ({sum(bool(h) for h in answered)} of {len(answered)})"),
        (right_page >= 0.8 * len(questions), f"the right page is among them for {right_page} of {len(questions)}"),
    ])
