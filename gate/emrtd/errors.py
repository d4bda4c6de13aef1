"""The chip domain's exception hierarchy (ISO 7816, secure messaging, BAC/PACE, LDS, transport).

Every error the reader raises on purpose derives from :class:`ChipError`, so a caller (the lane,
the CLI) can catch one type and still tell the person what failed and what to do.
"""

from __future__ import annotations

from gate.errors import EgateError


class ChipError(EgateError):
    """Base of every chip-access error."""

    reason_code = "CHIP_READ_FAILED"


class TLVError(ChipError):
    """BER-TLV input is truncated, overlong, uses indefinite length, or is otherwise malformed."""


class APDUError(ChipError):
    """A command or response APDU cannot be encoded or decoded."""


class StatusWordError(ChipError):
    """The chip answered with a status word other than 9000 where success was required."""

    def __init__(self, sw: int, command: str, hint: str = "") -> None:
        self.sw = sw
        self.command = command
        text = f"{command}: chip answered status word {sw:04X}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class SecureMessagingError(ChipError):
    """A protected response failed its MAC or padding check, or is missing a mandatory data
    object. The session is over: open it again (BAC/PACE) before sending anything else."""


class AccessControlError(ChipError):
    """BAC or PACE could not open the chip."""

    reason_code = "CHIP_ACCESS_DENIED"


class BACError(AccessControlError):
    """Basic Access Control failed (wrong MRZ information, or the chip refused)."""


class PACEError(AccessControlError):
    """PACE failed (wrong password, unsupported parameters, or a bad authentication token)."""


class SecurityInfoError(ChipError):
    """EF.CardAccess, DG14 or EF.CardSecurity content is not a valid SecurityInfos set."""


class LDSError(ChipError):
    """A logical data structure file (EF.COM, DGx) is malformed."""


class TransportError(ChipError):
    """The link to the chip failed (reader, PC/SC, socket)."""


class CardRemovedError(TransportError):
    """The card left the field during an exchange; put it back and read again."""

    reason_code = "CHIP_REMOVED"


class ReaderNotFoundError(TransportError):
    """No PC/SC reader matched the requested name pattern."""

    reason_code = "PCSC_READER_MISSING"


class ChipTimeoutError(TransportError):
    """The chip did not answer in time."""

    reason_code = "CHIP_NOT_FOUND"
