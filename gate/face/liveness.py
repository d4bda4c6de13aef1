"""Presentation attack detection (PAD): an interface for a liveness score, and a weak baseline.

:class:`LivenessCheck` is what the lane asks: given the observations of one traveller's live
frames, is this a live person? A 3D or near-infrared camera that computes its own score plugs in
through :class:`ExternalLiveness`. :class:`MotionLiveness` is our own baseline.

The baseline looks for *natural, non-rigid* motion across frames. A photograph or a still image
on a screen, even when moved about, moves as one flat object: its five landmarks follow a single
affine transform (rigid motion plus the foreshortening of a tilted plane). A live face does not:
the nose moves against the eyes when the head turns (parallax), the mouth corners move with
expression, the eye regions change when the person blinks. The baseline measures

- ``nonrigid``: per frame, the residual of the best affine fit of its landmarks to the first
  frame's, in inter-eye distances; the second largest over the frames is kept, so that a single
  bad detection does not make a photo "live". Live when it reaches 0.045 (4.5% of the
  inter-eye distance): a head turn of about 7 degrees or more gives that (nose 0.6 inter-eye
  distances in front of the eyes); photos rotated, scaled, shifted and tilted in front of the
  camera gave at most 0.030 in our trials, a still photo with sensor noise at most 0.011.

Limits, honestly: it rejects a printed photo or a still image replayed on a screen, held still or
moved. It does NOT stop a video replay of the traveller, a 3D mask, a photo with cut-out eyes, or a
warped (bent) print that produces non-affine landmark motion; a very still traveller can be
rejected (then more frames, or an officer). Thresholds are set above the landmark jitter YuNet
shows on still images in our tests, not calibrated on a PAD data set (ISO/IEC 30107-3), because
none is available to this project. Use a camera with its own certified PAD where it matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class LivenessObservation:
    """One live frame of one traveller: the five landmarks (from :mod:`gate.face.detect`)."""

    landmarks: npt.NDArray[np.float64] | Sequence[Sequence[float]]
    time: float = 0.0
    """Seconds, from the caller's clock (the core reads no clock)."""


@dataclass(frozen=True)
class LivenessResult:
    score: float
    """0 (attack) .. 1 (live)."""
    live: bool
    reason: str
    source: str
    measures: dict[str, float]


class LivenessCheck(Protocol):
    name: str

    def evaluate(self, observations: Sequence[LivenessObservation]) -> LivenessResult: ...


class ExternalLiveness:
    """A liveness score computed elsewhere (3D / NIR camera), compared with a threshold."""

    name = "external"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._score: float | None = None

    def set_score(self, score: float) -> None:
        self._score = float(score)

    def evaluate(self, observations: Sequence[LivenessObservation]) -> LivenessResult:
        if self._score is None:
            return LivenessResult(0.0, False, "the camera gave no liveness score", self.name, {})
        live = self._score >= self.threshold
        reason = "camera liveness score" + (" above" if live else " below") + " threshold"
        return LivenessResult(self._score, live, reason, self.name, {"camera": self._score})


def affine_residual(points: npt.ArrayLike, reference: npt.ArrayLike) -> float:
    """RMS distance left after the best affine map of ``points`` onto ``reference``, divided by
    the reference's inter-eye distance."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    r = np.asarray(reference, dtype=np.float64).reshape(-1, 2)
    design = np.hstack([p, np.ones((len(p), 1))])
    solution, *_ = np.linalg.lstsq(design, r, rcond=None)
    residual = design @ solution - r
    iod = float(np.hypot(*(r[1] - r[0])))
    return float(np.sqrt((residual**2).sum(axis=1).mean()) / max(iod, 1e-6))


class MotionLiveness:
    """The baseline: live when the landmarks move non-rigidly across frames."""

    name = "motion-baseline"

    def __init__(
        self,
        *,
        min_frames: int = 5,
        nonrigid_threshold: float = 0.045,
    ) -> None:
        self.min_frames = min_frames
        self.nonrigid_threshold = nonrigid_threshold

    def evaluate(self, observations: Sequence[LivenessObservation]) -> LivenessResult:
        if len(observations) < self.min_frames:
            return LivenessResult(
                0.0,
                False,
                f"need {self.min_frames} frames with a face, got {len(observations)}",
                self.name,
                {},
            )
        points = [np.asarray(o.landmarks, dtype=np.float64) for o in observations]
        if any(pts.shape not in ((5, 2), (10,)) or not np.isfinite(pts).all() for pts in points):
            # fail closed: inf landmarks would otherwise give an infinite "natural motion"
            return LivenessResult(
                0.0, False, "landmarks missing or not finite in a frame", self.name, {}
            )
        reference = points[0].reshape(5, 2)
        residuals = sorted(affine_residual(pts, reference) for pts in points[1:])
        # The second largest: one glitchy detection alone does not make a photo "live".
        nonrigid = residuals[-2] if len(residuals) >= 2 else residuals[-1]
        score = min(1.0, nonrigid / (2 * self.nonrigid_threshold))
        live = nonrigid >= self.nonrigid_threshold
        reason = (
            "natural motion seen across frames"
            if live
            else f"no natural motion across {len(observations)} frames (static image or replay?)"
        )
        return LivenessResult(score, live, reason, self.name, {"nonrigid": nonrigid})
