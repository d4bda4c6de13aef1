"""Quality of a face in a live frame, and what to tell the traveller to correct.

Measures (all from the five landmarks and the aligned crop, so they are cheap):

- face size: box height and inter-eye distance in pixels (ICAO 9303-3 / ISO/IEC 19794-5 ask
  for at least 90 px between the eye centres on a portrait; a live frame needs less);
- roll: angle of the eye line; yaw: horizontal offset of the nose tip from the eye mid-point;
  pitch: vertical position of the nose tip between eye line and mouth line, compared with its
  median on frontal photos. Yaw and pitch are *approximations* from 2-D landmarks (the nose
  ~0.6 inter-eye distances in front of the eyes), good to tell "look at the camera" from "fine",
  not a head-pose estimator;
- sharpness: variance of the Laplacian of the 112x112 aligned grey crop;
- exposure: mean grey level of the aligned crop and the share of clipped pixels;
- lighting asymmetry: |L - R| / (L + R) for the median grey levels L and R of the two
  halves of the face (eye to jaw, beside the nose) in the aligned crop. Light from one side
  leaves half of the face in shadow, which removes half of what the models compare and raises
  impostor scores; such a frame must not decide a match (the traveller is asked to face the
  camera again). On 300 LFW press photos the 99th percentile was 0.34 (the largest 0.44);
  four LFW faces darkened to 10 % on one side of the nose gave 0.60 to 0.73
  (``tests/face/test_face_stills.py``). The limit, 0.4, is a judgement between the two, not
  a calibration on side-lit photos (none are in the test data).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from gate.face.detect import Detection
from gate.face.types import Image

NOSE_DEPTH = 0.6
"""Nose-tip depth in front of the eye plane, in inter-eye distances (anthropometric rough)."""
FRONTAL_NOSE_RATIO = 0.59
"""(nose - eye line) / (mouth - eye line) vertically for a frontal face: the median of YuNet's
landmarks over the 116 mostly frontal photos of testdata/faces (deepface, dlib_johns). The ArcFace
template's own ratio (0.495) is that of aligned training crops and reads as ~10 degrees of pitch."""

GUIDANCE: dict[str, str] = {
    "no_face": "Please look at the camera",
    "several_faces": "Only one person at a time, please",
    "step_closer": "Please step closer",
    "step_back": "Please step back a little",
    "look_at_camera": "Please look at the camera",
    "head_straight": "Please keep your head straight",
    "hold_still": "Please hold still",
    "too_dark": "Please step into the light",
    "too_bright": "Too much light: please move out of direct light",
    "uneven_light": "Please face the camera: your face is lit from one side",
    "centre": "Please move to the centre",
}


@dataclass(frozen=True)
class QualityThresholds:
    min_inter_eye: float = 40.0
    max_face_fraction: float = 0.8
    """Face box height as a share of the frame height above which the traveller is too close."""
    max_yaw: float = 20.0
    max_pitch: float = 20.0
    max_roll: float = 15.0
    min_sharpness: float = 40.0
    min_brightness: float = 60.0
    max_brightness: float = 200.0
    max_clipped: float = 0.15
    max_light_asymmetry: float = 0.4
    edge_margin: float = 0.02


@dataclass(frozen=True)
class Quality:
    face_height: float
    inter_eye: float
    yaw: float
    pitch: float
    roll: float
    sharpness: float
    brightness: float
    clipped: float
    detector_score: float
    score: float
    """0..1, higher is better; used to rank frames."""
    issues: list[str] = field(default_factory=list)
    """Codes of :data:`GUIDANCE`, most important first; empty when the face is fine."""
    light_asymmetry: float = 0.0
    """See :func:`light_asymmetry`."""

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def guidance(self) -> str | None:
        return GUIDANCE[self.issues[0]] if self.issues else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = round(value, 3)
        data["guidance"] = self.guidance
        return data


def pose(landmarks: npt.ArrayLike) -> tuple[float, float, float]:
    """Approximate (yaw, pitch, roll) in degrees from the five landmarks."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    right_eye, left_eye, nose = pts[0], pts[1], pts[2]
    mouth = (pts[3] + pts[4]) / 2
    eye_vec = left_eye - right_eye
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    iod = float(np.hypot(*eye_vec))
    if iod < 1e-6:
        return 0.0, 0.0, roll
    # Undo roll so that the eye line is horizontal.
    c, s = math.cos(math.radians(-roll)), math.sin(math.radians(-roll))
    rot = np.array([[c, -s], [s, c]])
    eye_mid = (right_eye + left_eye) / 2
    n = rot @ (nose - eye_mid)
    m = rot @ (mouth - eye_mid)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, n[0] / (NOSE_DEPTH * iod)))))
    if m[1] <= 1e-6:
        return yaw, 0.0, roll
    ratio = n[1] / m[1]
    pitch_offset = (ratio - FRONTAL_NOSE_RATIO) * m[1] / (NOSE_DEPTH * iod)
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, pitch_offset))))
    return yaw, pitch, roll


def sharpness(grey: Image) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def light_asymmetry(aligned_grey: Image) -> float:
    """|L - R| / (L + R) of the median grey levels of the face's two halves in a 112x112
    ArcFace-aligned grey crop (0 even light, 1 one half black)."""
    left = float(np.median(aligned_grey[24:100, 20:50]))
    right = float(np.median(aligned_grey[24:100, 62:92]))
    return abs(left - right) / max(left + right, 1e-6)


def assess(
    detection: Detection,
    aligned_bgr: Image,
    frame_size: tuple[int, int],
    thresholds: QualityThresholds | None = None,
) -> Quality:
    """Quality of one detected face; ``frame_size`` is (width, height) of the frame."""
    th = thresholds or QualityThresholds()
    width, height = frame_size
    grey = cv2.cvtColor(aligned_bgr, cv2.COLOR_BGR2GRAY)
    inner = grey[16:104, 16:96]  # skip the border the warp may have filled with black
    yaw, pitch, roll = pose(detection.landmarks)
    sharp = sharpness(inner)
    brightness = float(inner.mean())
    clipped = float(((inner <= 5) | (inner >= 250)).mean())
    asymmetry = light_asymmetry(grey)
    x, y, w, h = detection.box
    issues: list[str] = []
    if detection.inter_eye < th.min_inter_eye:
        issues.append("step_closer")
    elif h > th.max_face_fraction * height:
        issues.append("step_back")
    margin_x, margin_y = th.edge_margin * width, th.edge_margin * height
    if x < margin_x or y < margin_y or x + w > width - margin_x or y + h > height - margin_y:
        issues.append("centre")
    if abs(yaw) > th.max_yaw or abs(pitch) > th.max_pitch:
        issues.append("look_at_camera")
    if abs(roll) > th.max_roll:
        issues.append("head_straight")
    if brightness < th.min_brightness:
        issues.append("too_dark")
    elif brightness > th.max_brightness or clipped > th.max_clipped:
        issues.append("too_bright")
    if asymmetry > th.max_light_asymmetry:
        issues.append("uneven_light")
    if sharp < th.min_sharpness:
        issues.append("hold_still")
    # Score: product of soft factors in 0..1, so one bad aspect ranks a frame low.
    factors = [
        min(1.0, detection.inter_eye / (2 * th.min_inter_eye)),
        max(0.0, 1 - abs(yaw) / (3 * th.max_yaw)),
        max(0.0, 1 - abs(pitch) / (3 * th.max_pitch)),
        max(0.0, 1 - abs(roll) / (3 * th.max_roll)),
        min(1.0, sharp / (3 * th.min_sharpness)),
        max(0.0, 1 - abs(brightness - 128) / 160),
        max(0.0, 1 - clipped),
        max(0.0, 1 - asymmetry),
        max(0.0, min(1.0, detection.score)),
    ]
    return Quality(
        face_height=h,
        inter_eye=detection.inter_eye,
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        sharpness=sharp,
        brightness=brightness,
        clipped=clipped,
        light_asymmetry=asymmetry,
        detector_score=detection.score,
        score=float(np.prod(factors)),
        issues=issues,
    )
