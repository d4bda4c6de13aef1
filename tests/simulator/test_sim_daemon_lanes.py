"""`egate sim run --daemon`: the real lane daemon with simulated devices, reporting to the
embedded central service through its outbox. Real time: a few travellers only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.config import load_lane
from gate.face.pipeline import FaceEngine
from simulator import scenarios
from simulator.daemon_lanes import DaemonRun
from simulator.testdata import testdata_root as find_testdata
from simulator.travellers import FaceSource
from simulator.uplink import EmbeddedCentral

pytestmark = pytest.mark.slow


def test_daemon_lanes_decide_and_every_event_reaches_central_once(
    tmp_path: Path, sim_face_models: Callable[[], str]
) -> None:
    sim_face_models()
    lane = load_lane(None, env={})
    scenario = scenarios.parse_scenario(
        {
            "name": "daemon",
            "travellers": [
                {"count": 1},
                {"count": 1, "document": "expired", "expect": "rejected",
                 "expect_reasons": ["DOCUMENT_EXPIRED"]},
                {"count": 1, "face": "printed-photo", "expect": "referred",
                 "expect_reasons": ["LIVENESS_FAILED"]},
            ],
        }
    )  # fmt: skip
    central = EmbeddedCentral(tmp_path / "central", ["sim-1", "sim-2"])
    run = DaemonRun(
        scenario,
        lanes=2,
        travellers=3,
        seed=2,
        lane_config=lane,
        faces=FaceSource.find(find_testdata()),
        engine=FaceEngine.from_config(lane.face),
        workdir=tmp_path / "lanes",
        central=central,
    )
    report = asyncio.run(run.run())
    data = report.to_dict()
    assert data["mismatches"] == 0, data["mismatch_details"]
    assert data["outcomes"] == {"accepted": 1, "referred": 1, "rejected": 1}
    assert "LaneDaemon" in data["lane_implementation"]
    accepted = next(r for r in report.results if r.decision == "accepted")
    assert 6.0 < accepted.passage_seconds < 30.0
    assert accepted.software_seconds > 0
    events = data["events"]
    assert events["produced"] > 2
    assert events["at_central"] == events["produced"], events
    assert events["missing"] == 0 and events["duplicated"] == 0
