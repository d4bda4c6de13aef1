"""Seeded simulated travellers: who they are, what they carry, what they show the camera.

:func:`generate` turns a scenario's traveller groups into a list of :class:`Traveller` in a
seeded random arrival order (all groups interleaved). A traveller is plain data (names, dates,
the MRZ, the document kind, the face kind, behaviour, the expected decision); the expensive
parts are built on demand and only for the traveller at the lane:

- :class:`DocumentFactory` builds the chip image (``simulator.passports`` signed by a per-state
  test PKI from ``simulator.pki``, served by the virtual chip), every bad variant of the scenario
  format, and the trust store holding the test CSCAs and a CRL revoking the ``revoked-dsc``
  signer;
- :class:`FaceSource` gives the chip portrait and the live face of an identity;
  :func:`live_frames` renders what the gate camera sees with the simulated camera
  (``simulator.camera.SceneCamera``): the holder moving naturally, an impostor, nobody facing the
  camera, a printed photo or a still image replayed on a screen.

The same seed gives the same travellers, documents (up to fresh key material) and frames.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from gate.emrtd.pki import trust
from gate.errors import EgateError
from gate.mrz import check_digit
from gate.mrz.countries import alpha2
from simulator import passports, pki
from simulator.camera import SceneCamera
from simulator.chip.image import ChipImage
from simulator.scenarios import Scenario, TravellerGroup

SURNAMES = [
    "MUSTERMANN", "DUPONT", "ROSSI", "JANSEN", "NOVAK", "SILVA", "KOWALSKI", "BERG",
    "CHEN", "LIN", "WANG", "NGUYEN", "SANTOS", "TANAKA", "KIM", "HUANG",
]  # fmt: skip
GIVEN = [
    "ERIKA", "JEAN", "MARIA", "PIETER", "ANA", "LUIS", "JAN", "INGRID",
    "MEI", "WEI", "HOA", "YUKI", "MINJUN", "JOSE", "SITI", "ARJUN",
]  # fmt: skip


class TravellerError(EgateError):
    """A traveller or its document cannot be built."""


@dataclass(frozen=True)
class Traveller:
    """One simulated traveller (plain data; the document and frames are built on demand)."""

    index: int
    """Arrival order over the whole run, from 0."""
    group: int
    """Index of the scenario's traveller group."""
    spec: TravellerGroup
    surname: str
    given_names: str
    document_number: str
    birth: date
    expiry: date
    sex: str
    identity: int
    """Which face identity is the document holder."""
    seed: int

    @property
    def mrz(self) -> str:
        """The printed TD3 MRZ (88 characters)."""
        return td3_mrz(
            self.spec.nationality,
            self.surname,
            self.given_names,
            self.document_number,
            self.birth,
            self.expiry,
            self.sex,
        )

    @property
    def mrz_lines(self) -> list[str]:
        mrz = self.mrz
        return [mrz[:44], mrz[44:]]

    @property
    def label(self) -> str:
        s = self.spec
        parts = [s.document, f"face={s.face}"]
        if s.behaviour != "normal":
            parts.append(s.behaviour)
        if s.tailgater:
            parts.append("tailgater")
        if s.watchlist:
            parts.append("watchlist")
        if not s.on_manifest:
            parts.append("not-on-manifest")
        parts.append(f"age={s.age}")
        return " ".join(parts)

    def document_lines(self) -> list[str]:
        """What the document reader delivers: the MRZ, or for an unreadable one what its OCR
        made of it (lines of the right shape that do not parse)."""
        return list(UNREADABLE_MRZ) if self.spec.document == "unreadable-mrz" else self.mrz_lines


UNREADABLE_MRZ = ("P<UTO" + "<" * 39, "GARBAGE" + "<" * 37)
"""A smudged MRZ as the reader's OCR delivers it: the lane refers it ``MRZ_INVALID``."""


def _yymmdd(d: date) -> str:
    return d.strftime("%y%m%d")


def td3_mrz(
    state: str,
    surname: str,
    given: str,
    number: str,
    birth: date,
    expiry: date,
    sex: str,
) -> str:
    """A valid TD3 passport MRZ (ICAO 9303-4) of ``state`` (issuing state = nationality)."""
    line1 = f"P<{state}{surname}<<{given.replace(' ', '<')}".ljust(44, "<")[:44]
    doc = number.ljust(9, "<")[:9]
    optional = "<" * 14
    line2 = (
        doc
        + check_digit(doc)
        + state
        + _yymmdd(birth)
        + check_digit(_yymmdd(birth))
        + sex
        + _yymmdd(expiry)
        + check_digit(_yymmdd(expiry))
        + optional
        + check_digit(optional)
    )
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    return line1 + line2 + check_digit(composite)


def make_mrz(rng: random.Random, today: date, state: str = "UTO") -> str:
    """A valid TD3 MRZ of ``state`` for an adult with a document valid for years."""
    spec = TravellerGroup(nationality=state)
    return make_traveller(0, 0, spec, rng.randrange(1 << 30), today).mrz


def _birth_for_age(rng: random.Random, age: int, today: date) -> date:
    """A birth date giving exactly ``age`` full years on ``today``."""
    latest = (
        today.replace(year=today.year - age)
        if not (today.month == 2 and today.day == 29)
        else date(today.year - age, 2, 28)
    )
    return latest - timedelta(days=rng.randint(1, 360))


def make_traveller(
    index: int, group: int, spec: TravellerGroup, seed: int, today: date
) -> Traveller:
    rng = random.Random(seed)
    if spec.document == "expired":
        expiry = today - timedelta(days=rng.randint(2, 400))
    else:
        expiry = today + timedelta(days=rng.randint(200, 3000))
    number = f"{rng.choice('CFGHJKLMNPRTVWXY')}{rng.randint(10, 99)}{rng.randint(100000, 999999)}"
    return Traveller(
        index=index,
        group=group,
        spec=spec,
        surname=rng.choice(SURNAMES),
        given_names=rng.choice(GIVEN),
        document_number=number,
        birth=_birth_for_age(rng, spec.age, today),
        expiry=expiry,
        sex=rng.choice("MF"),
        identity=rng.randrange(1 << 16),
        seed=seed,
    )


def generate(scenario: Scenario, total: int, seed: int, today: date) -> list[Traveller]:
    """``total`` travellers following the scenario's mix, interleaved in a seeded random order.

    One round holds every group's ``count`` travellers, shuffled; rounds repeat (each shuffled
    anew) until ``total`` are drawn, so a run shorter than a round samples the mix at random
    and a longer one keeps its proportions."""
    if total < 1:
        raise TravellerError(f"the number of travellers must be at least 1, got {total}")
    rng = random.Random(seed)
    out: list[Traveller] = []
    while len(out) < total:
        round_ = [g for g, spec in enumerate(scenario.travellers) for _ in range(spec.count)]
        rng.shuffle(round_)
        for group in round_[: total - len(out)]:
            out.append(
                make_traveller(
                    len(out), group, scenario.travellers[group], rng.randrange(1 << 30), today
                )
            )
    return out


# --------------------------------------------------------------------------- documents


@dataclass
class StatePki:
    csca: pki.Issued
    dsc: pki.Issued
    revoked_dsc: pki.Issued


class DocumentFactory:
    """Chip images for travellers, signed by per-state test PKIs, and the lanes' trust store.

    Every state gets a P-256 CSCA, a Document Signer, and a second signer that the state's CRL
    revokes (for ``revoked-dsc``). EC keys keep key generation cheap (a run builds one chip per
    traveller); AA uses P-256 too.
    """

    REVOKED_SERIAL = 0x2002

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.store = trust.TrustStore()
        self._states: dict[str, StatePki] = {}

    def state(self, code: str) -> StatePki:
        if code not in self._states:
            country = alpha2(code)
            if country is None:
                raise TravellerError(
                    f"no ISO 3166 alpha-2 code for the state {code!r}: use an ICAO code such as "
                    "'TWN', 'DEU' or 'UTO'"
                )
            csca = pki.make_csca("p256", country=country, now=self.now - timedelta(days=30))
            dsc = pki.make_dsc(csca, "p256", now=self.now, serial=0x2001)
            revoked = pki.make_dsc(csca, "p256", now=self.now, serial=self.REVOKED_SERIAL)
            crl = pki.make_crl(
                csca,
                [self.REVOKED_SERIAL],
                this_update=self.now - timedelta(days=1),
                next_update=self.now + timedelta(days=30),
            )
            self.store.import_bytes(csca.der, source="simulator test PKI", now=self.now)
            self.store.import_bytes(crl, source="simulator test PKI", now=self.now)
            self._states[code] = StatePki(csca, dsc, revoked)
        return self._states[code]

    def build(self, traveller: Traveller, portrait_jpeg: bytes) -> ChipImage | None:
        """The chip image the traveller's document carries (None: no chip)."""
        kind = traveller.spec.document
        if kind == "no-chip":
            return None
        state = self.state(traveller.spec.nationality)
        signer = state.revoked_dsc if kind == "revoked-dsc" else state.dsc
        image = passports.build_passport(
            traveller.mrz, signer, aa_kind="p256", face=portrait_jpeg, seed=traveller.seed
        )
        if kind == "altered-dg1":
            image = passports.altered_dg(image, 1)
        elif kind == "altered-dg2":
            image = passports.altered_dg(image, 2)
        elif kind == "forged-sod":
            image = forged_sod(image)
        elif kind == "wrong-signer":
            image = passports.wrong_signer(image, self.now)
        elif kind == "clone":
            image = passports.cloned(image)
        if traveller.spec.chip_quirks:
            image = dataclasses.replace(image, quirks=list(traveller.spec.chip_quirks))
        return image


def forged_sod(image: ChipImage) -> ChipImage:
    """EF.SOD whose signature value was changed: the content and hashes are intact, the
    signature no longer verifies with the embedded Document Signer."""
    sod = bytearray(image.files["EF.SOD"])
    sod[-3] ^= 0x5A  # inside the SignerInfo's signature, the last element of the structure
    return dataclasses.replace(
        image,
        files={**image.files, "EF.SOD": bytes(sod)},
        extra={**image.extra, "variant": "forged SOD"},
    )


# --------------------------------------------------------------------------- faces


@dataclass
class FaceSource:
    """Portrait and live images per identity: the shared test faces when present, otherwise
    one bundled photograph (scikit-image's astronaut) and a face-free picture for impostors."""

    identities: list[list[np.ndarray]]
    origin: str
    strangers: list[np.ndarray] = field(default_factory=list)
    """Live images for impostors when there is only one identity."""

    @classmethod
    def find(cls, testdata: Path | None) -> FaceSource:
        if testdata is not None:
            root = testdata / "faces" / "dlib_johns"
            people = []
            for folder in sorted(p for p in root.glob("*") if p.is_dir()):
                images = [cv2.imread(str(f)) for f in sorted(folder.glob("*.jpg"))]
                good = [im for im in images if im is not None]
                if len(good) >= 2:
                    people.append(good)
            if len(people) >= 2:
                return cls(people, str(root))
        from skimage import data as skdata

        astronaut = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)[0:300, 100:330]
        cat = cv2.cvtColor(skdata.chelsea(), cv2.COLOR_RGB2BGR)
        return cls(
            [[astronaut, cv2.flip(astronaut, 1)]],
            "scikit-image sample photographs (no test data found)",
            strangers=[cat],
        )

    def portrait(self, identity: int) -> np.ndarray:
        return self.identities[identity % len(self.identities)][0]

    def pair(self, identity: int, impostor: bool) -> tuple[np.ndarray, np.ndarray]:
        """(chip portrait, one live face) for a traveller holding ``identity``'s document."""
        return self.portrait(identity), self.live(identity, impostor)[0]

    def live(self, identity: int, impostor: bool) -> list[np.ndarray]:
        """The face in front of the camera, as several captures of the same person (their
        landmarks differ the way a moving, living face's do): the holder's other images, or
        someone else's."""
        person = self.identities[identity % len(self.identities)]
        if impostor:
            if len(self.identities) > 1:
                person = self.identities[(identity + 1) % len(self.identities)]
            else:
                return self.strangers
        return person[1:] if len(person) > 1 else person


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise TravellerError("could not encode a portrait as JPEG")
    return bytes(data)


def back_of_head() -> np.ndarray:
    """What the camera sees of a traveller who does not face it: hair, no face."""
    img = np.full((256, 256, 3), (35, 40, 50), np.uint8)
    noise = np.random.default_rng(0).normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def printed(face: np.ndarray) -> np.ndarray:
    """A print: flattened contrast, a paper tint, halftone-like grain."""
    out = face.astype(np.float32) * 0.8 + 30
    out[..., 0] *= 0.95
    grain = np.random.default_rng(1).normal(0, 4, out.shape)
    return np.clip(out + grain, 0, 255).astype(np.uint8)


def on_screen(face: np.ndarray) -> np.ndarray:
    """A still image on a phone or tablet: brighter, blue-tinted, with pixel-row banding."""
    out = face.astype(np.float32) * 1.1 + 10
    out[..., 0] += 12
    out[::3] *= 0.9
    return np.clip(out, 0, 255).astype(np.uint8)


PAD_SCORES = {"printed-photo": 0.05, "screen-replay": 0.1}
"""The simulated camera's presentation-attack score for flat presentations (1.0 is live)."""


def pad_score(traveller: Traveller) -> float:
    """The liveness score a camera with its own presentation-attack detection (3D / near
    infrared, ``gate.face.liveness.ExternalLiveness``) reports for this traveller.

    The simulated camera composites flat images, so the motion baseline cannot tell a living
    face from a photo in its frames; the simulation plays a PAD camera that knows the truth."""
    return PAD_SCORES.get(traveller.spec.face, 0.95)


def live_frames(
    traveller: Traveller,
    faces: FaceSource,
    count: int,
    *,
    fps: float = 15.0,
    tailgater: bool | None = None,
) -> Iterator[np.ndarray]:
    """``count`` consecutive camera frames (at ``fps``) of the traveller standing at the camera.

    A living face (holder or impostor) is rendered from several captures of the person in turn
    with head motion; a printed photo and a screen replay are one flat image, held still;
    ``none`` shows no face. A tailgater appears close behind."""
    kind = traveller.spec.face
    if kind == "none":
        patches = [back_of_head()]
    elif kind == "printed-photo":
        patches = [printed(faces.portrait(traveller.identity))]
    elif kind == "screen-replay":
        patches = [on_screen(faces.portrait(traveller.identity))]
    else:
        # a living face: several captures of the person in turn
        captures = faces.live(traveller.identity, impostor=kind == "impostor")
        patches = [captures[i % len(captures)] for i in range(count)]
    follow = traveller.spec.tailgater if tailgater is None else tailgater
    with tempfile.TemporaryDirectory(prefix="egate-sim-face-") as tmp:
        for i, patch in enumerate(patches):
            cv2.imwrite(str(Path(tmp) / f"{i:03d}.png"), patch)
        camera = SceneCamera(
            faces_dir=Path(tmp),
            fps=fps,
            tailgate_every=1 if follow else 0,
            head_motion=kind not in ("printed-photo", "screen-replay"),
            seed=traveller.seed % 10_000,
            realtime=False,
        )
        # the traveller stands at the camera from 55 % to 85 % of the scene cycle; scene
        # "person" k shows patch k (frame i of a living face, the one picture of a flat one)
        start = camera.cycle * 0.58
        for i in range(count):
            k = i % len(patches)
            yield camera.render(k * camera.cycle + start + i / fps)[0]
