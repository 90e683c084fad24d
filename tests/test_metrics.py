"""helpers.metrics: the sampling thread, workloads, Prometheus export and /health, against real servers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers import metrics
from helpers.server import RedisServer, start_server


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with start_server(name="test-metrics", modules=False, config={"maxmemory": "64mb"}) as srv:
        yield srv


def test_collector_samples_a_live_server(server: RedisServer) -> None:
    """Windows come out with rates from real traffic and the phase each window ended in."""
    client = server.client()
    client.set("k", "v")
    sampler = server.client()

    def read() -> dict:
        return {**sampler.info("stats"), "_t": time.monotonic()}

    def derive(a: dict, b: dict) -> dict:
        commands = b["total_commands_processed"] - a["total_commands_processed"]
        return {"t": b["_t"], "ops_per_s": commands / (b["_t"] - a["_t"]),
                "hits": b["keyspace_hits"] - a["keyspace_hits"], "misses": b["keyspace_misses"] - a["keyspace_misses"]}

    with metrics.Collector(read, derive, interval=0.05) as collector:
        collector.mark("reads")
        ran = metrics.paced(0.4, lambda: client.get("k"), batches_per_s=100)
    frame = collector.frame()
    assert 30 <= ran <= 41, "paced should cap the batches at the rate asked for"
    assert len(frame) >= 4 and frame["ops_per_s"].max() > 0
    assert set(frame["phase"]) <= {"", "reads"} and "reads" in set(frame["phase"])
    assert frame["misses"].eq(0).all() and ran - 2 <= frame["hits"].sum() <= ran, "the windows hold the reads made"


def test_blocked_clients_block_and_wake(server: RedisServer) -> None:
    """n connections wait in BLPOP inside the block and none after it."""
    client = server.client()
    with metrics.blocked_clients(client, 3):
        assert client.info("clients")["blocked_clients"] == 3
    time.sleep(0.05)
    assert client.info("clients")["blocked_clients"] == 0


def test_prometheus_endpoint_serves_collector_at_scrape_time(server: RedisServer) -> None:
    """One scrape calls the collector then: a counter read from INFO at that moment."""
    from prometheus_client.core import CounterMetricFamily

    client = server.client()

    class Commands:
        def collect(self):
            yield CounterMetricFamily("redis_commands_processed", "INFO total_commands_processed",
                                      value=client.info("stats")["total_commands_processed"])

    url, stop = metrics.serve_prometheus(Commands())
    try:
        before = client.info("stats")["total_commands_processed"]
        status, body = metrics.get(url)
        after = client.info("stats")["total_commands_processed"]
    finally:
        stop()
    values = {s.name: s.value for family in text_string_to_metric_families(body) for s in family.samples}
    assert status == 200 and url.startswith("http://127.0.0.1:")
    assert before <= values["redis_commands_processed_total"] <= after


def test_health_endpoint_serves_the_check(server: RedisServer) -> None:
    """GET /health/redis answers with the check's status and JSON body; other paths are 404."""
    url, stop = metrics.serve_health(lambda: (503, {"status": "degraded"}))
    try:
        status, text = metrics.get(url)
        missing, _ = metrics.get(url.replace("/health/redis", "/other"))
    finally:
        stop()
    assert status == 503 and json.loads(text) == {"status": "degraded"} and missing == 404


def test_monitor_costs_server_cpu(server: RedisServer) -> None:
    """redis-benchmark reports a rate and CPU per command; a MONITOR client makes each command cost more."""
    plain = metrics.benchmark(server.port, requests=20_000)
    with metrics.monitor_attached(server.port):
        watched = metrics.benchmark(server.port, requests=20_000)
    assert plain["requests/s"] > 0
    assert watched["server CPU µs / command"] > 1.2 * plain["server CPU µs / command"]
