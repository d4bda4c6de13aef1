"""The simulated lane of `egate demo`: every scripted traveller gets the decision the scenario
is about, and the events it writes follow the schema."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import date
from pathlib import Path

import pytest

from drivers.gatectl import protocol as p
from gate import events
from gate.cli import main
from gate.config import load_lane
from gate.mrz import parse, repair
from simulator.demo import SCENARIOS, DemoLane, FaceSource, make_mrz, misread
from tests.conftest import require_testdata
from tests.face_helpers import require_models

EXPECTED = {
    "genuine": ("accepted", set()),
    "ocr-misread": ("accepted", set()),
    "impostor": ("referred", {"FACE_NO_MATCH"}),
    "altered": ("rejected", {"PA_DG_HASH_MISMATCH"}),
    "cloned-chip": ("rejected", {"CHIP_CLONE_SUSPECTED"}),
    "tailgating": ("referred", {"PASSAGE_TAILGATING"}),
}


def test_synthetic_mrz_is_valid_and_a_misread_is_repaired() -> None:
    rng = random.Random(3)
    today = date(2026, 11, 21)
    for _ in range(20):
        mrz = make_mrz(rng, today)
        lines = [mrz[:44], mrz[44:]]
        good = parse(lines, today=today)
        assert good.valid, good.errors
        bad = misread(mrz, 1)
        assert bad != mrz
        broken = parse([bad[:44], bad[44:]], today=today)
        assert not broken.valid
        keys = [c.bac_key for c in repair([bad[:44], bad[44:]], today=today)]
        assert good.bac_key in keys


def test_demo_lane_decides_every_scenario() -> None:
    require_testdata("faces", "dlib_johns")
    require_models()
    lane = load_lane(None, env={})
    lines: list[str] = []
    demo = DemoLane(lane, FaceSource.find(require_testdata()), lines.append, time_scale=8.0)
    outcomes = asyncio.run(demo.run(list(SCENARIOS)))
    got = {o.scenario.name: (o.decision.value, set(o.reasons)) for o in outcomes}
    for name, (decision, reasons) in EXPECTED.items():
        assert got[name][0] == decision, (name, got[name], lines)
        assert reasons <= got[name][1], (name, got[name])
    transactions = [e for e in demo.events if isinstance(e, events.TransactionEvent)]
    alarms = [e for e in demo.events if isinstance(e, events.AlarmEvent)]
    assert len(transactions) == len(SCENARIOS)
    assert [a.alarm for a in alarms] == [events.AlarmKind.TAILGATING]
    seqs = [e.seq for e in demo.events]
    assert events.sequence_gaps(seqs) == [] and len(set(seqs)) == len(seqs)
    for event in demo.events:  # masked numbers only, and every event parses back
        assert events.parse_event(events.to_json(event)) == event


def test_demo_without_test_data_uses_bundled_photographs() -> None:
    require_models()
    faces = FaceSource.find(None)
    assert "no test data" in faces.origin
    lane = load_lane(None, env={})
    demo = DemoLane(lane, faces, lambda line: None, time_scale=8.0)
    genuine, impostor = SCENARIOS[0], SCENARIOS[2]
    outcomes = asyncio.run(demo.run([genuine, impostor]))
    assert [o.decision.value for o in outcomes] == ["accepted", "referred"]


def test_demo_command_writes_schema_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_testdata("faces", "dlib_johns")
    require_models()
    out = tmp_path / "events.jsonl"
    assert main(["demo", "--events", str(out), "--time-scale", "8"]) == 0
    text = capsys.readouterr().out
    summary = json.loads(text[text.index("\n{\n") + 1 :])
    assert summary["decisions"]["genuine"] == "accepted"
    assert main(["events", "validate", str(out)]) == 0
    assert len(out.read_text().splitlines()) == summary["events"]


def _demo_with(
    monkeypatch: pytest.MonkeyPatch, chip_portrait: bytes | None, entered: int
) -> tuple[list[events.Decision], list[list[str]], list[tuple[object, ...]]]:
    """One genuine traveller whose document checks pass, with the given chip portrait and
    people counted through the entry door; returns decisions, reasons and passages released."""
    from simulator.devices import SimulatedGateController

    require_models()
    released: list[tuple[object, ...]] = []
    real_release = SimulatedGateController.release_passage

    async def release(self: SimulatedGateController, *args: object, **kw: object) -> None:
        released.append(args)
        await real_release(self, *args, **kw)  # type: ignore[arg-type]

    async def wait_passage(*_args: object, **_kw: object) -> int:
        return entered

    def check_face(*_args: object) -> object:
        raise AssertionError("the face must not be checked")

    monkeypatch.setattr(SimulatedGateController, "release_passage", release)
    monkeypatch.setattr(DemoLane, "check_document", lambda *a: ([], [], chip_portrait, None))
    monkeypatch.setattr(DemoLane, "wait_passage", wait_passage)
    monkeypatch.setattr(DemoLane, "check_face", check_face)
    demo = DemoLane(load_lane(None, env={}), FaceSource.find(None), lambda line: None)
    outcomes = asyncio.run(demo.run([SCENARIOS[0]]))
    return [o.decision for o in outcomes], [o.reasons for o in outcomes], released


def test_accepted_document_without_chip_portrait_never_opens_the_gate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decisions, reasons, released = _demo_with(monkeypatch, None, 1)
    assert decisions == [events.Decision.REFERRED] and reasons == [["FACE_NO_CHIP_PORTRAIT"]]
    assert released == []


def test_aborted_entry_passage_aborts_the_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    decisions, reasons, released = _demo_with(monkeypatch, b"portrait", 0)
    assert decisions == [events.Decision.ABORTED] and reasons == [["PASSAGE_ABORTED"]]
    assert [args[0] for args in released] == [p.Door.ENTRY]  # never the exit door


def test_unread_mrz_refuses_without_opening_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    require_models()
    lane = load_lane(None, env={})
    demo = DemoLane(lane, FaceSource.find(None), lambda line: None, time_scale=8.0)
    truth = make_mrz(random.Random(5), demo.now.date())
    # the page reader found nothing, then garbage: no key opens the chip, no door moves
    for lines in ([], ["P<UTO" + "#" * 39, "garbage"]):
        monkeypatch.setattr(DemoLane, "read_mrz", lambda self, s, t, lines=lines: (truth, lines))
        outcome = asyncio.run(demo.run([SCENARIOS[0]]))[0]
        assert outcome.decision.value == "rejected"
        assert outcome.reasons in (["MRZ_NOT_READ"], ["CHIP_ACCESS_DENIED"])
        event = demo.events[-1]
        assert isinstance(event, events.TransactionEvent)
        stages = {s.stage for s in event.stages}
        assert events.Stage.ENTRY_OPENED not in stages
        assert events.Stage.EXIT_OPENED not in stages
