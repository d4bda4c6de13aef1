"""Simulated lanes at scale: travellers from a scenario through N lanes, with faults, in
simulated time.

Each lane is the lane core (:class:`gate.lane.Lane`: the state machine, timeouts, tailgating,
faults, and the decision policy :func:`gate.policy.decide`) driven by simulated devices on a
discrete-event timeline in simulated seconds: :class:`SimLane` is the core's I/O shell. The
physical steps (placing the document, the MRZ arriving, the chip link, doors, walking, camera
frames) take the times of the physical model (:mod:`simulator.physical`); everything the lane
*computes* runs for real and its wall time is added where it lies on the traveller's path:

- the MRZ is parsed and repaired by :mod:`gate.mrz`;
- the chip is opened and read through the virtual chip (PACE, secure messaging) with the
  contactless link model counting APDUs and bytes; passive, chip and active authentication run
  against the test PKI's trust store (:func:`gate.emrtd.auth.authenticate.authenticate_document`);
- live frames rendered by the simulated camera go through the face engine (detection,
  embedding, fusion, the chip portrait comparison); liveness is the simulated camera's own
  presentation-attack score (:func:`simulator.travellers.pad_score`).

``fast`` runs the timeline as fast as the computing allows (the simulated clock); without it
every lane waits in real time for its physical steps, so a run takes as long as the day it
simulates. The outcomes are the same either way: they depend on the seed only (simulated time
never depends on the wall clock, except through the measured software time, which only shifts a
passage by milliseconds).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from drivers import chiplink
from gate import events
from gate.config import LaneConfig, PolicyConfig
from gate.daemon.work import document_summary, interpret_mrz
from gate.emrtd.auth.authenticate import authenticate_document
from gate.emrtd.document import Document
from gate.emrtd.errors import ChipError
from gate.emrtd.lds import lds
from gate.emrtd.reader import ChipSession, Reader
from gate.errors import EgateError
from gate.face.liveness import ExternalLiveness, LivenessObservation
from gate.face.pipeline import FaceEngine
from gate.lane import Lane
from gate.lane.commands import (
    CancelPassage,
    ClearAlarm,
    Command,
    LaneStateChanged,
    RaiseAlarm,
    ReadChip,
    ReadDocument,
    ReleasePassage,
    ScreenTraveller,
    StartFaceCapture,
    StopFaceCapture,
    TransactionFinished,
    VerifyDocument,
)
from gate.lane.inputs import (
    CentralLinkChanged,
    ChipRead,
    CommandAction,
    DeviceFault,
    DeviceRecovered,
    DocumentPlaced,
    DocumentRemoved,
    DocumentVerified,
    Door,
    EmergencyInput,
    FaceBox,
    FaceOutcome,
    FaceVerified,
    Input,
    LivenessChecked,
    MrzRead,
    OfficerCommand,
    PassageAborted,
    PassageCompleted,
    PassageDirection,
    PersonsSeen,
    Screened,
    Started,
    Tick,
)
from gate.mrz import BacKey
from gate.policy.model import ScreeningResult
from simulator.chip.card import VirtualChip
from simulator.chip.transport import InProcessTransport
from simulator.physical import PhysicalModel, pad_jpeg
from simulator.report import EventCounts, SimReport, TravellerResult
from simulator.scenarios import Fault, Scenario
from simulator.travellers import (
    DocumentFactory,
    FaceSource,
    Traveller,
    generate,
    jpeg,
    live_frames,
    pad_score,
)
from simulator.uplink import EmbeddedCentral, Uplink

CHIP_FILES = ["EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15"]
LEAVE_SECONDS = 1.0
"""A traveller who is not let in takes the document back and steps away from the reader."""
CHIP_ABSENT_SECONDS = 1.0
"""How long the reader polls for a chip before reporting none."""
REMOVED_AFTER_APDUS = 9
"""A 'removes-document' traveller takes the passport away after this many APDUs."""
OFFICER_SECONDS = 30.0
"""After a fire alarm clears, the simulated officer clears the lane's emergency this much later."""

Log = Callable[[str], None]


class SimError(EgateError):
    """A simulated run cannot start; the message says what to change."""


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class LaneFaults:
    """The fault windows that hit one lane, with the effects the lane model gives them."""

    faults: tuple[Fault, ...]

    def active(self, t: float, device: str, kinds: Sequence[str] = ()) -> Fault | None:
        for f in self.faults:
            here = f.device == device and f.at_seconds <= t < f.end_seconds
            if here and (not kinds or f.kind in kinds):
                return f
        return None

    def out_of_service_until(self, t: float) -> float:
        """A traveller arriving at ``t`` waits while a device the lane cannot serve without is
        disconnected, power-cycling or under a fire alarm (central and network faults only
        delay event delivery)."""
        moved = True
        while moved:
            moved = False
            for f in self.faults:
                blocking = f.kind in ("disconnect", "power-cycle", "fire-alarm")
                lane_device = f.device not in ("central", "network")
                if blocking and lane_device and f.at_seconds <= t < f.end_seconds:
                    t = f.end_seconds
                    moved = True
        return t

    def overlapping(self, start: float, end: float) -> tuple[str, ...]:
        """The lane-device faults whose window overlaps [start, end] ('camera:disconnect@20s').

        Central and network faults are left out: a lane decides the same without central
        (cached lists), so they never excuse a different outcome."""
        return tuple(
            f"{f.device}:{f.kind}@{f.at_seconds:g}s"
            for f in self.faults
            if f.device not in ("central", "network")
            and f.at_seconds <= end
            and f.end_seconds >= start
        )


# --------------------------------------------------------------------------- one lane


@dataclass
class Clock:
    """Simulated seconds since the start of the run; ``fast`` never waits for the wall."""

    fast: bool
    wall_start: float = field(default_factory=time.monotonic)

    async def reach(self, t: float) -> None:
        if self.fast:
            return
        delay = self.wall_start + t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class Visit:
    """One traveller at the lane: what the lane read and computed, for the results."""

    traveller: Traveller
    transaction: str
    arrival: float
    software: float = 0.0
    keys: list[BacKey] = field(default_factory=list)
    reader: Reader | None = None
    transport: InProcessTransport | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    chip_portrait: bytes | None = None
    chip_ready: float | None = None
    """When the chip (and its portrait) had been read."""
    document: events.DocumentSummary | None = None
    verdicts: list[events.Verdict] = field(default_factory=list)
    crossed_entry: float | None = None
    """When the traveller passed the entry door (two-step)."""
    finished: TransactionFinished | None = None
    left: float | None = None
    """When the traveller had left the lane."""


Guard = Callable[[], bool]


class SimLane:
    """One lane: the lane core (:class:`gate.lane.Lane`) fed by simulated devices.

    The simulation is the lane's I/O shell: it carries out each command of the core against the
    simulated world (the traveller, the document, the camera, the doors) and feeds the results
    back as inputs at the simulated time they happen, plus a ``Tick`` whenever the core's
    deadline comes first."""

    def __init__(self, index: int, run: SimRun, faults: LaneFaults) -> None:
        self.index = index
        self.run = run
        self.faults = faults
        self.lane_id = f"sim-{index + 1}"
        self.core = Lane(run.passage, run.policy, direction="arrival")
        self.stamper = events.EventStamper(self.lane_id)
        self.events: list[
            events.TransactionEvent
            | events.AlarmEvent
            | events.DeviceFaultEvent
            | events.LaneStateEvent
        ] = []
        self.queue: list[tuple[float, int, Input, Guard | None]] = []
        self._seq = 0
        self.now = 0.0
        self.visit: Visit | None = None
        self.visits: dict[str, Visit] = {}
        self.door_token = {Door.ENTRY: 0, Door.EXIT: 0}
        self.capturing: str | None = None
        self.results: list[TravellerResult] = []

    # ------------------------------------------------------------------ plumbing

    @property
    def model(self) -> PhysicalModel:
        return self.run.model

    def at(self, t: float) -> datetime:
        return self.run.epoch + timedelta(seconds=t)

    def put(self, item: Input, guard: Guard | None = None) -> None:
        """Feed ``item`` at its time (dropped then if ``guard`` says it no longer holds)."""
        self._seq += 1
        heapq.heappush(self.queue, (item.at, self._seq, item, guard))

    def emit(self, event_cls: type[Any], t: float, **fields: Any) -> None:
        event = event_cls(**self.stamper.stamp(self.at(t)), **fields)
        self.events.append(event)
        self.run.on_event(self, event)

    def feed(self, item: Input) -> None:
        self.now = item.at
        if isinstance(item, DeviceFault | DeviceRecovered):
            self.emit(
                events.DeviceFaultEvent,
                item.at,
                device=item.device,
                code=item.code if isinstance(item, DeviceFault) else FAULT_CODE_OF[item.device],
                recovered=isinstance(item, DeviceRecovered),
                detail="simulated fault",
            )
        for command in self.core.handle(item):
            self.carry_out(command)

    def step(self) -> bool:
        """Process the next input (a Tick when the core's deadline comes first)."""
        deadline = self.core.deadline()
        if self.queue and (deadline is None or self.queue[0][0] <= deadline):
            _, _, item, guard = heapq.heappop(self.queue)
            if guard is None or guard():
                self.feed(item)
            return True
        if deadline is not None:
            self.feed(Tick(at=max(deadline, self.now)))
            return True
        return False

    def compute(self, visit: Visit, began: float) -> float:
        """Software time since ``began`` (perf_counter), charged to the traveller."""
        spent = time.perf_counter() - began
        visit.software += spent
        return spent

    def device_ready(self, t: float, device: str) -> float:
        fault = self.faults.active(t, device, ("disconnect", "power-cycle"))
        return fault.end_seconds if fault is not None else t

    # ------------------------------------------------------------------ faults

    def inject_faults(self) -> None:
        for fault in self.faults.faults:
            start, end = fault.at_seconds, fault.end_seconds
            if fault.device in ("central", "network"):
                self.put(CentralLinkChanged(at=start, up=False))
                self.put(CentralLinkChanged(at=end, up=True))
            elif fault.kind == "fire-alarm":
                self.put(EmergencyInput(at=start, active=True))
                self.put(EmergencyInput(at=end, active=False))
                clear = end + OFFICER_SECONDS
                self.put(
                    OfficerCommand(
                        at=clear,
                        command_id=f"sim-clear-{clear:g}",
                        action=CommandAction.EMERGENCY_CLEAR,
                    )
                )
            elif fault.kind in ("disconnect", "power-cycle"):
                device = DEVICE_OF_FAULT[fault.device]
                code = FAULT_CODE[fault.device]
                self.put(DeviceFault(at=start, device=device, code=code, detail="simulated"))
                self.put(DeviceRecovered(at=end, device=device))

    # ------------------------------------------------------------------ travellers

    def arrive(self, traveller: Traveller, t: float) -> None:
        """The traveller reaches the reader at ``t`` and places the document."""
        transaction = f"{self.lane_id}-t{traveller.index}"
        visit = Visit(traveller, transaction, arrival=t)
        self.visits[transaction] = visit
        slow = traveller.spec.behaviour == "slow"
        placed = t + self.model.place_document_seconds * (self.model.slow_factor if slow else 1)
        self.put(DocumentPlaced(at=placed, transaction=transaction, date=self.run.today))

    def carry_out(self, command: Command) -> None:
        t = self.now
        visit = self.visit
        if isinstance(command, ReadDocument):
            self.visit = visit = self.visits[command.transaction]
            self.read_document(visit, t)
        elif isinstance(command, ReadChip) and visit is not None:
            self.read_chip(visit, t)
        elif isinstance(command, VerifyDocument) and visit is not None:
            self.verify_document(visit, t)
        elif isinstance(command, ScreenTraveller) and visit is not None:
            result = self.screening(visit.traveller)
            tx = visit.transaction
            self.put(Screened(at=t, transaction=tx, result=result))
        elif isinstance(command, StartFaceCapture) and visit is not None:
            self.capturing = visit.transaction
            self.capture_face(visit, t)
        elif isinstance(command, StopFaceCapture):
            self.capturing = None
        elif isinstance(command, ReleasePassage):
            self.release(command, t)
        elif isinstance(command, CancelPassage):
            for door in self.door_token:
                self.door_token[door] += 1
        elif isinstance(command, RaiseAlarm):
            transaction = None
            if command.transaction is not None and command.transaction in self.visits:
                transaction = self.transaction_uuid(self.visits[command.transaction])
            self.emit(
                events.AlarmEvent,
                t,
                alarm=command.kind,
                transaction_id=transaction,
                detail=command.detail,
            )
        elif isinstance(command, ClearAlarm):
            self.emit(events.AlarmEvent, t, alarm=command.kind, active=False, severity="info")
        elif isinstance(command, LaneStateChanged):
            self.emit(
                events.LaneStateEvent,
                t,
                previous=command.previous,
                state=command.state,
                reason=command.reason,
            )
        elif isinstance(command, TransactionFinished):
            self.finished(command, t)
        # ShowScreen, SetGateMode, RequestOfficer, AckOfficerCommand: nothing to simulate
        # (the traveller follows the lane's releases; officers are not simulated except for
        # clearing an emergency after a fire alarm).

    def transaction_uuid(self, visit: Visit) -> uuid.UUID:
        return uuid.UUID(int=random.Random(f"{self.run.seed}-{visit.transaction}").getrandbits(128))

    def screening(self, traveller: Traveller) -> ScreeningResult:
        """The lane's list look-up: the simulation's watch list and manifest hold exactly the
        travellers the scenario puts there."""
        spec = traveller.spec
        return ScreeningResult(
            watchlist_hits=(f"SIM-{traveller.index}",) if spec.watchlist else (),
            on_manifest=spec.on_manifest,
            lists_age_seconds=0.0,
        )

    # ------------------------------------------------------------------ document

    def read_document(self, visit: Visit, t: float) -> None:
        traveller = visit.traveller
        ready = self.device_ready(t, "docreader")
        ready += self.model.mrz_delivery_seconds
        if self.faults.active(ready, "docreader", ("slow",)):
            ready += 2.0
        if self.faults.active(ready, "docreader", ("noise",)):
            ready += self.model.mrz_delivery_seconds  # a garbled frame: the reader sends again
        lines = traveller.document_lines()
        began = time.perf_counter()
        outcome = interpret_mrz(lines, self.run.today)
        document, keys, reasons = outcome.document, outcome.keys, outcome.reasons
        if document is not None:
            visit.document = document_summary(document)
        visit.keys = keys
        spent = self.compute(visit, began)
        visit.verdicts.append(
            events.Verdict(
                check="mrz",
                outcome=(
                    events.CheckOutcome.PASS if document is not None else events.CheckOutcome.REFER
                ),
                reasons=list(reasons),
            )
        )
        done = ready + spent
        tx = visit.transaction
        self.put(MrzRead(at=done, transaction=tx, document=document, reasons=reasons))

    def read_chip(self, visit: Visit, t: float) -> None:
        run, traveller = self.run, visit.traveller
        ready = self.device_ready(t, "chip_reader")
        portrait = pad_jpeg(jpeg(run.faces.portrait(traveller.identity)), self.model.dg2_bytes)
        image = run.documents.build(traveller, portrait)
        tx = visit.transaction
        if image is None:
            done = ready + CHIP_ABSENT_SECONDS
            visit.verdicts.append(
                events.Verdict(
                    check="chip", outcome=events.CheckOutcome.REFER, reasons=["CHIP_NOT_FOUND"]
                )
            )
            self.put(ChipRead(at=done, transaction=tx, ok=False, reasons=("CHIP_NOT_FOUND",)))
            return
        chip = VirtualChip(image)
        removes = traveller.spec.behaviour == "removes-document"
        if removes:
            chip.faults.remove_after_apdus = REMOVED_AFTER_APDUS
        link = self.model.link
        if self.faults.active(ready, "chip_reader", ("slow",)):
            link.latency += 0.02
        transport = InProcessTransport(chip, link)
        session = ChipSession(atr=transport.atr)
        reader = Reader(session)
        began = time.perf_counter()
        reasons: tuple[str, ...] = ("CHIP_OK",)
        try:
            opened = None
            for key in visit.keys:
                try:
                    steps = reader.open(key.mrz_information())
                    opened = chiplink.run(steps, transport, stats=session.stats)
                    break
                except ChipError:
                    if removes and chip.faults.remove_after_apdus is None:
                        raise
                    continue
            if opened is None:
                reasons = ("CHIP_ACCESS_DENIED",)
            else:
                read = chiplink.run(
                    reader.read_document(CHIP_FILES), transport, stats=session.stats
                )
                visit.files = {n: r.data for n, r in read.items()}
                if opened.downgraded:  # PACE offered, BAC used: the policy decides
                    reasons = ("CHIP_OK", "CHIP_PACE_FAILED")
        except ChipError:
            reasons = ("CHIP_READ_FAILED",)
        host = max(0.0, time.perf_counter() - began - transport.chip_cpu_seconds)
        visit.software += host
        done = ready + transport.modelled_seconds + host
        if removes:
            # the traveller takes the passport off the reader in the middle of the read
            gone = ready + transport.modelled_seconds
            self.put(DocumentRemoved(at=gone))
            return
        if reasons[0] != "CHIP_OK":
            visit.verdicts.append(
                events.Verdict(
                    check="chip", outcome=events.CheckOutcome.REFER, reasons=list(reasons)
                )
            )
            self.put(ChipRead(at=done, transaction=tx, ok=False, reasons=reasons))
            return
        visit.reader, visit.transport = reader, transport
        visit.chip_ready = done
        if "DG2" in visit.files:
            try:
                visit.chip_portrait = lds.parse_dg2(visit.files["DG2"]).portrait.image
            except EgateError:
                visit.chip_portrait = None
        if "DG2" in visit.files:
            run.chip_link_seconds.append(transport.modelled_seconds)
        self.put(
            ChipRead(
                at=done, transaction=tx, ok=True, reasons=reasons, has_portrait="DG2" in visit.files
            )
        )

    def verify_document(self, visit: Visit, t: float) -> None:
        run = self.run
        assert visit.reader is not None and visit.transport is not None
        link_before = visit.transport.modelled_seconds
        cpu_before = visit.transport.chip_cpu_seconds
        began = time.perf_counter()
        verdict = chiplink.run(
            authenticate_document(
                visit.reader,
                Document.from_files(visit.files),
                run.documents.store,
                at=run.now,
                mrz=visit.traveller.mrz,
                requested=CHIP_FILES,
            ),
            visit.transport,
            stats=visit.reader.session.stats,
        )
        chip_cpu = visit.transport.chip_cpu_seconds - cpu_before
        host = max(0.0, time.perf_counter() - began - chip_cpu)
        visit.software += host
        link = visit.transport.modelled_seconds - link_before
        codes = tuple(dict.fromkeys(verdict.codes))
        visit.verdicts.append(
            events.Verdict(
                check="document",
                outcome=events.CheckOutcome(verdict.check_outcome),
                reasons=list(codes),
            )
        )
        done = t + link + host
        tx = visit.transaction
        self.put(DocumentVerified(at=done, transaction=tx, reasons=codes, crl="current"))

    # ------------------------------------------------------------------ face

    def capture_face(self, visit: Visit, t: float) -> None:
        """Frames of the traveller at the camera, analysed as they arrive; PersonsSeen for
        every frame, then FaceVerified and LivenessChecked."""
        run, model, traveller = self.run, self.model, visit.traveller
        if self.run.passage.flow == "one-step":
            faces_at = t  # the traveller stands at the reader, facing the camera
        else:
            entered = visit.crossed_entry if visit.crossed_entry is not None else t
            faces_at = max(t, entered + model.face_after_entry_seconds)
        if traveller.spec.behaviour == "looks-away":
            faces_at += model.looks_away_seconds
        faces_at = self.device_ready(faces_at, "camera")
        fps = model.camera_fps / (3.0 if self.faults.active(faces_at, "camera", ("slow",)) else 1)
        began = time.perf_counter()
        portrait = (
            run.engine.observe_portrait(visit.chip_portrait)
            if visit.chip_portrait is not None
            else None
        )
        portrait_spent = self.compute(visit, began)
        # the portrait is embedded as soon as the chip was read, while the traveller walks to
        # the camera (two-step) or while the frames come in (one-step)
        done = max(faces_at, (visit.chip_ready or t) + portrait_spent)
        samples = []
        observations: list[LivenessObservation] = []
        tx = visit.transaction
        height, width = run.lane_config.camera.height, run.lane_config.camera.width
        frames = live_frames(traveller, run.faces, model.face_frames * 2, fps=fps)
        for i, frame in enumerate(frames):
            arrives = faces_at + (i + 1) / fps
            began = time.perf_counter()
            observation, sample = run.engine.sample(frame, i)
            spent = self.compute(visit, began)
            done = max(done, arrives) + spent
            boxes = tuple(
                FaceBox(
                    x=d.box[0] / width,
                    y=d.box[1] / height,
                    width=d.box[2] / width,
                    height=d.box[3] / height,
                )
                for d in observation.faces
            )
            self.put(PersonsSeen(at=done, faces=boxes))
            if sample is not None and observation.primary is not None:
                samples.append(sample)
                observations.append(LivenessObservation(observation.primary.landmarks, arrives))
            if len(samples) >= model.face_frames:
                break
        began = time.perf_counter()
        similarity: float | None = None
        threshold: float | None = run.engine.threshold
        if portrait is None or portrait.embedding is None:
            outcome: FaceOutcome = "no_chip_portrait"
        elif not samples:
            # like the lane daemon (gate.daemon.work.capture_face): no face yet is no verdict;
            # the lane's face timeout decides
            self.compute(visit, began)
            return
        else:
            match = run.engine.verify(portrait, samples, k=run.lane_config.face.frames_to_fuse)
            outcome = "match" if match.match else "no_match"
            similarity, threshold = match.similarity, match.threshold
        pad = ExternalLiveness()
        pad.set_score(pad_score(traveller))
        liveness = pad.evaluate(observations)
        done += self.compute(visit, began)
        self.put(
            FaceVerified(
                at=done, transaction=tx, outcome=outcome, similarity=similarity, threshold=threshold
            )
        )
        self.put(
            LivenessChecked(at=done, transaction=tx, passed=liveness.live, score=liveness.score)
        )

    # ------------------------------------------------------------------ doors and walking

    def release(self, command: ReleasePassage, t: float) -> None:
        """The controller opens the door; the traveller walks through (or turns back)."""
        model, visit = self.model, self.visit
        door, direction = command.door, command.direction
        self.door_token[door] += 1
        token = self.door_token[door]
        opened = self.device_ready(t, "gatectl") + model.door_open_seconds
        if self.faults.active(opened, "gatectl", ("noise",)):
            opened += 0.05  # a retransmitted command frame
        if self.faults.active(opened, "gatectl", ("slow",)):
            opened += 0.3
        if visit is None:
            return
        spec = visit.traveller.spec
        slow = spec.behaviour == "slow"
        half_body = model.geometry.body_depth / 2

        def report(at: float, item: Input) -> None:
            self.put(item, lambda: self.door_token[door] == token)

        if direction is PassageDirection.IN and visit.crossed_entry is None:
            # the traveller takes the passport off the reader and steps through
            self.put(DocumentRemoved(at=opened))
        if door is Door.ENTRY and direction is PassageDirection.IN:
            if spec.behaviour == "walks-back":
                back = opened + 2 * model.walk_seconds(model.reader_to_entry * 0.8, slow)
                report(back, PassageAborted(at=back, door=door, reason="turned_back"))
                visit.left = back
                return
            crossed = opened + model.walk_seconds(model.reader_to_entry, slow)
            visit.crossed_entry = crossed
            through = crossed + model.walk_seconds(half_body, slow)
            persons = 2 if spec.tailgater else 1
            report(
                through,
                PassageCompleted(at=through, door=door, direction=direction, persons=persons),
            )
        elif door is Door.EXIT and direction is PassageDirection.IN:
            one_step = self.run.passage.flow == "one-step"
            distance = model.reader_to_clear if one_step else model.camera_to_clear
            cleared = opened + model.walk_seconds(distance, slow)
            visit.left = cleared
            report(
                cleared,
                PassageCompleted(
                    at=cleared, door=door, direction=direction, persons=2 if spec.tailgater else 1
                ),
            )
        else:  # back out through the entry (with a tailgater, both walk back)
            out = opened + model.walk_seconds(model.camera_to_reader, slow)
            visit.left = out
            report(
                out,
                PassageCompleted(
                    at=out, door=door, direction=direction, persons=2 if spec.tailgater else 1
                ),
            )

    # ------------------------------------------------------------------ results

    def finished(self, command: TransactionFinished, t: float) -> None:
        visit = self.visits.get(command.transaction)
        if visit is None or visit.finished is not None:
            return
        visit.finished = command
        scores = events.Scores(
            face_similarity=command.scores.get("face_similarity"),
            face_threshold=command.scores.get("face_threshold"),
            liveness=command.scores.get("liveness"),
            live_face_quality=command.scores.get("live_face_quality"),
        )
        self.emit(
            events.TransactionEvent,
            t,
            transaction_id=self.transaction_uuid(visit),
            decision=command.decision,
            reasons=list(command.reasons),
            stages=[
                events.StageTime(stage=events.Stage(s), at=self.at(a)) for s, a in command.stages
            ],
            document=visit.document,
            verdicts=visit.verdicts,
            scores=scores,
        )
        inside = (
            visit.crossed_entry is not None and command.decision is not events.Decision.ACCEPTED
        )
        # the traveller leaves: through the exit, back out through the entry, or away from the
        # reader; the next one steps up once this one has gone
        if command.decision is events.Decision.ACCEPTED:
            left = t
        elif visit.left is not None and visit.left >= t:
            left = visit.left
        elif inside:
            left = (
                t
                + self.model.door_open_seconds
                + self.model.walk_seconds(self.model.camera_to_reader)
            )
        else:
            left = t + LEAVE_SECONDS
            # decided at the reader: the traveller takes the passport back and steps away
            self.put(DocumentRemoved(at=left))
        visit.left = left
        traveller = visit.traveller
        self.results.append(
            TravellerResult(
                index=traveller.index,
                lane=self.index,
                group=traveller.group,
                label=traveller.label,
                expect=traveller.spec.expect,
                expect_reasons=tuple(traveller.spec.expect_reasons),
                decision=command.decision.value,
                reasons=command.reasons,
                started=visit.arrival,
                ended=left,
                software_seconds=visit.software,
                faults=self.faults.overlapping(visit.arrival, left),
            )
        )
        self.run.traveller_done(self.results[-1])
        self.on_left(left)

    def on_left(self, t: float) -> None:
        """The traveller has left the lane at ``t`` (the run sends the next one)."""


# --------------------------------------------------------------------------- the run


DEVICE_OF_FAULT = {
    "camera": events.Device.CAMERA,
    "gatectl": events.Device.GATE_CONTROLLER,
    "docreader": events.Device.DOCUMENT_READER,
    "chip_reader": events.Device.CHIP_READER,
    "central": events.Device.CENTRAL_LINK,
    "network": events.Device.CENTRAL_LINK,
}
FAULT_CODE: dict[str, str] = {
    "camera": "CAMERA_NO_FRAMES",
    "gatectl": "GATECTL_NO_ANSWER",
    "docreader": "DOCREADER_NO_ANSWER",
    "chip_reader": "PCSC_READER_MISSING",
    "central": "CENTRAL_UNREACHABLE",
    "network": "CENTRAL_UNREACHABLE",
}


def sim_policy(scenario: Scenario) -> PolicyConfig:
    """The lanes' policy in a simulation: the defaults, with the simulator's specimen state
    (UTO) allowed and passenger manifests checked on arrival (the simulation holds one)."""
    return PolicyConfig().model_copy(
        update={"refuse_specimen": False, "apis_directions": ["arrival"]}
    )


class SimRun:
    def __init__(
        self,
        scenario: Scenario,
        *,
        lanes: int,
        travellers: int,
        seed: int,
        fast: bool,
        lane_config: LaneConfig,
        faces: FaceSource,
        engine: FaceEngine,
        model: PhysicalModel | None = None,
        now: datetime | None = None,
        log: Log | None = None,
        progress: Log | None = None,
        central: EmbeddedCentral | None = None,
        epoch: datetime | None = None,
    ) -> None:
        if lanes < 1:
            raise SimError(f"--lanes must be at least 1, got {lanes}")
        for fault in scenario.faults:
            if fault.lanes != "all" and any(i >= lanes for i in fault.lanes):
                raise SimError(
                    f"scenario {scenario.name}: a fault at {fault.at_seconds:g} s names lane "
                    f"indexes {fault.lanes} but the run has {lanes} lane(s): indexes 0..{lanes - 1}"
                )
        self.scenario = scenario
        self.lanes = lanes
        self.total = travellers
        self.seed = seed
        self.fast = fast
        self.lane_config = lane_config
        self.faces = faces
        self.engine = engine
        self.model = model or scenario.model  # the [model] table, or the defaults
        self.now = now or datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
        self.epoch = epoch or self.now
        self.central = central
        self.today: date = self.now.date()
        self.log = log or (lambda _line: None)
        self.progress = progress or (lambda _line: None)
        self.done = 0
        self.policy = sim_policy(scenario)
        self.passage = lane_config.passage.model_copy(update={"flow": scenario.flow})
        self.documents = DocumentFactory(self.now)
        self.chip_link_seconds: list[float] = []
        self.build_seconds = 0.0

    async def run(self) -> SimReport:
        wall = time.perf_counter()
        travellers = generate(self.scenario, self.total, self.seed, self.today)
        lanes = [
            SimLane(i, self, LaneFaults(tuple(f for f in self.scenario.faults if f.hits(i))))
            for i in range(self.lanes)
        ]
        clock = Clock(self.fast)
        report = SimReport(
            physical_model=self.model.model_dump(),
            scenario=self.scenario.name,
            flow=self.scenario.flow,
            lanes=self.lanes,
            seed=self.seed,
            fast=self.fast,
            central="none",
            lane_implementation=(
                "lane core gate.lane.Lane driven by the simulator (simulator.simrun); real MRZ, "
                "chip, document-authentication, face and liveness code; physical steps from "
                "the model"
            ),
        )
        queues = [travellers[i :: self.lanes] for i in range(self.lanes)]
        await asyncio.gather(
            *(self.serve(lane, queue, clock) for lane, queue in zip(lanes, queues, strict=True))
        )
        report.results = sorted((r for lane in lanes for r in lane.results), key=lambda r: r.index)
        self.lane_events = [e for lane in lanes for e in lane.events]
        report.events = EventCounts(produced=len(self.lane_events))
        if self.central is not None:
            report.central = "embedded"
            report.events = await self.deliver(lanes)
        report.simulated_seconds = max((r.ended for r in report.results), default=0.0)
        report.wall_seconds = time.perf_counter() - wall
        if self.chip_link_seconds:
            report.physical_minimum_seconds = self.model.minimum(
                float(np.median(self.chip_link_seconds)), self.scenario.flow
            )
        return report

    async def deliver(self, lanes: list[SimLane]) -> EventCounts:
        """Every lane's events to the embedded central over the ingest contract, then count
        what central holds. A lane hit by a 'network' fault loses the acknowledgement of its
        first batch and sends it again (central must acknowledge it as duplicates)."""
        assert self.central is not None
        async with self.central.client() as client:
            uplink = Uplink(client, self.central.tokens)
            for lane in lanes:
                lost = any(f.device == "network" for f in lane.faults.faults)
                await uplink.deliver(lane.lane_id, lane.events, lost_ack=lost)
        stored = self.central.counts([lane.lane_id for lane in lanes])
        produced = len(self.lane_events)
        return EventCounts(
            produced=produced,
            at_central=stored.rows,
            missing=produced - stored.rows,
            duplicated=stored.rows - stored.distinct_seqs,
            resent=uplink.counts.sent - produced,
            acknowledged_duplicates=uplink.counts.duplicates,
        )

    def on_event(self, lane: SimLane, event: events.Event) -> None:
        """Called for every event a lane emits (``egate demo`` delivers them live)."""

    def traveller_done(self, result: TravellerResult) -> None:
        self.done += 1
        self.log(
            f"lane {result.lane} traveller {result.index} ({result.label}): {result.decision} "
            f"{' '.join(result.reasons)} in {result.passage_seconds:.1f} s"
            + (" MISMATCH" if result.differs else "")
        )
        step = max(10, self.total // 10)
        if self.done % step == 0 or self.done == self.total:
            self.progress(f"sim: {self.done}/{self.total} travellers")

    async def serve(self, lane: SimLane, queue: list[Traveller], clock: Clock) -> None:
        """Run one lane until every traveller of its queue has left it."""
        waiting = list(reversed(queue))

        def next_traveller(t: float) -> None:
            if waiting:
                lane.arrive(waiting.pop(), t)

        lane.on_left = next_traveller  # type: ignore[method-assign]
        lane.inject_faults()
        lane.feed(Started(at=0.0))
        next_traveller(0.0)
        steps = 0
        while len(lane.results) < len(queue):
            if lane.queue and not self.fast:
                await clock.reach(min(lane.queue[0][0], lane.core.deadline() or math.inf))
            if not lane.step():
                raise SimError(
                    f"lane {lane.index} stopped with {len(queue) - len(lane.results)} "
                    f"traveller(s) still waiting (lane state {lane.core.state.value})"
                )
            steps += 1
            if steps % 50 == 0:
                await asyncio.sleep(0)  # let the other lanes run


FAULT_CODE_OF: dict[events.Device, str] = {
    DEVICE_OF_FAULT[name]: code for name, code in FAULT_CODE.items() if name != "network"
}
