"""Gate camera: OpenCV VideoCapture from a device index, a video file or an RTSP/HTTP URL.

    cam = open_camera(config.camera)          # LaneConfig.camera
    with cam:
        frame = cam.read()                    # Frame(image BGR uint8, timestamp, index, ...)

Every camera (this driver, the simulator's scene camera and image-sequence camera) implements
:class:`Camera`: ``open()``, ``read() -> Frame``, ``close()``, iteration and ``aframes()`` for
asyncio. ``read()`` hides short losses: when the source stops delivering it releases and
reopens it every ``reconnect_interval`` seconds, and raises :class:`CameraUnavailable` only
when no frame has come for ``frame_timeout`` seconds, with a message saying what to check.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import cv2
import numpy as np

from drivers import registry
from gate.errors import EgateError

if TYPE_CHECKING:
    from gate.config import CameraConfig

log = logging.getLogger(__name__)

URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


class CameraError(EgateError):
    """Base of camera errors."""

    reason_code = "CAMERA_NO_FRAMES"


class CameraUnavailable(CameraError):
    """The source delivers no frames (cannot be opened, or stopped and did not come back)."""


class CameraEndOfStream(CameraError):
    """A video file or image sequence ended and looping is off."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR, uint8, shape (height, width, 3)
    timestamp: float  # time.monotonic() (or the simulated clock) when the frame was captured
    wall_time: float  # time.time() at capture, for logs and events
    index: int  # frames delivered since open(), across reconnects
    source: str

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@runtime_checkable
class Camera(Protocol):
    source: str
    width: int
    height: int
    fps: float

    def open(self) -> None: ...

    def read(self) -> Frame: ...

    def close(self) -> None: ...


class CameraBase:
    """Shared context-manager, iteration and asyncio helpers."""

    source: str = ""

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> Frame:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> CameraBase:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while True:
            try:
                yield self.read()
            except CameraEndOfStream:
                return

    async def aframes(self) -> AsyncIterator[Frame]:
        """Frames for asyncio code; each blocking read runs in a worker thread."""
        while True:
            try:
                yield await asyncio.to_thread(self.read)
            except CameraEndOfStream:
                return


def parse_source(source: str | int) -> str | int:
    """'0' -> device index 0; anything else stays a path or URL."""
    if isinstance(source, int):
        return source
    text = source.strip()
    if text.isdigit():
        return int(text)
    return text


def describe_source(source: str | int) -> str:
    if isinstance(source, int):
        return f"camera device {source} (/dev/video{source})"
    if source.startswith(URL_SCHEMES):
        scheme, _, rest = source.partition("://")
        host = rest.split("@")[-1].split("/")[0]  # never print credentials
        return f"stream {scheme}://{host}/..."
    return f"video file {source!r}"


def _advice(source: str | int) -> str:
    if isinstance(source, int):
        return (
            "check that the camera is plugged in, that /dev/video* exists and that this user "
            "is in the 'video' group"
        )
    if source.startswith(URL_SCHEMES):
        return "check the URL, the network route, the credentials and that the camera streams"
    return "check that the file exists, is readable and is a video OpenCV can decode"


CaptureFactory = Callable[[str | int], Any]


def as_bgr_frame(image: np.ndarray, source: str) -> np.ndarray:
    """The 8-bit BGR (height, width, 3) image :class:`Frame` promises, from the grey, BGR or
    BGRA images capture backends deliver; anything else (16-bit depth/IR frames, raw YUYV
    with 2 channels) is a :class:`CameraError` instead of a crash further down the lane."""
    if image.dtype == np.uint8:
        if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
            return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
        if image.ndim == 3 and image.shape[2] == 3:
            return image
        if image.ndim == 3 and image.shape[2] == 4:
            return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise CameraError(
        f"{source}: delivers {image.dtype} frames of shape {image.shape}; configure it for "
        "8-bit colour (BGR) or grey output (e.g. CAP_PROP_CONVERT_RGB on, no depth/IR stream)"
    )


class OpenCVCamera(CameraBase):
    def __init__(
        self,
        source: str | int,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        frame_timeout: float = 5.0,
        reconnect_interval: float = 1.0,
        loop: bool = False,
        pace: bool = False,
        capture_factory: CaptureFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.target = parse_source(source)
        self.source = describe_source(self.target)
        self.width, self.height, self.fps = width, height, fps
        self.frame_timeout = frame_timeout
        self.reconnect_interval = reconnect_interval
        self.loop = loop
        self.pace = pace
        self._factory = capture_factory or self._default_capture
        self._clock = clock
        self._sleep = sleep
        self._cap: Any = None
        self._index = 0
        self._last_good: float | None = None
        self._last_attempt = -1e18
        self._since_open = 0
        self._ended = False
        self._started: float | None = None
        self.reconnects = 0
        self.last_error = "not opened"
        self._is_file = isinstance(self.target, str) and not self.target.startswith(URL_SCHEMES)

    @classmethod
    def from_config(cls, config: CameraConfig, **kwargs: Any) -> OpenCVCamera:
        return cls(
            config.source,
            width=config.width,
            height=config.height,
            fps=config.fps,
            frame_timeout=config.frame_timeout_seconds,
            reconnect_interval=config.reconnect_seconds,
            **kwargs,
        )

    def _default_capture(self, target: str | int) -> Any:
        timeout_ms = int(max(1.0, self.frame_timeout) * 1000)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            timeout_ms,
        ]
        if isinstance(target, int):
            cap = cv2.VideoCapture(target, cv2.CAP_ANY, params)
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a queue of old ones
            return cap
        return cv2.VideoCapture(target, cv2.CAP_ANY, params)

    # ----------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Open the source; raises CameraUnavailable at once if it cannot be opened."""
        if self._is_file and not os.path.exists(str(self.target)):
            raise CameraUnavailable(
                f"{self.source}: no such file; {_advice(self.target)} "
                "(or set [camera] source to a device index or URL)"
            )
        self._started = self._clock()
        self._ended = False
        self._last_good = None
        while not self._try_open():
            elapsed = self._clock() - self._started
            if self._is_file or elapsed + self.reconnect_interval > self.frame_timeout:
                raise CameraUnavailable(
                    f"{self.source}: cannot open ({self.last_error}, tried for {elapsed:.1f} s); "
                    f"{_advice(self.target)}"
                )
            self._sleep(self.reconnect_interval)

    def close(self) -> None:
        self._release()
        self._started = None  # a later read() opens the source again

    def _release(self) -> None:
        if self._cap is not None:
            try:
                self._cap.release()
            except cv2.error as exc:  # pragma: no cover - driver specific
                log.warning("camera %s: release failed: %s", self.source, exc)
            self._cap = None

    def _try_open(self) -> bool:
        self._last_attempt = self._clock()
        try:
            cap = self._factory(self.target)
        except (cv2.error, OSError) as exc:
            self.last_error = f"OpenCV error: {exc}"
            return False
        if cap is None or not cap.isOpened():
            self.last_error = "OpenCV could not open it"
            if cap is not None:
                cap.release()
            return False
        self._cap = cap
        self._since_open = 0
        return True

    # ----------------------------------------------------------------- reading

    def read(self) -> Frame:
        if self._started is None:
            self.open()
        assert self._started is not None
        if self._ended:
            raise CameraEndOfStream(f"{self.source}: end of file after {self._index} frames")
        waited_from = self._last_good if self._last_good is not None else self._started
        while True:
            if self._cap is None:
                now = self._clock()
                if now - waited_from >= self.frame_timeout:
                    raise CameraUnavailable(
                        f"{self.source}: no frame for {now - waited_from:.1f} s "
                        f"({self.reconnects} reconnect attempts; last error: {self.last_error}); "
                        f"{_advice(self.target)}"
                    )
                next_try = self._last_attempt + self.reconnect_interval
                if now < next_try:
                    self._sleep(min(next_try, waited_from + self.frame_timeout) - now)
                    continue
                self.reconnects += 1
                if self._try_open():
                    log.info("camera %s: reopened after a loss", self.source)
                continue
            try:
                ok, image = self._cap.read()
            except cv2.error as exc:
                ok, image = False, None
                self.last_error = f"OpenCV error while reading: {exc}"
            if ok and image is not None and image.size:
                return self._deliver(image)
            if self._is_file:
                if self._since_open == 0:
                    self._release()
                    raise CameraUnavailable(
                        f"{self.source}: opened but delivered no frame; {_advice(self.target)}"
                    )
                if not self.loop:
                    self._ended = True
                    raise CameraEndOfStream(
                        f"{self.source}: end of file after {self._index} frames"
                    )
                self._release()
                self._try_open()
                continue
            self.last_error = "the source stopped delivering frames"
            log.warning("camera %s: lost, reconnecting", self.source)
            self._release()
            self._last_attempt = -1e18 if self._since_open else self._clock()

    def _deliver(self, image: np.ndarray) -> Frame:
        now = self._clock()
        if self.pace and self._last_good is not None and self.fps > 0:
            wait = self._last_good + 1.0 / self.fps - now
            if wait > 0:
                self._sleep(wait)
                now = self._clock()
        image = as_bgr_frame(image, self.source)
        self._last_good = now
        self._since_open += 1
        self._index += 1
        return Frame(image, now, time.time(), self._index, self.source)


def open_camera(config: CameraConfig, **kwargs: Any) -> CameraBase:
    """The camera a lane configuration asks for: 'simulator', an image directory (simulator
    image-sequence mode), a device index, a video file or a stream URL. The implementation
    comes from the device registry (:mod:`drivers.registry`)."""
    camera: CameraBase = registry.build("camera", registry.camera_kind(config), config, **kwargs)
    return camera
