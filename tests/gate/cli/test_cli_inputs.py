"""Hostile input files give exit 2 and a message naming the file, never a traceback or a
2 GB allocation (issue 17, items 6 to 8)."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import pytest

from gate.cli import main


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_png_header_only(32767, 32768), "32767x32768 pixels, more than"),
        (b"", "empty (0 bytes)"),
        (b"definitely not an image", "not a recognised image format"),
    ],
)
def test_mrz_read_refuses_bad_images_with_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    f = tmp_path / "page.png"
    f.write_bytes(content)
    assert main(["mrz", "read", str(f)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(f) in err and "Traceback" not in err and "BytesIO" not in err


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_mrz_read_refuses_what_is_not_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    if kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    elif kind == "device":
        target = Path("/dev/zero")
    else:
        target = tmp_path
    assert main(["mrz", "read", str(target)]) == 2
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "device"])
@pytest.mark.parametrize("command", [["config", "check"], ["trust", "--store", "S", "import"]])
def test_config_check_and_trust_import_give_exit_2_for_unreadable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, command: list[str]
) -> None:
    target = Path("/dev/zero")
    if kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    argv = [str(tmp_path / a) if a == "S" else a for a in command]
    assert main([*argv, str(target)]) == 2
    err = capsys.readouterr().err
    assert "not a regular file" in err and str(target) in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["mrz", "parse", "A", "B"], ["mrz", "read", "x.png"]])
def test_negative_candidate_counts_are_refused(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--candidates", "-5"])
    assert exit_.value.code == 2 and "-5 is less than 0" in capsys.readouterr().err


def test_events_validate_reports_invalid_utf8_instead_of_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "events.jsonl"
    f.write_bytes(b"\xff\xfe not utf-8\n")
    assert main(["events", "validate", str(f)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def _alarm(**extra: object) -> dict[str, object]:
    return {
        "schema_version": 1,
        "type": "alarm",
        "alarm": "tailgating",
        "event_id": "5f0c0d5e-9a4b-4e0f-8a55-6b0c7d1e2f3a",
        "lane_id": "lane-1",
        "seq": 1,
        "occurred_at": "2026-01-01T00:00:00+00:00",
        **extra,
    }


def test_events_validate_splits_lines_at_newline_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # U+2028 unescaped inside a JSON string is legal JSON; str.splitlines() cut the line there
    f = tmp_path / "events.jsonl"
    f.write_text(json.dumps(_alarm(detail="a\u2028b"), ensure_ascii=False) + "\n", "utf-8")
    assert main(["events", "validate", str(f)]) == 0, capsys.readouterr().err


def test_events_seq_beyond_64_bits_is_a_schema_error() -> None:
    from gate import events

    events.parse_event(_alarm(seq=2**63 - 1))
    with pytest.raises(events.EventSchemaError, match="seq"):
        events.parse_event(_alarm(seq=2**63))


@pytest.mark.parametrize(
    "command",
    [
        ["gatectl", "send", "--port", "loop://", "--timeout", "0", "status"],
        ["gatectl", "send", "--port", "loop://", "--baudrate", "-9600", "status"],
        ["gatectl", "watch", "--port", "loop://", "--seconds", "-1"],
        ["gatectl", "sim", "--time-scale", "0"],
        ["gatectl", "sim", "--people-every", "nan"],
        ["mrz", "read", "x.png", "--candidates", "many"],
    ],
)
def test_out_of_range_numbers_are_usage_errors(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(command)
    assert exit_.value.code == 2 and "error: argument" in capsys.readouterr().err


def test_a_reader_that_goes_away_ends_the_output_quietly() -> None:
    """``egate reasons | head``: a closed pipe is exit 141 with nothing on stderr."""
    import subprocess
    import sys

    code = "import sys; from gate.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "reasons"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
