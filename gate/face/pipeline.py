"""The face pipeline: detect -> align -> embed -> compare, on onnxruntime sessions.

:class:`FaceEngine` holds the two sessions (thread count from configuration) and is the only
part that runs models; everything it returns is plain data. It has no clock, camera or file
access of its own: callers pass decoded frames or portrait bytes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from gate.config import FaceConfig
from gate.face import dlibnet, models, onnxgraph
from gate.face.align import ALIGNED_SIZE, ARCFACE_TEMPLATE, align, align_to
from gate.face.detect import DEFAULT_SCORE_THRESHOLD, Detection, YuNet
from gate.face.embed import DlibResNet, Embedder, Embedding, SFace, l2_normalise
from gate.face.errors import FaceError, ImageError, NoFaceError
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
    """Enhancement steps applied before detection ('small', 'low_contrast', 'padded')."""
    views: dict[str, Embedding] = field(default_factory=dict)
    """With ``observe(..., all_views=True)``: every model's embedding of the face and of its
    mirror image ('sface', 'sface_flip', ...), from which :func:`combine_views` makes the
    embedding of any weighting (evaluation re-weights without embedding again)."""

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


FacePick = Literal["largest", "centre"]


def primary_face(
    faces: list[Detection], pick: FacePick = "largest", size: tuple[int, int] | None = None
) -> Detection | None:
    """The face to verify: the largest (closest to the camera), or with ``pick="centre"`` the
    one whose box centre is nearest the centre of the image of ``size`` (width, height), as in
    photo collections where the subject is centred and bystanders are not."""
    if not faces:
        return None
    if pick == "centre" and size is not None:
        cx, cy = size[0] / 2, size[1] / 2
        return min(
            faces,
            key=lambda d: (d.box[0] + d.box[2] / 2 - cx) ** 2 + (d.box[1] + d.box[3] / 2 - cy) ** 2,
        )
    return max(faces, key=lambda d: d.area)


PAD_FRACTION = 0.4
"""Border added on every side (as a share of the longer side) before detecting again in a
still where no face was found: a face that fills the image (a portrait cropped from forehead
to chin) is otherwise missed, since the detector was trained on faces with context."""


def pad_for_detection(image: Image, fraction: float = PAD_FRACTION) -> tuple[Image, int]:
    """``image`` with a replicated border of ``fraction`` of its longer side; and that border
    in pixels (subtract it from coordinates found in the padded image)."""
    border = max(1, round(fraction * max(image.shape[:2])))
    out: Image = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REPLICATE)
    return out, border


EMBEDDERS: dict[str, type[Embedder]] = {"sface": SFace, "dlib_resnet": DlibResNet}
"""Embedding models by key of :data:`gate.face.models.MODELS`."""


def combine_views(views: dict[str, Embedding], weights: dict[str, float], flip: bool) -> Embedding:
    """One embedding from per-model ones: each model's (with ``flip``, the sum of the face's
    and its mirror image's, renormalised) scaled by the square root of its weight, then
    concatenated. Weights summing to 1 make the cosine of two such embeddings the weighted
    mean of the models' cosines (score-level fusion that still compares as one vector)."""
    parts: list[Embedding] = []
    for key, weight in weights.items():
        vector = views[key]
        if flip:
            vector = l2_normalise(vector + views[f"{key}_flip"])
        parts.append(np.float32(np.sqrt(weight)) * vector)
    return l2_normalise(np.concatenate(parts))


def normalise_weights(
    models_used: Sequence[str], weights: Sequence[float] | None
) -> dict[str, float]:
    """``{model: weight}`` summing to 1 (equal weights when none are given)."""
    if not models_used:
        raise FaceError("at least one embedding model is needed")
    unknown = [m for m in models_used if m not in EMBEDDERS]
    if unknown:
        raise FaceError(f"unknown embedding model {unknown[0]!r}: use one of {sorted(EMBEDDERS)}")
    values = [1.0] * len(models_used) if weights is None else [float(w) for w in weights]
    if len(values) != len(models_used) or any(not w > 0 for w in values):
        raise FaceError(f"need one positive weight per model {list(models_used)}, got {values}")
    total = sum(values)
    return {m: w / total for m, w in zip(models_used, values, strict=True)}


class FaceEngine:
    def __init__(
        self,
        models_dir: Path | str,
        *,
        threads: int = 2,
        threshold: float = FaceConfig().threshold,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        quality_thresholds: QualityThresholds | None = None,
        flip: bool = FaceConfig().flip,
        pick: FacePick = "largest",
        embedders: Sequence[str] | None = None,
        weights: Sequence[float] | None = None,
    ) -> None:
        """Defaults are those of :class:`gate.config.FaceConfig` (models, weights, flip and
        the threshold calibrated for them); ``embedders`` without ``weights`` weighs equally."""
        if embedders is None:
            defaults = FaceConfig().embedding
            embedders = [m.model for m in defaults]
            weights = [m.weight for m in defaults] if weights is None else weights
        self.threshold = threshold
        self.flip = flip
        """Test-time augmentation: embed the aligned face and its mirror image, add both."""
        self.pick: FacePick = pick
        self.quality_thresholds = quality_thresholds or QualityThresholds()
        yunet = onnxgraph.free_shapes(models.model_bytes(models_dir, "yunet"))
        self.weights = normalise_weights(embedders, weights)
        self.detector = YuNet(
            make_session(yunet, threads, name=models.YUNET.filename),
            score_threshold=score_threshold,
        )
        self.embedders: dict[str, Embedder] = {
            key: EMBEDDERS[key](make_session(_model_graph(models_dir, key), threads, name=key))
            for key in self.weights
        }

    @classmethod
    def from_config(cls, face: FaceConfig, **overrides: Any) -> FaceEngine:
        options: dict[str, Any] = {
            "threads": face.threads,
            "threshold": face.threshold,
            "flip": face.flip,
            "embedders": [m.model for m in face.embedding],
            "weights": [m.weight for m in face.embedding],
        }
        options.update(overrides)
        return cls(face.models_dir, **options)

    @property
    def embedder(self) -> Embedder:
        """The first embedding model."""
        return next(iter(self.embedders.values()))

    # ------------------------------------------------------------------ steps

    def detect(self, image: Image) -> list[Detection]:
        return self.detector.detect(image)

    def embed(self, image: Image, detection: Detection) -> tuple[Embedding, Image]:
        """The face's embedding (every model, weighted) and its 112x112 ArcFace crop (for
        quality)."""
        views, crop = self.embed_views(image, detection, flips=self.flip)
        return combine_views(views, self.weights, self.flip), crop

    def embed_views(
        self, image: Image, detection: Detection, *, flips: bool
    ) -> tuple[dict[str, Embedding], Image]:
        """Each model's embedding of the face (and with ``flips`` of its mirror image), and
        the 112x112 ArcFace crop."""
        views: dict[str, Embedding] = {}
        arcface: Image | None = None
        for key, embedder in self.embedders.items():
            crop = align_to(image, detection.landmarks, embedder.size, embedder.template)
            views[key] = embedder.embed(crop)
            if flips:
                views[f"{key}_flip"] = embedder.embed(np.ascontiguousarray(crop[:, ::-1]))
            if embedder.size == ALIGNED_SIZE and embedder.template is ARCFACE_TEMPLATE:
                arcface = crop
        return views, align(image, detection.landmarks) if arcface is None else arcface

    def observe(
        self, image: Image, *, enhance_if_needed: bool = False, all_views: bool = False
    ) -> FaceObservation:
        """Detect every face, then align, embed and assess the largest.

        With ``enhance_if_needed`` (stills and portraits, not live frames) a small or
        low-contrast image is enhanced first, and an image without a detected face is tried
        once more enhanced, then once more with a border added around it. With ``all_views``
        every model's embedding of the face and of its mirror image is kept in ``views``.
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
        if not faces and enhance_if_needed:
            padded, _ = pad_for_detection(work)
            faces = self.detect(padded)
            if faces:  # align from the padded image: its border fills what the crop lacks
                work, steps = padded, [*steps, "padded"]
        height, width = work.shape[:2]
        main = primary_face(faces, self.pick, (width, height))
        if main is None:
            return FaceObservation([], None, None, None, steps)
        views, crop = self.embed_views(work, main, flips=self.flip or all_views)
        embedding = combine_views(views, self.weights, self.flip)
        quality = assess(main, crop, (width, height), self.quality_thresholds)
        return FaceObservation(faces, main, embedding, quality, steps, views if all_views else {})

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


def _model_graph(models_dir: Path | str, key: str) -> bytes:
    """The ONNX bytes onnxruntime runs for embedding model ``key`` (verified, then rewritten
    or converted in memory)."""
    data = models.model_bytes(models_dir, key)
    if key == "sface":
        return onnxgraph.fast_sface(data)
    return dlibnet.onnx_from_dat(data)
