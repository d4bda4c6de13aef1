"""Face embeddings: 128 numbers per aligned face, L2-normalised (cosine = dot product).

- SFace (OpenCV Zoo, 2021dec): 1x3x112x112 float RGB in 0..255 (the model normalises
  internally), the face aligned to the ArcFace template; output ``fc1``.
- dlib's ResNet (``dlib_face_recognition_resnet_model_v1``, converted by
  :mod:`gate.face.dlibnet`): 1x3x150x150 float RGB in 0..255 on dlib's chip
  (:data:`gate.face.align.DLIB_TEMPLATE`); output ``descriptor``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gate.face.align import ALIGNED_SIZE, ARCFACE_TEMPLATE, DLIB_CHIP_SIZE, DLIB_TEMPLATE
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

    name = "SFace"
    size = ALIGNED_SIZE
    """Side of the aligned crop it takes."""
    template = ARCFACE_TEMPLATE
    """Where the five landmarks go on that crop."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name

    def embed(self, aligned_bgr: Image) -> Embedding:
        """L2-normalised 128-d embedding of a ``size`` x ``size`` aligned BGR face."""
        if aligned_bgr.shape != (self.size, self.size, 3):
            raise ImageError(
                f"{self.name} needs a {self.size}x{self.size} BGR crop, got {aligned_bgr.shape}"
            )
        blob = aligned_bgr[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)
        try:
            (out,) = self.session.run([self._output], {self._input: blob})
        except Exception as exc:  # onnxruntime's exceptions are not typed
            raise InferenceError(f"{self.name} inference failed: {exc}") from None
        return l2_normalise(out)


class DlibResNet(SFace):
    """dlib's face recognition ResNet (converted to ONNX) on an onnxruntime session."""

    name = "dlib ResNet"
    size = DLIB_CHIP_SIZE
    template = DLIB_TEMPLATE


Embedder = SFace
"""What :class:`gate.face.pipeline.FaceEngine` needs of an embedder (both classes above)."""
