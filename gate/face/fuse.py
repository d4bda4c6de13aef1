"""Fusion of several live frames: keep the best k by quality, average their embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gate.face.embed import Embedding, l2_normalise
from gate.face.errors import NoFaceError
from gate.face.quality import Quality


@dataclass(frozen=True)
class FrameSample:
    """One live frame's face: its embedding and quality (and the frame's index or time)."""

    embedding: Embedding
    quality: Quality
    index: int = 0


def best_frames(
    samples: Sequence[FrameSample], k: int, *, usable_only: bool = True
) -> list[FrameSample]:
    """The ``k`` samples with the highest quality score; those with issues come last or, with
    ``usable_only``, are dropped unless nothing else is left."""
    if k < 1:
        raise ValueError("k must be at least 1")
    ranked = sorted(samples, key=lambda s: (s.quality.ok, s.quality.score), reverse=True)
    if usable_only and any(s.quality.ok for s in ranked):
        ranked = [s for s in ranked if s.quality.ok]
    return ranked[:k]


def fuse(samples: Sequence[FrameSample], k: int) -> Embedding:
    """The L2-normalised mean embedding of the best ``k`` samples."""
    chosen = best_frames(samples, k)
    if not chosen:
        raise NoFaceError("no live frame with a face to fuse: ask the traveller to face the camera")
    return l2_normalise(np.mean([s.embedding for s in chosen], axis=0))
