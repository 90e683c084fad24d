"""The loopback fault helpers behave as the timeout and pipelining experiments of notebook 03 assume."""

from __future__ import annotations

import time

import redis

from helpers import faults
from helpers.server import start_server


def test_blackhole_accepts_and_never_answers() -> None:
    with faults.Blackhole() as hole:
        client = redis.Redis(host="127.0.0.1", port=hole.port, socket_timeout=0.1, retry=None)
        outcome = faults.bounded(lambda: client.get("k"), guard=3)
        assert outcome.result == "TimeoutError" and hole.settle() == 1


def test_bounded_reports_a_hang_without_waiting_for_it() -> None:
    started = time.perf_counter()
    outcome = faults.bounded(lambda: time.sleep(2), guard=0.2)
    assert outcome.result == "hung" and time.perf_counter() - started < 1


def test_full_backlog_makes_connect_time_out_and_closed_port_refuses() -> None:
    with faults.FullBacklog() as full:
        client = redis.Redis(host="127.0.0.1", port=full.port, socket_connect_timeout=0.1, retry=None)
        assert faults.bounded(lambda: client.ping(), guard=3).result == "TimeoutError"
    client = redis.Redis(host="127.0.0.1", port=faults.closed_port(), retry=None)
    assert faults.bounded(lambda: client.ping(), guard=3).result == "ConnectionError"


def test_latency_proxy_adds_its_delay_per_round_trip_not_per_command() -> None:
    with start_server(name="test-proxy", modules=False) as server, faults.LatencyProxy(server.port, 0.02) as proxy:
        client = redis.Redis.from_url(proxy.url, retry=None)
        client.ping()
        start = time.perf_counter()
        client.ping()
        one = time.perf_counter() - start
        pipe = client.pipeline(transaction=False)
        for i in range(200):
            pipe.set(f"k{i}", i)
        start = time.perf_counter()
        pipe.execute()
        batch = time.perf_counter() - start
        assert one >= 0.04, "a round trip pays the delay both ways"
        assert batch < 10 * one, "a pipeline pays the delay about once, not 200 times"
        assert client.get("k199") == b"199"


def test_time_to_failure_per_endpoint() -> None:
    """A refused connect fails at once; a hung server holds the call for the socket timeout, once per attempt."""
    refused = faults.time_to_failure(lambda p: redis.Redis(host="127.0.0.1", port=p, retry=None), "refused")
    assert refused["error"] == "ConnectionError" and refused["attempts reaching the server"] is None
    hung = faults.time_to_failure(
        lambda p: redis.Redis(host="127.0.0.1", port=p, socket_timeout=0.1, retry=None), "blackhole")
    assert hung["error"] == "TimeoutError" and hung["attempts reaching the server"] == 1
    assert hung["time to failure (s)"] >= 0.1
