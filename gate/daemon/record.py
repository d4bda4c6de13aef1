"""The daemon's record of every input it fed to the lane core, for ``egate lane replay``.

The format is the lane core's (:mod:`gate.lane.record`): a header line with the lane's
``[passage]`` and ``[policy]`` configuration, then one line per input in the order the core saw
it. One file per daemon run (``RECORDS_DIR/LANE-YYYYMMDDTHHMMSSZ.jsonl``): a replay starts from a
fresh core, exactly like the daemon did. Lines are flushed as they are written.

Inputs carry no images, templates or full document numbers (the core never sees them); a write
failure (full disk) pauses recording with an error in the log instead of stopping the lane.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from gate.config import PassageConfig, PolicyConfig
from gate.lane.inputs import Input
from gate.lane.record import encode_input, header

log = logging.getLogger(__name__)


class TransactionRecorder:
    def __init__(
        self,
        directory: Path | None,
        lane_id: str,
        direction: str,
        passage: PassageConfig,
        policy: PolicyConfig,
    ) -> None:
        self.directory = Path(directory) if directory else None
        self.path: Path | None = None
        self._header = header(lane_id, direction, passage, policy)
        self._lane_id = lane_id
        self._out: IO[str] | None = None
        self.broken = False

    def input(self, inp: Input) -> None:
        if self.directory is None or self.broken:
            return
        try:
            if self._out is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                self.path = self.directory / f"{self._lane_id}-{stamp}.jsonl"
                self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
                self._out.write(self._header + "\n")
            self._out.write(encode_input(inp) + "\n")
            self._out.flush()
        except OSError as exc:
            log.error("transaction record not written (%s); recording paused", exc)
            self.broken = True

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
