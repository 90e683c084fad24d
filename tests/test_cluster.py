"""helpers.cluster against real processes: a Redis Cluster, a Sentinel deployment, a slow replication link; every
process started is gone afterwards, and a failover measurement ends within its bound."""

from __future__ import annotations

import socket
import time

import pytest
import redis
from redis.exceptions import RedisClusterException

from helpers import cluster, start_server
from helpers.server import RedisServer


def gone(servers: list[RedisServer]) -> bool:
    """True when none of these processes runs any more and their folders are removed."""
    return not any(s.alive() or s.folder.exists() for s in servers)


def refuses_connections(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port`."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def six_nodes():
    """One cluster for the tests of this module (3 primaries + 3 replicas, no modules: faster)."""
    with cluster.start_cluster(modules=False) as started:
        yield started
    assert gone(started.servers) or not started.servers


def test_cluster_comes_up_whole(six_nodes: cluster.Cluster) -> None:
    """3 shards cover all 16384 slots, each with one replica, within the fast settings' time."""
    rc = six_nodes.client()
    slots = rc.cluster_slots()
    assert len(slots) == 3 and sum(last - first + 1 for first, last in slots) == 16384
    assert all(len(shard["replicas"]) == 1 for shard in slots.values())
    assert len(six_nodes.servers) == 6 and six_nodes.seconds_to_ready < 20


def test_hash_tags_decide_what_a_cluster_accepts(six_nodes: cluster.Cluster) -> None:
    """Untagged keys: the client and the server refuse MGET; tagged keys: MGET works."""
    rc = six_nodes.client()
    rc.set("{u:1}:a", "1")
    rc.set("{u:1}:b", "2")
    assert rc.mget("{u:1}:a", "{u:1}:b") == ["1", "2"]
    with pytest.raises(RedisClusterException):
        rc.mget("u:1:a", "u:1:b")
    plain = six_nodes.node_client(rc.get_node_from_key("u:1:a").port)
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        plain.mget("u:1:a", "u:1:b")


def test_calls_per_node_counts_what_each_node_served(six_nodes: cluster.Cluster) -> None:
    """calls_per_node sees reads land on primaries by default and on replicas with a replica strategy."""
    from redis.cluster import LoadBalancingStrategy

    rc = six_nodes.client()
    before = cluster.calls_per_node(rc)
    rc.get("{u:2}:x")
    replicas = six_nodes.client(load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS)
    replicas.get("{u:2}:x")
    after = cluster.calls_per_node(rc)
    served = {node: after[node] - before[node] for node in after}
    assert sum(v for k, v in served.items() if k.endswith("(primary)")) == 1
    assert sum(v for k, v in served.items() if k.endswith("(replica)")) == 1


def test_mode_of_and_connect_cluster(six_nodes: cluster.Cluster) -> None:
    """A cluster node is recognised as such, and connect_cluster finds all six nodes from one URL."""
    port = six_nodes.startup[0][1]
    node = six_nodes.node_client(port)
    assert cluster.mode_of(node) == "cluster"
    found = cluster.connect_cluster(f"redis://127.0.0.1:{port}")
    assert found.external and len(found.client().get_nodes()) == 6
    found.stop()  # an external cluster is never stopped by the lab
    assert node.ping()


def test_cluster_processes_are_gone_after_the_block() -> None:
    """Leaving the with-block stops every node and removes its folder."""
    with cluster.start_cluster(masters=3, replicas=0, modules=False) as small:
        servers = list(small.servers)
        assert all(s.alive() for s in servers)
    assert gone(servers)


def test_standalone_is_standalone() -> None:
    """mode_of says 'standalone' for a plain server."""
    with start_server(modules=False, name="plain") as server:
        assert cluster.mode_of(server.client()) == "standalone"


def test_writes_in_flight_across_a_failover_lose_the_lagging_window() -> None:
    """Writes run before and across the crash; the ones acknowledged within the link's lag are lost, WAITed ones not."""
    with cluster.start_sentinel(link_delay=0.05) as deployment:
        servers = [deployment.master, *deployment.replicas, *deployment.sentinels]
        assert cluster.mode_of(deployment.sentinels[0].client()) == "sentinel"
        replica_port = deployment.replicas[0].port
        master = deployment.sentinel().master_for("mymaster", socket_timeout=1.0, socket_connect_timeout=0.2,
                                                  retry=None)

        def trust(i: int) -> bool:
            master.sadd("trusted", i)
            return True

        def waited(i: int) -> bool:
            master.sadd("waited", i)
            return master.wait(1, 500) >= 1

        started = time.perf_counter()
        attempts = cluster.writes_across_failover(deployment, {"trust": trust, "wait": waited}, before=0.6)
        assert time.perf_counter() - started < 20
        assert any(a.t < 0 and a.outcome == "acknowledged" for a in attempts), "writes ran before the crash"
        assert any(a.t > 0 and a.outcome not in ("acknowledged", "unconfirmed") for a in attempts)
        assert deployment.master_address() == ("127.0.0.1", replica_port)
        new = deployment.sentinel().master_for("mymaster")
        kept = {"trust": set(map(int, new.smembers("trusted"))), "wait": set(map(int, new.smembers("waited")))}
        lost = [a for a in attempts if a.outcome == "acknowledged" and a.i not in kept[a.writer]]
        assert lost and all(a.writer == "trust" and -0.3 < a.t < 0 for a in lost)
    assert gone(servers)


def test_failover_measurement_gives_up_at_its_limit() -> None:
    """With no replica to promote, writes never recover and the measurement still stops at `limit`."""
    with cluster.start_sentinel() as deployment:
        deployment.replicas[0].stop()
        master = deployment.sentinel().master_for("mymaster", socket_timeout=0.2, retry=None)
        started = time.perf_counter()
        attempts = cluster.writes_across_failover(deployment, {"w": lambda i: bool(master.incr("c"))},
                                                  before=0.2, limit=2.0)
        assert time.perf_counter() - started < 5
        assert any(a.t > 0 for a in attempts)
        assert not any(a.outcome == "acknowledged" for a in attempts if a.t > 0.1)


def test_delay_link_makes_a_replica_late_and_wait_fixes_it() -> None:
    """Through a 50 ms link an immediate replica read is stale; after WAIT it is fresh; the link closes with it."""
    primary, (replica,) = cluster.start_replicated(link_delay=0.05)
    link_port = int(replica.client().config_get("replicaof")["replicaof"].split()[1])
    try:
        p, r = primary.client(), replica.client()
        p.set("k", "new")
        assert r.get("k") is None
        assert p.wait(1, 2000) == 1 and r.get("k") == "new"
    finally:
        replica.stop()
        primary.stop()
    assert refuses_connections(link_port)
