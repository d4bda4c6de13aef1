"""Build small chip images for tests and benchmarks: DG1 from an MRZ, a dummy DG2 of a chosen
size, EF.CardAccess, DG14/DG15 and EF.CardSecurity from freshly generated keys.

EF.SOD and EF.CardSecurity made here are *unsigned* CMS SignedData placeholders (correct data
group hashes, no signer): the test PKI's passport factory produces signed ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gate.emrtd.auth.aa import ECDSA_WITH_SHA256
from gate.emrtd.cms.sod import OID_LDS_SECURITY_OBJECT, OID_SIGNED_DATA
from gate.emrtd.crypto.certs import CRYPTOGRAPHY_CURVES
from gate.emrtd.crypto.kdf import Cipher
from gate.emrtd.iso7816 import tlv
from gate.emrtd.lds import lds
from gate.emrtd.lds.securityinfos import (
    ID_PK_ECDH,
    ID_SECURITY_OBJECT,
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    SecurityInfo,
    ca_oid,
    encode_int,
    encode_oid,
    encode_security_infos,
    pace_oid,
    sequence,
)
from simulator.chip.image import ChipImage

SHA256 = "2.16.840.1.101.3.4.2.1"

SPECIMEN_MRZ = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
)


def unsigned_signed_data(content_type: str, content: bytes) -> bytes:
    """ContentInfo(SignedData) with the content and no signer (a placeholder)."""
    algo = sequence(encode_oid(SHA256))
    encap = sequence(encode_oid(content_type), tlv.encode(0xA0, tlv.encode(0x04, content)))
    signed = sequence(encode_int(3), tlv.encode(0x31, algo), encap, tlv.encode(0x31, b""))
    return sequence(encode_oid(OID_SIGNED_DATA), tlv.encode(0xA0, signed))


def placeholder_sod(files: dict[str, bytes]) -> bytes:
    hashes = b"".join(
        sequence(encode_int(n), tlv.encode(0x04, hashlib.sha256(files[f"DG{n}"]).digest()))
        for n in range(1, 17)
        if f"DG{n}" in files
    )
    lso = sequence(encode_int(0), sequence(encode_oid(SHA256)), sequence(hashes))
    return tlv.encode(lds.SOD_TAG, unsigned_signed_data(OID_LDS_SECURITY_OBJECT, lso))


def dummy_jpeg(size: int, width: int = 480, height: int = 640) -> bytes:
    """A JPEG-looking blob of ``size`` bytes (SOI, SOF0 with the size, filler, EOI)."""
    sof = b"\xff\xc0\x00\x11\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big")
    sof += b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    head = b"\xff\xd8" + sof
    filler = bytes((i * 7 + 3) & 0xFF for i in range(max(0, size - len(head) - 2)))
    return head + filler.replace(b"\xff", b"\xfe") + b"\xff\xd9"


def spki(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass
class ImageSpec:
    mrz: str = SPECIMEN_MRZ
    can: str | None = "123456"
    pace: list[tuple[str, str, int]] = field(default_factory=lambda: [("GM", "AES-128", 13)])
    """(mapping GM|CAM, cipher, standardized parameter id); empty: BAC only."""
    aa: str | None = "RSA"
    """RSA, EC or None."""
    chip_authentication: bool = True
    ca_curve: str = "brainpoolP256r1"
    dg2_size: int = 20000
    rsa_bits: int = 1024


def build_image(spec: ImageSpec | None = None) -> ChipImage:
    spec = spec or ImageSpec()
    files: dict[str, bytes] = {"DG1": lds.encode_dg1(spec.mrz)}
    files["DG2"] = lds.encode_dg2(dummy_jpeg(max(64, spec.dg2_size - 60)), 480, 640)
    dgs = [1, 2]
    aa_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None
    if spec.aa == "RSA":
        aa_key = rsa.generate_private_key(65537, spec.rsa_bits)
    elif spec.aa == "EC":
        aa_key = ec.generate_private_key(ec.SECP256R1())
    uses_cam = any(m == "CAM" for m, _, _ in spec.pace)
    ca_key = None
    dg14: list[SecurityInfo] = []
    if spec.chip_authentication or uses_cam:
        ca_key = ec.generate_private_key(CRYPTOGRAPHY_CURVES[spec.ca_curve]())
        dg14 += [
            ChipAuthenticationPublicKeyInfo(ID_PK_ECDH, spki(ca_key)),
            ChipAuthenticationInfo(ca_oid("ECDH", "AES-128"), 1),
        ]
    if isinstance(aa_key, ec.EllipticCurvePrivateKey):
        dg14.append(ActiveAuthenticationInfo(ECDSA_WITH_SHA256))
    pace_list: list[SecurityInfo] = []
    for mapping, cipher, pid in spec.pace:
        c: Cipher = cipher  # type: ignore[assignment]
        agreement = "DH" if pid <= 2 else "ECDH"  # ids 0-2: RFC 5114 MODP groups
        pace_list.append(PACEInfo(pace_oid(agreement, mapping, c), 2, pid))
    if dg14:
        dg14 += [p for p in pace_list]
        files["DG14"] = lds.encode_dg14(dg14)
        dgs.append(14)
    if aa_key is not None:
        files["DG15"] = lds.encode_dg15(spki(aa_key))
        dgs.append(15)
    files["EF.COM"] = lds.encode_ef_com(dgs)
    files["EF.SOD"] = placeholder_sod(files)
    if pace_list:
        files["EF.CardAccess"] = encode_security_infos(pace_list)
    if uses_cam and ca_key is not None:
        content = encode_security_infos(
            [
                *pace_list,
                ChipAuthenticationPublicKeyInfo(ID_PK_ECDH, spki(ca_key)),
                ChipAuthenticationInfo(ca_oid("ECDH", "AES-128"), 1),
            ]
        )
        files["EF.CardSecurity"] = unsigned_signed_data(ID_SECURITY_OBJECT, content)
    return ChipImage(files, "".join(spec.mrz.split()), spec.can, aa_key, ca_key)
