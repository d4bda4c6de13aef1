"""Active Authentication (ICAO 9303-11 section 6.1), reader side. Pure functions.

The reader sends INTERNAL AUTHENTICATE with an 8-byte random challenge (RND.IFD); the chip
signs it with the private key whose public half is in DG15:
- RSA: ISO/IEC 9796-2 digital signature scheme 1 (message recovery). The recovered
  representative is ``6A || M1 || H(M1 || RND.IFD) || trailer``; the trailer ``BC`` means SHA-1,
  ``xx CC`` names the hash by its ISO/IEC 10118-3 identifier (33 SHA-1, 34 SHA-256,
  35 SHA-512, 36 SHA-384, 38 SHA-224).
- ECDSA: a signature over RND.IFD with the hash named by DG14's ActiveAuthenticationInfo
  (plain ``r || s`` as BSI TR-03111 prescribes; DER is accepted too); without that info the
  hash follows the key size. Keys on curves ``cryptography`` lacks (brainpoolP192r1, P224r1,
  P320r1) verify with :class:`gate.emrtd.crypto.ecmath.EcPublicKey`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from asn1crypto import parser
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils

from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import (
    DER_ERRORS,
    ActiveAuthError,
    CertificateError,
    raise_if_bug,
)
from gate.emrtd.lds import securityinfos

OID_ACTIVE_AUTHENTICATION = securityinfos.ID_AA
CHALLENGE_LENGTH = 8

# ISO/IEC 10118-3 hash-function identifiers used in the two-byte 9796-2 trailer.
TRAILER_HASHES = {0x33: "sha1", 0x34: "sha256", 0x35: "sha512", 0x36: "sha384", 0x38: "sha224"}
HASH_TRAILERS = {v: k for k, v in TRAILER_HASHES.items()}

# signatureAlgorithm OIDs of ActiveAuthenticationInfo (ANSI X9.62 / RFC 5758).
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
ECDSA_HASH_OIDS = {
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    ECDSA_WITH_SHA256: "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}


def internal_authenticate_apdu(challenge: bytes, *, extended: bool = False) -> bytes:
    """The plain INTERNAL AUTHENTICATE command (secure messaging wraps it).

    ``extended`` asks for up to 65536 response bytes (RSA keys over 2048 bits)."""
    if len(challenge) != CHALLENGE_LENGTH:
        raise ActiveAuthError(f"the AA challenge must be 8 bytes, got {len(challenge)}")
    header = bytes([0x00, 0x88, 0x00, 0x00])
    if extended:
        return header + b"\x00\x00\x08" + challenge + b"\x00\x00"
    return header + b"\x08" + challenge + b"\x00"


def _tlv_value(data: bytes, tag: int) -> bytes:
    try:
        class_, method, number, _header, contents, _trailer = parser.parse(data)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise ActiveAuthError(f"tag {tag:02X} is not valid BER ({exc})") from exc
    if class_ != 1 or method != 1 or number != (tag & 0x1F):
        raise ActiveAuthError(f"expected tag {tag:02X}, found {data[:1].hex().upper()}")
    return bytes(contents)


def dg15_public_key(dg15: bytes) -> certs.PublicKey:
    """The Active Authentication public key from DG15 (``6F`` wrapping a
    SubjectPublicKeyInfo; explicit EC parameters recognised)."""
    spki = _tlv_value(dg15, 0x6F)
    try:
        return certs.public_key_from_der(spki)
    except CertificateError as exc:
        raise ActiveAuthError(f"DG15 public key cannot be used: {exc}") from exc


def aa_hash_from_oid(dotted: str | None) -> str | None:
    if dotted is None:
        return None
    name = ECDSA_HASH_OIDS.get(dotted)
    if name is None:
        raise ActiveAuthError(f"ActiveAuthenticationInfo names unsupported algorithm {dotted}")
    return name


@dataclass(frozen=True)
class AaResult:
    ok: bool
    detail: str
    hash_algorithm: str | None = None


def ecdsa_hashes_for(key: ec.EllipticCurvePublicKey) -> tuple[str, ...]:
    """The hashes to try for an ECDSA AA key when DG14 names none (no ActiveAuthenticationInfo,
    e.g. Portuguese ID cards): first the one matching the key size, as gmrtd does, then the
    others (a signature that verifies under any of them proves the key)."""
    bits = key.curve.key_size
    sizes = ((160, "sha1"), (224, "sha224"), (256, "sha256"), (384, "sha384"), (1 << 16, "sha512"))
    first = next(name for limit, name in sizes if bits <= limit)
    return (first, *(h for h in ("sha256", "sha384", "sha512", "sha224", "sha1") if h != first))


def expected_length(key: certs.PublicKey) -> int:
    """The plain response length of a complete answer (RSA: the modulus; ECDSA: r || s; a
    DER-encoded ECDSA answer is a few bytes longer)."""
    if isinstance(key, rsa.RSAPublicKey):
        return (key.key_size + 7) // 8
    if isinstance(key, ec.EllipticCurvePublicKey):
        return 2 * ((key.curve.key_size + 7) // 8)
    return 0  # no AA with other key types


def looks_truncated(key: certs.PublicKey, response: bytes) -> bool:
    """True when ``response`` is shorter than any complete answer for ``key``: the chip or the
    reader cut it (short Le), so a failed check proves nothing about the chip."""
    full = expected_length(key)
    if not full:
        return False
    if isinstance(key, rsa.RSAPublicKey):
        return len(response) < full - 1  # a leading zero byte may be dropped (1 in 256)
    if len(response) == full:
        return False
    try:
        parsed = parser.parse(response)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        return len(response) < full
    return parsed[0] != 0 or parsed[2] != 16  # not a DER SEQUENCE (r, s)


def verify_response(
    public_key: certs.PublicKey,
    challenge: bytes,
    response: bytes,
    *,
    ecdsa_hash: str | None = None,
) -> AaResult:
    """Whether ``response`` proves possession of the DG15 private key for ``challenge``.

    ``ecdsa_hash`` is the hash named in DG14's ActiveAuthenticationInfo; without it an EC
    key's hash follows its size (:func:`ecdsa_hashes_for`). Never raises for a wrong or
    malformed response: that is a failed AA."""
    if len(challenge) != CHALLENGE_LENGTH:
        raise ActiveAuthError(f"the AA challenge must be 8 bytes, got {len(challenge)}")
    if isinstance(public_key, rsa.RSAPublicKey):
        return _verify_rsa(public_key, challenge, response)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if ecdsa_hash is not None:
            return _verify_ecdsa(public_key, challenge, response, ecdsa_hash)
        result = AaResult(False, "no hash to try")
        for name in ecdsa_hashes_for(public_key):
            result = _verify_ecdsa(public_key, challenge, response, name)
            if result.ok:
                return AaResult(
                    True, result.detail + " (no ActiveAuthenticationInfo: hash by key size)", name
                )
        return AaResult(
            False,
            f"ECDSA {public_key.curve.name} response does not verify with any hash "
            "(DG14 names none)",
        )
    return AaResult(False, "DG15 holds an unsupported key type")


def _verify_rsa(key: rsa.RSAPublicKey, challenge: bytes, response: bytes) -> AaResult:
    numbers = key.public_numbers()
    n, e = numbers.n, numbers.e
    k = (n.bit_length() + 7) // 8
    if not response or len(response) > k:
        return AaResult(False, f"RSA response of {len(response)} bytes for a {k}-byte modulus")
    s = int.from_bytes(response, "big")
    if s >= n:
        return AaResult(False, "RSA response is not below the modulus")
    m = pow(s, e, n)
    if m & 0xF != 0xC:  # ISO/IEC 9796-2 also allows the signer to send n - s
        m = n - m
    f = m.to_bytes(k, "big")
    if f[-1] == 0xBC:
        hash_name, trailer_len = "sha1", 1
    elif f[-1] == 0xCC and f[-2] in TRAILER_HASHES:
        hash_name, trailer_len = TRAILER_HASHES[f[-2]], 2
    else:
        return AaResult(False, f"recovered message has no ISO/IEC 9796-2 trailer ({f[-2:].hex()})")
    if f[0] not in (0x6A, 0x4A):  # partial / total message recovery, no padding nibbles
        return AaResult(False, f"recovered message header {f[0]:02X} is not 6A or 4A")
    hlen = hashlib.new(hash_name).digest_size
    digest = f[-trailer_len - hlen : -trailer_len]
    m1 = f[1 : -trailer_len - hlen]
    partial = f[0] & 0x20
    message = m1 + challenge if partial else m1
    if not partial and m1[-CHALLENGE_LENGTH:] != challenge:
        return AaResult(False, "fully recovered message does not contain the challenge", hash_name)
    if not hmac.compare_digest(hashlib.new(hash_name, message).digest(), digest):
        return AaResult(False, f"{hash_name} of M1 || challenge does not match", hash_name)
    return AaResult(True, f"RSA-{n.bit_length()} ISO/IEC 9796-2 with {hash_name}", hash_name)


def _verify_ecdsa(
    key: ec.EllipticCurvePublicKey, challenge: bytes, response: bytes, hash_name: str
) -> AaResult:
    size = (key.curve.key_size + 7) // 8
    if len(response) == 2 * size:
        r = int.from_bytes(response[:size], "big")
        s = int.from_bytes(response[size:], "big")
        if r == 0 or s == 0:
            return AaResult(False, "ECDSA response has a zero component", hash_name)
        der = utils.encode_dss_signature(r, s)
    else:
        der = response
    try:
        key.verify(der, challenge, ec.ECDSA(certs.hash_for(hash_name)))
    except (InvalidSignature, ValueError):
        return AaResult(False, f"ECDSA {key.curve.name}/{hash_name} response does not verify")
    return AaResult(True, f"ECDSA {key.curve.name} with {hash_name}", hash_name)
