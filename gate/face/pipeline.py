"""The face pipeline: detect -> align -> embed -> compare, on onnxruntime sessions.

:class:`FaceEngine` holds the two sessions (thread count from configuration) and is the only
part that runs models; everything it returns is plain data. It has no clock, camera or file
access of its own: callers pass decoded frames or portrait bytes in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from gate.config import FaceConfig
from gate.face import models, onnxgraph
from gate.face.align import align
from gate.face.detect import DEFAULT_SCORE_THRESHOLD, Detection, YuNet
from gate.face.embed import Embedding, SFace
from gate.face.errors import ImageError, NoFaceError
from gate.face.fuse import FrameSample, fuse
from gate.face.match import MatchResult, compare
from gate.face.portrait import decode_portrait, enhance, needs_enhancement
from gate.face.quality import Quality, QualityThresholds, assess
from gate.face.runtime import make_session
from gate.face.types import Image


@dataclass(frozen=True)
class FaceObservation:
    """What one image says about its main face (the largest), and how many faces it has."""

    faces: list[Detection]
    primary: Detection | None
    embedding: Embedding | None
    quality: Quality | None
    enhanced: list[str] = field(default_factory=list)
    """Enhancement steps applied before detection ('small', 'low_contrast'), if any."""

    @property
    def face_count(self) -> int:
        return len(self.faces)


@dataclass(frozen=True)
class Comparison:
    a: FaceObservation
    b: FaceObservation
    result: MatchResult | None
    """None when either image has no face."""


def as_bgr(image: Image) -> Image:
    """A 3-channel BGR view of a grey, BGR or BGRA uint8 frame."""
    if image.dtype != np.uint8:
        raise ImageError(f"expected an 8-bit image, got {image.dtype}")
    if image.size == 0:
        raise ImageError(f"the image is empty (shape {image.shape}): check the camera or file")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ImageError(f"expected a grey, BGR or BGRA image, got an array of shape {image.shape}")


def primary_face(faces: list[Detection]) -> Detection | None:
    """The face to verify: the largest (closest to the camera)."""
    return max(faces, key=lambda d: d.area) if faces else None


class FaceEngine:
    def __init__(
        self,
        models_dir: Path | str,
        *,
        threads: int = 2,
        threshold: float = FaceConfig().threshold,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        quality_thresholds: QualityThresholds | None = None,
    ) -> None:
        self.threshold = threshold
        self.quality_thresholds = quality_thresholds or QualityThresholds()
        yunet = onnxgraph.free_shapes(models.model_bytes(models_dir, "yunet"))
        sface = onnxgraph.fast_sface(models.model_bytes(models_dir, "sface"))
        self.detector = YuNet(
            make_session(yunet, threads, name=models.YUNET.filename),
            score_threshold=score_threshold,
        )
        self.embedder = SFace(make_session(sface, threads, name=models.SFACE.filename))

    @classmethod
    def from_config(cls, face: FaceConfig) -> FaceEngine:
        return cls(face.models_dir, threads=face.threads, threshold=face.threshold)

    # ------------------------------------------------------------------ steps

    def detect(self, image: Image) -> list[Detection]:
        return self.detector.detect(image)

    def embed(self, image: Image, detection: Detection) -> tuple[Embedding, Image]:
        crop = align(image, detection.landmarks)
        return self.embedder.embed(crop), crop

    def observe(self, image: Image, *, enhance_if_needed: bool = False) -> FaceObservation:
        """Detect every face, then align, embed and assess the largest.

        With ``enhance_if_needed`` (stills and portraits, not live frames) a small or
        low-contrast image is enhanced first, and an image without a detected face is tried
        once more enhanced.
        """
        image = as_bgr(image)
        steps: list[str] = []
        work = image
        if enhance_if_needed:
            reasons = needs_enhancement(image)
            if reasons:
                work, steps = enhance(image, reasons)
        faces = self.detect(work)
        if not faces and enhance_if_needed and not steps:
            retry, retry_steps = enhance(image, ["low_contrast"])
            faces = self.detect(retry)
            if faces:
                work, steps = retry, retry_steps
        main = primary_face(faces)
        if main is None:
            return FaceObservation([], None, None, None, steps)
        embedding, crop = self.embed(work, main)
        height, width = work.shape[:2]
        quality = assess(main, crop, (width, height), self.quality_thresholds)
        return FaceObservation(faces, main, embedding, quality, steps)

    def observe_portrait(self, data: bytes) -> FaceObservation:
        """A DG2 portrait (JPEG / JPEG 2000 bytes) decoded safely, enhanced when needed."""
        return self.observe(decode_portrait(data), enhance_if_needed=True)

    def compare_observations(self, a: FaceObservation, b: FaceObservation) -> Comparison:
        if a.embedding is None or b.embedding is None:
            return Comparison(a, b, None)
        return Comparison(a, b, compare(a.embedding, b.embedding, self.threshold))

    def compare_images(self, image_a: Image, image_b: Image) -> Comparison:
        return self.compare_observations(
            self.observe(image_a, enhance_if_needed=True),
            self.observe(image_b, enhance_if_needed=True),
        )

    def sample(self, frame: Image, index: int = 0) -> tuple[FaceObservation, FrameSample | None]:
        """A live frame: its observation (face count for anti-tailgating, quality guidance
        for the traveller screen) and, when it has a face, the sample to fuse."""
        observation = self.observe(frame)
        if observation.embedding is None or observation.quality is None:
            return observation, None
        return observation, FrameSample(observation.embedding, observation.quality, index)

    def verify(self, portrait: FaceObservation, samples: list[FrameSample], k: int) -> MatchResult:
        """Chip portrait against the fused best ``k`` live samples."""
        reference = self.require_embedding(portrait, "the chip portrait")
        return compare(reference, fuse(samples, k), self.threshold)

    def require_embedding(self, observation: FaceObservation, what: str) -> Embedding:
        if observation.embedding is None:
            raise NoFaceError(f"no face found in {what}: use an image showing one face frontally")
        return observation.embedding
