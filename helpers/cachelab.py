"""Cache plumbing: notebook 02's workloads replayed against eviction policies, a stampede harness, a memory check;
notebook 07's semantic cache shared by two tenants."""

from __future__ import annotations

import threading
import time
import types
from typing import Callable

import numpy as np
import pandas as pd
import redis

# One cache-aside request, done on the server so a pipeline can replay thousands in order: GET, and on a miss SET a
# value of ARGV[1] bytes (with a TTL of ARGV[2] s when > 0). 1 = hit, 0 = miss stored, -1 = miss refused (OOM).
CACHE_ASIDE = """
if redis.call('GET', KEYS[1]) then return 1 end
local stored = redis.pcall('SET', KEYS[1], string.rep('x', tonumber(ARGV[1])))
if type(stored) == 'table' and stored.err then return -1 end
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def workloads(requests: int, *, universe: int = 20_000, seed: int = 7) -> dict[str, np.ndarray]:
    """Two skewed (Zipf-like) request streams of key names, both over more keys than a few MB can hold."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, universe + 1) ** 0.9
    ranks = rng.choice(universe, size=requests, p=weights / weights.sum())
    # Stable popularity (a product catalogue), with 30 % of requests from a batch job that reads each item once.
    stable = np.array([f"item:{i}" for i in rng.permutation(universe)[ranks]], dtype=object)
    once = rng.random(requests) < 0.3
    stable[once] = [f"report:{i}" for i in range(int(once.sum()))]
    # Newest is hottest (a news feed): a new item every 2 requests, popularity falling with age.
    newest = np.arange(requests) // 2 + universe
    feed = np.array([f"post:{i}" for i in newest - ranks], dtype=object)
    return {"stable hot set + one-off scans": stable, "newest items hottest (feed)": feed}


def replay(client: redis.Redis, keys: np.ndarray, *, value_bytes: int = 1000, ttl: int = 0,
           batch: int = 2000) -> np.ndarray:
    """Replay cache-aside requests in order; one outcome per request (1 hit, 0 miss stored, -1 refused: OOM)."""
    sha = client.script_load(CACHE_ASIDE)
    outcomes: list = []
    for start in range(0, len(keys), batch):
        pipe = client.pipeline(transaction=False)
        for key in keys[start:start + batch]:
            pipe.evalsha(sha, 1, key, value_bytes, ttl)
        outcomes += pipe.execute(raise_on_error=False)
    return np.array([o if isinstance(o, int) else -1 for o in outcomes])


def fill_side_by_side(clients: dict[str, redis.Redis], *, batches: int, per_batch: int = 1000,
                      value_bytes: int = 1000) -> pd.DataFrame:
    """Write the same 1 KB cache entries to every server, batch by batch; used_memory (MB) of each after each batch."""
    rows = []
    for batch in range(1, batches + 1):
        row = {"entries written": batch * per_batch}
        for label, client in clients.items():
            pipe = client.pipeline(transaction=False)
            for i in range(per_batch):
                pipe.set(f"cache:{batch}:{i}", "x" * value_bytes)
            pipe.execute()
            row[label] = client.info("memory")["used_memory"] / 2**20
        rows.append(row)
    return pd.DataFrame(rows).set_index("entries written")


def policy_run(client: redis.Redis, policy: str, keys: np.ndarray, *, ttl: int = 0) -> dict:
    """Empty the (private!) server, set `policy`, replay `keys`; hit ratio over the second half, OOMs, evictions."""
    client.flushall()
    client.config_set("maxmemory-policy", policy)
    client.config_resetstat()
    outcomes = replay(client, keys, ttl=ttl)
    steady = outcomes[len(outcomes) // 2:]  # the first half fills the cache
    memory, stats = client.info("memory"), client.info("stats")
    return {"hit ratio": float(np.mean(steady == 1)), "OOM errors": int(np.sum(outcomes == -1)),
            "evicted keys": stats["evicted_keys"], "keys held": client.dbsize(),
            "used / maxmemory": memory["used_memory"] / memory["maxmemory"]}


# ---------------------------------------------------------------- cache stampede


class SlowSource:
    """The expensive computation behind a cache: counts calls and the most that ran at the same time."""

    def __init__(self, seconds: float = 0.1):
        self.seconds, self.calls, self.running, self.peak = seconds, 0, 0, 0
        self.starts: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
            self.starts.append(time.monotonic())
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(self.seconds)  # the database query, or the model call
        with self._lock:
            self.running -= 1
        return '{"price": 42}'

    def reset(self) -> None:
        """Forget the calls so far (after warming the cache)."""
        self.calls = self.peak = 0
        self.starts = []

    def rounds(self, quiet: float = 0.5) -> int:
        """How many separate bursts of computation there were (calls more than `quiet` s apart start a new one):
        for a cache-aside reader, how many times the key was found missing or stale."""
        return int(sum(1 for a, b in zip([-np.inf] + self.starts, self.starts) if b - a > quiet))


def hammer(readers: dict[str, Callable[[], object]], *, threads: int, seconds: float,
           pause: float = 0.01) -> dict[str, int]:
    """Run `threads` clients per strategy, all strategies at once, each reading every `pause` s; errors per strategy."""
    errors = {name: 0 for name in readers}
    stop = time.monotonic() + seconds

    def client(name: str, read: Callable[[], object]) -> None:
        while time.monotonic() < stop:
            try:
                read()
            except Exception:  # counted, not raised: one broken read must not end the experiment
                errors[name] += 1
            time.sleep(pause)

    workers = [threading.Thread(target=client, args=item) for item in readers.items() for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors


def stampede(readers: dict[str, Callable[[SlowSource], object]], *, compute_seconds: float, threads: int,
             seconds: float, pause: float) -> pd.DataFrame:
    """Warm each strategy's key, then hammer all strategies at once; per strategy, how often its computation ran.

    `readers` maps a strategy to a read that takes the computation to call on a miss (a fresh SlowSource each).
    """
    sources = {name: SlowSource(compute_seconds) for name in readers}
    bound = {name: (lambda read=read, source=sources[name]: read(source)) for name, read in readers.items()}
    for name, read in bound.items():  # warm every key first: the experiment is about expiry, not a cold start
        read()
        sources[name].reset()
    failed = hammer(bound, threads=threads, seconds=seconds, pause=pause)
    table = pd.DataFrame({"recomputations": [s.calls for s in sources.values()],
                          "rounds of recomputation": [s.rounds() for s in sources.values()],
                          "most at once": [s.peak for s in sources.values()],
                          "failed reads": [failed[name] for name in sources]}, index=list(sources))
    table["per round"] = table["recomputations"] / table["rounds of recomputation"].clip(lower=1)
    return table


def busiest_expiry(client: redis.Redis, keys: list[str], window: float = 10) -> int:
    """How many of `keys` expire in the busiest `window` seconds, from their PTTLs."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.pttl(key)
    expiry_s = np.array(pipe.execute()) / 1000
    return int(np.bincount((expiry_s // window).astype(int)).max())


def with_globals(fn: Callable, **names: object) -> Callable:
    """`fn` unchanged, except that the global names it uses (e.g. the guide's module-level `r`) resolve to `names`."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, **names}, fn.__name__, fn.__defaults__, fn.__closure__)


# ---------------------------------------------------------------- memory health


def memory_health(client: redis.Redis, threshold_percent: float = 80) -> dict:
    """A memory check that knows an evicting cache is meant to be full: it looks at refusals and RSS too."""
    memory = client.info("memory")
    refused = client.info("errorstats").get("errorstat_OOM", {}).get("count", 0)
    used, limit, policy = memory["used_memory"], memory["maxmemory"], memory["maxmemory_policy"]
    rss_ratio = memory["used_memory_rss"] / max(used, 1)
    report = {"policy": policy, "used_mb": round(used / 2**20, 1), "limit_mb": round(limit / 2**20, 1),
              "OOM refusals": refused, "rss / used": round(rss_ratio, 2)}
    if limit == 0:
        return {"status": "warning", "why": "no maxmemory: when RAM runs out the OS, not Redis, decides", **report}
    if refused:
        return {"status": "critical", "why": f"{refused} writes refused with OOM", **report}
    usage = 100 * used / limit
    evicts_anything = policy.startswith("allkeys-")
    volatile_keys = sum(db.get("expires", 0) for name, db in client.info("keyspace").items() if name.startswith("db"))
    if usage > threshold_percent and not evicts_anything and not (policy.startswith("volatile-") and volatile_keys):
        return {"status": "critical", "why": f"{usage:.0f} % full and nothing it may evict", **report}
    if usage > threshold_percent and not evicts_anything:
        return {"status": "warning", "why": f"{usage:.0f} % full; only keys with a TTL can be evicted", **report}
    if rss_ratio > 1.5 and used > 64 * 2**20:  # below ~64 MB the ratio is dominated by the allocator's fixed costs
        return {"status": "warning", "why": f"RSS is {rss_ratio:.1f}× used_memory: fragmentation", **report}
    return {"status": "healthy", "why": f"{usage:.0f} % of the limit; the {policy} policy evicts when full", **report}


# ---------------------------------------------------------------- stale entries: a cache with and without TTL


def drift_run(caches: dict[str, tuple[redis.Redis, int | None]], *, ticks: int = 30, tick_seconds: float = 0.05,
              active: int = 500, arrivals: int = 40, changes: int = 50, reads: int = 300,
              seed: int = 3) -> pd.DataFrame:
    """Cache-aside over a changing database: users come and go, records change; per tick, keys held and stale reads.

    `caches` maps a name to (client on its own empty db, TTL in ms or None). Every cache sees the same reads.
    """
    rng = np.random.default_rng(seed)
    version: dict[int, int] = {}
    rows = []
    for tick in range(ticks):
        first = tick * arrivals  # the oldest active user: earlier ones never come back
        ids = np.arange(first, first + active)
        for user in rng.choice(ids, size=changes, replace=False):
            version[int(user)] = version.get(int(user), 0) + 1  # the database changes under the cache
        wanted = [int(u) for u in rng.choice(ids, size=reads)]
        for name, (client, ttl_ms) in caches.items():
            cached = client.mget([f"user:{u}" for u in wanted])
            stale = sum(c is not None and int(c) != version.get(u, 0) for u, c in zip(wanted, cached))
            pipe = client.pipeline(transaction=False)
            for u, c in zip(wanted, cached):
                if c is None:
                    pipe.set(f"user:{u}", version.get(u, 0), px=ttl_ms)
            pipe.execute()
            rows.append({"tick": tick, "t (s)": tick * tick_seconds, "cache": name, "keys held": client.dbsize(),
                         "stale reads (%)": 100 * stale / reads})
        time.sleep(tick_seconds)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- notebook 07: two tenants, one semantic cache


def with_context(context: str, question: str) -> str:
    """The guide's cache key: the context pasted in front of the question."""
    return f"Context: {context}\nQuestion: {question}"


def tenant_lookups(r: redis.Redis, prefix: str, vectorizer, entries: list[dict], contexts: dict[str, str],
                   threshold: float) -> pd.DataFrame:
    """Each tenant's paraphrases and hard negatives asked of three caches; outcomes per cache (right/miss/wrong).

    Every tenant stores every entry's answer as "[tenant] answer". The caches: one shared without a filter, one keyed
    by the guide's context-in-the-prompt, one shared with a `tenant` tag filter on every lookup.
    """
    from redisvl.extensions.cache.llm import SemanticCache
    from redisvl.query.filter import Tag

    from . import embed

    lookups = [(tenant, e, asked, should_hit) for tenant in contexts for e in entries
               for asked, should_hit in [(p, True) for p in e["paraphrases"]] + [(n, False) for n in e["negatives"]]]
    stored = [(tenant, e) for tenant in contexts for e in entries]
    # Embedded in batches, once, cached on disk: the caches below get vectors, not text to embed one by one.
    plain_vectors = embed.embed_cached([e["prompt"] for _, e in stored])
    context_vectors = embed.embed_cached([with_context(contexts[t], e["prompt"]) for t, e in stored])
    asked_vectors = embed.embed_cached([asked for _, _, asked, _ in lookups])
    asked_context_vectors = embed.embed_cached([with_context(contexts[t], asked) for t, _, asked, _ in lookups])

    shared = SemanticCache(name=f"{prefix}tenantcache", distance_threshold=threshold, vectorizer=vectorizer,
                           redis_client=r, overwrite=True, filterable_fields=[{"name": "tenant", "type": "tag"}])
    prefixed = SemanticCache(name=f"{prefix}ctxcache", distance_threshold=threshold, vectorizer=vectorizer,
                             redis_client=r, overwrite=True)
    try:
        for (tenant, e), plain, in_context in zip(stored, plain_vectors, context_vectors):
            shared.store(e["prompt"], f"[{tenant}] {e['answer']}", vector=plain.tolist(), filters={"tenant": tenant})
            prefixed.store(with_context(contexts[tenant], e["prompt"]), f"[{tenant}] {e['answer']}",
                           vector=in_context.tolist())
        tally: dict[str, list[str]] = {"❌ shared cache, no filter": [], "❌ context prepended to the prompt": [],
                                       "✅ tenant filter": []}
        for (tenant, e, _, should_hit), vector, context_vector in zip(lookups, asked_vectors, asked_context_vectors):
            for label, hits in [
                ("❌ shared cache, no filter", shared.check(vector=vector.tolist())),
                ("❌ context prepended to the prompt", prefixed.check(vector=context_vector.tolist())),
                ("✅ tenant filter", shared.check(vector=vector.tolist(), filter_expression=Tag("tenant") == tenant)),
            ]:
                if not should_hit:
                    tally[label].append("wrong" if hits else "right miss")
                elif not hits:
                    tally[label].append("miss")
                else:
                    tally[label].append("right" if hits[0]["response"] == f"[{tenant}] {e['answer']}" else "wrong")
    finally:
        shared.delete()
        prefixed.delete()
    table = pd.DataFrame({label: pd.Series(results).value_counts() for label, results in tally.items()}).T
    return table.reindex(columns=["right", "right miss", "miss", "wrong"]).fillna(0).astype(int)
