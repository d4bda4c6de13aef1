"""Active and chip authentication: pure reader-side logic against chip-side keys of our own."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gate.emrtd.auth import aa, ca
from gate.emrtd.auth.verdict import AuthenticityVerdict
from gate.emrtd.docauth_errors import ActiveAuthError, ChipAuthError
from simulator import passports, pki


@pytest.mark.parametrize("hash_name", ["sha1", "sha224", "sha256", "sha384", "sha512"])
def test_rsa_9796_2_scheme1_all_trailers(hash_name: str) -> None:
    key = _rsa()
    challenge = os.urandom(8)
    response = passports.aa_sign(key, challenge, hash_name)
    dg15 = passports.dg15(key)
    result = aa.verify_response(aa.dg15_public_key(dg15), challenge, response)
    assert result.ok and result.hash_algorithm == hash_name
    assert not aa.verify_response(aa.dg15_public_key(dg15), os.urandom(8), response).ok
    tampered = bytearray(response)
    tampered[10] ^= 1
    assert not aa.verify_response(key.public_key(), challenge, bytes(tampered)).ok


def test_rsa_response_n_minus_s_is_accepted() -> None:
    key = _rsa()
    challenge = b"\x01" * 8
    s = int.from_bytes(passports.aa_sign(key, challenge), "big")
    n = key.public_key().public_numbers().n
    alt = (n - s).to_bytes(256, "big")
    # (n - s)^e = -(F) mod n for odd e; the verifier must try n - m.
    assert aa.verify_response(key.public_key(), challenge, alt).ok


def test_rsa_wrong_key_and_garbage() -> None:
    key, other = _rsa(), rsa.generate_private_key(public_exponent=65537, key_size=2048)
    challenge = os.urandom(8)
    response = passports.aa_sign(key, challenge)
    assert not aa.verify_response(other.public_key(), challenge, response).ok
    for garbage in (b"", b"\x00" * 300, b"\xff" * 256, os.urandom(256)):
        assert not aa.verify_response(key.public_key(), challenge, garbage).ok


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.BrainpoolP256R1(), ec.SECP384R1()])
def test_ecdsa_aa_with_hash_from_dg14(curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve)
    dg14 = ca.parse_dg14(passports.dg14(None, aa_ecdsa=True))
    hash_name = aa.aa_hash_from_oid(dg14.aa_signature_oid)
    assert hash_name == "sha256"
    challenge = os.urandom(8)
    response = passports.aa_sign(key, challenge, hash_name)
    public = aa.dg15_public_key(passports.dg15(key))
    assert aa.verify_response(public, challenge, response, ecdsa_hash=hash_name).ok
    assert not aa.verify_response(public, challenge, response, ecdsa_hash="sha384").ok
    # no ActiveAuthenticationInfo: the hash follows the key size, then the others (issue 19)
    assert aa.verify_response(public, challenge, response).ok
    assert not aa.verify_response(public, b"\x00" * 8, response, ecdsa_hash=hash_name).ok


def test_internal_authenticate_apdu() -> None:
    challenge = bytes(range(8))
    assert (
        aa.internal_authenticate_apdu(challenge)
        == bytes.fromhex("0088000008") + challenge + b"\x00"
    )
    assert aa.internal_authenticate_apdu(challenge, extended=True).endswith(b"\x00\x00")
    with pytest.raises(ActiveAuthError):
        aa.internal_authenticate_apdu(b"short")


def test_real_dg15_keys(testdata_dir: Callable[..., Path]) -> None:
    folder = testdata_dir("epassport")
    loes = aa.dg15_public_key(
        (folder / "jmrtd_samples/loes2006_NL_specimen/ef010F.bin").read_bytes()
    )
    assert isinstance(loes, rsa.RSAPublicKey) and loes.key_size == 1024
    with pytest.raises(ActiveAuthError, match="expected tag 6F"):
        aa.dg15_public_key(
            (folder / "pymrtd/vectors/dg15_03_ETSI_TR103200_MALFORMED.bin").read_bytes()
        )


def _rsa() -> rsa.RSAPrivateKey:
    key = pki.new_key("rsa2048")
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


# ----------------------------------------------------------------------- chip authentication


@pytest.mark.parametrize("suffix,cipher", [("1", "3DES"), ("2", "AES-128"), ("4", "AES-256")])
def test_chip_authentication_ecdh_keys_agree(suffix: str, cipher: str) -> None:
    chip_key = ec.generate_private_key(ec.BrainpoolP256R1())
    dg14 = ca.parse_dg14(passports.dg14(chip_key, False, ca_cipher_suffix=suffix))
    step = ca.start(dg14)
    assert step.cipher == cipher
    key, _info = ca.select(dg14)
    secret = ca.chip_side_secret(
        key, chip_key.private_numbers().private_value, step.ephemeral_public
    )
    assert ca.session_keys(secret, step.cipher) == (step.ks_enc, step.ks_mac)
    # Cross-check the pure-Python ECDH with cryptography's.
    reader_pub = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.BrainpoolP256R1(), step.ephemeral_public
    )
    assert chip_key.exchange(ec.ECDH(), reader_pub) == secret
    if cipher == "3DES":
        [kat] = step.commands
        assert kat[:4] == bytes.fromhex("002241A6") and kat[5] == 0x91
        assert len(step.ks_enc) == 16
    else:
        mse, ga = step.commands
        assert mse[:4] == bytes.fromhex("002241A4") and mse[5] == 0x80
        assert ga[:4] == bytes.fromhex("00860000") and ga[5] == 0x7C and ga[-1] == 0
        assert step.ephemeral_public in ga


def test_chip_authentication_on_real_dg14_vectors(testdata_dir: Callable[..., Path]) -> None:
    folder = testdata_dir("epassport")
    bsi = ca.parse_dg14((folder / "pymrtd/vectors/dg14_01_BSI_TR-03105-5.bin").read_bytes())
    assert bsi.keys[0].curve is not None and bsi.keys[0].curve.name == "brainpoolP224r1"
    assert ca.start(bsi, ephemeral_secret=12345).cipher == "3DES"
    spec = ca.parse_dg14((folder / "jmrtd_samples/misc/spec_sample_encoded_dg14.bin").read_bytes())
    assert spec.keys[0].kind == "dh"
    step = ca.start(spec, ephemeral_secret=0x1234567)
    dom = spec.keys[0].dh
    assert dom is not None and len(step.ephemeral_public) == dom.byte_length
    assert int.from_bytes(step.ephemeral_public, "big") == pow(dom.g, 0x1234567, dom.p)
    sample = ca.parse_dg14((folder / "gmrtd/lds_sample_document/DG14.bin").read_bytes())
    assert ca.start(sample).cipher == "AES-256"
    with pytest.raises(ChipAuthError, match="version 16"):
        ca.parse_dg14((folder / "pymrtd/vectors/dg14_03_ETSI_TR103200_MALFORMED.bin").read_bytes())


def test_dh_agreement_both_sides(testdata_dir: Callable[..., Path]) -> None:
    folder = testdata_dir("epassport")
    spec = ca.parse_dg14((folder / "jmrtd_samples/misc/spec_sample_encoded_dg14.bin").read_bytes())
    key = spec.keys[0]
    assert key.dh is not None
    # Replace the chip's key by one whose private exponent we know.
    chip_x = 0xC0FFEE
    ours = ca.ChipAuthKey("dh", None, dh=key.dh, y=pow(key.dh.g, chip_x, key.dh.p))
    step = ca.start(ca.Dg14((ours,), spec.infos, None), ephemeral_secret=0xBEEF)
    assert ca.session_keys(ca.chip_side_secret(ours, chip_x, step.ephemeral_public), "3DES") == (
        step.ks_enc,
        step.ks_mac,
    )


def test_invalid_points_and_dg14_are_rejected() -> None:
    chip_key = ec.generate_private_key(ec.BrainpoolP256R1())
    dg14 = ca.parse_dg14(passports.dg14(chip_key, False))
    key, _ = ca.select(dg14)
    bad_point = b"\x04" + b"\x01" * 64
    with pytest.raises(ChipAuthError, match="not a point"):
        ca.chip_side_secret(key, 5, bad_point)
    for garbage in (b"", b"\x6e\x00", b"\x6e\x03\x31\x01\x00", b"\x61\x00"):
        with pytest.raises(ChipAuthError):
            ca.parse_dg14(garbage)
    with pytest.raises(ChipAuthError, match="no chip authentication public key"):
        ca.start(ca.parse_dg14(passports.dg14(None, True)))


def test_verdict_clone_logic() -> None:
    v = AuthenticityVerdict()
    v.add("PA_OK", "ok")
    v.record_active_auth(False, "bad signature")
    assert "CHIP_CLONE_SUSPECTED" in v.codes and not v.ok and v.passive_ok
    failed_pa = AuthenticityVerdict()
    failed_pa.add("PA_DG_HASH_MISMATCH", "DG2")
    failed_pa.record_chip_auth(True, "read ok")
    assert failed_pa.codes == ["PA_DG_HASH_MISMATCH", "CA_NOT_COUNTED"]
    good = AuthenticityVerdict()
    good.add("PA_OK", "ok")
    good.record_chip_auth(True, "read ok")
    good.record_active_auth(True, "ok")
    assert good.ok and good.codes == ["PA_OK", "CA_OK", "AA_OK"]


def test_one_unusable_key_does_not_disable_chip_authentication() -> None:
    """Issue 19 (risks): an unparsable key next to a good one; CA uses the good one."""
    from gate.emrtd.lds import securityinfos

    chip_key = ec.generate_private_key(ec.BrainpoolP256R1())
    good = pki.public_key_info(chip_key, explicit=True).dump()
    dg14 = securityinfos.encode_dg14(
        [
            securityinfos.ChipAuthenticationPublicKeyInfo(
                securityinfos.ID_PK_ECDH, b"\x30\x03\x02\x01\x00", key_id=1
            ),
            securityinfos.ChipAuthenticationPublicKeyInfo(securityinfos.ID_PK_ECDH, good, key_id=2),
            securityinfos.ChipAuthenticationInfo(f"{securityinfos.ID_CA_ECDH}.2", key_id=2),
        ]
    )
    parsed = ca.parse_dg14(dg14)
    assert [k.key_id for k in parsed.keys] == [2]
    step = ca.start(parsed)
    key, _ = ca.select(parsed)
    secret = ca.chip_side_secret(
        key, chip_key.private_numbers().private_value, step.ephemeral_public
    )
    assert ca.session_keys(secret, step.cipher) == (step.ks_enc, step.ks_mac)
    only_bad = securityinfos.encode_dg14(
        [
            securityinfos.ChipAuthenticationPublicKeyInfo(
                securityinfos.ID_PK_ECDH, b"\x30\x03\x02\x01\x00", key_id=1
            )
        ]
    )
    with pytest.raises(ChipAuthError, match="unusable"):
        ca.parse_dg14(only_bad)
