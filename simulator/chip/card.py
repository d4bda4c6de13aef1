"""The virtual eMRTD chip: card side of SELECT, READ BINARY (B0/B1), BAC, PACE-GM/CAM,
secure messaging, Active Authentication and Chip Authentication.

``VirtualChip.process(apdu) -> response`` is pure with respect to I/O (randomness injectable),
so the same engine sits behind the in-process transport and the vpcd client.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from gate.emrtd.access.bac import BACCard
from gate.emrtd.access.pace import PASSWORD_CAN, PASSWORD_MRZ, PACECard, can_password, mrz_password
from gate.emrtd.auth import aa
from gate.emrtd.crypto import certs
from gate.emrtd.crypto.ecmath import curve
from gate.emrtd.crypto.kdf import ENC, MAC, Cipher, derive_key
from gate.emrtd.errors import APDUError, ChipError, SecureMessagingError, TLVError
from gate.emrtd.iso7816 import tlv
from gate.emrtd.iso7816.apdu import CommandAPDU, ResponseAPDU, decode_command
from gate.emrtd.lds import lds
from gate.emrtd.lds.securityinfos import (
    ChipAuthenticationInfo,
    PACEInfo,
    pace_infos,
    parse_card_access,
    parse_dg14,
)
from gate.emrtd.sm.sm import SecureMessaging, is_bare_error
from simulator.chip.image import ChipImage
from simulator.chip.quirks import apply_quirks

EMRTD_AID = bytes.fromhex("A0000002471001")


class ChipRemoved(Exception):
    """Raised by the chip engine when the fault plan pulls the card out of the field."""


@dataclass
class ChipConfig:
    extended_length: bool = True
    max_response: int = 65536
    """Largest response data (incl. secure messaging objects) the chip sends, excluding SW."""
    max_command: int = 65536
    bac: bool = True
    publish_atr_info: bool = True
    """Serve EF.ATR/INFO with the extended-length information (7F66)."""
    short_file_ids: bool = True
    """Accept READ BINARY with a short file identifier (else 6A86: select by file ID)."""
    reject_parameter_id: bool = False
    """Answer 6A80 to MSE:Set AT carrying tag 84 (some real chips do)."""
    # habits of real chips (named profiles in simulator.chip.quirks)
    bare_errors: bool = False
    """Answer errors to protected commands without secure messaging (bare SW, SSC not counted
    for the response)."""
    wrong_le_6c: bool = False
    """READ BINARY asking more than the rest of a small file: 6Cxx (xx = the rest) instead of
    the data with 6282."""
    b1_le_counts_header: bool = False
    """READ BINARY B1: Le counts the DO'53 header, not only the data."""
    t0_get_response: bool = False
    """T=0 style: every response with data is announced by 61xx and fetched by GET RESPONSE."""
    mutual_auth_refuses_le40: bool = False
    """MUTUAL AUTHENTICATE with Le 28 (40) gets 6700; Le 00 works."""
    aa_truncate_short_le: bool = False
    """INTERNAL AUTHENTICATE with Le shorter than the signature: 9000 and the signature cut."""
    aa_refuse_extended_le: bool = False
    """INTERNAL AUTHENTICATE with an extended Le: 6700."""
    hidden_files: tuple[str, ...] = ()
    """Files of the image the chip does not have (e.g. EF.COM on newer passports)."""
    select_mf_required: bool = False
    """Master-file files (EF.CardAccess, EF.ATR/INFO) answer 6A82 until an explicit SELECT MF."""
    atr_claims_extended: bool = False
    """The ATR announces extended length even when ``extended_length`` is off (a reader
    without extended APDUs in front of a chip that has them)."""
    ca_key_reference_6700: bool = False
    """Chip authentication MSE naming a key (tag 84): 6700; without the reference it works."""
    command_chaining: bool = True
    """Take GENERAL AUTHENTICATE data split over chained commands (ISO/IEC 7816-4 5.1.1.1),
    rebuilt from the length of its 7C object; off: 6884 to a piece that leaves it short."""


@dataclass
class Faults:
    remove_after_apdus: int | None = None
    """Pull the card after this many APDUs (0-based count of the failing one)."""
    corrupt_mac_at: int | None = None
    """Flip a bit in the MAC of the response to this APDU number."""
    slow_seconds: float = 0.0
    """Extra processing time per APDU (the timing model adds it; vpcd sleeps)."""


def _whole_object(data: bytes) -> bool:
    """Whether ``data`` holds at least one whole BER-TLV object (its header and value)."""
    try:
        _, header, length = tlv.read_header(data)
    except TLVError:
        return False
    return len(data) >= header + length


def _atr(extended: bool) -> bytes:
    hist = bytes([0x80, 0x73, 0x00, 0x00, 0x40 if extended else 0x00])
    body = bytes([0x80 | len(hist), 0x80, 0x01]) + hist
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


def _atr_info(config: ChipConfig) -> bytes:
    ints = tlv.encode(0x02, config.max_command.to_bytes(3, "big").lstrip(b"\x00") or b"\x00")
    ints += tlv.encode(0x02, config.max_response.to_bytes(3, "big").lstrip(b"\x00") or b"\x00")
    return tlv.encode(0x7F66, tlv.encode(0x30, ints))


@dataclass
class VirtualChip:
    image: ChipImage
    config: ChipConfig = field(default_factory=ChipConfig)
    faults: Faults = field(default_factory=Faults)
    rng: Callable[[int], bytes] = os.urandom

    def __post_init__(self) -> None:
        if self.image.quirks:
            self.config, self.faults = apply_quirks(self.image.quirks, self.config, self.faults)
        self.atr = _atr(self.config.extended_length or self.config.atr_claims_extended)
        self.apdu_count = 0
        self.mf: dict[str, bytes] = {
            k: self.image.files[k]
            for k in ("EF.CardAccess", "EF.CardSecurity")
            if k in self.image.files and k not in self.config.hidden_files
        }
        if self.config.extended_length and self.config.publish_atr_info:
            self.mf["EF.ATR/INFO"] = _atr_info(self.config)
        self.app = {
            k: v
            for k, v in self.image.files.items()
            if (k == "EF.COM" or k == "EF.SOD" or k.startswith("DG"))
            and k not in self.config.hidden_files
        }
        self.pace_infos: list[PACEInfo] = []
        if "EF.CardAccess" in self.mf:
            try:
                self.pace_infos = pace_infos(parse_card_access(self.mf["EF.CardAccess"]))
            except ChipError:
                self.pace_infos = []
        self.reset()

    def reset(self) -> None:
        """Power cycle: MF selected, no secure messaging, no authentication."""
        self.in_app = False
        self.mf_selected = not self.config.select_mf_required
        self.current: str | None = None
        self.sm: SecureMessaging | None = None
        self.authenticated = False
        self.challenge: bytes | None = None
        self.pace: PACECard | None = None
        self.ca_oid: str | None = None
        self._pending: tuple[bytes, bytes] | None = None
        self._chain = b""

    # -- entry point -------------------------------------------------------------------------
    def process(self, raw: bytes) -> bytes:
        index = self.apdu_count
        self.apdu_count += 1
        if self.faults.remove_after_apdus is not None and index >= self.faults.remove_after_apdus:
            self.reset()
            raise ChipRemoved(f"card removed before APDU {index}")
        get_response = len(raw) == 5 and raw[1] == 0xC0 and raw[2:4] == b"\x00\x00"
        if get_response and (self.config.t0_get_response or self._pending is not None):
            return self._get_response(raw[4] or 256)
        self._pending = None
        out = self._process(raw, index)
        if self.config.t0_get_response and len(out) > 2:
            self._pending = (out[:-2], out[-2:])
            return bytes([0x61, min(len(out) - 2, 256) & 0xFF])
        if not self.config.extended_length and len(out) - 2 > 256:
            # a short Le takes at most 256 bytes: the rest waits for GET RESPONSE (61xx)
            self._pending = (out[256:-2], out[-2:])
            return out[:256] + bytes([0x61, min(len(out) - 258, 256) & 0xFF])
        return out

    def _get_response(self, le: int) -> bytes:
        """T=0 GET RESPONSE: the next ``le`` bytes of the waiting response."""
        if self._pending is None:
            return b"\x69\x85"
        data, sw = self._pending
        chunk, rest = data[:le], data[le:]
        if rest:
            self._pending = (rest, sw)
            return chunk + bytes([0x61, min(len(rest), 256) & 0xFF])
        self._pending = None
        return chunk + sw

    def _process(self, raw: bytes, index: int) -> bytes:
        try:
            cmd = decode_command(raw)
        except APDUError:
            return b"\x67\x00"
        if cmd.extended and not self.config.extended_length:
            return b"\x67\x00"
        if len(cmd.data) > self.config.max_command:
            return b"\x67\x00"
        protected = cmd.cla & 0x0C == 0x0C
        if not protected and cmd.ins == 0x86 and (self._chain or cmd.cla & 0x10):
            joined, self._chain = self._chain + cmd.data, b""
            if cmd.cla & 0x10 and not _whole_object(joined):
                if not self.config.command_chaining:
                    return b"\x68\x84"
                if len(joined) > 4096:
                    return b"\x67\x00"
                self._chain = joined
                return b"\x90\x00"
            cmd = replace(cmd, data=joined)
        if self.sm is not None and not protected:
            self.sm = None  # a plain command ends secure messaging
            self.authenticated = False
        if protected:
            if self.sm is None:
                return b"\x69\x82"
            try:
                cmd = self.sm.card_unwrap(cmd)
            except SecureMessagingError:
                self.sm = None
                self.authenticated = False
                return b"\x69\x88"
        sm = self.sm
        resp, after = self._dispatch(cmd)
        bare = self.config.bare_errors and not resp.data and is_bare_error(resp.sw)
        if sm is not None and protected and bare:
            return resp.encode()  # unwrapped: the chip's counter skips this response
        if sm is not None and protected:
            wrapped = sm.card_wrap(resp)
            out = wrapped.data
            if self.faults.corrupt_mac_at == index and len(out) >= 1:
                out = out[:-1] + bytes([out[-1] ^ 0x01])
            result = out + resp.sw.to_bytes(2, "big")
        else:
            result = resp.encode()
        if after is not None:
            after()
        return result

    # -- commands ----------------------------------------------------------------------------
    def _dispatch(self, cmd: CommandAPDU) -> tuple[ResponseAPDU, Callable[[], None] | None]:
        ins = cmd.ins
        if cmd.cla & 0xE0 and cmd.cla != 0x10:
            return ResponseAPDU(b"", 0x6E00), None
        try:
            if ins == 0xA4:
                return self._select(cmd), None
            if ins in (0xB0, 0xB1):
                return self._read(cmd), None
            if ins == 0x84:
                return self._get_challenge(cmd), None
            if ins == 0x82:
                return self._mutual_authenticate(cmd), None
            if ins == 0x22:
                return self._mse(cmd)
            if ins == 0x86:
                return self._general_authenticate(cmd)
            if ins == 0x88:
                return self._internal_authenticate(cmd), None
        except (TLVError, ChipError, ValueError):
            return ResponseAPDU(b"", 0x6A80), None
        return ResponseAPDU(b"", 0x6D00), None

    def _files(self) -> dict[str, bytes]:
        if not self.in_app and not self.mf_selected:
            return {}
        return self.app if self.in_app else self.mf

    def _select(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.p1 == 0x04:
            if cmd.data != EMRTD_AID:
                return ResponseAPDU(b"", 0x6A82)
            self.in_app, self.current = True, None
            return ResponseAPDU(b"", 0x9000)
        if cmd.p1 == 0x00 and cmd.data in (b"", b"\x3f\x00"):
            self.in_app, self.current, self.mf_selected = False, None, True
            return ResponseAPDU(b"", 0x9000)
        if cmd.p1 in (0x00, 0x02) and len(cmd.data) == 2:
            fid = int.from_bytes(cmd.data, "big")
            for name in self._files():
                if lds.FILE_IDS.get(name) == fid:
                    if not self._readable(name):
                        return ResponseAPDU(b"", 0x6982)
                    self.current = name
                    return ResponseAPDU(b"", 0x9000)
            return ResponseAPDU(b"", 0x6A82)
        return ResponseAPDU(b"", 0x6A86)

    def _readable(self, name: str) -> bool:
        if not self.in_app:
            return name in ("EF.CardAccess", "EF.ATR/INFO") or self.authenticated
        if name in ("DG3", "DG4"):
            return False  # EAC-protected: terminal authentication is not simulated
        return self.authenticated

    def _by_sfi(self, sfi: int) -> str | None:
        for name in self._files():
            if (lds.SFIS.get(name) if name != "EF.ATR/INFO" else 1) == sfi:
                return name
        return None

    def _read(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.ins == 0xB0:
            if cmd.p1 & 0x80:
                if not self.config.short_file_ids:
                    return ResponseAPDU(b"", 0x6A86)
                name = self._by_sfi(cmd.p1 & 0x1F)
                if name is None:
                    return ResponseAPDU(b"", 0x6A82)
                if not self._readable(name):
                    return ResponseAPDU(b"", 0x6982)
                self.current = name
                offset = cmd.p2
            else:
                offset = (cmd.p1 << 8 | cmd.p2) & 0x7FFF
        else:
            if cmd.p1 == 0 and 0 < cmd.p2 <= 0x1E:
                name = self._by_sfi(cmd.p2)
                if name is None:
                    return ResponseAPDU(b"", 0x6A82)
                if not self._readable(name):
                    return ResponseAPDU(b"", 0x6982)
                self.current = name
            elif cmd.p1 or cmd.p2:
                return ResponseAPDU(b"", 0x6A86)
            off = tlv.find(cmd.data, 0x54)
            if off is None or not 1 <= len(off) <= 3:
                return ResponseAPDU(b"", 0x6A80)
            offset = int.from_bytes(off, "big")
        if self.current is None:
            return ResponseAPDU(b"", 0x6986)
        if not self._readable(self.current):
            return ResponseAPDU(b"", 0x6982)
        if cmd.le is None:
            return ResponseAPDU(b"", 0x6700)
        data = self._files()[self.current]
        if offset > len(data):
            return ResponseAPDU(b"", 0x6B00)
        wildcard = cmd.le in (256, 65536)
        rest = len(data) - offset
        if self.config.wrong_le_6c and not wildcard and rest < cmd.le and rest < 256:
            return ResponseAPDU(b"", 0x6C00 | rest)
        want = cmd.le
        limit = self.config.max_response
        if cmd.ins == 0xB1:
            if self.config.b1_le_counts_header:
                while want > 0 and want + 1 + len(tlv.encode_length(want)) > cmd.le:
                    want -= 1
            else:
                limit -= 5
        if self.sm is not None:
            # the protected answer must fit: shrink the chunk until it does
            n = min(want, rest)
            fits = n + self.sm.overhead(n) <= limit
            if not fits and not wildcard:
                return ResponseAPDU(b"", 0x6700)
            while n > 0 and n + self.sm.overhead(n) > limit:
                n -= 1
            chunk = data[offset : offset + n]
        else:
            if want > limit and not wildcard:
                return ResponseAPDU(b"", 0x6700)
            chunk = data[offset : offset + min(want, limit)]
        sw = 0x9000 if len(chunk) == want or wildcard else 0x6282
        if cmd.ins == 0xB1:
            chunk = tlv.encode(0x53, chunk)
        return ResponseAPDU(chunk, sw)

    def _get_challenge(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.le not in (8, 256):
            return ResponseAPDU(b"", 0x6700)
        self.challenge = self.rng(8)
        return ResponseAPDU(self.challenge, 0x9000)

    def _mutual_authenticate(self, cmd: CommandAPDU) -> ResponseAPDU:
        if not self.config.bac or self.challenge is None or not self.in_app:
            return ResponseAPDU(b"", 0x6985)
        if self.config.mutual_auth_refuses_le40 and cmd.le == 40:
            return ResponseAPDU(b"", 0x6700)
        result = BACCard(self.image.mrz_information).respond(self.challenge, cmd.data, self.rng(16))
        self.challenge = None
        if result is None:
            return ResponseAPDU(b"", 0x6300)
        answer, sm = result
        self.sm, self.authenticated = sm, True
        return ResponseAPDU(answer, 0x9000)

    def _passwords(self) -> dict[int, bytes]:
        out = {PASSWORD_MRZ: mrz_password(self.image.mrz_information)}
        if self.image.can:
            out[PASSWORD_CAN] = can_password(self.image.can)
        return out

    def _mse(self, cmd: CommandAPDU) -> tuple[ResponseAPDU, Callable[[], None] | None]:
        if (cmd.p1, cmd.p2) == (0xC1, 0xA4):
            if not self.pace_infos:
                return ResponseAPDU(b"", 0x6A80), None
            if self.config.reject_parameter_id and tlv.find(cmd.data, 0x84) is not None:
                return ResponseAPDU(b"", 0x6A80), None
            cam_key = None
            if self.image.ca_key is not None:
                cam_key = self.image.ca_key.private_numbers().private_value
            self.pace = PACECard(self.pace_infos, self._passwords(), self.rng, cam_key)
            return ResponseAPDU(b"", self.pace.set_at(cmd.data)), None
        if (cmd.p1, cmd.p2) in ((0x41, 0xA4), (0x41, 0xA6)) and self.sm is not None:
            refused = self._ca_key_refused(tlv.find(cmd.data, 0x84))
            if refused:
                return ResponseAPDU(b"", refused), None
        if (cmd.p1, cmd.p2) == (0x41, 0xA4) and self.sm is not None:
            oid_value = tlv.find(cmd.data, 0x80)
            self.ca_oid = oid_value.hex() if oid_value else None
            return ResponseAPDU(b"", 0x9000 if self.ca_oid else 0x6A80), None
        if (cmd.p1, cmd.p2) == (0x41, 0xA6) and self.sm is not None:
            # MSE:Set KAT (chip authentication with 3DES): key agreement right away
            public = tlv.find(cmd.data, 0x91)
            if public is None:
                return ResponseAPDU(b"", 0x6A80), None
            return self._chip_authenticate(public, "3DES")
        return ResponseAPDU(b"", 0x6A86), None

    def _ca_key_refused(self, reference: bytes | None) -> int:
        """The status word refusing a chip-authentication MSE naming ``reference`` (0: go on):
        a chip holds only the key of ``image.ca_key_id`` and answers 6A88 (referenced data
        not found) for another one."""
        if reference is None:
            return 0
        if self.config.ca_key_reference_6700:
            return 0x6700
        held = self.image.ca_key_id
        if held is not None and int.from_bytes(reference, "big") != held:
            return 0x6A88
        return 0

    def _general_authenticate(
        self, cmd: CommandAPDU
    ) -> tuple[ResponseAPDU, Callable[[], None] | None]:
        if self.sm is not None and self.ca_oid is not None:
            inner = tlv.decode_single(cmd.data, 0x7C).value
            public = tlv.find(inner, 0x80)
            if public is None:
                return ResponseAPDU(b"", 0x6A80), None
            cipher = self._ca_cipher()
            resp, after = self._chip_authenticate(public, cipher)
            if resp.ok:
                resp = ResponseAPDU(tlv.encode(0x7C, b""), 0x9000)
            return resp, after
        if self.pace is None or (self.in_app and self.authenticated):
            return ResponseAPDU(b"", 0x6985), None
        resp, sm = self.pace.general_authenticate(cmd.data)
        if sm is None:
            return resp, None

        def switch() -> None:
            self.sm, self.authenticated, self.pace = sm, True, None

        return resp, switch

    def _ca_cipher(self) -> Cipher:
        if "DG14" in self.image.files:
            for info in parse_dg14(self.image.files["DG14"]):
                if isinstance(info, ChipAuthenticationInfo):
                    return info.cipher
        return "AES-128"

    def _chip_authenticate(
        self, public: bytes, cipher: Cipher
    ) -> tuple[ResponseAPDU, Callable[[], None] | None]:
        key = self.image.ca_key
        if key is None:
            return ResponseAPDU(b"", 0x6A88), None
        c = curve(key.curve.name)
        point = c.decode_point(public)
        shared = c.mul(key.private_numbers().private_value, point)
        if shared is None:
            return ResponseAPDU(b"", 0x6A80), None
        secret = shared[0].to_bytes(c.size, "big")
        new = SecureMessaging(
            cipher, derive_key(secret, ENC, cipher), derive_key(secret, MAC, cipher), 0
        )

        def switch() -> None:
            self.sm, self.ca_oid = new, None

        return ResponseAPDU(b"", 0x9000), switch

    def _internal_authenticate(self, cmd: CommandAPDU) -> ResponseAPDU:
        key = self.image.aa_key
        if not self.authenticated or not self.in_app:
            return ResponseAPDU(b"", 0x6982)
        if key is None:
            return ResponseAPDU(b"", 0x6D00)
        if len(cmd.data) != 8:
            return ResponseAPDU(b"", 0x6700)
        if self.config.aa_refuse_extended_le and (cmd.force_extended or (cmd.le or 0) > 256):
            return ResponseAPDU(b"", 0x6700)
        hash_name = "sha1" if isinstance(key, rsa.RSAPrivateKey) else "sha256"
        signature = aa_sign(key, cmd.data, hash_name, self.rng)
        if self.config.aa_truncate_short_le and cmd.le is not None and cmd.le < len(signature):
            signature = signature[: cmd.le]
        return ResponseAPDU(signature, 0x9000)


def aa_sign(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    challenge: bytes,
    hash_name: str = "sha1",
    rng: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """What a genuine chip answers to INTERNAL AUTHENTICATE (ICAO 9303-11 section 6.1).

    RSA: ISO/IEC 9796-2 digital signature scheme 1 with partial recovery; trailer BC for SHA-1,
    else the two-byte ISO/IEC 10118-3 trailer (``aa.HASH_TRAILERS``). EC: plain r || s."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(challenge, ec.ECDSA(certs.hash_for(hash_name)))
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    digest_len = hashlib.new(hash_name).digest_size
    trailer = b"\xbc" if hash_name == "sha1" else bytes([aa.HASH_TRAILERS[hash_name], 0xCC])
    m1 = rng(k - 1 - digest_len - len(trailer))
    message = b"\x6a" + m1 + hashlib.new(hash_name, m1 + challenge).digest() + trailer
    value = int.from_bytes(message, "big")
    # CRT exponentiation
    p, q = numbers.p, numbers.q
    s1 = pow(value, numbers.dmp1, p)
    s2 = pow(value, numbers.dmq1, q)
    h = numbers.iqmp * (s1 - s2) % p
    return (s2 + h * q).to_bytes(k, "big")
