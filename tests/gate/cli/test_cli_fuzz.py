"""Fuzzing of every command-line entry that reads files (issue 17, "Tests").

Each command gets hypothesis-generated file contents and file kinds: random bytes, empty, an
image header announcing billions of pixels, a FIFO, a character device, a directory. The
command must end with an exit code of its documented set (0, 1, 2; argparse usage errors are
2), never with an uncaught exception (which would print a traceback), and the process's peak
memory must stay bounded (no read of /dev/zero, no decoding of a bomb).
"""

from __future__ import annotations

import os
import resource
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.cli import main

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
MEMORY_BOUND_KB = 600 * 1024
"""Peak resident memory growth allowed over one example: far below a read of /dev/zero or the
2.2 GB of a decoded 32767x32768 bomb, far above what a refused input costs."""


def _png_bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", 32767, 32768, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(99)))


def _jpeg_bomb() -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 65500, 65500, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + bytes(64) + b"\xff\xd9"


KINDS = ["bytes", "empty", "png_bomb", "jpeg_bomb", "fifo", "device", "directory", "missing"]


def _make(tmp: Path, kind: str, content: bytes, name: str = "input") -> Path:
    path = tmp / name
    if kind == "device":
        return Path("/dev/zero")
    if kind == "directory":
        path.mkdir()
        return path
    if kind == "missing":
        return path
    if kind == "fifo":
        os.mkfifo(path)
        return path
    data = {"bytes": content, "empty": b"", "png_bomb": _png_bomb(), "jpeg_bomb": _jpeg_bomb()}
    path.write_bytes(data[kind])
    return path


def _trust(tmp: Path) -> str:
    store = tmp / "trust"
    store.mkdir()
    return str(store)


COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "mrz read": lambda f, tmp: ["mrz", "read", str(f)],
    "events validate": lambda f, tmp: ["events", "validate", str(f)],
    "config check": lambda f, tmp: ["config", "check", str(f)],
    "lane replay": lambda f, tmp: ["lane", "replay", str(f)],
    "doc verify": lambda f, tmp: ["doc", "verify", "--sod", str(f), "--trust", _trust(tmp)],
    "doc verify --dg": lambda f, tmp: [
        *("doc", "verify", "--sod", str(f), "--dg", f"1={f}"),
        *("--trust", _trust(tmp), "--mrz", MRZ),
    ],
    "doc verify --index-key": lambda f, tmp: [
        *("doc", "verify", "--sod", str(f), "--trust", _trust(tmp), "--index-key", str(f)),
    ],
    "trust import": lambda f, tmp: ["trust", "--store", str(tmp / "s"), "import", str(f)],
    "trust import --ml-root": lambda f, tmp: [
        *("trust", "--store", str(tmp / "s"), "import", "--ml-root", str(f), str(f)),
    ],
    "trust --index-key list": lambda f, tmp: [
        *("trust", "--store", _trust(tmp), "--index-key", str(f), "list"),
    ],
    "sim check": lambda f, tmp: ["sim", "check", str(f)],
    "sim run --central-tokens": lambda f, tmp: [
        *("sim", "run", "--scenario", "genuine", "--central", "http://127.0.0.1:9"),
        *("--central-tokens", str(f)),
    ],
    "gatectl watch --auth-key-file": lambda f, tmp: [
        *("gatectl", "watch", "--port", str(tmp / "no-port"), "--seconds", "0.1"),
        *("--auth-key-file", str(f)),
    ],
    "face compare": lambda f, tmp: ["face", "compare", str(f), str(f)],
}
"""Every entry reading a file whose content it does not control (``sim check`` reads scenario
files as ``sim run`` and ``demo`` do). ``egate chip read --simulate`` (a directory of files) has
its own test below."""


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.parametrize("command", sorted(COMMANDS))
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(kind=st.sampled_from(KINDS), content=st.binary(max_size=4096))
def test_command_reading_a_hostile_file_ends_cleanly(
    tmp_path_factory: pytest.TempPathFactory, command: str, kind: str, content: bytes
) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    path = _make(tmp, kind, content)
    before = _peak_kb()
    try:
        code = main(COMMANDS[command](path, tmp))
    except SystemExit as exc:  # argparse usage error
        code = int(exc.code or 0)
    assert code in (0, 1, 2), f"{command} on {kind}: exit {code}"
    assert _peak_kb() - before < MEMORY_BOUND_KB, f"{command} on {kind}: memory grew"


@pytest.mark.parametrize("kind", KINDS)
def test_chip_image_directory_with_a_hostile_file_ends_cleanly(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "chip"
    image.mkdir()
    if kind == "device":
        (image / "DG1.bin").symlink_to("/dev/zero")
    elif kind != "missing":
        _make(image, kind, os.urandom(300), name="DG1.bin")
    code = main(["chip", "read", "--simulate", str(image), "--mrz", MRZ])
    assert code in (0, 1, 2)
    assert "Traceback" not in capsys.readouterr().err
