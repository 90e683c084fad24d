"""Notebook 08's plumbing: a scripted delivery experiment (Pub/Sub vs a Stream), the guide's snippets run as
written, pending-list ageing, and the fan-out and trimming measurements."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import redis
from tqdm.auto import tqdm


class Crash(Exception):
    """A consumer dies in the middle of a message (the scripted crash)."""


@dataclass
class Script:
    """When things happen, counted in events published: who is offline, who crashes, when it is back."""

    events: int = 1000
    batch: int = 10          # a consumer handles up to `batch` messages per read, like the guide's count=10
    offline: tuple[int, int] = (300, 600)   # the 'offline' consumer is away while events 300..599 are published
    crash_at: int = 505      # the 'crash' consumer dies after doing this event's work, before acknowledging it
    restart_at: int = 550    # ... and is running again from this event on


@dataclass
class Tally:
    """What one consumer saw: deliveries and completed work per event."""

    received: Counter = field(default_factory=Counter)
    processed: Counter = field(default_factory=Counter)

    def row(self, events: int) -> dict[str, int]:
        """delivered (work done at least once), lost, duplicated (work done twice), redelivered (deliveries again)."""
        return {"delivered": len(self.processed), "lost": events - len(self.processed),
                "duplicated": sum(1 for n in self.processed.values() if n > 1),
                "redelivered": sum(n - 1 for n in self.received.values() if n > 1)}


class PubSubConsumer:
    """A subscriber: it only gets what is published while it is subscribed."""

    def __init__(self, r: redis.Redis, channel: str, crash_at: int | None = None):
        self.r, self.channel, self.crash_at, self.tally = r, channel, crash_at, Tally()
        self.sub: redis.client.PubSub | None = None

    def start(self) -> None:
        """Subscribe and wait for the server's confirmation, so nothing published after this is missed."""
        self.sub = self.r.pubsub()
        self.sub.subscribe(self.channel)
        confirmation = self.sub.get_message(timeout=2)
        assert confirmation and confirmation["type"] == "subscribe", "no subscription confirmation"

    def stop(self) -> None:
        """The process goes away: its connection closes."""
        if self.sub is not None:
            self.sub.close()
            self.sub = None

    def poll(self, last_event: int) -> None:
        """Read what the server pushed, up to `last_event` (2 s at most), and do each message's work."""
        if self.sub is None:
            return
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            message = self.sub.get_message(timeout=0.5)
            if message is None or message["type"] != "message":
                continue
            event = int(message["data"])
            self.tally.received[event] += 1
            self.tally.processed[event] += 1       # the work is done ...
            if event == self.crash_at:
                self.crash_at = None
                self.stop()                        # ... and the process dies: what it had not read yet is gone
                return
            if event >= last_event:
                return


class StreamConsumer:
    """A consumer in its own group: XREADGROUP, work, XACK per message (the guide's loop)."""

    def __init__(self, r: redis.Redis, stream: str, group: str, crash_at: int | None = None, batch: int = 10):
        self.r, self.stream, self.group, self.crash_at, self.batch = r, stream, group, crash_at, batch
        self.name, self.tally, self.online = f"{group}-worker", Tally(), False
        r.xgroup_create(stream, group, id="0", mkstream=True)

    def start(self) -> None:
        """Start (or restart): first finish the messages this consumer was given before (its pending list)."""
        self.online = True
        self._drain("0")

    def stop(self) -> None:
        self.online = False

    def poll(self, last_event: int) -> None:
        """Read new messages (">") until there are none."""
        if self.online:
            self._drain(">")

    def _drain(self, start: str) -> None:
        while self.online:
            reply = self.r.xreadgroup(self.group, self.name, {self.stream: start}, count=self.batch)
            entries = reply[0][1] if reply else []
            if not entries:
                return
            for _, fields in entries:              # the server has delivered the whole reply
                self.tally.received[int(fields["event"])] += 1
            try:
                for entry_id, fields in entries:
                    self._handle(entry_id, int(fields["event"]))
            except Crash:
                self.online = False
                return

    def _handle(self, entry_id: str, event: int) -> None:
        self.tally.processed[event] += 1           # the work is done ...
        if event == self.crash_at:
            self.crash_at = None
            raise Crash(event)                     # ... and the process dies before its XACK
        self.r.xack(self.stream, self.group, entry_id)


def delivery_experiment(r: redis.Redis, prefix: str, script: Script = Script()) -> pd.DataFrame:
    """The same events through Pub/Sub and through a Stream, three consumers each, scripted; one row per consumer."""
    channel, stream = f"{prefix}delivery:channel", f"{prefix}delivery:stream"
    r.delete(stream)
    subs = {"steady": PubSubConsumer(r, channel), "offline": PubSubConsumer(r, channel),
            "crash": PubSubConsumer(r, channel, crash_at=script.crash_at)}
    groups = {name: StreamConsumer(r, stream, f"{name}", crash_at=script.crash_at if name == "crash" else None,
                                   batch=script.batch) for name in subs}
    for consumer in [*subs.values(), *groups.values()]:
        consumer.start()
    reached = 0
    for first in range(0, script.events, script.batch):
        for side in (subs, groups):
            if first == script.offline[0]:
                side["offline"].stop()
            if first == script.offline[1]:
                side["offline"].start()
            if first == script.restart_at:
                side["crash"].start()
        batch = range(first, min(first + script.batch, script.events))
        pipe = r.pipeline(transaction=False)
        for event in batch:
            pipe.publish(channel, str(event))
            pipe.xadd(stream, {"event": event})
        reached += sum(pipe.execute()[0::2])
        for side in (subs, groups):
            for consumer in side.values():
                consumer.poll(batch[-1])
    for sub in subs.values():
        sub.stop()
    rows = [{"transport": transport, "consumer": name, **consumer.tally.row(script.events)}
            for transport, side in (("Pub/Sub", subs), ("Stream + group", groups)) for name, consumer in side.items()]
    frame = pd.DataFrame(rows).set_index(["transport", "consumer"])
    frame.attrs["publish_reached"] = reached
    r.delete(stream)
    return frame


# ---------------------------------------------------------------- the guide's snippets, run as written


def run_guide(code: str, port: int, namespace: dict | None = None) -> tuple[dict, str]:
    """exec the guide's code with only its port changed; returns (its names, 'ok' or the error it raised)."""
    names = dict(namespace or {})
    try:
        exec(code.replace("port=6379", f"port={port}"), names)
    except Exception as exc:  # the point is to see how the guide's code fails
        return names, f"{type(exc).__name__}: {exc}"
    return names, "ok"


_RUNNER = '''import sys, time
code = sys.stdin.read()
for run in range(int(sys.argv[1])):
    exec(code.replace("notifications:user:1001", f"notifications:user:1001:run{run}"), {"__name__": "__main__"})
    time.sleep(0.05)   # time for the subscriber thread to print, if it got the message
    print("--end of run--", flush=True)
'''


def run_pubsub_snippet(code: str, port: int, runs: int) -> tuple[int, int]:
    """Run the guide's Pub/Sub snippet `runs` times in a fresh Python process; (runs, messages received)."""
    done = subprocess.run([sys.executable, "-c", _RUNNER, str(runs)], input=code.replace("port=6379", f"port={port}"),
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    return done.stdout.count("--end of run--"), done.stdout.count("Received:")


def age_pending(r: redis.Redis, stream: str, group: str, consumer: str, ids: list[str], idle_ms: int,
                deliveries: int = 1) -> None:
    """Make pending entries look `idle_ms` old and delivered `deliveries` times (XCLAIM IDLE/RETRYCOUNT), owner kept."""
    r.xclaim(stream, group, consumer, 0, ids, idle=idle_ms, retrycount=deliveries, justid=True)


def pending_by_consumer(r: redis.Redis, stream: str, group: str) -> dict[str, int]:
    """How many pending entries each consumer of `group` holds."""
    return {c["name"]: c["pending"] for c in r.xinfo_consumers(stream, group) if c["pending"]}


# ---------------------------------------------------------------- trimming and fan-out


def xadd_server_cost(r: redis.Redis, stream: str, *, maxlen: int, adds: int, approximate: bool | None,
                     fields: dict | None = None) -> tuple[float, int, int]:
    """Server µs per XADD (INFO commandstats, private server) with MAXLEN exact/~/none; (µs, XLEN, bytes)."""
    fields = fields or {"level": "info", "msg": "test"}
    r.delete(stream)
    pipe = r.pipeline(transaction=False)
    for _ in range(maxlen):
        pipe.xadd(stream, fields)
    pipe.execute()
    r.config_resetstat()
    pipe = r.pipeline(transaction=False)
    for _ in range(adds):
        if approximate is None:
            pipe.xadd(stream, fields)
        else:
            pipe.xadd(stream, fields, maxlen=maxlen, approximate=approximate)
    pipe.execute()
    cost = r.info("commandstats")["cmdstat_xadd"]["usec_per_call"]
    size = (r.xlen(stream), r.memory_usage(stream, samples=0))
    r.delete(stream)
    return cost, *size


def server_us(before: dict, after: dict, command: str) -> float:
    """Server-side µs spent in `command` between two INFO commandstats readings."""
    key = f"cmdstat_{command}"
    return after.get(key, {}).get("usec", 0) - before.get(key, {}).get("usec", 0)


def fanout_blocking(r: redis.Redis, prefix: str, *, readers: int, events: int) -> pd.DataFrame:
    """µs until all `readers` (a thread each, own connection) have one event: PUBLISH vs XADD to readers in XREAD BLOCK."""
    channel, stream = f"{prefix}fanout:channel", f"{prefix}fanout:stream"
    r.delete(stream)
    lock, done = threading.Lock(), threading.Event()
    arrived: dict[tuple[str, int], list[float]] = {}

    def arrive(kind: str, event: int) -> None:
        now = time.perf_counter()
        with lock:
            got = arrived.setdefault((kind, event), [])
            got.append(now)
            if len(got) == readers:
                done.set()

    def subscriber(sub: redis.client.PubSub) -> None:
        for message in sub.listen():
            if message["type"] == "message":
                if int(message["data"]) < 0:
                    return
                arrive("pubsub", int(message["data"]))

    def stream_reader(client: redis.Redis) -> None:
        last = "0-0"
        while True:
            for entry_id, fields in client.xread({stream: last}, block=0)[0][1]:   # XREAD BLOCK 0 STREAMS … last
                last = entry_id
                if int(fields["event"]) < 0:
                    return
                arrive("stream", int(fields["event"]))

    pool = r.connection_pool
    clients = [redis.Redis(connection_pool=type(pool)(connection_class=pool.connection_class,
                                                      **pool.connection_kwargs)) for _ in range(readers)]
    subs = []
    for _ in range(readers):
        sub = r.pubsub()
        sub.subscribe(channel)
        sub.get_message(timeout=2)                     # the confirmation: subscribed before the first PUBLISH
        subs.append(sub)
    threads = [threading.Thread(target=subscriber, args=(s,), daemon=True) for s in subs]
    threads += [threading.Thread(target=stream_reader, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    time.sleep(0.2)                                    # every reader is in XREAD BLOCK
    before = r.info("commandstats")
    latency: dict[str, list[float]] = {"pubsub": [], "stream": []}
    for event in tqdm(range(events), desc="fan-out events"):
        for kind in ("pubsub", "stream") if event % 2 else ("stream", "pubsub"):
            done.clear()
            start = time.perf_counter()
            r.publish(channel, event) if kind == "pubsub" else r.xadd(stream, {"event": event})
            if not done.wait(5):
                raise RuntimeError(f"{kind}: a reader missed event {event}")
            latency[kind].append((max(arrived[(kind, event)]) - start) * 1e6)
            time.sleep(0.002)                          # let every reader block again
    after = r.info("commandstats")
    r.publish(channel, -1)
    r.xadd(stream, {"event": -1})
    for t in threads:
        t.join(5)
    retained = r.memory_usage(stream, samples=0)
    for sub in subs:
        sub.close()
    for client in clients:
        client.close()
    r.delete(stream)
    return pd.DataFrame({"µs to reach all readers (median)": [statistics.median(latency["pubsub"]),
                                                               statistics.median(latency["stream"])],
                         "server µs per event (commandstats)": [server_us(before, after, "publish") / events,
                                                                 (server_us(before, after, "xadd")
                                                                  + server_us(before, after, "xread")) / events],
                         "bytes kept on the server afterwards": ["(nothing is stored)", retained]},
                        index=["Pub/Sub: PUBLISH to subscribers", "Stream: XADD to readers in XREAD BLOCK"])


def slow_subscriber(server_client: redis.Redis, *, messages: int, size: int) -> dict[str, int]:
    """A subscriber that does not read while `messages` of `size` bytes are published; what the server does."""
    sub = server_client.pubsub()
    sub.subscribe("news")
    sub.get_message(timeout=2)
    before = server_client.info("stats").get("client_output_buffer_limit_disconnections", 0)
    payload = "x" * size
    pipe = server_client.pipeline(transaction=False)
    for i in range(messages):
        pipe.publish("news", f"{i}:{payload}")
    pipe.execute()
    received = 0
    try:
        while sub.get_message(timeout=0.2) is not None:
            received += 1
    except redis.ConnectionError:  # the server closed the connection: what was still in the socket is all we got
        pass
    sub.close()
    after = server_client.info("stats").get("client_output_buffer_limit_disconnections", 0)
    return {"published": messages, "received": received, "disconnected by the server": after - before}


# ---------------------------------------------------------------- the guide's code for section 8, verbatim

GUIDE = {
    "consumer": r'''import redis

r = redis.Redis(host='localhost', port=6379, decode_responses=True)

# Producer: Add message to stream
message_id = r.xadd("events:orders", {
    "type": "order_created",
    "order_id": "12345",
    "user_id": "1001",
    "amount": "99.99"
})

# Create consumer group (run once)
try:
    r.xgroup_create("events:orders", "order-processors", id="0", mkstream=True)
except redis.ResponseError as e:
    if "BUSYGROUP" not in str(e):
        raise

# Consumer: Read from group with acknowledgment
def process_messages():
    while True:
        # Read messages (block up to 5 seconds)
        messages = r.xreadgroup(
            groupname="order-processors",
            consumername="worker-1",
            streams={"events:orders": ">"},
            count=10,
            block=5000
        )
        
        for stream, message_list in messages:
            for message_id, data in message_list:
                try:
                    # Process message
                    process_order(data)
                    # Acknowledge successful processing
                    r.xack("events:orders", "order-processors", message_id)
                except Exception as e:
                    print(f"Failed to process {message_id}: {e}")
                    # Message will be redelivered to another consumer
''',
    "pubsub": r'''import redis
import threading

r = redis.Redis(host='localhost', port=6379, decode_responses=True)

# Subscriber (runs in separate thread)
def subscriber():
    pubsub = r.pubsub()
    pubsub.subscribe("notifications:user:1001")
    
    for message in pubsub.listen():
        if message["type"] == "message":
            print(f"Received: {message['data']}")

# Start subscriber in background
thread = threading.Thread(target=subscriber, daemon=True)
thread.start()

# Publisher: Send notification
r.publish("notifications:user:1001", "You have a new message!")
''',
    "trimming": r'''# Keep only last 10000 messages
r.xadd("events:logs", {"level": "info", "msg": "test"}, maxlen=10000)

# Approximate trimming (faster, ~10000 messages)
r.xadd("events:logs", fields, maxlen=10000, approximate=True)

# Trim by time (keep last 24 hours)
min_id = f"{int(time.time() - 86400) * 1000}-0"
r.xtrim("events:logs", minid=min_id)
''',
    "claim": r'''# Find stuck messages (pending > 60 seconds)
pending = r.xpending_range(
    "events:orders",
    "order-processors",
    min="-",
    max="+",
    count=10
)

# Claim messages from failed consumer
for entry in pending:
    if entry["time_since_delivered"] > 60000:  # > 60 seconds
        r.xclaim(
            "events:orders",
            "order-processors",
            "worker-2",  # New consumer
            min_idle_time=60000,
            message_ids=[entry["message_id"]]
        )
''',
}


def stuck_scenario(r: redis.Redis, stream: str, group: str, *, busy: int = 10, stale: int = 5,
                   dead_first: bool = True) -> list[str]:
    """A pending list with `busy` recent deliveries of a live worker and `stale` ones of a dead worker.

    `dead_first` (the usual order) gives the dead worker the lower IDs: it read, then died, then the live worker went
    on. Otherwise the live worker holds the `busy` lower IDs (a backlog it is still working through) and the dead
    worker's entries come after them. Returns the dead worker's entry IDs; they are made 120 s idle with XCLAIM IDLE,
    so nobody waits.
    """
    r.delete(stream)
    r.xgroup_create(stream, group, id="0", mkstream=True)
    for i in range(busy + stale):
        r.xadd(stream, {"type": "order_created", "order_id": str(20000 + i)})
    dead: list[str] = []
    for consumer, count in ([("worker-1", stale), ("worker-3", busy)] if dead_first
                            else [("worker-3", busy), ("worker-1", stale)]):
        entries = r.xreadgroup(group, consumer, {stream: ">"}, count=count)[0][1]
        if consumer == "worker-1":
            dead = [entry_id for entry_id, _ in entries]
    age_pending(r, stream, group, "worker-1", dead, idle_ms=120_000)
    return dead


def late_subscriber_gets(r: redis.Redis, channel: str, *, wait: float = 0.3) -> int:
    """Messages a subscriber that joins `channel` now receives within `wait` s (what was published before it joined)."""
    sub = r.pubsub()
    sub.subscribe(channel)
    sub.get_message(timeout=2)                     # the subscription's confirmation
    received, deadline = 0, time.monotonic() + wait
    while time.monotonic() < deadline:
        message = sub.get_message(timeout=0.05)
        received += bool(message and message["type"] == "message")
    sub.close()
    return received


def read_all(r: redis.Redis, stream: str, *, count: int = 500) -> int:
    """How many entries a late reader gets by reading `stream` from the start with XREAD."""
    last, total = "0-0", 0
    while reply := r.xread({stream: last}, count=count):
        entries = reply[0][1]
        total, last = total + len(entries), entries[-1][0]
    return total
