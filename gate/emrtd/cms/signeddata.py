"""The parts of a CMS SignedData (RFC 5652) that EF.SOD and CSCA master lists share: the
embedded certificates, the signer's certificate named by the SignerIdentifier, and the signed
attributes with the exact bytes the signature covers. One reader for both, so that a quirk
seen in the field (an issuer name with its RDNs in another order) is handled in one place.

Errors: asn1crypto's, from the lazily parsed structures; callers turn them into their domain
error (``DER_ERRORS`` + ``raise_if_bug``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms, x509

from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import DER_ERRORS, raise_if_bug
from gate.emrtd.iso7816 import tlv


def embedded_certificates(signed: cms.SignedData) -> list[x509.Certificate]:
    """The X.509 certificates the SignedData carries (other certificate kinds are skipped)."""
    if signed["certificates"].native is None:
        return []
    return [c.chosen for c in signed["certificates"] if c.name == "certificate"]


@dataclass(frozen=True)
class SignerMatch:
    certificate: x509.Certificate
    reordered_issuer: bool
    """The SignerInfo names the issuer with its RDNs in another order (seen in MY passports)."""


@dataclass(frozen=True)
class SignerId:
    """A SignerIdentifier: issuer and serial number, or a subject key identifier."""

    issuer: x509.Name | None
    serial: int | None
    key_id: bytes | None


def signer_id(sid: cms.SignerIdentifier) -> SignerId:
    if sid.name == "issuer_and_serial_number":
        return SignerId(sid.chosen["issuer"], int(sid.chosen["serial_number"].native), None)
    return SignerId(None, None, bytes(sid.chosen.native))


def find_signer(
    candidates: Sequence[x509.Certificate], sid: cms.SignerIdentifier | SignerId
) -> SignerMatch | None:
    """The certificate among ``candidates`` that ``sid`` (issuer and serial number, or subject
    key identifier) names; an exact issuer match first, then one with reordered RDNs."""
    ident = sid if isinstance(sid, SignerId) else signer_id(sid)
    issuer, serial = ident.issuer, ident.serial
    if issuer is not None:
        for cert in candidates:
            if cert.issuer == issuer and cert.serial_number == serial:
                return SignerMatch(cert, reordered_issuer=False)
        for cert in candidates:
            if cert.serial_number == serial and certs.same_name(cert.issuer, issuer):
                return SignerMatch(cert, reordered_issuer=True)
        return None
    for cert in candidates:
        if certs.key_identifier(cert) == ident.key_id:
            return SignerMatch(cert, reordered_issuer=False)
    return None


@dataclass(frozen=True)
class SignedAttributes:
    der: bytes
    """The attributes re-tagged as a SET (0x31): what the signature covers (RFC 5652 5.4)."""
    content_type: str | None
    message_digest: bytes | None
    signing_time: str | None
    sorted_der: bytes | None = None
    """Their DER re-encoding (each attribute in DER, the SET OF sorted, X.690 11.6) when it
    differs from ``der``: some signers sign that instead of the bytes they store (JMRTD and
    pymrtd accept it)."""


def signed_attributes(signer: cms.SignerInfo) -> SignedAttributes | None:
    """The signer's signed attributes, or None when it signs the content directly."""
    attrs = signer["signed_attrs"]
    if attrs.native is None:
        return None
    content_type = message_digest = signing_time = None
    for attr in attrs:
        kind = attr["type"].native
        values = attr["values"]
        if kind == "content_type":
            content_type = values[0].dotted
        elif kind == "message_digest":
            message_digest = bytes(values[0].native)
        elif kind == "signing_time":
            signing_time = values[0].native.isoformat()
    der = tlv.encode(0x31, bytes(attrs.contents))
    try:
        canonical: bytes | None = tlv.encode(
            0x31, b"".join(sorted(bytes(a.dump(force=True)) for a in attrs))
        )
    except DER_ERRORS as exc:  # attributes that cannot be re-encoded: only the stored bytes
        raise_if_bug(exc)
        canonical = None
    return SignedAttributes(
        der,
        content_type,
        message_digest,
        signing_time,
        sorted_der=canonical if canonical not in (None, der) else None,
    )
