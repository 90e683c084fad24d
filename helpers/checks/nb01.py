"""Notebook 01's exercise checks: each says what is right and what is missing."""

from __future__ import annotations

import threading
from typing import Callable

import redis

from ..show import check

_LOCKS = (type(threading.Lock()), type(threading.RLock()), threading.Semaphore, threading.Condition)


def _process_lock(fn: Callable[..., object]) -> str | None:
    """The name of a threading lock `fn` (or a function it calls) takes: it guards one process, not two servers."""
    seen, todo = set(), [fn]
    while todo:
        f = todo.pop()
        code, scope = getattr(f, "__code__", None), getattr(f, "__globals__", {})
        if code is None or code in seen:
            continue
        seen.add(code)
        names = set(code.co_names) | {n for c in code.co_consts if hasattr(c, "co_names") for n in c.co_names}
        for name in names:
            value = scope.get(name)
            if isinstance(value, _LOCKS):
                return name
            if callable(value) and getattr(value, "__globals__", None) is scope:
                todo.append(value)
    return None


def _lock_line(fn: Callable[..., object]) -> tuple[bool, str]:
    lock = _process_lock(fn)
    return (lock is None, "no Python lock stands in for Redis's atomicity" + (
        "" if lock is None else f" (found {lock!r}: it serialises the threads of this process only — a second app "
                                "server or worker process runs beside it unguarded)"))


def order_numbers(r: redis.Redis, prefix: str, next_number: Callable[..., object]) -> bool:
    """Notebook 01: yearly order numbers from a shop's hash, 4 clients asking at the same moment — none twice."""
    shops = [f"{prefix}shop:acme", f"{prefix}shop:globex"]
    r.delete(*shops)
    r.hset(shops[0], mapping={"name": "Acme Ltd", "currency": "EUR"})
    clients = [redis.Redis(connection_pool=r.connection_pool) for _ in range(4)]
    answers: list[object] = []
    errors: list[str] = []
    start = threading.Barrier(len(clients))

    def cashier(client: redis.Redis) -> None:
        start.wait()
        for _ in range(50):
            try:
                answers.append(next_number(client, "acme", 2026))
            except Exception as exc:  # a learner's half-written function: report it, don't hang the barrier
                errors.append(f"{type(exc).__name__}: {exc}")
                return

    workers = [threading.Thread(target=cashier, args=(c,)) for c in clients]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    try:
        stored = r.hgetall(shops[0])
        next_year = None if errors else next_number(r, "acme", 2027)
        first_other = None if errors else next_number(r, "globex", 2026)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    r.delete(*shops)
    if errors:
        return check([(False, f"next_order_number raised {errors[0]}")])
    numbers = [a for a in answers if isinstance(a, int) and not isinstance(a, bool)]
    repeated = len(numbers) - len(set(numbers))
    return check([
        (len(numbers) == len(answers), "next_order_number returns an int (found: "
                                       f"{sorted({type(a).__name__ for a in answers})})"),
        (sorted(numbers) == list(range(1, 201)), f"200 racing calls got 1 … 200, each once (found {len(set(numbers))} "
                                                 f"distinct numbers: {repeated} calls got a number another call also got)"),
        (stored.get("orders:2026") == "200", "the shop's hash holds orders:2026 = 200 (found "
                                             f"{stored.get('orders:2026')!r})"),
        (next_year == 1, f"2027 starts again at 1 (acme's first 2027 number: {next_year!r})"),
        (stored.get("name") == "Acme Ltd" and stored.get("currency") == "EUR",
         "the shop's other fields are untouched (name, currency)"),
        (first_other == 1, f"another shop starts at 1 (globex's first 2026 number: {first_other!r})"),
        _lock_line(next_number),
    ])


def reserve(r: redis.Redis, prefix: str, reserve_fn: Callable[..., object]) -> bool:
    """Notebook 01: stock reservations that never oversell, with 4 clients reserving at the same moment."""
    key = f"{prefix}exercise:stock"
    r.delete(key)
    r.hset(key, mapping={"sku-42": 120, "sku-7": 2})
    clients = [redis.Redis(connection_pool=r.connection_pool) for _ in range(4)]
    answers: list[object] = []
    errors: list[str] = []
    start = threading.Barrier(len(clients))

    def shopper(client: redis.Redis) -> None:
        start.wait()
        for _ in range(50):
            try:
                answers.append(reserve_fn(client, key, "sku-42", 1))
            except Exception as exc:  # a learner's half-written function: report it, don't hang the barrier
                errors.append(f"{type(exc).__name__}: {exc}")
                return

    workers = [threading.Thread(target=shopper, args=(c,)) for c in clients]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        r.delete(key)
        return check([(False, f"reserve raised {errors[0]}")])
    granted = sum(a is True for a in answers)
    left = int(r.hget(key, "sku-42") or 0)
    # many short races on a small stock: the moments when stock is nearly gone are where a give-back shows
    mixed_taken = mixed_left = 0
    lowest, balanced = 8, True
    false_refusals: list[tuple[int, int]] = []
    for n in range(20):
        mixed = _race(clients, reserve_fn, key, f"sku-9-{n}", stock=8, quantities=[3, 1, 2], rounds=4)
        if isinstance(mixed, str):
            r.delete(key)
            return check([(False, mixed)])
        left_now = int(r.hget(key, f"sku-9-{n}") or 0)
        mixed_taken, mixed_left, lowest = mixed_taken + mixed[0], mixed_left + left_now, min(lowest, left_now)
        balanced = balanced and mixed[0] + left_now == 8
        false_refusals += mixed[1]
    try:
        too_many = reserve_fn(r, key, "sku-7", 3)
        after_refusal = int(r.hget(key, "sku-7") or 0)
        try:
            negative = reserve_fn(r, key, "sku-7", -5)
        except ValueError:
            negative = "ValueError"
        after_negative = int(r.hget(key, "sku-7") or 0)
        exact = reserve_fn(r, key, "sku-7", 2)
    except Exception as exc:
        r.delete(key)
        return check([(False, f"reserve raised {type(exc).__name__}: {exc}")])
    after_exact = int(r.hget(key, "sku-7") or 0)
    r.delete(key)
    return check([
        (all(isinstance(a, bool) for a in answers), "reserve returns True or False (found: "
                                                    f"{sorted({type(a).__name__ for a in answers})})"),
        (granted == 120, f"200 racing reservations of 1 on a stock of 120: exactly 120 granted (found: {granted}) — "
                         "more means you oversold, fewer means a refusal was wrong"),
        (left == 0, f"the stock ends at 0, never below (found: {left})"),
        (lowest >= 0 and balanced and mixed_taken > 0,
         f"20 races of reservations of 1–3 on a stock of 8: stock was granted, and what was granted plus what is "
         f"left is 8 each time, never below 0 (granted {mixed_taken}, left {mixed_left} of 160, lowest end stock "
         f"{lowest})"),
        (not false_refusals and mixed_taken > 0, _refusals(false_refusals, mixed_taken)),
        (too_many is False and after_refusal == 2, "reserving 3 of a stock of 2 is refused and leaves the stock at 2 "
                                                   f"(returned {too_many!r}, stock {after_refusal})"),
        (negative in (False, "ValueError") and after_negative == 2,
         f"a quantity of -5 is refused (False or ValueError) and adds no stock (returned {negative!r}, "
         f"stock {after_negative})"),
        (exact is True and after_exact == 0, "reserving exactly what is left succeeds "
                                             f"(returned {exact!r}, stock {after_exact})"),
        _lock_line(reserve_fn),
    ])


def _refusals(wrong: list[tuple[int, int]], granted: int) -> str:
    """The line about refusals: what was wrong, if anything was."""
    if wrong:
        qty, after = wrong[0]
        return (f"no reservation refused while it would have fitted (found {len(wrong)}, e.g. a refusal of {qty} "
                f"after which the shopper still read {after} left: a give-back that briefly hid the stock, or a "
                "check that read the wrong number?)")
    if not granted:
        return "no reservation refused while it would have fitted (nothing was granted, so nothing to judge yet)"
    return "no reservation refused while it would have fitted"


def _race(clients: list, reserve_fn: Callable[..., object], key: str, sku: str, *, stock: int,
          quantities: list[int], rounds: int) -> tuple[int, list[tuple[int, int]]] | str:
    """Reservations of mixed sizes from every client at once: (units granted, wrong refusals), or the error.

    A refusal of `qty` is wrong when the stock read right after it is still at least `qty`: with a correct
    reserve the stock only goes down, so it was at least that much when the refusal was decided.
    """
    clients[0].hset(key, sku, stock)
    taken: list[int] = []
    wrong: list[tuple[int, int]] = []
    errors: list[str] = []
    start = threading.Barrier(len(clients))

    def shopper(n: int, client: redis.Redis) -> None:
        start.wait()
        for i in range(rounds):
            qty = quantities[(i + n) % len(quantities)]
            try:
                answer = reserve_fn(client, key, sku, qty)
                if answer is True:
                    taken.append(qty)
                elif answer is False:      # only a refusal can be a wrong refusal
                    after = int(client.hget(key, sku) or 0)
                    if after >= qty:
                        wrong.append((qty, after))
            except Exception as exc:
                errors.append(f"reserve raised {type(exc).__name__}: {exc}")
                return

    workers = [threading.Thread(target=shopper, args=(n, c)) for n, c in enumerate(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors[0] if errors else (sum(taken), wrong)


def graphql_key(make_key: Callable[..., str]) -> bool:
    """Notebook 01: cache keys for GraphQL queries — short, stable under formatting, distinct per request and viewer."""
    query = "query Users($status: String!, $first: Int) {\n  users(status: $status, first: $first) { id name email }\n}"
    same_query = "query Users($status: String!, $first: Int) { users(status: $status, first: $first) { id name email } }"
    variables = {"status": "active", "first": 50}
    two_ops = "query Active { users(status: \"active\") { id } }\nquery Banned { users(status: \"banned\") { id } }"

    def make(source: str, q: str, v: dict, operation: str | None = None, scope: str = "public") -> str:
        return make_key(source, q, v, operation, scope=scope)

    try:
        key = make("graphql", query, variables)
        reformatted = make("graphql", same_query, {"first": 50, "status": "active"})
        other_vars = make("graphql", query, {"status": "active", "first": 51})
        other_source = make("search", query, variables)
        again = make("graphql", query, dict(variables))
        spaced = make("graphql", '{ search(q: "a  b") { id } }', {})
        single = make("graphql", '{ search(q: "a b") { id } }', {})
        commented = make("graphql", "query { a # x\n b }", {})
        swallowed = make("graphql", "query { a # x b }", {})
        quote_note = make("graphql", '{ a # say "hi\n b(q: "x y") }', {})
        quote_same = make("graphql", '{ a\n b(q: "x y") }', {})
        tight = make("graphql", "{ users(first:1) { id } }", {})
        loose = make("graphql", "{ users( first: 1 ) { id } }", {})
        active = make("graphql", two_ops, {}, "Active")
        banned = make("graphql", two_ops, {}, "Banned")
        me = "{ me { id email } }"
        mine = make("graphql", me, {}, scope="user:1001")
        mine_again = make("graphql", me, {}, scope="user:1001")
        theirs = make("graphql", me, {}, scope="user:1002")
        public = make("graphql", me, {})
        colon_a = make("a:b", me, {}, scope="c")
        colon_b = make("a", me, {}, scope="b:c")
    except TypeError as exc:
        if "scope" in str(exc):
            return check([(False, f"make_key takes a keyword argument scope= (who may see the response): {exc}")])
        return check([(False, f"make_key raised TypeError: {exc}")])
    except Exception as exc:  # a learner's half-written function: say what broke, don't stop Run All
        return check([(False, f"make_key raised {type(exc).__name__}: {exc}")])
    key = key if isinstance(key, str) else ""
    return check([
        (key.startswith("cache:graphql:"), f"the key starts with 'cache:graphql:' (found: {key[:30]!r})"),
        (0 < len(key) <= 64, f"the key is short: {len(key)} characters (≤ 64)"),
        (" " not in key and "\n" not in key, "no spaces or newlines in the key"),
        (key == again, "the same query and variables always give the same key"),
        (key == reformatted, "the same query with other whitespace and the variables in another order gives the "
                             "same key (normalise before you digest)"),
        (key != other_vars, "different variables give a different key"),
        (key != other_source and other_source.startswith("cache:search:"), "another source gives another key"),
        (spaced != single, 'whitespace inside a string literal is data: search(q: "a  b") and search(q: "a b") '
                           "get different keys"),
        (active != banned, "the same document run with another operationName gets another key"),
        (commented != swallowed, "a newline ends a # comment: `{ a # x⏎ b }` and `{ a # x b }` are different queries "
                                 "and get different keys"),
        (quote_note == quote_same, 'a " inside a # comment is comment, not the start of a string: the query with the '
                                   "comment and without it get the same key"),
        (tight == loose, "`first:1` and `( first: 1 )` are the same tokens: same key"),
        (mine == mine_again and mine != theirs, "the same query for another user gets another key: user:1002 is "
                                                "never served user:1001's `me`"),
        (mine != public, "a user's response and the public one get different keys"),
        (colon_a != colon_b, "source 'a:b' with scope 'c' and source 'a' with scope 'b:c' get different keys (put "
                             "source and scope in the digest too: ':' inside them would otherwise join the two)"),
    ])
