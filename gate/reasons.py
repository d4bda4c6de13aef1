"""The one registry of reason codes: every code a lane, the central service or the dashboard shows.

A reason code is a stable, upper-case identifier (``^[A-Z][A-Z0-9_]{1,63}$``). Once published a
code keeps its meaning: never rename or reuse one; add new codes to the family they belong to.
Each code has a family (its prefix, see docs/events.md), a severity and a one-line explanation
for officers and auditors. Travellers never see these explanations: a referral only says
"please see an officer".

Severities:

- ``ok``: a check passed;
- ``warn``: shown to the officer, does not fail the check by itself;
- ``refer``: the person needs an officer (the document may be fine);
- ``fail``: the document is shown false or not valid for travel;
- ``abort``: no decision was reached;
- ``fault``: a device or link problem, not about the traveller.

``docs/reason-codes.md`` is generated from this table (``egate reasons --markdown``) and a test
checks that it is current.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Severity = Literal["ok", "warn", "refer", "fail", "abort", "fault"]

CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")

FAMILIES: dict[str, str] = {
    "MRZ": "machine readable zone (text layer)",
    "DG1": "data group 1 on the chip",
    "DOCUMENT": "document validity",
    "CHIP": "chip access",
    "PA": "passive authentication (document signature and certificate chain)",
    "AA": "active authentication (anti-cloning)",
    "CA": "chip authentication (anti-cloning)",
    "FACE": "face verification",
    "LIVENESS": "presentation-attack detection",
    "POLICY": "eligibility and lane policy",
    "PASSAGE": "the physical passage through the gate",
    "CAMERA": "gate camera",
    "GATECTL": "gate controller (doors, beams)",
    "DOCREADER": "document reader",
    "PCSC": "chip reader (PC/SC)",
    "CENTRAL": "link to the central service",
    "LANE": "the lane itself",
}


@dataclass(frozen=True)
class Reason:
    code: str
    severity: Severity
    explanation: str

    @property
    def family(self) -> str:
        return family_of(self.code)


def family_of(code: str) -> str:
    """The family of a code: the longest registered prefix before an underscore."""
    parts = code.split("_")
    for n in range(len(parts) - 1, 0, -1):
        prefix = "_".join(parts[:n])
        if prefix in FAMILIES:
            return prefix
    raise UnknownReasonError(code)


class UnknownReasonError(KeyError):
    """A reason code that is not in the registry: a programming error, never input."""

    def __str__(self) -> str:
        return f"unknown reason code {self.args[0]!r}: add it to gate/reasons.py"


_TABLE: tuple[tuple[str, Severity, str], ...] = (
    # ---- MRZ (text layer)
    ("MRZ_OK", "ok", "the MRZ was read and every check digit is valid"),
    ("MRZ_NOT_READ", "refer", "no MRZ could be read from the document"),
    ("MRZ_INVALID", "refer", "the MRZ was read but a check digit or field is invalid"),
    ("MRZ_REPAIRED", "warn", "the MRZ had OCR errors that were corrected with the check digits"),
    ("MRZ_DG1_MISMATCH", "fail", "the MRZ on the data page differs from DG1 on the chip"),
    (
        "MRZ_NAME_FROM_CHIP",
        "warn",
        "the page OCR read the name differently from DG1; the name was taken from the chip",
    ),
    (
        "MRZ_AMBIGUOUS",
        "warn",
        "several readings of the page MRZ pass every check digit; the chip decides which",
    ),
    # ---- DG1 and document validity
    ("DG1_MISSING", "warn", "DG1 was not supplied: MRZ and expiry were not checked"),
    ("DG1_UNREADABLE", "fail", "DG1 holds no readable MRZ"),
    ("DOCUMENT_EXPIRED", "fail", "the document is past its date of expiry"),
    # ---- chip access
    ("CHIP_OK", "ok", "the chip was opened and its files read"),
    ("CHIP_ACCESS_DENIED", "refer", "the chip refused access with every MRZ candidate (BAC/PACE)"),
    ("CHIP_NOT_FOUND", "refer", "no chip answered on the reader"),
    ("CHIP_READ_FAILED", "refer", "the chip was opened but a required file could not be read"),
    ("CHIP_REMOVED", "abort", "the document was taken off the reader while the chip was read"),
    (
        "CHIP_PACE_FAILED",
        "refer",
        "the chip offers PACE but PACE failed; a fallback to BAC is a known downgrade pattern",
    ),
    ("CHIP_CLONE_SUSPECTED", "fail", "valid data but the chip cannot prove its key: likely clone"),
    # ---- passive authentication
    ("PA_OK", "ok", "passive authentication passed: data groups, signature and chain are valid"),
    ("PA_SOD_MALFORMED", "fail", "EF.SOD cannot be parsed"),
    ("PA_DG_HASH_MISMATCH", "fail", "a data group does not match its hash in EF.SOD (altered)"),
    ("PA_DG_NOT_IN_SOD", "fail", "a data group was read that EF.SOD does not list"),
    (
        "PA_DG_NOT_RETURNED",
        "refer",
        "a data group listed in EF.SOD was not returned by the chip (DG3/DG4 exempt)",
    ),
    ("PA_SIGNATURE_INVALID", "fail", "the EF.SOD signature does not verify with the DSC"),
    ("PA_DSC_MISSING", "fail", "EF.SOD embeds no Document Signer certificate"),
    ("PA_CSCA_UNKNOWN", "fail", "no trusted CSCA certificate issued the Document Signer"),
    ("PA_CERT_EXPIRED", "fail", "a certificate of the chain is outside its validity"),
    ("PA_CERT_NOT_YET_VALID", "fail", "a certificate of the chain is not valid yet"),
    ("PA_CERT_REVOKED", "fail", "the Document Signer certificate is revoked by a CRL"),
    ("PA_CRL_MISSING", "warn", "no current CRL of the issuing CSCA is in the trust store"),
    ("PA_COUNTRY_MISMATCH", "fail", "issuing state, DSC and CSCA countries differ"),
    ("PA_ALGORITHM_UNSUPPORTED", "fail", "a hash, signature algorithm or curve is unsupported"),
    ("PA_SOD_WARNING", "warn", "EF.SOD deviates from ICAO 9303 but could be verified"),
    ("PA_CERT_INVALID", "fail", "a certificate or public key of the chain cannot be decoded"),
    ("PA_DG_MALFORMED", "fail", "a data group needed for the checks cannot be parsed"),
    (
        "PA_CERT_PROFILE",
        "fail",
        "a certificate of the chain breaks its ICAO 9303-12 profile (key usage, CA flag, "
        "unknown critical extension)",
    ),
    (
        "PA_CERT_PROFILE_DEVIATION",
        "warn",
        "a certificate of the chain omits a 9303-12 profile element; tolerated",
    ),
    (
        "PA_DOCUMENT_TYPE_NOT_ALLOWED",
        "fail",
        "the DSC's DocumentTypeList does not allow this document code",
    ),
    ("PA_CRL_STALE", "warn", "the CRL of the issuing CSCA is past its nextUpdate"),
    (
        "PA_COUNTRY_UNMAPPED",
        "refer",
        "the issuing state has no certificate country (ICAO 9303-3 code): not compared, so "
        "an officer checks the document",
    ),
    # ---- active and chip authentication
    ("AA_OK", "ok", "active authentication passed: the chip holds the DG15 private key"),
    ("AA_FAILED", "fail", "active authentication failed"),
    ("AA_NOT_SUPPORTED", "warn", "the chip offers no active authentication (no DG15)"),
    ("CA_OK", "ok", "chip authentication passed and secure messaging restarted"),
    ("CA_FAILED", "fail", "chip authentication failed"),
    ("CA_NOT_COUNTED", "warn", "chip authentication ignored because passive authentication failed"),
    (
        "AA_NOT_COMPLETED",
        "refer",
        "active authentication could not be completed (transport, unsupported key or data error);"
        " not evidence of a clone",
    ),
    (
        "CA_NOT_COMPLETED",
        "refer",
        "chip authentication could not be completed (transport, unsupported key or data error);"
        " not evidence of a clone",
    ),
    # ---- face and liveness
    ("FACE_MATCH", "ok", "the live face matches the chip portrait"),
    ("FACE_NO_MATCH", "refer", "the live face does not match the chip portrait"),
    ("FACE_NOT_FOUND", "refer", "no usable face was captured from the traveller"),
    ("FACE_NO_CHIP_PORTRAIT", "refer", "the chip holds no usable portrait to compare with"),
    ("FACE_ENGINE_FAULT", "fault", "the face models are missing, corrupt or failed to run"),
    ("LIVENESS_OK", "ok", "the live face passed presentation-attack detection"),
    ("LIVENESS_FAILED", "refer", "the live face looks like a photo, screen or mask"),
    # ---- eligibility and lane policy (gate/policy)
    ("POLICY_ACCEPTED", "ok", "every check of the lane policy passed"),
    ("POLICY_SPECIMEN_DOCUMENT", "fail", "an ICAO specimen document (state UTO) is not valid"),
    ("POLICY_DOCUMENT_TYPE", "refer", "this document type may not use the gate"),
    ("POLICY_NATIONALITY", "refer", "this nationality may not use the gate"),
    ("POLICY_DIRECTION", "refer", "the gate does not serve this direction of travel"),
    ("POLICY_UNDER_MINIMUM_AGE", "refer", "the traveller is below the gate's minimum age"),
    ("POLICY_AGE_UNKNOWN", "refer", "the date of birth is unknown, the age cannot be checked"),
    ("POLICY_EXPIRY_GRACE", "warn", "the document expired within the configured grace period"),
    ("POLICY_EXPIRY_UNKNOWN", "refer", "the date of expiry is unknown"),
    ("POLICY_VALIDITY_TOO_SHORT", "refer", "the document expires too soon for a departure"),
    ("POLICY_NOT_VERIFIED", "refer", "the document authenticity verdict is incomplete"),
    ("POLICY_CHIP_AUTH_REQUIRED", "refer", "neither active nor chip authentication passed"),
    ("POLICY_CRL_MISSING", "refer", "no CRL of the issuing CSCA, and the policy refers then"),
    ("POLICY_CRL_STALE", "refer", "the CRL of the issuing CSCA is past its nextUpdate"),
    ("POLICY_LISTS_STALE", "refer", "the cached watch list, registry or manifests are too old"),
    ("POLICY_LISTS_STALE_SERVED", "warn", "the cached lists are too old; served as configured"),
    ("POLICY_WATCHLIST_HIT", "refer", "the traveller matches a watch-list entry (discreet)"),
    ("POLICY_NOT_ENROLLED", "refer", "the traveller must be enrolled and is not in the registry"),
    ("POLICY_NOT_ON_MANIFEST", "refer", "the traveller is on no received passenger manifest"),
    ("POLICY_LIVENESS_NOT_DONE", "refer", "liveness is required and was not checked"),
    ("POLICY_FOREIGN_NATIONAL_RECORD", "ok", "the live portrait is kept (foreign-national record)"),
    # ---- passage
    ("PASSAGE_ABORTED", "abort", "the traveller left the gate before the passage completed"),
    ("PASSAGE_TAILGATING", "refer", "more than one person was detected in the gate"),
    ("PASSAGE_DOCUMENT_REMOVED", "abort", "the document was taken before the checks finished"),
    ("PASSAGE_WALKED_BACK", "abort", "the traveller turned back instead of entering"),
    ("PASSAGE_TIMEOUT_MRZ", "abort", "no MRZ arrived in time after the document was placed"),
    ("PASSAGE_TIMEOUT_CHIP", "refer", "the chip was not read and authenticated in time"),
    ("PASSAGE_TIMEOUT_ELIGIBILITY", "refer", "the verdict or the list screening came too late"),
    ("PASSAGE_TIMEOUT_ENTRY", "abort", "the entry was released but nobody entered in time"),
    ("PASSAGE_TIMEOUT_FACE", "refer", "no face verification in time"),
    ("PASSAGE_TIMEOUT_EXIT", "warn", "the accepted traveller did not leave in time"),
    ("PASSAGE_TIMEOUT_LEAVE", "warn", "the traveller did not leave back through the entry in time"),
    ("PASSAGE_TIMEOUT_OFFICER", "warn", "no officer decided in time; the way back was released"),
    ("PASSAGE_CONFINED", "warn", "someone stayed too long between closed barriers; released"),
    ("PASSAGE_OFFICER_LET_THROUGH", "ok", "an officer let the traveller through the exit"),
    ("PASSAGE_OFFICER_SENT_BACK", "ok", "an officer sent the traveller back through the entry"),
    # ---- devices and links
    ("CAMERA_NO_FRAMES", "fault", "the gate camera delivers no frames"),
    ("GATECTL_NO_ANSWER", "fault", "the gate controller does not answer"),
    ("GATECTL_FAULT", "fault", "the gate controller refused a command or reported a fault"),
    ("DOCREADER_NO_ANSWER", "fault", "the document reader does not answer"),
    ("DOCREADER_FAULT", "fault", "the document reader sends data that cannot be decoded"),
    ("PCSC_READER_MISSING", "fault", "the chip reader is not connected"),
    ("CENTRAL_UNREACHABLE", "fault", "the central service cannot be reached"),
    ("CENTRAL_CREDENTIAL_REFUSED", "fault", "the central service refuses the lane credential"),
    # ---- the lane itself
    (
        "LANE_DEVICE_FAULT",
        "abort",
        "a device failed during the passage; the lane goes out of service",
    ),
    ("LANE_EMERGENCY", "abort", "emergency opening (fire alarm or officer) ended the passage"),
    ("LANE_STOPPED", "abort", "the lane was stopped (shutdown or error) during the passage"),
    ("LANE_OUTBOX_HIGH_WATER", "warn", "the outbox is filling up: central has not taken events"),
    ("LANE_OUTBOX_FULL", "fault", "the outbox or its disk is full: travellers are not admitted"),
    ("LANE_LISTS_STALE", "warn", "the cached lists are older than allowed: central unreachable"),
)

REASONS: dict[str, Reason] = {}


def register(code: str, severity: Severity, explanation: str) -> Reason:
    """Add a code (modules of one family may register theirs next to their logic)."""
    if not CODE_PATTERN.fullmatch(code):
        raise ValueError(f"reason code {code!r} does not match {CODE_PATTERN.pattern}")
    if code in REASONS:
        raise ValueError(f"reason code {code!r} is registered twice")
    reason = Reason(code, severity, explanation)
    family_of(code)  # every code belongs to a documented family
    REASONS[code] = reason
    return reason


for _code, _severity, _text in _TABLE:
    register(_code, _severity, _text)


def get(code: str) -> Reason:
    try:
        return REASONS[code]
    except KeyError:
        raise UnknownReasonError(code) from None


def explain(code: str) -> str:
    return get(code).explanation


def markdown() -> str:
    """The reason-code catalogue as a Markdown document (docs/reason-codes.md)."""
    lines = [
        "# Reason codes",
        "",
        "Generated from `gate/reasons.py` by `egate reasons --markdown`; do not edit by hand.",
        "",
    ]
    by_family: dict[str, list[Reason]] = {}
    for reason in REASONS.values():
        by_family.setdefault(reason.family, []).append(reason)
    for family, title in FAMILIES.items():
        members = by_family.get(family)
        if not members:
            continue
        lines += [f"## `{family}_*`: {title}", "", "| code | severity | meaning |", "|---|---|---|"]
        lines += [f"| `{r.code}` | {r.severity} | {r.explanation} |" for r in members]
        lines.append("")
    return "\n".join(lines)
