"""Encodings of EF.SOD that genuine documents use and the parser must accept (issue 20 items 4
and 9), each built by the test PKI and verified against the same signature."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta

import pytest

from gate.emrtd.auth.passive import passive_authenticate
from gate.emrtd.auth.verdict import AuthenticityVerdict
from gate.emrtd.cms.sod import parse_sod
from gate.emrtd.docauth_errors import SodEncodingError, SodStructureError
from gate.emrtd.document import Document
from gate.emrtd.iso7816 import tlv
from gate.emrtd.pki import trust
from simulator import pki, sod_variants
from simulator.pki import TEST_PKI_EPOCH as NOW
from simulator.pki import shared_test_pki as shared_pki

AT = NOW + timedelta(days=2)
Store = Callable[[], trust.TrustStore]


def _sod_with_length_ending_in_80() -> tuple[bytes, dict[int, bytes]]:
    """A genuine SOD whose tag-77 length is 0xXX80 (about 1 SOD in 256 in the field)."""
    dsc = shared_pki().dsc_rsa2048  # fixed signature length: the search is deterministic
    for hash_name, count, version in itertools.product(
        ("sha256", "sha384", "sha1", "sha512", "sha224"), range(16, 0, -1), ("0108", None)
    ):
        groups = {n: bytes([0x60 + n, 1, n]) for n in range(1, count + 1)}
        sod = pki.build_sod(groups, dsc, hash_name=hash_name, lds_version=version)
        if sod[1] == 0x82 and sod[3] == 0x80:
            return sod, groups
    raise AssertionError("no SOD length ending in 0x80 among the combinations tried")


def _verifies(sod: bytes, groups: dict[int, bytes], store: trust.TrustStore) -> AuthenticityVerdict:
    """Signature, chain and every data group hash check out (DG1 here is no real MRZ)."""
    verdict = passive_authenticate(Document.from_data_groups(sod, groups), store, at=AT)
    bad = {"PA_SOD_MALFORMED", "PA_SIGNATURE_INVALID", "PA_CSCA_UNKNOWN", "PA_DG_HASH_MISMATCH"}
    assert not bad & set(verdict.codes), verdict.codes
    assert len(verdict.chain) >= 2
    assert [d.status for d in verdict.data_groups] == ["match"] * len(groups)
    return verdict


def test_sod_length_ending_in_0x80_is_not_malformed(pki_store: Store) -> None:
    sod, groups = _sod_with_length_ending_in_80()
    parsed = parse_sod(sod)  # PA_SOD_MALFORMED ("Error parsing ... UTCTime") before
    assert set(parsed.dg_hashes) == set(groups)
    _verifies(sod, groups, pki_store())


def test_sod_with_indefinite_outer_length(pki_store: Store) -> None:
    groups = {1: b"\x61\x01\x00", 2: b"\x75\x01\x00"}
    der = pki.build_sod(groups, shared_pki().dsc_p256)
    inner = tlv.decode_single(der).value
    indefinite = b"\x77\x80" + inner + b"\x00\x00"
    assert parse_sod(indefinite).dg_hashes == parse_sod(der).dg_hashes
    _verifies(indefinite, groups, pki_store())
    with pytest.raises(SodEncodingError, match="trailing"):
        parse_sod(indefinite + b"\xff", strict=True)
    with pytest.raises(SodEncodingError):
        parse_sod(b"\x77\x80" + inner)  # no end-of-contents


# ------------------------------------------------------------------ item 9: field encodings

GROUPS = {1: b"\x61\x03\x5f\x1f\x00", 2: b"\x75\x01\x00", 15: b"\x6f\x01\x00"}


def test_signature_over_the_der_reencoded_signed_attributes(pki_store: Store) -> None:
    """Stored attributes unsorted, signature over their DER (sorted SET OF): JMRTD, pymrtd."""
    spec = sod_variants.SignerSpec(shared_pki().dsc_p256, stored_unsorted=True)
    sod = sod_variants.variant_sod(GROUPS, [spec])
    parsed = parse_sod(sod)
    assert parsed.signers[0].signed_attributes_sorted is not None
    verdict = _verifies(sod, GROUPS, pki_store())
    assert any("DER re-encoding" in f.detail for f in verdict.findings)
    # the re-encoding is no loophole: a changed message digest still fails
    tampered = sod_variants.variant_sod({**GROUPS, 2: b"\x75\x01\x01"}, [spec])
    forged = tampered.replace(
        parse_sod(tampered).econtent, parse_sod(sod).econtent
    )  # the other LDSSecurityObject under this signature
    assert (
        "PA_SIGNATURE_INVALID"
        in passive_authenticate(Document.from_data_groups(forged, GROUPS), pki_store(), at=AT).codes
    )


def test_each_of_several_signer_infos_is_verified(pki_store: Store) -> None:
    pki_ = shared_pki()
    specs = [sod_variants.SignerSpec(pki_.dsc_p256), sod_variants.SignerSpec(pki_.dsc_rsa2048)]
    sod = sod_variants.variant_sod(GROUPS, specs)
    assert len(parse_sod(sod).signers) == 2
    with pytest.raises(SodStructureError, match="2 SignerInfos"):
        parse_sod(sod, strict=True)
    verdict = _verifies(sod, GROUPS, pki_store())
    assert len(verdict.chain) == 4
    # a second SignerInfo whose DSC no trusted CSCA issued fails the document
    stranger = pki.make_dsc(pki.make_csca("p256", country="UT", now=NOW), "p256", now=NOW, serial=9)
    bad = sod_variants.variant_sod(GROUPS, [specs[0], sod_variants.SignerSpec(stranger)])
    assert (
        "PA_CSCA_UNKNOWN"
        in passive_authenticate(Document.from_data_groups(bad, GROUPS), pki_store(), at=AT).codes
    )


def test_rsa_digest_info_without_null_parameters(pki_store: Store) -> None:
    spec = sod_variants.SignerSpec(shared_pki().dsc_rsa2048, digest_info_without_null=True)
    sod = sod_variants.variant_sod(GROUPS, [spec])
    _verifies(sod, GROUPS, pki_store())
    other = sod_variants.variant_sod({**GROUPS, 1: b"\x61\x00"}, [spec])
    forged = other.replace(parse_sod(other).econtent, parse_sod(sod).econtent)
    assert (
        "PA_SIGNATURE_INVALID"
        in passive_authenticate(Document.from_data_groups(forged, GROUPS), pki_store(), at=AT).codes
    )


def test_dsa_document_signer(pki_store: Store) -> None:
    dsc, signer = sod_variants.dsa_dsc(shared_pki().csca_rsa, now=NOW, serial=0x2001)
    sod = sod_variants.variant_sod(GROUPS, [sod_variants.SignerSpec(dsc, dsa=signer)])
    verdict = _verifies(sod, GROUPS, pki_store())
    assert verdict.chain[0].key == "dsa"
    other, _ = sod_variants.dsa_dsc(shared_pki().csca_rsa, now=NOW, serial=0x2002)
    wrong = sod_variants.variant_sod(GROUPS, [sod_variants.SignerSpec(other, dsa=signer)])
    assert (
        "PA_SIGNATURE_INVALID"
        in passive_authenticate(Document.from_data_groups(wrong, GROUPS), pki_store(), at=AT).codes
    )


@pytest.mark.parametrize("curve", ["brainpoolP224r1", "brainpoolP320r1"])
def test_document_signer_on_a_curve_cryptography_lacks(curve: str, pki_store: Store) -> None:
    """Issue 20 item 3: Lithuanian DSCs sign on brainpoolP224r1."""
    key = sod_variants.EcSigningKey.generate(curve)
    dsc = sod_variants.ec_dsc(shared_pki().csca_rsa, key, now=NOW, serial=0x2100)
    sod = sod_variants.variant_sod(GROUPS, [sod_variants.SignerSpec(dsc, ec_key=key)])
    verdict = _verifies(sod, GROUPS, pki_store())  # PA_CERT_INVALID / unsupported before
    assert verdict.chain[0].key == f"EC {curve}"
    impostor = sod_variants.EcSigningKey.generate(curve)
    wrong = sod_variants.variant_sod(GROUPS, [sod_variants.SignerSpec(dsc, ec_key=impostor)])
    assert (
        "PA_SIGNATURE_INVALID"
        in passive_authenticate(Document.from_data_groups(wrong, GROUPS), pki_store(), at=AT).codes
    )
