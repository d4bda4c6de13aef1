"""The wheel works outside the source tree: built from the checkout, installed into a fresh
virtual environment, ``egate mrz read`` and ``egate face compare`` run from another directory.

Offline and fast: the wheel is built without build isolation (setuptools from ``egate[dev]``)
and installed with ``--no-deps --no-index``; the fresh environment sees the dependencies of the
development environment through a ``.pth`` file (never egate itself: the editable install's
finder is not activated there, and the test checks where ``gate`` is imported from).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from gate.face.models import REPO_ROOT, resolve_models_dir
from simulator.docpages import Degradation, synthetic_page

pytestmark = pytest.mark.slow


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kwargs)  # type: ignore[call-overload,no-any-return]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the egate wheel installed; yields its bin directory."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    # build from a clean copy: no stale build/ directory, no caches, exactly the tracked files
    files = _run(["git", "ls-files", "-z"], cwd=REPO_ROOT).stdout.split("\0")
    for name in filter(None, files):
        if (REPO_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, source / name)
    dist = root / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = _run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)]
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("egate-*.whl")
    venv = root / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    Path(site.stdout.strip(), "dev-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = _run(
        [*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)]
    )
    assert done.returncode == 0, done.stderr
    yield venv / "bin"


def test_wheel_holds_the_packages_and_the_ocr_classifier(installed: Path) -> None:
    (wheel,) = installed.parent.parent.joinpath("dist").glob("egate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "drivers/mrz_ocr/mrz_ocrb_mlp.npz" in names
    assert {"gate/cli/__init__.py", "drivers/registry.py", "simulator/devices.py"} <= set(names)
    assert not [n for n in names if n.startswith("tests/")]


def test_installed_egate_imports_from_the_venv_not_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    where = _run(
        [str(installed / "python"), "-c", "import gate, drivers; print(gate.__file__)"],
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)


def test_installed_egate_mrz_read(installed: Path, tmp_path: Path) -> None:
    page = synthetic_page(5, "TD3", dpi=300, degradation=Degradation())
    image = tmp_path / "page.png"
    cv2.imwrite(str(image), page.image)
    out = _run(
        [str(installed / "egate"), "mrz", "read", str(image), "--json", "--today", "2024-01-01"],
        cwd=tmp_path,
    )
    assert out.returncode in (0, 1), out.stderr
    assert json.loads(out.stdout)["lines"] == page.lines


def test_installed_egate_face_compare(installed: Path, tmp_path: Path, testdata: Path) -> None:
    faces = testdata / "faces" / "deepface"
    models = resolve_models_dir("models/cache")  # the checkout's verified copies
    if not (models / "face_recognition_sface_2021dec.onnx").is_file():
        pytest.skip(f"face models not fetched into {models}: run egate models fetch")
    env = {**os.environ, "EGATE_MODELS_DIR": str(models)}
    out = _run(
        [str(installed / "egate"), "face", "compare", str(faces / "img1.jpg"),
         str(faces / "img2.jpg"), "--json"],
        cwd=tmp_path,
        env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["match"] is True and report["faces"] == [1, 1]
