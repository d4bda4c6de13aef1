"""The decision policy: ``decide(evidence, rules) -> PolicyDecision`` (pure, no I/O, no clock).

Meaning of the four decisions (docs/lane.md):

- **rejected**: the document is shown false or not valid for travel (any ``fail`` code: altered
  data, failed passive/active/chip authentication, revoked or wrong signer, expired, specimen);
- **referred**: the document may be fine but the person needs an officer (face mismatch or no
  usable face, watch-list hit, below the minimum age, not eligible, not on the manifest, more
  than one person in the gate...);
- **aborted**: no decision (the lane decides that, not the policy: document removed, walked
  back, timeout);
- **accepted**: every check passed.

A rejection is final as soon as it is found. A referral waits for the authenticity verdict
(while it can still come), so that a forged document is recorded as rejected, not referred.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from gate import reasons as registry
from gate.config import PolicyConfig
from gate.events import Decision
from gate.policy.model import Evidence, PolicyDecision, RuleResult

SPECIMEN_STATE = "UTO"
"""ICAO 9303 Part 3: Utopia, the fictitious state of specimen documents."""


def age_on(birth: date, today: date) -> int:
    """Completed years on ``today`` (a birthday on 29 February counts from 1 March)."""
    years = today.year - birth.year
    if (today.month, today.day) < (birth.month, birth.day):
        years -= 1
    return years


def document_type_accepted(code: str, accepted: list[str]) -> bool:
    code = code.replace("<", "")
    for pattern in accepted:
        if pattern.endswith("*"):
            if code.startswith(pattern[:-1]):
                return True
        elif code == pattern:
            return True
    return False


def _severity(code: str) -> str:
    return registry.get(code).severity


def _document_rules(ev: Evidence, rules: PolicyConfig) -> list[RuleResult]:
    out: list[RuleResult] = []
    doc = ev.document
    if doc is None:
        codes = tuple(c for c in ev.mrz_reasons if _severity(c) in ("refer", "fail"))
        out.append(RuleResult(rule="mrz", outcome="refer", reasons=codes or ("MRZ_NOT_READ",)))
        return out
    warn = tuple(c for c in ev.mrz_reasons if _severity(c) == "warn")
    out.append(RuleResult(rule="mrz", outcome="warn" if warn else "pass", reasons=warn))

    if rules.refuse_specimen and SPECIMEN_STATE in (doc.issuing_state, doc.nationality):
        out.append(
            RuleResult(
                rule="specimen",
                outcome="fail",
                reasons=("POLICY_SPECIMEN_DOCUMENT",),
                detail=f"issuing state {doc.issuing_state}, nationality {doc.nationality}",
            )
        )
    if not document_type_accepted(doc.document_code, rules.accepted_document_types):
        out.append(
            RuleResult(
                rule="document_type",
                outcome="refer",
                reasons=("POLICY_DOCUMENT_TYPE",),
                detail=f"{doc.document_code!r} not in {rules.accepted_document_types}",
            )
        )
    if ev.direction not in rules.directions:
        out.append(
            RuleResult(
                rule="direction",
                outcome="refer",
                reasons=("POLICY_DIRECTION",),
                detail=f"{ev.direction} not in {rules.directions}",
            )
        )
    if rules.eligible_nationalities and doc.nationality not in rules.eligible_nationalities:
        out.append(
            RuleResult(
                rule="nationality",
                outcome="refer",
                reasons=("POLICY_NATIONALITY",),
                detail=f"{doc.nationality} not eligible",
            )
        )
    if doc.date_of_birth is None:
        out.append(RuleResult(rule="age", outcome="refer", reasons=("POLICY_AGE_UNKNOWN",)))
    else:
        age = age_on(doc.date_of_birth, ev.today)
        if age < rules.minimum_age_years:
            out.append(
                RuleResult(
                    rule="age",
                    outcome="refer",
                    reasons=("POLICY_UNDER_MINIMUM_AGE",),
                    detail=f"age {age} < {rules.minimum_age_years}",
                )
            )
        else:
            out.append(RuleResult(rule="age", outcome="pass", detail=f"age {age}"))
    out.append(_expiry_rule(ev, rules))
    return out


def _expiry_rule(ev: Evidence, rules: PolicyConfig) -> RuleResult:
    doc = ev.document
    assert doc is not None
    if doc.date_of_expiry is None:
        return RuleResult(rule="expiry", outcome="refer", reasons=("POLICY_EXPIRY_UNKNOWN",))
    days_left = (doc.date_of_expiry - ev.today).days
    if days_left < 0:
        if -days_left <= rules.expiry_grace_days:
            return RuleResult(
                rule="expiry",
                outcome="warn",
                reasons=("POLICY_EXPIRY_GRACE",),
                detail=f"expired {-days_left} days ago, grace {rules.expiry_grace_days}",
            )
        return RuleResult(
            rule="expiry",
            outcome="fail",
            reasons=("DOCUMENT_EXPIRED",),
            detail=f"expired on {doc.date_of_expiry.isoformat()}",
        )
    if ev.direction == "departure" and days_left < rules.departure_minimum_validity_days:
        return RuleResult(
            rule="expiry",
            outcome="refer",
            reasons=("POLICY_VALIDITY_TOO_SHORT",),
            detail=f"{days_left} days left < {rules.departure_minimum_validity_days}",
        )
    return RuleResult(rule="expiry", outcome="pass", detail=f"{days_left} days left")


def _chip_rules(ev: Evidence, rules: PolicyConfig, grace: bool) -> list[RuleResult]:
    if ev.document is None:
        return []
    if ev.chip_ok is None:
        return [RuleResult(rule="chip", outcome="pending")]
    if not ev.chip_ok:
        codes = tuple(c for c in ev.chip_reasons if _severity(c) != "ok") or ("CHIP_READ_FAILED",)
        if any(_severity(c) == "fail" for c in codes):
            return [RuleResult(rule="chip", outcome="fail", reasons=codes)]
        return [RuleResult(rule="chip", outcome="refer", reasons=codes)]
    out = [RuleResult(rule="chip", outcome="pass")]
    if "CHIP_PACE_FAILED" in ev.chip_reasons and rules.bac_fallback != "accept":
        outcome: Literal["refer", "fail"] = "fail" if rules.bac_fallback == "refuse" else "refer"
        out.append(RuleResult(rule="pace", outcome=outcome, reasons=("CHIP_PACE_FAILED",)))
    codes_all = ev.authenticity
    if codes_all is None:
        out.append(RuleResult(rule="authenticity", outcome="pending"))
        return out
    # an expiry inside the grace period is the policy's call, not a failure of the document
    codes = tuple(c for c in codes_all if not (grace and c == "DOCUMENT_EXPIRED"))
    fails = tuple(c for c in codes if _severity(c) == "fail")
    refers = tuple(c for c in codes if _severity(c) == "refer")
    warns = tuple(c for c in codes if _severity(c) == "warn")
    if fails:
        out.append(RuleResult(rule="authenticity", outcome="fail", reasons=fails))
    elif refers:
        out.append(RuleResult(rule="authenticity", outcome="refer", reasons=refers))
    elif "PA_OK" not in codes:
        out.append(
            RuleResult(
                rule="authenticity",
                outcome="refer",
                reasons=("POLICY_NOT_VERIFIED",),
                detail="no PA_OK in the verdict",
            )
        )
    else:
        out.append(
            RuleResult(rule="authenticity", outcome="warn" if warns else "pass", reasons=warns)
        )
    if rules.require_chip_authentication and not ({"AA_OK", "CA_OK"} & set(codes)):
        out.append(
            RuleResult(
                rule="chip_authentication",
                outcome="refer",
                reasons=("POLICY_CHIP_AUTH_REQUIRED",),
            )
        )
    crl = ev.crl or (
        "missing"
        if "PA_CRL_MISSING" in codes
        else "stale"
        if "PA_CRL_STALE" in codes
        else "current"
    )
    if crl == "missing" and rules.crl_missing == "refer":
        out.append(RuleResult(rule="crl", outcome="refer", reasons=("POLICY_CRL_MISSING",)))
    elif crl == "stale" and rules.crl_stale == "refer":
        out.append(RuleResult(rule="crl", outcome="refer", reasons=("POLICY_CRL_STALE",)))
    return out


def _list_rules(ev: Evidence, rules: PolicyConfig) -> list[RuleResult]:
    doc = ev.document
    if doc is None:
        return []
    s = ev.screening
    if s is None:
        return [RuleResult(rule="lists", outcome="pending")]
    out: list[RuleResult] = []
    limit = rules.lists_max_age_hours * 3600.0
    if s.lists_age_seconds is not None and s.lists_age_seconds > limit:
        detail = f"lists {s.lists_age_seconds / 3600:.1f} h old > {rules.lists_max_age_hours} h"
        if rules.stale_lists == "refer":
            out.append(
                RuleResult(
                    rule="lists", outcome="refer", reasons=("POLICY_LISTS_STALE",), detail=detail
                )
            )
        else:
            out.append(
                RuleResult(
                    rule="lists",
                    outcome="warn",
                    reasons=("POLICY_LISTS_STALE_SERVED",),
                    detail=detail,
                )
            )
    if s.watchlist_hits:
        out.append(
            RuleResult(
                rule="watchlist",
                outcome="refer",
                reasons=("POLICY_WATCHLIST_HIT",),
                detail="entries " + ", ".join(s.watchlist_hits),
            )
        )
    citizen = doc.nationality in rules.citizen_nationalities
    needs_enrolment = rules.enrolment_required == "all" or (
        rules.enrolment_required == "foreigners" and not citizen
    )
    if needs_enrolment and not s.enrolled:
        out.append(
            RuleResult(
                rule="enrolment",
                outcome="refer",
                reasons=("POLICY_NOT_ENROLLED",),
                detail="registry not consulted" if s.enrolled is None else "not in the registry",
            )
        )
    if ev.direction in rules.apis_directions and not s.on_manifest:
        out.append(
            RuleResult(
                rule="manifest",
                outcome="refer",
                reasons=("POLICY_NOT_ON_MANIFEST",),
                detail="no manifest received" if s.on_manifest is None else "not on the manifest",
            )
        )
    return out


_FACE_CODES = {
    "match": ("pass", "FACE_MATCH"),
    "no_match": ("refer", "FACE_NO_MATCH"),
    "no_face": ("refer", "FACE_NOT_FOUND"),
    "no_chip_portrait": ("refer", "FACE_NO_CHIP_PORTRAIT"),
}


def _person_rules(ev: Evidence, rules: PolicyConfig) -> list[RuleResult]:
    out: list[RuleResult] = []
    if ev.persons is not None and ev.persons > 1:
        out.append(
            RuleResult(
                rule="one_person",
                outcome="refer",
                reasons=("PASSAGE_TAILGATING",),
                detail=f"{ev.persons} persons",
            )
        )
    if ev.face is None:
        out.append(RuleResult(rule="face", outcome="pending"))
    else:
        outcome, code = _FACE_CODES[ev.face.outcome]
        detail = ""
        if ev.face.similarity is not None and ev.face.threshold is not None:
            detail = f"similarity {ev.face.similarity:.3f}, threshold {ev.face.threshold:.3f}"
        out.append(
            RuleResult(
                rule="face",
                outcome="pass" if outcome == "pass" else "refer",
                reasons=(code,),
                detail=detail,
            )
        )
    if rules.require_liveness:
        if ev.liveness is None:
            out.append(RuleResult(rule="liveness", outcome="pending"))
        elif ev.liveness:
            out.append(RuleResult(rule="liveness", outcome="pass", reasons=("LIVENESS_OK",)))
        else:
            out.append(RuleResult(rule="liveness", outcome="refer", reasons=("LIVENESS_FAILED",)))
    return out


def decide(ev: Evidence, rules: PolicyConfig) -> PolicyDecision:
    """The decision on what is known so far (None while checks are pending)."""
    document_rules = _document_rules(ev, rules)
    grace = any(r.rule == "expiry" and r.outcome == "warn" for r in document_rules)
    before_entry = document_rules + _chip_rules(ev, rules, grace) + _list_rules(ev, rules)
    person = _person_rules(ev, rules)
    every = tuple(before_entry + person)

    def codes(outcome: str) -> tuple[str, ...]:
        return tuple(c for r in every if r.outcome == outcome for c in r.reasons)

    fails, refers, warns = codes("fail"), codes("refer"), codes("warn")
    pending = any(r.outcome == "pending" for r in every)
    verdict_can_still_come = (
        ev.document is not None and ev.chip_ok is not False and (ev.authenticity is None)
    )
    figures: dict[str, float | int | str | None] = {}
    if ev.document is not None and ev.document.date_of_birth is not None:
        figures["age_years"] = age_on(ev.document.date_of_birth, ev.today)
    if ev.face is not None:
        figures["face_similarity"] = ev.face.similarity
        figures["face_threshold"] = ev.face.threshold
    if ev.screening is not None and ev.screening.lists_age_seconds is not None:
        figures["lists_age_seconds"] = ev.screening.lists_age_seconds
    discreet = any(r.rule == "watchlist" for r in every)
    stage_passed = not any(
        r.outcome in ("fail", "refer", "pending") for r in before_entry
    ) and not (ev.persons is not None and ev.persons > 1)

    decision: Decision | None
    reason_codes: tuple[str, ...]
    keep = False
    if fails:
        decision, reason_codes = Decision.REJECTED, fails + refers + warns
    elif refers and not verdict_can_still_come:
        decision, reason_codes = Decision.REFERRED, refers + warns
    elif refers or pending:
        decision, reason_codes = None, refers + warns
    else:
        decision, reason_codes = Decision.ACCEPTED, ("POLICY_ACCEPTED", *warns)
        doc = ev.document
        if (
            rules.foreign_national_record
            and doc is not None
            and doc.nationality not in rules.citizen_nationalities
        ):
            keep = True
            reason_codes += ("POLICY_FOREIGN_NATIONAL_RECORD",)
    return PolicyDecision(
        decision=decision,
        reasons=_unique(reason_codes),
        rules=every,
        figures=figures,
        document_stage_passed=stage_passed,
        discreet=discreet,
        keep_live_portrait=keep,
    )


def _unique(codes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(codes))
