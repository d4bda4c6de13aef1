"""Serial document reader framings: vectors, resync after garbage and partial frames, noise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.docreader.framing import (
    CR,
    EOD,
    ETX,
    SOD,
    STX,
    DocumentRead,
    DocumentRemoved,
    FrameDropped,
    FramingError,
    bcc,
    decoder,
    encode,
)
from simulator.docreader import DocReaderDevice

TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)


def _reads(events: list[object]) -> list[tuple[str, ...]]:
    return [e.lines for e in events if isinstance(e, DocumentRead)]


def test_desko_frame_bytes() -> None:
    frame = encode("desko", TD3)
    assert frame[:2] == bytes([SOD, STX])
    assert frame[-2:] == bytes([ETX, EOD])
    assert frame[2:-2] == (TD3[0] + "\r" + TD3[1] + "\r").encode()
    assert encode("desko", None) == bytes([SOD, EOD])


def test_3m_frame_bytes() -> None:
    frame = encode("3m", TD1)
    payload = b"".join(line.encode().ljust(44, b"_") + b"\r" for line in TD1)
    assert frame[0] == STX
    assert int.from_bytes(frame[1:3], "big") == len(payload) == 135
    assert frame[3:-2] == payload
    assert frame[-2] == ETX
    assert frame[-1] == bcc(frame[1:-1])
    assert encode("3m", None) == bytes([STX, 0, 0, ETX, 0 ^ 0 ^ ETX])


@pytest.mark.parametrize("framing", ["desko", "3m"])
@pytest.mark.parametrize("lines", [TD3, TD1])
def test_roundtrip_byte_by_byte(framing: str, lines: tuple[str, ...]) -> None:
    dec = decoder(framing)  # type: ignore[arg-type]
    events: list[object] = []
    for k, byte in enumerate(encode(framing, lines) + encode(framing, None)):  # type: ignore[arg-type]
        events += dec.feed(bytes([byte]), now=k * 0.001)
    assert _reads(events) == [lines]
    assert isinstance(events[-1], DocumentRemoved)
    assert not any(isinstance(e, FrameDropped) for e in events)


@pytest.mark.parametrize("framing", ["desko", "3m"])
def test_resync_after_garbage_and_partial_frames(framing: str) -> None:
    device = DocReaderDevice(framing, np.random.default_rng(3))  # type: ignore[arg-type]
    dec = decoder(framing)  # type: ignore[arg-type]
    stream = (
        device.noise(50)
        + device.truncated(TD3)
        + device.place(TD1)
        + device.truncated(TD1)
        + bytes([STX, SOD, 0x00, 0x5A])
        + device.place(TD3)
    )
    events = dec.feed(stream, now=0.0)
    assert _reads(events) == [TD1, TD3]
    assert any(isinstance(e, FrameDropped) for e in events)


@pytest.mark.parametrize("framing", ["desko", "3m"])
def test_stalled_partial_frame_expires(framing: str) -> None:
    dec = decoder(framing, frame_timeout=0.5)  # type: ignore[arg-type]
    frame = encode(framing, TD3)  # type: ignore[arg-type]
    assert dec.feed(frame[:40], now=0.0) == []
    dropped = dec.tick(now=1.0)
    assert dropped and isinstance(dropped[0], FrameDropped)
    # the rest of the old frame is now garbage; the next full frame reads
    events = dec.feed(frame[40:] + frame, now=1.1)
    assert _reads(events) == [TD3]


@pytest.mark.parametrize("framing", ["desko", "3m"])
def test_frame_with_wrong_shape_is_dropped(framing: str) -> None:
    dec = decoder(framing)  # type: ignore[arg-type]
    good = encode(framing, TD3)  # type: ignore[arg-type]
    if framing == "desko":
        bad = bytes([SOD, STX]) + b"ABC\rDEF\r" + bytes([ETX, EOD])
    else:
        payload = (b"ABC".ljust(44, b"_") + b"\r") * 2
        body = len(payload).to_bytes(2, "big") + payload + bytes([ETX])
        bad = bytes([STX]) + body + bytes([bcc(body)])
    events = dec.feed(bad + good, now=0.0)
    assert _reads(events) == [TD3]
    assert any(isinstance(e, FrameDropped) for e in events)


def test_encoder_refuses_non_mrz_lines() -> None:
    with pytest.raises(FramingError, match="2 lines of 44"):
        encode("desko", ["ABC", "DEF"])
    with pytest.raises(FramingError, match="characters other than"):
        encode("3m", ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<a", TD3[1]])
    with pytest.raises(FramingError, match="unknown framing"):
        encode("x", TD3)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["desko", "3m"]), st.binary(max_size=600))
def test_noise_never_yields_a_document(framing: str, noise: bytes) -> None:
    dec = decoder(framing)  # type: ignore[arg-type]
    events = dec.feed(noise, now=0.0) + dec.tick(now=10.0)
    assert not any(isinstance(e, DocumentRead) for e in events)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["desko", "3m"]),
    st.binary(max_size=200).filter(lambda b: SOD not in b and STX not in b),
    st.lists(st.integers(min_value=1, max_value=40), max_size=8),
)
def test_any_chunking_after_clean_noise_reads_the_frame(
    framing: str, noise: bytes, cuts: list[int]
) -> None:
    dec = decoder(framing)  # type: ignore[arg-type]
    stream = noise + encode(framing, TD3)  # type: ignore[arg-type]
    events: list[object] = []
    pos = 0
    for cut in cuts:
        events += dec.feed(stream[pos : pos + cut], now=0.0)
        pos += cut
    events += dec.feed(stream[pos:], now=0.0)
    assert _reads(events) == [TD3]


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_3m_block_check_rejects_any_single_bit_flip(data: st.DataObject) -> None:
    frame = bytearray(encode("3m", TD3))
    k = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    frame[k] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    events = decoder("3m").feed(bytes(frame), now=0.0)
    assert _reads(events) == []


def test_cr_inside_desko_lines_is_the_separator() -> None:
    frame = encode("desko", TD3)
    assert frame.count(bytes([CR])) == 2
