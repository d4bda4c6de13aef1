"""The lane state machine: ``Lane.handle(input) -> [commands]`` (docs/lane.md).

The transition table :data:`TABLE` is data: for every state, the inputs it accepts, the rule
(handler) that runs and the states it may lead to. Any other input raises
:class:`LaneProtocolError` naming the state and the input, and leaves the lane unchanged.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from gate.config import PassageConfig, PolicyConfig
from gate.events import AlarmKind, Decision, Device, Stage
from gate.lane.commands import (
    AckOfficerCommand,
    CancelPassage,
    ClearAlarm,
    Command,
    GateMode,
    LaneStateChanged,
    RaiseAlarm,
    ReadChip,
    ReadDocument,
    ReleasePassage,
    RequestOfficer,
    Screen,
    ScreenTraveller,
    SetGateMode,
    ShowScreen,
    StartFaceCapture,
    StopFaceCapture,
    TransactionFinished,
    VerifyDocument,
)
from gate.lane.errors import LaneProtocolError
from gate.lane.inputs import (
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
from gate.lane.states import PassageState, lane_state_of
from gate.policy.decide import decide
from gate.policy.model import Evidence, FaceEvidence, PolicyDecision

S = PassageState
REPORT_GRACE_SECONDS = 2.0
"""A released passage whose report is this late after its timeout counts as lost."""
NON_BLOCKING_DEVICES = frozenset({Device.CENTRAL_LINK})
"""Faults of these do not stop the lane (it works from cached lists; the policy decides)."""


@dataclass(frozen=True)
class Rule:
    """One cell of the table: the handler that runs and the states it may lead to."""

    handler: str
    targets: tuple[PassageState, ...]


_PRE_DECISION = (S.READING_MRZ, S.READING_CHIP, S.ELIGIBILITY, S.ENTERING, S.FACE)
_ENDINGS = (S.REFERRED, S.REJECTED, S.ABORTED)
_LEAVE = (S.IDLE, S.OUT_OF_SERVICE, S.READING_MRZ)
"""Where the lane goes once a traveller is out (a document waiting starts the next one)."""
_DECIDED = (*_ENDINGS, *_LEAVE)
"""Where a decision other than 'accepted' leads (the traveller inside, at the reader, or gone)."""

_PHYSICAL = (
    DocumentPlaced,
    DocumentRemoved,
    PersonsSeen,
    BeamsChanged,
    DoorChanged,
    PassageCompleted,
    PassageAborted,
    EmergencyInput,
    DeviceFault,
    DeviceRecovered,
    OfficerCommand,
    CentralLinkChanged,
    Tick,
    SafeStop,
)
"""Inputs from the physical world, officers and time: every state accepts them."""


def _rule(handler: str, *targets: PassageState) -> Rule:
    return Rule(handler, tuple(dict.fromkeys(targets)))


_HANDLERS = {
    DocumentPlaced: "document_placed",
    DocumentRemoved: "document_removed",
    PersonsSeen: "persons_seen",
    BeamsChanged: "beams_changed",
    DoorChanged: "door_changed",
    PassageCompleted: "passage_completed",
    PassageAborted: "passage_aborted",
    EmergencyInput: "emergency_input",
    DeviceFault: "device_fault",
    DeviceRecovered: "device_recovered",
    OfficerCommand: "officer_command",
    CentralLinkChanged: "central_link",
    Tick: "tick",
    SafeStop: "safe_stop",
    Started: "started",
    MrzRead: "mrz_read",
    ChipRead: "chip_read",
    DocumentVerified: "document_verified",
    Screened: "screened",
    FaceVerified: "face_verified",
    LivenessChecked: "liveness_checked",
}


def _targets(state: PassageState, kind: type) -> tuple[PassageState, ...]:
    """Where ``kind`` may take the lane from ``state`` (checked by the tests on every step)."""
    stay = (state,)
    if kind is EmergencyInput:
        return (state, S.EMERGENCY)
    if state is S.EMERGENCY:
        return (S.EMERGENCY, *_LEAVE) if kind is OfficerCommand else stay
    officer = (S.EMERGENCY,) if kind is OfficerCommand else ()
    if state is S.IDLE:
        return {
            DocumentPlaced: (S.READING_MRZ,),
            DeviceFault: (S.IDLE, S.OUT_OF_SERVICE),
            SafeStop: (S.OUT_OF_SERVICE,),
            OfficerCommand: (S.IDLE, S.OUT_OF_SERVICE, S.EMERGENCY),
        }.get(kind, stay)
    if state is S.OUT_OF_SERVICE:
        if kind in (Started, DeviceRecovered, OfficerCommand):
            return (*_LEAVE, *officer)
        return stay
    if state is S.FAULT:
        if kind in (PassageCompleted, OfficerCommand):
            return (S.FAULT, *_LEAVE, *officer)
        return stay
    if state in _ENDINGS:
        if kind in (PassageCompleted, DocumentRemoved, Tick, OfficerCommand):
            return (state, *_LEAVE, *officer)
        return stay
    if state is S.EXITING:
        if kind in (PassageCompleted, OfficerCommand):
            return (S.EXITING, *_LEAVE, *officer)
        return stay
    # before the decision: any input may end the checks (tailgating, confinement, timeouts...)
    ends = (state, *_DECIDED, *officer)
    if kind is DeviceFault:
        return (*ends, S.FAULT)
    progress = {
        MrzRead: (S.READING_CHIP,),
        ChipRead: (S.ELIGIBILITY,),
        DocumentVerified: (S.ENTERING, S.FACE, S.EXITING),
        Screened: (S.ENTERING, S.FACE, S.EXITING),
        FaceVerified: (S.FACE, S.EXITING),
        LivenessChecked: (S.FACE, S.EXITING),
    }.get(kind, ())
    if kind is PassageCompleted and state is S.ENTERING:
        progress = (S.FACE,)
    return (*ends, *progress)


def _table() -> dict[PassageState, dict[type, Rule]]:
    accepts: dict[PassageState, tuple[type, ...]] = {state: _PHYSICAL for state in PassageState}
    accepts[S.OUT_OF_SERVICE] += (Started,)
    accepts[S.READING_MRZ] += (MrzRead,)
    accepts[S.READING_CHIP] += (ChipRead, Screened)
    accepts[S.ELIGIBILITY] += (DocumentVerified, Screened)
    # face results: during the chip read of a one-step lane, inside the mantrap (FACE), and
    # late ones after the decision (ignored)
    for state in (S.READING_CHIP, S.ELIGIBILITY, S.FACE, S.EXITING, *_ENDINGS):
        accepts[state] += (FaceVerified, LivenessChecked)
    return {
        state: {kind: _rule(_HANDLERS[kind], *_targets(state, kind)) for kind in kinds}
        for state, kinds in accepts.items()
    }


TABLE: dict[PassageState, dict[type, Rule]] = _table()


@dataclass
class _Transaction:
    id: str
    day: date
    evidence: Evidence
    stages: list[tuple[str, float]] = field(default_factory=list)
    lane_reasons: list[str] = field(default_factory=list)
    inside: bool = False
    face_started: bool = False
    decision: PolicyDecision | None = None
    concluded: Decision | None = None
    holding: bool = False
    officer_called: bool = False
    scores: dict[str, float | None] = field(default_factory=dict)

    def stage(self, stage: Stage, at: float) -> None:
        if all(s != stage.value for s, _ in self.stages):
            self.stages.append((stage.value, at))


@dataclass(frozen=True)
class Step:
    """What one input did: for logs and ``egate lane replay``."""

    input: Input
    before: PassageState
    after: PassageState
    commands: tuple[Command, ...]
    rule: str
    note: str


def persons_from_beams(beams: tuple[bool, ...], per_person: int) -> int:
    """People in the mantrap from its beams (all but the first and the last beam).

    Each run of adjacent interrupted beams is one person if it is at most ``per_person`` beams
    long, otherwise ``ceil(length / per_person)`` people; runs separated by a clear beam are
    different people.
    """
    inside = beams[1:-1]
    count, run = 0, 0
    for broken in (*inside, False):
        if broken:
            run += 1
        elif run:
            count += math.ceil(run / per_person)
            run = 0
    return count


class Lane:
    """One lane. Build it, send :class:`~gate.lane.inputs.Started` once the doors are safe, then
    feed every input in order and carry out the returned commands in order."""

    def __init__(
        self,
        passage: PassageConfig,
        policy: PolicyConfig,
        *,
        direction: Literal["arrival", "departure"] = "arrival",
    ) -> None:
        self.passage = passage
        self.policy = policy
        self.direction: Literal["arrival", "departure"] = direction
        self.state = PassageState.OUT_OF_SERVICE
        self.blockers: dict[str, str] = {"starting": "the lane has not started"}
        self.tx: _Transaction | None = None
        self._finished_ids: deque[str] = deque(maxlen=64)
        self._step_deadline: float | None = None
        self._released: dict[Door, tuple[PassageDirection, float]] = {}
        self._beams: tuple[bool, ...] = ()
        self._beam_persons = 0
        self._beam_persons_since = 0.0
        self._camera_streak = 0
        self._confined_since: float | None = None
        self._waiting_document: DocumentPlaced | None = None
        self.document_present = False
        self.doors: dict[Door, DoorPosition] = {}
        self.emergency_input = False
        self.central_up = True
        self.alarms: set[AlarmKind] = set()
        """Alarm kinds raised and not yet reset by an officer (emergency: until cleared)."""
        self._raised: set[tuple[AlarmKind, str]] = set()
        self.last_step: Step | None = None
        self._note = ""

    # ----------------------------------------------------------------- public

    @staticmethod
    def accepts(state: PassageState, input_type: type) -> bool:
        return input_type in TABLE[state]

    def handle(self, event: Input) -> list[Command]:
        """Feed one input; returns the commands to carry out, in order."""
        before = self.state
        rules = TABLE[self.state]
        current = self.tx.id if self.tx is not None else None
        if isinstance(event, RESULT_TYPES) and self._stale(event.transaction):
            # a late answer: the checks of that traveller ended (decided, aborted, emergency)
            self._record(event, before, [], "stale", "late result of a concluded traveller")
            return []
        rule = rules.get(type(event))
        if rule is None:
            raise LaneProtocolError(
                self.state.value, type(event).__name__, tuple(t.__name__ for t in rules)
            )
        if isinstance(event, RESULT_TYPES) and event.transaction != current:
            raise LaneProtocolError(
                self.state.value,
                f"{type(event).__name__} for unknown transaction {event.transaction!r}",
                tuple(t.__name__ for t in rules),
            )
        self._note = ""
        handler: Callable[[Input], list[Command]] = getattr(self, "_on_" + rule.handler)
        cmds = handler(event)
        cmds += self._safety(event.at)
        self._record(event, before, cmds, rule.handler, self._note)
        return cmds

    def _stale(self, transaction: str) -> bool:
        if self.tx is not None and transaction == self.tx.id:
            return self.tx.concluded is not None
        return transaction in self._finished_ids

    def deadline(self) -> float | None:
        """When the next Tick is due (an ``at`` value), or None when nothing waits on time."""
        times = [t for t in (self._step_deadline,) if t is not None]
        for _direction, expires in self._released.values():
            times.append(expires)
        if self._confined_since is not None:
            times.append(self._confined_since + self.passage.confinement_seconds)
        if self._beam_persons > 1 and self._tailgating_watch():
            times.append(
                self._beam_persons_since + self.passage.tailgating.beam_persistence_seconds
            )
        return min(times) if times else None

    @property
    def transaction(self) -> str | None:
        """The id of the traveller being served (until they are out of the lane)."""
        return self.tx.id if self.tx is not None else None

    @property
    def decision(self) -> PolicyDecision | None:
        return self.tx.decision if self.tx is not None else None

    @property
    def occupied(self) -> bool:
        """Someone is inside the mantrap (beams) or a traveller went in and has not left."""
        return any(self._beams[1:-1]) or (self.tx is not None and self.tx.inside)

    @property
    def released(self) -> dict[Door, PassageDirection]:
        """Passages released and not yet reported back."""
        return {door: d for door, (d, _) in self._released.items()}

    # ----------------------------------------------------------------- helpers

    def _record(
        self, event: Input, before: PassageState, cmds: list[Command], rule: str, note: str
    ) -> None:
        self.last_step = Step(event, before, self.state, tuple(cmds), rule, note)

    def _goto(self, state: PassageState, reason: str = "") -> list[Command]:
        previous, self.state = self.state, state
        old, new = lane_state_of(previous), lane_state_of(state)
        if old != new:
            return [LaneStateChanged(previous=old, state=new, reason=reason)]
        return []

    def _release(
        self, door: Door, direction: PassageDirection, timeout: float, at: float
    ) -> Command:
        self._released[door] = (direction, at + timeout + REPORT_GRACE_SECONDS)
        return ReleasePassage(door=door, direction=direction, timeout_seconds=timeout)

    def _cancel(self) -> list[Command]:
        if not self._released:
            return []
        self._released.clear()
        return [CancelPassage()]

    def _evidence(self, **changes: object) -> None:
        assert self.tx is not None
        self.tx.evidence = replace(self.tx.evidence, **changes)  # type: ignore[arg-type]

    def _mode_for_rest(self) -> GateMode:
        return GateMode.OUT_OF_SERVICE if self.blockers else GateMode.NORMAL

    # ----------------------------------------------------------------- starting a traveller

    def _start(self, placed: DocumentPlaced, at: float) -> list[Command]:
        transaction, day = placed.transaction, placed.date
        direction = placed.direction or self.direction
        self.tx = _Transaction(
            id=transaction, day=day, evidence=Evidence(today=day, direction=direction)
        )
        self.tx.stage(Stage.DOCUMENT_PLACED, at)
        self._waiting_document = None
        self._step_deadline = at + self.passage.mrz_seconds
        self._camera_streak = 0
        self._note = f"traveller {transaction} placed a document"
        return [
            *self._goto(S.READING_MRZ, "traveller"),
            ReadDocument(transaction=transaction),
            ShowScreen(screen=Screen.READING),
        ]

    def _on_document_placed(self, ev: Input) -> list[Command]:
        assert isinstance(ev, DocumentPlaced)
        self.document_present = True
        if self.state is S.IDLE:
            return self._start(ev, ev.at)
        self._waiting_document = ev
        self._note = "document placed while the lane is not idle: it waits"
        return []

    def _on_document_removed(self, ev: Input) -> list[Command]:
        self._waiting_document = None
        self.document_present = False
        if self.state in _ENDINGS and self.tx is not None and not self.tx.inside:
            self._note = "the traveller took the document"
            return self._finish(ev.at)
        if self.state in (S.READING_MRZ, S.READING_CHIP):
            code = "CHIP_REMOVED" if self.state is S.READING_CHIP else "PASSAGE_DOCUMENT_REMOVED"
            return self._conclude(Decision.ABORTED, ev.at, lane_reasons=(code,))
        if self.state is S.IDLE:
            return [ShowScreen(screen=Screen.WELCOME)]
        return []

    # ----------------------------------------------------------------- results

    def _on_mrz_read(self, ev: Input) -> list[Command]:
        assert isinstance(ev, MrzRead) and self.tx is not None
        self._evidence(document=ev.document, mrz_reasons=ev.reasons)
        self.tx.stage(Stage.MRZ_READ, ev.at)
        if ev.document is None:
            return self._evaluate(ev.at)
        tx = self.tx.id
        cmds: list[Command] = [ReadChip(transaction=tx), ScreenTraveller(transaction=tx)]
        if self.passage.flow == "one-step":
            cmds.append(self._start_face(ev.at))
            cmds.append(ShowScreen(screen=Screen.LOOK_AT_CAMERA))
        cmds += self._goto(S.READING_CHIP)
        self._step_deadline = ev.at + self.passage.chip_seconds
        return cmds + self._evaluate(ev.at)

    def _start_face(self, at: float) -> Command:
        assert self.tx is not None
        self.tx.face_started = True
        self._camera_streak = 0
        return StartFaceCapture(transaction=self.tx.id, liveness=self.policy.require_liveness)

    def _on_chip_read(self, ev: Input) -> list[Command]:
        assert isinstance(ev, ChipRead) and self.tx is not None
        self._evidence(chip_ok=ev.ok, chip_reasons=ev.reasons)
        cmds: list[Command] = []
        if ev.ok:
            self.tx.stage(Stage.CHIP_READ, ev.at)
            cmds.append(VerifyDocument(transaction=self.tx.id))
            cmds += self._goto(S.ELIGIBILITY)
            self._step_deadline = ev.at + self.passage.eligibility_seconds
        return cmds + self._evaluate(ev.at)

    def _on_document_verified(self, ev: Input) -> list[Command]:
        assert isinstance(ev, DocumentVerified) and self.tx is not None
        self._evidence(authenticity=ev.reasons, crl=ev.crl)
        self.tx.stage(Stage.DOCUMENT_VERIFIED, ev.at)
        return self._evaluate(ev.at)

    def _on_screened(self, ev: Input) -> list[Command]:
        assert isinstance(ev, Screened) and self.tx is not None
        self._evidence(screening=ev.result)
        self.tx.stage(Stage.ELIGIBILITY_CHECKED, ev.at)
        return self._evaluate(ev.at)

    def _face_wanted(self) -> bool:
        if self.tx is None or self.tx.concluded is not None or not self.tx.face_started:
            return False
        return self.state is S.FACE or self.passage.flow == "one-step"

    def _on_face_verified(self, ev: Input) -> list[Command]:
        assert isinstance(ev, FaceVerified) and self.tx is not None
        if not self._face_wanted():
            self._note = "face result outside face capture: ignored"
            return []
        self._evidence(
            face=FaceEvidence(outcome=ev.outcome, similarity=ev.similarity, threshold=ev.threshold)
        )
        self.tx.scores.update(
            face_similarity=ev.similarity, face_threshold=ev.threshold, live_face_quality=ev.quality
        )
        self.tx.stage(Stage.FACE_CAPTURED, ev.at)
        self.tx.stage(Stage.FACE_MATCHED, ev.at)
        return self._evaluate(ev.at)

    def _on_liveness_checked(self, ev: Input) -> list[Command]:
        assert isinstance(ev, LivenessChecked) and self.tx is not None
        if not self._face_wanted():
            self._note = "liveness result outside face capture: ignored"
            return []
        self._evidence(liveness=ev.passed)
        self.tx.scores["liveness"] = ev.score
        return self._evaluate(ev.at)

    # ----------------------------------------------------------------- deciding

    def _evaluate(self, at: float) -> list[Command]:
        tx = self.tx
        if tx is None or tx.concluded is not None:
            return []
        d = decide(tx.evidence, self.policy)
        tx.decision = d
        if d.decision in (Decision.REJECTED, Decision.REFERRED):
            return self._conclude(d.decision, at)
        if d.decision is Decision.ACCEPTED:
            # two persons on the beams for longer than the persistence (counted before the
            # watch began, with no beam change since) must not get an exit released
            tailgating = self._check_beam_tailgating(at)
            return tailgating or self._accept(at)
        if d.document_stage_passed and self.state in (S.READING_CHIP, S.ELIGIBILITY):
            if self.passage.flow == "two-step":
                tx.stage(Stage.ENTRY_OPENED, at)
                self._step_deadline = at + self.passage.entry_seconds + REPORT_GRACE_SECONDS
                self._note = "document stage passed: entry released"
                return [
                    *self._goto(S.ENTERING),
                    self._release(Door.ENTRY, PassageDirection.IN, self.passage.entry_seconds, at),
                    ShowScreen(screen=Screen.ENTER),
                ]
            self._step_deadline = at + self.passage.face_seconds
            self._note = "document stage passed: waiting for the face"
            return self._goto(S.FACE)
        return []

    def _accept(self, at: float) -> list[Command]:
        tx = self.tx
        assert tx is not None
        tx.concluded = Decision.ACCEPTED
        tx.stage(Stage.DECIDED, at)
        tx.stage(Stage.EXIT_OPENED, at)
        self._step_deadline = at + self.passage.exit_seconds + REPORT_GRACE_SECONDS
        self._note = "accepted: exit released"
        cmds: list[Command] = []
        if tx.face_started:
            cmds.append(StopFaceCapture(transaction=tx.id))
        return [
            *cmds,
            *self._goto(S.EXITING),
            self._release(Door.EXIT, PassageDirection.IN, self.passage.exit_seconds, at),
            ShowScreen(screen=Screen.PROCEED),
        ]

    def _conclude(
        self,
        decision: Decision,
        at: float,
        *,
        lane_reasons: tuple[str, ...] = (),
        force_release: bool = False,
    ) -> list[Command]:
        """End the current traveller's checks with ``decision`` (not accepted)."""
        tx = self.tx
        assert tx is not None and tx.concluded is None
        tx.concluded = decision
        tx.lane_reasons += lane_reasons
        tx.stage(Stage.DECIDED, at)
        d = tx.decision or decide(tx.evidence, self.policy)
        tx.decision = d
        cmds: list[Command] = []
        if tx.face_started:
            cmds.append(StopFaceCapture(transaction=tx.id))
        cmds += self._cancel()
        reasons = tuple(dict.fromkeys((*lane_reasons, *d.reasons)))
        if decision is Decision.ABORTED:
            reasons = tuple(dict.fromkeys(lane_reasons)) or ("PASSAGE_ABORTED",)
        if decision in (Decision.REFERRED, Decision.REJECTED):
            cmds.append(ShowScreen(screen=Screen.SEE_OFFICER))
            cmds.append(RequestOfficer(transaction=tx.id, reasons=reasons, discreet=d.discreet))
            if d.discreet:
                cmds += self._alarm(AlarmKind.WATCHLIST_HIT, "")
            tx.officer_called = True
        cmds.append(
            TransactionFinished(
                transaction=tx.id,
                decision=decision,
                reasons=reasons,
                stages=tuple(tx.stages),
                scores=dict(tx.scores),
                send_portraits=decision is Decision.REFERRED,
            )
        )
        self._note = f"{decision.value}: {', '.join(reasons)}"
        ending = {
            Decision.REFERRED: S.REFERRED,
            Decision.REJECTED: S.REJECTED,
            Decision.ABORTED: S.ABORTED,
        }[decision]
        if not tx.inside:
            if decision is Decision.ABORTED:
                cmds.append(ShowScreen(screen=Screen.TRY_AGAIN))
            if not self.document_present or force_release:
                return cmds + self._finish(at)
            # the traveller stands at the reader: wait until the document is taken
            self._step_deadline = at + self.passage.leave_seconds
            return [*cmds, *self._goto(ending), ShowScreen(screen=Screen.TAKE_DOCUMENT)]
        cmds += self._goto(ending)
        hold = (
            decision is not Decision.ABORTED
            and self.passage.on_referral == "hold_for_officer"
            and not force_release
        )
        if hold:
            tx.holding = True
            self._step_deadline = at + self.passage.officer_wait_seconds
            return [*cmds, ShowScreen(screen=Screen.PLEASE_WAIT)]
        return [*cmds, *self._send_back(at)]

    def _send_back(self, at: float) -> list[Command]:
        if self.tx is not None:
            self.tx.holding = False
        self._step_deadline = at + self.passage.leave_seconds + REPORT_GRACE_SECONDS
        return [
            self._release(Door.ENTRY, PassageDirection.OUT, self.passage.leave_seconds, at),
            ShowScreen(screen=Screen.WALK_BACK),
        ]

    def _finish(self, at: float) -> list[Command]:
        """The traveller is out of the lane: serve the next one (or go out of service)."""
        if self.tx is not None:
            done = self.tx.id
            self._finished_ids.append(done)
            self._raised = {key for key in self._raised if key[1] != done}
        self.tx = None
        self._step_deadline = None
        self._camera_streak = 0
        if self.blockers:
            reason = "; ".join(self.blockers.values())
            return [
                *self._goto(S.OUT_OF_SERVICE, reason),
                SetGateMode(mode=GateMode.OUT_OF_SERVICE),
                ShowScreen(screen=Screen.OUT_OF_SERVICE),
            ]
        cmds = self._goto(S.IDLE, "ready")
        if self._waiting_document is not None:
            return cmds + self._start(self._waiting_document, at)
        return [*cmds, ShowScreen(screen=Screen.WELCOME)]

    # ----------------------------------------------------------------- the passage

    def _on_passage_completed(self, ev: Input) -> list[Command]:
        assert isinstance(ev, PassageCompleted)
        self._released.pop(ev.door, None)
        tx = self.tx
        if tx is None:
            self._note = "passage outside a transaction (officer release)"
            return []
        if self.state is S.ENTERING and ev.door is Door.ENTRY:
            if ev.direction is PassageDirection.OUT:
                return self._conclude(
                    Decision.ABORTED, ev.at, lane_reasons=("PASSAGE_WALKED_BACK",)
                )
            tx.inside = True
            if ev.persons > 1:
                return self._tailgating(ev.persons, ev.at, "controller counted at the entry")
            self._step_deadline = ev.at + self.passage.face_seconds
            self._note = "traveller inside: face capture"
            return [
                *self._goto(S.FACE),
                self._start_face(ev.at),
                ShowScreen(screen=Screen.LOOK_AT_CAMERA),
            ]
        if self.state is S.EXITING and ev.door is Door.EXIT:
            tx.stage(Stage.PASSAGE_COMPLETED, ev.at)
            d = tx.decision
            reasons = d.reasons if d is not None else ("POLICY_ACCEPTED",)
            cmds: list[Command] = []
            if ev.persons > 1:
                reasons = (*reasons, "PASSAGE_TAILGATING")
                cmds += self._alarm(AlarmKind.TAILGATING, f"{ev.persons} persons through the exit")
                cmds.append(RequestOfficer(transaction=tx.id, reasons=("PASSAGE_TAILGATING",)))
            cmds.append(
                TransactionFinished(
                    transaction=tx.id,
                    decision=Decision.ACCEPTED,
                    reasons=tuple(dict.fromkeys((*reasons, *tx.lane_reasons))),
                    stages=tuple(tx.stages),
                    scores=dict(tx.scores),
                    keep_live_portrait=d.keep_live_portrait if d is not None else False,
                )
            )
            self._note = "accepted traveller passed the exit"
            return cmds + self._finish(ev.at)
        if self.state in (*_ENDINGS, S.FAULT) and (
            (ev.door is Door.ENTRY and ev.direction is PassageDirection.OUT)
            or (ev.door is Door.EXIT and ev.direction is PassageDirection.IN)
        ):
            self._note = "traveller left the lane"
            return self._finish(ev.at)
        self._note = "passage report not expected here: ignored"
        return []

    def _on_passage_aborted(self, ev: Input) -> list[Command]:
        assert isinstance(ev, PassageAborted)
        if ev.door not in self._released:
            self._note = "abort of a passage that was not released: ignored"
            return []
        direction, _ = self._released.pop(ev.door)
        if self.state is S.ENTERING and ev.door is Door.ENTRY:
            code = {
                "timeout": "PASSAGE_TIMEOUT_ENTRY",
                "turned_back": "PASSAGE_WALKED_BACK",
            }.get(ev.reason, "PASSAGE_ABORTED")
            return self._conclude(Decision.ABORTED, ev.at, lane_reasons=(code,))
        if self.state is S.EXITING and ev.door is Door.EXIT:
            return self._again(Door.EXIT, direction, "PASSAGE_TIMEOUT_EXIT", ev.at)
        if self.state in (*_ENDINGS, S.FAULT):
            return self._again(ev.door, direction, "PASSAGE_TIMEOUT_LEAVE", ev.at)
        return []

    def _again(
        self, door: Door, direction: PassageDirection, code: str, at: float
    ) -> list[Command]:
        """A traveller did not take a released passage: release it again and call an officer.
        An exit is not released again while the beams have shown two persons for longer than
        the persistence: they are sent back out through the entry instead (tailgating)."""
        cfg = self.passage.tailgating
        crowded = (
            self._beam_persons > 1
            and at - self._beam_persons_since + 1e-9 >= cfg.beam_persistence_seconds
        )
        if door is Door.EXIT and crowded and self.passage.flow == "two-step":
            door, direction, code = Door.ENTRY, PassageDirection.OUT, "PASSAGE_TAILGATING"
            if self.tx is not None:
                self._evidence(persons=self._beam_persons)
        timeout = self.passage.exit_seconds if door is Door.EXIT else self.passage.leave_seconds
        cmds: list[Command] = [*self._cancel(), self._release(door, direction, timeout, at)]
        self._step_deadline = at + timeout + REPORT_GRACE_SECONDS
        if self.tx is not None:
            if code not in self.tx.lane_reasons:
                self.tx.lane_reasons.append(code)
            if not self.tx.officer_called or self.state is S.EXITING:
                self.tx.officer_called = True
                cmds.append(RequestOfficer(transaction=self.tx.id, reasons=(code,)))
        self._note = f"{code}: passage released again"
        return cmds

    def _alarm(self, kind: AlarmKind, detail: str) -> list[Command]:
        """Raise ``kind`` once per traveller (every incident alarms, even if an earlier one of
        the same kind was not reset yet); without a traveller, every time."""
        if self.tx is not None:
            key = (kind, self.tx.id)
            if key in self._raised:
                return []
            self._raised.add(key)
        self.alarms.add(kind)
        return [RaiseAlarm(kind=kind, transaction=self.tx.id if self.tx else None, detail=detail)]

    # ----------------------------------------------------------------- tailgating

    def _tailgating_watch(self) -> bool:
        tx = self.tx
        if tx is None or tx.concluded is not None:
            return False
        if self.passage.flow == "one-step":
            return self.state in (S.READING_CHIP, S.ELIGIBILITY, S.FACE)
        return self.state in (S.ENTERING, S.FACE) and (tx.inside or self.state is S.ENTERING)

    def _tailgating(self, persons: int, at: float, why: str) -> list[Command]:
        assert self.tx is not None
        self._evidence(persons=persons)
        if self.passage.flow == "two-step" and self.state in (S.ENTERING, S.FACE):
            self.tx.inside = True
        cmds = self._alarm(AlarmKind.TAILGATING, why)
        cmds.append(ShowScreen(screen=Screen.ONE_PERSON))
        self._note = f"tailgating: {why}"
        d = decide(self.tx.evidence, self.policy)
        self.tx.decision = d
        if self.tx.inside or d.decision is not None:
            # inside the mantrap the verdict is known already: refer now
            return cmds + self._conclude(d.decision or Decision.REFERRED, at)
        return cmds

    def _on_beams_changed(self, ev: Input) -> list[Command]:
        assert isinstance(ev, BeamsChanged)
        self._beams = ev.beams
        persons = persons_from_beams(ev.beams, self.passage.tailgating.beams_per_person)
        if persons != self._beam_persons:
            self._beam_persons, self._beam_persons_since = persons, ev.at
        return []

    def _on_persons_seen(self, ev: Input) -> list[Command]:
        assert isinstance(ev, PersonsSeen)
        if not self._tailgating_watch() or not self.passage.tailgating.camera:
            self._camera_streak = 0
            return []
        cfg = self.passage.tailgating
        x0, y0, x1, y1 = cfg.camera_region
        counted = 0
        for face in ev.faces:
            cx, cy = face.centre
            if x0 <= cx <= x1 and y0 <= cy <= y1 and face.height >= cfg.camera_min_face_height:
                counted += 1
        self._camera_streak = self._camera_streak + 1 if counted > 1 else 0
        if self._camera_streak >= cfg.camera_frames:
            return self._tailgating(
                counted, ev.at, f"camera: {counted} faces in {self._camera_streak} frames"
            )
        return []

    def _check_beam_tailgating(self, at: float) -> list[Command]:
        if self._beam_persons < 2 or not self._tailgating_watch():
            return []
        held = at - self._beam_persons_since
        if held + 1e-9 < self.passage.tailgating.beam_persistence_seconds:
            return []
        return self._tailgating(self._beam_persons, at, f"beams: {self._beam_persons} persons")

    # ----------------------------------------------------------------- doors, time, safety

    def _on_door_changed(self, ev: Input) -> list[Command]:
        assert isinstance(ev, DoorChanged)
        self.doors[ev.door] = ev.position
        return []

    def _on_tick(self, ev: Input) -> list[Command]:
        at = ev.at
        for door, (_direction, expires) in list(self._released.items()):
            if at >= expires:
                del self._released[door]  # the report was lost: the controller ended it
        if self._step_deadline is None or at < self._step_deadline:
            return []
        self._step_deadline = None
        state, tx = self.state, self.tx
        if tx is None:
            return []
        if state is S.READING_MRZ:
            return self._conclude(Decision.ABORTED, at, lane_reasons=("PASSAGE_TIMEOUT_MRZ",))
        if state is S.READING_CHIP:
            return self._timeout_refer("PASSAGE_TIMEOUT_CHIP", at)
        if state is S.ELIGIBILITY:
            return self._timeout_refer("PASSAGE_TIMEOUT_ELIGIBILITY", at)
        if state is S.ENTERING:
            return self._conclude(Decision.ABORTED, at, lane_reasons=("PASSAGE_TIMEOUT_ENTRY",))
        if state is S.FACE:
            return self._timeout_refer("PASSAGE_TIMEOUT_FACE", at)
        if state is S.EXITING:
            return self._again(Door.EXIT, PassageDirection.IN, "PASSAGE_TIMEOUT_EXIT", at)
        if state in _ENDINGS and not tx.inside:
            self._note = "document left on the reader: lane ready again"
            return self._finish(at)
        if state in _ENDINGS or state is S.FAULT:
            if tx.holding:
                tx.lane_reasons.append("PASSAGE_TIMEOUT_OFFICER")
                self._note = "no officer decision in time: way back released"
                return self._send_back(at)
            return self._again(Door.ENTRY, PassageDirection.OUT, "PASSAGE_TIMEOUT_LEAVE", at)
        return []

    def _timeout_refer(self, code: str, at: float) -> list[Command]:
        assert self.tx is not None
        d = decide(self.tx.evidence, self.policy)
        self.tx.decision = d
        decision = Decision.REJECTED if d.decision is Decision.REJECTED else Decision.REFERRED
        return self._conclude(decision, at, lane_reasons=(code,))

    def _safety(self, at: float) -> list[Command]:
        """Runs after every input: tailgating by beams, and the confinement backstop."""
        cmds = self._check_beam_tailgating(at)
        if self.passage.flow != "two-step" or self.state is S.EMERGENCY:
            self._confined_since = None
            return cmds
        if not self.occupied or self._released:
            self._confined_since = None
            return cmds
        if self._confined_since is None:
            self._confined_since = at
        if at - self._confined_since < self.passage.confinement_seconds:
            return cmds
        # nobody stays shut in: release the way back, whatever the state
        self._confined_since = None
        cmds += self._alarm(AlarmKind.PERSON_TRAPPED, "closed in beyond confinement_seconds")
        tx = self.tx
        if tx is not None and tx.concluded is None:
            tx.inside = True
            return cmds + self._conclude(
                Decision.REFERRED, at, lane_reasons=("PASSAGE_CONFINED",), force_release=True
            )
        cmds.append(
            RequestOfficer(transaction=tx.id if tx else None, reasons=("PASSAGE_CONFINED",))
        )
        if tx is not None:
            tx.holding = False
        cmds.append(self._release(Door.ENTRY, PassageDirection.OUT, self.passage.leave_seconds, at))
        return cmds

    # ----------------------------------------------------------------- faults and service

    def _on_started(self, ev: Input) -> list[Command]:
        self.blockers.pop("starting", None)
        if self.blockers:
            self._note = "started, still out of service: " + "; ".join(self.blockers.values())
            return [
                SetGateMode(mode=GateMode.OUT_OF_SERVICE),
                ShowScreen(screen=Screen.OUT_OF_SERVICE),
            ]
        return [SetGateMode(mode=GateMode.NORMAL), *self._finish(ev.at)]

    def _on_device_fault(self, ev: Input) -> list[Command]:
        assert isinstance(ev, DeviceFault)
        if ev.device in NON_BLOCKING_DEVICES:
            return []
        self.blockers[f"device:{ev.device.value}"] = f"{ev.device.value}: {ev.code}"
        return self._stop_serving(ev.at, ("LANE_DEVICE_FAULT", ev.code), fault=True)

    def _stop_serving(self, at: float, codes: tuple[str, ...], *, fault: bool) -> list[Command]:
        state, tx = self.state, self.tx
        if state is S.IDLE:
            return self._finish(at)
        if tx is not None and tx.concluded is None:
            inside = tx.inside
            cmds = self._conclude(Decision.ABORTED, at, lane_reasons=codes, force_release=True)
            if inside and fault:
                cmds += self._goto(S.FAULT, "device fault")
            return cmds
        return []  # the traveller finishes (exit or way back), then the lane is out of service

    def _on_device_recovered(self, ev: Input) -> list[Command]:
        assert isinstance(ev, DeviceRecovered)
        self.blockers.pop(f"device:{ev.device.value}", None)
        if self.state is S.OUT_OF_SERVICE and not self.blockers:
            return [SetGateMode(mode=GateMode.NORMAL), *self._finish(ev.at)]
        return []

    def _on_safe_stop(self, ev: Input) -> list[Command]:
        assert isinstance(ev, SafeStop)
        self.blockers["stopped"] = ev.reason or "stopped"
        return self._stop_serving(ev.at, ("LANE_STOPPED",), fault=False)

    def _on_central_link(self, ev: Input) -> list[Command]:
        assert isinstance(ev, CentralLinkChanged)
        self.central_up = ev.up
        return []

    # ----------------------------------------------------------------- emergency

    def _on_emergency_input(self, ev: Input) -> list[Command]:
        assert isinstance(ev, EmergencyInput)
        self.emergency_input = ev.active
        if ev.active:
            return self._emergency(ev.at, "fire alarm input")
        self._note = "fire alarm input cleared: an officer must clear the emergency"
        return []

    def _emergency(self, at: float, why: str) -> list[Command]:
        if self.state is S.EMERGENCY:
            return []
        cmds: list[Command] = []
        tx = self.tx
        if tx is not None:
            if tx.concluded is None:
                tx.concluded = Decision.ABORTED
                if tx.face_started:
                    cmds.append(StopFaceCapture(transaction=tx.id))
                cmds.append(
                    TransactionFinished(
                        transaction=tx.id,
                        decision=Decision.ABORTED,
                        reasons=("LANE_EMERGENCY",),
                        stages=tuple(tx.stages),
                        scores=dict(tx.scores),
                    )
                )
            self._finished_ids.append(tx.id)
        self.tx = None
        self._step_deadline = None
        self._released.clear()
        self._waiting_document = None
        self.alarms.add(AlarmKind.EMERGENCY)
        self._note = f"emergency: {why}"
        return [
            *cmds,
            *self._goto(S.EMERGENCY, why),
            SetGateMode(mode=GateMode.EMERGENCY_OPEN),
            ShowScreen(screen=Screen.EMERGENCY),
            RaiseAlarm(kind=AlarmKind.EMERGENCY, detail=why),
        ]

    # ----------------------------------------------------------------- officers

    def _on_officer_command(self, ev: Input) -> list[Command]:
        assert isinstance(ev, OfficerCommand)
        a = ev.action
        cmds: list[Command] = []

        def ack(result: str, detail: str = "") -> list[Command]:
            self._note = f"officer {a.value}: {result} {detail}".strip()
            return [
                *cmds,
                AckOfficerCommand(command_id=ev.command_id, result=result, detail=detail),
            ]

        if a is CommandAction.EMERGENCY_OPEN:
            cmds = self._emergency(ev.at, "officer")
            return ack("done")
        if a is CommandAction.EMERGENCY_CLEAR:
            if self.state is not S.EMERGENCY:
                return ack("refused", "the lane is not in emergency")
            if self.emergency_input:
                return ack("refused", "the fire-alarm input is still active")
            self.alarms.discard(AlarmKind.EMERGENCY)
            cmds = [ClearAlarm(kind=AlarmKind.EMERGENCY), SetGateMode(mode=self._mode_for_rest())]
            cmds += self._finish(ev.at)
            return ack("done")
        if a in (CommandAction.OUT_OF_SERVICE, CommandAction.CLOSE_LANE):
            self.blockers["officer"] = f"officer {a.value}"
            if self.state is S.IDLE:
                cmds = self._finish(ev.at)
                return ack("done")
            return ack("done", "after the current traveller" if self.tx is not None else "")
        if a in (CommandAction.IN_SERVICE, CommandAction.OPEN_LANE):
            self.blockers.pop("officer", None)
            self.blockers.pop("stopped", None)
            if self.state is S.OUT_OF_SERVICE:
                if self.blockers:
                    return ack(
                        "refused", "still out of service: " + "; ".join(self.blockers.values())
                    )
                cmds = [SetGateMode(mode=GateMode.NORMAL), *self._finish(ev.at)]
            return ack("done")
        if a is CommandAction.RESET_ALARM:
            for kind in sorted(self.alarms - {AlarmKind.EMERGENCY}):
                self.alarms.discard(kind)
                cmds.append(ClearAlarm(kind=kind))
            return ack("done")
        if self.state is S.EMERGENCY:
            return ack("refused", "emergency: every barrier is open")
        if a is CommandAction.REFERRAL_DECISION:
            choice = ev.args.get("decision", "")
            if self.state not in (S.REFERRED, S.REJECTED) or not (self.tx and self.tx.inside):
                return ack("refused", "no referred traveller inside the lane")
            if choice not in ("let_through", "send_back"):
                return ack("refused", "args.decision must be 'let_through' or 'send_back'")
            a = (
                CommandAction.RELEASE_EXIT
                if choice == "let_through"
                else CommandAction.RELEASE_ENTRY
            )
        if a in (CommandAction.RELEASE_EXIT, CommandAction.RELEASE_ENTRY):
            exit_ = a is CommandAction.RELEASE_EXIT
            code = "PASSAGE_OFFICER_LET_THROUGH" if exit_ else "PASSAGE_OFFICER_SENT_BACK"
            tx = self.tx
            if tx is not None:
                tx.holding = False
                if tx.concluded is None:
                    tx.inside = tx.inside or self.state is S.FACE
                    cmds += self._conclude(
                        Decision.REFERRED, ev.at, lane_reasons=(code,), force_release=True
                    )
                    if not tx.inside:
                        return ack("done")
                    cmds = [c for c in cmds if not isinstance(c, ReleasePassage)]
                    self._released.clear()
                tx.lane_reasons.append(code)
            cmds += self._cancel()
            if exit_:
                cmds.append(
                    self._release(Door.EXIT, PassageDirection.IN, self.passage.exit_seconds, ev.at)
                )
                cmds.append(ShowScreen(screen=Screen.PROCEED))
            else:
                cmds.append(
                    self._release(
                        Door.ENTRY, PassageDirection.OUT, self.passage.leave_seconds, ev.at
                    )
                )
                cmds.append(ShowScreen(screen=Screen.WALK_BACK))
            if self.state in _ENDINGS or self.state is S.FAULT:
                self._step_deadline = ev.at + self.passage.leave_seconds + REPORT_GRACE_SECONDS
            return ack("done")
        return ack("refused", f"unknown action {a.value}")
