"""Sans-IO codecs for full-page document readers that send the MRZ as text over a serial line.

Two framings, modelled on the two families of readers found at gates (byte-exact specification
in docs/docreader.md):

``desko``  ``SOD STX line1 CR line2 CR [line3 CR] ETX EOD``; ``SOD EOD`` = document removed.
``3m``     ``STX LEN_HI LEN_LO payload ETX BCC``; the payload is every line padded with ``_`` to
           44 characters and ended by CR; LEN is the payload length (big-endian); BCC is the XOR
           of every byte from LEN_HI through ETX; a zero-length payload = document removed.

Decoders take bytes and the current time and return events; they never read a port or a clock.
After garbage, a broken frame or a stall (no byte for ``frame_timeout`` seconds inside a frame)
they drop what they had and hunt for the next start byte, so one bad frame never costs the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gate.errors import EgateError

SOD, STX, ETX, EOD, CR, LF = 0x01, 0x02, 0x03, 0x04, 0x0D, 0x0A
MRZ_BYTES = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<")
PAD = ord("_")
WIDTH_3M = 44
MAX_DESKO_BODY = 3 * (44 + 2)
VALID_SHAPES = {(2, 44), (2, 36), (3, 30)}

Framing = Literal["desko", "3m"]
FRAMINGS: tuple[Framing, ...] = ("desko", "3m")


class FramingError(EgateError):
    """Lines that cannot be framed (wrong shape or characters)."""

    reason_code = "DOCREADER_FAULT"


@dataclass(frozen=True)
class DocumentRead:
    lines: tuple[str, ...]


@dataclass(frozen=True)
class DocumentRemoved:
    pass


@dataclass(frozen=True)
class FrameDropped:
    """Bytes thrown away while resynchronising, and why (for counters and debug logs)."""

    reason: str
    discarded: int


FrameEvent = DocumentRead | DocumentRemoved | FrameDropped


def check_lines(lines: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The lines as a tuple if they have an MRZ shape (2x44, 2x36, 3x30, only 0-9 A-Z <)."""
    shape = (len(lines), len(lines[0]) if lines else 0)
    if shape not in VALID_SHAPES or any(len(line) != shape[1] for line in lines):
        raise FramingError(
            f"MRZ lines of shape {[len(x) for x in lines]}: a reader sends 2 lines of 44 or 36 "
            "characters or 3 lines of 30"
        )
    for line in lines:
        if not set(line.encode("ascii", "replace")) <= MRZ_BYTES:
            raise FramingError(f"MRZ line {line!r} has characters other than 0-9, A-Z and '<'")
    return tuple(lines)


# ----------------------------------------------------------------------------- encoders


def encode_desko(lines: list[str] | tuple[str, ...] | None) -> bytes:
    """A DESKO-style frame for ``lines``; ``None`` encodes "document removed"."""
    if lines is None:
        return bytes([SOD, EOD])
    body = b"".join(line.encode("ascii") + bytes([CR]) for line in check_lines(lines))
    return bytes([SOD, STX]) + body + bytes([ETX, EOD])


def bcc(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def encode_3m(lines: list[str] | tuple[str, ...] | None) -> bytes:
    """A 3M-style frame for ``lines``; ``None`` encodes "document removed"."""
    payload = b""
    if lines is not None:
        payload = b"".join(
            line.encode("ascii").ljust(WIDTH_3M, b"_") + bytes([CR]) for line in check_lines(lines)
        )
    length = len(payload).to_bytes(2, "big")
    checked = length + payload + bytes([ETX])
    return bytes([STX]) + checked + bytes([bcc(checked)])


def encode(framing: Framing, lines: list[str] | tuple[str, ...] | None) -> bytes:
    if framing == "desko":
        return encode_desko(lines)
    if framing == "3m":
        return encode_3m(lines)
    raise FramingError(f"unknown framing {framing!r}: expected one of {FRAMINGS}")


# ----------------------------------------------------------------------------- decoders


class _Decoder:
    def __init__(self, frame_timeout: float = 1.0) -> None:
        self.frame_timeout = frame_timeout
        self._buf = bytearray()
        self._last = 0.0

    def reset(self) -> list[FrameEvent]:
        """Forget any partial frame (after a disconnect); reports what was dropped."""
        dropped = len(self._buf)
        self._buf.clear()
        return [FrameDropped("reset with a partial frame", dropped)] if dropped else []

    def feed(self, data: bytes, now: float) -> list[FrameEvent]:
        events: list[FrameEvent] = []
        if self._buf and data and now - self._last > self.frame_timeout:
            events.append(FrameDropped("partial frame timed out", len(self._buf)))
            self._buf.clear()
        if data:
            self._last = now
        self._buf.extend(data)
        events.extend(self._parse())
        return events

    def tick(self, now: float) -> list[FrameEvent]:
        """Call when no bytes came: expires a stalled partial frame."""
        if self._buf and now - self._last > self.frame_timeout:
            dropped = len(self._buf)
            self._buf.clear()
            return [FrameDropped("partial frame timed out", dropped)]
        return []

    def _parse(self) -> list[FrameEvent]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _skip_to(self, start_byte: int, events: list[FrameEvent]) -> bool:
        """Drop the bytes before the next ``start_byte``; False when the buffer has none."""
        buf = self._buf
        start = buf.find(bytes([start_byte]))
        if start < 0:
            events.append(FrameDropped("bytes outside a frame", len(buf)))
            buf.clear()
            return False
        if start > 0:
            events.append(FrameDropped("bytes outside a frame", start))
            del buf[:start]
        return True


class DeskoDecoder(_Decoder):
    def _parse(self) -> list[FrameEvent]:
        events: list[FrameEvent] = []
        buf = self._buf
        while buf:
            if not self._skip_to(SOD, events):
                break
            if len(buf) < 2:
                break
            if buf[1] == EOD:
                events.append(DocumentRemoved())
                del buf[:2]
                continue
            if buf[1] != STX:
                events.append(FrameDropped("SOD not followed by STX or EOD", 1))
                del buf[:1]
                continue
            outcome = self._body(buf)
            if outcome is None:
                break  # incomplete: wait for more bytes
            consumed, event = outcome
            del buf[:consumed]
            events.append(event)
        return events

    def _body(self, buf: bytearray) -> tuple[int, FrameEvent] | None:
        i = 2
        while i < len(buf):
            byte = buf[i]
            if byte == ETX:
                if i + 1 >= len(buf):
                    return None
                if buf[i + 1] != EOD:
                    return i + 1, FrameDropped("ETX not followed by EOD", i + 1)
                text = bytes(buf[2:i]).replace(bytes([LF]), b"")
                parts = text.split(bytes([CR]))
                if parts and parts[-1] == b"":
                    parts.pop()
                try:
                    lines = check_lines([p.decode("ascii") for p in parts])
                except (FramingError, UnicodeDecodeError):
                    return i + 2, FrameDropped("frame does not hold an MRZ", i + 2)
                return i + 2, DocumentRead(lines)
            if byte in MRZ_BYTES or byte in (CR, LF):
                i += 1
                if i - 2 > MAX_DESKO_BODY:
                    return i, FrameDropped("frame too long", i)
                continue
            # an unexpected byte (a new SOD included): drop up to it and resynchronise there
            return i, FrameDropped(f"unexpected byte 0x{byte:02x} inside a frame", i)
        return None


class ThreeMDecoder(_Decoder):
    VALID_LENGTHS = (0, 2 * (WIDTH_3M + 1), 3 * (WIDTH_3M + 1))

    def _parse(self) -> list[FrameEvent]:
        events: list[FrameEvent] = []
        buf = self._buf
        while buf:
            if not self._skip_to(STX, events):
                break
            if len(buf) < 3:
                break
            length = int.from_bytes(buf[1:3], "big")
            if length not in self.VALID_LENGTHS:
                events.append(FrameDropped(f"impossible length {length}", 1))
                del buf[:1]  # the STX was noise: hunt again from the next byte
                continue
            total = 1 + 2 + length + 2
            if len(buf) < total:
                # STX never occurs in LEN or the payload: one there means this frame is broken
                nxt = buf.find(bytes([STX]), 1, 3 + length)
                if nxt > 0 or not _payload_ok(bytes(buf[3 : 3 + length]), partial=True):
                    cut = nxt if nxt > 0 else 1
                    events.append(FrameDropped("broken frame", cut))
                    del buf[:cut]
                    continue
                break
            frame = bytes(buf[:total])
            if frame[-2] != ETX or bcc(frame[1:-1]) != frame[-1]:
                events.append(FrameDropped("bad ETX or block check", 1))
                del buf[:1]
                continue
            payload = frame[3:-2]
            if length == 0:
                events.append(DocumentRemoved())
                del buf[:total]
                continue
            if not _payload_ok(payload, partial=False):
                events.append(FrameDropped("frame does not hold an MRZ", total))
                del buf[:total]
                continue
            rows = [payload[k : k + WIDTH_3M] for k in range(0, length, WIDTH_3M + 1)]
            try:
                lines = check_lines([r.rstrip(b"_").decode("ascii") for r in rows])
            except FramingError:
                events.append(FrameDropped("frame does not hold an MRZ", total))
                del buf[:total]
                continue
            events.append(DocumentRead(lines))
            del buf[:total]
        return events


def _payload_ok(payload: bytes, *, partial: bool) -> bool:
    for k, byte in enumerate(payload):
        if k % (WIDTH_3M + 1) == WIDTH_3M:
            if byte != CR:
                return False
        elif byte not in MRZ_BYTES and byte != PAD:
            return False
    return partial or len(payload) % (WIDTH_3M + 1) == 0


def decoder(framing: Framing, frame_timeout: float = 1.0) -> DeskoDecoder | ThreeMDecoder:
    if framing == "desko":
        return DeskoDecoder(frame_timeout)
    if framing == "3m":
        return ThreeMDecoder(frame_timeout)
    raise FramingError(f"unknown framing {framing!r}: expected one of {FRAMINGS}")
