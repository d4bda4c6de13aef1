"""Durable reporting from the lane to the central service.

- :mod:`gate.outbox.store`: the local outbox (SQLite in WAL mode, fsync on every commit) that
  numbers events (``seq`` survives restarts), keeps portraits waiting for upload and bounds its
  own size.
- :mod:`gate.outbox.client`: the lane side of the lane <-> central HTTP contract
  (docs/lane-central-api.md).
- :mod:`gate.outbox.delivery`: batches from the outbox to central with retry, exponential
  backoff with jitter, and deletion only after central acknowledged.
"""

from gate.outbox.store import Outbox, OutboxError, OutboxFull, OutboxStats

__all__ = ["Outbox", "OutboxError", "OutboxFull", "OutboxStats"]
