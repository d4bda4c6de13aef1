"""The lane state machine: ``Lane.handle(input) -> [commands]`` (docs/lane.md)."""

from __future__ import annotations

from typing import Literal

from gate.config import PassageConfig, PolicyConfig
from gate.lane.commands import Command
from gate.lane.inputs import Input
from gate.lane.states import PassageState


class Lane:
    """One lane. Build it, send :class:`~gate.lane.inputs.Started` once the doors are safe, then
    feed every input in order and carry out the returned commands in order."""

    def __init__(
        self,
        passage: PassageConfig,
        policy: PolicyConfig,
        *,
        direction: Literal["arrival", "departure"] = "arrival",
    ) -> None:
        self.passage = passage
        self.policy = policy
        self.direction = direction
        self.state = PassageState.OUT_OF_SERVICE

    def handle(self, event: Input) -> list[Command]:
        raise NotImplementedError("transitions land in the next commit")

    def deadline(self) -> float | None:
        """When the next Tick is due (an ``at`` value), or None when nothing waits on time."""
        return None
