"""Alembic environment: runs on the connection handed over by :func:`central.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from central.db import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # `alembic -x url=...` from a shell
        url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///var/central.sqlite")
        with create_engine(url).begin() as conn:
            context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
