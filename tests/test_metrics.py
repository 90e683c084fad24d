"""helpers.metrics: windows over INFO, the guide's thresholds, Prometheus export and /health, against real servers."""

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


def snap(t: float, **fields: float) -> dict:
    base = {"_t": t, "keyspace_hits": 0, "keyspace_misses": 0, "total_commands_processed": 0, "evicted_keys": 0,
            "expired_keys": 0, "used_memory": 50, "maxmemory": 100, "connected_clients": 1, "maxclients": 100,
            "blocked_clients": 0, "role": "master"}
    return {**base, **fields}


def test_derive_turns_counters_into_rates_per_window() -> None:
    """Hits, misses and evictions are differences over the window; memory is a share of maxmemory."""
    before = snap(10.0, keyspace_hits=1_000_000, keyspace_misses=0, evicted_keys=5, total_commands_processed=100)
    after = snap(12.0, keyspace_hits=1_000_300, keyspace_misses=700, evicted_keys=2_005, total_commands_processed=1_100)
    window = metrics.derive(before, after)
    assert window["hit_ratio_pct"] == pytest.approx(30.0)
    assert window["lifetime_hit_ratio_pct"] > 99.9
    assert window["evicted_per_s"] == pytest.approx(1_000.0) and window["ops_per_s"] == pytest.approx(500.0)
    assert window["memory_pct"] == pytest.approx(50.0) and window["replication_lag_s"] is None
    assert metrics.derive(snap(0, maxmemory=0), snap(1, maxmemory=0))["memory_pct"] is None
    assert metrics.derive(snap(0), snap(1))["hit_ratio_pct"] is None, "no reads in the window: no ratio"


def test_alerts_follow_the_guide_table() -> None:
    """Above/below thresholds, warning before critical, and no alert for metrics that are missing."""
    assert metrics.alerts({"memory_pct": 50, "hit_ratio_pct": 99, "blocked_clients": 0}) == []
    fired = {a.metric: a.level for a in metrics.alerts(
        {"memory_pct": 75, "hit_ratio_pct": 70, "blocked_clients": 11, "evicted_per_s": 150, "p99_ms": None})}
    assert fired == {"memory_pct": "warning", "hit_ratio_pct": "critical", "blocked_clients": "critical",
                     "evicted_per_s": "warning"}


def test_collector_samples_a_live_server(server: RedisServer) -> None:
    """Windows come out with rates from real traffic and the phase each window ended in."""
    client = server.client()
    client.set("k", "v")
    with metrics.Collector(server.client(), interval=0.05) as collector:
        collector.mark("reads")
        ran = metrics.paced(0.4, lambda: client.get("k"), batches_per_s=100)
    frame = collector.frame()
    assert 30 <= ran <= 41, "paced should cap the batches at the rate asked for"
    assert len(frame) >= 4 and frame["ops_per_s"].max() > 0
    assert set(frame["phase"]) <= {"", "reads"} and "reads" in set(frame["phase"])
    assert frame["hit_ratio_pct"].dropna().eq(100).all()


def test_blocked_clients_block_and_wake(server: RedisServer) -> None:
    """n connections wait in BLPOP inside the block and none after it."""
    client = server.client()
    with metrics.blocked_clients(client, 3):
        assert client.info("clients")["blocked_clients"] == 3
    time.sleep(0.05)
    assert client.info("clients")["blocked_clients"] == 0


def test_prometheus_endpoint_serves_live_counters(server: RedisServer) -> None:
    """One scrape of the exporter returns INFO's totals as counters and maxmemory as a gauge."""
    client = server.client()
    url, stop = metrics.serve_prometheus(client)
    try:
        before = client.info("stats")["total_commands_processed"]
        status, body = metrics.get(url)
        after = client.info("stats")["total_commands_processed"]
    finally:
        stop()
    values = {s.name: s.value for family in text_string_to_metric_families(body) for s in family.samples}
    assert status == 200 and url.startswith("http://127.0.0.1:")
    assert before <= values["redis_commands_processed_total"] <= after
    assert values["redis_memory_max_bytes"] == 64 * 2**20


def test_health_answers_healthy_degraded_and_down(server: RedisServer) -> None:
    """200 when fine, 503 degraded with blocked clients over the limit, 503 unhealthy when the server is gone."""
    client = server.client(socket_timeout=0.5)
    assert metrics.health(client) == (200, {"status": "healthy"})
    with metrics.blocked_clients(client, 2):
        status, body = metrics.health(client, blocked=1)
    assert status == 503 and body["status"] == "degraded" and "2 blocked clients" in body["reason"]
    gone = start_server(name="test-metrics-gone", modules=False)
    gone_client = gone.client(socket_timeout=0.5, retry=None)
    gone.stop()
    url, stop = metrics.serve_health(lambda: metrics.health(gone_client))
    try:
        status, text = metrics.get(url)
    finally:
        stop()
    assert status == 503 and json.loads(text)["status"] == "unhealthy"


def test_monitor_costs_server_cpu(server: RedisServer) -> None:
    """redis-benchmark reports a rate and CPU per command; a MONITOR client makes each command cost more."""
    plain = metrics.benchmark(server.port, requests=20_000)
    with metrics.monitor_attached(server.port):
        watched = metrics.benchmark(server.port, requests=20_000)
    assert plain["requests/s"] > 0
    assert watched["server CPU µs / command"] > 1.2 * plain["server CPU µs / command"]
