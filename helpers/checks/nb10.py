"""Notebook 10's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

from typing import Callable

import redis

from ..security import TlsServer
from ..show import check


def _ping_as(make: Callable[[], object]) -> tuple[object, str]:
    """(whatever `make()` returned, '' or the error it raised / PING raised)."""
    client = None
    try:
        client = make()
        if isinstance(client, redis.Redis):
            client.ping()
        return client, ""
    except Exception as exc:  # a learner's half-written code: say what broke, don't stop Run All
        return client, f"{type(exc).__name__}: {str(exc)[:80]}"


def client_from_env(client_from: Callable[[dict], object], port: int, username: str, password: str) -> bool:
    """Notebook 10: a client built from REDIS_* environment values, with no credential written in the code."""
    environ = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port), "REDIS_USERNAME": username,
               "REDIS_PASSWORD": password}
    client, error = _ping_as(lambda: client_from(environ))
    whoami = client.acl_whoami() if isinstance(client, redis.Redis) and not error else None
    wrong, wrong_error = _ping_as(lambda: client_from({**environ, "REDIS_PASSWORD": password[::-1]}))
    return check([
        (isinstance(client, redis.Redis), f"the function returns a redis.Redis client (got {type(client).__name__})"),
        (isinstance(client, redis.Redis) and not error, f"the client answers PING {('— ' + error) if error else ''}"),
        (whoami == username, f"it logs in as REDIS_USERNAME ({username!r}; logged in as {whoami!r})"),
        (bool(wrong_error), "with a different REDIS_PASSWORD it is refused, so the password comes from the "
                            "environment, not from the code"),
    ])


def mutual_tls(tls_options: dict, server: TlsServer) -> bool:
    """Notebook 10: redis-py options that reach a server requiring client certificates, verifying the server."""
    options = dict(tls_options or {})
    client, error = _ping_as(lambda: redis.Redis(host="127.0.0.1", port=server.tls_port,
                                                 password=server.server.password, retry=None,
                                                 socket_connect_timeout=3, **options))
    return check([
        (options.get("ssl") is True, "ssl=True: the connection is encrypted"),
        (bool(options.get("ssl_ca_certs")), "ssl_ca_certs names the CA that signed the server's certificate"),
        (options.get("ssl_cert_reqs", "required") == "required", "the server's certificate is verified "
                                                                 "(ssl_cert_reqs left at, or set to, 'required')"),
        (options.get("ssl_check_hostname", True) is True, "the certificate's name is checked against the host "
                                                         "(ssl_check_hostname left at, or set to, True)"),
        (bool(options.get("ssl_certfile")) and bool(options.get("ssl_keyfile")),
         "ssl_certfile and ssl_keyfile present the client's certificate (the server asks for one)"),
        (not error, f"the client answers PING over TLS {('— ' + error) if error else ''}"),
    ])


def publisher(admin: redis.Redis, rules: list[str]) -> bool:
    """Notebook 10: ACL rules for a user that may PUBLISH to notifications:* and do nothing else."""
    user = "exercise-notifier"
    try:
        admin.execute_command("ACL", "SETUSER", user, "reset", "on", "nopass", *rules)
    except redis.ResponseError as exc:
        return check([(False, f"Redis refused the rules: {exc}")])
    try:
        def can(*command: str) -> bool:
            return admin.acl_dryrun(user, *command) == "OK"

        return check([
            (can("PUBLISH", "notifications:orders", "hi"), "PUBLISH to notifications:orders is allowed"),
            (not can("PUBLISH", "billing:orders", "hi"), "PUBLISH to another channel (billing:orders) is denied"),
            (not can("SUBSCRIBE", "notifications:orders"), "SUBSCRIBE is denied (publish-only)"),
            (not can("GET", "notifications:orders"), "reading keys (GET) is denied"),
            (not can("FLUSHALL"), "FLUSHALL is denied"),
        ])
    finally:
        admin.acl_deluser(user)
