"""Face verification accuracy on testdata/faces; prints JSON, saves a DET curve as PNG.

    python bench/face_accuracy.py [--data ../shared/testdata/faces] [--out bench/out]

Sets: deepface all pairs (every pair of the 61 labelled photos, identities from
identity_clusters.csv), deepface labelled pairs (the 520 pairs of master.csv and
face-recognition-pivot.csv), dlib_johns all pairs (55 aligned chips, 5 people), and both
"all pairs" sets together. A photo without a detected face is a failure to detect; its pairs
are scored -1 (a non-match), so failures count against FNMR instead of vanishing.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from _common import REPO, faces_root  # sets up sys.path for the gate package

from gate.config import FaceConfig
from gate.face.pipeline import FaceEngine
from gate.face.portrait import load_image_file

TARGETS = (0.001, 0.01)


def threshold_at_fmr(impostor: np.ndarray, target: float) -> float:
    """The lowest threshold whose false match rate (share of impostor scores >= it) <= target."""
    desc = np.sort(impostor)[::-1]
    allowed = math.floor(target * len(desc) + 1e-9)
    if allowed >= len(desc):
        return float(desc[-1])
    return float(np.nextafter(desc[allowed], np.inf))


def rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> tuple[float, float]:
    return float((impostor >= threshold).mean()), float((genuine < threshold).mean())


def summary(genuine: list[float], impostor: list[float], configured: float) -> dict[str, Any]:
    g, i = np.asarray(genuine), np.asarray(impostor)
    out: dict[str, Any] = {"genuine_pairs": len(g), "impostor_pairs": len(i)}
    for target in TARGETS:
        label = f"{target * 100:g}%"
        thr = threshold_at_fmr(i, target)
        fmr, fnmr = rates(g, i, thr)
        out[f"fmr_{label}"] = {"threshold": round(thr, 4), "fmr": fmr, "fnmr": fnmr}
    fmr, fnmr = rates(g, i, configured)
    out["configured_threshold"] = {"threshold": configured, "fmr": fmr, "fnmr": fnmr}
    grid = np.unique(np.concatenate([g, i]))
    eer = min((max(rates(g, i, t)) for t in grid), default=0.0)
    out["eer_upper_bound"] = eer
    out["genuine_min"] = round(float(g.min()), 4) if len(g) else None
    out["impostor_max"] = round(float(i.max()), 4) if len(i) else None
    return out


def det_png(curves: dict[str, tuple[list[float], list[float]]], path: Path) -> None:
    """DET curve (FNMR against FMR, both on normal-deviate axes, ISO/IEC 19795-1) drawn with
    OpenCV so the bench needs no plotting library."""
    size, margin = 640, 70
    img = np.full((size, size, 3), 255, np.uint8)
    nd = statistics.NormalDist()
    lo, hi = nd.inv_cdf(1e-4), nd.inv_cdf(0.5)

    def pos(fmr: float, fnmr: float) -> tuple[int, int]:
        x = (nd.inv_cdf(min(max(fmr, 1e-4), 0.5)) - lo) / (hi - lo)
        y = (nd.inv_cdf(min(max(fnmr, 1e-4), 0.5)) - lo) / (hi - lo)
        return int(margin + x * (size - 2 * margin)), int(size - margin - y * (size - 2 * margin))

    for tick in (1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5):
        x0, _ = pos(tick, 1e-4)
        _, y1 = pos(1e-4, tick)
        cv2.line(img, (x0, margin), (x0, size - margin), (225, 225, 225), 1)
        cv2.line(img, (margin, y1), (size - margin, y1), (225, 225, 225), 1)
        label = f"{tick * 100:g}%"
        cv2.putText(img, label, (x0 - 15, size - margin + 18), 0, 0.4, (0, 0, 0), 1)
        cv2.putText(img, label, (8, y1 + 4), 0, 0.4, (0, 0, 0), 1)
    cv2.rectangle(img, (margin, margin), (size - margin, size - margin), (0, 0, 0), 1)
    cv2.putText(img, "FMR (false match rate)", (size // 2 - 90, size - 20), 0, 0.5, (0, 0, 0), 1)
    cv2.putText(img, "FNMR", (8, margin - 12), 0, 0.5, (0, 0, 0), 1)
    cv2.putText(img, "YuNet + SFace DET, floor at 0.01%", (margin, 30), 0, 0.55, (0, 0, 0), 1)
    colours = [(200, 60, 0), (0, 140, 0), (0, 0, 200), (120, 0, 160)]
    for n, (name, (genuine, impostor)) in enumerate(curves.items()):
        g, i = np.asarray(genuine), np.asarray(impostor)
        points = [pos(*rates(g, i, t)) for t in np.unique(np.concatenate([g, i, [2.0]]))]
        colour = colours[n % len(colours)]
        cv2.polylines(img, [np.array(points, np.int32)], False, colour, 2)
        cv2.putText(img, name, (size - margin - 230, margin + 20 + 18 * n), 0, 0.45, colour, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="testdata/faces folder")
    parser.add_argument("--out", default=str(REPO / "bench" / "out"), help="folder for the PNG")
    parser.add_argument("--threads", type=int, default=FaceConfig().threads)
    args = parser.parse_args()
    root = faces_root(args.data)
    configured = FaceConfig().threshold
    engine = FaceEngine(FaceConfig().models_dir, threads=args.threads, threshold=configured)
    started = time.perf_counter()

    def observe_all(name: str, files: list[Path]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for n, f in enumerate(files, 1):
            out[f.name if f.parent.parent == root else f"{f.parent.name}/{f.name}"] = (
                engine.observe(load_image_file(f), enhance_if_needed=True)
            )
            print(f"\r{name}: {n}/{len(files)} images", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return out

    def score(a: Any, b: Any) -> float:
        if a.embedding is None or b.embedding is None:
            return -1.0
        return float(a.embedding @ b.embedding)

    # deepface
    deep = root / "deepface"
    clusters = {
        r["file"]: r["cluster_id"] for r in csv.DictReader((deep / "identity_clusters.csv").open())
    }
    deep_obs = observe_all("deepface", [deep / f for f in sorted(clusters)])
    dg, di = [], []
    for a, b in itertools.combinations(sorted(clusters), 2):
        (dg if clusters[a] == clusters[b] else di).append(score(deep_obs[a], deep_obs[b]))
    labelled: dict[tuple[str, str], bool] = {}
    for name in ("master.csv", "face-recognition-pivot.csv"):
        for row in csv.DictReader((deep / name).open()):
            x, y = (Path(row["file_x"]).name, Path(row["file_y"]).name)
            decision = (row.get("Decision") or row.get("decision") or "").strip() == "Yes"
            labelled[tuple(sorted((x, y)))] = decision  # type: ignore[assignment]
    lg = [score(deep_obs[a], deep_obs[b]) for (a, b), same in labelled.items() if same]
    li = [score(deep_obs[a], deep_obs[b]) for (a, b), same in labelled.items() if not same]

    # dlib johns
    johns = root / "dlib_johns"
    jfiles = sorted(johns.glob("*/*.jpg"))
    jobs = observe_all("dlib_johns", jfiles)
    jg, ji = [], []
    for a, b in itertools.combinations(jfiles, 2):
        s = score(jobs[f"{a.parent.name}/{a.name}"], jobs[f"{b.parent.name}/{b.name}"])
        (jg if a.parent.name == b.parent.name else ji).append(s)

    def detection(obs: dict[str, Any]) -> dict[str, Any]:
        missing = sorted(k for k, o in obs.items() if o.embedding is None)
        return {
            "images": len(obs),
            "failures_to_detect": len(missing),
            "failure_to_detect_rate": len(missing) / max(1, len(obs)),
            "missing": missing,
            "images_with_several_faces": sum(1 for o in obs.values() if o.face_count > 1),
            "images_enhanced": sum(1 for o in obs.values() if o.enhanced),
        }

    png = Path(args.out) / "face_det.png"
    det_png(
        {
            "deepface all pairs": (dg, di),
            "dlib_johns all pairs": (jg, ji),
            "both": (dg + jg, di + ji),
        },
        png,
    )
    report = {
        "bench": "face_accuracy",
        "models": "YuNet 2023mar + SFace 2021dec (onnxruntime)",
        "threads": args.threads,
        "data": str(root),
        "detection": {"deepface": detection(deep_obs), "dlib_johns": detection(jobs)},
        "deepface_all_pairs": summary(dg, di, configured),
        "deepface_labelled_pairs": summary(lg, li, configured),
        "dlib_johns_all_pairs": summary(jg, ji, configured),
        "both_all_pairs": summary(dg + jg, di + ji, configured),
        "det_curve_png": str(png),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
