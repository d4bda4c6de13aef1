"""Transports to the virtual chip: in-process (with a link timing model) and vpcd.

vpcd (Debian ``vsmartcard-vpcd``) is a pcscd driver whose card side is a TCP client: the virtual
card connects to 127.0.0.1:35963 and exchanges messages framed by a 2-byte big-endian length.
One-byte messages are control requests from vpcd (0 power off, 1 power on, 2 reset, 4 ATR);
anything longer is a command APDU, answered by the response APDU.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

from gate.emrtd.errors import CardRemovedError, TransportError
from simulator.chip.card import ChipRemoved, VirtualChip

VPCD_PORT = 35963
VPCD_POWER_OFF, VPCD_POWER_ON, VPCD_RESET, VPCD_GET_ATR = 0, 1, 2, 4
# pcscd polls card presence every 400 ms; after a removal in the middle of an exchange its
# event handler must see the slot empty at least once, or it never notices a new card
_REMOVAL_SETTLE_SECONDS = 1.2
_removed_at: dict[int, float] = {}


@dataclass
class LinkModel:
    """Contactless link model: bytes move at ``bitrate`` bit/s and every exchange costs
    ``latency`` seconds (frame waiting, chip processing)."""

    bitrate: float = 424_000.0
    latency: float = 0.005

    def exchange_seconds(self, command: int, response: int) -> float:
        return self.latency + 8.0 * (command + response) / self.bitrate


class InProcessTransport:
    """Calls the chip engine directly; accumulates the modelled link time instead of sleeping
    (set ``real_time`` to sleep it)."""

    def __init__(self, chip: VirtualChip, link: LinkModel | None = None,
                 real_time: bool = False) -> None:  # fmt: skip
        self.chip = chip
        self.link = link or LinkModel()
        self.real_time = real_time
        self.modelled_seconds = 0.0
        self.apdus = 0
        self.bytes_on_link = 0
        self.chip_cpu_seconds = 0.0

    @property
    def atr(self) -> bytes:
        return self.chip.atr

    def transmit(self, apdu: bytes) -> bytes:
        start = time.process_time()
        try:
            out = self.chip.process(apdu)
        except ChipRemoved as exc:
            raise CardRemovedError(f"card removed from the field: {exc}") from exc
        finally:
            self.chip_cpu_seconds += time.process_time() - start
        seconds = self.link.exchange_seconds(len(apdu), len(out)) + self.chip.faults.slow_seconds
        self.modelled_seconds += seconds
        self.apdus += 1
        self.bytes_on_link += len(apdu) + len(out)
        if self.real_time:
            time.sleep(seconds)
        return out

    def reinsert(self) -> None:
        """Put the card back (clears a removal fault)."""
        self.chip.faults.remove_after_apdus = None
        self.chip.reset()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("vpcd closed the connection")
        buf += part
    return buf


class VpcdCard:
    """The virtual chip as a vpcd card: a TCP client of pcscd's vpcd driver, run in a thread.

    ``start()`` connects (retrying until ``connect_timeout``) and serves until ``stop()``; a
    removal fault closes the socket, which pcscd sees as the card leaving the reader.
    """

    def __init__(self, chip: VirtualChip, host: str = "127.0.0.1", port: int = VPCD_PORT,
                 link: LinkModel | None = None, real_time: bool = False) -> None:  # fmt: skip
        self.chip = chip
        self.host, self.port = host, port
        self.link = link
        self.real_time = real_time
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.error: BaseException | None = None

    def start(self, connect_timeout: float = 15.0) -> None:
        """Connect and wait until vpcd talks to us (ATR request or power on), so that the
        card is known to be in the reader when this returns. vpcd accepts a waiting connection
        on its next presence poll; if it drops the connection instead, connect again."""
        settle = _removed_at.pop(self.port, 0.0) + _REMOVAL_SETTLE_SECONDS - time.monotonic()
        if settle > 0:
            time.sleep(settle)
        deadline = time.monotonic() + connect_timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError as exc:
                last = exc
                time.sleep(0.1)
                continue
            try:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                head = _recv_exact(sock, 2)
                msg = _recv_exact(sock, int.from_bytes(head, "big"))
            except TimeoutError as exc:
                sock.close()
                last = exc
                break
            except (OSError, ConnectionError) as exc:
                last = exc
                sock.close()
                time.sleep(0.1)
                continue
            reply = self._handle(msg)
            if reply is not None:
                sock.sendall(len(reply).to_bytes(2, "big") + reply)
            sock.settimeout(0.2)
            self._sock = sock
            self._thread = threading.Thread(target=self._serve, name="vpcd-card", daemon=True)
            self._thread.start()
            return
        raise TransportError(
            f"vpcd at {self.host}:{self.port} did not take the card ({last}): is pcscd running "
            "with the vsmartcard-vpcd driver?"
        )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def connected(self) -> bool:
        return self._sock is not None and self._thread is not None and self._thread.is_alive()

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            while not self._stop.is_set():
                try:
                    head = sock.recv(2)
                except TimeoutError:
                    continue
                if not head:
                    return
                if len(head) == 1:
                    head += _recv_exact(sock, 1)
                sock.settimeout(5.0)
                msg = _recv_exact(sock, int.from_bytes(head, "big"))
                sock.settimeout(0.2)
                reply = self._handle(msg)
                if reply is not None:
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
        except ChipRemoved:
            sock.close()
            self._sock = None
            _removed_at[self.port] = time.monotonic()
        except (OSError, ConnectionError) as exc:
            self.error = exc

    def _handle(self, msg: bytes) -> bytes | None:
        if len(msg) == 1:
            if msg[0] in (VPCD_POWER_OFF, VPCD_POWER_ON, VPCD_RESET):
                self.chip.reset()
                return None
            if msg[0] == VPCD_GET_ATR:
                return self.chip.atr
            return None
        out = self.chip.process(msg)
        delay = self.chip.faults.slow_seconds
        if self.real_time and self.link is not None:
            delay += self.link.exchange_seconds(len(msg), len(out))
        if delay:
            time.sleep(delay)
        return out
