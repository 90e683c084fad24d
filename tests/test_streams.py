"""helpers.streams against a real Redis: the scripted delivery accounting is exact, the guide runner reports errors."""

from __future__ import annotations

import redis

from helpers import streams


def test_delivery_accounting_is_exact(lab_url: str) -> None:
    r = redis.Redis.from_url(lab_url, decode_responses=True)
    script = streams.Script(events=200, batch=10, offline=(50, 100), crash_at=125, restart_at=150)
    frame = streams.delivery_experiment(r, "test-streams:", script)
    assert frame.loc[("Pub/Sub", "steady")].tolist() == [200, 0, 0, 0]
    assert frame.loc[("Pub/Sub", "offline")].tolist() == [150, 50, 0, 0]
    assert frame.loc[("Pub/Sub", "crash")].tolist() == [200 - 4 - 20, 4 + 20, 0, 0]
    assert frame.loc[("Stream + group", "offline")].tolist() == [200, 0, 0, 0]
    assert frame.loc[("Stream + group", "crash")].tolist() == [200, 0, 1, 5]
    assert not r.exists("test-streams:delivery:stream")


def test_run_guide_reports_the_error_instead_of_raising() -> None:
    names, status = streams.run_guide("x = 1\ny = undefined_name", port=1)
    assert names["x"] == 1 and status == "NameError: name 'undefined_name' is not defined"


def test_stuck_scenario_orders_the_dead_workers_entries(lab_url: str) -> None:
    """dead_first gives the dead worker the lowest IDs; otherwise the live worker's come first by ID."""
    r = redis.Redis.from_url(lab_url, decode_responses=True)
    stream, group = "test-streams:stuck", "g"
    for dead_first in (True, False):
        dead = streams.stuck_scenario(r, stream, group, busy=10, stale=5, dead_first=dead_first)
        pending = r.xpending_range(stream, group, "-", "+", 10)   # what the guide's count=10 snippet looks at
        seen = {p["message_id"] for p in pending}
        assert len(dead) == 5 and all(p["consumer"] == "worker-1" for p in r.xpending_range(stream, group, "-", "+", 100)
                                      if p["message_id"] in dead)
        assert (set(dead) <= seen) is dead_first
        assert min(p["time_since_delivered"] for p in r.xpending_range(stream, group, "-", "+", 100)
                   if p["message_id"] in dead) >= 120_000
    r.delete(stream)


def test_late_subscriber_gets_nothing_published_before(lab_url: str) -> None:
    r = redis.Redis.from_url(lab_url, decode_responses=True)
    for i in range(50):
        r.publish("test-streams:late", i)
    assert streams.late_subscriber_gets(r, "test-streams:late", wait=0.2) == 0


def test_fanout_blocking_reaches_every_reader(lab_url: str) -> None:
    r = redis.Redis.from_url(lab_url, decode_responses=True)
    frame = streams.fanout_blocking(r, "test:fanout:", readers=3, events=4)
    assert frame.shape == (2, 3) and (frame.iloc[:, :2] > 0).all().all()
    assert not r.exists("test:fanout:fanout:stream")
