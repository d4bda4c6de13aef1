"""Host session against the simulated controller core, both sans-IO, on a simulated clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drivers.gatectl import protocol as p
from drivers.gatectl.session import (
    CommandRejected,
    ControllerRebooted,
    ControllerTimeout,
    EventReceived,
    HostSession,
    Output,
    Reply,
    RequestFailed,
)
from simulator.gatectl.device import ControllerDevice, DeviceConfig


class Wire:
    """Connects a HostSession and a ControllerDevice with a filter on each direction."""

    def __init__(self, config: DeviceConfig | None = None) -> None:
        self.now = 0.0
        self.host = HostSession(response_timeout=0.1, retries=3, heartbeat_interval=0.5)
        self.dev = ControllerDevice(config or DeviceConfig(time_scale=4.0), now=0.0, seed=1)
        self.to_dev: Callable[[bytes], bytes] = lambda b: b
        self.to_host: Callable[[bytes], bytes] = lambda b: b
        self.outputs: list[Output] = []

    def run(self, seconds: float, step: float = 0.005) -> list[Output]:
        end = self.now + seconds
        while self.now < end:
            self.now += step
            self.host.poll(self.now)
            self.dev.receive(self.to_dev(self.host.data_to_send()), self.now)
            self.dev.tick(self.now)
            for frame in self.dev.frames_to_send():
                self.host.receive(self.to_host(frame), self.now)
            self.dev.receive(self.to_dev(self.host.data_to_send()), self.now)
            self.outputs += self.host.outputs()
        return self.outputs

    def call(self, cmd: p.Message, seconds: float = 1.0) -> Reply | RequestFailed:
        rid = self.host.submit(cmd, self.now)
        self.run(seconds)
        for out in self.outputs:
            if isinstance(out, Reply | RequestFailed) and out.request_id == rid:
                return out
        raise AssertionError(f"no reply to {cmd}")

    def events(self) -> list[p.Event]:
        return [o.event for o in self.outputs if isinstance(o, EventReceived)]


def armed() -> Wire:
    w = Wire()
    w.run(0.05)
    assert isinstance(w.call(p.SetMode(p.Mode.NORMAL)), Reply)
    return w


def test_boot_events_and_status() -> None:
    w = Wire()
    reply = w.call(p.GetStatus())
    assert isinstance(reply, Reply) and reply.status is not None
    assert reply.status.mode == p.Mode.SAFE and reply.status.boot_id == w.dev.boot_id
    kinds = [type(e) for e in w.events()]
    assert kinds[:2] == [p.ControllerReset, p.ModeChanged]


def test_lost_ack_is_retransmitted_with_same_seq_and_executed_once() -> None:
    w = armed()
    dropped: list[bytes] = []

    def drop_first_ack(data: bytes) -> bytes:
        if data and data[3] == p.MsgType.ACK and not dropped:
            dropped.append(data)
            return b""
        return data

    w.to_host = drop_first_ack
    before = len(w.dev.executed)
    reply = w.call(p.DoorCommand(p.Door.EXIT, p.DoorAction.OPEN))
    assert isinstance(reply, Reply) and dropped
    opens = [c for c in w.dev.executed[before:] if isinstance(c, p.DoorCommand)]
    assert opens == [p.DoorCommand(p.Door.EXIT, p.DoorAction.OPEN)]
    assert w.dev.stats.duplicates_replayed == 1 and w.host.stats.retransmissions == 1


def test_same_seq_after_the_duplicate_window_is_a_new_command() -> None:
    w = armed()
    wire = p.encode_frame(
        99, p.MsgType.DOOR, p.DoorCommand(p.Door.EXIT, p.DoorAction.OPEN).encode()
    )
    w.dev.receive(wire, w.now)
    w.dev.receive(wire, w.now + 0.1)  # retransmission: replayed
    w.dev.receive(wire, w.now + 5.0)  # far outside the window: executed again
    opens = [c for c in w.dev.executed if isinstance(c, p.DoorCommand)]
    assert len(opens) == 2 and w.dev.stats.duplicates_replayed == 1


def test_duplicated_event_frames_are_delivered_once_and_acked_each_time() -> None:
    w = armed()
    acks: list[int] = []

    def dup(data: bytes) -> bytes:
        return data + data if data and p.is_event_type(data[3]) else data

    def count_acks(data: bytes) -> bytes:
        for f in p.FrameDecoder().feed(data, 0):
            if f.type == p.MsgType.ACK:
                acks.append(f.seq)
        return data

    w.to_host, w.to_dev = dup, count_acks
    w.dev.set_tamper(True, w.now)
    w.run(0.3)
    tampers = [
        o for o in w.outputs if isinstance(o, EventReceived) and isinstance(o.event, p.Tamper)
    ]
    assert [o.event.active for o in tampers] == [True]
    tamper_seq = [o.seq for o in tampers]
    assert len(tamper_seq) == 1 and acks.count(tamper_seq[0]) == 2
    assert w.host.stats.duplicate_events >= 1


def test_lost_event_is_retransmitted_until_acked() -> None:
    w = armed()
    lost = []

    def drop_event_once(data: bytes) -> bytes:
        if data and data[3] == p.MsgType.EV_EMERGENCY and not lost:
            lost.append(data)
            return b""
        return data

    w.to_host = drop_event_once
    w.dev.set_fire_alarm(True, w.now)
    w.run(0.5)
    assert lost and [e.active for e in w.events() if isinstance(e, p.Emergency)] == [True]
    assert w.dev.stats.event_retransmissions >= 1


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (p.Frame(5, 0x7E, b""), p.NakReason.UNKNOWN_COMMAND),
        (p.Frame(5, p.MsgType.DOOR, b"\x01"), p.NakReason.BAD_LENGTH),
        (p.Frame(5, p.MsgType.DOOR, b"\x07\x01"), p.NakReason.BAD_PARAMETER),
        (p.Frame(5, p.MsgType.SET_MODE, bytes([p.Mode.SAFE])), p.NakReason.BAD_PARAMETER),
        (p.Frame(5, p.MsgType.CONFIGURE, p.Configure(10).encode()), p.NakReason.BAD_PARAMETER),
        (
            p.Frame(5, p.MsgType.CONFIGURE, p.Configure(3000, passage_timeout_ms=0).encode()),
            p.NakReason.BAD_PARAMETER,
        ),
    ],
)
def test_malformed_commands_are_naked_with_a_reason(frame: p.Frame, reason: p.NakReason) -> None:
    dev = ControllerDevice(now=0.0)
    dev.receive(frame.encode(), 0.0)
    replies = [
        f
        for b in dev.frames_to_send()
        for f in p.FrameDecoder().feed(b, 0)
        if f.type == p.MsgType.NAK
    ]
    assert replies == [p.Frame(5, p.MsgType.NAK, bytes([reason]))]


def test_nak_becomes_command_rejected() -> None:
    w = Wire()  # still in SAFE after power-on: door commands are not allowed
    reply = w.call(p.DoorCommand(p.Door.ENTRY, p.DoorAction.OPEN))
    assert isinstance(reply, RequestFailed) and isinstance(reply.error, CommandRejected)
    assert reply.error.reason == p.NakReason.NOT_ALLOWED and "NOT_ALLOWED" in str(reply.error)


def test_silent_controller_times_out_after_retries() -> None:
    w = Wire()
    w.to_dev = lambda b: b""
    reply = w.call(p.GetStatus(), seconds=0.45)  # 4 attempts, 100 ms apart
    assert isinstance(reply, RequestFailed) and isinstance(reply.error, ControllerTimeout)
    assert "4 attempts" in str(reply.error) and w.host.stats.retransmissions == 3


def test_reboot_is_detected_from_the_heartbeat_even_without_the_reset_event() -> None:
    w = armed()
    old = w.dev.boot_id
    w.dev.power_cycle(w.now)
    w.dev._events.clear()  # the reset event is lost; the heartbeat's boot id still tells
    w.dev._outstanding = None
    w.run(1.0)
    reboots = [o for o in w.outputs if isinstance(o, ControllerRebooted)]
    assert reboots and reboots[0].previous == old and reboots[0].boot_id == w.dev.boot_id


def test_heartbeats_keep_the_controller_out_of_safe_state_and_silence_trips_it() -> None:
    w = armed()
    w.run(4.0)  # heartbeat timeout is 3 s; the session heartbeats every 0.5 s
    assert w.dev.mode == p.Mode.NORMAL
    w.to_dev = lambda b: b""
    w.run(3.5)
    assert w.dev.mode == p.Mode.SAFE and w.dev.stats.safe_state_entries == 1
    assert all(d.target == 0.0 and d.lock_when_closed for d in w.dev.lane.doors)


def test_safe_state_open_by_configuration() -> None:
    w = armed()
    w.call(p.Configure(500, p.SafeState.OPEN, 5000, 100))
    w.to_dev = lambda b: b""
    w.run(1.0)
    assert w.dev.mode == p.Mode.SAFE and all(d.target == 1.0 for d in w.dev.lane.doors)


def test_withdrawn_command_is_never_sent() -> None:
    w = armed()
    w.to_dev = lambda b: b""  # the heartbeat in flight is not acknowledged for a while
    w.host.submit(p.Heartbeat(), w.now)
    door = w.host.submit(p.DoorCommand(p.Door.ENTRY, p.DoorAction.OPEN), w.now)
    assert w.host.withdraw(door)
    assert not w.host.withdraw(door)  # already gone
    w.to_dev = lambda b: b
    w.run(1.0)
    assert w.dev.lane.entry.opening == 0.0 and w.dev.lane.entry.target == 0.0
    assert not any(getattr(o, "request_id", None) == door for o in w.outputs)
    # a command on the wire cannot be withdrawn
    inflight = w.host.submit(p.GetStatus(), w.now)
    assert not w.host.withdraw(inflight)


def test_out_of_range_command_fails_at_submit_and_the_session_goes_on() -> None:
    w = armed()
    w.host.submit(p.Heartbeat(), w.now)  # something in flight: the next one is queued
    with pytest.raises(p.ProtocolError, match=r"ReleasePassage.*wire format"):
        w.host.submit(p.ReleasePassage(p.Door.ENTRY, p.Direction.IN, 100_000), w.now)
    with pytest.raises(p.ProtocolError, match="Configure"):
        p.Configure(passage_timeout_ms=-1).encode()
    reply = w.call(p.GetStatus())
    assert isinstance(reply, Reply) and reply.status is not None


@pytest.mark.parametrize("fire_alarm", [True, False])
def test_host_silence_during_emergency_open_keeps_the_doors_open(fire_alarm: bool) -> None:
    w = armed()
    if fire_alarm:
        w.dev.set_fire_alarm(True, w.now)
    else:
        assert isinstance(w.call(p.SetMode(p.Mode.EMERGENCY_OPEN)), Reply)
    w.run(0.5)
    assert w.dev.mode == p.Mode.EMERGENCY_OPEN
    w.to_dev = lambda b: b""  # the host dies (safe_state is CLOSED)
    w.run(3.5)
    assert w.dev.mode == p.Mode.EMERGENCY_OPEN and w.dev.stats.safe_state_entries == 0
    assert all(d.target == 1.0 for d in w.dev.lane.doors)


def test_door_open_with_the_reserved_sequence_number_0_is_refused_not_executed() -> None:
    w = armed()  # NORMAL: a DOOR OPEN with a valid SEQ would be executed
    executed = len(w.dev.executed)
    w.dev.receive(p.encode_frame(0, p.MsgType.DOOR, bytes([p.Door.EXIT, p.DoorAction.OPEN])), 1)
    replies = [f for b in w.dev.frames_to_send() for f in p.FrameDecoder().feed(b, 0)]
    assert p.Frame(0, p.MsgType.NAK, bytes([p.NakReason.BAD_PARAMETER])) in replies
    assert len(w.dev.executed) == executed


def test_event_with_the_reserved_sequence_number_0_is_acked_but_not_delivered() -> None:
    host = HostSession(response_timeout=0.1, retries=3, heartbeat_interval=0.5)
    host.receive(p.encode_frame(0, p.MsgType.EV_BEAM, p.BeamChanged(1500, 2, True).encode()), 0.0)
    assert not any(isinstance(o, EventReceived) for o in host.outputs())
    assert p.encode_frame(0, p.MsgType.ACK) in host.data_to_send()


@pytest.mark.parametrize(("payload", "text"), [(b"\x09", "unknown reason 9"), (b"", "malformed")])
def test_unknown_nak_reason_is_reported_as_unknown(payload: bytes, text: str) -> None:
    host = HostSession(response_timeout=0.1, retries=3, heartbeat_interval=0.5)
    host.submit(p.GetStatus(), 0.0)
    host.poll(0.0)
    sent = p.FrameDecoder().feed(host.data_to_send(), 0)
    host.receive(p.encode_frame(sent[-1].seq, p.MsgType.NAK, payload), 0.01)
    failed = [o for o in host.outputs() if isinstance(o, RequestFailed)]
    assert len(failed) == 1 and isinstance(failed[0].error, CommandRejected)
    assert text in str(failed[0].error) and "BAD_PARAMETER" not in str(failed[0].error)
