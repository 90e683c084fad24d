"""Workshop mode: one ACL user per attendee on a shared Redis, each confined to its own key prefix and channels.

    REDIS_URL=redis://default:ADMINPASS@host:6379 python -m helpers.workshop create --attendees 40 --csv attendees.csv
    REDIS_URL=... python -m helpers.workshop remove

Each attendee gets a REDIS_URL with their user name in it; `helpers.key_prefix` turns that user name into the
attendee's key prefix, so forty people can run the same notebook on one server without touching each other's keys.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import redis

from .errors import LabError
from .keys import delete_prefix
from .server import client_for, redact

# Everything a notebook does on the shared server, nothing that changes the server for others (@dangerous covers
# FLUSHALL, CONFIG SET, DEBUG, SHUTDOWN, KEYS, MONITOR...); INFO is allowed back so helpers.connect() can describe it.
RULES = ("+@all", "-@dangerous", "+info")


@dataclass(frozen=True)
class Attendee:
    """One attendee's user name, password and REDIS_URL."""

    user: str
    password: str
    url: str


def attendee_url(admin_url: str, user: str, password: str) -> str:
    """The admin's URL with the attendee's credentials in it."""
    parts = urlsplit(admin_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def create(r: redis.Redis, admin_url: str, count: int, *, stem: str = "att") -> list[Attendee]:
    """Create (or reset) users stem01..stemNN, each limited to keys and channels under 'stemNN:'."""
    attendees = []
    for i in range(1, count + 1):
        user, password = f"{stem}{i:02d}", secrets.token_urlsafe(12)
        r.acl_setuser(user, enabled=True, reset=True, passwords=[f"+{password}"], keys=[f"{user}:*"],
                      channels=[f"{user}:*"], commands=list(RULES))
        attendees.append(Attendee(user, password, attendee_url(admin_url, user, password)))
    return attendees


def remove(r: redis.Redis, *, stem: str = "att") -> tuple[int, int]:
    """Delete every stemNN user, their keys and their search indexes; returns (users, keys) removed."""
    users = [u for u in r.acl_users() if u.startswith(stem) and u[len(stem):].isdigit()]
    keys = 0
    for user in users:
        keys += delete_prefix(r, f"{user}:")
        try:
            for index in r.execute_command("FT._LIST"):
                if str(index).startswith(f"{user}:"):
                    r.execute_command("FT.DROPINDEX", index)
        except redis.ResponseError:  # no Query Engine on this server: no indexes to drop
            pass
    if users:
        r.acl_deluser(*users)
    return len(users), keys


def main(argv: list[str] | None = None) -> int:
    """create | remove — attendee users on the server at REDIS_URL."""
    parser = argparse.ArgumentParser(prog="python -m helpers.workshop", description=main.__doc__)
    parser.add_argument("command", choices=["create", "remove"])
    parser.add_argument("--attendees", type=int, default=20, help="how many users to create (default 20)")
    parser.add_argument("--stem", default="att", help="user names are STEM01, STEM02, ... (default att)")
    parser.add_argument("--csv", help="write attendee,redis_url rows to this file instead of printing them")
    opts = parser.parse_args(argv)
    url = os.environ.get("REDIS_URL", "")
    if not url:
        print("error: set REDIS_URL to the shared server, with an admin user (redis://USER:PASS@HOST:PORT).",
              file=sys.stderr)
        return 2
    try:
        r = client_for(url)
        if opts.command == "create":
            attendees = create(r, url, opts.attendees, stem=opts.stem)
            rows = [(a.user, a.url) for a in attendees]
            if opts.csv:
                with open(opts.csv, "w", newline="") as f:
                    csv.writer(f).writerows([("attendee", "redis_url"), *rows])
                print(f"{len(rows)} attendees written to {opts.csv} (server {redact(url)})")
            else:
                for user, attendee in rows:
                    print(f"{user}\t{attendee}")
        else:
            users, keys = remove(r, stem=opts.stem)
            print(f"removed {users} attendee users and {keys} of their keys from {redact(url)}")
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except redis.ResponseError as exc:
        print(f"error: the server refused ({exc}): REDIS_URL needs a user allowed to run ACL commands.",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
