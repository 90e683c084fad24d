"""After a run as workshop attendee att01 (LAB_AS_ATTENDEE=1, run-tests' Redis 8.2 pass): att02 is untouched and
every notebook cleaned its own space. Collected after the notebooks, so it sees what they left."""

from __future__ import annotations

import os

import pytest
import redis

pytestmark = pytest.mark.skipif(os.environ.get("LAB_AS_ATTENDEE") != "1", reason="only after a run as an attendee")


@pytest.fixture(scope="module")
def admin() -> redis.Redis:
    return redis.Redis.from_url(os.environ["LAB_ADMIN_URL"], decode_responses=True)


def test_the_other_attendee_is_untouched(admin: redis.Redis) -> None:
    """Every key att02 had before the run is still there, unchanged, and att02 has nothing new."""
    keys = sorted(admin.scan_iter(match="att02:*"))
    assert keys == [f"att02:nb{n:02d}:canary" for n in range(1, 12)]
    assert all(admin.hgetall(k) == {"owner": "att02"} for k in keys)


def test_the_notebooks_left_nothing_behind(admin: redis.Redis) -> None:
    """Each notebook's clean-up removed every key it wrote under att01's prefix."""
    left = sorted(admin.scan_iter(match="att01:*"))
    assert not left, f"left behind: {left[:10]}"
