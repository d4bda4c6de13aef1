"""Pure parts of face evaluation: pairs, error rates, operating points, DET, chip degradation,
labels files, the embedding cache, score fusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gate.cli.face_evaluate import EmbeddingCache, Observed, chip_format, read_labels
from gate.face.embed import l2_normalise
from gate.face.errors import EvaluationError, FaceError, ImageError
from gate.face.evaluation import (
    NO_FACE_SCORE,
    chip_like,
    det_image,
    det_points,
    operating_points,
    pair_scores,
    rates,
    threshold_at_fmr,
)
from gate.face.pipeline import combine_views, normalise_weights
from gate.face.portrait import decode_portrait


def unit_rows(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n, d)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_threshold_at_fmr_lets_through_exactly_the_allowed_impostors() -> None:
    impostor = np.arange(10_000, dtype=np.float64) / 10_000  # 0.0000 .. 0.9999
    thr = threshold_at_fmr(impostor, 0.001)  # 10 may pass: 0.9990 .. 0.9999
    assert (impostor >= thr).sum() == 10
    assert (impostor >= np.nextafter(thr, -np.inf) - 1e-4).sum() > 10
    assert threshold_at_fmr(impostor, 0.0) > impostor.max()
    with pytest.raises(FaceError, match="no impostor"):
        threshold_at_fmr([], 0.001)


def test_rates_count_equal_scores_as_matches() -> None:
    assert rates([0.5, 0.4], [0.5, 0.1], 0.5) == (0.5, 0.5)


def test_pair_scores_split_genuine_and_impostor_and_score_missing_faces_as_non_matches() -> None:
    emb = unit_rows(5)
    emb[4] = np.nan  # no face in the last image
    ids = ["a", "a", "b", "b", "b"]
    scores = pair_scores(emb, ids)
    assert scores.genuine.size == 1 + 3 and scores.impostor.size == 6
    assert scores.impostor_total == 6
    assert scores.genuine[0] == pytest.approx(float(emb[0] @ emb[1]))
    assert (scores.genuine == NO_FACE_SCORE).sum() == 2  # (2,4), (3,4)
    assert (scores.impostor == NO_FACE_SCORE).sum() == 2  # (0,4), (1,4)


def test_pair_scores_with_probes_compare_the_degraded_side_with_the_other() -> None:
    emb = unit_rows(4)
    probes = unit_rows(4, seed=1)
    scores = pair_scores(emb, ["a", "a", "b", "c"], probes=probes)
    assert scores.genuine[0] == pytest.approx(float(probes[0] @ emb[1]))


def test_pair_scores_sample_keeps_every_genuine_pair_and_n_impostors() -> None:
    emb = unit_rows(60)
    ids = [str(i // 3) for i in range(60)]
    full = pair_scores(emb, ids)
    sampled = pair_scores(emb, ids, sample=100, seed=3)
    assert sampled.genuine.size == full.genuine.size == 20 * 3
    assert sorted(sampled.genuine) == pytest.approx(sorted(full.genuine), abs=1e-6)
    assert sampled.impostor.size == 100
    assert np.isin(np.round(sampled.impostor, 4), np.round(full.impostor, 4)).all()
    again = pair_scores(emb, ids, sample=100, seed=3)
    assert np.array_equal(again.impostor, sampled.impostor)


def test_pair_scores_refuse_mismatched_inputs() -> None:
    with pytest.raises(FaceError, match="identities"):
        pair_scores(unit_rows(3), ["a", "b"])


def test_operating_points_name_both_targets_and_the_configured_threshold() -> None:
    rng = np.random.default_rng(0)
    genuine = rng.normal(0.7, 0.1, 2_000)
    impostor = rng.normal(0.0, 0.1, 200_000)
    out = operating_points(genuine, impostor, 0.4)
    assert set(out) == {"at_fmr_0.001", "at_fmr_0.0001", "at_configured"}
    strict, loose = out["at_fmr_0.0001"], out["at_fmr_0.001"]
    assert strict["threshold"] > loose["threshold"]
    assert strict["fnmr"] >= loose["fnmr"]
    assert loose["fmr"] <= 0.001 and strict["fmr"] <= 0.0001
    assert out["at_configured"]["threshold"] == 0.4


def test_det_points_move_from_permissive_to_strict_and_draw() -> None:
    rng = np.random.default_rng(1)
    points = det_points(rng.normal(0.7, 0.1, 500), rng.normal(0.0, 0.1, 50_000))
    fmrs = [p[0] for p in points]
    fnmrs = [p[1] for p in points]
    assert fmrs == sorted(fmrs, reverse=True) and fnmrs == sorted(fnmrs)
    image = det_image({"synthetic": points})
    assert image.shape == (640, 640, 3) and (image < 250).any()


@pytest.mark.parametrize("fmt", ["jpeg", "jp2"])
def test_chip_like_portraits_are_240x320_and_at_most_18_kb(fmt: str) -> None:
    rng = np.random.default_rng(2)
    photo = rng.integers(0, 255, (250, 250, 3), dtype=np.uint8)  # noise: hard to compress
    data = chip_like(photo, fmt)  # type: ignore[arg-type]
    assert len(data) <= 18_000
    assert decode_portrait(data).shape == (320, 240, 3)
    with pytest.raises(ImageError):
        chip_like(np.zeros((0, 0, 3), np.uint8), fmt)  # type: ignore[arg-type]


def test_chip_condition_mixes_both_formats() -> None:
    assert chip_format("chip", "a0") == "jp2" and chip_format("chip", "a1") == "jpeg"
    assert chip_format("chip-jpeg", "a0") == "jpeg" and chip_format("chip-jp2", "a1") == "jp2"


def write_labels(tmp_path: Path, text: str, files: list[str]) -> Path:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    labels = tmp_path / "labels.csv"
    labels.write_text(text, encoding="utf-8")
    return labels


def test_read_labels_takes_file_and_identity_and_ignores_other_columns(tmp_path: Path) -> None:
    labels = write_labels(
        tmp_path, "file,identity,extra\na/1.jpg,A,x\nb/1.jpg,B,y\n", ["a/1.jpg", "b/1.jpg"]
    )
    rows = read_labels(labels, tmp_path)
    assert [(r.file, r.identity) for r in rows] == [("a/1.jpg", "A"), ("b/1.jpg", "B")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,person\na/1.jpg,A\n", "at least 'file,identity'"),
        ("file,identity\na/1.jpg,A\nmissing.jpg,B\n", "not in"),
        ("file,identity\na/1.jpg,A\n../outside.jpg,B\n", "outside"),
        ("file,identity\na/1.jpg,A\na/1.jpg,B\n", "twice"),
        ("file,identity\na/1.jpg,A\n", "two identities"),
        ("file,identity\na/1.jpg,\n", "empty"),
    ],
)
def test_read_labels_refuses_unusable_files(tmp_path: Path, text: str, message: str) -> None:
    labels = write_labels(tmp_path, text, ["a/1.jpg"])
    with pytest.raises(EvaluationError, match=message):
        read_labels(labels, tmp_path)


def test_embedding_cache_survives_a_reload(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "raw-test", save_every=1)
    views = {"sface": unit_rows(1)[0], "sface_flip": unit_rows(1, seed=1)[0]}
    cache.put("k1", Observed(views, 1, "step_closer", "padded"))
    cache.put("k2", Observed(None, 0, "", "", "cannot decode"))
    cache.save()
    again = EmbeddingCache(tmp_path, "raw-test")
    first, second = again.get("k1"), again.get("k2")
    assert first is not None and second is not None and first.views is not None
    assert np.allclose(first.views["sface_flip"], views["sface_flip"])
    assert (first.faces, first.issues, first.enhanced) == (1, "step_closer", "padded")
    assert second.views is None and second.error == "cannot decode"
    assert again.get("k3") is None
    assert EmbeddingCache(tmp_path, "raw-other").get("k1") is None


def test_fused_embedding_compares_as_the_weighted_mean_of_the_models_cosines() -> None:
    a = {"sface": unit_rows(1)[0], "dlib_resnet": unit_rows(1, seed=1)[0]}
    b = {"sface": unit_rows(1, seed=2)[0], "dlib_resnet": unit_rows(1, seed=3)[0]}
    weights = normalise_weights(["sface", "dlib_resnet"], [3, 1])
    fused = float(combine_views(a, weights, False) @ combine_views(b, weights, False))
    expected = 0.75 * float(a["sface"] @ b["sface"]) + 0.25 * float(
        a["dlib_resnet"] @ b["dlib_resnet"]
    )
    assert fused == pytest.approx(expected, abs=1e-5)


def test_flip_adds_the_mirror_views() -> None:
    views = {"sface": unit_rows(1)[0], "sface_flip": unit_rows(1, seed=1)[0]}
    combined = combine_views(views, {"sface": 1.0}, True)
    assert np.allclose(combined, l2_normalise(views["sface"] + views["sface_flip"]))
    with pytest.raises(KeyError):
        combine_views({"sface": views["sface"]}, {"sface": 1.0}, True)


@pytest.mark.parametrize(
    ("names", "weights", "message"),
    [([], None, "at least one"), (["arcface"], None, "unknown"), (["sface"], [0], "positive")],
)
def test_normalise_weights_refuses_bad_model_lists(
    names: list[str], weights: list[float] | None, message: str
) -> None:
    with pytest.raises(FaceError, match=message):
        normalise_weights(names, weights)
