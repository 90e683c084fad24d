"""Plumbing shared by the notebooks: a live Redis, honest timing, the look of results, and the scorecard."""

from .errors import LabError, explain
from .keys import delete_prefix, key_prefix, memory_of
from .measure import CORRECT, INCORRECT, compare, latency_probe, net_bytes, race, ratio, scale, table, time_it
from .server import cli, connect, describe, has, lab_source, require, start_server, wait_for_replica
from .show import bars, check, panel, plain, style
from .claims import at_least, at_most, claim, exactly, provenance
from . import ledger

__all__ = [
    "LabError", "explain", "delete_prefix", "key_prefix", "memory_of", "CORRECT", "INCORRECT", "compare",
    "latency_probe", "net_bytes", "race", "ratio", "scale", "table", "time_it", "cli", "connect", "describe", "has",
    "lab_source", "require", "start_server", "wait_for_replica", "bars", "check", "panel", "plain", "style", "ledger",
    "claim", "at_least", "at_most", "exactly", "provenance",
]
