"""A broken simulator chip image is a clear error, not a traceback (issue 17, item 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gate.cli import main
from simulator.chip.image import ChipImageError, load_image

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"chip.json": b"{not json"}, "chip.json: not valid JSON"),
        ({"chip.json": b"\xff\xfe"}, "chip.json: not valid JSON"),
        ({"chip.json": b"[1, 2]"}, "must be a JSON object"),
        ({"DG1.bin": b"\x61\x05\x5f\x1f\x02AB"}, "DG1 cannot be parsed"),
        ({"chip.json": b'{"mrz": "x"}', "aa_key.pem": b"garbage"}, "aa_key.pem: not an"),
    ],
)
def test_bad_chip_image_files_raise_chip_image_error(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(ChipImageError, match=message):
        load_image(tmp_path)


def test_a_fifo_in_a_chip_image_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "DG1.bin")
    with pytest.raises(ChipImageError, match="FIFO"):
        load_image(tmp_path)


def test_chip_read_of_a_bad_image_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "chip.json").write_bytes(b"{not json")
    assert main(["chip", "read", "--simulate", str(tmp_path), "--mrz", MRZ]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "Traceback" not in err
