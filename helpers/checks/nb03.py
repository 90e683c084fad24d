"""Notebook 03's exercise checks: each runs the learner's code against a real (private or proxied) Redis."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Callable

import redis

from .. import faults
from ..server import start_server
from ..show import check


def scan_delete(delete_matching: Callable[[redis.Redis, str], int]) -> bool:
    """Notebook 03: delete the keys that match a pattern without KEYS, in batches (checked in INFO commandstats)."""
    with start_server(name="nb03-check-scan", modules=False,
                      config={"slowlog-log-slower-than": "0", "slowlog-max-len": "10000"}) as server:
        client = server.client()
        pipe = client.pipeline(transaction=False)
        for i in range(3_000):
            pipe.set(f"order:{i}", 1)
            pipe.set(f"user:{i}", 1)
        pipe.execute()
        client.config_resetstat()
        client.slowlog_reset()
        try:
            deleted = delete_matching(client, "order:*")
        except Exception as exc:  # a half-written function: say what broke, don't stop Run All
            return check([(False, f"delete_matching raised {type(exc).__name__}: {exc}")])
        stats = client.info("commandstats")
        batches = [_keys_in(e["command"]) for e in client.slowlog_get(10_000)
                   if e["command"].split()[0].upper() in (b"DEL", b"UNLINK")]
        left = sum(1 for _ in client.scan_iter(match="order:*", count=1000))
        users = client.exists(*[f"user:{i}" for i in range(3_000)])
    deletes = sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("del", "unlink"))
    return check([
        (deleted == 3_000, f"it returned how many keys it deleted: 3,000 (returned: {deleted})"),
        (left == 0, f"no 'order:*' key is left ({left} left)"),
        (users == 3_000, f"every other key is untouched ({users:,} of 3,000 'user:*' keys left)"),
        ("cmdstat_keys" not in stats, "no KEYS command reached the server"),
        ("cmdstat_scan" in stats, "the keyspace was walked with SCAN"),
        ("cmdstat_unlink" in stats and "cmdstat_del" not in stats, "keys freed with UNLINK (memory freed in the "
                                                                   "background), not DEL"),
        (3 <= deletes <= 300 and max(batches, default=0) <= 1_000,
         f"deleted in batches: between 3 and 300 UNLINK calls for 3,000 keys, none with more than 1,000 keys "
         f"({deletes} calls, the largest with {max(batches, default=0):,} keys)"),
    ])


def _keys_in(logged: bytes) -> int:
    """The key count of a logged DEL/UNLINK: SLOWLOG keeps 31 words and notes '... (N more arguments)'."""
    words = logged.split()
    if logged.endswith(b"more arguments)"):
        return len(words) - 5 + int(words[-3].lstrip(b"("))   # the name and the 4-word note are not keys
    return len(words) - 1


def fail_fast(make_client: Callable[[str, int], redis.Redis]) -> bool:
    """Notebook 03: a client whose timeout × attempts is under 1 s, that gives up within that budget on a dead server,
    tries it at most twice, and still works."""
    with faults.Blackhole() as dead:
        try:
            client = make_client("127.0.0.1", dead.port)
        except Exception as exc:
            return check([(False, f"make_client raised {type(exc).__name__}: {exc}")])
        settings = client.connection_pool.connection_kwargs
        timeouts = [settings.get("socket_timeout"), settings.get("socket_connect_timeout")]
        retry = client.get_retry()
        tries = 1 + (retry.get_retries() if retry is not None else 0)
        # The configured worst case: every attempt waits the longest timeout (None = no timeout at all).
        budget = tries * max(t for t in timeouts if t is not None) if None not in timeouts else float("inf")
        outcome = faults.bounded(lambda: client.get("anything"), guard=1.3)
        attempts = dead.settle()
    with start_server(name="nb03-check-live", modules=False) as live:
        try:
            works = bool(make_client("127.0.0.1", live.port).ping())
        except redis.RedisError:
            works = False
    failed = outcome.result in ("TimeoutError", "ConnectionError")
    return check([
        (outcome.result != "hung", f"the call returned within the 1.3 s guard (it took {outcome.seconds:.2f} s)"),
        (failed, f"it failed with a redis TimeoutError or ConnectionError (got: {outcome.result})"),
        (budget < 1.0, f"timeout × attempts is under 1 s (configured: {tries} × {timeouts} s)"),
        # A multiple of the configured budget, not an absolute time: back-off and a busy machine add to it.
        (failed and outcome.seconds < 2 * budget + 0.2,
         f"it gave up within twice its configured budget of {budget:.2f} s plus 0.2 s for back-off and a busy machine "
         f"(limit {2 * budget + 0.2:.2f} s, took {outcome.seconds:.2f} s)"),
        (attempts <= 2, f"it tried the dead server at most twice (tried {attempts} times)"),
        (works, "the same settings still reach a live server"),
    ])


def event_once(add: Callable[[redis.Redis, str, str, dict], object]) -> bool:
    """Notebook 03: `add(client, stream, event_id, fields)` records an event once under the id the caller chose (XADD
    with an explicit id), through redis-py's retries after a stall and the caller's own second try; it returns
    without an error when the event is already there, and still raises for an id that is refused and absent."""
    with start_server(name="nb03-check-once", modules=False, config={"enable-debug-command": "local"}) as server:
        admin = server.client()
        client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=0.1, decode_responses=True)  # 10 retries
        client.ping()
        stall = threading.Thread(target=lambda: admin.execute_command("DEBUG", "SLEEP", 0.5))
        stall.start()
        time.sleep(0.05)  # the XADD below arrives while the server is busy: it times out and redis-py retries it
        try:
            add(client, "orders", "1700000000000-1", {"order": "A-1"})
            first = "ok"
        except Exception as exc:
            first = f"{type(exc).__name__}: {exc}"
        stall.join()
        try:
            add(client, "orders", "1700000000000-1", {"order": "A-1"})   # the caller tries again with the same id
            add(client, "orders", "1700000000000-5", {"order": "A-5"})   # a new event
            again = "ok"
        except Exception as exc:
            again = f"{type(exc).__name__}: {exc}"
        try:  # an id below the stream's last one that was never written: a real refusal, not a duplicate
            add(client, "orders", "1700000000000-3", {"order": "A-3"})
            stale = "returned"
        except redis.ResponseError:
            stale = "raised"
        except Exception as exc:
            stale = f"{type(exc).__name__}: {exc}"
        refused = {}
        for case, event_id, fields in [("an id without its sequence part", "1700000000000", {"order": "B"}),
                                       ("an id already used by another event", "1700000000000-5", {"order": "OTHER"})]:
            try:
                add(client, "orders", event_id, fields)
                refused[case] = False
            except Exception:  # ResponseError, ValueError …: any clear refusal
                refused[case] = True
        entries = [(i, dict(f)) for i, f in admin.xrange("orders")]   # the admin client decodes
        calls = admin.info("commandstats").get("cmdstat_xadd", {}).get("calls", 0)
    expected = [("1700000000000-1", {"order": "A-1"}), ("1700000000000-5", {"order": "A-5"})]
    return check([
        (first == "ok", f"the call made during a server stall returned without an error (got: {first})"),
        (again == "ok", f"the caller's second try with the same id and a new event returned (got: {again})"),
        (entries == expected, f"each event is in the stream once, under its own id (the stream: {entries})"),
        (stale == "raised", f"an id that is refused and not in the stream still raises ResponseError (it {stale})"),
        (calls >= 4, f"the retried XADD did reach the server ({calls} XADD calls)"),
        *[(ok, f"{case} raises instead of reporting an event that was never written") for case, ok in refused.items()],
    ])


def pooled(make_get_user: Callable[[str], Callable[[int], str | None]], *, threads: int = 8) -> bool:
    """Notebook 03: a get_user that `threads` threads share, through at most 4 connections, without errors."""
    # through a 5 ms hop each way: every request holds its connection ~10 ms, so the 8 threads really overlap and
    # a pool without a bound opens more connections than 4
    with start_server(name="nb03-check-pool", modules=False) as server, \
            faults.LatencyProxy(server.port, delay=0.005) as proxy:
        admin = server.client()
        admin.mset({f"user:{i}": f"name-{i}" for i in range(200)})
        before = admin.info("stats")["total_connections_received"]
        try:
            get_user = make_get_user(proxy.url)
        except Exception as exc:
            return check([(False, f"make_get_user raised {type(exc).__name__}: {exc}")])
        answers: dict[int, object] = {}
        errors: list[str] = []
        gate = threading.Barrier(threads)

        def worker(k: int) -> None:
            gate.wait()
            for i in range(k, 200, threads):
                try:
                    answers[i] = get_user(i)
                except Exception as exc:  # count how the learner's function failed
                    errors.append(f"{type(exc).__name__}: {exc}")
        crew = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        for t in crew:
            t.start()
        for t in crew:
            t.join()
        opened = admin.info("stats")["total_connections_received"] - before
    got = [answers.get(i) for i in range(200)]
    got = [a.decode() if isinstance(a, bytes) else a for a in got]
    return check([
        (not errors, f"no call failed ({len(errors)} failed{': ' + errors[0] if errors else ''})"),
        (got == [f"name-{i}" for i in range(200)], "all 200 users read correctly"),
        (opened <= 4, f"{threads} threads shared at most 4 connections (the server accepted {opened})"),
    ])


def _timed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def expire_all(set_ttls: Callable[[redis.Redis, list[str], int], int], *, delay: float = 0.001) -> bool:
    """Notebook 03: set a TTL on many keys through a proxy (its round trip measured with PING), in far fewer round
    trips than one per key, and count the keys that did not exist."""
    n = 200
    keys = [f"session:{i}" for i in range(n)]
    with start_server(name="nb03-check-batch", modules=False) as server, \
            faults.LatencyProxy(server.port, delay) as proxy:
        admin = server.client()
        admin.mset({k: "x" for i, k in enumerate(keys) if i % 10})   # every tenth session has already gone
        client = redis.Redis.from_url(proxy.url, decode_responses=True, retry=None)
        client.ping()
        rtt = statistics.median(_timed(client.ping) for _ in range(15))
        runs = []   # the fastest of 3 runs: the in-process proxy shares the machine, and one run can stall on it
        try:
            for _ in range(3):
                start = time.perf_counter()
                runs.append((set_ttls(client, keys, 600), time.perf_counter() - start))
        except Exception as exc:
            return check([(False, f"set_ttls raised {type(exc).__name__}: {exc}")])
        answer, elapsed = runs[0][0], min(seconds for _, seconds in runs)
        pipe = admin.pipeline(transaction=False)
        for k in keys:
            pipe.ttl(k)
        ttls = pipe.execute()
    existing = [t for i, t in enumerate(ttls) if i % 10]
    one_per_key = n * rtt  # what one round trip per key costs through this proxy
    return check([
        (answer == n - n // 10, f"it returned how many keys got a TTL: {n - n // 10} (returned: {answer})"),
        (all(0 < t <= 600 for t in existing), f"every existing key has a TTL of at most 600 s "
                                              f"({sum(0 < t <= 600 for t in existing)} of {len(existing)})"),
        (all(t == -2 for i, t in enumerate(ttls) if i % 10 == 0), "the missing keys were not created"),
        (elapsed < one_per_key / 5, f"{elapsed * 1e3:.0f} ms (fastest of 3), under a fifth of the {one_per_key * 1e3:.0f} ms "
                                    f"that one round trip per key needs ({n} × a measured {rtt * 1e3:.1f} ms)"),
    ])


def breaker_contract(make: Callable[..., object]) -> bool:
    """Notebook 03: the state machine of a circuit breaker `make(failure_threshold=3, recovery_timeout=0.12,
    probe_timeout=0.1)`, against a dead server (a blackhole) and a live one: consecutive failures open it, a success
    resets the count, an open breaker calls nobody, after the timeout exactly one of 8 concurrent callers is let
    through as the probe; an exhausted local pool is not Redis failing, a CLUSTERDOWN answer is; a hung probe times
    out, and its late failure does not re-open a breaker that has closed since."""
    with faults.Blackhole() as hole, start_server(name="nb03-check-breaker", modules=False) as live:
        dead = redis.Redis(host="127.0.0.1", port=hole.port, socket_timeout=0.05, retry=None)
        alive = live.client(retry=None)
        breaker = make(failure_threshold=3, recovery_timeout=0.12, probe_timeout=0.1)

        def attempt(fn: Callable[[], object]) -> str:
            try:
                breaker.call(fn)
                return "ok"
            except Exception as exc:  # the breaker's refusal and the dead server's timeout both count here
                return type(exc).__name__
        for fn in (dead.ping, dead.ping, alive.ping, dead.ping, dead.ping):
            attempt(fn)
        after_reset = (breaker.state, hole.settle())
        attempt(dead.ping)
        opened = (breaker.state, hole.settle())
        refused = [attempt(dead.ping) for _ in range(5)]
        while_open = hole.settle()
        time.sleep(0.16)
        gate = threading.Barrier(8)
        outcomes: list[str] = []

        def caller() -> None:
            gate.wait()
            outcomes.append(attempt(dead.ping))
        crew = [threading.Thread(target=caller) for _ in range(8)]
        for t in crew:
            t.start()
        for t in crew:
            t.join()
        probes = hole.settle() - while_open
        reopened = breaker.state
        time.sleep(0.16)
        recovered = (attempt(alive.ping), breaker.state)

        # this process's own pool runs dry: Redis is healthy, the breaker must stay closed
        breaker = make(failure_threshold=3, recovery_timeout=0.12, probe_timeout=0.1)
        pools = [redis.ConnectionPool(host="127.0.0.1", port=live.port, max_connections=1),
                 redis.BlockingConnectionPool(host="127.0.0.1", port=live.port, max_connections=1, timeout=0.01)]
        dry = []
        for pool in pools:
            held = pool.get_connection()
            dry += [attempt(redis.Redis(connection_pool=pool, retry=None).ping) for _ in range(3)]
            pool.release(held)
            pool.disconnect()
        exhausted = (breaker.state, dry)
        # the server answers CLUSTERDOWN (a script's error reply, parsed by redis-py as ClusterDownError): a failure
        down = [attempt(lambda: alive.eval("return redis.error_reply('CLUSTERDOWN The cluster is down')", 0))
                for _ in range(3)]
        cluster_down = (breaker.state, down)

        # a probe that hangs: after probe_timeout it counts as failed; its late failure changes nothing
        breaker = make(failure_threshold=3, recovery_timeout=0.12, probe_timeout=0.1)
        for _ in range(3):
            attempt(dead.ping)
        time.sleep(0.16)
        slow_dead = redis.Redis(host="127.0.0.1", port=hole.port, socket_timeout=0.4, retry=None)
        hung = threading.Thread(target=attempt, args=(slow_dead.ping,))
        hung.start()
        time.sleep(0.14)
        after_deadline = (attempt(alive.ping), breaker.state)     # probe overdue: re-opened, this caller refused
        time.sleep(0.16)
        next_probe = (attempt(alive.ping), breaker.state)          # a new probe, to a live server: closed
        hung.join()
        late = breaker.state                                       # the hung probe failed after the breaker closed
    half = {"HALF_OPEN", "HALF-OPEN"}
    return check([
        (after_reset == ("CLOSED", 4), f"2 failures, a success, 2 failures: still CLOSED, 4 calls reached the dead "
                                       f"server (state {after_reset[0]}, {after_reset[1]} reached it)"),
        (opened == ("OPEN", 5), f"the 3rd failure in a row opens it (state {opened[0]})"),
        (while_open == 5 and "ok" not in refused, f"while OPEN no call reaches the server ({while_open - 5} did)"),
        (probes == 1, f"after the recovery timeout, 1 of 8 concurrent callers was let through ({probes} were)"),
        (reopened == "OPEN", f"a failed probe opens it again (state {reopened})"),
        (recovered == ("ok", "CLOSED"), f"a successful probe closes it (call {recovered[0]}, state {recovered[1]})"),
        (reopened not in half, "no caller was left holding a half-open breaker"),
        (exhausted[0] == "CLOSED" and "CircuitOpenError" not in exhausted[1],
         f"6 'pool exhausted' errors (this process, not Redis) leave it CLOSED (state {exhausted[0]})"),
        (cluster_down[0] == "OPEN", f"3 CLUSTERDOWN answers in a row open it (state {cluster_down[0]})"),
        (after_deadline[1] == "OPEN" and after_deadline[0] != "ok",
         f"a probe hung past probe_timeout counts as failed: re-opened (state {after_deadline[1]})"),
        (next_probe == ("ok", "CLOSED"), f"the next probe after the recovery timeout closes it (call {next_probe[0]}, "
                                         f"state {next_probe[1]})"),
        (late == "CLOSED", f"the hung probe's late failure did not re-open the closed breaker (state {late})"),
    ])
