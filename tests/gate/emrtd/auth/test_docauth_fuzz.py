"""Property-based fuzzing: SOD, DG and certificate parsers never fail with anything but
their domain errors, and passive authentication always returns a verdict."""

from __future__ import annotations

import contextlib
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.emrtd.auth import aa, ca, passive
from gate.emrtd.cms import sod
from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import (
    ActiveAuthError,
    CertificateError,
    ChipAuthError,
    DataGroupError,
    DocAuthError,
    SodError,
)
from gate.emrtd.document import Document
from gate.emrtd.pki import trust
from simulator import passports, pki
from simulator.pki import TEST_PKI_EPOCH as NOW
from simulator.pki import shared_test_pki as shared_pki

_P = shared_pki()
_DG1 = b"\x61\x5b\x5f\x1f\x58" + (
    b"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"
)
_SOD = pki.build_sod({1: _DG1, 2: b"\x75\x00"}, _P.dsc_brainpool_explicit)


_STORE = trust.TrustStore()
for _csca in _P.cscas:
    _STORE.import_bytes(_csca.der, source="csca", now=NOW)
_STORE.import_bytes(
    pki.make_crl(_P.csca_ec_explicit, [3], this_update=NOW, next_update=NOW),
    source="crl",
    now=NOW,
)


def _sod() -> bytes:
    return _SOD


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        out[pos % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


edits = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4)
cuts = st.one_of(st.none(), st.integers(0, 3000))
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(edits, cuts)
def test_sod_parser_and_pa_never_crash(changes: list[tuple[int, int]], cut: int | None) -> None:
    data = _mutate(_sod(), changes, cut)
    with contextlib.suppress(SodError):
        sod.parse_sod(data)
    verdict = passive.passive_authenticate(
        Document.from_data_groups(data, {1: _DG1}), _STORE, at=date(2026, 2, 1)
    )
    assert verdict.codes
    if verdict.passive_ok:
        # Only edits that leave the signed bytes intact may pass (e.g. no-op edits).
        assert sod.parse_sod(data).dg_hashes == sod.parse_sod(_SOD).dg_hashes


@FUZZ
@given(st.binary(max_size=300))
def test_sod_parser_on_random_bytes(data: bytes) -> None:
    for candidate in (data, b"\x77" + bytes([len(data) & 0x7F]) + data):
        with contextlib.suppress(SodError):
            sod.parse_sod(candidate)


@FUZZ
@given(edits, cuts)
def test_certificate_parser_never_crashes(changes: list[tuple[int, int]], cut: int | None) -> None:
    for original in (_P.dsc_brainpool_explicit.der, _P.dsc_rsa_pss.der):
        data = _mutate(original, changes, cut)
        try:
            cert = certs.load_certificate(data)
            key = certs.cert_public_key(cert)
            certs.summarize(cert)
            certs.verify_certificate(cert, key)
        except CertificateError:
            pass


@FUZZ
@given(st.binary(max_size=200))
def test_dg1_parser_never_crashes(data: bytes) -> None:
    for candidate in (data, b"\x61" + bytes([len(data) & 0x7F]) + data, _DG1[:5] + data):
        try:
            mrz = Document.from_data_groups(None, {1: candidate}).dg1_mrz
            passive.dg1_facts(mrz, date(2026, 1, 1))
        except DataGroupError:
            pass


_DG14 = passports.dg14(_P.dsc_p256.key, True)  # type: ignore[arg-type]
_DG15 = passports.dg15(_P.dsc_brainpool_explicit.key)


@FUZZ
@given(edits, cuts)
def test_dg14_and_dg15_parsers_never_crash(changes: list[tuple[int, int]], cut: int | None) -> None:
    with contextlib.suppress(ChipAuthError):
        dg14 = ca.parse_dg14(_mutate(_DG14, changes, cut))
        if dg14.keys:
            ca.start(dg14, ephemeral_secret=7)
    with contextlib.suppress(ActiveAuthError):
        aa.dg15_public_key(_mutate(_DG15, changes, cut))


_ML = pki.sign_master_list(_P.dsc_p256, [c.cert for c in _P.cscas], signing_time=NOW)
_CRL = pki.make_crl(_P.csca_rsa, [1, 2], this_update=NOW, next_update=NOW)


@FUZZ
@given(edits, cuts)
def test_trust_imports_never_crash(changes: list[tuple[int, int]], cut: int | None) -> None:
    store = trust.TrustStore()
    store.import_bytes(_P.csca_rsa.der, source="csca", now=NOW)
    for original in (_ML, _CRL):
        with contextlib.suppress(DocAuthError):
            store.import_bytes(
                _mutate(original, changes, cut),
                source="fuzz",
                now=NOW,
                master_list_roots=[_P.csca_rsa.cert],
            )
