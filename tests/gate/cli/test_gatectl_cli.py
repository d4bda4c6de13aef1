"""``egate gatectl send`` against the simulator on a pty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.gatectl import protocol as p
from gate.cli import main
from gate.cli.gatectl_cmd import ACTIONS
from simulator.gatectl.server import GateSimulator


def test_every_door_action_has_a_cli_name() -> None:
    for door in ("entry", "exit"):
        for action in ("open", "close", "lock", "unlock", "release"):
            assert f"{action}-{door}" in ACTIONS


def test_send_status_and_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with GateSimulator(link=tmp_path / "tty") as sim:
        port = str(tmp_path / "tty")
        assert main(["gatectl", "send", "--port", port, "status"]) == 0
        status = json.loads(capsys.readouterr().out)["status"]
        assert status["mode"] == "SAFE" and status["boot_id"] == sim.device.boot_id
        # refused in SAFE: exit code 1 and the reason
        assert main(["gatectl", "send", "--port", port, "open-exit"]) == 1
        assert "NOT_ALLOWED" in json.loads(capsys.readouterr().out)["error"]
        assert main(["gatectl", "send", "--port", port, "mode-normal"]) == 0
        assert main(["gatectl", "send", "--port", port, "open-exit"]) == 0
        capsys.readouterr()
        assert p.DoorCommand(p.Door.EXIT, p.DoorAction.OPEN) in sim.device.executed


def test_send_to_a_missing_port_fails_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = str(tmp_path / "ttyUSB7")
    assert main(["gatectl", "send", "--port", port, "--timeout", "0.3", "status"]) == 2
    assert "ttyUSB7" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [15, 1])  # SIGTERM, SIGHUP (a service stop, a closed terminal)
def test_gatectl_sim_removes_its_link_when_stopped_by_a_signal(tmp_path: Path, signum: int) -> None:
    import os
    import subprocess
    import sys

    link = tmp_path / "gate-tty"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gate.cli", "gatectl", "sim", "--pty", "--link", str(link)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["port"] == str(link) and link.is_symlink()
        proc.send_signal(signum)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not link.is_symlink() and not link.exists()


def test_send_over_an_authenticated_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulator.gatectl.device import DeviceConfig

    key = bytes(range(32))
    key_file = tmp_path / "gate.key"
    key_file.write_text(key.hex() + "\n")
    with GateSimulator(DeviceConfig(auth_key=key), link=tmp_path / "tty") as sim:
        port = str(tmp_path / "tty")
        args = ["gatectl", "send", "--port", port, "--timeout", "2"]
        assert main([*args, "--auth-key-file", str(key_file), "status"]) == 0
        status = json.loads(capsys.readouterr().out)["status"]
        assert status["boot_id"] == sim.device.boot_id
        # without the key nothing is executed: the controller never answers
        assert main([*args, "mode-normal"]) != 0
        assert sim.device.mode == p.Mode.SAFE and sim.device.stats.auth_failures > 0
    capsys.readouterr()


def test_a_malformed_gate_key_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "gate.key"
    key_file.write_text("not hex")
    args = ["gatectl", "send", "--port", "loop://", "--auth-key-file", str(key_file), "status"]
    assert main(args) == 2
    assert "64 hex digits" in capsys.readouterr().err
