"""Query Engine plumbing shared by notebooks 05 and 06: wait for an index, collect matches, read index memory."""

from __future__ import annotations

import time

import redis

MEMORY_PARTS = ["inverted_sz_mb", "offset_vectors_sz_mb", "tag_overhead_sz_mb", "text_overhead_sz_mb",
                "sortable_values_size_mb", "doc_table_size_mb", "key_table_size_mb"]


def wait_indexed(r: redis.Redis, index: str, expected: int | None = None, *, timeout: float = 120.0) -> dict:
    """Poll FT.INFO until the background scan is done (and, if given, `expected` documents are in); its FT.INFO.

    Create the index, wait here, then load: keys loaded while the creation scan runs can be indexed twice.
    """
    deadline = time.monotonic() + timeout
    while True:
        info = r.ft(index).info()
        if int(info["indexing"]) == 0 and (expected is None or int(info["num_docs"]) == expected):
            return info
        if time.monotonic() > deadline:
            raise TimeoutError(f"index {index} holds {info['num_docs']} documents"
                               + (f" of {expected}" if expected is not None else "")
                               + f", {float(info['percent_indexed']):.0%} scanned, after {timeout:.0f} s")
        time.sleep(0.01)


def search_ids(r: redis.Redis, index: str, query: str, *, dialect: int = 2) -> set[str]:
    """The keys of every document that `query` matches in `index` (all pages, no content)."""
    from redis.commands.search.query import Query

    found: set[str] = set()
    while True:
        page = r.ft(index).search(Query(query).no_content().paging(len(found), 10_000).dialect(dialect))
        found.update(doc.id for doc in page.docs)
        if not page.docs or len(found) >= page.total:
            return found


def index_memory(r: redis.Redis, index: str) -> dict[str, float]:
    """An index's memory as FT.INFO reports it, in MB: each part, and their total."""
    info = r.ft(index).info()
    parts = {name: float(info[name]) for name in MEMORY_PARTS}
    parts["total_index_memory_sz_mb"] = float(info["total_index_memory_sz_mb"])
    return parts


def build_index(r: redis.Redis, name: str, prefix: str, schema: list, *, on: str = "JSON") -> tuple[float, dict]:
    """Create `name` over the keys already under `prefix` and wait for its scan; (seconds, its FT.INFO)."""
    started = time.perf_counter()
    r.execute_command("FT.CREATE", name, "ON", on, "PREFIX", 1, prefix, "SCHEMA", *schema)
    info = wait_indexed(r, name)
    return time.perf_counter() - started, info


def profile_iterators(r: redis.Redis, index: str, query: str, *, dialect: int = 2) -> list[tuple[str, str, int]]:
    """(type, term, documents counted) of each iterator FT.PROFILE reports, breadth first (times left out)."""
    profile = r.execute_command("FT.PROFILE", index, "SEARCH", "QUERY", query, "LIMIT", 0, 0, "DIALECT", dialect)
    tree = profile["profile"]["Iterators profile"]     # RESP3, which redis-py 8 speaks by default
    nodes = tree if isinstance(tree, list) else [tree]
    rows = []
    while nodes:
        node = nodes.pop(0)
        rows.append((node.get("Type"), node.get("Term", ""), node.get("Counter")))
        nodes += node.get("Child iterators", [])
    return rows
