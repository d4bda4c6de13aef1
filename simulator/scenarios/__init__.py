"""Scenario files: who comes to the lanes, what they carry, how they behave, which faults happen.

A scenario is a TOML file (``docs/scenarios.md``) with a ``name``, a ``flow`` and groups of
travellers (``[[travellers]]``), each with the decision the lane is expected to reach, plus an
optional fault schedule (``[[faults]]``). Files are validated strictly: an unknown key or value
is refused with the key and the allowed keys or values, so a typo never silently changes a run.

The built-in scenarios are TOML files next to this module (``egate sim scenarios``).
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gate import reasons
from gate.errors import EgateError
from gate.files import InputFileError, read_text_bounded
from simulator.physical import PhysicalModel

DocumentKind = Literal[
    "genuine",
    "expired",
    "altered-dg1",
    "altered-dg2",
    "forged-sod",
    "wrong-signer",
    "revoked-dsc",
    "clone",
    "no-chip",
    "unreadable-mrz",
]
FaceKind = Literal["holder", "impostor", "none", "printed-photo", "screen-replay"]
Behaviour = Literal["normal", "slow", "removes-document", "walks-back", "looks-away"]
Expectation = Literal["accepted", "rejected", "referred", "aborted"]
FaultDevice = Literal["camera", "gatectl", "docreader", "chip_reader", "central", "network"]
FaultKind = Literal["disconnect", "noise", "slow", "power-cycle", "fire-alarm"]
Flow = Literal["two-step", "one-step"]

MAX_TRAVELLERS_PER_GROUP = 100_000


class ScenarioError(EgateError):
    """A scenario cannot be used; the message names the file, the key and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TravellerGroup(_Strict):
    """Travellers who share a document kind, a face, a behaviour and an expected decision."""

    count: Annotated[int, Field(ge=1, le=MAX_TRAVELLERS_PER_GROUP)] = 1
    document: DocumentKind = "genuine"
    face: FaceKind = "holder"
    nationality: str = "UTO"
    """ICAO 9303 code of the document's nationality and issuing state."""
    age: Annotated[int, Field(ge=0, le=120)] = 35
    watchlist: bool = False
    """The traveller is on the watch list the lanes hold."""
    on_manifest: bool = True
    """The traveller is on the passenger manifest the lanes hold."""
    tailgater: bool = False
    """Someone follows the traveller closely into the mantrap."""
    behaviour: Behaviour = "normal"
    chip_quirks: list[str] = Field(default_factory=list)
    """Habits of real chips the document's chip has (``egate chip quirks``)."""
    expect: Expectation = "accepted"
    expect_reasons: list[str] = Field(default_factory=list)
    """Reason codes (gate/reasons.py) the lane's decision must contain."""

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str) -> str:
        if not (len(value) == 3 and value.isalpha() and value.isupper()):
            raise ValueError("must be a three-letter ICAO 9303 code in capitals, e.g. 'TWN'")
        return value

    @field_validator("chip_quirks")
    @classmethod
    def _quirks(cls, value: list[str]) -> list[str]:
        from simulator.chip.quirks import QUIRKS

        for name in value:
            if name not in QUIRKS:
                raise ValueError(
                    f"{name!r} is not a chip quirk profile; allowed: {', '.join(QUIRKS)}"
                )
        return value

    @field_validator("expect_reasons")
    @classmethod
    def _reasons(cls, value: list[str]) -> list[str]:
        for code in value:
            if code not in reasons.REASONS:
                raise ValueError(
                    f"{code!r} is not a registered reason code (see docs/reason-codes.md)"
                )
        return value


class Fault(_Strict):
    """One fault window: ``device`` suffers ``kind`` from ``at_seconds`` for ``duration``."""

    at_seconds: Annotated[float, Field(ge=0)]
    device: FaultDevice
    kind: FaultKind
    duration_seconds: Annotated[float, Field(gt=0, le=86_400)] = 10.0
    lanes: Literal["all"] | list[Annotated[int, Field(ge=0)]] = "all"
    """'all' or the indexes (from 0) of the lanes it hits."""

    def hits(self, lane: int) -> bool:
        return self.lanes == "all" or lane in self.lanes

    @property
    def end_seconds(self) -> float:
        return self.at_seconds + self.duration_seconds

    def window(self, start: float, end: float, lane: int) -> bool:
        """True when this fault hits ``lane`` at any time in [start, end]."""
        return self.hits(lane) and start <= self.end_seconds and end >= self.at_seconds


class Scenario(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    description: str = ""
    flow: Flow = "two-step"
    travellers: Annotated[list[TravellerGroup], Field(min_length=1)]
    faults: list[Fault] = Field(default_factory=list)
    model: PhysicalModel = Field(default_factory=PhysicalModel)
    """The physical model (``[model]`` table: door times, walking speed, chip link...);
    ``egate sim run --model FIELD=VALUE`` overrides single fields."""

    @property
    def group_size(self) -> int:
        """Travellers in one round of every group."""
        return sum(g.count for g in self.travellers)


# --------------------------------------------------------------------------- errors

_MODELS: dict[str, type[BaseModel]] = {
    "travellers": TravellerGroup,
    "faults": Fault,
    "model": PhysicalModel,
}


def _literal_values(annotation: Any) -> list[str]:
    """The values of a Literal annotation (also inside a union), as strings."""
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    values: list[str] = []
    for arg in get_args(annotation):
        values += _literal_values(arg)
    return values


def _allowed_values(model: type[BaseModel], key: str) -> str | None:
    """The allowed values of a Literal field, as 'a, b, c' (None when not a Literal)."""
    info = model.model_fields.get(key)
    values = _literal_values(info.annotation) if info is not None else []
    return ", ".join(values) if values else None


_UNION_TAGS = ("literal[", "list[")


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid scenario"]
    for err in exc.errors():
        loc = [
            p
            for p in err["loc"]
            if not (isinstance(p, str) and p.startswith(("literal[", "list[")))
        ]
        where = ""
        model: type[BaseModel] = Scenario
        for part in loc:
            if isinstance(part, int):
                where += f"[{part}]"
            else:
                where += ("." if where else "") + part
        key = next((p for p in reversed(loc) if isinstance(p, str)), "")
        section = next((p for p in loc if isinstance(p, str) and p in _MODELS), None)
        if section is not None and key != section:
            model = _MODELS[section]
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields)
            lines.append(f"  {where}: unknown key; allowed keys: {allowed}")
            continue
        allowed_values = _allowed_values(model, key)
        value = err.get("input")
        if allowed_values is not None and err["type"].startswith("literal"):
            lines.append(f"  {where} = {value!r}: not allowed; allowed values: {allowed_values}")
        else:
            reason = err["msg"]
            if err["type"] == "missing":
                reason = "missing (required)"
            lines.append(f"  {where} = {value!r}: {reason}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- loading


def parse_scenario(data: dict[str, Any], source: str = "(scenario)") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_describe(exc, source)) from None


def load_file(path: Path) -> Scenario:
    """A scenario file, read with the size cap of configuration files (regular files only)."""
    if not os.path.lexists(path):
        raise ScenarioError(
            f"{path}: no such scenario file (built-in names: {', '.join(builtin_names())})"
        )
    try:
        data = tomllib.loads(read_text_bounded(path, "config"))
    except InputFileError as exc:
        raise ScenarioError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    return parse_scenario(data, str(path))


def _builtin_dir() -> Any:
    return resources.files(__name__)


def builtin_names() -> list[str]:
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _builtin_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def load_builtin(name: str) -> Scenario:
    entry = _builtin_dir() / f"{name}.toml"
    if not entry.is_file():
        raise ScenarioError(
            f"no built-in scenario {name!r}; built-in scenarios: {', '.join(builtin_names())} "
            "(or give the path of a .toml file)"
        )
    return parse_scenario(tomllib.loads(entry.read_text(encoding="utf-8")), f"built-in {name}")


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a scenario file by path (anything with a '/' or '.toml')."""
    if "/" in name_or_path or name_or_path.endswith(".toml") or Path(name_or_path).is_file():
        return load_file(Path(name_or_path))
    return load_builtin(name_or_path)


def builtins() -> list[Scenario]:
    return [load_builtin(n) for n in builtin_names()]
