"""Optional frame authentication of the gate link (docs/gate-protocol.md §13, issue 17 item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.gatectl import auth
from drivers.gatectl import protocol as p
from drivers.gatectl.session import CommandRejected, HostSession, Reply, RequestFailed
from simulator.gatectl.device import DeviceConfig
from tests.drivers.gatectl.test_gatectl_session import Wire

KEY = bytes(range(32))
OPEN_EXIT = bytes([p.Door.EXIT, p.DoorAction.OPEN])


def _session() -> tuple[auth.SealedLink, auth.SealedLink]:
    hello = auth.hello(KEY)
    reply, controller_key = auth.answer_hello(KEY, hello)
    host_key = auth.accept_reply(KEY, hello, reply)
    assert host_key == controller_key
    return auth.SealedLink(host_key, "host"), auth.SealedLink(controller_key, "controller")


def _frame(wire: bytes) -> p.Frame:
    (frame,) = p.FrameDecoder().feed(wire, 0)
    return frame


def test_sealed_command_opens_to_the_original_body() -> None:
    host, controller = _session()
    frame = _frame(host.seal(7, p.MsgType.DOOR, OPEN_EXIT))
    assert controller.open(frame) == p.Frame(7, p.MsgType.DOOR, OPEN_EXIT)


def test_forged_or_altered_frames_are_refused() -> None:
    host, controller = _session()
    wire = host.seal(7, p.MsgType.DOOR, bytes([p.Door.ENTRY, p.DoorAction.OPEN]))
    frame = _frame(wire)
    altered = p.Frame(frame.seq, frame.type, bytes([p.Door.EXIT]) + frame.payload[1:])
    with pytest.raises(auth.AuthError, match="tag"):
        controller.open(altered)
    forged = p.Frame(8, p.MsgType.DOOR, OPEN_EXIT + bytes(auth.TRAILER))
    with pytest.raises(auth.AuthError):
        controller.open(forged)


def test_a_replayed_frame_is_refused_but_its_immediate_retransmission_is_accepted() -> None:
    host, controller = _session()
    first = _frame(host.seal(7, p.MsgType.DOOR, OPEN_EXIT))
    controller.open(first)
    controller.open(first)  # identical retransmission (§4): the duplicate rules handle it
    second = _frame(host.seal(8, p.MsgType.DOOR, bytes([p.Door.EXIT, p.DoorAction.CLOSE])))
    controller.open(second)
    with pytest.raises(auth.AuthError, match="replayed"):
        controller.open(first)  # the old OPEN, recorded and sent again later


def test_a_frame_cannot_be_reflected_back_to_its_sender() -> None:
    host, _ = _session()
    frame = _frame(host.seal(7, p.MsgType.DOOR, OPEN_EXIT))
    with pytest.raises(auth.AuthError, match="tag"):
        host.open(frame)


def test_frames_of_an_earlier_session_never_verify_in_a_new_one() -> None:
    old_host, _ = _session()
    recorded = _frame(old_host.seal(7, p.MsgType.DOOR, OPEN_EXIT))
    _, controller = _session()
    with pytest.raises(auth.AuthError):
        controller.open(recorded)


def test_a_replayed_hello_gets_a_new_session_and_a_wrong_key_is_refused() -> None:
    hello = auth.hello(KEY)
    _, first = auth.answer_hello(KEY, hello)
    _, second = auth.answer_hello(KEY, hello)
    assert first != second  # the controller's fresh nonce
    with pytest.raises(auth.AuthError, match="wrong gate key"):
        auth.answer_hello(bytes(32), hello)
    reply, _ = auth.answer_hello(KEY, hello)
    with pytest.raises(auth.AuthError):
        auth.accept_reply(KEY, auth.hello(KEY), reply)  # a reply to another hello


def test_every_message_still_fits_when_sealed() -> None:
    host, _ = _session()
    largest = max(p.Status(1, 2, p.Mode.NORMAL, p.DoorState.LOCKED, p.DoorState.LOCKED, 5, 0, 0)
                  .encode().__len__(), 13)  # fmt: skip
    assert largest <= auth.MAX_BODY
    assert len(host.seal(1, p.MsgType.ACK, bytes(auth.MAX_BODY))) == 8 + p.MAX_PAYLOAD
    with pytest.raises(p.ProtocolError):
        host.seal(1, p.MsgType.ACK, bytes(auth.MAX_BODY + 1))


# ------------------------------------------------------------ host session and controller


def _wire(host_key: bytes | None, device_key: bytes | None) -> Wire:
    w = Wire(DeviceConfig(time_scale=4.0, auth_key=device_key))
    w.host = HostSession(response_timeout=0.1, retries=3, heartbeat_interval=0.5, auth_key=host_key)
    return w


def test_authenticated_session_runs_commands_and_events() -> None:
    w = _wire(KEY, KEY)
    w.run(0.1)
    assert isinstance(w.call(p.SetMode(p.Mode.NORMAL)), Reply)
    assert isinstance(w.call(p.DoorCommand(p.Door.EXIT, p.DoorAction.OPEN)), Reply)
    assert p.DoorCommand(p.Door.EXIT, p.DoorAction.OPEN) in w.dev.executed
    assert any(isinstance(e, p.ControllerReset) for e in w.events())  # sealed events arrive
    assert w.host.stats.auth_failures == 0 and w.dev.stats.auth_failures == 0


def test_an_injected_unauthenticated_door_open_is_not_executed() -> None:
    w = _wire(KEY, KEY)
    w.run(0.1)
    assert isinstance(w.call(p.SetMode(p.Mode.NORMAL)), Reply)
    w.dev.receive(p.encode_frame(99, p.MsgType.DOOR, OPEN_EXIT), w.now)
    w.run(0.2)
    assert p.DoorCommand(p.Door.EXIT, p.DoorAction.OPEN) not in w.dev.executed
    assert w.dev.stats.auth_failures >= 1


def test_unauthenticated_frames_do_not_keep_the_controller_out_of_safe_state() -> None:
    w = _wire(KEY, KEY)
    w.run(0.1)
    w.call(p.SetMode(p.Mode.NORMAL))
    w.host = HostSession(heartbeat_interval=0.5)  # an impostor without the key
    w.run(5.0)
    assert w.dev.mode == p.Mode.SAFE


def test_a_host_with_a_key_refuses_a_controller_without_authentication() -> None:
    w = _wire(KEY, None)
    reply = w.call(p.GetStatus())
    assert isinstance(reply, RequestFailed) and isinstance(reply.error, CommandRejected)
    assert "AUTH_HELLO" in str(reply.error) and "UNKNOWN_COMMAND" in str(reply.error)
    assert w.dev.stats.commands == 0


def test_after_a_controller_reboot_the_host_authenticates_again() -> None:
    w = _wire(KEY, KEY)
    w.run(0.1)
    assert isinstance(w.call(p.GetStatus()), Reply)
    w.dev.power_cycle(w.now)
    w.run(1.0)  # sealed frames of the old session time out; the next heartbeat re-handshakes
    assert isinstance(w.call(p.GetStatus(), seconds=2.0), Reply)


def test_lane_configuration_gives_the_key_to_the_driver_and_the_simulated_controller(
    tmp_path: Path,
) -> None:
    from drivers.gatectl.driver import driver_options
    from gate.config import GateControllerConfig
    from simulator.lane_devices import SimulatedLane

    key_file = tmp_path / "gate.key"
    key_file.write_text(KEY.hex())
    config = GateControllerConfig(auth_key_file=key_file)
    assert driver_options(config)["auth_key"] == KEY
    from gate.config import LaneConfig

    lane = SimulatedLane(LaneConfig(gatectl=config))
    assert lane.gate.device.config.auth_key == KEY
    assert lane.gatectl.session._auth_key == KEY


def test_a_short_or_missing_key_file_is_refused(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_text("00" * 16)
    with pytest.raises(auth.AuthError, match="32 bytes"):
        auth.load_key(short)
    with pytest.raises(auth.AuthError, match="file not found"):
        auth.load_key(tmp_path / "nope.key")
