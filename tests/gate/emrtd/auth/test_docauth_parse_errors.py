"""Malformed DER versus programming errors: only the first becomes a domain error."""

from __future__ import annotations

import pytest
from asn1crypto import keys
from cryptography.hazmat.primitives.asymmetric import ec

from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import (
    DER_ERRORS,
    CertificateError,
    UnsupportedAlgorithmError,
    raise_if_bug,
)

# SubjectPublicKeyInfo of a P-256 key with the algorithm OID 1.2.840.10045.2.1 changed to
# 1.2.768.10045.2.1: asn1crypto raises KeyError when it looks up the key's field spec.
_P256_SPKI = bytes.fromhex(
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
)


def test_library_key_error_on_unknown_algorithm_is_malformed_input() -> None:
    mutated = _P256_SPKI.replace(bytes.fromhex("2a8648ce3d0201"), bytes.fromhex("2a8600ce3d0201"))
    with pytest.raises(KeyError):  # what asn1crypto itself does with it
        keys.PublicKeyInfo.load(mutated)["public_key"].parsed  # noqa: B018
    with pytest.raises(CertificateError):
        certs.public_key_from_der(mutated)


def test_the_unmutated_key_still_loads() -> None:
    key = certs.public_key_from_der(_P256_SPKI)
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"


@pytest.mark.parametrize("error", [KeyError, TypeError, AttributeError])
def test_programming_errors_in_egate_code_propagate(error: type[Exception]) -> None:
    with pytest.raises(error):
        try:
            raise error("a bug in egate")
        except DER_ERRORS as exc:
            raise_if_bug(exc)


@pytest.mark.parametrize("error", [ValueError, IndexError, OverflowError])
def test_value_errors_are_input_errors(error: type[Exception]) -> None:
    try:
        raise error("bad input")
    except DER_ERRORS as exc:
        raise_if_bug(exc)  # returns: the caller turns it into its domain error


def test_one_spki_reader_splits_any_algorithm() -> None:
    parts = certs.split_spki(_P256_SPKI)
    assert parts.algorithm == certs.OID_EC_PUBLIC_KEY
    assert parts.parameters == bytes.fromhex("06082a8648ce3d030107")  # prime256v1
    assert len(parts.key) == 65 and parts.key[0] == 4
    unknown = _P256_SPKI.replace(bytes.fromhex("2a8648ce3d0201"), bytes.fromhex("2a8600ce3d0201"))
    assert certs.split_spki(unknown).algorithm == "1.2.768.10045.2.1"
    with pytest.raises(UnsupportedAlgorithmError, match=r"1\.2\.768\.10045\.2\.1"):
        certs.public_key_from_der(unknown)
    with pytest.raises(CertificateError, match="not a SubjectPublicKeyInfo"):
        certs.split_spki(_P256_SPKI[:-3])
