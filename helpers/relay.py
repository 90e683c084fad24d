"""A loopback TCP relay between a client and a real server: it can delay every chunk and keep a copy of the bytes."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque

LOOPBACK = "127.0.0.1"


class Relay:
    """Forwards 127.0.0.1:`.port` to 127.0.0.1:`target_port`, each chunk `delay` s late each way, kept if `record`."""

    # Delay, not bandwidth: a chunk is due `delay` after it arrived, whatever is queued before it, so a round trip
    # pays 2 × delay and a 200-command pipeline pays it about once — as on a real network hop.
    def __init__(self, target_port: int, *, delay: float = 0.0, record: bool = False) -> None:
        self.target_port, self.delay, self.record = target_port, delay, record
        self._seen = bytearray()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        # Port 0 lets the kernel pick: asking for a free port first and binding it later can race another process.
        self._listener = socket.create_server((LOOPBACK, 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name=f"relay-{self.port}").start()

    @property
    def url(self) -> str:
        """redis:// URL that goes through the relay."""
        return f"redis://{LOOPBACK}:{self.port}"

    @property
    def seen(self) -> bytes:
        """Every byte that crossed the relay, both ways, in arrival order (needs record=True)."""
        if not self.record:
            raise RuntimeError("this Relay was started without record=True, so it kept no bytes")
        with self._lock:
            return bytes(self._seen)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((LOOPBACK, self.target_port))
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                # Without it Nagle holds small replies back ~40 ms, which would swamp a delay of a millisecond.
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
            self._forward(client, upstream)
            self._forward(upstream, client)

    def _forward(self, src: socket.socket, dst: socket.socket) -> None:
        due: deque[tuple[float, bytes]] = deque()  # constant delay, so arrival order is also due order
        ready = threading.Condition()

        def send(data: bytes) -> bool:
            if not data:
                # Pass the end of the stream on as a half-close, so the other direction can still drain.
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return False
            try:
                dst.sendall(data)
                return True
            except OSError:
                return False

        def read() -> None:
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if data and self.record:
                    with self._lock:
                        self._seen += data
                if not self.delay:
                    if not send(data):
                        return
                    continue
                with ready:
                    due.append((time.perf_counter() + self.delay, data))
                    ready.notify()
                if not data:
                    return

        def write() -> None:
            while True:
                with ready:
                    while not due:
                        ready.wait()
                    wait = due[0][0] - time.perf_counter()
                    if wait > 0:
                        ready.wait(wait)
                        continue
                    _, data = due.popleft()
                if not send(data):
                    return

        threading.Thread(target=read, daemon=True).start()
        if self.delay:
            threading.Thread(target=write, daemon=True).start()

    def stop(self) -> None:
        """Stop accepting and close every forwarded connection."""
        with self._lock:
            sockets, self._sockets = [self._listener, *self._sockets], []
        for s in sockets:
            # shutdown, not just close: on Linux only shutdown wakes a thread blocked in accept() or recv().
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
