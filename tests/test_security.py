"""Unit tests of helpers.security: passwords, .env, certificates and TLS cases, the logging proxy, ACL probes."""

from __future__ import annotations

import itertools
import string
from pathlib import Path

import pytest
import redis

from helpers import security
from helpers.server import start_server


def test_new_password_is_long_random_and_alphanumeric() -> None:
    passwords = {security.new_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(len(p) == 32 and p.isalnum() for p in passwords)


def test_env_file_round_trip_is_private(tmp_path: Path) -> None:
    env = security.write_env(tmp_path / ".env", {"REDIS_PASSWORD": "s3cret", "REDIS_PORT": "6380"})
    (tmp_path / ".env").write_text(env.read_text() + "# a comment\n\nQUOTED='x y'\n")
    target: dict[str, str] = {}
    read = security.load_env(env, target)
    assert env.stat().st_mode & 0o777 == 0o600
    assert read == target == {"REDIS_PASSWORD": "s3cret", "REDIS_PORT": "6380", "QUOTED": "x y"}


def test_guess_password_finds_a_weak_one_and_gives_up_on_a_strong_one() -> None:
    with start_server(modules=False, name="t-guess", password="fox") as server:
        found, tries, seconds = security.guess_password(
            server.port, ("".join(p) for p in itertools.product(string.ascii_lowercase, repeat=3)))
        assert found == "fox" and tries == 26 * 26 * (ord("f") - ord("a")) + 26 * (ord("o") - ord("a")) + 24
        assert seconds > 0
        assert security.guess_password(server.port, ["cat", "dog"]) [:2] == (None, 2)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory):
    certs = security.make_certificates(tmp_path_factory.mktemp("certs"))
    server = security.start_tls_server(certs, password=security.new_password(), name="t-tls")
    yield server
    server.stop()


def test_tls_cases(tls: security.TlsServer) -> None:
    assert tls.client().ping() and tls.client(tls=False).ping()
    assert security.outcome(lambda: tls.client(tls=False, port=tls.tls_port), "PING").startswith("refused")
    stranger = security.outcome(lambda: tls.client(ssl_ca_certs=str(tls.certs.stranger_ca)), "PING")
    assert stranger == "refused: CERTIFICATE_VERIFY_FAILED"
    no_cert = security.outcome(lambda: tls.client(ssl_certfile=None, ssl_keyfile=None), "PING")
    assert no_cert.startswith("refused"), "tls-auth-clients defaults to yes"


def test_tls_cost_compares_plain_and_tls_on_one_server(tls: security.TlsServer) -> None:
    table, context_ms = security.tls_cost(tls, round_trips=20, big_gets=2, new_connections=2)
    assert list(table.columns) == ["plain", "TLS", "TLS cost (×)"] and len(table) == 3
    assert (table[["plain", "TLS"]] > 0).all().all() and context_ms > 0
    assert table.loc["new connection, ms", "TLS cost (×)"] > 1, "a TLS handshake costs more than a TCP connect"


def test_proxy_sees_plain_text_but_not_tls(tls: security.TlsServer) -> None:
    password = tls.server.password
    with security.LoggingProxy(tls.plain_port) as plain:
        client = tls.client(tls=False, port=plain.port)
        client.set("k", "visible-value")
        assert client.get("k") == "visible-value"
        client.close()
    assert plain.readable(password) and plain.readable("visible-value")
    assert "AUTH" in plain.printable()
    with security.LoggingProxy(tls.tls_port) as wire:
        client = tls.client(port=wire.port)
        assert client.get("k") == "visible-value"
        client.close()
    assert wire.seen and not wire.readable(password) and not wire.readable("visible-value")


def test_allowed_and_reach_follow_the_acl() -> None:
    with start_server(modules=False, name="t-acl", password="admin-pw") as server:
        admin = server.client()
        admin.mset({"a:1": "x", "b:1": "y"})
        admin.execute_command("ACL", "SETUSER", "u", "on", ">pw", "~a:*", "-@all", "+get", "&ch", "+subscribe")
        assert security.allowed(server.port, "u", "pw", "GET", "a:1")
        assert not security.allowed(server.port, "u", "pw", "GET", "b:1")
        assert not security.allowed(server.port, "u", "pw", "SET", "a:1", "z")
        assert security.allowed(server.port, "u", "pw", "SUBSCRIBE", "ch")
        assert not security.allowed(server.port, "u", "pw", "SUBSCRIBE", "other")
        assert security.reach(server.port, "u", "pw", ["a:1", "b:1"]) == (0.5, 0.0)
        assert admin.get("a:1") == "x"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.port, username="u", password="wrong", retry=None).ping()


def test_non_loopback_address_is_not_loopback() -> None:
    address = security.non_loopback_address()
    assert address is None or (not address.startswith("127.") and address.count(".") == 3)


def test_in_background_returns_the_result_and_the_error() -> None:
    assert security.in_background(lambda: 6 * 7).result(timeout=5) == 42
    assert isinstance(security.in_background(lambda: 1 / 0).exception(timeout=5), ZeroDivisionError)


def test_hostname_checking_refuses_a_certificate_for_another_host(tls: security.TlsServer) -> None:
    with security.start_tls_server(tls.certs.for_elsewhere(), password="pw", name="t-elsewhere") as elsewhere:
        assert security.outcome(elsewhere.client, "PING") == "refused: CERTIFICATE_VERIFY_FAILED"
        assert security.outcome(lambda: elsewhere.client(ssl_check_hostname=False), "PING") == "True"
