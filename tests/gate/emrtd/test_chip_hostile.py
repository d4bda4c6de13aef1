"""Hostile chips: fuzzed responses (random TLV, wrong lengths, bad MACs) never crash the
reader; every run ends in success or in a ChipError subclass."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.chiplink import ChipLink
from gate.emrtd.errors import ChipError
from gate.emrtd.iso7816 import tlv
from gate.emrtd.iso7816.apdu import CommandAPDU, ResponseAPDU
from gate.emrtd.lds import lds
from simulator.chip.builder import ImageSpec, build_image
from simulator.chip.card import ChipConfig, VirtualChip
from simulator.chip.image import ChipImage
from simulator.chip.transport import InProcessTransport

BAC_IMAGE = build_image(ImageSpec(pace=[], aa=None, chip_authentication=False, dg2_size=1200))
PACE_IMAGE = build_image(ImageSpec(aa=None, chip_authentication=False, dg2_size=1200))
PARSERS = {"EF.COM": lds.parse_ef_com, "DG1": lds.parse_dg1, "DG2": lds.parse_dg2,
           "DG14": lds.parse_dg14}  # fmt: skip


@dataclass
class Tamper:
    index: int
    mode: str
    payload: bytes


class TamperingTransport(InProcessTransport):
    """Passes APDUs to a genuine chip and tampers with one response."""

    def __init__(self, chip: VirtualChip, tamper: Tamper) -> None:
        super().__init__(chip)
        self.tamper = tamper
        self.count = 0

    def transmit(self, apdu: bytes) -> bytes:
        out = super().transmit(apdu)
        i, self.count = self.count, self.count + 1
        if i != self.tamper.index:
            return out
        t = self.tamper
        if t.mode == "flip" and out:
            pos = t.payload[0] % len(out) if t.payload else 0
            return out[:pos] + bytes([out[pos] ^ 0xFF]) + out[pos + 1 :]
        if t.mode == "truncate":
            return out[: len(t.payload) % (len(out) + 1)]
        if t.mode == "replace":
            return t.payload
        return out[:-2] + t.payload + out[-2:]


def _run(image: ChipImage, transport: InProcessTransport) -> None:
    link = ChipLink(transport)
    reader = link.reader()
    try:
        link.run(reader.open(image.mrz_information))
        files = link.run(reader.read_files(["EF.COM", "DG1", "DG2"]))
    except ChipError:
        return
    for name, read in files.items():
        with contextlib.suppress(ChipError):
            PARSERS[name](read.data)


@given(
    index=st.integers(0, 12),
    mode=st.sampled_from(["flip", "truncate", "replace", "append"]),
    payload=st.binary(max_size=40),
    pace=st.booleans(),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_tampered_responses_end_in_domain_errors(
    index: int, mode: str, payload: bytes, pace: bool
) -> None:
    image = PACE_IMAGE if pace else BAC_IMAGE
    _run(image, TamperingTransport(VirtualChip(image), Tamper(index, mode, payload)))


class HostileContentChip(VirtualChip):
    """Authenticates properly, then serves hostile file content correctly wrapped in secure
    messaging: random TLV, headers declaring wrong lengths, short reads."""

    hostile: bytes = b""
    short_reads: bool = False

    def _read(self, cmd: CommandAPDU) -> ResponseAPDU:
        genuine = super()._read(cmd)
        if not genuine.ok and genuine.sw != 0x6282:
            return genuine
        offset = cmd.p2 if cmd.p1 & 0x80 else (cmd.p1 << 8 | cmd.p2) & 0x7FFF
        le = cmd.le or 256
        chunk = self.hostile[offset : offset + (min(le, 3) if self.short_reads else le)]
        return ResponseAPDU(chunk, 0x9000 if chunk else 0x6282)


@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda tag, declared, body: tlv.encode_tag(tag) + tlv.encode_length(declared) + body,
            st.sampled_from([0x60, 0x61, 0x75, 0x6E, 0x7F61]),
            st.integers(0, 70000),
            st.binary(max_size=200),
        ),
    ),
    short=st.booleans(),
    extended=st.booleans(),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hostile_file_content_ends_in_domain_errors(
    content: bytes, short: bool, extended: bool
) -> None:
    chip = HostileContentChip(
        BAC_IMAGE, ChipConfig(extended_length=extended, max_response=4096 if extended else 256)
    )
    chip.hostile = content
    chip.short_reads = short
    _run(BAC_IMAGE, InProcessTransport(chip))


@pytest.mark.parametrize("answer", [b"", b"\x90", b"\x90\x00", b"\x6a\x82", bytes(300)])
def test_garbage_chip_fails_with_domain_error(answer: bytes) -> None:
    class Garbage(InProcessTransport):
        def transmit(self, apdu: bytes) -> bytes:
            return answer

    with pytest.raises(ChipError):
        _run_strict(Garbage(VirtualChip(BAC_IMAGE)))


def _run_strict(transport: InProcessTransport) -> None:
    link = ChipLink(transport)
    reader = link.reader()
    link.run(reader.open(BAC_IMAGE.mrz_information))
    link.run(reader.read_files(["DG1"]))


@given(
    apdus=st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.builds(
                lambda ins, p1, p2, data: bytes([0x00, ins, p1, p2, len(data)]) + data + b"\x00",
                st.sampled_from([0xA4, 0xB0, 0xB1, 0x84, 0x82, 0x22, 0x86, 0x88]),
                st.integers(0, 255),
                st.integers(0, 255),
                st.binary(max_size=80),
            ),
        ),
        max_size=8,
    )
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_virtual_chip_answers_any_command_with_a_status_word(apdus: list[bytes]) -> None:
    """The card side survives a hostile terminal: every APDU gets a response ending in a
    status word, and nothing is readable without access control."""
    chip = VirtualChip(PACE_IMAGE)
    for raw in apdus:
        out = chip.process(raw)
        assert len(out) >= 2
        if raw[:2] == b"\x00\xb0" and not chip.authenticated and chip.in_app:
            assert out[-2:] != b"\x90\x00"
