"""The states of one lane (see docs/lane.md for the diagram and the states x inputs table)."""

from __future__ import annotations

from enum import StrEnum

from gate.events import LaneState


class PassageState(StrEnum):
    IDLE = "idle"
    """Waiting for a document."""
    READING_MRZ = "reading_mrz"
    """Document placed, waiting for its MRZ."""
    READING_CHIP = "reading_chip"
    """Chip access, reading and authentication; list screening (and, one-step, face capture)
    run at the same time."""
    ELIGIBILITY = "eligibility"
    """Chip done, waiting for the authenticity verdict or the list screening."""
    ENTERING = "entering"
    """Two-step: the entry is released, the traveller steps into the mantrap."""
    FACE = "face"
    """Waiting for face verification (and liveness)."""
    EXITING = "exiting"
    """Accepted: the exit is released, the traveller walks out."""
    REFERRED = "referred"
    """An officer is needed; the way back out is released (or an officer is called)."""
    REJECTED = "rejected"
    """The document is false or not valid for travel; the way back out is released."""
    ABORTED = "aborted"
    """No decision (document removed, walked back, timeout); the way back out is released."""
    OUT_OF_SERVICE = "out_of_service"
    """No travellers are admitted (officer, or a device fault once the lane was clear)."""
    FAULT = "fault"
    """A device failed during a passage: the traveller is let out, then out of service."""
    EMERGENCY = "emergency"
    """Everything open; only an officer's emergency_clear ends it."""


BUSY_STATES = frozenset(
    {
        PassageState.READING_MRZ,
        PassageState.READING_CHIP,
        PassageState.ELIGIBILITY,
        PassageState.ENTERING,
        PassageState.FACE,
        PassageState.EXITING,
        PassageState.REFERRED,
        PassageState.REJECTED,
        PassageState.ABORTED,
    }
)


def lane_state_of(state: PassageState) -> LaneState:
    """The coarse lane state of the event schema (``lane_state`` events, heartbeats)."""
    if state is PassageState.IDLE:
        return LaneState.IDLE
    if state is PassageState.OUT_OF_SERVICE:
        return LaneState.OUT_OF_SERVICE
    if state is PassageState.FAULT:
        return LaneState.FAULT
    if state is PassageState.EMERGENCY:
        return LaneState.EMERGENCY
    return LaneState.BUSY
