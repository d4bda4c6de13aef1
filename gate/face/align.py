"""Alignment of a face to the 112x112 ArcFace five-point template.

The template (InsightFace's ArcFace reference points, also used by SFace in OpenCV) places
right eye, left eye, nose tip, right and left mouth corner at the coordinates below. The
similarity transform (rotation, uniform scale, translation) that best maps the detected
landmarks onto them in the least-squares sense is Umeyama's closed form (IEEE TPAMI 13(4), 1991).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from gate.face.errors import ImageError
from gate.face.types import Image

ALIGNED_SIZE = 112
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(
    src: npt.ArrayLike, dst: npt.ArrayLike = ARCFACE_TEMPLATE
) -> npt.NDArray[np.float64]:
    """The 2x3 matrix of the least-squares similarity transform taking ``src`` to ``dst``."""
    s = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    d = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if s.shape != d.shape or s.shape[0] < 2:
        raise ImageError(f"need matching point sets of at least 2 points, got {s.shape}, {d.shape}")
    if not (np.isfinite(s).all() and np.isfinite(d).all()):
        raise ImageError("landmarks are not finite numbers (NaN or inf): cannot align the face")
    mu_s, mu_d = s.mean(axis=0), d.mean(axis=0)
    sc, dc = s - mu_s, d - mu_d
    var_s = float((sc**2).sum() / len(s))
    if var_s < 1e-12:
        raise ImageError("landmarks are degenerate (all at one point): cannot align the face")
    cov = dc.T @ sc / len(s)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign)) / var_s
    matrix = np.empty((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rot
    matrix[:, 2] = mu_d - scale * rot @ mu_s
    return matrix


def align(image: Image, landmarks: npt.ArrayLike, size: int = ALIGNED_SIZE) -> Image:
    """The face warped onto the template: a ``size`` x ``size`` BGR crop."""
    template = ARCFACE_TEMPLATE * (size / ALIGNED_SIZE)
    matrix = similarity_transform(landmarks, template)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    out: Image = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return out
