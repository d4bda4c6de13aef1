"""Reading an eMRTD: access control (PACE first, BAC fallback) and the file-reading strategy.

Sans-IO like the protocol steps it composes (apdu, sm, bac, pace, lds): every operation that
talks to the chip is an :data:`~gate.emrtd.iso7816.exchange.Exchange` generator that yields raw
command APDUs, receives the raw responses through ``send()`` and returns its result. Nothing
here owns a link, a clock or a thread: a shell drives the generators over a transport (the
in-process virtual chip, PC/SC; ``drivers.chiplink.run``), or a test feeds them by hand::

    session = ChipSession(atr=transport.atr)
    reader = Reader(session)
    access = run(reader.open(mrz_information), transport, stats=session.stats)

The ATR comes in as a value (its historical bytes tell whether to try extended length).

:class:`ChipSession` is the object other protocols build on (active and chip authentication):
``yield from session.transmit(CommandAPDU)`` protects the command when secure messaging is open
and returns the unprotected response; ``session.restart_secure_messaging(ks_enc, ks_mac,
cipher, ssc)`` switches keys after chip authentication.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from gate.emrtd.access.bac import BACTerminal
from gate.emrtd.access.pace import (
    PASSWORD_CAN,
    PASSWORD_MRZ,
    PACETerminal,
    can_password,
    mrz_password,
)
from gate.emrtd.cms.sod import parse_sod
from gate.emrtd.crypto.ecmath import STANDARD_DH_GROUPS
from gate.emrtd.crypto.kdf import Cipher
from gate.emrtd.docauth_errors import DocAuthError
from gate.emrtd.errors import (
    AccessControlError,
    APDUError,
    ChipError,
    LDSError,
    PACEError,
    SecureMessagingError,
    SecurityInfoError,
    StatusWordError,
    TLVError,
)
from gate.emrtd.iso7816 import tlv
from gate.emrtd.iso7816.apdu import CommandAPDU, ResponseAPDU, decode_response, sw_hint
from gate.emrtd.iso7816.exchange import Exchange
from gate.emrtd.lds import lds
from gate.emrtd.lds.securityinfos import (
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    pace_infos,
    parse_card_access,
    parse_card_security,
    parse_dg14,
)
from gate.emrtd.sm.sm import SecureMessaging

EMRTD_AID = bytes.fromhex("A0000002471001")
SW_EOF = 0x6282
ABSENT_CARD_ACCESS = frozenset({0x6A82, 0x6A86, 0x6982, 0x6A88, 0x6D00})
"""Status words to an EF.CardAccess read that mean a chip without it (BAC only)."""
FALLBACK_LIMITS = (0xE7, 0xDF, 0xA0, 0x80, 0x40, 0x20, 0x10)
"""Response limits (SM objects included) tried in turn after a 6700 on a short READ BINARY."""
B1_SLACK = 5
"""Bytes of the response limit kept free for the DO'53 header around B1 data."""
LANE_FILES = ("EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15")
"""What a lane reads: the MRZ data, the portrait, the keys for chip and active authentication."""
REQUIRED_FILES = ("DG1", "EF.SOD")
"""Without these a read is incomplete: the MRZ data and its signature."""


def historical_bytes(atr: bytes) -> bytes:
    """The historical bytes of an ATR (ISO 7816-3 8.2): skip TS, T0 and the interface bytes."""
    if len(atr) < 2:
        return b""
    t0 = atr[1]
    y, pos = t0 >> 4, 2
    while True:
        pos += bin(y & 0x7).count("1")  # TA, TB, TC present
        if not y & 0x8:  # no TD
            break
        if pos >= len(atr):
            return b""
        y = atr[pos] >> 4
        pos += 1
    return atr[pos : pos + (t0 & 0x0F)]


def atr_supports_extended_length(atr: bytes) -> bool:
    """ISO 7816-4 card capabilities (compact-TLV tag 7 in the historical bytes), third byte
    bit 7 (0x40): extended Lc and Le fields."""
    hist = historical_bytes(atr)
    if not hist or hist[0] != 0x80:
        return False
    i = 1
    while i < len(hist):
        tag, length = hist[i] >> 4, hist[i] & 0x0F
        value = hist[i + 1 : i + 1 + length]
        if tag == 7 and len(value) >= 3:
            return bool(value[2] & 0x40)
        i += 1 + length
    return False


@dataclass
class LinkStats:
    """What crossed the link. The session counts APDUs and bytes; ``seconds`` is added by the
    shell that times the exchanges (it stays 0 when nobody measures)."""

    apdus: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0


class ChipSession:
    """One connection to a chip, with optional secure messaging. ``atr``: the chip's answer to
    reset as the link reported it (b"" when unknown: no extended-length claim)."""

    def __init__(self, atr: bytes = b""):
        self.atr = atr
        self.sm: SecureMessaging | None = None
        self.stats = LinkStats()
        self.log: list[tuple[bytes, bytes]] = []
        self.keep_log = False
        self.extended_length = True
        """Whether the link takes extended APDUs (the reader turns it off after the ATR or a
        6700 says no); without them, longer command data goes as a chain of short commands."""
        self.max_command = 65535
        """The chip's largest command data (EF.ATR/INFO); longer data is chained."""

    def transmit_raw(self, raw: bytes) -> Exchange[bytes]:
        """One exchange on the link; a 61xx (more data waiting: T=0, or a response longer
        than a short Le) is collected with GET RESPONSE (ISO 7816-4 5.3.4), with the data
        that came with it, so callers always see the whole response."""
        out = yield from self._exchange(raw)
        data = b""
        for _ in range(64):  # a chip answering 61xx forever must not keep us
            if len(out) < 2 or out[-2] != 0x61:
                break
            data += out[:-2]
            out = yield from self._exchange(bytes([raw[0] & 0x03, 0xC0, 0x00, 0x00, out[-1]]))
        return data + out if data else out

    def _exchange(self, raw: bytes) -> Exchange[bytes]:
        """The one place a command leaves the core: yield it, take the answer."""
        out = yield raw
        self.stats.apdus += 1
        self.stats.bytes_sent += len(raw)
        self.stats.bytes_received += len(out)
        if self.keep_log:
            self.log.append((raw, out))
        return out

    def transmit(self, cmd: CommandAPDU) -> Exchange[ResponseAPDU]:
        """Send one command; protected with secure messaging when a session is open.

        The status word always comes back, also for errors the chip sent without secure
        messaging (the session stays open: :meth:`SecureMessaging.unprotect`). A 6Cxx ("wrong
        Le, xx bytes available") is answered by sending the command once more with exactly that
        Le, for this command only (ISO 7816-4 5.1.3)."""
        resp = yield from self._transmit_once(cmd)
        if resp.sw & 0xFF00 == 0x6C00 and cmd.le is not None:
            offered = resp.sw & 0xFF or 256
            if offered != cmd.le:
                resp = yield from self._transmit_once(
                    replace(cmd, le=offered, force_extended=False)
                )
        return resp

    def _transmit_once(self, cmd: CommandAPDU) -> Exchange[ResponseAPDU]:
        if self.sm is None:
            if len(cmd.data) > self._largest_data():
                return (yield from self._transmit_chained(cmd))
            resp = yield from self._transmit_plain(cmd)
            if resp.sw == 0x6700 and len(cmd.data) > 255 and self.extended_length:
                # the ATR claimed extended length, but the reader or the chip refuses
                # extended APDUs: from now on short ones, long data chained
                self.extended_length = False
                return (yield from self._transmit_chained(cmd))
            return resp
        protected = self.sm.protect(cmd)
        raw = yield from self.transmit_raw(protected.encode())
        try:
            resp = decode_response(raw)
        except APDUError as exc:
            self.sm.closed = True
            raise SecureMessagingError(f"response to INS {cmd.ins:02X}: {exc}") from exc
        return self.sm.unprotect(resp)

    def _transmit_plain(self, cmd: CommandAPDU) -> Exchange[ResponseAPDU]:
        raw = yield from self.transmit_raw(cmd.encode())
        try:
            return decode_response(raw)
        except APDUError as exc:
            raise ChipError(f"chip answered INS {cmd.ins:02X} with garbage: {exc}") from exc

    def _largest_data(self) -> int:
        return min(self.max_command, 65535 if self.extended_length else 255)

    def _transmit_chained(self, cmd: CommandAPDU) -> Exchange[ResponseAPDU]:
        """ISO/IEC 7816-4 5.1.1.1 command chaining: the data in pieces the link takes, every
        piece but the last with CLA bit b5 (0x10) set; the last carries the command's own CLA
        and Le. A piece refused (6883/6884: the chip takes no chaining) ends the chain with
        that answer. PACE sets the same bit on its first three GENERAL AUTHENTICATE steps
        (BSI TR-03110-3 B.1), so a chip rebuilds a split step from the length of its 7C
        object, not from the bit alone."""
        size = max(1, self._largest_data())
        pieces = [cmd.data[i : i + size] for i in range(0, len(cmd.data), size)]
        for piece in pieces[:-1]:
            piece_cmd = CommandAPDU(cmd.cla | 0x10, cmd.ins, cmd.p1, cmd.p2, piece)
            resp = yield from self._transmit_plain(piece_cmd)
            if not resp.ok:
                return resp
        le = cmd.le if cmd.le is None or self.extended_length else min(cmd.le, 256)
        last = replace(cmd, data=pieces[-1], le=le, force_extended=False)
        return (yield from self._transmit_plain(last))

    def restart_secure_messaging(
        self, ks_enc: bytes, ks_mac: bytes, cipher: Cipher, ssc: int = 0
    ) -> None:
        """Replace the session keys (after chip authentication) and the counter."""
        self.sm = SecureMessaging(cipher, ks_enc, ks_mac, ssc)

    def close_secure_messaging(self) -> None:
        self.sm = None


@dataclass
class AccessResult:
    protocol: Literal["BAC", "PACE"]
    mapping: str | None = None
    cipher: str = "3DES"
    pace_info: PACEInfo | None = None
    card_access: bytes | None = None
    card_security: bytes | None = None
    cam_verified: bool | None = None
    pace_error: str | None = None
    """Why PACE was not used although EF.CardAccess exists (PACE failed, or EF.CardAccess is
    unreadable or offers nothing usable): the chip was opened with BAC instead, a downgrade."""

    @property
    def downgraded(self) -> bool:
        """BAC although the chip has EF.CardAccess (it offers, or claims to offer, PACE)."""
        return self.protocol == "BAC" and self.pace_error is not None


@dataclass
class ReadPolicy:
    extended_length: Literal["auto", "on", "off"] = "auto"
    max_response: int | None = None
    """Largest response (data + SM objects) the chip accepts; None: learn it (EF.ATR/INFO, 6700)."""
    prefer_pace: bool = True
    send_parameter_id: bool = True
    verify_cam: bool = True
    require_pace: bool = False
    """Refuse a BAC fallback when the chip has EF.CardAccess (raise :class:`PACEError`)."""


@dataclass
class FileRead:
    name: str
    data: bytes
    apdus: int
    seconds: float


@dataclass
class Reader:
    """Opens a chip and reads its files with the fewest APDUs its limits allow."""

    session: ChipSession
    policy: ReadPolicy = field(default_factory=ReadPolicy)
    rng: Callable[[int], bytes] = os.urandom

    def __post_init__(self) -> None:
        if self.policy.extended_length == "auto":
            self.extended = atr_supports_extended_length(self.session.atr)
        else:
            self.extended = self.policy.extended_length == "on"
        self.limit = self.policy.max_response or (65536 if self.extended else 256)
        if not self.extended:
            self.limit = min(self.limit, 256)
        self._in_app = False
        self._mf_answered = False
        """A master-file EF (EF.ATR/INFO) was read: a 6A82 for EF.CardAccess means absent."""
        self.access: AccessResult | None = None
        """What :meth:`open` did (``read_document`` may add a downgrade it finds in DG14)."""

    @property
    def extended(self) -> bool:
        """Extended APDUs on this link (kept by the session, which chains long commands
        without them)."""
        return self.session.extended_length

    @extended.setter
    def extended(self, value: bool) -> None:
        self.session.extended_length = value

    # -- file reading ------------------------------------------------------------------------
    def _chunk(self, wrapper: int = 0) -> int:
        """Largest plain Le whose (protected) response fits the response limit."""
        limit = self.limit - wrapper
        sm = self.session.sm
        if sm is None:
            return max(1, min(limit, 65536))
        n = limit - 14
        while n > 1 and n + sm.overhead(n) > limit:
            n -= 1 if n < 64 else max(1, (n + sm.overhead(n) - limit) // 2)
        return max(1, n)

    def _adapt(self, sw: int) -> bool:
        """Step the response limit down after 6700 / 6Fxx (a chip or reader that cannot send
        that much: 231, 223, 160... bytes, the limits met in the field); False when nothing
        smaller helps. 6Cxx never gets here: the session re-sends with the offered Le."""
        if sw != 0x6700 and sw & 0xFF00 != 0x6F00:
            return False
        if self.limit <= 16:
            return False
        if self.limit > 256:
            self.limit = max(256, self.limit // 2)
            if self.limit == 256:
                self.extended = False
            return True
        self.limit = next((n for n in FALLBACK_LIMITS if n < self.limit), max(16, self.limit // 2))
        return True

    def _read_binary(self, p1: int, p2: int, offset: int, le: int) -> Exchange[ResponseAPDU]:
        """READ BINARY B0, or B1 with a DO'54 offset beyond 32767. For B1, ``le`` counts the
        DO'53 around the data: some chips count its header in Le, others do not (JMRTD enlarges
        Le by the header for the same reason), so the caller accepts short answers."""
        if offset > 0x7FFF:
            off = offset.to_bytes(3 if offset > 0xFFFF else 2, "big")
            cmd = CommandAPDU(0x00, 0xB1, 0x00, 0x00, tlv.encode(0x54, off), le=le)
            resp = yield from self.session.transmit(cmd)
            if resp.sw in (0x9000, SW_EOF) and resp.data:
                try:
                    item, _ = tlv.decode_one(resp.data)
                except TLVError as exc:
                    raise ChipError(f"READ BINARY (B1) at {offset}: bad 53 object ({exc})") from exc
                return ResponseAPDU(item.value, resp.sw)
            return resp
        return (yield from self.session.transmit(CommandAPDU(0x00, 0xB0, p1, p2, le=le)))

    def _le(self, offset: int, total: int | None) -> int:
        """The Le for the next READ BINARY at ``offset``: the largest answer that fits the
        response limit, no more than the rest of the file (plus the DO'53 header for B1)."""
        odd = offset > 0x7FFF
        le = self._chunk(B1_SLACK if odd else 0)
        if total is not None:
            rest = total - offset
            le = min(le, rest + (1 + len(tlv.encode_length(rest)) if odd else 0))
        return min(le, 65536 if self.extended else 256)

    def _select_ef(self, name: str) -> Exchange[ResponseAPDU]:
        fid = lds.FILE_IDS[name].to_bytes(2, "big")
        return (yield from self.session.transmit(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, fid)))

    def read_file(self, name: str) -> Exchange[bytes]:
        """Read a whole elementary file by name (EF.COM, EF.SOD, DG1..DG16, EF.CardAccess,
        EF.CardSecurity, EF.ATR/INFO) in the current DF."""
        sfi = lds.SFIS.get(name, 1 if name == "EF.ATR/INFO" else None)
        data = b""
        total: int | None = None
        by_sfi = sfi is not None
        selected = sfi_used = False
        budget = 4096  # APDUs per file: a chip trickling bytes must not keep us forever
        while total is None or len(data) < total:
            budget -= 1
            if budget < 0:
                raise ChipError(f"{name}: the chip returns too little data per READ BINARY")
            offset = len(data)
            le = self._le(offset, total)
            if offset == 0 and by_sfi:
                assert sfi is not None
                resp = yield from self._read_binary(0x80 | sfi, 0, 0, le)
                if resp.sw in (0x6A86, 0x6981, 0x6A81, 0x6D00) and not resp.data:
                    by_sfi = False  # the chip does not take SFI addressing: select by file ID
                    continue
            else:
                if not selected and not sfi_used:
                    selected = True
                    sel = yield from self._select_ef(name)
                    if not sel.ok:
                        raise StatusWordError(sel.sw, f"SELECT {name}", sw_hint(sel.sw))
                resp = yield from self._read_binary(offset >> 8 & 0x7F, offset & 0xFF, offset, le)
            if resp.sw not in (0x9000, SW_EOF) or (not resp.data and resp.sw != 0x9000):
                if self._adapt(resp.sw):
                    continue
                raise StatusWordError(
                    resp.sw, f"READ BINARY {name} at offset {offset}", sw_hint(resp.sw)
                )
            if not resp.data:
                if total is None:
                    raise LDSError(f"{name}: the chip returned an empty file")
                raise LDSError(f"{name}: no data at offset {offset}, header says {total} bytes")
            sfi_used = sfi_used or (offset == 0 and by_sfi)
            data += resp.data
            if total is None:
                try:
                    total = lds.file_length_from_header(data[:8])
                except LDSError as exc:
                    if len(data) < 8 and resp.sw == SW_EOF:
                        raise
                    if len(data) < 6:
                        continue
                    raise LDSError(f"{name}: {exc}") from exc
                if total > 1 << 20:
                    raise LDSError(f"{name}: header declares {total} bytes, more than 1 MiB")
            if resp.sw == SW_EOF and len(data) < total:
                raise LDSError(f"{name}: file ends at {len(data)} bytes, header says {total}")
        return data[:total] if total is not None else data

    # -- access control ----------------------------------------------------------------------
    def select_application(self) -> Exchange[None]:
        resp = yield from self.session.transmit(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID))
        if not resp.ok:
            raise StatusWordError(resp.sw, "SELECT eMRTD application", sw_hint(resp.sw))
        self._in_app = True

    def learn_limits(self) -> Exchange[None]:
        """With extended length, read EF.ATR/INFO (7F66) for the chip's response limit.

        The read is sent with an extended Le, so it also probes the ATR's claim: a 6700 or
        6Fxx (a reader without extended APDUs in front of the chip, or a chip announcing
        more than it does) turns extended length off before anything else needs it."""
        if not self.extended:
            return
        try:
            resp = yield from self.session.transmit(
                CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=256, force_extended=True)
            )
        except ChipError:
            return
        if resp.sw == 0x6700 or resp.sw & 0xFF00 == 0x6F00:
            self.extended, self.limit = False, min(self.limit, 256)
            return
        if not resp.data or self.policy.max_response is not None:
            return
        self._mf_answered = resp.sw in (0x9000, SW_EOF)
        try:
            info = tlv.find(resp.data, 0x7F66)
            if info is None:
                return
            ints = [t.value for t in tlv.decode_all(tlv.decode_single(info, 0x30).value)]
        except TLVError:
            return
        if len(ints) >= 2:
            self.session.max_command = max(16, min(65535, int.from_bytes(ints[0], "big")))
            self.limit = max(16, min(65536, int.from_bytes(ints[1], "big")))

    def read_card_access(self) -> Exchange[bytes | None]:
        """EF.CardAccess, or None when the chip has none (6A82 and the like: a BAC-only chip).
        A file that is there but cannot be read whole raises: PACE must not silently vanish.

        After a 6A82 the master file is selected explicitly and the file asked once more:
        some chips keep their master-file EFs hidden until SELECT MF. Only a chip answering
        6A82 pays the two extra APDUs, and not when EF.ATR/INFO was read from the master file
        already (:meth:`learn_limits`: the MF is then visible and the 6A82 means absent)."""
        for retry in (False, True):
            try:
                return (yield from self.read_file("EF.CardAccess"))
            except StatusWordError as exc:
                hidden = exc.sw == 0x6A82 and not (retry or self._mf_answered)
                if hidden and (yield from self.select_master_file()):
                    continue
                if exc.sw in ABSENT_CARD_ACCESS:
                    return None
                raise
        return None

    def select_master_file(self) -> Exchange[bool]:
        """SELECT MF (ISO/IEC 7816-4: P1 00, file ID 3F00, no answer data); True when taken."""
        resp = yield from self.session.transmit(CommandAPDU(0x00, 0xA4, 0x00, 0x0C, b"\x3f\x00"))
        return resp.ok

    def open(
        self, mrz_information: str | None = None, can: str | None = None
    ) -> Exchange[AccessResult]:
        """PACE when EF.CardAccess offers it, else (or when PACE fails with the MRZ) BAC.

        A fallback to BAC on a chip that has EF.CardAccess is reported in
        ``AccessResult.pace_error`` (a downgrade is a known attack pattern: the policy
        decides, reason code CHIP_PACE_FAILED); ``ReadPolicy.require_pace`` refuses it."""
        if mrz_information is None and can is None:
            raise AccessControlError("opening a chip needs the MRZ information or the CAN")
        yield from self.learn_limits()
        pace_error = None
        infos: list[PACEInfo] = []
        try:
            card_access = yield from self.read_card_access()
        except (StatusWordError, LDSError) as exc:
            card_access, pace_error = None, f"EF.CardAccess unreadable: {exc}"
            self.session.close_secure_messaging()
        if card_access is not None:
            try:
                infos = pace_infos(parse_card_access(card_access))
            except SecurityInfoError as exc:
                pace_error = f"EF.CardAccess corrupt: {exc}"
            else:
                if not infos:
                    pace_error = "EF.CardAccess lists no PACE protocol"
        if infos and (self.policy.prefer_pace or can is not None):
            info = choose_pace_info(infos)
            if info is None:
                pace_error = "EF.CardAccess offers no PACE protocol this reader supports"
            else:
                try:
                    self.access = yield from self._pace(info, mrz_information, can, card_access)
                    return self.access
                except (PACEError, StatusWordError) as exc:
                    if can is not None or mrz_information is None:
                        raise
                    pace_error = f"PACE failed: {exc}"
                    self.session.close_secure_messaging()
        elif infos:
            pace_error = None  # PACE offered, BAC chosen on purpose (prefer_pace off)
        if mrz_information is None:
            raise AccessControlError(
                "the chip offers no PACE protocol this reader supports, and BAC needs the MRZ"
            )
        if pace_error is not None and self.policy.require_pace:
            raise PACEError(f"{pace_error}; BAC fallback refused (PACE required)")
        result = yield from self._bac(mrz_information)
        result.card_access = card_access
        result.pace_error = pace_error
        self.access = result
        return result

    def _bac(self, mrz_information: str) -> Exchange[AccessResult]:
        yield from self.select_application()
        bac = BACTerminal(mrz_information)
        challenge = yield from self.session.transmit(bac.get_challenge())
        cmd = bac.mutual_authenticate(challenge, self.rng(8), self.rng(16))
        resp = yield from self.session.transmit(cmd)
        if resp.sw == 0x6700:
            # some chips refuse Le 28 for MUTUAL AUTHENTICATE: Le 00 (as JMRTD retries)
            resp = yield from self.session.transmit(replace(cmd, le=256))
        self.session.sm = bac.finish(resp)
        return AccessResult("BAC", None, "3DES")

    def _pace(
        self,
        info: PACEInfo,
        mrz_information: str | None,
        can: str | None,
        card_access: bytes | None,
    ) -> Exchange[AccessResult]:
        if can is not None:
            password, ref = can_password(can), PASSWORD_CAN
        else:
            assert mrz_information is not None
            password, ref = mrz_password(mrz_information), PASSWORD_MRZ
        pace = PACETerminal(info, password, ref, self.rng,
                            send_parameter_id=self.policy.send_parameter_id)  # fmt: skip
        t = self.session
        resp = yield from t.transmit(pace.mse_set_at())
        if resp.sw == 0x6A80 and self.policy.send_parameter_id:
            # some chips reject the optional tag 84: retry without it
            pace.send_parameter_id = False
            resp = yield from t.transmit(pace.mse_set_at())
        cmd = pace.get_nonce(resp)
        cmd = pace.map_nonce((yield from t.transmit(cmd)))
        cmd = pace.key_agreement((yield from t.transmit(cmd)))
        cmd = pace.mutual_authentication((yield from t.transmit(cmd)))
        t.sm = pace.finish((yield from t.transmit(cmd)))
        result = AccessResult("PACE", info.mapping, info.cipher, info, card_access)
        if info.mapping == "CAM" and self.policy.verify_cam:
            result.card_security = yield from self.read_file("EF.CardSecurity")
            result.cam_verified = verify_cam_with_card_security(pace, result.card_security)
            if not result.cam_verified:
                raise PACEError("PACE-CAM: the chip's static key does not match EF.CardSecurity")
        yield from self.select_application()
        return result

    def data_groups(self) -> Exchange[tuple[list[str], dict[str, FileRead]]]:
        """The files to read (EF.COM when present, its data groups, EF.SOD) and what was read
        to learn them. Without EF.COM (newer passports omit it) the list comes from EF.SOD,
        as gmrtd does; so does an EF.COM that is truncated or malformed (it is not signed and
        nothing else needs it). DG3/DG4 (extended access control) are left out."""
        try:
            done = yield from self.read_files(["EF.COM"])
            numbers = lds.parse_ef_com(done["EF.COM"].data).data_groups
        except StatusWordError as exc:
            if exc.sw not in (0x6A82, 0x6A83):
                raise
        except (LDSError, TLVError):
            pass
        else:
            return ["EF.COM", *[f"DG{n}" for n in numbers if n not in (3, 4)], "EF.SOD"], done
        done = yield from self.read_files(["EF.SOD"])
        numbers = sod_data_groups(done["EF.SOD"].data)
        return [*[f"DG{n}" for n in numbers if n not in (3, 4)], "EF.SOD"], done

    def read_document(
        self,
        wanted: Iterable[str] = LANE_FILES,
        required: Iterable[str] = REQUIRED_FILES,
    ) -> Exchange[dict[str, FileRead]]:
        """The files of ``wanted`` the chip lists, each read once: a file nothing lists is
        never asked for (a passport without active authentication has no DG15).

        EF.SOD is signed, EF.COM is not: a data group EF.SOD lists must be delivered (a chip
        hiding its DG14/DG15 would otherwise escape chip and active authentication, so that
        raises like a ``required`` file). One only EF.COM lists and the chip lacks or refuses
        (the session stays open) is left out."""
        wanted, required = set(wanted), set(required)
        names, done = yield from self.data_groups()
        out = {n: r for n, r in done.items() if n in wanted or n == "EF.SOD"}
        if "EF.SOD" not in out:
            out.update((yield from self.read_files(["EF.SOD"])))
        signed = {f"DG{n}" for n in sod_data_groups(out["EF.SOD"].data)}
        for name in [*names, *sorted(signed - set(names), key=lambda n: int(n[2:]))]:
            if name in out or name not in wanted:
                continue
            try:
                out[name] = (yield from self.read_files([name]))[name]
            except StatusWordError:
                if name in required or name in signed:
                    raise
        absent = sorted(required - set(out))
        if absent:
            raise LDSError(f"{', '.join(absent)} not listed by the chip (EF.COM / EF.SOD)")
        if "DG14" in out:
            self.check_downgrade(out["DG14"].data)
        if "EF.SOD" not in wanted:
            del out["EF.SOD"]
        return out

    def check_downgrade(self, dg14: bytes) -> None:
        """DG14 (signed through EF.SOD) may carry the chip's PACEInfo too: a chip opened with
        BAC although DG14 says it has PACE was downgraded, even when EF.CardAccess looked
        absent (a bare 6A82 needs no MAC)."""
        access = self.access
        if access is None or access.protocol != "BAC" or access.pace_error is not None:
            return
        if not self.policy.prefer_pace:
            return  # BAC on purpose
        try:
            offered = pace_infos(parse_dg14(dg14))
        except (SecurityInfoError, TLVError, LDSError):
            return  # passive authentication judges DG14
        if offered:
            access.pace_error = "DG14 lists PACE but the chip was opened with BAC"

    def read_files(self, names: list[str]) -> Exchange[dict[str, FileRead]]:
        """Each file with the APDUs it took and the link seconds the shell measured for them."""
        if not self._in_app:
            yield from self.select_application()
        out = {}
        for name in names:
            before = self.session.stats.apdus
            start = self.session.stats.seconds
            data = yield from self.read_file(name)
            out[name] = FileRead(
                name, data, self.session.stats.apdus - before, self.session.stats.seconds - start
            )
        return out


def sod_data_groups(sod: bytes) -> tuple[int, ...]:
    """Data group numbers listed in EF.SOD: the CMS parser first (BER, indefinite lengths),
    else the bare structure (an unsigned placeholder SOD)."""
    try:
        return tuple(sorted(parse_sod(sod).dg_hashes))
    except (DocAuthError, ValueError):
        return lds.sod_data_groups(sod)


def choose_pace_info(infos: list[PACEInfo]) -> PACEInfo | None:
    """Prefer CAM over GM, ECDH over DH, stronger ciphers; skip what we cannot run."""
    rank = {"CAM": 2, "GM": 1, "IM": -1}
    usable = [
        i
        for i in infos
        if rank[i.mapping] >= 0
        and (
            (i.key_agreement == "ECDH" and i.curve_name is not None
             and not i.curve_name.startswith("modp"))
            or (i.key_agreement == "DH" and i.parameter_id in STANDARD_DH_GROUPS)
        )
    ]  # fmt: skip
    if not usable:
        return None
    order = ["3DES", "AES-128", "AES-192", "AES-256"]
    return max(
        usable,
        key=lambda i: (rank[i.mapping], i.key_agreement == "ECDH", order.index(i.cipher)),
    )


def spki_point(spki: bytes) -> bytes:
    """The public point (or DH value) from a SubjectPublicKeyInfo, without loading the key
    (explicit EC parameters stay parseable)."""
    try:
        seq = tlv.decode_single(spki, 0x30).children()
        bits = next(i.value for i in seq if i.tag == 0x03)
    except (TLVError, StopIteration) as exc:
        raise SecurityInfoError(f"SubjectPublicKeyInfo malformed: {exc}") from exc
    if not bits or bits[0] != 0:
        raise SecurityInfoError("SubjectPublicKeyInfo BIT STRING has unused bits")
    return bits[1:]


def verify_cam_with_card_security(pace: PACETerminal, card_security: bytes) -> bool:
    for info in parse_card_security(card_security):
        if isinstance(info, ChipAuthenticationPublicKeyInfo) and info.key_agreement == "ECDH":
            try:
                if pace.verify_cam(spki_point(info.public_key)):
                    return True
            except PACEError:
                continue
    return False
