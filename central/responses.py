"""Response documents of the routes that answer with a hand-built ``Response`` (JSON or CSV)
and the error answers routes declare, so that the OpenAPI document describes every answer the
service gives (``tests/central/test_central_fuzz.py`` checks status codes and schemas).

Row models allow extra fields: a new figure in a row is not a breaking change.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from central.deps import Responses


class HealthBody(BaseModel):
    status: str = Field(description='"ok", or "database unavailable" (with 503)')
    version: str
    database: Literal["sqlite", "postgresql"]


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")


class PassagesRow(_Row):
    bucket_start: str = Field(description="start of the hour or day (UTC, ISO 8601)")
    lane: str | None = Field(None, description="lane id (group=lane)")
    port: str | None = Field(None, description="port code (group=port)")
    decision: str
    count: int
    median_ms: float | None
    p95_ms: float | None


class PassagesBody(BaseModel):
    rows: list[PassagesRow]


class BreakdownRow(_Row):
    bucket_start: str = Field(description="start of the hour or day (UTC, ISO 8601)")
    lane: str | None = Field(None, description="lane id (group=lane)")
    port: str | None = Field(None, description="port code (group=port)")
    passages: int
    accepted: int
    rejected: int
    referred: int
    aborted: int
    referral_reasons: dict[str, int]
    median_ms: float | None
    p95_ms: float | None
    face_similarity_counts: list[int]
    device_faults: int
    availability: float | None
    automated_clearances: int
    same_period_last_year: int
    change_percent: float | None


class BreakdownBody(BaseModel):
    rows: list[BreakdownRow]


class CrossingsRow(BaseModel):
    port: str = Field(description="border crossing point code")
    direction: str = Field(description="arrival or departure")
    hour: str = Field(description="start of the hour (UTC, ISO 8601)")
    crossings: int | None = Field(description="accepted passages; null when suppressed")
    suppressed: bool


class CrossingsBody(BaseModel):
    date: str
    licence: str
    publisher: str
    min_cell_count: int
    fields: dict[str, str]
    rows: list[CrossingsRow]


CSV_CONTENT: dict[str, Any] = {
    "text/csv": {"schema": {"type": "string", "description": "the rows with a header line (UTF-8)"}}
}


def json_or_csv(model: type[BaseModel], description: str) -> Responses:
    """A 200 answer documented as ``model`` in JSON and as ``text/csv`` (``format=csv``)."""
    return {200: {"model": model, "description": description, "content": CSV_CONTENT}}


BAD_REQUEST: Responses = {400: {"description": "the request is well-formed but not acceptable"}}
BAD_PERIOD: Responses = {
    400: {"description": "'from' after 'to', a period too long, or a day in the future"}
}
