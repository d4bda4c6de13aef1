"""Errors of the central service (one hierarchy, rooted in :class:`gate.errors.EgateError`)."""

from __future__ import annotations

from gate.errors import EgateError


class CentralError(EgateError):
    """The central service cannot do what was asked; the message says what and why."""


class NotFound(CentralError):
    """The lane, transaction, alarm, command, officer or list entry does not exist."""


class Conflict(CentralError):
    """The request contradicts the current state (e.g. a referral already decided)."""


class InvalidRequest(CentralError):
    """The request is well-formed JSON but its content cannot be used."""
