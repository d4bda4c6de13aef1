"""``egate mrz read``: JSON output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from gate.cli import main
from simulator.docpages import Degradation, synthetic_page


def test_read_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = synthetic_page(
        21, "TD3", dpi=300, degradation=Degradation(rotation=180, jpeg_quality=60)
    )
    path = tmp_path / "page.jpg"
    cv2.imwrite(str(path), page.image)
    code = main(["mrz", "read", str(path), "--json", "--today", "2024-01-01"])
    data = json.loads(capsys.readouterr().out)
    assert data["lines"] == page.lines
    assert code == (0 if data["valid"] else 1)
    assert set(data) >= {"lines", "valid", "fields", "confidence", "candidates", "seconds"}
    assert [len(row) for row in data["confidence"]] == [44, 44]


def test_read_text_masks_document_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = synthetic_page(22, "TD1", dpi=300, degradation=Degradation())
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), page.image)
    main(["mrz", "read", str(path)])
    out = capsys.readouterr().out
    assert out.splitlines()[:3] == page.lines
    number = page.identity.document_number
    assert f"document {number} " not in out


def test_read_no_mrz_and_not_an_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), 255 * __import__("numpy").ones((200, 300), "uint8"))
    assert main(["mrz", "read", str(blank), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["message"] == "no MRZ found"
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"nope")
    assert main(["mrz", "read", str(junk)]) == 2
    assert "not a recognised image format" in capsys.readouterr().err
