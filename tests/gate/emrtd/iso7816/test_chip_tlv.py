"""BER-TLV codec: round trips and precise errors on hostile input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.emrtd.errors import TLVError
from gate.emrtd.iso7816 import tlv

TAGS = st.sampled_from([0x02, 0x30, 0x5C, 0x61, 0x5F1F, 0x7F61, 0x7F49, 0x86, 0x9F1F])


@given(TAGS, st.binary(max_size=70000))
@settings(max_examples=60, deadline=None)
def test_encode_decode_round_trip(tag: int, value: bytes) -> None:
    item = tlv.decode_single(tlv.encode(tag, value))
    assert item.tag == tag and item.value == value


@pytest.mark.parametrize(
    ("length", "encoded"),
    [(0, "00"), (127, "7F"), (128, "8180"), (255, "81FF"), (256, "820100"), (65536, "83010000")],
)
def test_length_forms(length: int, encoded: str) -> None:
    assert tlv.encode_length(length).hex().upper() == encoded
    assert tlv.read_length(bytes.fromhex(encoded), 0) == (length, len(encoded) // 2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("5F", "multi-byte tag"),
        ("6105AABB", "declares 5 bytes"),
        ("6180", "indefinite length"),
        ("618501000000", "at most 4"),
        ("6182AA", "cut off"),
        ("", "input ends"),
    ],
)
def test_malformed_input_names_the_problem(data: str, message: str) -> None:
    with pytest.raises(TLVError, match=message):
        tlv.decode_single(bytes.fromhex(data))


def test_trailing_bytes_rejected_by_decode_single() -> None:
    with pytest.raises(TLVError, match="unexpected bytes"):
        tlv.decode_single(bytes.fromhex("020101FF"))


def test_nested_children_and_header() -> None:
    data = tlv.encode(0x7F61, tlv.encode(0x02, b"\x01") + tlv.encode(0x7F60, b"\x00" * 300))
    outer = tlv.decode_single(data, 0x7F61)
    assert outer.constructed
    assert [c.tag for c in outer.children()] == [0x02, 0x7F60]
    assert tlv.read_header(data[:6]) == (0x7F61, 5, len(data) - 5)


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_random_bytes_only_raise_tlv_error(data: bytes) -> None:
    with contextlib.suppress(TLVError):
        tlv.decode_all(data)
