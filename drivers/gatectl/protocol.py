"""Gate controller serial protocol: frame codec and message layouts (sans-IO).

The normative text is docs/gate-protocol.md; this module implements it. Nothing here touches a
port, a clock or a thread: :class:`FrameDecoder` takes bytes and the current time as values and
returns frames, :func:`encode_frame` returns bytes.

Frame (all multi-byte integers big-endian)::

    SOF 0x02 | VER 0x01 | SEQ | TYPE | LEN | PAYLOAD (LEN <= 64) | CRC-16 (2) | EOF 0x03

The CRC is CRC-16/IBM-3740 (also called CRC-16/CCITT-FALSE: polynomial 0x1021, initial value
0xFFFF, not reflected, no final XOR; check value 0x29B1 over ASCII "123456789", as listed in
Greg Cook's CRC catalogue) computed over VER, SEQ, TYPE, LEN and PAYLOAD. There is no byte
stuffing: the receiver resynchronises by length (see :class:`FrameDecoder`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import ClassVar

from gate.errors import EgateError

SOF = 0x02
EOF = 0x03
VERSION = 0x01
MAX_PAYLOAD = 64
OVERHEAD = 8  # SOF VER SEQ TYPE LEN CRC CRC EOF
HEADER = 5
#: Default inter-byte gap after which a partial frame is abandoned (seconds).
INTERBYTE_TIMEOUT = 0.02


class GateControllerError(EgateError):
    """Base of every gate controller error (protocol, link, refusal)."""

    reason_code = "GATECTL_FAULT"


class ProtocolError(GateControllerError):
    """A frame or payload violates docs/gate-protocol.md."""


# --------------------------------------------------------------------------- CRC


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _make_table()


def crc16(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """CRC-16/IBM-3740 (CCITT-FALSE). ``crc16(b"123456789") == 0x29B1``."""
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


# --------------------------------------------------------------------------- enums


class MsgType(IntEnum):
    ACK = 0x06
    NAK = 0x15
    # host -> controller
    HEARTBEAT = 0x10
    GET_STATUS = 0x11
    CONFIGURE = 0x12
    AUTH_HELLO = 0x13  # optional frame authentication handshake (§13, drivers/gatectl/auth.py)
    DOOR = 0x20
    RELEASE_PASSAGE = 0x21
    CANCEL_PASSAGE = 0x22
    SET_INDICATORS = 0x23
    SET_MODE = 0x24
    # controller -> host (unsolicited events)
    EV_RESET = 0x80
    EV_DOOR = 0x81
    EV_BEAM = 0x82
    EV_PASSAGE_COMPLETED = 0x83
    EV_PASSAGE_ABORTED = 0x84
    EV_FORCED_DOOR = 0x85
    EV_TAMPER = 0x86
    EV_EMERGENCY = 0x87
    EV_FAULT = 0x88
    EV_MODE = 0x89


class Door(IntEnum):
    ENTRY = 1
    EXIT = 2


class DoorAction(IntEnum):
    OPEN = 1
    CLOSE = 2
    LOCK = 3  # close, then engage the lock
    UNLOCK = 4  # release the lock, stay closed


class DoorState(IntEnum):
    CLOSED = 0
    OPENING = 1
    OPEN = 2
    CLOSING = 3
    LOCKED = 4


class Direction(IntEnum):
    IN = 1  # entry side -> exit side (the lane's normal direction)
    OUT = 2  # exit side -> entry side


class Mode(IntEnum):
    NORMAL = 0
    OUT_OF_SERVICE = 1
    EMERGENCY_OPEN = 2
    SAFE = 3  # entered by the controller only (power-on, host silent)


class ModeReason(IntEnum):
    HOST_COMMAND = 0
    POWER_ON = 1
    HEARTBEAT_LOST = 2
    FIRE_ALARM = 3


class SafeState(IntEnum):
    CLOSED = 0  # doors closed and locked
    OPEN = 1  # doors open (escape route)


class Pictogram(IntEnum):
    OFF = 0
    GREEN_ARROW = 1
    RED_CROSS = 2
    AMBER_WAIT = 3


class Buzzer(IntEnum):
    OFF = 0
    SHORT = 1
    LONG = 2
    ALARM = 3


class NakReason(IntEnum):
    UNKNOWN_COMMAND = 1
    BAD_LENGTH = 2
    BAD_PARAMETER = 3
    NOT_ALLOWED = 4
    BUSY = 5


class AbortReason(IntEnum):
    TIMEOUT = 1
    TURNED_BACK = 2
    CANCELLED = 3
    MODE_CHANGE = 4


class ResetReason(IntEnum):
    POWER_ON = 1
    WATCHDOG = 2
    BROWN_OUT = 3
    SOFTWARE = 4


class FaultCode(IntEnum):
    DOOR_MOTOR = 1
    BEAM = 2
    POWER = 3
    EVENT_OVERFLOW = 4


# --------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class Frame:
    seq: int
    type: int
    payload: bytes = b""

    def encode(self) -> bytes:
        return encode_frame(self.seq, self.type, self.payload)


def encode_frame(seq: int, msg_type: int, payload: bytes = b"") -> bytes:
    if not 0 <= seq <= 255:
        raise ProtocolError(f"sequence number {seq} out of range 0..255")
    if not 0 <= msg_type <= 255:
        raise ProtocolError(f"message type {msg_type} out of range 0..255")
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes((VERSION, seq, msg_type, len(payload))) + bytes(payload)
    return bytes((SOF,)) + body + crc16(body).to_bytes(2, "big") + bytes((EOF,))


@dataclass
class DecoderStats:
    frames: int = 0
    discarded_bytes: int = 0
    bad_frames: int = 0  # candidate frames rejected by CRC or EOF
    timeouts: int = 0  # partial frames abandoned after the inter-byte gap


class FrameDecoder:
    """Length-based resynchronising decoder.

    Bytes before a SOF are discarded. A candidate frame needs VER 0x01, LEN <= 64, EOF 0x03 at
    the position LEN implies and a matching CRC; otherwise only its SOF byte is dropped and the
    search resumes at the next byte, so a valid frame hidden behind a false start is still
    found. A partial candidate that receives no byte for ``interbyte_timeout`` seconds is
    abandoned the same way when :meth:`poll` (or the next :meth:`feed`) is called.
    """

    def __init__(self, interbyte_timeout: float = INTERBYTE_TIMEOUT, max_buffer: int = 4096):
        self.interbyte_timeout = interbyte_timeout
        self.max_buffer = max_buffer
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._last_rx: float | None = None

    @property
    def pending(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        self._buf.clear()
        self._last_rx = None

    def feed(self, data: bytes, now: float) -> list[Frame]:
        frames = self.poll(now)
        if data:
            self._buf += data
            self._last_rx = now
            if len(self._buf) > self.max_buffer:  # cannot happen with MAX_PAYLOAD; be safe
                drop = len(self._buf) - self.max_buffer
                del self._buf[:drop]
                self.stats.discarded_bytes += drop
        frames += self._parse(stale=False)
        return frames

    def poll(self, now: float) -> list[Frame]:
        """Abandon a partial frame whose bytes stopped arriving; returns frames found behind it."""
        if (
            self._buf
            and self._last_rx is not None
            and now - self._last_rx >= self.interbyte_timeout
        ):
            return self._parse(stale=True)
        return []

    def deadline(self) -> float | None:
        """When :meth:`poll` should next be called, or None when nothing is pending."""
        if self._buf and self._last_rx is not None:
            return self._last_rx + self.interbyte_timeout
        return None

    def _drop(self, count: int) -> None:
        del self._buf[:count]
        self.stats.discarded_bytes += count

    def _parse(self, stale: bool) -> list[Frame]:
        frames: list[Frame] = []
        buf = self._buf
        while buf:
            start = buf.find(SOF)
            if start < 0:
                self._drop(len(buf))
                break
            if start:
                self._drop(start)
            if len(buf) >= 2 and buf[1] != VERSION:
                self._drop(1)
                continue
            if len(buf) >= HEADER and buf[4] > MAX_PAYLOAD:
                self._drop(1)
                continue
            if len(buf) < HEADER or len(buf) < OVERHEAD + buf[4]:
                if stale:  # the rest of this candidate never came
                    self.stats.timeouts += 1
                    self._drop(1)
                    continue
                break
            length = buf[4]
            end = HEADER + length
            if buf[end + 2] != EOF or crc16(buf[1:end]) != int.from_bytes(buf[end : end + 2]):
                self.stats.bad_frames += 1
                self._drop(1)
                continue
            frames.append(Frame(buf[2], buf[3], bytes(buf[HEADER:end])))
            del buf[: end + 3]
            self.stats.frames += 1
        return frames


def next_seq(seq: int) -> int:
    """Sequence numbers run 1..255 and wrap to 1; 0 is reserved (never sent in a command or
    event)."""
    return 1 if seq >= 255 else seq + 1


# --------------------------------------------------------------------------- messages


def _enum(cls: type[IntEnum], value: int, what: str) -> IntEnum:
    try:
        return cls(value)
    except ValueError:
        raise ProtocolError(f"{what}: unknown value {value}") from None


@dataclass(frozen=True)
class Message:
    """A command or event body. Subclasses define TYPE and FORMAT (struct, big-endian)."""

    TYPE: ClassVar[MsgType]
    FORMAT: ClassVar[str] = ">"

    def encode(self) -> bytes:
        try:
            return struct.pack(self.FORMAT, *self._values())
        except struct.error as exc:  # a field out of its u8/u16/u32 range
            raise ProtocolError(
                f"{type(self).__name__}: a field does not fit the wire format ({exc}): {self}"
            ) from None

    def _values(self) -> tuple[int, ...]:
        return tuple(int(getattr(self, f.name)) for f in fields(self))

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        size = struct.calcsize(cls.FORMAT)
        if len(payload) != size:
            raise ProtocolError(
                f"{cls.TYPE.name}: payload is {len(payload)} bytes, expected {size}"
            )
        values = struct.unpack(cls.FORMAT, payload)
        kwargs: dict[str, object] = {}
        for fld, value in zip(fields(cls), values, strict=True):
            name = fld.name
            kind = fld.type if isinstance(fld.type, type) else _TYPES.get(str(fld.type))
            if kind is bool:
                if value not in (0, 1):
                    raise ProtocolError(f"{cls.TYPE.name}.{name}: {value} is not 0 or 1")
                kwargs[name] = bool(value)
            elif kind is not None and issubclass(kind, IntEnum):
                kwargs[name] = _enum(kind, value, f"{cls.TYPE.name}.{name}")
            else:
                kwargs[name] = value
        return cls(**kwargs)


# commands ------------------------------------------------------------------


@dataclass(frozen=True)
class Heartbeat(Message):
    TYPE = MsgType.HEARTBEAT


@dataclass(frozen=True)
class GetStatus(Message):
    TYPE = MsgType.GET_STATUS


@dataclass(frozen=True)
class Configure(Message):
    TYPE = MsgType.CONFIGURE
    FORMAT = ">HBHH"
    heartbeat_timeout_ms: int = 3000
    safe_state: SafeState = SafeState.CLOSED
    passage_timeout_ms: int = 10000
    event_retry_ms: int = 100


@dataclass(frozen=True)
class DoorCommand(Message):
    TYPE = MsgType.DOOR
    FORMAT = ">BB"
    door: Door
    action: DoorAction


@dataclass(frozen=True)
class ReleasePassage(Message):
    TYPE = MsgType.RELEASE_PASSAGE
    FORMAT = ">BBH"
    door: Door
    direction: Direction = Direction.IN
    timeout_ms: int = 0  # 0: the configured passage timeout


@dataclass(frozen=True)
class CancelPassage(Message):
    TYPE = MsgType.CANCEL_PASSAGE


@dataclass(frozen=True)
class SetIndicators(Message):
    TYPE = MsgType.SET_INDICATORS
    FORMAT = ">BBBB"
    entry: Pictogram = Pictogram.OFF
    exit: Pictogram = Pictogram.OFF
    buzzer: Buzzer = Buzzer.OFF
    buzzer_ds: int = 0  # duration in tenths of a second; 0 = until changed


@dataclass(frozen=True)
class SetMode(Message):
    TYPE = MsgType.SET_MODE
    FORMAT = ">B"
    mode: Mode


# responses -----------------------------------------------------------------


@dataclass(frozen=True)
class Nak(Message):
    TYPE = MsgType.NAK
    FORMAT = ">B"
    reason: NakReason


@dataclass(frozen=True)
class Status(Message):
    """ACK payload of HEARTBEAT and GET_STATUS."""

    TYPE = MsgType.ACK
    FORMAT = ">HIBBBBHB"
    boot_id: int
    uptime_ms: int
    mode: Mode
    entry_door: DoorState
    exit_door: DoorState
    beam_count: int
    beams: int  # bit i set: beam i interrupted
    flags: int  # StatusFlag bits

    def beam(self, index: int) -> bool:
        return bool(self.beams >> index & 1)


class StatusFlag(IntEnum):
    FIRE_ALARM = 0x01
    TAMPER = 0x02
    PASSAGE_ACTIVE = 0x04
    FAULT = 0x08


# events ----------------------------------------------------------------------


@dataclass(frozen=True)
class Event(Message):
    """Every event payload starts with the controller's uptime in milliseconds (u32)."""

    time_ms: int


@dataclass(frozen=True)
class ControllerReset(Event):
    TYPE = MsgType.EV_RESET
    FORMAT = ">IHBHB"
    boot_id: int = 0
    reason: ResetReason = ResetReason.POWER_ON
    firmware: int = 0x0100
    beam_count: int = 0


@dataclass(frozen=True)
class DoorChanged(Event):
    TYPE = MsgType.EV_DOOR
    FORMAT = ">IBB"
    door: Door = Door.ENTRY
    state: DoorState = DoorState.CLOSED


@dataclass(frozen=True)
class BeamChanged(Event):
    TYPE = MsgType.EV_BEAM
    FORMAT = ">IBB"
    beam: int = 0
    interrupted: bool = False


@dataclass(frozen=True)
class PassageCompleted(Event):
    TYPE = MsgType.EV_PASSAGE_COMPLETED
    FORMAT = ">IBBB"
    door: Door = Door.ENTRY
    direction: Direction = Direction.IN
    persons: int = 1


@dataclass(frozen=True)
class PassageAborted(Event):
    TYPE = MsgType.EV_PASSAGE_ABORTED
    FORMAT = ">IBB"
    door: Door = Door.ENTRY
    reason: AbortReason = AbortReason.TIMEOUT


@dataclass(frozen=True)
class ForcedDoor(Event):
    TYPE = MsgType.EV_FORCED_DOOR
    FORMAT = ">IB"
    door: Door = Door.ENTRY


@dataclass(frozen=True)
class Tamper(Event):
    TYPE = MsgType.EV_TAMPER
    FORMAT = ">IB"
    active: bool = True


@dataclass(frozen=True)
class Emergency(Event):
    TYPE = MsgType.EV_EMERGENCY
    FORMAT = ">IB"
    active: bool = True


@dataclass(frozen=True)
class Fault(Event):
    TYPE = MsgType.EV_FAULT
    FORMAT = ">IBB"
    code: FaultCode = FaultCode.DOOR_MOTOR
    active: bool = True


@dataclass(frozen=True)
class ModeChanged(Event):
    TYPE = MsgType.EV_MODE
    FORMAT = ">IBB"
    mode: Mode = Mode.NORMAL
    reason: ModeReason = ModeReason.HOST_COMMAND


_TYPES: dict[str, type] = {
    "int": int,
    "bool": bool,
    **{
        cls.__name__: cls
        for cls in (
            Door,
            DoorAction,
            DoorState,
            Direction,
            Mode,
            ModeReason,
            SafeState,
            Pictogram,
            Buzzer,
            NakReason,
            AbortReason,
            ResetReason,
            FaultCode,
        )
    },
}

Command = (
    Heartbeat
    | GetStatus
    | Configure
    | DoorCommand
    | ReleasePassage
    | CancelPassage
    | SetIndicators
    | SetMode
)

COMMANDS: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Heartbeat,
        GetStatus,
        Configure,
        DoorCommand,
        ReleasePassage,
        CancelPassage,
        SetIndicators,
        SetMode,
    )
}
EVENTS: dict[int, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        ControllerReset,
        DoorChanged,
        BeamChanged,
        PassageCompleted,
        PassageAborted,
        ForcedDoor,
        Tamper,
        Emergency,
        Fault,
        ModeChanged,
    )
}
#: Commands whose ACK carries a :class:`Status` record.
STATUS_COMMANDS = frozenset({MsgType.HEARTBEAT, MsgType.GET_STATUS})


def decode_command(frame: Frame) -> Message:
    cls = COMMANDS.get(frame.type)
    if cls is None:
        raise ProtocolError(f"unknown command type 0x{frame.type:02X}")
    return cls.decode(frame.payload)


def decode_event(frame: Frame) -> Event:
    cls = EVENTS.get(frame.type)
    if cls is None:
        raise ProtocolError(f"unknown event type 0x{frame.type:02X}")
    event = cls.decode(frame.payload)
    assert isinstance(event, Event)
    return event


def is_event_type(msg_type: int) -> bool:
    return 0x80 <= msg_type <= 0xBF
