"""The face pipeline with the real models: decisions on the test data, hostile inputs, CLI.

Needs the fetched models (skipped with the reason when absent, failing under CI=true) and
testdata/faces."""

from __future__ import annotations

import functools
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.cli import main
from gate.config import FaceConfig
from gate.face import models, onnxgraph
from gate.face.align import align
from gate.face.detect import prepare
from gate.face.errors import ImageError
from gate.face.liveness import LivenessObservation, MotionLiveness
from gate.face.pipeline import FaceEngine, primary_face
from gate.face.portrait import decode_portrait, load_image_file
from gate.face.runtime import make_session
from tests.conftest import require_testdata
from tests.face_helpers import require_models


@pytest.fixture(scope="module")
def engine() -> Iterator[FaceEngine]:
    require_models()
    yield FaceEngine(FaceConfig().models_dir, threads=1)


@functools.cache
def deepface(name: str) -> np.ndarray:
    """A deepface photo, longer side 800 px (read once per test process; do not modify)."""
    image = load_image_file(require_testdata("faces", "deepface", name))
    scale = 800 / max(image.shape[:2])  # smaller originals keep the test fast
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


# deepface tests/unit/test_verify.py (commit 243209f, lines 19-28), see PROVENANCE.md
EXPECTED = [
    ("img1.jpg", "img2.jpg", True),
    ("img5.jpg", "img6.jpg", True),
    ("img6.jpg", "img7.jpg", True),
    ("img8.jpg", "img9.jpg", True),
    ("img1.jpg", "img11.jpg", True),
    ("img2.jpg", "img11.jpg", True),
    ("img1.jpg", "img3.jpg", False),
    ("img2.jpg", "img3.jpg", False),
    ("img6.jpg", "img8.jpg", False),
    ("img6.jpg", "img9.jpg", False),
]


def test_genuine_and_impostor_pairs_get_the_expected_decision(engine: FaceEngine) -> None:
    cache = {}
    for a, b, same in EXPECTED:
        for name in (a, b):
            if name not in cache:
                cache[name] = engine.observe(deepface(name), enhance_if_needed=True)
        result = engine.compare_observations(cache[a], cache[b]).result
        assert result is not None, f"no face in {a} or {b}"
        assert result.match is same, f"{a} vs {b}: similarity {result.similarity:.3f}"


def test_aligned_chip_pairs_from_dlib_johns(engine: FaceEngine) -> None:
    root = require_testdata("faces", "dlib_johns")
    salley = sorted((root / "John_Salley").glob("*.jpg"))[:2]
    savage = sorted((root / "John_Savage").glob("*.jpg"))[:1]
    obs = [engine.observe(load_image_file(p), enhance_if_needed=True) for p in salley + savage]
    assert engine.compare_observations(obs[0], obs[1]).result.match  # type: ignore[union-attr]
    assert not engine.compare_observations(obs[0], obs[2]).result.match  # type: ignore[union-attr]


def test_detector_agrees_with_opencv_yunet(engine: FaceEngine) -> None:
    """Our numpy decoder against OpenCV's own YuNet post-processing on the same 640x640 input."""
    model = Path(FaceConfig().models_dir)
    path = str(model if model.is_absolute() else Path(require_models()))
    reference = cv2.FaceDetectorYN.create(
        f"{path}/face_detection_yunet_2023mar.onnx", "", (640, 640), 0.7, 0.3, 5000
    )
    for name in ("couple.jpg", "selfie-many-people.jpg"):
        image = deepface(name)
        blob, _ = prepare(image)
        canvas = np.zeros((640, 640, 3), np.uint8)
        canvas[: blob.shape[2], : blob.shape[3]] = blob[0].transpose(1, 2, 0)[:640, :640]
        ours = engine.detect(canvas)
        _, theirs = reference.detect(canvas)
        assert theirs is not None and len(ours) == len(theirs)
        for face in ours:
            row = min(theirs, key=lambda t: abs(t[0] - face.box[0]) + abs(t[1] - face.box[1]))
            x, y, w, h = row[:4]
            clipped = (
                max(0, x),
                max(0, y),
                min(640, x + w) - max(0, x),
                min(640, y + h) - max(0, y),
            )
            assert np.allclose(face.box, clipped, atol=2.0)  # we clip boxes to the image
            assert np.allclose(face.landmark_array, row[4:14].reshape(5, 2), atol=2.0)
            assert face.score == pytest.approx(float(row[14]), abs=0.01)


def test_rewritten_models_compute_the_same_as_the_files(engine: FaceEngine) -> None:
    """The in-memory speed rewrites (gate.face.onnxgraph) change no result."""
    directory = FaceConfig().models_dir
    rng = np.random.default_rng(5)
    sface = models.model_bytes(directory, "sface")
    x = rng.uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)
    original = make_session(sface, 1).run(None, {"data": x})[0]
    fast = make_session(onnxgraph.fast_sface(sface), 1).run(None, {"data": x})[0]
    assert np.allclose(original, fast, atol=1e-4)
    yunet = models.model_bytes(directory, "yunet")
    x = rng.uniform(0, 255, (1, 3, 640, 640)).astype(np.float32)
    original = make_session(yunet, 1).run(None, {"input": x})
    freed = make_session(onnxgraph.free_shapes(yunet), 1).run(None, {"input": x})
    for a, b in zip(original, freed, strict=True):
        assert np.allclose(a, b, atol=1e-4)


def test_face_count_for_anti_tailgating(engine: FaceEngine) -> None:
    assert engine.observe(deepface("couple.jpg")).face_count == 2
    assert engine.observe(deepface("selfie-many-people.jpg")).face_count >= 5


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((480, 640, 3), np.uint8),
        np.full((480, 640, 3), 255, np.uint8),
        np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8),
        np.kron((np.indices((12, 16)).sum(axis=0) % 2) * 255, np.ones((40, 40)))
        .astype(np.uint8)[:, :, None]
        .repeat(3, axis=2),
        np.tile(np.linspace(0, 255, 640, dtype=np.uint8), (480, 1))[:, :, None].repeat(3, 2),
    ],
    ids=["black", "white", "noise", "checkerboard", "gradient"],
)
def test_blank_and_non_face_images_give_no_face(engine: FaceEngine, image: np.ndarray) -> None:
    observation = engine.observe(image, enhance_if_needed=True)
    assert observation.face_count == 0
    assert observation.embedding is None and observation.quality is None


def test_jpeg2000_portrait_from_dg2(engine: FaceEngine) -> None:
    blocks = require_testdata("epassport", "gmrtd", "lds_biometric_blocks")
    a = engine.observe_portrait((blocks / "ICAO_39794_5_AP_Face.jpg").read_bytes())
    b = engine.observe_portrait((blocks / "ICAO_39794_5_AP_DG2_Face.jpg").read_bytes())
    assert a.face_count == 1 and b.face_count == 1
    assert engine.compare_observations(a, b).result.similarity > 0.9  # type: ignore[union-attr]


def test_quality_guidance(engine: FaceEngine) -> None:
    image = deepface("img1.jpg")
    good = engine.observe(image)
    assert good.quality is not None
    assert "look_at_camera" not in good.quality.issues
    assert "head_straight" not in good.quality.issues
    tiny = np.full((480, 640, 3), 90, np.uint8)
    small = cv2.resize(image, None, fx=0.12, fy=0.12, interpolation=cv2.INTER_AREA)
    tiny[200 : 200 + small.shape[0], 300 : 300 + small.shape[1]] = small
    far = engine.observe(tiny)
    assert far.quality is not None and "step_closer" in far.quality.issues
    assert far.quality.guidance == "Please step closer"
    dark = engine.observe((image * 0.15).astype(np.uint8))
    if dark.quality is not None:
        assert "too_dark" in dark.quality.issues
    rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D((400, 300), 35, 1.0), (800, 800))
    tilted = engine.observe(rotated)
    assert tilted.quality is not None and "head_straight" in tilted.quality.issues


def test_still_photo_in_front_of_the_camera_is_not_live(engine: FaceEngine) -> None:
    image = deepface("img5.jpg")
    rng = np.random.default_rng(7)
    observations = []
    for _ in range(6):
        noisy = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
        face = primary_face(engine.detect(noisy))
        assert face is not None
        observations.append(LivenessObservation(face.landmark_array))
    assert not MotionLiveness().evaluate(observations).live


def test_photo_moved_in_front_of_the_camera_is_not_live(engine: FaceEngine) -> None:
    image = deepface("img5.jpg")
    height, width = image.shape[:2]
    rng = np.random.default_rng(11)
    observations = []
    for _ in range(6):
        matrix = cv2.getRotationMatrix2D(
            (width / 2, height / 2), rng.uniform(-8, 8), rng.uniform(0.9, 1.1)
        )
        matrix[:, 2] += rng.uniform(-20, 20, 2)
        face = primary_face(engine.detect(cv2.warpAffine(image, matrix, (width, height))))
        assert face is not None
        observations.append(LivenessObservation(face.landmark_array))
    result = MotionLiveness().evaluate(observations)
    assert not result.live, result.measures


def test_grey_and_bgra_frames_are_accepted(engine: FaceEngine) -> None:
    image = deepface("img1.jpg")
    grey = engine.observe(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), enhance_if_needed=True)
    bgra = engine.observe(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))
    assert grey.face_count == 1 and bgra.face_count == 1
    with pytest.raises(ImageError):
        engine.observe(np.zeros((10, 10, 3), np.float32))


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["face", "compare", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_cli_compare_exit_codes(
    engine: FaceEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("img1.jpg", "img2.jpg", "img3.jpg"):
        cv2.imwrite(str(tmp_path / name), deepface(name))
    cv2.imwrite(str(tmp_path / "blank.png"), np.zeros((480, 640, 3), np.uint8))
    code, report = run_cli([str(tmp_path / "img1.jpg"), str(tmp_path / "img2.jpg")], capsys)
    assert code == 0 and report["match"] is True and report["faces"] == [1, 1]
    assert set(report) >= {"similarity", "threshold", "match", "faces", "quality", "seconds"}
    assert report["threshold"] == FaceConfig().threshold
    code, report = run_cli([str(tmp_path / "img1.jpg"), str(tmp_path / "img3.jpg")], capsys)
    assert code == 1 and report["match"] is False and report["similarity"] < report["threshold"]
    code, report = run_cli([str(tmp_path / "img1.jpg"), str(tmp_path / "blank.png")], capsys)
    assert code == 2 and report["faces"] == [1, 0] and report["similarity"] is None


def test_cli_refuses_a_10000_by_10000_image(
    engine: FaceEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, jpeg = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    data = jpeg.tobytes()
    sof = data.index(b"\xff\xc0")
    bomb = data[: sof + 5] + struct.pack(">HH", 10_000, 10_000) + data[sof + 9 :]
    (tmp_path / "bomb.jpg").write_bytes(bomb)
    cv2.imwrite(str(tmp_path / "face.jpg"), deepface("img1.jpg"))
    code, report = run_cli([str(tmp_path / "face.jpg"), str(tmp_path / "bomb.jpg")], capsys)
    assert code == 2 and report["faces"] == [1, None]
    assert "10000x10000" in report["errors"][0]


def test_small_portrait_is_enhanced_without_crashing(engine: FaceEngine) -> None:
    blocks = require_testdata("epassport", "gmrtd", "lds_biometric_blocks")
    obs = engine.observe_portrait((blocks / "ISO19794_Test1_Face.jpg").read_bytes())
    assert "small" in obs.enhanced
    image = decode_portrait((blocks / "ISO19794_Test1_Face.jpg").read_bytes())
    assert align(image, [[10, 10], [30, 10], [20, 20], [12, 30], [28, 30]]).shape == (112, 112, 3)


def test_live_frames_fused_against_a_portrait(engine: FaceEngine) -> None:
    portrait = engine.observe(deepface("img1.jpg"), enhance_if_needed=True)
    samples = []
    for index, name in enumerate(("img2.jpg", "img11.jpg", "img4.jpg")):
        frame = cv2.resize(deepface(name), (640, 480))
        observation, sample = engine.sample(frame, index)
        assert observation.face_count >= 1 and sample is not None
        samples.append(sample)
    assert engine.verify(portrait, samples, k=2).match
    impostor = engine.observe(deepface("img3.jpg"))
    assert not engine.verify(impostor, samples, k=2).match
    _, none = engine.sample(np.zeros((480, 640, 3), np.uint8))
    assert none is None
