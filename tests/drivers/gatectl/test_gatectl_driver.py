"""The asyncio serial driver against the simulated controller over a real pseudo-terminal
(and TCP): every command, every event, every fault. Physics runs 8x faster than real time."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import pytest

from drivers.gatectl import protocol as p
from drivers.gatectl.driver import (
    CommandRejected,
    ControllerDisconnected,
    DriverEvent,
    LinkDown,
    LinkUp,
    RebootDetected,
    Resynced,
    SerialGateController,
)
from simulator.gatectl.device import DeviceConfig
from simulator.gatectl.server import GateSimulator

SCALE = 8.0


def run_async(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 30))

    return wrapper


@asynccontextmanager
async def rig(
    tmp_path: Path, transport: Literal["pty", "tcp"] = "pty", **device: Any
) -> AsyncIterator[tuple[GateSimulator, SerialGateController]]:
    config = DeviceConfig(time_scale=SCALE, passage_timeout_ms=2000, **device)
    sim = GateSimulator(config, transport=transport, link=tmp_path / "gate-tty", seed=7)
    sim.start()
    ctl = SerialGateController(
        sim.url,
        heartbeat_interval=0.1,
        heartbeat_timeout=0.5,
        response_timeout=0.04,
        retries=4,
        event_retry=0.04,
        reconnect_interval=0.05,
        passage_timeout=2.0,
    )
    try:
        await ctl.start(timeout=3)
        yield sim, ctl
    finally:
        await ctl.close()
        sim.stop()


async def until(
    ctl: SerialGateController, predicate: Callable[[DriverEvent], bool], timeout: float = 5
) -> list[DriverEvent]:
    """Every event up to and including the first that satisfies ``predicate``."""
    seen: list[DriverEvent] = []
    async with asyncio.timeout(timeout):
        while True:
            event = await ctl.next_event(timeout)
            seen.append(event)
            if predicate(event):
                return seen


def door_is(door: p.Door, state: p.DoorState) -> Callable[[DriverEvent], bool]:
    return lambda e: isinstance(e, p.DoorChanged) and e.door == door and e.state == state


def of(kind: type) -> Callable[[DriverEvent], bool]:
    return lambda e: isinstance(e, kind)


# --------------------------------------------------------------------------- commands


@run_async
async def test_connect_resyncs_and_reports_status(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        seen = await until(ctl, of(Resynced))
        assert isinstance(seen[0], LinkUp)
        status = await ctl.status()
        assert status.mode == p.Mode.NORMAL and status.boot_id == sim.device.boot_id
        heartbeat = await ctl.command(p.Heartbeat())
        assert heartbeat is not None and heartbeat.uptime_ms >= status.uptime_ms
        assert status.entry_door == status.exit_door == p.DoorState.LOCKED
        assert status.beam_count == 5
        # the driver's configuration reached the controller
        assert sim.device.heartbeat_timeout == pytest.approx(0.5)


@run_async
async def test_door_commands_move_both_doors(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        for door in p.Door:
            await ctl.open_door(door)
            seen = await until(ctl, door_is(door, p.DoorState.OPEN))
            assert any(door_is(door, p.DoorState.OPENING)(e) for e in seen)
            await ctl.close_door(door)
            await until(ctl, door_is(door, p.DoorState.CLOSED))
            assert not sim.device._door(door).locked
            await ctl.lock_door(door)
            await until(ctl, door_is(door, p.DoorState.LOCKED))
            await ctl.door(door, p.DoorAction.UNLOCK)
            await until(ctl, door_is(door, p.DoorState.CLOSED))
            assert (await ctl.status()).entry_door in (p.DoorState.CLOSED, p.DoorState.LOCKED)


@run_async
async def test_indicators_and_modes(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await ctl.set_indicators(
            p.Pictogram.GREEN_ARROW, p.Pictogram.RED_CROSS, p.Buzzer.SHORT, 0.5
        )
        assert sim.device.indicators == p.SetIndicators(
            p.Pictogram.GREEN_ARROW, p.Pictogram.RED_CROSS, p.Buzzer.SHORT, 5
        )
        await ctl.set_mode(p.Mode.OUT_OF_SERVICE)
        await until(ctl, lambda e: isinstance(e, p.ModeChanged) and e.mode == p.Mode.OUT_OF_SERVICE)
        with pytest.raises(CommandRejected, match="NOT_ALLOWED"):
            await ctl.release_passage(p.Door.ENTRY)
        await ctl.set_mode(p.Mode.EMERGENCY_OPEN)
        await until(ctl, door_is(p.Door.EXIT, p.DoorState.OPEN))
        with pytest.raises(CommandRejected, match="NOT_ALLOWED"):
            await ctl.close_door(p.Door.EXIT)
        await ctl.set_mode(p.Mode.NORMAL)
        await until(ctl, door_is(p.Door.EXIT, p.DoorState.LOCKED))


# --------------------------------------------------------------------------- passages


@run_async
async def test_full_passage_through_the_mantrap_interrupts_every_beam_in_order(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await ctl.release_passage(p.Door.ENTRY)
        sim.add_person(speed=1.3)
        seen = await until(ctl, of(p.PassageCompleted))
        done = seen[-1]
        assert isinstance(done, p.PassageCompleted) and done.persons == 1
        seen += await until(ctl, door_is(p.Door.ENTRY, p.DoorState.LOCKED))
        await ctl.release_passage(p.Door.EXIT)
        seen += await until(ctl, of(p.PassageCompleted))
        # the exit beam stands past the exit door: the traveller crosses it while leaving
        while not any(
            isinstance(e, p.BeamChanged) and e.beam == 4 and not e.interrupted for e in seen
        ):
            seen += await until(ctl, lambda e: isinstance(e, p.BeamChanged) and e.beam == 4)
        hits = [e.beam for e in seen if isinstance(e, p.BeamChanged) and e.interrupted]
        assert hits == [0, 1, 2, 3, 4]
        assert sum(isinstance(e, p.BeamChanged) and not e.interrupted for e in seen) == 5


@run_async
async def test_queue_of_travellers_one_passage_each(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        for k in range(3):  # queue 1.5 m apart, 1.2 m/s
            sim.add_person(speed=1.2, x=-1.4 - 1.5 * k)
        for _ in range(3):
            for door in (p.Door.ENTRY, p.Door.EXIT):
                await ctl.release_passage(door)
                seen = await until(ctl, of(p.PassageCompleted | p.PassageAborted))
                assert seen[-1] == p.PassageCompleted(
                    getattr(seen[-1], "time_ms", 0), door, p.Direction.IN, 1
                )
                await until(ctl, door_is(door, p.DoorState.LOCKED))
        assert (await ctl.status()).flags & p.StatusFlag.PASSAGE_ACTIVE == 0


@run_async
async def test_tailgater_is_counted(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await ctl.release_passage(p.Door.ENTRY)
        # both at once (the simulation must not move the first before the second is there);
        # the tailgater follows 0.45 m behind, centre to centre
        sim.locked(
            lambda dev, _now: (
                dev.add_person(speed=1.0, x=-1.4),
                dev.add_person(speed=1.0, x=-1.4 - 0.45, gap=0.35),
            )
        )
        seen = await until(ctl, of(p.PassageCompleted))
        assert isinstance(seen[-1], p.PassageCompleted) and seen[-1].persons == 2


@run_async
async def test_person_turning_back_aborts_the_passage(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await ctl.release_passage(p.Door.ENTRY)
        sim.add_person(speed=1.2, turn_back_at=-0.05)
        seen = await until(ctl, of(p.PassageAborted))
        last = seen[-1]
        assert isinstance(last, p.PassageAborted)
        assert (last.door, last.reason) == (p.Door.ENTRY, p.AbortReason.TURNED_BACK)
        assert not any(isinstance(e, p.PassageCompleted) for e in seen)


@run_async
async def test_person_going_back_out_of_the_mantrap(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await ctl.release_passage(p.Door.ENTRY)
        sim.add_person(speed=1.1, turn_back_at=1.0)  # walks in, changes their mind
        seen = await until(ctl, of(p.PassageCompleted))
        seen += await until(ctl, lambda e: isinstance(e, p.BeamChanged) and e.beam == 2)
        await ctl.release_passage(p.Door.ENTRY, p.Direction.OUT)
        seen += await until(ctl, of(p.PassageCompleted))
        done = seen[-1]
        assert isinstance(done, p.PassageCompleted)
        assert (done.door, done.direction, done.persons) == (p.Door.ENTRY, p.Direction.OUT, 1)
        seen += await until(ctl, lambda e: e == p.BeamChanged(getattr(e, "time_ms", 0), 0, False))
        hits = [e.beam for e in seen if isinstance(e, p.BeamChanged) and e.interrupted]
        assert hits[:2] == [0, 1] and hits[-2:] == [1, 0]


@run_async
async def test_passage_timeout_and_cancel(tmp_path: Path) -> None:
    async with rig(tmp_path) as (_sim, ctl):
        await ctl.release_passage(p.Door.EXIT, timeout=0.2)
        seen = await until(ctl, of(p.PassageAborted))
        assert getattr(seen[-1], "reason", None) == p.AbortReason.TIMEOUT
        await ctl.release_passage(p.Door.ENTRY)
        with pytest.raises(CommandRejected, match="BUSY"):
            await ctl.release_passage(p.Door.EXIT)
        await ctl.cancel_passage()
        seen = await until(ctl, of(p.PassageAborted))
        assert getattr(seen[-1], "reason", None) == p.AbortReason.CANCELLED


# --------------------------------------------------------------------------- events


@run_async
async def test_alarm_inputs_forced_door_tamper_fault(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await until(ctl, of(Resynced))
        sim.force_door(p.Door.EXIT)
        await until(ctl, lambda e: e == p.ForcedDoor(getattr(e, "time_ms", 0), p.Door.EXIT))
        sim.tamper(True)
        await until(ctl, lambda e: isinstance(e, p.Tamper) and e.active)
        sim.locked(lambda dev, now: dev.set_fault(p.FaultCode.DOOR_MOTOR, True, now))
        await until(ctl, lambda e: isinstance(e, p.Fault) and e.code == p.FaultCode.DOOR_MOTOR)
        status = await ctl.status()
        assert status.flags & p.StatusFlag.TAMPER and status.flags & p.StatusFlag.FAULT


@run_async
async def test_fire_alarm_opens_doors_and_blocks_normal_mode(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        sim.fire_alarm(True)
        await until(ctl, lambda e: isinstance(e, p.Emergency) and e.active)
        await until(
            ctl,
            lambda e: (
                isinstance(e, p.ModeChanged)
                and (e.mode, e.reason) == (p.Mode.EMERGENCY_OPEN, p.ModeReason.FIRE_ALARM)
            ),
        )
        await until(ctl, door_is(p.Door.ENTRY, p.DoorState.OPEN))
        with pytest.raises(CommandRejected, match="NOT_ALLOWED"):
            await ctl.set_mode(p.Mode.NORMAL)
        sim.fire_alarm(False)
        await until(ctl, lambda e: isinstance(e, p.Emergency) and not e.active)
        assert (await ctl.status()).mode == p.Mode.EMERGENCY_OPEN  # re-armed by the host only
        await ctl.set_mode(p.Mode.NORMAL)
        assert (await ctl.status()).mode == p.Mode.NORMAL


# --------------------------------------------------------------------------- faults


@run_async
async def test_noise_bursts_in_both_directions_lose_nothing(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        for i in range(20):
            sim.inject_noise(48, "to_host" if i % 2 else "from_host")
            status = await ctl.status()
            assert status.mode == p.Mode.NORMAL
        sim.inject_noise(64)
        sim.tamper(True)
        await until(ctl, lambda e: isinstance(e, p.Tamper) and e.active)
        assert ctl.session.decoder.stats.discarded_bytes > 0


def _ack_without_status(frame: bytes) -> bool:
    """An ACK frame without a status record: the ACK of a command other than HEARTBEAT and
    GET_STATUS (frame: SOF, version, seq, type, payload length...)."""
    return len(frame) > 4 and frame[3] == p.MsgType.ACK and frame[4] == 0


@run_async
async def test_dropped_ack_retransmission_opens_the_door_once(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await until(ctl, of(Resynced))
        before = len(sim.device.executed)
        # lose the ACK of the door command, never that of a heartbeat sent just before it
        sim.drop_next(1, "to_host", match=_ack_without_status)
        await ctl.open_door(p.Door.EXIT)
        opens = [c for c in sim.device.executed[before:] if isinstance(c, p.DoorCommand)]
        assert opens == [p.DoorCommand(p.Door.EXIT, p.DoorAction.OPEN)]
        assert sim.device.stats.duplicates_replayed >= 1


@run_async
async def test_dropped_command_is_retransmitted(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await until(ctl, of(Resynced))
        retrans = ctl.session.stats.retransmissions
        sim.drop_next(2, "from_host")  # the command (or a heartbeat just before it) is lost
        await ctl.open_door(p.Door.ENTRY)
        assert ctl.session.stats.retransmissions > retrans
        assert sim.device.stats.dropped_inbound == 2
        await until(ctl, door_is(p.Door.ENTRY, p.DoorState.OPEN))


@run_async
async def test_duplicated_frames_deliver_events_once(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await until(ctl, of(Resynced))
        sim.duplicate_next(50)
        sim.tamper(True)
        sim.tamper(False)
        sim.tamper(True)
        seen = await until(ctl, lambda e: isinstance(e, p.Tamper) and not e.active)
        seen += await until(ctl, lambda e: isinstance(e, p.Tamper) and e.active)
        assert [e.active for e in seen if isinstance(e, p.Tamper)] == [True, False, True]
        await ctl.status()  # duplicate ACKs are ignored
        assert ctl.session.stats.duplicate_events >= 2


@run_async
async def test_delayed_replies_still_complete(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await until(ctl, of(Resynced))
        sim.set_delay(0.07)  # longer than the 40 ms response timeout: retransmissions
        before = len(sim.device.executed)
        await ctl.open_door(p.Door.EXIT)
        opens = [c for c in sim.device.executed[before:] if isinstance(c, p.DoorCommand)]
        assert len(opens) == 1
        sim.set_delay(0.0)


@run_async
async def test_unplug_reports_link_down_then_reconnects_and_resyncs(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await until(ctl, of(Resynced))
        sim.unplug()
        await until(ctl, of(LinkDown))
        with pytest.raises(ControllerDisconnected, match="not connected"):
            await ctl.status()
        await asyncio.sleep(0.7)  # longer than the heartbeat timeout: controller goes safe
        assert sim.device.mode == p.Mode.SAFE
        sim.replug()
        await until(ctl, of(LinkUp))
        seen = await until(ctl, of(Resynced))
        assert getattr(seen[-1], "reason", None) == "connect", seen
        assert (await ctl.status()).mode == p.Mode.NORMAL
        assert ctl.connections == 2


@run_async
async def test_power_cycle_is_detected_and_state_restored(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await ctl.set_indicators(p.Pictogram.AMBER_WAIT, p.Pictogram.OFF)
        await until(ctl, of(Resynced))
        old = sim.device.boot_id
        sim.power_cycle()
        seen = await until(ctl, of(RebootDetected))
        assert getattr(seen[-1], "previous", None) == old
        seen += await until(ctl, of(Resynced))
        resets = [e for e in seen if isinstance(e, p.ControllerReset)]
        assert [(r.boot_id, r.reason, r.beam_count) for r in resets] == [
            (sim.device.boot_id, p.ResetReason.POWER_ON, 5)
        ]
        assert getattr(seen[-1], "reason", None) == "reboot"
        status = await ctl.status()
        assert status.boot_id == sim.device.boot_id != old and status.mode == p.Mode.NORMAL
        assert sim.device.indicators.entry == p.Pictogram.AMBER_WAIT
        assert sim.device.heartbeat_timeout == pytest.approx(0.5)


@run_async
async def test_heartbeat_loss_enters_safe_state_then_host_rearms(tmp_path: Path) -> None:
    async with rig(tmp_path, safe_state=p.SafeState.CLOSED) as (sim, ctl):
        await until(ctl, of(Resynced))
        await ctl.open_door(p.Door.EXIT)
        sim.drop_next(10_000, "from_host")  # the host's frames stop arriving
        await asyncio.sleep(0.8)
        assert sim.device.mode == p.Mode.SAFE
        assert sim.device.lane.exit.target == 0.0 and sim.device.lane.exit.lock_when_closed
        sim.locked(lambda dev, now: setattr(dev, "drop_inbound", 0))
        seen = await until(
            ctl,
            lambda e: isinstance(e, p.ModeChanged) and e.reason == p.ModeReason.HEARTBEAT_LOST,
        )
        assert getattr(seen[-1], "mode", None) == p.Mode.SAFE
        seen = await until(ctl, of(Resynced))
        assert getattr(seen[-1], "reason", None) == "safe-state"
        assert sim.device.mode == p.Mode.NORMAL


# --------------------------------------------------------------------------- transports, errors


@run_async
async def test_tcp_transport(tmp_path: Path) -> None:
    async with rig(tmp_path, transport="tcp") as (sim, ctl):
        assert ctl.port.startswith("socket://127.0.0.1:")
        assert (await ctl.status()).boot_id == sim.device.boot_id


@run_async
async def test_missing_port_gives_a_clear_error(tmp_path: Path) -> None:
    ctl = SerialGateController(str(tmp_path / "ttyUSB9"), reconnect_interval=0.05)
    with pytest.raises(ControllerDisconnected, match=r"ttyUSB9.*not ready.*cannot open"):
        await ctl.start(timeout=0.3)
    await ctl.close()


@run_async
async def test_silent_port_gives_a_clear_error() -> None:
    # loop:// echoes our own frames back: nothing ever acknowledges them
    ctl = SerialGateController("loop://", response_timeout=0.02, retries=1)
    with pytest.raises(ControllerDisconnected, match=r"not ready.*did not acknowledge"):
        await ctl.start(timeout=0.5)
    await ctl.close()


@run_async
async def test_factory_builds_each_kind_from_lane_config() -> None:
    from drivers.gatectl.driver import open_gate_controller
    from drivers.gatectl.modbus import ModbusGateController
    from gate.config import GateControllerConfig
    from simulator.devices import SimulatedGateController

    ctl = open_gate_controller(GateControllerConfig(kind="simulator", heartbeat_seconds=0.2))
    assert isinstance(ctl, SimulatedGateController)
    await ctl.start(timeout=3)
    try:
        status = await ctl.status()
        assert status.mode == p.Mode.NORMAL
        assert ctl.configuration.heartbeat_timeout_ms == 600
    finally:
        await ctl.close()
    serial_ctl = open_gate_controller(GateControllerConfig(kind="serial", port="/dev/ttyUSB0"))
    assert isinstance(serial_ctl, SerialGateController) and serial_ctl.port == "/dev/ttyUSB0"
    modbus = open_gate_controller(GateControllerConfig(kind="modbus", port="/dev/ttyUSB1"))
    assert isinstance(modbus, ModbusGateController)


@run_async
async def test_cancelled_door_command_queued_behind_another_is_never_sent(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await until(ctl, of(Resynced))
        before = len(sim.device.executed)
        sim.drop_next(3, "from_host")  # keeps the status request in flight for ~120 ms
        status = asyncio.ensure_future(ctl.status())
        await asyncio.sleep(0)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):  # the lane gives up on the door
                await ctl.open_door(p.Door.ENTRY)
        await status
        await asyncio.sleep(0.3)
        doors = [c for c in sim.device.executed[before:] if isinstance(c, p.DoorCommand)]
        assert doors == []
        assert (await ctl.status()).entry_door == p.DoorState.LOCKED


@run_async
async def test_refused_configuration_is_reported_not_lost(tmp_path: Path) -> None:
    config = DeviceConfig(time_scale=SCALE)
    sim = GateSimulator(config, link=tmp_path / "gate-tty", seed=7)
    sim.start()
    ctl = SerialGateController(sim.url, passage_timeout=0.2)  # the controller wants >= 500 ms
    try:
        with pytest.raises(ControllerDisconnected, match=r"refused.*Configure.*BAD_PARAMETER"):
            await ctl.start(timeout=0.5)
        task = ctl._resync_task
        assert task is not None and task.done() and task.exception() is None
    finally:
        await ctl.close()
        sim.stop()


@run_async
async def test_out_of_range_times_are_refused_before_sending(tmp_path: Path) -> None:
    async with rig(tmp_path) as (sim, ctl):
        await until(ctl, of(Resynced))
        before = len(sim.device.executed)
        for bad in (float("nan"), -1.0, 100.0):
            with pytest.raises(p.ProtocolError, match="passage timeout"):
                await ctl.release_passage(p.Door.ENTRY, timeout=bad)
        with pytest.raises(p.ProtocolError, match="buzzer"):
            await ctl.set_indicators(buzzer=p.Buzzer.SHORT, buzzer_seconds=float("nan"))
        assert not [c for c in sim.device.executed[before:] if not isinstance(c, p.Heartbeat)]
        assert (await ctl.status()).mode == p.Mode.NORMAL
