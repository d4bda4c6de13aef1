"""Array aliases shared by the face modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[Any]
"""A decoded image: H x W x 3 uint8 BGR (OpenCV's layout), or H x W grey."""
FloatArray = npt.NDArray[np.float32]
