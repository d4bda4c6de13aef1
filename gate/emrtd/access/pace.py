"""PACE (ICAO 9303-11 section 4.4): Generic Mapping over ECDH and DH, Chip Authentication
Mapping (PACE-CAM), 3DES and AES-128/192/256, MRZ and CAN passwords.

Sans-IO: :class:`PACETerminal` builds each command and consumes each response; randomness comes
from an injectable ``rng(n) -> bytes`` so the ICAO Appendix G.1 example can be replayed byte for
byte. :class:`PACECard` is the chip's side (used by the virtual chip). Message flow:

  MSE:Set AT (80 protocol, 83 password ref, [84 parameter id])
  GA 1: 7C00                 -> 7C(80 encrypted nonce z)
  GA 2: 7C(81 PK_map_PCD)    -> 7C(82 PK_map_IC)
  GA 3: 7C(83 PK_eph_PCD)    -> 7C(84 PK_eph_IC)
  GA 4: 7C(85 T_PCD)         -> 7C(86 T_IC [8A A_IC for CAM])
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from gate.emrtd.crypto.ecmath import STANDARD_DH_GROUPS, Curve, DHGroup, Point, curve
from gate.emrtd.crypto.kdf import ENC, MAC, PACE_PASSWORD, Cipher, derive_key
from gate.emrtd.errors import PACEError, SecureMessagingError, TLVError
from gate.emrtd.iso7816 import tlv
from gate.emrtd.iso7816.apdu import CommandAPDU, ResponseAPDU
from gate.emrtd.lds.securityinfos import PACEInfo, encode_oid
from gate.emrtd.sm.sm import (
    SecureMessaging,
    aes_cmac,
    block_size,
    decrypt,
    encrypt,
    pad,
    retail_mac,
)

Rng = Callable[[int], bytes]
PASSWORD_MRZ = 1
PASSWORD_CAN = 2


def mrz_password(mrz_information: str) -> bytes:
    """PACE password from the MRZ: SHA-1 of the MRZ information (all 20 bytes)."""
    return hashlib.sha1(mrz_information.encode("ascii")).digest()


def can_password(can: str) -> bytes:
    if not can.isdigit() or not 1 <= len(can) <= 12:
        raise PACEError(f"CAN {can!r}: expected the digits printed on the card (usually 6)")
    return can.encode("ascii")


def auth_token(cipher: Cipher, ks_mac: bytes, data: bytes) -> bytes:
    if cipher == "3DES":
        return retail_mac(ks_mac, pad(data, 8))
    return aes_cmac(ks_mac, data)[:8]


# --- groups -----------------------------------------------------------------------------------
class Group:
    """The mapped-generator arithmetic both sides need, over an EC curve or a DH group."""

    def __init__(self, domain: Curve | DHGroup) -> None:
        self.domain = domain

    @property
    def order(self) -> int:
        return self.domain.n if isinstance(self.domain, Curve) else self.domain.q

    @property
    def pub_tag(self) -> int:
        """Tag of the public key inside the 7F49 authentication-token input."""
        return 0x86 if isinstance(self.domain, Curve) else 0x84

    def generator(self) -> Point | int:
        return self.domain.g

    def scalar(self, rng: Rng) -> int:
        k = 0
        while not 1 <= k < self.order:
            k = int.from_bytes(rng((self.order.bit_length() + 7) // 8), "big")
            if k >= self.order:
                k = 0
        return k

    def mul(self, k: int, base: Point | int) -> Point | int:
        if isinstance(self.domain, Curve):
            assert not isinstance(base, int)
            return self.domain.mul(k, base)
        assert isinstance(base, int)
        return pow(base, k, self.domain.p)

    def combine(self, a: Point | int, b: Point | int) -> Point | int:
        if isinstance(self.domain, Curve):
            assert not isinstance(a, int) and not isinstance(b, int)
            return self.domain.add(a, b)
        assert isinstance(a, int) and isinstance(b, int)
        return a * b % self.domain.p

    def encode(self, element: Point | int) -> bytes:
        if isinstance(self.domain, Curve):
            assert not isinstance(element, int)
            return self.domain.encode_point(element)
        assert isinstance(element, int)
        return self.domain.encode(element)

    def decode(self, data: bytes) -> Point | int:
        if isinstance(self.domain, Curve):
            return self.domain.decode_point(data)
        return self.domain.decode(data)

    def shared_secret(self, element: Point | int) -> bytes:
        """x-coordinate (EC) or the value itself (DH), as KDF input."""
        if isinstance(self.domain, Curve):
            if element is None or isinstance(element, int):
                raise PACEError("key agreement produced the point at infinity")
            return element[0].to_bytes(self.domain.size, "big")
        assert isinstance(element, int)
        return self.domain.encode(element)

    def scalar_bytes(self, k: int) -> bytes:
        return k.to_bytes((self.order.bit_length() + 7) // 8, "big")


def group_for(info: PACEInfo, dh_groups: dict[int, DHGroup] | None = None) -> Group:
    if info.parameter_id is None:
        raise PACEError("PACEInfo without a standardized parameter id is not supported")
    if info.key_agreement == "ECDH":
        if info.curve_name is None or info.curve_name.startswith("modp"):
            raise PACEError(f"parameter id {info.parameter_id} is not an elliptic curve")
        return Group(curve(info.curve_name))
    groups = {**STANDARD_DH_GROUPS, **(dh_groups or {})}
    if info.parameter_id not in groups:
        raise PACEError(
            f"DH parameter id {info.parameter_id}: domain parameters not available; pass them "
            "from PACEDomainParameterInfo"
        )
    return Group(groups[info.parameter_id])


def _ga(tag: int, value: bytes, last: bool) -> CommandAPDU:
    body = tlv.encode(0x7C, tlv.encode(tag, value) if tag else b"")
    return CommandAPDU(0x00 if last else 0x10, 0x86, 0x00, 0x00, body, le=256)


def _ga_data(resp: ResponseAPDU, tag: int, step: str) -> bytes:
    if not resp.ok:
        hint = " (wrong password?)" if resp.sw in (0x6300, 0x6982) or resp.sw >> 4 == 0x63C else ""
        raise PACEError(f"GENERAL AUTHENTICATE {step}: chip answered {resp.sw:04X}{hint}")
    try:
        outer = tlv.decode_single(resp.data, 0x7C)
        value = tlv.find(outer.value, tag)
    except TLVError as exc:
        raise PACEError(f"GENERAL AUTHENTICATE {step}: malformed response ({exc})") from exc
    if value is None:
        raise PACEError(f"GENERAL AUTHENTICATE {step}: data object {tag:X} missing")
    return value


def _token_input(oid: str, tag: int, public: bytes) -> bytes:
    return tlv.encode(0x7F49, encode_oid(oid) + tlv.encode(tag, public))


def _cam_iv(ks_enc: bytes) -> bytes:
    return encrypt("AES-128" if len(ks_enc) == 16 else "AES-256", ks_enc, b"\xff" * 16)[:16]


@dataclass
class PACETerminal:
    info: PACEInfo
    password: bytes
    password_ref: int = PASSWORD_MRZ
    rng: Rng = os.urandom
    dh_groups: dict[int, DHGroup] | None = None
    send_parameter_id: bool = True
    """Put tag 84 (parameter id) in MSE:Set AT; some chips want it, some reject it."""
    ca_ic: bytes | None = field(default=None, init=False)
    chip_mapping_public: bytes = field(default=b"", init=False)

    def __post_init__(self) -> None:
        if self.info.mapping == "IM":
            raise PACEError("PACE Integrated Mapping is not supported by this reader")
        self.cipher: Cipher = self.info.cipher
        self.group = group_for(self.info, self.dh_groups)
        self.k_pi = derive_key(self.password, PACE_PASSWORD, self.cipher)

    def mse_set_at(self) -> CommandAPDU:
        data = tlv.encode(0x80, encode_oid(self.info.protocol)[2:])
        data += tlv.encode(0x83, bytes([self.password_ref]))
        if self.send_parameter_id and self.info.parameter_id is not None:
            data += tlv.encode(0x84, bytes([self.info.parameter_id]))
        return CommandAPDU(0x00, 0x22, 0xC1, 0xA4, data)

    def get_nonce(self, mse_resp: ResponseAPDU) -> CommandAPDU:
        if not mse_resp.ok:
            raise PACEError(f"MSE:Set AT refused with {mse_resp.sw:04X}: protocol not offered")
        return _ga(0, b"", last=False)

    def map_nonce(self, resp: ResponseAPDU) -> CommandAPDU:
        z = _ga_data(resp, 0x80, "1 (nonce)")
        if len(z) % block_size(self.cipher) or not z:
            raise PACEError(f"encrypted nonce of {len(z)} bytes is not a whole cipher block")
        self.s = int.from_bytes(decrypt(self.cipher, self.k_pi, z), "big")
        self.sk_map = self.group.scalar(self.rng)
        pk_map = self.group.mul(self.sk_map, self.group.generator())
        self.pk_map = self.group.encode(pk_map)
        return _ga(0x81, self.pk_map, last=False)

    def key_agreement(self, resp: ResponseAPDU) -> CommandAPDU:
        self.chip_mapping_public = _ga_data(resp, 0x82, "2 (mapping)")
        if self.chip_mapping_public == self.pk_map:
            raise PACEError("chip echoed the terminal's mapping key")
        chip_map = self.group.decode(self.chip_mapping_public)
        h = self.group.mul(self.sk_map, chip_map)
        g_mapped = self.group.combine(self.group.mul(self.s, self.group.generator()), h)
        if g_mapped is None or g_mapped == 1:
            raise PACEError("mapped generator is degenerate")
        self.g_mapped = g_mapped
        self.sk_eph = self.group.scalar(self.rng)
        self.pk_eph = self.group.encode(self.group.mul(self.sk_eph, g_mapped))
        return _ga(0x83, self.pk_eph, last=False)

    def mutual_authentication(self, resp: ResponseAPDU) -> CommandAPDU:
        self.chip_eph = _ga_data(resp, 0x84, "3 (key agreement)")
        if self.chip_eph == self.pk_eph:
            raise PACEError("chip echoed the terminal's ephemeral key")
        chip_pt = self.group.decode(self.chip_eph)
        secret = self.group.shared_secret(self.group.mul(self.sk_eph, chip_pt))
        self.ks_enc = derive_key(secret, ENC, self.cipher)
        self.ks_mac = derive_key(secret, MAC, self.cipher)
        token = auth_token(
            self.cipher,
            self.ks_mac,
            _token_input(self.info.protocol, self.group.pub_tag, self.chip_eph),
        )
        return _ga(0x85, token, last=True)

    def finish(self, resp: ResponseAPDU) -> SecureMessaging:
        t_ic = _ga_data(resp, 0x86, "4 (mutual authentication)")
        expected = auth_token(
            self.cipher,
            self.ks_mac,
            _token_input(self.info.protocol, self.group.pub_tag, self.pk_eph),
        )
        if not hmac.compare_digest(t_ic, expected):
            raise PACEError("the chip's authentication token does not verify")
        if self.info.mapping == "CAM":
            a_ic = _ga_data(resp, 0x8A, "4 (chip authentication data)")
            from gate.emrtd.sm.sm import unpad

            try:
                self.ca_ic = unpad(decrypt(self.cipher, self.ks_enc, a_ic, _cam_iv(self.ks_enc)))
            except SecureMessagingError as exc:
                raise PACEError(f"PACE-CAM chip authentication data unreadable: {exc}") from exc
        return SecureMessaging(self.cipher, self.ks_enc, self.ks_mac, 0)

    def verify_cam(self, chip_static_public: bytes) -> bool:
        """PACE-CAM: CA_IC * PK_IC must equal the chip's mapping key. ``chip_static_public``
        is the uncompressed point from EF.CardSecurity's ChipAuthenticationPublicKeyInfo;
        EF.CardSecurity itself must pass passive authentication for this to mean anything."""
        if self.ca_ic is None:
            raise PACEError("no PACE-CAM data: the session was not opened with PACE-CAM")
        static = self.group.decode(chip_static_public)
        ca = int.from_bytes(self.ca_ic, "big")
        return self.group.encode(self.group.mul(ca, static)) == self.chip_mapping_public


class PACECard:
    """Chip side of PACE for one protocol; feed it MSE:Set AT and the four GA commands."""

    def __init__(self, infos: list[PACEInfo], passwords: dict[int, bytes], rng: Rng = os.urandom,
                 cam_private_key: int | None = None,
                 dh_groups: dict[int, DHGroup] | None = None) -> None:  # fmt: skip
        self.infos = infos
        self.passwords = passwords
        self.rng = rng
        self.cam_private_key = cam_private_key
        self.dh_groups = dh_groups
        self.step = 0
        self.info: PACEInfo | None = None

    def set_at(self, data: bytes) -> int:
        """Status word for MSE:Set AT."""
        try:
            items = {t.tag: t.value for t in tlv.decode_all(data)}
        except TLVError:
            return 0x6A80
        oid_value = items.get(0x80)
        ref = items.get(0x83)
        if oid_value is None or ref is None or len(ref) != 1:
            return 0x6A80
        for info in self.infos:
            if encode_oid(info.protocol)[2:] == oid_value:
                pid = items.get(0x84)
                if pid is not None and (len(pid) != 1 or pid[0] != info.parameter_id):
                    return 0x6A80
                if ref[0] not in self.passwords:
                    return 0x6A88
                self.info, self.ref, self.step = info, ref[0], 1
                return 0x9000
        return 0x6A80

    def general_authenticate(self, data: bytes) -> tuple[ResponseAPDU, SecureMessaging | None]:
        try:
            return self._ga(data)
        except (PACEError, TLVError):
            self.step = 0
            return ResponseAPDU(b"", 0x6A80), None

    def _ga(self, data: bytes) -> tuple[ResponseAPDU, SecureMessaging | None]:
        info = self.info
        if info is None or self.step == 0:
            return ResponseAPDU(b"", 0x6985), None
        cipher = info.cipher
        inner = tlv.decode_single(data, 0x7C).value
        ok = 0x9000

        def reply(tag: int, value: bytes, extra: bytes = b"") -> ResponseAPDU:
            return ResponseAPDU(tlv.encode(0x7C, tlv.encode(tag, value) + extra), ok)

        if self.step == 1:
            self.group = group_for(info, self.dh_groups)
            k_pi = derive_key(self.passwords[self.ref], PACE_PASSWORD, cipher)
            nonce = self.rng(16)  # 16 bytes for every cipher, as chips send (gmrtd NZ 3DES log)
            self.s = int.from_bytes(nonce, "big")
            self.step = 2
            return reply(0x80, encrypt(cipher, k_pi, nonce)), None
        if self.step == 2:
            pcd_map = self.group.decode(tlv.require(inner, 0x81, "GA 2"))
            self.sk_map = self.group.scalar(self.rng)
            pk_map = self.group.mul(self.sk_map, self.group.generator())
            h = self.group.mul(self.sk_map, pcd_map)
            self.g_mapped = self.group.combine(self.group.mul(self.s, self.group.generator()), h)
            self.step = 3
            return reply(0x82, self.group.encode(pk_map)), None
        if self.step == 3:
            self.pcd_eph = tlv.require(inner, 0x83, "GA 3")
            pcd_pt = self.group.decode(self.pcd_eph)
            sk = self.group.scalar(self.rng)
            self.pk_eph = self.group.encode(self.group.mul(sk, self.g_mapped))
            if self.pk_eph == self.pcd_eph:
                raise PACEError("ephemeral keys collide")
            secret = self.group.shared_secret(self.group.mul(sk, pcd_pt))
            self.ks_enc = derive_key(secret, ENC, cipher)
            self.ks_mac = derive_key(secret, MAC, cipher)
            self.step = 4
            return reply(0x84, self.pk_eph), None
        if self.step == 4:
            t_pcd = tlv.require(inner, 0x85, "GA 4")
            tag = self.group.pub_tag
            expect = auth_token(cipher, self.ks_mac, _token_input(info.protocol, tag, self.pk_eph))
            if not hmac.compare_digest(expect, t_pcd):
                self.step = 0
                return ResponseAPDU(b"", 0x6300), None
            t_ic = auth_token(cipher, self.ks_mac, _token_input(info.protocol, tag, self.pcd_eph))
            extra = b""
            if info.mapping == "CAM":
                if self.cam_private_key is None:
                    raise PACEError("PACE-CAM offered without a chip key")
                ca = pow(self.cam_private_key, -1, self.group.order) * self.sk_map
                ca %= self.group.order
                crypt = encrypt(
                    cipher, self.ks_enc, pad(self.group.scalar_bytes(ca), 16), _cam_iv(self.ks_enc)
                )
                extra = tlv.encode(0x8A, crypt)
            self.step = 0
            sm = SecureMessaging(cipher, self.ks_enc, self.ks_mac, 0)
            return reply(0x86, t_ic, extra), sm
        return ResponseAPDU(b"", 0x6985), None
