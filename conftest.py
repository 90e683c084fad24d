"""One live Redis for the whole session, exported as REDIS_URL so notebook kernels (which nbval starts) inherit it.

Session fixtures do not run for nbval's notebook cells, hence pytest_sessionstart rather than a fixture.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time

import pytest

from helpers.server import redact

_server = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _server
    os.environ.setdefault("LAB_SCALE", "small")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # The tests' scorecard goes to a temp file so a test run never rewrites the committed one.
    os.environ.setdefault("LAB_LEDGER", os.path.join(tempfile.mkdtemp(prefix="lab-ledger-"), "ledger.jsonl"))
    if not os.environ.get("REDIS_URL"):
        from helpers.server import binaries, start_server

        binaries()  # finds (and, the first time, fetches OpenSSL 1.1 for) the binaries before the clock starts
        started = time.perf_counter()
        attendee = os.environ.get("LAB_AS_ATTENDEE") == "1"
        _server = start_server(name="tests", password=secrets.token_urlsafe(12) if attendee else None)
        os.environ["REDIS_URL"] = _server.url
        print(f"\nLab Redis for the tests: {binaries().kind} at {redact(_server.url)}, "
              f"spawn to PING {1e3 * (time.perf_counter() - started):.0f} ms")
        if attendee:
            become_attendee(_server.url)


def become_attendee(admin_url: str) -> None:
    """Workshop mode for the whole run: the notebooks connect as att01; att02 holds keys they must not touch."""
    import redis

    from helpers import workshop

    admin = redis.Redis.from_url(admin_url, decode_responses=True)
    att01, att02 = workshop.create(admin, admin_url, 2)
    for number in range(1, 12):  # att02 is running the same notebooks at the same time
        admin.hset(f"att02:nb{number:02d}:canary", mapping={"owner": "att02"})
    os.environ.update(REDIS_URL=att01.url, LAB_ADMIN_URL=admin_url)
    os.environ.pop("LAB_PREFIX", None)
    print(f"Notebooks run as workshop attendee {att01.user} (ACL {' '.join(workshop.RULES)} ~{att01.user}:* "
          f"&{att01.user}:*)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _server is not None:
        _server.stop()


@pytest.fixture
def lab_url() -> str:
    """The session's Redis URL."""
    return os.environ["REDIS_URL"]
