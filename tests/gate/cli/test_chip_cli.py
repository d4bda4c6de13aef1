"""``egate chip`` commands against simulated chips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.cli import main
from tests.conftest import require_testdata

NL_MRZ = (
    "P<NLDMEULENDIJK<<LOES<ALBERTINE<<<<<<<<<<<<<\nXX00013286NLD7110195F1110012123456789<<<<<76"
)


def test_read_dutch_passport_image_writes_identical_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = require_testdata("epassport", "jmrtd_samples", "loes2006_NL_specimen")
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
