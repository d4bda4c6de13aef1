"""The decision policy: every rule and every POLICY_* code."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from gate import reasons
from gate.config import PolicyConfig
from gate.events import Decision
from gate.policy.decide import age_on, decide, document_type_accepted
from gate.policy.lists import (
    EnrolledRegistry,
    ListFormatError,
    Manifest,
    Manifests,
    WatchList,
    document_key,
    fold_name,
    keys_for,
    name_similarity,
    screen,
)
from gate.policy.model import DocumentFacts, Evidence, FaceEvidence, ScreeningResult

TODAY = date(2026, 12, 2)
DOC = DocumentFacts(
    document_code="P",
    issuing_state="D",
    nationality="D",
    date_of_birth=date(1985, 5, 17),
    date_of_expiry=date(2031, 1, 1),
)
FULL = Evidence(
    today=TODAY,
    document=DOC,
    chip_ok=True,
    authenticity=("PA_OK", "AA_OK"),
    screening=ScreeningResult(),
    face=FaceEvidence(outcome="match", similarity=0.7, threshold=0.4),
    liveness=True,
    persons=1,
)


def rules(**kw: Any) -> PolicyConfig:
    return PolicyConfig.model_validate(kw)


def test_everything_passed_is_accepted() -> None:
    d = decide(FULL, rules())
    assert d.decision is Decision.ACCEPTED and d.reasons == ("POLICY_ACCEPTED",)
    assert d.figures["age_years"] == 41 and d.figures["face_similarity"] == 0.7


@pytest.mark.parametrize(
    ("change", "config", "decision", "code"),
    [
        (
            {"document": replace(DOC, issuing_state="UTO")},
            {},
            Decision.REJECTED,
            "POLICY_SPECIMEN_DOCUMENT",
        ),
        (
            {"document": replace(DOC, document_code="ID")},
            {},
            Decision.REFERRED,
            "POLICY_DOCUMENT_TYPE",
        ),
        (
            {"direction": "departure"},
            {"directions": ["arrival"]},
            Decision.REFERRED,
            "POLICY_DIRECTION",
        ),
        ({}, {"eligible_nationalities": ["TWN"]}, Decision.REFERRED, "POLICY_NATIONALITY"),
        (
            {"document": replace(DOC, date_of_birth=date(2016, 1, 1))},
            {},
            Decision.REFERRED,
            "POLICY_UNDER_MINIMUM_AGE",
        ),
        (
            {"document": replace(DOC, date_of_birth=None)},
            {},
            Decision.REFERRED,
            "POLICY_AGE_UNKNOWN",
        ),
        (
            {"document": replace(DOC, date_of_expiry=date(2026, 11, 1))},
            {},
            Decision.REJECTED,
            "DOCUMENT_EXPIRED",
        ),
        (
            {"document": replace(DOC, date_of_expiry=None)},
            {},
            Decision.REFERRED,
            "POLICY_EXPIRY_UNKNOWN",
        ),
        (
            {"direction": "departure", "document": replace(DOC, date_of_expiry=date(2027, 1, 1))},
            {"departure_minimum_validity_days": 90},
            Decision.REFERRED,
            "POLICY_VALIDITY_TOO_SHORT",
        ),
        ({"authenticity": ("AA_OK",)}, {}, Decision.REFERRED, "POLICY_NOT_VERIFIED"),
        (
            {"authenticity": ("PA_OK",)},
            {"require_chip_authentication": True},
            Decision.REFERRED,
            "POLICY_CHIP_AUTH_REQUIRED",
        ),
        (
            {"authenticity": ("PA_OK", "PA_CRL_MISSING")},
            {"crl_missing": "refer"},
            Decision.REFERRED,
            "POLICY_CRL_MISSING",
        ),
        ({"crl": "stale"}, {}, Decision.REFERRED, "POLICY_CRL_STALE"),
        (
            {"screening": ScreeningResult(lists_age_seconds=90000.0)},
            {},
            Decision.REFERRED,
            "POLICY_LISTS_STALE",
        ),
        (
            {"screening": ScreeningResult(lists_age_seconds=90000.0)},
            {"stale_lists": "serve"},
            Decision.ACCEPTED,
            "POLICY_LISTS_STALE_SERVED",
        ),
        (
            {"screening": ScreeningResult(watchlist_hits=("W1",))},
            {},
            Decision.REFERRED,
            "POLICY_WATCHLIST_HIT",
        ),
        (
            {"screening": ScreeningResult(enrolled=False)},
            {"enrolment_required": "foreigners"},
            Decision.REFERRED,
            "POLICY_NOT_ENROLLED",
        ),
        (
            {"screening": ScreeningResult(on_manifest=False)},
            {"apis_directions": ["arrival"]},
            Decision.REFERRED,
            "POLICY_NOT_ON_MANIFEST",
        ),
        (
            {"screening": ScreeningResult()},
            {"apis_directions": ["arrival"]},
            Decision.REFERRED,
            "POLICY_NOT_ON_MANIFEST",
        ),
        ({"persons": 2}, {}, Decision.REFERRED, "PASSAGE_TAILGATING"),
        ({"face": FaceEvidence(outcome="no_match")}, {}, Decision.REFERRED, "FACE_NO_MATCH"),
        ({"face": FaceEvidence(outcome="no_face")}, {}, Decision.REFERRED, "FACE_NOT_FOUND"),
        (
            {"face": FaceEvidence(outcome="no_chip_portrait")},
            {},
            Decision.REFERRED,
            "FACE_NO_CHIP_PORTRAIT",
        ),
        ({"liveness": False}, {}, Decision.REFERRED, "LIVENESS_FAILED"),
        ({"authenticity": ("PA_OK", "AA_FAILED")}, {}, Decision.REJECTED, "AA_FAILED"),
        (
            {"authenticity": ("PA_OK", "AA_NOT_COMPLETED")},
            {},
            Decision.REFERRED,
            "AA_NOT_COMPLETED",
        ),
        (
            {"authenticity": ("PA_OK", "PA_DG_NOT_RETURNED", "AA_NOT_COMPLETED")},
            {},
            Decision.REFERRED,
            "PA_DG_NOT_RETURNED",
        ),
        (
            {"authenticity": ("PA_OK", "CA_NOT_COMPLETED", "AA_OK")},
            {"require_chip_authentication": True},
            Decision.REFERRED,
            "CA_NOT_COMPLETED",
        ),
        (
            {"authenticity": ("PA_OK", "CA_FAILED", "CHIP_CLONE_SUSPECTED")},
            {},
            Decision.REJECTED,
            "CHIP_CLONE_SUSPECTED",
        ),
        (
            {"chip_ok": False, "chip_reasons": ("CHIP_ACCESS_DENIED",)},
            {},
            Decision.REFERRED,
            "CHIP_ACCESS_DENIED",
        ),
        ({"document": None}, {}, Decision.REFERRED, "MRZ_NOT_READ"),
    ],
)
def test_each_rule_and_code(
    change: dict[str, Any], config: dict[str, Any], decision: Decision, code: str
) -> None:
    d = decide(replace(FULL, **change), rules(**config))
    assert d.decision is decision, d
    assert code in d.reasons
    assert reasons.get(code)  # every code the policy gives is registered
    assert any(code in r.reasons for r in d.rules)


def test_rules_that_pass_when_configured_otherwise() -> None:
    assert (
        decide(
            replace(FULL, document=replace(DOC, issuing_state="UTO")), rules(refuse_specimen=False)
        ).decision
        is Decision.ACCEPTED
    )
    assert (
        decide(
            replace(FULL, screening=ScreeningResult(enrolled=False)),
            rules(enrolment_required="foreigners", citizen_nationalities=["D"]),
        ).decision
        is Decision.ACCEPTED
    )
    assert (
        decide(replace(FULL, liveness=None), rules(require_liveness=False)).decision
        is Decision.ACCEPTED
    )
    assert (
        decide(replace(FULL, authenticity=("PA_OK", "PA_CRL_MISSING")), rules()).decision
        is Decision.ACCEPTED
    )


def test_expiry_grace_overrides_the_verdicts_expired_code() -> None:
    ev = replace(
        FULL,
        document=replace(DOC, date_of_expiry=date(2026, 11, 30)),
        authenticity=("PA_OK", "DOCUMENT_EXPIRED"),
    )
    assert decide(ev, rules()).decision is Decision.REJECTED
    d = decide(ev, rules(expiry_grace_days=5))
    assert d.decision is Decision.ACCEPTED and "POLICY_EXPIRY_GRACE" in d.reasons


def test_a_referral_waits_for_the_verdict_so_a_forgery_is_rejected() -> None:
    early = replace(
        FULL,
        authenticity=None,
        face=None,
        liveness=None,
        screening=ScreeningResult(watchlist_hits=("W",)),
    )
    d = decide(early, rules())
    assert (
        d.decision is None and "POLICY_WATCHLIST_HIT" in d.reasons and not d.document_stage_passed
    )
    forged = replace(early, authenticity=("PA_SIGNATURE_INVALID",))
    assert decide(forged, rules()).decision is Decision.REJECTED
    assert decide(replace(early, authenticity=("PA_OK",)), rules()).decision is Decision.REFERRED


def test_watchlist_hit_is_discreet_and_document_stage_gate() -> None:
    d = decide(replace(FULL, screening=ScreeningResult(watchlist_hits=("W1",))), rules())
    assert d.discreet
    stage = decide(replace(FULL, face=None, liveness=None), rules())
    assert stage.decision is None and stage.document_stage_passed


def test_foreign_national_record_only_for_non_citizens() -> None:
    cfg = rules(foreign_national_record=True, citizen_nationalities=["TWN"])
    d = decide(FULL, cfg)
    assert d.keep_live_portrait and "POLICY_FOREIGN_NATIONAL_RECORD" in d.reasons
    citizen = replace(FULL, document=replace(DOC, nationality="TWN"))
    assert not decide(citizen, cfg).keep_live_portrait


def test_age_and_document_type_helpers() -> None:
    assert age_on(date(2008, 12, 3), TODAY) == 17 and age_on(date(2008, 12, 2), TODAY) == 18
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert document_type_accepted("P<", ["P"]) and not document_type_accepted("PD", ["P"])
    assert document_type_accepted("PD", ["P*"])


def test_config_refuses_bad_codes() -> None:
    with pytest.raises(ValueError, match="MRZ document code"):
        rules(accepted_document_types=["P1"])
    with pytest.raises(ValueError, match="nationality code"):
        rules(citizen_nationalities=["twn"])


SALT = bytes(range(16))


def test_lists_hash_documents_and_never_hold_numbers() -> None:
    registry = EnrolledRegistry(3, SALT, keys_for(SALT, [("C01X00T47", "D")]))
    assert registry.contains("C01X00T47<", "D") and not registry.contains("C01X00T48", "D")
    assert "C01X00T47" not in str(registry.to_dict())
    assert EnrolledRegistry.from_dict(registry.to_dict()) == registry
    assert document_key(SALT, "A1", "D") != document_key(bytes(16), "A1", "D")


def test_watchlist_matches_by_document_or_by_name_and_birth_date() -> None:
    wl = WatchList.from_dict(
        {
            "version": 7,
            "salt": SALT.hex(),
            "entries": [
                {"id": "W1", "document_keys": [document_key(SALT, "X123", "D")]},
                {"id": "W2", "names": ["Müller, Hans-Jürgen"], "date_of_birth": "1970-01-02"},
            ],
        }
    )
    born = date(1970, 1, 2)
    assert wl.match("X123", "D", "ANYONE", None) == ("W1",)
    assert wl.match("Z9", "D", "MUELLER<<HANS<JUERGEN", born) == ("W2",)
    assert wl.match("Z9", "D", "MULLER<<HANS<JURGEN", born) == ("W2",)
    assert wl.match("Z9", "D", "MUELLER<<HANS<JUERGEN", date(1971, 1, 2)) == ()
    assert wl.match("Z9", "D", "SCHMIDT<<ANNA", born) == ()
    result = screen(
        number="Z9",
        nationality="D",
        name="MULLER<<HANS<JURGEN",
        date_of_birth=born,
        day=TODAY,
        watchlist=wl,
    )
    assert (
        result.watchlist_hits == ("W2",) and result.enrolled is None and result.on_manifest is None
    )


def test_names_fold_transliterations() -> None:
    assert fold_name("ØSTERGÅRD<<LARS") == fold_name("OESTERGAARD LARS")
    assert name_similarity("GARCÍA JOSÉ", "JOSE GARCIA") == 1.0
    assert name_similarity("SMITH JOHN", "BROWN ALICE") < 0.5


def test_manifests_by_day() -> None:
    m = Manifests(1, SALT, (Manifest("BR198", TODAY, keys_for(SALT, [("X1", "D")])),))
    assert m.contains("X1", "D", TODAY) and not m.contains("X1", "D", date(2026, 12, 3))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": -1, "salt": SALT.hex(), "keys": []}, "version"),
        ({"version": 1, "salt": "zz", "keys": []}, "salt"),
        ({"version": 1, "salt": "00", "keys": []}, "16 bytes"),
        ({"version": 1, "salt": SALT.hex(), "keys": ["abc"]}, "keys"),
    ],
)
def test_malformed_lists_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ListFormatError, match=message):
        EnrolledRegistry.from_dict(data)


def test_malformed_watchlist_entries_are_refused() -> None:
    base = {"version": 1, "salt": SALT.hex()}
    with pytest.raises(ListFormatError, match=r"entries\[0\] needs"):
        WatchList.from_dict({**base, "entries": [{}]})
    with pytest.raises(ListFormatError, match="YYYY-MM-DD"):
        WatchList.from_dict({**base, "entries": [{"id": "a", "date_of_birth": "1.2.1970"}]})


@pytest.mark.parametrize(
    ("fallback", "decision"),
    [("refer", Decision.REFERRED), ("refuse", Decision.REJECTED), ("accept", Decision.ACCEPTED)],
)
def test_pace_downgrade_follows_bac_fallback(fallback: str, decision: Decision) -> None:
    downgraded = replace(FULL, chip_reasons=("CHIP_OK", "CHIP_PACE_FAILED"))
    d = decide(downgraded, rules(bac_fallback=fallback))
    assert d.decision is decision, d
    assert ("CHIP_PACE_FAILED" in d.reasons) is (fallback != "accept")
    assert decide(downgraded, rules()).decision is Decision.REFERRED  # the lane's default
