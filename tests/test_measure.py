"""helpers.measure: repeatable timing, the compare() table, LAB_SCALE, and the latency probe against a real stall."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from helpers.measure import CORRECT, INCORRECT, compare, latency_probe, ratio, scale, time_it
from helpers.server import RedisServer, start_server


def test_compare_finds_the_slower_pattern() -> None:
    """4 ms against 0.5 ms comes out as a ratio above 3, in the tidy table measure.table makes."""
    df = compare(lambda: time.sleep(0.004), lambda: time.sleep(0.0005), warmup=1, repeat=7)
    assert ratio(df) > 3
    assert list(df.columns) == ["median (ms)", "fastest (ms)", "slowest (ms)", "repetitions", "ratio"]
    assert df.index.name == "pattern" and list(df.index) == [INCORRECT, CORRECT]
    assert list(df["repetitions"]) == [7, 7] and df.loc[CORRECT, "ratio"] == 1.0
    assert 3.5 < df.loc[INCORRECT, "median (ms)"] < 50


def test_compare_per_operation() -> None:
    """`per` divides every sample, so the table reads per operation."""
    whole = compare(lambda: time.sleep(0.002), lambda: time.sleep(0.002), repeat=5)
    per = compare(lambda: time.sleep(0.002), lambda: time.sleep(0.002), repeat=5, per=100, unit="µs")
    assert per.loc[CORRECT, "median (µs)"] == pytest.approx(whole.loc[CORRECT, "median (ms)"] * 10, rel=0.5)


def test_time_it_does_not_time_the_warm_up() -> None:
    """Warm-up calls run (counted) but are not among the samples: slow first calls leave no trace."""
    calls: list[int] = []

    def fn() -> None:
        calls.append(1)
        time.sleep(0.05 if len(calls) <= 2 else 0)

    timing = time_it(fn, warmup=2, repeat=5)
    assert len(calls) == 7 and len(timing.samples) == 5
    assert max(timing.samples) < 0.04


def test_scale_follows_lab_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """LAB_SCALE=small picks the small size; full or unset picks the full one."""
    monkeypatch.setenv("LAB_SCALE", "small")
    assert scale(10, 1000) == 10
    monkeypatch.setenv("LAB_SCALE", "full")
    assert scale(10, 1000) == 1000
    monkeypatch.delenv("LAB_SCALE")
    assert scale(10, 1000) == 1000


@pytest.fixture
def debug_server() -> Iterator[RedisServer]:
    """A private server that accepts DEBUG from loopback (off by default since Redis 7)."""
    with start_server(modules=False, config={"enable-debug-command": "local"}, name="debug") as server:
        yield server


def test_latency_probe_sees_a_stall(debug_server: RedisServer) -> None:
    """During DEBUG SLEEP 0.3 the probe's worst PING is far above its median, and its frame has rows."""
    r = debug_server.client()
    with latency_probe(debug_server.url) as probe:
        time.sleep(0.1)
        stalled_at = probe.mark()
        r.execute_command("DEBUG", "SLEEP", "0.3")
        time.sleep(0.1)
    frame = probe.frame
    assert len(frame) > 10 and list(frame.columns) == ["t (s)", "latency (ms)"]
    median = float(frame["latency (ms)"].median())
    assert probe.worst_ms > 5 * median and probe.worst_ms > 200
    worst_at = float(frame.loc[frame["latency (ms)"].idxmax(), "t (s)"])
    assert stalled_at - 0.2 < worst_at < stalled_at + 0.3
