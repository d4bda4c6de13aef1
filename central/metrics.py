"""Prometheus metrics of one central process (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "egate_ingest_events_total", "Ingested events by outcome", ["outcome"], registry=r
        )
        self.batches = Counter(
            "egate_ingest_batches_total", "Ingest batches by HTTP status", ["status"], registry=r
        )
        self.ingest_seconds = Histogram(
            "egate_ingest_batch_seconds",
            "Time to validate and store one batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.ingest_stage_seconds = Counter(
            "egate_ingest_stage_seconds_total", "Ingest time by stage", ["stage"], registry=r
        )
        self.heartbeats = Counter("egate_heartbeats_total", "Lane heartbeats received", registry=r)
        self.lanes_online = Gauge("egate_lanes_online", "Lanes heartbeating", registry=r)
        self.lanes_offline = Gauge(
            "egate_lanes_offline", "Registered lanes not heartbeating", registry=r
        )
        self.commands = Counter(
            "egate_commands_total", "Lane commands by status change", ["status"], registry=r
        )
        self.live_subscribers = Gauge("egate_live_subscribers", "Open live streams", registry=r)
        self.logins = Counter(
            "egate_logins_total", "Officer logins by outcome", ["outcome"], registry=r
        )
        self.purge_runs = Counter("egate_purge_runs_total", "Retention purge runs", registry=r)
        self.purged = Counter(
            "egate_purged_rows_total", "Rows deleted by the purge job", ["kind"], registry=r
        )
        self.purge_seconds = Gauge(
            "egate_purge_last_duration_seconds", "Duration of the last purge run", registry=r
        )
        self.purge_last = Gauge(
            "egate_purge_last_run_timestamp_seconds", "When the purge job last finished", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
