"""Page OCR: specimen pages read exactly, synthetic pages across degradations, no-MRZ images."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.mrz_ocr.pipeline import NO_MRZ, ImageError, load_image, read_image
from simulator.docpages import Degradation, synthetic_page

SPECIMENS = ("passport-td2.jpg", "passport-td2.png", "passport-td3.jpg", "passport-td3.png")


def _specimen_lines(folder: Path, name: str) -> list[str]:
    expected = json.loads((folder / "expected.json").read_text())
    if "td3" in name:
        return list(expected["mrz_lines_visible_in_image_td3_png"])
    return re.findall(r"[A-Z0-9<]{36}", expected["mrz_lines_note"])[:2]


@pytest.mark.parametrize("name", SPECIMENS)
def test_specimen_page_read_exactly(name: str, testdata_dir: Callable[..., Path]) -> None:
    folder = testdata_dir("mrz_documents", "passporteye")
    truth = _specimen_lines(folder, name)
    result = read_image(folder / name, today=__import__("datetime").date(2010, 1, 1))
    assert result.found
    assert result.lines == truth
    assert result.valid
    fields = result.to_dict()["fields"]
    expected = json.loads((folder / "expected.json").read_text())["expected"][name]
    assert fields["document_number"] == expected["number"]
    assert fields["date_of_birth"].replace("-", "")[2:] == expected["date_of_birth"]
    assert fields["date_of_expiry"].replace("-", "")[2:] == expected["expiration_date"]


@pytest.mark.parametrize("name", ["passport-td3.png", "passport-td2.jpg"])
@pytest.mark.parametrize("turn", [cv2.ROTATE_180, cv2.ROTATE_90_CLOCKWISE])
def test_specimen_turned(name: str, turn: int, testdata_dir: Callable[..., Path]) -> None:
    folder = testdata_dir("mrz_documents", "passporteye")
    image = cv2.rotate(cv2.imread(str(folder / name)), turn)
    assert read_image(image).lines == _specimen_lines(folder, name)


CASES = [
    ("TD3", 300, Degradation()),
    ("TD1", 300, Degradation(rotation=180.0)),
    ("TD2", 200, Degradation(rotation=90.0 + 7.0, jpeg_quality=40)),
    ("TD3", 150, Degradation(rotation=-9.5, blur=1.0, noise=8.0)),
    ("TD1", 400, Degradation(rotation=270.0 - 6.0, glare=2, light_gradient=0.3)),
    ("TD3", 600, Degradation(rotation=183.0, shear=0.02, jpeg_quality=50, noise=5.0)),
    ("TD3", 200, Degradation(rotation=4.0, blur=1.4, jpeg_quality=60)),
]


@pytest.mark.parametrize(("fmt", "dpi", "spec"), CASES)
@pytest.mark.parametrize("seed", [11, 12])
def test_synthetic_pages(fmt: str, dpi: int, spec: Degradation, seed: int) -> None:
    page = synthetic_page(seed, fmt, dpi=dpi, degradation=spec)
    result = read_image(page.image)
    assert result.found, result.message
    assert result.lines == page.lines
    assert result.layout == fmt
    assert len(result.confidence) == len(page.lines)
    assert all(0.0 <= c <= 1.0 for row in result.confidence for c in row)


def test_result_json_shape() -> None:
    page = synthetic_page(3, "TD3", dpi=300, degradation=Degradation())
    data = read_image(page.image).to_dict()
    for key in ("lines", "valid", "fields", "confidence", "candidates", "seconds"):
        assert key in data
    assert data["lines"] == page.lines
    assert data["fields"]["document_number"] == page.identity.document_number
    json.dumps(data)


def _blank_pages() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    text = np.full((800, 1100, 3), 235, np.uint8)
    for row in range(10):
        cv2.putText(
            text, "Lorem ipsum dolor sit amet", (40, 60 + 70 * row),
            cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 2,
        )  # fmt: skip
    return [
        np.zeros((480, 640), np.uint8),
        np.full((300, 300, 3), 255, np.uint8),
        rng.integers(0, 256, size=(600, 800, 3), dtype=np.uint8),
        text,
        np.zeros((8, 8), np.uint8),
    ]


@pytest.mark.parametrize("index", range(5))
def test_no_mrz_is_reported_not_raised(index: int) -> None:
    result = read_image(_blank_pages()[index])
    assert not result.found
    assert result.message == NO_MRZ
    assert result.to_dict()["valid"] is False


def test_page_with_mrz_cut_off_is_no_read() -> None:
    page = synthetic_page(4, "TD3", dpi=300, degradation=Degradation())
    top = page.image[: page.image.shape[0] // 2]
    assert not read_image(top).found


def test_not_an_image_raises_actionable_error(tmp_path: Path) -> None:
    bogus = tmp_path / "page.jpg"
    bogus.write_bytes(b"this is not a picture")
    with pytest.raises(ImageError, match=r"page\.jpg: not a recognised image format"):
        read_image(bogus)
    with pytest.raises(ImageError, match=r"missing\.png: file not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageError):
        load_image(np.zeros((0, 0), np.uint8))


def test_encoded_bytes_and_colour_inputs_agree() -> None:
    page = synthetic_page(6, "TD1", dpi=300, degradation=Degradation(jpeg_quality=70))
    ok, png = cv2.imencode(".png", page.image)
    assert ok
    bgra = cv2.cvtColor(page.image, cv2.COLOR_BGR2BGRA)
    assert read_image(png.tobytes()).lines == page.lines
    assert read_image(bgra).lines == page.lines


def test_camera_type_simulated_reader_feeds_the_ocr() -> None:
    from simulator.docpages import compose_mrz, random_identity
    from simulator.docreader import PageScanner

    rng = np.random.default_rng(31)
    identity = random_identity(rng, "TD3")
    image = PageScanner(rng, dpi=250.0).scan(identity)
    assert read_image(image).lines == compose_mrz(identity)
