"""Encodings of EF.SOD that genuine documents use and the parser must accept (issue 20 items 4
and 9), each built by the test PKI and verified against the same signature."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta

import pytest

from gate.emrtd.auth.passive import passive_authenticate
from gate.emrtd.cms.sod import parse_sod
from gate.emrtd.docauth_errors import SodEncodingError
from gate.emrtd.iso7816 import tlv
from gate.emrtd.pki import trust
from simulator import pki
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


def _verifies(sod: bytes, groups: dict[int, bytes], store: trust.TrustStore) -> None:
    """Signature, chain and every data group hash check out (DG1 here is no real MRZ)."""
    verdict = passive_authenticate(sod, groups, store, at=AT)
    bad = {"PA_SOD_MALFORMED", "PA_SIGNATURE_INVALID", "PA_CSCA_UNKNOWN", "PA_DG_HASH_MISMATCH"}
    assert not bad & set(verdict.codes), verdict.codes
    assert len(verdict.chain) >= 2
    assert [d.status for d in verdict.data_groups] == ["match"] * len(groups)


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
