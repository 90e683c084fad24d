"""Security plumbing for notebook 10: throwaway certificates, a TLS server, a logging proxy, ACL probes, a .env loader."""

from __future__ import annotations

import os
import secrets
import socket
import ssl
import string
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
import redis

from .errors import LabError
from .measure import compare, ratio, time_it
from .relay import Relay
from .server import RedisServer, binaries, free_port, start_server


# ---------------------------------------------------------------- passwords and the .env pattern


def new_password(length: int = 32) -> str:
    """A random password of `length` letters and digits from the `secrets` module (CSPRNG)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def write_env(path: Path, values: dict[str, str]) -> Path:
    """Write KEY=VALUE lines to `path`, readable by its owner only (mode 0600)."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def load_env(path: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Read KEY=VALUE lines (comments and blanks skipped) into `environ` (default os.environ); return what was read."""
    target = os.environ if environ is None else environ
    read: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            read[key.strip()] = value.strip().strip("'\"")
    target.update(read)
    return read


# ---------------------------------------------------------------- certificates and a TLS server


@dataclass(frozen=True)
class Certificates:
    """PEM files of a throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""

    folder: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_ca: Path  # a second CA that signed nothing here: trusting it must not be enough
    elsewhere_cert: Path  # signed by our CA for another host (db.internal.example): only hostname checking refuses it
    elsewhere_key: Path

    def for_elsewhere(self) -> Certificates:
        """The same files with the server presenting the certificate issued for another host."""
        return replace(self, server_cert=self.elsewhere_cert, server_key=self.elsewhere_key)


def make_certificates(folder: Path) -> Certificates:
    """Issue a CA, a server certificate (127.0.0.1, localhost) and a client certificate with trustme into `folder`."""
    import trustme

    folder.mkdir(parents=True, exist_ok=True)
    ca, stranger = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("app@example.com", common_name="app")
    elsewhere = ca.issue_cert("db.internal.example")
    files = Certificates(folder, folder / "ca.crt", folder / "server.crt", folder / "server.key",
                         folder / "client.crt", folder / "client.key", folder / "stranger-ca.crt",
                         folder / "elsewhere.crt", folder / "elsewhere.key")
    ca.cert_pem.write_to_path(str(files.ca))
    stranger.cert_pem.write_to_path(str(files.stranger_ca))
    server.cert_chain_pems[0].write_to_path(str(files.server_cert))
    server.private_key_pem.write_to_path(str(files.server_key))
    client.cert_chain_pems[0].write_to_path(str(files.client_cert))
    client.private_key_pem.write_to_path(str(files.client_key))
    elsewhere.cert_chain_pems[0].write_to_path(str(files.elsewhere_cert))
    elsewhere.private_key_pem.write_to_path(str(files.elsewhere_key))
    for key in (files.server_key, files.client_key, files.elsewhere_key):
        key.chmod(0o600)
    return files


@dataclass
class TlsServer:
    """A redis-server with a plain port and a TLS port (the same server, the same data)."""

    server: RedisServer
    tls_port: int
    certs: Certificates

    @property
    def plain_port(self) -> int:
        return self.server.port

    def tls_kwargs(self, *, ca: Path | None = None, client_cert: bool = True) -> dict:
        """redis-py keyword arguments for a verified TLS connection (CA `ca`, with or without a client certificate)."""
        # ssl_check_hostname is left at redis-py's default (True), which notebook 10 shows refusing another host's name.
        kwargs = {"ssl": True, "ssl_ca_certs": str(ca or self.certs.ca), "ssl_cert_reqs": "required"}
        if client_cert:
            kwargs.update(ssl_certfile=str(self.certs.client_cert), ssl_keyfile=str(self.certs.client_key))
        return kwargs

    def client(self, *, tls: bool = True, port: int | None = None, **kwargs) -> redis.Redis:
        """A client over TLS (CA-verified, with the client certificate) or over the plain port."""
        options = {"decode_responses": True, "socket_connect_timeout": 3, "socket_timeout": 5,
                   "password": self.server.password, "retry": None}
        if tls:
            options.update(self.tls_kwargs())
        options.update(kwargs)
        target = port or (self.tls_port if tls else self.plain_port)
        return redis.Redis(host="127.0.0.1", port=target, **options)

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()

    def __enter__(self) -> TlsServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_tls_server(certs: Certificates, *, password: str | None = None, auth_clients: str | None = None,
                     name: str = "tls", config: dict[str, str] | None = None) -> TlsServer:
    """Start a private server with a plain port and a TLS port on 127.0.0.1; `auth_clients` None keeps the default."""
    tls_port = free_port()
    config = {"tls-port": str(tls_port), "tls-cert-file": str(certs.server_cert),
              "tls-key-file": str(certs.server_key), "tls-ca-cert-file": str(certs.ca), **(config or {})}
    if auth_clients is not None:
        config["tls-auth-clients"] = auth_clients
    # Redis 8.2's package has no TLS build: a TLS experiment then runs on the Stack server, and the provenance says so.
    kind = None if binaries().tls else "stack"
    if kind:
        print(f"The lab's {binaries().kind} has no TLS build: this TLS server is the Redis Stack 7.4 one.")
    server = start_server(modules=False, password=password, config=config, name=name, kind=kind)
    tls = TlsServer(server, tls_port, certs)
    deadline = time.monotonic() + 10
    while True:  # the plain port answering does not prove the TLS listener is up
        try:
            tls.client(ssl_check_hostname=False).ping()  # readiness only: its certificate may name another host
            return tls
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if time.monotonic() > deadline:
                server.stop()
                raise LabError(f"The TLS port of the private server did not answer ({exc}): see {server.log}.")
            time.sleep(0.01)


def tls_cost(tls: TlsServer, *, round_trips: int, big_gets: int, new_connections: int) -> tuple[pd.DataFrame, float]:
    """Plain port vs TLS port of one server: small GET, pipelined 1 MB GETs, new connections; (table, ssl context ms)."""
    plain_client, tls_client = tls.client(tls=False), tls.client()
    plain_bytes, tls_bytes = tls.client(tls=False, decode_responses=False), tls.client(decode_responses=False)
    plain_client.set("small", "x" * 100)
    plain_client.set("big", os.urandom(1024 * 1024))

    def small_gets(client: redis.Redis) -> None:
        for _ in range(round_trips):
            client.get("small")

    def bulk(client: redis.Redis) -> None:
        pipe = client.pipeline(transaction=False)
        for _ in range(big_gets):
            pipe.get("big")
        pipe.execute()

    def connect(use_tls: bool) -> None:
        for _ in range(new_connections):
            client = tls.client(tls=use_tls)
            client.ping()
            client.close()

    labels = ("plain", "TLS")
    latency = compare(lambda: small_gets(plain_client), lambda: small_gets(tls_client), labels=labels,
                      per=round_trips, unit="µs", repeat=7)
    transfer = compare(lambda: bulk(plain_bytes), lambda: bulk(tls_bytes), labels=labels, unit="ms", repeat=7)
    connecting = compare(lambda: connect(False), lambda: connect(True), labels=labels, per=new_connections, unit="ms",
                         warmup=1, repeat=5)
    context_ms = time_it(ssl.create_default_context, repeat=5).median * 1e3
    for client in (plain_client, tls_client, plain_bytes, tls_bytes):
        client.close()
    megabytes_per_s = [big_gets / ms * 1e3 for ms in transfer["median (ms)"]]   # one value is 1 MB
    table = pd.DataFrame({
        "plain": [latency["median (µs)"].iloc[0], megabytes_per_s[0], connecting["median (ms)"].iloc[0]],
        "TLS": [latency["median (µs)"].iloc[1], megabytes_per_s[1], connecting["median (ms)"].iloc[1]],
    }, index=["small GET, µs (latency)", "1 MB values pipelined, MB/s", "new connection, ms"]).round(1)
    table["TLS cost (×)"] = [round(1 / ratio(t), 2) for t in (latency, transfer, connecting)]  # TLS ÷ plain
    return table, context_ms


REASONS = ("CERTIFICATE_VERIFY_FAILED", "CERTIFICATE_REQUIRED", "Connection refused", "Connection reset",
           "Connection closed", "EOF", "WRONGPASS", "NOAUTH", "Authentication required")


def outcome(make_client, *command: str) -> str:
    """Run `command` on a fresh client from `make_client()`: its reply, or 'refused: ' and the error's short reason."""
    client = make_client()
    try:
        return str(client.execute_command(*command))
    except (redis.RedisError, OSError) as exc:
        text = str(exc)
        reason = next((r for r in REASONS if r.lower() in text.lower()), text[:60])
        return f"refused: {reason}"
    finally:
        client.close()


def non_loopback_address() -> str | None:
    """This machine's own IPv4 address on its default-route interface, or None when it has none.

    A client that connects to it arrives from that address, not from 127.0.0.1: Redis treats it as a remote client.
    A UDP connect only picks the route; it sends no packet.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))          # TEST-NET-1: never routed anywhere real
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


# ---------------------------------------------------------------- a logging TCP proxy (loopback only)


class LoggingProxy(Relay):
    """A Relay that keeps every byte it forwards: what a sniffer, a mirror port or a compromised host would see."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port, record=True)

    def readable(self, secret: str) -> bool:
        """True when `secret` appears in the captured bytes."""
        return secret.encode() in self.seen

    def printable(self, limit: int = 400) -> str:
        """The captured bytes as text, with CR/LF shown and non-printable bytes as '.'."""
        text = self.seen[:limit].decode("latin-1").replace("\r\n", "⏎ ")
        return "".join(ch if ch.isprintable() else "." for ch in text)


# ---------------------------------------------------------------- an online password-guessing attack (loopback only)


def guess_password(port: int, candidates: Iterable[str]) -> tuple[str | None, int, float]:
    """Try AUTH with each candidate over one raw socket, one round trip each; (password or None, tries, seconds).

    One guess per round trip: Redis 7.4 answers only the first of several AUTHs pipelined by a client that has not
    logged in yet, so pipelining does not speed this attack up (more connections would).
    """
    tried, started = 0, time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        replies = sock.makefile("rb")
        for candidate in candidates:
            sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(candidate), candidate.encode()))
            tried += 1
            if replies.readline().startswith(b"+OK"):
                return candidate, tried, time.perf_counter() - started
    return None, tried, time.perf_counter() - started


# ---------------------------------------------------------------- ACL probes


def allowed(port: int, username: str, password: str, *command: str) -> bool:
    """Run `command` live as `username` on a fresh connection: False on NOPERM, True when the ACL let it through.

    Any other error (a wrong type, a missing client) still means the command passed the ACL check. RESP2 and a
    throwaway connection, so SUBSCRIBE's reply is read like any other and leaves nothing subscribed behind. No
    CLIENT SETINFO (lib_name=None): its denial for a restricted user would be noise in the ACL LOG.
    """
    client = redis.Redis(host="127.0.0.1", port=port, username=username, password=password, protocol=2, retry=None,
                         socket_timeout=5, lib_name=None, lib_version=None)
    connection = client.connection_pool.get_connection()
    try:
        connection.send_command(*command)
        connection.read_response()
        return True
    except redis.exceptions.NoPermissionError:
        return False
    except redis.ResponseError:
        return True
    finally:
        connection.disconnect()
        client.close()


def in_background(call: Callable[[], object]) -> Future:
    """Run `call` on a thread of its own (a client stuck in a long script) and return its Future."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nb10-background")
    future = pool.submit(call)
    pool.shutdown(wait=False)  # the thread ends with the call; nothing else is queued
    return future


def reach(port: int, username: str, password: str, keys: list[str]) -> tuple[float, float]:
    """Fractions of `keys` that `username` can read (GET) and write (SET, to the value it read), live."""
    client = redis.Redis(host="127.0.0.1", port=port, username=username, password=password, retry=None,
                         lib_name=None, lib_version=None)
    try:
        reads = client.pipeline(transaction=False)
        for key in keys:
            reads.get(key)
        values = reads.execute(raise_on_error=False)
        writes = client.pipeline(transaction=False)
        for key, value in zip(keys, values):
            writes.set(key, value if isinstance(value, bytes) else b"written")
        done = writes.execute(raise_on_error=False)
    finally:
        client.close()
    readable = sum(not isinstance(v, Exception) for v in values)
    writable = sum(not isinstance(v, Exception) for v in done)
    return readable / len(keys), writable / len(keys)
