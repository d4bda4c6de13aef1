"""Logical Data Structure files (ICAO 9303-10): EF.COM, DG1, DG2, DG7, DG11, DG12, DG14, DG15.

Parsers take the file bytes as read from the chip and return typed records; encoders (used by
the virtual chip's image builder and the test PKI) produce the same layout. Face and signature
images are returned as the embedded JPEG / JPEG 2000 bytes plus their metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import CertificateError
from gate.emrtd.errors import LDSError, SecurityInfoError, TLVError
from gate.emrtd.iso7816 import tlv
from gate.emrtd.lds import securityinfos
from gate.mrz.parser import split_lines

# tag of each elementary file's outer template (ICAO 9303-10 table 34)
DG_TAGS: dict[int, int] = {
    1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67, 8: 0x68,
    9: 0x69, 10: 0x6A, 11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E, 15: 0x6F, 16: 0x70,
}  # fmt: skip
TAG_TO_DG = {v: k for k, v in DG_TAGS.items()}
COM_TAG = 0x60
SOD_TAG = 0x77

# file identifiers and short file identifiers (ICAO 9303-10 section 3.x)
FILE_IDS: dict[str, int] = {"EF.COM": 0x011E, "EF.SOD": 0x011D, "EF.CardAccess": 0x011C,
                            "EF.CardSecurity": 0x011D, "EF.ATR/INFO": 0x2F01}  # fmt: skip
FILE_IDS.update({f"DG{n}": 0x0100 + n for n in range(1, 17)})
SFIS: dict[str, int] = {"EF.COM": 0x1E, "EF.SOD": 0x1D, "EF.CardAccess": 0x1C,
                        "EF.CardSecurity": 0x1D}  # fmt: skip
SFIS.update({f"DG{n}": n for n in range(1, 17)})
MASTER_FILE_NAMES = ("EF.CardAccess", "EF.CardSecurity", "EF.ATR/INFO")


def _wrap(what: str, data: bytes, tag: int) -> bytes:
    try:
        return tlv.decode_single(data, tag).value
    except TLVError as exc:
        raise LDSError(f"{what}: {exc}") from exc


def _children(what: str, data: bytes) -> list[tlv.TLV]:
    try:
        return tlv.decode_all(data)
    except TLVError as exc:
        raise LDSError(f"{what}: {exc}") from exc


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


# --- EF.COM -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EFCom:
    lds_version: str
    unicode_version: str
    data_groups: tuple[int, ...]


def parse_ef_com(data: bytes) -> EFCom:
    items = {t.tag: t.value for t in _children("EF.COM", _wrap("EF.COM", data, COM_TAG))}
    if 0x5C not in items:
        raise LDSError("EF.COM: tag list (5C) missing")
    dgs = []
    for b in items[0x5C]:
        if b not in TAG_TO_DG:
            raise LDSError(f"EF.COM: tag list names unknown data group tag {b:02X}")
        dgs.append(TAG_TO_DG[b])
    return EFCom(_text(items.get(0x5F01, b"")), _text(items.get(0x5F36, b"")), tuple(dgs))


def encode_ef_com(
    data_groups: list[int], lds_version: str = "0107", unicode_version: str = "040000"
) -> bytes:
    body = (
        tlv.encode(0x5F01, lds_version.encode())
        + tlv.encode(0x5F36, unicode_version.encode())
        + tlv.encode(0x5C, bytes(DG_TAGS[n] for n in data_groups))
    )
    return tlv.encode(COM_TAG, body)


def _is_hash_list(item: tlv.TLV) -> bool:
    """SEQUENCE OF DataGroupHash (SEQUENCE {INTEGER, OCTET STRING})."""
    if item.tag != 0x30:
        return False
    first = item.children()
    return bool(first) and first[0].tag == 0x30 and first[0].children()[0].tag == 0x02


def sod_data_groups(data: bytes) -> tuple[int, ...]:
    """The data group numbers EF.SOD lists hashes for, for chips without EF.COM (as gmrtd
    does). Only the structure is read here; passive authentication verifies the SOD later."""
    try:
        content_info = tlv.decode_single(_wrap("EF.SOD", data, SOD_TAG), 0x30).children()
        signed = tlv.decode_single(content_info[1].value, 0x30).children()
        encap = next(i for i in signed if i.tag == 0x30 and i.children()[0].tag == 0x06)
        lso = tlv.decode_single(tlv.decode_single(encap.children()[1].value, 0x04).value, 0x30)
        hashes = next(i for i in lso.children() if _is_hash_list(i))
        numbers = [int.from_bytes(h.children()[0].value, "big") for h in hashes.children()]
    except (TLVError, IndexError, StopIteration) as exc:
        raise LDSError(f"EF.SOD: no data group hash list found ({exc or 'structure'})") from exc
    if not numbers or any(not 1 <= n <= 16 for n in numbers):
        raise LDSError(f"EF.SOD: data group numbers {numbers} outside 1..16")
    return tuple(sorted(set(numbers)))


# --- DG1 --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DG1:
    mrz: str

    @property
    def lines(self) -> list[str]:
        """The MRZ cut into its lines (TD1 3 x 30, TD2 2 x 36, TD3 2 x 44) by the MRZ layer."""
        return split_lines(self.mrz)


def parse_dg1(data: bytes) -> DG1:
    try:
        mrz = tlv.find(_wrap("DG1", data, DG_TAGS[1]), 0x5F1F) if data else None
    except TLVError as exc:  # a malformed element inside the DG1 template
        raise LDSError(f"DG1: {exc}") from exc
    if mrz is None:
        raise LDSError("DG1: MRZ data element (5F1F) missing")
    text = mrz.decode("ascii", errors="replace")
    if len(text) not in (90, 72, 88):
        raise LDSError(f"DG1: MRZ has {len(text)} characters; expected 90, 72 or 88")
    return DG1(text)


def encode_dg1(mrz: str) -> bytes:
    text = "".join(mrz.split())
    if len(text) not in (90, 72, 88):
        raise LDSError(f"DG1: MRZ has {len(text)} characters; expected 90, 72 or 88")
    return tlv.encode(DG_TAGS[1], tlv.encode(0x5F1F, text.encode("ascii")))


# --- images -----------------------------------------------------------------------------------
ImageFormat = Literal["jpeg", "jpeg2000", "unknown"]
_JP2_SIG = bytes.fromhex("0000000C6A5020200D0A870A")
_J2K_SIG = bytes.fromhex("FF4FFF51")


def image_format(data: bytes) -> ImageFormat:
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data.startswith(_JP2_SIG) or data.startswith(_J2K_SIG):
        return "jpeg2000"
    return "unknown"


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG SOF marker or a JPEG 2000 ihdr/SIZ box; None if absent."""
    fmt = image_format(data)
    if fmt == "jpeg":
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                return None
            marker = data[pos + 1]
            seg = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD):
                h = int.from_bytes(data[pos + 5 : pos + 7], "big")
                w = int.from_bytes(data[pos + 7 : pos + 9], "big")
                return w, h
            pos += 2 + seg
        return None
    if fmt == "jpeg2000":
        i = data.find(b"ihdr")
        if i >= 0 and i + 12 <= len(data):
            h = int.from_bytes(data[i + 4 : i + 8], "big")
            w = int.from_bytes(data[i + 8 : i + 12], "big")
            return w, h
        i = data.find(_J2K_SIG)
        if i >= 0 and i + 14 <= len(data):
            w = int.from_bytes(data[i + 6 : i + 10], "big")
            h = int.from_bytes(data[i + 10 : i + 14], "big")
            return w, h
    return None


@dataclass(frozen=True)
class FaceImage:
    image: bytes
    format: ImageFormat
    width: int | None
    height: int | None
    standard: Literal["ISO/IEC 19794-5", "ISO/IEC 39794-5"]
    metadata: dict[str, int] = field(default_factory=dict)


def parse_iso19794_5(record: bytes) -> list[FaceImage]:
    """Facial record data (ISO/IEC 19794-5:2005): general header then face blocks."""
    if len(record) < 14 or record[:4] != b"FAC\x00":
        raise LDSError("ISO 19794-5 record does not start with 'FAC\\0'")
    count = int.from_bytes(record[12:14], "big")
    pos = 14
    faces = []
    for index in range(count):
        if pos + 32 > len(record):
            raise LDSError(f"ISO 19794-5 face {index}: header truncated at offset {pos}")
        block_len = int.from_bytes(record[pos : pos + 4], "big")
        landmarks = int.from_bytes(record[pos + 4 : pos + 6], "big")
        end = pos + block_len
        if block_len < 32 or end > len(record):
            raise LDSError(f"ISO 19794-5 face {index}: block length {block_len} out of range")
        info = record[pos + 6 : pos + 20]
        img = pos + 20 + 8 * landmarks
        if img + 12 > end:
            raise LDSError(f"ISO 19794-5 face {index}: {landmarks} landmarks overrun the block")
        meta = {
            "gender": info[0],
            "eye_colour": info[1],
            "hair_colour": info[2],
            "feature_mask": int.from_bytes(info[3:6], "big"),
            "expression": int.from_bytes(info[6:8], "big"),
            "face_image_type": record[img],
            "image_data_type": record[img + 1],
            "colour_space": record[img + 6],
            "source_type": record[img + 7],
            "quality": int.from_bytes(record[img + 10 : img + 12], "big"),
        }
        width = int.from_bytes(record[img + 2 : img + 4], "big")
        height = int.from_bytes(record[img + 4 : img + 6], "big")
        data = record[img + 12 : end]
        fmt = image_format(data)
        if fmt == "unknown":
            fmt = "jpeg2000" if meta["image_data_type"] == 1 else "jpeg"
        faces.append(FaceImage(data, fmt, width, height, "ISO/IEC 19794-5", meta))
        pos = end
    return faces


def encode_iso19794_5(image: bytes, width: int, height: int) -> bytes:
    data_type = 1 if image_format(image) == "jpeg2000" else 0
    info = bytes(14)  # gender, eyes, hair, feature mask, expression, pose: unspecified
    img_info = (
        bytes([1, data_type])  # full frontal
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes([1, 2])  # 24-bit RGB, digital still camera
        + bytes(4)
    )
    block = (20 + 12 + len(image)).to_bytes(4, "big") + (0).to_bytes(2, "big") + info + img_info
    block += image
    header = b"FAC\x00" + b"010\x00" + (14 + len(block)).to_bytes(4, "big") + (1).to_bytes(2, "big")
    return header + block


def _find_images(data: bytes, depth: int = 0) -> list[bytes]:
    if depth > 12:
        return []
    found = []
    try:
        items = tlv.decode_all(data)
    except TLVError:
        return []
    for item in items:
        if image_format(item.value) != "unknown":
            found.append(item.value)
        elif item.constructed:
            found.extend(_find_images(item.value, depth + 1))
    return found


def parse_iso39794_5(block: bytes) -> list[FaceImage]:
    """ISO/IEC 39794-5 (tagged ASN.1) face data: every embedded image with its size."""
    out = []
    for img in _find_images(block):
        size = image_size(img)
        fmt = image_format(img)
        out.append(
            FaceImage(
                img, fmt, size[0] if size else None, size[1] if size else None, "ISO/IEC 39794-5"
            )
        )
    if not out:
        raise LDSError("ISO 39794-5 face data holds no JPEG or JPEG 2000 image")
    return out


@dataclass(frozen=True)
class DG2:
    faces: list[FaceImage]

    @property
    def portrait(self) -> FaceImage:
        return self.faces[0]


def parse_dg2(data: bytes) -> DG2:
    groups = _children("DG2", _wrap("DG2", data, DG_TAGS[2]))
    faces: list[FaceImage] = []
    for group in groups:
        if group.tag != 0x7F61:
            continue
        for bit in _children("DG2 biometric group", group.value):
            if bit.tag != 0x7F60:
                continue
            for item in _children("DG2 biometric template", bit.value):
                if item.tag in (0x5F2E, 0x7F2E):
                    if item.value.startswith(b"FAC\x00"):
                        faces.extend(parse_iso19794_5(item.value))
                    else:
                        faces.extend(parse_iso39794_5(item.value))
    if not faces:
        raise LDSError("DG2 holds no face image (no 5F2E/7F2E biometric data block)")
    return DG2(faces)


def encode_dg2(
    image: bytes, width: int, height: int, *, biometric_type: int | None = None
) -> bytes:
    """DG2 with one ISO 19794-5 face record. ``biometric_type`` adds the optional BHT element
    81 (ISO/IEC 7816-11; 2 = facial features) to the biometric header template."""
    header = tlv.encode(
        0xA1,
        tlv.encode(0x80, b"\x01\x01")  # ICAO header version 1.1
        + (tlv.encode(0x81, bytes([biometric_type])) if biometric_type is not None else b"")
        + tlv.encode(0x87, b"\x01\x01")  # format owner ISO/IEC JTC1/SC37
        + tlv.encode(0x88, b"\x00\x08"),  # format type: face image
    )
    bit = tlv.encode(0x7F60, header + tlv.encode(0x5F2E, encode_iso19794_5(image, width, height)))
    return tlv.encode(DG_TAGS[2], tlv.encode(0x7F61, tlv.encode(0x02, b"\x01") + bit))


# --- DG7 --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DG7:
    images: list[bytes]


def parse_dg7(data: bytes) -> DG7:
    items = _children("DG7", _wrap("DG7", data, DG_TAGS[7]))
    images = [i.value for i in items if i.tag in (0x5F43,)]
    return DG7(images)


# --- DG11 / DG12 ------------------------------------------------------------------------------
DG11_FIELDS = {
    0x5F0E: "full_name", 0x5F0F: "other_name", 0x5F10: "personal_number",
    0x5F2B: "full_date_of_birth", 0x5F11: "place_of_birth", 0x5F42: "permanent_address",
    0x5F12: "telephone", 0x5F13: "profession", 0x5F14: "title", 0x5F15: "personal_summary",
    0x5F16: "proof_of_citizenship", 0x5F17: "other_td_numbers", 0x5F18: "custody_information",
}  # fmt: skip
DG12_FIELDS = {
    0x5F19: "issuing_authority", 0x5F26: "date_of_issue", 0x5F1A: "other_person_name",
    0x5F1B: "endorsements", 0x5F1C: "tax_exit_requirements", 0x5F1D: "image_front",
    0x5F1E: "image_rear", 0x5F55: "personalization_time", 0x5F56: "personalization_device",
}  # fmt: skip


def _fields(what: str, data: bytes, names: dict[int, str], depth: int = 0) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in _children(what, data):
        if item.tag in names:
            key = names[item.tag]
            value = _text(item.value) if "image" not in key else item.value.hex()
            out[key] = out[key] + "; " + value if key in out else value
        elif item.tag in (0xA0,) and depth < 2:
            for k, v in _fields(what, item.value, names, depth + 1).items():
                out[k] = out[k] + "; " + v if k in out else v
    return out


def parse_dg11(data: bytes) -> dict[str, str]:
    """Additional personal details; keys from DG11_FIELDS, repeated elements joined by '; '."""
    return _fields("DG11", _wrap("DG11", data, DG_TAGS[11]), DG11_FIELDS)


def parse_dg12(data: bytes) -> dict[str, str]:
    """Additional document details; images come back hex-encoded."""
    return _fields("DG12", _wrap("DG12", data, DG_TAGS[12]), DG12_FIELDS)


# --- DG14 / DG15 ------------------------------------------------------------------------------
def parse_dg14(data: bytes) -> list[securityinfos.SecurityInfo]:
    try:
        return securityinfos.parse_dg14(data)
    except SecurityInfoError as exc:
        raise LDSError(f"DG14: {exc}") from exc


def encode_dg14(infos: list[securityinfos.SecurityInfo]) -> bytes:
    return securityinfos.encode_dg14(infos)


@dataclass(frozen=True)
class DG15:
    public_key_info: bytes
    """DER SubjectPublicKeyInfo of the Active Authentication key."""

    @property
    def algorithm(self) -> Literal["RSA", "EC", "unknown"]:
        try:
            oid = certs.split_spki(self.public_key_info).algorithm
        except CertificateError:
            return "unknown"
        if oid in (certs.OID_RSA, certs.OID_RSASSA_PSS):
            return "RSA"
        return "EC" if oid == certs.OID_EC_PUBLIC_KEY else "unknown"


def parse_dg15(data: bytes) -> DG15:
    spki = _wrap("DG15", data, DG_TAGS[15])
    try:
        tlv.decode_single(spki, 0x30)
    except TLVError as exc:
        raise LDSError(f"DG15: SubjectPublicKeyInfo malformed: {exc}") from exc
    return DG15(spki)


def encode_dg15(spki_der: bytes) -> bytes:
    return tlv.encode(DG_TAGS[15], spki_der)


def file_length_from_header(head: bytes) -> int:
    """Total file length from its first bytes (tag + length), for sizing a read."""
    try:
        _, hlen, vlen = tlv.read_header(head)
    except TLVError as exc:
        raise LDSError(f"file header {head[:6].hex()}: {exc}") from exc
    return hlen + vlen
