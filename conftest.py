"""One live Redis for the whole session, exported as REDIS_URL so notebook kernels (which nbval starts) inherit it.

Session fixtures do not run for nbval's notebook cells, hence pytest_sessionstart rather than a fixture.
"""

from __future__ import annotations

import os
import tempfile
import time

import pytest

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
        _server = start_server(name="tests")
        os.environ["REDIS_URL"] = _server.url
        print(f"\nLab Redis for the tests: {binaries().kind} at {_server.url}, "
              f"spawn to PING {1e3 * (time.perf_counter() - started):.0f} ms")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _server is not None:
        _server.stop()


@pytest.fixture
def lab_url() -> str:
    """The session's Redis URL."""
    return os.environ["REDIS_URL"]
