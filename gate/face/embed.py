"""Face embeddings with SFace (OpenCV Zoo, 2021dec): 128 numbers per aligned face.

Input: 1x3x112x112 float RGB in 0..255 (the model normalises internally), the face aligned
to the ArcFace template (:mod:`gate.face.align`). Output ``fc1``: 128 floats, which we
L2-normalise so that cosine similarity is a dot product.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gate.face.align import ALIGNED_SIZE
from gate.face.errors import ImageError, InferenceError
from gate.face.types import Image

EMBEDDING_SIZE = 128
Embedding = npt.NDArray[np.float32]


def l2_normalise(vector: npt.ArrayLike) -> Embedding:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm < 1e-12:
        raise InferenceError("the embedding is zero or not finite: the face crop is unusable")
    out: Embedding = v / norm
    return out


class SFace:
    """SFace embedder on an onnxruntime session."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name

    def embed(self, aligned_bgr: Image) -> Embedding:
        """L2-normalised 128-d embedding of a 112x112 aligned BGR face."""
        if aligned_bgr.shape != (ALIGNED_SIZE, ALIGNED_SIZE, 3):
            raise ImageError(
                f"SFace needs a {ALIGNED_SIZE}x{ALIGNED_SIZE} BGR crop, got {aligned_bgr.shape}"
            )
        blob = aligned_bgr[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)
        try:
            (out,) = self.session.run([self._output], {self._input: blob})
        except Exception as exc:  # onnxruntime's exceptions are not typed
            raise InferenceError(f"SFace inference failed: {exc}") from None
        return l2_normalise(out)
