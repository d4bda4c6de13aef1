"""The daemon's record of every input it fed to the lane core, for ``egate lane replay``.

One JSON object per line, one file per lane and day (``RECORDS_DIR/LANE-YYYY-MM-DD.jsonl``),
appended and flushed per line:

- ``{"kind": "begin", "transaction": ID, "lane": LANE, "wall": ISO}`` when a document is placed;
- ``{"kind": "input", "transaction": ID|null, "type": "MrzRead", "data": {...}}`` for every
  input in the order the core saw it (``data``: the dataclass fields; enums as values, dates as
  ISO strings, nested dataclasses as objects);
- ``{"kind": "command", ...}`` for every command the core answered with (for comparison);
- ``{"kind": "end", "transaction": ID, "decision": ..., "reasons": [...]}``.

Inputs carry no images, templates or full document numbers (the core never sees them).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)


def plain(value: Any) -> Any:
    """A JSON-ready copy of an input or command value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    return value


class TransactionRecorder:
    def __init__(self, directory: Path | None, lane_id: str = "lane") -> None:
        self.directory = Path(directory) if directory else None
        self.lane_id = lane_id
        self._day: date | None = None
        self._out: IO[str] | None = None
        self.broken = False

    def _write(self, record: dict[str, Any]) -> None:
        if self.directory is None or self.broken:
            return
        today = datetime.now(UTC).date()
        try:
            if self._out is None or self._day != today:
                self.close()
                self.directory.mkdir(parents=True, exist_ok=True)
                path = self.directory / f"{self.lane_id}-{today.isoformat()}.jsonl"
                self._out = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
                self._day = today
            self._out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._out.flush()
        except OSError as exc:
            # a full disk must not stop the lane: the outbox decides about admission
            log.error("transaction record not written (%s); recording paused", exc)
            self.broken = True

    def begin(self, transaction: str, lane_id: str) -> None:
        self.lane_id = lane_id
        self.broken = False
        self._write(
            {
                "kind": "begin",
                "transaction": transaction,
                "lane": lane_id,
                "wall": datetime.now(UTC).isoformat(),
            }
        )

    def input(self, transaction: str | None, inp: Any) -> None:
        self._write(
            {
                "kind": "input",
                "transaction": transaction,
                "type": type(inp).__name__,
                "data": plain(inp),
            }
        )

    def command(self, transaction: str | None, command: Any) -> None:
        self._write(
            {
                "kind": "command",
                "transaction": transaction,
                "type": type(command).__name__,
                "data": plain(command),
            }
        )

    def finish(self, transaction: str, finished: Any) -> None:
        self._write(
            {
                "kind": "end",
                "transaction": transaction,
                "decision": plain(finished.decision),
                "reasons": list(finished.reasons),
            }
        )

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
