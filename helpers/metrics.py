"""Observability plumbing for notebook 11: INFO sampling, the guide's alert thresholds, Prometheus export, /health."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import pandas as pd
import redis

from .errors import LabError
from .server import binaries, free_port

SECTIONS = ("memory", "clients", "stats", "replication", "latencystats")

# The guide's table: metric -> (warning, critical, "above" or "below"). Percentages are 0-100, latency in ms.
THRESHOLDS: dict[str, tuple[float, float, str]] = {
    "memory_pct": (70, 85, "above"),
    "clients_pct": (80, 90, "above"),
    "blocked_clients": (0, 10, "above"),
    "p99_ms": (10, 50, "above"),
    "hit_ratio_pct": (90, 80, "below"),
    "replication_lag_s": (1, 10, "above"),
    "evicted_per_s": (100, 1000, "above"),
}


def snapshot(r: redis.Redis) -> dict:
    """One INFO read of the sections the metrics need, stamped with the local monotonic time."""
    info = r.execute_command("INFO", *SECTIONS)
    info["_t"] = time.monotonic()
    return info


def worst_p99_ms(info: dict) -> float:
    """The highest p99 of any command in INFO latencystats, in ms (cumulative since start or CONFIG RESETSTAT)."""
    p99s = [v["p99"] for k, v in info.items() if k.startswith("latency_percentiles_usec_") and isinstance(v, dict)]
    return max(p99s, default=0.0) / 1000


def derive(before: dict, after: dict) -> dict:
    """The dashboard's metrics for the window between two snapshots: levels from `after`, rates from the deltas."""
    dt = max(after["_t"] - before["_t"], 1e-9)
    hits = after["keyspace_hits"] - before["keyspace_hits"]
    misses = after["keyspace_misses"] - before["keyspace_misses"]
    maxmemory = after.get("maxmemory", 0)
    lag = after.get("master_last_io_seconds_ago") if after.get("role") == "slave" else None
    return {
        "t": after["_t"],
        "used_memory_mb": after["used_memory"] / 2**20,
        "memory_pct": 100 * after["used_memory"] / maxmemory if maxmemory else None,
        "connected_clients": after["connected_clients"],
        "clients_pct": 100 * after["connected_clients"] / after["maxclients"] if after.get("maxclients") else None,
        "blocked_clients": after["blocked_clients"],
        "ops_per_s": (after["total_commands_processed"] - before["total_commands_processed"]) / dt,
        "hit_ratio_pct": 100 * hits / (hits + misses) if hits + misses else None,
        "lifetime_hit_ratio_pct": (100 * after["keyspace_hits"] / (after["keyspace_hits"] + after["keyspace_misses"])
                                   if after["keyspace_hits"] + after["keyspace_misses"] else None),
        "evicted_per_s": (after["evicted_keys"] - before["evicted_keys"]) / dt,
        "expired_per_s": (after["expired_keys"] - before["expired_keys"]) / dt,
        "p99_ms": worst_p99_ms(after),
        "replication_lag_s": lag,
        "connected_replicas": after.get("connected_slaves", 0),
    }


@dataclass(frozen=True)
class Alert:
    """One threshold crossed: which metric, how bad, the value and the threshold it crossed."""

    metric: str
    level: str
    value: float
    threshold: float


def alerts(metrics: dict, thresholds: dict[str, tuple[float, float, str]] = THRESHOLDS) -> list[Alert]:
    """The alerts a window's metrics fire: critical when past the critical threshold, else warning past the warning."""
    fired = []
    for name, (warning, critical, direction) in thresholds.items():
        value = metrics.get(name)
        if value is None:
            continue
        past = (lambda limit: value > limit) if direction == "above" else (lambda limit: value < limit)
        if past(critical):
            fired.append(Alert(name, "critical", value, critical))
        elif past(warning):
            fired.append(Alert(name, "warning", value, warning))
    return fired


@dataclass
class Collector:
    """Samples INFO every `interval` seconds in a background thread; `.frame()` gives one row per window."""

    client: redis.Redis
    interval: float = 0.1
    samples: list[dict] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _marks: list[tuple[float, str]] = field(default_factory=list, repr=False)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(snapshot(self.client))
            self._stop.wait(self.interval)

    def __enter__(self) -> Collector:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.samples.append(snapshot(self.client))

    def mark(self, label: str) -> None:
        """Note that a workload phase called `label` starts now (drawn on the dashboard)."""
        self._marks.append((time.monotonic(), label))

    def frame(self) -> pd.DataFrame:
        """One row per sampling window, `t (s)` from the first sample, with the phase each window ended in."""
        rows = [derive(a, b) for a, b in zip(self.samples, self.samples[1:])]
        frame = pd.DataFrame(rows)
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


class InfoCollector:
    """A prometheus_client collector that reads INFO at scrape time: gauges for levels, counters for totals."""

    GAUGES = {"used_memory": "redis_memory_used_bytes", "maxmemory": "redis_memory_max_bytes",
              "connected_clients": "redis_connected_clients", "blocked_clients": "redis_blocked_clients",
              "maxclients": "redis_max_clients"}
    COUNTERS = {"total_commands_processed": "redis_commands_processed", "keyspace_hits": "redis_keyspace_hits",
                "keyspace_misses": "redis_keyspace_misses", "evicted_keys": "redis_evicted_keys",
                "expired_keys": "redis_expired_keys"}

    def __init__(self, client: redis.Redis):
        self.client = client

    def collect(self) -> Iterator:
        """Yield one metric family per INFO field (called by prometheus_client on every scrape)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        info = snapshot(self.client)
        for field_name, metric in self.GAUGES.items():
            yield GaugeMetricFamily(metric, f"INFO {field_name}", value=info.get(field_name, 0))
        for field_name, metric in self.COUNTERS.items():
            yield CounterMetricFamily(metric, f"INFO {field_name}", value=info.get(field_name, 0))


def serve_prometheus(client: redis.Redis) -> tuple[str, Callable[[], None]]:
    """Serve `client`'s INFO as Prometheus metrics on 127.0.0.1 and a free port: (URL of /metrics, stop)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(InfoCollector(client))
    port = free_port()
    httpd, thread = start_http_server(port, addr="127.0.0.1", registry=registry)

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{port}/metrics", stop


# ---------------------------------------------------------------- /health


def health(r: redis.Redis, *, memory_pct: float = 85, blocked: int = 10) -> tuple[int, dict]:
    """The guide's health check, fixed: (HTTP status, body); 503 when down, slow to answer, or degraded."""
    try:
        info = r.execute_command("INFO", "memory", "clients")
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        return 503, {"status": "unhealthy", "reason": f"{type(exc).__name__}: {exc}"}
    reasons = []
    if info.get("maxmemory"):
        used = 100 * info["used_memory"] / info["maxmemory"]
        if used > memory_pct:
            reasons.append(f"memory at {used:.1f}% of maxmemory")
    if info["blocked_clients"] > blocked:
        reasons.append(f"{info['blocked_clients']} blocked clients")
    if reasons:
        return 503, {"status": "degraded", "reason": "; ".join(reasons)}
    return 200, {"status": "healthy"}


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
            except redis.RedisError as exc:  # e.g. maxclients reached: reported by __enter__, not as a thread crash
                self.errors.append(exc)

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


def dashboard(frame: pd.DataFrame, phases: list[tuple[float, str]], thresholds=THRESHOLDS):
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
