"""Decoding of chip portraits (DG2: JPEG or JPEG 2000) and other still images, safely.

The dimensions announced in the image header are read by the small parsers below *before*
anything is decoded, so a decompression bomb (a few bytes announcing 10,000 x 10,000 pixels)
is refused without allocating its pixels. Decoding itself is OpenCV's (libjpeg-turbo,
OpenJPEG, libpng, libwebp). Small or low-contrast portraits can be enhanced before detection.

Header layouts: JPEG SOFn segments (ITU-T T.81 B.2.2), JP2 boxes and the ``ihdr`` box
(ISO/IEC 15444-1 I.4, I.5.3.1), the J2K SIZ marker segment (ISO/IEC 15444-1 A.5.1), PNG IHDR
(RFC 2083 4.1.1).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gate.face.errors import ImageDecodeError, ImageTooLargeError
from gate.face.types import Image
from gate.files import LIMITS, InputFileError, InputFileTooLarge, read_bounded

PORTRAIT_MAX_PIXELS = 4096 * 4096
"""Chip portraits are a few hundred pixels a side (ICAO 9303-9); anything this big is hostile."""
IMAGE_MAX_PIXELS = 40_000_000
"""Other stills (camera frames, files given to ``egate face compare``): 40 megapixels."""
IMAGE_MAX_BYTES = LIMITS["image"]

JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImageHeader:
    format: str
    """'jpeg', 'jp2', 'j2k', 'png', or the name Pillow gives other formats."""
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def sniff(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:12] == JP2_SIGNATURE:
        return "jp2"
    if data[:4] == J2K_SOC_SIZ:
        return "j2k"
    if data[:8] == PNG_SIGNATURE:
        return "png"
    return None


def _jpeg_header(data: bytes) -> tuple[int, int]:
    pos = 2
    end = len(data)
    while pos < end:
        if data[pos] != 0xFF:
            raise ImageDecodeError(f"JPEG: expected a marker at byte {pos}, the file is corrupt")
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker in (0x01, *range(0xD0, 0xD8)):
            continue  # standalone markers have no length
        if marker == 0xD9 or marker == 0xDA:
            raise ImageDecodeError("JPEG: no frame header (SOF) before the image data")
        if pos + 2 > end:
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise ImageDecodeError(f"JPEG: segment length {length} at byte {pos} is invalid")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 7 > end:
                break
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            return width, height
        pos += length
    raise ImageDecodeError("JPEG: the data ends before the frame header: it is truncated")


def _j2k_header(data: bytes, offset: int = 0) -> tuple[int, int]:
    siz = data[offset + 4 : offset + 4 + 2 + 2 + 16]
    if data[offset : offset + 4] != J2K_SOC_SIZ or len(siz) < 20:
        raise ImageDecodeError("JPEG 2000: codestream without a complete SIZ marker segment")
    xsiz, ysiz, xo, yo = struct.unpack(">IIII", siz[4:20])
    if xsiz <= xo or ysiz <= yo:
        raise ImageDecodeError("JPEG 2000: SIZ gives an empty image area")
    return xsiz - xo, ysiz - yo


def _jp2_boxes(data: bytes, start: int, stop: int) -> list[tuple[bytes, int, int]]:
    """(type, content start, content end) of the boxes in ``data[start:stop]``."""
    boxes: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= stop:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if length == 1:
            if pos + 16 > stop:
                break
            (length,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif length == 0:
            length = stop - pos
        if length < header:
            raise ImageDecodeError(f"JPEG 2000: box {kind!r} has an invalid length {length}")
        boxes.append((kind, pos + header, min(pos + length, stop)))
        pos += length
    return boxes


def _jp2_header(data: bytes) -> tuple[int, int]:
    size: tuple[int, int] | None = None
    for kind, start, stop in _jp2_boxes(data, 0, len(data)):
        if kind == b"jp2h":
            for sub, s, e in _jp2_boxes(data, start, stop):
                if sub == b"ihdr" and e - s >= 8:
                    height, width = struct.unpack(">II", data[s : s + 8])
                    size = (width, height)
        elif kind == b"jp2c":
            codestream = _j2k_header(data, start)
            if size is not None and codestream != size:
                raise ImageDecodeError(
                    f"JPEG 2000: ihdr says {size[0]}x{size[1]} but the codestream "
                    f"{codestream[0]}x{codestream[1]}"
                )
            return codestream
    if size is None:
        raise ImageDecodeError("JPEG 2000: no image header box (ihdr): truncated or corrupt")
    return size


def _png_header(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ImageDecodeError("PNG: no IHDR chunk: truncated or corrupt")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _other_header(data: bytes) -> ImageHeader:
    from PIL import Image as PilImage  # header-only: Image.open does not decode pixels
    from PIL import UnidentifiedImageError

    try:
        with PilImage.open(io.BytesIO(data)) as pil:
            width, height = pil.size
            return ImageHeader(
                format=str(pil.format or "unknown").lower(), width=width, height=height
            )
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        # Pillow's own message names its buffer (<_io.BytesIO object at 0x...>), not the file
        raise ImageDecodeError(
            f"not a recognised image format (first bytes {data[:8].hex() or 'none'}); use "
            "JPEG, JPEG 2000, PNG or WebP"
        ) from None
    except PilImage.DecompressionBombError as exc:
        raise ImageTooLargeError(str(exc)) from None


def read_header(data: bytes) -> ImageHeader:
    """Format and dimensions from the header alone (no pixel is decoded)."""
    if not data:
        raise ImageDecodeError("the image is empty (0 bytes)")
    kind = sniff(data)
    try:
        if kind == "jpeg":
            width, height = _jpeg_header(data)
        elif kind == "jp2":
            width, height = _jp2_header(data)
        elif kind == "j2k":
            width, height = _j2k_header(data)
        elif kind == "png":
            width, height = _png_header(data)
        else:
            return _other_header(data)
    except struct.error:
        raise ImageDecodeError(f"{kind}: the header is truncated") from None
    if width < 1 or height < 1:
        raise ImageDecodeError(f"{kind}: the header gives an empty image ({width}x{height})")
    return ImageHeader(format=kind, width=width, height=height)


def checked_header(
    data: bytes, *, max_pixels: int = IMAGE_MAX_PIXELS, what: str = "image"
) -> ImageHeader:
    """The header of ``data`` once its announced size is within ``max_pixels``; errors start
    with ``what`` (the file name). Every image path decodes only after this check: the face
    layer here, the MRZ reader (drivers/mrz_ocr) too."""
    try:
        header = read_header(data)
    except ImageDecodeError as exc:
        raise ImageDecodeError(f"{what}: {exc}") from None
    except ImageTooLargeError as exc:
        raise ImageTooLargeError(f"{what}: {exc}") from None
    if header.pixels > max_pixels:
        raise ImageTooLargeError(
            f"{what}: the {header.format} header announces {header.width}x{header.height} "
            f"pixels, more than the {max_pixels:,} allowed; refusing to decode it (resize the "
            "image, or it is a decompression bomb)"
        )
    return header


def decode_image(data: bytes, *, max_pixels: int = IMAGE_MAX_PIXELS, what: str = "image") -> Image:
    """Decode to a BGR uint8 array after checking the announced size against ``max_pixels``."""
    header = checked_header(data, max_pixels=max_pixels, what=what)
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageDecodeError(f"{what}: {header.format} decoder failed: {exc}") from None
    if image is None or image.size == 0:
        raise ImageDecodeError(
            f"{what}: the {header.format} data ({len(data)} bytes, {header.width}x"
            f"{header.height}) could not be decoded: it is truncated or corrupt"
        )
    if image.shape[0] * image.shape[1] > max_pixels:  # e.g. a lying header of another format
        raise ImageTooLargeError(f"{what}: decoded size {image.shape[1]}x{image.shape[0]} too big")
    out: Image = image
    return out


def decode_portrait(data: bytes) -> Image:
    """A DG2 portrait (JPEG or JPEG 2000 bytes, as returned by the LDS parser) as BGR."""
    kind = sniff(data)
    if kind not in ("jpeg", "jp2", "j2k"):
        raise ImageDecodeError(
            f"DG2 portrait: {len(data)} bytes that are neither JPEG nor JPEG 2000 (first bytes "
            f"{data[:4].hex()}); ISO/IEC 19794-5 allows only these: check the DG2 parser"
        )
    return decode_image(data, max_pixels=PORTRAIT_MAX_PIXELS, what="DG2 portrait")


def load_image_file(path: Path | str, *, max_pixels: int = IMAGE_MAX_PIXELS) -> Image:
    """An image file (a regular file of at most ``IMAGE_MAX_BYTES``) decoded as BGR."""
    try:
        data = read_bounded(path, "image", limit=IMAGE_MAX_BYTES)
    except InputFileTooLarge as exc:
        raise ImageTooLargeError(str(exc)) from None
    except InputFileError as exc:
        raise ImageDecodeError(str(exc)) from None
    return decode_image(data, max_pixels=max_pixels, what=str(path))


# --------------------------------------------------------------------------- enhancement

SMALL_SIDE = 240
"""Portraits whose shorter side is below this are upscaled (bicubic) before detection."""
LOW_CONTRAST_STD = 40.0
"""Grey-level standard deviation below which contrast is stretched (CLAHE on lightness)."""
MAX_ENHANCED_SIDE = 2048
"""Upscaling never makes the longer side exceed this: a 2x8000 portrait would otherwise be
blown up 120 times (240x960000, 690 MB) by a few hundred hostile bytes."""


def needs_enhancement(image: Image) -> list[str]:
    reasons: list[str] = []
    if min(image.shape[:2]) < SMALL_SIDE:
        reasons.append("small")
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if float(grey.std()) < LOW_CONTRAST_STD:
        reasons.append("low_contrast")
    return reasons


def enhance(image: Image, reasons: list[str] | None = None) -> tuple[Image, list[str]]:
    """Upscale a small portrait and/or equalise a low-contrast one; return the steps applied."""
    reasons = needs_enhancement(image) if reasons is None else reasons
    out = image
    if "small" in reasons:
        factor = min(
            SMALL_SIDE / max(1, min(out.shape[:2])), MAX_ENHANCED_SIDE / max(1, max(out.shape[:2]))
        )
        if factor > 1.0:
            out = cv2.resize(out, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        else:
            reasons = [r for r in reasons if r != "small"]
    if "low_contrast" in reasons:
        lab = cv2.cvtColor(out, cv2.COLOR_BGR2LAB)
        clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
        lab[:, :, 0] = clahe.apply(lab[:, :, 0])
        out = cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)
    return out, reasons
