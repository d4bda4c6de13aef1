"""The blocking shell around the sans-IO eMRTD core: it carries the APDUs a reader generator
yields over a transport and times the link.

``gate.emrtd`` never transmits: :class:`~gate.emrtd.reader.Reader`, chip and active
authentication are generators (:data:`~gate.emrtd.iso7816.exchange.Exchange`) that yield
command APDU bytes and take the response bytes. :func:`run` is the whole loop::

    session = ChipSession(atr=transport.atr)
    reader = Reader(session)
    access = run(reader.open(mrz_information), transport, stats=session.stats)

A transport failure (:class:`~gate.emrtd.errors.CardRemovedError`, a timeout...) is thrown
into the generator where the command was yielded, so the core handles it exactly as it would a
blocking call that raised (active authentication records "not_completed", the EF.ATR/INFO probe
shrugs it off); what the core does not handle escapes :func:`run` unchanged.

:class:`ChipLink` bundles a transport with its session for call sites that run several steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar, cast

from gate.emrtd.iso7816.exchange import Exchange
from gate.emrtd.reader import ChipSession, LinkStats, Reader, ReadPolicy

T = TypeVar("T")


class Transport(Protocol):
    """What the shell needs from a link to a chip (the PC/SC connection, the virtual chip)."""

    @property
    def atr(self) -> bytes: ...

    def transmit(self, apdu: bytes) -> bytes: ...


def run(
    steps: Exchange[T],
    transport: Transport,
    clock: Callable[[], float] = time.perf_counter,
    stats: LinkStats | None = None,
) -> T:
    """Drive ``steps`` to the end over ``transport``; its result.

    Each exchange is timed with ``clock`` into ``stats.seconds`` (an exchange that raised is
    not counted, as before the split). The generator is closed whatever happens."""
    try:
        try:
            cmd = next(steps)
        except StopIteration as done:
            return cast(T, done.value)
        while True:
            failure: Exception | None = None
            start = clock()
            try:
                resp = transport.transmit(cmd)
            except Exception as exc:  # thrown in below, outside this handler
                failure = exc
            else:
                if stats is not None:
                    stats.seconds += clock() - start
            try:
                cmd = steps.send(resp) if failure is None else steps.throw(failure)
            except StopIteration as done:
                return cast(T, done.value)
    finally:
        steps.close()


class ChipLink:
    """A transport and the session over it: ``link.run(reader.read_files([...]))``."""

    def __init__(
        self,
        transport: Transport,
        session: ChipSession | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.transport = transport
        self.session = session if session is not None else ChipSession(atr=transport.atr)
        self.clock = clock

    def reader(self, policy: ReadPolicy | None = None) -> Reader:
        """A reader on this link's session."""
        return Reader(self.session, policy or ReadPolicy())

    def run(self, steps: Exchange[T]) -> T:
        """:func:`run` over this link, timed into the session's stats."""
        return run(steps, self.transport, self.clock, self.session.stats)
