"""The OCR-B font (Debian ``fonts-ocr-b``) that MRZs are printed in: used to train the
classifier (:mod:`drivers.mrz_ocr.train`) and by the simulator to render data pages."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageFont

OCRB_CANDIDATES = (
    Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf"),
    Path("/usr/share/fonts/truetype/ocr-b/OCRB.ttf"),
)


def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def ocrb_font_path() -> Path:
    for path in OCRB_CANDIDATES:
        if path.exists():
            return path
    raise FileNotFoundError(
        "OCR-B font not found: install the Debian package fonts-ocr-b "
        "(see scripts/debian-packages.txt)"
    )
