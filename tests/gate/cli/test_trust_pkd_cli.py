"""``egate trust import FILE.ldif`` (ICAO PKD download) and ``egate trust list --summary``
(issue 20 item 12)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gate.cli import main
from gate.emrtd.pki import ldif
from simulator import passports, pki

DOC_MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3401159ZE184226B<<<<<10"


def test_pkd_ldif_import_fills_the_dsc_csca_and_crl_stores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    csca = pki.make_csca("p256", country="UT", now=now, common_name="CSCA UT pkd")
    dsc = pki.make_dsc(csca, "p256", now=now, serial=0x31)
    signer = pki.make_ml_signer(csca, now=now, serial=0x32)
    no_eku = pki.make_dsc(csca, "p256", now=now, serial=0x33)
    crl = pki.make_crl(
        csca, [0x99], this_update=now - timedelta(days=2), next_update=now + timedelta(days=5)
    )
    records = [
        # CRL and DSC entries first: the import orders them after the master lists.
        ldif.LdifRecord("cn=crl1,o=crl,c=UT,dc=data", crls=[crl]),
        ldif.LdifRecord("cn=dsc1,o=dsc,c=UT,dc=data", certificates=[dsc.der]),
        ldif.LdifRecord(
            "cn=ml1,o=ml,c=UT,dc=data",
            master_lists=[pki.sign_master_list(signer, [csca.cert], signing_time=now)],
        ),
        ldif.LdifRecord(
            "cn=ml2,o=ml,c=UT,dc=data",
            master_lists=[pki.sign_master_list(no_eku, [csca.cert], signing_time=now)],
        ),
    ]
    file = tmp_path / "icaopkd-001-complete-000001.ldif"
    file.write_bytes(ldif.dump(records))
    (tmp_path / "root.der").write_bytes(csca.der)
    store = str(tmp_path / "store")
    args = ["trust", "--store", store, "import", str(file), "--ml-root", str(tmp_path / "root.der")]
    assert main([*args, "--json"]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["kind"] == "ldif" and len(report["added"]) == 3
    [refused] = report["rejected"]
    assert "cn=ml2" in refused and "master-list-signer extended key usage" in refused
    assert main(["trust", "--store", store, "list", "--summary", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"] == {"UT": {"csca": 1, "dsc": 1, "crl": 1}}
    [newest] = summary["newest_crls"]
    assert newest["age_days"] == pytest.approx(2, abs=0.1) and not newest["stale"]
    assert main(["trust", "--store", store, "list", "--summary"]) == 0
    assert "days old" in capsys.readouterr().out


def test_broken_ldif_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "bad.ldif"
    file.write_text("version: 1\n\ndn: cn=x,o=dsc\nuserCertificate;binary:: ***\n")
    assert main(["trust", "--store", str(tmp_path / "s"), "import", str(file)]) == 1
    assert "bad.ldif line 4" in capsys.readouterr().err


def test_sealed_store_via_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    csca = pki.make_csca("p256", country="UT", now=now, common_name="CSCA UT sealed")
    (tmp_path / "csca.der").write_bytes(csca.der)
    key = tmp_path / "index.key"
    base = ["trust", "--store", str(tmp_path / "store")]
    fp = hashlib.sha256(csca.der).hexdigest()
    imp = ["import", str(tmp_path / "csca.der"), "--confirm", fp]
    assert main([*base, "--index-key", str(key), *imp]) == 0
    assert key.exists()  # created by the first import
    assert main([*base, "--index-key", str(key), "list", "--json"]) == 0
    assert fp in capsys.readouterr().out
    assert main([*base, "list"]) != 0
    assert "sealed with an index key" in capsys.readouterr().err
    # doc verify opens the sealed store with the same key (and refuses it without)
    dsc = pki.make_dsc(csca, "p256", now=now, serial=79)
    image = passports.build_passport(DOC_MRZ, dsc, aa_kind=None, chip_auth=False)
    for name, data in image.files.items():
        (tmp_path / name).write_bytes(data)
    verify = ["doc", "verify", "--sod", str(tmp_path / "EF.SOD"), "--dg", f"1={tmp_path / 'DG1'}",
              "--dg", f"2={tmp_path / 'DG2'}", "--trust", str(tmp_path / "store")]  # fmt: skip
    assert main([*verify, "--index-key", str(key)]) == 0
    assert capsys.readouterr().out.startswith("PASSED")
    assert main(verify) == 2
    assert "index key" in capsys.readouterr().err
    (tmp_path / "store" / "certs" / f"{fp}.der").write_bytes(csca.der[:-1])
    assert main([*base, "--index-key", str(key), "list"]) != 0
    assert f"certs/{fp}.der does not match its name" in capsys.readouterr().err
