"""The document-authenticity verdict: one object, stable reason codes, officer-readable detail.

Reason codes are part of the interface (events, policy, dashboard) and live in gate/reasons.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gate import reasons as reason_registry
from gate.emrtd.crypto.certs import CertSummary

# The codes and their meanings live in the one registry, gate/reasons.py.
REASONS = reason_registry.REASONS

ProofOutcome = Literal["passed", "failed", "not_completed", "not_supported"]
"""How a chip proof (AA, CA) ended. Only "failed" is evidence: a signature or a key agreement
that verifiably did not work. "not_completed" (transport error, refused command, truncated
answer, unsupported key) says nothing about the chip and is the policy's call."""

Status = Literal["passed", "failed", "not_verified"]


def _outcome(ok: bool | ProofOutcome | None) -> ProofOutcome:
    if ok is None:
        return "not_supported"
    if isinstance(ok, bool):
        return "passed" if ok else "failed"
    return ok


@dataclass(frozen=True)
class Finding:
    code: str
    detail: str

    @property
    def severity(self) -> str:
        return reason_registry.get(self.code).severity

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "detail": self.detail}


@dataclass(frozen=True)
class DataGroupResult:
    number: int
    status: str  # "match", "mismatch", "not_in_sod", "not_read"
    expected: str | None
    actual: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AuthenticityVerdict:
    """Everything the gate and the officer need to know about a document's authenticity."""

    findings: list[Finding] = field(default_factory=list)
    chain: list[CertSummary] = field(default_factory=list)
    data_groups: list[DataGroupResult] = field(default_factory=list)
    sod_hash_algorithm: str | None = None
    issuing_state: str | None = None
    checked_at: str | None = None

    def add(self, code: str, detail: str) -> None:
        reason_registry.get(code)  # UnknownReasonError for a code nobody registered
        self.findings.append(Finding(code, detail))

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def passive_ok(self) -> bool:
        """PA_OK is recorded only when no passive-authentication check failed."""
        return "PA_OK" in self.codes

    @property
    def status(self) -> Status:
        """ "failed": a check failed; "not_verified": nothing failed but something could not
        be verified (passive authentication incomplete, AA/CA not completed, a data group not
        returned); "passed": everything checked passed."""
        severities = {f.severity for f in self.findings}
        if "fail" in severities:
            return "failed"
        if not self.passive_ok or "refer" in severities or "abort" in severities:
            return "not_verified"
        return "passed"

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    @property
    def check_outcome(self) -> str:
        """The status as an event check outcome: pass, fail or refer."""
        return {"passed": "pass", "failed": "fail", "not_verified": "refer"}[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "passive_authentication": self.passive_ok,
            "codes": self.codes,
            "findings": [f.to_dict() for f in self.findings],
            "chain": [c.to_dict() for c in self.chain],
            "data_groups": [d.to_dict() for d in self.data_groups],
            "sod_hash_algorithm": self.sod_hash_algorithm,
            "issuing_state": self.issuing_state,
            "checked_at": self.checked_at,
        }

    def record_active_auth(self, ok: bool | ProofOutcome | None, detail: str) -> None:
        """``ok``: a :data:`ProofOutcome` (True/False/None stand for passed/failed/not
        supported). A verified failure on a document that passed passive authentication means
        the data were copied onto another chip; anything short of that is AA_NOT_COMPLETED."""
        outcome = _outcome(ok)
        if outcome == "not_supported":
            self.add("AA_NOT_SUPPORTED", detail)
        elif outcome == "passed":
            self.add("AA_OK", detail)
        elif outcome == "not_completed":
            self.add("AA_NOT_COMPLETED", detail)
        else:
            self.add("AA_FAILED", detail)
            if self.passive_ok:
                self.add("CHIP_CLONE_SUSPECTED", "genuine signed data, but AA failed: " + detail)

    def record_chip_auth(self, ok: bool | ProofOutcome, detail: str) -> None:
        """Chip authentication counts only when passive authentication passed (the DG14 key
        is trusted only through the SOD); only a key agreement that verifiably failed is a
        clone."""
        outcome = _outcome(ok)
        if not self.passive_ok:
            self.add("CA_NOT_COUNTED", detail)
        elif outcome == "passed":
            self.add("CA_OK", detail)
        elif outcome == "failed":
            self.add("CA_FAILED", detail)
            self.add("CHIP_CLONE_SUSPECTED", "genuine signed data, but CA failed: " + detail)
        else:
            self.add("CA_NOT_COMPLETED", detail)
