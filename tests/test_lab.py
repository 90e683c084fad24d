"""The lab command: JupyterLab on notebooks/ with a live Redis that a kernel can PING, stopped cleanly afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import websocket

from helpers.server import free_port, pid_running

PROJECT = Path(__file__).parents[1]
TOKEN = "lab-test-token"


def api(port: int, path: str, method: str = "GET", body: dict | None = None) -> dict | list:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}?token={TOKEN}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def run_in_kernel(port: int, kernel_id: str, code: str, timeout: float = 30) -> str:
    """Execute `code` in a running kernel over the Jupyter websocket; return its stdout."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={TOKEN}",
                                     timeout=timeout)
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                                   "session": uuid.uuid4().hex, "version": "5.3"},
                        "parent_header": {}, "metadata": {}, "channel": "shell",
                        "content": {"code": code, "silent": False}}))
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("ERROR " + msg["content"]["evalue"])
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    ws.close()
    return "".join(out)


def test_lab_serves_notebooks_with_a_live_redis(tmp_path: Path) -> None:
    """./lab starts Redis and JupyterLab; the REST API lists the notebooks; a kernel PINGs; Ctrl-C stops both."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["LAB_STATE_DIR"] = str(tmp_path)
    lab = subprocess.Popen([str(PROJECT / "lab"), "--no-browser", f"--port={port}", f"--IdentityProvider.token={TOKEN}"],
                           cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                listing = api(port, "contents")
                break
            except OSError:
                assert lab.poll() is None, f"./lab exited early: {lab.stdout.read()[-2000:]}"
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(0.5)
        names = {item["name"] for item in listing["content"]}
        assert "01-data-structures-and-keys.ipynb" in names
        state = json.loads((tmp_path / "server.json").read_text())
        kernel = api(port, "kernels", "POST", {"name": "python3"})
        out = run_in_kernel(port, kernel["id"], "import os, helpers\nr = helpers.connect(quiet=True)\n"
                                                "print(r.ping(), os.environ['REDIS_URL'])")
        assert out.startswith("True") and f":{state['port']}" in out, out
    finally:
        os.killpg(lab.pid, signal.SIGINT)      # what Ctrl-C in the terminal does
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            raise
    assert not (tmp_path / "server.json").exists(), "the lab's Redis was not stopped"
    assert not pid_running(state["pid"]), "the lab's redis-server process outlived ./lab"
