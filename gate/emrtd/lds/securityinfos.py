"""SecurityInfos (ICAO 9303-11 section 9.2, BSI TR-03110-3 A.1): parse and encode.

The same SET OF SecurityInfo sits in EF.CardAccess (bare), DG14 (wrapped in tag 6E) and the
signed content of EF.CardSecurity (CMS SignedData). Each SecurityInfo is
``SEQUENCE { protocol OBJECT IDENTIFIER, requiredData ANY, optionalData ANY OPTIONAL }``;
known protocols become typed records, anything else is kept as :class:`UnknownInfo` so a
re-encode is lossless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gate.emrtd.crypto.kdf import Cipher
from gate.emrtd.docauth_errors import DER_ERRORS, raise_if_bug
from gate.emrtd.errors import SecurityInfoError, TLVError
from gate.emrtd.iso7816 import tlv

# --- object identifiers (BSI TR-03110-3 A.1.1, ICAO 9303-11 9.2) -----------------------------
BSI_DE = "0.4.0.127.0.7"
ID_PK_DH = BSI_DE + ".2.2.1.1"
ID_PK_ECDH = BSI_DE + ".2.2.1.2"
ID_TA = BSI_DE + ".2.2.2"
ID_CA = BSI_DE + ".2.2.3"
ID_CA_DH = ID_CA + ".1"
ID_CA_ECDH = ID_CA + ".2"
ID_PACE = BSI_DE + ".2.2.4"
ID_PACE_DH_GM = ID_PACE + ".1"
ID_PACE_ECDH_GM = ID_PACE + ".2"
ID_PACE_DH_IM = ID_PACE + ".3"
ID_PACE_ECDH_IM = ID_PACE + ".4"
ID_PACE_ECDH_CAM = ID_PACE + ".6"
ID_AA = "2.23.136.1.1.5"
ID_SECURITY_OBJECT = BSI_DE + ".3.2.1"

_CIPHER_SUFFIX: dict[str, Cipher] = {"1": "3DES", "2": "AES-128", "3": "AES-192", "4": "AES-256"}
_SUFFIX_OF_CIPHER = {v: k for k, v in _CIPHER_SUFFIX.items()}
_PACE_FAMILIES: dict[str, tuple[Literal["DH", "ECDH"], Literal["GM", "IM", "CAM"]]] = {
    ID_PACE_DH_GM: ("DH", "GM"),
    ID_PACE_ECDH_GM: ("ECDH", "GM"),
    ID_PACE_DH_IM: ("DH", "IM"),
    ID_PACE_ECDH_IM: ("ECDH", "IM"),
    ID_PACE_ECDH_CAM: ("ECDH", "CAM"),
}

# ICAO 9303-11 table 11: standardized domain parameters
STANDARD_DOMAIN_PARAMETERS: dict[int, str] = {
    0: "modp1024_160",
    1: "modp2048_224",
    2: "modp2048_256",
    8: "secp192r1",
    9: "brainpoolP192r1",
    10: "secp224r1",
    11: "brainpoolP224r1",
    12: "secp256r1",
    13: "brainpoolP256r1",
    14: "brainpoolP320r1",
    15: "secp384r1",
    16: "brainpoolP384r1",
    17: "brainpoolP512r1",
    18: "secp521r1",
}


def pace_oid(key_agreement: str, mapping: str, cipher: Cipher) -> str:
    """The PACE protocol OID for e.g. ("ECDH", "GM", "AES-128")."""
    for base, (ka, mp) in _PACE_FAMILIES.items():
        if ka == key_agreement and mp == mapping:
            if mapping == "CAM" and cipher == "3DES":
                break
            return base + "." + _SUFFIX_OF_CIPHER[cipher]
    raise SecurityInfoError(f"no PACE protocol for {key_agreement}-{mapping} with {cipher}")


def ca_oid(key_agreement: str, cipher: Cipher) -> str:
    base = ID_CA_DH if key_agreement == "DH" else ID_CA_ECDH
    return base + "." + _SUFFIX_OF_CIPHER[cipher]


# --- DER primitives ---------------------------------------------------------------------------
def encode_oid(dotted: str) -> bytes:
    try:
        parts = [int(p) for p in dotted.split(".")]
    except ValueError as exc:
        raise SecurityInfoError(f"object identifier {dotted!r} is not dotted decimal") from exc
    if len(parts) < 2 or parts[0] > 2:
        raise SecurityInfoError(f"object identifier {dotted!r} needs at least two arcs")
    body = bytearray()
    for i, arc in enumerate([parts[0] * 40 + parts[1], *parts[2:]]):
        if arc < 0:
            raise SecurityInfoError(f"object identifier {dotted!r}: negative arc {i}")
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv.encode(0x06, bytes(body))


def decode_oid(value: bytes) -> str:
    if not value:
        raise SecurityInfoError("empty object identifier")
    arcs: list[int] = []
    acc = 0
    for i, b in enumerate(value):
        if acc == 0 and b == 0x80:
            raise SecurityInfoError(f"object identifier has a non-minimal arc at byte {i}")
        acc = (acc << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(acc)
            acc = 0
    if value[-1] & 0x80:
        raise SecurityInfoError("object identifier ends in the middle of an arc")
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def encode_int(value: int) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8)
    return tlv.encode(0x02, value.to_bytes(length, "big", signed=True))


def decode_int(value: bytes) -> int:
    if not value:
        raise SecurityInfoError("empty INTEGER")
    return int.from_bytes(value, "big", signed=True)


def sequence(*items: bytes) -> bytes:
    return tlv.encode(0x30, b"".join(items))


def _optional_int(value: int | None) -> bytes:
    """An OPTIONAL INTEGER field: encoded, or absent."""
    return encode_int(value) if value is not None else b""


# --- records ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PACEInfo:
    protocol: str
    version: int = 2
    parameter_id: int | None = None

    @property
    def key_agreement(self) -> Literal["DH", "ECDH"]:
        return _PACE_FAMILIES[self.protocol.rsplit(".", 1)[0]][0]

    @property
    def mapping(self) -> Literal["GM", "IM", "CAM"]:
        return _PACE_FAMILIES[self.protocol.rsplit(".", 1)[0]][1]

    @property
    def cipher(self) -> Cipher:
        return _CIPHER_SUFFIX[self.protocol.rsplit(".", 1)[1]]

    @property
    def curve_name(self) -> str | None:
        if self.parameter_id is None:
            return None
        return STANDARD_DOMAIN_PARAMETERS.get(self.parameter_id)

    def encode(self) -> bytes:
        return sequence(
            encode_oid(self.protocol), encode_int(self.version), _optional_int(self.parameter_id)
        )


@dataclass(frozen=True)
class PACEDomainParameterInfo:
    protocol: str
    domain_parameter: bytes
    """DER AlgorithmIdentifier (id-dhpublicnumber or id-ecPublicKey with explicit parameters)."""
    parameter_id: int | None = None

    def encode(self) -> bytes:
        return sequence(
            encode_oid(self.protocol), self.domain_parameter, _optional_int(self.parameter_id)
        )


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    protocol: str
    version: int = 1
    key_id: int | None = None

    @property
    def key_agreement(self) -> Literal["DH", "ECDH"]:
        return "DH" if self.protocol.startswith(ID_CA_DH + ".") else "ECDH"

    @property
    def cipher(self) -> Cipher:
        return _CIPHER_SUFFIX[self.protocol.rsplit(".", 1)[1]]

    def encode(self) -> bytes:
        return sequence(
            encode_oid(self.protocol), encode_int(self.version), _optional_int(self.key_id)
        )


@dataclass(frozen=True)
class ChipAuthenticationPublicKeyInfo:
    protocol: str
    public_key: bytes
    """DER SubjectPublicKeyInfo of the chip's static key."""
    key_id: int | None = None

    @property
    def key_agreement(self) -> Literal["DH", "ECDH"]:
        return "DH" if self.protocol == ID_PK_DH else "ECDH"

    def encode(self) -> bytes:
        return sequence(encode_oid(self.protocol), self.public_key, _optional_int(self.key_id))


@dataclass(frozen=True)
class TerminalAuthenticationInfo:
    protocol: str = ID_TA
    version: int = 1
    ef_cvca: bytes | None = None
    """DER FileID SEQUENCE, kept as bytes."""

    def encode(self) -> bytes:
        return sequence(encode_oid(self.protocol), encode_int(self.version), self.ef_cvca or b"")


@dataclass(frozen=True)
class ActiveAuthenticationInfo:
    signature_algorithm: str
    """e.g. ecdsa-with-SHA256 1.2.840.10045.4.3.2"""
    version: int = 1
    protocol: str = ID_AA

    def encode(self) -> bytes:
        return sequence(
            encode_oid(self.protocol),
            encode_int(self.version),
            encode_oid(self.signature_algorithm),
        )


@dataclass(frozen=True)
class UnknownInfo:
    protocol: str
    raw: bytes
    """The whole SecurityInfo SEQUENCE as found."""

    def encode(self) -> bytes:
        return self.raw


SecurityInfo = (
    PACEInfo
    | PACEDomainParameterInfo
    | ChipAuthenticationInfo
    | ChipAuthenticationPublicKeyInfo
    | TerminalAuthenticationInfo
    | ActiveAuthenticationInfo
    | UnknownInfo
)


def _int_field(items: list[tlv.TLV], index: int, what: str) -> int:
    if len(items) <= index or items[index].tag != 0x02:
        raise SecurityInfoError(f"{what}: INTEGER expected at position {index}")
    return decode_int(items[index].value)


def _opt_int(items: list[tlv.TLV], index: int, what: str) -> int | None:
    if len(items) <= index:
        return None
    return _int_field(items, index, what)


def parse_security_info(raw: bytes) -> SecurityInfo:
    seq = tlv.decode_single(raw)
    if seq.tag != 0x30:
        raise SecurityInfoError(f"SecurityInfo must be a SEQUENCE, found tag {seq.tag:X}")
    items = seq.children()
    if not items or items[0].tag != 0x06:
        raise SecurityInfoError("SecurityInfo does not start with an OBJECT IDENTIFIER")
    if len(items) < 2:
        raise SecurityInfoError("SecurityInfo lacks its required data")
    oid = decode_oid(items[0].value)
    family = oid.rsplit(".", 1)[0]
    suffix = oid.rsplit(".", 1)[1]
    if family in _PACE_FAMILIES and suffix in _CIPHER_SUFFIX:
        return PACEInfo(oid, _int_field(items, 1, oid), _opt_int(items, 2, oid))
    if oid in _PACE_FAMILIES:
        return PACEDomainParameterInfo(oid, items[1].encode(), _opt_int(items, 2, oid))
    if family in (ID_CA_DH, ID_CA_ECDH) and suffix in _CIPHER_SUFFIX:
        return ChipAuthenticationInfo(oid, _int_field(items, 1, oid), _opt_int(items, 2, oid))
    if oid in (ID_PK_DH, ID_PK_ECDH):
        if items[1].tag != 0x30:
            raise SecurityInfoError(f"{oid}: SubjectPublicKeyInfo expected")
        return ChipAuthenticationPublicKeyInfo(oid, items[1].encode(), _opt_int(items, 2, oid))
    if oid == ID_TA:
        ef = items[2].encode() if len(items) > 2 else None
        return TerminalAuthenticationInfo(oid, _int_field(items, 1, oid), ef)
    if oid == ID_AA:
        if len(items) < 3 or items[2].tag != 0x06:
            raise SecurityInfoError("ActiveAuthenticationInfo lacks its signature algorithm")
        return ActiveAuthenticationInfo(decode_oid(items[2].value), _int_field(items, 1, oid))
    return UnknownInfo(oid, raw)


def parse_security_infos(data: bytes) -> list[SecurityInfo]:
    """Parse a DER SET OF SecurityInfo (EF.CardAccess content, DG14 inner value)."""
    try:
        outer = tlv.decode_single(data)
        if outer.tag != 0x31:
            raise SecurityInfoError(f"SecurityInfos must be a SET (tag 31), found {outer.tag:X}")
        return [parse_security_info(item.encode()) for item in outer.children()]
    except TLVError as exc:
        raise SecurityInfoError(f"SecurityInfos: {exc}") from exc


def encode_security_infos(infos: list[SecurityInfo], der_sorted: bool = False) -> bytes:
    """SET OF SecurityInfo. Elements keep their order (so parse then encode gives the input
    back); ``der_sorted`` sorts them by encoding as strict DER requires."""
    parts = [info.encode() for info in infos]
    return tlv.encode(0x31, b"".join(sorted(parts) if der_sorted else parts))


def parse_card_access(data: bytes) -> list[SecurityInfo]:
    return parse_security_infos(data)


def parse_dg14(data: bytes) -> list[SecurityInfo]:
    try:
        inner = tlv.decode_single(data, 0x6E).value
    except TLVError as exc:
        raise SecurityInfoError(f"DG14: {exc}") from exc
    return parse_security_infos(inner)


def encode_dg14(infos: list[SecurityInfo]) -> bytes:
    return tlv.encode(0x6E, encode_security_infos(infos))


def card_security_content(data: bytes) -> bytes:
    """The SecurityInfos inside EF.CardSecurity (CMS SignedData, eContentType
    id-SecurityObject). The signature is checked by passive authentication, not here."""
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(data)
        content = info["content"]["encap_content_info"]["content"]
        raw = content.contents if hasattr(content, "contents") else None
        if raw is None:
            raise SecurityInfoError("EF.CardSecurity has no encapsulated content")
        # the OCTET STRING may be parsed or not depending on the content type
        parsed = content.parsed if hasattr(content, "parsed") else None
        if parsed is not None and hasattr(parsed, "dump"):
            return bytes(parsed.dump())
        return bytes(raw)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise SecurityInfoError(f"EF.CardSecurity is not CMS SignedData: {exc}") from exc


def parse_card_security(data: bytes) -> list[SecurityInfo]:
    return parse_security_infos(card_security_content(data))


def pace_infos(infos: list[SecurityInfo]) -> list[PACEInfo]:
    return [i for i in infos if isinstance(i, PACEInfo)]
