"""ECDSA on the RFC 5639 curves that ``cryptography`` lacks (issue 20 item 3): brainpoolP224r1
and brainpoolP320r1 keys (Lithuanian DSCs, Dutch AA keys) verify with the project's own
arithmetic (:class:`gate.emrtd.crypto.ecmath.EcPublicKey`).

Vectors: Project Wycheproof (C2SP/wycheproof, Apache-2.0),
testvectors_v1/ecdsa_brainpoolP224r1_sha224_p1363_test.json and
ecdsa_brainpoolP320r1_sha384_p1363_test.json, message "313233343030", tcIds as noted.
"""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from gate.emrtd.crypto import certs, ecmath
from gate.emrtd.crypto.curves import BY_NAME

MSG = bytes.fromhex("313233343030")

P224_KEY = (
    "3052301406072a8648ce3d020106092b2403030208010105033a0004572eab7376d052dfc40923db25342ea9"
    "cbfce4b8581e104a4c8f37c94a700ec5dc05a481b2b695320c6f1ad2dd8628633cdb75a91245c265"
)
P224_SIGS = {
    1: (
        "cb68ac9765c7641785df237e9951e1429581879af2631460048961d3139c78243a6e36e124d5f5e14b4c"
        "b8754abdf20ff1a501d5666a428f",
        True,
    ),
    4: (
        "0c588812c07c026ea4390ca6dc7f1a563b9534b07b7ba843a11e31ccc424bc85ebd52fa505423a442a84"
        "43238658ca3b7c39bace3f3d5110",
        False,
    ),
    11: ("00" * 56, False),  # r = s = 0
    25: ("d7c134aa264366862a18302575d0fb98d116bc4b6ddebca3a5a7939f" + "00" * 28, False),  # r = n
}
P320_POINT = (
    "040fcc8860cb26e262ca8b4ecb9c52f78d82a10a1d30dd0c8ecd7584ce80dbb75c488a062b64375500"
    "1f27e676c26cd3488c1ef4ec3edd88cf8af78daf9036724b57e66da02cf7c676a53664becdfedc3b"
)
P320_SIGS = {
    1: (
        "85b1bc586bf5407f9c8ec3765fe02bd19380998c45892ccd5081a1bd8872a26cdaf403e6dbf34a6e833d66"
        "61b0576d61a80ffe4d3271c43b2a56c14b3bd90305923ccdcf7b3d988c07ebb1c4cc67381c",
        True,
    ),
    4: (
        "4dac8ac7cac70f3844adb4e87221b494660f36197105e5d5dcc68d0a6613b67cab9d517468d248a35020e0"
        "be8664e256392c7a119f901c2acf390e5a7ab60f9d9b0b60f87348c05d7ea5a396785e5af5",
        False,
    ),
}


def _der(p1363: str) -> bytes:
    raw = bytes.fromhex(p1363)
    half = len(raw) // 2
    r, s = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    return utils.encode_dss_signature(r, s)


@pytest.mark.parametrize("tc", sorted(P224_SIGS))
def test_brainpool_p224_wycheproof_through_certs(tc: int) -> None:
    key = certs.public_key_from_der(bytes.fromhex(P224_KEY))  # UnknownCurveError before
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "brainpoolP224r1"
    sig, valid = P224_SIGS[tc]
    alg = algos.SignedDigestAlgorithm({"algorithm": "sha224_ecdsa"})
    assert certs.verify_signature(key, alg, bytes.fromhex(sig), MSG) is valid
    plain = algos.SignedDigestAlgorithm({"algorithm": "0.4.0.127.0.7.1.1.4.1.2"})  # TR-03111
    assert certs.verify_signature(key, plain, bytes.fromhex(sig), MSG) is valid


@pytest.mark.parametrize("tc", sorted(P320_SIGS))
def test_brainpool_p320_wycheproof(tc: int) -> None:
    key = ecmath.EcPublicKey.from_point(BY_NAME["brainpoolP320r1"], bytes.fromhex(P320_POINT))
    sig, valid = P320_SIGS[tc]
    if valid:
        key.verify(_der(sig), MSG, ec.ECDSA(certs.hash_for("sha384")))
    else:
        with pytest.raises(InvalidSignature):
            key.verify(_der(sig), MSG, ec.ECDSA(certs.hash_for("sha384")))
    info = keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "ec", "parameters": ("named", "1.3.36.3.3.2.8.1.1.9")},
            "public_key": bytes.fromhex(P320_POINT),
        }
    )
    assert certs.public_key(info) == key


# brainpoolP192r1: no published ECDSA vectors exist (Wycheproof and RFC 6979 leave the curve
# out), so these come from an independent implementation: python-ecdsa 0.19.2 (MIT),
# ``SigningKey.from_secret_exponent(0x1D3B5A7C9E0F2132435465768798A9BACBDCEDFE0F1E2D3C,
# curve=BRAINPOOLP192r1)``, ``sign_deterministic`` (RFC 6979) with SHA-256, r || s.
P192_POINT = (
    "040a8c95ccaa40f195a334b8e6e86a7a9555228bc14d545aa1b27461b46e23447a"
    "f844227d393e6a660f54cb7e0d625c1d"
)
P192_SIGS = {
    b"egate brainpoolP192r1 vector 1": "8f86ade79559c34771515a870d9ab140517fc3c247f9f7d8"
    "2711e8a0ab5419d7ad3a652d03775b396cf3b30ec72248b1",
    b"313233343030": "50cdaf34e82f97732bbe4a032ad29c55750f2e3e5d26dd1c"
    "7d38eada01beeec14962a49e5205695cf94f211c79549b45",
}


@pytest.mark.parametrize("message", sorted(P192_SIGS))
def test_brainpool_p192_against_an_independent_implementation(message: bytes) -> None:
    key = ecmath.EcPublicKey.from_point(BY_NAME["brainpoolP192r1"], bytes.fromhex(P192_POINT))
    sig = P192_SIGS[message]
    algorithm = ec.ECDSA(certs.hash_for("sha256"))
    key.verify(_der(sig), message, algorithm)
    with pytest.raises(InvalidSignature):
        key.verify(_der(sig), message + b"!", algorithm)
    flipped = sig[:-1] + format(int(sig[-1], 16) ^ 1, "x")
    with pytest.raises(InvalidSignature):
        key.verify(_der(flipped), message, algorithm)


def test_arithmetic_agrees_with_cryptography_on_p256() -> None:
    """Cross-check the pure-Python verifier on a curve both implement."""
    private = ec.generate_private_key(ec.BrainpoolP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    ours = ecmath.EcPublicKey.from_point(BY_NAME["brainpoolP256r1"], point)
    theirs = private.public_key().public_numbers()
    assert (ours.public_numbers().x, ours.public_numbers().y) == (theirs.x, theirs.y)
    der = private.sign(MSG, ec.ECDSA(certs.hash_for("sha256")))
    ours.verify(der, MSG, ec.ECDSA(certs.hash_for("sha256")))
    with pytest.raises(InvalidSignature):
        ours.verify(der, MSG + b"!", ec.ECDSA(certs.hash_for("sha256")))
    r, s = utils.decode_dss_signature(der)
    numbers = ours.public_numbers()
    digest = hashlib.sha256(MSG).digest()
    curve = ecmath.curve("brainpoolP256r1")
    assert ecmath.verify_digest(curve, (numbers.x, numbers.y), digest, r, s)
    assert not ecmath.verify_digest(curve, (numbers.x, numbers.y), digest, r, curve.n - s + 1)


def test_point_off_the_curve_is_refused() -> None:
    with pytest.raises(ValueError, match="not"):
        ecmath.EcPublicKey.from_point(BY_NAME["brainpoolP224r1"], b"\x04" + b"\x01" * 56)
    assert "brainpoolP192r1" in certs.CURVE_OIDS.values()


@pytest.mark.parametrize("name", ["brainpoolP224r1", "brainpoolP320r1", "secp256r1"])
def test_joint_multiplication_equals_two_multiplications(name: str) -> None:
    c = ecmath.curve(name)
    q = c.mul(0xC0FFEE, c.g)
    for k1, k2 in ((1, 1), (3, 5), (c.n - 1, 2), (0, 7), (0x1234567, c.n - 0x89ABC)):
        assert c.mul2(k1, c.g, k2, q) == c.add(c.mul(k1, c.g), c.mul(k2, q))
    assert c.mul2(3, c.g, c.n - 3, c.g) is None  # the point at infinity midway and at the end
