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
