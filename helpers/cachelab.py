"""Cache plumbing (harness only: the Redis commands of the lessons are in the notebooks): notebook 02's request
streams, wall-clock pacing, parallel private servers, a stampede harness; notebook 07's semantic cache for two tenants."""

from __future__ import annotations

import threading
import time
import types
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import redis

def workloads(requests: int, *, universe: int = 5_000, seed: int = 7) -> dict[str, np.ndarray]:
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


def paced(ticks: int, tick_seconds: float, *, progress: str = "") -> Iterator[int]:
    """Yield 0 … ticks-1, one every `tick_seconds` of wall time (sleeping as needed), with a tqdm bar if named."""
    from tqdm.auto import tqdm

    started = time.monotonic()
    quiet = {} if progress else {"disable": True}  # unnamed: no bar; named: tqdm decides (TQDM_DISABLE=1 hides it)
    for tick in tqdm(range(ticks), desc=progress, leave=False, **quiet):
        delay = started + tick * tick_seconds - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield tick


def start_many(names: list[str], *, progress: str = "", **kwargs) -> list:
    """Start one private server per name, in parallel (spawn all, then wait for each to answer PING)."""
    from tqdm.auto import tqdm

    from .server import start_server, wait_until_ready

    servers = [start_server(name=name, wait=False, **kwargs) for name in names]
    quiet = {} if progress else {"disable": True}
    for server in tqdm(servers, desc=progress, leave=False, **quiet):
        wait_until_ready(server)
    return servers


def stop_many(servers: list) -> None:
    """Stop private servers in parallel (SIGTERM to each, then wait), rather than one shutdown after another."""
    workers = [threading.Thread(target=server.stop) for server in servers]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


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
           pause: float = 0.01, progress: str = "", slow: dict[str, int] | None = None,
           slow_seconds: float = 0.05) -> dict[str, int]:
    """Run `threads` clients per strategy, all strategies at once, each reading every `pause` s; errors per strategy
    (and, into `slow`, how many reads per strategy took longer than `slow_seconds`)."""
    errors = {name: 0 for name in readers}
    slow = {} if slow is None else slow
    slow.update({name: 0 for name in readers})
    stop = time.monotonic() + seconds

    def client(name: str, read: Callable[[], object]) -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            try:
                read()
            except Exception:  # counted, not raised: one broken read must not end the experiment
                errors[name] += 1
            if time.monotonic() - started > slow_seconds:
                slow[name] += 1  # += on a dict entry under the GIL: a rare lost count at worst, fine for a table
            time.sleep(pause)

    workers = [threading.Thread(target=client, args=item) for item in readers.items() for _ in range(threads)]
    for w in workers:
        w.start()
    for _ in paced(int(seconds / 0.1), 0.1, progress=progress):  # the bar only: the clients keep their own time
        pass
    for w in workers:
        w.join()
    return errors


def stampede(readers: dict[str, Callable[[SlowSource], object]], *, compute_seconds: float, threads: int,
             seconds: float, pause: float, progress: str = "") -> pd.DataFrame:
    """Warm each strategy's key, then hammer all strategies at once; per strategy, how often its computation ran.

    `readers` maps a strategy to a read that takes the computation to call on a miss (a fresh SlowSource each).
    """
    sources = {name: SlowSource(compute_seconds) for name in readers}
    bound = {name: (lambda read=read, source=sources[name]: read(source)) for name, read in readers.items()}
    for name, read in bound.items():  # warm every key first: the experiment is about expiry, not a cold start
        read()
        sources[name].reset()
    slow: dict[str, int] = {}
    failed = hammer(bound, threads=threads, seconds=seconds, pause=pause, progress=progress, slow=slow)
    table = pd.DataFrame({"recomputations": [s.calls for s in sources.values()],
                          "rounds of recomputation": [s.rounds() for s in sources.values()],
                          "most at once": [s.peak for s in sources.values()],
                          "failed reads": [failed[name] for name in sources],
                          "reads over 50 ms": [slow[name] for name in sources]}, index=list(sources))
    table["per round"] = table["recomputations"] / table["rounds of recomputation"].clip(lower=1)
    return table


def cold_start(read: Callable[[SlowSource], object], *, threads: int, compute_seconds: float) -> dict[str, int]:
    """`threads` clients read a missing key at the same instant (a barrier); how often the computation ran."""
    source = SlowSource(compute_seconds)
    gate = threading.Barrier(threads)
    failed = []

    def client() -> None:
        gate.wait()
        try:
            read(source)
        except Exception:  # counted, not raised
            failed.append(1)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"recomputations": source.calls, "most at once": source.peak, "failed reads": len(failed)}


def busiest_expiry(client: redis.Redis, keys: list[str], window: float = 10) -> int:
    """How many of `keys` expire in the busiest `window` seconds, from their PTTLs (sends one PTTL per key, pipelined)."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.pttl(key)
    expiry_s = np.array(pipe.execute()) / 1000
    return int(np.bincount((expiry_s // window).astype(int)).max())


def with_globals(fn: Callable, **names: object) -> Callable:
    """`fn` unchanged, except that the global names it uses (e.g. the guide's module-level `r`) resolve to `names`."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, **names}, fn.__name__, fn.__defaults__, fn.__closure__)


# ---------------------------------------------------------------- stale entries: a database that changes


def drifting_users(ticks: int, *, tick_seconds: float = 0.05, active: int = 500, arrivals: int = 40,
                   changes: int = 50, reads: int = 300, seed: int = 3,
                   progress: str = "") -> Iterator[tuple[list[int], dict[int, int]]]:
    """Per tick (paced in wall time): the user ids read, and every user's record version so far.

    Users come and go (the oldest active users never come back), and each tick some records change in the database.
    """
    rng = np.random.default_rng(seed)
    version: dict[int, int] = {}
    for tick in paced(ticks, tick_seconds, progress=progress):
        ids = np.arange(tick * arrivals, tick * arrivals + active)
        for user in rng.choice(ids, size=changes, replace=False):
            version[int(user)] = version.get(int(user), 0) + 1
        yield [int(u) for u in rng.choice(ids, size=reads)], version


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
