"""Multi-process topologies from the lab's binaries: a Redis Cluster and a Sentinel deployment, one call each.

Both are context managers (and have .stop()): every process they start is gone when the block or the call ends.
`mode_of` tells whether a REDIS_URL points at a standalone server, a cluster node or a sentinel.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from .errors import LabError
from .relay import Relay
from .server import RedisServer, binaries, free_port, launch, start_server, wait_for_replica, wait_until_ready

# Measured on the lab machine: with the defaults a 6-node cluster shows its replicas in CLUSTER SLOTS only after
# ~13 s; these three settings bring it up in ~2.5 s (a replica pings, syncs and is declared healthy sooner).
# Lab settings, not production ones: the defaults are cluster-node-timeout 15000, repl-ping-replica-period 10,
# repl-diskless-sync-delay 5 — a 1 s node timeout on a loaded host can declare a healthy node failed.
FAST_CLUSTER = {"cluster-node-timeout": "1000", "repl-ping-replica-period": "1", "repl-diskless-sync-delay": "0"}
MASTER_NAME = "mymaster"


def mode_of(r: redis.Redis) -> str:
    """'sentinel', 'cluster' or 'standalone': what the server behind `r` is."""
    server = r.info("server")
    if server.get("redis_mode") == "sentinel":
        return "sentinel"
    try:
        return "cluster" if r.info("cluster").get("cluster_enabled") == 1 else "standalone"
    except redis.ResponseError:
        return "standalone"


# ---------------------------------------------------------------- Redis Cluster


@dataclass
class Cluster:
    """A running Redis Cluster: its node processes (if this lab started them) and how to reach it."""

    servers: list[RedisServer]
    startup: list[tuple[str, int]]
    seconds_to_ready: float = 0.0
    external: bool = False
    auth: dict[str, str] = field(default_factory=dict, repr=False)

    def client(self, **kwargs) -> RedisCluster:
        """A cluster-aware client (decoded strings unless told otherwise)."""
        kwargs = {**self.auth, **kwargs}
        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("socket_connect_timeout", 3)
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in self.startup], **kwargs)

    def node_client(self, port: int, host: str = "127.0.0.1", **kwargs) -> redis.Redis:
        """A plain (not cluster-aware) client for one node, as a learner would get with redis.Redis(host, port)."""
        kwargs = {**self.auth, **kwargs}
        kwargs.setdefault("decode_responses", True)
        return redis.Redis(host=host, port=port, **kwargs)

    def stop(self) -> None:
        """Stop every node this lab started (an external cluster is left alone)."""
        for server in self.servers:
            server.stop()
        self.servers = []

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_cluster(*, masters: int = 3, replicas: int = 1, modules: bool = True, timeout: float = 30.0,
                  config: dict[str, str] | None = None) -> Cluster:
    """Start masters × (1 + replicas) cluster-enabled servers and join them into one cluster."""
    started = time.perf_counter()
    settings = {"cluster-enabled": "yes", "cluster-config-file": "nodes.conf", **FAST_CLUSTER, **(config or {})}
    # An explicit bus port: the default (port + 10000) would not exist for the high ports free_port() can return.
    servers = [start_server(config={**settings, "cluster-port": str(free_port())}, modules=modules, name="cluster",
                            wait=False) for _ in range(masters * (1 + replicas))]
    try:
        for server in servers:
            wait_until_ready(server)
        join_cluster(servers, masters=masters, deadline=started + timeout)
        cluster = Cluster(servers, [("127.0.0.1", s.port) for s in servers])
        wait_for_cluster(cluster, masters=masters, replicas=replicas, deadline=started + timeout)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    cluster.seconds_to_ready = time.perf_counter() - started
    return cluster


def join_cluster(servers: list[RedisServer], *, masters: int, deadline: float) -> None:
    """What `redis-cli --cluster create` does: slots split evenly over the first `masters`, MEET, then REPLICATE."""
    clients = [s.client(socket_timeout=2) for s in servers]
    per = 16384 // masters
    for i, c in enumerate(clients):
        c.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)  # distinct epochs: no collision round at start
        if i < masters:
            c.execute_command("CLUSTER ADDSLOTSRANGE", i * per, 16383 if i == masters - 1 else (i + 1) * per - 1)
    bus = int(clients[0].config_get("cluster-port")["cluster-port"])
    for c in clients[1:]:
        c.execute_command("CLUSTER MEET", "127.0.0.1", servers[0].port, bus)
    ids = [c.execute_command("CLUSTER MYID") for c in clients]
    for i, c in enumerate(clients[masters:]):
        primary = ids[i % masters]
        while True:  # a node can replicate only a primary it has heard of through the bus
            try:
                c.execute_command("CLUSTER REPLICATE", primary)
                break
            except redis.ResponseError:
                if time.perf_counter() > deadline:
                    raise LabError("The lab's cluster nodes did not find each other in time: run the cell again.")
                time.sleep(0.05)


def wait_for_cluster(cluster: Cluster, *, masters: int, replicas: int, deadline: float) -> None:
    """Wait until every node says cluster_state:ok and CLUSTER SLOTS lists every shard with its replicas."""
    clients = [cluster.node_client(port, socket_timeout=2) for _, port in cluster.startup]
    while True:
        try:
            states = [c.cluster("info")["cluster_state"] for c in clients]
            # Every node's view, not one: a client may take its slot map from any of them.
            views = [c.execute_command("CLUSTER SLOTS") for c in clients]
            linked = [c.info("replication").get("master_link_status") for c in clients]
            if (set(states) == {"ok"} and linked.count("up") == masters * replicas
                    and all(len(view) == masters and all(len(shard) - 2 >= 1 + replicas for shard in view)
                            for view in views)):
                return
        except redis.RedisError:
            pass
        if time.perf_counter() > deadline:
            raise LabError("The lab's cluster did not become ready in time: see the logs under "
                           f"{', '.join(str(s.folder) for s in cluster.servers[:1])} …, or run the cell again.")
        time.sleep(0.05)


def connect_cluster(url: str) -> Cluster:
    """A Cluster handle for an existing cluster (e.g. REDIS_URL pointing at one of its nodes); nothing is started."""
    probe = redis.Redis.from_url(url, decode_responses=True)
    kw = probe.connection_pool.connection_kwargs
    nodes = [(kw["host"], kw["port"])] + [(addr.split(":")[0], int(addr.split(":")[1].split("@")[0]))
                                          for addr in probe.cluster("nodes")]
    auth = {k: kw[k] for k in ("username", "password") if kw.get(k)}
    return Cluster([], nodes, external=True, auth=auth)


def calls_per_node(rc: RedisCluster, command: str = "get") -> dict[str, int]:
    """How many times each node has run `command` so far (INFO commandstats), keyed 'port (role)'."""
    counts = {}
    for node in rc.get_nodes():
        stats = rc.info("commandstats", target_nodes=node)
        role = "primary" if node.server_type == "primary" else "replica"
        counts[f"{node.port} ({role})"] = int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))
    return dict(sorted(counts.items(), key=lambda kv: (kv[0].endswith("(replica)"), kv[0])))


# ---------------------------------------------------------------- Sentinel


@dataclass
class SentinelDeployment:
    """A master, its replicas and the sentinels that watch them; `.sentinel` is redis-py's Sentinel client."""

    master: RedisServer
    replicas: list[RedisServer]
    sentinels: list[RedisServer]
    seconds_to_ready: float = 0.0
    name: str = MASTER_NAME
    _clients: list = field(default_factory=list, repr=False)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every sentinel, as Sentinel([...]) wants them."""
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def sentinel(self, **kwargs) -> Sentinel:
        """A redis-py Sentinel client for this deployment."""
        kwargs.setdefault("socket_timeout", 0.5)
        kwargs.setdefault("decode_responses", True)
        return Sentinel(self.addresses, **kwargs)

    def master_address(self) -> tuple[str, int] | None:
        """Where the sentinels say the master is now (asking each sentinel until one answers)."""
        for sentinel in self.sentinels:
            try:
                host, port = sentinel.client(socket_timeout=0.5).sentinel_get_master_addr_by_name(self.name)
                return host, int(port)
            except (redis.RedisError, TypeError):
                continue
        return None

    def stop(self) -> None:
        """Stop the sentinels, then the data servers."""
        for server in [*self.sentinels, *self.replicas, self.master]:
            server.stop()

    def __enter__(self) -> SentinelDeployment:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_replicated(*, replicas: int = 1, config: dict[str, str] | None = None, modules: bool = False,
                     link_delay: float = 0.0) -> tuple[RedisServer, list[RedisServer]]:
    """A master and `replicas` replicas of it, returned once every replica has finished its first sync.

    With `link_delay` (seconds) each replica reaches its master through a delaying Relay (stopped with
    the replica), as if the master were in another zone or region.
    """
    config = {"repl-diskless-sync-delay": "0", **(config or {})}
    master = start_server(config=config, modules=modules, name="master")
    copies = []
    try:
        for _ in range(replicas):
            link = Relay(master.port, delay=link_delay) if link_delay else None
            upstream = link.port if link else master.port
            copy = start_server(config={**config, "replicaof": f"127.0.0.1 {upstream}"}, modules=modules,
                                name="replica")
            if link:
                copy._cleanup.append(link.stop)
                copy.link = link  # so a crash can cut it
            copies.append(copy)
        for copy in copies:
            wait_for_replica(copy.client(), log=copy.log)
    except BaseException:
        for server in [*copies, master]:
            server.stop()
        raise
    return master, copies


def start_sentinel_process(monitor_port: int, *, quorum: int, down_after_ms: int, failover_timeout_ms: int,
                           name: str = MASTER_NAME) -> RedisServer:
    """One redis-sentinel process watching the master on `monitor_port` (its config file lives in a temp folder)."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix=f"sentinel-{port}-"))
    # Sentinel rewrites its config file as it learns the topology, so it must be a real, writable file.
    (folder / "sentinel.conf").write_text("\n".join([
        f"port {port}", "bind 127.0.0.1", f"dir {folder}", f"logfile {folder / 'server.log'}",
        f"sentinel monitor {name} 127.0.0.1 {monitor_port} {quorum}",
        f"sentinel down-after-milliseconds {name} {down_after_ms}",
        f"sentinel failover-timeout {name} {failover_timeout_ms}",
        f"sentinel parallel-syncs {name} 1", ""]))
    # `redis-server FILE --sentinel` is what the redis-sentinel link runs; Redis 8.2's package ships no such link.
    return launch([str(binaries().server), str(folder / "sentinel.conf"), "--sentinel"], port, folder,
                  name="sentinel")


def start_sentinel(*, replicas: int = 1, sentinels: int = 3, down_after_ms: int = 1000,
                   failover_timeout_ms: int = 3000, timeout: float = 20.0, link_delay: float = 0.0) -> SentinelDeployment:
    """A master + replicas watched by `sentinels` sentinels (quorum: a majority), ready when all see each other.

    Lab settings, not defaults: Sentinel's down-after-milliseconds defaults to 30 000 and failover-timeout to
    180 000. `link_delay` puts each replica's replication link through a delaying relay (see start_replicated).
    """
    started = time.perf_counter()
    master, copies = start_replicated(replicas=replicas, link_delay=link_delay)
    deployment = SentinelDeployment(master, copies, [])
    try:
        for _ in range(sentinels):
            deployment.sentinels.append(start_sentinel_process(
                master.port, quorum=sentinels // 2 + 1, down_after_ms=down_after_ms,
                failover_timeout_ms=failover_timeout_ms))
        deadline = started + timeout
        while True:  # ready = every sentinel knows the replicas and the other sentinels (hello messages, ~2 s)
            views = [s.client(socket_timeout=1).sentinel_master(MASTER_NAME) for s in deployment.sentinels]
            if all(v["num-slaves"] == replicas and v["num-other-sentinels"] == sentinels - 1 for v in views):
                break
            if time.perf_counter() > deadline:
                raise LabError(f"The sentinels did not discover each other within {timeout:.0f} s: see "
                               f"{deployment.sentinels[0].log}.")
            time.sleep(0.05)
    except BaseException:
        deployment.stop()
        raise
    deployment.seconds_to_ready = time.perf_counter() - started
    return deployment


def crash(server: RedisServer, *, cut: list | None = None) -> None:
    """Kill a server the hard way (SIGKILL: no shutdown, no goodbye to replicas or sentinels); cut these relays too."""
    if server.alive():
        for link in cut or []:
            if link is not None:
                link.stop()
        os.kill(server.pid, signal.SIGKILL)
        if server.process is not None:
            server.process.wait(timeout=5)


@dataclass(frozen=True)
class Attempt:
    """One write tried across a failover: which writer, its id, when (s after the crash, negative before), outcome.

    `outcome` is 'acknowledged' (the writer's function returned True), 'unconfirmed' (it returned False) or the
    name of the exception it raised.
    """

    writer: str
    i: int
    t: float
    outcome: str


def writes_across_failover(deployment: SentinelDeployment, writers: dict[str, Callable[[int], bool]], *,
                           before: float = 1.0, interval: float = 0.005, limit: float = 15.0,
                           after_recovery: float = 0.3) -> list[Attempt]:
    """Run every writer in its own thread, crash the master `before` s later, keep writing through the failover.

    Each writer is called with 0, 1, 2 … every `interval` s. The crash is a SIGKILL of the master and, when the
    replica's link goes through a relay, a cut of that link at the same instant: bytes the master had sent but the
    replica had not received die with the master's host. A writer stops `after_recovery` s after the first answer
    from a server since the crash, or `limit` s after the crash (bounded either way).
    """
    raw: list[tuple[str, int, float, str]] = []   # (writer, i, perf_counter at the call, outcome)
    crashed_at: list[float] = []                  # set once, by the main thread, at the SIGKILL

    def run(name: str, write: Callable[[int], bool]) -> None:
        i, recovered = 0, None
        while True:
            started = time.perf_counter()
            try:
                outcome = "acknowledged" if write(i) else "unconfirmed"
            except (redis.RedisError, OSError) as exc:
                outcome = type(exc).__name__
            raw.append((name, i, started, outcome))  # list.append is atomic: no lock needed
            now = time.perf_counter()
            if crashed_at and started > crashed_at[0]:
                if outcome in ("acknowledged", "unconfirmed") and recovered is None:  # the server answered
                    recovered = now
                if (recovered and now - recovered > after_recovery) or now - crashed_at[0] > limit:
                    return
            i += 1
            time.sleep(max(0.0, interval - (now - started)))

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in writers.items()]
    for thread in threads:
        thread.start()
    time.sleep(before)
    crash(deployment.master, cut=[getattr(r, "link", None) for r in deployment.replicas])
    crashed_at.append(time.perf_counter())
    for thread in threads:
        thread.join(limit + 5)
    return [Attempt(name, i, started - crashed_at[0], outcome) for name, i, started, outcome in sorted(raw)]
