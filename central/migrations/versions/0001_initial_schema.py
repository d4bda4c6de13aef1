"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-02 17:47:45.255588
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


_APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
_APPEND_ONLY_POSTGRES = [
    "CREATE OR REPLACE FUNCTION egate_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION egate_audit_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("alarm_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("condition_active", sa.Boolean(), nullable=False),
        sa.Column("source_event_id", sa.String(length=36), nullable=True),
        sa.Column("transaction_id", sa.String(length=36), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", sa.Double(), nullable=True),
        sa.Column("shelved_until", sa.Double(), nullable=True),
        sa.Column("cleared_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("alarm_id"),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index("ix_alarms_lane_kind", ["lane_id", "kind"], unique=False)
        batch_op.create_index("ix_alarms_state", ["state"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "commands",
        sa.Column("command_id", sa.String(length=36), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", sa.Double(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("acked_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("command_id"),
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index("ix_commands_lane_status", ["lane_id", "status"], unique=False)

    op.create_table(
        "device_faults",
        sa.Column("fault_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("recovered", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("fault_id"),
    )
    with op.batch_alter_table("device_faults", schema=None) as batch_op:
        batch_op.create_index("ix_device_faults_time", ["occurred_at"], unique=False)

    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("occurred_at", sa.Double(), nullable=False),
        sa.Column("received_at", sa.Double(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_lane_seq", ["lane_id", "seq"], unique=False)
        batch_op.create_index("ix_events_received", ["received_at"], unique=False)

    op.create_table(
        "lanes",
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("port", sa.String(length=16), nullable=False),
        sa.Column("terminal", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("registered_at", sa.Double(), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("devices", sa.Text(), nullable=False),
        sa.Column("doors", sa.Text(), nullable=False),
        sa.Column("outbox_depth", sa.Integer(), nullable=False),
        sa.Column("lists", sa.Text(), nullable=False),
        sa.Column("trust_store", sa.String(length=64), nullable=True),
        sa.Column("last_heartbeat_at", sa.Double(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=True),
        sa.Column("last_event_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("lane_id"),
    )
    op.create_table(
        "list_entries",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_name", sa.String(length=16), nullable=False),
        sa.Column("entry_key", sa.String(length=128), nullable=False),
        sa.Column("port", sa.String(length=16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("added_version", sa.Integer(), nullable=False),
        sa.Column("removed_version", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.create_index("ix_list_entries_added", ["list_name", "added_version"], unique=False)
        batch_op.create_index("ix_list_entries_key", ["list_name", "entry_key"], unique=False)
        batch_op.create_index(
            "ix_list_entries_removed", ["list_name", "removed_version"], unique=False
        )

    op.create_table(
        "list_versions",
        sa.Column("list_name", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("list_name", "version"),
    )
    op.create_table(
        "officers",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.Double(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("last_login_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "outages",
        sa.Column("outage_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("outage_id"),
    )
    with op.batch_alter_table("outages", schema=None) as batch_op:
        batch_op.create_index("ix_outages_lane", ["lane_id", "started_at"], unique=False)

    op.create_table(
        "portraits",
        sa.Column("portrait_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("portrait_id"),
        sa.UniqueConstraint("transaction_id", "kind", name="uq_portraits_transaction_kind"),
    )
    with op.batch_alter_table("portraits", schema=None) as batch_op:
        batch_op.create_index("ix_portraits_stored", ["stored_at"], unique=False)

    op.create_table(
        "referrals",
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.Double(), nullable=True),
        sa.Column("command_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("transaction_id"),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index("ix_referrals_status", ["status", "created_at"], unique=False)

    op.create_table(
        "transactions",
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("port", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.Double(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=True),
        sa.Column("face_similarity", sa.Double(), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("transaction_id"),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transactions_fingerprint"), ["fingerprint"], unique=False
        )
        batch_op.create_index("ix_transactions_lane_time", ["lane_id", "occurred_at"], unique=False)
        batch_op.create_index("ix_transactions_time", ["occurred_at"], unique=False)

    op.create_table(
        "lane_credentials",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=True),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lane_id"],
            ["lanes.lane_id"],
        ),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("lane_credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lane_credentials_lane_id"), ["lane_id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("last_seen_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"],
            ["officers.username"],
        ),
        sa.PrimaryKeyConstraint("session_hash"),
    )

    # The audit log is append-only in the database too (the hash chain detects what a
    # database owner does anyway, see central/audit.py).
    dialect = op.get_bind().dialect.name
    for statement in _APPEND_ONLY_POSTGRES if dialect == "postgresql" else _APPEND_ONLY_SQLITE:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("sessions")
    with op.batch_alter_table("lane_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lane_credentials_lane_id"))

    op.drop_table("lane_credentials")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_transactions_time")
        batch_op.drop_index("ix_transactions_lane_time")
        batch_op.drop_index(batch_op.f("ix_transactions_fingerprint"))

    op.drop_table("transactions")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_status")

    op.drop_table("referrals")
    with op.batch_alter_table("portraits", schema=None) as batch_op:
        batch_op.drop_index("ix_portraits_stored")

    op.drop_table("portraits")
    with op.batch_alter_table("outages", schema=None) as batch_op:
        batch_op.drop_index("ix_outages_lane")

    op.drop_table("outages")
    op.drop_table("officers")
    op.drop_table("list_versions")
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_list_entries_removed")
        batch_op.drop_index("ix_list_entries_key")
        batch_op.drop_index("ix_list_entries_added")

    op.drop_table("list_entries")
    op.drop_table("lanes")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_received")
        batch_op.drop_index("ix_events_lane_seq")

    op.drop_table("events")
    with op.batch_alter_table("device_faults", schema=None) as batch_op:
        batch_op.drop_index("ix_device_faults_time")

    op.drop_table("device_faults")
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index("ix_commands_lane_status")

    op.drop_table("commands")
    op.drop_table("audit_log")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_alarms_state")
        batch_op.drop_index("ix_alarms_lane_kind")

    op.drop_table("alarms")
