"""The officer dashboard served by the central service (pages, static assets, translations).

The central app factory calls :func:`install` after mounting every API route; see
``central/dashboard/router.py`` and docs/dashboard.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Mount the dashboard's pages and static assets on the central service."""
    from central.dashboard.router import install as _install

    _install(app)
