"""Errors of the lane core: one class, raised when an input is not allowed in the current state."""

from __future__ import annotations

from gate.errors import EgateError


class LaneProtocolError(EgateError):
    """An input arrived in a state that does not accept it (h11's ``LocalProtocolError``).

    The lane's state is unchanged. The daemon logs the error and sends
    :class:`gate.lane.inputs.SafeStop` (or an officer takes the lane out of service).
    """

    def __init__(self, state: str, input_name: str, allowed: tuple[str, ...]) -> None:
        self.state = state
        self.input_name = input_name
        self.allowed = allowed
        super().__init__(
            f"lane state {state!r} does not accept input {input_name!r} "
            f"(it accepts: {', '.join(allowed)}); this is a bug in the caller: "
            "send the input only after the command that asks for it"
        )
