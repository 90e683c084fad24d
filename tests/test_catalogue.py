"""helpers.catalogue: the same documents for the same seed, consistent orders, and loading into a real Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from helpers import catalogue
from helpers.server import RedisServer, start_server


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with start_server(name="test-catalogue") as s:
        yield s


def test_same_seed_same_documents() -> None:
    """Two calls with the same seed give byte-identical catalogues; another seed gives another one."""
    first, second = catalogue.catalogue(200, 500), catalogue.catalogue(200, 500)
    assert json.dumps(first) == json.dumps(second)
    assert json.dumps(catalogue.products(200, seed=1)) != json.dumps(first[0])


def test_documents_have_the_shapes_the_notebooks_need() -> None:
    """Nested fields, statuses with spaces, every category, and units sold that agree with the orders."""
    products, orders = catalogue.catalogue(300, 900)
    assert {p["category"] for p in products} == set(catalogue.CATEGORIES)
    assert {p["status"] for p in products} == set(catalogue.STATUSES)
    assert all(p["variants"] and "average" in p["rating"] and "," in p["store"]["location"] for p in products)
    sold = sum(item["quantity"] for o in orders for item in o["items"])
    assert sum(p["units_sold"] for p in products) == sold
    assert all(abs(o["total"] - sum(i["price"] * i["quantity"] for i in o["items"])) < 0.01 for o in orders)


def test_flatten_and_distance() -> None:
    """Nested objects become dotted fields, arrays JSON text; Lisbon–Madrid is about 503 km."""
    flat = catalogue.flatten({"a": {"b": 1, "c": [1, 2]}, "d": True})
    assert flat == {"a.b": 1, "a.c": "[1, 2]", "d": 1}
    assert 495 < catalogue.distance_km(38.7223, -9.1393, 40.4168, -3.7038) < 510


def test_load_index_and_search(server: RedisServer) -> None:
    """Loaded documents are JSON; an index created before the load holds each exactly once."""
    r = server.client()
    r.execute_command("FT.CREATE", "t", "ON", "JSON", "PREFIX", 1, "p:", "SCHEMA", "$.status", "AS", "status", "TAG")
    catalogue.wait_indexed(r, "t")
    products = catalogue.products(500)
    catalogue.load_json(r, "p:", products, batch=64)
    info = catalogue.wait_indexed(r, "t")
    assert int(info["num_docs"]) == int(info["max_doc_id"]) == 500
    in_stock = {f"p:{p['id']}" for p in products if p["status"] == "in stock"}
    assert catalogue.search_ids(r, "t", "@status:{in stock}") == in_stock
    assert catalogue.index_memory(r, "t")["total_index_memory_sz_mb"] > 0
    assert r.type("p:P000000") == "ReJSON-RL"


def test_wait_indexed_gives_up_with_a_clear_error(server: RedisServer) -> None:
    """An unknown index is the server's error, not a hang."""
    with pytest.raises(redis.ResponseError):
        catalogue.wait_indexed(server.client(), "no-such-index", timeout=0.1)


def test_layouts_profile_build_and_writes(server: RedisServer) -> None:
    """Three layouts measured, FT.PROFILE read, an index built over loaded keys, interleaved writes sampled."""
    r = server.client()
    sizes = catalogue.bytes_per_layout(r, "lay:", catalogue.products(20))
    assert set(sizes) == {"Hash", "JSON", "JSON string"} and all(v > 0 for v in sizes.values())
    catalogue.load_json(r, "b:", catalogue.products(100))
    seconds, info = catalogue.build_index(r, "b", "b:", ["$.status", "AS", "status", "TAG"])
    assert seconds > 0 and int(info["num_docs"]) == 100
    rows = catalogue.profile_iterators(r, "b", "@status:{in stock}")
    assert rows[0][0] == "TAG" and rows[0][2] == len(catalogue.search_ids(r, "b", "@status:{in stock}"))
    samples = catalogue.interleaved_writes(r, ['{"a": 1}'] * 10, {"x": "w:x:", "y": "w:y:"}, rounds=3)
    assert [len(s) for s in samples.values()] == [2, 2] and all(us > 0 for s in samples.values() for _, us in s)
