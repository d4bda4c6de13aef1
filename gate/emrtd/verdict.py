"""The document-authenticity verdict: one object, stable reason codes, officer-readable detail.

Reason codes are part of the interface (events, policy, dashboard): never rename one; add new
ones at the end of :data:`REASONS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gate.emrtd.certs import CertSummary

# code -> (severity, meaning). "fail" makes the verdict fail, "warn" is shown to the officer.
REASONS: dict[str, tuple[str, str]] = {
    "PA_OK": ("ok", "passive authentication passed: data groups, signature and chain are valid"),
    "PA_SOD_MALFORMED": ("fail", "EF.SOD cannot be parsed"),
    "PA_DG_HASH_MISMATCH": ("fail", "a data group does not match its hash in EF.SOD (altered)"),
    "PA_DG_NOT_IN_SOD": ("fail", "a data group was read that EF.SOD does not list"),
    "PA_SIGNATURE_INVALID": ("fail", "the EF.SOD signature does not verify with the DSC"),
    "PA_DSC_MISSING": ("fail", "EF.SOD embeds no Document Signer certificate"),
    "PA_CSCA_UNKNOWN": ("fail", "no trusted CSCA certificate issued the Document Signer"),
    "PA_CERT_EXPIRED": ("fail", "a certificate of the chain is outside its validity"),
    "PA_CERT_NOT_YET_VALID": ("fail", "a certificate of the chain is not valid yet"),
    "PA_CERT_REVOKED": ("fail", "the Document Signer certificate is revoked by a CRL"),
    "PA_CRL_MISSING": ("warn", "no current CRL of the issuing CSCA is in the trust store"),
    "PA_COUNTRY_MISMATCH": ("fail", "issuing state, DSC and CSCA countries differ"),
    "PA_ALGORITHM_UNSUPPORTED": ("fail", "a hash, signature algorithm or curve is unsupported"),
    "PA_SOD_WARNING": ("warn", "EF.SOD deviates from ICAO 9303 but could be verified"),
    "MRZ_DG1_MISMATCH": ("fail", "the MRZ on the data page differs from DG1 on the chip"),
    "DOCUMENT_EXPIRED": ("fail", "the document is past its date of expiry"),
    "DG1_MISSING": ("warn", "DG1 was not supplied: MRZ and expiry were not checked"),
    "AA_OK": ("ok", "active authentication passed: the chip holds the DG15 private key"),
    "AA_FAILED": ("fail", "active authentication failed"),
    "AA_NOT_SUPPORTED": ("warn", "the chip offers no active authentication (no DG15)"),
    "CA_OK": ("ok", "chip authentication passed and secure messaging restarted"),
    "CA_FAILED": ("fail", "chip authentication failed"),
    "CA_NOT_COUNTED": ("warn", "chip authentication ignored because passive authentication failed"),
    "CHIP_CLONE_SUSPECTED": ("fail", "valid data but the chip cannot prove its key: likely clone"),
    "DG1_UNREADABLE": ("fail", "DG1 holds no readable MRZ"),
}


@dataclass(frozen=True)
class Finding:
    code: str
    detail: str

    @property
    def severity(self) -> str:
        return REASONS[self.code][0]

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
class Verdict:
    """Everything the gate and the officer need to know about a document's authenticity."""

    findings: list[Finding] = field(default_factory=list)
    chain: list[CertSummary] = field(default_factory=list)
    data_groups: list[DataGroupResult] = field(default_factory=list)
    sod_hash_algorithm: str | None = None
    issuing_state: str | None = None
    checked_at: str | None = None

    def add(self, code: str, detail: str) -> None:
        if code not in REASONS:
            raise KeyError(f"unknown reason code {code!r}")
        self.findings.append(Finding(code, detail))

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def passive_ok(self) -> bool:
        """PA_OK is recorded only when no passive-authentication check failed."""
        return "PA_OK" in self.codes

    @property
    def ok(self) -> bool:
        return self.passive_ok and not any(f.severity == "fail" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "passive_authentication": self.passive_ok,
            "codes": self.codes,
            "findings": [f.to_dict() for f in self.findings],
            "chain": [c.to_dict() for c in self.chain],
            "data_groups": [d.to_dict() for d in self.data_groups],
            "sod_hash_algorithm": self.sod_hash_algorithm,
            "issuing_state": self.issuing_state,
            "checked_at": self.checked_at,
        }

    def record_active_auth(self, ok: bool | None, detail: str) -> None:
        """``ok`` None: the chip does not support AA. A failure on a document that passed
        passive authentication means the data were copied onto another chip."""
        if ok is None:
            self.add("AA_NOT_SUPPORTED", detail)
        elif ok:
            self.add("AA_OK", detail)
        else:
            self.add("AA_FAILED", detail)
            if self.passive_ok:
                self.add("CHIP_CLONE_SUSPECTED", "genuine signed data, but AA failed: " + detail)

    def record_chip_auth(self, ok: bool, detail: str) -> None:
        """Chip authentication counts only when passive authentication passed (the DG14 key
        is trusted only through the SOD)."""
        if not self.passive_ok:
            self.add("CA_NOT_COUNTED", detail)
        elif ok:
            self.add("CA_OK", detail)
        else:
            self.add("CA_FAILED", detail)
            self.add("CHIP_CLONE_SUSPECTED", "genuine signed data, but CA failed: " + detail)
