"""The lane daemon end to end with simulator devices and a stub central service.

Each test runs the real daemon (lane core, drivers, virtual chip, simulated gate controller on a
pty, simulated camera, outbox, delivery) in one event loop and plays one traveller.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from gate.config import LaneConfig
from gate.daemon import LaneDaemon
from gate.daemon.work import FaceCapture
from gate.emrtd.pki import trust
from gate.events import parse_event
from gate.lane.record import decode
from gate.lane.replay import replay
from simulator import passports, pki
from simulator.central import CentralStub
from simulator.chip.card import VirtualChip
from simulator.demo import FaceSource, make_mrz
from simulator.lane_devices import SimulatedLane
from simulator.testdata import testdata_root as find_testdata

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def test_pki() -> Any:
    return pki.make_test_pki(datetime.now(UTC) - timedelta(days=30))


@pytest.fixture(scope="module")
def faces() -> FaceSource:
    return FaceSource.find(find_testdata())


@pytest.fixture(scope="module")
def face_capture() -> FaceCapture:
    from gate.face.pipeline import FaceEngine

    return FaceCapture(FaceEngine.from_config(LaneConfig().face), None, 3)


def lane_config(tmp: Path, **overrides: Any) -> LaneConfig:
    data: dict[str, Any] = {
        "api": {"listen": "127.0.0.1:0", "token": "maint"},
        "central": {
            "url": "http://central",
            "token": "test-token",
            "outbox_path": str(tmp / "o.db"),
        },
        "daemon": {
            "lists_dir": str(tmp / "lists"),
            "records_dir": str(tmp / "records"),
            "command_poll_seconds": 1,
            "watchdog_seconds": 0.3,
        },
        "outbox": {"retry_base_seconds": 0.05, "retry_max_seconds": 0.2},
        # the simulator composites flat face images: the motion baseline rightly calls them
        # photos, so presentation-attack detection is off on simulated lanes
        "policy": {"refuse_specimen": False, "stale_lists": "serve", "require_liveness": False},
        "gatectl": {"heartbeat_seconds": 0.2},
    }
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return LaneConfig.model_validate(data)


class Lane:
    """A running daemon with simulated devices and the handles to play a traveller."""

    def __init__(
        self,
        tmp: Path,
        test_pki: Any,
        faces: FaceSource,
        face: FaceCapture,
        central_app: Any = None,
        **overrides: Any,
    ) -> None:
        self.config = lane_config(tmp, **overrides)
        self.stub = CentralStub(lane_id=self.config.lane.id)
        self.sim = SimulatedLane(self.config)
        self.devices = self.sim.devices()
        store = trust.TrustStore()
        for csca in test_pki.cscas:
            store.import_bytes(csca.der, source="test PKI", now=datetime.now(UTC))
        self.pki = test_pki
        self.faces = faces
        self.events: list[Any] = []
        self.daemon = LaneDaemon(
            self.config,
            devices=self.devices,
            central_transport=httpx.ASGITransport(central_app or self.stub.app()),
            trust_store=store,
            face=face,
            on_event=self.events.append,
        )
        self.rng = random.Random(5)

    def passport(self, index: int, impostor: bool = False) -> tuple[str, VirtualChip, np.ndarray]:
        portrait, live = self.faces.pair(index, impostor)
        ok, jpeg = cv2.imencode(".jpg", portrait)
        assert ok
        mrz = make_mrz(self.rng, datetime.now(UTC).date())
        image = passports.build_passport(mrz, self.pki.dsc_p256, face=bytes(jpeg))
        return mrz, VirtualChip(image), live

    async def wait_for(self, what: Callable[[], bool], timeout: float = 30.0) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not what():
                    await asyncio.sleep(0.02)
        except TimeoutError:
            raise AssertionError(
                f"timed out; lane {self.daemon.lane.state.value}, screens {self.seen}, "
                f"events {[(e.type, getattr(e, 'reasons', '')) for e in self.events]}"
            ) from None

    def screens(self) -> list[str]:
        return self.seen

    async def watch_screen(self) -> None:
        """Every screen the lane shows, in order (as a page would receive them)."""
        queue = self.daemon.screen.subscribe()
        while True:
            snapshot = await queue.get()
            screen = snapshot["screen"]
            self.countdowns[screen] = snapshot["countdown"]
            if not self.seen or self.seen[-1] != screen:
                self.seen.append(screen)

    def transactions(self) -> list[Any]:
        return [e for e in self.events if e.type == "transaction"]

    async def run(self, play: Callable[[Lane], Any]) -> None:
        self.seen: list[str] = []
        self.countdowns: dict[str, Any] = {}
        task = asyncio.create_task(self.daemon.run())
        watcher = asyncio.create_task(self.watch_screen())
        try:
            await asyncio.wait_for(self.daemon.started.wait(), 60)
            await self.wait_for(lambda: "welcome" in self.seen, 20)
            await play(self)
        finally:
            self.daemon.request_stop("test over")
            await asyncio.wait_for(task, 60)
            watcher.cancel()


@pytest.fixture
def make_lane(
    tmp_path: Path, test_pki: Any, faces: FaceSource, face_capture: FaceCapture
) -> Iterator[Callable[..., Lane]]:
    yield lambda **overrides: Lane(tmp_path, test_pki, faces, face_capture, **overrides)


async def passage(lane: Lane, impostor: bool = False, index: int = 0) -> None:
    """One traveller: passport on the reader, into the mantrap when told, out the way shown."""
    mrz, chip, live = lane.passport(index, impostor=impostor)
    lane.sim.camera.show(live)
    done = len(lane.transactions())
    start = len(lane.seen)
    lane.sim.place_document([mrz[:44], mrz[44:]], chip)

    def shown(*screens: str) -> str | None:
        return next((s for s in lane.seen[start:] if s in screens), None)

    await lane.wait_for(lambda: shown("enter", "see_officer", "try_again") is not None)
    if shown("enter", "see_officer", "try_again") == "enter":
        lane.sim.remove_document()
        lane.sim.walk_in()
        await lane.wait_for(lambda: shown("proceed", "see_officer", "walk_back") is not None)
        if shown("proceed", "see_officer", "walk_back") != "proceed":
            lane.sim.turn_back()
    else:
        lane.sim.remove_document()  # refused at the reader: the traveller takes the passport
    await lane.wait_for(lambda: len(lane.transactions()) > done, 60)
    lane.sim.camera.show(None)
    await lane.wait_for(lambda: lane.daemon.screen.screen == "welcome", 30)


async def genuine_passage(lane: Lane) -> None:
    await passage(lane)


def test_genuine_traveller_is_accepted_and_reported(make_lane: Callable[..., Lane]) -> None:
    lane = make_lane()
    asyncio.run(lane.run(genuine_passage))
    (tx,) = lane.transactions()
    assert tx.decision.value == "accepted", tx.reasons
    assert "enter" in lane.seen and "proceed" in lane.seen
    # the traveller sees how long the entry stays open ([passage] entry_seconds)
    assert lane.countdowns["enter"]["total"] == lane.config.passage.entry_seconds
    stages = [s.stage.value for s in tx.stages]
    assert stages[0] == "document_placed" and "exit_opened" in stages
    assert tx.scores.face_similarity is not None
    assert tx.document is not None and tx.document.masked_number.count("*") >= 5
    # delivered to central exactly once, in order, with the lane's own events
    assert str(tx.event_id) in lane.stub.events
    assert lane.stub.seqs() == list(range(len(lane.stub.seqs())))
    assert lane.stub.portraits == {}  # accepted citizens' portraits never leave the lane
    # the record replays to the same decision (egate lane replay)
    record = next((lane.config.daemon.records_dir or Path()).glob("*.jsonl"))
    replayed = replay(decode(record.read_text(encoding="utf-8"), str(record)))
    assert [(t.transaction, t.decision) for t in replayed.transactions] == [
        (str(tx.transaction_id), "accepted")
    ]
    for raw in lane.stub.events.values():
        parse_event(raw)


def test_impostor_is_referred_and_portraits_go_to_central(make_lane: Callable[..., Lane]) -> None:
    lane = make_lane()

    async def play(lane: Lane) -> None:
        await passage(lane, impostor=True)
        await lane.wait_for(lambda: len(lane.stub.portraits) == 2, 20)

    asyncio.run(lane.run(play))
    (tx,) = lane.transactions()
    assert tx.decision.value == "referred"
    assert "FACE_NO_MATCH" in tx.reasons or "FACE_NOT_FOUND" in tx.reasons
    assert "see_officer" in lane.seen and "proceed" not in lane.seen
    assert set(lane.stub.portraits) == {
        (str(tx.transaction_id), "chip"),
        (str(tx.transaction_id), "live"),
    }
    assert tx.portraits.chip and tx.portraits.live
    assert lane.daemon.outbox_stats is not None


def test_document_removed_mid_read_aborts(make_lane: Callable[..., Lane]) -> None:
    lane = make_lane()

    async def play(lane: Lane) -> None:
        mrz, chip, _ = lane.passport(0)
        chip.faults.slow_seconds = 0.05  # a slow chip: about 3 s to read
        lane.sim.place_document([mrz[:44], mrz[44:]], chip, real_time=True)
        await lane.wait_for(lambda: lane.daemon.lane.state.value == "reading_chip")
        await asyncio.sleep(0.3)
        lane.sim.remove_document()
        await lane.wait_for(lambda: bool(lane.transactions()))
        await lane.wait_for(lambda: lane.daemon.screen.screen == "welcome", 30)

    asyncio.run(lane.run(play))
    (tx,) = lane.transactions()
    assert tx.decision.value == "aborted"
    assert "enter" not in lane.seen


def test_camera_unplugged_mid_transaction_faults_safely_and_recovers(
    make_lane: Callable[..., Lane],
) -> None:
    lane = make_lane()

    async def play(lane: Lane) -> None:
        mrz, chip, live = lane.passport(0)
        lane.sim.camera.show(live)
        lane.sim.place_document([mrz[:44], mrz[44:]], chip)
        await lane.wait_for(lambda: lane.daemon.screen.screen == "enter")
        lane.sim.remove_document()
        lane.sim.camera.unplug()
        lane.sim.walk_in()
        await lane.wait_for(lambda: bool(lane.transactions()))
        await lane.wait_for(lambda: lane.daemon.screen.screen in ("walk_back", "out_of_service"))
        lane.sim.turn_back()
        await lane.wait_for(lambda: lane.daemon.lane.state.value == "out_of_service", 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{lane.daemon.api_port}") as c:
            health = await c.get("/health")
            assert health.status_code == 503
            assert any("camera" in r for r in health.json()["reasons"])
        lane.sim.camera.replug()
        await lane.wait_for(lambda: lane.daemon.lane.state.value == "idle", 20)

    asyncio.run(lane.run(play))
    (tx,) = lane.transactions()
    assert tx.decision.value == "aborted" and "CAMERA_NO_FRAMES" in tx.reasons
    faults = [e for e in lane.events if e.type == "device_fault" and e.device.value == "camera"]
    assert [f.recovered for f in faults] == [False, True]
    assert "proceed" not in lane.seen


def test_controller_noise_is_tolerated(make_lane: Callable[..., Lane]) -> None:
    lane = make_lane()

    async def noisy(lane: Lane) -> None:
        async def noise() -> None:
            while True:
                lane.sim.noise(24)
                await asyncio.sleep(0.05)

        task = asyncio.create_task(noise())
        try:
            await passage(lane)
        finally:
            task.cancel()

    asyncio.run(lane.run(noisy))
    (tx,) = lane.transactions()
    assert tx.decision.value == "accepted", tx.reasons
    assert not [e for e in lane.events if e.type == "device_fault"]


def test_officer_commands_are_applied_and_acknowledged(make_lane: Callable[..., Lane]) -> None:
    lane = make_lane()

    async def play(lane: Lane) -> None:
        closed = lane.stub.command("out_of_service")
        await lane.wait_for(lambda: closed in lane.stub.acks)
        assert lane.daemon.lane.state.value == "out_of_service"
        stale = lane.stub.command("in_service", ttl=-1)
        await lane.wait_for(lambda: stale in lane.stub.acks)
        assert lane.daemon.lane.state.value == "out_of_service"  # never runs an expired one
        bogus = lane.stub.command("self_destruct")
        opened = lane.stub.command("in_service")
        await lane.wait_for(lambda: opened in lane.stub.acks and bogus in lane.stub.acks)
        await lane.wait_for(lambda: lane.daemon.lane.state.value == "idle")
        lane.ids = (closed, stale, bogus, opened)

    lane.ids = ()
    asyncio.run(lane.run(play))
    closed, stale, bogus, opened = lane.ids
    assert lane.stub.acks[closed]["result"] == "done"
    assert lane.stub.acks[stale]["result"] == "expired"
    assert lane.stub.acks[bogus]["result"] == "refused"
    assert lane.stub.acks[opened]["result"] == "done"


def test_central_outage_degrades_then_delivers_everything(make_lane: Callable[..., Lane]) -> None:
    lane = make_lane()

    async def play(lane: Lane) -> None:
        lane.stub.faults.fail_next = 10**6
        await lane.wait_for(lambda: lane.daemon.central_up is False)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{lane.daemon.api_port}") as c:
            status = (await c.get("/status")).json()
        assert status["degraded"] and status["central"]["link"] == "down"
        await passage(lane)  # still serving travellers from the cached lists
        assert lane.transactions()[0].decision.value == "accepted"
        assert lane.daemon.outbox_stats is not None
        lane.stub.faults.fail_next = 0
        await lane.wait_for(lambda: len(lane.stub.events) == len(lane.events), 20)

    asyncio.run(lane.run(play))
    notes = [e.reason for e in lane.events if e.type == "lane_state"]
    assert any("central unreachable" in n for n in notes)
    assert any("central reachable again" in n for n in notes)
    assert lane.stub.seqs() == list(range(len(lane.stub.events)))
    assert set(lane.stub.received.values()) == {1}


def test_stale_lists_during_an_outage_refer_and_say_so(
    make_lane: Callable[..., Lane], tmp_path: Path
) -> None:
    import json
    import time

    lists = tmp_path / "lists"
    lists.mkdir()
    old = time.time() - 30 * 3600  # central last confirmed the watch list 30 h ago
    (lists / "watchlist.json").write_text(
        json.dumps({"version": 7, "salt": "ab" * 16, "entries": [], "synced_at": old})
    )
    lane = make_lane(policy={"stale_lists": "refer", "lists_max_age_hours": 24})
    lane.stub.faults.fail_next = 10**6  # the national outage goes on

    async def play(lane: Lane) -> None:
        await lane.wait_for(lambda: lane.daemon.central_up is False)
        await passage(lane)

    asyncio.run(lane.run(play))
    (tx,) = lane.transactions()
    assert tx.decision.value == "referred" and "POLICY_LISTS_STALE" in tx.reasons
    assert "see_officer" in lane.seen
    notes = [e.reason for e in lane.events if e.type == "lane_state"]
    assert any(n.startswith("LANE_LISTS_STALE") and "referred" in n for n in notes)


def test_watchlist_hit_is_a_discreet_referral_with_an_alarm(make_lane: Callable[..., Lane]) -> None:
    from gate.policy.lists import document_key

    lane = make_lane()
    mrz, chip, live = lane.passport(0)
    salt = bytes(range(16))
    number = mrz[44:53].replace("<", "")
    lane.stub.lists["watchlist"] = {
        "version": 5,
        "salt": salt.hex(),
        "entries": [{"id": "W-1", "document_keys": [document_key(salt, number, "UTO")]}],
    }

    async def play(lane: Lane) -> None:
        await lane.wait_for(lambda: lane.daemon.lists.version("watchlist") == 5)
        lane.passport = lambda *_a, **_k: (mrz, chip, live)  # type: ignore[method-assign]
        await passage(lane)

    asyncio.run(lane.run(play))
    (tx,) = lane.transactions()
    assert tx.decision.value == "referred" and "POLICY_WATCHLIST_HIT" in tx.reasons
    alarms = [e for e in lane.events if e.type == "alarm"]
    assert [a.alarm.value for a in alarms] == ["watchlist_hit"]
    assert "see_officer" in lane.seen
    page = repr(lane.daemon.screen.snapshot())
    assert "W-1" not in page and "WATCHLIST" not in page


def test_refused_credential_is_a_fault_but_the_lane_serves(make_lane: Callable[..., Lane]) -> None:
    lane = make_lane(
        central={"token": "stolen-and-revoked"}, daemon={"credential_retry_seconds": 0.5}
    )

    def refused() -> list[Any]:
        return [e for e in lane.events if getattr(e, "code", "") == "CENTRAL_CREDENTIAL_REFUSED"]

    async def play(lane: Lane) -> None:
        await lane.wait_for(lambda: bool(refused()))
        assert lane.daemon.lane.state.value == "idle"
        assert lane.daemon.health() == []  # travellers are still served; events wait
        lane.stub.token = "stolen-and-revoked"  # an operator fixes it
        await lane.wait_for(lambda: len(refused()) == 2, 40)

    asyncio.run(lane.run(play))
    assert [e.recovered for e in refused()] == [False, True]
    assert lane.stub.seqs() == list(range(len(lane.events)))


def test_sigterm_lets_the_traveller_out_flushes_and_stops(make_lane: Callable[..., Lane]) -> None:
    lane = make_lane()

    async def play(lane: Lane) -> None:
        mrz, chip, live = lane.passport(0)
        await asyncio.to_thread(lane.sim.camera.show, live)
        lane.sim.place_document([mrz[:44], mrz[44:]], chip)
        await lane.wait_for(lambda: "enter" in lane.seen)
        lane.sim.remove_document()
        await asyncio.to_thread(lane.sim.camera.show, None)  # no face yet: the check waits
        lane.sim.walk_in()
        await lane.wait_for(lambda: lane.daemon.lane.state.value == "face")
        lane.daemon.request_stop("SIGTERM")
        await lane.wait_for(lambda: "walk_back" in lane.seen)
        lane.sim.turn_back()
        await asyncio.wait_for(lane.daemon.stopped.wait(), 30)

    asyncio.run(lane.run(play))
    (tx,) = lane.transactions()
    assert tx.decision.value == "aborted" and "LANE_STOPPED" in tx.reasons
    assert "proceed" not in lane.seen
    # flushed before stopping: central has every event
    assert lane.stub.seqs() == list(range(len(lane.events)))


def test_full_outbox_takes_the_lane_out_of_service_until_central_drains_it(
    make_lane: Callable[..., Lane], tmp_path: Path
) -> None:
    from gate.events import LaneState, LaneStateEvent
    from gate.outbox.store import Outbox

    # central has been away for long: the outbox holds 95 of at most 100 events
    with Outbox(tmp_path / "o.db", "lane-1") as box:
        for _ in range(95):
            box.append(lambda f: LaneStateEvent(**f, state=LaneState.IDLE), datetime.now(UTC))
    lane = make_lane(outbox={"max_events": 100, "reserve_events": 10, "alarm_fraction": 0.8})
    lane.stub.faults.fail_next = 10**6

    async def play(lane: Lane) -> None:
        await lane.wait_for(lambda: lane.daemon.lane.state.value == "out_of_service")
        assert any("outbox" in r for r in lane.daemon.health())
        lane.stub.faults.fail_next = 0  # central is back and takes the backlog
        await lane.wait_for(lambda: lane.daemon.lane.state.value == "idle", 30)
        assert lane.daemon.health() == []

    asyncio.run(lane.run(play))
    codes = [(e.code, e.recovered) for e in lane.events if e.type == "device_fault"]
    assert ("LANE_OUTBOX_HIGH_WATER", False) in codes
    assert ("LANE_OUTBOX_FULL", False) in codes and ("LANE_OUTBOX_FULL", True) in codes
    assert lane.stub.seqs() == list(range(len(lane.stub.seqs())))
    assert len(lane.stub.events) == 95 + len(lane.events)


def test_against_the_real_central_service(make_lane: Callable[..., Lane], tmp_path: Path) -> None:
    """The same lane against central/ itself: registration token, ingest, heartbeats, signed
    lists, portraits of the referral."""
    import importlib

    from sqlalchemy import select

    from gate.config import CentralConfig

    central_app = pytest.importorskip(
        "central.app", reason="the central service (#13) is not on this branch"
    )
    central_db = importlib.import_module("central.db")
    central_lanes = importlib.import_module("central.lanes")

    config = CentralConfig.model_validate(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'central.sqlite'}"},
            "lists": {"signing_key_path": str(tmp_path / "lists.pem")},
        }
    )
    app = central_app.create_app(config, background=False)
    registration = central_lanes.LaneRegistration(lane_id="lane-1", port="TPE")
    token = central_lanes.register_lane(app.state.central, registration, "admin")
    lane = make_lane(central_app=app, central={"token": token})

    def drained() -> bool:
        stats = lane.daemon.outbox_stats
        return stats is not None and stats.depth == 0 and stats.portraits == 0

    async def play(lane: Lane) -> None:
        await passage(lane)
        await passage(lane, impostor=True, index=1)
        await lane.wait_for(drained, 30)

    asyncio.run(lane.run(play))
    assert [t.decision.value for t in lane.transactions()] == ["accepted", "referred"]
    with app.state.central.db.read() as conn:
        stored = conn.execute(select(central_db.events.c.seq)).all()
        portraits = conn.execute(select(central_db.portraits)).all()
    assert sorted(s[0] for s in stored) == list(range(len(lane.events)))
    assert len(portraits) == 2
    assert lane.daemon.lists.version("watchlist") is not None


def test_a_refused_input_makes_the_lane_safe_and_a_technician_reopens_it(
    make_lane: Callable[..., Lane],
) -> None:
    from gate.lane.inputs import Started

    lane = make_lane()

    async def play(lane: Lane) -> None:
        # a bug in the shell: an input the core does not accept in its state
        await lane.daemon.feed(Started(at=lane.daemon.now()))
        await lane.wait_for(lambda: lane.daemon.lane.state.value == "out_of_service")
        base = f"http://127.0.0.1:{lane.daemon.api_port}"
        async with httpx.AsyncClient(base_url=base) as api:
            assert (await api.post("/maintenance/in_service")).status_code == 401
            answer = await api.post(
                "/maintenance/in_service", headers={"Authorization": "Bearer maint"}
            )
            assert answer.json()["result"] == "done", answer.text
            metrics = (await api.get("/metrics")).text
        assert "egate_lane_protocol_errors_total 1.0" in metrics
        await lane.wait_for(lambda: lane.daemon.lane.state.value == "idle")

    asyncio.run(lane.run(play))
