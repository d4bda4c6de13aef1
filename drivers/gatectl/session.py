"""Host side of the gate controller protocol as a sans-IO state machine.

:class:`HostSession` turns commands into frames, frames into replies and events, and keeps
the rules of docs/gate-protocol.md section 5: one command in flight (stop-and-wait), the same
sequence number on every retransmission, an ACK for every event frame (duplicates included),
events delivered once, heartbeats while idle, controller reboots detected from the boot id.
Time is always passed in; the I/O shell (``driver.py``) writes :meth:`data_to_send` to the
port and feeds received bytes to :meth:`receive`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from drivers.gatectl import auth
from drivers.gatectl import protocol as p


class ControllerTimeout(p.GateControllerError):
    """The controller did not acknowledge a command after every retransmission."""

    reason_code = "GATECTL_NO_ANSWER"


class CommandRejected(p.GateControllerError):
    """The controller answered NAK."""

    def __init__(self, message: str, reason: p.NakReason | int):
        super().__init__(message)
        self.reason = reason
        """The NAK reason; a plain int when the controller sent a reason this version does
        not know (reported as unknown, never mistaken for a known one)."""


class ControllerDisconnected(p.GateControllerError):
    """The serial link is down (port closed, device unplugged)."""

    reason_code = "GATECTL_NO_ANSWER"


def nak_reason(payload: bytes) -> tuple[p.NakReason | int, str]:
    """The reason of a NAK payload and its name; an undefined value stays a number and reads
    "unknown reason N", a malformed payload "malformed NAK payload (hex)"."""
    if len(payload) != 1:
        return -1, f"malformed NAK payload ({payload.hex() or 'empty'})"
    try:
        reason = p.NakReason(payload[0])
    except ValueError:
        return payload[0], f"unknown reason {payload[0]}"
    return reason, reason.name


@dataclass(frozen=True)
class Reply:
    request_id: int  # 0 for the session's own heartbeats
    command: p.Message
    status: p.Status | None


@dataclass(frozen=True)
class RequestFailed:
    request_id: int
    command: p.Message
    error: p.GateControllerError


@dataclass(frozen=True)
class EventReceived:
    seq: int
    event: p.Event


@dataclass(frozen=True)
class ControllerRebooted:
    boot_id: int
    previous: int | None


@dataclass(frozen=True)
class LinkWarning:
    message: str


Output = Reply | RequestFailed | EventReceived | ControllerRebooted | LinkWarning


@dataclass
class _InFlight:
    request_id: int
    command: p.Message
    seq: int
    wire: bytes
    deadline: float
    attempts: int


@dataclass
class SessionStats:
    commands: int = 0
    retransmissions: int = 0
    timeouts: int = 0
    naks: int = 0
    events: int = 0
    duplicate_events: int = 0
    stray_replies: int = 0
    auth_failures: int = 0


class HostSession:
    def __init__(
        self,
        *,
        response_timeout: float = 0.1,
        retries: int = 3,
        heartbeat_interval: float = 1.0,
        initial_seq: int = 1,
        interbyte_timeout: float = p.INTERBYTE_TIMEOUT,
        known_boot_id: int | None = None,
        auth_key: bytes | None = None,
    ):
        """``auth_key``: the gate's 32-byte key when the link is authenticated
        (docs/gate-protocol.md §13): every session starts with AUTH_HELLO, every frame is
        sealed, unauthenticated frames from the line are dropped."""
        if not 1 <= initial_seq <= 255:
            raise ValueError("initial_seq must be 1..255")
        self.response_timeout = response_timeout
        self.retries = retries
        self.heartbeat_interval = heartbeat_interval
        self.decoder = p.FrameDecoder(interbyte_timeout)
        self.stats = SessionStats()
        # boot id seen over a previous connection: a different one now means a reboot
        self.boot_id: int | None = known_boot_id
        self.last_status: p.Status | None = None
        self._seq = initial_seq - 1 if initial_seq > 1 else 255
        self._next_id = 1
        self._queue: deque[tuple[int, p.Message]] = deque()
        self._inflight: _InFlight | None = None
        self._out = bytearray()
        self._outputs: list[Output] = []
        self._recent_events: deque[int] = deque(maxlen=16)
        self._resets_seen: set[int] = set()
        self._last_tx: float | None = None
        self._auth_key = None if auth_key is None else auth.check_key(auth_key)
        self._link: auth.SealedLink | None = None

    # ----------------------------------------------------------------- API

    def submit(self, command: p.Message, now: float) -> int:
        """Queue a command; returns the request id later found in its Reply/RequestFailed."""
        if command.TYPE not in p.COMMANDS:
            raise p.ProtocolError(f"{type(command).__name__} is not a host command")
        command.encode()  # out-of-range fields fail here, in the caller, not later in _pump
        request_id = self._next_id
        self._next_id += 1
        self._queue.append((request_id, command))
        self._pump(now)
        return request_id

    def withdraw(self, request_id: int) -> bool:
        """Drop a queued command whose caller gave up (timeout, cancellation) so that it is
        never sent later. Returns False when it is already on the wire (in flight) or done:
        then it may still be executed."""
        for item in self._queue:
            if item[0] == request_id:
                self._queue.remove(item)
                return True
        return False

    def receive(self, data: bytes, now: float) -> None:
        for frame in self.decoder.feed(data, now):
            self._on_frame(frame, now)
        self._pump(now)

    def poll(self, now: float) -> None:
        for frame in self.decoder.poll(now):
            self._on_frame(frame, now)
        flight = self._inflight
        if flight is not None and now >= flight.deadline:
            if flight.attempts <= self.retries:
                flight.attempts += 1
                flight.deadline = now + self.response_timeout
                self.stats.retransmissions += 1
                self._send(flight.wire, now)
            else:
                self.stats.timeouts += 1
                self._inflight = None
                self._link = None  # the controller may have rebooted: authenticate again
                name = type(flight.command).__name__
                self._outputs.append(
                    RequestFailed(
                        flight.request_id,
                        flight.command,
                        ControllerTimeout(
                            f"gate controller did not acknowledge {name} (seq {flight.seq}) "
                            f"after {flight.attempts} attempts of "
                            f"{self.response_timeout * 1000:.0f} ms: check the cable, the port "
                            "and that the controller is powered"
                        ),
                    )
                )
        if (
            self._inflight is None
            and not self._queue
            # the very expression deadline() returns: polled at that deadline, it is due (with
            # `now - last >= interval` float rounding could leave it pending at its deadline)
            and (self._last_tx is None or now >= self._last_tx + self.heartbeat_interval)
        ):
            self._queue.append((0, p.Heartbeat()))
        self._pump(now)

    def deadline(self) -> float | None:
        """The next time :meth:`poll` has work to do (None: only when data arrives)."""
        times = []
        decoder = self.decoder.deadline()
        if decoder is not None:
            times.append(decoder)
        if self._inflight is not None:
            times.append(self._inflight.deadline)
        elif self._last_tx is not None:
            times.append(self._last_tx + self.heartbeat_interval)
        return min(times) if times else None

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def outputs(self) -> list[Output]:
        out, self._outputs = self._outputs, []
        return out

    def link_lost(self, error: p.GateControllerError) -> None:
        """The port went away: fail everything pending, forget partial input."""
        pending = list(self._queue)
        self._queue.clear()
        if self._inflight is not None:
            pending.insert(0, (self._inflight.request_id, self._inflight.command))
            self._inflight = None
        for request_id, command in pending:
            self._outputs.append(RequestFailed(request_id, command, error))
        self.decoder.reset()
        self._out.clear()
        self._last_tx = None
        self._link = None

    @property
    def busy(self) -> bool:
        return self._inflight is not None or bool(self._queue)

    # ----------------------------------------------------------------- internals

    def _send(self, data: bytes, now: float) -> None:
        self._out += data
        self._last_tx = now

    def _encode(self, seq: int, msg_type: int, body: bytes = b"") -> bytes:
        if self._link is not None:
            return self._link.seal(seq, msg_type, body)
        return p.encode_frame(seq, msg_type, body)

    def _pump(self, now: float) -> None:
        if self._inflight is not None or not self._queue:
            return
        if (
            self._auth_key is not None
            and self._link is None
            and not isinstance(self._queue[0][1], auth.AuthHello)
        ):
            self._queue.appendleft((0, auth.AuthHello(auth.hello(self._auth_key))))
        request_id, command = self._queue.popleft()
        self._seq = p.next_seq(self._seq)
        if isinstance(command, auth.AuthHello):
            self._link = None
            wire = p.encode_frame(self._seq, command.TYPE, command.encode())
        else:
            wire = self._encode(self._seq, command.TYPE, command.encode())
        self._inflight = _InFlight(
            request_id, command, self._seq, wire, now + self.response_timeout, 1
        )
        self.stats.commands += 1
        self._send(wire, now)

    def _on_frame(self, frame: p.Frame, now: float) -> None:
        if self._auth_key is not None:
            flight = self._inflight
            hello = flight is not None and isinstance(flight.command, auth.AuthHello)
            if hello and frame.type in (p.MsgType.ACK, p.MsgType.NAK):
                pass  # the handshake's reply travels unsealed
            elif self._link is None:
                self.stats.auth_failures += 1
                return
            else:
                try:
                    frame = self._link.open(frame)
                except auth.AuthError as exc:
                    self.stats.auth_failures += 1
                    self._outputs.append(LinkWarning(f"dropped an unauthenticated frame: {exc}"))
                    return
        if frame.type in (p.MsgType.ACK, p.MsgType.NAK):
            self._on_reply(frame)
        elif p.is_event_type(frame.type):
            self._on_event(frame, now)
        else:
            self._outputs.append(
                LinkWarning(f"ignored frame type 0x{frame.type:02X} from the controller")
            )

    def _on_reply(self, frame: p.Frame) -> None:
        flight = self._inflight
        if flight is None or frame.seq != flight.seq:
            self.stats.stray_replies += 1  # late ACK of a retransmitted command: harmless
            return
        self._inflight = None
        name = type(flight.command).__name__
        if isinstance(flight.command, auth.AuthHello):
            self._on_hello_reply(flight, frame)
            return
        if frame.type == p.MsgType.NAK:
            self.stats.naks += 1
            reason, reason_text = nak_reason(frame.payload)
            self._outputs.append(
                RequestFailed(
                    flight.request_id,
                    flight.command,
                    CommandRejected(
                        f"gate controller refused {name} {flight.command}: {reason_text} "
                        "(see docs/gate-protocol.md, NAK reasons)",
                        reason,
                    ),
                )
            )
            return
        status: p.Status | None = None
        if flight.command.TYPE in p.STATUS_COMMANDS:
            try:
                decoded = p.Status.decode(frame.payload)
            except p.ProtocolError as exc:
                self._outputs.append(
                    RequestFailed(
                        flight.request_id,
                        flight.command,
                        p.ProtocolError(f"malformed status in the ACK of {name}: {exc}"),
                    )
                )
                return
            assert isinstance(decoded, p.Status)
            status = decoded
            self.last_status = status
            self._note_boot(status.boot_id)
        self._outputs.append(Reply(flight.request_id, flight.command, status))

    def _on_hello_reply(self, flight: _InFlight, frame: p.Frame) -> None:
        assert self._auth_key is not None
        error: p.GateControllerError
        if frame.type == p.MsgType.NAK:
            _, reason_text = nak_reason(frame.payload)
            error = CommandRejected(
                f"gate controller refused AUTH_HELLO: {reason_text}; it does not support frame "
                "authentication (docs/gate-protocol.md §13) or has another key",
                nak_reason(frame.payload)[0],
            )
        else:
            try:
                key = auth.accept_reply(self._auth_key, flight.command.encode(), frame.payload)
            except auth.AuthError as exc:
                error = exc
            else:
                self._link = auth.SealedLink(key, "host")
                self._outputs.append(Reply(flight.request_id, flight.command, None))
                return
        # without a session nothing can be sent: fail what waits, the next heartbeat retries
        self._outputs.append(RequestFailed(flight.request_id, flight.command, error))
        for request_id, command in self._queue:
            self._outputs.append(RequestFailed(request_id, command, error))
        self._queue.clear()

    def _note_boot(self, boot_id: int) -> None:
        if boot_id != self.boot_id:
            previous = self.boot_id
            self.boot_id = boot_id
            self._recent_events.clear()
            if previous is not None:
                self._outputs.append(ControllerRebooted(boot_id, previous))

    def _on_event(self, frame: p.Frame, now: float) -> None:
        # Every event frame is acknowledged, duplicates too: the controller retransmits until
        # it sees the ACK.
        self._out += self._encode(frame.seq, p.MsgType.ACK)
        if frame.seq == 0:
            # SEQ 0 is reserved (docs/gate-protocol.md §4): not an event of a conforming
            # controller, so it is acknowledged (to stop retransmission) but never delivered.
            self._outputs.append(LinkWarning("ignored event with the reserved sequence number 0"))
            return
        try:
            event = p.decode_event(frame)
        except p.ProtocolError as exc:
            self._outputs.append(LinkWarning(f"undecodable event (seq {frame.seq}): {exc}"))
            return
        if isinstance(event, p.ControllerReset):
            if event.boot_id in self._resets_seen:
                self.stats.duplicate_events += 1
                return
            self._resets_seen.add(event.boot_id)
            self._note_boot(event.boot_id)
            self._recent_events.clear()
            self._recent_events.append(frame.seq)
            self.stats.events += 1
            self._outputs.append(EventReceived(frame.seq, event))
            return
        if frame.seq in self._recent_events:
            self.stats.duplicate_events += 1
            return
        self._recent_events.append(frame.seq)
        self.stats.events += 1
        self._outputs.append(EventReceived(frame.seq, event))
