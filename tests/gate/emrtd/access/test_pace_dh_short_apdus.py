"""PACE with a 2048-bit DH group on links without extended APDUs (issue 19): the mapping and
key-agreement steps carry 264 bytes, more than a short APDU holds, so the reader chains them
(ISO/IEC 7816-4 command chaining) and collects the chip's 264-byte answers with GET RESPONSE."""

from __future__ import annotations

import pytest

from drivers.chiplink import ChipLink, run
from gate.emrtd.errors import CardRemovedError, ChipError, StatusWordError
from gate.emrtd.iso7816.apdu import CommandAPDU
from gate.emrtd.reader import ChipSession, Reader
from simulator.chip.builder import ImageSpec, build_image
from simulator.chip.card import ChipConfig, VirtualChip
from simulator.chip.image import ChipImage
from simulator.chip.transport import InProcessTransport


@pytest.fixture(scope="module")
def dh_image() -> ChipImage:
    # standardized domain parameter 2: RFC 5114 2048-bit MODP group, 256-bit subgroup
    return build_image(ImageSpec(pace=[("GM", "AES-128", 2)], aa=None, dg2_size=3000))


def _read(image: ChipImage, config: ChipConfig) -> tuple[Reader, ChipSession, dict[str, bytes]]:
    link = ChipLink(InProcessTransport(VirtualChip(image, config)))
    session = link.session
    session.keep_log = True
    reader = link.reader()
    link.run(reader.open(image.mrz_information))
    files = {n: r.data for n, r in link.run(reader.read_files(["DG1", "DG2"])).items()}
    return reader, session, files


def _general_authenticate(session: ChipSession) -> list[tuple[bytes, bytes]]:
    return [(c, r) for c, r in session.log if c[1] == 0x86]


@pytest.mark.parametrize(
    "config",
    [
        ChipConfig(extended_length=False, max_command=255, max_response=256),
        # the ATR claims extended length, the reader in front refuses it (6700 to the probe)
        ChipConfig(extended_length=False, atr_claims_extended=True, max_response=256),
    ],
    ids=["short-link", "atr-claims-extended"],
)
def test_dh_2048_pace_is_chained_over_short_apdus(dh_image: ChipImage, config: ChipConfig) -> None:
    reader, session, files = _read(dh_image, config)
    assert reader.access is not None
    assert reader.access.protocol == "PACE" and reader.access.pace_error is None
    assert files == {"DG1": dh_image.files["DG1"], "DG2": dh_image.files["DG2"]}
    assert all(len(c) <= 261 for c, _ in session.log), "an extended APDU went to a short link"
    steps = _general_authenticate(session)
    # mapping and key agreement: a chained piece (CLA 10, 255 bytes, answered 9000 alone) then
    # the rest with the step's own CLA; the answer longer than 256 bytes ends in 61xx
    pieces = [c for c, r in steps if c[4] == 0xFF]
    assert len(pieces) == 2 and all(c[0] == 0x10 and len(c) == 5 + 255 for c in pieces)
    assert [r for c, r in steps if c[4] == 0xFF] == [b"\x90\x00"] * 2
    long_answers = [r for _, r in steps if r[-2] == 0x61]
    assert len(long_answers) == 2 and all(len(r) == 258 for r in long_answers)
    fetches = [c for c, _ in session.log if c[1] == 0xC0]
    assert len(fetches) == 2 and all(
        c[4] == r[-1] for c, r in zip(fetches, long_answers, strict=True)
    )


def test_dh_2048_pace_with_extended_length_sends_each_step_whole(dh_image: ChipImage) -> None:
    reader, session, _files = _read(dh_image, ChipConfig())
    assert reader.access is not None and reader.access.protocol == "PACE"
    steps = _general_authenticate(session)
    assert len(steps) == 4, "no chaining and no GET RESPONSE when the link takes extended APDUs"
    assert not any(c[1] == 0xC0 for c, _ in session.log)
    assert max(len(c) for c, _ in steps) > 261


def test_a_chip_refusing_chaining_falls_back_to_bac_and_says_why(dh_image: ChipImage) -> None:
    config = ChipConfig(extended_length=False, max_response=256, command_chaining=False)
    reader, _session, files = _read(dh_image, config)
    assert reader.access is not None and reader.access.protocol == "BAC"
    assert reader.access.downgraded
    assert "6884" in (reader.access.pace_error or "")
    assert files["DG1"] == dh_image.files["DG1"]


class _ShortOnlyLink:
    """A reader that claims extended APDUs in its ATR but answers 6700 to every one, in front
    of a chip that takes chained commands (and echoes the joined data)."""

    atr = bytes.fromhex("3b8580018073000040b7")  # card capabilities: extended length

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.buffer = b""

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        if len(apdu) > 5 and apdu[4] == 0:
            return b"\x67\x00"
        self.buffer += apdu[5 : 5 + apdu[4]]
        if apdu[0] & 0x10:
            return b"\x90\x00"
        data, self.buffer = self.buffer, b""
        return data[:4] + b"\x90\x00"


def test_session_chains_after_a_6700_to_an_extended_command() -> None:
    link = _ShortOnlyLink()
    session = ChipSession(atr=link.atr)
    data = bytes(range(256)) * 2 + b"tail"
    resp = run(session.transmit(CommandAPDU(0x00, 0x2A, 0x00, 0x00, data, le=256)), link)
    assert resp.ok and resp.data == data[:4]
    assert session.extended_length is False
    first, *chain = link.sent
    assert first[4] == 0 and len(first) > 261  # the extended try, refused
    assert [(c[0], c[4]) for c in chain] == [(0x10, 255), (0x10, 255), (0x00, 6)]
    assert b"".join(c[5 : 5 + c[4]] for c in chain) == data
    assert chain[-1][-1] == 0x00  # Le 00 (256) as a short Le
    # the next long command goes straight to the chain
    link.sent.clear()
    run(session.transmit(CommandAPDU(0x00, 0x2A, 0x00, 0x00, data[:300])), link)
    assert [c[0] for c in link.sent] == [0x10, 0x00]


def test_a_refused_piece_ends_the_chain_with_its_answer() -> None:
    class Refusing(_ShortOnlyLink):
        def transmit(self, apdu: bytes) -> bytes:
            self.sent.append(apdu)
            return b"\x68\x84"

    link = Refusing()
    session = ChipSession(atr=link.atr)
    session.extended_length = False
    resp = run(session.transmit(CommandAPDU(0x00, 0x2A, 0x00, 0x00, bytes(600))), link)
    assert resp.sw == 0x6884 and len(link.sent) == 1


def test_the_chip_limit_on_command_data_chains_even_with_extended_length() -> None:
    link = _ShortOnlyLink()
    session = ChipSession(atr=link.atr)
    session.max_command = 100
    run(session.transmit(CommandAPDU(0x00, 0x2A, 0x00, 0x00, bytes(250))), link)
    assert [(c[0], c[4]) for c in link.sent] == [(0x10, 100), (0x10, 100), (0x00, 50)]


def test_the_no_chaining_profile_reports_the_dh_downgrade(dh_image: ChipImage) -> None:
    image = ChipImage(
        dict(dh_image.files), dh_image.mrz, dh_image.can, quirks=["short-no-chaining"]
    )
    reader, _session, files = _read(image, ChipConfig())
    assert reader.access is not None and reader.access.downgraded
    assert files["DG2"] == dh_image.files["DG2"]


class _FailingAt(_ShortOnlyLink):
    """Answers the first pieces of a chain, then ``answer`` (bytes) or raises (an exception)."""

    def __init__(self, after: int, answer: bytes | Exception) -> None:
        super().__init__()
        self.after, self.answer = after, answer

    def transmit(self, apdu: bytes) -> bytes:
        if len(self.sent) >= self.after:
            self.sent.append(apdu)
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer
        return super().transmit(apdu)


@pytest.mark.parametrize("answer", [b"", b"\x90"])
def test_garbage_to_a_chain_piece_is_a_chip_error(answer: bytes) -> None:
    session = ChipSession(atr=b"")
    with pytest.raises(ChipError, match="garbage"):
        run(
            session.transmit(CommandAPDU(0x00, 0x86, 0x00, 0x00, bytes(600))), _FailingAt(1, answer)
        )


def test_an_unknown_status_word_to_a_chain_piece_ends_the_chain_with_it() -> None:
    link = _FailingAt(1, b"\x01\x02\x03")
    resp = run(ChipSession(atr=b"").transmit(CommandAPDU(0, 0x86, 0, 0, bytes(800))), link)
    assert resp.sw == 0x0203 and not resp.ok and len(link.sent) == 2


def test_a_card_removed_in_the_middle_of_a_chain_is_reported_as_removed() -> None:
    link = _FailingAt(1, CardRemovedError("card left the field"))
    with pytest.raises(CardRemovedError):
        run(ChipSession(atr=b"").transmit(CommandAPDU(0x10, 0x86, 0, 0, bytes(600))), link)
    assert len(link.sent) == 2  # one piece taken, the second one met the removal


def test_a_hostile_command_limit_in_ef_atr_info_is_bounded() -> None:
    image = build_image(ImageSpec(pace=[("GM", "AES-128", 13)], aa=None, dg2_size=2000))
    config = ChipConfig(max_command=1)  # EF.ATR/INFO announces 1-byte commands
    link = ChipLink(InProcessTransport(VirtualChip(image, config)))
    link.session.keep_log = True
    with pytest.raises(StatusWordError):  # the chip itself then refuses its own limit
        link.run(link.reader().open(image.mrz_information))
    assert link.session.max_command == 16  # never below 16 bytes, so no endless tiny chain
    assert len(link.session.log) < 20


def test_the_virtual_chip_bounds_an_unfinished_chain() -> None:
    chip = VirtualChip(build_image(ImageSpec(aa=None, dg2_size=2000)))
    header = b"\x7c\x83\x01\x00\x00"  # a 7C object announcing 64 KB that never comes
    answers = [chip.process(bytes([0x10, 0x86, 0, 0, 255]) + (header + bytes(250))[:255])]
    answers += [chip.process(bytes([0x10, 0x86, 0, 0, 255]) + bytes(255)) for _ in range(20)]
    assert answers[0] == b"\x90\x00"
    assert b"\x67\x00" in answers  # refused once the chain passes 4 KB, not kept for ever
