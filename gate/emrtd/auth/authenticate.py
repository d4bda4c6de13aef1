"""Document authentication over an open chip session: the protocol flow around the pure
cores (:mod:`passive`, :mod:`aa`, :mod:`ca`). Sans-IO like the reader: the functions that talk
to the chip are :data:`~gate.emrtd.iso7816.exchange.Exchange` generators (they yield command
APDUs and receive the responses); a shell (``drivers.chiplink``) drives them over a link, and
a link failure it throws in at the ``yield`` is handled here like any chip error.

Order: passive authentication on the files read; then chip authentication (DG14) when the
document offers it, which restarts secure messaging with new keys and proves them by reading
DG1 again; then active authentication (DG15) with a fresh challenge. Chip authentication counts
only when passive authentication passed.

What the SOD lists decides what must happen, not what the chip chose to return: a data group
listed in EF.SOD that the chip did not return is PA_DG_NOT_RETURNED, and a listed DG14/DG15
makes CA/AA mandatory (a clone cannot switch them off by hiding the file). Only a signature or
a key agreement that verifiably fails is CHIP_CLONE_SUSPECTED; a transport error, a refused
command, a truncated answer or an unsupported key is AA_NOT_COMPLETED / CA_NOT_COMPLETED, and
the lane policy refers the traveller.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime

from gate.emrtd.auth import aa, ca
from gate.emrtd.auth.passive import PaPolicy, passive_authenticate
from gate.emrtd.auth.verdict import AuthenticityVerdict, ProofOutcome
from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import ActiveAuthError, ChipAuthError
from gate.emrtd.document import DG_NUMBERS, Document
from gate.emrtd.errors import (
    CardRemovedError,
    ChipError,
    SecureMessagingError,
    StatusWordError,
)
from gate.emrtd.iso7816.apdu import CommandAPDU, ResponseAPDU, decode_command
from gate.emrtd.iso7816.exchange import Exchange
from gate.emrtd.pki.trustpool import TrustPool
from gate.emrtd.reader import Reader

EAC_PROTECTED = frozenset({3, 4})
"""Fingerprints and iris: readable only after terminal authentication, never expected."""
SECURITY_GROUPS = frozenset({1, 14, 15})
"""What must be returned when listed, whatever the caller read: the MRZ and the chip's keys."""
SM_FAILURE_SWS = frozenset({0x6987, 0x6988})
"""Secure-messaging data objects missing or incorrect (ISO 7816-4)."""

Proof = tuple[ProofOutcome, str]


def _key_name(key_id: int | None) -> str:
    return "the DG14 key" if key_id is None else f"DG14 key {key_id}"


def _agree_key(
    reader: Reader, dg14: ca.Dg14, key_id: int | None, refusals: list[str], only_key: bool
) -> Exchange[ca.CaStep | None]:
    """Send the MSE (and GENERAL AUTHENTICATE) for one DG14 key; the step when the chip
    accepted them all, None (the reason appended to ``refusals``) when it refused one before
    the key switch. A 6700 to an MSE naming the key is asked once more without the key
    reference when it is DG14's ``only_key`` (the chip's default key is then unambiguous;
    with several keys an unnamed default could be another key and look like a clone)."""
    named = True
    while True:
        try:
            step = ca.start(dg14, key_id=key_id, key_reference=named)
        except ChipAuthError as exc:
            refusals.append(f"{_key_name(key_id)} unusable ({exc})")
            return None
        for raw in step.commands:
            resp = yield from reader.session.transmit(decode_command(raw))
            if not resp.ok:
                break
        else:
            return step
        if resp.sw == 0x6700 and step.named_key and only_key:
            refusals.append(f"{_key_name(key_id)}: SW 6700, asked again without the key id")
            named = False
            continue
        refusals.append(f"{_key_name(key_id)}: SW {resp.sw:04X}")
        return None


def run_chip_authentication(
    reader: Reader, files: Mapping[str, bytes], dg14: ca.Dg14 | None = None
) -> Exchange[Proof]:
    """Chip authentication with the DG14 keys; (outcome, detail for the officer). ``dg14``:
    DG14 already parsed (else it is parsed from ``files``). Each key (by KeyId) is tried in
    turn while the chip refuses the commands for the previous one.

    "failed" only when the keys were agreed and the chip cannot use them (its answer under
    the new keys fails secure messaging, or DG1 differs); a refused command or a transport
    error before that is "not_completed"."""
    try:
        if dg14 is None:
            dg14 = ca.parse_dg14(files["DG14"])
        key_ids = ca.key_ids(dg14)
        if not key_ids:
            raise ChipAuthError("DG14 has no chip authentication public key")
    except ChipAuthError as exc:
        return "not_completed", f"chip authentication not possible: {exc}"
    refusals: list[str] = []
    step: ca.CaStep | None = None
    for key_id in key_ids:
        try:
            step = yield from _agree_key(reader, dg14, key_id, refusals, len(key_ids) == 1)
        except ChipError as exc:
            return "not_completed", f"chip authentication interrupted: {exc}"
        if step is not None:
            break
    if step is None:
        return "not_completed", "chip refused chip authentication: " + "; ".join(refusals)
    reader.session.restart_secure_messaging(step.ks_enc, step.ks_mac, step.cipher, 0)
    try:
        proof = yield from reader.read_file("DG1")
    except CardRemovedError as exc:
        return "not_completed", f"chip authentication interrupted: {exc}"
    except SecureMessagingError as exc:
        return "failed", f"the chip cannot use the keys agreed with its DG14 key ({exc})"
    except StatusWordError as exc:
        if exc.sw in SM_FAILURE_SWS:
            return "failed", f"the chip rejects the keys agreed with its DG14 key ({exc})"
        return "not_completed", f"reading DG1 under the new keys: {exc}"
    except ChipError as exc:
        return "not_completed", f"reading DG1 under the new keys: {exc}"
    if "DG1" in files and proof != files["DG1"]:
        return "failed", "DG1 read under the new keys differs from the first read"
    return "passed", f"{step.cipher} keys agreed with {_key_name(step.key_id)}; DG1 read under them"


def _aa_hash(files: Mapping[str, bytes], dg14: ca.Dg14 | None) -> str | None:
    """The ECDSA hash named by DG14's ActiveAuthenticationInfo; None when DG14 names none (the
    hash then follows the key size)."""
    if dg14 is None and "DG14" in files:
        try:
            dg14 = ca.parse_dg14(files["DG14"])
        except ChipAuthError:
            return None
    return aa.aa_hash_from_oid(dg14.aa_signature_oid) if dg14 is not None else None


def _le_attempts(key: certs.PublicKey, extended: bool) -> tuple[int, ...]:
    """The Le to ask with first and the one to retry with. A response whose protected form
    exceeds 256 bytes (RSA-2048: 283-291 bytes) needs an extended Le; some chips then answer
    nothing, others cut a short-Le answer: one retry with the other form. A chip or reader
    without extended length (``Reader.extended``) is asked with a short Le only."""
    if not extended:
        return (256,)
    plain = aa.expected_length(key)
    return (65536, 256) if plain > 224 else (256, 65536)


def _internal_authenticate(reader: Reader, challenge: bytes, le: int) -> Exchange[ResponseAPDU]:
    cmd = decode_command(aa.internal_authenticate_apdu(challenge))
    sized = CommandAPDU(cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data, le=le)
    return (yield from reader.session.transmit(sized))


def run_active_authentication(
    reader: Reader, files: Mapping[str, bytes], challenge: bytes, dg14: ca.Dg14 | None = None
) -> Exchange[Proof]:
    """INTERNAL AUTHENTICATE with ``challenge``, verified with the DG15 key. ``dg14``: DG14
    already parsed (else it is parsed from ``files`` when present).

    "failed" only for a complete answer that does not verify; a refused command, a transport
    or secure-messaging error (a bare 6988) or an answer still truncated after one retry with
    the other Le form is "not_completed"."""
    try:
        key = aa.dg15_public_key(files["DG15"])
        ecdsa_hash = _aa_hash(files, dg14)
    except ActiveAuthError as exc:
        return "not_completed", f"active authentication not possible: {exc}"
    problem = ""
    for attempt, le in enumerate(_le_attempts(key, getattr(reader, "extended", True))):
        retry = " (after a retry with another Le)" if attempt else ""
        try:
            resp = yield from _internal_authenticate(reader, challenge, le)
        except CardRemovedError as exc:
            return "not_completed", f"active authentication interrupted: {exc}"
        except ChipError as exc:
            problem = f"INTERNAL AUTHENTICATE failed in transport: {exc}{retry}"
            continue
        if resp.sw not in (0x9000, 0x6282) or not resp.data:
            problem = f"chip answered INTERNAL AUTHENTICATE with SW {resp.sw:04X}{retry}"
            continue
        result = aa.verify_response(key, challenge, resp.data, ecdsa_hash=ecdsa_hash)
        if result.ok:
            return "passed", result.detail + retry
        if aa.looks_truncated(key, resp.data):
            problem = (
                f"truncated answer ({len(resp.data)} of {aa.expected_length(key)} bytes)"
                f"{retry}: {result.detail}"
            )
            continue
        return "failed", result.detail
    return "not_completed", problem


def _listed(verdict: AuthenticityVerdict) -> set[int]:
    return {d.number for d in verdict.data_groups if d.status != "not_in_sod"}


def _not_returned(
    verdict: AuthenticityVerdict, document: Document, requested: Iterable[str] | None
) -> list[int]:
    expected = set(SECURITY_GROUPS)
    if requested is not None:
        expected |= {DG_NUMBERS[n] for n in requested if n in DG_NUMBERS}
    returned = set(document.data_groups)
    return sorted((_listed(verdict) & expected) - returned - EAC_PROTECTED)


def authenticate_document(
    reader: Reader,
    document: Document,
    store: TrustPool,
    *,
    at: datetime | date,
    mrz: str | None = None,
    policy: PaPolicy | None = None,
    random: Callable[[int], bytes] = secrets.token_bytes,
    requested: Iterable[str] | None = None,
) -> Exchange[AuthenticityVerdict]:
    """PA on ``document`` (the files ``reader`` read), then CA and AA over the open session.

    ``requested``: the files the caller asked the chip for; those listed in EF.SOD (and DG1,
    DG14, DG15 whenever listed) that the document lacks are PA_DG_NOT_RETURNED."""
    verdict = passive_authenticate(document, store, at=at, mrz=mrz, policy=policy)
    files = document.files
    for number in _not_returned(verdict, document, requested):
        verdict.add(
            "PA_DG_NOT_RETURNED",
            f"DG{number} is listed in EF.SOD but the chip did not return it",
        )
    listed = _listed(verdict)
    dg14: ca.Dg14 | None = None  # parsed once for CA and AA
    dg14_problem = "DG14 is listed in EF.SOD but was not returned" if 14 in listed else ""
    if "DG14" in files:
        try:
            dg14 = ca.parse_dg14(files["DG14"])
        except ChipAuthError as exc:
            dg14_problem = f"DG14 cannot be used: {exc}"
    if verdict.passive_ok:
        if dg14 is not None and dg14.keys:
            verdict.record_chip_auth(*(yield from run_chip_authentication(reader, files, dg14)))
        elif dg14_problem:
            verdict.record_chip_auth("not_completed", dg14_problem)
    if "DG15" in files:
        challenge = random(8)
        verdict.record_active_auth(
            *(yield from run_active_authentication(reader, files, challenge, dg14))
        )
    elif 15 in listed:
        verdict.record_active_auth("not_completed", "DG15 is listed in EF.SOD but was not returned")
    elif not any(f.code.startswith("CA_") for f in verdict.findings):
        verdict.record_active_auth(None, "no DG15: the chip offers neither AA nor CA")
    return verdict
