"""One-sentence errors for the situations a learner meets, and a notebook hook that shows only that sentence."""

from __future__ import annotations

import redis


class LabError(RuntimeError):
    """A problem with the lab's set-up, said in one sentence: what happened and what to do."""


def explain(exc: BaseException, url: str = "the server") -> str:
    """Turn a redis-py exception into one sentence that says what happened and what to do."""
    if isinstance(exc, LabError):
        return str(exc)
    text = " ".join(str(exc).split())  # one line, whatever the server or the OS put in the message
    # No credentials sent: RESP2 says "NOAUTH Authentication required."; redis-py's RESP3 HELLO gets "HELLO must be
    # called with the client already authenticated" (both arrive as AuthenticationError, NOAUTH prefix stripped).
    if text.startswith("NOAUTH") or "Authentication required" in text or "already authenticated" in text:
        return f"Redis at {url} needs a password: put it in REDIS_URL (redis://:PASSWORD@HOST:PORT)."
    if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in text or "invalid username-password" in text:
        return (f"Redis at {url} refused the user name or password: check the credentials in REDIS_URL "
                "(redis://USER:PASSWORD@HOST:PORT).")
    if isinstance(exc, redis.TimeoutError):
        return (f"Redis at {url} did not answer in time: check the host and port in REDIS_URL, "
                "or unset REDIS_URL to use the lab's own server.")
    if isinstance(exc, redis.ConnectionError):
        if "refused" in text.lower() or "Error 111" in text or "Errno 111" in text:
            return (f"Nothing is listening at {url} (connection refused): start that Redis, fix REDIS_URL, "
                    "or unset REDIS_URL to use the lab's own server.")
        # getaddrinfo errors: -2 unknown name, -3 DNS unreachable (offline), -5 no address (macOS: "nodename ...").
        resolver = ("Error -2 ", "Error -3 ", "Error -5 ", "nodename nor servname", "Name or service not known",
                    "Temporary failure in name resolution")
        if any(marker in text for marker in resolver):
            return (f"The host in REDIS_URL ({url}) does not resolve: fix the host name (and check the network), "
                    "or unset REDIS_URL to use the lab's own server.")
        return (f"Lost the connection to Redis at {url} ({text or type(exc).__name__}): "
                "if the server stopped, re-run the notebook's setup cell to get a fresh one.")
    return f"{type(exc).__name__}: {text}"


def install_notebook_handler() -> None:
    """In IPython, show LabError and lost-connection errors as their one sentence instead of a traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell, etype, value, tb, tb_offset=None):  # noqa: ANN001 - IPython's signature
        # Sent as a real error message (so nbval and "Run All" still stop), but one sentence long.
        shell._showtraceback(etype, value, [f"⚠️  {explain(value)}"])

    shell.set_custom_exc((LabError, redis.ConnectionError, redis.AuthenticationError), handler)
