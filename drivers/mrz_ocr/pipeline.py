"""Read the MRZ from a page image: locate, cut into cells, classify, decode with the MRZ layout
and the check digits, then hand the lines to the MRZ layer (gate.mrz) for parsing and repair.

    result = read_image("page.jpg")       # or a numpy BGR/grey array, or encoded bytes
    result.found, result.lines, result.confidence, result.to_dict()
    result.doubtful    # characters no check digit protects whose glyph is uncertain (names)
    result.ambiguous   # several readings pass every check: result.readings, best first

The per-character confidences are calibrated probabilities (the classifier's temperature is
fitted on held-out data). A reading is never claimed certain when another reading the glyphs
allow passes every check as well: ``ambiguous`` is then true and ``readings`` lists them, each
with its BAC key, ranked by the recogniser's scores (the chip decides).

Never raises on a readable image without an MRZ: ``found`` is False and ``message`` says
"no MRZ found". Unreadable input (not an image) raises :class:`ImageError`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivers.mrz_ocr.colour import ink_gray
from drivers.mrz_ocr.locate import WORK_SIDE, MrzRegion, TextLine, find_mrz
from drivers.mrz_ocr.recognise import ALPHABET, Classifier, load_classifier
from drivers.mrz_ocr.segment import line_cells, warp_line
from gate.errors import EgateError
from gate.face.errors import ImageDecodeError, ImageTooLargeError
from gate.face.portrait import IMAGE_MAX_PIXELS, checked_header
from gate.files import InputFileError, read_bounded
from gate.mrz import Candidate, MrzResult, parse, repair
from gate.mrz import layout as lay
from gate.mrz.checkdigit import check_digit
from gate.mrz.reading import Doubt, Reading

NO_MRZ = "no MRZ found"
BUDGET_SPENT = "no MRZ found (search budget spent)"
SEARCH_BUDGET = 1.5  # s: no new search step (second locate pass, next region) starts after it
_GOOD_SCORE = math.log(0.8)  # mean per-character probability that ends the search early
_SURE_SCORE = math.log(0.9)  # ... and that, uncorrected, ends it before the other direction
_MIN_SCORE = math.log(0.35)  # below this, and with failing checks, it is not an MRZ
_CONSISTENT_SCORE = math.log(0.6)  # below this, passing checks are not trusted
_PRINTED_SCORE = math.log(0.85)  # an unconstrained reading this sure is what is printed
MAX_CORRECTIONS = 3
SECOND_PASS_SIDE = 2400  # px: the finer search for small print in large photos
DOUBT = 0.9  # a character below this confidence that no check digit covers is doubtful
ALTERNATIVE = 0.02  # a glyph alternative at least this probable is a possible reading
MAX_AMBIGUOUS_POSITIONS = 8  # alternatives combined when looking for other valid readings
MAX_AMBIGUITY_COST = 3.0  # other readings at least e^-3 (5 %) as likely as the best count
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
    logps: list[np.ndarray] = field(default_factory=list)  # per line, masked by the classes
    positions: lay.Positions | None = None
    as_printed: bool = False  # read without the format's classes (a non-conforming MRZ)
    code_confidence: float = 1.0  # unconstrained probability of the format-deciding letter


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
    doubtful: list[Doubt] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    budget_spent: bool = False
    """The search stopped at :data:`SEARCH_BUDGET` before trying every step."""

    @property
    def ambiguous(self) -> bool:
        """More than one reading the glyphs allow passes every check."""
        return len(self.readings) > 1

    @property
    def valid(self) -> bool:
        return bool(self.parsed is not None and self.parsed.valid)

    @property
    def certain(self) -> bool:
        """Valid, no other valid reading plausible and no doubtful character: the only state
        in which the reading may be taken as the document's data without the chip (DG1)
        confirming it."""
        return self.valid and not self.ambiguous and not self.doubtful

    def to_dict(self) -> dict[str, Any]:
        parsed = self.parsed.to_dict() if self.parsed is not None else None
        return {
            "found": self.found,
            "message": self.message,
            "format": self.layout,
            "lines": self.lines,
            "valid": self.valid,
            "ambiguous": self.ambiguous,
            "certain": self.certain,
            "fields": parsed["fields"] if parsed else {},
            "checks": parsed["checks"] if parsed else {},
            "missing_checks": parsed["missing_checks"] if parsed else [],
            "bac_key": parsed["bac_key"] if parsed else None,
            "confidence": [[round(c, 4) for c in row] for row in self.confidence],
            "doubtful": [d.to_dict() for d in self.doubtful],
            "readings": [r.to_dict() for r in self.readings],
            "corrections": self.corrections,
            "budget_spent": self.budget_spent,
            "candidates": [c.to_dict() for c in self.candidates],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "seconds": round(self.seconds, 4),
        }


def load_image(source: str | Path | bytes | np.ndarray) -> np.ndarray:
    """A grayscale uint8 array from a path, encoded bytes or an array (BGR, BGRA or grey);
    colour becomes :func:`~drivers.mrz_ocr.colour.ink_gray`."""
    img: np.ndarray
    if isinstance(source, np.ndarray):
        img = source
    else:
        what = str(source) if isinstance(source, (str, Path)) else "the given image bytes"
        if isinstance(source, (str, Path)):
            try:
                data = read_bounded(source, "image")
            except InputFileError as exc:
                raise ImageError(str(exc)) from None
        else:
            data = bytes(source)
        try:  # the pixel limit from the header, before anything is decoded (shared with faces)
            checked_header(data, max_pixels=IMAGE_MAX_PIXELS, what=what)
        except (ImageDecodeError, ImageTooLargeError) as exc:
            raise ImageError(str(exc)) from None
        try:
            decoded: np.ndarray | None = cv2.imdecode(
                np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR
            )
        except cv2.error as exc:
            raise ImageError(f"{what}: the decoder failed: {exc}") from None
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
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = ink_gray(img)  # coloured strokes are not MRZ ink
    elif img.ndim == 3:
        img = img[..., 0]
    if img.ndim != 2 or min(img.shape) < 8:
        raise ImageError(f"image of shape {img.shape} is too small or not a picture")
    return np.ascontiguousarray(img)


def _region_logprobs(
    gray: np.ndarray, region: MrzRegion, flip: bool, model: Classifier, extend: bool = False
) -> tuple[list[np.ndarray], int] | None:
    order = _aligned(list(region.lines[::-1] if flip else region.lines), region.angle)
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


def _aligned(lines: list[TextLine], angle: float) -> list[TextLine]:
    """The lines of one MRZ start and end at the same place along the reading direction: give
    every line the common middle and the longest length, so a line whose end the locator
    missed (glare, a character touching a frame) is cut like the others."""
    ux, uy = math.cos(angle), math.sin(angle)
    along = [ln.center[0] * ux + ln.center[1] * uy for ln in lines]
    middle = float(np.median(along))
    length = max(ln.length for ln in lines)
    return [
        TextLine(
            (ln.center[0] + (middle - a) * ux, ln.center[1] + (middle - a) * uy),
            ln.angle,
            length,
            ln.thickness,
        )
        for ln, a in zip(lines, along, strict=True)
    ]


@lru_cache(maxsize=16)
def _masks(positions: lay.Positions) -> tuple[np.ndarray, ...]:
    return tuple(
        np.array([[c in chars for c in ALPHABET] for chars in row], dtype=bool)
        for row in positions.classes
    )


def _decode(logps: list[np.ndarray], positions: lay.Positions) -> Decoded:
    lines: list[list[str]] = []
    masked_all: list[np.ndarray] = []
    for row, lp in enumerate(logps):
        masked = np.where(_masks(positions)[row], lp, -np.inf)
        masked = masked - np.logaddexp.reduce(masked, axis=1, keepdims=True)
        masked_all.append(masked)
        lines.append([ALPHABET[int(i)] for i in masked.argmax(axis=1)])
    corrections: list[str] = []
    ok = True
    for check in positions.checks:
        fixed = _fix_check(lines, masked_all, check, corrections)
        ok = ok and fixed
    # a later fix (the composite) may touch a field an earlier check protects
    ok = ok and all(_check_passes(lines, check) for check in positions.checks)
    texts = ["".join(r) for r in lines]
    conf = _confidences(texts, masked_all)
    score = float(np.mean([math.log(max(c, 1e-9)) for row in conf for c in row]))
    # a few corrections are OCR slips; many mean the check digits were forced onto noise
    ok = ok and len(corrections) <= MAX_CORRECTIONS and score >= _CONSISTENT_SCORE
    return Decoded(texts, conf, positions.name, score, ok, corrections, masked_all, positions)


def _decode_layouts(logps: list[np.ndarray], length: int) -> list[Decoded]:
    """Decode with every format the first characters plausibly announce (the first letter
    decides passport or visa, and a misread 'P'/'V' must not silently pick the wrong one)."""
    first = np.exp(logps[0][0])
    rest = "".join(ALPHABET[int(k)] for k in logps[0][1:5].argmax(axis=1))
    letters = [ALPHABET[int(k)] for k in np.argsort(-first)[:3] if first[k] >= ALTERNATIVE]
    letters = letters or [ALPHABET[int(first.argmax())]]
    out: list[Decoded] = []
    seen: set[str] = set()
    for letter in letters:
        positions = lay.positions_for(len(logps), length, letter + rest)
        if positions is None or positions.name in seen:
            continue
        seen.add(positions.name)
        decoded = _decode(logps, positions)
        decoded.code_confidence = float(first[_INDEX[decoded.lines[0][0]]])
        out.append(decoded)
    return out


def _confidences(texts: list[str], logps: list[np.ndarray]) -> list[list[float]]:
    return [
        [float(np.exp(logps[row][i, _INDEX[ch]])) for i, ch in enumerate(text)]
        for row, text in enumerate(texts)
    ]


def _as_printed(logps: list[np.ndarray], positions: lay.Positions) -> Decoded | None:
    """The reading without the format's character classes, when the glyphs are clear: some
    documents print a letter or '<' where ICAO wants a check digit (an Austrian card prints no
    expiry check digit, so the nationality starts one column early). None when unsure."""
    texts = ["".join(ALPHABET[int(i)] for i in lp.argmax(axis=1)) for lp in logps]
    conf = _confidences(texts, logps)
    score = float(np.mean([math.log(max(c, 1e-9)) for row in conf for c in row]))
    if score < _PRINTED_SCORE:
        return None
    return Decoded(texts, conf, positions.name, score, False, [], list(logps), positions, True)


def _rank(decoded: Decoded) -> tuple[bool, int, float]:
    """Consistent readings first, then those needing fewer corrections, then confidence."""
    return (decoded.checks_ok, -len(decoded.corrections), decoded.score)


def _check_passes(lines: list[list[str]] | list[str], check: lay.Check) -> bool:
    data = "".join("".join(lines[r][s:e]) for r, s, e in check.spans)
    digit = lines[check.digit[0]][check.digit[1]]
    if check.may_be_filler and digit == "<" and set(data) <= {"<"}:
        return True
    if check.long_number and digit == "<":
        return True  # long document number: the check digit sits in the optional field
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


def _unvouched(decoded: Decoded, positions: lay.Positions) -> set[tuple[int, int]]:
    """Uncertain characters (below :data:`DOUBT`) that no check digit vouches for: one check
    digit can confirm one uncertain character of what it covers, not two (two guesses, or a
    correction plus a guess, pass a mod-10 check about one time in ten), and none the
    recogniser found implausible (below :data:`ALTERNATIVE`: a check digit satisfied by such a
    glyph more likely hides an error elsewhere, e.g. a glyph a stroke turned into another)."""
    low = {
        (r, i)
        for r, row in enumerate(decoded.confidence)
        for i, conf in enumerate(row)
        if conf < DOUBT and (r, i) != (0, 0)
    }
    groups = [
        {(r, i) for r, s, e in check.spans for i in range(s, e)} | {check.digit}
        for check in positions.checks
    ]
    out = set()
    for cell in low:
        covering = [cells for cells in groups if cell in cells]
        conf = decoded.confidence[cell[0]][cell[1]]
        if conf < ALTERNATIVE or not any(len(cells & low) == 1 for cells in covering):
            out.add(cell)
    return out


def _doubtful(decoded: Decoded) -> list[Doubt]:
    """Characters whose glyph is uncertain and that no check digit vouches for: those no check
    covers (names; sex; codes) and those sharing a check digit with another uncertain one."""
    positions = decoded.positions
    if positions is None:
        return []
    out: list[Doubt] = []
    if decoded.code_confidence < DOUBT:  # the letter that decided the format itself
        out.append(Doubt(1, 1, "document_code", decoded.lines[0][0], decoded.code_confidence, ()))
    for row, i in sorted(_unvouched(decoded, positions)):
        ch = decoded.lines[row][i]
        probs = np.exp(decoded.logps[row][i])
        order = [int(k) for k in np.argsort(-probs)[:4] if ALPHABET[int(k)] != ch]
        alts = tuple((ALPHABET[k], float(probs[k])) for k in order if probs[k] >= ALTERNATIVE)
        conf = decoded.confidence[row][i]
        out.append(Doubt(row + 1, i + 1, positions.field_of(row, i), ch, conf, alts))
    return out


def _readings(decoded: Decoded, today: dt.date | None, limit: int) -> list[Reading]:
    """Every reading that passes all checks when plausible glyph alternatives are swapped in
    the alphanumeric fields (document number, optional data), ranked by recogniser cost. The
    check digits cannot tell 0 from O in some positions (O = 24 and 0 = 0 can collide modulo
    10 under the 7-3-1 weights), so a lone valid reading is only certain when no such swap
    also passes."""
    positions = decoded.positions
    if positions is None or not decoded.checks_ok:
        return []
    options: list[tuple[int, int, str, float]] = []
    for r, s, e in positions.alphanumeric_spans:
        for i in range(s, e):
            lp = decoded.logps[r][i]
            current = decoded.lines[r][i]
            for k in np.argsort(-lp)[:3]:
                ch = ALPHABET[int(k)]
                if ch != current and np.exp(lp[k]) >= ALTERNATIVE:
                    options.append((r, i, ch, float(lp[_INDEX[current]] - lp[k])))
    options.sort(key=lambda o: o[3])
    options = options[:MAX_AMBIGUOUS_POSITIONS]
    base = tuple(decoded.lines)
    found: list[Reading] = [Reading(base, 0.0, None)]
    seen = {base}
    for size in range(1, len(options) + 1):
        for combo in itertools.combinations(options, size):
            cost = sum(c for *_, c in combo)
            if cost > MAX_AMBIGUITY_COST or len({(r, i) for r, i, _, _ in combo}) < size:
                continue
            rows = [list(line) for line in base]
            for r, i, ch, _ in combo:
                rows[r][i] = ch
            if not all(_check_passes(rows, check) for check in positions.checks):
                continue
            lines = tuple("".join(row) for row in rows)
            if lines not in seen:
                seen.add(lines)
                found.append(Reading(lines, cost, None))
    if len(found) == 1:
        return []
    found.sort(key=lambda reading: reading.cost)
    out = []
    for reading in found[:limit]:
        parsed = parse(list(reading.lines), today=today)
        # a filler inside a document number is not a reading, whatever the check digits say
        if parsed.valid and "<" not in parsed.fields.document_number:
            out.append(Reading(reading.lines, reading.cost, parsed.bac_key))
    return out if len(out) > 1 else []


def _read_regions(
    gray: np.ndarray,
    regions: list[MrzRegion],
    model: Classifier,
    deadline: float = math.inf,
) -> tuple[Decoded | None, Decoded | None]:
    """The best reading of the regions (both directions, plain and extended strips) and the
    best clear unconstrained reading, if any (see :func:`_as_printed`). No new attempt starts
    after ``deadline`` (``time.perf_counter()``)."""
    best: Decoded | None = None
    printed: Decoded | None = None
    attempts = [(r, f, e) for r in regions for e in (False, True) for f in (False, True)]
    for region, flip, extend in attempts:
        if time.perf_counter() > deadline:
            break
        if extend and best is not None and best.checks_ok:
            continue  # the plain strip already read consistently
        got = _region_logprobs(gray, region, flip, model, extend)
        if got is None:
            continue
        logps, length = got
        for decoded in _decode_layouts(logps, length):
            if best is None or _rank(decoded) > _rank(best):
                best = decoded
            if (not decoded.checks_ok or decoded.corrections) and decoded.positions is not None:
                plain = _as_printed(logps, decoded.positions)
                if plain is not None and (printed is None or plain.score > printed.score):
                    printed = plain
        if best is None:
            continue
        # the other reading direction is skipped only after a reading that needed no
        # correction at all; otherwise both directions are compared before stopping early
        if not flip and best.checks_ok and not best.corrections and best.score > _SURE_SCORE:
            break
        if flip and best.checks_ok and best.score > _GOOD_SCORE:
            break
    return best, printed


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
    deadline = started + SEARCH_BUDGET
    regions = find_mrz(gray, deadline=deadline)
    timings["locate"] = time.perf_counter() - t
    t = time.perf_counter()
    best, printed = _read_regions(gray, regions, model, deadline)
    budget_spent = time.perf_counter() > deadline
    if (best is None or not best.checks_ok) and not budget_spent:
        # second and last pass: finer for small print in a large photo, and diagonal turns
        t2 = time.perf_counter()
        more = find_mrz(gray, turns=(45, 135), deadline=deadline)
        if max(gray.shape) > 1.5 * WORK_SIDE:
            more += find_mrz(gray, work_side=SECOND_PASS_SIDE, deadline=deadline)
            more.sort(key=lambda region: -region.score)
        second_locate = time.perf_counter() - t2
        timings["locate"] += second_locate
        t += second_locate  # "recognise" counts recognition only
        best2, printed2 = _read_regions(gray, more, model, deadline)
        if best2 is not None and (best is None or _rank(best2) > _rank(best)):
            best = best2
        if printed2 is not None and (printed is None or printed2.score > printed.score):
            printed = printed2
        budget_spent = time.perf_counter() > deadline
    timings["recognise"] = time.perf_counter() - t
    if (
        best is not None
        and printed is not None
        and (not best.checks_ok or not parse(best.lines, today=today).valid)
    ):
        best = printed  # a clear print that does not follow ICAO: read it as printed
    if best is not None and not best.checks_ok and best.score < _MIN_SCORE:
        best = None
    if best is None:
        return OcrResult(
            False, BUDGET_SPENT if budget_spent else NO_MRZ, [], [], None, False, [], None, [],
            timings, time.perf_counter() - started, budget_spent=budget_spent,
        )  # fmt: skip
    t = time.perf_counter()
    parsed = parse(best.lines, today=today)
    candidates = repair(best.lines, today=today, max_candidates=max_candidates)
    readings = _readings(best, today, max_candidates)
    timings["parse"] = time.perf_counter() - t
    if readings:
        message = f"MRZ read; ambiguous: {len(readings)} readings pass every check"
    elif best.checks_ok:
        message = "MRZ read"
    elif best.as_printed:
        missing = ", ".join(parsed.missing_checks)
        message = "MRZ read as printed; " + (
            f"the document prints no check digit for: {missing}"
            if missing
            else "check digits do not all agree"
        )
    else:
        message = "MRZ read; check digits do not all agree"
    return OcrResult(
        True,
        message,
        best.lines,
        best.confidence,
        parsed.format,
        best.checks_ok,
        best.corrections,
        parsed,
        candidates,
        timings,
        time.perf_counter() - started,
        _doubtful(best),
        readings,
    )
