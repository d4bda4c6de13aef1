"""Face pipeline speed per 640x480 frame with one face, and DG2 portrait decode time; JSON.

    python bench/face_speed.py [--data ../shared/testdata] [--threads 2] [--frames 100]
                               [--models sface,dlib_resnet] [--flip]

The frame is a deepface photo (img1.jpg) scaled so that the face is about 200 px high, as a
traveller at a gate camera, on a 640x480 canvas. Timed per frame: detection (YuNet at 640x480),
alignment and embedding with the configured models ([face] embedding and flip defaults: every
model's crop is aligned and embedded, twice with flip), on onnxruntime with --threads intra-op
threads. Wall-clock medians depend on what else runs on the machine; ``cpu_ms`` is the
process CPU time per frame (all threads added up), which other jobs barely change: with
``--threads 1`` it is the compute one core needs per frame, an upper bound for the wall time
of an idle 2-core machine. DG2 decode: the ISO/IEC 19794-5 JPEG and the ISO/IEC 39794-5
JPEG 2000 face images of testdata/epassport/gmrtd/lds_biometric_blocks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np
from _common import faces_root  # sets up sys.path for the gate package

from gate.config import FaceConfig
from gate.face.align import align_to
from gate.face.pipeline import FaceEngine, primary_face
from gate.face.portrait import decode_portrait, load_image_file


def stats(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "median_ms": round(float(np.median(ms)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "mean_ms": round(float(ms.mean()), 2),
    }


def frame_640x480(photo: np.ndarray, detect: FaceEngine) -> np.ndarray:
    face = primary_face(detect.detect(photo))
    assert face is not None, "no face in the bench photo"
    scale = 200 / face.box[3]
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cx = int((face.box[0] + face.box[2] / 2) * scale)
    cy = int((face.box[1] + face.box[3] / 2) * scale)
    canvas = np.full((480, 640, 3), 90, np.uint8)
    x0, y0 = max(0, cx - 320), max(0, cy - 240)
    crop = small[y0 : y0 + 480, x0 : x0 + 640]
    canvas[: crop.shape[0], : crop.shape[1]] = crop
    return canvas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="testdata/faces folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--models", default=None, help="e.g. sface (default: [face] embedding)")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args()
    faces = faces_root(args.data)
    overrides: dict[str, object] = {"threads": args.threads}
    if args.models:
        overrides["embedders"] = args.models.split(",")
        overrides["weights"] = None
    if args.flip is not None:
        overrides["flip"] = args.flip
    engine = FaceEngine.from_config(FaceConfig(), **overrides)
    frame = frame_640x480(load_image_file(faces / "deepface" / "img1.jpg"), engine)
    for _ in range(5):  # warm-up
        engine.observe(frame)
    total, det, ali, emb, counts, cpu = [], [], [], [], [], []
    per_model: dict[str, list[float]] = {key: [] for key in engine.embedders}
    for _ in range(args.frames):
        c0 = time.process_time()
        t0 = time.perf_counter()
        found = engine.detect(frame)
        t1 = time.perf_counter()
        main_face = primary_face(found)
        assert main_face is not None
        align_s = embed_s = 0.0
        for key, embedder in engine.embedders.items():
            ta = time.perf_counter()
            crop = align_to(frame, main_face.landmarks, embedder.size, embedder.template)
            tb = time.perf_counter()
            embedder.embed(crop)
            if engine.flip:
                embedder.embed(np.ascontiguousarray(crop[:, ::-1]))
            tc = time.perf_counter()
            align_s += tb - ta
            embed_s += tc - tb
            per_model[key].append(tc - tb)
        total.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        det.append(t1 - t0)
        ali.append(align_s)
        emb.append(embed_s)
        counts.append(len(found))

    blocks = faces.parent / "epassport" / "gmrtd" / "lds_biometric_blocks"
    decode: dict[str, object] = {}
    for label, name in (
        ("jpeg", "ISO19794_Test1_Face.jpg"),
        ("jpeg2000", "ICAO_39794_5_AP_Face.jpg"),
    ):
        path = blocks / name
        if not path.is_file():
            decode[label] = "missing test file"
            continue
        data = path.read_bytes()
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            image = decode_portrait(data)
            times.append(time.perf_counter() - t0)
        decode[label] = {
            "file": name,
            "bytes": len(data),
            "size": f"{image.shape[1]}x{image.shape[0]}",
            **stats(times),
        }
    report = {
        "bench": "face_speed",
        "frame": "640x480, one face about 200 px high (deepface img1.jpg)",
        "threads": args.threads,
        "frames": args.frames,
        "faces_per_frame": sorted(set(counts)),
        "detect_align_embed": stats(total),
        "detect_align_embed_cpu_ms": stats(cpu),
        "detect": stats(det),
        "align": stats(ali),
        "embed": stats(emb),
        "embed_per_model": {key: stats(v) for key, v in per_model.items()},
        "models": engine.weights,
        "flip": engine.flip,
        "target_median_ms": 40,
        "dg2_decode": decode,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "data": str(Path(faces)),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
