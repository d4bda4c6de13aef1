"""Replay a transaction record through the lane core (pure): "why did the gate do that?"

:func:`replay` feeds the recorded inputs to a fresh :class:`~gate.lane.Lane` with the recorded
configuration (or another ``[policy]``) and returns every step with the commands, the rule that
ran and, for each transaction, the decision with the policy rules that fired. :func:`compare`
runs a record under two policies and lists the transactions whose decision or reasons differ.

A different policy may end a transaction earlier than the recorded one did; the recorded
answers that follow are then late (ignored) or not accepted any more (the step shows the
``LaneProtocolError`` and the replay goes on with the next input).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from gate.config import PolicyConfig
from gate.lane.commands import TransactionFinished
from gate.lane.errors import LaneProtocolError
from gate.lane.machine import Lane
from gate.lane.record import Record, _plain


@dataclass(frozen=True)
class ReplayStep:
    at: float
    input: str
    before: str
    after: str
    rule: str
    note: str
    commands: tuple[dict[str, Any], ...]
    error: str = ""
    transaction: str | None = None
    """The traveller being served when the input arrived (or the one it started)."""


@dataclass(frozen=True)
class ReplayedTransaction:
    transaction: str
    decision: str
    reasons: tuple[str, ...]
    fired: tuple[str, ...]
    """``rule: outcome codes (detail)`` of every policy rule that failed, referred or warned."""


@dataclass(frozen=True)
class Replay:
    steps: tuple[ReplayStep, ...]
    transactions: tuple[ReplayedTransaction, ...]

    def by_id(self) -> dict[str, ReplayedTransaction]:
        return {t.transaction: t for t in self.transactions}


def _command(c: object) -> dict[str, Any]:
    return {"command": type(c).__name__, **_plain(c)}


def replay(record: Record, policy: PolicyConfig | None = None) -> Replay:
    lane = Lane(record.passage, policy or record.policy, direction=record.direction)
    steps: list[ReplayStep] = []
    done: list[ReplayedTransaction] = []
    for event in record.inputs:
        before = lane.state.value
        decision = lane.decision
        serving = lane.transaction
        try:
            cmds = lane.handle(event)
        except LaneProtocolError as exc:
            steps.append(
                ReplayStep(
                    event.at, type(event).__name__, before, before, "", "", (), str(exc), serving
                )
            )
            continue
        step = lane.last_step
        assert step is not None
        steps.append(
            ReplayStep(
                event.at,
                type(event).__name__,
                before,
                lane.state.value,
                step.rule,
                step.note,
                tuple(_command(c) for c in cmds),
                transaction=serving or lane.transaction,
            )
        )
        for c in cmds:
            if isinstance(c, TransactionFinished):
                d = lane.decision or decision
                fired = tuple(
                    f"{r.rule}: {r.outcome} {' '.join(r.reasons)}"
                    + (f" ({r.detail})" if r.detail else "")
                    for r in (d.fired if d is not None else ())
                )
                done.append(ReplayedTransaction(c.transaction, c.decision.value, c.reasons, fired))
    return Replay(tuple(steps), tuple(done))


@dataclass(frozen=True)
class Difference:
    transaction: str
    recorded: ReplayedTransaction | None
    new: ReplayedTransaction | None


def compare(record: Record, policy: PolicyConfig) -> tuple[Replay, Replay, tuple[Difference, ...]]:
    """Replay under the recorded and the new policy; the transactions that differ."""
    old, new = replay(record), replay(record, policy)
    a, b = old.by_id(), new.by_id()
    diffs = []
    for tx in dict.fromkeys([*a, *b]):
        x, y = a.get(tx), b.get(tx)
        if x is None or y is None or (x.decision, x.reasons) != (y.decision, y.reasons):
            diffs.append(Difference(tx, x, y))
    return old, new, tuple(diffs)


def as_dict(obj: object) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [as_dict(v) for v in obj]
    return obj


def only(result: Replay, transaction: str) -> Replay:
    """The steps and decision of one traveller."""
    return Replay(
        tuple(s for s in result.steps if s.transaction == transaction),
        tuple(t for t in result.transactions if t.transaction == transaction),
    )
