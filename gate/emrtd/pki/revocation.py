"""Revocation of a certification path by the CSCA's CRLs (ICAO 9303-12 section 7.1.4).

A CRL counts when it verifies with the key of the issuing CSCA or any key linked to it by
link certificates (key rollover: after a rollover the CSCA signs its CRL with the new key,
and that CRL also covers the Document Signers issued under the old key). Delta CRLs are not
used (9303-12 allows complete CRLs only). A CRL past its nextUpdate still revokes what it
lists, but the path then has no *current* revocation information.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import crl, x509

from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import DER_ERRORS, CertificateError, raise_if_bug
from gate.emrtd.pki.profiles import Finding
from gate.emrtd.pki.trustpool import TrustPool


def signed_by(cert: x509.Certificate, signer: x509.Certificate) -> bool:
    """Whether ``signer``'s key signed ``cert`` (and names match)."""
    if not certs.same_name(cert.issuer, signer.subject):
        return False
    try:
        return certs.verify_certificate(cert, certs.cert_public_key(signer))
    except CertificateError:
        return False


def key_family(issuer: x509.Certificate, pool: TrustPool) -> list[x509.Certificate]:
    """``issuer`` and the stored certificates of its name whose keys link certificates tie to
    it, in either direction (old key certified the new one, or the other way round)."""
    family = [issuer]
    keys = {issuer.public_key.dump()}
    candidates = pool.same_subject(issuer)
    changed = True
    while changed:
        changed = False
        for cand in candidates:
            key = cand.public_key.dump()
            if key in keys:
                continue
            if any(signed_by(cand, f) or signed_by(f, cand) for f in family):
                family.append(cand)
                keys.add(key)
                changed = True
    return family


def crl_profile_problem(lst: crl.CertificateList) -> str | None:
    """Why a CRL cannot be used (9303-12 section 7.1.4: no delta CRLs; critical extensions
    must be understood), or None."""
    try:
        extensions = list(lst["tbs_cert_list"]["crl_extensions"])
        for ext in extensions:
            oid = ext["extn_id"].dotted
            if oid == "2.5.29.27":
                return "a delta CRL (deltaCRLIndicator); ICAO 9303-12 allows complete CRLs only"
            if ext["critical"].native and oid not in ("2.5.29.20", "2.5.29.35"):
                return f"critical CRL extension {oid} is not understood"
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        return f"CRL extensions cannot be decoded ({exc})"
    return None


def revoked_serials(lst: crl.CertificateList) -> set[int]:
    return {int(r["user_certificate"].native) for r in lst["tbs_cert_list"]["revoked_certificates"]}


@dataclass
class RevocationResult:
    findings: list[Finding] = field(default_factory=list)
    ok: bool = True
    freshness: str = "current"  # "current", "stale", "missing"


def check(
    path: list[tuple[str, x509.Certificate]],
    issuer: x509.Certificate,
    pool: TrustPool,
    *,
    moment: datetime,
    require_crl: bool,
) -> RevocationResult:
    """Revocation of every certificate of ``path`` (label, certificate: the DSC and a link
    certificate) by the CRLs of ``issuer``'s key family."""
    result = RevocationResult()
    family = key_family(issuer, pool)
    lists: list[crl.CertificateList] = []
    seen: set[bytes] = set()
    for member in family:
        for lst in pool.crls_for(member):
            der = lst.dump()
            if der in seen or crl_profile_problem(lst):
                continue
            seen.add(der)
            for key_holder in family:
                try:
                    if certs.verify_crl(lst, key_holder):
                        lists.append(lst)
                        break
                except CertificateError:
                    continue
    for label, cert in path:
        for lst in lists:
            if certs.same_name(lst.issuer, cert.issuer) and cert.serial_number in revoked_serials(
                lst
            ):
                result.findings.append(
                    (
                        "PA_CERT_REVOKED",
                        f"{label} {cert.subject.human_friendly} serial {cert.serial_number:x} is "
                        f"on the CRL of {lst.issuer.human_friendly} of "
                        f"{lst['tbs_cert_list']['this_update'].native.date()}",
                    )
                )
                result.ok = False
                break
    name = issuer.subject.human_friendly
    if not lists:
        result.freshness = "missing"
        detail = f"no CRL of {name} in the trust store"
        result.findings.append(("PA_CRL_MISSING", detail))
        if require_crl:
            result.findings.append(
                ("PA_CERT_REVOKED", detail + "; policy requires one (require_crl)")
            )
            result.ok = False
        return result
    next_updates = [lst["tbs_cert_list"]["next_update"].native for lst in lists]
    if not any(n is not None and n >= moment for n in next_updates):
        result.freshness = "stale"
        latest = max((n for n in next_updates if n is not None), default=None)
        detail = (
            f"the newest CRL of {name} was due to be replaced on {latest.date()}"
            if latest
            else f"the CRL of {name} has no nextUpdate"
        ) + f" (checked at {moment.date()}): revocations since then are unknown"
        result.findings.append(("PA_CRL_STALE", detail))
        if require_crl:
            result.findings.append(
                ("PA_CERT_REVOKED", detail + "; policy requires a current CRL (require_crl)")
            )
            result.ok = False
    return result
