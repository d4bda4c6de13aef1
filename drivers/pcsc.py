"""PC/SC chip reader driver (pyscard): reader discovery by name pattern, card insertion and
removal events, APDU transmission, and PC/SC errors mapped to the chip error hierarchy.

The object returned by :meth:`PcscReader.connect` is a transport for :mod:`drivers.chiplink`
(``atr`` and ``transmit(bytes) -> bytes``), which drives the sans-IO reader over it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from gate.emrtd.errors import (
    CardRemovedError,
    ChipTimeoutError,
    ReaderNotFoundError,
    TransportError,
)

if TYPE_CHECKING:
    from gate.config import ChipReaderConfig

try:  # pyscard is a declared dependency, but keep import errors readable
    from smartcard import scard
    from smartcard.Exceptions import (
        CardConnectionException,
        NoCardException,
        SmartcardException,
    )
    from smartcard.pcsc.PCSCExceptions import BaseSCardException
    from smartcard.System import readers as _system_readers
except ImportError as exc:  # pragma: no cover - exercised only without pyscard
    raise ImportError("drivers.pcsc needs pyscard (pip install pyscard) and libpcsclite") from exc

MAX_GET_RESPONSE = 64
"""GET RESPONSE commands after one APDU at most (T=0 61xx continuations)."""
_REMOVED_HINTS = (
    "removed",
    "no smart card",
    "not present",
    "0x80100069",
    "0x8010000c",
    "reset",
    "unpowered",
)


def _is_removal(exc: BaseException) -> bool:
    text = str(exc).lower()
    hresult = getattr(exc, "hresult", None)
    if hresult in (
        scard.SCARD_W_REMOVED_CARD,
        scard.SCARD_E_NO_SMARTCARD,
        scard.SCARD_W_RESET_CARD,
        scard.SCARD_W_UNPOWERED_CARD,
    ):
        return True
    return any(h in text for h in _REMOVED_HINTS)


def list_readers() -> list[str]:
    """Names of the PC/SC readers; empty when pcscd is not running or has no reader."""
    try:
        return [str(r) for r in _system_readers()]
    except (SmartcardException, BaseSCardException):
        return []


def _reader_state(name: str, current: int, timeout_ms: int) -> int:
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise TransportError(
            f"PC/SC context: {scard.SCardGetErrorMessage(hresult)}: is pcscd running?"
        )
    try:
        hresult, states = scard.SCardGetStatusChange(ctx, timeout_ms, [(name, current)])
        if hresult == scard.SCARD_E_TIMEOUT:
            return current
        if hresult != scard.SCARD_S_SUCCESS:
            raise TransportError(f"PC/SC status of {name!r}: {scard.SCardGetErrorMessage(hresult)}")
        return int(states[0][1])
    finally:
        scard.SCardReleaseContext(ctx)


def reader_has_card(name: str, settle: float = 0.0) -> bool:
    """Whether a card is in the reader; waits up to ``settle`` seconds for it to disappear."""
    deadline = time.monotonic() + settle
    while True:
        try:
            present = bool(
                _reader_state(name, scard.SCARD_STATE_UNAWARE, 0) & scard.SCARD_STATE_PRESENT
            )
        except TransportError:
            return False
        if not present or time.monotonic() >= deadline:
            return present
        time.sleep(0.05)


class PcscTransport:
    """An open connection to the card in one reader. ``timeout`` bounds every exchange: a
    chip that does not answer in time raises :class:`ChipTimeoutError` and the connection is
    abandoned (PC/SC cannot cancel a transmit in flight)."""

    def __init__(self, connection: Any, reader_name: str, timeout: float | None = None) -> None:
        self._connection = connection
        self.reader_name = reader_name
        self.atr = bytes(connection.getATR())
        self.closed = False
        self._released = False
        self.timeout = timeout

    def _exchange(self, apdu: bytes) -> bytes:
        data, sw1, sw2 = self._connection.transmit(list(apdu))
        # T=0 style continuation: fetch the rest with GET RESPONSE (bounded: a card answering
        # 61xx forever must not hold the lane; ChipSession sees the last 61xx and stops too)
        out = bytes(data)
        for _ in range(MAX_GET_RESPONSE):
            if sw1 != 0x61:
                break
            more, sw1, sw2 = self._connection.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
            out += bytes(more)
        return out + bytes([sw1, sw2])

    def _exchange_with_timeout(self, apdu: bytes) -> bytes:
        if self.timeout is None:
            return self._exchange(apdu)
        result: list[bytes] = []
        error: list[BaseException] = []

        def run() -> None:
            try:
                result.append(self._exchange(apdu))
            except BaseException as exc:  # handed over to the caller's thread
                error.append(exc)

        worker = threading.Thread(target=run, name="pcsc-transmit", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            self.closed = True
            raise ChipTimeoutError(
                f"chip in {self.reader_name!r} did not answer within {self.timeout:.1f} s; "
                "the connection is abandoned: present the document again"
            )
        if error:
            raise error[0]
        return result[0]

    def transmit(self, apdu: bytes) -> bytes:
        if self.closed:
            raise TransportError(f"connection to {self.reader_name!r} is closed: connect again")
        try:
            return self._exchange_with_timeout(apdu)
        except (CardConnectionException, NoCardException) as exc:
            self.close()
            if _is_removal(exc) or not reader_has_card(self.reader_name, settle=0.5):
                raise CardRemovedError(
                    f"card removed from {self.reader_name!r} during an exchange: "
                    "put it back and read again"
                ) from exc
            raise TransportError(f"PC/SC transmit on {self.reader_name!r} failed: {exc}") from exc

    def close(self) -> None:
        self.closed = True
        if self._released:
            return
        self._released = True
        for step in (self._connection.disconnect, self._connection.release):
            with contextlib.suppress(SmartcardException, BaseSCardException, AttributeError):
                step()


class PcscReader:
    """The first PC/SC reader whose name contains ``pattern`` (case-insensitive)."""

    def __init__(self, pattern: str = "", timeout: float = 10.0) -> None:
        self.pattern = pattern
        self.timeout = timeout

    def find(self) -> Any:
        found = []
        try:
            found = list(_system_readers())
        except (SmartcardException, BaseSCardException) as exc:
            raise ReaderNotFoundError(f"PC/SC is not available ({exc}): is pcscd running?") from exc
        for reader in found:
            if self.pattern.lower() in str(reader).lower():
                return reader
        names = ", ".join(repr(str(r)) for r in found) or "none"
        raise ReaderNotFoundError(
            f"no PC/SC reader matches {self.pattern!r} (readers: {names}); check the reader "
            "pattern in the chip configuration"
        )

    @property
    def name(self) -> str:
        return str(self.find())

    def card_present(self) -> bool:
        return self._state() & scard.SCARD_STATE_PRESENT != 0

    def _state(self, current: int = scard.SCARD_STATE_UNAWARE, timeout_ms: int = 0) -> int:
        return _reader_state(self.name, current, timeout_ms)

    def wait_for_card(self, timeout: float | None = None) -> None:
        """Block until a card is in the field (insertion event) or raise ChipTimeoutError."""
        self._wait(True, self.timeout if timeout is None else timeout)

    def wait_for_removal(self, timeout: float | None = None) -> None:
        self._wait(False, self.timeout if timeout is None else timeout)

    def _wait(self, present: bool, timeout: float) -> None:
        name = self.name
        deadline = time.monotonic() + timeout
        while True:
            # poll (non-blocking status queries): a blocking SCardGetStatusChange that is
            # cancelled by releasing its context was seen to stall pcscd's vpcd driver
            state = _reader_state(name, scard.SCARD_STATE_UNAWARE, 0)
            if bool(state & scard.SCARD_STATE_PRESENT) == present:
                return
            time.sleep(0.05)
            if time.monotonic() > deadline:
                what = "inserted" if present else "removed"
                raise ChipTimeoutError(f"no card {what} in {name!r} within {timeout:.1f} s")

    def events(self, poll: float = 0.1, until: float | None = None
               ) -> Iterator[Literal["inserted", "removed"]]:  # fmt: skip
        """Card insertion and removal events relative to the state at this call, polled every
        ``poll`` seconds until the ``until`` monotonic time (forever when None)."""
        name = self.name
        return self._events(name, reader_has_card(name), poll, until)

    @staticmethod
    def _events(name: str, present: bool, poll: float, until: float | None
                ) -> Iterator[Literal["inserted", "removed"]]:  # fmt: skip
        while until is None or time.monotonic() < until:
            now = reader_has_card(name)
            if now != present:
                present = now
                yield "inserted" if now else "removed"
            time.sleep(poll)

    def connect(self, wait: bool = True, transmit_timeout: float | None = None) -> PcscTransport:
        reader = self.find()
        if wait:
            self.wait_for_card()
        connection = reader.createConnection()
        try:
            connection.connect()
        except (CardConnectionException, NoCardException) as exc:
            if _is_removal(exc) or isinstance(exc, NoCardException):
                raise CardRemovedError(f"no card in {str(reader)!r}: present the passport") from exc
            raise TransportError(f"cannot connect to the card in {str(reader)!r}: {exc}") from exc
        return PcscTransport(connection, str(reader), transmit_timeout)


def pcsc_from_config(config: ChipReaderConfig, **options: Any) -> PcscReader:
    """Device-registry factory ``chipreader.pcsc``."""
    return PcscReader(
        options.pop("pattern", config.reader_pattern),
        timeout=options.pop("timeout", config.timeout_seconds),
        **options,
    )
