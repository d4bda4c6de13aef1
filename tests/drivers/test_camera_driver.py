"""OpenCV camera driver: files, loss and reconnect, clear errors."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from drivers.camera import (
    CameraEndOfStream,
    CameraError,
    CameraUnavailable,
    OpenCVCamera,
    describe_source,
    open_camera,
    parse_source,
)
from gate.config import CameraConfig


def write_video(path: Path, frames: int, size: tuple[int, int] = (64, 48)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 20 + 30 * i, np.uint8))
    writer.release()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class FakeCapture:
    """Delivers ``good`` frames, then fails every read (a camera that was unplugged)."""

    def __init__(self, good: int, opened: bool = True) -> None:
        self.good, self.opened, self.released = good, opened, False

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, Any]:
        if self.good > 0:
            self.good -= 1
            return True, np.zeros((4, 4, 3), np.uint8)
        return False, None

    def release(self) -> None:
        self.released = True


def test_source_parsing_and_descriptions_hide_credentials() -> None:
    assert parse_source("0") == 0 and parse_source(" 2 ") == 2
    assert parse_source("rtsp://x/y") == "rtsp://x/y"
    text = describe_source("rtsp://admin:secret@10.0.0.5:554/stream1")
    assert "secret" not in text and "10.0.0.5:554" in text
    assert describe_source(0).startswith("camera device 0")


def test_video_file_frames_have_increasing_timestamps_and_end(tmp_path: Path) -> None:
    video = tmp_path / "lane.avi"
    write_video(video, 5)
    cam = OpenCVCamera(str(video))
    with cam:
        frames = list(cam)
        with pytest.raises(CameraEndOfStream, match="end of file after 5 frames"):
            cam.read()
    assert [f.index for f in frames] == [1, 2, 3, 4, 5]
    assert all(b.timestamp >= a.timestamp for a, b in itertools.pairwise(frames))
    assert frames[0].image.shape == (48, 64, 3)
    # brightness follows the written frames: they are really decoded in order
    means = [float(f.image.mean()) for f in frames]
    assert means == sorted(means)


def test_video_file_loops_when_asked(tmp_path: Path) -> None:
    video = tmp_path / "lane.avi"
    write_video(video, 3)
    with OpenCVCamera(str(video), loop=True) as cam:
        means = [float(cam.read().image.mean()) for _ in range(7)]
    assert means[3] == pytest.approx(means[0], abs=2) and means[6] == pytest.approx(means[0], abs=2)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match=r"nope\.avi.*no such file"):
        OpenCVCamera(str(tmp_path / "nope.avi")).open()


def test_file_that_decodes_nothing_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(CameraUnavailable, match=r"junk\.avi"):
        OpenCVCamera(str(junk)).read()


def test_loss_then_reconnect_keeps_frame_numbering() -> None:
    clock = FakeClock()
    captures = [FakeCapture(3), FakeCapture(0, opened=False), FakeCapture(2)]
    made: list[FakeCapture] = []

    def factory(_target: str | int) -> FakeCapture:
        made.append(captures.pop(0))
        return made[-1]

    cam = OpenCVCamera(
        "rtsp://cam/1",
        frame_timeout=5.0,
        reconnect_interval=0.5,
        capture_factory=factory,
        clock=clock,
        sleep=clock.sleep,
    )
    got = [cam.read().index for _ in range(5)]
    assert got == [1, 2, 3, 4, 5]
    assert cam.reconnects == 2 and made[0].released
    assert clock.now - 100.0 <= 1.0 + 1e-9  # one failed reopen, one reconnect interval


def test_source_that_stops_delivering_raises_after_the_frame_timeout() -> None:
    clock = FakeClock()
    captures = iter([FakeCapture(1)] + [FakeCapture(0) for _ in range(100)])
    cam = OpenCVCamera(
        0,
        frame_timeout=2.0,
        reconnect_interval=0.5,
        capture_factory=lambda _t: next(captures),
        clock=clock,
        sleep=clock.sleep,
    )
    cam.read()
    start = clock.now
    with pytest.raises(CameraUnavailable, match=r"camera device 0.*no frame for 2\.0 s.*video"):
        cam.read()
    assert clock.now - start == pytest.approx(2.0)
    assert cam.reconnects >= 3


def test_device_that_never_opens_is_a_clear_error() -> None:
    clock = FakeClock()
    cam = OpenCVCamera(
        3,
        frame_timeout=1.0,
        reconnect_interval=0.25,
        capture_factory=lambda _t: FakeCapture(0, opened=False),
        clock=clock,
        sleep=clock.sleep,
    )
    with pytest.raises(CameraUnavailable, match=r"camera device 3.*cannot open.*'video' group"):
        cam.open()


def test_open_camera_chooses_the_implementation(tmp_path: Path) -> None:
    video = tmp_path / "v.avi"
    write_video(video, 2)
    assert isinstance(open_camera(CameraConfig(source=str(video))), OpenCVCamera)
    from simulator.camera import ImageSequenceCamera, SceneCamera

    assert isinstance(open_camera(CameraConfig(source="simulator")), SceneCamera)
    assert isinstance(open_camera(CameraConfig(source=str(tmp_path))), ImageSequenceCamera)


class ShapedCapture(FakeCapture):
    def __init__(self, image: np.ndarray) -> None:
        super().__init__(1)
        self.image = image

    def read(self) -> tuple[bool, Any]:
        return True, self.image


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        (np.full((4, 6), 7, np.uint8), True),
        (np.full((4, 6, 1), 7, np.uint8), True),
        (np.full((4, 6, 4), 7, np.uint8), True),
        (np.full((4, 6, 3), 7, np.uint16), False),
        (np.full((4, 6, 2), 7, np.uint8), False),
        (np.full((4, 6, 3), 7.0, np.float32), False),
    ],
)
def test_odd_frames_become_bgr_or_a_camera_error(image: np.ndarray, ok: bool) -> None:
    cam = OpenCVCamera("rtsp://cam/1", capture_factory=lambda _t: ShapedCapture(image))
    if ok:
        frame = cam.read()
        assert frame.image.shape == (4, 6, 3) and frame.image.dtype == np.uint8
        assert (frame.image == 7).all()
    else:
        with pytest.raises(CameraError, match="8-bit colour"):
            cam.read()
