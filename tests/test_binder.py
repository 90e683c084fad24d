"""binder/: the start script brings up the lab's Redis and hands REDIS_URL to the command it runs, in seconds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PING = "import os, redis; url = os.environ['REDIS_URL']; print(url, redis.Redis.from_url(url).ping())"


def binder_env(state: Path) -> dict[str, str]:
    """This environment without REDIS_URL, with the lab's state in `state` and this venv's python first on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["LAB_STATE_DIR"] = str(state)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def test_start_exports_a_live_redis_url(tmp_path: Path) -> None:
    """binder/start python -c '<ping>' prints the URL and True within a few seconds."""
    env = binder_env(tmp_path)
    started = time.perf_counter()
    try:
        done = subprocess.run([str(PROJECT / "binder" / "start"), "python", "-c", PING], cwd=PROJECT, env=env,
                              capture_output=True, text=True, timeout=60)
        elapsed = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        assert re.fullmatch(r"redis://127\.0\.0\.1:\d+ True\n", done.stdout), done.stdout
        assert elapsed < 10
    finally:
        subprocess.run([sys.executable, "-m", "helpers", "stop"], cwd=PROJECT, env=env, timeout=30)
    assert not (tmp_path / "server.json").exists()


def test_binder_files_are_in_place() -> None:
    """environment.yml names conda-forge, Python 3.11 and a Redis 8 server; postBuild and start are executable."""
    environment = (PROJECT / "binder" / "environment.yml").read_text()
    assert "conda-forge" in environment and "python=3.11" in environment
    assert re.search(r"^\s*- redis-server[=<>]+8", environment, re.M)
    for script in ("postBuild", "start"):
        path = PROJECT / "binder" / script
        assert os.access(path, os.X_OK) and path.read_text().startswith("#!/bin/bash")
    assert 'exec "$@"' in (PROJECT / "binder" / "start").read_text()
