"""``egate mrz read``: JSON output, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
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


def _worn_visa(path: Path) -> list[str]:
    """An MRV-A visa whose number A00B00CD1 is printed with three worn glyphs halfway between
    ``O`` and ``0`` (55 % ``0``): both readings pass the check digit (O = 24 at weights 3, 1,
    1 adds 120). Returns the printed lines."""
    import numpy as np
    from PIL import Image, ImageDraw

    from drivers.mrz_ocr.fonts import load_font, ocrb_font_path
    from simulator.docpages import Identity, compose_mrz

    identity = Identity("MRVA", "V<", "UTO", "ERIKSSON", "ANNA", "A00B00CD1", "UTO", "740812",
                        "F", "300415")  # fmt: skip
    lines = compose_mrz(identity)
    font = load_font(str(ocrb_font_path()), 34)
    pitch = font.getlength("A")
    size = (int(pitch * 48), 200)
    page = np.full(size[::-1], 235.0)
    for row, text in enumerate(lines):
        for col, ch in enumerate(text):
            xy = (pitch * (2 + col), 60 + row * 55)
            mix = {"O": 0.45, "0": 0.55} if row == 1 and col in (1, 2, 5) else {ch: 1.0}
            ink = np.zeros(size[::-1])
            for glyph, weight in mix.items():
                mask = Image.new("L", size, 0)
                ImageDraw.Draw(mask).text(xy, glyph, font=font, fill=255)
                ink += np.asarray(mask, float) / 255.0 * weight
            page -= (page - 20.0) * ink
    cv2.imwrite(str(path), np.clip(page, 0, 255).astype(np.uint8))
    return lines


def test_read_json_ambiguous_doubtful_readings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "visa.png"
    truth = _worn_visa(path)
    code = main(["mrz", "read", str(path), "--json", "--today", "2025-01-01"])
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] and data["ambiguous"] and not data["certain"]
    assert code == 0
    numbers = [r["lines"][1][:9] for r in data["readings"]]
    assert set(numbers) >= {"A00B00CD1", "AOOB0OCD1"}
    true_reading = data["readings"][numbers.index("A00B00CD1")]
    assert true_reading["lines"] == truth
    assert true_reading["bac_key"]["document_number"] == "A00B00CD1"
    assert true_reading["bac_key"]["date_of_birth"] == "740812"
    assert {(d["line"], d["position"]) for d in data["doubtful"]} >= {(2, 2), (2, 3), (2, 6)}
    assert all(d["field"] == "document_number" for d in data["doubtful"])
    assert data["missing_checks"] == []


def test_read_json_missing_checks_on_a_real_scan(
    testdata_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The Austrian card of the development set prints no number and no expiry check digit."""
    folder = testdata_dir("mrz_documents", "public_devset")
    image = folder / "images" / "image-js-mrz-detection" / "id_fail.png"
    truth = next(
        c["mrz"].split("\n")
        for c in json.loads((folder / "expected.json").read_text())["cases"]
        if c["image"].endswith("id_fail.png")
    )
    code = main(["mrz", "read", str(image), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["lines"] == truth
    assert data["missing_checks"] == ["document_number", "date_of_expiry"]
    assert not data["certain"] and not data["ambiguous"] and data["readings"] == []
    assert isinstance(data["doubtful"], list)
