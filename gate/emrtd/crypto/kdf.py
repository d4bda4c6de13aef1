"""ICAO 9303 Part 11 section 9.7.1 key derivation, shared by BAC, PACE and chip authentication.

K = H(shared secret || counter) with a 32-bit big-endian counter (1 for encryption, 2 for MAC,
3 for the PACE password key); SHA-1 for 3DES and AES-128, SHA-256 for AES-192 and AES-256.
3DES keys are the first 16 bytes with DES parity bits set.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Cipher = Literal["3DES", "AES-128", "AES-192", "AES-256"]

ENC = 1
MAC = 2
PACE_PASSWORD = 3


def set_des_parity(key: bytes) -> bytes:
    """Each byte gets odd parity in its least significant bit (FIPS 46-3)."""
    out = bytearray()
    for b in key:
        high = b & 0xFE
        out.append(high | ((bin(high).count("1") + 1) % 2))
    return bytes(out)


def derive_key(shared_secret: bytes, counter: int, cipher: Cipher) -> bytes:
    data = shared_secret + counter.to_bytes(4, "big")
    if cipher == "3DES":
        return set_des_parity(hashlib.sha1(data).digest()[:16])
    if cipher == "AES-128":
        return hashlib.sha1(data).digest()[:16]
    if cipher == "AES-192":
        return hashlib.sha256(data).digest()[:24]
    if cipher == "AES-256":
        return hashlib.sha256(data).digest()
    raise ValueError(f"unknown cipher {cipher!r}: expected 3DES, AES-128, AES-192 or AES-256")
