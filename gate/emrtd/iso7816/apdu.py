"""ISO/IEC 7816-4 command and response APDUs, short and extended length (cases 1 to 4)."""

from __future__ import annotations

from dataclasses import dataclass

from gate.emrtd.errors import APDUError

SW_OK = 0x9000


@dataclass(frozen=True)
class CommandAPDU:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    """Expected response length: None (no Le field), 1..65536; 256 is short Le 00."""
    force_extended: bool = False

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise APDUError(f"{name} {value} does not fit in one byte")
        if len(self.data) > 65535:
            raise APDUError(f"command data of {len(self.data)} bytes exceeds 65535")
        if self.le is not None and not 1 <= self.le <= 65536:
            raise APDUError(f"Le {self.le} outside 1..65536")

    @property
    def extended(self) -> bool:
        return (
            self.force_extended or len(self.data) > 255 or (self.le is not None and self.le > 256)
        )

    def encode(self) -> bytes:
        head = bytes([self.cla, self.ins, self.p1, self.p2])
        if not self.extended:
            body = bytes([len(self.data)]) + self.data if self.data else b""
            if self.le is not None:
                body += bytes([self.le & 0xFF])
            return head + body
        body = b""
        if self.data:
            body = b"\x00" + len(self.data).to_bytes(2, "big") + self.data
        if self.le is not None:
            le = (self.le & 0xFFFF).to_bytes(2, "big")
            body += le if self.data else b"\x00" + le
        return head + body


def decode_command(raw: bytes) -> CommandAPDU:
    """Parse a command APDU (the card side)."""
    if len(raw) < 4:
        raise APDUError(f"command APDU of {len(raw)} bytes is shorter than its 4-byte header")
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return CommandAPDU(cla, ins, p1, p2)
    if len(body) == 1:
        return CommandAPDU(cla, ins, p1, p2, le=body[0] or 256)
    if body[0] != 0:
        lc = body[0]
        if len(body) == 1 + lc:
            return CommandAPDU(cla, ins, p1, p2, body[1:])
        if len(body) == 2 + lc:
            return CommandAPDU(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256)
        raise APDUError(f"short APDU: Lc {lc} does not match {len(body) - 1} body bytes")
    # extended length
    if len(body) == 3:
        return CommandAPDU(
            cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or 65536, force_extended=True
        )
    if len(body) < 3:
        raise APDUError("extended APDU body truncated")
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        raise APDUError("extended APDU with Lc 0000")
    if len(body) == 3 + lc:
        return CommandAPDU(cla, ins, p1, p2, body[3:], force_extended=True)
    if len(body) == 5 + lc:
        le = int.from_bytes(body[-2:], "big") or 65536
        return CommandAPDU(cla, ins, p1, p2, body[3 : 3 + lc], le, force_extended=True)
    raise APDUError(f"extended APDU: Lc {lc} does not match {len(body) - 3} body bytes")


@dataclass(frozen=True)
class ResponseAPDU:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")


def decode_response(raw: bytes) -> ResponseAPDU:
    if len(raw) < 2:
        raise APDUError(f"response of {len(raw)} bytes lacks its status word")
    return ResponseAPDU(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))


def sw_hint(sw: int) -> str:
    """A short explanation of common ISO 7816-4 / ICAO status words."""
    table = {
        0x6282: "end of file reached before Le bytes",
        0x6700: "wrong length",
        0x6982: "security status not satisfied (access control not performed)",
        0x6983: "authentication method blocked",
        0x6984: "reference data not usable",
        0x6985: "conditions of use not satisfied",
        0x6987: "expected secure messaging data objects missing",
        0x6988: "secure messaging data objects incorrect",
        0x6A80: "incorrect data field",
        0x6A82: "file not found",
        0x6A86: "incorrect P1/P2",
        0x6A88: "referenced data not found",
        0x6B00: "offset beyond the end of the file",
        0x6D00: "instruction not supported",
        0x6E00: "class not supported",
        0x6300: "authentication failed",
    }
    if sw & 0xFF00 == 0x6C00:
        return f"wrong Le: the chip offers {sw & 0xFF or 256} bytes"
    return table.get(sw, "")
