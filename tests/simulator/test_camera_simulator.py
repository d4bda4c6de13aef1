"""Simulated cameras: scene composition geometry, tailgating, pose, lighting, sequences."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera import Camera, CameraEndOfStream, CameraUnavailable, open_camera
from gate.config import CameraConfig
from simulator.camera import (
    FaceTruth,
    ImageSequenceCamera,
    SceneCamera,
    list_images,
    load_face,
)
from tests.conftest import require_testdata


def frontal(faces_dir: Path | None = None, **kw: object) -> SceneCamera:
    return SceneCamera(
        faces_dir=faces_dir,
        head_motion=False,
        lighting=False,
        noise=0.0,
        **kw,  # type: ignore[arg-type]
    )


def traveller(faces: tuple[FaceTruth, ...]) -> FaceTruth:
    (lead,) = [f for f in faces if f.role == "traveller"]
    return lead


def test_scene_camera_is_a_camera_with_configured_geometry() -> None:
    cam = open_camera(CameraConfig(source="simulator", width=320, height=240, fps=10))
    assert isinstance(cam, SceneCamera) and isinstance(cam, Camera)
    cam.realtime = False
    with cam:
        frames = [cam.read() for _ in range(3)]
    assert all(f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [f.index for f in frames] == [1, 2, 3]
    assert frames[1].timestamp - frames[0].timestamp == pytest.approx(0.1)
    assert not cam.uses_real_faces  # no faces_dir: drawn figures


def test_approach_makes_the_face_grow_and_stay_inside_the_frame() -> None:
    cam = frontal(cycle_seconds=8.0, tailgate_every=0)
    widths = []
    for t in np.arange(0.0, 4.4, 0.4):
        image, faces = cam.render(float(t))
        face = traveller(faces)
        x, y, w, h = face.box
        assert x >= 0 and y >= 0 and x + w <= image.shape[1] and y + h <= image.shape[0]
        widths.append(w)
    assert widths == sorted(widths) and widths[-1] > 3 * widths[0]
    # pinhole model: the box width scales with 1/distance
    _, near = cam.render(4.4)
    _, far = cam.render(0.0)
    ratio = traveller(near).box[2] / traveller(far).box[2]
    assert ratio == pytest.approx(traveller(far).distance_m / traveller(near).distance_m, rel=0.1)


def test_tailgater_appears_behind_and_smaller() -> None:
    cam = frontal(tailgate_every=1)
    _, faces = cam.render(4.0)
    roles = {f.role: f for f in faces}
    assert set(roles) == {"traveller", "tailgater"}
    assert roles["tailgater"].distance_m > roles["traveller"].distance_m
    assert roles["tailgater"].box[2] < roles["traveller"].box[2]
    # only every n-th traveller has a follower
    cam = frontal(tailgate_every=3, cycle_seconds=8.0)
    counts = [len(cam.render(8.0 * k + 4.0)[1]) for k in range(3)]
    assert counts == [1, 1, 2]


def test_head_pose_and_lighting_change_the_frames() -> None:
    cam = SceneCamera(noise=0.0)
    poses = {
        (round(f.yaw_deg), round(f.roll_deg)) for t in range(20) for f in cam.render(t * 0.3)[1]
    }
    assert len(poses) > 10
    flat = frontal()
    lit = SceneCamera(head_motion=False, noise=0.0)
    means = [float(lit.render(t)[0].mean()) for t in (0.2, 2.75, 8.25)]
    assert max(means) - min(means) > 20  # brightness drifts and dips
    assert float(flat.render(0.2)[0].mean()) == pytest.approx(
        float(flat.render(2.75)[0].mean()), abs=8
    )


def test_real_face_images_are_composited_where_the_truth_says() -> None:
    faces_dir = require_testdata("faces", "dlib_johns")
    cam = frontal(faces_dir, tailgate_every=0)
    assert cam.uses_real_faces
    image, faces = cam.render(5.0)  # standing at 0.55 m, frontal
    face = traveller(faces)
    x, y, w, h = face.box
    assert w > 120 and h > 120
    source = load_face(next(p for p in list_images(faces_dir) if p.name == face.image))
    assert source is not None
    # undo the (pure scale) placement: the box is the elliptical mask's extent (axes 108 x 125
    # of the 256-pixel patch), so the source region it shows is known
    patch = cv2.cvtColor(image[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY).astype(np.float32)
    gray = cv2.cvtColor(source, cv2.COLOR_BGR2GRAY)[3:253, 20:236]
    ref = cv2.resize(gray, (w, h)).astype(np.float32)
    inner = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
    a, b = patch[inner].ravel(), ref[inner].ravel()
    corr = float(np.corrcoef(a, b)[0, 1])
    assert corr > 0.95
    # and the same place in an empty scene is not that face
    empty = cv2.cvtColor(cam._background, cv2.COLOR_BGR2GRAY)[y : y + h, x : x + w].astype(
        np.float32
    )
    corr_bg = np.corrcoef(empty[inner].ravel() + np.arange(a.size) * 1e-6, b)[0, 1]
    assert corr_bg < 0.5


def test_missing_or_empty_faces_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="no decodable face image"):
        SceneCamera(faces_dir=tmp_path)


def test_outage_shorter_than_timeout_is_ridden_out_longer_raises() -> None:
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    cam = SceneCamera(frame_timeout=1.0, clock=lambda: now[0], sleep=sleep, noise=0.0)
    cam.read()
    cam.interrupt(0.5)
    assert cam.read().index == 2 and now[0] == pytest.approx(0.5)
    cam.interrupt(3.0)
    with pytest.raises(CameraUnavailable, match=r"no frame for 1\.0 s"):
        cam.read()


def test_image_sequence_mode_letterboxes_and_loops(tmp_path: Path) -> None:
    for i, (w, h) in enumerate([(100, 50), (60, 60), (30, 90)]):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), np.full((h, w, 3), 50 * (i + 1), np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    cam = ImageSequenceCamera(tmp_path, width=200, height=100)
    frames = [cam.read() for _ in range(4)]
    assert all(f.image.shape == (100, 200, 3) for f in frames)
    centres = [int(f.image[50, 100, 0]) for f in frames]
    assert centres == [50, 100, 150, 50]
    assert int(frames[0].image[50, 5, 0]) == 50  # 2:1 image fills the 2:1 frame
    assert int(frames[2].image[50, 5, 0]) == 32  # 1:3 image is padded left and right
    once = ImageSequenceCamera(tmp_path, loop=False)
    assert len(list(once)) == 3
    with pytest.raises(CameraEndOfStream):
        once.read()


def test_image_sequence_without_images_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="no image files"):
        ImageSequenceCamera(tmp_path).read()


def _png_bomb(width: int, height: int) -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00" * 64
    )


def test_image_sequence_skips_hostile_files(tmp_path: Path) -> None:
    (tmp_path / "00.png").write_bytes(_png_bomb(30_000, 30_000))  # 900 Mpx announced
    ok, jpeg = cv2.imencode(".jpg", np.full((40, 40, 3), 90, np.uint8))
    assert ok
    (tmp_path / "01.jpg").write_bytes(jpeg.tobytes()[:30])  # truncated
    (tmp_path / "02.png").write_bytes(b"")
    cv2.imwrite(str(tmp_path / "03.png"), np.full((50, 100, 3), 120, np.uint8))
    cv2.imwrite(str(tmp_path / "04.png"), np.full((50, 100, 3), 60, np.uint8))
    cam = ImageSequenceCamera(tmp_path, width=100, height=50, loop=False)
    cam.open()
    (tmp_path / "04.png").unlink()  # removed after the directory was listed
    frames = list(cam)
    assert len(frames) == 1 and int(frames[0].image[25, 50, 0]) == 120
