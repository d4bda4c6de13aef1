"""Find the MRZ in a page image: long, parallel, evenly spaced text lines.

Works on a down-scaled copy (long side about 1000 px). Dark strokes are isolated with a
morphological black-hat, joined along the reading direction with a horizontal closing, and every
resulting blob that is long and thin is a line candidate. Collinear pieces (a line cut by a glare
spot) are merged, then 2 or 3 parallel lines of similar length at a regular spacing form an MRZ
candidate. The image is searched as given and turned by 90 degrees (pages come in any quarter
turn, with up to about 10 degrees of skew); upside-down is decided later by the recogniser.

Coordinates returned are in the full-resolution image.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cv2
import numpy as np

WORK_SIDE = 1000
MAX_GLYPH = 60  # px at the working scale: no MRZ character is this tall and wide
LINE_GAP = (1.2, 3.2)  # distance between MRZ line centres, in line thicknesses
MAX_PIECES = 250  # longest line pieces kept per search view: bounds merging and grouping


@dataclass(frozen=True)
class TextLine:
    """One text line in full-resolution pixel coordinates."""

    center: tuple[float, float]
    angle: float  # radians, direction of the long axis, in (-pi/2, pi/2]
    length: float
    thickness: float


@dataclass(frozen=True)
class MrzRegion:
    lines: tuple[TextLine, ...]  # ordered along the perpendicular axis
    angle: float  # common long-axis direction (radians)
    score: float


def _line_from_points(points: np.ndarray) -> TextLine:
    (cx, cy), (w, h), deg = cv2.minAreaRect(points.astype(np.float32))
    angle = math.radians(deg)
    if w < h:
        w, h = h, w
        angle += math.pi / 2
    angle = math.atan2(math.sin(angle), math.cos(angle))
    if angle <= -math.pi / 2:
        angle += math.pi
    elif angle > math.pi / 2:
        angle -= math.pi
    return TextLine((float(cx), float(cy)), angle, float(w), float(h))


def _angle_diff(a: float, b: float) -> float:
    d = (a - b) % math.pi
    return min(d, math.pi - d)


def _strokes(gray: np.ndarray) -> np.ndarray:
    """Dark thin strokes of ``gray`` as a 0/255 mask (frames and loops removed)."""
    blackhat = cv2.morphologyEx(
        gray, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (11, 11))
    )
    level, _ = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    level = float(min(max(level, 18.0), 70.0))
    _, mask = cv2.threshold(blackhat, level, 255, cv2.THRESH_BINARY)
    return _drop_frames(mask)


def _blobs(strokes: np.ndarray, join: int) -> list[np.ndarray]:
    """Point sets (x, y) of long thin blobs once the strokes are joined along x (the
    :data:`MAX_PIECES` longest)."""
    mask = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, np.ones((1, join), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out: list[tuple[float, np.ndarray]] = []
    for contour in contours:
        if len(contour) < 4:
            continue
        (_, _), (w, h), _ = cv2.minAreaRect(contour)
        long_side, short_side = max(w, h), max(min(w, h), 1.0)
        if long_side >= 40 and long_side / short_side >= 4.0:
            out.append((long_side, contour.reshape(-1, 2).astype(np.float32)))
    if len(out) > MAX_PIECES:  # a page of dense text: only the longest can be MRZ lines
        out.sort(key=lambda item: -item[0])
        out = out[:MAX_PIECES]
    return [points for _, points in out]


def _drop_frames(mask: np.ndarray) -> np.ndarray:
    """Remove strokes that are far larger than any MRZ character in both directions and mostly
    empty: frames, ellipses drawn around the MRZ, card edges, guilloche loops. Left in, the
    closing would weld them to the text lines."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    big = [
        k
        for k in range(1, n)
        if min(stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]) > MAX_GLYPH
        and stats[k, cv2.CC_STAT_AREA]
        < 0.2 * stats[k, cv2.CC_STAT_WIDTH] * stats[k, cv2.CC_STAT_HEIGHT]
    ]
    if not big:
        return mask
    out = mask.copy()
    out[np.isin(labels, big)] = 0
    return out


def _merge_collinear(pieces: list[np.ndarray]) -> list[np.ndarray]:
    """Merge the pieces of one line (cut by glare, a stamp, a fold) in one pass: every pair of
    near-parallel pieces of similar thickness that continue each other is joined (union-find,
    so a line cut twice becomes one), tested with numpy per piece. At most
    :data:`MAX_PIECES` pieces come in (:func:`_blobs` keeps the longest), so the work is
    bounded whatever the page holds."""
    n = len(pieces)
    if n < 2:
        return list(pieces)
    lines = [_line_from_points(p) for p in pieces]
    angle = np.array([ln.angle for ln in lines])
    thick = np.array([ln.thickness for ln in lines])
    length = np.array([ln.length for ln in lines])
    cx = np.array([ln.center[0] for ln in lines])
    cy = np.array([ln.center[1] for ln in lines])
    parent = list(range(n))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    limit = math.radians(4)
    for i in range(n - 1):
        j = np.arange(i + 1, n)
        d = (angle[j] - angle[i]) % math.pi
        near = np.minimum(d, math.pi - d) <= limit
        big = np.maximum(thick[j], thick[i])
        near &= np.minimum(thick[j], thick[i]) >= 0.5 * big
        ux, uy = math.cos(angle[i]), math.sin(angle[i])
        dx, dy = cx[j] - cx[i], cy[j] - cy[i]
        across = np.abs(-uy * dx + ux * dy)
        along = np.abs(ux * dx + uy * dy) - (length[i] + length[j]) / 2
        near &= (across < 0.4 * big) & (along < 2.5 * big)
        for k in j[near]:
            a, b = root(i), root(int(k))
            if a != b:
                parent[b] = a
    groups: dict[int, list[np.ndarray]] = {}
    for k in range(n):
        groups.setdefault(root(k), []).append(pieces[k])
    return [g[0] if len(g) == 1 else np.vstack(g) for g in groups.values()]


def _groups(lines: list[TextLine]) -> list[tuple[list[int], float]]:
    """Candidate MRZ groups (indices ordered across the lines) with a score."""
    out: list[tuple[list[int], float]] = []
    seen: set[tuple[int, ...]] = set()
    if not lines:
        return out
    angle = np.array([ln.angle for ln in lines])
    thick = np.array([max(ln.thickness, 1e-6) for ln in lines])
    length = np.array([ln.length for ln in lines])
    cx = np.array([ln.center[0] for ln in lines])
    cy = np.array([ln.center[1] for ln in lines])
    for i, seed in enumerate(lines):
        if seed.length / max(seed.thickness, 1.0) < 12:
            continue
        ux, uy = math.cos(seed.angle), math.sin(seed.angle)
        d = (angle - seed.angle) % math.pi
        ok = np.minimum(d, math.pi - d) <= math.radians(3)
        ratio = length / seed.length
        ok &= (ratio >= 0.8) & (ratio <= 1.25)
        tratio = thick / max(seed.thickness, 1e-6)
        ok &= (tratio >= 0.65) & (tratio <= 1.5)
        dx, dy = cx - seed.center[0], cy - seed.center[1]
        along = ux * dx + uy * dy
        across = -uy * dx + ux * dy
        ok &= np.abs(along) <= 0.12 * seed.length
        ok &= np.abs(across) <= 2 * LINE_GAP[1] * seed.thickness
        ok[i] = False
        members: list[tuple[float, int]] = [(0.0, i)]
        members.extend((float(across[j]), int(j)) for j in np.flatnonzero(ok))
        members.sort()
        # keep a chain of consecutive lines, each LINE_GAP thicknesses apart
        best: list[int] = []
        for start in range(len(members)):
            chain = [members[start]]
            for nxt in members[start + 1 :]:
                gap = nxt[0] - chain[-1][0]
                if LINE_GAP[0] * seed.thickness <= gap <= LINE_GAP[1] * seed.thickness:
                    chain.append(nxt)
            if len(chain) > len(best) and any(idx == i for _, idx in chain):
                best = [idx for _, idx in chain]
        if len(best) < 2:
            continue
        best = best[:3]
        key = tuple(sorted(best))
        if key in seen:
            continue
        seen.add(key)
        mean_len = float(np.mean([lines[k].length for k in best]))
        aspect = mean_len / float(np.mean([lines[k].thickness for k in best]))
        out.append((best, mean_len * min(aspect, 60.0) * (1.0 + 0.1 * len(best))))
    out.sort(key=lambda item: -item[1])
    return out


def _view(small: np.ndarray, degrees: int) -> tuple[np.ndarray, np.ndarray]:
    """``small`` turned by ``degrees`` (clockwise) and the affine map back (2 x 3)."""
    if degrees == 0:
        return small, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    sh, sw = small.shape
    if degrees == 90:  # rotated (x', y') -> original (y', H-1-x')
        back = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, sh - 1.0]])
        return cv2.rotate(small, cv2.ROTATE_90_CLOCKWISE), back
    rad = math.radians(degrees)
    cos, sin = abs(math.cos(rad)), abs(math.sin(rad))
    nw, nh = int(sw * cos + sh * sin) + 2, int(sw * sin + sh * cos) + 2
    matrix = cv2.getRotationMatrix2D((sw / 2.0, sh / 2.0), -degrees, 1.0)
    matrix[0, 2] += (nw - sw) / 2.0
    matrix[1, 2] += (nh - sh) / 2.0
    turned = cv2.warpAffine(small, matrix, (nw, nh), borderMode=cv2.BORDER_REPLICATE)
    return turned, cv2.invertAffineTransform(matrix)


def find_mrz(
    gray: np.ndarray,
    max_candidates: int = 3,
    *,
    work_side: int = WORK_SIDE,
    turns: tuple[int, ...] = (0, 90),
    deadline: float = math.inf,
) -> list[MrzRegion]:
    """MRZ candidates in a grayscale image, best first (empty when none is found).

    The image is searched at ``work_side`` pixels on its long side (a larger value finds
    smaller print in a large photo, at a cost), turned by each of ``turns`` degrees (0, 90,
    45 or 135; lines within about 30 degrees of a turn are found, the reading direction is
    decided later). No new view starts after ``deadline`` (``time.perf_counter()``): the
    regions found so far are returned."""
    if gray.ndim != 2 or gray.size == 0:
        return []
    h, w = gray.shape
    scale = min(1.0, work_side / float(max(h, w)))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    regions: list[MrzRegion] = []
    for degrees in turns:
        if time.perf_counter() > deadline:
            break
        img, back = _view(small, degrees)
        strokes = _strokes(img)
        for join in (15, 27):
            if time.perf_counter() > deadline:
                break
            pieces = _merge_collinear(_blobs(strokes, join))
            full_pieces = [(pts @ back[:, :2].T + back[:, 2]) / scale for pts in pieces]
            regions.extend(_regions([_line_from_points(p) for p in full_pieces]))
    regions.sort(key=lambda r: -r.score)
    return regions[:max_candidates]


def _regions(lines: list[TextLine]) -> list[MrzRegion]:
    out = []
    for members, score in _groups(lines):
        chosen = [lines[k] for k in members]
        weights = np.array([ln.length for ln in chosen])
        ref = chosen[0].angle
        # average the directions relative to the first line (angles are modulo pi)
        rel = [(ln.angle - ref + math.pi / 2) % math.pi - math.pi / 2 for ln in chosen]
        angle = ref + float(np.average(rel, weights=weights))
        ux, uy = math.cos(angle), math.sin(angle)
        ordered = sorted(chosen, key=lambda ln: -uy * ln.center[0] + ux * ln.center[1])
        out.append(MrzRegion(tuple(ordered), angle, score))
    return out
