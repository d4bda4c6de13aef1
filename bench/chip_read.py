"""Benchmark: read EF.COM, EF.SOD, DG1 and a 20 KB DG2 from the virtual chip under BAC and PACE
with a 424 kbit/s link model and 5 ms per APDU; print JSON. PACE-GM with a 2048-bit DH group
too: on the short link its 264-byte steps go as command chains with GET RESPONSE, which the
minimum keeps (no short link can send them in fewer APDUs).

For each scenario: APDU count, bytes on the link, modelled link time, and the ratio to the
theoretical minimum. The minimum keeps the access-control exchanges the protocol requires
(one EF.CardAccess probe, SELECT MF only for a chip needing it, SELECT, GET CHALLENGE/MUTUAL
AUTHENTICATE or MSE + 4 GENERAL AUTHENTICATE, EF.CardSecurity for PACE-CAM) with their actual
sizes, and replaces file reading by the fewest READ BINARY commands the chip's response limit
allows (largest chunk that fits with the secure-messaging overhead), each at its exact
protected size. Anything else the reader sends (EF.ATR/INFO probe, retries) counts against
it. Host CPU is process time per read, for the reader alone (chip engine time subtracted) and
in total; median of --repeat runs.

Then one BAC and one PACE-GM row per quirk profile of the virtual chip
(``simulator.chip.quirks``, ``egate chip quirks``): the chip's limits as the profile sets them,
its extra time per APDU in the minimum too, T=0 answers as 61xx plus GET RESPONSE in the
minimum, and reads beyond 32 KB as B1; retries the profile forces (6Cxx, the EF.COM probe on a
chip without it) count against the reader. Every row must read every file byte-identical.

  python bench/chip_read.py [--repeat 7] [--no-quirks]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.chiplink import ChipLink
from gate.emrtd.iso7816 import tlv
from gate.emrtd.iso7816.apdu import CommandAPDU
from gate.emrtd.reader import Reader
from gate.emrtd.sm.sm import SecureMessaging
from simulator.chip.builder import ImageSpec, build_image
from simulator.chip.card import ChipConfig, VirtualChip
from simulator.chip.quirks import QUIRKS
from simulator.chip.transport import InProcessTransport, LinkModel

FILES = ["EF.COM", "EF.SOD", "DG1", "DG2"]
LINK = LinkModel(bitrate=424_000.0, latency=0.005)
SFI = {"EF.COM": 0x1E, "EF.SOD": 0x1D, "DG1": 1, "DG2": 2}

SCENARIOS: list[tuple[str, list[tuple[str, str, int]], bool, int]] = [
    ("BAC", [], True, 65536),
    ("BAC", [], False, 256),
    ("PACE-GM brainpoolP256r1 AES-128", [("GM", "AES-128", 13)], True, 65536),
    ("PACE-GM brainpoolP256r1 AES-128", [("GM", "AES-128", 13)], False, 256),
    ("PACE-CAM brainpoolP256r1 AES-256", [("CAM", "AES-256", 13)], True, 65536),
    ("PACE-GM brainpoolP256r1 AES-128", [("GM", "AES-128", 13)], True, 4096),
    ("PACE-GM DH-2048/256 AES-128", [("GM", "AES-128", 2)], True, 65536),
    ("PACE-GM DH-2048/256 AES-128", [("GM", "AES-128", 2)], False, 256),
]
QUIRK_DG2 = {"b1-le-counts-header": 40000}
"""Profiles whose habit needs a bigger file to show (B1 beyond 32 KB)."""
QUIRK_WITH = {"b1-le-counts-header": ["short-256"]}
"""Profiles benchmarked together with a limit that makes them matter."""


def _b1_overhead(n: int) -> int:
    return 1 + len(tlv.encode_length(n))


def minimal_read_exchanges(sm: SecureMessaging, size: int, limit: int, extended: bool,
                           t0: bool = False) -> list[tuple[int, int]]:  # fmt: skip
    """(command bytes, response bytes) of the fewest READ BINARY commands for one file: B0 up
    to offset 32767, then B1 (DO'54 offset, DO'53 around the data); with T=0 each answer
    costs a 61xx and a GET RESPONSE."""
    cap = min(limit, 65536)

    def fits(n: int, extra: int = 0) -> bool:
        return n + extra + sm.overhead(n + extra) <= limit

    chunk = max(n for n in range(1, cap + 1) if fits(n))
    if not extended:
        chunk = min(chunk, 256)
    probe = SecureMessaging(sm.cipher, sm.ks_enc, sm.ks_mac, 0)
    out = []
    offset = 0
    while offset < size:
        if offset <= 0x7FFF:
            n = min(chunk, size - offset, 0x8000 - offset if size > 0x8000 else size)
            cmd = probe.protect(CommandAPDU(0x00, 0xB0, 0x80 | 1, 0, le=chunk)).encode()
            plain = n
        else:
            b1 = max(k for k in range(1, chunk + 1) if fits(k, _b1_overhead(k)))
            n = min(b1, size - offset)
            body = tlv.encode(0x54, offset.to_bytes(3 if offset > 0xFFFF else 2, "big"))
            cmd = probe.protect(CommandAPDU(0x00, 0xB1, 0, 0, body, le=b1)).encode()
            plain = n + _b1_overhead(n)
        answer = plain + sm.overhead(plain) + 2
        if t0:
            out += [(len(cmd), 2), (5, answer)]
        else:
            out.append((len(cmd), answer))
        offset += n
    return out


def _required_mf_exchange(cmd: bytes, rsp: bytes, config: ChipConfig, seen: set[str]) -> bool:
    """Whether a master-file exchange belongs to the minimum: SELECT MF only for a chip that
    hides its master-file EFs without it; one EF.CardAccess probe answered 6A82 for a chip
    without the file (after SELECT MF on a chip needing it: an ideal reader selects first).
    The reader's other SELECT MF and probes are overhead. ``seen``: what was counted."""
    if cmd[1] == 0xA4 and cmd[2] == 0x00:
        required = config.select_mf_required and "select-mf" not in seen
        seen.add("select-mf")
        return required
    if cmd[1] == 0xB0 and rsp[-2:] == b"\x6a\x82":
        required = "probe" not in seen and (not config.select_mf_required or "select-mf" in seen)
        if required:
            seen.add("probe")
        return required
    return True


def run(name: str, pace: list[tuple[str, str, int]], extended: bool, limit: int,
        repeat: int, quirks: tuple[str, ...] = ()) -> dict[str, object]:  # fmt: skip
    dg2 = max([20000, *[QUIRK_DG2.get(q, 0) for q in quirks]])
    spec = ImageSpec(pace=pace, aa=None, dg2_size=dg2)
    image = build_image(spec)
    image.quirks = list(quirks)
    cpu_reader, cpu_total = [], []
    for _ in range(repeat):
        chip = VirtualChip(image, ChipConfig(extended_length=extended, max_response=limit))
        transport = InProcessTransport(chip, LINK)
        link = ChipLink(transport)
        session = link.session
        session.keep_log = True
        start = time.process_time()
        reader = Reader(session)
        access = link.run(reader.open(image.mrz_information))
        files = [n for n in FILES if n not in chip.config.hidden_files]
        reads = {}
        if "EF.COM" not in files:  # the list comes from EF.SOD
            names, reads = link.run(reader.data_groups())
            assert set(files) <= set(names), names
        reads.update(link.run(reader.read_files([n for n in files if n not in reads])))
        total = time.process_time() - start
        cpu_total.append(total)
        cpu_reader.append(total - transport.chip_cpu_seconds)
        for n in files:
            assert reads[n].data == image.files[n], n
    # the chip as the quirks made it
    extended, limit = chip.config.extended_length, chip.config.max_response
    t0 = chip.config.t0_get_response
    # the minimum: required access-control exchanges as sent, plus ideal file reads
    required: list[tuple[int, int]] = []
    in_app = False
    after_read = False
    counted: set[str] = set()
    for cmd, rsp in session.log:
        ins, p1 = cmd[1], cmd[2]
        if ins == 0xA4 and p1 == 0x04:
            in_app = True
        # file reads are replaced by the ideal ones and the EF.ATR/INFO probe is overhead;
        # EF.CardAccess (PACE parameters) and EF.CardSecurity (PACE-CAM) stay required
        if ins == 0xC0 and after_read:
            continue  # T=0 GET RESPONSE of a read: counted in the ideal reads
        after_read = ins in (0xB0, 0xB1) and (in_app or p1 == 0x81)
        if after_read:
            continue
        if not in_app and not _required_mf_exchange(cmd, rsp, chip.config, counted):
            continue
        required.append((len(cmd), len(rsp)))
    assert session.sm is not None
    ideal = list(required)
    for n in files:
        ideal += minimal_read_exchanges(session.sm, len(image.files[n]), limit, extended, t0)
    measured_time = transport.modelled_seconds
    per_apdu = chip.faults.slow_seconds
    minimum_time = sum(LINK.exchange_seconds(c, r) + per_apdu for c, r in ideal)
    return {
        "scenario": name,
        "quirks": list(quirks),
        "access": access.protocol + (f"-{access.mapping}" if access.mapping else ""),
        "cipher": access.cipher,
        "extended_length": extended,
        "chip_max_response": limit,
        "files": files,
        "file_bytes": sum(len(image.files[n]) for n in files),
        "read_complete": True,
        "apdus": transport.apdus,
        "bytes_on_link": transport.bytes_on_link,
        "modelled_seconds": round(measured_time, 4),
        "minimum_apdus": len(ideal),
        "minimum_bytes_on_link": sum(c + r for c, r in ideal),
        "minimum_seconds": round(minimum_time, 4),
        "ratio_to_minimum": round(measured_time / minimum_time, 4),
        "target_ratio": 1.10 if extended else 1.15,
        "host_cpu_ms_reader": round(statistics.median(cpu_reader) * 1000, 2),
        "host_cpu_ms_total_with_chip": round(statistics.median(cpu_total) * 1000, 2),
    }


def quirk_scenarios() -> list[tuple[str, list[tuple[str, str, int]], bool, int, tuple[str, ...]]]:
    """One BAC and one PACE-GM row per quirk profile a reader can complete."""
    rows = []
    for q in QUIRKS.values():
        if not q.completes:
            continue
        quirks = (q.name, *QUIRK_WITH.get(q.name, []))
        label = "+".join(quirks)
        rows.append((f"BAC {label}", [], True, 65536, quirks))
        rows.append((f"PACE-GM {label}", [("GM", "AES-128", 13)], True, 65536, quirks))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-quirks", action="store_true", help="skip the quirk profile rows")
    args = parser.parse_args()
    results = [run(*s, repeat=args.repeat) for s in SCENARIOS]
    if not args.no_quirks:
        results += [run(*s[:4], repeat=args.repeat, quirks=s[4]) for s in quirk_scenarios()]
    ok = all(
        r["ratio_to_minimum"] <= r["target_ratio"] and r["host_cpu_ms_reader"] <= 50  # type: ignore[operator]
        for r in results
    )
    print(
        json.dumps(
            {
                "link": {"bitrate": LINK.bitrate, "latency_s": LINK.latency},
                "files": FILES,
                "dg2_bytes": 20000,
                "results": results,
                "targets_met": ok,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
