"""Workshop mode on the embedded server: attendees are confined to their own space, and clean-up leaves nothing."""

from __future__ import annotations

import csv
import os
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import redis
from nbclient import NotebookClient

from helpers.course import MODULE_FREE
from helpers.server import RedisServer, start_server

PROJECT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def shared() -> RedisServer:
    """A password-protected server standing in for the instructor's shared Redis."""
    server = start_server(password=secrets.token_urlsafe(12), name="workshop")
    yield server
    server.stop()


def workshop(server: RedisServer, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, REDIS_URL=server.url)
    return subprocess.run([sys.executable, "-m", "helpers.workshop", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def attendees(server: RedisServer, tmp_path: Path, count: int = 2) -> dict[str, str]:
    out = tmp_path / "attendees.csv"
    done = workshop(server, "create", "--attendees", str(count), "--csv", str(out))
    assert done.returncode == 0, done.stderr
    with out.open() as f:
        return {row["attendee"]: row["redis_url"] for row in csv.DictReader(f)}


def test_attendees_cannot_touch_each_other(shared: RedisServer, tmp_path: Path) -> None:
    """A writes its own space; reading, writing, subscribing or publishing into B's space is refused."""
    urls = attendees(shared, tmp_path)
    a = redis.Redis.from_url(urls["att01"], decode_responses=True)
    b = redis.Redis.from_url(urls["att02"], decode_responses=True)
    a.set("att01:nb01:note", "mine")
    b.set("att02:nb01:secret", "hers")
    denied = {
        "GET": lambda: a.get("att02:nb01:secret"),
        "SET": lambda: a.set("att02:nb01:secret", "overwritten"),
        "DEL": lambda: a.delete("att02:nb01:secret"),
        "EXISTS": lambda: a.exists("att02:nb01:secret"),
        "TYPE": lambda: a.type("att02:nb01:secret"),
        "PUBLISH": lambda: a.publish("att02:chat", "hi"),
        "KEYS": lambda: a.keys("*"),
        "FLUSHALL": lambda: a.flushall(),
        "CONFIG SET": lambda: a.config_set("maxmemory", "1mb"),
    }
    for name, attempt in denied.items():
        with pytest.raises(redis.exceptions.NoPermissionError):
            attempt()
            pytest.fail(f"{name} into another attendee's space was allowed")
    pubsub = a.pubsub()
    with pytest.raises(redis.exceptions.NoPermissionError):
        pubsub.subscribe("att02:chat")
        pubsub.get_message(timeout=1)
    assert b.get("att02:nb01:secret") == "hers"
    # What ACLs cannot hide: SCAN lists every key *name* on the server (Redis applies no key patterns to SCAN's
    # results). The names are all an attendee learns; the instructor's guide says so.
    assert "att02:nb01:secret" in set(a.scan_iter(match="att02:*"))


# The notebooks that need modules run here as an attendee on the Stack server; the module-free ones run as an
# attendee in run-tests' Redis 8.2 pass (LAB_AS_ATTENDEE=1, checked by tests/test_attendee_run.py).
AS_ATTENDEE = sorted(p.name for p in (PROJECT / "notebooks").glob("[0-9][0-9]-*.ipynb")
                     if p.name[:2] != "00" and p.name[:2] not in MODULE_FREE)


@pytest.mark.parametrize("name", AS_ATTENDEE)
def test_notebook_runs_as_an_attendee(shared: RedisServer, tmp_path: Path, name: str) -> None:
    """The notebook runs top to bottom as attendee att01, in att01's prefix, leaving att02's keys alone."""
    urls = attendees(shared, tmp_path)
    admin = shared.client()
    number = name[:2]
    admin.set(f"att02:nb{number}:user:1:profile", "{}")  # B is running the same notebook at the same time
    nb = nbformat.read(PROJECT / "notebooks" / name, as_version=4)
    env_before = dict(os.environ)
    os.environ.update(REDIS_URL=urls["att01"], LAB_SCALE="small")
    os.environ.pop("LAB_PREFIX", None)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(PROJECT / "notebooks")}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""
    setup = next(c for c in nb.cells if c.cell_type == "code" and "lab.key_prefix(" in c.source)
    setup_output = "".join(o.get("text", "") for o in setup.outputs)
    if "key prefix" in setup_output:  # notebooks that only use private servers (10) print no prefix
        assert f"key prefix 'att01:nb{number}:'" in setup_output
    assert admin.get(f"att02:nb{number}:user:1:profile") == "{}"
    left = list(admin.scan_iter(match=f"att01:nb{number}:*"))
    assert not left, f"the notebook's clean-up should leave att01's space empty: {left[:5]}"


def test_clean_up_leaves_nothing(shared: RedisServer, tmp_path: Path) -> None:
    """`workshop remove` deletes every attendee user and every attendee key."""
    urls = attendees(shared, tmp_path, count=3)
    for user, url in urls.items():
        redis.Redis.from_url(url).set(f"{user}:leftover", "x")
    done = workshop(shared, "remove")
    assert done.returncode == 0, done.stderr
    admin = shared.client()
    assert admin.acl_users() == ["default"]
    assert not list(admin.scan_iter(match="att*"))
