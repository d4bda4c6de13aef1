"""Character classifier: a small two-layer perceptron over glyph features, run with numpy.

The weights (``drivers/mrz_ocr/mrz_ocrb_mlp.npz``, package data) are produced deterministically by
``python -m drivers.mrz_ocr.train`` from OCR-B glyphs rendered with Debian's fonts-ocr-b and
degraded like camera images; see docs/mrz-ocr.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from gate.errors import EgateError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"
MODEL_PATH = Path(__file__).resolve().parent / "mrz_ocrb_mlp.npz"


class ModelMissingError(EgateError):
    """The classifier weights are not there."""


@dataclass(frozen=True)
class Classifier:
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def log_probs(self, features: np.ndarray) -> np.ndarray:
        """(n, 37) natural-log class probabilities in ALPHABET order."""
        # einsum without BLAS: these products are tiny, and a multi-threaded BLAS on a busy
        # machine spends 100x longer waking its threads than computing (measured 16 ms vs 0.4)
        x = features.astype(np.float32)
        hidden = np.maximum(np.einsum("ij,jk->ik", x, self.w1, optimize=False) + self.b1, 0.0)
        logits = np.einsum("ij,jk->ik", hidden, self.w2, optimize=False) + self.b2
        logits = logits - logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            w1=self.w1.astype(np.float16),
            b1=self.b1.astype(np.float32),
            w2=self.w2.astype(np.float16),
            b2=self.b2.astype(np.float32),
        )


def load_classifier(path: Path | None = None) -> Classifier:
    return _load(str(path or MODEL_PATH))


@lru_cache(maxsize=4)
def _load(path: str) -> Classifier:
    try:
        with np.load(path) as data:
            return Classifier(
                data["w1"].astype(np.float32),
                data["b1"].astype(np.float32),
                data["w2"].astype(np.float32),
                data["b2"].astype(np.float32),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise ModelMissingError(
            f"MRZ classifier weights {path!r} could not be loaded ({exc}); "
            "regenerate them with: python -m drivers.mrz_ocr.train"
        ) from exc
