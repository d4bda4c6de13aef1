"""BER-TLV (ISO/IEC 7816-4 and X.690 subset used by ICAO 9303): encode and decode.

Tags are ints holding their encoded bytes (0x5F1F, 0x7F61). Lengths use the definite forms only;
indefinite length (0x80), more than four length bytes, and values running past the input are
rejected with :class:`TLVError` saying where.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gate.emrtd.errors import TLVError


@dataclass(frozen=True)
class TLV:
    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        return bool(_first_tag_byte(self.tag) & 0x20)

    def children(self) -> list[TLV]:
        return decode_all(self.value)

    def encode(self) -> bytes:
        return encode(self.tag, self.value)


def _first_tag_byte(tag: int) -> int:
    raw = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    return raw[0]


def encode_tag(tag: int) -> bytes:
    if tag < 0:
        raise TLVError(f"tag {tag} is negative")
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def encode_length(length: int) -> bytes:
    if length < 0:
        raise TLVError(f"length {length} is negative")
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(raw) > 4:
        raise TLVError(f"length {length} needs more than 4 length bytes")
    return bytes([0x80 | len(raw)]) + raw


def encode(tag: int, value: bytes) -> bytes:
    return encode_tag(tag) + encode_length(len(value)) + value


def read_tag(data: bytes, offset: int = 0) -> tuple[int, int]:
    """The tag at ``offset`` and the offset after it."""
    if offset >= len(data):
        raise TLVError(f"truncated TLV: tag expected at offset {offset}, input ends")
    first = data[offset]
    pos = offset + 1
    tag = first
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise TLVError(f"truncated TLV: multi-byte tag at offset {offset} is cut off")
            b = data[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
            if pos - offset > 4:
                raise TLVError(f"tag at offset {offset} is longer than 4 bytes")
    return tag, pos


def read_length(data: bytes, offset: int) -> tuple[int, int]:
    """The length at ``offset`` and the offset after it (definite forms only)."""
    if offset >= len(data):
        raise TLVError(f"truncated TLV: length expected at offset {offset}, input ends")
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    if first == 0x80:
        raise TLVError(f"indefinite length at offset {offset} is not allowed here")
    count = first & 0x7F
    if count > 4:
        raise TLVError(f"length at offset {offset} uses {count} bytes (at most 4 allowed)")
    if offset + 1 + count > len(data):
        raise TLVError(f"truncated TLV: {count}-byte length at offset {offset} is cut off")
    return int.from_bytes(data[offset + 1 : offset + 1 + count], "big"), offset + 1 + count


def read_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """(tag, header length, value length) of the TLV at ``offset``: enough to size a file from
    its first few bytes."""
    tag, pos = read_tag(data, offset)
    length, pos = read_length(data, pos)
    return tag, pos - offset, length


def decode_one(data: bytes, offset: int = 0) -> tuple[TLV, int]:
    """The TLV at ``offset`` and the offset after it."""
    tag, pos = read_tag(data, offset)
    length, pos = read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise TLVError(
            f"truncated TLV: tag {tag:X} at offset {offset} declares {length} bytes, "
            f"only {len(data) - pos} present"
        )
    return TLV(tag, bytes(data[pos:end])), end


def iter_tlv(data: bytes) -> Iterator[TLV]:
    pos = 0
    while pos < len(data):
        item, pos = decode_one(data, pos)
        yield item


def decode_all(data: bytes) -> list[TLV]:
    """Every TLV in ``data``, back to back; trailing garbage is an error."""
    return list(iter_tlv(data))


def decode_single(data: bytes, expected_tag: int | None = None) -> TLV:
    """Exactly one TLV filling ``data``; optionally with a given tag."""
    item, end = decode_one(data, 0)
    if end != len(data):
        raise TLVError(f"{len(data) - end} unexpected bytes after tag {item.tag:X}")
    if expected_tag is not None and item.tag != expected_tag:
        raise TLVError(f"expected tag {expected_tag:X}, found {item.tag:X}")
    return item


def find(data: bytes, tag: int) -> bytes | None:
    """Value of the first top-level TLV with ``tag`` in ``data``, or None."""
    for item in iter_tlv(data):
        if item.tag == tag:
            return item.value
    return None


def require(data: bytes, tag: int, where: str) -> bytes:
    value = find(data, tag)
    if value is None:
        raise TLVError(f"{where}: mandatory tag {tag:X} missing")
    return value
