"""Face detection with YuNet (2023mar), decoded here in numpy.

The model takes a 1x3xHxW float BGR tensor (0..255, no normalisation; H and W multiples of 32,
see :mod:`gate.face.onnxgraph` for freeing the declared 640x640) and returns, for each stride s
in 8/16/32 and each cell (row r, column c) of the (H/s) x (W/s) grid, row-major:

- ``cls_s``, ``obj_s``: class and objectness probabilities (already through a sigmoid);
  the face score is sqrt(cls * obj) with both clamped to [0, 1];
- ``bbox_s``: (dx, dy, log w, log h); centre = ((c + dx) s, (r + dy) s), size = exp(.) s;
- ``kps_s``: five (x, y) landmark offsets; point = ((c + x) s, (r + y) s), in the order
  right eye, left eye, nose tip, right and left mouth corner (the subject's right eye is on
  the image's left).

This is the "priors-free" format of the OpenCV Zoo 2023mar release (libfacedetection.train);
overlapping boxes are removed by greedy non-maximum suppression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from gate.face.errors import ImageError, InferenceError
from gate.face.types import FloatArray, Image

INPUT_SIZE = 640
"""Longest side of the detector input; images are scaled to it (up or down)."""
ALIGN = 32
STRIDES = (8, 16, 32)
DEFAULT_SCORE_THRESHOLD = 0.7
DEFAULT_NMS_IOU = 0.3


@dataclass(frozen=True)
class Detection:
    """One face in image coordinates (pixels of the image given to :meth:`YuNet.detect`)."""

    box: tuple[float, float, float, float]
    """x, y (top-left), width, height."""
    score: float
    landmarks: tuple[tuple[float, float], ...]
    """Five points: right eye, left eye, nose tip, right mouth corner, left mouth corner."""

    @property
    def landmark_array(self) -> FloatArray:
        return np.asarray(self.landmarks, dtype=np.float32)

    @property
    def inter_eye(self) -> float:
        (x1, y1), (x2, y2) = self.landmarks[0], self.landmarks[1]
        return float(np.hypot(x2 - x1, y2 - y1))

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; ``boxes`` as (x1, y1, x2, y2). Indices, best first."""
    order = np.argsort(-scores, kind="stable")
    area = np.maximum(0.0, boxes[:, 2] - boxes[:, 0]) * np.maximum(0.0, boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        xx1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.maximum(0.0, xx2 - xx1) * np.maximum(0.0, yy2 - yy1)
        union = area[best] + area[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
        order = rest[iou <= iou_threshold]
    return keep


def decode(
    outputs: Mapping[str, npt.NDArray[Any]],
    *,
    input_size: tuple[int, int] = (INPUT_SIZE, INPUT_SIZE),
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    nms_iou: float = DEFAULT_NMS_IOU,
    scale: float = 1.0,
    limit: tuple[float, float] | None = None,
) -> list[Detection]:
    """Turn raw YuNet outputs (by name) into detections, best score first.

    ``input_size`` is the (width, height) of the tensor given to the model. Coordinates are
    divided by ``scale`` (the factor the image was resized by) and boxes are
    clipped to ``limit`` (original width, height) when given.
    """
    all_boxes: list[FloatArray] = []
    all_scores: list[FloatArray] = []
    all_kps: list[FloatArray] = []
    in_w, in_h = input_size
    for stride in STRIDES:
        cols, rows = in_w // stride, in_h // stride
        cells = cols * rows
        try:
            cls = np.asarray(outputs[f"cls_{stride}"], dtype=np.float32).reshape(-1)
            obj = np.asarray(outputs[f"obj_{stride}"], dtype=np.float32).reshape(-1)
            bbox = np.asarray(outputs[f"bbox_{stride}"], dtype=np.float32).reshape(-1, 4)
            kps = np.asarray(outputs[f"kps_{stride}"], dtype=np.float32).reshape(-1, 10)
        except (KeyError, ValueError) as exc:
            raise InferenceError(f"YuNet output for stride {stride} is malformed: {exc}") from None
        if not cls.size == obj.size == len(bbox) == len(kps) == cells:
            raise InferenceError(
                f"YuNet stride {stride}: {cls.size} cells, expected {cells} for a "
                f"{in_w}x{in_h} input"
            )
        score = np.sqrt(np.clip(cls, 0.0, 1.0) * np.clip(obj, 0.0, 1.0))
        idx = np.nonzero(score >= score_threshold)[0]
        if idx.size == 0:
            continue
        row = (idx // cols).astype(np.float32)
        col = (idx % cols).astype(np.float32)
        b = bbox[idx]
        cx = (col + b[:, 0]) * stride
        cy = (row + b[:, 1]) * stride
        w = np.exp(np.minimum(b[:, 2], 10.0)) * stride
        h = np.exp(np.minimum(b[:, 3], 10.0)) * stride
        all_boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        k = kps[idx].reshape(-1, 5, 2)
        pts = np.empty_like(k)
        pts[:, :, 0] = (k[:, :, 0] + col[:, None]) * stride
        pts[:, :, 1] = (k[:, :, 1] + row[:, None]) * stride
        all_kps.append(pts)
        all_scores.append(score[idx])
    if not all_boxes:
        return []
    boxes = np.concatenate(all_boxes) / scale
    scores = np.concatenate(all_scores)
    points = np.concatenate(all_kps) / scale
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(points).all(axis=(1, 2))
    finite &= np.isfinite(scores)
    if not finite.all():  # a broken model output must not become a full-frame "face"
        boxes, scores, points = boxes[finite], scores[finite], points[finite]
    detections: list[Detection] = []
    for i in nms(boxes, scores, nms_iou):
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        if limit is not None:
            x1, x2 = max(0.0, x1), min(float(limit[0]), x2)
            y1, y2 = max(0.0, y1), min(float(limit[1]), y2)
        if x2 <= x1 or y2 <= y1:
            continue
        detections.append(
            Detection(
                box=(x1, y1, x2 - x1, y2 - y1),
                score=float(scores[i]),
                landmarks=tuple((float(p[0]), float(p[1])) for p in points[i]),
            )
        )
    return detections


def prepare(image: Image, max_side: int = INPUT_SIZE) -> tuple[FloatArray, float]:
    """Scale so the longer side is ``max_side``, pad right/bottom with black to multiples of
    32; return the NCHW float32 BGR tensor and the scale factor."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ImageError(f"expected a BGR image, got an array of shape {image.shape}")
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    height, width = image.shape[:2]
    if height < 1 or width < 1:
        raise ImageError("the image is empty (0 pixels)")
    scale = max_side / max(height, width)
    if scale != 1.0:
        new_w = max(1, min(max_side, round(width * scale)))
        new_h = max(1, min(max_side, round(height * scale)))
        interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        image = cv2.resize(image, (new_w, new_h), interpolation=interp)
    pad_h = -(-image.shape[0] // ALIGN) * ALIGN
    pad_w = -(-image.shape[1] // ALIGN) * ALIGN
    blob = np.zeros((1, 3, pad_h, pad_w), dtype=np.float32)
    blob[0, :, : image.shape[0], : image.shape[1]] = image.transpose(2, 0, 1)
    return blob, scale


class YuNet:
    """YuNet detector on an onnxruntime session (see :func:`gate.face.runtime.make_session`)
    of the model with freed input shape (:func:`gate.face.onnxgraph.free_shapes`)."""

    def __init__(
        self,
        session: Any,
        *,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        nms_iou: float = DEFAULT_NMS_IOU,
        max_side: int = INPUT_SIZE,
    ) -> None:
        self.session = session
        self.max_side = max_side
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self._input = session.get_inputs()[0].name
        self._outputs: Sequence[str] = [o.name for o in session.get_outputs()]

    def raw(self, blob: FloatArray) -> dict[str, npt.NDArray[Any]]:
        try:
            values = self.session.run(self._outputs, {self._input: blob})
        except Exception as exc:  # onnxruntime's exceptions are not typed
            raise InferenceError(f"YuNet inference failed: {exc}") from None
        return dict(zip(self._outputs, values, strict=True))

    def detect(self, image: Image) -> list[Detection]:
        """All faces in a BGR image, best score first."""
        blob, scale = prepare(image, self.max_side)
        height, width = image.shape[:2]
        return decode(
            self.raw(blob),
            input_size=(blob.shape[3], blob.shape[2]),
            score_threshold=self.score_threshold,
            nms_iou=self.nms_iou,
            scale=scale,
            limit=(width, height),
        )
