"""The physical model of a passage: how long the unavoidable physical steps take.

Defaults (issue #12, documented in docs/scenarios.md): the traveller places the passport 2.0 s
after reaching the reader; the reader delivers the MRZ 0.5 s after placement; the chip link runs
at 424 kbit/s with 5 ms per APDU (``simulator.chip.transport.LinkModel``, which counts the
APDUs and bytes of the real read) and a 20 KB DG2 (the portrait is padded to that size); doors
take 1.0 s to open and 1.0 s to close; people walk at 1.2 m/s; the camera delivers 15 frames/s;
the traveller faces the camera 1.0 s after entering. Distances come from the lane geometry of
the gate-controller simulator (``simulator.gatectl.model.LaneGeometry``): the reader stands at
the approach beam, the traveller faces the camera inside the mantrap and leaves past the exit
beam.

:meth:`PhysicalModel.minimum` is the physical minimum of one accepted two-step passage: those
steps back to back, with no software time at all. Passage times are measured from the moment the
traveller reaches the reader to the moment the traveller has cleared the exit beam.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from simulator.chip.transport import LinkModel
from simulator.gatectl.model import LaneGeometry


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

    @property
    def geometry(self) -> LaneGeometry:
        return LaneGeometry(door_travel_s=self.door_open_seconds)

    @property
    def link(self) -> LinkModel:
        return LinkModel(bitrate=self.chip_bitrate, latency=self.apdu_seconds)

    def walk_seconds(self, metres: float, slow: bool = False) -> float:
        return metres / self.walking_speed * (self.slow_factor if slow else 1.0)

    # distances along the lane (metres)
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
        """From the camera spot to clear of the exit beam (the body past it)."""
        g = self.geometry
        return g.exit_beam + g.body_depth / 2 - self.camera_spot

    @property
    def camera_to_reader(self) -> float:
        """Back from the camera spot to the reader (a walk-back or a referral)."""
        return self.camera_spot + self.reader_to_entry

    @property
    def reader_to_clear(self) -> float:
        """One-step: from the reader through the single barrier to clear of the beam past it."""
        g = self.geometry
        return self.reader_to_entry + (g.exit_beam - g.exit_door) + g.body_depth / 2

    def face_capture_seconds(self) -> float:
        return self.face_frames / self.camera_fps

    def minimum(self, chip_seconds: float, flow: str = "two-step") -> float:
        """The physical minimum of one accepted passage (seconds), given the modelled link time
        of a genuine chip read (``chip_seconds``): the steps of :meth:`minimum_steps` back to
        back."""
        return sum(self.minimum_steps(chip_seconds, flow).values())

    def minimum_steps(self, chip_seconds: float, flow: str = "two-step") -> dict[str, float]:
        """The unavoidable steps of an accepted passage, in order.

        Two-step: document, MRZ, chip, entry opens, walk in, face the camera, the frames, exit
        opens, walk out. One-step: the traveller faces the camera at the reader while the chip
        is read (the frames take less time than the chip), then the single barrier opens."""
        if flow == "one-step":
            return {
                "place_document": self.place_document_seconds,
                "mrz_delivery": self.mrz_delivery_seconds,
                "chip_link": max(chip_seconds, self.face_capture_seconds()),
                "barrier_opens": self.door_open_seconds,
                "walk_out": self.walk_seconds(self.reader_to_clear),
            }
        return {
            "place_document": self.place_document_seconds,
            "mrz_delivery": self.mrz_delivery_seconds,
            "chip_link": chip_seconds,
            "entry_opens": self.door_open_seconds,
            "walk_to_entry": self.walk_seconds(self.reader_to_entry),
            "face_the_camera": self.face_after_entry_seconds,
            "face_frames": self.face_capture_seconds(),
            "exit_opens": self.door_open_seconds,
            "walk_out": self.walk_seconds(self.camera_to_clear),
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
