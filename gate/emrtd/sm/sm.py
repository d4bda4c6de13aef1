"""Secure messaging (ICAO 9303-11 section 9.8): 3DES and AES-128/192/256.

3DES: 2-key 3DES-CBC with zero IV, MAC = ISO/IEC 9797-1 MAC algorithm 3 (retail MAC) with
padding method 2, SSC of 8 bytes. AES: AES-CBC with IV = E(KSenc, SSC), MAC = AES-CMAC
truncated to 8 bytes, SSC of 16 bytes. The SSC is incremented before protecting every command
and before checking every response. Data objects: 87 (or 85 for odd INS) cryptogram, 97 Le,
99 status word, 8E MAC.

A :class:`SecureMessaging` object is the sans-IO state of one session; the same code protects
and unprotects on the card side (:meth:`card_unwrap` / :meth:`card_wrap`). Any MAC, padding or
structure failure closes it: every later call raises :class:`SecureMessagingError`.
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from gate.emrtd.crypto.kdf import Cipher
from gate.emrtd.errors import SecureMessagingError, TLVError
from gate.emrtd.iso7816 import tlv
from gate.emrtd.iso7816.apdu import CommandAPDU, ResponseAPDU


def pad(data: bytes, block: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2 (0x80 then zeros)."""
    data += b"\x80"
    return data + b"\x00" * (-len(data) % block)


def unpad(data: bytes) -> bytes:
    i = len(data) - 1
    while i >= 0 and data[i] == 0:
        i -= 1
    if i < 0 or data[i] != 0x80:
        raise SecureMessagingError("padding check failed on decrypted data: session closed")
    return data[:i]


def _des3(key16: bytes) -> TripleDES:
    return TripleDES(key16 + key16[:8])


def des3_encrypt(key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    enc = _Cipher(_des3(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def des3_decrypt(key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    dec = _Cipher(_des3(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 over already padded data: single DES-CBC with K1 over
    all blocks, then decrypt with K2 and encrypt with K1 on the last one."""
    k1, k2 = key[:8], key[8:16]
    if len(data) % 8 or not data:
        raise SecureMessagingError("retail MAC input is not a whole number of 8-byte blocks")
    h = bytes(8)
    if len(data) > 8:
        enc = _Cipher(TripleDES(k1 * 3), modes.CBC(bytes(8))).encryptor()
        h = (enc.update(data[:-8]) + enc.finalize())[-8:]
    last = bytes(a ^ b for a, b in zip(h, data[-8:], strict=True))
    final = _Cipher(TripleDES(k1 + k2 + k1), modes.ECB()).encryptor()
    return final.update(last) + final.finalize()


def aes_encrypt(key: bytes, data: bytes, iv: bytes) -> bytes:
    enc = _Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_decrypt(key: bytes, data: bytes, iv: bytes) -> bytes:
    dec = _Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_cmac(key: bytes, data: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def block_size(cipher: Cipher) -> int:
    return 8 if cipher == "3DES" else 16


def encrypt(cipher: Cipher, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    bs = block_size(cipher)
    if cipher == "3DES":
        return des3_encrypt(key, data, iv or bytes(bs))
    return aes_encrypt(key, data, iv or bytes(bs))


def decrypt(cipher: Cipher, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    bs = block_size(cipher)
    if len(data) % bs or not data:
        raise SecureMessagingError(f"cryptogram of {len(data)} bytes is not a whole block")
    if cipher == "3DES":
        return des3_decrypt(key, data, iv or bytes(bs))
    return aes_decrypt(key, data, iv or bytes(bs))


def mac(cipher: Cipher, key: bytes, padded: bytes) -> bytes:
    """8-byte MAC over data already padded to the block size."""
    if cipher == "3DES":
        return retail_mac(key, padded)
    return aes_cmac(key, padded)[:8]


def _encode_le(le: int, extended: bool) -> bytes:
    if extended:
        return (le & 0xFFFF).to_bytes(2, "big")
    return bytes([le & 0xFF])


SW_SM_ENDED = (0x6987, 0x6988)
"""Secure messaging data objects missing / incorrect: the chip has ended the session."""


def is_bare_error(sw: int) -> bool:
    """A status word a chip may send without secure messaging while the session goes on: an
    error (64xx-6Fxx) other than the two that say the chip ended secure messaging."""
    return 0x6400 <= sw <= 0x6FFF and sw not in SW_SM_ENDED


class SecureMessaging:
    """One secure-messaging session: keys, cipher and send sequence counter."""

    def __init__(self, cipher: Cipher, ks_enc: bytes, ks_mac: bytes, ssc: int = 0) -> None:
        if cipher not in ("3DES", "AES-128", "AES-192", "AES-256"):
            raise SecureMessagingError(f"unsupported secure messaging cipher {cipher!r}")
        self.cipher: Cipher = cipher
        self.ks_enc = ks_enc
        self.ks_mac = ks_mac
        self.ssc = ssc
        self.bs = block_size(cipher)
        self.closed = False

    # -- helpers
    def _ssc_bytes(self) -> bytes:
        return (self.ssc % (1 << (8 * self.bs))).to_bytes(self.bs, "big")

    def _iv(self) -> bytes:
        if self.cipher == "3DES":
            return bytes(8)
        enc = _Cipher(algorithms.AES(self.ks_enc), modes.ECB()).encryptor()
        return enc.update(self._ssc_bytes()) + enc.finalize()

    def _mac(self, data: bytes) -> bytes:
        return mac(self.cipher, self.ks_mac, pad(self._ssc_bytes() + data, self.bs))

    def _fail(self, message: str) -> SecureMessagingError:
        self.closed = True
        return SecureMessagingError(
            message + ": secure messaging session closed, open the chip again"
        )

    def _check_open(self) -> None:
        if self.closed:
            raise SecureMessagingError(
                "secure messaging session already closed after an error: open the chip again"
            )

    def overhead(self, plain_len: int) -> int:
        """Bytes a protected response adds to ``plain_len`` bytes of plain data (DO87 + DO99
        + DO8E), used to pick the largest READ BINARY that fits a response limit."""
        if plain_len == 0:
            return 4 + 10
        crypt = plain_len + self.bs - plain_len % self.bs + 1
        return len(tlv.encode_length(crypt)) + 1 + crypt - plain_len + 4 + 10

    # -- terminal side
    def protect(self, cmd: CommandAPDU) -> CommandAPDU:
        self._check_open()
        self.ssc += 1
        cla = cmd.cla | 0x0C
        header = pad(bytes([cla, cmd.ins, cmd.p1, cmd.p2]), self.bs)
        do87 = b""
        if cmd.data:
            crypt = encrypt(self.cipher, self.ks_enc, pad(cmd.data, self.bs), self._iv())
            do87 = tlv.encode(133, crypt) if cmd.ins & 1 else tlv.encode(135, b"\x01" + crypt)
        do97 = b""
        if cmd.le is not None:
            do97 = tlv.encode(0x97, _encode_le(cmd.le, cmd.le > 256 or cmd.force_extended))
        do8e = tlv.encode(0x8E, self._mac(header + do87 + do97))
        body = do87 + do97 + do8e
        extended = len(body) > 255 or (cmd.le is not None and cmd.le > 256) or cmd.force_extended
        return CommandAPDU(
            cla, cmd.ins, cmd.p1, cmd.p2, body, 65536 if extended else 256, force_extended=extended
        )

    def unprotect(self, resp: ResponseAPDU) -> ResponseAPDU:
        """Check and decrypt a protected response.

        A bare error status word (no data objects) keeps the session: real chips answer some
        errors unprotected (6A82 for an absent file, 6700; gmrtd and JMRTD pass it through). The
        chip wrapped nothing, so the counter does not advance for it. A bare 9000 or warning,
        and the secure-messaging errors 6987/6988 (the chip itself aborted the session), end it.
        """
        self._check_open()
        if not resp.data:
            if is_bare_error(resp.sw):
                return ResponseAPDU(b"", resp.sw)
            self.ssc += 1
            raise self._fail(f"chip answered status word {resp.sw:04X} without secure messaging")
        self.ssc += 1
        try:
            items = tlv.decode_all(resp.data)
        except TLVError as exc:
            raise self._fail(f"protected response is not valid TLV ({exc})") from exc
        do87 = do99 = mac_value = None
        macced = b""
        for item in items:
            if item.tag in (0x85, 0x87):
                do87 = item
                macced += item.encode()
            elif item.tag == 0x99:
                do99 = item
                macced += item.encode()
            elif item.tag == 0x8E:
                mac_value = item.value
            else:
                raise self._fail(f"unexpected data object {item.tag:X} in protected response")
        if mac_value is None:
            raise self._fail("protected response lacks its MAC (8E)")
        if do99 is None or len(do99.value) != 2:
            raise self._fail("protected response lacks its status word (99)")
        if self._mac(macced) != mac_value:
            raise self._fail("response MAC does not verify")
        data = b""
        if do87 is not None:
            crypt = do87.value
            if do87.tag == 0x87:
                if not crypt or crypt[0] != 0x01:
                    raise self._fail("DO87 padding-content indicator is not 01")
                crypt = crypt[1:]
            try:
                data = unpad(decrypt(self.cipher, self.ks_enc, crypt, self._iv()))
            except SecureMessagingError as exc:
                raise self._fail(str(exc).split(":")[0]) from exc
        return ResponseAPDU(data, int.from_bytes(do99.value, "big"))

    # -- card side
    def card_unwrap(self, cmd: CommandAPDU) -> CommandAPDU:
        """Verify and decrypt a protected command (the chip's view)."""
        self._check_open()
        self.ssc += 1
        if cmd.cla & 0x0C != 0x0C:
            raise self._fail("command is not protected")
        try:
            items = tlv.decode_all(cmd.data)
        except TLVError as exc:
            raise self._fail(f"protected command is not valid TLV ({exc})") from exc
        header = pad(bytes([cmd.cla, cmd.ins, cmd.p1, cmd.p2]), self.bs)
        macced = b""
        do87 = do97 = mac_value = None
        for item in items:
            if item.tag in (0x85, 0x87):
                do87 = item
            elif item.tag == 0x97:
                do97 = item
            elif item.tag == 0x8E:
                mac_value = item.value
                continue
            else:
                raise self._fail(f"unexpected data object {item.tag:X} in protected command")
            macced += item.encode()
        if mac_value is None or self._mac(header + macced) != mac_value:
            raise self._fail("command MAC missing or wrong")
        data = b""
        if do87 is not None:
            crypt = do87.value[1:] if do87.tag == 0x87 else do87.value
            data = unpad(decrypt(self.cipher, self.ks_enc, crypt, self._iv()))
        le: int | None = None
        if do97 is not None:
            raw = int.from_bytes(do97.value, "big") if do97.value else 0
            le = raw or (65536 if len(do97.value) == 2 else 256)
        return CommandAPDU(
            cmd.cla & 0xF3, cmd.ins, cmd.p1, cmd.p2, data, le, force_extended=cmd.force_extended
        )

    def card_wrap(self, resp: ResponseAPDU) -> ResponseAPDU:
        """Protect a response (the chip's view)."""
        self._check_open()
        self.ssc += 1
        do87 = b""
        if resp.data:
            crypt = encrypt(self.cipher, self.ks_enc, pad(resp.data, self.bs), self._iv())
            do87 = tlv.encode(0x87, b"\x01" + crypt)
        do99 = tlv.encode(0x99, resp.sw.to_bytes(2, "big"))
        do8e = tlv.encode(0x8E, self._mac(do87 + do99))
        return ResponseAPDU(do87 + do99 + do8e, resp.sw)
