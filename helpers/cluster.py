"""Multi-process topologies from the lab's binaries: a Redis Cluster and a Sentinel deployment, one call each.

Both are context managers (and have .stop()): every process they start is gone when the block or the call ends.
`mode_of` tells whether a REDIS_URL points at a standalone server, a cluster node or a sentinel.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from .errors import LabError
from .relay import Relay
from .server import RedisServer, binaries, free_port, launch, start_server, wait_until_ready

# Measured on the lab machine: with the defaults a 6-node cluster shows its replicas in CLUSTER SLOTS only after
# ~13 s; these three settings bring it up in ~2.5 s (a replica pings, syncs and is declared healthy sooner).
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
            copies.append(copy)
        deadline = time.monotonic() + 15
        while not all(c.client().info("replication").get("master_link_status") == "up" for c in copies):
            if time.monotonic() > deadline:
                raise LabError(f"The replica did not sync with its master within 15 s: see {copies[0].log}.")
            time.sleep(0.02)
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
                   failover_timeout_ms: int = 3000, timeout: float = 20.0) -> SentinelDeployment:
    """A master + replicas watched by `sentinels` sentinels (quorum: a majority), ready when all see each other."""
    started = time.perf_counter()
    master, copies = start_replicated(replicas=replicas)
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


def crash(server: RedisServer) -> None:
    """Kill a server the hard way (SIGKILL: no shutdown, no goodbye to replicas or sentinels)."""
    if server.alive():
        os.kill(server.pid, signal.SIGKILL)
        if server.process is not None:
            server.process.wait(timeout=5)


@dataclass(frozen=True)
class Attempt:
    """One write tried during a failover: when (s after the crash), whether it worked, and the error if not."""

    t: float
    ok: bool
    error: str = ""


def writes_through_failover(deployment: SentinelDeployment, key: str, *, interval: float = 0.05,
                            limit: float = 15.0, after_recovery: int = 5) -> list[Attempt]:
    """Crash the master, then write every `interval` s through Sentinel.master_for until writes work again.

    Bounded: gives up `limit` s after the crash. Stops `after_recovery` successful writes after the first one.
    """
    sentinel = deployment.sentinel(socket_timeout=0.2, socket_connect_timeout=0.2)
    master = sentinel.master_for(deployment.name, socket_timeout=0.2, socket_connect_timeout=0.2, retry=None)
    master.set(key, 0)
    master.wait(len(deployment.replicas), 100)  # the replicas have the starting value (within the 0.2 s timeout)
    crash(deployment.master)
    start = time.perf_counter()
    attempts: list[Attempt] = []
    successes = 0
    while (t := time.perf_counter() - start) < limit and successes < after_recovery:
        try:
            master.incr(key)
            attempts.append(Attempt(t, True))
            successes += 1
        except (redis.RedisError, OSError) as exc:
            attempts.append(Attempt(t, False, type(exc).__name__))
        time.sleep(interval)
    return attempts

