"""The bounded file reader every command uses (issue 17, item 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gate.files import InputFileError, InputFileTooLarge, read_bounded, read_text_bounded


def test_reads_a_regular_file_within_its_cap(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"x" * 100)
    assert read_bounded(f, "image", limit=100) == b"x" * 100


def test_a_file_over_the_cap_is_refused_and_named(tmp_path: Path) -> None:
    f = tmp_path / "big.png"
    f.write_bytes(b"x" * 101)
    with pytest.raises(InputFileTooLarge, match=r"big\.png: 101 bytes is more than the 100"):
        read_bounded(f, "image", limit=100)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_instead_of_read_until_memory_runs_out() -> None:
    with pytest.raises(InputFileError, match="character device"):
        read_bounded("/dev/zero", "image")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_instead_of_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="FIFO"):
        read_bounded(fifo, "events")


def test_a_directory_and_a_missing_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="directory"):
        read_bounded(tmp_path, "config")
    with pytest.raises(InputFileError, match="file not found"):
        read_bounded(tmp_path / "nope", "config")


def test_invalid_utf8_names_the_file_and_the_offset(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_bytes(b'{"a": 1}\n\xff\xfe')
    with pytest.raises(InputFileError, match=r"e\.jsonl: not UTF-8.*0xff at offset 9"):
        read_text_bounded(f, "events")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_central_list_key_from_a_device_is_refused() -> None:
    from gate.daemon.lists import ListError, load_public_key

    with pytest.raises(ListError, match="character device"):
        load_public_key(Path("/dev/zero"))
