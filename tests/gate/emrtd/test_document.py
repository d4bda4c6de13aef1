"""The typed document: one shape for the files read from a chip, each parsed once."""

from __future__ import annotations

import pytest

from gate.emrtd.cms import sod as sod_module
from gate.emrtd.docauth_errors import DataGroupError, SodError
from gate.emrtd.document import Document
from simulator import passports
from simulator.pki import shared_test_pki

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    image = passports.build_passport(MRZ, shared_test_pki().dsc_p256)
    return {name: image.files[name] for name in ("EF.SOD", "DG1", "DG2", "DG14", "DG15")}


def test_both_constructors_give_the_same_document(files: dict[str, bytes]) -> None:
    by_name = Document.from_files(files)
    by_number = Document.from_data_groups(
        files["EF.SOD"], {int(n[2:]): d for n, d in files.items() if n.startswith("DG")}
    )
    assert by_name.files == by_number.files
    assert dict(by_name.data_groups) == {1: files["DG1"], 2: files["DG2"], 14: files["DG14"],
                                         15: files["DG15"]}  # fmt: skip
    assert by_name.dg1_mrz == MRZ


def test_the_files_cannot_be_changed_behind_the_verdict(files: dict[str, bytes]) -> None:
    source = dict(files)
    document = Document.from_files(source)
    source["DG1"] = b"replaced"  # the caller's dict is copied
    assert document.files["DG1"] == files["DG1"]
    with pytest.raises(TypeError):
        document.files["DG1"] = b"replaced"  # type: ignore[index]


def test_ef_sod_is_parsed_once_per_strictness(
    files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    real = sod_module.parse_sod

    def counting(data: bytes, *, strict: bool = False) -> sod_module.Sod:
        calls.append(strict)
        return real(data, strict=strict)

    monkeypatch.setattr("gate.emrtd.document.parse_sod", counting)
    document = Document.from_files(files)
    first = document.sod()
    assert document.sod() is first and calls == [False]
    document.sod(strict=True)
    document.sod(strict=True)
    assert calls == [False, True]


def test_hostile_files_raise_the_documents_errors_lazily() -> None:
    document = Document.from_files({"EF.SOD": b"\x77\x03\x30\x01", "DG1": b"\x61\x02\x5f"})
    with pytest.raises(SodError):
        document.sod()
    with pytest.raises(DataGroupError):
        _ = document.dg1_mrz
    assert Document.from_files({}).sod_bytes == b""
    with pytest.raises(DataGroupError, match="DG1 was not read"):
        _ = Document.from_files({}).dg1_mrz
