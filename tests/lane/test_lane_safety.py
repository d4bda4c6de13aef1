"""Hypothesis state machine: the lane's safety properties hold for any sequence of inputs."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gate.config import PassageConfig, PolicyConfig
from gate.events import Device
from gate.lane import Lane, PassageState
from gate.lane.commands import GateMode, ReleasePassage, SetGateMode
from gate.lane.inputs import (
    BeamsChanged,
    ChipRead,
    DeviceFault,
    DeviceRecovered,
    DocumentPlaced,
    DocumentRemoved,
    DocumentVerified,
    Door,
    EmergencyInput,
    FaceBox,
    FaceVerified,
    Input,
    LivenessChecked,
    MrzRead,
    OfficerAction,
    OfficerCommand,
    PassageAborted,
    PassageCompleted,
    PassageDirection,
    PersonsSeen,
    SafeStop,
    Screened,
    Tick,
)
from gate.lane.machine import TABLE
from gate.policy.model import DocumentFacts, ScreeningResult

TODAY = date(2026, 12, 2)
DOC = DocumentFacts(
    document_code="P",
    issuing_state="D",
    nationality="D",
    date_of_birth=date(1985, 5, 17),
    date_of_expiry=date(2031, 1, 1),
)
OFFICER = [a for a in OfficerAction if a not in (OfficerAction.RELEASE_EXIT,)]
"""An officer's release_exit / let_through is an officer's authority, outside the property."""


class LaneMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cfg = PassageConfig(confinement_seconds=40.0, face_seconds=15.0)
        self.lane = Lane(self.cfg, PolicyConfig())
        self.now = 0.0
        self.n = 0
        self.emergency = False
        self.locked_in_since: float | None = None
        self.lane.handle(self._started())

    def _started(self) -> Input:
        from gate.lane.inputs import Started

        return Started(at=self.now)

    def feed(self, event: Input) -> None:
        state = self.lane.state
        if TABLE[state].get(type(event)) is None:
            return  # a protocol error by construction: covered by the table-driven tests
        before_tx = self.lane.tx
        evidence = before_tx.evidence if before_tx is not None else None
        cmds = self.lane.handle(event)
        for c in cmds:
            if isinstance(c, ReleasePassage) and c.door is Door.EXIT and not self.officer_exit:
                # property 1: the exit opens only for a traveller whose every check passed
                tx = self.lane.tx
                ev = tx.evidence if tx is not None else evidence
                assert ev is not None, "exit released without a traveller"
                assert ev.chip_ok and ev.authenticity is not None and "PA_OK" in ev.authenticity
                assert ev.screening is not None and not ev.screening.watchlist_hits
                assert ev.face is not None and ev.face.outcome == "match"
                assert ev.liveness is True
                assert ev.persons is None or ev.persons <= 1
                assert self.lane._beam_persons <= 1 or (
                    self.now - self.lane._beam_persons_since
                    < self.cfg.tailgating.beam_persistence_seconds
                )
            if isinstance(c, SetGateMode) and c.mode is GateMode.EMERGENCY_OPEN:
                self.emergency = True
            if isinstance(c, SetGateMode) and c.mode is not GateMode.EMERGENCY_OPEN:
                assert self.lane.state is not PassageState.EMERGENCY
        if self.emergency:
            # property 2: emergency keeps everything open until an officer clears it
            if self.lane.state is PassageState.EMERGENCY:
                assert not any(isinstance(c, ReleasePassage) for c in cmds)
            else:
                assert isinstance(event, OfficerCommand)
                assert event.action is OfficerAction.EMERGENCY_CLEAR
                self.emergency = False
        self.officer_exit = False

    officer_exit = False

    def tx(self) -> str:
        return self.lane.tx.id if self.lane.tx is not None else "none"

    @rule(dt=st.floats(min_value=0.0, max_value=20.0))
    def tick(self, dt: float) -> None:
        self.now += dt
        deadline = self.lane.deadline()
        while deadline is not None and deadline <= self.now:
            self.feed(Tick(at=deadline))
            new = self.lane.deadline()
            if new == deadline:
                break
            deadline = new
        self.feed(Tick(at=self.now))

    @rule()
    def place(self) -> None:
        self.n += 1
        self.feed(DocumentPlaced(at=self.now, transaction=f"t{self.n}", date=TODAY))

    @rule()
    def remove(self) -> None:
        self.feed(DocumentRemoved(at=self.now))

    @precondition(lambda self: self.lane.tx is not None)
    @rule(ok=st.booleans())
    def mrz(self, ok: bool) -> None:
        self.feed(MrzRead(at=self.now, transaction=self.tx(), document=DOC if ok else None))

    @precondition(lambda self: self.lane.tx is not None)
    @rule(ok=st.booleans())
    def chip(self, ok: bool) -> None:
        self.feed(ChipRead(at=self.now, transaction=self.tx(), ok=ok))

    @precondition(lambda self: self.lane.tx is not None)
    @rule(
        codes=st.sampled_from(
            [("PA_OK", "AA_OK"), ("PA_DG_HASH_MISMATCH",), ("PA_OK", "AA_FAILED"), ()]
        )
    )
    def verified(self, codes: tuple[str, ...]) -> None:
        self.feed(DocumentVerified(at=self.now, transaction=self.tx(), reasons=codes))

    @precondition(lambda self: self.lane.tx is not None)
    @rule(hit=st.booleans())
    def screened(self, hit: bool) -> None:
        result = ScreeningResult(watchlist_hits=("W1",) if hit else ())
        self.feed(Screened(at=self.now, transaction=self.tx(), result=result))

    @precondition(lambda self: self.lane.tx is not None)
    @rule(outcome=st.sampled_from(["match", "no_match", "no_face"]))
    def face(self, outcome: str) -> None:
        self.feed(FaceVerified(at=self.now, transaction=self.tx(), outcome=outcome))  # type: ignore[arg-type]

    @precondition(lambda self: self.lane.tx is not None)
    @rule(passed=st.booleans())
    def liveness(self, passed: bool) -> None:
        self.feed(LivenessChecked(at=self.now, transaction=self.tx(), passed=passed))

    @rule(beams=st.lists(st.booleans(), min_size=5, max_size=5))
    def beams(self, beams: list[bool]) -> None:
        self.feed(BeamsChanged(at=self.now, beams=tuple(beams)))

    @rule(n=st.integers(min_value=0, max_value=3))
    def faces(self, n: int) -> None:
        box = FaceBox(x=0.4, y=0.3, width=0.2, height=0.3)
        self.feed(PersonsSeen(at=self.now, faces=(box,) * n))

    @rule(
        door=st.sampled_from(list(Door)),
        direction=st.sampled_from(list(PassageDirection)),
        persons=st.integers(min_value=0, max_value=3),
    )
    def passage(self, door: Door, direction: PassageDirection, persons: int) -> None:
        self.feed(PassageCompleted(at=self.now, door=door, direction=direction, persons=persons))

    @rule(door=st.sampled_from(list(Door)), reason=st.sampled_from(["timeout", "turned_back"]))
    def passage_aborted(self, door: Door, reason: str) -> None:
        self.feed(PassageAborted(at=self.now, door=door, reason=reason))  # type: ignore[arg-type]

    @rule(active=st.booleans())
    def fire(self, active: bool) -> None:
        self.feed(EmergencyInput(at=self.now, active=active))

    @rule(device=st.sampled_from([Device.CAMERA, Device.GATE_CONTROLLER]), up=st.booleans())
    def device(self, device: Device, up: bool) -> None:
        if up:
            self.feed(DeviceRecovered(at=self.now, device=device))
        else:
            self.feed(DeviceFault(at=self.now, device=device, code="CAMERA_NO_FRAMES"))

    @rule(action=st.sampled_from(OFFICER), choice=st.sampled_from(["let_through", "send_back"]))
    def officer(self, action: OfficerAction, choice: str) -> None:
        self.officer_exit = action is OfficerAction.REFERRAL_DECISION and choice == "let_through"
        self.n += 1
        self.feed(
            OfficerCommand(
                at=self.now, command_id=f"c{self.n}", action=action, args={"decision": choice}
            )
        )

    @rule()
    def stop(self) -> None:
        self.feed(SafeStop(at=self.now))

    @invariant()
    def nobody_is_shut_in_beyond_the_timeout(self) -> None:
        # property 3: with someone inside, never longer than confinement_seconds without a
        # released passage (or emergency opening); the lane's deadline guarantees the tick
        lane = self.lane
        shut = lane.occupied and not lane.released and lane.state is not PassageState.EMERGENCY
        if not shut:
            self.locked_in_since = None
            return
        if self.locked_in_since is None:
            self.locked_in_since = self.now
        deadline = lane.deadline()
        assert deadline is not None
        assert deadline <= self.locked_in_since + self.cfg.confinement_seconds + 1e-6


TestLaneSafety = LaneMachine.TestCase
TestLaneSafety.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
