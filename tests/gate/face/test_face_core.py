"""Pure parts of the face pipeline (no models): YuNet decoding and NMS, alignment, pose,
matching, fusion, liveness baseline, the ONNX rewrite."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gate.face import onnxgraph
from gate.face.align import ARCFACE_TEMPLATE, align, similarity_transform
from gate.face.detect import Detection, decode, nms, prepare
from gate.face.embed import l2_normalise
from gate.face.errors import FaceError, ImageError
from gate.face.fuse import FrameSample, best_frames, fuse
from gate.face.liveness import (
    ExternalLiveness,
    LivenessObservation,
    MotionLiveness,
    affine_residual,
)
from gate.face.match import compare, cosine_similarity
from gate.face.quality import Quality, pose


def empty_outputs(width: int, height: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for s in (8, 16, 32):
        n = (width // s) * (height // s)
        out[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        out[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    return out


def test_decode_places_one_face_from_its_cell() -> None:
    width, height = 640, 480
    out = empty_outputs(width, height)
    stride, row, col = 16, 10, 20
    idx = row * (width // stride) + col
    out["cls_16"][0, idx, 0] = 0.81
    out["obj_16"][0, idx, 0] = 1.0
    out["bbox_16"][0, idx] = [0.5, 0.25, math.log(6), math.log(8)]
    out["kps_16"][0, idx] = [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]
    (face,) = decode(out, input_size=(width, height), score_threshold=0.5, scale=2.0)
    assert face.score == pytest.approx(0.9)  # sqrt(0.81 * 1)
    cx, cy, w, h = (20.5 * 16, 10.25 * 16, 6 * 16, 8 * 16)
    assert face.box == pytest.approx(((cx - w / 2) / 2, (cy - h / 2) / 2, w / 2, h / 2))
    assert face.landmarks[1] == pytest.approx((21 * 16 / 2, 10 * 16 / 2))
    assert decode(out, input_size=(width, height), score_threshold=0.95) == []


def test_decode_rejects_outputs_of_another_input_size() -> None:
    with pytest.raises(FaceError, match="cells"):
        decode(empty_outputs(640, 640), input_size=(640, 480))


def test_nms_keeps_best_of_overlapping_and_disjoint_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.8, 0.9, 0.7], np.float32)
    assert nms(boxes, scores, 0.3) == [1, 2]
    assert nms(boxes, scores, 0.9) == [1, 0, 2]


def test_prepare_pads_to_multiples_of_32() -> None:
    blob, scale = prepare(np.zeros((480, 640, 3), np.uint8))
    assert blob.shape == (1, 3, 480, 640) and scale == 1.0
    blob, scale = prepare(np.zeros((100, 50, 3), np.uint8))
    assert blob.shape == (1, 3, 640, 320) and scale == 6.4
    with pytest.raises(ImageError):
        prepare(np.zeros((0, 10, 3), np.uint8))


def test_similarity_transform_recovers_a_known_transform() -> None:
    angle, scale, shift = math.radians(17), 2.5, np.array([100.0, -40.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    src = (ARCFACE_TEMPLATE - shift) @ np.linalg.inv(scale * rot).T
    matrix = similarity_transform(src)
    mapped = src @ matrix[:, :2].T + matrix[:, 2]
    assert np.allclose(mapped, ARCFACE_TEMPLATE, atol=1e-9)
    assert np.linalg.det(matrix[:, :2]) > 0  # never a reflection


def test_similarity_transform_rejects_degenerate_points() -> None:
    with pytest.raises(ImageError):
        similarity_transform(np.ones((5, 2)))


def test_align_puts_marked_landmarks_on_the_template() -> None:
    image = np.zeros((300, 300, 3), np.uint8)
    src = ARCFACE_TEMPLATE * 2 + 30
    for x, y in src:
        image[round(y) - 1 : round(y) + 2, round(x) - 1 : round(x) + 2] = 255
    crop = align(image, src)
    assert crop.shape == (112, 112, 3)
    for x, y in ARCFACE_TEMPLATE:
        assert crop[round(y), round(x)].max() > 100


def test_pose_from_landmarks() -> None:
    yaw, _pitch, roll = pose(ARCFACE_TEMPLATE)
    assert abs(yaw) < 2 and abs(roll) < 1
    angle = math.radians(25)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    _, _, rolled = pose(ARCFACE_TEMPLATE @ rot.T)
    assert rolled == pytest.approx(25 - 0.3, abs=0.5)
    turned = ARCFACE_TEMPLATE.copy()
    turned[2, 0] += 15  # nose towards the subject's left
    assert pose(turned)[0] > 20


def test_cosine_and_threshold() -> None:
    a = l2_normalise([1.0, 0.0, 0.0])
    b = l2_normalise([1.0, 1.0, 0.0])
    assert cosine_similarity(a, b) == pytest.approx(math.sqrt(0.5))
    assert compare(a, b, 0.70).match and not compare(a, b, 0.71).match
    with pytest.raises(FaceError):
        cosine_similarity([0, 0, 0], a)
    with pytest.raises(FaceError):
        cosine_similarity([1, 0], a)


def quality(score: float, issues: list[str] | None = None) -> Quality:
    return Quality(100, 60, 0, 0, 0, 200, 128, 0, 0.9, score, issues or [])


def test_best_frames_and_fusion() -> None:
    rng = np.random.default_rng(0)
    samples = [
        FrameSample(l2_normalise(rng.normal(size=8)), quality(q, issues), i)
        for i, (q, issues) in enumerate([(0.5, []), (0.9, ["hold_still"]), (0.7, []), (0.6, [])])
    ]
    assert [s.index for s in best_frames(samples, 2)] == [2, 3]
    fused = fuse(samples, 2)
    expected = l2_normalise(samples[2].embedding + samples[3].embedding)
    assert np.allclose(fused, expected, atol=1e-6)
    assert np.linalg.norm(fused) == pytest.approx(1.0)
    only_bad = [FrameSample(samples[1].embedding, samples[1].quality)]
    assert best_frames(only_bad, 3) == only_bad
    with pytest.raises(FaceError):
        fuse([], 3)


def rigid_views(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A flat photo seen under random affine maps (rotation, scale, shear, shift)."""
    views = []
    for _ in range(count):
        m = np.eye(2) + rng.normal(0, 0.08, (2, 2))
        views.append(ARCFACE_TEMPLATE @ m.T + rng.uniform(-50, 50, 2) + rng.normal(0, 0.2, (5, 2)))
    return views


def head_turn(count: int, degrees: float) -> list[np.ndarray]:
    """Landmarks of a 3-D head (nose 0.6 inter-eye distances in front) turning left-right."""
    iod = ARCFACE_TEMPLATE[1, 0] - ARCFACE_TEMPLATE[0, 0]
    depth = np.array([0, 0, -0.6 * iod, -0.1 * iod, -0.1 * iod])
    points = np.c_[ARCFACE_TEMPLATE - ARCFACE_TEMPLATE.mean(axis=0), depth]
    views = []
    for a in np.radians(np.linspace(-degrees, degrees, count)):
        rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
        views.append((points @ rot.T)[:, :2] * 3 + [320, 240])
    return views


def test_liveness_rejects_a_flat_photo_moved_around() -> None:
    views = rigid_views(8, np.random.default_rng(3))
    assert affine_residual(views[1], views[0]) < 0.02
    result = MotionLiveness().evaluate([LivenessObservation(v) for v in views])
    assert not result.live and "no natural motion" in result.reason


def test_liveness_accepts_a_turning_head_and_needs_enough_frames() -> None:
    check = MotionLiveness()
    assert check.evaluate([LivenessObservation(v) for v in head_turn(8, 12)]).live
    assert not check.evaluate([LivenessObservation(v) for v in head_turn(8, 1)]).live
    short = check.evaluate([LivenessObservation(v) for v in head_turn(3, 12)])
    assert not short.live and "need" in short.reason


def test_external_liveness_interface() -> None:
    camera = ExternalLiveness(threshold=0.6)
    assert not camera.evaluate([]).live
    camera.set_score(0.8)
    assert camera.evaluate([]).live
    camera.set_score(0.2)
    assert not camera.evaluate([]).live


def _field(number: int, payload: bytes) -> bytes:
    return (
        onnxgraph._encode_varint((number << 3) | 2)
        + onnxgraph._encode_varint(len(payload))
        + payload
    )


def test_onnx_rewrite_drops_only_initializer_inputs() -> None:
    tensor = _field(8, b"w1") + b"\x08\x01"  # name + a varint field (dims)
    graph = (
        _field(1, b"node")
        + _field(5, tensor)
        + _field(11, _field(1, b"data"))
        + _field(11, _field(1, b"w1"))
        + _field(12, _field(1, b"out") + _field(2, _field(1, _field(2, b"\x0a\x02\x08\x01"))))
    )
    model = b"\x08\x07" + _field(7, graph)  # ir_version = 7, graph
    stripped, removed = onnxgraph.strip_initializer_inputs(model)
    assert removed == 1
    assert b"w1" in stripped and stripped.count(b"w1") == 1 and b"data" in stripped
    freed = onnxgraph.free_shapes(model)
    assert len(freed) < len(model) and b"out" in freed
    assert onnxgraph.rebuild(model, lambda n, w, b: None) == model
    with pytest.raises(FaceError):
        list(onnxgraph.fields(model[:-3]))


def test_detection_properties() -> None:
    d = Detection((0, 0, 10, 20), 0.9, tuple((float(x), float(y)) for x, y in ARCFACE_TEMPLATE))
    assert d.area == 200
    assert d.inter_eye == pytest.approx(35.24, abs=0.01)


def test_prelu_decomposition_rewires_nodes() -> None:
    node = b"".join(
        [
            onnxgraph._string(1, "x"),
            onnxgraph._string(1, "slope"),
            onnxgraph._string(2, "y"),
            onnxgraph._string(4, "PRelu"),
        ]
    )
    other = onnxgraph._string(1, "y") + onnxgraph._string(2, "z") + onnxgraph._string(4, "Relu")
    model = _field(7, _field(1, node) + _field(1, other))
    rewritten, count = onnxgraph.decompose_prelu(model)
    assert count == 1
    graph = next(rewritten[v:e] for n, _, _, v, e in onnxgraph.fields(rewritten) if n == 7)
    nodes = [graph[v:e] for n, _, _, v, e in onnxgraph.fields(graph) if n == 1]
    ops = [onnxgraph._strings(n, 4)[0] for n in nodes]
    assert ops == ["Relu", "Sub", "Mul", "Add", "Relu"]
    assert onnxgraph._strings(nodes[3], 2) == ["y"]  # same output name as the PRelu
    assert "slope" in onnxgraph._strings(nodes[2], 1)


def test_similarity_transform_rejects_non_finite_points() -> None:
    points = ARCFACE_TEMPLATE.copy()
    points[2, 0] = np.nan
    with pytest.raises(ImageError, match="not finite"):
        similarity_transform(points)
    points[2, 0] = np.inf
    with pytest.raises(ImageError, match="not finite"):
        similarity_transform(points)


def test_decode_drops_non_finite_detections() -> None:
    width, height = 640, 480
    out = empty_outputs(width, height)
    out["cls_16"][0, 5, 0] = out["obj_16"][0, 5, 0] = 1.0
    out["bbox_16"][0, 5] = [0.5, np.nan, 1.0, 1.0]
    for idx, value in ((200, np.nan), (400, np.inf)):
        out["cls_16"][0, idx, 0] = out["obj_16"][0, idx, 0] = 1.0
        out["bbox_16"][0, idx] = [0.5, 0.5, 1.0, 1.0]
        out["kps_16"][0, idx, 3] = value
    out["cls_16"][0, 900, 0] = out["obj_16"][0, 900, 0] = 1.0  # a sound one survives
    (face,) = decode(out, input_size=(width, height), score_threshold=0.5)
    assert np.isfinite(face.box).all() and np.isfinite(face.landmarks).all()
    out["cls_16"][0, 900, 0] = 0.0
    assert decode(out, input_size=(width, height), score_threshold=0.5) == []


@pytest.mark.parametrize("shape", [(0, 0), (0, 5, 3), (4, 0, 4)])
def test_empty_frames_are_an_image_error(shape: tuple[int, ...]) -> None:
    from gate.face.pipeline import as_bgr

    with pytest.raises(ImageError, match="empty"):
        as_bgr(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_liveness_fails_closed_on_non_finite_landmarks(bad: float) -> None:
    views = rigid_views(8, np.random.default_rng(3))  # a photo: not live
    for i in (2, 5):  # two glitched frames would be an "infinite natural motion"
        views[i] = views[i].copy()
        views[i][2, 0] = bad
    result = MotionLiveness().evaluate([LivenessObservation(v) for v in views])
    assert not result.live and result.score == 0.0 and "not finite" in result.reason


def test_liveness_fails_closed_on_malformed_landmarks() -> None:
    views: list[object] = list(head_turn(8, 12))
    views[3] = [[1.0, 2.0]] * 4  # four points
    result = MotionLiveness().evaluate([LivenessObservation(v) for v in views])  # type: ignore[arg-type]
    assert not result.live
