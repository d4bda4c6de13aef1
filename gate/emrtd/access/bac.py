"""Basic Access Control (ICAO 9303-11 section 4.3, worked example in Appendix D).

Sans-IO: the terminal object builds the GET CHALLENGE and MUTUAL AUTHENTICATE commands and turns
the chip's answer into a :class:`SecureMessaging` session; random bytes come in as arguments.
:class:`BACCard` is the same protocol from the chip's side (used by the virtual chip).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from gate.emrtd.crypto.kdf import ENC, MAC, derive_key
from gate.emrtd.errors import BACError
from gate.emrtd.iso7816.apdu import CommandAPDU, ResponseAPDU
from gate.emrtd.sm.sm import SecureMessaging, des3_decrypt, des3_encrypt, pad, retail_mac


def key_seed(mrz_information: str) -> bytes:
    """K_seed: the first 16 bytes of SHA-1 over the MRZ information."""
    return hashlib.sha1(mrz_information.encode("ascii")).digest()[:16]


def document_basic_access_keys(mrz_information: str) -> tuple[bytes, bytes]:
    """(K_enc, K_mac) with DES parity, from the MRZ information."""
    seed = key_seed(mrz_information)
    return derive_key(seed, ENC, "3DES"), derive_key(seed, MAC, "3DES")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def session_from_seed(k_seed: bytes, rnd_icc: bytes, rnd_ifd: bytes) -> SecureMessaging:
    ssc = int.from_bytes(rnd_icc[-4:] + rnd_ifd[-4:], "big")
    return SecureMessaging(
        "3DES", derive_key(k_seed, ENC, "3DES"), derive_key(k_seed, MAC, "3DES"), ssc
    )


GET_CHALLENGE = CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8)


@dataclass
class BACTerminal:
    """Terminal side. Call :meth:`mutual_authenticate` with the chip's challenge and 8+16 fresh
    random bytes, send the command, then :meth:`finish` with the response."""

    mrz_information: str
    rnd_ifd: bytes = b""
    k_ifd: bytes = b""
    rnd_icc: bytes = b""

    def __post_init__(self) -> None:
        self.k_enc, self.k_mac = document_basic_access_keys(self.mrz_information)

    def get_challenge(self) -> CommandAPDU:
        return GET_CHALLENGE

    def mutual_authenticate(self, challenge: ResponseAPDU, rnd_ifd: bytes, k_ifd: bytes
                            ) -> CommandAPDU:  # fmt: skip
        if not challenge.ok or len(challenge.data) != 8:
            raise BACError(
                f"GET CHALLENGE failed (status {challenge.sw:04X}, {len(challenge.data)} bytes): "
                "the chip may not support BAC"
            )
        if len(rnd_ifd) != 8 or len(k_ifd) != 16:
            raise BACError("BAC needs 8 bytes of RND.IFD and 16 bytes of K.IFD")
        self.rnd_icc, self.rnd_ifd, self.k_ifd = challenge.data, rnd_ifd, k_ifd
        e_ifd = des3_encrypt(self.k_enc, rnd_ifd + self.rnd_icc + k_ifd)
        m_ifd = retail_mac(self.k_mac, pad(e_ifd, 8))
        return CommandAPDU(0x00, 0x82, 0x00, 0x00, e_ifd + m_ifd, le=40)

    def finish(self, resp: ResponseAPDU) -> SecureMessaging:
        if resp.sw == 0x6300 or resp.sw & 0xFFF0 == 0x63C0 or resp.sw in (0x6982, 0x6A80):
            raise BACError(
                f"MUTUAL AUTHENTICATE refused (status {resp.sw:04X}): the MRZ information "
                "(document number, birth or expiry date) does not open this chip; check the MRZ"
            )
        if not resp.ok or len(resp.data) != 40:
            raise BACError(
                f"MUTUAL AUTHENTICATE failed: status {resp.sw:04X} with {len(resp.data)} bytes"
            )
        e_icc, m_icc = resp.data[:32], resp.data[32:]
        if not hmac.compare_digest(retail_mac(self.k_mac, pad(e_icc, 8)), m_icc):
            raise BACError("MUTUAL AUTHENTICATE: the chip's MAC does not verify")
        plain = des3_decrypt(self.k_enc, e_icc)
        if plain[:8] != self.rnd_icc or plain[8:16] != self.rnd_ifd:
            raise BACError("MUTUAL AUTHENTICATE: the chip returned the wrong nonces")
        return session_from_seed(_xor(self.k_ifd, plain[16:32]), self.rnd_icc, self.rnd_ifd)


class BACCard:
    """Chip side of BAC: answer MUTUAL AUTHENTICATE for the challenge it issued."""

    def __init__(self, mrz_information: str) -> None:
        self.k_enc, self.k_mac = document_basic_access_keys(mrz_information)

    def respond(self, rnd_icc: bytes, data: bytes, k_icc: bytes
                ) -> tuple[bytes, SecureMessaging] | None:  # fmt: skip
        """The 40-byte answer and the new session, or None when authentication fails."""
        if len(data) != 40:
            return None
        e_ifd, m_ifd = data[:32], data[32:]
        if not hmac.compare_digest(retail_mac(self.k_mac, pad(e_ifd, 8)), m_ifd):
            return None
        plain = des3_decrypt(self.k_enc, e_ifd)
        rnd_ifd, k_ifd = plain[:8], plain[16:32]
        if plain[8:16] != rnd_icc:
            return None
        e_icc = des3_encrypt(self.k_enc, rnd_icc + rnd_ifd + k_icc)
        answer = e_icc + retail_mac(self.k_mac, pad(e_icc, 8))
        return answer, session_from_seed(_xor(k_ifd, k_icc), rnd_icc, rnd_ifd)
