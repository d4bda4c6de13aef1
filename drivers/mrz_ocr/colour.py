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
    luminance = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    high = colour.max(axis=2)
    chroma = high - colour.min(axis=2)
    if int(chroma.max()) <= CHROMA_LOW:
        return luminance  # no saturated colour anywhere: the usual conversion
    weight = np.clip(
        (chroma.astype(np.float32) - CHROMA_LOW) / (CHROMA_HIGH - CHROMA_LOW), 0.0, 1.0
    )
    out = luminance + weight * (high.astype(np.float32) - luminance)
    return np.ascontiguousarray(np.rint(out).astype(np.uint8))
