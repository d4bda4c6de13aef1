"""Grey levels for MRZ ink from a colour image.

ICAO 9303 Part 3 prints the MRZ in black. A plain luminance conversion makes saturated colour
dark too: a red annotation drawn across the MRZ, a stamp or a coloured pen stroke then reads as
ink and breaks the characters it crosses. Strongly coloured pixels therefore take their
brightest channel (HSV "value"), which turns any saturated colour light while black stays
black; weakly coloured pixels (tinted paper, a coloured cast, a dull background) keep their
luminance, so the contrast between a page and its surroundings, which the locator uses, does
not change. The two blend over a band of chroma to avoid edges.
"""

from __future__ import annotations

import cv2
import numpy as np

CHROMA_LOW = 60  # max - min channel below this: luminance (tint, cast, dull background)
CHROMA_HIGH = 120  # above this: the brightest channel (a saturated stroke is not ink)


def ink_gray(bgr: np.ndarray) -> np.ndarray:
    """A uint8 grey image from a uint8 BGR (or BGRA) image (see the module docstring)."""
    if bgr.ndim != 3 or bgr.shape[2] < 3:
        raise ValueError(f"expected a colour image, got shape {bgr.shape}")
    colour = np.ascontiguousarray(bgr[..., :3])
    luminance: np.ndarray = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    b, g, r = cv2.split(colour)
    high = cv2.max(cv2.max(b, g), r)
    chroma = cv2.subtract(high, cv2.min(cv2.min(b, g), r))
    coloured = chroma > CHROMA_LOW
    if not coloured.any():
        return luminance  # no saturated colour anywhere: the usual conversion
    weight = np.minimum((chroma[coloured] - CHROMA_LOW) / (CHROMA_HIGH - CHROMA_LOW), 1.0)
    lum = luminance[coloured].astype(np.float32)
    luminance[coloured] = np.rint(lum + weight * (high[coloured] - lum)).astype(np.uint8)
    return luminance
