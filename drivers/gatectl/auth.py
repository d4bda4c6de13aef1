"""Optional frame authentication of the gate controller link (docs/gate-protocol.md §13).

Sans-IO: a session handshake that derives a fresh session key from the per-gate key and two
nonces, then a sealed link that appends a frame counter and a truncated HMAC-SHA256 tag to
every payload and refuses forged, reflected, replayed and old-session frames. Retransmissions
(identical bytes) stay acceptable, because the protocol's duplicate rules (§4) depend on them.

Wire format of a sealed payload: ``body || CTR (u32, big-endian) || TAG (8 bytes)``, with
``TAG = HMAC-SHA256(session_key, DIR || SEQ || TYPE || body || CTR)[:8]`` and DIR ``b"H"``
for host-to-controller frames, ``b"C"`` the other way (a frame cannot be reflected back).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from drivers.gatectl import protocol as p
from gate.files import InputFileError, read_bounded

KEY_BYTES = 32
NONCE_BYTES = 8
TAG_BYTES = 8
TRAILER = 4 + TAG_BYTES
MAX_BODY = p.MAX_PAYLOAD - TRAILER
"""Largest message body on an authenticated link (52 bytes; every message of §5-§7 fits)."""

Role = Literal["host", "controller"]
_DIRECTION: dict[Role, bytes] = {"host": b"H", "controller": b"C"}
_LABEL = b"egate gatectl auth v1"


@dataclass(frozen=True)
class AuthHello(p.Message):
    """The AUTH_HELLO command (§13), sent by the host session itself, never submitted."""

    TYPE = p.MsgType.AUTH_HELLO
    FORMAT = ">16s"
    token: bytes = b""

    def encode(self) -> bytes:
        return self.token


class AuthError(p.ProtocolError):
    """A frame or handshake message failed authentication (forged, replayed, wrong key)."""


def load_key(path: Path | str) -> bytes:
    """The gate key from a file holding it as 64 hexadecimal digits (a regular file of at most
    64 KB; surrounding whitespace ignored)."""
    try:
        text = read_bounded(path, "key").decode("ascii").strip()
        key = bytes.fromhex(text)
    except InputFileError as exc:
        raise AuthError(f"gate key: {exc}") from None
    except ValueError:
        raise AuthError(f"{path}: the gate key must be {KEY_BYTES * 2} hex digits") from None
    return check_key(key)


def check_key(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise AuthError(f"the gate key must be {KEY_BYTES} bytes, not {len(key)}")
    return key


def _mac(key: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def hello(key: bytes, host_nonce: bytes | None = None) -> bytes:
    """Payload of the host's AUTH_HELLO: its fresh nonce and a tag proving it knows ``key``."""
    nonce = host_nonce if host_nonce is not None else secrets.token_bytes(NONCE_BYTES)
    return nonce + _mac(check_key(key), _LABEL, b"hello", nonce)[:TAG_BYTES]


def answer_hello(
    key: bytes, payload: bytes, controller_nonce: bytes | None = None
) -> tuple[bytes, bytes]:
    """Controller side: check an AUTH_HELLO payload; returns (ACK payload, session key)."""
    if len(payload) != NONCE_BYTES + TAG_BYTES:
        raise AuthError("AUTH_HELLO payload has the wrong length")
    host_nonce, tag = payload[:NONCE_BYTES], payload[NONCE_BYTES:]
    expected = _mac(check_key(key), _LABEL, b"hello", host_nonce)[:TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        raise AuthError("AUTH_HELLO tag does not verify: wrong gate key")
    nonce = controller_nonce if controller_nonce is not None else secrets.token_bytes(NONCE_BYTES)
    reply = nonce + _mac(key, _LABEL, b"reply", host_nonce, nonce)[:TAG_BYTES]
    return reply, session_key(key, host_nonce, nonce)


def accept_reply(key: bytes, hello_payload: bytes, reply: bytes) -> bytes:
    """Host side: check the controller's ACK of AUTH_HELLO; returns the session key."""
    host_nonce = hello_payload[:NONCE_BYTES]
    if len(reply) != NONCE_BYTES + TAG_BYTES:
        raise AuthError("AUTH_HELLO reply has the wrong length")
    nonce, tag = reply[:NONCE_BYTES], reply[NONCE_BYTES:]
    expected = _mac(check_key(key), _LABEL, b"reply", host_nonce, nonce)[:TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        raise AuthError("AUTH_HELLO reply does not verify: wrong gate key or a replayed reply")
    return session_key(key, host_nonce, nonce)


def session_key(key: bytes, host_nonce: bytes, controller_nonce: bytes) -> bytes:
    """Fresh for every handshake: frames of an earlier session never verify in a later one."""
    return _mac(check_key(key), _LABEL, b"session", host_nonce, controller_nonce)


@dataclass
class SealedLink:
    """One end of an authenticated session: seals outgoing payloads, opens incoming frames."""

    key: bytes
    role: Role
    sent: int = 0
    """Counter of the last new frame sealed by this end."""
    received: int = 0
    """Highest counter accepted from the peer."""
    last_frame: p.Frame | None = None
    """The frame that carried ``received`` (its identical retransmission is accepted)."""
    rejected: int = 0

    def seal(self, seq: int, msg_type: int, body: bytes = b"") -> bytes:
        """A complete wire frame whose payload is ``body`` sealed with the next counter."""
        if len(body) > MAX_BODY:
            raise p.ProtocolError(f"payload of {len(body)} bytes exceeds {MAX_BODY} when sealed")
        if self.sent >= 0xFFFFFFFF:
            raise AuthError("frame counter exhausted: run a new AUTH_HELLO handshake")
        self.sent += 1
        ctr = struct.pack(">I", self.sent)
        tag = self._tag(_DIRECTION[self.role], seq, msg_type, body, ctr)
        return p.encode_frame(seq, msg_type, body + ctr + tag)

    def open(self, frame: p.Frame) -> p.Frame:
        """The frame with its body only, once its tag and counter are checked; else
        :class:`AuthError` (the caller drops the frame, as a corrupted one)."""
        if len(frame.payload) < TRAILER:
            return self._reject("frame too short to carry a counter and a tag")
        body, ctr = frame.payload[:-TRAILER], frame.payload[-TRAILER:-TAG_BYTES]
        tag = frame.payload[-TAG_BYTES:]
        peer = b"C" if self.role == "host" else b"H"
        if not hmac.compare_digest(tag, self._tag(peer, frame.seq, frame.type, body, ctr)):
            return self._reject("tag does not verify (forged, reflected or another session)")
        (count,) = struct.unpack(">I", ctr)
        if count <= self.received and not (count == self.received and frame == self.last_frame):
            return self._reject(f"counter {count} replayed (last accepted {self.received})")
        self.received, self.last_frame = count, frame
        return p.Frame(frame.seq, frame.type, body)

    def _tag(self, direction: bytes, seq: int, msg_type: int, body: bytes, ctr: bytes) -> bytes:
        return _mac(self.key, direction, bytes((seq, msg_type)), body, ctr)[:TAG_BYTES]

    def _reject(self, why: str) -> p.Frame:
        self.rejected += 1
        raise AuthError(why)
