"""The seeded traveller generator and the documents it builds."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from drivers.chiplink import ChipLink
from gate.emrtd.auth.authenticate import authenticate_document
from gate.emrtd.document import Document
from gate.mrz import parse
from gate.policy.decide import age_on
from simulator import scenarios
from simulator.chip.card import VirtualChip
from simulator.chip.transport import InProcessTransport
from simulator.gatectl.model import LaneModel
from simulator.physical import PhysicalModel, pad_jpeg
from simulator.travellers import (
    DocumentFactory,
    FaceSource,
    TravellerError,
    generate,
    jpeg,
    make_traveller,
    pad_score,
)

TODAY = date(2026, 6, 1)


def _scenario(**groups: int) -> scenarios.Scenario:
    return scenarios.Scenario(
        name="t",
        travellers=[scenarios.TravellerGroup(document=k.replace("_", "-"), count=n)  # type: ignore[arg-type]
                    for k, n in groups.items()],
    )  # fmt: skip


def test_same_seed_same_travellers_other_seed_other_order() -> None:
    scenario = _scenario(genuine=5, expired=3, clone=2)
    a = generate(scenario, 30, seed=4, today=TODAY)
    b = generate(scenario, 30, seed=4, today=TODAY)
    c = generate(scenario, 30, seed=5, today=TODAY)
    assert [t.mrz for t in a] == [t.mrz for t in b]
    assert [t.group for t in a] != [t.group for t in c]
    assert [t.index for t in a] == list(range(30))


def test_groups_interleave_and_keep_their_proportions_over_rounds() -> None:
    travellers = generate(_scenario(genuine=6, expired=3, clone=1), 50, seed=1, today=TODAY)
    assert Counter(t.spec.document for t in travellers) == {
        "genuine": 30, "expired": 15, "clone": 5,
    }  # fmt: skip
    first_round = [t.group for t in travellers[:10]]
    assert first_round != sorted(first_round)  # not in blocks
    with pytest.raises(TravellerError):
        generate(_scenario(genuine=1), 0, seed=1, today=TODAY)


def test_mrz_age_nationality_and_expiry_follow_the_group() -> None:
    for age in (0, 8, 12, 35, 90):
        spec = scenarios.TravellerGroup(age=age, nationality="TWN")
        t = make_traveller(0, 0, spec, seed=age, today=TODAY)
        parsed = parse(t.mrz_lines, today=TODAY)
        assert parsed.valid, parsed.errors
        assert t.mrz[2:5] == "TWN" and age_on(t.birth, TODAY) == age
        assert t.expiry > TODAY
    expired = make_traveller(0, 0, scenarios.TravellerGroup(document="expired"), 3, TODAY)
    assert expired.expiry < TODAY and parse(expired.mrz_lines, today=TODAY).valid
    unreadable = scenarios.TravellerGroup(document="unreadable-mrz")
    smudged = make_traveller(0, 0, unreadable, 3, TODAY).document_lines()
    assert [len(line) for line in smudged] == [44, 44]  # what the reader's OCR made of it
    assert not parse(smudged, today=TODAY).valid


EXPECTED_FAILURES = {
    "genuine": set(),
    "expired": {"DOCUMENT_EXPIRED"},
    "altered-dg1": {"PA_DG_HASH_MISMATCH"},
    "altered-dg2": {"PA_DG_HASH_MISMATCH"},
    "forged-sod": {"PA_SIGNATURE_INVALID"},
    "wrong-signer": {"PA_CSCA_UNKNOWN"},
    "revoked-dsc": {"PA_CERT_REVOKED"},
    "clone": {"CHIP_CLONE_SUSPECTED"},
}


def test_every_document_kind_fails_authentication_for_its_own_reason() -> None:
    now = datetime(2026, 6, 1, 8, tzinfo=UTC)
    factory = DocumentFactory(now)
    portrait = jpeg(FaceSource.find(None).portrait(0))
    for kind, expected in EXPECTED_FAILURES.items():
        spec = scenarios.TravellerGroup(document=kind, nationality="DEU")  # type: ignore[arg-type]
        t = make_traveller(0, 0, spec, seed=11, today=now.date())
        image = factory.build(t, portrait)
        assert image is not None
        link = ChipLink(InProcessTransport(VirtualChip(image)))
        reader = link.reader()
        key = parse(t.mrz_lines, today=now.date()).bac_key
        assert key is not None
        link.run(reader.open(key.mrz_information()))
        names = ["EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15"]
        files = {n: r.data for n, r in link.run(reader.read_files(names)).items()}
        verdict = link.run(
            authenticate_document(
                reader, Document.from_files(files), factory.store, at=now, mrz=t.mrz
            )
        )
        failed = {f.code for f in verdict.findings if f.severity == "fail"}
        assert verdict.ok is (kind == "genuine"), (kind, failed)
        assert expected <= failed, (kind, failed)
    no_chip = make_traveller(0, 0, scenarios.TravellerGroup(document="no-chip"), 1, TODAY)
    assert factory.build(no_chip, portrait) is None
    with pytest.raises(TravellerError, match="ICAO code"):
        factory.state("XXX")


def test_pad_scores_and_the_padded_portrait() -> None:
    live = make_traveller(0, 0, scenarios.TravellerGroup(face="impostor"), 1, TODAY)
    photo = make_traveller(0, 0, scenarios.TravellerGroup(face="printed-photo"), 1, TODAY)
    assert pad_score(live) >= 0.5 > pad_score(photo)
    data = jpeg(FaceSource.find(None).portrait(0), quality=30)
    padded = pad_jpeg(data, 20_000)
    assert len(padded) == 20_000 and padded[:2] == b"\xff\xd8"
    import cv2
    import numpy as np

    assert cv2.imdecode(np.frombuffer(padded, np.uint8), 1) is not None
    assert pad_jpeg(padded, 100) == padded


def test_physical_minimum_is_the_issue_defaults_back_to_back() -> None:
    model = PhysicalModel()
    chip = 0.52
    doorway = 0.15 + 0.05  # half a body plus the doorway margin
    # the traveller walks up from 1.4 m before the entry door to 0.2 m before it while it opens
    # (1.2 m at 1.2 m/s: 1.0 s), crosses it, faces the camera 1.0 s later, 3 frames at 15/s;
    # meanwhile walks on to 0.2 m before the exit door (1.8 m from the entry: 1.5 s, 0.3 s
    # after the frames), which then opens in 1.0 s; through to 0.2 m past it
    two_step = 2.0 + 0.5 + chip + 1.0 + doorway / 1.2 + 1.0 + 3 / 15 + 1.0 + 2 * doorway / 1.2
    assert model.minimum(chip) == pytest.approx(two_step)
    steps = model.minimum_steps(chip)
    assert list(steps)[:3] == ["place_document", "mrz_delivery", "chip_link"]
    assert sum(steps.values()) == pytest.approx(two_step)
    one_step = 2.0 + 0.5 + chip + 1.0 + 2 * doorway / 1.2
    assert model.minimum(chip, "one-step") == pytest.approx(one_step)
    slower = PhysicalModel(door_open_seconds=2.0)
    assert slower.geometry.door_travel_s == 2.0
    assert slower.minimum(chip) == pytest.approx(two_step + 2.0)


def test_physical_minimum_overlaps_the_walk_with_the_face_capture() -> None:
    """A slow walker is still walking to the exit door when the face is done: the minimum
    counts the rest of that walk, not the door time after it (nor the walk after the door)."""
    model = PhysicalModel(walking_speed=0.6)
    steps = model.minimum_steps(0.5)
    assert steps["entry_opens"] == pytest.approx(1.2 / 0.6)  # the walk up, longer than the door
    assert steps["face_the_camera"] == pytest.approx(1.0)
    # crossing the entry -> 0.2 m before the exit door: 1.8 m at 0.6 m/s = 3.0 s, of which the
    # face and its frames took 1.2 s
    assert steps["exit_opens"] == pytest.approx(3.0 - 1.2)
    assert steps["walk_out"] == pytest.approx(0.4 / 0.6)


def test_the_simulated_doors_take_the_models_opening_and_closing_times() -> None:
    lane = LaneModel(PhysicalModel(door_open_seconds=1.0, door_close_seconds=2.0).geometry)
    door = lane.exit
    door.open()
    for _ in range(9):
        lane.step(0.1)
    assert not door.passable
    lane.step(0.11)
    assert door.passable
    door.close(lock=True)
    for _ in range(19):
        lane.step(0.1)
    assert door.opening > 0 and not door.locked
    lane.step(0.11)
    assert door.opening == 0 and door.locked
