"""The physical model of a passage: how long the unavoidable physical steps take.

Defaults (issue #12, documented in docs/scenarios.md): the traveller places the passport 2.0 s
after reaching the reader; the reader delivers the MRZ 0.5 s after placement; the chip link runs
at 424 kbit/s with 5 ms per APDU (``simulator.chip.transport.LinkModel``, which counts the
APDUs and bytes of the real read) and a 20 KB DG2 (the portrait is padded to that size); doors
take 1.0 s to open and 1.0 s to close; people walk at 1.2 m/s; the camera delivers 15 frames/s;
the traveller faces the camera 1.0 s after entering. Distances come from the lane geometry of
the gate-controller simulator (``simulator.gatectl.model.LaneGeometry``, whose doors take
``door_open_seconds`` to open and ``door_close_seconds`` to close): the traveller stands at the
reader ``reader_before_approach`` metres before the approach beam, walks in when the entry door
is released (up to it while it opens), faces the camera ``face_after_entry_seconds`` after
crossing the entry door and walks on towards the exit door meanwhile, and leaves through the
exit door when it opens.

:meth:`PhysicalModel.minimum` is the physical minimum of one accepted passage: the steps on the
critical path of exactly that traveller back to back, with no software time at all, so no
simulated passage can be faster. Passage times are measured from the moment the traveller
reaches the reader to the moment the traveller's body is clear of the exit doorway (the gate
controller reports the passage completed and the lane ends the transaction).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gate.errors import EgateError
from simulator.chip.transport import LinkModel
from simulator.gatectl.model import DOORWAY_MARGIN, LaneGeometry


class PhysicalModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    place_document_seconds: Annotated[float, Field(ge=0)] = 2.0
    mrz_delivery_seconds: Annotated[float, Field(ge=0)] = 0.5
    chip_bitrate: Annotated[float, Field(gt=0)] = 424_000.0
    apdu_seconds: Annotated[float, Field(ge=0)] = 0.005
    dg2_bytes: Annotated[int, Field(ge=0)] = 20_000
    door_open_seconds: Annotated[float, Field(ge=0)] = 1.0
    door_close_seconds: Annotated[float, Field(ge=0)] = 1.0
    walking_speed: Annotated[float, Field(gt=0)] = 1.2
    camera_fps: Annotated[float, Field(gt=0)] = 15.0
    face_after_entry_seconds: Annotated[float, Field(ge=0)] = 1.0
    face_frames: Annotated[int, Field(ge=1, le=100)] = 3
    """Live frames with a face the lane captures: the frames it fuses (``[face]
    frames_to_fuse``, 3 by default); liveness comes from the camera's own PAD score."""
    slow_factor: Annotated[float, Field(ge=1)] = 2.5
    """A 'slow' traveller takes this many times longer to place the document and to walk."""
    looks_away_seconds: Annotated[float, Field(ge=0)] = 3.0
    """A traveller who 'looks away' faces the camera this much later."""

    reader_before_approach: Annotated[float, Field(ge=0)] = 1.0
    """Where the traveller stands at the reader: this far (metres) before the approach beam,
    so that the approach beam is free until the traveller walks in."""

    @property
    def geometry(self) -> LaneGeometry:
        """The gate simulator's lane with this model's door opening and closing times."""
        return LaneGeometry(
            door_travel_s=self.door_open_seconds, door_close_s=self.door_close_seconds
        )

    @property
    def link(self) -> LinkModel:
        return LinkModel(bitrate=self.chip_bitrate, latency=self.apdu_seconds)

    def walk_seconds(self, metres: float, slow: bool = False) -> float:
        return metres / self.walking_speed * (self.slow_factor if slow else 1.0)

    # distances along the lane (metres)
    @property
    def reader_spot(self) -> float:
        """Where the traveller stands at the reader (and starts walking in from)."""
        return self.geometry.entry_beam - self.reader_before_approach

    @property
    def _doorway(self) -> float:
        """Half a body plus the doorway margin: a closed door stops a body this far before its
        plane, and a passage through it completes once the body is this far past it."""
        return self.geometry.body_depth / 2 + DOORWAY_MARGIN

    @property
    def reader_to_entry(self) -> float:
        g = self.geometry
        return g.entry_door - g.entry_beam

    @property
    def camera_spot(self) -> float:
        """Where the traveller stands when facing the camera: walked for
        ``face_after_entry_seconds`` past the entry door, at most just before the exit door."""
        g = self.geometry
        walked = g.entry_door + self.walking_speed * self.face_after_entry_seconds
        return min(walked, g.exit_door - g.body_depth)

    @property
    def camera_to_clear(self) -> float:
        """From the camera spot to clear of the exit doorway (the controller's passage done)."""
        return self.geometry.exit_door + self._doorway - self.camera_spot

    @property
    def camera_to_reader(self) -> float:
        """Back from the camera spot to the reader (a walk-back or a referral)."""
        return self.camera_spot + self.reader_to_entry

    @property
    def reader_to_clear(self) -> float:
        """One-step: from the reader through the single barrier to clear of its doorway."""
        g = self.geometry
        return self.reader_to_entry + (g.exit_door - g.entry_door) + self._doorway

    def face_capture_seconds(self) -> float:
        return self.face_frames / self.camera_fps

    def entering_seconds(self, slow: bool = False) -> float:
        """From the entry door's release to the traveller crossing its plane: the traveller
        walks up from the reader while the door opens (waiting at it if it is not open yet)."""
        g = self.geometry
        up_to_door = self.walk_seconds(g.entry_door - self._doorway - self.reader_spot, slow)
        return max(self.door_open_seconds, up_to_door) + self.walk_seconds(self._doorway, slow)

    def facing_seconds(self, slow: bool = False) -> float:
        """From the entry door's release to the traveller facing the camera (two-step)."""
        return self.entering_seconds(slow) + self.face_after_entry_seconds

    def minimum(self, chip_seconds: float, flow: str = "two-step") -> float:
        """The physical minimum of one accepted passage (seconds), given the modelled link time
        of a genuine chip read (``chip_seconds``): the steps of :meth:`minimum_steps` back to
        back."""
        return sum(self.minimum_steps(chip_seconds, flow).values())

    def minimum_steps(self, chip_seconds: float, flow: str = "two-step") -> dict[str, float]:
        """The unavoidable steps of an accepted passage on the critical path, in order, for what
        the simulated traveller does with no software time at all.

        Two-step: document, MRZ, chip; the entry door opens while the traveller walks up to it
        (``entry_opens``: whichever takes longer) and through it; the traveller faces the
        camera (not before the controller reports the entry passage done) and the frames are
        taken; meanwhile the traveller walks on towards the exit door, so ``exit_opens`` is the
        door time or the rest of that walk, whichever is longer; then through the exit doorway.
        One-step: the traveller faces the camera at the reader while the chip is read, then
        walks up to the single barrier as it opens and through it."""
        g = self.geometry
        through = self.walk_seconds(2 * self._doorway)
        if flow == "one-step":
            start = self.reader_spot + (g.exit_door - g.entry_door)
            up_to_door = self.walk_seconds(g.exit_door - self._doorway - start)
            return {
                "place_document": self.place_document_seconds,
                "mrz_delivery": self.mrz_delivery_seconds,
                "chip_link": max(chip_seconds, self.face_capture_seconds()),
                "barrier_opens": max(self.door_open_seconds, up_to_door),
                "walk_out": through,
            }
        entering = self.entering_seconds()
        facing = max(self.face_after_entry_seconds, self.walk_seconds(self._doorway))
        # from crossing the entry plane to stopping at the closed exit door
        to_exit = self.walk_seconds(g.exit_door - self._doorway - g.entry_door)
        frames = self.face_capture_seconds()
        return {
            "place_document": self.place_document_seconds,
            "mrz_delivery": self.mrz_delivery_seconds,
            "chip_link": chip_seconds,
            "entry_opens": entering - self.walk_seconds(self._doorway),
            "walk_into_entry": self.walk_seconds(self._doorway),
            "face_the_camera": facing,
            "face_frames": frames,
            "exit_opens": max(self.door_open_seconds, to_exit - facing - frames),
            "walk_out": through,
        }


def pad_jpeg(data: bytes, size: int) -> bytes:
    """``data`` (a JPEG) grown to ``size`` bytes with comment (COM) segments after SOI, which
    every decoder skips; returned unchanged when it is already that large."""
    if not data.startswith(b"\xff\xd8") or len(data) >= size:
        return data
    missing = size - len(data)
    segments = bytearray()
    while missing > 4:
        payload = min(missing - 4, 65_533)
        segments += b"\xff\xfe" + (payload + 2).to_bytes(2, "big") + b"\x00" * payload
        missing -= payload + 4
    return data[:2] + bytes(segments) + data[2:]


class ModelOverrideError(EgateError):
    """A ``FIELD=VALUE`` for the physical model that names no field or gives a bad value."""


def with_overrides(base: PhysicalModel, items: list[str] | tuple[str, ...]) -> PhysicalModel:
    """``base`` with ``FIELD=VALUE`` items applied (``egate sim run --model``, the passage
    benchmark); the error names the item and, for an unknown field, the fields there are."""
    updates: dict[str, str] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise ModelOverrideError(f"--model takes FIELD=VALUE, got {item!r}")
        if field.strip() not in PhysicalModel.model_fields:
            known = ", ".join(PhysicalModel.model_fields)
            raise ModelOverrideError(
                f"--model {item!r}: no field {field.strip()!r}; fields: {known}"
            )
        updates[field.strip()] = value.strip()
    try:
        return PhysicalModel.model_validate({**base.model_dump(), **updates})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ModelOverrideError(f"--model: {problems}") from None
