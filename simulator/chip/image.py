"""Chip images: the files and key material a virtual chip serves.

On disk a chip image is a directory:

  EF.COM.bin EF.SOD.bin DG1.bin ... DG16.bin   application files (any subset)
  EF.CardAccess.bin EF.CardSecurity.bin        master-file files (optional)
  chip.json    {"mrz": "...", "can": "123456"}  (optional; without it the MRZ comes from DG1)
  aa_key.pem   PKCS#8 private key behind DG15 (RSA or EC; optional)
  ca_key.pem   PKCS#8 private key behind DG14 / EF.CardSecurity (EC; optional, also PACE-CAM)

ICAO file-identifier names (ef011E.bin = EF.COM, ef0101.bin = DG1, ef011D.bin = EF.SOD...) are
accepted too, so dumps like JMRTD's samples load unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gate.emrtd.access.access import mrz_information
from gate.emrtd.lds import lds
from gate.errors import EgateError
from gate.files import InputFileError, read_bounded

APP_FILES = ["EF.COM", "EF.SOD", *[f"DG{n}" for n in range(1, 17)]]
MF_FILES = ["EF.CardAccess", "EF.CardSecurity", "EF.ATR/INFO"]
_FID_NAMES = {f"ef{lds.FILE_IDS[n]:04x}": n for n in APP_FILES}
_FID_NAMES["ef011c"] = "EF.CardAccess"


class ChipImageError(EgateError):
    """A chip image directory or its content is unusable."""


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class ChipImage:
    files: dict[str, bytes]
    """By name: EF.COM, EF.SOD, DG1..DG16 (application) and EF.CardAccess, EF.CardSecurity."""
    mrz: str
    """The full MRZ (no line breaks); BAC/PACE keys come from it."""
    can: str | None = None
    aa_key: PrivateKey | None = None
    ca_key: ec.EllipticCurvePrivateKey | None = None
    ca_key_id: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    quirks: list[str] = field(default_factory=list)
    """Names of :mod:`simulator.chip.quirks` profiles the virtual chip adopts."""

    @property
    def mrz_information(self) -> str:
        try:
            return mrz_information(self.mrz)
        except ValueError as exc:
            raise ChipImageError(str(exc)) from exc

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (directory / f"{name.replace('/', '_')}.bin").write_bytes(data)
        meta: dict[str, object] = {"mrz": self.mrz}
        if self.can:
            meta["can"] = self.can
        if self.ca_key_id is not None:
            meta["ca_key_id"] = self.ca_key_id
        if self.quirks:
            meta["quirks"] = list(self.quirks)
        (directory / "chip.json").write_text(json.dumps(meta, indent=1))
        for fname, key in (("aa_key.pem", self.aa_key), ("ca_key.pem", self.ca_key)):
            if key is not None:
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                (directory / fname).write_bytes(pem)


def _read(path: Path, kind: str = "chip_file") -> bytes:
    try:
        return read_bounded(path, kind)
    except InputFileError as exc:
        raise ChipImageError(f"chip image: {exc}") from None


def _load_key(path: Path) -> PrivateKey | None:
    if not path.exists():
        return None
    try:
        key = serialization.load_pem_private_key(_read(path, "key"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ChipImageError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ChipImageError(f"{path}: only RSA and EC private keys are supported")
    return key


def load_image(directory: Path) -> ChipImage:
    if not directory.is_dir():
        raise ChipImageError(f"chip image {directory} is not a directory")
    files: dict[str, bytes] = {}
    for path in sorted(directory.iterdir()):
        stem = path.name.rsplit(".bin", 1)[0] if path.name.lower().endswith(".bin") else None
        if stem is None:
            continue
        name = _FID_NAMES.get(stem.lower(), stem.replace("_", "/"))
        if name in APP_FILES or name in MF_FILES:
            files[name] = _read(path)
    meta: dict[str, object] = {}
    if (directory / "chip.json").exists():
        try:
            loaded = json.loads(_read(directory / "chip.json").decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ChipImageError(f"{directory}/chip.json: not valid JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise ChipImageError(f"{directory}/chip.json: must be a JSON object")
        meta = loaded
    mrz = str(meta.get("mrz", ""))
    if not mrz:
        if "DG1" not in files:
            raise ChipImageError(f"{directory}: neither chip.json with 'mrz' nor DG1 present")
        try:
            mrz = lds.parse_dg1(files["DG1"]).mrz
        except EgateError as exc:
            raise ChipImageError(f"{directory}: DG1 cannot be parsed: {exc}") from None
    ca_key = _load_key(directory / "ca_key.pem")
    if ca_key is not None and not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ChipImageError(f"{directory}/ca_key.pem: chip authentication needs an EC key")
    key_id = meta.get("ca_key_id")
    quirks = meta.get("quirks", [])
    if not isinstance(quirks, list) or not all(isinstance(q, str) for q in quirks):
        raise ChipImageError(f"{directory}/chip.json: 'quirks' must be a list of profile names")
    return ChipImage(
        files,
        mrz,
        str(meta["can"]) if meta.get("can") else None,
        _load_key(directory / "aa_key.pem"),
        ca_key,
        int(key_id) if isinstance(key_id, int) else None,
        quirks=list(quirks),
    )
