"""Every verdict in every notebook comes from `lab.claim` with a rule, never typed in (read from the code's AST).

A literal True/False/None verdict, a literal condition, a typed verdict on a measured claim, a judgement without
its reason, a sentence that cannot change with the measurement, a claim tested twice, or a notebook without exactly
one headline claim fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
RULE_NOTEBOOKS = [nb for nb in NOTEBOOKS if not nb.name.startswith("00-")]
RULES = {"at_least", "at_most", "exactly"}


def calls(path: Path, name: str) -> list[ast.Call]:
    """Every call of `….name(…)` or `name(…)` in the notebook's code cells."""
    found = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == name:
                    found.append(node)
    return found


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def literal(node: ast.expr | None) -> bool:
    """True for a constant (True, 3, 'x') or a container of constants only."""
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return literal(node.operand)
    return False


def varies(node: ast.expr | None) -> bool:
    """True when a text is built from something computed (an f-string field, a name, a call), not typed whole."""
    return node is not None and any(isinstance(n, (ast.FormattedValue, ast.Name, ast.Call)) for n in ast.walk(node))


@pytest.mark.parametrize("path", RULE_NOTEBOOKS, ids=[nb.stem for nb in RULE_NOTEBOOKS])
def test_no_verdict_outside_the_claim_api(path: Path) -> None:
    """The old typed-in interfaces are gone: no lab.verdict(...) and no ledger.record(...)."""
    assert not calls(path, "verdict") and not calls(path, "record"), "use lab.claim(...) for every verdict"


@pytest.mark.parametrize("path", RULE_NOTEBOOKS, ids=[nb.stem for nb in RULE_NOTEBOOKS])
def test_every_claim_is_computed_or_a_reasoned_judgement(path: Path) -> None:
    """holds_if is a rule on the measurement, conditions are computed, judgements give a reason, texts vary."""
    claims = calls(path, "claim")
    assert claims, "no lab.claim(...) in the notebook"
    for call in claims:
        where = f"{path.name} line {call.lineno}: claim {ast.unparse(call.args[1]) if len(call.args) > 1 else '?'}"
        kind = keyword(call, "kind")
        kind = kind.value if isinstance(kind, ast.Constant) else "measured"
        rule = keyword(call, "holds_if")
        assert not literal(keyword(call, "measured")), f"{where}: the measurement is typed in"
        for name in ("also", "caveat"):
            conditions = keyword(call, name)
            if isinstance(conditions, ast.Dict):
                for value in conditions.values:
                    assert not literal(value), f"{where}: a literal condition in {name}="
        if kind == "judgement":
            why = keyword(call, "why")
            assert why is not None and not (isinstance(why, ast.Constant) and not str(why.value).strip()), \
                f"{where}: a judgement needs its reason (why=)"
        else:
            assert keyword(call, "verdict") is None, f"{where}: a {kind} claim's verdict is typed in"
            assert rule is not None or keyword(call, "also") is not None, f"{where}: no rule (holds_if=)"
        if rule is not None:
            assert isinstance(rule, ast.Call) and getattr(rule.func, "attr", getattr(rule.func, "id", "")) in RULES, \
                f"{where}: holds_if= must be lab.at_least/at_most/exactly(threshold)"
        assert varies(keyword(call, "text")), f"{where}: the verdict sentence reads the same whatever was measured"


@pytest.mark.parametrize("path", RULE_NOTEBOOKS, ids=[nb.stem for nb in RULE_NOTEBOOKS])
def test_each_claim_once_and_one_headline(path: Path) -> None:
    """A claim's title appears in one lab.claim call only, and exactly one claim is the notebook's headline."""
    titles = [ast.unparse(c.args[1]) for c in calls(path, "claim") if len(c.args) > 1]
    assert len(titles) == len(set(titles)), f"a claim is tested twice: {sorted(t for t in titles if titles.count(t) > 1)}"
    headlines = [c for c in calls(path, "claim") if isinstance(keyword(c, "headline"), ast.Constant)
                 and keyword(c, "headline").value is True]
    assert len(headlines) == 1, f"{len(headlines)} headline claims: mark exactly one with headline=True"
