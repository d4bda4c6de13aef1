"""The report of a simulated run: outcomes, mismatches, passage and software times, events.

``--json`` prints :meth:`SimReport.to_json`; the keys are documented in docs/scenarios.md.

A traveller is a *mismatch* when the decision differs from the group's ``expect`` or a code of
``expect_reasons`` is missing from the decision's reasons. A fault window may legitimately change
an outcome (a camera unplugged while the traveller faces it): a difference for a traveller whose
passage overlapped a fault window on that lane is not counted in ``mismatches`` but in
``fault_changed``, and its entry in ``mismatch_details`` says ``"during_faults": [...]`` with the
faults that overlapped. A difference with no fault overlapping is always a mismatch.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TravellerResult:
    index: int
    lane: int
    group: int
    label: str
    expect: str
    expect_reasons: tuple[str, ...]
    decision: str
    reasons: tuple[str, ...]
    started: float
    """Simulated seconds from the start of the run when the traveller reached the reader."""
    ended: float
    """When the traveller had left the lane (cleared the exit beam, or walked away)."""
    software_seconds: float
    faults: tuple[str, ...] = ()
    """Faults whose window overlapped this passage on this lane ('camera:disconnect')."""

    @property
    def passage_seconds(self) -> float:
        return self.ended - self.started

    @property
    def missing_reasons(self) -> tuple[str, ...]:
        return tuple(r for r in self.expect_reasons if r not in self.reasons)

    @property
    def differs(self) -> bool:
        return self.decision != self.expect or bool(self.missing_reasons)

    def detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "traveller": self.index,
            "lane": self.lane,
            "group": self.group,
            "traveller_kind": self.label,
            "expected": self.expect,
            "decision": self.decision,
            "reasons": list(self.reasons),
            "missing_reasons": list(self.missing_reasons),
        }
        if self.faults:
            out["during_faults"] = list(self.faults)
        return out


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p95": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"median": round(statistics.median(ordered), 4), "p95": round(p95, 4)}


@dataclass
class EventCounts:
    produced: int = 0
    at_central: int | None = None
    """None when the run had no central service."""
    missing: int | None = None
    duplicated: int | None = None
    resent: int | None = None
    """Events sent again after a lost acknowledgement (central must answer 'duplicate')."""
    acknowledged_duplicates: int | None = None


@dataclass
class SimReport:
    scenario: str
    flow: str
    lanes: int
    seed: int
    fast: bool
    central: str
    results: list[TravellerResult] = field(default_factory=list)
    events: EventCounts = field(default_factory=EventCounts)
    wall_seconds: float = 0.0
    simulated_seconds: float = 0.0
    physical_minimum_seconds: float | None = None
    lane_implementation: str = ""
    physical_model: dict[str, Any] = field(default_factory=dict)
    """The physical model the run used (``simulator.physical.PhysicalModel``)."""
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[TravellerResult]:
        return [r for r in self.results if r.differs and not r.faults]

    @property
    def fault_changed(self) -> list[TravellerResult]:
        return [r for r in self.results if r.differs and r.faults]

    def throughput_per_hour(self) -> dict[str, float]:
        """Travellers per hour of simulated time, per lane (from its first arrival to the
        moment its last traveller left)."""
        out: dict[str, float] = {}
        for lane in range(self.lanes):
            mine = [r for r in self.results if r.lane == lane]
            if not mine:
                out[str(lane)] = 0.0
                continue
            span = max(r.ended for r in mine) - min(r.started for r in mine)
            out[str(lane)] = round(3600.0 * len(mine) / span, 1) if span > 0 else 0.0
        return out

    def to_dict(self) -> dict[str, Any]:
        passages = [r.passage_seconds for r in self.results]
        software = [r.software_seconds for r in self.results]
        return {
            "scenario": self.scenario,
            "flow": self.flow,
            "lanes": self.lanes,
            "seed": self.seed,
            "fast": self.fast,
            "central": self.central,
            "lane_implementation": self.lane_implementation,
            "travellers": len(self.results),
            "outcomes": dict(sorted(Counter(r.decision for r in self.results).items())),
            "mismatches": len(self.mismatches),
            "mismatch_details": [r.detail() for r in self.mismatches],
            "fault_changed": len(self.fault_changed),
            "fault_changed_details": [r.detail() for r in self.fault_changed],
            "passage_seconds": _summary(passages),
            "software_seconds": _summary(software),
            "physical_minimum_seconds": (
                round(self.physical_minimum_seconds, 4)
                if self.physical_minimum_seconds is not None
                else None
            ),
            "throughput_per_hour": self.throughput_per_hour(),
            "physical_model": self.physical_model,
            "events": {
                "produced": self.events.produced,
                "at_central": self.events.at_central,
                "missing": self.events.missing,
                "duplicated": self.events.duplicated,
                "resent": self.events.resent,
                "acknowledged_duplicates": self.events.acknowledged_duplicates,
            },
            "simulated_seconds": round(self.simulated_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
            "notes": self.notes,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def human(self) -> str:
        d = self.to_dict()
        lines = [
            f"scenario {self.scenario} ({self.flow}), {self.lanes} lane(s), seed {self.seed}"
            + (", simulated clock" if self.fast else ""),
            f"travellers: {d['travellers']}  outcomes: "
            + ", ".join(f"{k} {v}" for k, v in d["outcomes"].items()),
            f"mismatches: {d['mismatches']}  changed by a fault window: {d['fault_changed']}",
            f"passage seconds: median {d['passage_seconds']['median']}, "
            f"p95 {d['passage_seconds']['p95']} (physical minimum "
            f"{d['physical_minimum_seconds']})",
            f"software seconds: median {d['software_seconds']['median']}, "
            f"p95 {d['software_seconds']['p95']}",
            "throughput per hour: "
            + ", ".join(f"lane {k}: {v}" for k, v in d["throughput_per_hour"].items()),
            f"events: produced {self.events.produced}, at central {self.events.at_central}, "
            f"missing {self.events.missing}, duplicated {self.events.duplicated}",
        ]
        for item in d["mismatch_details"][:20]:
            lines.append(
                f"  MISMATCH traveller {item['traveller']} lane {item['lane']} "
                f"({item['traveller_kind']}): expected {item['expected']}, got "
                f"{item['decision']} {' '.join(item['reasons'])}"
            )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)
