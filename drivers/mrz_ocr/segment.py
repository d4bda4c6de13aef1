"""Cut MRZ lines into character cells.

Each line found by the locator is warped into an upright strip whose character height is
``CHAR_H`` pixels. The MRZ is printed at a fixed pitch with a character in every position (the
filler ``<`` included), so the columns of ink form a regular grid: the pitch and phase of that grid
are fitted to the column centres by least squares, and the number of cells is snapped to the
line lengths ICAO allows (30 for TD1, 36 for TD2, 44 for TD3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from drivers.mrz_ocr.locate import TextLine

CHAR_H = 32
STRIP_H = 2 * CHAR_H
GLYPH = 16
N_FEATURES = GLYPH * GLYPH + 3
MAX_GRID_RESIDUAL = 0.1  # median distance of column centres from the grid, in pitches


@dataclass(frozen=True)
class LineCells:
    features: np.ndarray  # (n, N_FEATURES) float32
    pitch: float
    columns_found: int


def warp_line(
    gray: np.ndarray, line: TextLine, angle: float, *, flip: bool = False, extend: bool = False
) -> np.ndarray:
    """The upright strip (STRIP_H high) of ``line`` read along ``angle`` (radians). With
    ``extend`` the strip reaches as far as a full 44-character line could on either side (for
    lines the locator saw only in part, e.g. under glare)."""
    s = CHAR_H / max(line.thickness, 1.0)
    extra = max(0.0, 44 * 1.15 * line.thickness - line.length) if extend else 0.0
    width = round((line.length + 1.5 * line.thickness + 2 * extra) * s)
    width = max(16, min(width, 4000))
    ux, uy = math.cos(angle), math.sin(angle)
    if flip:
        ux, uy = -ux, -uy
    vx, vy = -uy, ux
    cx, cy = line.center
    half_w, half_h = width / 2.0, STRIP_H / 2.0
    matrix = np.array(
        [
            [ux / s, vx / s, cx - (half_w * ux + half_h * vx) / s],
            [uy / s, vy / s, cy - (half_w * uy + half_h * vy) / s],
        ],
        dtype=np.float64,
    )
    return cv2.warpAffine(
        gray,
        matrix,
        (width, STRIP_H),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def ink_map(strip: np.ndarray) -> np.ndarray:
    """Ink darkness 0..1 with the background (paper, pattern, glare) divided out."""
    bg = cv2.dilate(strip, np.ones((1, CHAR_H), np.uint8))
    bg = cv2.dilate(bg, np.ones((CHAR_H // 2, 1), np.uint8))
    bg = cv2.GaussianBlur(bg, (0, 0), 3).astype(np.float32) + 1.0
    ink = 1.0 - strip.astype(np.float32) / bg
    ink = np.clip(ink, 0.0, 1.0)
    # local contrast: strokes under a glare spot or in shadow reach the same level
    local = cv2.dilate(ink, np.ones((CHAR_H, 2 * CHAR_H), np.uint8))
    local = cv2.GaussianBlur(local, (0, 0), CHAR_H / 2.0)
    ink = np.clip(ink / np.maximum(local, 0.08), 0.0, 1.0)
    return ink


def _columns(binary: np.ndarray) -> list[tuple[float, float, float, float]]:
    """(x_center, x0, x1, y_center) of ink columns near the middle of the strip. Only the text
    band counts: a frame or an ellipse drawn around the MRZ that touches a character would
    otherwise make one component too tall to be a glyph, and the character would be lost."""
    mid = STRIP_H / 2.0
    band = binary.copy()
    band[: max(0, int(mid - 0.65 * CHAR_H))] = 0
    band[int(mid + 0.65 * CHAR_H) :] = 0
    n, _, stats, cents = cv2.connectedComponentsWithStats(band, connectivity=8)
    boxes = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if area < 6 or h < 0.2 * CHAR_H or h > 1.6 * CHAR_H:
            continue
        if abs(float(cents[k][1]) - mid) > 0.6 * CHAR_H:
            continue
        if w > 2.5 * CHAR_H:
            continue
        boxes.append([x, x + w, y, y + h])
    boxes.sort()
    merged: list[list[int]] = []
    for b in boxes:
        if merged:
            last = merged[-1]
            overlap = min(last[1], b[1]) - max(last[0], b[0])
            if overlap > 0.5 * min(last[1] - last[0], b[1] - b[0]):
                last[0], last[1] = min(last[0], b[0]), max(last[1], b[1])
                last[2], last[3] = min(last[2], b[2]), max(last[3], b[3])
                continue
        merged.append(list(b))
    return [((b[0] + b[1]) / 2.0, b[0], b[1], (b[2] + b[3]) / 2.0) for b in merged]


@dataclass(frozen=True)
class Grid:
    """Cell centres along a strip: x(k) a polynomial in the cell index k (degree 1 for a flat
    print, 2 when perspective makes the pitch grow or shrink along the line)."""

    coeffs: np.ndarray
    n: int  # cells in the line (30, 36 or 44)
    lo: int  # lowest and highest index that holds an ink column
    hi: int

    def x(self, k: float) -> float:
        return float(np.polyval(self.coeffs, k))

    def pitch(self, k: float) -> float:
        return float(np.polyval(np.polyder(self.coeffs), k))


def _walk(gaps: np.ndarray, pitch: float) -> np.ndarray:
    """Indices of the columns, walking the gaps with a pitch that follows slow changes."""
    idx = [0]
    local = pitch
    for gap in gaps:
        step = max(1, round(float(gap) / local))
        idx.append(idx[-1] + step)
        if step == 1 and 0.75 * local < gap < 1.3 * local:
            local = 0.7 * local + 0.3 * float(gap)
    return np.array(idx, dtype=np.float64)


def _fit_grid(centers: np.ndarray, allowed: tuple[int, ...]) -> Grid | None:
    if len(centers) < 8:
        return None
    gaps = np.diff(centers)
    pitch = float(np.median(gaps))
    if pitch <= 2:
        return None
    # refine the pitch with gaps that are about one pitch
    near = gaps[(gaps > 0.7 * pitch) & (gaps < 1.3 * pitch)]
    if len(near):
        pitch = float(np.median(near))
    idx = _walk(gaps, pitch)
    estimate = float(idx[-1] + 1)
    n = min(allowed, key=lambda a: abs(a - estimate))
    if abs(n - estimate) > 0.2 * n:
        return None
    degree = 2 if len(centers) >= 12 else 1
    coeffs = np.polyfit(idx, centers, degree)
    for _ in range(2):
        ks = np.arange(idx.min() - 3, idx.max() + 4)
        xs = np.polyval(coeffs, ks)
        idx = ks[np.abs(centers[:, None] - xs[None, :]).argmin(axis=1)]
        coeffs = np.polyfit(idx, centers, degree)
    lo, hi = int(idx.min()), int(idx.max())
    local = np.polyval(np.polyder(coeffs), np.arange(lo - n, hi + n))
    # a pitch that turns negative or changes more than perspective can explain is not a grid
    if local.min() <= 2 or local.max() > 2.0 * local.min():
        return None
    # fixed-pitch print sits on the grid; proportional text does not
    residual = float(
        np.median(np.abs(centers - np.polyval(coeffs, idx)) / np.polyval(np.polyder(coeffs), idx))
    )
    collisions = len(idx) - len(set(idx.tolist()))
    if residual > MAX_GRID_RESIDUAL or collisions > 0.15 * n:
        return None
    return Grid(coeffs, n, lo, hi)


def _place(grid: Grid, counts: dict[int, int], middle: float) -> int:
    """Index of the first cell: choose which n consecutive grid positions hold the line,
    preferring the window with most ink columns, then the one centred on the located line."""
    n, lo, hi = grid.n, grid.lo, grid.hi
    best: tuple[int, float] | None = None
    chosen = lo
    for first in range(min(lo, hi - n + 1), max(lo, hi - n + 1) + 1):
        inside = sum(v for k, v in counts.items() if first <= k < first + n)
        centre = grid.x(first + (n - 1) / 2.0)
        key = (inside, -abs(centre - middle))
        if best is None or key > best:
            best, chosen = key, first
    return chosen


def line_cells(strip: np.ndarray, allowed: tuple[int, ...]) -> LineCells | None:
    """Features of every cell of an upright line strip, or None if no grid fits."""
    ink = ink_map(strip)
    binary = (ink > 0.45).astype(np.uint8)
    cols = _columns(binary)
    if len(cols) < 8:
        return None
    centers = np.array([c[0] for c in cols], dtype=np.float64)
    grid = _fit_grid(centers, allowed)
    if grid is None:
        return None
    ks = np.arange(grid.lo - 3, grid.hi + 4)
    xs = np.polyval(grid.coeffs, ks)
    idx = ks[np.abs(centers[:, None] - xs[None, :]).argmin(axis=1)]
    counts: dict[int, int] = {}
    for k in idx:
        counts[int(k)] = counts.get(int(k), 0) + 1
    first = _place(grid, counts, strip.shape[1] / 2.0)
    n = grid.n
    y_mid = float(np.median([c[3] for c in cols]))
    feats = np.zeros((n, N_FEATURES), dtype=np.float32)
    y0 = int(max(0, round(y_mid - 0.8 * CHAR_H)))
    y1 = int(min(STRIP_H, round(y_mid + 0.8 * CHAR_H)))
    width = ink.shape[1]
    for i in range(n):
        cx, pitch = grid.x(first + i), grid.pitch(first + i)
        half = 0.5 * pitch
        x0, x1 = int(max(0, math.floor(cx - half))), int(min(width, math.ceil(cx + half)))
        if x1 - x0 < 2:
            continue
        feats[i] = glyph_features(ink[y0:y1, x0:x1], binary[y0:y1, x0:x1], pitch, y_mid - y0)
    mean_pitch = (grid.x(first + n - 1) - grid.x(first)) / max(n - 1, 1)
    return LineCells(feats, mean_pitch, len(cols))


def glyph_features(
    cell_ink: np.ndarray, cell_bin: np.ndarray, pitch: float, y_mid: float
) -> np.ndarray:
    """GLYPH x GLYPH ink image of the glyph's bounding box (aspect kept, centred) followed by
    its width / pitch, height / CHAR_H and vertical offset / CHAR_H."""
    out = np.zeros(N_FEATURES, dtype=np.float32)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cell_bin, connectivity=8)
    keep = np.zeros_like(cell_bin)
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_AREA] >= 4:
            keep[labels == k] = 1
    ys, xs = np.nonzero(keep)
    if len(xs) == 0:
        return out
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    crop = cell_ink[y0:y1, x0:x1] * np.maximum(
        cv2.dilate(keep, np.ones((3, 3), np.uint8))[y0:y1, x0:x1], 0
    ).astype(np.float32)
    h, w = crop.shape
    side = max(h, w)
    scale = (GLYPH - 2) / side
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((GLYPH, GLYPH), dtype=np.float32)
    oy, ox = (GLYPH - nh) // 2, (GLYPH - nw) // 2
    canvas[oy : oy + nh, ox : ox + nw] = small
    out[: GLYPH * GLYPH] = canvas.ravel()
    out[GLYPH * GLYPH] = w / pitch
    out[GLYPH * GLYPH + 1] = h / CHAR_H
    out[GLYPH * GLYPH + 2] = ((y0 + y1) / 2.0 - y_mid) / CHAR_H
    return out
