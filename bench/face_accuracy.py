"""Face verification accuracy on testdata/faces; prints JSON, saves DET curves as PNG.

    python bench/face_accuracy.py [--data ../shared/testdata/faces] [--out bench/out]
                                  [--cache var/face-embeddings] [--skip-lfw]

Sets: deepface all pairs (every pair of the 61 labelled photos, identities from
identity_clusters.csv), deepface labelled pairs (the 520 pairs of master.csv and
face-recognition-pivot.csv), dlib_johns all pairs (55 aligned chips, 5 people), and both
"all pairs" sets together, with the configured pipeline ([face] defaults). A photo without a
detected face is a failure to detect; its pairs are scored -1 (a non-match), so failures count
against FNMR instead of vanishing.

lfw_dev (5,050 LFW photos of 1,160 people: 19,005 genuine and 12.7 million impostor pairs):
every candidate (SFace, dlib's ResNet, both fused; with and without flip test-time
augmentation) raw and under the chip condition (one image of each pair degraded to a 240x320
JPEG 2000 or JPEG portrait of at most 18 KB), with FNMR at FMR 0.1 % and 0.01 % and the
thresholds they need, on the whole set and held out: thresholds calibrated on the people of one
half (split by a hash of the name) and applied to the other half. Embeddings come from the
cache of ``egate face evaluate`` (the same code), so each image is embedded once.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from _common import REPO, faces_root  # sets up sys.path for the gate package

from gate.cli import face_evaluate
from gate.config import FaceConfig
from gate.face import evaluation
from gate.face.evaluation import rates, threshold_at_fmr
from gate.face.pipeline import FaceEngine
from gate.face.portrait import load_image_file

TARGETS = (0.001, 0.01)
LFW_TARGETS = (0.001, 0.0001)
CANDIDATES: list[tuple[str, dict[str, float], bool]] = [
    ("sface", {"sface": 1.0}, False),
    ("sface+flip", {"sface": 1.0}, True),
    ("dlib_resnet", {"dlib_resnet": 1.0}, False),
    ("dlib_resnet+flip", {"dlib_resnet": 1.0}, True),
    ("sface+dlib_resnet", {"sface": 0.5, "dlib_resnet": 0.5}, False),
    ("sface+dlib_resnet+flip", {"sface": 0.5, "dlib_resnet": 0.5}, True),
]
"""(name, model weights, flip): every combination measured on lfw_dev."""


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


def det_png(curves: dict[str, tuple[list[float], list[float]]], path: Path, title: str) -> None:
    """DET curves (ISO/IEC 19795-1 normal-deviate axes) of (genuine, impostor) score lists."""
    points = {name: evaluation.det_points(g, i) for name, (g, i) in curves.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), evaluation.det_image(points, title=title))


def _half(identity: str) -> int:
    return hashlib.sha256(identity.encode()).digest()[0] & 1


def lfw_dev(
    root: Path, out: Path, cache: Path, threads: int, configured: FaceConfig
) -> dict[str, Any]:
    """All candidates on lfw_dev, raw and chip-degraded, whole set and held out."""
    labels = root / "lfw_dev" / "labels.csv"
    rows = face_evaluate.read_labels(labels, root / "lfw_dev")
    # The labelled person of an LFW photo is the centred face (lfw_dev/PROVENANCE.md); the lane
    # verifies the largest. Candidates are compared with the centred face; the default is also
    # reported with the largest face.
    engine = FaceEngine(
        configured.models_dir,
        threads=threads,
        embedders=("sface", "dlib_resnet"),
        pick="centre",
    )
    ids = np.array([r.identity for r in rows])
    halves = np.array([_half(i) for i in ids])
    default = (
        {m.model: m.weight for m in configured.embedding},
        configured.flip,
    )
    observed = {
        cond: face_evaluate.observe_set(engine, root / "lfw_dev", rows, cond, cache)
        for cond in ("raw", "chip")
    }
    report: dict[str, Any] = {
        "face_rule": "the face nearest the image centre (LFW labels the centred person)",
        "images": len(rows),
        "identities": len(set(ids)),
        "failures_to_detect": {c: sum(o.views is None for o in obs) for c, obs in observed.items()},
        "held_out_split": "people split in two halves by the parity of sha256(name)[0]: "
        f"{int((halves == 0).sum())} and {int((halves == 1).sum())} images",
        "candidates": {},
    }
    curves: dict[str, dict[str, tuple[Any, Any]]] = {"raw": {}, "chip": {}}
    for name, weights, flip in CANDIDATES:
        total = sum(weights.values())
        weights = {k: v / total for k, v in weights.items()}
        is_default = (
            weights == {k: v / sum(default[0].values()) for k, v in default[0].items()}
            and flip == default[1]
        )
        gallery = face_evaluate.embedding_matrix(observed["raw"], weights, flip)
        entry: dict[str, Any] = {"models": weights, "flip": flip, "default": is_default}
        for cond in ("raw", "chip"):
            probes = None
            if cond != "raw":
                probes = face_evaluate.embedding_matrix(observed[cond], weights, flip)
            scores = evaluation.pair_scores(gallery, list(ids), probes=probes)
            points = evaluation.operating_points(
                scores.genuine, scores.impostor, configured.threshold, LFW_TARGETS
            )
            if not is_default:
                points.pop("at_configured")
            result: dict[str, Any] = {
                "genuine_pairs": int(scores.genuine.size),
                "impostor_pairs": int(scores.impostor.size),
                **points,
            }
            held: dict[str, Any] = {}
            split = [
                evaluation.pair_scores(
                    gallery[halves == h],
                    list(ids[halves == h]),
                    probes=None if probes is None else probes[halves == h],
                )
                for h in (0, 1)
            ]
            for cal, test in ((0, 1), (1, 0)):
                for target in LFW_TARGETS:
                    thr = threshold_at_fmr(split[cal].impostor, target)
                    fmr, fnmr = rates(split[test].genuine, split[test].impostor, thr)
                    held[f"calibrated_on_{cal}_tested_on_{test}_at_fmr_{target:g}"] = {
                        "threshold": round(thr, 4),
                        "fnmr": round(fnmr, 6),
                        "fmr": round(fmr, 7),
                    }
            result["held_out"] = held
            entry[cond] = result
            curves[cond][name] = (scores.genuine, scores.impostor)
        report["candidates"][name] = entry
        print(f"lfw_dev: {name} scored", file=sys.stderr, flush=True)
    largest = FaceEngine(configured.models_dir, threads=threads, embedders=("sface", "dlib_resnet"))
    dweights = {k: v / sum(default[0].values()) for k, v in default[0].items()}
    by_largest: dict[str, Any] = {"face_rule": "the largest face (as the lane)"}
    gallery = face_evaluate.embedding_matrix(
        face_evaluate.observe_set(largest, root / "lfw_dev", rows, "raw", cache),
        dweights,
        default[1],
    )
    for cond in ("raw", "chip"):
        probes = None
        if cond != "raw":
            probes = face_evaluate.embedding_matrix(
                face_evaluate.observe_set(largest, root / "lfw_dev", rows, cond, cache),
                dweights,
                default[1],
            )
        scores = evaluation.pair_scores(gallery, list(ids), probes=probes)
        by_largest[cond] = evaluation.operating_points(
            scores.genuine, scores.impostor, configured.threshold, LFW_TARGETS
        )
    report["default_with_largest_face"] = by_largest
    for cond, curve in curves.items():
        png = out / f"face_det_lfw_dev_{cond}.png"
        det_png(
            {k: v for k, v in curve.items() if k in ("sface", "dlib_resnet", "sface+dlib_resnet",
             "sface+dlib_resnet+flip")},
            png,
            f"lfw_dev {cond}: DET per candidate",
        )  # fmt: skip
        report[f"det_curve_png_{cond}"] = str(png)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="testdata/faces folder")
    parser.add_argument("--out", default=str(REPO / "bench" / "out"), help="folder for the PNG")
    parser.add_argument("--threads", type=int, default=FaceConfig().threads)
    parser.add_argument(
        "--cache", default=str(REPO / "var" / "face-embeddings"), help="embedding cache"
    )
    parser.add_argument("--skip-lfw", action="store_true", help="only the small sets")
    args = parser.parse_args()
    root = faces_root(args.data)
    configured = FaceConfig().threshold
    engine = FaceEngine.from_config(FaceConfig(), threads=args.threads)
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
        "deepface and dlib_johns, configured pipeline",
    )
    report = {
        "bench": "face_accuracy",
        "models": "YuNet 2023mar + "
        + " + ".join(f"{k} (weight {v:g})" for k, v in engine.weights.items())
        + (" with flip" if engine.flip else ""),
        "threads": args.threads,
        "data": str(root),
        "detection": {"deepface": detection(deep_obs), "dlib_johns": detection(jobs)},
        "deepface_all_pairs": summary(dg, di, configured),
        "deepface_labelled_pairs": summary(lg, li, configured),
        "dlib_johns_all_pairs": summary(jg, ji, configured),
        "both_all_pairs": summary(dg + jg, di + ji, configured),
        "det_curve_png": str(png),
    }
    if not args.skip_lfw and (root / "lfw_dev" / "labels.csv").is_file():
        report["lfw_dev"] = lfw_dev(
            root, Path(args.out), Path(args.cache), args.threads, FaceConfig()
        )
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
