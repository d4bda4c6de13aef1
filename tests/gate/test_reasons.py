"""The reason-code registry: one catalogue for lanes, central, dashboard and docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gate import reasons
from gate.cli import main
from gate.emrtd.auth.verdict import AuthenticityVerdict

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reason-codes.md"


def test_every_code_has_a_family_a_severity_and_an_explanation() -> None:
    for code, reason in reasons.REASONS.items():
        assert reasons.CODE_PATTERN.fullmatch(code)
        assert reason.family in reasons.FAMILIES
        assert reason.severity in {"ok", "warn", "refer", "fail", "abort", "fault"}
        assert len(reason.explanation) > 10


def test_unknown_codes_are_programming_errors() -> None:
    with pytest.raises(reasons.UnknownReasonError, match=r"gate/reasons\.py"):
        reasons.get("NOT_A_CODE")
    with pytest.raises(reasons.UnknownReasonError):
        AuthenticityVerdict().add("PA_NO_SUCH_THING", "x")


def test_registering_twice_or_outside_a_family_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        reasons.register("PA_OK", "ok", "again")
    with pytest.raises(reasons.UnknownReasonError):
        reasons.register("ZZZ_SOMETHING", "warn", "no such family")
    with pytest.raises(ValueError, match="does not match"):
        reasons.register("pa_lower", "warn", "lower case")


def test_verdict_severities_come_from_the_registry() -> None:
    v = AuthenticityVerdict()
    v.add("PA_OK", "fine")
    v.add("PA_CRL_MISSING", "no CRL")
    assert v.ok
    v.add("PA_DG_HASH_MISMATCH", "DG2")
    assert not v.ok


def test_every_code_used_in_the_code_base_is_registered() -> None:
    root = DOCS.parent.parent
    families = "|".join(reasons.FAMILIES)
    literal = re.compile(rf"\"((?:{families})_[A-Z0-9_]+)\"")
    unknown: set[str] = set()
    for folder in ("gate", "drivers", "simulator", "central"):
        for path in (root / folder).rglob("*.py"):
            for code in literal.findall(path.read_text(encoding="utf-8")):
                if code not in reasons.REASONS:
                    unknown.add(f"{path.relative_to(root)}: {code}")
    assert not unknown, "unregistered reason codes:\n" + "\n".join(sorted(unknown))


def test_docs_catalogue_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reasons", "--markdown"]) == 0
    assert DOCS.read_text(encoding="utf-8") == capsys.readouterr().out, (
        "docs/reason-codes.md is stale: run egate reasons --markdown > docs/reason-codes.md"
    )
