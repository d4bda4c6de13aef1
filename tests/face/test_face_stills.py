"""Stills with the models: tightly cropped faces, side light, fused models, ``egate face
evaluate`` end to end."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.cli import main
from gate.config import FaceConfig
from gate.face.pipeline import FaceEngine, pad_for_detection, primary_face


@pytest.fixture(scope="module")
def fused(face_models_dir: Path) -> Iterator[FaceEngine]:
    yield FaceEngine(face_models_dir, threads=1, embedders=("sface", "dlib_resnet"))


def lfw(faces: Path, name: str) -> np.ndarray:
    person = name.rsplit("_", 1)[0]
    image = cv2.imread(str(faces / "lfw_dev" / person / name))
    assert image is not None
    return image


def tight_grey_crop(engine: FaceEngine, image: np.ndarray) -> np.ndarray:
    """Forehead to chin, no margin, 168x192 grey (as in the held-back set of issue 18)."""
    face = primary_face(engine.detect(image))
    assert face is not None
    points = np.asarray(face.landmarks)
    eyes, mouth = points[:2].mean(axis=0), points[3:].mean(axis=0)
    top, bottom = eyes[1] - 0.9 * face.inter_eye, mouth[1] + 0.9 * face.inter_eye
    half = (bottom - top) * 168 / 192 / 2
    crop = image[int(top) : int(bottom), int(eyes[0] - half) : int(eyes[0] + half)]
    return cv2.cvtColor(cv2.resize(crop, (168, 192)), cv2.COLOR_BGR2GRAY)


def test_padding_is_replicated_on_every_side() -> None:
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    padded, border = pad_for_detection(image, 0.5)
    assert border == 2 and padded.shape == (7, 8)
    assert padded[0, 0] == image[0, 0] and padded[-1, -1] == image[-1, -1]


@pytest.mark.parametrize("name", ["Aaron_Peirsol_0001.jpg", "Al_Gore_0001.jpg"])
def test_a_face_that_fills_the_image_is_found_by_padding(
    fused: FaceEngine, faces_data: Path, name: str
) -> None:
    photo = lfw(faces_data, name)
    crop = tight_grey_crop(fused, photo)
    observation = fused.observe(crop, enhance_if_needed=True)
    assert "padded" in observation.enhanced
    assert observation.embedding is not None
    original = fused.observe(photo, enhance_if_needed=True).embedding
    assert original is not None
    assert float(observation.embedding @ original) > 0.6


def test_harsh_side_light_fails_the_quality_gate(fused: FaceEngine, faces_data: Path) -> None:
    photo = lfw(faces_data, "Aaron_Peirsol_0001.jpg")  # near frontal
    fine = fused.observe(photo)
    assert fine.quality is not None and "uneven_light" not in fine.quality.issues
    face = primary_face(fused.detect(photo))
    assert face is not None
    centre, width = face.landmarks[2][0], face.box[2] / 8  # shadow edge along the nose
    columns = np.arange(photo.shape[1], dtype=np.float32)
    light = 0.1 + 0.9 / (1 + np.exp((columns - centre) / width))  # lit from the left
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32)
    side_lit = np.clip(grey * light[None, :] * 1.2, 0, 255).astype(np.uint8)
    observation = fused.observe(side_lit)
    assert observation.quality is not None
    assert "uneven_light" in observation.quality.issues
    assert observation.quality.light_asymmetry > 0.4
    assert not observation.quality.ok


def test_fused_models_separate_people(fused: FaceEngine, faces_data: Path) -> None:
    a1, a2 = lfw(faces_data, "Al_Gore_0001.jpg"), lfw(faces_data, "Al_Gore_0002.jpg")
    other = lfw(faces_data, "Aaron_Peirsol_0001.jpg")
    obs = [fused.observe(i, enhance_if_needed=True, all_views=True) for i in (a1, a2, other)]
    assert all(o.embedding is not None and o.embedding.shape == (256,) for o in obs)
    assert set(obs[0].views) == {"sface", "sface_flip", "dlib_resnet", "dlib_resnet_flip"}
    genuine = float(obs[0].embedding @ obs[1].embedding)  # type: ignore[operator]
    impostor = float(obs[0].embedding @ obs[2].embedding)  # type: ignore[operator]
    assert genuine > impostor + 0.2


def test_cli_evaluate_reports_the_figures_and_reuses_its_cache(
    face_models_dir: Path,
    faces_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = faces_data / "lfw_dev"
    people = ["Al_Gore", "Aaron_Peirsol", "Abdullah_Gul"]
    rows = []
    for person in people:
        for path in sorted((src / person).glob("*.jpg"))[:2]:
            (tmp_path / "set" / person).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, tmp_path / "set" / person / path.name)
            rows.append({"file": f"{person}/{path.name}", "identity": person, "note": "x"})
    with (tmp_path / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["file", "identity", "note"])
        writer.writeheader()
        writer.writerows(rows)
    args = [
        "face", "evaluate", str(tmp_path / "set"), "--labels", str(tmp_path / "labels.csv"),
        "--json", "--quiet", "--cache", str(tmp_path / "cache"), "--det", str(tmp_path / "det.png"),
        "--models", "sface,dlib_resnet",
    ]  # fmt: skip
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 6 and report["failures_to_detect"] == 0
    assert report["genuine_pairs"] == 3 and report["impostor_pairs"] == 12
    for key in ("at_fmr_0.001", "at_fmr_0.0001"):
        assert set(report[key]) >= {"threshold", "fnmr"}
    assert set(report["at_configured"]) >= {"threshold", "fnmr", "fmr"}
    assert report["at_configured"]["threshold"] == FaceConfig().threshold
    assert cv2.imread(str(tmp_path / "det.png")) is not None

    def no_model_run(*_: object, **__: object) -> None:
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(FaceEngine, "observe", no_model_run)
    assert main([*args, "--flip", "--weights", "0.3,0.7", "--threshold", "0.99"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["at_configured"] == {"threshold": 0.99, "fnmr": 1.0, "fmr": 0.0}
    assert again["flip"] is True and again["models"] == {"sface": 0.3, "dlib_resnet": 0.7}
    assert again["genuine_pairs"] == 3
