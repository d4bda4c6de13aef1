"""The files read from one chip, typed and parsed once.

One shape for what the reader returns, what passive authentication hashes and what chip and
active authentication use: file names as the chip knows them ("EF.SOD", "DG1"...), bytes as read.
Parsing is lazy (a hostile EF.SOD must still become a finding of passive authentication, not an
exception at construction) and cached, so EF.SOD, DG1 and DG14 are parsed at most once per
document whoever asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from gate.emrtd.cms.sod import Sod, parse_sod
from gate.emrtd.docauth_errors import DataGroupError
from gate.emrtd.errors import ChipError
from gate.emrtd.lds import lds

DG_NUMBERS = {f"DG{n}": n for n in range(1, 17)}


@dataclass(frozen=True)
class Document:
    """The chip's files by name. Build it with :meth:`from_files` (as read) or
    :meth:`from_data_groups` (EF.SOD and data groups by number, as ``egate doc verify`` and
    tests have them)."""

    files: Mapping[str, bytes]
    _sods: dict[bool, Sod] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> Document:
        return cls(MappingProxyType(dict(files)))

    @classmethod
    def from_data_groups(cls, sod: bytes | None, data_groups: Mapping[int, bytes]) -> Document:
        files = {f"DG{number}": data for number, data in data_groups.items()}
        if sod is not None:
            files["EF.SOD"] = sod
        return cls.from_files(files)

    @property
    def sod_bytes(self) -> bytes:
        """EF.SOD as read (empty when the chip gave none: passive authentication reports it)."""
        return self.files.get("EF.SOD", b"")

    @cached_property
    def data_groups(self) -> Mapping[int, bytes]:
        """The data groups read, by number."""
        return MappingProxyType(
            {DG_NUMBERS[name]: data for name, data in self.files.items() if name in DG_NUMBERS}
        )

    def sod(self, *, strict: bool = False) -> Sod:
        """EF.SOD parsed (raises :class:`~gate.emrtd.docauth_errors.SodError`); cached per
        strictness."""
        if strict not in self._sods:
            self._sods[strict] = parse_sod(self.sod_bytes, strict=strict)
        return self._sods[strict]

    @cached_property
    def dg1_mrz(self) -> str:
        """The MRZ in DG1 (raises :class:`DataGroupError` when DG1 is absent or unreadable)."""
        dg1 = self.files.get("DG1")
        if dg1 is None:
            raise DataGroupError("DG1 was not read")
        try:
            return lds.parse_dg1(dg1).mrz
        except ChipError as exc:
            raise DataGroupError(str(exc)) from exc
