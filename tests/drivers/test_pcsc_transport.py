"""PcscTransport's APDU exchange without a reader: T=0 continuations through a fake connection."""

from __future__ import annotations

from typing import Any

import pytest

pcsc = pytest.importorskip("drivers.pcsc", reason="pyscard / libpcsclite not installed")


class FakeConnection:
    """Answers the first APDU with 61xx and then ``rounds`` GET RESPONSE continuations."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.sent: list[list[int]] = []

    def getATR(self) -> list[int]:  # pyscard's name
        return [0x3B, 0x80, 0x80, 0x01, 0x01]

    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]:
        self.sent.append(apdu)
        if len(self.sent) <= self.rounds:
            return [len(self.sent)], 0x61, 0x01
        return [0xAA], 0x90, 0x00


def _transport(conn: Any) -> Any:
    return pcsc.PcscTransport(conn, "fake reader")


def test_get_response_collects_the_whole_answer() -> None:
    conn = FakeConnection(3)
    assert _transport(conn).transmit(b"\x00\xb0\x00\x00\x00") == b"\x01\x02\x03\xaa\x90\x00"
    assert [a[1] for a in conn.sent[1:]] == [0xC0] * 3


def test_endless_61xx_is_bounded() -> None:
    conn = FakeConnection(10_000)
    out = _transport(conn).transmit(b"\x00\xb0\x00\x00\x00")
    assert len(conn.sent) == pcsc.MAX_GET_RESPONSE + 1 and out[-2] == 0x61
