"""Reading an input file with a bound: regular files only, at most a size cap per kind.

Every command that reads a file given by its user goes through :func:`read_bounded`, so
``/dev/zero`` is refused instead of read until memory runs out, a FIFO is refused instead of
hanging, and a file over its kind's cap gets a clear error naming it. The file is opened
non-blocking and checked with ``fstat`` on the open descriptor (no race between the check and
the read), then read to at most ``cap + 1`` bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gate.errors import EgateError

MB = 1024 * 1024

LIMITS: dict[str, int] = {
    "image": 64 * MB,
    "config": 1 * MB,
    "events": 256 * MB,
    "record": 64 * MB,
    "key": 64 * 1024,
    "certificate": 1 * MB,
    "master_list": 32 * MB,
    "pkd_ldif": 1024 * MB,
    "trust_index": 256 * MB,
    "chip_file": 1 * MB,
    "labels": 16 * MB,
    "text": 16 * MB,
}
"""Size cap per kind of input, in bytes. Images: a 40-megapixel JPEG is about 20 MB; a chip's
elementary files are at most 64 KB each (extended length) but a DG2 with several JPEG 2000
portraits stays under 1 MB; master lists of the large issuers are a few MB; the ICAO PKD's
LDIF downloads are a few hundred MB (DSCs of every state), a trust store's index.json for that
many entries some tens of MB."""


class InputFileError(EgateError):
    """An input file cannot be used: missing, not a regular file, unreadable or too large."""


class InputFileTooLarge(InputFileError):
    """The file is larger than the cap of its kind."""


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bounded(path: Path | str, kind: str, *, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` (default: ``LIMITS[kind]``)."""
    cap = LIMITS[kind] if limit is None else limit
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputFileError(f"{name}: file not found (no such file)") from None
    except OSError as exc:
        raise InputFileError(f"{name}: cannot open: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputFileError(f"{name}: is {_kind_of(info.st_mode)}, not a regular file")
        if info.st_size > cap:
            raise InputFileTooLarge(
                f"{name}: {info.st_size:,} bytes is more than the {cap:,} accepted for "
                f"a {kind.replace('_', ' ')} file"
            )
        chunks: list[bytes] = []
        total = 0
        while total <= cap:
            chunk = os.read(fd, min(1 * MB, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > cap:  # grew while being read
            raise InputFileTooLarge(
                f"{name}: more than the {cap:,} bytes accepted for a {kind.replace('_', ' ')} file"
            )
        return b"".join(chunks)
    except OSError as exc:
        raise InputFileError(f"{name}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text_bounded(path: Path | str, kind: str, *, limit: int | None = None) -> str:
    """:func:`read_bounded` decoded as UTF-8 (a BOM is dropped); invalid UTF-8 is an error
    naming the file and the byte offset."""
    data = read_bounded(path, kind, limit=limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{path}: not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
