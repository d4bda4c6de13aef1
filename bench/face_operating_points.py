"""Face thresholds at FMR 1 %, 0.1 % and 0.01 % of the default pipeline on lfw_dev; prints JSON.

    python bench/face_operating_points.py [--data ../shared/testdata/faces]
                                          [--cache var/face-embeddings] [--threads 2]

The FMR 1 % threshold is the floor below which ``gate.config`` refuses ``[face] threshold``
unless ``allow_insecure = true`` (``gate.config.FACE_FMR1_THRESHOLDS``). Default pipeline
([face] defaults: YuNet, SFace and dlib's ResNet with equal weights, no flip), raw images, the
face nearest the centre (LFW labels the centred person, lfw_dev/PROVENANCE.md), every genuine
and impostor pair. SFace and dlib's ResNet alone are reported too. Embeddings go through the
cache of ``egate face evaluate``, so a second run embeds nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from _common import REPO, faces_root  # sets up sys.path for the gate package

from gate.cli import face_evaluate
from gate.config import FACE_FMR1_THRESHOLDS, FaceConfig
from gate.face import evaluation
from gate.face.pipeline import FaceEngine

TARGETS = (0.01, 0.001, 0.0001)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="testdata/faces (default: ../shared/testdata/faces)")
    parser.add_argument("--cache", type=Path, default=REPO / "var" / "face-embeddings")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    root = faces_root(args.data)
    face = FaceConfig()
    rows = face_evaluate.read_labels(root / "lfw_dev" / "labels.csv", root / "lfw_dev")
    engine = FaceEngine(
        face.models_dir if face.models_dir.is_absolute() else REPO / face.models_dir,
        threads=args.threads,
        embedders=[m.model for m in face.embedding],
        weights=[m.weight for m in face.embedding],
        flip=face.flip,
        pick="centre",
    )
    start = time.monotonic()
    observed = face_evaluate.observe_set(engine, root / "lfw_dev", rows, "raw", args.cache)
    ids = [r.identity for r in rows]
    report: dict[str, Any] = {
        "set": "lfw_dev",
        "images": len(rows),
        "condition": "raw",
        "pick": "centre",
        "configured_threshold": face.threshold,
        "fmr1_thresholds_in_config": FACE_FMR1_THRESHOLDS,
        "pipelines": {},
    }
    for name, weights in (
        ("default", engine.weights),
        ("sface", {"sface": 1.0}),
        ("dlib_resnet", {"dlib_resnet": 1.0}),
    ):
        matrix = face_evaluate.embedding_matrix(observed, weights, face.flip)
        scores = evaluation.pair_scores(matrix, ids)
        points = evaluation.operating_points(
            scores.genuine, scores.impostor, face.threshold, TARGETS
        )
        report["pipelines"][name] = {
            "models": weights,
            "genuine_pairs": int(scores.genuine.size),
            "impostor_pairs": int(scores.impostor.size),
            **points,
        }
    report["seconds"] = round(time.monotonic() - start, 1)
    report["loadavg"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
