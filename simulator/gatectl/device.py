"""Simulated gate controller: the device side of docs/gate-protocol.md (sans-IO).

:class:`ControllerDevice` takes received bytes and the time, runs the physical lane model
(:mod:`simulator.gatectl.model`) and returns frames to transmit. The I/O shell
(:mod:`simulator.gatectl.server`) puts it on a pseudo-terminal or a TCP socket and injects
transport faults; faults that belong to the device (power cycle, fire alarm, tamper, forced
door, dropped received frames) are methods here.
"""

from __future__ import annotations

import random
import struct
from collections import deque
from dataclasses import dataclass, field

from drivers.gatectl import auth
from drivers.gatectl import protocol as p
from simulator.gatectl.model import DoorModel, LaneGeometry, LaneModel, LaneWorld

FIRMWARE = 0x0100
EVENT_QUEUE_LIMIT = 256


@dataclass(frozen=True)
class DeviceConfig:
    geometry: LaneGeometry = field(default_factory=LaneGeometry)
    heartbeat_timeout_ms: int = 3000
    safe_state: p.SafeState = p.SafeState.CLOSED
    passage_timeout_ms: int = 10000
    event_retry_ms: int = 100
    time_scale: float = 1.0  # physics runs this many times faster than the wall clock
    duplicate_window_s: float = 2.0
    approach_reach_m: float = 0.6  # passage completes when nobody is this close to the door
    auth_key: bytes | None = None
    """The gate key of the optional frame authentication (docs/gate-protocol.md §13): with it
    the controller executes only sealed commands of a session opened by AUTH_HELLO."""


@dataclass
class _Passage:
    door: DoorModel
    door_id: p.Door
    direction: p.Direction
    deadline: float
    net: int = 0
    touched: bool = False


@dataclass
class _LastCommand:
    seq: int
    type: int
    payload: bytes
    response: bytes
    at: float


@dataclass
class DeviceStats:
    commands: int = 0
    duplicates_replayed: int = 0
    naks: int = 0
    events_sent: int = 0
    event_retransmissions: int = 0
    dropped_inbound: int = 0
    auth_failures: int = 0
    safe_state_entries: int = 0


class ControllerDevice(LaneWorld):
    def __init__(self, config: DeviceConfig | None = None, *, now: float, seed: int = 0):
        self.config = config or DeviceConfig()
        self._rng = random.Random(seed)
        self.stats = DeviceStats()
        self.drop_inbound = 0  # fault: swallow the next N well-formed received frames
        self.executed: list[p.Message] = []  # every command executed (not replays), for tests
        self._boot(now, p.ResetReason.POWER_ON)

    # ----------------------------------------------------------------- lifecycle

    def _boot(self, now: float, reason: p.ResetReason) -> None:
        cfg = self.config
        self.boot_id = self._rng.randrange(1, 0x10000)
        self.boot_time = now
        self.decoder = p.FrameDecoder()
        self.lane = LaneModel(cfg.geometry)
        self.heartbeat_timeout = cfg.heartbeat_timeout_ms / 1000
        self.safe_state = cfg.safe_state
        self.passage_timeout = cfg.passage_timeout_ms / 1000
        self.event_retry = cfg.event_retry_ms / 1000
        self.mode = p.Mode.SAFE
        self.fire_alarm = False
        self.tamper = False
        self.faults: set[p.FaultCode] = set()
        self.indicators = p.SetIndicators()
        self.passage: _Passage | None = None
        self._events: deque[tuple[int, p.Event]] = deque()
        self._event_seq = 0
        self._link: auth.SealedLink | None = None
        self._outstanding: tuple[int, bytes] | None = None
        self._outstanding_event: p.Event | None = None
        self._outstanding_at = 0.0
        self._frames: list[bytes] = []
        self._last_cmd: _LastCommand | None = None
        self._last_host_rx: float | None = None
        self._last_step = now
        self._beams = self.lane.beam_states()
        self._door_states = [d.state_for_report for d in self.lane.doors]
        self._emit(
            p.ControllerReset(self._ms(now), self.boot_id, reason, FIRMWARE, self.beam_count)
        )
        self._emit(p.ModeChanged(self._ms(now), p.Mode.SAFE, p.ModeReason.POWER_ON))
        self._apply_safe_doors()

    def power_cycle(self, now: float) -> None:
        """Fault: the controller loses power and boots again (people stay where they are)."""
        people = self.lane.people
        self._boot(now, p.ResetReason.POWER_ON)
        self.lane.people = people

    # ----------------------------------------------------------------- I/O API

    def receive(self, data: bytes, now: float) -> None:
        self._advance(now)  # a command acts from now on, not from the last physics step
        for frame in self.decoder.feed(data, now):
            self._on_frame(frame, now)

    def tick(self, now: float) -> None:
        for frame in self.decoder.poll(now):
            self._on_frame(frame, now)
        self._advance(now)
        self._watchdog(now)
        self._send_events(now)

    def _advance(self, now: float) -> None:
        dt = max(0.0, now - self._last_step) * self.config.time_scale
        self._last_step = now
        if dt > 0:
            self._physics(dt, now)

    def reset_input(self) -> None:
        """The line was interrupted: forget any partial frame."""
        self.decoder.reset()

    def frames_to_send(self) -> list[bytes]:
        frames, self._frames = self._frames, []
        return frames

    def next_deadline(self, now: float) -> float:
        """When :meth:`tick` has work (the shell may call it more often)."""
        active = self.lane.people or any(
            d.opening != d.target or d.reversed_for_obstruction for d in self.lane.doors
        )
        candidates = [now + (0.01 if active else 0.05)]
        if self._outstanding is not None:
            candidates.append(self._outstanding_at + self.event_retry)
        elif self._events:
            candidates.append(now)
        decoder = self.decoder.deadline()
        if decoder is not None:
            candidates.append(decoder)
        return min(candidates)

    # ----------------------------------------------------------------- external inputs

    def set_fire_alarm(self, active: bool, now: float) -> None:
        if active == self.fire_alarm:
            return
        self.fire_alarm = active
        self._emit(p.Emergency(self._ms(now), active))
        if active:
            self._set_mode(p.Mode.EMERGENCY_OPEN, p.ModeReason.FIRE_ALARM, now)

    def set_tamper(self, active: bool, now: float) -> None:
        if active != self.tamper:
            self.tamper = active
            self._emit(p.Tamper(self._ms(now), active))

    def set_fault(self, code: p.FaultCode, active: bool, now: float) -> None:
        if active != (code in self.faults):
            (self.faults.add if active else self.faults.discard)(code)
            self._emit(p.Fault(self._ms(now), code, active))

    def force_door(self, door: p.Door, now: float) -> None:
        """Fault: someone pushes a closed (or locked) door open."""
        model = self._door(door)
        if model.opening < 1.0 and model.target < 1.0:
            model.opening = 1.0
            self._emit(p.ForcedDoor(self._ms(now), door))
            self._check_changes(now)

    # ----------------------------------------------------------------- status

    @property
    def beam_count(self) -> int:
        return len(self.config.geometry.beams)

    def status(self, now: float) -> p.Status:
        beams = sum(1 << i for i, b in enumerate(self._beams) if b)
        flags = (
            (p.StatusFlag.FIRE_ALARM if self.fire_alarm else 0)
            | (p.StatusFlag.TAMPER if self.tamper else 0)
            | (p.StatusFlag.PASSAGE_ACTIVE if self.passage else 0)
            | (p.StatusFlag.FAULT if self.faults else 0)
        )
        return p.Status(
            self.boot_id,
            self._ms(now),
            self.mode,
            self._door_states[0],
            self._door_states[1],
            self.beam_count,
            beams,
            flags,
        )

    # ----------------------------------------------------------------- internals

    def _ms(self, now: float) -> int:
        return int((now - self.boot_time) * 1000) & 0xFFFFFFFF

    def _door(self, door: p.Door) -> DoorModel:
        return self.lane.entry if door == p.Door.ENTRY else self.lane.exit

    def _emit(self, event: p.Event) -> None:
        if len(self._events) >= EVENT_QUEUE_LIMIT:
            self._events.popleft()
            self.faults.add(p.FaultCode.EVENT_OVERFLOW)
        self._event_seq = p.next_seq(self._event_seq)
        self._events.append((self._event_seq, event))

    def _encode(self, seq: int, msg_type: int, body: bytes = b"") -> bytes:
        if self._link is not None:
            return self._link.seal(seq, msg_type, body)
        return p.encode_frame(seq, msg_type, body)

    def _send_events(self, now: float) -> None:
        if self.config.auth_key is not None and self._link is None:
            return  # nothing can be sealed before the host opened a session
        if self._outstanding is None and self._events:
            seq, event = self._events.popleft()
            # sealed once: retransmissions repeat the same bytes (same counter)
            self._outstanding = (seq, self._encode(seq, event.TYPE, event.encode()))
            self._outstanding_event = event
            self._outstanding_at = now
            self._frames.append(self._outstanding[1])
            self.stats.events_sent += 1
        elif self._outstanding is not None and now - self._outstanding_at >= self.event_retry:
            self._outstanding_at = now
            self._frames.append(self._outstanding[1])
            self.stats.event_retransmissions += 1

    def _on_frame(self, frame: p.Frame, now: float) -> None:
        if self.drop_inbound > 0:
            self.drop_inbound -= 1
            self.stats.dropped_inbound += 1
            return
        if self.config.auth_key is not None:
            opened = self._authenticate(frame, now)
            if opened is None:
                return
            frame = opened
        self._last_host_rx = now
        if frame.type == p.MsgType.ACK:
            if self._outstanding is not None and frame.seq == self._outstanding[0]:
                self._outstanding = None
                self._send_events(now)
            return
        if frame.type == p.MsgType.NAK:
            return
        if frame.seq == 0:
            # SEQ 0 is reserved (docs/gate-protocol.md §4): never executed, whatever it asks.
            self._frames.append(self._nak(0, p.NakReason.BAD_PARAMETER))
            return
        last = self._last_cmd
        if (
            last is not None
            and last.seq == frame.seq
            and last.type == frame.type
            and last.payload == frame.payload
            and now - last.at <= self.config.duplicate_window_s
        ):
            # Retransmission of the command just executed: answer again, do not execute again.
            self.stats.duplicates_replayed += 1
            last.at = now
            self._frames.append(last.response)
            return
        response = self._execute(frame, now)
        self._last_cmd = _LastCommand(frame.seq, frame.type, frame.payload, response, now)
        self._frames.append(response)

    def _authenticate(self, frame: p.Frame, now: float) -> p.Frame | None:
        """The opened frame, or None when it is not authentic (dropped: it neither executes
        nor feeds the heartbeat watchdog). AUTH_HELLO opens a new session."""
        assert self.config.auth_key is not None
        if frame.type == p.MsgType.AUTH_HELLO:
            last = self._last_cmd
            if (
                last is not None
                and (last.seq, last.type, last.payload) == (frame.seq, frame.type, frame.payload)
                and now - last.at <= self.config.duplicate_window_s
            ):
                self._frames.append(last.response)  # retransmitted hello: same session
                return None
            try:
                reply, key = auth.answer_hello(self.config.auth_key, frame.payload)
            except auth.AuthError:
                self.stats.auth_failures += 1
                return None
            self._link = auth.SealedLink(key, "controller")
            self._last_host_rx = now
            response = p.encode_frame(frame.seq, p.MsgType.ACK, reply)
            self._last_cmd = _LastCommand(frame.seq, frame.type, frame.payload, response, now)
            self._frames.append(response)
            if self._outstanding is not None and self._outstanding_event is not None:
                seq, event = self._outstanding[0], self._outstanding_event
                self._outstanding = (seq, self._encode(seq, event.TYPE, event.encode()))
            return None
        if self._link is None:
            self.stats.auth_failures += 1
            return None
        try:
            return self._link.open(frame)
        except auth.AuthError:
            self.stats.auth_failures += 1
            return None

    def _nak(self, seq: int, reason: p.NakReason) -> bytes:
        self.stats.naks += 1
        return self._encode(seq, p.MsgType.NAK, p.Nak(reason).encode())

    def _execute(self, frame: p.Frame, now: float) -> bytes:
        cls = p.COMMANDS.get(frame.type)
        if cls is None:
            return self._nak(frame.seq, p.NakReason.UNKNOWN_COMMAND)
        if len(frame.payload) != struct.calcsize(cls.FORMAT):
            return self._nak(frame.seq, p.NakReason.BAD_LENGTH)
        try:
            cmd = cls.decode(frame.payload)
        except p.ProtocolError:
            return self._nak(frame.seq, p.NakReason.BAD_PARAMETER)
        self.stats.commands += 1
        reason = self._apply(cmd, now)
        if reason is not None:
            return self._nak(frame.seq, reason)
        self.executed.append(cmd)
        payload = self.status(now).encode() if cmd.TYPE in p.STATUS_COMMANDS else b""
        return self._encode(frame.seq, p.MsgType.ACK, payload)

    def _apply(self, cmd: p.Message, now: float) -> p.NakReason | None:
        if isinstance(cmd, p.Heartbeat | p.GetStatus):
            return None
        if isinstance(cmd, p.Configure):
            if (
                cmd.heartbeat_timeout_ms < 100
                or cmd.event_retry_ms < 10
                or cmd.passage_timeout_ms < 500
            ):
                return p.NakReason.BAD_PARAMETER
            self.heartbeat_timeout = cmd.heartbeat_timeout_ms / 1000
            self.safe_state = cmd.safe_state
            self.passage_timeout = cmd.passage_timeout_ms / 1000
            self.event_retry = cmd.event_retry_ms / 1000
            return None
        if isinstance(cmd, p.SetIndicators):
            self.indicators = cmd
            return None
        if isinstance(cmd, p.SetMode):
            if cmd.mode == p.Mode.SAFE:
                return p.NakReason.BAD_PARAMETER
            if self.fire_alarm and cmd.mode != p.Mode.EMERGENCY_OPEN:
                return p.NakReason.NOT_ALLOWED
            self._set_mode(cmd.mode, p.ModeReason.HOST_COMMAND, now)
            return None
        if isinstance(cmd, p.CancelPassage):
            if self.passage is not None:
                self._end_passage(now, aborted=p.AbortReason.CANCELLED)
            return None
        if self.mode in (p.Mode.EMERGENCY_OPEN, p.Mode.SAFE):
            return p.NakReason.NOT_ALLOWED
        if isinstance(cmd, p.DoorCommand):
            if self.passage is not None and self.passage.door_id == cmd.door:
                return p.NakReason.BUSY
            model = self._door(cmd.door)
            if cmd.action == p.DoorAction.OPEN:
                model.open()
            elif cmd.action == p.DoorAction.CLOSE:
                model.close(lock=False)
            elif cmd.action == p.DoorAction.LOCK:
                model.close(lock=True)
            elif model.opening <= 0.0:  # UNLOCK
                model.locked = False
                model.lock_when_closed = False
            self._check_changes(now)
            return None
        if isinstance(cmd, p.ReleasePassage):
            if self.mode != p.Mode.NORMAL:
                return p.NakReason.NOT_ALLOWED
            if self.passage is not None:
                return p.NakReason.BUSY
            timeout = cmd.timeout_ms / 1000 if cmd.timeout_ms else self.passage_timeout
            model = self._door(cmd.door)
            self.passage = _Passage(model, cmd.door, cmd.direction, now + timeout)
            model.open(1 if cmd.direction == p.Direction.IN else -1)
            self._check_changes(now)
            return None
        return p.NakReason.UNKNOWN_COMMAND  # pragma: no cover - every command is handled

    def _set_mode(self, mode: p.Mode, reason: p.ModeReason, now: float) -> None:
        if self.passage is not None and mode != p.Mode.NORMAL:
            self._end_passage(now, aborted=p.AbortReason.MODE_CHANGE)
        self.mode = mode
        self._emit(p.ModeChanged(self._ms(now), mode, reason))
        if mode == p.Mode.EMERGENCY_OPEN:
            for d in self.lane.doors:
                d.open()
        elif mode == p.Mode.SAFE:
            self._apply_safe_doors()
        else:
            for d in self.lane.doors:
                d.close(lock=True)
        self._check_changes(now)

    def _apply_safe_doors(self) -> None:
        for d in self.lane.doors:
            if self.safe_state == p.SafeState.OPEN:
                d.open()
            else:
                d.close(lock=True)

    def _watchdog(self, now: float) -> None:
        # EMERGENCY_OPEN (fire alarm or officer) is never left for SAFE: with safe_state
        # CLOSED a host crash during a fire would lock the escape route.
        if (
            self.mode not in (p.Mode.SAFE, p.Mode.EMERGENCY_OPEN)
            and self._last_host_rx is not None
            and now - self._last_host_rx > self.heartbeat_timeout
        ):
            self.stats.safe_state_entries += 1
            self._set_mode(p.Mode.SAFE, p.ModeReason.HEARTBEAT_LOST, now)

    def _physics(self, dt: float, now: float) -> None:
        # Sub-step so that a fast time scale does not let a body jump over a beam.
        steps = max(1, int(dt / 0.02) + 1)
        for _ in range(steps):
            crossings = self.lane.step(dt / steps)
            passage = self.passage
            if passage is not None:
                sign = 1 if passage.direction == p.Direction.IN else -1
                for _ident, door, way in crossings:
                    if door is passage.door:
                        passage.net += way * sign
            self._check_changes(now)
        self._check_passage(now)

    def _check_passage(self, now: float) -> None:
        passage = self.passage
        if passage is None:
            return
        sign = 1 if passage.direction == p.Direction.IN else -1
        if self.lane.in_doorway(passage.door):
            passage.touched = True
        busy = self.lane.near(passage.door, sign, self.config.approach_reach_m)
        if passage.door.kind != "doors":
            # wings close (a rotor locks) behind the first traveller once the doorway is
            # clear, without waiting for the approach area to empty (the next one waits there)
            busy = self.lane.in_doorway(passage.door)
        if passage.net > 0 and not busy:
            self._end_passage(now, persons=passage.net)
        elif passage.net <= 0 and passage.touched and not self.lane.in_doorway(passage.door):
            if not busy:
                self._end_passage(now, aborted=p.AbortReason.TURNED_BACK)
        elif now >= passage.deadline and not self.lane.in_doorway(passage.door):
            self._end_passage(now, aborted=p.AbortReason.TIMEOUT)

    def _end_passage(
        self, now: float, *, persons: int = 0, aborted: p.AbortReason | None = None
    ) -> None:
        passage = self.passage
        assert passage is not None
        self.passage = None
        ms = self._ms(now)
        if aborted is None:
            self._emit(p.PassageCompleted(ms, passage.door_id, passage.direction, persons))
        else:
            self._emit(p.PassageAborted(ms, passage.door_id, aborted))
        if aborted != p.AbortReason.MODE_CHANGE:
            passage.door.close(lock=True)

    def _check_changes(self, now: float) -> None:
        beams = self.lane.beam_states()
        for i, (old, new) in enumerate(zip(self._beams, beams, strict=True)):
            if old != new:
                self._emit(p.BeamChanged(self._ms(now), i, new))
        self._beams = beams
        for i, (door_id, model) in enumerate(zip(p.Door, self.lane.doors, strict=True)):
            state = model.state_for_report
            if state != self._door_states[i]:
                self._door_states[i] = state
                self._emit(p.DoorChanged(self._ms(now), door_id, state))
