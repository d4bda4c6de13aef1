"""Daemon support pieces: cached lists, sd_notify, configuration sections."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from gate.config import ConfigError, LaneConfig, load_lane
from gate.daemon.lists import ListCache, ListError
from gate.daemon.systemd import Notifier


def test_lists_full_then_delta_survive_restart_and_age(tmp_path: Path) -> None:
    now = [1000.0]
    cache = ListCache(tmp_path, clock=lambda: now[0])
    assert cache.oldest_age() is None
    entries = [{"id": "a", "names": ["X"]}, {"id": "b", "names": ["Y"]}]
    assert cache.apply(
        "watchlist", {"version": 3, "full": True, "salt": "ab" * 16, "entries": entries}
    )
    now[0] += 50
    changed = cache.apply(
        "watchlist",
        {"version": 4, "full": False, "added": [{"id": "c"}], "removed": [{"id": "a"}]},
    )
    assert changed
    assert [e["id"] for e in cache.lists["watchlist"].entries] == ["b", "c"]
    assert not cache.apply("watchlist", {"version": 4, "full": False, "added": [], "removed": []})
    now[0] += 30
    assert cache.age("watchlist") == 30
    again = ListCache(tmp_path, clock=lambda: now[0])
    again.load()
    assert again.version("watchlist") == 4 and again.lists["watchlist"].salt == "ab" * 16
    assert again.oldest_age() == 30  # the age counts from central's last confirmation
    assert json.loads((tmp_path / "watchlist.json").read_text())["version"] == 4


def test_bad_list_answers_and_files(tmp_path: Path) -> None:
    cache = ListCache(tmp_path)
    with pytest.raises(ListError, match="integer version"):
        cache.apply("registry", {"entries": []})
    with pytest.raises(ListError, match="unknown list"):
        cache.apply("passengers", {"version": 1})
    (tmp_path / "registry.json").write_text("{broken")
    cache.load()  # logged, treated as absent
    assert cache.version("registry") is None


def test_sd_notify_sends_datagrams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "notify")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    try:
        notifier = Notifier(path)
        assert notifier.notify("READY=1", "STATUS=ok")
        assert server.recv(100) == b"READY=1\nSTATUS=ok"
        monkeypatch.setenv("WATCHDOG_USEC", "4000000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        assert notifier.watchdog_interval() == 2.0
        monkeypatch.setenv("WATCHDOG_PID", "1")
        assert notifier.watchdog_interval() is None
    finally:
        server.close()
    assert not Notifier("").notify("READY=1")
    assert not Notifier(str(tmp_path / "gone")).notify("READY=1")


def test_lane_configuration_sections(tmp_path: Path) -> None:
    config = LaneConfig()
    assert config.api.listen == "127.0.0.1:8701"
    assert config.lane.languages == ["zh-TW", "en", "ja", "ko", "vi", "id", "th", "tl"]
    bad = tmp_path / "lane.toml"
    bad.write_text("[outbox]\nmax_events = 1000\nreserve_events = 1000\n")
    with pytest.raises(ConfigError, match="reserve_events must be smaller"):
        load_lane(bad)
    bad.write_text('[lane]\nlanguages = ["en", "EN!"]\n')
    with pytest.raises(ConfigError, match="not a language tag"):
        load_lane(bad)
    bad.write_text('[api]\nlisten = "everywhere"\n')
    with pytest.raises(ConfigError, match=r"api\.listen"):
        load_lane(bad)


def test_example_configuration_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "lane.toml"
    config = load_lane(example, env={})
    assert config == LaneConfig()  # the example shows every default


def test_systemd_unit_notifies_restarts_and_is_hardened() -> None:
    import configparser

    path = Path(__file__).resolve().parents[2] / "config" / "egate-lane.service"
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(path, encoding="utf-8")
    service = unit["Service"]
    assert service["Type"] == "notify" and service["Restart"] == "always"
    assert int(service["WatchdogSec"]) > 0
    assert "egate lane --config" in service["ExecStart"]
    assert "OPENBLAS_NUM_THREADS=1" in path.read_text()
    daemon = LaneConfig().daemon
    assert int(service["TimeoutStopSec"]) > daemon.stop_seconds + daemon.flush_seconds
    for option, value in (
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("DevicePolicy", "closed"),
    ):
        assert service[option] == value, option
