"""A simulated lane, end to end, from the parts that exist today.

Each scripted traveller gets a synthetic passport signed by the test PKI and served by the virtual
chip; the MRZ comes from the simulated document reader (optionally with OCR confusions that the
MRZ layer repairs); the reader opens the chip (PACE, BAC fallback, retrying with repair
candidates), passive, chip and active authentication run against a trust store holding the test
CSCAs; the simulated camera's frames are matched against the chip portrait; the simulated gate
controller lets the traveller in, and out through the exit or back through the entry. Every
transaction and alarm becomes an event of the shared schema (``gate.events``).

This is the demonstration of the pieces, not the lane daemon: the daemon's state machine,
central service and dashboard arrive with their own issues.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from drivers.gatectl import protocol as p
from drivers.gatectl.driver import GateController
from drivers.mrz_ocr.pipeline import read_image
from gate import events
from gate.config import LaneConfig
from gate.emrtd import lds, trust
from gate.emrtd.authenticate import authenticate_document
from gate.emrtd.errors import ChipError
from gate.emrtd.reader import ChipSession, Reader
from gate.errors import EgateError
from gate.face.pipeline import FaceEngine
from gate.mrz import check_digit, parse, repair
from simulator import docpages, passports, pki
from simulator.camera import SceneCamera
from simulator.chip.card import VirtualChip
from simulator.chip.transport import InProcessTransport
from simulator.devices import SimulatedGateController
from simulator.gatectl.device import DeviceConfig
from simulator.gatectl.server import GateSimulator

FILES = ["EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15"]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    variant: str = "genuine"  # genuine | altered | clone
    impostor: bool = False
    ocr_confusions: int = 0
    tailgater: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("genuine", "genuine passport, the holder at the gate"),
    Scenario("ocr-misread", "the reader confused 0/O in the MRZ: repaired", ocr_confusions=1),
    Scenario("impostor", "genuine passport, someone else at the gate", impostor=True),
    Scenario("altered", "portrait swapped after signing (DG2 altered)", variant="altered"),
    Scenario("cloned-chip", "data copied to a chip without the keys", variant="clone"),
    Scenario("tailgating", "genuine traveller with someone close behind", tailgater=True),
)


@dataclass
class FaceSource:
    """Portrait and live images per identity: the shared test faces when present, otherwise
    one bundled photograph (scikit-image's astronaut) and a face-free picture for impostors."""

    identities: list[list[np.ndarray]]
    origin: str
    strangers: list[np.ndarray] = field(default_factory=list)
    """Live images for impostors when there is only one identity."""

    @classmethod
    def find(cls, testdata: Path | None) -> FaceSource:
        if testdata is not None:
            root = testdata / "faces" / "dlib_johns"
            people = []
            for folder in sorted(p for p in root.glob("*") if p.is_dir()):
                images = [cv2.imread(str(f)) for f in sorted(folder.glob("*.jpg"))]
                good = [im for im in images if im is not None]
                if len(good) >= 2:
                    people.append(good)
            if len(people) >= 2:
                return cls(people, str(root))
        try:
            from skimage import data as skdata
        except ImportError as exc:
            raise EgateError(
                "no faces for the demo: the shared test data was not found and scikit-image "
                "is not installed (pip install 'egate[demo]', or set EGATE_TESTDATA)"
            ) from exc

        astronaut = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)[0:300, 100:330]
        cat = cv2.cvtColor(skdata.chelsea(), cv2.COLOR_RGB2BGR)
        return cls(
            [[astronaut, cv2.flip(astronaut, 1)]],
            "scikit-image sample photographs (no test data found)",
            strangers=[cat],
        )

    def pair(self, index: int, impostor: bool) -> tuple[np.ndarray, np.ndarray]:
        """(chip portrait, live face) for traveller ``index``."""
        person = self.identities[index % len(self.identities)]
        if not impostor:
            return person[0], person[1 % len(person)]
        if len(self.identities) > 1:
            other = self.identities[(index + 1) % len(self.identities)]
            return person[0], other[1 % len(other)]
        return person[0], self.strangers[index % len(self.strangers)]


@dataclass
class Outcome:
    scenario: Scenario
    decision: events.Decision
    reasons: list[str]
    seconds: float = 0.0


SURNAMES = ["MUSTERMANN", "DUPONT", "ROSSI", "JANSEN", "NOVAK", "SILVA", "KOWALSKI", "BERG"]
GIVEN = ["ERIKA", "JEAN", "MARIA", "PIETER", "ANA", "LUIS", "JAN", "INGRID"]


def make_mrz(rng: random.Random, today: date) -> str:
    """A valid TD3 passport MRZ of the test state UTO with a document number holding a 0."""
    name = f"P<UTO{rng.choice(SURNAMES)}<<{rng.choice(GIVEN)}".ljust(44, "<")
    number = f"{rng.choice('CFGHJK')}{rng.randint(10, 99)}0{rng.randint(10000, 99999)}"
    birth = f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    expiry_date = today + timedelta(days=rng.randint(200, 3000))
    expiry = expiry_date.strftime("%y%m%d")
    sex = rng.choice("MF")
    optional = "<" * 14
    line2 = (
        number
        + check_digit(number)
        + "UTO"
        + birth
        + check_digit(birth)
        + sex
        + expiry
        + check_digit(expiry)
        + optional
        + check_digit(optional)
    )
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    return name + line2 + check_digit(composite)


def misread(mrz: str, count: int) -> str:
    """The MRZ as a reader that confuses 0 with O in the document number would send it."""
    line2 = list(mrz[44:])
    for i in [i for i, ch in enumerate(line2[:9]) if ch == "0"][:count]:
        line2[i] = "O"
    return mrz[:44] + "".join(line2)


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise EgateError("demo: could not encode the portrait as JPEG")
    return bytes(data)


class DemoLane:
    """One simulated lane running scripted travellers; ``log`` receives progress lines."""

    def __init__(
        self,
        config: LaneConfig,
        faces: FaceSource,
        log: Callable[[str], None],
        *,
        now: datetime | None = None,
        seed: int = 7,
        time_scale: float = 4.0,
    ) -> None:
        self.config = config
        self.faces = faces
        self.log = log
        self.now = now or datetime.now(UTC)
        self.rng = random.Random(seed)
        self.time_scale = time_scale
        self.stamper = events.EventStamper(config.lane.id)
        self.events: list[events.TransactionEvent | events.AlarmEvent] = []
        self.log("making the test PKI (CSCA and document signers)")
        self.pki = pki.make_test_pki(self.now - timedelta(days=30))
        self.store = trust.TrustStore()
        for csca in self.pki.cscas:
            self.store.import_bytes(csca.der, source="demo test PKI", now=self.now)
        self.engine = FaceEngine.from_config(config.face)

    # ------------------------------------------------------------------ one traveller

    def read_mrz(self, scenario: Scenario, today: date) -> tuple[str, list[str]]:
        """(the MRZ printed in the passport, the lines the document reader delivers).

        Scenarios with OCR confusions use the serial reader model; the others render the
        data page, degrade it like a worn page on a scanner, and read it with the page OCR."""
        if scenario.ocr_confusions:
            mrz = make_mrz(self.rng, today)
            sent = misread(mrz, scenario.ocr_confusions)
            self.log("  MRZ from the serial document reader")
            return mrz, [sent[:44], sent[44:]]
        rng = np.random.default_rng(self.rng.randrange(1 << 30))
        expiry = today + timedelta(days=self.rng.randint(200, 3000))
        identity = dataclasses.replace(
            docpages.random_identity(rng, "TD3"),
            issuer="UTO",
            nationality="UTO",
            date_of_expiry=expiry.strftime("%y%m%d"),
        )
        page, printed = docpages.render_page(identity, dpi=300, rng=rng)
        page = docpages.degrade(page, docpages.random_degradation(rng), rng)
        ocr = read_image(page, today=today)
        self.log(
            f"  MRZ from the page image: {'read' if ocr.found else ocr.message} "
            f"in {ocr.seconds * 1000:.0f} ms"
        )
        return "".join(printed), (ocr.lines if ocr.found else [])

    def check_document(
        self, scenario: Scenario, index: int
    ) -> tuple[list[events.Verdict], list[str], bytes | None, events.DocumentSummary | None]:
        """MRZ, chip and authenticity: verdicts, reasons and the chip portrait."""
        today = self.now.date()
        mrz, lines = self.read_mrz(scenario, today)
        portrait, _ = self.faces.pair(index, scenario.impostor)
        image = passports.build_passport(mrz, self.pki.dsc_p256, face=jpeg(portrait))
        if scenario.variant == "altered":
            image = passports.altered_dg(image, 2)
        elif scenario.variant == "clone":
            image = passports.cloned(image)
        parsed = parse(lines, today=today)
        verdicts = [
            events.Verdict(
                check="mrz",
                outcome=events.CheckOutcome.PASS if parsed.valid else events.CheckOutcome.REFER,
                reasons=[] if parsed.valid else ["MRZ_INVALID"],
                detail="; ".join(e.message for e in parsed.errors[:2]),
            )
        ]
        keys = [parsed.bac_key] if parsed.valid and parsed.bac_key else []
        keys += [
            c.bac_key for c in repair(lines, today=today) if c.bac_key and c.bac_key not in keys
        ]
        self.log(
            f"  MRZ {'valid' if parsed.valid else 'invalid'}; {len(keys)} key(s) to try "
            f"for document {parsed.fields.masked_document_number()}"
        )
        document = events.DocumentSummary(
            format="TD3",
            document_code="P",
            issuing_state="UTO",
            nationality="UTO",
            masked_number=parsed.fields.masked_document_number(),
            date_of_expiry=parsed.fields.date_of_expiry,
        )

        reader = None
        for attempt, key in enumerate(keys, start=1):
            candidate = Reader(ChipSession(InProcessTransport(VirtualChip(image))))
            try:
                access = candidate.open(key.mrz_information())
            except ChipError as exc:
                self.log(f"  chip refused key {attempt}: {exc}")
                continue
            self.log(f"  chip opened with {access.protocol} (key {attempt} of {len(keys)})")
            reader = candidate
            break
        if reader is None:
            reason = "CHIP_ACCESS_DENIED" if keys else "MRZ_NOT_READ"
            verdicts.append(
                events.Verdict(check="chip", outcome=events.CheckOutcome.FAIL, reasons=[reason])
            )
            return verdicts, [reason], None, document
        files = {name: r.data for name, r in reader.read_files(FILES).items()}
        verdict = authenticate_document(reader, files, self.store, at=self.now, mrz=mrz)
        codes = list(dict.fromkeys(verdict.codes))  # in order, each once
        failed = list(dict.fromkeys(f.code for f in verdict.findings if f.severity == "fail"))
        verdicts.append(
            events.Verdict(
                check="document",
                outcome=events.CheckOutcome.PASS if verdict.ok else events.CheckOutcome.FAIL,
                reasons=codes,
            )
        )
        self.log(f"  document: {', '.join(codes)}")
        chip_portrait = lds.parse_dg2(files["DG2"]).portrait.image if "DG2" in files else None
        return verdicts, ([] if verdict.ok else failed), chip_portrait, document

    def check_face(
        self, scenario: Scenario, index: int, chip_portrait: bytes
    ) -> tuple[events.Verdict, events.Scores, int]:
        _, live = self.faces.pair(index, scenario.impostor)
        with tempfile.TemporaryDirectory() as tmp:
            cv2.imwrite(str(Path(tmp) / "live.png"), live)
            camera = SceneCamera(
                faces_dir=Path(tmp),
                tailgate_every=1 if scenario.tailgater else 0,
                seed=index,
                realtime=False,
                head_motion=False,
            )
            # the traveller stands at the camera between 55 % and 85 % of the scene cycle
            frames = [camera.render(camera.cycle * u)[0] for u in (0.48, 0.6, 0.7, 0.8)]
        portrait = self.engine.observe_portrait(chip_portrait)
        samples = []
        most_faces = 0
        for i, frame in enumerate(frames):
            observation, sample = self.engine.sample(frame, i)
            most_faces = max(most_faces, observation.face_count)
            if sample is not None:
                samples.append(sample)
        if portrait.embedding is None or not samples:
            return (
                events.Verdict(
                    check="face", outcome=events.CheckOutcome.REFER, reasons=["FACE_NOT_FOUND"]
                ),
                events.Scores(face_threshold=self.engine.threshold),
                most_faces,
            )
        result = self.engine.verify(portrait, samples, k=self.config.face.frames_to_fuse)
        self.log(
            f"  face: similarity {result.similarity:.3f} (threshold {result.threshold:.3f}), "
            f"{len(samples)} live frames, up to {most_faces} face(s) in view"
        )
        verdict = events.Verdict(
            check="face",
            outcome=events.CheckOutcome.PASS if result.match else events.CheckOutcome.REFER,
            reasons=["FACE_MATCH"] if result.match else ["FACE_NO_MATCH"],
        )
        scores = events.Scores(face_similarity=result.similarity, face_threshold=result.threshold)
        return verdict, scores, most_faces

    async def traveller(
        self, gate: GateController, simulator: GateSimulator, scenario: Scenario, index: int
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        started = loop.time()
        wall = datetime.now(UTC)
        stages = [events.StageTime(stage=events.Stage.DOCUMENT_PLACED, at=wall)]
        self.log(f"traveller {index + 1}: {scenario.name} ({scenario.description})")
        verdicts, reasons, chip_portrait, document = await asyncio.to_thread(
            self.check_document, scenario, index
        )
        stages.append(events.StageTime(stage=events.Stage.DOCUMENT_VERIFIED, at=datetime.now(UTC)))
        decision = events.Decision.REJECTED if reasons else events.Decision.ACCEPTED
        scores = events.Scores()
        alarm: events.AlarmEvent | None = None
        if decision is events.Decision.ACCEPTED and chip_portrait is None:
            # no reference portrait: the face cannot be verified, so nobody is let in
            decision = events.Decision.REFERRED
            reasons = ["FACE_NO_CHIP_PORTRAIT"]
        if decision is events.Decision.ACCEPTED and chip_portrait is not None:
            await gate.release_passage(p.Door.ENTRY, p.Direction.IN)
            simulator.add_person(speed=1.1)
            if scenario.tailgater:
                simulator.add_person(speed=1.1, x=-1.4 - 0.4, gap=0.35)
            entered = await self.wait_passage(gate, p.Door.ENTRY)
            stages.append(events.StageTime(stage=events.Stage.ENTRY_OPENED, at=datetime.now(UTC)))
            if entered == 0:  # the entry passage was aborted: nobody to verify or let out
                decision = events.Decision.ABORTED
                reasons = ["PASSAGE_ABORTED"]
            else:
                face, scores, faces_seen = await asyncio.to_thread(
                    self.check_face, scenario, index, chip_portrait
                )
                verdicts.append(face)
                stages.append(
                    events.StageTime(stage=events.Stage.FACE_MATCHED, at=datetime.now(UTC))
                )
                persons = max(entered, faces_seen)
                if persons > 1:
                    decision = events.Decision.REFERRED
                    reasons = ["PASSAGE_TAILGATING"]
                    alarm = events.AlarmEvent(
                        **self.stamper.stamp(datetime.now(UTC)),
                        alarm=events.AlarmKind.TAILGATING,
                        detail=f"{persons} people entered the mantrap on one passage",
                    )
                elif face.outcome is not events.CheckOutcome.PASS:
                    decision = events.Decision.REFERRED
                    reasons = list(face.reasons)
                if decision is events.Decision.ACCEPTED:
                    await gate.release_passage(p.Door.EXIT, p.Direction.IN)
                    stages.append(
                        events.StageTime(stage=events.Stage.EXIT_OPENED, at=datetime.now(UTC))
                    )
                    await self.wait_passage(gate, p.Door.EXIT)
                    stages.append(
                        events.StageTime(stage=events.Stage.PASSAGE_COMPLETED, at=datetime.now(UTC))
                    )
                else:
                    await gate.release_passage(p.Door.ENTRY, p.Direction.OUT)
                    simulator.turn_back()
                    await self.wait_passage(gate, p.Door.ENTRY)
        stages.append(events.StageTime(stage=events.Stage.DECIDED, at=datetime.now(UTC)))
        event = events.TransactionEvent(
            **self.stamper.stamp(datetime.now(UTC)),
            transaction_id=uuid.uuid4(),
            decision=decision,
            reasons=reasons,
            stages=stages,
            document=document,
            verdicts=verdicts,
            scores=scores,
        )
        self.events.append(event)
        if alarm is not None:
            self.events.append(alarm)
        return Outcome(scenario, decision, reasons, seconds=loop.time() - started)

    async def wait_passage(self, gate: GateController, door: p.Door, timeout: float = 20.0) -> int:
        """People counted by the controller for the next completed passage through ``door``."""
        async with asyncio.timeout(timeout):
            async for event in gate.events():
                if isinstance(event, p.PassageCompleted) and event.door is door:
                    return int(event.persons)
                if isinstance(event, p.PassageAborted) and event.door is door:
                    return 0
        return 0

    async def run(self, scenarios: list[Scenario]) -> list[Outcome]:
        simulator = GateSimulator(DeviceConfig(time_scale=self.time_scale), baud=None)
        gate = SimulatedGateController(simulator, passage_timeout=20.0)
        await gate.start()
        try:
            await gate.set_mode(p.Mode.NORMAL)
            outcomes = []
            for index, scenario in enumerate(scenarios):
                outcome = await self.traveller(gate, simulator, scenario, index)
                why = " ".join(outcome.reasons)
                self.log(f"  => {outcome.decision.value} {why} ({outcome.seconds:.1f} s)")
                outcomes.append(outcome)
            return outcomes
        finally:
            await gate.close()
