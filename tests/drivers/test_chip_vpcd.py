"""End to end through the real PC/SC stack: pyscard -> pcscd -> vpcd -> virtual chip.

The fixture starts ``pcscd --foreground`` itself (and stops it), unless one is already
running. Skipped with the reason when pcscd or the vpcd driver is missing, except under CI.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers.chiplink import ChipLink
from gate.emrtd.errors import CardRemovedError, ChipTimeoutError
from simulator.chip.builder import ImageSpec, build_image
from simulator.chip.card import ChipConfig, Faults, VirtualChip
from simulator.chip.image import ChipImage, load_image
from simulator.chip.transport import VpcdCard

pytestmark = [pytest.mark.pcsc, pytest.mark.xdist_group("pcsc")]
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
READER = "Virtual PCD 00 00"
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pcscd() -> Iterator[None]:
    # one pcscd/vpcd per machine: an exclusive lock keeps workers of `pytest -n` from sharing
    # (or killing) each other's pcscd even if xdist_group scheduling is not honoured
    lock = (Path(tempfile.gettempdir()) / "egate-pcsc-tests.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield from _pcscd()
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _pcscd() -> Iterator[None]:
    binary = shutil.which("pcscd") or (
        "/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None
    )
    if binary is None:
        _missing("pcscd not installed (Debian package pcscd; ./dev installs it)")
    if not VPCD_DRIVER.exists():
        _missing("vpcd driver not installed (Debian package vsmartcard-vpcd)")
    from drivers.pcsc import list_readers

    proc = None
    if not any(r.startswith("Virtual PCD") for r in list_readers()):
        assert binary is not None
        proc = subprocess.Popen(
            [binary, "--foreground", "--error"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not any(r.startswith("Virtual PCD") for r in list_readers()):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.terminate()
                _missing("pcscd started but shows no 'Virtual PCD' reader (check reader.conf.d)")
            time.sleep(0.1)
    yield
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _read_via_pcsc(
    image: ChipImage, names: list[str], config: ChipConfig | None = None, can: str | None = None
) -> tuple[str, dict[str, bytes]]:
    from drivers.pcsc import PcscReader

    card = VpcdCard(VirtualChip(image, config or ChipConfig()))
    card.start()
    try:
        pcsc = PcscReader(READER, timeout=5)
        transport = pcsc.connect()
        try:
            link = ChipLink(transport)
            reader = link.reader()
            result = link.run(reader.open(None if can else image.mrz_information, can))
            files = {n: r.data for n, r in link.run(reader.read_files(names)).items()}
        finally:
            transport.close()
    finally:
        card.stop()
        PcscReader(READER).wait_for_removal(5)
    label = result.protocol + (f"-{result.mapping}-{result.cipher}" if result.mapping else "")
    return label, files


CASES = [
    ([], True), ([], False),
    ([("GM", "3DES", 13)], True), ([("GM", "AES-128", 13)], True),
    ([("GM", "AES-192", 16)], False), ([("GM", "AES-256", 12)], True),
    ([("CAM", "AES-128", 13)], True), ([("CAM", "AES-256", 13)], False),
]  # fmt: skip


@pytest.mark.parametrize(("pace", "extended"), CASES)
def test_protocols_over_pcsc(pcscd: None, pace: list[tuple[str, str, int]], extended: bool) -> None:
    image = build_image(ImageSpec(pace=pace, aa=None, dg2_size=6000))
    cfg = ChipConfig(extended_length=extended, max_response=65536 if extended else 256)
    names = ["EF.COM", "EF.SOD", "DG1", "DG2", "DG14"]
    label, files = _read_via_pcsc(image, names, cfg)
    expected = "BAC" if not pace else f"PACE-{pace[0][0]}-{pace[0][1]}"
    assert label == expected
    assert files == {n: image.files[n] for n in names}


@pytest.mark.parametrize(
    "quirks", [["bare-error-sw", "wrong-le-6c"], ["t0-get-response"], ["no-ef-com", "short-256"]]
)
def test_quirk_profiles_over_pcsc(pcscd: None, quirks: list[str]) -> None:
    """Real chips' habits through the real PC/SC stack (pcscd, vpcd): the same reads."""
    image = build_image(ImageSpec(aa=None, dg2_size=3000))
    image.quirks = quirks
    names = ["EF.SOD", "DG1", "DG2"] + ([] if "no-ef-com" in quirks else ["EF.COM"])
    label, files = _read_via_pcsc(image, names)
    assert label == "PACE-GM-AES-128"
    assert files == {n: image.files[n] for n in names}


def test_can_over_pcsc(pcscd: None) -> None:
    image = build_image(ImageSpec(aa=None, dg2_size=500, can="271828"))
    label, files = _read_via_pcsc(image, ["DG1"], can="271828")
    assert label == "PACE-GM-AES-128" and files["DG1"] == image.files["DG1"]


def test_dutch_2006_passport_byte_identical_through_pcsc(
    pcscd: None, testdata_dir: Callable[..., Path]
) -> None:
    image = load_image(testdata_dir("epassport", "jmrtd_samples", "loes2006_NL_specimen"))
    names = ["EF.COM", "DG1", "DG2", "DG15", "EF.SOD"]
    for config in (ChipConfig(), ChipConfig(extended_length=False, max_response=256)):
        label, files = _read_via_pcsc(image, names, config)
        assert label == "BAC"
        for name in names:
            assert files[name] == image.files[name], name


def test_card_removed_mid_read_is_reported_and_reader_stays_usable(pcscd: None) -> None:
    from drivers.pcsc import PcscReader

    image = build_image(ImageSpec(pace=[], aa=None, dg2_size=6000))
    chip = VirtualChip(
        image, ChipConfig(extended_length=False, max_response=256), Faults(remove_after_apdus=10)
    )
    card = VpcdCard(chip)
    card.start()
    pcsc = PcscReader(READER, timeout=5)
    transport = pcsc.connect()
    link = ChipLink(transport)
    reader = link.reader()
    link.run(reader.open(image.mrz_information))
    with pytest.raises(CardRemovedError, match="removed"):
        link.run(reader.read_files(["DG2"]))
    transport.close()
    card.stop()
    pcsc.wait_for_removal(5)
    label, files = _read_via_pcsc(image, ["DG2"])
    assert label == "BAC" and files["DG2"] == image.files["DG2"]


def test_slow_chip_times_out_and_events_are_reported(pcscd: None) -> None:
    from drivers.pcsc import PcscReader

    image = build_image(ImageSpec(pace=[], aa=None, dg2_size=500))
    chip = VirtualChip(image)
    card = VpcdCard(chip)
    card.start()
    pcsc = PcscReader(READER, timeout=5)
    transport = pcsc.connect(transmit_timeout=0.5)
    try:
        link = ChipLink(transport)
        reader = link.reader()
        link.run(reader.open(image.mrz_information))
        chip.faults.slow_seconds = 1.5
        with pytest.raises(ChipTimeoutError, match="did not answer"):
            link.run(reader.read_files(["DG1"]))
    finally:
        transport.close()
    events = pcsc.events(poll=0.05, until=time.monotonic() + 5)
    card.stop()
    assert next(events) == "removed"


def test_cli_reads_through_pcsc(
    pcscd: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from gate.cli import main
    from simulator.chip.builder import SPECIMEN_MRZ

    image = build_image(ImageSpec(pace=[("CAM", "AES-128", 13)], aa="EC", dg2_size=15000))
    card = VpcdCard(VirtualChip(image))
    card.start()
    try:
        code = main(
            [
                "chip",
                "read",
                "--reader",
                "virtual pcd 00 00",
                "--mrz",
                SPECIMEN_MRZ,
                "--out",
                str(tmp_path),
                "--json",
            ]
        )
    finally:
        card.stop()
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["access"]["mapping"] == "CAM" and result["access"]["cam_verified"] is True
    assert result["reader"] == READER
    for name in ("EF.COM", "DG1", "DG2", "DG14", "DG15", "EF.SOD", "EF.CardSecurity"):
        assert (tmp_path / f"{name}.bin").read_bytes() == image.files[name], name
