"""The ingest fast path (JSON Schema) never accepts what the shared pydantic schema refuses,
and reads the same facts from an event as pydantic does."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from central.ingest import fast_facts, model_facts, validate_batch
from gate.events import EventSchemaError, parse_event

BASE: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "3f0c8f0e-5a43-4c53-9d5b-0d3c1c1e7a10",
    "lane_id": "L1",
    "seq": 7,
    "occurred_at": "2026-12-02T08:00:10+00:00",
    "type": "transaction",
    "transaction_id": "8a4f3e8e-2d1b-4a51-8c43-6f2c8e9b1d22",
    "decision": "accepted",
    "reasons": ["PA_OK"],
    "stages": [
        {"stage": "document_placed", "at": "2026-12-02T08:00:00+00:00"},
        {"stage": "passage_completed", "at": "2026-12-02T08:00:09.5+00:00"},
    ],
    "document": {
        "format": "TD3",
        "document_code": "P",
        "issuing_state": "UTO",
        "nationality": "UTO",
        "masked_number": "*****02C3",
        "fingerprint": "a" * 64,
    },
    "scores": {"face_similarity": 0.61},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    ev = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = ev
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return ev


_DELETE = object()

VARIANTS = [
    ("document.masked_number", "L898902C3"),  # unmasked number
    ("occurred_at", "2026-12-02T08:00:10"),  # naive time
    ("stages.1.at", "2026-12-02T08:00:09"),  # naive stage time
    ("event_id", "not-a-uuid"),
    ("event_id", "3F0C8F0E-5A43-4C53-9D5B-0D3C1C1E7A10"),  # valid, not canonical
    ("transaction_id", "8A4F3E8E2D1B4A518C436F2C8E9B1D22"),  # valid, no hyphens
    ("seq", -1),
    ("seq", "7"),
    ("seq", True),
    ("lane_id", "bad lane"),
    ("decision", "maybe"),
    ("reasons", ["pa_ok"]),
    ("type", _DELETE),
    ("type", "unknown"),
    ("schema_version", 2),
    ("document.format", "TD9"),
    ("document.date_of_expiry", "2031-02-30"),
    ("document.fingerprint", "A" * 64),
    ("scores.face_similarity", "high"),
    ("stages.0.stage", "teleported"),
    ("occurred_at", "2026-12-02T08:00:60+00:00"),
    ("occurred_at", 1764662410),
]


def _pydantic_accepts(ev: dict[str, Any]) -> bool:
    try:
        parse_event(ev)
    except EventSchemaError:
        return False
    return True


@pytest.mark.parametrize(("path", "value"), VARIANTS)
def test_fast_path_never_accepts_what_pydantic_refuses(path: str, value: Any) -> None:
    ev = _with(path, value)
    if fast_facts(ev) is not None:
        assert _pydantic_accepts(ev), f"fast path accepted {path}={value!r}"


@pytest.mark.parametrize(("path", "value"), VARIANTS)
def test_batch_outcome_is_pydantic_outcome(path: str, value: Any) -> None:
    ev = _with(path, value)
    valid, rejected = validate_batch("L1", [ev])
    assert (len(valid) == 1) == _pydantic_accepts(ev)
    if rejected:
        assert rejected[0]["index"] == 0 and rejected[0]["reason"]
    if valid:  # ids are canonical whichever path read the event
        assert valid[0].event_id == str(uuid.UUID(valid[0].event_id))


def test_fast_and_pydantic_facts_agree() -> None:
    fast = fast_facts(copy.deepcopy(BASE))
    assert fast is not None
    slow = model_facts(parse_event(copy.deepcopy(BASE)), BASE)
    for name in fast.__slots__:  # type: ignore[attr-defined]
        if name in ("raw", "occurred_iso"):
            continue
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast.duration_ms == pytest.approx(9500)


@pytest.mark.parametrize(
    "ev",
    [
        {"type": "alarm", "alarm": "tailgating"},
        {"type": "alarm", "alarm": "forced_door", "active": False, "severity": "warning"},
        {"type": "device_fault", "device": "camera", "code": "CAMERA_LOST", "detail": "usb"},
        {"type": "lane_state", "state": "out_of_service"},
    ],
)
def test_other_event_types_agree(ev: dict[str, Any]) -> None:
    full = {k: BASE[k] for k in ("event_id", "lane_id", "seq", "occurred_at")} | ev
    fast = fast_facts(copy.deepcopy(full))
    slow = model_facts(parse_event(copy.deepcopy(full)), full)
    assert fast is not None
    for name in ("type", "alarm", "active", "severity", "detail", "device", "code", "state"):
        assert getattr(fast, name) == getattr(slow, name), name
