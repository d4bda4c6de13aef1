"""The reader needs no I/O: its generators are driven here by hand, each command APDU given
to the virtual chip's ``process`` and the answer sent back, with no transport and no clock."""

from __future__ import annotations

from gate.emrtd.iso7816.exchange import Exchange, T
from gate.emrtd.reader import ChipSession, Reader
from simulator.chip.builder import ImageSpec, build_image
from simulator.chip.card import VirtualChip


def _feed(steps: Exchange[T], chip: VirtualChip) -> tuple[T, int]:
    """Drive ``steps`` against ``chip``; the result and the number of APDUs."""
    count = 0
    try:
        command = next(steps)
        while True:
            count += 1
            command = steps.send(chip.process(command))
    except StopIteration as done:
        return done.value, count


def test_open_and_read_files_by_feeding_responses() -> None:
    image = build_image(ImageSpec(aa=None, dg2_size=2000))
    chip = VirtualChip(image)
    session = ChipSession(atr=chip.atr)
    reader = Reader(session)
    access, opened = _feed(reader.open(image.mrz_information), chip)
    assert access.protocol == "PACE" and session.sm is not None
    files, reading = _feed(reader.read_files(["DG1", "DG2"]), chip)
    assert {n: r.data for n, r in files.items()} == {n: image.files[n] for n in ("DG1", "DG2")}
    assert session.stats.apdus == opened + reading
    assert session.stats.seconds == 0.0  # nothing timed: the core has no clock
    assert sum(r.apdus for r in files.values()) == reading


def test_a_generator_not_driven_sends_nothing() -> None:
    chip = VirtualChip(build_image(ImageSpec(aa=None, dg2_size=500)))
    session = ChipSession(atr=chip.atr)
    steps = Reader(session).read_files(["DG1"])
    assert session.stats.apdus == 0
    first = next(steps)
    assert first[1] == 0xA4  # SELECT the application, handed over, not sent
    steps.close()
    assert session.stats.apdus == 0
