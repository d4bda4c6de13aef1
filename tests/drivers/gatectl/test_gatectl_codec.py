"""Gate controller frame codec: CRC vector, layouts, round trips, resynchronisation properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.gatectl import protocol as p


def test_crc16_catalogue_check_value() -> None:
    # CRC-16/IBM-3740 (CCITT-FALSE) check value from the CRC catalogue: "123456789" -> 0x29B1
    assert p.crc16(b"123456789") == 0x29B1
    assert p.crc16(b"") == 0xFFFF


def test_frame_layout_matches_the_documented_example() -> None:
    # docs/gate-protocol.md, example: DOOR (0x20) seq 1, EXIT (2) OPEN (1)
    wire = p.encode_frame(1, p.MsgType.DOOR, p.DoorCommand(p.Door.EXIT, p.DoorAction.OPEN).encode())
    assert wire == bytes.fromhex("02 01 01 20 02 02 01 CE 8C 03")
    assert p.crc16(wire[1:7]) == 0xCE8C


def test_encode_rejects_out_of_range_fields() -> None:
    with pytest.raises(p.ProtocolError, match="payload"):
        p.encode_frame(1, 0x10, bytes(p.MAX_PAYLOAD + 1))
    with pytest.raises(p.ProtocolError, match="sequence"):
        p.encode_frame(256, 0x10)


ALL_MESSAGES: list[p.Message] = [
    p.Heartbeat(),
    p.GetStatus(),
    p.Configure(2500, p.SafeState.OPEN, 8000, 50),
    p.DoorCommand(p.Door.ENTRY, p.DoorAction.LOCK),
    p.ReleasePassage(p.Door.EXIT, p.Direction.OUT, 7000),
    p.CancelPassage(),
    p.SetIndicators(p.Pictogram.GREEN_ARROW, p.Pictogram.RED_CROSS, p.Buzzer.SHORT, 5),
    p.SetMode(p.Mode.EMERGENCY_OPEN),
    p.Nak(p.NakReason.BUSY),
    p.Status(0xBEEF, 123456, p.Mode.SAFE, p.DoorState.LOCKED, p.DoorState.OPENING, 5, 0b10010, 5),
    p.ControllerReset(1, 0x1234, p.ResetReason.WATCHDOG, 0x0102, 5),
    p.DoorChanged(2, p.Door.EXIT, p.DoorState.CLOSING),
    p.BeamChanged(3, 4, True),
    p.PassageCompleted(4, p.Door.ENTRY, p.Direction.IN, 2),
    p.PassageAborted(5, p.Door.EXIT, p.AbortReason.TURNED_BACK),
    p.ForcedDoor(6, p.Door.EXIT),
    p.Tamper(7, True),
    p.Emergency(8, False),
    p.Fault(9, p.FaultCode.BEAM, True),
    p.ModeChanged(0xFFFFFFFF, p.Mode.SAFE, p.ModeReason.HEARTBEAT_LOST),
]


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_through_a_frame(message: p.Message) -> None:
    wire = p.encode_frame(200, message.TYPE, message.encode())
    (frame,) = p.FrameDecoder().feed(wire, 0.0)
    assert (frame.seq, frame.type) == (200, message.TYPE)
    assert type(message).decode(frame.payload) == message
    if message.TYPE in p.COMMANDS:
        assert p.decode_command(frame) == message
    if p.is_event_type(message.TYPE):
        assert p.decode_event(frame) == message


def test_every_command_and_event_type_is_covered_above() -> None:
    covered = {m.TYPE for m in ALL_MESSAGES}
    assert set(p.COMMANDS) <= covered and set(p.EVENTS) <= covered


def test_payload_errors_name_the_message_and_field() -> None:
    with pytest.raises(p.ProtocolError, match="DOOR: payload is 1 bytes, expected 2"):
        p.DoorCommand.decode(b"\x01")
    with pytest.raises(p.ProtocolError, match=r"DOOR\.door: unknown value 9"):
        p.DoorCommand.decode(b"\x09\x01")
    with pytest.raises(p.ProtocolError, match=r"EV_TAMPER\.active: 2 is not 0 or 1"):
        p.Tamper.decode(b"\x00\x00\x00\x00\x02")
    with pytest.raises(p.ProtocolError, match="unknown command type 0x7F"):
        p.decode_command(p.Frame(1, 0x7F, b""))


def test_sequence_numbers_skip_zero() -> None:
    assert p.next_seq(254) == 255 and p.next_seq(255) == 1 and p.next_seq(0) == 1


def test_frames_split_at_every_byte_boundary_are_reassembled() -> None:
    wire = p.encode_frame(7, p.MsgType.EV_BEAM, p.BeamChanged(1, 2, True).encode()) * 2
    for cut in range(1, len(wire)):
        dec = p.FrameDecoder()
        frames = dec.feed(wire[:cut], 0.0) + dec.feed(wire[cut:], 0.001)
        assert len(frames) == 2, cut


def test_false_start_is_recovered_after_the_interbyte_gap() -> None:
    good = p.encode_frame(3, p.MsgType.HEARTBEAT)
    dec = p.FrameDecoder(interbyte_timeout=0.02)
    # a false header announcing 60 payload bytes swallows the good frame ...
    assert dec.feed(bytes([p.SOF, p.VERSION, 9, 0x10, 60]) + good, 0.0) == []
    assert dec.poll(0.01) == []  # ... until the line has been quiet for the gap
    assert dec.poll(0.03) == [p.Frame(3, 0x10, b"")]
    assert dec.stats.timeouts == 1


frames_st = st.builds(
    lambda seq, t, payload: p.Frame(seq, t, payload),
    st.integers(1, 255),
    st.sampled_from(sorted(set(p.COMMANDS) | set(p.EVENTS) | {0x06, 0x15})),
    st.binary(max_size=p.MAX_PAYLOAD),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noise=st.binary(min_size=1, max_size=400))
def test_random_noise_never_yields_a_frame(noise: bytes) -> None:
    dec = p.FrameDecoder()
    assert dec.feed(noise, 0.0) == []
    assert dec.poll(10.0) == []
    assert dec.pending == 0


@settings(max_examples=200, deadline=None)
@given(frame=frames_st, data=st.data())
def test_truncated_or_corrupted_frames_are_never_accepted(
    frame: p.Frame, data: st.DataObject
) -> None:
    wire = frame.encode()
    cut = data.draw(st.integers(0, len(wire) - 1), label="cut")
    dec = p.FrameDecoder()
    assert dec.feed(wire[:cut], 0.0) == [] and dec.poll(1.0) == []
    # a single flipped bit anywhere is caught too (CRC-16 detects every 1-bit error)
    pos = data.draw(st.integers(0, len(wire) - 1), label="pos")
    bit = data.draw(st.integers(0, 7), label="bit")
    bad = bytearray(wire)
    bad[pos] ^= 1 << bit
    dec = p.FrameDecoder()
    assert dec.feed(bytes(bad), 0.0) + dec.poll(1.0) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    noise=st.binary(max_size=300),
    frames=st.lists(frames_st, min_size=1, max_size=4),
    data=st.data(),
)
def test_decoder_resynchronises_on_the_next_good_frame(
    noise: bytes, frames: list[p.Frame], data: st.DataObject
) -> None:
    # noise (or a truncated frame) followed by good frames: every good frame comes out, in
    # order, either at once or when the inter-byte gap expires
    prefix = noise
    if data.draw(st.booleans(), label="truncated prefix"):
        other = data.draw(frames_st, label="other").encode()
        prefix += other[: data.draw(st.integers(0, len(other) - 1), label="cut")]
    stream = prefix + b"".join(f.encode() for f in frames)
    dec = p.FrameDecoder()
    chunk = data.draw(st.integers(1, 64), label="chunk")
    got: list[p.Frame] = []
    for i in range(0, len(stream), chunk):
        got += dec.feed(stream[i : i + chunk], 0.0)
    got += dec.poll(1.0)
    assert got == frames
