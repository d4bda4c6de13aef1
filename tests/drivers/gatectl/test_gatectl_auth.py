"""Optional frame authentication of the gate link (docs/gate-protocol.md §13, issue 17 item 5)."""

from __future__ import annotations

import pytest

from drivers.gatectl import auth
from drivers.gatectl import protocol as p

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
