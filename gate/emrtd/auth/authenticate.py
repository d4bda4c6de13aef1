"""Document authentication over an open chip session: the thin I/O shell around the pure
cores (:mod:`passive`, :mod:`aa`, :mod:`ca`).

Order: passive authentication on the files read; then chip authentication (DG14) when the
document offers it, which restarts secure messaging with new keys and proves them by reading
DG1 again; then active authentication (DG15) with a fresh challenge. Chip authentication counts
only when passive authentication passed; a failed AA or CA on otherwise genuine data is reported
as CHIP_CLONE_SUSPECTED.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime

from gate.emrtd.auth import aa, ca
from gate.emrtd.auth.passive import PaPolicy, passive_authenticate
from gate.emrtd.auth.verdict import AuthenticityVerdict
from gate.emrtd.docauth_errors import ActiveAuthError, ChipAuthError
from gate.emrtd.errors import ChipError
from gate.emrtd.iso7816.apdu import CommandAPDU, decode_command
from gate.emrtd.pki import trust
from gate.emrtd.reader import Reader

DG_NUMBERS = {f"DG{n}": n for n in range(1, 17)}


def data_groups(files: Mapping[str, bytes]) -> dict[int, bytes]:
    return {DG_NUMBERS[name]: data for name, data in files.items() if name in DG_NUMBERS}


def run_chip_authentication(
    reader: Reader, files: Mapping[str, bytes], dg14: ca.Dg14 | None = None
) -> tuple[bool, str]:
    """Chip authentication with the DG14 key; (passed, detail for the officer). ``dg14``:
    DG14 already parsed (else it is parsed from ``files``)."""
    try:
        if dg14 is None:
            dg14 = ca.parse_dg14(files["DG14"])
        step = ca.start(dg14)
        for raw in step.commands:
            resp = reader.session.transmit(decode_command(raw))
            if not resp.ok:
                return False, f"chip refused chip authentication (SW {resp.sw:04X})"
        reader.session.restart_secure_messaging(step.ks_enc, step.ks_mac, step.cipher, 0)
        proof = reader.read_file("DG1")
    except (ChipAuthError, ChipError) as exc:
        return False, f"chip authentication failed: {exc}"
    if "DG1" in files and proof != files["DG1"]:
        return False, "DG1 read under the new keys differs from the first read"
    return True, f"{step.cipher} keys agreed with the DG14 key; DG1 read under them"


def run_active_authentication(
    reader: Reader, files: Mapping[str, bytes], challenge: bytes, dg14: ca.Dg14 | None = None
) -> tuple[bool, str]:
    """INTERNAL AUTHENTICATE with ``challenge``, verified with the DG15 key. ``dg14``: DG14
    already parsed (else it is parsed from ``files`` when present)."""
    try:
        key = aa.dg15_public_key(files["DG15"])
        ecdsa_hash = None
        if dg14 is None and "DG14" in files:
            dg14 = ca.parse_dg14(files["DG14"])
        if dg14 is not None:
            ecdsa_hash = aa.aa_hash_from_oid(dg14.aa_signature_oid)
        apdu = decode_command(aa.internal_authenticate_apdu(challenge))
        size = getattr(key, "key_size", 2048) // 8
        resp = reader.session.transmit(
            CommandAPDU(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data, le=max(256, size))
        )
    except (ActiveAuthError, ChipAuthError, ChipError) as exc:
        return False, f"active authentication failed: {exc}"
    if not resp.ok:
        return False, f"chip refused INTERNAL AUTHENTICATE (SW {resp.sw:04X})"
    result = aa.verify_response(key, challenge, resp.data, ecdsa_hash=ecdsa_hash)
    return result.ok, result.detail


def authenticate_document(
    reader: Reader,
    files: Mapping[str, bytes],
    store: trust.TrustStore,
    *,
    at: datetime | date,
    mrz: str | None = None,
    policy: PaPolicy | None = None,
    random: Callable[[int], bytes] = secrets.token_bytes,
) -> AuthenticityVerdict:
    """PA on ``files`` (as read by ``reader``), then CA and AA over the open session."""
    verdict = passive_authenticate(
        files.get("EF.SOD", b""), data_groups(files), store, at=at, mrz=mrz, policy=policy
    )
    dg14: ca.Dg14 | None = None  # parsed once for CA and AA
    if "DG14" in files:
        try:
            dg14 = ca.parse_dg14(files["DG14"])
        except ChipAuthError:
            dg14 = None  # no CA; AA reports the DG14 error when it needs the file
    if dg14 is not None and dg14.keys and verdict.passive_ok:
        verdict.record_chip_auth(*run_chip_authentication(reader, files, dg14))
    if "DG15" in files:
        verdict.record_active_auth(*run_active_authentication(reader, files, random(8), dg14))
    elif not any(f.code.startswith("CA_") for f in verdict.findings):
        verdict.record_active_auth(None, "no DG15: the chip offers neither AA nor CA")
    return verdict
