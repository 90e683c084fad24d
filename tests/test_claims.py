"""helpers.claims: the verdict is computed from the measurement by the rule beside it, and the box and the ledger
row are one object."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import claims, ledger


@pytest.fixture(autouse=True)
def ledger_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ledger file in a temp folder (LAB_LEDGER)."""
    target = tmp_path / "ledger.jsonl"
    monkeypatch.setenv("LAB_LEDGER", str(target))
    monkeypatch.setenv("LAB_SCALE", "small")
    return target


def make(measured: float, **kwargs) -> claims.Claim:
    kwargs.setdefault("holds_if", claims.at_least(3))
    return claims.claim("01", "a claim", guide="the guide's words", measured=measured, unit="×",
                        text=f"measured {measured}", measured_on={"version": "9.9", "source": "test"}, **kwargs)


def test_the_rule_decides() -> None:
    """At or above the threshold holds, below does not; the margin is measured ÷ threshold."""
    assert make(6).verdict == "holds" and make(6).margin == 2
    assert make(2).verdict == "does not hold"
    assert claims.claim("01", "c", guide="", measured=0.2, unit="s", text="t", holds_if=claims.at_most(0.5),
                        measured_on={}).verdict == "holds"


def test_conditions_and_caveats() -> None:
    """Every `also` must be true to hold; a true caveat turns holds into 'holds with a caveat', never a failure."""
    assert make(6, also={"the hash lost none": False}).verdict == "does not hold"
    assert make(6, caveat={"only the caller waits": True}).verdict == "holds with a caveat"
    assert make(2, caveat={"only the caller waits": True}).verdict == "does not hold"
    assert make(6, also={"x": np.bool_(True)}).verdict == "holds"


def test_borderline_within_a_quarter_of_the_threshold() -> None:
    """3.6 against ≥ 3 is borderline (margin 1.2); 4 is not; a count against 0 has no margin."""
    assert make(3.6).borderline and not make(4).borderline and make(2.4).borderline
    assert make(5, holds_if=claims.at_least(0)).margin is None


def test_refuses_a_verdict_without_a_measurement_or_rule() -> None:
    """No number, a typed verdict on a measured claim, a judgement without its reason: each is refused."""
    with pytest.raises(ValueError):
        make(float("nan"))
    with pytest.raises(ValueError):
        make(True)
    with pytest.raises(ValueError):
        make(5, verdict="holds")
    with pytest.raises(ValueError):
        make(5, holds_if=None)
    with pytest.raises(ValueError):
        make(5, holds_if=None, kind="judgement", verdict="holds")
    with pytest.raises(ValueError):
        make(5, also={"typed": 1})


def test_judgement_is_labelled_with_its_reason() -> None:
    """A judgement carries the author's verdict and reason, and the box says it is one."""
    judged = make(5, holds_if=None, kind="judgement", verdict="holds with a caveat", why="the fix is a habit")
    assert judged.verdict == "holds with a caveat" and "judgement: the fix is a habit" in judged._repr_html_()


def test_box_and_row_agree(ledger_file: Path) -> None:
    """The ledger row is written from the same object the box shows, with the server and the run named."""
    shown = make(6, headline=True)
    row = json.loads(ledger_file.read_text().splitlines()[-1])
    assert row["verdict"] == shown.verdict == "holds" and row["holds"] is True and row["headline"] is True
    assert row["server"] == "9.9" and row["source"] == "test" and row["scale"] == "small" and row["run"]
    assert f'data-verdict="{row["verdict"]}"' in shown._repr_html_() and "margin 2.00×" in shown._repr_html_()
    assert ledger.read(ledger_file).iloc[0]["rule"] == "≥ 3"


def test_lab_server_provenance_is_the_connected_one(lab_url: str) -> None:
    """Without measured_on the row names the lab's server that connect() found."""
    from helpers import server
    server.connect(quiet=True)
    found = claims.provenance()
    assert found["version"] == server.last_server.version and found["source"].startswith("the lab's server")


def test_a_private_server_is_named_on_its_own_rows(lab_url: str, ledger_file: Path) -> None:
    """A claim measured on a server the notebook started names that server, not the lab's (REDIS_URL) one."""
    from helpers import server
    server.connect(quiet=True)
    with server.start_server(name="private", modules=False) as private:
        claims.claim("09", "on the private one", guide="", measured=1, unit="", text=f"{1}",
                     holds_if=claims.at_least(1), measured_on=private)
        version = private.client().info("server")["redis_version"]
    claims.claim("09", "on the lab's", guide="", measured=1, unit="", text=f"{1}", holds_if=claims.at_least(1))
    first, second = ledger.rows(ledger_file)
    assert first["source"].startswith("private server") and first["server"] == version
    assert second["source"].startswith("the lab's server") and second["server"] == server.last_server.version
