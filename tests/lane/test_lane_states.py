"""The lane state machine, table-driven: every state x every input, and the main flows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from gate.config import PassageConfig, PolicyConfig
from gate.events import AlarmKind, Decision, Device
from gate.lane import Lane, LaneProtocolError, PassageState
from gate.lane.commands import (
    AckOfficerCommand,
    CancelPassage,
    ClearAlarm,
    GateMode,
    RaiseAlarm,
    ReadChip,
    ReleasePassage,
    RequestOfficer,
    Screen,
    SetGateMode,
    ShowScreen,
    StartFaceCapture,
    TransactionFinished,
)
from gate.lane.inputs import (
    INPUT_TYPES,
    RESULT_TYPES,
    BeamsChanged,
    CentralLinkChanged,
    ChipRead,
    CommandAction,
    DeviceFault,
    DeviceRecovered,
    DocumentPlaced,
    DocumentRemoved,
    DocumentVerified,
    Door,
    DoorChanged,
    DoorPosition,
    EmergencyInput,
    FaceBox,
    FaceVerified,
    Input,
    LivenessChecked,
    MrzRead,
    OfficerCommand,
    PassageAborted,
    PassageCompleted,
    PassageDirection,
    PersonsSeen,
    SafeStop,
    Screened,
    Started,
    Tick,
)
from gate.lane.machine import TABLE, persons_from_beams
from gate.policy.model import DocumentFacts, ScreeningResult

S = PassageState
TX = "tx-1"
TODAY = date(2026, 12, 2)
DOC = DocumentFacts(
    document_code="P",
    issuing_state="D",
    nationality="D",
    date_of_birth=date(1985, 5, 17),
    date_of_expiry=date(2031, 1, 1),
    masked_number="*****4567",
)
GENUINE = ("PA_OK", "AA_OK", "CA_OK")


def make_lane(**passage: object) -> Lane:
    return Lane(PassageConfig.model_validate(passage), PolicyConfig())


def feed(lane: Lane, *events: Input) -> list[object]:
    out: list[object] = []
    for ev in events:
        out += lane.handle(ev)
    return out


def to_idle(lane: Lane) -> None:
    feed(lane, Started(at=0.0))


def to_reading_mrz(lane: Lane) -> None:
    to_idle(lane)
    feed(lane, DocumentPlaced(at=1.0, transaction=TX, date=TODAY))


def to_reading_chip(lane: Lane) -> None:
    to_reading_mrz(lane)
    feed(lane, MrzRead(at=1.5, transaction=TX, document=DOC, reasons=("MRZ_OK",)))


def to_eligibility(lane: Lane) -> None:
    to_reading_chip(lane)
    feed(lane, ChipRead(at=3.0, transaction=TX, ok=True, reasons=("CHIP_OK",)))


def to_entering(lane: Lane) -> None:
    to_eligibility(lane)
    feed(
        lane,
        Screened(at=3.1, transaction=TX, result=ScreeningResult()),
        DocumentVerified(at=3.2, transaction=TX, reasons=GENUINE),
    )


def to_face(lane: Lane) -> None:
    to_entering(lane)
    feed(lane, PassageCompleted(at=5.0, door=Door.ENTRY, direction=PassageDirection.IN, persons=1))


def to_exiting(lane: Lane) -> None:
    to_face(lane)
    feed(
        lane,
        FaceVerified(at=6.0, transaction=TX, outcome="match", similarity=0.7, threshold=0.4),
        LivenessChecked(at=6.1, transaction=TX, passed=True),
    )


def to_referred(lane: Lane) -> None:
    to_face(lane)
    feed(lane, FaceVerified(at=6.0, transaction=TX, outcome="no_match", similarity=0.1))


def to_rejected(lane: Lane) -> None:
    to_reading_chip(lane)
    feed(
        lane,
        ChipRead(at=3.0, transaction=TX, ok=True),
        DocumentVerified(at=3.2, transaction=TX, reasons=("PA_DG_HASH_MISMATCH",)),
    )


def to_aborted(lane: Lane) -> None:
    to_entering(lane)
    feed(lane, PassageCompleted(at=5.0, door=Door.ENTRY, direction=PassageDirection.IN, persons=1))
    feed(lane, SafeStop(at=5.5, reason="test"))  # inside: aborted, the way back is released


def to_out_of_service(lane: Lane) -> None:
    pass  # a new lane starts out of service


def to_fault(lane: Lane) -> None:
    to_face(lane)
    feed(lane, DeviceFault(at=6.0, device=Device.CAMERA, code="CAMERA_NO_FRAMES"))


def to_emergency(lane: Lane) -> None:
    to_idle(lane)
    feed(lane, EmergencyInput(at=2.0, active=True))


REACH: dict[PassageState, Callable[[Lane], None]] = {
    S.IDLE: to_idle,
    S.READING_MRZ: to_reading_mrz,
    S.READING_CHIP: to_reading_chip,
    S.ELIGIBILITY: to_eligibility,
    S.ENTERING: to_entering,
    S.FACE: to_face,
    S.EXITING: to_exiting,
    S.REFERRED: to_referred,
    S.REJECTED: to_rejected,
    S.ABORTED: to_aborted,
    S.OUT_OF_SERVICE: to_out_of_service,
    S.FAULT: to_fault,
    S.EMERGENCY: to_emergency,
}


def sample(kind: type, at: float = 20.0) -> Input:
    samples: dict[type, Input] = {
        DocumentPlaced: DocumentPlaced(at=at, transaction="tx-2", date=TODAY),
        DocumentRemoved: DocumentRemoved(at=at),
        MrzRead: MrzRead(at=at, transaction=TX, document=DOC),
        ChipRead: ChipRead(at=at, transaction=TX, ok=True),
        DocumentVerified: DocumentVerified(at=at, transaction=TX, reasons=GENUINE),
        Screened: Screened(at=at, transaction=TX, result=ScreeningResult()),
        FaceVerified: FaceVerified(at=at, transaction=TX, outcome="match"),
        LivenessChecked: LivenessChecked(at=at, transaction=TX, passed=True),
        PersonsSeen: PersonsSeen(at=at, faces=(FaceBox(x=0.4, y=0.3, width=0.2, height=0.3),)),
        BeamsChanged: BeamsChanged(at=at, beams=(False, True, False, False, False)),
        DoorChanged: DoorChanged(at=at, door=Door.ENTRY, position=DoorPosition.LOCKED),
        PassageCompleted: PassageCompleted(
            at=at, door=Door.EXIT, direction=PassageDirection.IN, persons=1
        ),
        PassageAborted: PassageAborted(at=at, door=Door.ENTRY, reason="timeout"),
        EmergencyInput: EmergencyInput(at=at, active=True),
        DeviceFault: DeviceFault(at=at, device=Device.DOCUMENT_READER, code="DOCREADER_NO_ANSWER"),
        DeviceRecovered: DeviceRecovered(at=at, device=Device.DOCUMENT_READER),
        OfficerCommand: OfficerCommand(at=at, command_id="c1", action=CommandAction.RESET_ALARM),
        CentralLinkChanged: CentralLinkChanged(at=at, up=False),
        Started: Started(at=at),
        Tick: Tick(at=at),
        SafeStop: SafeStop(at=at),
    }
    return samples[kind]


def test_every_state_can_be_reached_by_the_helpers() -> None:
    for state, reach in REACH.items():
        lane = make_lane()
        reach(lane)
        assert lane.state is state, state


@pytest.mark.parametrize("state", list(PassageState), ids=lambda s: s.value)
@pytest.mark.parametrize("kind", INPUT_TYPES, ids=lambda k: k.__name__)
def test_every_state_and_input(state: PassageState, kind: type) -> None:
    lane = make_lane()
    REACH[state](lane)
    event = sample(kind)
    rule = TABLE[state].get(kind)
    if kind in RESULT_TYPES and lane.tx is not None and lane.tx.concluded is not None:
        # the traveller's checks ended: a late result is dropped whatever the state
        assert lane.handle(event) == [] and lane.state is state
        assert lane.last_step is not None and lane.last_step.rule == "stale"
    elif rule is None:
        with pytest.raises(LaneProtocolError) as info:
            lane.handle(event)
        assert info.value.state == state.value and kind.__name__ in info.value.input_name
        assert state.value in str(info.value) and kind.__name__ in str(info.value)
        assert lane.state is state
    else:
        lane.handle(event)
        assert lane.state in rule.targets, f"{state} + {kind.__name__} -> {lane.state}"


def test_result_for_an_unknown_transaction_is_a_protocol_error() -> None:
    lane = make_lane()
    to_reading_mrz(lane)
    with pytest.raises(LaneProtocolError, match="unknown transaction 'nope'"):
        lane.handle(MrzRead(at=2.0, transaction="nope", document=DOC))


def test_late_result_of_a_finished_traveller_is_ignored() -> None:
    lane = make_lane()
    to_reading_chip(lane)
    feed(lane, DocumentRemoved(at=2.0))  # aborted: CHIP_REMOVED
    assert lane.state is S.IDLE
    assert lane.handle(ChipRead(at=2.5, transaction=TX, ok=True)) == []
    assert lane.last_step is not None and lane.last_step.rule == "stale"


def test_two_step_genuine_traveller_is_accepted_and_exit_opens_last() -> None:
    lane = make_lane()
    to_face(lane)
    cmds = feed(lane, FaceVerified(at=6.0, transaction=TX, outcome="match", similarity=0.7))
    assert not any(isinstance(c, ReleasePassage) for c in cmds)  # liveness still pending
    cmds = feed(lane, LivenessChecked(at=6.1, transaction=TX, passed=True))
    assert (
        ReleasePassage(door=Door.EXIT, direction=PassageDirection.IN, timeout_seconds=10.0) in cmds
    )
    cmds = feed(
        lane, PassageCompleted(at=8.0, door=Door.EXIT, direction=PassageDirection.IN, persons=1)
    )
    done = [c for c in cmds if isinstance(c, TransactionFinished)]
    assert done[0].decision is Decision.ACCEPTED and "POLICY_ACCEPTED" in done[0].reasons
    assert next(s for s, _ in done[0].stages) == "document_placed"
    assert lane.state is S.IDLE


def test_one_step_captures_the_face_while_the_chip_is_read() -> None:
    lane = make_lane(flow="one-step")
    to_idle(lane)
    feed(lane, DocumentPlaced(at=1.0, transaction=TX, date=TODAY))
    cmds = feed(lane, MrzRead(at=1.5, transaction=TX, document=DOC))
    assert any(isinstance(c, ReadChip) for c in cmds)
    assert any(isinstance(c, StartFaceCapture) for c in cmds)
    feed(
        lane,
        FaceVerified(at=2.0, transaction=TX, outcome="match"),
        LivenessChecked(at=2.1, transaction=TX, passed=True),
        Screened(at=2.2, transaction=TX, result=ScreeningResult()),
        ChipRead(at=3.0, transaction=TX, ok=True),
    )
    assert lane.state is S.ELIGIBILITY
    cmds = feed(lane, DocumentVerified(at=3.2, transaction=TX, reasons=GENUINE))
    # the single barrier opens the moment the last check passes; no entry door is used
    assert [c for c in cmds if isinstance(c, ReleasePassage)] == [
        ReleasePassage(door=Door.EXIT, direction=PassageDirection.IN, timeout_seconds=10.0)
    ]
    assert lane.state is S.EXITING


def test_face_mismatch_inside_refers_and_releases_the_way_back() -> None:
    lane = make_lane()
    to_face(lane)
    cmds = feed(lane, FaceVerified(at=6.0, transaction=TX, outcome="no_match"))
    assert lane.state is S.REFERRED
    assert ShowScreen(screen=Screen.SEE_OFFICER) in cmds
    assert (
        ReleasePassage(door=Door.ENTRY, direction=PassageDirection.OUT, timeout_seconds=15.0)
        in cmds
    )
    assert any(isinstance(c, RequestOfficer) and "FACE_NO_MATCH" in c.reasons for c in cmds)
    feed(lane, PassageCompleted(at=9.0, door=Door.ENTRY, direction=PassageDirection.OUT, persons=1))
    assert lane.state is S.IDLE


def test_hold_for_officer_waits_then_releases_the_way_back() -> None:
    lane = make_lane(on_referral="hold_for_officer", officer_wait_seconds=30.0)
    to_face(lane)
    cmds = feed(lane, FaceVerified(at=6.0, transaction=TX, outcome="no_match"))
    assert lane.state is S.REFERRED and not any(isinstance(c, ReleasePassage) for c in cmds)
    assert lane.deadline() == pytest.approx(36.0)
    cmds = feed(lane, Tick(at=36.0))
    assert (
        ReleasePassage(door=Door.ENTRY, direction=PassageDirection.OUT, timeout_seconds=15.0)
        in cmds
    )


def test_officer_lets_a_referred_traveller_through() -> None:
    lane = make_lane(on_referral="hold_for_officer")
    to_referred(lane)
    cmds = feed(
        lane,
        OfficerCommand(
            at=7.0,
            command_id="c9",
            action=CommandAction.REFERRAL_DECISION,
            args={"decision": "let_through"},
        ),
    )
    assert (
        ReleasePassage(door=Door.EXIT, direction=PassageDirection.IN, timeout_seconds=10.0) in cmds
    )
    assert AckOfficerCommand(command_id="c9", result="done") in cmds
    feed(lane, PassageCompleted(at=9.0, door=Door.EXIT, direction=PassageDirection.IN, persons=1))
    assert lane.state is S.IDLE


def test_forged_document_is_rejected_before_entry_and_the_entry_stays_shut() -> None:
    lane = make_lane()
    to_reading_chip(lane)
    cmds = feed(
        lane,
        ChipRead(at=3.0, transaction=TX, ok=True),
        Screened(at=3.1, transaction=TX, result=ScreeningResult()),
        DocumentVerified(at=3.2, transaction=TX, reasons=("PA_DG_HASH_MISMATCH",)),
    )
    finished = [c for c in cmds if isinstance(c, TransactionFinished)]
    assert finished[0].decision is Decision.REJECTED
    assert not any(isinstance(c, ReleasePassage) for c in cmds)
    assert lane.state is S.REJECTED  # the traveller takes the document first
    feed(lane, DocumentRemoved(at=4.0))
    assert lane.state is S.IDLE


def test_watchlist_hit_refers_discreetly_with_an_alarm() -> None:
    lane = make_lane()
    to_eligibility(lane)
    cmds = feed(
        lane,
        Screened(at=3.1, transaction=TX, result=ScreeningResult(watchlist_hits=("W-7",))),
        DocumentVerified(at=3.2, transaction=TX, reasons=GENUINE),
    )
    assert RaiseAlarm(kind=AlarmKind.WATCHLIST_HIT, transaction=TX) in cmds
    officer = next(c for c in cmds if isinstance(c, RequestOfficer))
    assert officer.discreet and "POLICY_WATCHLIST_HIT" in officer.reasons
    screens = [c.screen for c in cmds if isinstance(c, ShowScreen)]
    assert Screen.SEE_OFFICER in screens  # the traveller never sees why


@pytest.mark.parametrize(
    ("reach", "at", "code", "decision"),
    [
        (to_reading_mrz, 9.0, "PASSAGE_TIMEOUT_MRZ", Decision.ABORTED),
        (to_reading_chip, 16.5, "PASSAGE_TIMEOUT_CHIP", Decision.REFERRED),
        (to_eligibility, 8.0, "PASSAGE_TIMEOUT_ELIGIBILITY", Decision.REFERRED),
        (to_entering, 15.2, "PASSAGE_TIMEOUT_ENTRY", Decision.ABORTED),
        (to_face, 20.0, "PASSAGE_TIMEOUT_FACE", Decision.REFERRED),
    ],
)
def test_every_waiting_state_times_out_with_its_consequence(
    reach: Callable[[Lane], None], at: float, code: str, decision: Decision
) -> None:
    lane = make_lane()
    reach(lane)
    deadline = lane.deadline()
    assert deadline is not None and deadline <= at
    assert feed(lane, Tick(at=deadline - 0.01)) == [] or lane.state is not S.IDLE
    cmds = feed(lane, Tick(at=at))
    finished = [c for c in cmds if isinstance(c, TransactionFinished)]
    assert finished and finished[0].decision is decision and code in finished[0].reasons


def test_exit_timeout_releases_again_and_calls_an_officer() -> None:
    lane = make_lane()
    to_exiting(lane)
    cmds = feed(lane, PassageAborted(at=16.0, door=Door.EXIT, reason="timeout"))
    assert (
        ReleasePassage(door=Door.EXIT, direction=PassageDirection.IN, timeout_seconds=10.0) in cmds
    )
    assert any(isinstance(c, RequestOfficer) and "PASSAGE_TIMEOUT_EXIT" in c.reasons for c in cmds)
    assert lane.state is S.EXITING


def test_tailgating_counted_by_the_controller_refers_and_blocks_the_exit() -> None:
    lane = make_lane()
    to_entering(lane)
    cmds = feed(
        lane, PassageCompleted(at=5.0, door=Door.ENTRY, direction=PassageDirection.IN, persons=2)
    )
    assert (
        RaiseAlarm(
            kind=AlarmKind.TAILGATING, transaction=TX, detail="controller counted at the entry"
        )
        in cmds
    )
    assert lane.state is S.REFERRED
    assert not any(isinstance(c, ReleasePassage) and c.door is Door.EXIT for c in cmds)


def test_tailgating_from_beams_needs_persistence() -> None:
    lane = make_lane()
    to_face(lane)
    two = (False, True, False, True, False)
    feed(lane, BeamsChanged(at=6.0, beams=two))
    assert lane.state is S.FACE  # not yet: 0.3 s persistence
    feed(lane, BeamsChanged(at=6.1, beams=(False, True, False, False, False)))
    feed(lane, Tick(at=7.0))
    assert lane.state is S.FACE  # the flicker did not last
    feed(lane, BeamsChanged(at=7.0, beams=two))
    assert lane.deadline() == pytest.approx(7.3)
    cmds = feed(lane, Tick(at=7.3))
    assert lane.state is S.REFERRED
    assert any(isinstance(c, RaiseAlarm) and c.kind is AlarmKind.TAILGATING for c in cmds)


def test_camera_count_ignores_small_outside_and_transient_faces() -> None:
    lane = make_lane()
    to_face(lane)
    near = FaceBox(x=0.4, y=0.3, width=0.15, height=0.25)
    reflection = FaceBox(x=0.05, y=0.3, width=0.05, height=0.08)  # small and in the glass
    poster = FaceBox(x=0.9, y=0.1, width=0.08, height=0.2)  # outside the mantrap region
    for i in range(20):
        feed(lane, PersonsSeen(at=6.0 + i / 15, faces=(near, reflection, poster)))
    assert lane.state is S.FACE
    second = FaceBox(x=0.6, y=0.35, width=0.14, height=0.22)
    for i in range(4):  # 4 frames < 5 required
        feed(lane, PersonsSeen(at=8.0 + i / 15, faces=(near, second)))
    feed(lane, PersonsSeen(at=8.4, faces=(near,)))
    assert lane.state is S.FACE
    for i in range(5):
        feed(lane, PersonsSeen(at=9.0 + i / 15, faces=(near, second)))
    assert lane.state is S.REFERRED


def test_persons_from_beams() -> None:
    assert persons_from_beams((True, False, False, False, True), 2) == 0  # outside beams only
    assert persons_from_beams((False, True, True, False, False), 2) == 1  # luggage
    assert persons_from_beams((False, True, False, True, False), 2) == 2  # a gap between
    assert persons_from_beams((False, True, True, True, False), 2) == 2  # too long for one
    assert persons_from_beams((False, True, True, True, False), 3) == 1


def test_emergency_opens_everything_and_survives_until_an_officer_clears_it() -> None:
    lane = make_lane()
    to_face(lane)
    cmds = feed(lane, EmergencyInput(at=6.0, active=True))
    assert SetGateMode(mode=GateMode.EMERGENCY_OPEN) in cmds
    assert any(isinstance(c, TransactionFinished) and c.decision is Decision.ABORTED for c in cmds)
    for kind in INPUT_TYPES:
        if TABLE[S.EMERGENCY].get(kind) is None:
            continue
        event = sample(kind, at=7.0)
        if isinstance(event, OfficerCommand | DeviceFault | SafeStop):
            continue  # these keep the lane out of service afterwards: tested elsewhere
        cmds = feed(lane, event)
        assert lane.state is S.EMERGENCY, kind
        assert not any(isinstance(c, ReleasePassage | CancelPassage) for c in cmds)
    feed(lane, EmergencyInput(at=8.0, active=True))
    refused = feed(
        lane, OfficerCommand(at=9.0, command_id="e1", action=CommandAction.EMERGENCY_CLEAR)
    )
    assert (
        AckOfficerCommand(
            command_id="e1", result="refused", detail="the fire-alarm input is still active"
        )
        in refused
    )
    feed(lane, EmergencyInput(at=10.0, active=False))
    assert lane.state is S.EMERGENCY
    cmds = feed(
        lane, OfficerCommand(at=11.0, command_id="e2", action=CommandAction.EMERGENCY_CLEAR)
    )
    assert SetGateMode(mode=GateMode.NORMAL) in cmds and lane.state is S.IDLE


def test_fault_lets_the_traveller_out_then_out_of_service_until_recovery() -> None:
    lane = make_lane()
    to_face(lane)
    cmds = feed(lane, DeviceFault(at=6.0, device=Device.CAMERA, code="CAMERA_NO_FRAMES"))
    assert lane.state is S.FAULT
    assert (
        ReleasePassage(door=Door.ENTRY, direction=PassageDirection.OUT, timeout_seconds=15.0)
        in cmds
    )
    finished = next(c for c in cmds if isinstance(c, TransactionFinished))
    assert finished.decision is Decision.ABORTED and "CAMERA_NO_FRAMES" in finished.reasons
    feed(lane, PassageCompleted(at=8.0, door=Door.ENTRY, direction=PassageDirection.OUT, persons=1))
    assert lane.state is S.OUT_OF_SERVICE
    feed(lane, DocumentPlaced(at=9.0, transaction="tx-2", date=TODAY))
    assert lane.state is S.OUT_OF_SERVICE  # nobody is admitted
    feed(lane, DeviceRecovered(at=10.0, device=Device.CAMERA))
    assert lane.state is S.READING_MRZ  # the waiting document is served at once


def test_fault_while_idle_and_central_link_loss() -> None:
    lane = make_lane()
    to_idle(lane)
    feed(lane, DeviceFault(at=1.0, device=Device.CENTRAL_LINK, code="CENTRAL_UNREACHABLE"))
    assert lane.state is S.IDLE  # works from cached lists
    feed(lane, DeviceFault(at=2.0, device=Device.GATE_CONTROLLER, code="GATECTL_NO_ANSWER"))
    assert lane.state is S.OUT_OF_SERVICE


def test_officer_close_lane_waits_for_the_current_traveller() -> None:
    lane = make_lane()
    to_exiting(lane)
    cmds = feed(lane, OfficerCommand(at=7.0, command_id="c1", action=CommandAction.CLOSE_LANE))
    assert (
        AckOfficerCommand(command_id="c1", result="done", detail="after the current traveller")
        in cmds
    )
    assert lane.state is S.EXITING
    feed(lane, PassageCompleted(at=8.0, door=Door.EXIT, direction=PassageDirection.IN, persons=1))
    assert lane.state is S.OUT_OF_SERVICE
    cmds = feed(lane, OfficerCommand(at=9.0, command_id="c2", action=CommandAction.OPEN_LANE))
    assert lane.state is S.IDLE


def test_bad_referral_decision_is_refused() -> None:
    lane = make_lane(on_referral="hold_for_officer")
    to_referred(lane)
    cmds = feed(
        lane,
        OfficerCommand(
            at=7.0, command_id="c3", action=CommandAction.REFERRAL_DECISION, args={"decision": "x"}
        ),
    )
    assert cmds[-1] == AckOfficerCommand(
        command_id="c3",
        result="refused",
        detail="args.decision must be 'let_through' or 'send_back'",
    )


def test_confinement_backstop_releases_the_way_back() -> None:
    lane = make_lane(confinement_seconds=20.0)
    to_idle(lane)
    feed(lane, BeamsChanged(at=1.0, beams=(False, False, True, False, False)))  # someone inside
    assert lane.deadline() == pytest.approx(21.0)
    cmds = feed(lane, Tick(at=21.0))
    assert (
        ReleasePassage(door=Door.ENTRY, direction=PassageDirection.OUT, timeout_seconds=15.0)
        in cmds
    )
    assert any(isinstance(c, RaiseAlarm) and c.kind is AlarmKind.PERSON_TRAPPED for c in cmds)


def test_a_lane_serving_both_directions_takes_the_travellers() -> None:
    lane = Lane(PassageConfig(), PolicyConfig(apis_directions=["departure"]), direction="arrival")
    to_idle(lane)
    feed(lane, DocumentPlaced(at=1.0, transaction=TX, date=TODAY, direction="departure"))
    cmds = feed(
        lane,
        MrzRead(at=1.5, transaction=TX, document=DOC),
        Screened(at=1.6, transaction=TX, result=ScreeningResult(on_manifest=False)),
        ChipRead(at=3.0, transaction=TX, ok=True),
        DocumentVerified(at=3.2, transaction=TX, reasons=GENUINE),
    )
    finished = next(c for c in cmds if isinstance(c, TransactionFinished))
    assert finished.decision is Decision.REFERRED and "POLICY_NOT_ON_MANIFEST" in finished.reasons


def test_results_in_flight_when_the_checks_end_are_dropped() -> None:
    lane = make_lane()
    to_reading_mrz(lane)
    specimen = DocumentFacts(document_code="P", issuing_state="UTO", nationality="UTO")
    feed(lane, MrzRead(at=1.5, transaction=TX, document=specimen))  # rejected at once
    assert lane.state is S.REJECTED  # the traveller still has to take the document
    assert feed(lane, Screened(at=2.0, transaction=TX, result=ScreeningResult())) == []
    assert feed(lane, ChipRead(at=2.1, transaction=TX, ok=True)) == []
    lane = make_lane()
    to_face(lane)
    feed(lane, DeviceFault(at=6.0, device=Device.CAMERA, code="CAMERA_NO_FRAMES"))
    assert lane.state is S.FAULT
    assert feed(lane, FaceVerified(at=6.5, transaction=TX, outcome="match")) == []
    assert lane.state is S.FAULT


def test_every_watchlist_hit_alarms_even_before_the_last_one_was_reset() -> None:
    lane = make_lane()
    alarms = []
    for n in range(2):
        tx = f"w{n}"
        feed(lane, *([Started(at=0.0)] if n == 0 else []))
        cmds = feed(
            lane,
            DocumentPlaced(at=10.0 * n + 1, transaction=tx, date=TODAY),
            MrzRead(at=10.0 * n + 1.5, transaction=tx, document=DOC),
            Screened(
                at=10.0 * n + 1.6, transaction=tx, result=ScreeningResult(watchlist_hits=("W",))
            ),
            ChipRead(at=10.0 * n + 2, transaction=tx, ok=True),
            DocumentVerified(at=10.0 * n + 2.2, transaction=tx, reasons=GENUINE),
            DocumentRemoved(at=10.0 * n + 3),
        )
        alarms += [c for c in cmds if isinstance(c, RaiseAlarm)]
    assert [(a.kind, a.transaction) for a in alarms] == [
        (AlarmKind.WATCHLIST_HIT, "w0"),
        (AlarmKind.WATCHLIST_HIT, "w1"),
    ]
    assert lane.alarms == {AlarmKind.WATCHLIST_HIT}
    cmds = feed(lane, OfficerCommand(at=30.0, command_id="r", action=CommandAction.RESET_ALARM))
    assert ClearAlarm(kind=AlarmKind.WATCHLIST_HIT) in cmds and lane.alarms == set()
