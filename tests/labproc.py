"""Start ./lab headless for a test and stop it the way a person does (Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from helpers.server import free_port

PROJECT = Path(__file__).parents[1]
TOKEN = "lab-test-token"


def api(port: int, path: str, method: str = "GET", body: dict | None = None) -> dict | list:
    """Call the Jupyter server's REST API."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}?token={TOKEN}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@contextmanager
def running_lab(state_dir: Path, lab_server: str = "") -> Iterator[int]:
    """./lab on a free port with its own Redis (REDIS_URL unset); yields the port once the REST API answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LAB_SERVER")}
    env["LAB_STATE_DIR"] = str(state_dir)
    if lab_server:
        env["LAB_SERVER"] = lab_server
    lab = subprocess.Popen([str(PROJECT / "lab"), "--no-browser", f"--port={port}",
                            f"--IdentityProvider.token={TOKEN}"],
                           cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                api(port, "contents")
                break
            except OSError:
                assert lab.poll() is None, f"./lab exited early: {lab.stdout.read()[-2000:]}"
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(0.5)
        yield port
    finally:
        os.killpg(lab.pid, signal.SIGINT)      # what Ctrl-C in the terminal does
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            raise
