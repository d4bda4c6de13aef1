"""Commands of the lane core: plain, immutable data the daemon carries out, in order.

Stable interface: fields are only ever added, with defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gate.events import AlarmKind, Decision, LaneState
from gate.lane.inputs import Door, PassageDirection


class GateMode(StrEnum):
    """Controller modes the core asks for (docs/gate-protocol.md, SET_MODE)."""

    NORMAL = "normal"
    OUT_OF_SERVICE = "out_of_service"
    EMERGENCY_OPEN = "emergency_open"


class Screen(StrEnum):
    """What the traveller screen shows; the daemon's screen maps each to a translated page.

    A referral or rejection shows SEE_OFFICER and never the reason.
    """

    WELCOME = "welcome"  # place your passport on the reader
    READING = "reading"  # keep the document still
    LOOK_AT_CAMERA = "look_at_camera"
    ENTER = "enter"  # the entry is open: step in
    PROCEED = "proceed"  # the exit is open: go ahead
    TAKE_DOCUMENT = "take_document"  # take your document
    SEE_OFFICER = "see_officer"  # please see an officer (referred or rejected)
    TRY_AGAIN = "try_again"  # no decision reached: take your document, try again
    ONE_PERSON = "one_person"  # only one person at a time
    WALK_BACK = "walk_back"  # please leave through the entry
    PLEASE_WAIT = "please_wait"  # an officer is coming
    OUT_OF_SERVICE = "out_of_service"
    EMERGENCY = "emergency"  # doors open, leave the lane


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadDocument:
    """Deliver the placed document's MRZ as :class:`gate.lane.inputs.MrzRead`."""

    transaction: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadChip:
    """Open and read the chip with the MRZ just read; answer with ``ChipRead``."""

    transaction: str


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyDocument:
    """Passive, active and chip authentication of what was read; answer ``DocumentVerified``."""

    transaction: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ScreenTraveller:
    """Look the traveller up in the registry, watch list and manifests; answer ``Screened``."""

    transaction: str


@dataclass(frozen=True, kw_only=True, slots=True)
class StartFaceCapture:
    """Capture live faces and, once the chip portrait is available, answer ``FaceVerified``
    (and ``LivenessChecked`` when ``liveness`` is true)."""

    transaction: str
    liveness: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class StopFaceCapture:
    transaction: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ReleasePassage:
    """Let one passage through ``door`` in ``direction`` (RELEASE_PASSAGE); the controller
    reports ``PassageCompleted`` or ``PassageAborted``."""

    door: Door
    direction: PassageDirection
    timeout_seconds: float


@dataclass(frozen=True, kw_only=True, slots=True)
class CancelPassage:
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class SetGateMode:
    mode: GateMode


@dataclass(frozen=True, kw_only=True, slots=True)
class ShowScreen:
    screen: Screen
    data: Mapping[str, str | int | float] = field(default_factory=dict)
    """E.g. ``{"countdown_seconds": 10}``; never a reason for a referral."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RaiseAlarm:
    kind: AlarmKind
    transaction: str | None = None
    detail: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class ClearAlarm:
    kind: AlarmKind


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestOfficer:
    """Call an officer to the lane. ``discreet``: do not signal it at the gate (watch list)."""

    transaction: str | None
    reasons: tuple[str, ...]
    discreet: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionFinished:
    """One traveller's transaction ended: the daemon emits a ``transaction`` event from it."""

    transaction: str
    decision: Decision
    reasons: tuple[str, ...]
    stages: tuple[tuple[str, float], ...]
    """(gate.events.Stage value, ``at``) pairs in order."""
    scores: Mapping[str, float | None] = field(default_factory=dict)
    keep_live_portrait: bool = False
    """Keep the live portrait as the foreign-national record (``[policy]``)."""
    send_portraits: bool = False
    """Upload chip and live portraits for officer review (referred transactions)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LaneStateChanged:
    """Emit a ``lane_state`` event."""

    previous: LaneState
    state: LaneState
    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class AckOfficerCommand:
    command_id: str
    result: str  # "done" | "refused"
    detail: str = ""


Command = (
    ReadDocument
    | ReadChip
    | VerifyDocument
    | ScreenTraveller
    | StartFaceCapture
    | StopFaceCapture
    | ReleasePassage
    | CancelPassage
    | SetGateMode
    | ShowScreen
    | RaiseAlarm
    | ClearAlarm
    | RequestOfficer
    | TransactionFinished
    | LaneStateChanged
    | AckOfficerCommand
)
