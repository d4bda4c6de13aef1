"""Transaction records: the lane's inputs as JSON Lines, so that any decision can be replayed.

Format (version 1), one JSON object per line:

- the first line is the header ``{"record": "egate-lane", "version": 1, "lane_id": ...,
  "direction": "arrival"|"departure", "passage": {...}, "policy": {...}}`` with the
  ``[passage]`` and ``[policy]`` configuration the lane ran with;
- every other line is one input, in the order it was fed: ``{"input": "MrzRead", "at": 1.5,
  ...fields}``. Nested values are plain JSON (dates as ``YYYY-MM-DD``, enums as their value).

Records hold no images, no templates and no full document numbers (``masked_number`` shows at
most 4 characters; :func:`encode_input` refuses more). The daemon writes them (one file per day
or per transaction, its choice) with :func:`header` and :func:`encode_input`; ``egate lane
replay`` reads them with :func:`decode`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import date
from enum import Enum
from typing import Any

from gate import reasons
from gate.config import PassageConfig, PolicyConfig
from gate.errors import EgateError
from gate.lane.inputs import INPUT_TYPES, DeviceFault, FaceBox, Input
from gate.policy.model import DocumentFacts, ScreeningResult

VERSION = 1
_BY_NAME = {t.__name__: t for t in INPUT_TYPES}
_NESTED: dict[type, type] = {DocumentFacts: DocumentFacts, ScreeningResult: ScreeningResult}


class RecordError(EgateError):
    """A record line cannot be read; the message names the line and the field."""


@dataclasses.dataclass(frozen=True)
class Record:
    lane_id: str
    direction: typing.Literal["arrival", "departure"]
    passage: PassageConfig
    policy: PolicyConfig
    inputs: tuple[Input, ...]


def header(lane_id: str, direction: str, passage: PassageConfig, policy: PolicyConfig) -> str:
    return json.dumps(
        {
            "record": "egate-lane",
            "version": VERSION,
            "lane_id": lane_id,
            "direction": direction,
            "passage": passage.model_dump(mode="json"),
            "policy": policy.model_dump(mode="json"),
        },
        sort_keys=True,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def encode_input(event: Input) -> str:
    """One record line for an input."""
    document = getattr(event, "document", None)
    if isinstance(document, DocumentFacts):
        visible = sum(1 for ch in document.masked_number if ch not in "*<")
        if visible > 4:
            raise RecordError("records never hold full document numbers: mask all but 4 characters")
    data = _plain(event)
    return json.dumps({"input": type(event).__name__, **data}, sort_keys=True, ensure_ascii=False)


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except (RecordError, ValueError, TypeError):
                continue
        raise RecordError(f"{where}: {value!r} fits none of {hint}")
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise RecordError(f"{where}: {value!r} is not one of {typing.get_args(hint)}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise RecordError(f"{where}: expected a list")
        (item,) = typing.get_args(hint)[:1]
        return tuple(_convert(v, item, where) for v in value)
    if origin is not None and origin.__name__ == "Mapping":
        if not isinstance(value, dict):
            raise RecordError(f"{where}: expected an object")
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(hint, type):
        if issubclass(hint, Enum):
            try:
                return hint(value)
            except ValueError:
                raise RecordError(f"{where}: {value!r} is not a {hint.__name__}") from None
        if hint is date:
            try:
                return date.fromisoformat(value)
            except (TypeError, ValueError):
                raise RecordError(f"{where}: {value!r} is not a YYYY-MM-DD date") from None
        if hint in (DocumentFacts, ScreeningResult, FaceBox):
            return _build(hint, value, where)
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RecordError(f"{where}: expected a number, got {value!r}")
            return float(value)
        if hint in (int, str, bool):
            if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
                raise RecordError(f"{where}: expected {hint.__name__}, got {value!r}")
            return value
    raise RecordError(f"{where}: cannot read a {hint}")


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise RecordError(f"{where}: expected an object for {cls.__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise RecordError(f"{where}: unknown field(s) {sorted(unknown)} for {cls.__name__}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise RecordError(f"{where}: {cls.__name__}: {exc}") from None


def decode_input(line: str, where: str = "input") -> Input:
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise RecordError(f"{where}: not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("input"), str):
        raise RecordError(f"{where}: expected an object with an 'input' name")
    name = data.pop("input")
    cls = _BY_NAME.get(name)
    if cls is None:
        raise RecordError(f"{where}: unknown input {name!r} (known: {', '.join(_BY_NAME)})")
    event: Input = _build(cls, data, f"{where} ({name})")
    codes = tuple(getattr(event, "reasons", ())) + (
        (event.code,) if isinstance(event, DeviceFault) else ()
    )
    unknown = [c for c in codes if c not in reasons.REASONS]
    if unknown:
        raise RecordError(f"{where} ({name}): unknown reason code(s) {unknown} (gate/reasons.py)")
    return event


def decode(text: str, source: str = "record") -> Record:
    """Parse a whole record file."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise RecordError(f"{source}: empty record")
    n, first = lines[0]
    try:
        head = json.loads(first)
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get("record") != "egate-lane":
        raise RecordError(f"{source}:{n}: the first line must be the egate-lane record header")
    if head.get("version") != VERSION:
        raise RecordError(f"{source}:{n}: record version {head.get('version')!r} is not {VERSION}")
    try:
        passage = PassageConfig.model_validate(head.get("passage", {}))
        policy = PolicyConfig.model_validate(head.get("policy", {}))
    except ValueError as exc:
        raise RecordError(f"{source}:{n}: configuration in the header: {exc}") from None
    direction = head.get("direction", "arrival")
    if direction not in ("arrival", "departure"):
        raise RecordError(f"{source}:{n}: direction {direction!r} is not arrival or departure")
    inputs = tuple(decode_input(line, f"{source}:{i}") for i, line in lines[1:])
    return Record(str(head.get("lane_id", "")), direction, passage, policy, inputs)
