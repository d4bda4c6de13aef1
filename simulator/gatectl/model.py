"""Physical model of a two-door mantrap lane (pure: advanced by ``step(dt)``).

Positions are metres along the lane axis, x grows in the lane's normal direction (Direction.IN).
The entry door stands at x = 0, the exit door at ``exit_door``; beam 0 is the approach beam in
front of the entry door, beams 1..n are the mantrap beams, the last beam is past the exit door.
Default figures: free walking 1.2-1.4 m/s (pedestrian studies, e.g. Fruin's level-of-service
tables; slower, 0.8-1.0 m/s, inside a gate), a person's body depth about 0.3 m along the walking
direction, a queueing traveller keeps about 0.9 m (centre to centre) to the one ahead, a
tailgater 0.35-0.45 m, door leaves travel in 1.0 s (typical swing or sliding e-gate leaves:
0.8-1.5 s; the default of the physical model, ``simulator.physical.PhysicalModel``, issue #12,
which sets ``door_travel_s`` for the simulated lanes).

Barrier kinds (``LaneGeometry.barrier``, docs/gate-protocol.md section 5.3):

- ``doors``: swing or sliding leaves, as above;
- ``speedgate``: glass wings (Gunnebo SpeedStile-, PERCo ST-style) that open in about 0.5 s and
  close behind the first traveller as soon as the doorway is clear; a follower close enough to
  be in the doorway then keeps them open (obstruction reversal) and is counted;
- ``tripod``: a tripod turnstile's rotor, unlocked in one direction for one rotation: it lets
  exactly one body through in the released direction and locks at once, so a follower is held
  back physically (and nobody can pass against the released direction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict, Unpack

from drivers.gatectl.protocol import DoorState

BarrierKind = Literal["doors", "speedgate", "tripod"]
BARRIER_TRAVEL_S: dict[str, float] = {"doors": 1.0, "speedgate": 0.5, "tripod": 0.05}

DOORWAY_MARGIN = 0.05


@dataclass(frozen=True)
class LaneGeometry:
    entry_beam: float = -0.40
    entry_door: float = 0.0
    mantrap_beams: tuple[float, ...] = (0.45, 1.0, 1.55)
    exit_door: float = 2.0
    exit_beam: float = 2.40
    body_depth: float = 0.30
    door_travel_s: float = BARRIER_TRAVEL_S["doors"]
    """Leaf travel time for ``doors``; speed-gate wings and tripods use BARRIER_TRAVEL_S."""
    door_close_s: float | None = None
    """Leaf closing time for ``doors`` when it differs from opening (None: ``door_travel_s``)."""
    barrier: BarrierKind = "doors"

    @property
    def travel_s(self) -> float:
        return self.door_travel_s if self.barrier == "doors" else BARRIER_TRAVEL_S[self.barrier]

    @property
    def close_s(self) -> float:
        if self.barrier == "doors" and self.door_close_s is not None:
            return self.door_close_s
        return self.travel_s

    @property
    def beams(self) -> tuple[float, ...]:
        return (self.entry_beam, *self.mantrap_beams, self.exit_beam)


@dataclass
class DoorModel:
    position: float  # metres along the lane
    travel_s: float
    opening: float = 0.0  # 0 closed .. 1 fully open
    target: float = 0.0
    locked: bool = True
    reversed_for_obstruction: bool = False
    lock_when_closed: bool = True
    kind: BarrierKind = "doors"
    close_s: float | None = None  # None: travel_s
    allowed: int = 0
    """Tripod only: the one direction (+1/-1) released; 0 lets both (emergency, maintenance)."""

    def passable_for(self, direction: int) -> bool:
        if not self.passable:
            return False
        return self.kind != "tripod" or self.allowed in (0, direction)

    @property
    def state(self) -> DoorState:
        if self.opening <= 0.0:
            return DoorState.LOCKED if self.locked else DoorState.CLOSED
        if self.opening >= 1.0 and self.target >= 1.0:
            return DoorState.OPEN
        return DoorState.OPENING if self.target > self.opening else DoorState.CLOSING

    @property
    def passable(self) -> bool:
        return self.opening >= 1.0

    def open(self, direction: int = 0) -> None:
        self.locked = False
        self.target = 1.0
        self.allowed = direction

    def lock_now(self) -> None:
        """A tripod's rotor after one rotation: closed and locked at once."""
        self.opening = self.target = 0.0
        self.locked = self.lock_when_closed = True
        self.allowed = 0

    def close(self, lock: bool) -> None:
        self.target = 0.0
        self.lock_when_closed = lock
        if self.opening <= 0.0:
            self.locked = lock

    def step(self, dt: float, obstructed: bool) -> None:
        if self.kind == "tripod":
            obstructed = False  # a rotor arm does not reverse, it blocks
        if self.target < self.opening and obstructed:
            # safety edge / beam: a closing leaf reverses when someone stands in the doorway
            self.reversed_for_obstruction = True
        if self.reversed_for_obstruction:
            if obstructed:
                self.opening = min(1.0, self.opening + dt / self.travel_s)
                return
            self.reversed_for_obstruction = False
        if self.target > self.opening:
            self.opening = min(self.target, self.opening + dt / self.travel_s)
        elif self.target < self.opening:
            self.opening = max(self.target, self.opening - dt / (self.close_s or self.travel_s))
            if self.opening <= 0.0:
                self.locked = self.lock_when_closed

    @property
    def state_for_report(self) -> DoorState:
        if self.reversed_for_obstruction:
            return DoorState.OPENING if self.opening < 1.0 else DoorState.OPEN
        return self.state


@dataclass
class Person:
    ident: int
    x: float
    speed: float = 1.0
    direction: int = 1
    turn_back_at: float | None = None
    leave_margin: float = 1.0
    gap: float = 0.9  # centre-to-centre distance kept to the person ahead (a tailgater: ~0.4)

    def body(self, depth: float) -> tuple[float, float]:
        return (self.x - depth / 2, self.x + depth / 2)


@dataclass
class LaneModel:
    geometry: LaneGeometry = field(default_factory=LaneGeometry)
    people: list[Person] = field(default_factory=list)
    _next_id: int = 1

    def __post_init__(self) -> None:
        g = self.geometry
        self.entry = DoorModel(g.entry_door, g.travel_s, kind=g.barrier, close_s=g.close_s)
        self.exit = DoorModel(g.exit_door, g.travel_s, kind=g.barrier, close_s=g.close_s)

    @property
    def doors(self) -> tuple[DoorModel, DoorModel]:
        return (self.entry, self.exit)

    def add_person(
        self,
        *,
        x: float | None = None,
        speed: float = 1.0,
        direction: int = 1,
        turn_back_at: float | None = None,
        gap: float = 0.9,
    ) -> Person:
        g = self.geometry
        if x is None:
            x = g.entry_beam - 1.0 if direction > 0 else g.exit_beam + 1.0
        person = Person(self._next_id, x, speed, direction, turn_back_at, gap=gap)
        self._next_id += 1
        self.people.append(person)
        return person

    def beam_states(self) -> list[bool]:
        half = self.geometry.body_depth / 2
        return [any(abs(p.x - b) < half for p in self.people) for b in self.geometry.beams]

    def in_doorway(self, door: DoorModel) -> bool:
        half = self.geometry.body_depth / 2
        return any(abs(p.x - door.position) < half + DOORWAY_MARGIN for p in self.people)

    def near(self, door: DoorModel, direction: int, reach: float) -> bool:
        """Anyone on the approach side within ``reach`` of the door or in the doorway."""
        half = self.geometry.body_depth / 2
        for p in self.people:
            offset = (p.x - door.position) * direction
            if -reach <= offset < half + DOORWAY_MARGIN:
                return True
        return False

    def step(self, dt: float) -> list[tuple[int, DoorModel, int]]:
        """Advance by ``dt`` seconds; returns (person id, door, +1/-1) for each door crossing."""
        crossings: list[tuple[int, DoorModel, int]] = []
        for door in self.doors:
            door.step(dt, self.in_doorway(door))
        g = self.geometry
        half = g.body_depth / 2
        order = sorted(self.people, key=lambda q: -q.x * q.direction)
        for person in order:
            start = person.x
            nxt = person.x + person.direction * person.speed * dt
            for door in self.doors:
                ahead = (door.position - start) * person.direction
                if ahead > half and not door.passable_for(person.direction):
                    limit = door.position - person.direction * (half + DOORWAY_MARGIN)
                    if (nxt - limit) * person.direction > 0:
                        nxt = limit if (limit - start) * person.direction > 0 else start
            for other in self.people:  # keep a minimal spacing to the person ahead
                if other is person or other.direction != person.direction:
                    continue
                ahead = (other.x - start) * person.direction
                keep = max(person.gap, g.body_depth + 0.05)
                if ahead > 0 and (other.x - nxt) * person.direction < keep:
                    nxt = other.x - person.direction * keep
                    if (nxt - start) * person.direction < 0:
                        nxt = start
            person.x = nxt
            for door in self.doors:
                if start < door.position <= nxt:
                    crossings.append((person.ident, door, 1))
                elif nxt < door.position <= start:
                    crossings.append((person.ident, door, -1))
                else:
                    continue
                if door.kind == "tripod" and door.allowed != 0:
                    door.lock_now()  # one rotation per release
            if person.turn_back_at is not None and (
                (person.x - person.turn_back_at) * person.direction >= 0
            ):
                person.direction = -person.direction
                person.turn_back_at = None
        # people leave the model once they walked well past the lane, whichever way they go
        self.people = [
            p
            for p in self.people
            if (p.direction > 0 and p.x <= g.exit_beam + p.leave_margin)
            or (p.direction < 0 and p.x >= g.entry_beam - p.leave_margin)
        ]
        return crossings


class Arrival(TypedDict, total=False):
    """How a simulated person walks into the lane (keyword arguments of ``add_person``)."""

    speed: float  # m/s, default 1.0
    x: float | None  # start position in m (default: 1 m before the entry beam)
    turn_back_at: float | None  # position where the person turns round (None: walks through)
    gap: float  # distance kept to the person ahead, default 0.9 m (0.35 for a tailgater)


class LaneWorld:
    """The people side shared by every simulated device that models a lane (``self.lane``)."""

    lane: LaneModel

    def add_person(self, **arrival: Unpack[Arrival]) -> int:
        """A traveller walking in (see :class:`Arrival`); returns the person's id."""
        return self.lane.add_person(**arrival).ident

    def turn_back(self) -> int:
        """Everyone in the lane turns round towards the entry (a refused traveller leaving)."""
        for person in self.lane.people:
            person.direction = -1
            person.turn_back_at = None
        return len(self.lane.people)
