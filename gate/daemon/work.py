"""The blocking work of one transaction, run in worker threads: MRZ, chip, authenticity, face.

Each function takes what it needs and returns the lane-core input that answers the command
(:mod:`gate.lane.inputs`). Secrets (full MRZ, chip files, portraits, templates) stay in the
:class:`Transaction` object in the daemon's memory; the inputs carry only what the core and its
records may see. Nothing here raises for a bad document: a failure is an answer with reason
codes. A device that fails raises :class:`DeviceFailure` (the daemon turns it into a
``device_fault``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from drivers.chiplink import ChipLink, Transport
from gate import events
from gate.emrtd.auth.authenticate import authenticate_document
from gate.emrtd.document import Document
from gate.emrtd.errors import ChipError
from gate.emrtd.lds import lds
from gate.emrtd.pki.trust import TrustStore
from gate.emrtd.reader import Reader
from gate.errors import EgateError
from gate.events import Device
from gate.face.liveness import LivenessCheck, LivenessObservation
from gate.lane import inputs as li
from gate.mrz import parse, repair
from gate.mrz.keys import BacKey
from gate.mrz.reconcile import NAME_FROM_CHIP, name_from_chip
from gate.policy.model import DocumentFacts

if TYPE_CHECKING:  # onnxruntime loads with the face models, in the background
    from gate.face.fuse import FrameSample
    from gate.face.pipeline import FaceEngine, FaceObservation

log = logging.getLogger(__name__)
CHIP_FILES = ["EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15"]
AMBIGUOUS = "MRZ_AMBIGUOUS"


class DeviceFailure(EgateError):
    """A device stopped working during a transaction; carries the device and a fault code."""

    def __init__(self, device: Device, code: str, detail: str) -> None:
        super().__init__(f"{device.value}: {detail}")
        self.device = device
        self.code = code
        self.detail = detail


class ChipSlot(Protocol):
    """The chip reader as the daemon sees it (PC/SC or the simulator's virtual chip)."""

    def connect(self, timeout: float) -> Transport:
        """A transport to the chip of the document on the reader; raises when there is none."""
        ...


class FrameSource(Protocol):
    def read(self) -> Any:
        """The next frame (``.image``: BGR array); raises on a camera failure."""
        ...


@dataclass
class Transaction:
    """What the daemon knows about the current traveller (in memory only)."""

    id: str
    lines: tuple[str, ...]
    placed_at: float
    placed_wall: datetime
    doubtful: tuple[tuple[int, int], ...] | None = None
    """1-based (line, position) of the characters the page reader flagged doubtful; None when
    the reader sends lines only (serial document readers), so no flag is known."""
    mrz: str = ""
    mrz_lines: tuple[str, ...] = ()
    facts: DocumentFacts | None = None
    keys: list[BacKey] = field(default_factory=list)
    key_lines: list[tuple[str, ...]] = field(default_factory=list)
    """The lines of the reading each key comes from (MrzOutcome.key_lines)."""
    reader: Reader | None = None
    link: ChipLink | None = None
    """The link ``reader`` talks over (authentication runs on it after the read)."""
    files: dict[str, bytes] = field(default_factory=dict)
    chip_portrait: bytes | None = None
    portrait_observation: FaceObservation | None = None
    live_portrait: bytes | None = None
    verdicts: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    """check -> (outcome, reasons) for the transaction event."""
    scores: dict[str, float | None] = field(default_factory=dict)
    portrait_ready: threading.Event = field(default_factory=threading.Event)
    stop_face: threading.Event = field(default_factory=threading.Event)
    software_seconds: float = 0.0
    """CPU-bound time spent on this traveller (MRZ, chip crypto, PA, face), for the simulator."""
    persons_max: int = 0
    chip_corrections: tuple[str, ...] = ()
    """Reason codes of page readings corrected by the chip (MRZ_AMBIGUOUS, MRZ_NAME_FROM_CHIP)."""


FORMATS: dict[str, Literal["TD1", "TD2", "TD3", "MRVA", "MRVB", "FRA-ID"]] = {
    "TD1": "TD1",
    "TD2": "TD2",
    "TD3": "TD3",
    "MRVA": "MRVA",
    "MRVB": "MRVB",
    "FRA-ID": "FRA-ID",  # the French identity card of 1988-2021 (2 x 36, its own layout)
}


def _facts(fields: Any, fmt: str) -> DocumentFacts:
    return DocumentFacts(
        document_code=fields.document_code,
        issuing_state=fields.issuing_state,
        nationality=fields.nationality,
        date_of_birth=fields.date_of_birth,
        date_of_expiry=fields.date_of_expiry,
        masked_number=fields.masked_document_number(),
        format=FORMATS.get(fmt, "TD3"),
    )


@dataclass(frozen=True)
class MrzOutcome:
    """What the lane learns from the reader's MRZ lines: the document (None when no valid MRZ,
    even after repair), the BAC keys to try on the chip in order, and the reason codes."""

    document: DocumentFacts | None
    keys: list[BacKey]
    reasons: tuple[str, ...]
    lines: tuple[str, ...] = ()
    """The valid lines, repaired where OCR confusions were corrected; () when none."""
    key_lines: tuple[tuple[str, ...], ...] = ()
    """For each key, the lines of the reading it comes from (the chip decides between them)."""


def interpret_mrz(lines: Sequence[str], today: date) -> MrzOutcome:
    """Parse the lines; repair OCR confusions with the check digits (the daemon and the
    simulated lanes both decide through this one function)."""
    if not lines:
        return MrzOutcome(None, [], ("MRZ_NOT_READ",))
    parsed = parse(list(lines), today=today)
    candidates = repair(list(lines), today=today)
    keys = [parsed.bac_key] if parsed.valid and parsed.bac_key else []
    key_lines = [tuple(parsed.lines)] if keys else []
    for c in candidates:
        if c.bac_key and c.bac_key not in keys:
            keys.append(c.bac_key)
            key_lines.append(tuple(c.lines))
    if parsed.valid:
        return MrzOutcome(
            _facts(parsed.fields, parsed.format),
            keys,
            ("MRZ_OK",),
            tuple(parsed.lines),
            tuple(key_lines),
        )
    if candidates and candidates[0].result.valid:
        best = candidates[0].result
        return MrzOutcome(
            _facts(best.fields, best.format),
            keys,
            ("MRZ_REPAIRED",),
            tuple(best.lines),
            tuple(key_lines),
        )
    return MrzOutcome(None, keys, ("MRZ_INVALID",), (), tuple(key_lines))


def document_summary(facts: DocumentFacts) -> events.DocumentSummary:
    """The officer-facing summary of a document in a transaction event (masked number)."""
    return events.DocumentSummary(
        format=facts.format,
        document_code=facts.document_code[:2] or "P",
        issuing_state=facts.issuing_state[:3] or "<",
        nationality=facts.nationality[:3] or "<",
        masked_number=facts.masked_number,
        date_of_expiry=facts.date_of_expiry,
        year_of_birth=facts.date_of_birth.year if facts.date_of_birth else None,
    )


def read_mrz(tx: Transaction, today: date, at: Callable[[], float]) -> li.MrzRead:
    """Interpret the lines the reader sent for this transaction."""
    started = time.perf_counter()
    try:
        outcome = interpret_mrz(tx.lines, today)
        tx.keys = outcome.keys
        tx.key_lines = list(outcome.key_lines)
        if outcome.document is None:
            if outcome.reasons == ("MRZ_INVALID",):
                tx.verdicts["mrz"] = ("refer", ["MRZ_INVALID"])
            return li.MrzRead(at=at(), transaction=tx.id, document=None, reasons=outcome.reasons)
        tx.mrz, tx.mrz_lines = "".join(outcome.lines), outcome.lines
        tx.facts = outcome.document
        tx.verdicts["mrz"] = ("pass", list(outcome.reasons))
        return li.MrzRead(at=at(), transaction=tx.id, document=tx.facts, reasons=outcome.reasons)
    finally:
        tx.software_seconds += time.perf_counter() - started


def read_chip(
    tx: Transaction, slot: ChipSlot, timeout: float, at: Callable[[], float]
) -> li.ChipRead:
    """Open the chip with each MRZ key in turn (PACE, BAC fallback) and read its files."""
    started = time.perf_counter()
    try:
        if not tx.keys:
            tx.verdicts["chip"] = ("fail", ["MRZ_NOT_READ"])
            return li.ChipRead(at=at(), transaction=tx.id, ok=False, reasons=("MRZ_NOT_READ",))
        for attempt, key in enumerate(tx.keys, start=1):
            try:
                transport = slot.connect(timeout)
            except (ChipError, EgateError, OSError) as exc:
                log.info("no chip on the reader: %s", exc)
                tx.verdicts["chip"] = ("fail", ["CHIP_NOT_FOUND"])
                return li.ChipRead(
                    at=at(), transaction=tx.id, ok=False, reasons=("CHIP_NOT_FOUND",)
                )
            link = ChipLink(transport)
            reader = link.reader()
            try:
                access = link.run(reader.open(key.mrz_information()))
            except ChipError as exc:
                log.info("chip refused key %d of %d: %s", attempt, len(tx.keys), exc)
                continue
            try:
                # what the chip lists: only a file EF.SOD does not list may be absent
                read = link.run(reader.read_document(CHIP_FILES))
                tx.files = {name: r.data for name, r in read.items()}
            except ChipError as exc:
                tx.verdicts["chip"] = ("fail", ["CHIP_READ_FAILED"])
                log.info("chip read failed: %s", exc)
                return li.ChipRead(
                    at=at(), transaction=tx.id, ok=False, reasons=("CHIP_READ_FAILED",)
                )
            tx.reader, tx.link = reader, link
            confirm_with_chip(tx, attempt - 1)
            if "DG2" in tx.files:
                with contextlib.suppress(EgateError, ValueError):
                    tx.chip_portrait = lds.parse_dg2(tx.files["DG2"]).portrait.image
            # a chip offering PACE opened with BAC: the policy's bac_fallback decides
            opened = ("CHIP_OK", "CHIP_PACE_FAILED") if access.downgraded else ("CHIP_OK",)
            if access.downgraded:
                log.info("PACE not used, BAC fallback: %s", access.pace_error)
            tx.verdicts["chip"] = ("pass", list(opened))
            return li.ChipRead(
                at=at(),
                transaction=tx.id,
                ok=True,
                reasons=opened,
                has_portrait=tx.chip_portrait is not None,
            )
        tx.verdicts["chip"] = ("fail", ["CHIP_ACCESS_DENIED"])
        return li.ChipRead(at=at(), transaction=tx.id, ok=False, reasons=("CHIP_ACCESS_DENIED",))
    finally:
        tx.software_seconds += time.perf_counter() - started


MAX_NAME_FROM_CHIP = 4
"""Name characters DG1 may correct on the page reading; a page whose name differs in more is
not an OCR slip, and the authenticity check reports MRZ_DG1_MISMATCH as for any other field."""


def confirm_with_chip(tx: Transaction, opened_with: int = 0) -> tuple[str, ...]:
    """The chip decides what the page OCR could not. Called by :func:`read_chip` once the chip
    files are read, before the lane screens or verifies.

    1. ``opened_with``: the index in ``tx.keys`` of the key that opened the chip. Another key
       than the first means several readings passed every check digit (``1``/``L`` weigh the
       same modulo 10, ``O``/``0`` do in some positions) and the first was wrong: the reading
       of the key that opened the chip becomes the document's MRZ, reported ``MRZ_AMBIGUOUS``.
    2. DG1 is the ground truth for the name, which no check digit protects: when the reading
       differs from DG1 in the name only (at most :data:`MAX_NAME_FROM_CHIP` characters),
       DG1's lines become the document's MRZ, reported ``MRZ_NAME_FROM_CHIP``.

    Both are warnings; screening and the authenticity check then use the corrected lines. Any
    other difference is left to the authenticity check (``MRZ_DG1_MISMATCH``). Returns the
    reason codes, also kept in ``tx.chip_corrections``."""
    codes: list[str] = []
    if 0 < opened_with < len(tx.key_lines):
        tx.mrz_lines = tx.key_lines[opened_with]
        tx.mrz = "".join(tx.mrz_lines)
        decided = parse(list(tx.mrz_lines), today=tx.placed_wall.date())
        if decided.valid:
            tx.facts = _facts(decided.fields, decided.format)
        codes.append(AMBIGUOUS)
        log.info("the chip opened with reading %d of %d", opened_with + 1, len(tx.keys))
    tx.chip_corrections = tuple(codes)
    if "DG1" not in tx.files or not tx.mrz_lines:
        return tx.chip_corrections
    today = tx.placed_wall.date()  # decides date centuries only; the name does not need it
    try:
        text = lds.parse_dg1(tx.files["DG1"]).mrz
        width = len(tx.mrz_lines[0])
        chip_lines = [text[i : i + width] for i in range(0, len(text), width)]
        check = name_from_chip(
            parse(list(tx.mrz_lines), today=today),
            parse(chip_lines, today=today),
            doubtful=tx.doubtful or (),
        )
    except (ChipError, EgateError, ValueError) as exc:
        log.info("DG1 not compared with the page: %s", exc)
        return tx.chip_corrections
    if not check.page_disagreed or check.other_fields_differ:
        return tx.chip_corrections
    if len(check.differences) > MAX_NAME_FROM_CHIP:
        return tx.chip_corrections
    log.info(
        "page name differs from DG1 in %d characters (%s): name taken from DG1",
        len(check.differences),
        "the reader sent no doubtful flags"
        if tx.doubtful is None
        else f"{check.unflagged} not flagged doubtful",
    )
    tx.mrz_lines = tuple(chip_lines)
    tx.mrz = "".join(chip_lines)
    tx.chip_corrections = (*codes, NAME_FROM_CHIP)
    return tx.chip_corrections


def verify_document(
    tx: Transaction, store: TrustStore, wall: datetime, at: Callable[[], float]
) -> li.DocumentVerified:
    """Passive, chip and active authentication of what the chip gave; also reports what the
    chip corrected in the page reading (:func:`confirm_with_chip`)."""
    started = time.perf_counter()
    try:
        if tx.reader is None or tx.link is None:
            return li.DocumentVerified(at=at(), transaction=tx.id, reasons=("CHIP_READ_FAILED",))
        try:
            verdict = tx.link.run(
                authenticate_document(
                    tx.reader,
                    Document.from_files(tx.files),
                    store,
                    at=wall,
                    mrz=tx.mrz,
                    requested=CHIP_FILES,
                )
            )
        except (ChipError, EgateError) as exc:
            log.info("authentication aborted: %s", exc)
            return li.DocumentVerified(at=at(), transaction=tx.id, reasons=("CHIP_REMOVED",))
        codes = tuple(dict.fromkeys((*verdict.codes, *tx.chip_corrections)))
        tx.verdicts["document"] = (verdict.check_outcome, list(codes))
        return li.DocumentVerified(at=at(), transaction=tx.id, reasons=codes)
    finally:
        tx.software_seconds += time.perf_counter() - started


@dataclass
class FaceCapture:
    engine: FaceEngine
    liveness: LivenessCheck | None
    frames_to_fuse: int
    min_samples: int = 3
    max_samples: int = 12


def capture_face(
    tx: Transaction,
    camera: FrameSource,
    face: FaceCapture,
    post: Callable[[li.Input], None],
    at: Callable[[], float],
    *,
    want_liveness: bool,
    wait_portrait_seconds: float = 60.0,
) -> None:
    """Sample live frames until the chip portrait is known and enough faces were seen, then
    post ``FaceVerified`` (and ``LivenessChecked``). Every frame's faces go out as
    ``PersonsSeen`` for the person count. Stops when ``tx.stop_face`` is set."""
    samples: list[FrameSample] = []
    observations: list[LivenessObservation] = []
    best_frame: np.ndarray | None = None
    best_quality = -1.0
    index = 0
    give_up = at() + wait_portrait_seconds  # the lane's clock (virtual in a simulation)
    while not tx.stop_face.is_set():
        try:
            frame = camera.read()
        except EgateError as exc:
            raise DeviceFailure(Device.CAMERA, "CAMERA_NO_FRAMES", str(exc)) from None
        image = frame.image
        started = time.perf_counter()
        observation, sample = face.engine.sample(image, index)
        tx.software_seconds += time.perf_counter() - started
        index += 1
        height, width = image.shape[:2]
        boxes = tuple(
            li.FaceBox(
                x=d.box[0] / width, y=d.box[1] / height, width=d.box[2] / width,
                height=d.box[3] / height,
            )
            for d in observation.faces
        )  # fmt: skip
        tx.persons_max = max(tx.persons_max, len(boxes))
        post(li.PersonsSeen(at=at(), faces=boxes))
        if sample is not None and observation.primary is not None:
            samples = [*samples, sample][-face.max_samples :]
            observations.append(LivenessObservation(observation.primary.landmarks, time=at()))
            if sample.quality.score > best_quality:
                best_quality, best_frame = sample.quality.score, image
        if tx.portrait_ready.is_set() and len(samples) >= face.min_samples:
            break
        if at() > give_up:
            break
    else:
        return
    started = time.perf_counter()
    try:
        if tx.chip_portrait is None:
            post(li.FaceVerified(at=at(), transaction=tx.id, outcome="no_chip_portrait"))
            tx.verdicts["face"] = ("refer", ["FACE_NO_CHIP_PORTRAIT"])
            return
        if tx.portrait_observation is None:
            tx.portrait_observation = face.engine.observe_portrait(tx.chip_portrait)
        if tx.portrait_observation.embedding is None or not samples:
            post(li.FaceVerified(at=at(), transaction=tx.id, outcome="no_face"))
            tx.verdicts["face"] = ("refer", ["FACE_NOT_FOUND"])
            return
        result = face.engine.verify(tx.portrait_observation, samples, k=face.frames_to_fuse)
        tx.scores["face_similarity"] = result.similarity
        tx.scores["face_threshold"] = result.threshold
        tx.scores["live_face_quality"] = best_quality
        if best_frame is not None:
            tx.live_portrait = _jpeg(best_frame)
        tx.verdicts["face"] = (
            ("pass", ["FACE_MATCH"]) if result.match else ("refer", ["FACE_NO_MATCH"])
        )
        post(
            li.FaceVerified(
                at=at(),
                transaction=tx.id,
                outcome="match" if result.match else "no_match",
                similarity=result.similarity,
                threshold=result.threshold,
                quality=best_quality,
            )
        )
        if want_liveness:
            if face.liveness is None:
                post(li.LivenessChecked(at=at(), transaction=tx.id, passed=False, score=None))
                return
            live = face.liveness.evaluate(observations)
            tx.scores["liveness"] = live.score
            tx.verdicts["liveness"] = (
                ("pass", ["LIVENESS_OK"]) if live.live else ("refer", ["LIVENESS_FAILED"])
            )
            post(li.LivenessChecked(at=at(), transaction=tx.id, passed=live.live, score=live.score))
    finally:
        tx.software_seconds += time.perf_counter() - started


def _jpeg(image: np.ndarray) -> bytes | None:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return bytes(data) if ok else None
