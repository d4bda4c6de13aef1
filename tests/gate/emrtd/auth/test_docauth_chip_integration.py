"""Synthetic passports served by the virtual chip, read by the reader, then PA + CA + AA."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.chiplink import ChipLink
from gate.emrtd.auth.authenticate import authenticate_document
from gate.emrtd.document import Document
from gate.emrtd.errors import CardRemovedError
from gate.emrtd.lds import securityinfos
from gate.emrtd.pki import trust
from gate.emrtd.reader import Reader
from simulator import passports, pki, sod_variants
from simulator.chip.card import VirtualChip
from simulator.chip.image import ChipImage
from simulator.chip.transport import InProcessTransport
from simulator.pki import TEST_PKI_EPOCH as NOW
from simulator.pki import shared_test_pki as shared_pki

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"
FILES = ["EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15"]
AT = NOW + timedelta(days=2)


def _read(image: ChipImage) -> tuple[Reader, ChipLink, dict[str, bytes], str]:
    link = ChipLink(InProcessTransport(VirtualChip(image)))
    reader = link.reader()
    access = link.run(reader.open(image.mrz_information))
    files = {name: r.data for name, r in link.run(reader.read_files(FILES)).items()}
    return reader, link, files, access.protocol


@pytest.mark.parametrize("aa_kind", ["rsa2048", "p256"])
def test_genuine_passport_through_the_virtual_chip(
    aa_kind: str, pki_store: Callable[[], trust.TrustStore]
) -> None:
    image = passports.build_passport(MRZ, shared_pki().dsc_brainpool_explicit, aa_kind=aa_kind)  # type: ignore[arg-type]
    reader, link, files, protocol = _read(image)
    assert protocol == "PACE"  # EF.CardAccess offers PACE-GM brainpoolP256r1
    assert files == {name: image.files[name] for name in FILES}
    verdict = link.run(
        authenticate_document(reader, Document.from_files(files), pki_store(), at=AT, mrz=MRZ)
    )
    assert verdict.ok, verdict.to_dict()["findings"]
    assert {"PA_OK", "CA_OK", "AA_OK"} <= set(verdict.codes)


def test_clone_is_caught_by_chip_and_active_authentication(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    genuine = passports.build_passport(MRZ, shared_pki().dsc_p256)
    reader, link, files, _ = _read(passports.cloned(genuine))
    verdict = link.run(
        authenticate_document(reader, Document.from_files(files), pki_store(), at=AT, mrz=MRZ)
    )
    assert verdict.passive_ok  # the copied data are genuine
    assert {"CA_FAILED", "CHIP_CLONE_SUSPECTED"} <= set(verdict.codes)
    assert not verdict.ok


def test_altered_passport_skips_chip_authentication(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    image = passports.altered_dg(passports.build_passport(MRZ, shared_pki().dsc_rsa2048), 2)
    reader, link, files, _ = _read(image)
    verdict = link.run(
        authenticate_document(reader, Document.from_files(files), pki_store(), at=AT, mrz=MRZ)
    )
    assert "PA_DG_HASH_MISMATCH" in verdict.codes
    assert "CA_OK" not in verdict.codes and not verdict.ok


@pytest.mark.parametrize(
    "quirks",
    [
        ("aa-truncates-short-le",),
        ("aa-no-extended-le",),
        ("aa-truncates-short-le", "short-256"),
        ("aa-no-extended-le", "bare-error-sw"),
    ],
)
def test_active_authentication_through_chip_habits_is_no_clone(
    quirks: tuple[str, ...], pki_store: Callable[[], trust.TrustStore]
) -> None:
    """Issue 19 item 4 end to end: the reader's Le handling (quirks' side) and AA's retry
    (authenticity's side) together verify an RSA-2048 AA signature that real chips deliver
    truncated or refuse to an extended Le, instead of raising a clone alarm."""
    image = passports.build_passport(MRZ, shared_pki().dsc_rsa2048, aa_kind="rsa2048")  # type: ignore[arg-type]
    image = ChipImage(dict(image.files), image.mrz, image.can, image.aa_key, image.ca_key,
                      quirks=list(quirks))  # fmt: skip
    reader, link, files, _ = _read(image)
    verdict = link.run(
        authenticate_document(reader, Document.from_files(files), pki_store(), at=AT, mrz=MRZ)
    )
    assert "AA_OK" in verdict.codes, verdict.to_dict()["findings"]
    assert "CHIP_CLONE_SUSPECTED" not in verdict.codes
    assert verdict.ok


def test_a_passport_taken_away_during_authentication_is_never_a_clone(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    """The passport leaves the reader at every APDU of chip and active authentication: the
    verdict is *_NOT_COMPLETED (refer), never CA_FAILED, AA_FAILED or a clone alarm."""
    image = passports.build_passport(MRZ, shared_pki().dsc_p256, aa_kind="rsa2048")  # type: ignore[arg-type]
    seen: set[str] = set()
    for removed_at in range(10, 24):
        chip = VirtualChip(image)
        chip.faults.remove_after_apdus = removed_at
        link = ChipLink(InProcessTransport(chip))
        reader = link.reader()
        try:
            link.run(reader.open(image.mrz_information))
            files = {name: r.data for name, r in link.run(reader.read_files(FILES)).items()}
        except CardRemovedError:
            continue  # taken away while reading: the read fails, nothing is verified
        document = Document.from_files(files)
        verdict = link.run(authenticate_document(reader, document, pki_store(), at=AT, mrz=MRZ))
        seen |= set(verdict.codes)
        assert not {"CHIP_CLONE_SUSPECTED", "CA_FAILED", "AA_FAILED"} & set(verdict.codes), (
            removed_at,
            verdict.codes,
        )
    assert {"CA_NOT_COMPLETED", "AA_NOT_COMPLETED", "AA_OK"} <= seen  # every phase was hit


# -- chip authentication with several DG14 keys and chips refusing the key reference ---------
def _with_ca_keys(
    image: ChipImage, keys: list[tuple[ec.EllipticCurvePrivateKey, int]], held: int | None
) -> ChipImage:
    """``image`` with a DG14 listing ``keys`` (key, KeyId) in that order, re-signed; the chip
    holds the key of KeyId ``held`` (its own ``ca_key``)."""
    infos: list[securityinfos.SecurityInfo] = []
    for key, key_id in keys:
        spki = pki.public_key_info(key, explicit=True).dump()
        infos.append(
            securityinfos.ChipAuthenticationPublicKeyInfo(securityinfos.ID_PK_ECDH, spki, key_id)
        )
        infos.append(
            securityinfos.ChipAuthenticationInfo(f"{securityinfos.ID_CA_ECDH}.2", 1, key_id)
        )
    signed = sod_variants.with_files(
        image, shared_pki().dsc_p256, DG14=securityinfos.encode_dg14(infos)
    )
    return replace(signed, ca_key_id=held)


def _ca_verdict(image: ChipImage, store: trust.TrustStore) -> set[str]:
    link = ChipLink(InProcessTransport(VirtualChip(image)))
    reader = link.reader()
    link.run(reader.open(image.mrz_information))
    names = [name for name in FILES if name in image.files]
    files = {name: r.data for name, r in link.run(reader.read_files(names)).items()}
    verdict = link.run(
        authenticate_document(reader, Document.from_files(files), store, at=AT, mrz=MRZ)
    )
    assert verdict.passive_ok
    return set(verdict.codes)


def test_chip_authentication_tries_the_next_dg14_key_the_chip_holds(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    """DG14 lists a key the chip does not hold first (6A88 to its MSE): the reader goes on to
    the second key instead of giving up."""
    genuine = passports.build_passport(MRZ, shared_pki().dsc_p256, aa_kind=None)
    assert genuine.ca_key is not None
    other = ec.generate_private_key(ec.BrainpoolP256R1())
    image = _with_ca_keys(genuine, [(other, 1), (genuine.ca_key, 2)], held=2)
    codes = _ca_verdict(image, pki_store())
    assert "CA_OK" in codes and "CA_NOT_COMPLETED" not in codes, codes


def test_chip_holding_none_of_the_dg14_keys_it_accepts_is_a_clone_not_a_refusal(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    genuine = passports.build_passport(MRZ, shared_pki().dsc_p256, aa_kind=None)
    assert genuine.ca_key is not None
    other = ec.generate_private_key(ec.BrainpoolP256R1())
    image = _with_ca_keys(genuine, [(other, 1), (genuine.ca_key, 2)], held=2)
    cloned = replace(image, ca_key=ec.generate_private_key(ec.BrainpoolP256R1()))
    assert {"CA_FAILED", "CHIP_CLONE_SUSPECTED"} <= _ca_verdict(cloned, pki_store())


def test_chip_refusing_every_dg14_key_is_not_completed(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    genuine = passports.build_passport(MRZ, shared_pki().dsc_p256, aa_kind=None)
    assert genuine.ca_key is not None
    image = _with_ca_keys(genuine, [(genuine.ca_key, 1)], held=3)
    codes = _ca_verdict(image, pki_store())
    assert "CA_NOT_COMPLETED" in codes and "CHIP_CLONE_SUSPECTED" not in codes, codes


def test_chip_answering_6700_to_the_key_reference_is_asked_again_without_it(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    genuine = passports.build_passport(MRZ, shared_pki().dsc_p256, aa_kind=None)
    assert genuine.ca_key is not None
    image = _with_ca_keys(genuine, [(genuine.ca_key, 1)], held=1)
    image = replace(image, quirks=["ca-key-reference-6700"])
    codes = _ca_verdict(image, pki_store())
    assert "CA_OK" in codes and "CA_NOT_COMPLETED" not in codes, codes


def test_6700_to_the_key_reference_with_several_keys_is_no_clone(
    pki_store: Callable[[], trust.TrustStore],
) -> None:
    """With two DG14 keys an unnamed retry could agree with the wrong one and look like a
    clone: the reader does not retry without the key reference then, it refers."""
    genuine = passports.build_passport(MRZ, shared_pki().dsc_p256, aa_kind=None)
    assert genuine.ca_key is not None
    other = ec.generate_private_key(ec.BrainpoolP256R1())
    image = _with_ca_keys(genuine, [(other, 1), (genuine.ca_key, 2)], held=2)
    image = replace(image, quirks=["ca-key-reference-6700"])
    codes = _ca_verdict(image, pki_store())
    assert "CA_NOT_COMPLETED" in codes and "CHIP_CLONE_SUSPECTED" not in codes, codes
