"""Simulated lanes: the lane core with simulated devices, decisions against expectations,
faults, determinism, the report and the CLI. Small runs with the simulated clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gate import events
from gate.cli import main
from gate.config import LaneConfig
from gate.face.pipeline import FaceEngine
from simulator import scenarios
from simulator.report import SimReport
from simulator.simrun import SimError, SimRun
from simulator.testdata import testdata_root as find_testdata
from simulator.travellers import FaceSource

REPORT_KEYS = {
    "travellers", "outcomes", "mismatches", "mismatch_details", "passage_seconds",
    "software_seconds", "throughput_per_hour", "events", "physical_minimum_seconds",
}  # fmt: skip

SMALL = scenarios.parse_scenario(
    {
        "name": "small",
        "travellers": [
            {"count": 2},
            {"count": 1, "document": "forged-sod", "expect": "rejected",
             "expect_reasons": ["PA_SIGNATURE_INVALID"]},
            {"count": 1, "face": "printed-photo", "expect": "referred",
             "expect_reasons": ["LIVENESS_FAILED"]},
            {"count": 1, "watchlist": True, "expect": "referred",
             "expect_reasons": ["POLICY_WATCHLIST_HIT"]},
            {"count": 1, "behaviour": "walks-back", "expect": "aborted",
             "expect_reasons": ["PASSAGE_WALKED_BACK"]},
            {"count": 1, "tailgater": True, "expect": "referred",
             "expect_reasons": ["PASSAGE_TAILGATING"]},
        ],
    }
)  # fmt: skip


@pytest.fixture(scope="module")
def faces() -> FaceSource:
    return FaceSource.find(find_testdata())


def _run(
    scenario: scenarios.Scenario,
    lane: LaneConfig,
    engine: FaceEngine,
    faces: FaceSource,
    **kwargs: int,
) -> tuple[SimReport, SimRun]:
    options = {"lanes": 1, "travellers": scenario.group_size, "seed": 3} | kwargs
    run = SimRun(scenario, fast=True, lane_config=lane, faces=faces, engine=engine, **options)
    return asyncio.run(run.run()), run


def test_every_traveller_gets_the_expected_decision_and_events_follow_the_schema(
    lane: LaneConfig, engine: FaceEngine, faces: FaceSource
) -> None:
    report, run = _run(SMALL, lane, engine, faces, lanes=2)
    data = report.to_dict()
    assert data.keys() >= REPORT_KEYS
    assert data["mismatches"] == 0, data["mismatch_details"]
    assert data["travellers"] == 7
    assert data["outcomes"] == {"accepted": 2, "aborted": 1, "referred": 3, "rejected": 1}
    transactions = [e for e in run.lane_events if isinstance(e, events.TransactionEvent)]
    assert len(transactions) == 7
    assert data["events"]["produced"] == len(run.lane_events)
    assert {e.lane_id for e in run.lane_events} == {"sim-1", "sim-2"}
    for lane_id in ("sim-1", "sim-2"):
        seqs = [e.seq for e in run.lane_events if e.lane_id == lane_id]
        assert seqs == list(range(len(seqs)))  # per-lane seq without gaps
    for event in run.lane_events:
        assert events.parse_event(events.to_json(event)) == event
    alarms = {e.alarm for e in run.lane_events if isinstance(e, events.AlarmEvent)}
    assert {events.AlarmKind.WATCHLIST_HIT, events.AlarmKind.TAILGATING} <= alarms
    accepted = [r for r in report.results if r.decision == "accepted"]
    assert report.physical_minimum_seconds is not None
    for r in accepted:  # nobody is faster than physics; software adds little
        assert report.physical_minimum_seconds * 0.98 <= r.passage_seconds
    stages = [s.stage for s in transactions[0].stages]
    assert stages[0] is events.Stage.DOCUMENT_PLACED


def test_same_seed_same_outcomes_and_times(
    lane: LaneConfig, engine: FaceEngine, faces: FaceSource
) -> None:
    first, _ = _run(SMALL, lane, engine, faces, travellers=5, seed=9)
    second, _ = _run(SMALL, lane, engine, faces, travellers=5, seed=9)
    assert [(r.index, r.decision, r.reasons) for r in first.results] == [
        (r.index, r.decision, r.reasons) for r in second.results
    ]
    # simulated times differ only by the measured software time (milliseconds)
    for a, b in zip(first.results, second.results, strict=True):
        assert abs(a.passage_seconds - b.passage_seconds) < 1.5


def test_a_camera_loss_takes_the_lane_out_of_service_and_it_comes_back(
    lane: LaneConfig, engine: FaceEngine, faces: FaceSource
) -> None:
    scenario = scenarios.parse_scenario(
        {
            "name": "camera",
            "travellers": [{"count": 4}],
            "faults": [
                {"at_seconds": 3.0, "device": "camera", "kind": "disconnect",
                 "duration_seconds": 30.0, "lanes": [0]},
            ],
        }
    )  # fmt: skip
    report, run = _run(scenario, lane, engine, faces, travellers=4)
    faults = [e for e in run.lane_events if isinstance(e, events.DeviceFaultEvent)]
    assert [(f.device, f.recovered) for f in faults] == [
        (events.Device.CAMERA, False),
        (events.Device.CAMERA, True),
    ]
    states = [e.state for e in run.lane_events if isinstance(e, events.LaneStateEvent)]
    assert events.LaneState.OUT_OF_SERVICE in states
    assert states[-1] is not events.LaneState.OUT_OF_SERVICE
    first = report.results[0]
    assert first.decision == "aborted" and "LANE_DEVICE_FAULT" in first.reasons
    assert first.faults == ("camera:disconnect@3s",) and first not in report.mismatches
    assert report.fault_changed == [first]
    later = [r for r in report.results[1:]]
    assert all(r.decision == "accepted" for r in later)
    assert all(r.passage_seconds < 12 for r in later[1:])
    assert min(r.started for r in later) < 33 < max(r.ended for r in later)


def test_a_fault_on_a_lane_index_the_run_does_not_have_is_refused(
    lane: LaneConfig, engine: FaceEngine, faces: FaceSource
) -> None:
    scenario = scenarios.parse_scenario(
        {
            "name": "x",
            "travellers": [{}],
            "faults": [{"at_seconds": 1, "device": "camera", "kind": "noise", "lanes": [3]}],
        }
    )
    with pytest.raises(SimError, match=r"indexes 0\.\.1"):
        SimRun(scenario, lanes=2, travellers=1, seed=1, fast=True, lane_config=lane,
               faces=faces, engine=engine)  # fmt: skip


def test_cli_run_prints_the_json_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: FaceEngine
) -> None:
    path = tmp_path / "two.toml"
    path.write_text(
        'name = "two"\n[[travellers]]\ncount = 1\n[[travellers]]\ncount = 1\n'
        'document = "expired"\nexpect = "rejected"\nexpect_reasons = ["DOCUMENT_EXPIRED"]\n',
        encoding="utf-8",
    )
    code = main(["sim", "run", "--scenario", str(path), "--travellers", "2", "--fast", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0, data["mismatch_details"]
    assert data["outcomes"] == {"accepted": 1, "rejected": 1}
    assert data["central"] == "embedded"
    assert data["events"]["at_central"] == data["events"]["produced"] > 2
    assert data["events"]["missing"] == 0 and data["events"]["duplicated"] == 0
    args = ["sim", "run", "--scenario", str(path), "--travellers", "1", "--fast", "--json"]
    assert main([*args, "--central", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["events"]["at_central"] is None
    assert main([*args, "--central", "http://central.example"]) == 2  # no --central-tokens
    assert main([*args, "--central", "ftp://central.example"]) == 2
    assert main([*args, "--daemon", "--core"]) == 2
    assert main([*args, "--model", "door_speed=2"]) == 2
    capsys.readouterr()


def test_cli_run_takes_the_model_from_the_scenario_and_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: FaceEngine
) -> None:
    path = tmp_path / "slow-doors.toml"
    path.write_text(
        'name = "slow-doors"\n[[travellers]]\ncount = 1\n[model]\ndoor_open_seconds = 3.0\n',
        encoding="utf-8",
    )
    args = ["sim", "run", "--scenario", str(path), "--travellers", "1", "--fast", "--json"]
    assert main(args) == 0
    slow = json.loads(capsys.readouterr().out)
    assert slow["physical_model"]["door_open_seconds"] == 3.0
    assert main([*args, "--model", "door_open_seconds=1.0", "--central", "none"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert quick["physical_model"]["door_open_seconds"] == 1.0
    # two door openings on the critical path: 2 x 2.0 s more in the minimum and the passage
    gap = slow["physical_minimum_seconds"] - quick["physical_minimum_seconds"]
    assert gap == pytest.approx(4.0, abs=0.05)
    assert slow["passage_seconds"]["median"] - quick["passage_seconds"]["median"] > 3.5


def test_real_time_gives_the_same_outcomes_as_the_simulated_clock(
    lane: LaneConfig, engine: FaceEngine, faces: FaceSource
) -> None:
    scenario = scenarios.parse_scenario(
        {
            "name": "quick",
            "travellers": [
                {"document": "expired", "expect": "rejected"},
                {"document": "no-chip", "expect": "referred", "expect_reasons": ["CHIP_NOT_FOUND"]},
            ],
        }
    )
    outcomes = []
    for fast in (True, False):
        run = SimRun(scenario, lanes=2, travellers=2, seed=4, fast=fast, lane_config=lane,
                     faces=faces, engine=engine)  # fmt: skip
        report = asyncio.run(run.run())
        outcomes.append([(r.index, r.decision, r.reasons) for r in report.results])
        if not fast:  # the lanes waited for the physical world (placing, the MRZ: 2.5 s)
            assert report.wall_seconds >= 2.5
    assert outcomes[0] == outcomes[1]
    assert report.mismatches == []
