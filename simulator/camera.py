"""Simulated gate cameras, interchangeable with :class:`drivers.camera.OpenCVCamera`.

:class:`SceneCamera` renders a gate scene (wall, floor, door frame) and composites face images
into it: each traveller approaches from about 3 m to 0.5 m, stands while the head turns a little,
then leaves; every ``tailgate_every``-th traveller has a second person close behind. Head pose
is approximated by affine warps (roll = rotation, yaw = horizontal foreshortening and shear,
pitch = vertical foreshortening); lighting drifts and dips; sensor noise is added. Every frame
is a :class:`SimulatedFrame`: a :class:`drivers.camera.Frame` that also carries the composited
face boxes (:class:`FaceTruth`) as ground truth. Production frames carry no such field.

Faces come from ``faces_dir`` (face-centred crops work best, e.g. aligned 150x150 chips or chip
portraits; a full photo is centre-cropped to a square). Without a directory a procedurally drawn
face-like figure is used so the simulator runs on a fresh machine; a face detector may not find
that figure.

:class:`ImageSequenceCamera` plays a directory of images (sorted by name) letterboxed to the
configured resolution. A video file is played by the real driver (``OpenCVCamera``).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from drivers.camera import CameraBase, CameraEndOfStream, CameraUnavailable, Frame
from gate.face.errors import ImageError
from gate.face.portrait import load_image_file

if TYPE_CHECKING:
    from gate.config import CameraConfig

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm"}
HEAD_WIDTH_M = 0.22  # width of the composited head patch (a face is about 0.16 m wide)
FACE_WIDTH_M = 0.16


def list_images(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def decode_file(path: Path) -> np.ndarray | None:
    """A BGR image from a file, or None when it is unreadable, corrupt or announces more
    pixels than :data:`gate.face.portrait.IMAGE_MAX_PIXELS` (checked before decoding)."""
    try:
        return load_image_file(path)
    except ImageError as exc:
        log.warning("simulator camera: skipping %s: %s", path, exc)
        return None


def load_face(path: Path) -> np.ndarray | None:
    """A square, face-centred BGR patch from an image file (None if it cannot be decoded)."""
    image = decode_file(path)
    if image is None:
        return None
    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    patch = image[y0 : y0 + side, x0 : x0 + side]
    return cv2.resize(patch, (256, 256), interpolation=cv2.INTER_AREA)


def procedural_face(seed: int) -> np.ndarray:
    """A face-like drawing (skin oval, hair, eyes, brows, nose, mouth) on a 256x256 patch."""
    rng = random.Random(seed)
    img = np.full((256, 256, 3), (90, 90, 90), np.uint8)
    skin = rng.choice([(150, 180, 225), (120, 160, 205), (90, 125, 170), (60, 85, 120)])
    hair = rng.choice([(20, 20, 20), (30, 60, 100), (160, 190, 210), (90, 90, 90)])
    cv2.ellipse(img, (128, 118), (92, 112), 0, 180, 360, hair, -1)
    cv2.ellipse(img, (128, 138), (80, 104), 0, 0, 360, skin, -1)
    for x in (96, 160):
        cv2.ellipse(img, (x, 122), (16, 8), 0, 0, 360, (245, 245, 245), -1)
        cv2.circle(img, (x + rng.randint(-3, 3), 122), 6, (60, 40, 20), -1)
        cv2.line(img, (x - 18, 102), (x + 18, 100), hair, 5)
    cv2.line(
        img, (128, 128), (120, 168), (int(skin[0] * 0.7), int(skin[1] * 0.7), int(skin[2] * 0.7)), 3
    )
    cv2.ellipse(img, (128, 196), (26, 9), 0, 0, 180, (70, 70, 160), -1)
    return cv2.GaussianBlur(img, (5, 5), 0)


def gate_background(width: int, height: int) -> np.ndarray:
    """A static gate scene: wall gradient, floor, door frame, ceiling light, sign."""
    img = np.zeros((height, width, 3), np.uint8)
    ramp = np.linspace(150, 110, height, dtype=np.float32)[:, None]
    img[:] = np.stack([ramp * 1.05, ramp, ramp * 0.92], axis=-1).astype(np.uint8)
    horizon = int(height * 0.62)
    floor = np.array(
        [[0, height], [width, height], [int(width * 0.7), horizon], [int(width * 0.3), horizon]]
    )
    cv2.fillPoly(img, [floor], (95, 100, 105))
    frame_col = (70, 75, 80)
    cv2.rectangle(
        img, (int(width * 0.22), int(height * 0.08)), (int(width * 0.27), horizon), frame_col, -1
    )
    cv2.rectangle(
        img, (int(width * 0.73), int(height * 0.08)), (int(width * 0.78), horizon), frame_col, -1
    )
    cv2.rectangle(
        img,
        (int(width * 0.22), int(height * 0.05)),
        (int(width * 0.78), int(height * 0.1)),
        frame_col,
        -1,
    )
    cv2.rectangle(
        img,
        (int(width * 0.05), int(height * 0.15)),
        (int(width * 0.15), int(height * 0.3)),
        (40, 140, 40),
        -1,
    )
    cv2.rectangle(
        img, (int(width * 0.4), 0), (int(width * 0.6), int(height * 0.03)), (235, 240, 240), -1
    )
    return img


@dataclass(frozen=True)
class FaceTruth:
    """Where the simulator composited a face (ground truth for tests and benchmarks)."""

    box: tuple[int, int, int, int]  # x, y, w, h in pixels
    person: int
    role: str  # "traveller" or "tailgater"
    distance_m: float
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    image: str = ""


@dataclass(frozen=True)
class SimulatedFrame(Frame):
    """A frame of the scene camera with the faces composited into it."""

    faces: tuple[FaceTruth, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Pose:
    cx: float  # face centre, pixels
    cy: float
    distance_m: float
    yaw: float = 0.0  # degrees
    pitch: float = 0.0
    roll: float = 0.0


class SceneCamera(CameraBase):
    def __init__(
        self,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        faces_dir: Path | None = None,
        cycle_seconds: float = 8.0,
        tailgate_every: int = 3,
        head_motion: bool = True,
        lighting: bool = True,
        noise: float = 3.0,
        hfov_deg: float = 60.0,
        realtime: bool = False,
        frame_timeout: float = 5.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.width, self.height, self.fps = width, height, fps
        self.source = f"simulator scene ({faces_dir or 'procedural faces'})"
        self.cycle = cycle_seconds
        self.tailgate_every = tailgate_every
        self.head_motion = head_motion
        self.lighting = lighting
        self.noise = noise
        self.focal = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
        self.realtime = realtime
        self.frame_timeout = frame_timeout
        self._clock, self._sleep = clock, sleep
        self._rng = np.random.default_rng(seed)
        self._seed = seed
        self._faces: list[tuple[str, np.ndarray]] = []
        if faces_dir is not None:
            for path in list_images(Path(faces_dir)):
                face = load_face(path)
                if face is not None:
                    self._faces.append((path.name, face))
            if not self._faces:
                raise CameraUnavailable(
                    f"simulator camera: no decodable face image in {faces_dir}; give a directory "
                    "of face-centred JPEG/PNG images or leave faces_dir empty for drawn faces"
                )
        self._background = gate_background(width, height)
        mask = np.zeros((256, 256), np.uint8)
        cv2.ellipse(mask, (128, 128), (108, 125), 0, 0, 360, 255, -1)
        self._mask = cv2.GaussianBlur(mask, (0, 0), 5)
        # a few precomputed sensor-noise fields, picked at random per frame (cheap)
        self._noise = [
            self._rng.normal(0.0, noise, (height, width, 3)).astype(np.float32)
            for _ in range(4 if noise else 0)
        ]
        self._index = 0
        self._opened = False
        self._outage_until = 0.0
        self._start = 0.0

    @classmethod
    def from_config(cls, config: CameraConfig, **kwargs: Any) -> SceneCamera:
        faces = Path(config.faces_dir) if config.faces_dir else None
        kwargs.setdefault("realtime", True)
        return cls(
            width=config.width,
            height=config.height,
            fps=config.fps,
            faces_dir=faces,
            frame_timeout=config.frame_timeout_seconds,
            **kwargs,
        )

    @property
    def uses_real_faces(self) -> bool:
        return bool(self._faces)

    def open(self) -> None:
        self._opened = True
        self._start = self._clock()

    def close(self) -> None:
        self._opened = False

    def interrupt(self, seconds: float) -> None:
        """Fault: deliver nothing for ``seconds`` (read() waits; longer than frame_timeout
        raises CameraUnavailable, like a lost real camera)."""
        self._outage_until = self._clock() + seconds

    # ----------------------------------------------------------------- scenario

    def face_for(self, person: int) -> tuple[str, np.ndarray]:
        if self._faces:
            return self._faces[person % len(self._faces)]
        return (f"procedural-{person}", procedural_face(self._seed * 1000 + person))

    def poses(self, t: float) -> list[tuple[int, str, Pose]]:
        """Who is in view at scene time ``t`` (seconds): (person, role, pose), far first."""
        person, phase = divmod(t, self.cycle)
        person_i = int(person)
        u = phase / self.cycle
        out: list[tuple[int, str, Pose]] = []
        lead = self._traveller_pose(person_i, u)
        if lead is not None:
            out.append((person_i, "traveller", lead))
        if self.tailgate_every and person_i % self.tailgate_every == self.tailgate_every - 1:
            follow = self._traveller_pose(person_i, u - 0.12, behind=0.7, lateral=0.22)
            if follow is not None:
                out.insert(0, (person_i + 10_000, "tailgater", follow))
        return out

    def _traveller_pose(
        self, person: int, u: float, behind: float = 0.0, lateral: float = 0.0
    ) -> Pose | None:
        if u < 0:
            return None
        # approach 0..0.55 (3.0 m -> 0.55 m), stand 0.55..0.85, leave sideways 0.85..1
        if u < 0.55:
            d = 3.0 - (3.0 - 0.55) * (u / 0.55)
            drift = 0.0
        elif u < 0.85:
            d, drift = 0.55, 0.0
        else:
            d, drift = 0.55, (u - 0.85) / 0.15 * 0.9
        d += behind
        x_m = lateral + drift + 0.03 * math.sin(person * 1.7)
        y_m = -0.05 + 0.03 * math.cos(person * 2.3)  # faces slightly above the optical axis
        cx = self.width / 2 + self.focal * x_m / d
        cy = self.height / 2 + self.focal * y_m / d
        yaw = pitch = roll = 0.0
        if self.head_motion:
            w = 2 * math.pi * u * self.cycle
            yaw = (25 if u < 0.55 else 8) * math.sin(w * 0.35 + person)
            pitch = 10 * math.sin(w * 0.23 + 2 * person)
            roll = 8 * math.sin(w * 0.17 + 3 * person)
        return Pose(cx, cy, d, yaw, pitch, roll)

    # ----------------------------------------------------------------- rendering

    def render(self, t: float) -> tuple[np.ndarray, tuple[FaceTruth, ...]]:
        """The frame at scene time ``t`` and the faces composited into it."""
        canvas = self._background.astype(np.float32)
        truths: list[FaceTruth] = []
        for person, role, pose in self.poses(t):
            name, face = self.face_for(person)
            box = self._composite(canvas, face, pose)
            if box is not None:
                truths.append(
                    FaceTruth(
                        box,
                        person,
                        role,
                        round(pose.distance_m, 3),
                        pose.yaw,
                        pose.pitch,
                        pose.roll,
                        name,
                    )
                )
        if self.lighting:
            gain = 1.0 + 0.25 * math.sin(2 * math.pi * t / 11.0)
            if (t % 17.0) < 0.8:  # a passing shadow / backlight dip
                gain *= 0.55
            canvas *= gain
        if self._noise:
            canvas += self._noise[int(self._rng.integers(len(self._noise)))]
        return np.clip(canvas, 0, 255).astype(np.uint8), tuple(truths)

    def _composite(
        self, canvas: np.ndarray, face: np.ndarray, pose: Pose
    ) -> tuple[int, int, int, int] | None:
        size = face.shape[0]  # 256, like self._mask
        scale = self.focal * HEAD_WIDTH_M / pose.distance_m / size
        yaw, pitch, roll = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
        # source patch centre -> origin; foreshorten (yaw, pitch) with a little shear; roll;
        # scale; move to the face centre
        shear = 0.25 * math.sin(yaw)
        a = np.array([[math.cos(yaw), shear], [0.0, math.cos(pitch)]]) * scale
        rot = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])
        lin = rot @ a
        offset = np.array([pose.cx, pose.cy]) - lin @ np.array([size / 2, size / 2])
        matrix = np.hstack([lin, offset[:, None]]).astype(np.float64)
        h, w = canvas.shape[:2]
        # shoulders/torso below the head, so the figure is not a floating face
        head_px = self.focal * HEAD_WIDTH_M / pose.distance_m
        centre = (int(pose.cx), int(pose.cy + 1.35 * head_px))
        axes = (max(1, int(1.1 * head_px)), max(1, int(0.75 * head_px)))
        cv2.ellipse(canvas, centre, axes, 0, 180, 360, (60.0, 50.0, 45.0), -1)
        cv2.rectangle(
            canvas,
            (centre[0] - axes[0], centre[1]),
            (centre[0] + axes[0], h),
            (60.0, 50.0, 45.0),
            -1,
        )
        # warp only the region the patch lands on
        corners = lin @ np.array([[0, size, 0, size], [0, 0, size, size]], dtype=np.float64)
        corners += offset[:, None]
        x0 = max(0, math.floor(corners[0].min()))
        y0 = max(0, math.floor(corners[1].min()))
        x1 = min(w, math.ceil(corners[0].max()) + 1)
        y1 = min(h, math.ceil(corners[1].max()) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        roi = matrix.copy()
        roi[:, 2] -= (x0, y0)
        dsize = (x1 - x0, y1 - y0)
        warped = cv2.warpAffine(face, roi, dsize, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        alpha = cv2.warpAffine(self._mask, roi, dsize, flags=cv2.INTER_LINEAR).astype(np.float32)
        alpha /= 255.0
        ys, xs = np.nonzero(alpha > 0.5)
        if xs.size == 0:
            return None
        alpha3 = alpha[..., None]
        region = canvas[y0:y1, x0:x1]
        region *= 1.0 - alpha3
        region += warped.astype(np.float32) * alpha3
        bx0, bx1, by0, by1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
        return (x0 + bx0, y0 + by0, bx1 - bx0 + 1, by1 - by0 + 1)

    def read(self) -> SimulatedFrame:
        if not self._opened:
            self.open()
        now = self._clock()
        if now < self._outage_until:
            if self._outage_until - now > self.frame_timeout:
                self._sleep(self.frame_timeout)
                raise CameraUnavailable(
                    f"{self.source}: no frame for {self.frame_timeout:.1f} s (simulated outage)"
                )
            self._sleep(self._outage_until - now)
        if self.realtime:
            due = self._start + self._index / self.fps
            wait = due - self._clock()
            if wait > 0:
                self._sleep(wait)
        t = self._index / self.fps
        image, faces = self.render(t)
        self._index += 1
        stamp = self._clock() if self.realtime else self._start + t
        return SimulatedFrame(image, stamp, time.time(), self._index, self.source, faces)


class ImageSequenceCamera(CameraBase):
    def __init__(
        self,
        directory: Path,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        loop: bool = True,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.directory = Path(directory)
        self.source = f"image sequence {self.directory}"
        self.width, self.height, self.fps = width, height, fps
        self.loop, self.realtime = loop, realtime
        self._clock, self._sleep = clock, sleep
        self._paths: list[Path] = []
        self._pos = 0
        self._index = 0
        self._start = 0.0

    @classmethod
    def from_config(cls, config: CameraConfig, **kwargs: Any) -> ImageSequenceCamera:
        kwargs.setdefault("realtime", True)
        return cls(
            Path(config.source), width=config.width, height=config.height, fps=config.fps, **kwargs
        )

    def open(self) -> None:
        if not self.directory.is_dir():
            raise CameraUnavailable(f"{self.source}: not a directory")
        self._paths = list_images(self.directory)
        if not self._paths:
            raise CameraUnavailable(
                f"{self.source}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        self._start = self._clock()

    def close(self) -> None:
        self._paths = []

    def read(self) -> Frame:
        if not self._paths:
            self.open()
        for _ in range(len(self._paths)):
            if self._pos >= len(self._paths):
                if not self.loop:
                    raise CameraEndOfStream(f"{self.source}: end after {self._index} frames")
                self._pos = 0
            path = self._paths[self._pos]
            self._pos += 1
            image = decode_file(path)
            if image is not None:
                return self._deliver(image)
        raise CameraUnavailable(f"{self.source}: none of the {len(self._paths)} files decodes")

    def _deliver(self, image: np.ndarray) -> Frame:
        if self.realtime:
            wait = self._start + self._index / self.fps - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._index += 1
        return Frame(
            letterbox(image, self.width, self.height),
            self._clock(),
            time.time(),
            self._index,
            self.source,
        )


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fit ``image`` into width x height keeping its aspect ratio; pad with dark grey."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(
        image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    out = np.full((height, width, 3), 32, np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = resized
    return out
