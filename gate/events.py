"""The event schema shared by the lane daemon and the central service (see docs/events.md).

Every event carries a globally unique ``event_id`` (central ingests idempotently on it), the
``lane_id`` and a per-lane ``seq`` that grows by one for every event the lane emits, so the
central service can see gaps. Times are timezone-aware UTC. The schema is versioned: additive
changes (a new optional field, a new event type) keep ``schema_version``; anything else bumps
it. Readers ignore fields they do not know, so an older central accepts a newer lane's events.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from gate.errors import EgateError

SCHEMA_VERSION: Literal[1] = 1

MAX_LIST_ITEMS = 64
"""Reasons, stages or verdicts in one event at most (a field size limit of the schema)."""
MAX_DETAIL = 2000
"""Characters of a free-text ``detail`` at most."""

ReasonCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")]
"""A stable, machine-readable reason such as ``PA_OK`` or ``FACE_NO_MATCH`` (docs/events.md)."""

INT64_MAX = 2**63 - 1
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A sequence number or count: the central database stores them as signed 64-bit integers,
so a larger value is a schema error, not a failed insert."""

LaneId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class EventSchemaError(EgateError):
    """An event does not follow the schema; the message names the field and the reason."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --------------------------------------------------------------------------- parts


class Stage(StrEnum):
    """Stages of one traveller's transaction, in the order a lane normally passes them."""

    DOCUMENT_PLACED = "document_placed"
    MRZ_READ = "mrz_read"
    CHIP_OPENED = "chip_opened"
    CHIP_READ = "chip_read"
    DOCUMENT_VERIFIED = "document_verified"
    ELIGIBILITY_CHECKED = "eligibility_checked"
    ENTRY_OPENED = "entry_opened"
    FACE_CAPTURED = "face_captured"
    FACE_MATCHED = "face_matched"
    DECIDED = "decided"
    EXIT_OPENED = "exit_opened"
    PASSAGE_COMPLETED = "passage_completed"


class StageTime(_Model):
    stage: Stage
    at: AwareDatetime


class DocumentSummary(_Model):
    """What an officer needs to recognise the document, never the full number."""

    format: Literal["TD1", "TD2", "TD3", "MRVA", "MRVB", "FRA-ID"]
    document_code: Annotated[str, Field(min_length=1, max_length=2)]
    issuing_state: Annotated[str, Field(min_length=1, max_length=3)]
    nationality: Annotated[str, Field(min_length=1, max_length=3)]
    masked_number: Annotated[str, Field(max_length=40)]
    date_of_expiry: date | None = None
    year_of_birth: Annotated[int, Field(ge=0, le=9999)] | None = None
    sex: Literal["M", "F", "X", "<"] = "<"
    fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    """Lowercase hex SHA-256 of ``issuing_state|document_number|date_of_birth`` (the MRZ
    fields, fillers removed, birth date as YYMMDD). Lets the central service see the same
    document used twice without receiving its number (see :func:`document_fingerprint`)."""

    @field_validator("masked_number")
    @classmethod
    def _masked(cls, value: str) -> str:
        visible = sum(1 for ch in value if ch not in "*<")
        if visible > 4:
            raise ValueError("document numbers must be masked: at most 4 visible characters")
        return value


class CheckOutcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    REFER = "refer"
    NOT_DONE = "not_done"


class Verdict(_Model):
    """The outcome of one check (document authenticity, eligibility, face, liveness...)."""

    check: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
    outcome: CheckOutcome
    reasons: list[ReasonCode] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    detail: Annotated[str, Field(max_length=MAX_DETAIL)] = ""


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REFERRED = "referred"
    ABORTED = "aborted"


class Scores(_Model):
    face_similarity: float | None = None
    face_threshold: float | None = None
    liveness: float | None = None
    live_face_quality: float | None = None


class PortraitRefs(_Model):
    """References to portraits kept by the lane for officer review (never the pixels)."""

    chip: str | None = None
    live: str | None = None


# --------------------------------------------------------------------------- events


class _Event(_Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: uuid.UUID
    lane_id: LaneId
    seq: Count
    occurred_at: AwareDatetime


class TransactionEvent(_Event):
    """One traveller's attempt, from document placed to passage or abort."""

    type: Literal["transaction"] = "transaction"
    transaction_id: uuid.UUID
    decision: Decision
    reasons: list[ReasonCode] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    stages: list[StageTime] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    document: DocumentSummary | None = None
    verdicts: list[Verdict] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    scores: Scores = Scores()
    portraits: PortraitRefs = PortraitRefs()

    def duration(self) -> timedelta | None:
        """Time from the first to the last recorded stage."""
        if len(self.stages) < 2:
            return None
        times = [s.at for s in self.stages]
        return max(times) - min(times)


class AlarmKind(StrEnum):
    TAILGATING = "tailgating"
    FORCED_DOOR = "forced_door"
    TAMPER = "tamper"
    EMERGENCY = "emergency"
    REVERSE_PASSAGE = "reverse_passage"
    PERSON_TRAPPED = "person_trapped"
    WATCHLIST_HIT = "watchlist_hit"


class AlarmEvent(_Event):
    type: Literal["alarm"] = "alarm"
    alarm: AlarmKind
    severity: Literal["info", "warning", "critical"] = "critical"
    active: bool = True
    """True when raised, False when the condition cleared."""
    transaction_id: uuid.UUID | None = None
    detail: Annotated[str, Field(max_length=MAX_DETAIL)] = ""


class Device(StrEnum):
    DOCUMENT_READER = "document_reader"
    CHIP_READER = "chip_reader"
    CAMERA = "camera"
    GATE_CONTROLLER = "gate_controller"
    DISPLAY = "display"
    CENTRAL_LINK = "central_link"
    TRUST_STORE = "trust_store"
    OUTBOX = "outbox"
    """The lane's durable event store (full: travellers are not admitted)."""


class DeviceFaultEvent(_Event):
    type: Literal["device_fault"] = "device_fault"
    device: Device
    code: ReasonCode
    detail: Annotated[str, Field(max_length=MAX_DETAIL)] = ""
    recovered: bool = False
    """False when the fault starts, True when the device works again."""


class LaneState(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    OUT_OF_SERVICE = "out_of_service"
    EMERGENCY = "emergency"
    FAULT = "fault"
    STOPPED = "stopped"


class LaneStateEvent(_Event):
    type: Literal["lane_state"] = "lane_state"
    previous: LaneState | None = None
    state: LaneState
    reason: str = ""


class OfficerAction(StrEnum):
    OPEN_ENTRY = "open_entry"
    OPEN_EXIT = "open_exit"
    CLOSE_DOORS = "close_doors"
    SET_OUT_OF_SERVICE = "set_out_of_service"
    SET_IN_SERVICE = "set_in_service"
    EMERGENCY_OPEN = "emergency_open"
    ACCEPT_REFERRAL = "accept_referral"
    REJECT_REFERRAL = "reject_referral"
    ACKNOWLEDGE_ALARM = "acknowledge_alarm"


class OfficerActionEvent(_Event):
    type: Literal["officer_action"] = "officer_action"
    officer_id: Annotated[str, Field(min_length=1, max_length=64)]
    action: OfficerAction
    transaction_id: uuid.UUID | None = None
    command_id: uuid.UUID | None = None
    note: Annotated[str, Field(max_length=500)] = ""


Event = Annotated[
    TransactionEvent | AlarmEvent | DeviceFaultEvent | LaneStateEvent | OfficerActionEvent,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[type[_Event], ...] = (
    TransactionEvent,
    AlarmEvent,
    DeviceFaultEvent,
    LaneStateEvent,
    OfficerActionEvent,
)
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


# --------------------------------------------------------------------------- helpers


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """Validate a JSON document (or its decoded dict) into the matching event class."""
    try:
        obj = json.loads(data) if isinstance(data, str | bytes) else data
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventSchemaError(f"event is not valid JSON: {exc}") from None
    except RecursionError:  # "[[[[..." from a hostile or broken sender
        raise EventSchemaError("event JSON is nested too deeply to be an event") from None
    if not isinstance(obj, dict):
        raise EventSchemaError(f"event must be a JSON object, got {type(obj).__name__}")
    version = obj.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise EventSchemaError(
            f"schema_version {version!r} is not supported (this build reads {SCHEMA_VERSION}); "
            "upgrade the central service before the lanes"
        )
    try:
        return _ADAPTER.validate_python(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise EventSchemaError(
            f"event {obj.get('event_id', '?')}: field {where}: {first['msg']}"
            + (f" ({exc.error_count() - 1} more problems)" if exc.error_count() > 1 else "")
        ) from None


def to_json(event: _Event) -> str:
    return event.model_dump_json(exclude_none=False)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every event, for integrators writing their own consumers."""
    return _ADAPTER.json_schema()


def event_id(at: datetime, random: Callable[[int], bytes] = os.urandom) -> uuid.UUID:
    """A UUID version 7 (RFC 9562 section 5.7) for an event that occurred ``at``: 48 bits of
    Unix milliseconds, then 74 random bits. Ids of one period sort together, so central's
    primary-key indexes grow at their end instead of at random places (about 2.5 times less
    write-ahead log per batch on SQLite, docs/central.md); 74 random bits keep them unique."""
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    bits = int.from_bytes(random(10), "big")
    rand_a, rand_b = (bits >> 68) & 0xFFF, bits & ((1 << 62) - 1)
    return uuid.UUID(int=millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)


class EventStamper:
    """Gives each event of one lane its id, lane, sequence number and time.

    The next sequence number is passed in (the outbox persists it), so a restarted lane goes on
    where it stopped instead of reusing numbers. Time is passed in by the caller.
    """

    def __init__(self, lane_id: str, next_seq: int = 0) -> None:
        self.lane_id = lane_id
        self.next_seq = next_seq

    def stamp(self, at: datetime) -> dict[str, Any]:
        """The common fields for a new event; pass them to an event class with its own."""
        if at.tzinfo is None:
            raise EventSchemaError("event times must be timezone-aware (UTC)")
        fields = {"event_id": event_id(at), "lane_id": self.lane_id, "seq": self.next_seq}
        fields["occurred_at"] = at
        self.next_seq += 1
        return fields


def sequence_gaps(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Missing sequence numbers of one lane as inclusive (first, last) ranges.

    Duplicates are ignored (idempotent delivery); numbers before the smallest seen are not
    reported, since a central service may have joined late.
    """
    ordered = sorted(set(seqs))
    gaps = []
    for a, b in pairwise(ordered):
        if b > a + 1:
            gaps.append((a + 1, b - 1))
    return gaps


def document_fingerprint(issuing_state: str, document_number: str, date_of_birth: str) -> str:
    """The :attr:`DocumentSummary.fingerprint` of a document (fillers ``<`` removed)."""
    parts = [p.replace("<", "").strip().upper() for p in (issuing_state, document_number)]
    text = f"{parts[0]}|{parts[1]}|{date_of_birth.strip()}"
    return hashlib.sha256(text.encode("ascii", "replace")).hexdigest()


# --------------------------------------------------------------------------- lane <-> central
# The messages of the HTTP contract in docs/lane-central-api.md, shared by the lane daemon's
# client and the central service.

MAX_BATCH_EVENTS = 1000
"""Events in one ingest batch at most (the central service may be configured lower)."""


class DeviceStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAULT = "fault"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


class ListVersions(_Model):
    watchlist: Count | None = None
    registry: Count | None = None
    manifests: Count | None = None


class Heartbeat(_Model):
    """``POST /api/v1/lanes/{lane_id}/heartbeat`` body."""

    state: LaneState
    step: Annotated[str, Field(max_length=64)] = ""
    """The traveller's current stage in the lane (a :class:`Stage` value) or '' when idle."""
    devices: Annotated[
        dict[Annotated[str, Field(max_length=32)], DeviceStatus], Field(max_length=32)
    ] = Field(default_factory=dict)
    outbox_depth: Count = 0
    lists: ListVersions = ListVersions()
    trust_store: Annotated[str, Field(max_length=64)] | None = None
    doors: Annotated[
        dict[Annotated[str, Field(max_length=16)], Annotated[str, Field(max_length=16)]],
        Field(max_length=8),
    ] = Field(default_factory=dict)
    """Door states, e.g. ``{"entry": "closed", "exit": "open"}``."""


class CommandAction(StrEnum):
    OPEN_LANE = "open_lane"
    CLOSE_LANE = "close_lane"
    OUT_OF_SERVICE = "out_of_service"
    IN_SERVICE = "in_service"
    RELEASE_EXIT = "release_exit"
    RELEASE_ENTRY = "release_entry"
    RESET_ALARM = "reset_alarm"
    EMERGENCY_OPEN = "emergency_open"
    EMERGENCY_CLEAR = "emergency_clear"
    REFERRAL_DECISION = "referral_decision"


class LaneCommand(_Model):
    """One command in ``GET /api/v1/lanes/{lane_id}/commands``. A lane executes a command at
    most once and never after ``expires_at`` (it acknowledges ``expired`` instead)."""

    command_id: uuid.UUID
    action: CommandAction
    args: dict[str, Any] = Field(default_factory=dict)
    issued_at: AwareDatetime
    expires_at: AwareDatetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class CommandResult(StrEnum):
    DONE = "done"
    REFUSED = "refused"
    EXPIRED = "expired"
    FAILED = "failed"


class CommandAck(_Model):
    """``POST /api/v1/lanes/{lane_id}/commands/{command_id}/ack`` body."""

    result: CommandResult
    detail: Annotated[str, Field(max_length=500)] = ""
