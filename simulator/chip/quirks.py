"""Named quirk profiles: habits of real passport chips (and readers) the virtual chip can adopt,
so an integrator can reproduce a field problem without the passport.

Each profile changes :class:`simulator.chip.card.ChipConfig` (and, for timing and removal,
:class:`simulator.chip.card.Faults`) and says where the behaviour was reported. A chip image
carries its profiles in ``chip.json`` (``"quirks": [...]``, written by
``egate chip build-image DIR --quirks A,B``); :class:`VirtualChip` applies them when built.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gate.errors import EgateError


class UnknownQuirkError(EgateError):
    """A quirk profile name that does not exist."""


@dataclass(frozen=True)
class Quirk:
    name: str
    description: str
    source: str
    """Where real chips were seen doing it (issue tracker, specification section)."""
    config: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)
    completes: bool = True
    """False for a profile no reader can complete (the card leaves the field)."""


def _short(limit: int) -> dict[str, Any]:
    return {"extended_length": False, "max_response": limit, "max_command": 255}


QUIRKS: dict[str, Quirk] = {
    q.name: q
    for q in [
        Quirk(
            "bare-error-sw",
            "answers errors to protected commands without secure messaging (bare 6A82 for an "
            "absent file, 6700), and keeps the session",
            "gmrtd tracker (bare 6700 from a Chinese passport; gmrtd steps the SSC back); JMRTD "
            "passes the status word through; issue 19 item 1",
            {"bare_errors": True},
        ),
        Quirk(
            "wrong-le-6c",
            "READ BINARY asking more than the rest of a small file gets 6Cxx (xx = the rest): "
            "ask again once with exactly that Le",
            "ISO/IEC 7816-4 (SW1 6C: wrong Le field, SW2 the exact number of available "
            "bytes); issue 19 item 2",
            {"wrong_le_6c": True},
        ),
        Quirk(
            "b1-le-counts-header",
            "READ BINARY with odd INS (offsets over 32767): Le counts the DO'53 header too, so "
            "each answer carries 2-4 bytes less data than asked",
            "ISO/IEC 7816-4 (Le covers the response data field, i.e. the whole DO'53); JMRTD "
            "ReadBinaryAPDUSender enlarges Le by 2-4 bytes for B1 reads",
            {"b1_le_counts_header": True},
        ),
        Quirk(
            "no-ef-com",
            "the chip has no EF.COM (newer issues omit it): the data groups come from EF.SOD",
            "ICAO 9303-10 (EF.COM kept for backward compatibility only); gmrtd takes the data "
            "groups from EF.SOD",
            {"hidden_files": ("EF.COM",)},
        ),
        Quirk(
            "needs-select-mf",
            "EF.CardAccess and EF.ATR/INFO answer 6A82 until the terminal selects the master "
            "file explicitly (the reader sends SELECT MF after a 6A82 and reads it again)",
            "issue 19 risk list (SELECT MF before reading EF.CardAccess on chips that need it)",
            {"select_mf_required": True},
        ),
        Quirk(
            "mutual-auth-le00",
            "BAC MUTUAL AUTHENTICATE with Le 28 (40 bytes) gets 6700; Le 00 works",
            "issue 19 risk list (JMRTD retries MUTUAL AUTHENTICATE with Le 00; some chips "
            "refuse Le 0x28)",
            {"mutual_auth_refuses_le40": True},
        ),
        Quirk(
            "ca-key-reference-6700",
            "chip authentication MSE naming the DG14 KeyId (tag 84) gets 6700; the same "
            "command without the key reference works (only matters when DG14 names a KeyId)",
            "issue 19 risk list (retry chip authentication on 6700; gmrtd tracker: bare 6700 "
            "from a Chinese passport); JMRTD sends the key id only when DG14 names one",
            {"ca_key_reference_6700": True},
        ),
        Quirk(
            "aa-truncates-short-le",
            "INTERNAL AUTHENTICATE with a short Le: 9000 and the signature cut to Le",
            "issue 19 item 4 (RSA-2048 AA asked with a short Le)",
            {"aa_truncate_short_le": True},
        ),
        Quirk(
            "aa-no-extended-le",
            "INTERNAL AUTHENTICATE with an extended Le: 6700 (nothing)",
            "issue 19 item 4 (chips answering nothing to an extended Le for AA)",
            {"aa_refuse_extended_le": True},
        ),
        Quirk(
            "max-response-a0",
            "short APDUs only, responses (secure messaging included) of at most 160 bytes",
            "NFCPassportReader TagReader maxDataLengthToRead = 0xA0 ('not supported across all "
            "passports' above it)",
            _short(0xA0),
        ),
        Quirk(
            "max-response-df",
            "short APDUs only, responses of at most 223 bytes",
            "JMRTD PassportService.DEFAULT_MAX_BLOCKSIZE = 223 (0xDF)",
            _short(0xDF),
        ),
        Quirk(
            "max-response-e7",
            "short APDUs only, responses of at most 231 bytes",
            "issue 19 (response limits 0xA0/0xDF/0xE7/256 met in the field)",
            _short(0xE7),
        ),
        Quirk(
            "short-256",
            "no extended length: short APDUs, responses of at most 256 bytes",
            "ISO/IEC 7816-4 5.1 (extended length optional, announced in the ATR / EF.ATR/INFO)",
            _short(256),
        ),
        Quirk(
            "atr-claims-extended",
            "the ATR announces extended length but extended APDUs get 6700 (a reader without "
            "extended APDU support in front of the chip): short APDUs of at most 256 bytes",
            "issue 19 risk list (probe the reader's extended-length support instead of "
            "trusting only the ATR)",
            {"atr_claims_extended": True, **_short(256)},
        ),
        Quirk(
            "short-no-chaining",
            "short APDUs only and no command chaining (6884 to a chained piece): a 2048-bit DH "
            "PACE step cannot be sent, so PACE falls back to BAC, reported as a downgrade",
            "ISO/IEC 7816-4 5.1.1.1 (command chaining optional; SW 6884: not supported); "
            "issue 19 (PACE DH-2048 without extended APDUs)",
            {"command_chaining": False, **_short(256)},
        ),
        Quirk(
            "t0-get-response",
            "T=0 style: answers with data are announced by 61xx and fetched by GET RESPONSE",
            "ISO/IEC 7816-3 T=0 and 7816-4 GET RESPONSE (SW1 61: SW2 bytes still available)",
            {"t0_get_response": True, **_short(256)},
        ),
        Quirk(
            "slow-chip",
            "30 ms of extra processing per APDU (old chips, weak field)",
            "issue 19 (slow chip)",
            faults={"slow_seconds": 0.03},
        ),
        Quirk(
            "removed-mid-file",
            "the card leaves the field after 12 APDUs, in the middle of a file",
            "issue 19 (card removal mid-file); ISO/IEC 14443-3 (card leaves the field)",
            faults={"remove_after_apdus": 12},
            completes=False,
        ),
    ]
}


def quirk(name: str) -> Quirk:
    try:
        return QUIRKS[name]
    except KeyError:
        raise UnknownQuirkError(
            f"unknown chip quirk {name!r}; known: {', '.join(QUIRKS)} (egate chip quirks)"
        ) from None


def parse_quirks(text: str) -> list[str]:
    """``a,b`` -> the profile names, each checked."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        quirk(name)
    return names


def apply_quirks(names: list[str] | tuple[str, ...], config: Any, faults: Any) -> tuple[Any, Any]:
    """``config`` and ``faults`` with the profiles applied (later profiles win)."""
    for name in names:
        q = quirk(name)
        if q.config:
            merged = dict(q.config)
            if "hidden_files" in merged:
                merged["hidden_files"] = (*config.hidden_files, *merged["hidden_files"])
            config = replace(config, **merged)
        if q.faults:
            faults = replace(faults, **q.faults)
    return config, faults
