"""``egate chip`` commands against simulated chips."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.cli import main

NL_MRZ = (
    "P<NLDMEULENDIJK<<LOES<ALBERTINE<<<<<<<<<<<<<\nXX00013286NLD7110195F1110012123456789<<<<<76"
)


def test_read_dutch_passport_image_writes_identical_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], testdata_dir: Callable[..., Path]
) -> None:
    image = testdata_dir("epassport", "jmrtd_samples", "loes2006_NL_specimen")
    out = tmp_path / "out"
    code = main(
        ["chip", "read", "--simulate", str(image), "--mrz", NL_MRZ, "--out", str(out), "--json"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["access"]["protocol"] == "BAC"
    assert [f["name"] for f in result["files"]] == ["EF.COM", "DG1", "DG2", "DG15", "EF.SOD"]
    for fid, name in [("ef0101", "DG1"), ("ef0102", "DG2"), ("ef011D", "EF.SOD")]:
        assert (out / f"{name}.bin").read_bytes() == (image / f"{fid}.bin").read_bytes()
    assert result["apdus"] == sum(f["apdus"] for f in result["files"]) + 5


def test_build_image_then_read_with_can(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "img"
    assert main(["chip", "build-image", str(img), "--pace", "CAM:AES-256:13", "--can", "424242",
                 "--aa", "EC", "--dg2-size", "3000"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["chip", "read", "--simulate", str(img), "--can", "424242", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["access"] == {"protocol": "PACE", "mapping": "CAM", "cipher": "AES-256",
                                "cam_verified": True, "pace_error": None}  # fmt: skip
    sizes = {f["name"]: f["size"] for f in result["files"]}
    assert sizes["DG2"] == len((img / "DG2.bin").read_bytes())


def test_wrong_mrz_exits_with_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "img"
    main(["chip", "build-image", str(img), "--pace", "none", "--dg2-size", "500"])
    wrong = (
        "P<UTOX<<Y<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\nAB12345673UTO8001014F3001015<<<<<<<<<<<<<<08"
    )
    assert main(["chip", "read", "--simulate", str(img), "--mrz", wrong]) == 2
    assert "does not open this chip" in capsys.readouterr().err


def test_mrz_with_ocr_confusions_is_repaired_before_access(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--mrz`` goes through the MRZ layer like the lane: an O read for a 0 in the date of
    birth (check digits fail) is repaired and the chip opens."""
    from simulator.chip.builder import SPECIMEN_MRZ

    img = tmp_path / "img"
    main(["chip", "build-image", str(img), "--pace", "none", "--dg2-size", "500"])
    capsys.readouterr()
    line1, line2 = SPECIMEN_MRZ[:44], SPECIMEN_MRZ[44:]
    assert line2[13:19].isdigit()
    misread = line2[:13] + line2[13:19].replace("0", "O") + line2[19:]
    assert misread != line2
    code = main(["chip", "read", "--simulate", str(img), "--mrz", f"{line1}\n{misread}", "--json"])
    assert code == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["access"]["protocol"] == "BAC" and result["mrz_candidates_tried"] >= 1


def _specimen_mrz(img: Path) -> str:
    return str(json.loads((img / "chip.json").read_text())["mrz"])


def test_missing_or_truncated_dg1_and_sod_do_not_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    img = tmp_path / "img"
    assert main(["chip", "build-image", str(img), "--aa", "none", "--dg2-size", "800"]) == 0
    mrz = _specimen_mrz(img)
    (img / "DG1.bin").unlink()  # listed in EF.COM, absent on the chip: 6A82
    sod = (img / "EF.SOD.bin").read_bytes()
    (img / "EF.SOD.bin").write_bytes(sod[: len(sod) // 2])  # truncated
    capsys.readouterr()
    assert main(["chip", "read", "--simulate", str(img), "--mrz", mrz, "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["complete"] is False and result["files_missing"] == ["DG1", "EF.SOD"]
    assert "CHIP_READ_FAILED" in result["reasons"]
    errors = {f["name"]: f["error"] for f in result["files"] if "error" in f}
    assert "6A82" in errors["DG1"] and "header says" in errors["EF.SOD"]


def test_pace_downgrade_is_reported_and_can_be_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    img = tmp_path / "img"
    assert main(["chip", "build-image", str(img), "--aa", "none", "--dg2-size", "800"]) == 0
    mrz = _specimen_mrz(img)
    (img / "EF.CardAccess.bin").write_bytes(b"\x31\x05\x30\x03\x06\x01")  # corrupt
    capsys.readouterr()
    assert main(["chip", "read", "--simulate", str(img), "--mrz", mrz, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["access"]["protocol"] == "BAC"
    assert "EF.CardAccess" in result["access"]["pace_error"]
    assert result["reasons"] == ["CHIP_PACE_FAILED"]
    code = main(["chip", "read", "--simulate", str(img), "--mrz", mrz, "--require-pace"])
    assert code == 2 and "PACE required" in capsys.readouterr().err


def test_quirk_profiles_listed_and_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chip", "quirks"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert "no-ef-com" in listing and "bare-error-sw" in listing
    img = tmp_path / "img"
    assert main(["chip", "build-image", str(img), "--quirks", "no-ef-com,wrong-le-6c",
                 "--dg2-size", "800"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["chip", "read", "--simulate", str(img), "--mrz", _specimen_mrz(img),
                 "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in result["files"]] == ["DG1", "DG2", "DG14", "DG15", "EF.SOD"]
    assert main(["chip", "build-image", str(img), "--quirks", "no-such"]) == 2
    assert "egate chip quirks" in capsys.readouterr().err


def test_card_access_removed_but_dg14_lists_pace_is_a_downgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    img = tmp_path / "img"
    assert main(["chip", "build-image", str(img), "--aa", "none", "--dg2-size", "800"]) == 0
    (img / "EF.CardAccess.bin").unlink()  # the chip looks BAC-only; its DG14 says otherwise
    capsys.readouterr()
    assert main(["chip", "read", "--simulate", str(img), "--mrz", _specimen_mrz(img),
                 "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["access"]["protocol"] == "BAC" and "DG14" in result["access"]["pace_error"]
    assert result["reasons"] == ["CHIP_PACE_FAILED"]
