"""Bulk inserts that say which rows were new, at ingest speed.

``INSERT .. ON CONFLICT DO NOTHING RETURNING`` through SQLAlchemy builds one large multi-row
statement per batch, whose text changes with the batch size and costs more to compile and to
parse (psycopg splits every new query text) than the rows cost to store. Here:

- PostgreSQL: one fixed statement per table, ``INSERT .. SELECT * FROM unnest(%s::text[], ..)
  ON CONFLICT DO NOTHING RETURNING key``: one round trip, prepared once, and safe against
  another central process inserting the same key at the same moment.
- SQLite: the keys already present are read first, then the new rows go in with the driver's
  ``executemany``. Race-free because SQLite serves one process and :meth:`Database.write`
  serialises this process's writers; ``ON CONFLICT DO NOTHING`` stays as a second guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Double, Integer, Table
from sqlalchemy.engine import Connection

SQLITE_MAX_PARAMS = 900  # below SQLITE_MAX_VARIABLE_NUMBER of old builds (999)


def _pg_array_type(column: Any) -> str:
    if isinstance(column.type, Boolean):
        return "boolean[]"
    if isinstance(column.type, Integer):
        return "bigint[]"
    if isinstance(column.type, Double):
        return "float8[]"
    return "text[]"


def insert_new(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[Any]:
    """Insert ``rows`` (tuples in ``columns`` order, the key first) and return the keys of the
    rows that were new; rows whose key exists already are left as they are."""
    if not rows:
        return set()
    key = columns[0]
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        casts = ", ".join(f"%b::{_pg_array_type(table.c[c])}" for c in columns)
        sql = (
            f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({casts}) "
            f"ON CONFLICT DO NOTHING RETURNING {key}"
        )
        arrays = tuple(list(col) for col in zip(*rows, strict=True))
        return set(conn.exec_driver_sql(sql, arrays).scalars().all())
    existing: set[Any] = set()
    keys = [r[0] for r in rows]
    for start in range(0, len(keys), SQLITE_MAX_PARAMS):
        chunk = tuple(keys[start : start + SQLITE_MAX_PARAMS])
        marks = ",".join("?" * len(chunk))
        existing.update(
            conn.exec_driver_sql(
                f"SELECT {key} FROM {table.name} WHERE {key} IN ({marks})", chunk
            ).scalars()
        )
    fresh = [r for r in rows if r[0] not in existing]
    if fresh:
        marks = ",".join("?" * len(columns))
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING",
            fresh,
        )
    return {r[0] for r in fresh}
