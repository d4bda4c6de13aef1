"""Benchmark: how the cost of simulated lanes grows with their number (1, 4, 16, 32 lanes with
the simulated clock); print JSON.

For each size: travellers per hour of WALL time (how fast this machine simulates), travellers
per hour of simulated time per lane (what the lanes would serve), software seconds per
transaction (median, p95) and the wall seconds of the run. Every lane is a real lane daemon
(``egate lane``'s code) on simulated devices, on the virtual-time loop of ``egate sim run
--fast``, serving --per-lane travellers of the genuine mix. The lanes share one process and one
event loop; the software of every lane runs on this machine's cores, so a per-transaction
software time that grows with the number of lanes shows contention (it lies on the passage:
the virtual clock charges a worker job its wall time).

  python bench/sim_scale.py [--sizes 1,4,16,32] [--per-lane 4] [--scenario genuine]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tempfile

from gate.config import load_lane
from gate.face.pipeline import FaceEngine
from simulator import scenarios, vtime
from simulator.daemon_lanes import DaemonRun
from simulator.testdata import testdata_root
from simulator.travellers import FaceSource


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16,32")
    parser.add_argument("--per-lane", type=int, default=4)
    parser.add_argument("--scenario", default="genuine")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    lane = load_lane(None, env={})
    faces = FaceSource.find(testdata_root())
    engine = FaceEngine.from_config(lane.face)
    scenario = scenarios.load(args.scenario)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="egate-bench-") as workdir:
            run = DaemonRun(
                scenario,
                lanes=size,
                travellers=size * args.per_lane,
                seed=args.seed,
                fast=True,
                lane_config=lane,
                faces=faces,
                engine=engine,
                workdir=Path(workdir),
            )
            report = vtime.run(run.run())
        data = report.to_dict()
        per_lane = list(data["throughput_per_hour"].values())
        rows.append(
            {
                "lanes": size,
                "travellers": data["travellers"],
                "wall_seconds": data["wall_seconds"],
                "travellers_per_wall_hour": round(
                    3600 * data["travellers"] / max(data["wall_seconds"], 1e-9), 1
                ),
                "simulated_travellers_per_hour_per_lane_median": sorted(per_lane)[
                    len(per_lane) // 2
                ],
                "software_seconds": data["software_seconds"],
                "passage_seconds": data["passage_seconds"],
                "mismatches": data["mismatches"],
                "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"scenario": args.scenario, "cpus": os.cpu_count(), "sizes": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
