"""Synthetic machine-readable travel document pages (TD1, TD2, TD3) for tests, the simulator and
the OCR bench.

A page is drawn at ICAO size (ICAO 9303 Part 4: TD3 125 x 88 mm; Part 5: TD1 85.6 x 54 mm;
Part 6: TD2 105 x 74 mm) with a tinted, patterned background, a photo placeholder, printed
fields and the MRZ in OCR-B (Debian ``fonts-ocr-b``) at 10 characters per inch (2.54 mm pitch).
:func:`degrade` then applies what cameras and scanners do to it: rotation (any angle, including
upside-down), shear, blur, noise, glare spots, uneven light and JPEG compression.

Everything is driven by a ``numpy.random.Generator`` so a seed reproduces a page exactly.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from drivers.mrz_ocr.fonts import load_font as _font
from drivers.mrz_ocr.fonts import ocrb_font_path
from gate.mrz.checkdigit import check_digit

TEXT_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
)

# (width mm, height mm, lines, characters per line)
FORMATS: dict[str, tuple[float, float, int, int]] = {
    "TD1": (85.6, 53.98, 3, 30),
    "TD2": (105.0, 74.0, 2, 36),
    "TD3": (125.0, 88.0, 2, 44),
    "MRVA": (120.0, 80.0, 2, 44),  # visa sticker, ICAO 9303 Part 7
}
PITCH_MM = 2.54  # ICAO 9303-3: 10 characters per 25.4 mm
LINE_PITCH_MM = 4.23  # 6 lines per inch

SURNAMES = (
    "ERIKSSON", "MUELLER", "OKONKWO", "VAN<DER<BERG", "DUBOIS", "GARCIA<LOPEZ", "NGUYEN",
    "OCONNOR", "KOWALSKI", "IVANOVA", "SMITH", "BOLT", "LI", "OYELARAN<WILLIAMS", "ZOLLINGER",
    "QUIROGA", "HOLMBERG", "PAPADOPOULOS", "TANAKA", "FITZGERALD<KENNEDY",
)  # fmt: skip
GIVEN = (
    "ANNA<MARIA", "JOHN", "LI<WEI", "OLUWASEUN", "MARIE<CLAIRE", "JOSE<LUIS", "HANS<PETER",
    "SVETLANA", "YUKI", "AHMED", "BO", "KAI", "ZOE<ISABELLA", "WOJCIECH", "XAVIER",
)  # fmt: skip
STATES = ("UTO", "D<<", "NLD", "FRA", "GBR", "USA", "ZAF", "JPN", "BRA", "IND", "CHE", "SWE")
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Identity:
    """The data printed on a synthetic page."""

    doc_format: str
    doc_type: str
    issuer: str
    surname: str
    given_names: str
    document_number: str
    nationality: str
    date_of_birth: str
    sex: str
    date_of_expiry: str
    optional: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _date(rng: np.random.Generator, lo_year: int, hi_year: int) -> str:
    year = int(rng.integers(lo_year, hi_year + 1)) % 100
    month = int(rng.integers(1, 13))
    day = int(rng.integers(1, 29))
    return f"{year:02d}{month:02d}{day:02d}"


def random_identity(rng: np.random.Generator, doc_format: str = "TD3") -> Identity:
    """A random but well-formed identity; document numbers deliberately mix confusable
    characters (0/O, 1/I, 5/S, 8/B)."""
    if doc_format not in FORMATS:
        raise ValueError(f"format {doc_format!r}: expected one of {sorted(FORMATS)}")
    length = int(rng.integers(6, 10))
    number = "".join(ALNUM[int(i)] for i in rng.integers(0, len(ALNUM), size=length))
    doc_type = {
        "TD3": "P<",
        "TD2": str(rng.choice(["I<", "AC", "ID"])),
        "TD1": "ID",
        "MRVA": "V<",
    }[doc_format]
    opt_len = {"TD3": 14, "TD2": 7, "TD1": 15, "MRVA": 16}[doc_format]
    opt_n = int(rng.integers(0, opt_len - 2))
    optional = "".join(ALNUM[int(i)] for i in rng.integers(0, len(ALNUM), size=opt_n))
    return Identity(
        doc_format=doc_format,
        doc_type=doc_type,
        issuer=str(rng.choice(STATES)),
        surname=str(rng.choice(SURNAMES)),
        given_names=str(rng.choice(GIVEN)),
        document_number=number,
        nationality=str(rng.choice(STATES)),
        date_of_birth=_date(rng, 1935, 2019),
        sex=str(rng.choice(["M", "F", "<"])),
        date_of_expiry=_date(rng, 2020, 2036),
        optional=optional,
    )


def _names_field(identity: Identity, width: int) -> str:
    return (identity.surname + "<<" + identity.given_names)[:width].ljust(width, "<")


def compose_mrz(identity: Identity) -> list[str]:
    """The MRZ lines of ``identity`` with correct check digits (ICAO 9303 Parts 4-6)."""
    fmt = identity.doc_format
    number = identity.document_number.ljust(9, "<")[:9]
    ncd = check_digit(number)
    dob, dcd = identity.date_of_birth, check_digit(identity.date_of_birth)
    exp, ecd = identity.date_of_expiry, check_digit(identity.date_of_expiry)
    if fmt == "TD3":
        line1 = (identity.doc_type + identity.issuer + _names_field(identity, 39))[:44]
        personal = identity.optional.ljust(14, "<")[:14]
        pcd = check_digit(personal) if identity.optional else "<"
        body = number + ncd + identity.nationality + dob + dcd + identity.sex + exp + ecd
        composite = number + ncd + dob + dcd + exp + ecd + personal + pcd
        line2 = body + personal + pcd + check_digit(composite)
        return [line1, line2]
    if fmt == "MRVA":  # no composite, no optional-data check digit
        line1 = (identity.doc_type + identity.issuer + _names_field(identity, 39))[:44]
        body = number + ncd + identity.nationality + dob + dcd + identity.sex + exp + ecd
        return [line1, body + identity.optional.ljust(16, "<")[:16]]
    if fmt == "TD2":
        line1 = (identity.doc_type + identity.issuer + _names_field(identity, 31))[:36]
        optional = identity.optional.ljust(7, "<")[:7]
        body = number + ncd + identity.nationality + dob + dcd + identity.sex + exp + ecd
        composite = number + ncd + dob + dcd + exp + ecd + optional
        return [line1, body + optional + check_digit(composite)]
    optional1 = identity.optional.ljust(15, "<")[:15]
    line1 = identity.doc_type + identity.issuer + number + ncd + optional1
    optional2 = "<" * 11
    line2a = dob + dcd + identity.sex + exp + ecd + identity.nationality + optional2
    composite = line1[5:30] + line2a[0:7] + line2a[8:15] + line2a[18:29]
    line2 = line2a + check_digit(composite)
    line3 = _names_field(identity, 30)
    return [line1, line2, line3]


@lru_cache(maxsize=64)
def _text_font_path() -> str:
    for path in TEXT_FONT_CANDIDATES:
        if path.exists():
            return str(path)
    return str(ocrb_font_path())


def _mrz_font_size(pitch_px: float, path: str) -> int:
    probe = _font(path, 100)
    advance = probe.getlength("A") / 100.0
    return max(6, round(pitch_px / advance))


def draw_mrz(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    origin: tuple[float, float],
    pitch_px: float,
    line_pitch_px: float,
    *,
    font_path: str | None = None,
    ink: int = 20,
) -> None:
    """Draw MRZ ``lines`` one character per cell at exact pitch; ``origin`` is the top-left
    corner of the first cell."""
    path = font_path or str(ocrb_font_path())
    font = _font(path, _mrz_font_size(pitch_px, path))
    x0, y0 = origin
    for row, text in enumerate(lines):
        y = y0 + row * line_pitch_px
        for col, ch in enumerate(text):
            draw.text((x0 + col * pitch_px, y), ch, font=font, fill=(ink, ink, ink))


def render_page(
    identity: Identity,
    *,
    dpi: float = 300.0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, list[str]]:
    """A clean BGR page image of ``identity`` and its MRZ lines."""
    rng = rng if rng is not None else np.random.default_rng(0)
    width_mm, height_mm, _, _ = FORMATS[identity.doc_format]
    ppmm = dpi / 25.4
    width, height = round(width_mm * ppmm), round(height_mm * ppmm)
    # tinted background with a fine guilloche-like pattern
    tint = np.array(rng.integers(200, 250, size=3), dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) / ppmm
    phase = float(rng.uniform(0, 6.28))
    pattern = np.sin(xx * 1.7 + np.sin(yy * 0.9 + phase) * 2.5) * np.cos(yy * 1.3 - phase)
    base = tint[None, None, :] + (pattern[..., None] * float(rng.uniform(3, 12)))
    page = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)[..., ::-1].copy())
    draw = ImageDraw.Draw(page)
    lines = compose_mrz(identity)
    # photo placeholder: a grey card with a head-and-shoulders silhouette
    px0, py0 = int(5 * ppmm), int(12 * ppmm)
    pw, ph = int(0.26 * width), int(0.45 * height)
    shade = int(rng.integers(150, 215))
    draw.rectangle((px0, py0, px0 + pw, py0 + ph), fill=(shade, shade - 10, shade - 20))
    face = int(rng.integers(90, 170))
    cx = px0 + pw // 2
    draw.ellipse(
        (cx - pw // 4, py0 + ph // 6, cx + pw // 4, py0 + ph // 6 + ph // 2),
        fill=(face, face - 20, face - 40),
    )
    draw.chord(
        (cx - int(pw * 0.45), py0 + int(ph * 0.72), cx + int(pw * 0.45), py0 + ph + ph // 3),
        180,
        360,
        fill=(face - 30, face - 30, face),
    )
    # printed fields
    text_path = _text_font_path()
    title = _font(text_path, max(8, int(4.0 * ppmm)))
    label = _font(text_path, max(6, int(1.6 * ppmm)))
    value = _font(text_path, max(7, int(2.6 * ppmm)))
    draw.text(
        (int(0.35 * width), int(2.5 * ppmm)), "UTOPIA  PASSPORT", font=title, fill=(30, 30, 60)
    )
    fields = [
        ("Surname / Nom", identity.surname.replace("<", " ")),
        ("Given names / Prénoms", identity.given_names.replace("<", " ")),
        ("Document No.", identity.document_number),
        ("Nationality", identity.nationality.replace("<", "")),
        ("Date of birth", identity.date_of_birth),
        ("Sex", identity.sex.replace("<", "X")),
        ("Date of expiry", identity.date_of_expiry),
    ]
    fx = px0 + pw + int(4 * ppmm)
    mrz_rows = len(lines)
    mrz_top_mm = height_mm - 4.0 - mrz_rows * LINE_PITCH_MM
    step = (mrz_top_mm - 14.0) * ppmm / len(fields)
    for i, (name, val) in enumerate(fields):
        fy = int(10.0 * ppmm + i * step)
        draw.text((fx, fy), name, font=label, fill=(60, 60, 90))
        draw.text((fx, fy + int(1.8 * ppmm)), val, font=value, fill=(15, 15, 15))
    # the MRZ at ICAO size
    pitch = PITCH_MM * ppmm
    total = len(lines[0]) * pitch
    x0 = (width - total) / 2.0 + float(rng.uniform(-1.0, 1.0)) * ppmm
    y0 = mrz_top_mm * ppmm
    draw_mrz(draw, lines, (x0, y0), pitch, LINE_PITCH_MM * ppmm)
    return np.asarray(page)[..., ::-1].copy(), lines


@dataclass(frozen=True)
class Degradation:
    """What happens between the page and the image the reader gets."""

    rotation: float = 0.0  # degrees, any value (180 = upside-down)
    shear: float = 0.0  # horizontal shear factor
    blur: float = 0.0  # Gaussian sigma in pixels
    noise: float = 0.0  # Gaussian noise sigma (0-255 scale)
    jpeg_quality: int | None = None
    glare: int = 0  # number of bright spots
    light_gradient: float = 0.0  # 0..1 strength of uneven illumination
    margin: float = 0.08  # background around the page, fraction of its size
    perspective: float = 0.0  # corner displacement of a tilted phone, fraction of the size


def random_degradation(rng: np.random.Generator) -> Degradation:
    """A mix like the bench's synthetic set: any multiple of 90 degrees plus up to 10 degrees of
    skew, JPEG 40-90, noise, blur and sometimes glare."""
    quarter = float(rng.choice([0.0, 90.0, 180.0, 270.0], p=[0.55, 0.15, 0.15, 0.15]))
    return Degradation(
        rotation=quarter + float(rng.uniform(-10.0, 10.0)),
        shear=float(rng.uniform(-0.03, 0.03)),
        blur=float(rng.choice([0.0, 0.6, 1.0, 1.4])),
        noise=float(rng.uniform(0.0, 12.0)),
        jpeg_quality=int(rng.integers(40, 91)),
        glare=int(rng.choice([0, 0, 1, 2])),
        light_gradient=float(rng.uniform(0.0, 0.35)),
    )


def degrade(image: np.ndarray, spec: Degradation, rng: np.random.Generator) -> np.ndarray:
    """Apply ``spec`` to a BGR image; returns a new BGR image."""
    h, w = image.shape[:2]
    pad = int(max(h, w) * spec.margin)
    bg = tuple(int(v) for v in rng.integers(40, 120, size=3))
    img = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=bg)
    h, w = img.shape[:2]
    if spec.rotation or spec.shear:
        angle = math.radians(spec.rotation)
        cos, sin = abs(math.cos(angle)), abs(math.sin(angle))
        nw, nh = int(w * cos + h * sin) + 2, int(w * sin + h * cos) + 2
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), spec.rotation, 1.0)
        shear = np.array([[1.0, spec.shear, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        full = np.vstack([matrix, [0, 0, 1]]) @ shear
        full[0, 2] += (nw - w) / 2
        full[1, 2] += (nh - h) / 2
        img = cv2.warpAffine(img, full[:2], (nw, nh), flags=cv2.INTER_LINEAR, borderValue=bg)
        h, w = img.shape[:2]
    if spec.perspective:
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        jitter = rng.uniform(0, spec.perspective, size=(4, 2)) * np.array([w, h])
        inward = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64)
        dst = (src + jitter * inward).astype(np.float32)
        matrix = cv2.getPerspectiveTransform(src, dst)
        img = cv2.warpPerspective(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=bg)
    out: np.ndarray = img.astype(np.float32)
    if spec.light_gradient:
        gx = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
        gy = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
        a = float(rng.uniform(0, 6.28))
        ramp = 1.0 - spec.light_gradient * 0.5 * (1 + math.cos(a) * gx + math.sin(a) * gy)
        out *= ramp[..., None]
    for _ in range(spec.glare):
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        radius = float(rng.uniform(0.04, 0.12)) * max(h, w)
        yy, xx = np.ogrid[0:h, 0:w]
        spot = np.exp(-((np.square(xx - cx) + np.square(yy - cy)) / (2 * radius**2)))
        out = out + np.asarray(spot, np.float32)[..., None] * float(rng.uniform(60, 140))
    if spec.blur:
        out = cv2.GaussianBlur(out, (0, 0), spec.blur)
    if spec.noise:
        out += rng.normal(0.0, spec.noise, size=out.shape).astype(np.float32)
    result: np.ndarray = np.clip(out, 0, 255).astype(np.uint8)
    if spec.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, int(spec.jpeg_quality)])
        back = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if back is not None:
            result = back
    return result


@dataclass(frozen=True)
class SyntheticPage:
    image: np.ndarray
    lines: list[str]
    identity: Identity
    degradation: Degradation
    dpi: float


def synthetic_page(
    seed: int,
    doc_format: str | None = None,
    *,
    dpi: float | None = None,
    degradation: Degradation | None = None,
) -> SyntheticPage:
    """The page for ``seed``: format, identity, resolution and degradation all follow from it
    unless given."""
    rng = np.random.default_rng(seed)
    fmt = doc_format or str(rng.choice(["TD1", "TD3", "TD3", "TD2"]))
    identity = random_identity(rng, fmt)
    res = dpi if dpi is not None else float(rng.choice([150.0, 200.0, 300.0, 400.0, 600.0]))
    clean, lines = render_page(identity, dpi=res, rng=rng)
    spec = degradation if degradation is not None else random_degradation(rng)
    return SyntheticPage(degrade(clean, spec, rng), lines, identity, spec, res)


HARD_KINDS = ("small", "two_sided", "visa", "phone", "wide_visa", "visa_scan")


def _paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    h, w = image.shape[:2]
    canvas[y : y + h, x : x + w] = image


def hard_page(seed: int, kind: str) -> SyntheticPage:
    """A page from the hard cases a gate meets every day, drawn from ``seed``:

    - ``small``: a TD1 or TD3 page at 85-110 dpi, MRZ characters about 7-9 px high;
    - ``two_sided``: an ID card photographed front and back side by side (the MRZ on the back
      covers less than half the image width);
    - ``visa``: an MRV-A visa sticker on a passport page with a strong guilloche pattern;
    - ``phone``: a hand-held photo: perspective, any quarter turn plus up to 30 degrees, glare;
    - ``wide_visa``: a clean, high-contrast MRV-A visa MRZ with characters about 11-13 px high
      and wide letter spacing (1.3 to 1.6 times the OCR-B advance), under a printed text line;
    - ``visa_scan``: a whole MRV-A visa sticker scanned about 445 px wide (MRZ characters
      about 8 px high) with a textured (guilloche) background over the sticker itself.
    """
    if kind not in HARD_KINDS:
        raise ValueError(f"hard case {kind!r}: expected one of {', '.join(HARD_KINDS)}")
    rng = np.random.default_rng(seed)
    quarter = float(rng.choice([0.0, 90.0, 180.0, 270.0]))
    if kind == "wide_visa":
        return _wide_visa(rng)
    if kind == "visa_scan":
        return _visa_scan(rng)
    if kind == "small":
        fmt = str(rng.choice(["TD1", "TD3"]))
        identity = random_identity(rng, fmt)
        dpi = float(rng.uniform(85.0, 110.0))
        clean, lines = render_page(identity, dpi=dpi, rng=rng)
        spec = Degradation(
            rotation=quarter + float(rng.uniform(-5, 5)),
            blur=float(rng.choice([0.0, 0.4])),
            noise=float(rng.uniform(0, 5)),
            jpeg_quality=int(rng.integers(70, 95)),
            light_gradient=float(rng.uniform(0, 0.2)),
        )
    elif kind == "two_sided":
        identity = random_identity(rng, "TD1")
        dpi = float(rng.uniform(150.0, 300.0))
        back, lines = render_page(identity, dpi=dpi, rng=rng)
        front, _ = render_page(random_identity(rng, "TD1"), dpi=dpi, rng=rng)
        mrz_top = int((FORMATS["TD1"][1] - 4.0 - 3 * LINE_PITCH_MM - 1.0) * dpi / 25.4)
        front[mrz_top:] = front[mrz_top - 1 : mrz_top]  # the front side has no MRZ
        gap = int(rng.integers(10, 60))
        h, w = back.shape[:2]
        clean = np.full((h + 2 * gap, 2 * w + 3 * gap, 3), int(rng.integers(60, 200)), np.uint8)
        _paste(clean, front, gap, gap)
        _paste(clean, back, 2 * gap + w, gap)
        spec = Degradation(
            rotation=quarter + float(rng.uniform(-8, 8)),
            blur=float(rng.choice([0.0, 0.6])),
            noise=float(rng.uniform(0, 8)),
            jpeg_quality=int(rng.integers(50, 90)),
            glare=int(rng.choice([0, 1])),
            light_gradient=float(rng.uniform(0, 0.3)),
            margin=0.03,
        )
    elif kind == "visa":
        identity = random_identity(rng, "MRVA")
        dpi = float(rng.uniform(150.0, 300.0))
        sticker, lines = render_page(identity, dpi=dpi, rng=rng)
        h, w = sticker.shape[:2]
        ph, pw = int(h * 1.35), int(w * 1.2)
        yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32) / (dpi / 25.4)
        phase = float(rng.uniform(0, 6.28))
        waves = np.sin(xx * 3.1 + 2.0 * np.sin(yy * 1.7 + phase)) * np.sin(yy * 2.3 - phase)
        tint = rng.integers(150, 230, size=3).astype(np.float32)
        page = tint[None, None, :] - 45.0 * np.clip(waves, 0, 1)[..., None] ** 3
        clean = np.clip(page, 0, 255).astype(np.uint8)
        _paste(clean, sticker, int(rng.integers(0, pw - w)), int(rng.integers(0, ph - h)))
        spec = Degradation(
            rotation=quarter + float(rng.uniform(-6, 6)),
            blur=float(rng.choice([0.0, 0.6])),
            noise=float(rng.uniform(0, 8)),
            jpeg_quality=int(rng.integers(50, 90)),
            light_gradient=float(rng.uniform(0, 0.3)),
            margin=0.04,
        )
    else:
        fmt = str(rng.choice(["TD1", "TD3", "TD3", "TD2"]))
        identity = random_identity(rng, fmt)
        dpi = float(rng.uniform(180.0, 300.0))
        clean, lines = render_page(identity, dpi=dpi, rng=rng)
        spec = Degradation(
            rotation=quarter + float(rng.uniform(-30, 30)),
            blur=float(rng.choice([0.0, 0.6, 1.0])),
            noise=float(rng.uniform(2, 10)),
            jpeg_quality=int(rng.integers(50, 85)),
            glare=int(rng.choice([1, 2])),
            light_gradient=float(rng.uniform(0.1, 0.4)),
            margin=0.15,
            perspective=float(rng.uniform(0.04, 0.1)),
        )
    return SyntheticPage(degrade(clean, spec, rng), lines, identity, spec, dpi)


def _wide_visa(rng: np.random.Generator) -> SyntheticPage:
    identity = random_identity(rng, "MRVA")
    lines = compose_mrz(identity)
    path = str(ocrb_font_path())
    cap = float(rng.uniform(11.0, 13.0))
    font = _font(path, round(cap / 0.72))
    pitch = font.getlength("A") * float(rng.uniform(1.3, 1.6))
    line_pitch = cap * float(rng.uniform(1.9, 2.2))
    width, height = int(pitch * 48), int(cap * 14)
    paper = int(rng.integers(215, 245))
    image = Image.new("RGB", (width, height), (paper, paper, paper - 5))
    draw = ImageDraw.Draw(image)
    label = _font(_text_font_path(), max(8, round(cap)))
    draw.text((int(pitch), int(cap)), "VISA   UTOPIA   ENTRIES MULT   DURATION 90 DAYS",
              font=label, fill=(60, 60, 70))  # fmt: skip
    top = height - cap * 2.5 - line_pitch * len(lines)
    for row, text in enumerate(lines):
        for col, ch in enumerate(text):
            draw.text((pitch * (2 + col), top + row * line_pitch), ch, font=font, fill=(20, 20, 20))
    spec = Degradation(
        rotation=float(rng.uniform(-2, 2)),
        noise=float(rng.uniform(0, 4)),
        jpeg_quality=int(rng.integers(80, 96)),
        margin=0.03,
    )
    clean = np.asarray(image)[..., ::-1].copy()
    return SyntheticPage(degrade(clean, spec, rng), lines, identity, spec, 0.0)


def _visa_scan(rng: np.random.Generator) -> SyntheticPage:
    identity = random_identity(rng, "MRVA")
    width_px = float(rng.uniform(430.0, 460.0))
    dpi = width_px / FORMATS["MRVA"][0] * 25.4
    sticker, lines = render_page(identity, dpi=dpi, rng=rng)
    h, w = sticker.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / (dpi / 25.4)
    phase = float(rng.uniform(0, 6.28))
    waves = np.sin(xx * 3.1 + 2.0 * np.sin(yy * 1.7 + phase)) * np.sin(yy * 2.3 - phase)
    texture = 40.0 * np.clip(waves, 0, 1) ** 2 + rng.normal(0, 4, (h, w))
    clean = np.clip(sticker.astype(np.float32) - texture[..., None], 0, 255).astype(np.uint8)
    spec = Degradation(
        rotation=float(rng.uniform(-3, 3)),
        blur=float(rng.choice([0.0, 0.5])),
        noise=float(rng.uniform(0, 5)),
        jpeg_quality=int(rng.integers(60, 92)),
        light_gradient=float(rng.uniform(0, 0.2)),
        margin=0.02,
    )
    return SyntheticPage(degrade(clean, spec, rng), lines, identity, spec, dpi)


def encode_png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("could not encode the page as PNG")
    return bytes(buf)


def pil_to_bgr(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))[..., ::-1].copy()
