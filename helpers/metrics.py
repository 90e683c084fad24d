"""Observability plumbing for notebook 11: a sampling thread, workloads, Prometheus and /health servers, plots."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import pandas as pd
import redis

from .errors import LabError
from .server import binaries, free_port


@dataclass
class Collector:
    """Calls `read()` every `interval` seconds in a background thread; `.frame()` gives `derive(a, b)` per window."""

    read: Callable[[], dict]                 # one INFO snapshot with "_t", the monotonic time it was read
    derive: Callable[[dict, dict], dict]     # two snapshots -> one window's metrics, with "t"
    interval: float = 0.1
    samples: list[dict] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _marks: list[tuple[float, str]] = field(default_factory=list, repr=False)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.read())
            self._stop.wait(self.interval)

    def __enter__(self) -> Collector:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.samples.append(self.read())

    def mark(self, label: str) -> None:
        """Note that a workload phase called `label` starts now (drawn on the dashboard)."""
        self._marks.append((time.monotonic(), label))

    def frame(self) -> pd.DataFrame:
        """One row per sampling window, `t (s)` from the first sample, with the phase each window ended in."""
        frame = pd.DataFrame([self.derive(a, b) for a, b in zip(self.samples, self.samples[1:])])
        t0 = self.samples[0]["_t"]
        frame["phase"] = [next((label for at, label in reversed(self._marks) if at <= t), "")
                          for t in frame["t"]]
        frame["t"] -= t0
        return frame.rename(columns={"t": "t (s)"})

    def phases(self) -> list[tuple[float, str]]:
        """(start in seconds from the first sample, label) of each marked phase."""
        t0 = self.samples[0]["_t"]
        return [(at - t0, label) for at, label in self._marks]


# ---------------------------------------------------------------- Prometheus


def serve_prometheus(collector: object) -> tuple[str, Callable[[], None]]:
    """Serve a prometheus_client `collector` on its own registry, 127.0.0.1 and a free port: (URL of /metrics, stop)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(collector)
    port = free_port()
    httpd, thread = start_http_server(port, addr="127.0.0.1", registry=registry)

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{port}/metrics", stop


# ---------------------------------------------------------------- /health


def serve_health(check: Callable[[], tuple[int, dict]]) -> tuple[str, Callable[[], None]]:
    """Serve `check` as GET /health/redis on 127.0.0.1 and a free port: (URL, stop)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            status, body = check() if self.path == "/health/redis" else (404, {"status": "not found"})
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:  # keep request logs out of the notebook's stderr
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{httpd.server_address[1]}/health/redis", stop


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    """(HTTP status, body) of a GET to `url`, including 4xx/5xx answers."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


# ---------------------------------------------------------------- throughput, for the cost of MONITOR


def benchmark(port: int, *, requests: int = 100_000, pipeline: int = 16, clients: int = 4,
              value_size: int = 100) -> dict[str, float]:
    """Run the bundled redis-benchmark (SET+GET) on 127.0.0.1:`port`: requests/s and the server's CPU µs per command."""
    probe = redis.Redis(host="127.0.0.1", port=port)

    def server_cpu() -> tuple[float, int]:
        cpu, stats = probe.info("cpu"), probe.info("stats")
        return cpu["used_cpu_user"] + cpu["used_cpu_sys"], stats["total_commands_processed"]

    if binaries().cli is None:
        raise LabError(f"This needs redis-benchmark, which the lab's {binaries().kind} does not ship: run it with "
                       "LAB_SERVER=stack, or skip this cell.")
    tool = binaries().cli.with_name("redis-benchmark")  # the Stack package ships it beside redis-cli
    cpu0, commands0 = server_cpu()
    done = subprocess.run([str(tool), "-h", "127.0.0.1", "-p", str(port), "-t", "set,get", "-n", str(requests),
                           "-P", str(pipeline), "-c", str(clients), "-d", str(value_size), "-q", "--csv"],
                          capture_output=True, text=True, timeout=120, env=binaries().env(), check=True)
    cpu1, commands1 = server_cpu()
    probe.close()
    rows = [line.split(",") for line in done.stdout.splitlines()[1:] if line.strip()]
    return {"requests/s": sum(float(row[1].strip('"')) for row in rows) / len(rows),
            "server CPU µs / command": 1e6 * (cpu1 - cpu0) / (commands1 - commands0)}


class monitor_attached:
    """Context manager: a redis-cli MONITOR client on `port`, reading everything as fast as it can (to /dev/null)."""

    def __init__(self, port: int):
        self.port = port

    def __enter__(self) -> monitor_attached:
        bins = binaries()
        self.process = subprocess.Popen([str(bins.cli), "-h", "127.0.0.1", "-p", str(self.port), "monitor"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=bins.env())
        probe = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 5
        while not any(c.get("cmd") == "monitor" for c in probe.client_list()):
            if time.monotonic() > deadline:
                raise RuntimeError("the MONITOR client did not attach within 5 s")
            time.sleep(0.01)
        probe.close()
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=5)


# ---------------------------------------------------------------- workload shapes


def paced(seconds: float, batch: Callable[[], object], *, batches_per_s: float = 200) -> int:
    """Call `batch` at most `batches_per_s` times a second for `seconds`; returns how many batches ran.

    Pacing caps the work a phase does, so a faster machine does not change the mix of a workload, only its timing.
    """
    start = time.monotonic()
    done = 0
    while time.monotonic() - start < seconds:
        batch()
        done += 1
        ahead = start + done / batches_per_s - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    return done


class blocked_clients:
    """Context manager: `n` extra connections to `server_client`'s server, each blocked in BLPOP until the exit."""

    def __init__(self, server_client: redis.Redis, n: int, key: str = "nb11:blocked"):
        self.client, self.n, self.key = server_client, n, key

    def __enter__(self) -> blocked_clients:
        kwargs = self.client.connection_pool.connection_kwargs
        self.clients = [redis.Redis(host=kwargs["host"], port=kwargs["port"], password=kwargs.get("password"))
                        for _ in range(self.n)]
        self.errors: list[Exception] = []

        def wait(client: redis.Redis, key: str) -> None:
            try:
                client.blpop([key], timeout=0)
            except (redis.RedisError, OSError) as exc:  # maxclients reached (reported by __enter__), or the exit
                self.errors.append(exc)                    # closed a waiter that was slow to wake: no thread crash

        self.threads = [threading.Thread(target=wait, args=(c, f"{self.key}:{i}"), daemon=True)
                        for i, c in enumerate(self.clients)]
        for thread in self.threads:
            thread.start()
        deadline = time.monotonic() + 5
        while self.client.info("clients")["blocked_clients"] < self.n:
            if self.errors or time.monotonic() > deadline:
                self.__exit__()
                if self.errors:
                    raise self.errors[0]
                raise RuntimeError(f"{self.n} clients did not block within 5 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        for i, thread in enumerate(self.threads):  # wake every waiter that is still waiting
            if thread.is_alive():
                self.client.lpush(f"{self.key}:{i}", "wake up")
        for thread in self.threads:
            thread.join(timeout=5)
        for c in self.clients:
            c.close()


# ---------------------------------------------------------------- the dashboard


PANELS = [  # (columns, title, y label)
    (["memory_pct"], "Memory (lower is better)", "% of maxmemory"),
    (["ops_per_s"], "Throughput", "commands / s"),
    (["hit_ratio_pct", "lifetime_hit_ratio_pct"], "Keyspace hit ratio (higher is better)", "%"),
    (["evicted_per_s", "expired_per_s"], "Evictions and expirations", "keys / s"),
    (["blocked_clients"], "Blocked clients (lower is better)", "clients"),
    (["connected_clients"], "Connected clients", "clients"),
]


def dashboard(frame: pd.DataFrame, phases: list[tuple[float, str]], thresholds: dict[str, tuple]):
    """A 2×3 grid of the collector's metrics over time, with the guide's warning/critical lines and phase marks."""
    import matplotlib.pyplot as plt

    from .show import BAD, NEUTRAL

    fig, axes = plt.subplots(2, 3, figsize=(12, 5.6), sharex=True)
    for ax, (columns, title, ylabel) in zip(axes.flat, PANELS):
        for column, colour in zip(columns, [NEUTRAL, "#00798c"]):
            label = {"hit_ratio_pct": "per window", "lifetime_hit_ratio_pct": "since start-up (the guide's)",
                     "evicted_per_s": "evicted", "expired_per_s": "expired"}.get(column)
            ax.plot(frame["t (s)"], frame[column].astype(float), label=label, lw=1.6, color=colour)
        ax.set_ylim(bottom=0)
        if columns[0] in thresholds:
            warning, critical, _ = thresholds[columns[0]]
            ax.axhline(warning, color="#edae49", ls="--", lw=1, label="warning")
            ax.axhline(critical, color=BAD, ls="--", lw=1, label="critical")
        for at, _ in phases:
            ax.axvline(at, color="grey", ls=":", lw=1)
        ax.set_title(title, pad=16)
        ax.set_ylabel(ylabel)
        if len(columns) > 1 or columns[0] in thresholds:
            ax.legend(fontsize=7, loc="best")
    for at, label in phases:
        for ax in axes[0]:
            ax.annotate(label, (at, 1.0), xycoords=("data", "axes fraction"), fontsize=7, va="bottom", ha="left",
                        color="grey")
    for ax in axes[1]:
        ax.set_xlabel("time (s)")
    fig.tight_layout()
    return fig
