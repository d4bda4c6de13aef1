"""Simulated controller barriers: doors, speed gates, tripod turnstiles (gate-protocol.md 5.3)."""

from __future__ import annotations

import pytest

from drivers.gatectl import protocol as p
from simulator.gatectl.device import ControllerDevice, DeviceConfig
from simulator.gatectl.model import LaneGeometry


class Rig:
    """The device driven directly (sans-IO): commands in, events out, time stepped by hand."""

    def __init__(self, barrier: str) -> None:
        geometry = LaneGeometry(barrier=barrier)  # type: ignore[arg-type]
        self.dev = ControllerDevice(DeviceConfig(geometry=geometry), now=0.0, seed=3)
        self.now = 0.0
        self.seq = 0
        self.events: list[p.Event] = []
        self.decoder = p.FrameDecoder()
        self.command(p.SetMode(p.Mode.NORMAL))

    def command(self, msg: p.Message) -> p.Frame:
        self.seq = p.next_seq(self.seq)
        self.dev.receive(p.encode_frame(self.seq, msg.TYPE, msg.encode()), self.now)
        return next(
            f
            for f in self._frames()
            if f.seq == self.seq and f.type in (p.MsgType.ACK, p.MsgType.NAK)
        )

    def _frames(self) -> list[p.Frame]:
        frames = []
        for raw in self.dev.frames_to_send():
            for frame in self.decoder.feed(raw, self.now):
                if frame.type in p.EVENTS:
                    self.events.append(p.decode_event(frame))
                    self.dev.receive(p.encode_frame(frame.seq, p.MsgType.ACK), self.now)
                frames.append(frame)
        return frames

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += 0.01
            self.dev.tick(self.now)
            self.dev.receive(p.encode_frame(p.next_seq(self.seq), p.MsgType.HEARTBEAT), self.now)
            self.seq = p.next_seq(self.seq)
            self._frames()

    def passages(self) -> list[p.Event]:
        return [e for e in self.events if isinstance(e, p.PassageCompleted | p.PassageAborted)]


def walk(rig: Rig, *, gap: float = 0.9, people: int = 1) -> None:
    for i in range(people):
        rig.dev.add_person(x=-0.6 - i * gap, speed=1.0, gap=gap)


@pytest.mark.parametrize("barrier", ["doors", "speedgate", "tripod"])
def test_one_traveller_one_passage(barrier: str) -> None:
    rig = Rig(barrier)
    walk(rig)
    rig.command(p.ReleasePassage(p.Door.ENTRY, p.Direction.IN, 10000))
    rig.run(6.0)
    done = rig.passages()
    assert len(done) == 1 and isinstance(done[0], p.PassageCompleted) and done[0].persons == 1


def test_a_speedgate_counts_a_close_follower() -> None:
    rig = Rig("speedgate")
    walk(rig, gap=0.36, people=2)
    rig.command(p.ReleasePassage(p.Door.ENTRY, p.Direction.IN, 10000))
    rig.run(6.0)
    done = rig.passages()
    assert isinstance(done[0], p.PassageCompleted) and done[0].persons == 2


def test_a_tripod_lets_one_through_and_holds_the_follower_back() -> None:
    rig = Rig("tripod")
    walk(rig, gap=0.36, people=2)
    rig.command(p.ReleasePassage(p.Door.ENTRY, p.Direction.IN, 10000))
    rig.run(6.0)
    done = rig.passages()
    assert isinstance(done[0], p.PassageCompleted) and done[0].persons == 1
    follower = min(rig.dev.lane.people, key=lambda q: q.x)
    assert follower.x < rig.dev.config.geometry.entry_door  # still in front of the rotor
    rig.command(p.ReleasePassage(p.Door.ENTRY, p.Direction.IN, 10000))  # the next release
    rig.run(4.0)
    assert [e.persons for e in rig.passages() if isinstance(e, p.PassageCompleted)] == [1, 1]


def test_a_tripod_released_in_is_locked_against_the_other_way() -> None:
    rig = Rig("tripod")
    rig.dev.lane.add_person(x=0.6, speed=1.0, direction=-1)  # inside, walking back out
    rig.command(p.ReleasePassage(p.Door.ENTRY, p.Direction.IN, 3000))
    rig.run(2.0)
    assert rig.dev.lane.people[0].x > 0.0  # held on the inside
    assert not any(isinstance(e, p.PassageCompleted) for e in rig.passages())


def test_emergency_frees_a_tripod_both_ways() -> None:
    rig = Rig("tripod")
    rig.dev.lane.add_person(x=0.6, speed=1.0, direction=-1)
    rig.dev.set_fire_alarm(True, rig.now)
    rig.run(2.0)
    assert rig.dev.lane.people == [] or rig.dev.lane.people[0].x < 0.0
