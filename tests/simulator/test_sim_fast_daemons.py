"""`egate sim run --fast`: real lane daemons on the virtual-time loop give the outcomes of real
time, the same ones for a seed, screen against central's distributed lists, and notice scripted
device faults the way they notice real ones."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gate import events
from gate.config import LaneConfig
from gate.face.pipeline import FaceEngine
from simulator import scenarios, vtime
from simulator.daemon_lanes import DaemonRun
from simulator.report import SimReport
from simulator.testdata import testdata_root as find_testdata
from simulator.travellers import FaceSource
from simulator.uplink import EmbeddedCentral

pytestmark = pytest.mark.slow

QUICK = scenarios.parse_scenario(
    {
        "name": "quick",
        "travellers": [
            {"count": 1},
            {"count": 1, "document": "expired", "expect": "rejected",
             "expect_reasons": ["DOCUMENT_EXPIRED"]},
            {"count": 1, "face": "printed-photo", "expect": "referred",
             "expect_reasons": ["LIVENESS_FAILED"]},
        ],
    }
)  # fmt: skip


def _run(
    tmp: Path,
    scenario: scenarios.Scenario,
    lane: LaneConfig,
    engine: FaceEngine,
    *,
    fast: bool = True,
    lanes: int = 1,
    travellers: int = 3,
    seed: int = 2,
    events_out: Any = None,
) -> SimReport:
    ids = [f"sim-{i + 1}" for i in range(lanes)]
    run = DaemonRun(
        scenario,
        lanes=lanes,
        travellers=travellers,
        seed=seed,
        lane_config=lane,
        faces=FaceSource.find(find_testdata()),
        engine=engine,
        workdir=tmp / "lanes",
        central=EmbeddedCentral(tmp / "central", ids),
        fast=fast,
    )
    return vtime.run(run.run()) if fast else asyncio.run(run.run())


def _outcomes(report: SimReport) -> list[tuple[int, str, tuple[str, ...]]]:
    return [(r.index, r.decision, tuple(r.reasons)) for r in report.results]


def test_the_virtual_clock_gives_the_outcomes_and_passage_times_of_real_time(
    tmp_path: Path, lane: LaneConfig, engine: FaceEngine
) -> None:
    fast = _run(tmp_path / "fast", QUICK, lane, engine, lanes=2)
    real = _run(tmp_path / "real", QUICK, lane, engine, lanes=2, fast=False)
    assert _outcomes(fast) == _outcomes(real)
    assert fast.to_dict()["mismatches"] == 0, fast.to_dict()["mismatch_details"]
    assert "virtual time" in fast.lane_implementation
    # simulated seconds as long as the real ones, in much less wall time
    for f, r in zip(fast.results, real.results, strict=True):
        assert abs(f.passage_seconds - r.passage_seconds) < 1.5, (f, r)
    assert fast.wall_seconds < real.wall_seconds / 2
    counts = fast.to_dict()["events"]
    assert counts["at_central"] == counts["produced"] > 3
    assert counts["missing"] == 0 and counts["duplicated"] == 0


def test_a_seed_gives_the_same_travellers_outcomes_and_times(
    tmp_path: Path, lane: LaneConfig, engine: FaceEngine
) -> None:
    one = _run(tmp_path / "one", QUICK, lane, engine, seed=5)
    two = _run(tmp_path / "two", QUICK, lane, engine, seed=5)
    assert _outcomes(one) == _outcomes(two)
    for a, b in zip(one.results, two.results, strict=True):
        assert a.label == b.label
        assert abs(a.passage_seconds - b.passage_seconds) < 0.5


def test_watch_list_and_manifest_reach_the_lanes_through_central(
    tmp_path: Path, lane: LaneConfig, engine: FaceEngine
) -> None:
    scenario = scenarios.parse_scenario(
        {
            "name": "lists",
            "travellers": [
                {"count": 1},
                {"count": 1, "watchlist": True, "expect": "referred",
                 "expect_reasons": ["POLICY_WATCHLIST_HIT"]},
                {"count": 1, "on_manifest": False, "expect": "referred",
                 "expect_reasons": ["POLICY_NOT_ON_MANIFEST"]},
            ],
        }
    )  # fmt: skip
    report = _run(tmp_path, scenario, lane, engine)
    data = report.to_dict()
    assert data["mismatches"] == 0, data["mismatch_details"]
    assert data["outcomes"] == {"accepted": 1, "referred": 2}


def test_a_document_reader_unplugged_is_noticed_reported_and_waited_for(
    tmp_path: Path, lane: LaneConfig, engine: FaceEngine
) -> None:
    scenario = scenarios.parse_scenario(
        {
            "name": "reader-loss",
            "travellers": [{"count": 1}],
            "faults": [
                {"at_seconds": 1.0, "device": "docreader", "kind": "disconnect",
                 "duration_seconds": 20.0},
            ],
        }
    )  # fmt: skip
    run = DaemonRun(
        scenario,
        lanes=1,
        travellers=2,
        seed=1,
        lane_config=lane,
        faces=FaceSource.find(find_testdata()),
        engine=engine,
        workdir=tmp_path / "lanes",
        fast=True,
    )
    report = vtime.run(run.run())
    assert len(report.results) == 2
    faults = [
        e
        for lane_ in run.lanes_built
        for e in lane_.emitted
        if isinstance(e, events.DeviceFaultEvent) and e.device is events.Device.DOCUMENT_READER
    ]
    assert [f.recovered for f in faults][:2] == [False, True]
    # the first traveller was at the reader when it went: excused by the fault window
    first = report.results[0]
    assert first.faults == ("docreader:disconnect@1s",)
    # the second one waited for the lane to come back and passed
    assert report.results[1].decision == "accepted"
    assert report.results[1].started >= 21.0 or report.results[1].ended >= 21.0


def test_lost_answers_from_central_are_resent_stored_once_and_change_no_outcome(
    tmp_path: Path, lane: LaneConfig, engine: FaceEngine
) -> None:
    scenario = scenarios.parse_scenario(
        {
            "name": "network",
            "travellers": [{"count": 1}],
            "faults": [
                {"at_seconds": 0.0, "device": "network", "kind": "noise",
                 "duration_seconds": 15.0},
            ],
        }
    )  # fmt: skip
    report = _run(tmp_path, scenario, lane, engine, travellers=3)
    data = report.to_dict()
    assert data["outcomes"] == {"accepted": 3}  # the lanes kept their lists and decided alike
    counts = data["events"]
    assert counts["resent"] > 0 and counts["acknowledged_duplicates"] > 0
    assert counts["at_central"] == counts["produced"]
    assert counts["missing"] == 0 and counts["duplicated"] == 0


@pytest.mark.parametrize("flow", ["two-step", "one-step"])
def test_no_accepted_passage_is_faster_than_the_physical_minimum(
    tmp_path: Path, lane: LaneConfig, engine: FaceEngine, flow: str
) -> None:
    """The minimum is what the simulated traveller cannot avoid: every accepted passage on
    the fast virtual clock takes at least that long (its own chip read's link time), and the
    software time the lane spent is on top of it."""
    genuine = scenarios.parse_scenario(
        {"name": "genuine", "flow": flow, "travellers": [{"count": 1}]}
    )
    run = DaemonRun(
        genuine,
        lanes=1,
        travellers=5,
        seed=4,
        lane_config=lane,
        faces=FaceSource.find(find_testdata()),
        engine=engine,
        workdir=tmp_path / "lanes",
        fast=True,
    )
    report = vtime.run(run.run())
    accepted = [r for r in report.results if r.decision == "accepted"]
    assert len(accepted) == 5 == len(run.chip_link_seconds)
    for result, chip in zip(accepted, run.chip_link_seconds, strict=True):
        minimum = run.model.minimum(chip, flow)
        assert result.passage_seconds >= minimum, (result.index, result.passage_seconds, minimum)
    assert report.physical_minimum_seconds is not None
    median = sorted(r.passage_seconds for r in accepted)[2]
    assert median >= report.physical_minimum_seconds


def test_a_traveller_walking_back_is_reported_walked_back(
    tmp_path: Path, lane: LaneConfig, engine: FaceEngine
) -> None:
    """The built-in walk-back scenario: the traveller steps into the entry doorway and turns
    round, so the controller reports the passage turned back (PASSAGE_WALKED_BACK), not timed
    out (every walk-back traveller was a mismatch when the turn came before the doorway)."""
    report = _run(tmp_path, scenarios.load_builtin("walk-back"), lane, engine, travellers=4, seed=1)
    walked = [r for r in report.results if "walks-back" in r.label]
    assert walked, [r.label for r in report.results]
    for r in walked:
        assert r.decision == "aborted" and "PASSAGE_WALKED_BACK" in r.reasons, r
    assert report.to_dict()["mismatches"] == 0, report.to_dict()["mismatch_details"]
