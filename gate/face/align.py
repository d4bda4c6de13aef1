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
    return align_to(image, landmarks, size, ARCFACE_TEMPLATE * (size / ALIGNED_SIZE))


def _dlib_template() -> npt.NDArray[np.float64]:
    """The five points above as they fall on dlib's 150x150 face chip.

    dlib's chip (get_face_chip_details(shape, 150, 0.25), dlib image_transforms) maps its
    5-point landmarks (eye corners, under the nose) onto a mean shape given in unit
    coordinates; (0.25 + u) / 1.5 * 150 puts them on the chip. The eye centres are the means of
    the eye corners; YuNet's nose tip and mouth corners, which dlib's scheme lacks, are placed
    with the ArcFace template's proportions relative to the eyes.
    """
    unit = np.array(
        [
            [0.8595674595992, 0.2134981538014],
            [0.6460604764104, 0.2289674387677],
            [0.1205750620789, 0.2137274526848],
            [0.3340850613712, 0.2290642403242],
        ]
    )
    chip = (0.25 + unit) / 1.5 * 150.0
    right_eye, left_eye = chip[2:4].mean(axis=0), chip[0:2].mean(axis=0)
    src = ARCFACE_TEMPLATE[:2]
    matrix = similarity_transform(src, np.stack([right_eye, left_eye]))
    points = ARCFACE_TEMPLATE @ matrix[:, :2].T + matrix[:, 2]
    out: npt.NDArray[np.float64] = points
    return out


DLIB_CHIP_SIZE = 150
DLIB_TEMPLATE = _dlib_template()
"""Right eye, left eye, nose tip, mouth corners on dlib's 150x150 chip (see above)."""


def align_to(image: Image, landmarks: npt.ArrayLike, size: int, template: npt.ArrayLike) -> Image:
    """The face warped so that ``landmarks`` land on ``template``: a ``size`` x ``size`` crop."""
    matrix = similarity_transform(landmarks, template)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    out: Image = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return out
