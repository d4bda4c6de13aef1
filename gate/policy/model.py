"""Data the decision policy works on: document facts, list screening, and the decision.

Pure data. Nothing here holds a full document number, a portrait or a template: the lane core
records these objects and replays them (``egate lane replay``).

Stable interface: fields are only ever added, with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from gate.events import Decision


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentFacts:
    """What the policy needs from the MRZ (or DG1), never the full document number."""

    document_code: str
    """MRZ document code, e.g. 'P', 'PD', 'I', 'ID', 'V'."""
    issuing_state: str
    nationality: str
    date_of_birth: date | None = None
    """None when the MRZ leaves the date unknown (``<<<<<<``) or it is invalid."""
    date_of_expiry: date | None = None
    masked_number: str = ""
    """At most 4 visible characters (gate.events.DocumentSummary), e.g. '*****4567'."""
    format: Literal["TD1", "TD2", "TD3", "MRVA", "MRVB", "FRA-ID"] = "TD3"


@dataclass(frozen=True, kw_only=True, slots=True)
class ScreeningResult:
    """The outcome of looking the traveller up in the local lists (gate.policy.lists).

    The daemon computes it with the full document number and name in memory only; the lane
    core and its records only ever see this summary.
    """

    watchlist_hits: tuple[str, ...] = ()
    """Identifiers of matching watch-list entries (never shown to the traveller)."""
    enrolled: bool | None = None
    """Found in the enrolled-traveller registry; None when the registry was not consulted."""
    on_manifest: bool | None = None
    """Found on a received passenger manifest (APIS); None when manifests are not used."""
    lists_age_seconds: float | None = None
    """Age of the oldest list consulted (time since its last sync with central)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FaceEvidence:
    outcome: Literal["match", "no_match", "no_face", "no_chip_portrait"]
    similarity: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """Everything known about one traveller so far; None means 'not (yet) done'."""

    today: date
    direction: Literal["arrival", "departure"] = "arrival"
    document: DocumentFacts | None = None
    mrz_reasons: tuple[str, ...] = ()
    chip_ok: bool | None = None
    chip_reasons: tuple[str, ...] = ()
    authenticity: tuple[str, ...] | None = None
    """Codes of the document-authenticity verdict; None until verified."""
    crl: Literal["current", "missing", "stale"] | None = None
    screening: ScreeningResult | None = None
    face: FaceEvidence | None = None
    liveness: bool | None = None
    persons: int | None = None
    """People counted in the passage (None: not counted yet)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleResult:
    """One rule of the policy and what it found (the 'rule that fired' in a replay)."""

    rule: str
    outcome: Literal["pass", "fail", "refer", "warn", "pending", "skipped"]
    reasons: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class PolicyDecision:
    """The decision with its reason codes and the figures behind them.

    ``decision`` is None while checks are still pending and none has failed yet.
    ``document_stage_passed`` tells a two-step lane that everything needed before the
    traveller may enter the mantrap (document, eligibility, lists) passed.
    """

    decision: Decision | None
    reasons: tuple[str, ...] = ()
    rules: tuple[RuleResult, ...] = ()
    figures: dict[str, float | int | str | None] = field(default_factory=dict)
    document_stage_passed: bool = False
    discreet: bool = False
    """True for a watch-list hit: the traveller sees only 'please see an officer'."""
    keep_live_portrait: bool = False
    """The foreign-national record: keep the accepted traveller's live portrait."""

    @property
    def fired(self) -> tuple[RuleResult, ...]:
        """The rules that decided (failed, referred or warned)."""
        return tuple(r for r in self.rules if r.outcome in ("fail", "refer", "warn"))
