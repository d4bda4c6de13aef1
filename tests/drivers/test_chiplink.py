"""The blocking shell around the sans-IO reader: results, timing, exceptions, closing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.chiplink import ChipLink, run
from gate.emrtd.errors import CardRemovedError, ChipError
from gate.emrtd.iso7816.exchange import Exchange
from gate.emrtd.reader import ChipSession, LinkStats


class FakeTransport:
    """Answers from a list; raises an exception object found in it."""

    atr = b"\x3b\x00"

    def __init__(self, answers: list[bytes | Exception]) -> None:
        self.answers = answers
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Steps:
    """A generator with a visible lifecycle (closed or not, what it received)."""

    def __init__(self, commands: list[bytes]) -> None:
        self.commands = commands
        self.received: list[bytes] = []
        self.closed = False

    def exchange(self) -> Exchange[list[bytes]]:
        try:
            for cmd in self.commands:
                self.received.append((yield cmd))
            return self.received
        finally:
            self.closed = True


def _ticks(step: float) -> Iterator[float]:
    t = 0.0
    while True:
        yield t
        t += step


def test_run_returns_the_generator_result_and_times_the_link() -> None:
    steps = Steps([b"\x00\xa4", b"\x00\xb0"])
    transport = FakeTransport([b"\x90\x00", b"\x01\x90\x00"])
    stats = LinkStats()
    ticks = _ticks(0.5)
    result = run(steps.exchange(), transport, clock=lambda: next(ticks), stats=stats)
    assert result == [b"\x90\x00", b"\x01\x90\x00"]
    assert transport.sent == [b"\x00\xa4", b"\x00\xb0"]
    assert stats.seconds == pytest.approx(1.0)  # two exchanges of one tick each
    assert steps.closed


def test_run_of_steps_that_send_nothing() -> None:
    def nothing() -> Exchange[int]:
        return 7
        yield b""  # a generator all the same

    assert run(nothing(), FakeTransport([])) == 7


def test_a_transport_error_the_core_does_not_handle_escapes_and_closes() -> None:
    steps = Steps([b"\x00\xa4", b"\x00\xb0"])
    removed = CardRemovedError("card removed")
    transport = FakeTransport([b"\x90\x00", removed])
    stats = LinkStats()
    with pytest.raises(CardRemovedError) as info:
        run(steps.exchange(), transport, stats=stats)
    assert info.value is removed  # the very exception, not a wrapper
    assert steps.closed and steps.received == [b"\x90\x00"]


def test_the_core_meets_a_transport_error_where_it_yielded() -> None:
    """Thrown in at the yield: the core's own handler sees it, as it saw a raising call."""

    def tolerant() -> Exchange[str]:
        try:
            yield b"\x00\xb0\x81\x00"
        except ChipError as exc:
            return f"handled {exc}"
        return "not reached"

    assert run(tolerant(), FakeTransport([ChipError("no extended APDUs")])) == (
        "handled no extended APDUs"
    )


def test_an_error_of_the_core_escapes_and_the_generator_is_closed() -> None:
    closed = []

    def failing() -> Exchange[None]:
        try:
            yield b"\x00\xa4"
            raise ValueError("bad answer")
        finally:
            closed.append(True)

    with pytest.raises(ValueError, match="bad answer"):
        run(failing(), FakeTransport([b"\x90\x00"]))
    assert closed == [True]


def test_an_interrupt_closes_the_generator() -> None:
    steps = Steps([b"\x00\xa4"])
    gen = steps.exchange()

    class Interrupting(FakeTransport):
        def transmit(self, apdu: bytes) -> bytes:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(gen, Interrupting([]))
    assert steps.closed


def test_chip_link_counts_into_its_session() -> None:
    transport = FakeTransport([b"\x90\x00"])
    link = ChipLink(transport, clock=lambda: 0.0)
    assert isinstance(link.session, ChipSession) and link.session.atr == transport.atr
    steps = Steps([b"\x00\x84\x00\x00\x08"])
    assert link.run(steps.exchange()) == [b"\x90\x00"]
    assert link.reader().session is link.session
