"""Bad networks on loopback: a server that never answers, a connect that never completes, a port nobody listens on,
a proxy that adds latency, and a guard that stops a call from hanging the notebook. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .relay import Relay
from .server import free_port

LOOPBACK = "127.0.0.1"


def _listener(backlog: int = 128) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.listen(backlog)
    return sock


class Blackhole:
    """A loopback server that accepts every connection and never sends a byte; `.accepted` counts connections."""

    def __init__(self) -> None:
        self._sock = _listener()
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="blackhole").start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed
                return
            with self._lock:
                self.accepted += 1
                self._held.append(conn)

    def settle(self, seconds: float = 0.05) -> int:
        """The accepted count once connections already in flight have been accepted."""
        time.sleep(seconds)
        return self.accepted

    def close(self) -> None:
        """Stop listening and drop every held connection (blocked clients then see the connection close)."""
        self._sock.close()
        with self._lock:
            for conn in self._held:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self._held.clear()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FullBacklog:
    """A loopback port whose accept queue is full: the kernel drops new SYNs, so connect() waits (like an
    unroutable address) until the client's connect timeout — without sending anything off this machine."""

    def __init__(self) -> None:
        self._sock = _listener(backlog=0)  # Linux queues backlog + 1 connections, then drops SYNs
        self.port: int = self._sock.getsockname()[1]
        self._fillers: list[socket.socket] = []
        for _ in range(4):  # fill the queue; a filler that itself times out shows the queue is full
            filler = socket.socket()
            filler.settimeout(0.05)  # a loopback connect with room in the queue takes < 1 ms
            try:
                filler.connect((LOOPBACK, self.port))
            except OSError:
                filler.close()
                break
            self._fillers.append(filler)

    def close(self) -> None:
        """Release the port."""
        for filler in self._fillers:
            filler.close()
        self._sock.close()

    def __enter__(self) -> FullBacklog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def closed_port() -> int:
    """A loopback port with nothing listening: connect() is refused at once."""
    return free_port()


@dataclass(frozen=True)
class Outcome:
    """How a guarded call ended: 'ok', 'hung' (still running at the guard), or the exception's class name."""

    result: str
    seconds: float
    detail: str = ""


def bounded(fn: Callable[[], object], guard: float) -> Outcome:
    """Run `fn` in a daemon thread and wait at most `guard` seconds, so a call that hangs cannot hang the notebook."""
    box: dict[str, object] = {}

    def run() -> None:
        start = time.perf_counter()
        try:
            fn()
            box["result"] = "ok"
        except Exception as exc:  # the point is to report whatever the call raised
            box["result"], box["detail"] = type(exc).__name__, str(exc)
        box["seconds"] = time.perf_counter() - start

    started = time.perf_counter()
    worker = threading.Thread(target=run, daemon=True, name="bounded-call")
    worker.start()
    worker.join(guard)
    if worker.is_alive():
        return Outcome("hung", time.perf_counter() - started, f"still waiting after the {guard:g} s guard")
    return Outcome(str(box["result"]), float(box["seconds"]), str(box.get("detail", "")))


def time_to_failure(make: Callable[[int], object], endpoint: str, *, guard: float = 15) -> dict:
    """Time one GET from the client `make(port)` returns against a broken `endpoint` ('blackhole': accepts and never
    answers; 'backlog': connect never completes; 'refused': nothing listens); the blackhole counts the attempts."""
    with Blackhole() as hole, FullBacklog() as full:
        port = {"blackhole": hole.port, "backlog": full.port, "refused": None}[endpoint] or closed_port()
        result = bounded(lambda: make(port).get("key"), guard=guard)
        attempts = hole.settle() if endpoint == "blackhole" else None
    return {"time to failure (s)": result.seconds, "attempts reaching the server": attempts, "error": result.result}


class LatencyProxy(Relay):
    """A Relay to `target_port` that delays every chunk by `delay` seconds each way (a network hop)."""

    def __init__(self, target_port: int, delay: float = 0.001) -> None:
        super().__init__(target_port, delay=delay)
