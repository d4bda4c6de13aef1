"""Inputs of the lane core: plain, immutable data the daemon (or a test, or a replay) feeds in.

Every input carries ``at``: seconds on the caller's clock (the daemon uses ``time.monotonic()``;
replay uses the recorded values). The core never reads a clock. Results of work the core asked
for (:class:`MrzRead`, :class:`ChipRead`, ...) carry the ``transaction`` id of the command that
asked for them; a result of an earlier transaction is stale and ignored (see ``Lane.handle``).

Stable interface: fields are only ever added, with defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

from gate.events import CommandAction, Device
from gate.policy.model import DocumentFacts, ScreeningResult


class Door(StrEnum):
    """The two barriers of a lane. A one-step lane (or a single speed gate) has only ``exit``."""

    ENTRY = "entry"
    EXIT = "exit"


class DoorPosition(StrEnum):
    """As reported by the controller (docs/gate-protocol.md, DOOR_STATE)."""

    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    LOCKED = "locked"


class PassageDirection(StrEnum):
    IN = "in"  # entry side -> exit side: the normal way through the lane
    OUT = "out"  # back out through the entry


FaceOutcome = Literal["match", "no_match", "no_face", "no_chip_portrait"]


@dataclass(frozen=True, kw_only=True, slots=True)
class _Input:
    at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class _Result(_Input):
    """The answer to a command; ``transaction`` is the id that command carried."""

    transaction: str


# --------------------------------------------------------------------------- the document


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentPlaced(_Input):
    """A document lies on the reader. ``transaction`` is a fresh id chosen by the caller (uuid4)
    and ``date`` the local calendar date at the crossing point (ages and expiry are counted
    against it)."""

    transaction: str
    date: date
    direction: Literal["arrival", "departure"] | None = None
    """For a lane serving both directions: this traveller's; None takes the lane's."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentRemoved(_Input):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class MrzRead(_Result):
    """The MRZ of the placed document: ``document`` is None when it could not be read."""

    document: DocumentFacts | None
    reasons: tuple[str, ...] = ()
    """MRZ_* codes (MRZ_OK, MRZ_REPAIRED, MRZ_NOT_READ, MRZ_INVALID)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ChipRead(_Result):
    """The chip session ended: opened and read (``ok``) or not, with CHIP_* codes."""

    ok: bool
    reasons: tuple[str, ...] = ()
    has_portrait: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentVerified(_Result):
    """Document authenticity: the codes of gate/emrtd's verdict (PA_*, AA_*, CA_*, DG1_*,
    DOCUMENT_*, MRZ_DG1_MISMATCH, CHIP_CLONE_SUSPECTED), passed as data."""

    reasons: tuple[str, ...]
    crl: Literal["current", "missing", "stale"] | None = None
    """Freshness of the issuing CSCA's CRL; None derives it from the codes (PA_CRL_MISSING,
    PA_CRL_STALE)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Screened(_Result):
    """The eligibility lists were consulted (registry, watch list, manifests)."""

    result: ScreeningResult


# --------------------------------------------------------------------------- the face


@dataclass(frozen=True, kw_only=True, slots=True)
class FaceVerified(_Result):
    """The live face was compared with the chip portrait."""

    outcome: FaceOutcome
    similarity: float | None = None
    threshold: float | None = None
    quality: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class LivenessChecked(_Result):
    passed: bool
    score: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class FaceBox:
    """One face found by the gate camera, in fractions of the frame (0..1, origin top left)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True, kw_only=True, slots=True)
class PersonsSeen(_Input):
    """The faces the gate camera found in one frame (for the person count)."""

    faces: tuple[FaceBox, ...]


# --------------------------------------------------------------------------- the gate controller


@dataclass(frozen=True, kw_only=True, slots=True)
class BeamsChanged(_Input):
    """The full beam pattern after a change; index 0 is the approach beam, the last one is past
    the exit, the others are inside the mantrap (docs/gate-protocol.md, section 6)."""

    beams: tuple[bool, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class DoorChanged(_Input):
    door: Door
    position: DoorPosition


@dataclass(frozen=True, kw_only=True, slots=True)
class PassageCompleted(_Input):
    """The controller counted a passage through a released door (``persons`` >= 2: tailgating)."""

    door: Door
    direction: PassageDirection
    persons: int


@dataclass(frozen=True, kw_only=True, slots=True)
class PassageAborted(_Input):
    door: Door
    reason: Literal["timeout", "turned_back", "cancelled", "mode_change"]


@dataclass(frozen=True, kw_only=True, slots=True)
class EmergencyInput(_Input):
    """The fire-alarm / emergency-release input of the controller changed."""

    active: bool


# --------------------------------------------------------------------------- the lane


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceFault(_Input):
    device: Device
    code: str
    """A fault reason code (CAMERA_NO_FRAMES, GATECTL_NO_ANSWER, ...)."""
    detail: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceRecovered(_Input):
    device: Device


@dataclass(frozen=True, kw_only=True, slots=True)
class OfficerCommand(_Input):
    command_id: str
    action: CommandAction
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class CentralLinkChanged(_Input):
    up: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class Started(_Input):
    """The daemon has put the doors in their safe state and opened its devices: the lane may
    serve (it starts out of service; faults reported before this keep it there)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Tick(_Input):
    """Time passed; the daemon sends one at ``Lane.deadline()`` (or periodically)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SafeStop(_Input):
    """Finish safely: the current traveller is let back out, then the lane is out of service
    (SIGTERM, or after the daemon caught a LaneProtocolError)."""

    reason: str = ""


Input = (
    DocumentPlaced
    | DocumentRemoved
    | MrzRead
    | ChipRead
    | DocumentVerified
    | Screened
    | FaceVerified
    | LivenessChecked
    | PersonsSeen
    | BeamsChanged
    | DoorChanged
    | PassageCompleted
    | PassageAborted
    | EmergencyInput
    | DeviceFault
    | DeviceRecovered
    | OfficerCommand
    | CentralLinkChanged
    | Started
    | Tick
    | SafeStop
)

INPUT_TYPES: tuple[type[_Input], ...] = (
    DocumentPlaced,
    DocumentRemoved,
    MrzRead,
    ChipRead,
    DocumentVerified,
    Screened,
    FaceVerified,
    LivenessChecked,
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
    Started,
    Tick,
    SafeStop,
)
RESULT_TYPES: tuple[type[_Result], ...] = (
    MrzRead,
    ChipRead,
    DocumentVerified,
    Screened,
    FaceVerified,
    LivenessChecked,
)
