"""``egate trust`` and ``egate doc verify`` end to end (in-process)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drivers.chiplink import ChipLink
from gate.cli import main
from gate.emrtd.crypto import certs
from simulator import passports, pki

MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"


def test_trust_import_list_expire_remove(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], testdata_dir: Callable[..., Path]
) -> None:
    folder = testdata_dir("epassport", "gmrtd", "master_lists")
    store = tmp_path / "trust"
    nl = str(folder / "NL_ML_2026-07-22.ml")
    assert main(["trust", "--store", str(store), "import", nl]) == 1  # no root configured
    assert "no master-list root configured" in capsys.readouterr().err
    code = main(
        [
            "trust",
            "--store",
            str(store),
            "import",
            nl,
            "--ml-root",
            str(folder / "NL_ROOT_CA.cer"),
            "--json",
        ]
    )
    assert code == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["kind"] == "master_list" and len(report["added"]) > 300
    assert main(["trust", "--store", str(store), "list", "--json", "--country", "NL"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["entries"] and {e["country"] for e in listed["entries"]} == {"NL"}
    first = listed["entries"][0]["id"]
    assert main(["trust", "--store", str(store), "expire", first[:20]]) == 0
    assert main(["trust", "--store", str(store), "remove", first[:20]]) == 0
    capsys.readouterr()
    main(["trust", "--store", str(store), "list", "--json"])
    assert first not in {e["id"] for e in json.loads(capsys.readouterr().out)["entries"]}


def test_trust_list_warns_about_expiry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    soon = pki.make_csca("p256", country="UT", now=now, years=0)  # ends in 0 years = now
    later = pki.issue(
        subject=pki.name("UT", "CSCA in 60 days"),
        key=pki.new_key("p256"),
        issuer=None,
        serial=9,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=60),
        ca=True,
    )
    for i, c in enumerate((soon, later)):
        (tmp_path / f"c{i}.der").write_bytes(c.der)
    store = str(tmp_path / "s")
    files = [str(tmp_path / "c0.der"), str(tmp_path / "c1.der")]
    # Self-signed CSCAs outside a master list are trusted only by fingerprint (issue 20.7).
    assert main(["trust", "--store", store, "import", *files]) == 1
    out = capsys.readouterr().out
    fps = [certs.fingerprint(c.cert) for c in (soon, later)]
    assert all(f"--confirm {fp}" in out for fp in fps)
    confirm = [arg for fp in fps for arg in ("--confirm", fp)]
    assert main(["trust", "--store", store, "import", *files, *confirm]) == 0
    capsys.readouterr()
    main(["trust", "--store", store, "list", "--json"])
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert any("CSCA in 60 days" in w and "within 90 days" in w for w in warnings)


def test_doc_verify_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    csca = pki.make_csca("brainpoolP256r1", country="UT", now=now, explicit=True)
    dsc = pki.make_dsc(csca, "brainpoolP256r1", now=now, serial=77, explicit=True)
    image = passports.build_passport(MRZ, dsc, aa_kind=None, chip_auth=False)
    for name, data in image.files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "csca.der").write_bytes(csca.der)
    base = [
        "doc", "verify", "--sod", str(tmp_path / "EF.SOD"),
        "--dg", f"1={tmp_path / 'DG1'}", "--dg", f"2={tmp_path / 'DG2'}",
        "--trust", str(tmp_path / "csca.der"), "--json",
    ]  # fmt: skip
    assert main([*base, "--mrz", MRZ[:44] + "\n" + MRZ[44:]]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passive_authentication"] is True
    assert [c["serial"] for c in out["chain"]] == ["4d", format(csca.cert.serial_number, "x")]
    assert {d["number"]: d["status"] for d in out["data_groups"]} == {1: "match", 2: "match"}

    assert main([*base, "--mrz", MRZ.replace("ANNA", "ANNE")]) == 1
    assert "MRZ_DG1_MISMATCH" in json.loads(capsys.readouterr().out)["codes"]
    assert main([*base, "--at", "2099-01-01"]) == 1
    assert "PA_CERT_EXPIRED" in json.loads(capsys.readouterr().out)["codes"]
    assert main([*base, "--dg", "x=1"]) == 2
    assert "expected N=FILE" in capsys.readouterr().err


def test_doc_verify_reports_what_was_verified_not_what_the_sod_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 17 item 2: no PASSED / exit 0 when data groups were not checked."""
    now = datetime.now(UTC)
    csca = pki.make_csca("p256", country="UT", now=now)
    dsc = pki.make_dsc(csca, "p256", now=now, serial=78)
    image = passports.build_passport(MRZ, dsc, aa_kind="p256", chip_auth=True)
    for name, data in image.files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "csca.der").write_bytes(csca.der)
    sod, trusted = str(tmp_path / "EF.SOD"), str(tmp_path / "csca.der")
    base = ["doc", "verify", "--sod", sod, "--trust", trusted]
    one = [*base, "--dg", f"1={tmp_path / 'DG1'}"]
    assert main(one) == 1
    text = capsys.readouterr().out
    assert text.startswith("NOT VERIFIED") and "PASSED" not in text and "PA_OK" not in text
    assert "signature valid; 1 of 4 data groups verified" in text
    assert "not checked: DG2, DG14, DG15" in text and "--signature-only" in text
    assert main([*base, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "not_verified" and out["data_groups_verified"] == 0
    assert "PA_OK" not in out["codes"] and "PA_OK" not in {f["code"] for f in out["findings"]}
    assert out["data_groups_listed"] == 4 and out["data_groups_unchecked"] == [1, 2, 14, 15]
    assert main([*one, "--signature-only"]) == 0
    assert capsys.readouterr().out.startswith("PASSED passive authentication: signature valid;")
    every = [*base, *(f"--dg={n}={tmp_path / f'DG{n}'}" for n in (1, 2, 14, 15))]
    assert main(every) == 0
    assert "signature valid; 4 of 4 data groups verified" in capsys.readouterr().out
    (tmp_path / "DG2").write_bytes(image.files["DG2"][:-1] + b"\x00")
    assert main([*every, "--signature-only"]) == 1  # supplied groups are still checked
    assert capsys.readouterr().out.startswith("FAILED")


def test_doc_verify_real_sod_with_master_list_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], testdata_dir: Callable[..., Path]
) -> None:
    folder = testdata_dir("epassport", "gmrtd")
    store = str(tmp_path / "s")
    ml = folder / "master_lists"
    main(["trust", "--store", store, "import", str(ml / "DE_ML_2026-05-28-08-28-45.ml"),
          "--ml-root", str(ml / "DE_ROOT_CA_CSCA07.cer")])  # fmt: skip
    capsys.readouterr()
    code = main(["doc", "verify", "--sod", str(folder / "sod_real_world" / "DE_EF_SOD.bin"),
                 "--trust", store, "--at", "2024-06-01", "--json", "--signature-only"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out["codes"]
    assert out["signature_valid"] and out["data_groups_verified"] == 0
    assert "explicit parameters" in out["chain"][0]["key"]


def test_policy_from_lane_config(tmp_path: Path) -> None:
    from gate import config
    from gate.emrtd.auth.passive import PaPolicy

    lane = tmp_path / "lane.toml"
    lane.write_text('[trust]\nvalidity_model = "chain"\nrequire_crl = true\n')
    policy = PaPolicy.from_config(config.load_lane(lane).trust)
    assert policy.validity_model == "chain" and policy.require_crl and not policy.strict_sod


@pytest.mark.parametrize("variant,code", [("genuine", "AA_OK"), ("clone", "CHIP_CLONE_SUSPECTED")])
def test_make_passport_image_is_served_by_the_virtual_chip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], variant: str, code: str
) -> None:
    from gate.emrtd.auth.authenticate import authenticate_document
    from gate.emrtd.document import Document
    from gate.emrtd.pki.trust import TrustStore
    from simulator.chip.card import VirtualChip
    from simulator.chip.image import load_image
    from simulator.chip.transport import InProcessTransport

    out = tmp_path / "chip"
    assert (
        main(["doc", "make-passport", str(out), "--variant", variant, "--signer", "rsa-pss"]) == 0
    )
    capsys.readouterr()
    image = load_image(out)
    link = ChipLink(InProcessTransport(VirtualChip(image)))
    reader = link.reader()
    link.run(reader.open(image.mrz_information))
    names = ["EF.SOD", "DG1", "DG2", "DG14", "DG15"]
    files = {n: r.data for n, r in link.run(reader.read_files(names)).items()}
    store = TrustStore()
    store.import_bytes((out / "csca.der").read_bytes(), source="csca", now=datetime.now(UTC))
    verdict = link.run(
        authenticate_document(
            reader, Document.from_files(files), store, at=datetime.now(UTC), mrz=image.mrz
        )
    )
    assert verdict.passive_ok and code in verdict.codes
