"""Chip Authentication (ICAO 9303-11 section 6.2, BSI TR-03110), reader side. Pure.

DG14 holds ChipAuthenticationPublicKeyInfo (the chip's static DH or ECDH key) and, since
CA v2, ChipAuthenticationInfo naming the cipher. The reader makes an ephemeral key pair on the
same domain parameters, sends its public key (MSE:Set KAT for 3DES; MSE:Set AT + GENERAL
AUTHENTICATE for AES), and both sides derive new secure-messaging keys from the shared secret
with the 9303-11 KDF (:func:`gate.emrtd.crypto.kdf.derive_key`); the send-sequence counter restarts
at zero. A successful secure-messaging read with the new keys proves the chip holds the
private key. CA counts only when passive authentication passed (the key is trusted via SOD).

The elliptic-curve arithmetic is plain Python (:mod:`gate.emrtd.crypto.ecmath`), so every prime
curve works, also those that ``cryptography`` lacks (brainpoolP224r1 of the BSI reference
passport) and explicitly encoded ones. The reader's key is ephemeral and used once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from asn1crypto import core, keys

from gate.emrtd.crypto import certs, ecmath
from gate.emrtd.crypto.curves import BY_NAME, CurveParams
from gate.emrtd.crypto.kdf import ENC, MAC, Cipher, derive_key
from gate.emrtd.docauth_errors import (
    DER_ERRORS,
    CertificateError,
    ChipAuthError,
    UnknownCurveError,
    raise_if_bug,
)
from gate.emrtd.errors import ChipError, PACEError
from gate.emrtd.iso7816 import tlv
from gate.emrtd.iso7816.apdu import CommandAPDU
from gate.emrtd.lds import securityinfos

# BSI TR-03110-3 A.2.1.1: standardizedDomainParameters, the algorithm of a CA public key whose
# parameter is an id of ICAO 9303-11 table 11 (securityinfos.STANDARD_DOMAIN_PARAMETERS).
OID_STANDARDIZED_DOMAIN = securityinfos.BSI_DE + ".1.2"


class _AnySequence(core.SequenceOf):
    _child_spec = core.Any


# --------------------------------------------------------------------------- EC arithmetic

Point = ecmath.Point


def _ec(c: CurveParams) -> ecmath.Curve:
    return ecmath.curve(c.name) if c.name in BY_NAME else ecmath.Curve.from_params(c)


def scalar_mult(c: CurveParams, k: int, point: Point) -> Point:
    """k * point with the chip layer's Jacobian arithmetic (:mod:`gate.emrtd.crypto.ecmath`)."""
    return _ec(c).mul(k, point)


def decode_point(c: CurveParams, data: bytes) -> tuple[int, int]:
    try:
        return _ec(c).decode_point(data)
    except PACEError as exc:
        raise ChipAuthError(f"EC public key is not a point on the curve ({exc})") from exc


def encode_point(c: CurveParams, point: Point) -> bytes:
    if point is None:
        raise ChipAuthError("point at infinity")
    return _ec(c).encode_point(point)


# --------------------------------------------------------------------------- DG14


@dataclass(frozen=True)
class DhDomain:
    p: int
    g: int
    q: int | None

    @property
    def byte_length(self) -> int:
        return (self.p.bit_length() + 7) // 8


@dataclass(frozen=True)
class ChipAuthKey:
    """The chip's static key from a ChipAuthenticationPublicKeyInfo."""

    kind: str  # "ecdh" or "dh"
    key_id: int | None
    curve: CurveParams | None = None
    point: bytes | None = None
    dh: DhDomain | None = None
    y: int | None = None


@dataclass(frozen=True)
class ChipAuthInfo:
    oid: str
    kind: str
    cipher: Cipher
    version: int
    key_id: int | None


@dataclass(frozen=True)
class Dg14:
    keys: tuple[ChipAuthKey, ...]
    infos: tuple[ChipAuthInfo, ...]
    aa_signature_oid: str | None
    protocols: tuple[str, ...] = field(default=())


def _int(value: core.Any) -> int:
    return int(core.Integer.load(value.dump()).native)


def parse_dg14(dg14: bytes) -> Dg14:
    """The chip-authentication and active-authentication parts of DG14 (tag 6E), read with
    the chip layer's SecurityInfos parser; the keys' domain parameters are resolved here."""
    try:
        infos = securityinfos.parse_dg14(dg14)
    except (ChipError, *DER_ERRORS) as exc:
        raise_if_bug(exc)
        raise ChipAuthError(f"DG14 cannot be decoded ({exc})") from exc
    found_keys: list[ChipAuthKey] = []
    found_infos: list[ChipAuthInfo] = []
    unusable: list[str] = []
    aa_oid = None
    for info in infos:
        if isinstance(info, securityinfos.ChipAuthenticationPublicKeyInfo):
            try:
                found_keys.append(_parse_key(info.public_key, info.key_id))
            except (*DER_ERRORS, UnknownCurveError, ChipAuthError) as exc:
                raise_if_bug(exc)
                unusable.append(str(exc))
        elif isinstance(info, securityinfos.ChipAuthenticationInfo):
            if info.version not in (1, 2):
                raise ChipAuthError(
                    f"ChipAuthenticationInfo {info.protocol} has version {info.version}"
                )
            kind = "dh" if info.key_agreement == "DH" else "ecdh"
            found_infos.append(
                ChipAuthInfo(info.protocol, kind, info.cipher, info.version, info.key_id)
            )
        elif isinstance(info, securityinfos.ActiveAuthenticationInfo):
            aa_oid = info.signature_algorithm
    if unusable and not found_keys:  # one bad key among good ones does not disable CA
        raise ChipAuthError(f"DG14 chip authentication key unusable ({unusable[0]})")
    protocols = tuple(info.protocol for info in infos)
    return Dg14(tuple(found_keys), tuple(found_infos), aa_oid, protocols)


def _parse_key(spki_der: bytes, key_id: int | None) -> ChipAuthKey:
    try:
        parts = certs.split_spki(spki_der)
    except CertificateError as exc:
        raise ChipAuthError(f"DG14 chip authentication key: {exc}") from exc
    algo, raw = parts.algorithm, parts.key
    params = core.Any.load(parts.parameters) if parts.parameters is not None else core.Void()
    if algo == certs.OID_EC_PUBLIC_KEY:
        domain = keys.ECDomainParameters.load(params.dump())
        curve = _curve(domain)
        decode_point(curve, raw)
        return ChipAuthKey("ecdh", key_id, curve=curve, point=raw)
    if algo == OID_STANDARDIZED_DOMAIN:
        number = _int(core.Any.load(params.dump()))
        name = securityinfos.STANDARD_DOMAIN_PARAMETERS.get(number, "")
        if name not in BY_NAME:
            raise ChipAuthError(f"standardized domain parameters {number} are not supported")
        curve = BY_NAME[name]
        decode_point(curve, raw)
        return ChipAuthKey("ecdh", key_id, curve=curve, point=raw)
    if algo in ("1.2.840.10046.2.1", "1.2.840.113549.1.3.1"):  # X9.42 dhpublicnumber, PKCS#3
        items = list(_AnySequence.load(params.dump()))
        p, g = _int(items[0]), _int(items[1])
        q = _int(items[2]) if algo == "1.2.840.10046.2.1" and len(items) > 2 else None
        y = int(core.Integer.load(raw).native)
        if not 1 < y < p - 1:
            raise ChipAuthError("DH public key is out of range")
        return ChipAuthKey("dh", key_id, dh=DhDomain(p, g, q), y=y)
    raise ChipAuthError(f"chip authentication key algorithm {algo} is not supported")


def _curve(domain: keys.ECDomainParameters) -> CurveParams:
    try:
        return certs.curve_from_parameters(domain)
    except UnknownCurveError:
        if domain.name != "specified":
            raise
    spec = domain.chosen
    p = int(spec["field_id"]["parameters"].native)
    base = bytes(spec["base"].native)
    size = (p.bit_length() + 7) // 8
    if len(base) != 1 + 2 * size or base[0] != 4:
        raise ChipAuthError("explicit EC base point must be uncompressed")
    return CurveParams(
        name="explicit",
        p=p,
        a=int.from_bytes(spec["curve"]["a"].native, "big"),
        b=int.from_bytes(spec["curve"]["b"].native, "big"),
        gx=int.from_bytes(base[1 : 1 + size], "big"),
        gy=int.from_bytes(base[1 + size :], "big"),
        n=int(spec["order"].native),
        h=int(spec["cofactor"].native or 1),
    )


# --------------------------------------------------------------------------- protocol


def _apdu(header: bytes, data: bytes, le: bool) -> bytes:
    """Short APDU, or extended when the data needs it (then Le 0000: up to 65536 bytes)."""
    expected = (256 if len(data) <= 255 else 65536) if le else None
    cla, ins, p1, p2 = header
    return CommandAPDU(cla, ins, p1, p2, data, le=expected).encode()


@dataclass(frozen=True)
class CaStep:
    """What the reader sends and the keys secure messaging restarts with (SSC = 0)."""

    commands: tuple[bytes, ...]
    cipher: Cipher
    ks_enc: bytes = field(repr=False)
    ks_mac: bytes = field(repr=False)
    ephemeral_public: bytes
    key_id: int | None = None
    named_key: bool = False
    """The MSE names the key (tag 84): a chip answering 6700 to it is asked again without."""


def _info_for(dg14: Dg14, key: ChipAuthKey) -> ChipAuthInfo | None:
    infos = [
        i
        for i in dg14.infos
        if i.kind == key.kind and (key.key_id is None or i.key_id in (None, key.key_id))
    ]
    return infos[0] if infos else None


def select(dg14: Dg14, key_id: int | None = None) -> tuple[ChipAuthKey, ChipAuthInfo | None]:
    """The key (and its protocol info) to use: the given key id or the first usable one."""
    candidates = [k for k in dg14.keys if key_id is None or k.key_id == key_id]
    if not candidates:
        raise ChipAuthError("DG14 has no chip authentication public key")
    return candidates[0], _info_for(dg14, candidates[0])


def key_ids(dg14: Dg14) -> tuple[int | None, ...]:
    """The keys to try, in DG14 order: each KeyId once (None: a key without KeyId, only when
    DG14 names no KeyId at all). A chip holding several keys answers an MSE naming a key it
    does not hold with an error before any key switch, so the reader can try the next one."""
    ids: list[int | None] = []
    for key in dg14.keys:
        if key.key_id not in ids:
            ids.append(key.key_id)
    return tuple(ids)


def session_keys(shared_secret: bytes, cipher: Cipher) -> tuple[bytes, bytes]:
    return derive_key(shared_secret, ENC, cipher), derive_key(shared_secret, MAC, cipher)


def start(
    dg14: Dg14,
    *,
    key_id: int | None = None,
    key_reference: bool = True,
    ephemeral_secret: int | None = None,
) -> CaStep:
    """Reader side of chip authentication for the chosen DG14 key.

    ``key_reference``: name the key's KeyId in the MSE (tag 84) when it has one; False for the
    retry of a chip that answers 6700 to it. ``ephemeral_secret`` (the reader's private
    scalar/exponent) is for tests; by default a fresh one comes from :mod:`secrets`."""
    key, info = select(dg14, key_id)
    cipher: Cipher = info.cipher if info else "3DES"
    if key.kind == "ecdh":
        assert key.curve is not None and key.point is not None
        curve = key.curve
        d = ephemeral_secret or (secrets.randbelow(curve.n - 2) + 1)
        public = encode_point(curve, scalar_mult(curve, d, (curve.gx, curve.gy)))
        shared = scalar_mult(curve, d * curve.h, decode_point(curve, key.point))
        if shared is None:
            raise ChipAuthError("ECDH gave the point at infinity: bad chip key")
        secret = shared[0].to_bytes(curve.byte_length, "big")
    else:
        assert key.dh is not None and key.y is not None
        dom = key.dh
        x = ephemeral_secret or (secrets.randbelow((dom.q or dom.p) - 3) + 2)
        public = pow(dom.g, x, dom.p).to_bytes(dom.byte_length, "big")
        secret = pow(key.y, x, dom.p).to_bytes(dom.byte_length, "big")
    ks_enc, ks_mac = session_keys(secret, cipher)
    ref = (
        tlv.encode(0x84, key.key_id.to_bytes(max(1, (key.key_id.bit_length() + 7) // 8), "big"))
        if key.key_id is not None and key_reference
        else b""
    )
    if cipher == "3DES":
        commands: tuple[bytes, ...] = (
            _apdu(b"\x00\x22\x41\xa6", tlv.encode(0x91, public) + ref, le=False),
        )
    else:
        assert info is not None
        oid = securityinfos.encode_oid(info.oid)[2:]
        commands = (
            _apdu(b"\x00\x22\x41\xa4", tlv.encode(0x80, oid) + ref, le=False),
            _apdu(b"\x00\x86\x00\x00", tlv.encode(0x7C, tlv.encode(0x80, public)), le=True),
        )
    return CaStep(commands, cipher, ks_enc, ks_mac, public, key.key_id, bool(ref))


def chip_side_secret(key: ChipAuthKey, private: int, reader_public: bytes) -> bytes:
    """The chip's view of the shared secret (for the simulator's virtual chip)."""
    if key.kind == "ecdh":
        assert key.curve is not None
        curve = key.curve
        shared = scalar_mult(curve, private * curve.h, decode_point(curve, reader_public))
        if shared is None:
            raise ChipAuthError("reader public key gives the point at infinity")
        return shared[0].to_bytes(curve.byte_length, "big")
    assert key.dh is not None
    y = int.from_bytes(reader_public, "big")
    if not 1 < y < key.dh.p - 1:
        raise ChipAuthError("reader DH public key is out of range")
    return pow(y, private, key.dh.p).to_bytes(key.dh.byte_length, "big")
