"""Notebook 05's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

import redis

from ..catalogue import search_ids, wait_indexed
from ..show import check


def coffee(r: redis.Redis, index: str, products: list[dict], prefix: str, query: str) -> bool:
    """Notebook 05: in-stock coffee makers under 100, as one FT.SEARCH query on the TAG index."""
    expected = {f"{prefix}product:{p['id']}" for p in products if p["category"] == "home>kitchen>coffee makers"
                and p["status"] == "in stock" and p["price"] < 100}
    try:
        found = search_ids(r, index, query)
    except redis.ResponseError as exc:  # a syntax error in the learner's query: say so, don't stop Run All
        return check([(False, f"the server rejected the query: {exc} — TAG values go in braces, "
                              "with '>' and spaces escaped or the value quoted")])
    return check([
        (bool(found), f"the query finds something ({len(found)} found) — if 0, look at how '>' and the space "
                      "in the category are written"),
        (not found - expected, f"nothing wrong in the result ({len(found - expected)} wrong) — status and "
                               "category need exact TAG matches, the price a NUMERIC range"),
        (not expected - found, f"nothing missed ({len(expected - found)} of {len(expected)} missed)"),
    ])


def lean_schema(m: redis.Redis, orders: list[dict], schema: list[str]) -> bool:
    """Notebook 05: the smallest order schema that answers both of the order service's questions."""
    name = "exercise:orders"
    if name in {str(n) for n in m.execute_command("FT._LIST")}:
        m.ft(name).dropindex()
    try:
        m.execute_command("FT.CREATE", name, "ON", "JSON", "PREFIX", 1, "order:", "SCHEMA", *schema)
        wait_indexed(m, name)
    except redis.ResponseError as exc:
        return check([(False, f"FT.CREATE rejected the schema: {exc}")])
    customer = orders[0]["customer_id"]
    newest_first = sorted((o for o in orders if o["customer_id"] == customer), key=lambda o: -o["created_at"])
    results = []
    try:
        reply = m.execute_command("FT.SEARCH", name, f"@customer_id:{{{customer}}}", "SORTBY", "created_at",
                                  "DESC", "NOCONTENT", "LIMIT", 0, 1000, "DIALECT", 2)
        ids = [row["id"] for row in reply["results"]]   # RESP3, redis-py 8's default
        results.append((ids == [f"order:{o['id']}" for o in newest_first],
                        f"a customer's orders, newest first: {len(ids)} in the right order of "
                        f"{len(newest_first)}"))
    except redis.ResponseError as exc:
        results.append((False, f"a customer's orders, newest first: {exc}"))
    pending = {f"order:{o['id']}" for o in orders if o["status"] == "pending" and o["total"] > 500}
    try:
        found = search_ids(m, name, "@status:{pending} @total:[(500 +inf]")
        results.append((found == pending, f"pending orders over 500: {len(found & pending)} of {len(pending)} "
                                          f"found, {len(found - pending)} wrong"))
    except redis.ResponseError as exc:
        results.append((False, f"pending orders over 500: {exc}"))
    kinds = [schema[i + 2] for i in range(len(schema) - 2) if schema[i] == "AS"]   # path AS name TYPE
    extra = len(kinds) - 4
    results.append((extra <= 0 and "TEXT" not in kinds,
                    f"no field the questions do not use ({len(kinds)} fields indexed, "
                    f"{'including TEXT' if 'TEXT' in kinds else 'no TEXT'}; 4 are enough)"))
    m.ft(name).dropindex()
    return check(results)
