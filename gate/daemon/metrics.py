"""The lane's Prometheus metrics (``GET /metrics`` of the local API).

One registry per daemon (several lanes can run in one process, e.g. the simulator's). Names:

| metric | type | labels |
|---|---|---|
| ``egate_transactions_total`` | counter | ``decision`` |
| ``egate_stage_duration_seconds`` | histogram | ``stage`` (time from the document placed) |
| ``egate_transaction_duration_seconds`` | histogram | ``decision`` |
| ``egate_face_similarity`` | histogram | |
| ``egate_device_faults_total`` | counter | ``device`` |
| ``egate_device_up`` | gauge | ``device`` (1 working, 0 faulty) |
| ``egate_outbox_depth`` | gauge | events waiting for central |
| ``egate_outbox_oldest_age_seconds`` | gauge | age of the oldest waiting event |
| ``egate_outbox_delivered_total`` | counter | ``result`` (accepted, duplicate, rejected) |
| ``egate_central_link_up`` | gauge | |
| ``egate_lists_age_seconds`` | gauge | ``list`` (since the last sync with central) |
| ``egate_loop_lag_seconds`` | histogram | event-loop lag (how late a 100 ms timer fires) |
| ``egate_lane_state`` | gauge | ``state`` (1 for the current one) |
| ``egate_lane_protocol_errors_total`` | counter | |
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gate.events import Decision, Device, LaneState

CONTENT_TYPE = CONTENT_TYPE_LATEST
STAGE_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 8, 12, 18, 25, 40, 60)
LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
SIMILARITY_BUCKETS = tuple(round(-0.2 + 0.1 * i, 1) for i in range(13))


class LaneMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.transactions = Counter(
            "egate_transactions", "Transactions by decision", ["decision"], registry=r
        )
        self.stage = Histogram(
            "egate_stage_duration_seconds",
            "Time from the document placed to each stage",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.transaction_duration = Histogram(
            "egate_transaction_duration_seconds",
            "Time from the document placed to the end of the transaction",
            ["decision"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.face_similarity = Histogram(
            "egate_face_similarity",
            "Face similarity of live face and chip portrait",
            buckets=SIMILARITY_BUCKETS,
            registry=r,
        )
        self.device_faults = Counter("egate_device_faults", "Device faults", ["device"], registry=r)
        self.device_up = Gauge("egate_device_up", "1 when the device works", ["device"], registry=r)
        self.outbox_depth = Gauge("egate_outbox_depth", "Events waiting for central", registry=r)
        self.outbox_age = Gauge(
            "egate_outbox_oldest_age_seconds", "Age of the oldest waiting event", registry=r
        )
        self.outbox_delivered = Counter(
            "egate_outbox_delivered", "Events central answered for", ["result"], registry=r
        )
        self.central_up = Gauge("egate_central_link_up", "1 when central answers", registry=r)
        self.lists_age = Gauge(
            "egate_lists_age_seconds", "Time since the list was synced", ["list"], registry=r
        )
        self.loop_lag = Histogram(
            "egate_loop_lag_seconds",
            "How late a periodic event-loop timer fires",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.lane_state = Gauge(
            "egate_lane_state", "1 for the lane's current state", ["state"], registry=r
        )
        self.protocol_errors = Counter(
            "egate_lane_protocol_errors", "Inputs the lane core refused", registry=r
        )
        for decision in Decision:
            self.transactions.labels(decision.value)
        for device in Device:
            self.device_faults.labels(device.value)
        for result in ("accepted", "duplicate", "rejected"):
            self.outbox_delivered.labels(result)

    def set_state(self, state: LaneState) -> None:
        for s in LaneState:
            self.lane_state.labels(s.value).set(1 if s is state else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
