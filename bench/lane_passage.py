"""Benchmark: simulated travellers through one lane (the real lane daemon, ``egate lane``'s code,
on simulated devices and the virtual-time loop of ``egate sim run --fast``) under the default
physical model; print JSON.

Figures: median and p95 passage time (reaching the reader -> clear of the exit doorway), the
physical minimum of the model (the unavoidable steps of the simulated traveller back to back,
on the critical path, with no software time: simulator/physical.py, docs/scenarios.md), the
ratio of the median passage to it, software seconds per transaction (wall time the lane spent
computing: MRZ, chip protocol and authentication on the host, face detection and embedding),
travellers per hour of simulated time, and mismatches against the scenario's expectations.
Targets (issue #12): median <= 1.10 x minimum, software median <= 0.5 s, zero mismatches.

  python bench/lane_passage.py [--travellers 500] [--scenario genuine] [--seed 1]
                               [--model FIELD=SECONDS ...]

``--model`` changes one field of the physical model (``simulator.physical.PhysicalModel``, e.g.
``--model door_open_seconds=1.5 --model walking_speed=1.0``); the simulated devices and the
minimum both follow it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tempfile

from gate.config import load_lane
from gate.face.pipeline import FaceEngine
from simulator import scenarios, vtime
from simulator.daemon_lanes import DaemonRun
from simulator.physical import ModelOverrideError, with_overrides
from simulator.testdata import testdata_root
from simulator.travellers import FaceSource

TARGET_RATIO = 1.10
TARGET_SOFTWARE = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--travellers", type=int, default=500)
    parser.add_argument("--scenario", default="genuine")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a physical model field (simulator/physical.py), repeatable",
    )
    args = parser.parse_args()
    scenario = scenarios.load(args.scenario)
    try:
        model = with_overrides(scenario.model, args.model)
    except ModelOverrideError as exc:
        parser.error(str(exc))
    lane = load_lane(None, env={})
    faces = FaceSource.find(testdata_root())

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="egate-bench-") as workdir:
        run = DaemonRun(
            scenario,
            lanes=1,
            travellers=args.travellers,
            seed=args.seed,
            fast=True,
            lane_config=lane,
            faces=faces,
            engine=FaceEngine.from_config(lane.face),
            workdir=Path(workdir),
            model=model,
            progress=progress,
        )
        report = vtime.run(run.run())
    data = report.to_dict()
    minimum = report.physical_minimum_seconds
    # the median chip link time the report's minimum used
    chip = statistics.median(run.chip_link_seconds) if run.chip_link_seconds else 0.0
    median = data["passage_seconds"]["median"]
    ratio = round(median / minimum, 4) if minimum and median else None
    software = data["software_seconds"]["median"]
    out = {
        "scenario": args.scenario,
        "travellers": data["travellers"],
        "faces": faces.origin,
        "physical_model": model.model_dump(),
        "passage_seconds": data["passage_seconds"],
        "physical_minimum_seconds": data["physical_minimum_seconds"],
        "physical_minimum_steps": {
            k: round(v, 4) for k, v in run.model.minimum_steps(chip, run.scenario.flow).items()
        },
        "ratio_median_to_minimum": ratio,
        "software_seconds": data["software_seconds"],
        "travellers_per_hour": data["throughput_per_hour"]["0"],
        "outcomes": data["outcomes"],
        "mismatches": data["mismatches"],
        "mismatch_details": data["mismatch_details"][:10],
        "wall_seconds": data["wall_seconds"],
        "lane_implementation": data["lane_implementation"],
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "targets": {
            "ratio_max": TARGET_RATIO,
            "software_median_max": TARGET_SOFTWARE,
            "mismatches": 0,
            "met": bool(
                ratio is not None
                and ratio <= TARGET_RATIO
                and software is not None
                and software <= TARGET_SOFTWARE
                and data["mismatches"] == 0
            ),
        },
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
