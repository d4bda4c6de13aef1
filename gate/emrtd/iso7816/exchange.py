"""The sans-IO contract between the eMRTD protocol code and whatever carries its APDUs.

Every operation that talks to a chip is a generator of type ``Exchange[T]``: it yields a raw
command APDU, receives the raw response through ``send()``, and returns its result ``T`` (so
steps compose with ``yield from``, PEP 380). The core never sees a device, a socket or a
clock; a shell outside ``gate.emrtd`` (``drivers.chiplink``) feeds the generator from a
transport, a test feeds it by hand. A link failure is thrown into the generator at the
``yield`` (``generator.throw``), so the core meets it where a blocking call would have raised.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeAlias, TypeVar

T = TypeVar("T")

Exchange: TypeAlias = Generator[bytes, bytes, T]
"""Yields command APDU bytes, receives response APDU bytes, returns ``T``."""
