"""Grey levels for MRZ ink from a colour image.

ICAO 9303 Part 3 prints the MRZ in black. A plain luminance conversion makes saturated colour
dark too: a red annotation drawn across the MRZ, a stamp, coloured guilloche or a visa
sticker's tint then reads as ink and breaks the characters it crosses. The brightest channel
of a pixel (HSV "value") keeps black ink black and turns any saturated colour light, so only
dark, colourless strokes remain; on grey pixels it equals luminance.
"""

from __future__ import annotations

import numpy as np


def ink_gray(bgr: np.ndarray) -> np.ndarray:
    """A uint8 grey image from a uint8 BGR (or BGRA) image: the brightest colour channel."""
    if bgr.ndim != 3 or bgr.shape[2] < 3:
        raise ValueError(f"expected a colour image, got shape {bgr.shape}")
    return np.ascontiguousarray(bgr[..., :3].max(axis=2))
