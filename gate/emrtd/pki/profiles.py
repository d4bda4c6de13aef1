"""ICAO 9303-12 certificate profiles (section 7.1, tables 6-8): what a Document Signer, a CSCA
and a link certificate must carry, read from their extensions.

A finding is ``(code, detail)``: ``PA_CERT_PROFILE`` (fail) for what makes a certificate unfit
for its role (a DSC that may not sign, a CSCA that may not certify, an unknown critical
extension, RFC 5280 section 4.2), ``PA_CERT_PROFILE_DEVIATION`` (warn) for omissions that
real states' certificates show and that do not change what the key may do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from asn1crypto import core, x509

from gate.emrtd.docauth_errors import DER_ERRORS, raise_if_bug

Finding = tuple[str, str]

OID_DOCUMENT_TYPE_LIST = "2.23.136.1.1.6.2"
OID_NAME_CHANGE = "2.23.136.1.1.6.1"
OID_MASTER_LIST_SIGNER_EKU = "2.23.136.1.1.3"
OID_DEVIATION_LIST_SIGNER_EKU = "2.23.136.1.1.8"

# Extensions whose meaning is understood here (or harmless to act upon); any other extension
# marked critical makes the certificate unusable (RFC 5280 section 4.2).
_UNDERSTOOD = frozenset(
    {
        "2.5.29.14",  # subjectKeyIdentifier
        "2.5.29.15",  # keyUsage
        "2.5.29.16",  # privateKeyUsagePeriod
        "2.5.29.17",  # subjectAltName
        "2.5.29.18",  # issuerAltName
        "2.5.29.19",  # basicConstraints
        "2.5.29.31",  # cRLDistributionPoints
        "2.5.29.32",  # certificatePolicies (no policy is required by 9303)
        "2.5.29.35",  # authorityKeyIdentifier
        "2.5.29.37",  # extendedKeyUsage
        OID_DOCUMENT_TYPE_LIST,
        OID_NAME_CHANGE,
    }
)


class DocumentTypeList(core.Sequence):
    """9303-12 section 7.1.1.3: ``SEQUENCE { version INTEGER, docTypeList SET OF
    PrintableString }`` (the document codes of the MRZ a DSC may sign, e.g. "P", "ID")."""

    _fields = [  # noqa: RUF012 (asn1crypto's declarative API)
        ("version", core.Integer),
        ("doc_type_list", core.SetOf, {"spec": core.PrintableString}),
    ]


@dataclass(frozen=True)
class Extensions:
    """The extensions of a certificate that the profiles look at."""

    key_usage: frozenset[str] | None
    ca: bool | None  # None: no basicConstraints
    eku: frozenset[str] | None
    unknown_critical: tuple[str, ...]
    document_types: frozenset[str] | None
    key_usage_period: tuple[datetime | None, datetime | None] | None
    malformed: tuple[str, ...]
    deviations: tuple[str, ...] = ()


def extensions(cert: x509.Certificate) -> Extensions:
    key_usage = ca = eku = doc_types = period = None
    unknown: list[str] = []
    malformed: list[str] = []
    deviations: list[str] = []
    try:
        items = list(cert["tbs_certificate"]["extensions"])
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        return Extensions(None, None, None, (), None, None, (f"extensions ({exc})",))
    for ext in items:
        try:
            oid = ext["extn_id"].dotted
            critical = bool(ext["critical"].native)
            if oid == "2.5.29.15":
                key_usage = frozenset(ext["extn_value"].parsed.native)
            elif oid == "2.5.29.19":
                ca = bool(ext["extn_value"].parsed["ca"].native)
            elif oid == "2.5.29.37":
                eku = frozenset(p.dotted for p in ext["extn_value"].parsed)
            elif oid == "2.5.29.16":
                value = ext["extn_value"].parsed
                period = (value["not_before"].native, value["not_after"].native)
            elif oid == OID_DOCUMENT_TYPE_LIST:
                doc_types, lax = _document_types(bytes(ext["extn_value"].native))
                if lax:
                    deviations.append(lax)
            if critical and oid not in _UNDERSTOOD:
                unknown.append(oid)
        except DER_ERRORS as exc:
            raise_if_bug(exc)
            what = f"{ext['extn_id'].dotted} ({type(exc).__name__})"
            (malformed if ext["critical"].native else deviations).append(f"malformed {what}")
    return Extensions(
        key_usage, ca, eku, tuple(unknown), doc_types, period, tuple(malformed), tuple(deviations)
    )


class _PrintableStrings(core.SequenceOf):
    _child_spec = core.PrintableString


def _document_types(value: bytes) -> tuple[frozenset[str], str | None]:
    """The document types of a DocumentTypeList, and a deviation when it is encoded as a bare
    SEQUENCE OF PrintableString without version (seen on Philippine DSCs)."""
    try:
        parsed = DocumentTypeList.load(value, strict=True)
        return frozenset(str(t.native) for t in parsed["doc_type_list"]), None
    except DER_ERRORS as exc:
        raise_if_bug(exc)
    bare = _PrintableStrings.load(value, strict=True)
    return (
        frozenset(str(t.native) for t in bare),
        "DocumentTypeList is a SEQUENCE OF PrintableString without version (9303-12 7.1.1.3)",
    )


def _common(label: str, ext: Extensions) -> list[Finding]:
    out = []
    for oid in ext.unknown_critical:
        out.append(("PA_CERT_PROFILE", f"{label} has the critical extension {oid}, not understood"))
    for what in ext.malformed:
        out.append(("PA_CERT_PROFILE", f"{label}: critical extension {what}"))
    for what in ext.deviations:
        out.append(("PA_CERT_PROFILE_DEVIATION", f"{label}: {what}"))
    return out


def dsc_findings(cert: x509.Certificate) -> list[Finding]:
    """9303-12 table 6 (Document Signer): keyUsage digitalSignature only, not a CA."""
    label = f"DSC {cert.subject.human_friendly}"
    ext = extensions(cert)
    out = _common(label, ext)
    if ext.key_usage is None:
        out.append(("PA_CERT_PROFILE_DEVIATION", f"{label} has no keyUsage extension"))
    elif "digital_signature" not in ext.key_usage:
        out.append(
            (
                "PA_CERT_PROFILE",
                f"{label} keyUsage {sorted(ext.key_usage)} lacks digitalSignature: the key may "
                "not sign documents",
            )
        )
    if ext.ca:
        out.append(("PA_CERT_PROFILE", f"{label} is a CA certificate (basicConstraints cA)"))
    return out


def csca_findings(cert: x509.Certificate, role: str = "CSCA") -> list[Finding]:
    """9303-12 table 6 (CSCA, link): keyCertSign and cRLSign, basicConstraints cA."""
    label = f"{role} {cert.subject.human_friendly}"
    ext = extensions(cert)
    out = _common(label, ext)
    if ext.key_usage is None:
        out.append(("PA_CERT_PROFILE_DEVIATION", f"{label} has no keyUsage extension"))
    elif "key_cert_sign" not in ext.key_usage:
        out.append(
            (
                "PA_CERT_PROFILE",
                f"{label} keyUsage {sorted(ext.key_usage)} lacks keyCertSign: the key may not "
                "certify Document Signers",
            )
        )
    elif "crl_sign" not in ext.key_usage:
        out.append(("PA_CERT_PROFILE_DEVIATION", f"{label} keyUsage lacks cRLSign"))
    if ext.ca is None:
        out.append(("PA_CERT_PROFILE_DEVIATION", f"{label} has no basicConstraints extension"))
    elif not ext.ca:
        out.append(("PA_CERT_PROFILE", f"{label} is not a CA certificate (basicConstraints)"))
    return out


def is_ca(cert: x509.Certificate) -> bool:
    """A CA certificate by basicConstraints (what a link certificate must be)."""
    return bool(extensions(cert).ca)


def document_type_findings(cert: x509.Certificate, document_code: str) -> list[Finding]:
    """The DocumentTypeList of a DSC against the MRZ document code (``P<``, ``ID``, ``I<``...):
    the code, fillers stripped, must be listed, or start with a listed one-letter type."""
    types = extensions(cert).document_types
    if types is None:
        return []
    code = document_code.replace("<", "").upper()
    if code in types or (code[:1] in types and len(code[:1]) == 1):
        return []
    return [
        (
            "PA_DOCUMENT_TYPE_NOT_ALLOWED",
            f"DSC {cert.subject.human_friendly} may sign only document types "
            f"{sorted(types)}, this document's code is {document_code!r}",
        )
    ]


def usage_period_findings(cert: x509.Certificate, signed_at: datetime) -> list[Finding]:
    """The privateKeyUsagePeriod of a DSC against the moment the SOD was signed (chain model)."""
    period = extensions(cert).key_usage_period
    if period is None:
        return []
    start, end = period
    label = f"DSC {cert.subject.human_friendly}"
    if end is not None and signed_at > end:
        return [
            (
                "PA_CERT_EXPIRED",
                f"{label}: the SOD was signed on {signed_at.date()}, after the private key "
                f"usage period ended on {end.date()}",
            )
        ]
    if start is not None and signed_at < start:
        return [
            (
                "PA_CERT_NOT_YET_VALID",
                f"{label}: the SOD was signed on {signed_at.date()}, before the private key "
                f"usage period began on {start.date()}",
            )
        ]
    return []


def has_eku(cert: x509.Certificate, oid: str) -> bool:
    eku = extensions(cert).eku
    return eku is not None and oid in eku
