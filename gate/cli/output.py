"""What the command line prints is escaped: input never reaches the terminal as control codes.

MRZ text, chip data groups, file names, events and error messages carry bytes chosen by
whoever made the document or the file. Printed raw, an ESC sequence could recolour, move the
cursor, retitle the window or hide earlier lines; a bidirectional override could reorder what
an officer reads. :func:`escape` writes such characters as visible ``\\x1b``/``\\u202e``
escapes; :func:`escaping_streams` applies it to everything a command prints (``egate`` wraps
every command in it), so no command can forget. JSON output is unaffected: ``json.dumps``
already escapes control characters.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\r\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
"""C0 controls except tab and line feed; DEL; C1 controls (CSI 0x9b is an
ESC [ on many terminals); bidirectional marks, embeddings, overrides and isolates."""


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with every control or bidirectional-override character as a visible escape;
    a carriage return opening the text is kept (progress lines redraw themselves with it)."""
    if text.startswith("\r"):
        return "\r" + _UNSAFE.sub(_visible, text[1:])
    return _UNSAFE.sub(_visible, text)


class EscapingWriter:
    """A text stream whose ``write`` escapes (see :func:`escape`); all else is the stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def escaping_streams() -> Iterator[None]:
    """Escape everything written to ``sys.stdout`` and ``sys.stderr`` inside the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout = EscapingWriter(saved[0])
    sys.stderr = EscapingWriter(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
