"""How often the face detector (YuNet, gate.face) finds the faces the simulated camera composited.

Renders ``--frames`` frames (every 4th frame of a 15 fps stream, i.e. several travellers
with approach, head pose, lighting changes and tailgaters) per face source: each real face
directory given, and the procedural fallback figure. A composited face counts as found when a
detection's centre lies inside the middle half of its ground-truth box. Prints JSON, with the
hit rate per distance band.

    /work/venv/bin/python bench/camera_sim_detect.py --models models/cache \\
        --faces /work/shared/testdata/faces/dlib_johns /work/shared/testdata/faces/deepface
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate.face import models, onnxgraph
from gate.face.detect import YuNet
from gate.face.runtime import make_session
from simulator.camera import SceneCamera


def run(detector: YuNet, faces: Path | None, frames: int) -> dict[str, object]:
    cam = SceneCamera(faces_dir=faces)
    hits = total = 0
    bands: dict[str, list[int]] = {}
    for i in range(frames):
        image, truths = cam.render(i * 4 / 15)
        boxes = [d.box for d in detector.detect(image)]
        for face in truths:
            x, y, w, h = face.box
            found = any(
                abs(dx + dw / 2 - (x + w / 2)) < w / 4 + 1
                and abs(dy + dh / 2 - (y + h / 2)) < h / 4 + 1
                for dx, dy, dw, dh in boxes
            )
            total += 1
            hits += found
            band = f"{round(face.distance_m * 2) / 2:.1f} m"
            counts = bands.setdefault(band, [0, 0])
            counts[0] += found
            counts[1] += 1
    return {
        "faces": str(faces) if faces else "procedural figure",
        "composited": total,
        "detected": hits,
        "rate": round(hits / total, 3) if total else None,
        "by_distance": {k: f"{v[0]}/{v[1]}" for k, v in sorted(bands.items())},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="models/cache")
    parser.add_argument("--faces", type=Path, nargs="*", default=[])
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    started = time.perf_counter()
    yunet = onnxgraph.free_shapes(models.model_bytes(args.models, "yunet"))
    detector = YuNet(make_session(yunet, 2, name=models.YUNET.filename))
    results = [run(detector, faces, args.frames) for faces in [*args.faces, None]]
    print(
        json.dumps(
            {
                "bench": "camera_sim_detect",
                "detector": models.YUNET.filename,
                "frames_per_source": args.frames,
                "results": results,
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
