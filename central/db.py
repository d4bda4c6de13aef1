"""The central database: tables, engine set-up (SQLite WAL or PostgreSQL) and migrations.

Times are stored as UTC seconds since the epoch (``Double``): they sort, bucket by hour or day
with plain arithmetic in every dialect, and never lose their time zone. JSON documents are
stored as text. The schema is created and upgraded by Alembic (``central/migrations``);
:func:`migrate` runs at start-up and is safe to run from several processes at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry

from central.errors import CentralError

metadata = MetaData()

lanes = Table(
    "lanes",
    metadata,
    Column("lane_id", String(64), primary_key=True),
    Column("name", String(128), nullable=False, default=""),
    Column("port", String(16), nullable=False, default=""),
    Column("terminal", String(32), nullable=False, default=""),
    Column("direction", String(16), nullable=False, default="arrival"),
    Column("registered_at", Double, nullable=False),
    Column("registered_by", String(64), nullable=False, default=""),
    Column("state", String(32), nullable=False, default="unknown"),
    Column("step", String(64), nullable=False, default=""),
    Column("devices", Text, nullable=False, default="{}"),
    Column("doors", Text, nullable=False, default="{}"),
    Column("outbox_depth", Integer, nullable=False, default=0),
    Column("lists", Text, nullable=False, default="{}"),
    Column("trust_store", String(64), nullable=True),
    Column("last_heartbeat_at", Double, nullable=True),
    Column("online", Boolean, nullable=False, default=False),
    Column("last_seq", Integer, nullable=True),
    Column("last_event_at", Double, nullable=True),
)

lane_credentials = Table(
    "lane_credentials",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("lane_id", String(64), ForeignKey("lanes.lane_id"), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=True),
    Column("revoked_at", Double, nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("lane_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(24), nullable=False),
    Column("occurred_at", Double, nullable=False),
    Column("received_at", Double, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_events_lane_seq", "lane_id", "seq"),
    Index("ix_events_received", "received_at"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("transaction_id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("lane_id", String(64), nullable=False),
    Column("port", String(16), nullable=False, default=""),
    Column("direction", String(16), nullable=False, default="arrival"),
    Column("occurred_at", Double, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reasons", Text, nullable=False, default="[]"),
    Column("duration_ms", Double, nullable=True),
    Column("face_similarity", Double, nullable=True),
    Column("nationality", String(3), nullable=False, default=""),
    Column("fingerprint", String(64), nullable=True, index=True),
    Index("ix_transactions_time", "occurred_at"),
    Index("ix_transactions_lane_time", "lane_id", "occurred_at"),
)

referrals = Table(
    "referrals",
    metadata,
    Column("transaction_id", String(36), primary_key=True),
    Column("lane_id", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("reasons", Text, nullable=False, default="[]"),
    Column("decision", String(16), nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", Double, nullable=True),
    Column("command_id", String(36), nullable=True),
    Index("ix_referrals_status", "status", "created_at"),
)

alarms = Table(
    "alarms",
    metadata,
    Column("alarm_id", Integer, primary_key=True, autoincrement=True),
    Column("lane_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("condition_active", Boolean, nullable=False, default=True),
    Column("source_event_id", String(36), nullable=True),
    Column("transaction_id", String(36), nullable=True),
    Column("detail", Text, nullable=False, default=""),
    Column("raised_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("acknowledged_by", String(64), nullable=True),
    Column("acknowledged_at", Double, nullable=True),
    Column("shelved_until", Double, nullable=True),
    Column("cleared_at", Double, nullable=True),
    Index("ix_alarms_state", "state"),
    Index("ix_alarms_lane_kind", "lane_id", "kind"),
)

commands = Table(
    "commands",
    metadata,
    Column("command_id", String(36), primary_key=True),
    Column("lane_id", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("args", Text, nullable=False, default="{}"),
    Column("issued_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("status", String(16), nullable=False, default="queued"),
    Column("delivered_at", Double, nullable=True),
    Column("result", String(16), nullable=True),
    Column("detail", Text, nullable=False, default=""),
    Column("acked_at", Double, nullable=True),
    Index("ix_commands_lane_status", "lane_id", "status"),
)

portraits = Table(
    "portraits",
    metadata,
    Column("portrait_id", Integer, primary_key=True, autoincrement=True),
    Column("transaction_id", String(36), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("lane_id", String(64), nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("stored_at", Double, nullable=False),
    Column("purpose", String(24), nullable=False, server_default="referral"),
    UniqueConstraint("transaction_id", "kind", name="uq_portraits_transaction_kind"),
    Index("ix_portraits_stored", "stored_at"),
)

officers = Table(
    "officers",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(128), nullable=False, default=""),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Double, nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Double, nullable=False),
    Column("last_login_at", Double, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("officers.username"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("last_seen_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", Double, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(128), nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

list_versions = Table(
    "list_versions",
    metadata,
    Column("list_name", String(16), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", Double, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("note", Text, nullable=False, default=""),
)

list_entries = Table(
    "list_entries",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("list_name", String(16), nullable=False),
    Column("entry_key", String(128), nullable=False),
    Column("port", String(16), nullable=False, default=""),
    Column("data", Text, nullable=False),
    Column("added_version", Integer, nullable=False),
    Column("removed_version", Integer, nullable=True),
    Index("ix_list_entries_key", "list_name", "entry_key"),
    Index("ix_list_entries_added", "list_name", "added_version"),
    Index("ix_list_entries_removed", "list_name", "removed_version"),
)

device_faults = Table(
    "device_faults",
    metadata,
    Column("fault_id", Integer, primary_key=True, autoincrement=True),
    Column("lane_id", String(64), nullable=False),
    Column("device", String(32), nullable=False),
    Column("code", String(64), nullable=False),
    Column("recovered", Boolean, nullable=False),
    Column("occurred_at", Double, nullable=False),
    Index("ix_device_faults_time", "occurred_at"),
)

outages = Table(
    "outages",
    metadata,
    Column("outage_id", Integer, primary_key=True, autoincrement=True),
    Column("lane_id", String(64), nullable=False),
    Column("started_at", Double, nullable=False),
    Column("ended_at", Double, nullable=True),
    Index("ix_outages_lane", "lane_id", "started_at"),
)

# Durable hourly aggregates without personal data (central/hourly.py): what the statistics keep
# of transactions, device faults and outages once the retention purge deleted them. Times are
# the start of the UTC hour.
hourly_stats = Table(
    "hourly_stats",
    metadata,
    Column("hour", Double, primary_key=True),
    Column("lane_id", String(64), primary_key=True),
    Column("port", String(16), primary_key=True),
    Column("direction", String(16), primary_key=True),
    Column("decision", String(16), primary_key=True),
    Column("passages", Integer, nullable=False),
    Column("reasons", Text, nullable=False, default="{}"),
    Column("durations", Text, nullable=False, default="{}"),
    Column("face_counts", Text, nullable=False, default="[]"),
)

hourly_lane = Table(
    "hourly_lane",
    metadata,
    Column("hour", Double, primary_key=True),
    Column("lane_id", String(64), primary_key=True),
    Column("faults", Text, nullable=False, default="{}"),
    Column("down_seconds", Double, nullable=False, default=0.0),
)


_AFTER_COMMIT = "egate_after_commit"
_BEFORE_COMMIT = "egate_before_commit"


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run ``callback`` after the transaction of ``conn`` (from :meth:`Database.write`) commits."""
    pending = conn.info.get(_AFTER_COMMIT)
    if pending is None:
        raise CentralError("after_commit needs a connection from Database.write()")
    pending.append(callback)


def before_commit(conn: Connection, key: str, callback: Callable[[], None]) -> bool:
    """Run ``callback`` once, just before the transaction of ``conn`` (from
    :meth:`Database.write`) commits; False if ``key`` is registered already."""
    pending = conn.info.get(_BEFORE_COMMIT)
    if pending is None:
        raise CentralError("before_commit needs a connection from Database.write()")
    if key in pending:
        return False
    pending[key] = callback
    return True


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON for a text column."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def loads(value: str | None, default: Any = None) -> Any:
    if not value:
        return default
    return json.loads(value)


class Database:
    """One engine and the knowledge of its dialect."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=pool_size
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True
            )
        # SQLite has one writer at a time: serialise writers of this process on a lock instead
        # of spinning on SQLITE_BUSY. PostgreSQL needs no lock.
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a transaction that commits on success, for writers.

        Callbacks registered with :func:`before_commit` run at the end of the transaction,
        those registered with :func:`after_commit` once it committed.
        """
        callbacks: list[Callable[[], None]] = []
        before: dict[str, Callable[[], None]] = {}
        lock = self._write_lock if self._write_lock is not None else nullcontext()
        with lock, self.engine.begin() as conn:
            conn.info[_AFTER_COMMIT] = callbacks
            conn.info[_BEFORE_COMMIT] = before
            try:
                yield conn
                for hook in before.values():
                    hook()
            finally:
                conn.info.pop(_AFTER_COMMIT, None)
                conn.info.pop(_BEFORE_COMMIT, None)
        for callback in callbacks:
            callback()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database without blocking writers
        (``PRAGMA wal_checkpoint(PASSIVE)``); nothing to do on PostgreSQL."""
        if self.is_sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def dispose(self) -> None:
        self.engine.dispose()


WAL_AUTOCHECKPOINT_PAGES = 50_000  # 200 MB of 4 KiB pages


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # Checkpoints run in the housekeeping thread (Database.checkpoint), not inside a writer's
    # commit while it holds the write lock; this bound only caps the WAL if they stop.
    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cur.close()


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK_KEY = 0x65676174  # "egat": PostgreSQL advisory lock around upgrades


def migrate(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic; concurrent callers wait for each other."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with db.engine.begin() as conn:
            if db.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except Exception as exc:  # alembic raises many kinds; the operator needs one message
        raise CentralError(f"database {db.engine.url!r}: migration failed: {exc}") from exc
