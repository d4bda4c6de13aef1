"""The certification path of a Document Signer: issuer, validity, profiles, revocation and
country (ICAO 9303-11 section 5.1 steps 4-6, 9303-12 sections 7 and 9).

Pure: the trust pool, the moment of verification and the policy's switches come in, the path
and its findings ``(code, detail)`` go out; passive authentication adds them to its verdict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from asn1crypto import x509

from gate.emrtd.cms.sod import Sod
from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import CertificateError
from gate.emrtd.pki import profiles, revocation
from gate.emrtd.pki.profiles import Finding
from gate.emrtd.pki.trustpool import TrustPool
from gate.mrz.countries import alpha2

# Organisations with an ICAO 9303-3 issuing-state code whose CSCAs carry the ISO 3166-1
# "exceptionally reserved" alpha-2 code of the organisation (as in the ICAO PKD).
ORGANISATION_COUNTRIES: dict[str, str] = {"EUE": "EU", "UNO": "UN", "UNA": "UN"}


@dataclass
class PathResult:
    csca: x509.Certificate | None = None
    chain: list[x509.Certificate] = field(default_factory=list)
    """The issuers above the DSC: the CSCA or link certificate, then the CSCA of a link."""
    findings: list[Finding] = field(default_factory=list)
    ok: bool = False
    crl: str = "missing"  # "current", "stale", "missing" (revocation information)


def with_stored_signer(sod: Sod, pool: TrustPool) -> Sod:
    """``sod`` with its Document Signer(s) taken from the pool's DSC store when the EF.SOD
    does not embed them (V0 SODs of some states; the PKD publishes those DSCs). Each
    SignerInfo of a SOD that keeps several (``signers``) is completed the same way."""

    def lookup(part: Any) -> Any:
        if part.signer_certificate is not None:
            return part
        found = pool.find_dsc(
            issuer=part.signer_issuer, serial=part.signer_serial, key_id=part.signer_key_id
        )
        return part if found is None else dataclasses.replace(part, signer_certificate=found)

    completed = lookup(sod)
    parts = getattr(sod, "signers", None)
    if parts:
        completed = dataclasses.replace(completed, signers=tuple(lookup(p) for p in parts))
    return cast(Sod, completed)


def _self_signed(cert: x509.Certificate) -> bool:
    return certs.is_self_issued(cert) and revocation.signed_by(cert, cert)


def find_issuer(
    dsc: x509.Certificate, pool: TrustPool
) -> tuple[x509.Certificate | None, str | None]:
    unsupported = None
    for candidate in pool.issuers_of(dsc):
        try:
            if certs.verify_certificate(dsc, certs.cert_public_key(candidate)):
                return candidate, None
        except CertificateError as exc:
            unsupported = str(exc)
    return None, unsupported


def validate_dsc(
    dsc: x509.Certificate,
    pool: TrustPool,
    *,
    moment: datetime,
    signing_time: datetime | None,
    validity_model: str = "shell",
    require_crl: bool = False,
    check_country: bool = True,
) -> PathResult:
    """The path DSC -> CSCA (or link) [-> CSCA] checked; ``ok`` when nothing fails."""
    result = PathResult()
    csca, problem = find_issuer(dsc, pool)
    if csca is None:
        aki = certs.authority_key_identifier(dsc)
        result.findings.append(
            (
                "PA_CSCA_UNKNOWN",
                f"no trusted CSCA verifies DSC {dsc.subject.human_friendly}: missing CSCA is "
                f"'{dsc.issuer.human_friendly}'"
                + (f" (key id {aki.hex()})" if aki else "")
                + (f"; {problem}" if problem else "")
                + "; import the country's CSCA or master list with 'egate trust import'",
            )
        )
        return result
    result.csca = csca
    result.chain.append(csca)
    revocable = [("DSC", dsc)]
    link = not _self_signed(csca)
    if link:
        revocable.append(("link certificate", csca))
        for issuer in pool.issuers_of(csca):
            if (
                issuer.dump() != csca.dump()
                and _self_signed(issuer)
                and revocation.signed_by(csca, issuer)
            ):
                result.chain.append(issuer)
                break

    findings = result.findings
    findings += profiles.dsc_findings(dsc)
    findings += profiles.csca_findings(csca, "link certificate" if link else "CSCA")

    if validity_model == "shell":
        checks = [("DSC", dsc, moment), ("CSCA", csca, moment)]
    else:
        signed_at = signing_time or certs.not_before(dsc)
        checks = [("DSC", dsc, signed_at), ("CSCA", csca, certs.not_before(dsc))]
        findings += profiles.usage_period_findings(dsc, signed_at)
    for label, cert, when in checks:
        if when > certs.not_after(cert):
            findings.append(
                (
                    "PA_CERT_EXPIRED",
                    f"{label} {cert.subject.human_friendly} (serial {cert.serial_number:x}) "
                    f"expired on {certs.not_after(cert).date()}, checked at {when.date()} "
                    f"({validity_model} model)",
                )
            )
        elif when < certs.not_before(cert):
            findings.append(
                (
                    "PA_CERT_NOT_YET_VALID",
                    f"{label} {cert.subject.human_friendly} is valid only from "
                    f"{certs.not_before(cert).date()}, checked at {when.date()}",
                )
            )

    revoked = revocation.check(revocable, csca, pool, moment=moment, require_crl=require_crl)
    findings += revoked.findings
    result.crl = revoked.freshness

    dsc_country = certs.country_of(dsc.subject) or certs.country_of(dsc.issuer)
    csca_country = certs.country_of(csca.subject)
    if check_country and dsc_country and csca_country and dsc_country != csca_country:
        findings.append(
            (
                "PA_COUNTRY_MISMATCH",
                f"DSC country {dsc_country} differs from CSCA country {csca_country}",
            )
        )
    result.ok = not any(code in FAILING for code, _ in findings) and revoked.ok
    return result


# The codes of this module that fail the path (the others are warnings).
FAILING = frozenset(
    {
        "PA_CSCA_UNKNOWN",
        "PA_CERT_PROFILE",
        "PA_CERT_EXPIRED",
        "PA_CERT_NOT_YET_VALID",
        "PA_CERT_REVOKED",
        "PA_COUNTRY_MISMATCH",
        "PA_DOCUMENT_TYPE_NOT_ALLOWED",
    }
)


def document_findings(
    dsc: x509.Certificate, mrz: str, issuing_state: str, *, check_country: bool = True
) -> list[Finding]:
    """The document against its signer: the MRZ document code against the DSC's
    DocumentTypeList, and the issuing state against the DSC's country (9303-3 codes of
    organisations included; a code with no certificate country is reported, not skipped)."""
    findings = profiles.document_type_findings(dsc, mrz[:2])
    if not check_country:
        return findings
    state = issuing_state.replace("<", "").strip().upper()
    expected = alpha2(state) or ORGANISATION_COUNTRIES.get(state)
    dsc_country = certs.country_of(dsc.subject) or certs.country_of(dsc.issuer)
    if expected is None:
        findings.append(
            (
                "PA_COUNTRY_UNMAPPED",
                f"issuing state {state or issuing_state!r} has no certificate country (ICAO "
                f"9303-3); the DSC country {dsc_country or '(none)'} could not be compared",
            )
        )
    elif dsc_country and expected != dsc_country:
        findings.append(
            (
                "PA_COUNTRY_MISMATCH",
                f"issuing state {state} ({expected}) differs from the DSC country {dsc_country}",
            )
        )
    return findings
