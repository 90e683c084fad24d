"""The lab command: JupyterLab on notebooks/ with a live Redis that a kernel can PING, stopped cleanly afterwards."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import websocket

from helpers import LabError
from helpers.server import find_binaries, pid_running
from labproc import TOKEN, api, running_lab


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


@pytest.mark.parametrize("lab_server,version", [("", ""), ("redis8", "8.2.")], ids=["default", "LAB_SERVER=redis8"])
def test_lab_serves_notebooks_with_a_live_redis(tmp_path: Path, lab_server: str, version: str) -> None:
    """./lab starts Redis and JupyterLab; the REST API lists the notebooks; a kernel PINGs; Ctrl-C stops both."""
    if lab_server:
        try:
            find_binaries(lab_server)
        except LabError as exc:
            pytest.skip(str(exc))
    with running_lab(tmp_path, lab_server) as port:
        names = {item["name"] for item in api(port, "contents")["content"]}
        assert "01-data-structures-and-keys.ipynb" in names
        state = json.loads((tmp_path / "server.json").read_text())
        kernel = api(port, "kernels", "POST", {"name": "python3"})
        out = run_in_kernel(port, kernel["id"], "import os, helpers\nr = helpers.connect(quiet=True)\n"
                                                "print(r.ping(), os.environ['REDIS_URL'], r.info()['redis_version'])")
        assert out.startswith("True") and f":{state['port']}" in out and f" {version}" in out, out
    assert not (tmp_path / "server.json").exists(), "the lab's Redis was not stopped"
    assert not pid_running(state["pid"]), "the lab's redis-server process outlived ./lab"
