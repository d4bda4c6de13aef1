"""Read the MRZ from a page image: locate, cut into cells, classify, decode with the MRZ layout
and the check digits, then hand the lines to the MRZ layer (gate.mrz) for parsing and repair.

    result = read_image("page.jpg")       # or a numpy BGR/grey array, or encoded bytes
    result.found, result.lines, result.confidence, result.to_dict()

Never raises on a readable image without an MRZ: ``found`` is False and ``message`` says
"no MRZ found". Unreadable input (not an image) raises :class:`ImageError`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivers.mrz_ocr import layout as lay
from drivers.mrz_ocr.locate import MrzRegion, find_mrz
from drivers.mrz_ocr.recognise import ALPHABET, Classifier, load_classifier
from drivers.mrz_ocr.segment import line_cells, warp_line
from gate.errors import EgateError
from gate.mrz import Candidate, MrzResult, parse, repair
from gate.mrz.checkdigit import check_digit

NO_MRZ = "no MRZ found"
_GOOD_SCORE = math.log(0.8)  # mean per-character probability that ends the search early
_SURE_SCORE = math.log(0.9)  # ... and that, uncorrected, ends it before the other direction
_MIN_SCORE = math.log(0.35)  # below this, and with failing checks, it is not an MRZ
_CONSISTENT_SCORE = math.log(0.6)  # below this, passing checks are not trusted
MAX_CORRECTIONS = 3
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


class ImageError(EgateError):
    """The input could not be decoded as an image."""

    reason_code = "MRZ_NOT_READ"


@dataclass
class Decoded:
    lines: list[str]
    confidence: list[list[float]]
    layout: str
    score: float  # mean log-probability of the chosen characters
    checks_ok: bool
    corrections: list[str] = field(default_factory=list)


@dataclass
class OcrResult:
    found: bool
    message: str
    lines: list[str]
    confidence: list[list[float]]
    layout: str | None
    checks_ok: bool
    corrections: list[str]
    parsed: MrzResult | None
    candidates: list[Candidate]
    timings: dict[str, float]
    seconds: float

    @property
    def valid(self) -> bool:
        return bool(self.parsed is not None and self.parsed.valid)

    def to_dict(self) -> dict[str, Any]:
        parsed = self.parsed.to_dict() if self.parsed is not None else None
        return {
            "found": self.found,
            "message": self.message,
            "format": self.layout,
            "lines": self.lines,
            "valid": self.valid,
            "fields": parsed["fields"] if parsed else {},
            "checks": parsed["checks"] if parsed else {},
            "bac_key": parsed["bac_key"] if parsed else None,
            "confidence": [[round(c, 4) for c in row] for row in self.confidence],
            "corrections": self.corrections,
            "candidates": [c.to_dict() for c in self.candidates],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "seconds": round(self.seconds, 4),
        }


def load_image(source: str | Path | bytes | np.ndarray) -> np.ndarray:
    """A grayscale uint8 array from a path, encoded bytes or an array (BGR, BGRA or grey)."""
    img: np.ndarray
    if isinstance(source, np.ndarray):
        img = source
    else:
        if isinstance(source, (str, Path)):
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise ImageError(f"cannot read image file {source}: {exc}") from exc
        else:
            data = bytes(source)
        decoded: np.ndarray | None = cv2.imdecode(
            np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE
        )
        if decoded is None:
            raise ImageError(
                f"{source if isinstance(source, (str, Path)) else 'the given bytes'} is not a "
                "decodable image (JPEG, PNG, TIFF, BMP...)"
            )
        img = decoded
    if img.size == 0 or img.dtype.kind not in "uif" or img.ndim not in (2, 3):
        raise ImageError(f"array of shape {img.shape} and type {img.dtype} is not an image")
    if img.dtype != np.uint8:
        lo, hi = float(img.min()), float(img.max())
        img = ((img.astype(np.float64) - lo) * (255.0 / max(hi - lo, 1e-9))).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
    elif img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    elif img.ndim == 3:
        img = img[..., 0]
    if img.ndim != 2 or min(img.shape) < 8:
        raise ImageError(f"image of shape {img.shape} is too small or not a picture")
    return np.ascontiguousarray(img)


def _region_logprobs(
    gray: np.ndarray, region: MrzRegion, flip: bool, model: Classifier, extend: bool = False
) -> tuple[list[np.ndarray], int] | None:
    order = list(region.lines[::-1] if flip else region.lines)
    allowed = (30,) if len(order) == 3 else (36, 44)
    results = []
    for line in order:
        strip = warp_line(gray, line, region.angle, flip=flip, extend=extend)
        cells = line_cells(strip, allowed)
        if cells is None:
            return None
        results.append(cells)
    counts = [c.features.shape[0] for c in results]
    length = max(set(counts), key=counts.count)
    if any(c != length for c in counts):
        return None
    return [model.log_probs(c.features) for c in results], length


def _decode(logps: list[np.ndarray], layout: lay.Layout) -> Decoded:
    lines: list[list[str]] = []
    conf: list[list[float]] = []
    masked_all: list[np.ndarray] = []
    for row, lp in enumerate(logps):
        masks = np.array([lay.allowed_mask(a) for a in layout.allowed[row]], dtype=bool)
        masked = np.where(masks, lp, -np.inf)
        masked = masked - np.logaddexp.reduce(masked, axis=1, keepdims=True)
        masked_all.append(masked)
        best = masked.argmax(axis=1)
        lines.append([ALPHABET[int(i)] for i in best])
        conf.append([float(np.exp(masked[i, b])) for i, b in enumerate(best)])
    corrections: list[str] = []
    ok = True
    for check in layout.checks:
        fixed = _fix_check(lines, masked_all, check, corrections)
        ok = ok and fixed
    # a later fix (the composite) may touch a field an earlier check protects
    ok = ok and all(_check_passes(lines, check) for check in layout.checks)
    texts = ["".join(r) for r in lines]
    for row, text in enumerate(texts):
        for i, ch in enumerate(text):
            conf[row][i] = float(np.exp(masked_all[row][i, _INDEX[ch]]))
    score = float(np.mean([math.log(max(c, 1e-9)) for row in conf for c in row]))
    # a few corrections are OCR slips; many mean the check digits were forced onto noise
    ok = ok and len(corrections) <= MAX_CORRECTIONS and score >= _CONSISTENT_SCORE
    return Decoded(texts, conf, layout.name, score, ok, corrections)


def _rank(decoded: Decoded) -> tuple[bool, int, float]:
    """Consistent readings first, then those needing fewer corrections, then confidence."""
    return (decoded.checks_ok, -len(decoded.corrections), decoded.score)


def _check_passes(lines: list[list[str]], check: lay.Check) -> bool:
    data = "".join("".join(lines[r][s:e]) for r, s, e in check.spans)
    digit = lines[check.digit[0]][check.digit[1]]
    if check.may_be_filler and digit == "<" and set(data) <= {"<"}:
        return True
    if check.name == "document_number" and digit == "<" and check.digit == (0, 14):
        return True  # TD1 long document number: the check digit sits in the optional field
    return digit.isdigit() and check_digit(data) == digit


def _fix_check(
    lines: list[list[str]],
    logps: list[np.ndarray],
    check: lay.Check,
    corrections: list[str],
    max_alternatives: int = 3,
    max_cost: float = 5.0,
) -> bool:
    """Make ``check`` pass with the cheapest one or two substitutions among the classifier's
    next-best characters; leaves the lines alone when no such change exists."""
    if _check_passes(lines, check):
        return True
    positions = [(r, i) for r, s, e in check.spans for i in range(s, e)]
    positions.append(check.digit)
    options: list[tuple[float, int, int, str]] = []
    for r, i in positions:
        lp = logps[r][i]
        current = lp[_INDEX[lines[r][i]]]
        for k in np.argsort(-lp)[: max_alternatives + 1]:
            ch = ALPHABET[int(k)]
            cost = float(current - lp[k])
            if ch != lines[r][i] and np.isfinite(lp[k]) and cost <= max_cost:
                options.append((cost, r, i, ch))
    options.sort()
    options = options[:24]
    best: tuple[float, list[tuple[int, int, str]]] | None = None
    for size in (1, 2):
        for combo in itertools.combinations(options, size):
            cells = {(r, i) for _, r, i, _ in combo}
            if len(cells) < size:
                continue
            cost = sum(c for c, _, _, _ in combo)
            if best is not None and cost >= best[0]:
                continue
            saved = [(r, i, lines[r][i]) for _, r, i, _ in combo]
            for _, r, i, ch in combo:
                lines[r][i] = ch
            if _check_passes(lines, check):
                best = (cost, [(r, i, ch) for _, r, i, ch in combo])
            for r, i, ch in saved:
                lines[r][i] = ch
        if best is not None:
            break
    if best is None:
        return False
    for r, i, ch in best[1]:
        corrections.append(f"line {r + 1} position {i + 1}: {lines[r][i]}->{ch} ({check.name})")
        lines[r][i] = ch
    return True


def read_image(
    source: str | Path | bytes | np.ndarray,
    *,
    today: dt.date | None = None,
    model: Classifier | None = None,
    max_candidates: int = 5,
) -> OcrResult:
    """Read the MRZ of one page image. See the module docstring."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    gray = load_image(source)
    timings["load"] = time.perf_counter() - started
    model = model or load_classifier()
    t = time.perf_counter()
    regions = find_mrz(gray)
    timings["locate"] = time.perf_counter() - t
    t = time.perf_counter()
    best: Decoded | None = None
    attempts = [(r, f, e) for r in regions for e in (False, True) for f in (False, True)]
    for region, flip, extend in attempts:
        if extend and best is not None and best.checks_ok:
            continue  # the plain strip already read consistently
        got = _region_logprobs(gray, region, flip, model, extend)
        if got is None:
            continue
        logps, length = got
        first = ALPHABET[int(logps[0][0].argmax())]
        layout = lay.layout_for(len(logps), length, first)
        if layout is None:
            continue
        decoded = _decode(logps, layout)
        if best is None or _rank(decoded) > _rank(best):
            best = decoded
        # the other reading direction is skipped only after a reading that needed no
        # correction at all; otherwise both directions are compared before stopping early
        if not flip and best.checks_ok and not best.corrections and best.score > _SURE_SCORE:
            break
        if flip and best.checks_ok and best.score > _GOOD_SCORE:
            break
    timings["recognise"] = time.perf_counter() - t
    if best is not None and not best.checks_ok and best.score < _MIN_SCORE:
        best = None
    if best is None:
        return OcrResult(
            False, NO_MRZ, [], [], None, False, [], None, [], timings,
            time.perf_counter() - started,
        )  # fmt: skip
    t = time.perf_counter()
    parsed = parse(best.lines, today=today)
    candidates = repair(best.lines, today=today, max_candidates=max_candidates)
    timings["parse"] = time.perf_counter() - t
    return OcrResult(
        True,
        "MRZ read" if best.checks_ok else "MRZ read; check digits do not all agree",
        best.lines,
        best.confidence,
        best.layout,
        best.checks_ok,
        best.corrections,
        parsed,
        candidates,
        timings,
        time.perf_counter() - started,
    )
