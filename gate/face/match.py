"""Comparison of two embeddings: cosine similarity against a threshold from configuration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gate.face.errors import FaceError


@dataclass(frozen=True)
class MatchResult:
    similarity: float
    threshold: float

    @property
    def match(self) -> bool:
        return self.similarity >= self.threshold


def cosine_similarity(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    va = np.asarray(a, dtype=np.float64).reshape(-1)
    vb = np.asarray(b, dtype=np.float64).reshape(-1)
    if va.shape != vb.shape:
        raise FaceError(f"cannot compare embeddings of sizes {va.size} and {vb.size}")
    na, nb = float(np.linalg.norm(va)), float(np.linalg.norm(vb))
    if na < 1e-12 or nb < 1e-12 or not (np.isfinite(na) and np.isfinite(nb)):
        raise FaceError("cannot compare a zero or non-finite embedding")
    return float(np.clip(va @ vb / (na * nb), -1.0, 1.0))


def compare(a: npt.ArrayLike, b: npt.ArrayLike, threshold: float) -> MatchResult:
    return MatchResult(similarity=cosine_similarity(a, b), threshold=threshold)
