"""Signature encodings that states issue and ``cryptography`` alone refuses (issue 20 item 9).

- RSA PKCS#1 v1.5 whose DigestInfo omits the NULL parameters of the hash AlgorithmIdentifier
  (RFC 8017 section 9.2 note 1 allows both forms; seen on a master list): the signature is
  opened with the public key and the DigestInfo compared field by field.
- DSA (FIPS 186-4), which ICAO 9303-12 section 4.4 allows for DSCs and CSCAs.

Used by :mod:`gate.emrtd.crypto.certs` for every signature it verifies (SOD, certificates,
CRLs, master lists).
"""

from __future__ import annotations

import hashlib
import hmac

from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa

from gate.emrtd.docauth_errors import DER_ERRORS, CertificateParseError, raise_if_bug


def verify_pkcs1v15(
    key: rsa.RSAPublicKey, signature: bytes, data: bytes, hash_algorithm: hashes.HashAlgorithm
) -> bool:
    """RSASSA-PKCS1-v1_5 with the DigestInfo's hash parameters NULL (DER) or absent."""
    try:
        key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        return True
    except InvalidSignature:
        pass
    try:
        encoded = key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        return False
    try:
        info = algos.DigestInfo.load(encoded, strict=True)
        name = info["digest_algorithm"]["algorithm"].native
        params = info["digest_algorithm"]["parameters"]
        digest = bytes(info["digest"].native)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        return False
    if name != hash_algorithm.name.replace("-", "") or params.native is not None:
        return False
    expected = hashlib.new(hash_algorithm.name, data).digest()
    return hmac.compare_digest(digest, expected)


def dsa_public_key(info: keys.PublicKeyInfo) -> dsa.DSAPublicKey:
    """The DSA key of a SubjectPublicKeyInfo (parameters p, q, g in the AlgorithmIdentifier)."""
    try:
        params = info["algorithm"]["parameters"]
        numbers = dsa.DSAParameterNumbers(
            int(params["p"].native), int(params["q"].native), int(params["g"].native)
        )
        y = int(info["public_key"].parsed.native)
        return dsa.DSAPublicNumbers(y, numbers).public_key()
    except (*DER_ERRORS, ValueError) as exc:
        raise_if_bug(exc)
        raise CertificateParseError(f"DSA public key cannot be decoded ({exc})") from exc


def verify_dsa(
    key: dsa.DSAPublicKey, signature: bytes, data: bytes, hash_algorithm: hashes.HashAlgorithm
) -> bool:
    try:
        key.verify(signature, data, hash_algorithm)
    except (InvalidSignature, ValueError):
        return False
    return True
