"""``egate face compare IMAGE_A IMAGE_B [--json]``: verify that two images show the same person.

Exit status: 0 match, 1 no match, 2 a face is missing (or an image cannot be used).
``egate face evaluate DIR --labels CSV`` measures accuracy on a labelled set
(:mod:`gate.cli.face_evaluate`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gate import config
from gate.cli import options
from gate.cli.face_evaluate import register_evaluate
from gate.face.errors import ImageError
from gate.face.pipeline import FaceEngine, FaceObservation
from gate.face.portrait import load_image_file


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("face", help="face verification tools")
    sub = parser.add_subparsers(dest="face_command", metavar="ACTION", required=True)
    compare = sub.add_parser(
        "compare",
        help="compare the main faces of two images (exit 0 match, 1 no match, 2 face missing)",
    )
    compare.add_argument("image_a", type=Path, help="JPEG, JPEG 2000, PNG or WebP file")
    compare.add_argument("image_b", type=Path, help="JPEG, JPEG 2000, PNG or WebP file")
    options.add_json(compare, "print one JSON object")
    options.add_lane_config(compare)
    compare.add_argument(
        "--threshold",
        type=_threshold,
        default=None,
        help="override [face] threshold (cosine, -1..1)",
    )
    compare.set_defaults(func=_compare)
    register_evaluate(sub, _threshold)


def _threshold(text: str) -> float:
    """A cosine threshold in [-1, 1]; NaN would make every comparison a silent non-match."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a cosine threshold in -1..1")
    return value


def _quality(obs: FaceObservation | None) -> dict[str, Any] | None:
    if obs is None or obs.quality is None:
        return None
    data = obs.quality.as_dict()
    if obs.enhanced:
        data["enhanced"] = obs.enhanced
    return data


def _compare(args: argparse.Namespace) -> int:
    face = config.load_lane(args.config).face
    threshold = face.threshold if args.threshold is None else args.threshold
    engine = FaceEngine.from_config(face, threshold=threshold)
    started = time.perf_counter()
    observations: list[FaceObservation | None] = []
    errors: list[str | None] = []
    for path in (args.image_a, args.image_b):
        try:
            observations.append(engine.observe(load_image_file(path), enhance_if_needed=True))
            errors.append(None)
        except ImageError as exc:
            observations.append(None)
            errors.append(str(exc))
    obs_a, obs_b = observations
    result = None
    if obs_a is not None and obs_b is not None:
        result = engine.compare_observations(obs_a, obs_b).result
    seconds = time.perf_counter() - started
    report: dict[str, Any] = {
        "similarity": None if result is None else round(result.similarity, 4),
        "threshold": threshold,
        "match": bool(result is not None and result.match),
        "faces": [None if o is None else o.face_count for o in observations],
        "quality": {"a": _quality(obs_a), "b": _quality(obs_b)},
        "seconds": round(seconds, 3),
    }
    missing = [str(p) for p, o in zip((args.image_a, args.image_b), observations, strict=True)
               if o is not None and o.embedding is None]  # fmt: skip
    if any(errors):
        report["errors"] = [e for e in errors if e]
    if missing:
        report["errors"] = [*report.get("errors", []), *(f"no face found in {m}" for m in missing)]
    if args.json:
        print(json.dumps(report))
    else:
        if result is None:
            for line in report.get("errors", []):
                print(f"error: {line}")
        else:
            verdict = "MATCH" if result.match else "NO MATCH"
            print(
                f"{verdict}: similarity {result.similarity:.4f} (threshold {threshold}), "
                f"faces {report['faces'][0]} and {report['faces'][1]}, {seconds:.2f} s"
            )
    if result is None:
        return 2
    return 0 if result.match else 1
