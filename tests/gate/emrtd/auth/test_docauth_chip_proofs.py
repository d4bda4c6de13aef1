"""AA and CA verdicts a clone cannot switch off, and no clone alarm for what could not be
verified (issue 20 items 1-3, issue 19 item 4), on the virtual chip with real chips' habits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from drivers.chiplink import ChipLink
from gate.emrtd.auth.authenticate import authenticate_document
from gate.emrtd.auth.verdict import AuthenticityVerdict
from gate.emrtd.document import Document
from gate.emrtd.pki import trust
from simulator import passports, sod_variants
from simulator.chip.card import ChipConfig, VirtualChip
from simulator.chip.image import ChipImage
from simulator.chip.transport import InProcessTransport
from simulator.pki import TEST_PKI_EPOCH as NOW
from simulator.pki import shared_test_pki as shared_pki

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"
FILES = ["EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15"]
AT = NOW + timedelta(days=2)
Store = Callable[[], trust.TrustStore]


def _verify(
    chip: VirtualChip, store: trust.TrustStore, hide: tuple[str, ...] = ()
) -> AuthenticityVerdict:
    link = ChipLink(InProcessTransport(chip))
    reader = link.reader()
    link.run(reader.open(chip.image.mrz_information))
    names = [n for n in FILES if n in chip.image.files]
    files = {n: r.data for n, r in link.run(reader.read_files(names)).items() if n not in hide}
    return link.run(
        authenticate_document(
            reader, Document.from_files(files), store, at=AT, mrz=MRZ, requested=names
        )
    )


def _genuine(aa_kind: str = "rsa2048", chip_auth: bool = True) -> ChipImage:
    return passports.build_passport(
        MRZ,
        shared_pki().dsc_p256,
        aa_kind=aa_kind,  # type: ignore[arg-type]
        chip_auth=chip_auth,
    )


def _no_clone(verdict: AuthenticityVerdict) -> None:
    assert "CHIP_CLONE_SUSPECTED" not in verdict.codes, verdict.codes
    assert "AA_FAILED" not in verdict.codes and "CA_FAILED" not in verdict.codes


# ------------------------------------------------------------------ listed but not returned


@pytest.mark.parametrize("hide", [("DG15",), ("DG14", "DG15"), ("DG14",)])
def test_a_chip_cannot_switch_off_aa_and_ca_by_hiding_dg14_dg15(
    hide: tuple[str, ...], pki_store: Store
) -> None:
    verdict = _verify(VirtualChip(_genuine()), pki_store(), hide)
    assert "PA_DG_NOT_RETURNED" in verdict.codes
    if "DG15" in hide:
        assert "AA_NOT_COMPLETED" in verdict.codes and "AA_NOT_SUPPORTED" not in verdict.codes
    if "DG14" in hide:
        assert "CA_NOT_COMPLETED" in verdict.codes
    assert not verdict.ok and verdict.status == "not_verified"
    assert verdict.check_outcome == "refer"
    _no_clone(verdict)


def test_unrequested_groups_and_dg3_are_not_demanded(pki_store: Store) -> None:
    image = _genuine()
    dsc = shared_pki().dsc_p256
    image = sod_variants.with_files(image, dsc, DG3=b"\x63\x02\x01\x00", DG11=b"\x6b\x00")
    verdict = _verify(VirtualChip(image), pki_store())
    assert "PA_DG_NOT_RETURNED" not in verdict.codes, verdict.codes  # DG3 exempt, DG11 not asked
    assert verdict.ok and verdict.status == "passed"


def test_genuine_chip_passes_and_a_clone_is_still_caught(pki_store: Store) -> None:
    genuine = _verify(VirtualChip(_genuine()), pki_store())
    assert genuine.ok and {"PA_OK", "CA_OK", "AA_OK"} <= set(genuine.codes)
    clone = _verify(VirtualChip(passports.cloned(_genuine(chip_auth=False))), pki_store())
    assert {"AA_FAILED", "CHIP_CLONE_SUSPECTED"} <= set(clone.codes)
    assert clone.status == "failed"


# ------------------------------------------------------------------ AA transport habits


def test_rsa2048_signature_cut_by_a_short_le_is_asked_again_extended(pki_store: Store) -> None:
    chip = sod_variants.AaChip(
        _genuine(chip_auth=False), answer=sod_variants.truncated_at_short_le()
    )
    verdict = _verify(chip, pki_store())
    assert "AA_OK" in verdict.codes and verdict.ok, verdict.codes


def test_nothing_to_extended_le_then_the_short_answer_works(pki_store: Store) -> None:
    chip = sod_variants.AaChip(
        _genuine(chip_auth=False), answer=sod_variants.nothing_to_extended_le()
    )
    verdict = _verify(chip, pki_store())
    assert "AA_OK" in verdict.codes and verdict.ok, verdict.codes


def test_truncated_answer_on_both_le_is_not_completed_not_a_clone(pki_store: Store) -> None:
    answer = sod_variants.nothing_to_extended_le(then=sod_variants.truncated_at_short_le())
    chip = sod_variants.AaChip(_genuine(chip_auth=False), answer=answer)
    verdict = _verify(chip, pki_store())
    assert "AA_NOT_COMPLETED" in verdict.codes, verdict.codes
    _no_clone(verdict)
    assert verdict.status == "not_verified" and verdict.check_outcome == "refer"


def test_bare_6988_to_internal_authenticate_is_not_a_clone(pki_store: Store) -> None:
    chip = sod_variants.AaChip(_genuine(chip_auth=False), bare_sw=0x6988)
    verdict = _verify(chip, pki_store())
    assert "AA_NOT_COMPLETED" in verdict.codes, verdict.codes
    _no_clone(verdict)


# ------------------------------------------------------------------ ECDSA AA keys


def test_ecdsa_aa_without_active_authentication_info(pki_store: Store) -> None:
    """Portuguese ID cards: DG15 holds an EC key, DG14 names no hash."""
    dsc = shared_pki().dsc_p256
    image = sod_variants.without_aa_info(_genuine("p256"), dsc)
    verdict = _verify(VirtualChip(image), pki_store())
    assert {"PA_OK", "CA_OK", "AA_OK"} <= set(verdict.codes), verdict.codes
    assert verdict.ok


@pytest.mark.parametrize("curve", ["brainpoolP192r1", "brainpoolP224r1", "brainpoolP320r1"])
@pytest.mark.parametrize("aa_info", [True, False])
def test_aa_keys_on_curves_cryptography_lacks(curve: str, aa_info: bool, pki_store: Store) -> None:
    """Dutch-style DG15 on brainpoolP320r1 (and P192r1/P224r1): AA verifies, no clone alarm."""
    image, key = sod_variants.ec_aa_passport(MRZ, shared_pki().dsc_p256, curve, aa_info=aa_info)
    verdict = _verify(sod_variants.AaChip(image, ec_key=key), pki_store())
    assert {"PA_OK", "CA_OK", "AA_OK"} <= set(verdict.codes), verdict.codes
    # a key on the same curve that is not the chip's own still fails: AA keeps its teeth
    other = sod_variants.EcSigningKey.generate(curve)
    clone = _verify(sod_variants.AaChip(image, ec_key=other), pki_store())
    assert {"AA_FAILED", "CHIP_CLONE_SUSPECTED"} <= set(clone.codes), clone.codes


def test_chip_without_extended_length_still_completes_aa(pki_store: Store) -> None:
    """The extended-Le INTERNAL AUTHENTICATE is refused (6700): one retry with a short Le."""
    chip = VirtualChip(_genuine(chip_auth=False), config=ChipConfig(extended_length=False))
    verdict = _verify(chip, pki_store())
    assert "AA_OK" in verdict.codes, verdict.codes
    _no_clone(verdict)
