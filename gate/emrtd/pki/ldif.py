"""ICAO PKD download files: LDIF (RFC 2849) with one entry per object.

The PKD publishes Document Signers and CRLs (``o=dsc`` / ``o=crl`` entries with
``userCertificate;binary`` and ``certificateRevocationList;binary``) and the states' CSCA
master lists (``o=ml`` entries with ``pkdMasterListContent``). This reader keeps those three
attributes of every entry and ignores the others; values are base64 (``attr:: ...``) and may be
folded over several lines (a continuation line starts with one space).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from gate.emrtd.docauth_errors import TrustStoreError

_CERT = "usercertificate"
_CA_CERT = "cacertificate"
_CRL = "certificaterevocationlist"
_ML = "pkdmasterlistcontent"


@dataclass
class LdifRecord:
    dn: str
    certificates: list[bytes] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    master_lists: list[bytes] = field(default_factory=list)


def looks_like_ldif(data: bytes) -> bool:
    head = data.lstrip()[:64].lower()
    return head.startswith((b"dn:", b"version:", b"#"))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Unfolded lines with the number of their first physical line; '' separates entries."""
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith(" ") and out and out[-1][1]:
            out[-1] = (out[-1][0], out[-1][1] + raw[1:])
        elif raw.startswith("#"):
            continue
        else:
            out.append((number, raw.rstrip("\r")))
    return out


def parse(data: bytes, *, source: str = "LDIF") -> list[LdifRecord]:
    """The PKD objects of an LDIF file, entry by entry; :class:`TrustStoreError` naming the
    line for a value that is not valid base64 or a file that is not text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TrustStoreError(f"{source}: not an LDIF text file ({exc})") from exc
    records: list[LdifRecord] = []
    current: LdifRecord | None = None
    for number, line in _logical_lines(text):
        if not line.strip():
            current = None
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise TrustStoreError(f"{source} line {number}: expected 'attribute: value'")
        attribute = name.split(";", 1)[0].strip().lower()
        if attribute == "dn":
            current = LdifRecord(dn=value.lstrip(":").strip())
            records.append(current)
            continue
        if current is None or attribute not in (_CERT, _CA_CERT, _CRL, _ML):
            continue
        if not value.startswith(":"):
            raise TrustStoreError(
                f"{source} line {number}: {name.strip()} is not base64 ('{name.strip()}:: ...')"
            )
        try:
            der = base64.b64decode("".join(value[1:].split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TrustStoreError(
                f"{source} line {number}: {name.strip()} is not valid base64 ({exc})"
            ) from exc
        if attribute in (_CERT, _CA_CERT):
            current.certificates.append(der)
        elif attribute == _CRL:
            current.crls.append(der)
        else:
            current.master_lists.append(der)
    return records


def _fold(line: str, width: int = 76) -> str:
    parts = [line[:width]]
    parts += [" " + line[i : i + width - 1] for i in range(width, len(line), width - 1)]
    return "\n".join(parts)


def dump(records: list[LdifRecord]) -> bytes:
    """LDIF of ``records`` as the PKD writes it (used by tests and the PKD-sized bench)."""
    lines = ["version: 1", ""]
    for r in records:
        lines.append(_fold(f"dn: {r.dn}"))
        for attribute, values in (
            ("userCertificate;binary", r.certificates),
            ("certificateRevocationList;binary", r.crls),
            ("pkdMasterListContent", r.master_lists),
        ):
            for der in values:
                lines.append(_fold(f"{attribute}:: {base64.b64encode(der).decode()}"))
        lines.append("")
    return "\n".join(lines).encode()
