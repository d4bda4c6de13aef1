"""Portrait and image decoding: header parsing, decompression bombs, truncation, enhancement.
No models needed."""

from __future__ import annotations

import struct
import time

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.face import portrait
from gate.face.errors import ImageDecodeError, ImageError, ImageTooLargeError
from tests.conftest import require_testdata


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    image = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def jp2_face() -> bytes:
    path = require_testdata(
        "epassport", "gmrtd", "lds_biometric_blocks", "ICAO_39794_5_AP_Face.jpg"
    )
    return path.read_bytes()


def patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the SOF0 dimensions (the bytes a decompression bomb lies with)."""
    pos = data.index(b"\xff\xc0")
    return data[: pos + 5] + struct.pack(">HH", height, width) + data[pos + 9 :]


def patch_jp2_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    ihdr = out.index(b"ihdr") + 4
    out[ihdr : ihdr + 8] = struct.pack(">II", height, width)
    siz = out.index(b"\xff\x4f\xff\x51") + 4
    xo, yo = struct.unpack(">II", out[siz + 12 : siz + 20])
    out[siz + 4 : siz + 12] = struct.pack(">II", width + xo, height + yo)
    return bytes(out)


def test_jpeg_header_read_without_decoding() -> None:
    header = portrait.read_header(jpeg_bytes(64, 48))
    assert (header.format, header.width, header.height) == ("jpeg", 64, 48)


def test_jpeg2000_portrait_decodes_to_header_size() -> None:
    data = jp2_face()
    header = portrait.read_header(data)
    image = portrait.decode_portrait(data)
    assert header.format == "jp2"
    assert image.shape == (header.height, header.width, 3)


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1, 60, 20, 12])
def test_truncated_jpeg2000_is_a_clear_error(keep: float) -> None:
    data = jp2_face()
    cut = int(len(data) * keep) if keep < 1 else int(keep)
    with pytest.raises(ImageDecodeError) as info:
        portrait.decode_portrait(data[:cut])
    assert "JPEG 2000" in str(info.value) or "jp2" in str(info.value)


@pytest.mark.parametrize("fmt", ["jpeg", "jp2"])
def test_10000_by_10000_header_is_refused_before_decoding(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (
        patch_jpeg_size(jpeg_bytes(), 10_000, 10_000)
        if fmt == "jpeg"
        else patch_jp2_size(jp2_face(), 10_000, 10_000)
    )
    assert portrait.read_header(data).pixels == 100_000_000

    def must_not_decode(*args: object) -> None:
        raise AssertionError("decoder called for a bomb")

    monkeypatch.setattr(portrait.cv2, "imdecode", must_not_decode)
    started = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="10000x10000"):
        portrait.decode_portrait(data)
    with pytest.raises(ImageTooLargeError):
        portrait.decode_image(data)
    assert time.perf_counter() - started < 0.5


def test_png_bomb_header_refused() -> None:
    _, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(png.tobytes())
    data[16:24] = struct.pack(">II", 10_000, 10_000)
    with pytest.raises(ImageTooLargeError):
        portrait.decode_image(bytes(data))


def test_dg2_portrait_must_be_jpeg_or_jpeg2000() -> None:
    _, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ImageDecodeError, match="neither JPEG nor JPEG 2000"):
        portrait.decode_portrait(png.tobytes())
    with pytest.raises(ImageDecodeError, match="empty"):
        portrait.decode_image(b"")


def test_webp_named_jpg_is_decoded() -> None:
    path = require_testdata("faces", "deepface", "img47.jpg")
    image = portrait.load_image_file(path)
    assert portrait.read_header(path.read_bytes()).format == "webp"
    assert image.ndim == 3


def test_missing_file_is_a_clear_error() -> None:
    with pytest.raises(ImageDecodeError, match="no such file"):
        portrait.load_image_file("/nonexistent/face.jpg")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=2000), st.booleans())
def test_hostile_bytes_never_crash(noise: bytes, cut: int, jp2: bool) -> None:
    base = jp2_face() if jp2 else jpeg_bytes()
    for data in (noise, base[:cut] + noise, base[: len(base) // 2] + noise):
        try:
            image = portrait.decode_image(data)
        except ImageError:
            continue
        assert image.ndim == 3 and image.size > 0


def test_enhancement_of_small_low_contrast_portrait() -> None:
    rng = np.random.default_rng(0)
    flat = (120 + rng.integers(-10, 10, (70, 60, 3))).astype(np.uint8)
    reasons = portrait.needs_enhancement(flat)
    assert reasons == ["small", "low_contrast"]
    out, steps = portrait.enhance(flat)
    assert steps == reasons
    assert min(out.shape[:2]) >= portrait.SMALL_SIDE
    assert float(out.std()) > float(flat.std())


def test_normal_portrait_is_left_alone() -> None:
    image = portrait.decode_portrait(jp2_face())
    assert portrait.needs_enhancement(image) == []


def test_enhancement_of_a_sliver_portrait_is_bounded() -> None:
    # a 2x8000 JPEG is a few hundred bytes; upscaling its short side to SMALL_SIDE would make
    # a 240x960000 image (690 MB)
    ok, data = cv2.imencode(".jpg", np.full((2, 8000, 3), 128, np.uint8))
    assert ok
    image = portrait.decode_portrait(data.tobytes())
    assert "small" in portrait.needs_enhancement(image)
    out, steps = portrait.enhance(image)
    assert out.shape == image.shape
    assert "small" not in steps
    # a long thin one is upscaled only until its long side reaches MAX_ENHANCED_SIDE
    thin = np.full((20, 1000, 3), 128, np.uint8)
    out, steps = portrait.enhance(thin, ["small"])
    assert steps == ["small"]
    assert max(out.shape[:2]) <= portrait.MAX_ENHANCED_SIDE
    assert out.shape[1] > thin.shape[1]
