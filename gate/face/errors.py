"""The face domain's exceptions, rooted at :class:`gate.errors.EgateError`.

Every message says what failed, on which input, and what to do about it.
"""

from __future__ import annotations

from gate.errors import EgateError


class FaceError(EgateError):
    """Base class of every error raised on purpose by :mod:`gate.face`."""

    reason_code = "FACE_NOT_FOUND"


class ModelError(FaceError):
    """A model file cannot be used."""

    reason_code = "FACE_ENGINE_FAULT"


class ModelMissingError(ModelError):
    """A model file is not in the models directory."""


class ModelCorruptError(ModelError):
    """A model file has the wrong size or checksum."""


class ModelFetchError(ModelError):
    """A model could not be obtained from its pinned PyPI package."""


class InferenceError(FaceError):
    """onnxruntime failed to run a model on an input."""

    reason_code = "FACE_ENGINE_FAULT"


class ImageError(FaceError):
    """An image (live frame or chip portrait) cannot be used."""


class ImageDecodeError(ImageError):
    """The bytes are not a decodable image (unknown format, truncated, corrupt)."""


class ImageTooLargeError(ImageError):
    """The header announces more pixels than allowed (decompression-bomb guard)."""


class NoFaceError(FaceError):
    """No face was found where one is required."""
