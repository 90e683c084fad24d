"""Offline text corpora (docstrings, pydoc topics), chunking, and the plumbing of notebook 06's vector measurements."""

from __future__ import annotations

import ast
import json
import re
import sysconfig
import time
from pathlib import Path

import numpy as np
import redis

from .search import wait_indexed  # noqa: F401 - notebook 06 calls it from here

SKIP_DIRS = {"test", "tests", "idlelib", "site-packages", "dist-packages", "lib2to3", "turtledemo", "__pycache__"}
# Topics that are concatenations of smaller ones ("compound" holds if/while/for/try/with...): kept out, so every
# answer lives in one document.
COMBINED_TOPICS = {"compound", "specialnames", "types"}


def _roots() -> list[Path]:
    """Where docstrings come from: the standard library first, then the larger installed packages."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    return [stdlib] + [site / name for name in ("numpy", "pandas", "matplotlib", "redisvl", "redis")]


def docstring_paragraphs(limit: int) -> list[str]:
    """Up to `limit` unique docstring paragraphs (40–240 characters) from installed Python code, in a fixed order."""
    seen: dict[str, None] = {}  # a dict keeps insertion order, so the corpus (and its cache file) is the same every run
    for root in _roots():
        files = sorted(p for p in root.rglob("*.py") if not SKIP_DIRS & set(p.relative_to(root).parts))
        for path in files:
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    for para in re.split(r"\n\s*\n", ast.get_docstring(node) or ""):
                        text = " ".join(para.split())
                        if 40 <= len(text) <= 240 and text not in seen:
                            seen[text] = None
                            if len(seen) == limit:
                                return list(seen)
    return list(seen)


def pydoc_topics() -> dict[str, str]:
    """Python's own reference topics (pydoc_data.topics, shipped with every Python), minus the combined ones."""
    from pydoc_data.topics import topics

    return {name: text for name, text in sorted(topics.items()) if name not in COMBINED_TOPICS}


def rag_pages(*, small: bool) -> dict[str, str]:
    """Notebook 06's retrieval corpus: the reference topics; the test run (`small`) skips pages over 10,000 characters."""
    pages = pydoc_topics()
    return {name: text for name, text in pages.items() if len(text) <= 10_000} if small else pages


# Notebook 06 at test scale embeds this many docstring paragraphs: max(SIZES) + QUERIES (tests/test_vectors.py checks).
TEST_CORPUS = 2_000 + 100


def warm_cache() -> None:
    """Embed into the disk cache what notebook 06 embeds at test scale (run-tests runs it beside the unit tests)."""
    from . import embed

    pages = rag_pages(small=True)
    labelled = json.loads((embed.PROJECT / "data" / "rag-questions.json").read_text())
    for texts in (docstring_paragraphs(TEST_CORPUS), list(pages.values()),
                  [q["q"] for q in labelled["questions"] if set(q["answers"]) & set(pages)],
                  [piece for text in pages.values() for piece in chunk(text)], labelled["unanswerable"]):
        embed.embed_cached(texts)


def chunk(text: str, *, size: int = 500, overlap: int = 80) -> list[str]:
    """Split on paragraphs, then words, into pieces of at most `size` characters; each repeats the previous tail."""
    words_of = [p.split() for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    current: list[str] = []
    for words in words_of:
        for word in words:
            if current and len(" ".join(current)) + 1 + len(word) > size:
                pieces.append(" ".join(current))
                tail: list[str] = []
                while current and len(" ".join(tail + current[-1:])) <= overlap:
                    tail.insert(0, current.pop())
                current = tail
            current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


# ---------------------------------------------------------------- approximate vs exact nearest neighbours


def load_vectors(r: redis.Redis, prefix: str, vectors: np.ndarray, *, batch: int = 500) -> float:
    """HSET one hash per vector (field `embedding`, float32 bytes) under `prefix`; seconds it took."""
    start = time.perf_counter()
    for lo in range(0, len(vectors), batch):
        pipe = r.pipeline(transaction=False)
        for i in range(lo, min(lo + batch, len(vectors))):
            pipe.hset(f"{prefix}{i}", "embedding", vectors[i].tobytes())
        pipe.execute()
    return time.perf_counter() - start


def knn(r: redis.Redis, name: str, query: np.ndarray, k: int, ef_runtime: int | None = None) -> list[int]:
    """The numbers of the k nearest hashes (their key's last part) by FT.SEARCH KNN, nearest first."""
    ef = f" EF_RUNTIME {ef_runtime}" if ef_runtime else ""
    reply = r.execute_command("FT.SEARCH", name, f"*=>[KNN {k} @embedding $vec{ef} AS d]", "PARAMS", 2, "vec",
                              query.tobytes(), "SORTBY", "d", "NOCONTENT", "LIMIT", 0, k, "DIALECT", 2)
    keys = [hit["id"] for hit in reply["results"]] if isinstance(reply, dict) else reply[1:]  # RESP3 or RESP2
    return [int(key.rsplit(":", 1)[1]) for key in keys]


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force in numpy: (ids, cosine distances) of the k nearest vectors to each query (unit vectors)."""
    distances = 1.0 - queries @ vectors.T
    ids = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return ids, np.take_along_axis(distances, ids, axis=1)


def recall(found: list[list[int]], truth_distances: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> float:
    """Recall@k: the share of returned ids that are within the true k-th distance (ties count, as in ann-benchmarks)."""
    k = truth_distances.shape[1]
    hits = 0
    for q, ids in enumerate(found):
        d = 1.0 - vectors[ids] @ queries[q]
        hits += int(np.sum(d <= truth_distances[q, -1] + 1e-5))
    return hits / (k * len(found))


def latencies(fn, items, *, warmup: int = 5) -> np.ndarray:
    """Milliseconds of `fn(item)` for each item (after `warmup` untimed calls)."""
    for item in items[:warmup]:
        fn(item)
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - start) * 1e3)
    return np.array(out)


# ---------------------------------------------------------------- retrieval quality


def rank_metrics(ranked_sources: list[list[str]], answers: list[set[str]]) -> dict[str, float]:
    """hit@1, hit@5 and MRR (over the first 10) of ranked source lists against each question's acceptable sources."""
    hit1 = hit5 = rr = 0.0
    for ranked, good in zip(ranked_sources, answers):
        rank = next((i for i, s in enumerate(ranked[:10]) if s in good), None)
        hit1 += rank == 0
        hit5 += rank is not None and rank < 5
        rr += 0 if rank is None else 1 / (rank + 1)
    n = len(answers)
    return {"hit@1": hit1 / n, "hit@5": hit5 / n, "MRR": rr / n}


def distinct_sources(hits: list[dict], field: str = "source") -> list[str]:
    """The sources of ranked hits, first occurrence only (several chunks of one document count once)."""
    seen: list[str] = []
    for hit in hits:
        if hit[field] not in seen:
            seen.append(hit[field])
    return seen


DATA_MODEL = {"attribute-access", "callable-types", "context-managers", "customization", "id-classes", "numeric-types",
              "objects", "sequence-types", "specialattrs"}


def section_of(name: str, text: str) -> str:
    """A coarse section tag for a pydoc topic: statements, data model, library, or expressions."""
    title = text.strip().splitlines()[0].lower()
    if "statement" in title:
        return "statements"
    if name in DATA_MODEL:
        return "data model"
    if name.startswith(("types", "bltin")) or name in {"string-methods", "formatstrings", "truth", "debugger"}:
        return "library"
    return "expressions"


def build_prompt(question: str, hits: list[dict]) -> str:
    """The prompt a RAG app would send: numbered sources with their origin, then the question."""
    context = "\n\n".join(f"[{n}] (source: {h['source']}, chunk {h['chunk_index']})\n{h['content']}"
                          for n, h in enumerate(hits, 1))
    return ("Answer the question using only the sources below. Cite them as [n]. If they do not contain the answer, "
            f"say so.\n\n{context}\n\nQuestion: {question}")


def ann_schema(name: str, algorithm: str, dims: int, **params) -> dict:
    """A RedisVL hash schema `name` (prefix `name:`): one float32 cosine vector field, FLAT or HNSW plus `params`."""
    attrs = {"dims": dims, "distance_metric": "cosine", "algorithm": algorithm, "datatype": "float32", **params}
    return {"index": {"name": name, "prefix": f"{name}:", "storage_type": "hash"},
            "fields": [{"name": "embedding", "type": "vector", "attrs": attrs}]}


def build_ann(r: redis.Redis, schema: dict, vectors: np.ndarray):
    """Create the index (dropping an old one), then load `vectors` into it; (the SearchIndex, seconds of the load)."""
    from redisvl.index import SearchIndex

    index = SearchIndex.from_dict(schema, redis_client=r)
    index.create(overwrite=True, drop=True)
    wait_indexed(r, index.name, 0)     # let the creation scan finish first, or keys loaded now get indexed twice
    seconds = load_vectors(r, index.prefix, vectors)
    info = wait_indexed(r, index.name, len(vectors))
    if int(info["max_doc_id"]) != len(vectors):
        raise AssertionError(f"{index.name}: max_doc_id {info['max_doc_id']}, expected each vector indexed once")
    return index, seconds


if __name__ == "__main__":
    warm_cache()
