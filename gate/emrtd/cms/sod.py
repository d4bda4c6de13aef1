"""EF.SOD, the document security object (ICAO 9303-10 4.6.2, 9303-12 appendix B).

EF.SOD is ``77 L ContentInfo`` where the ContentInfo is a CMS SignedData (RFC 5652), version
3, with one SignerInfo, the Document Signer certificate embedded, and as eContent an
LDSSecurityObject listing the hash of every data group. BER (indefinite lengths, constructed
OCTET STRINGs) is accepted, as some states issue it (the NZ sample).

:func:`parse_sod` only parses and checks structure; verification lives in
:mod:`gate.emrtd.auth.passive`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import algos, cms, core, parser, x509

from gate.emrtd.cms import signeddata
from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import (
    DER_ERRORS,
    SodContentTypeError,
    SodEncodingError,
    SodError,
    SodStructureError,
    SodVersionError,
    raise_if_bug,
)
from gate.emrtd.lds import lds

OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
OID_ID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
SOD_TAG = lds.SOD_TAG


class DataGroupHash(core.Sequence):
    _fields = [  # noqa: RUF012 (asn1crypto's declarative API)
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):
    _child_spec = DataGroupHash


class LDSVersionInfo(core.Sequence):
    _fields = [  # noqa: RUF012
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LDSSecurityObject(core.Sequence):
    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LDSVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class SignerPart:
    """One SignerInfo of EF.SOD with the certificate it names."""

    digest_algorithm: str
    signature_algorithm: algos.SignedDigestAlgorithm
    signature: bytes
    signed_attributes: bytes | None
    """DER of the signed attributes as a SET OF (what the signature covers), if present."""
    signed_attributes_sorted: bytes | None
    """Their DER re-encoding (sorted SET OF) when it differs: an accepted alternative."""
    content_type_attribute: str | None
    message_digest_attribute: bytes | None
    signing_time: str | None
    signer_certificate: x509.Certificate | None
    signer_issuer: x509.Name | None
    signer_serial: int | None
    signer_key_id: bytes | None


@dataclass(frozen=True)
class Sod:
    """A parsed EF.SOD. ``signed_data`` is the hashed/signed content, ready to verify."""

    raw: bytes
    lds_object_version: int
    hash_algorithm: str
    dg_hashes: dict[int, bytes]
    lds_version: str | None
    unicode_version: str | None
    econtent_type: str
    econtent: bytes
    digest_algorithm: str
    signature_algorithm: algos.SignedDigestAlgorithm
    signature: bytes
    signed_attributes: bytes | None
    """DER of the signed attributes as a SET OF (what the signature covers), if present."""
    content_type_attribute: str | None
    message_digest_attribute: bytes | None
    signing_time: str | None
    signer_certificate: x509.Certificate | None
    certificates: tuple[x509.Certificate, ...]
    signer_issuer: x509.Name | None
    signer_serial: int | None
    signer_key_id: bytes | None
    warnings: tuple[str, ...] = field(default=())
    signers: tuple[SignerPart, ...] = field(default=())
    """Every SignerInfo (ICAO 9303 requires one; the fields above are the first one's)."""


def _unwrap(data: bytes, strict: bool, warnings: list[str]) -> bytes:
    if not data:
        raise SodEncodingError("EF.SOD is empty: read the file again")
    if data[0] != SOD_TAG:
        raise SodEncodingError(
            f"EF.SOD starts with tag {data[0]:02X}, expected 77: this is not a document "
            "security object (wrong file read?)"
        )
    try:
        # The raw BER parser, not core.Any: Any maps tag number 23 to UTCTime and re-encodes,
        # which rejected a length ending in 0x80 and the indefinite form (1 SOD in 256).
        class_, method, number, header, contents, trailer = parser.parse(data)
        used = len(header) + len(contents) + len(trailer)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise SodEncodingError(f"EF.SOD tag 77 is not valid BER ({exc})") from exc
    if (class_, method, number) != (1, 1, SOD_TAG & 0x1F):
        raise SodEncodingError("EF.SOD tag 77 must be an application-class constructed object")
    if used < len(data):
        trailing = data[used:]
        if strict:
            raise SodEncodingError(
                f"EF.SOD has {len(trailing)} byte(s) of trailing data after the tag 77 object"
            )
        warnings.append(f"{len(trailing)} trailing byte(s) after EF.SOD ignored")
    if not contents:
        raise SodEncodingError("EF.SOD tag 77 has no contents")
    return bytes(contents)


def parse_sod(data: bytes, *, strict: bool = False) -> Sod:
    """Parse EF.SOD bytes. ``strict`` also rejects trailing bytes and the id-data eContent type
    that some states (e.g. CN) use instead of id-icao-ldsSecurityObject."""
    try:
        return _parse(data, strict)
    except SodError:
        raise
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise SodStructureError(
            f"EF.SOD is not a valid CMS SignedData ({type(exc).__name__}: {exc})"
        ) from exc


def _parse(data: bytes, strict: bool) -> Sod:
    warnings: list[str] = []
    inner = _unwrap(bytes(data), strict, warnings)
    try:
        info = cms.ContentInfo.load(inner, strict=True)
        content_type = info["content_type"].dotted
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise SodEncodingError(f"EF.SOD does not hold a CMS ContentInfo ({exc})") from exc
    if content_type != OID_SIGNED_DATA:
        raise SodContentTypeError(
            f"EF.SOD ContentInfo has content type {content_type}, expected signedData "
            f"({OID_SIGNED_DATA})"
        )
    signed = info["content"]
    version = signed["version"].native
    if version != "v3":
        raise SodVersionError(f"EF.SOD SignedData has version {version}, ICAO 9303 requires v3")
    encap = signed["encap_content_info"]
    econtent_type = encap["content_type"].dotted
    if econtent_type == OID_ID_DATA:
        if strict:
            raise SodContentTypeError(
                "EF.SOD eContent type is id-data; strict parsing requires "
                f"id-icao-ldsSecurityObject ({OID_LDS_SECURITY_OBJECT})"
            )
        warnings.append("eContent type is id-data instead of id-icao-ldsSecurityObject")
    elif econtent_type != OID_LDS_SECURITY_OBJECT:
        raise SodContentTypeError(
            f"EF.SOD eContent type is {econtent_type}, expected id-icao-ldsSecurityObject "
            f"({OID_LDS_SECURITY_OBJECT})"
        )
    if encap["content"].native is None:
        raise SodStructureError("EF.SOD carries no LDSSecurityObject (detached content)")
    econtent = bytes(encap["content"])
    lds = _parse_lds(econtent)

    signer_infos = signed["signer_infos"]
    if len(signer_infos) == 0:
        raise SodStructureError("EF.SOD has no SignerInfo")
    if len(signer_infos) > 1:
        if strict:
            raise SodStructureError(
                f"EF.SOD has {len(signer_infos)} SignerInfos, ICAO 9303 requires exactly one"
            )
        warnings.append(f"{len(signer_infos)} SignerInfos (ICAO 9303 requires one): each verified")
    certificates: list[x509.Certificate] = []
    for cert in signeddata.embedded_certificates(signed):
        try:
            _ = cert.subject.native, cert.serial_number, cert.issuer.native
        except DER_ERRORS as exc:
            raise_if_bug(exc)
            raise SodStructureError(f"EF.SOD embeds an unreadable certificate ({exc})") from exc
        certificates.append(cert)
    signers = tuple(_signer(info, certificates, warnings) for info in signer_infos)
    first = signers[0]
    return Sod(
        raw=bytes(data),
        lds_object_version=lds[0],
        hash_algorithm=lds[1],
        dg_hashes=lds[2],
        lds_version=lds[3],
        unicode_version=lds[4],
        econtent_type=econtent_type,
        econtent=econtent,
        digest_algorithm=first.digest_algorithm,
        signature_algorithm=first.signature_algorithm,
        signature=first.signature,
        signed_attributes=first.signed_attributes,
        content_type_attribute=first.content_type_attribute,
        message_digest_attribute=first.message_digest_attribute,
        signing_time=first.signing_time,
        signer_certificate=first.signer_certificate,
        certificates=tuple(certificates),
        signer_issuer=first.signer_issuer,
        signer_serial=first.signer_serial,
        signer_key_id=first.signer_key_id,
        warnings=tuple(warnings),
        signers=signers,
    )


def _signer(
    signer: cms.SignerInfo, certificates: list[x509.Certificate], warnings: list[str]
) -> SignerPart:
    ident = signeddata.signer_id(signer["sid"])
    match = signeddata.find_signer(certificates, ident)
    if match and match.reordered_issuer:
        warnings.append("SignerInfo issuer name differs in RDN order from the DSC")
    attributes = signeddata.signed_attributes(signer)
    if attributes is not None and (
        attributes.content_type is None or attributes.message_digest is None
    ):
        raise SodStructureError(
            "EF.SOD signed attributes lack the content-type or message-digest attribute"
        )
    sig_alg = signer["signature_algorithm"]
    _ = sig_alg["algorithm"].dotted
    return SignerPart(
        digest_algorithm=str(signer["digest_algorithm"]["algorithm"].native),
        signature_algorithm=sig_alg,
        signature=bytes(signer["signature"].native),
        signed_attributes=attributes.der if attributes else None,
        signed_attributes_sorted=attributes.sorted_der if attributes else None,
        content_type_attribute=attributes.content_type if attributes else None,
        message_digest_attribute=attributes.message_digest if attributes else None,
        signing_time=attributes.signing_time if attributes else None,
        signer_certificate=match.certificate if match else None,
        signer_issuer=ident.issuer,
        signer_serial=ident.serial,
        signer_key_id=ident.key_id,
    )


def _parse_lds(
    econtent: bytes,
) -> tuple[int, str, dict[int, bytes], str | None, str | None]:
    try:
        lds = LDSSecurityObject.load(econtent, strict=True)
        version = int(lds["version"].native)
        hash_algorithm = str(lds["hash_algorithm"]["algorithm"].native)
        entries = [
            (int(e["data_group_number"].native), bytes(e["data_group_hash_value"].native))
            for e in lds["data_group_hash_values"]
        ]
        info = lds["lds_version_info"]
        lds_version = None if info.native is None else str(info["lds_version"].native)
        unicode_version = None if info.native is None else str(info["unicode_version"].native)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise SodStructureError(f"LDSSecurityObject cannot be decoded ({exc})") from exc
    if version not in (0, 1):
        raise SodVersionError(
            f"LDSSecurityObject has version {version}; ICAO 9303 defines v0 and v1 only"
        )
    if version == 1 and lds_version is None:
        raise SodStructureError("LDSSecurityObject v1 without ldsVersionInfo")
    if hash_algorithm not in ("sha1", "sha224", "sha256", "sha384", "sha512"):
        raise SodStructureError(f"LDSSecurityObject hash algorithm {hash_algorithm} unsupported")
    hashes: dict[int, bytes] = {}
    size = len(certs.digest(hash_algorithm, b""))
    for number, value in entries:
        if not 1 <= number <= 16:
            raise SodStructureError(f"LDSSecurityObject lists data group {number} (1..16 only)")
        if number in hashes:
            raise SodStructureError(f"LDSSecurityObject lists DG{number} twice")
        if len(value) != size:
            raise SodStructureError(
                f"DG{number} hash is {len(value)} bytes, {hash_algorithm} gives {size}"
            )
        hashes[number] = value
    return version, hash_algorithm, hashes, lds_version, unicode_version
