"""Verification accuracy from embeddings: pairs, error rates, operating points, DET curve.

Pure numpy (and OpenCV for drawing into an array): the caller embeds the images and writes
files. Terms follow ISO/IEC 19795-1: a *genuine* pair shows one person twice, an *impostor*
pair two people; FMR is the share of impostor pairs scoring at or above the threshold, FNMR the
share of genuine pairs scoring below it. An image whose face was not found keeps its pairs,
scored :data:`NO_FACE_SCORE` (a non-match), so failures to detect count against FNMR instead of
vanishing.

Also here: :func:`chip_like`, which degrades a photo the way a chip portrait is stored
(ICAO 9303-9 / ISO/IEC 19794-5: a few hundred pixels, JPEG or JPEG 2000 of 15-20 KB).
"""

from __future__ import annotations

import io
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

from gate.face.errors import FaceError, ImageError
from gate.face.types import Image

NO_FACE_SCORE = -1.0
"""Score of every pair with an image whose face was not found: below any threshold."""
Scores = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PairScores:
    genuine: Scores
    impostor: Scores
    impostor_total: int
    """Impostor pairs in the whole set (``impostor`` may be a sample of them)."""


def pair_scores(
    embeddings: npt.NDArray[np.float32],
    identities: Sequence[str],
    *,
    probes: npt.NDArray[np.float32] | None = None,
    sample: int | None = None,
    seed: int = 0,
    block: int = 1024,
) -> PairScores:
    """Scores of every unordered pair of different images (i < j), split by identity.

    ``embeddings`` is N x D, L2-normalised, with a row of NaN for an image without a face.
    With ``probes`` (N x D, the same images degraded) pair (i, j) compares ``probes[i]`` with
    ``embeddings[j]``: one side of each pair is the degraded one. With ``sample`` only that
    many impostor pairs, drawn with ``seed``, are scored (all genuine pairs are kept).
    """
    gallery = np.asarray(embeddings, dtype=np.float32)
    probe = gallery if probes is None else np.asarray(probes, dtype=np.float32)
    n = len(gallery)
    if len(identities) != n or probe.shape != gallery.shape or gallery.ndim != 2:
        raise FaceError(
            f"pair_scores needs N x D embeddings and N identities, got {gallery.shape}, "
            f"{probe.shape} and {len(identities)} identities"
        )
    _, ids = np.unique(np.asarray(identities, dtype=object).astype(str), return_inverse=True)
    ok_g: npt.NDArray[np.bool_] = np.asarray(np.isfinite(gallery).all(axis=1))
    ok_p: npt.NDArray[np.bool_] = np.asarray(np.isfinite(probe).all(axis=1))
    g = np.where(ok_g[:, None], gallery, 0.0).astype(np.float32)
    p = np.where(ok_p[:, None], probe, 0.0).astype(np.float32)
    sizes = np.bincount(ids)
    genuine_total = int((sizes * (sizes - 1) // 2).sum())
    impostor_total = n * (n - 1) // 2 - genuine_total
    genuine: list[Scores] = []
    impostor: list[Scores] = []
    if sample is not None and sample < impostor_total:
        order = np.argsort(ids, kind="stable")
        for first in np.flatnonzero(np.r_[True, np.diff(ids[order]) != 0]):
            members = order[first : first + sizes[ids[order[first]]]]
            i, j = np.triu_indices(len(members), 1)
            a, b = np.minimum(members[i], members[j]), np.maximum(members[i], members[j])
            genuine.append(_scores(p, g, ok_p, ok_g, a, b))
        rng = np.random.default_rng(seed)
        chosen: list[npt.NDArray[np.int64]] = []
        have = 0
        while have < sample:
            a = rng.integers(0, n, 2 * (sample - have) + 16)
            b = rng.integers(0, n, len(a))
            keep = ids[a] != ids[b]
            a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
            chosen.append(np.stack([a, b], axis=1))
            have += len(a)
        pairs = np.concatenate(chosen)[:sample]
        impostor.append(_scores(p, g, ok_p, ok_g, pairs[:, 0], pairs[:, 1]))
    else:
        for start in range(0, n, block):
            stop = min(n, start + block)
            sims = p[start:stop] @ g.T
            sims[~ok_p[start:stop]] = NO_FACE_SCORE
            sims[:, ~ok_g] = NO_FACE_SCORE
            rows = np.arange(start, stop)[:, None]
            upper = np.arange(n)[None, :] > rows
            same = ids[start:stop, None] == ids[None, :]
            genuine.append(sims[upper & same])
            impostor.append(sims[upper & ~same])
    return PairScores(
        np.concatenate(genuine).astype(np.float32) if genuine else np.zeros(0, np.float32),
        np.concatenate(impostor).astype(np.float32) if impostor else np.zeros(0, np.float32),
        impostor_total,
    )


def _scores(
    p: npt.NDArray[np.float32],
    g: npt.NDArray[np.float32],
    ok_p: npt.NDArray[np.bool_],
    ok_g: npt.NDArray[np.bool_],
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
) -> Scores:
    out = np.einsum("ij,ij->i", p[a], g[b]).astype(np.float32)
    out[~(ok_p[a] & ok_g[b])] = NO_FACE_SCORE
    return out


def threshold_at_fmr(impostor: npt.ArrayLike, target: float) -> float:
    """The lowest threshold whose FMR (share of impostor scores >= it) is at most ``target``."""
    scores = np.asarray(impostor).reshape(-1)
    if scores.size == 0:
        raise FaceError("no impostor pairs: an FMR cannot be measured")
    if scores.dtype != np.float32:
        scores = scores.astype(np.float64)
    allowed = math.floor(target * scores.size + 1e-9)
    if allowed >= scores.size:
        return float(scores.min())
    # The (allowed + 1)-th highest score must be refused: the threshold sits just above it,
    # one step up in the scores' own precision (a float32 score compared with a threshold
    # rounded to float32 must still be refused).
    kth = np.partition(scores, scores.size - 1 - allowed)[scores.size - 1 - allowed]
    return float(np.nextafter(kth, np.array(np.inf, dtype=scores.dtype)))


def rates(genuine: npt.ArrayLike, impostor: npt.ArrayLike, threshold: float) -> tuple[float, float]:
    """(FMR, FNMR) at ``threshold``; a similarity at or above it is a match."""
    g = np.asarray(genuine, dtype=np.float64)
    i = np.asarray(impostor, dtype=np.float64)
    fmr = float((i >= threshold).mean()) if i.size else 0.0
    fnmr = float((g < threshold).mean()) if g.size else 0.0
    return fmr, fnmr


def operating_points(
    genuine: npt.ArrayLike,
    impostor: npt.ArrayLike,
    configured: float,
    targets: Sequence[float] = (0.001, 0.0001),
) -> dict[str, Any]:
    """``at_fmr_<target>`` ({threshold, fnmr, fmr}) per target, ``at_configured``, and whether
    each target is resolved (at least 10 impostor pairs may pass at it)."""
    g = np.asarray(genuine, dtype=np.float32)
    i = np.asarray(impostor, dtype=np.float32)
    out: dict[str, Any] = {}
    for target in targets:
        thr = threshold_at_fmr(i, target)
        fmr, fnmr = rates(g, i, thr)
        out[f"at_fmr_{target:g}"] = {
            "threshold": round(thr, 4),
            "fnmr": round(fnmr, 6),
            "fmr": round(fmr, 7),
            "impostor_pairs_allowed": math.floor(target * i.size + 1e-9),
        }
    fmr, fnmr = rates(g, i, configured)
    out["at_configured"] = {"threshold": configured, "fnmr": round(fnmr, 6), "fmr": round(fmr, 7)}
    return out


def det_points(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike, points: int = 400
) -> list[tuple[float, float]]:
    """(FMR, FNMR) pairs along the threshold, from the most to the least permissive, at
    ``points`` thresholds spread evenly over the impostor tail in log-FMR."""
    g = np.sort(np.asarray(genuine, dtype=np.float64))
    i = np.sort(np.asarray(impostor, dtype=np.float64))
    if g.size == 0 or i.size == 0:
        return []
    fmrs = np.logspace(math.log10(max(1.0 / i.size, 1e-7)), 0, points)
    # The threshold giving each FMR: the score with that share of impostors at or above it.
    index = np.clip(np.ceil(i.size * (1 - fmrs)).astype(np.int64), 0, i.size - 1)
    out: list[tuple[float, float]] = []
    for thr in np.unique(i[index]):
        fmr = 1.0 - np.searchsorted(i, thr, side="left") / i.size
        fnmr = np.searchsorted(g, thr, side="left") / g.size
        out.append((float(fmr), float(fnmr)))
    return out


def det_image(
    curves: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str = "DET curve",
    floor: float = 1e-5,
    size: int = 640,
) -> Image:
    """A DET plot (FNMR against FMR, both on normal-deviate axes, ISO/IEC 19795-1) as a BGR
    image, drawn with OpenCV so that no plotting library is needed."""
    margin = 70
    img = np.full((size, size, 3), 255, np.uint8)
    nd = statistics.NormalDist()
    lo, hi = nd.inv_cdf(floor), nd.inv_cdf(0.5)

    def pos(fmr: float, fnmr: float) -> tuple[int, int]:
        x = (nd.inv_cdf(min(max(fmr, floor), 0.5)) - lo) / (hi - lo)
        y = (nd.inv_cdf(min(max(fnmr, floor), 0.5)) - lo) / (hi - lo)
        return int(margin + x * (size - 2 * margin)), int(size - margin - y * (size - 2 * margin))

    ticks = [t for t in (1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5) if t >= floor]
    for tick in ticks:
        x0, _ = pos(tick, floor)
        _, y1 = pos(floor, tick)
        cv2.line(img, (x0, margin), (x0, size - margin), (225, 225, 225), 1)
        cv2.line(img, (margin, y1), (size - margin, y1), (225, 225, 225), 1)
        label = f"{tick * 100:g}%"
        cv2.putText(img, label, (x0 - 15, size - margin + 18), 0, 0.4, (0, 0, 0), 1)
        cv2.putText(img, label, (8, y1 + 4), 0, 0.4, (0, 0, 0), 1)
    cv2.rectangle(img, (margin, margin), (size - margin, size - margin), (0, 0, 0), 1)
    cv2.putText(img, "FMR (false match rate)", (size // 2 - 90, size - 20), 0, 0.5, (0, 0, 0), 1)
    cv2.putText(img, "FNMR", (8, margin - 12), 0, 0.5, (0, 0, 0), 1)
    cv2.putText(img, title[:60], (margin, 30), 0, 0.55, (0, 0, 0), 1)
    colours = [(200, 60, 0), (0, 140, 0), (0, 0, 200), (120, 0, 160), (0, 140, 160)]
    for n, (name, curve) in enumerate(curves.items()):
        colour = colours[n % len(colours)]
        shown = [(fmr, fnmr) for fmr, fnmr in curve if fmr >= floor]  # below: off the plot
        if shown:
            pts = np.array([pos(fmr, fnmr) for fmr, fnmr in shown], np.int32)
            cv2.polylines(img, [pts], False, colour, 2)
        cv2.putText(img, name[:40], (size - margin - 300, margin + 20 + 18 * n), 0, 0.45, colour, 1)
    return img


ChipFormat = Literal["jpeg", "jp2"]
CHIP_SIZE = (240, 320)
"""Width and height of a chip-like portrait (ICAO 9303-9 suggests about 240 x 320 pixels)."""


def chip_like(image: Image, fmt: ChipFormat, max_bytes: int = 18_000) -> bytes:
    """``image`` as a chip would store it: centre-cropped to 3:4, resized to 240 x 320 and
    compressed as JPEG or JPEG 2000 to the best quality that fits ``max_bytes``."""
    if image.ndim not in (2, 3) or image.size == 0:
        raise ImageError(f"cannot make a chip portrait of an array of shape {image.shape}")
    height, width = image.shape[:2]
    target_w, target_h = CHIP_SIZE
    if width * target_h > height * target_w:  # too wide: crop the sides
        crop_w = max(1, round(height * target_w / target_h))
        x0 = (width - crop_w) // 2
        image = image[:, x0 : x0 + crop_w]
    else:
        crop_h = max(1, round(width * target_h / target_w))
        y0 = (height - crop_h) // 2
        image = image[y0 : y0 + crop_h]
    interp = cv2.INTER_AREA if image.shape[0] > target_h else cv2.INTER_CUBIC
    small = cv2.resize(image, CHIP_SIZE, interpolation=interp)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    pil = PILImage.fromarray(small)

    def encode(level: int) -> bytes:
        out = io.BytesIO()
        if fmt == "jpeg":
            pil.save(out, format="JPEG", quality=level)
        else:  # compression ratio ``level``
            pil.save(out, format="JPEG2000", quality_mode="rates", quality_layers=[level])
        return out.getvalue()

    if fmt == "jpeg":  # highest quality that fits
        lo_q, hi_q, best = 5, 95, encode(5)
        while lo_q <= hi_q:
            mid = (lo_q + hi_q) // 2
            data = encode(mid)
            if len(data) <= max_bytes:
                best, lo_q = data, mid + 1
            else:
                hi_q = mid - 1
        return best
    raw = small.size  # bytes of the uncompressed pixels
    ratio = max(1, math.ceil(raw / max_bytes))
    data = encode(ratio)
    while len(data) > max_bytes and ratio < 400:
        ratio += max(1, ratio // 10)
        data = encode(ratio)
    return data
