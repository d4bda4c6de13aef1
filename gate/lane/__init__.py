"""The lane core: a pure state machine for one e-Gate lane (sans-IO, in the style of h11).

Inputs (:mod:`gate.lane.inputs`) go in through :meth:`Lane.handle`, commands
(:mod:`gate.lane.commands`) come out; time is the ``at`` of every input and
:meth:`Lane.deadline` says when the next :class:`~gate.lane.inputs.Tick` is due. The lane never
touches a device, a socket, a thread or a clock. See docs/lane.md.
"""

from gate.lane.errors import LaneProtocolError
from gate.lane.machine import Lane
from gate.lane.states import PassageState

__all__ = ["Lane", "LaneProtocolError", "PassageState"]
