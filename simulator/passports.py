"""Synthetic ePassports: complete chip images signed by the test PKI, and bad variants.

A :class:`simulator.chip.image.ChipImage` (the chip layer's format, served by the virtual
chip) holds every elementary file by name (``EF.COM``, ``EF.CardAccess``,
``EF.SOD``, ``DG1``, ``DG2``, ``DG14``, ``DG15``) plus the chip's private keys, which the
virtual chip uses to answer INTERNAL AUTHENTICATE (AA) and chip authentication.

Bad variants (each names what a gate must catch):
- :func:`altered_dg`        a data group changed after signing   -> PA_DG_HASH_MISMATCH
- :func:`wrong_signer`      EF.SOD signed by a DSC of another CSCA -> PA_CSCA_UNKNOWN
- expired / revoked DSC     build with :func:`expired_dsc` / a CRL -> PA_CERT_EXPIRED / REVOKED
- :func:`cloned`            files copied to a chip without the AA key
                            -> AA_FAILED, CHIP_CLONE_SUSPECTED
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PIL import Image, ImageDraw

from gate.emrtd.auth import aa
from gate.emrtd.cms.sod import parse_sod
from gate.emrtd.crypto import certs
from gate.emrtd.errors import LDSError
from gate.emrtd.lds import lds, securityinfos
from simulator import pki
from simulator.chip.card import aa_sign as aa_sign  # the chip side of AA, for tests
from simulator.chip.image import ChipImage

AaKind = Literal["rsa2048", "rsa3072", "p256", "brainpoolP256r1"]
Portrait = Literal["jpeg", "jp2"]


# --------------------------------------------------------------------------- data groups


def dg1(mrz: str) -> bytes:
    """DG1 (the chip layer's encoder): tag 61 with the MRZ (5F1F), lines joined."""
    try:
        return lds.encode_dg1(mrz)
    except LDSError as exc:
        raise ValueError(str(exc)) from exc


def face_image(
    fmt: Portrait = "jpeg", *, size: tuple[int, int] = (240, 320), seed: int = 1
) -> bytes:
    """A synthetic frontal 'face' (ellipse, eyes, mouth) as JPEG or JPEG 2000."""
    width, height = size
    tone = (200 - seed * 13 % 60, 160 - seed * 7 % 40, 130)
    img = Image.new("RGB", size, (225, 228, 232))
    draw = ImageDraw.Draw(img)
    draw.ellipse((width * 0.2, height * 0.15, width * 0.8, height * 0.85), fill=tone)
    for ex in (0.38, 0.62):
        draw.ellipse(
            (width * ex - 10, height * 0.42 - 6, width * ex + 10, height * 0.42 + 6),
            fill=(40, 40, 40),
        )
    draw.arc(
        (width * 0.38, height * 0.55, width * 0.62, height * 0.72),
        20,
        160,
        fill=(120, 40, 40),
        width=4,
    )
    out = io.BytesIO()
    if fmt == "jp2":
        img.save(out, format="JPEG2000", quality_mode="rates", quality_layers=[40])
    else:
        img.save(out, format="JPEG", quality=80)
    return out.getvalue()


def dg2(image: bytes, width: int = 240, height: int = 320) -> bytes:
    """DG2 (the chip layer's encoder) with one ISO 19794-5 face record; the record's image
    data type (JPEG or JPEG 2000) follows the image's signature."""
    return lds.encode_dg2(image, width, height, biometric_type=0x02)  # facial features


def dg14(
    ca_key: ec.EllipticCurvePrivateKey | None, aa_ecdsa: bool, *, ca_cipher_suffix: str = "2"
) -> bytes:
    """DG14 with the chip-authentication ECDH key (explicit parameters, as most states do),
    ChipAuthenticationInfo (AES-128 by default) and, for an EC AA key, ActiveAuthenticationInfo."""
    infos: list[securityinfos.SecurityInfo] = []
    if ca_key is not None:
        spki = pki.public_key_info(ca_key, explicit=True).dump()
        infos.append(securityinfos.ChipAuthenticationPublicKeyInfo(securityinfos.ID_PK_ECDH, spki))
        infos.append(
            securityinfos.ChipAuthenticationInfo(f"{securityinfos.ID_CA_ECDH}.{ca_cipher_suffix}")
        )
    if aa_ecdsa:
        infos.append(securityinfos.ActiveAuthenticationInfo(aa.ECDSA_WITH_SHA256))
    return securityinfos.encode_dg14(infos)


def dg15(aa_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return lds.encode_dg15(pki.public_key_info(aa_key).dump())


def card_access() -> bytes:
    """EF.CardAccess with one PACEInfo: ECDH generic mapping, AES-128, brainpoolP256r1 (13)."""
    info = securityinfos.PACEInfo(securityinfos.pace_oid("ECDH", "GM", "AES-128"), 2, 13)
    return securityinfos.encode_security_infos([info])


def ef_com(groups: list[int]) -> bytes:
    """EF.COM (LDS 1.7, Unicode 4.0.0) listing those of ``groups`` that have an LDS tag."""
    return lds.encode_ef_com([n for n in groups if n in lds.DG_TAGS])


# --------------------------------------------------------------------------- chip images


def data_groups(image: ChipImage) -> dict[int, bytes]:
    """The data groups of an image by number."""
    return {int(k[2:]): v for k, v in image.files.items() if k.startswith("DG")}


def _note(image: ChipImage, note: str) -> dict[str, str]:
    notes = image.extra.get("variant")
    return {**image.extra, "variant": f"{notes}; {note}" if notes else note}


def build_passport(
    mrz: str,
    dsc: pki.Issued,
    *,
    portrait: Portrait = "jpeg",
    aa_kind: AaKind | None = "rsa2048",
    chip_auth: bool = True,
    face: bytes | None = None,
    seed: int = 1,
) -> ChipImage:
    image = face if face is not None else face_image(portrait, seed=seed)
    width, height = Image.open(io.BytesIO(image)).size
    aa_key = pki.new_key(aa_kind) if aa_kind else None
    ca_key = ec.generate_private_key(ec.BrainpoolP256R1()) if chip_auth else None
    groups: dict[int, bytes] = {1: dg1(mrz), 2: dg2(image, width, height)}
    if ca_key is not None or isinstance(aa_key, ec.EllipticCurvePrivateKey):
        groups[14] = dg14(ca_key, isinstance(aa_key, ec.EllipticCurvePrivateKey))
    if aa_key is not None:
        groups[15] = dg15(aa_key)
    files = {f"DG{n}": v for n, v in groups.items()}
    files["EF.COM"] = ef_com(sorted(groups))
    files["EF.CardAccess"] = card_access()
    files["EF.SOD"] = pki.build_sod(groups, dsc)
    return ChipImage(
        files=files,
        mrz="".join(mrz.split()),
        aa_key=aa_key,
        ca_key=ca_key,
        extra={"portrait": portrait},
    )


def altered_dg(image: ChipImage, number: int = 2) -> ChipImage:
    """One byte of a data group flipped after signing (e.g. a swapped portrait)."""
    name = f"DG{number}"
    data = bytearray(image.files[name])
    data[-1] ^= 0x01
    return replace(
        image, files={**image.files, name: bytes(data)}, extra=_note(image, f"{name} altered")
    )


def resign(image: ChipImage, dsc: pki.Issued) -> ChipImage:
    return replace(
        image,
        files={**image.files, "EF.SOD": pki.build_sod(data_groups(image), dsc)},
        extra=_note(image, f"re-signed by {dsc.cert.subject.human_friendly}"),
    )


def wrong_signer(image: ChipImage, now: datetime) -> ChipImage:
    """Signed by a forger's DSC under a CSCA with the genuine name but another key."""
    dsc = parse_sod(image.files["EF.SOD"]).signer_certificate
    assert dsc is not None
    forger = pki.make_csca(
        "p256",
        country=certs.country_of(dsc.issuer),
        now=now,
        common_name=str(dsc.issuer.native.get("common_name", "CSCA")),
    )
    return resign(image, pki.make_dsc(forger, "p256", now=now, serial=dsc.serial_number))


def expired_dsc(csca: pki.Issued, now: datetime, serial: int = 0x3001) -> pki.Issued:
    """A DSC whose validity ended yesterday."""
    return pki.make_dsc(
        csca,
        "p256",
        now=now,
        serial=serial,
        not_before=now - timedelta(days=400),
        not_after=now - timedelta(days=1),
    )


def cloned(image: ChipImage) -> ChipImage:
    """The files copied to a blank chip: the private keys cannot be copied, so the clone
    answers INTERNAL AUTHENTICATE and chip authentication with keys of its own."""
    fake_aa = (
        pki.new_key("rsa2048")
        if isinstance(image.aa_key, rsa.RSAPrivateKey)
        else pki.new_key("p256")
    )
    fake_ca = ec.generate_private_key(image.ca_key.curve) if image.ca_key is not None else None
    return replace(image, aa_key=fake_aa, ca_key=fake_ca, extra=_note(image, "cloned"))
