"""Synthetic passports: complete chip images pass, every bad variant is caught."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

import cv2
import numpy as np
import pytest

from gate.emrtd.auth import aa, ca, passive
from gate.emrtd.cms import sod
from gate.emrtd.document import Document
from gate.emrtd.lds import lds
from gate.emrtd.pki import trust
from simulator import passports, pki
from simulator.pki import TEST_PKI_EPOCH as NOW
from simulator.pki import shared_test_pki as shared_pki

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"
AT = NOW + timedelta(days=2)


def _portrait(dg2: bytes) -> bytes:
    start = dg2.index(b"FAC\x00")
    return dg2[start + 14 + 20 + 12 :]


@pytest.mark.parametrize("portrait", ["jpeg", "jp2"])
def test_complete_image_passes_pa_aa_and_ca(
    portrait: str, pki_store: Callable[[], trust.TrustStore]
) -> None:
    image = passports.build_passport(MRZ, shared_pki().dsc_p256, portrait=portrait)  # type: ignore[arg-type]
    assert {"EF.COM", "EF.CardAccess", "EF.SOD", "DG1", "DG2", "DG14", "DG15"} <= set(image.files)
    dgs = passports.data_groups(image)
    verdict = passive.passive_authenticate(
        Document.from_data_groups(image.files["EF.SOD"], dgs), pki_store(), at=AT, mrz=MRZ
    )
    assert verdict.passive_ok, verdict.codes
    assert sorted(sod.parse_sod(image.files["EF.SOD"]).dg_hashes) == [1, 2, 14, 15]

    face = lds.parse_dg2(dgs[2]).portrait  # the chip layer's parser reads our record
    assert face.format == ("jpeg" if portrait == "jpeg" else "jpeg2000")
    assert (face.width, face.height) == (240, 320)
    jpeg = _portrait(dgs[2])
    assert face.image == jpeg
    assert jpeg[:2] == b"\xff\xd8" if portrait == "jpeg" else jpeg[4:8] == b"jP  "
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape[:2] == (320, 240)

    challenge = os.urandom(8)
    assert image.aa_key is not None
    response = passports.aa_sign(image.aa_key, challenge)
    assert aa.verify_response(aa.dg15_public_key(dgs[15]), challenge, response).ok
    verdict.record_active_auth(True, "ok")

    dg14 = ca.parse_dg14(dgs[14])
    step = ca.start(dg14)
    key, _ = ca.select(dg14)
    assert image.ca_key is not None
    secret = ca.chip_side_secret(
        key, image.ca_key.private_numbers().private_value, step.ephemeral_public
    )
    assert ca.session_keys(secret, step.cipher) == (step.ks_enc, step.ks_mac)
    verdict.record_chip_auth(True, "read with new keys")
    assert verdict.ok


def test_ecdsa_aa_passport() -> None:
    image = passports.build_passport(MRZ, shared_pki().dsc_rsa2048, aa_kind="p256")
    dgs = passports.data_groups(image)
    hash_name = aa.aa_hash_from_oid(ca.parse_dg14(dgs[14]).aa_signature_oid)
    challenge = os.urandom(8)
    assert image.aa_key is not None and hash_name is not None
    response = passports.aa_sign(image.aa_key, challenge, hash_name)
    assert aa.verify_response(
        aa.dg15_public_key(dgs[15]), challenge, response, ecdsa_hash=hash_name
    ).ok


def test_bad_variants_are_caught(pki_store: Callable[[], trust.TrustStore]) -> None:
    p = shared_pki()
    image = passports.build_passport(MRZ, p.dsc_rsa_pss, chip_auth=False)
    store = pki_store()

    def codes(img: passports.ChipImage) -> list[str]:
        return passive.passive_authenticate(
            Document.from_data_groups(img.files["EF.SOD"], passports.data_groups(img)), store, at=AT
        ).codes

    assert "PA_OK" in codes(image)
    assert "PA_DG_HASH_MISMATCH" in codes(passports.altered_dg(image, 2))
    assert "PA_CSCA_UNKNOWN" in codes(passports.wrong_signer(image, NOW))
    expired = passports.resign(image, passports.expired_dsc(p.csca_rsa, AT))
    assert "PA_CERT_EXPIRED" in codes(expired)

    revoked_dsc = pki.make_dsc(p.csca_rsa, "p256", now=NOW, serial=0x4444)
    revoked = passports.resign(image, revoked_dsc)
    store.import_bytes(
        pki.make_crl(p.csca_rsa, [0x4444], this_update=NOW, next_update=NOW + timedelta(days=9)),
        source="crl",
        now=NOW,
    )
    assert "PA_CERT_REVOKED" in codes(revoked)
    assert "PA_CERT_REVOKED" not in codes(image)

    clone = passports.cloned(image)
    assert clone.files == image.files
    verdict = passive.passive_authenticate(
        Document.from_data_groups(clone.files["EF.SOD"], passports.data_groups(clone)), store, at=AT
    )
    challenge = os.urandom(8)
    assert clone.aa_key is not None
    result = aa.verify_response(
        aa.dg15_public_key(clone.files["DG15"]),
        challenge,
        passports.aa_sign(clone.aa_key, challenge),
    )
    assert not result.ok
    verdict.record_active_auth(result.ok, result.detail)
    assert verdict.passive_ok and "CHIP_CLONE_SUSPECTED" in verdict.codes and not verdict.ok


def test_dg1_and_ef_com() -> None:
    dg1 = passports.dg1(MRZ[:44] + "\n" + MRZ[44:])
    assert Document.from_data_groups(None, {1: dg1}).dg1_mrz == MRZ
    com = passports.ef_com([1, 2, 14, 15])
    assert com[0] == 0x60 and com.endswith(bytes([0x5C, 4, 0x61, 0x75, 0x6E, 0x6F]))
    with pytest.raises(ValueError):
        passports.dg1("TOO SHORT")
