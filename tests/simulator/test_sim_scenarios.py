"""Scenario files: the built-in set, and strict validation naming the key and what is allowed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gate.cli import main
from simulator import scenarios

ISSUE_BUILTINS = {
    "genuine", "impostor", "expired", "forged-sod", "altered", "clone", "watchlist", "minor",
    "not-on-manifest", "tailgater", "document-removed", "walk-back", "controller-noise",
    "camera-loss", "central-down", "mix", "chip-quirks",
}  # fmt: skip


def test_every_builtin_of_the_issue_exists_loads_and_is_named_after_its_file() -> None:
    assert set(scenarios.builtin_names()) == ISSUE_BUILTINS
    for name in scenarios.builtin_names():
        scenario = scenarios.load(name)
        assert scenario.name == name
        assert scenario.description
        assert scenario.group_size >= 1


def test_mix_holds_every_document_face_and_behaviour_kind_and_faults() -> None:
    mix = scenarios.load("mix")
    groups = mix.travellers
    assert {g.document for g in groups} == set(scenarios.DocumentKind.__args__)
    assert {g.face for g in groups} == set(scenarios.FaceKind.__args__)
    assert {g.behaviour for g in groups} == set(scenarios.Behaviour.__args__)
    assert {g.expect for g in groups} == {"accepted", "rejected", "referred", "aborted"}
    assert any(g.watchlist for g in groups) and any(g.tailgater for g in groups)
    assert any(not g.on_manifest for g in groups) and any(g.age < 12 for g in groups)
    assert {f.device for f in mix.faults} >= {"camera", "gatectl", "central"}


def _error(data: dict[str, object]) -> str:
    with pytest.raises(scenarios.ScenarioError) as caught:
        scenarios.parse_scenario(data, "test.toml")
    return str(caught.value)


def test_unknown_key_is_refused_with_the_allowed_keys() -> None:
    message = _error({"name": "x", "travellers": [{"documnet": "genuine"}]})
    assert "travellers[0].documnet: unknown key" in message
    assert "allowed keys: count, document, face" in message
    top = _error({"name": "x", "travellers": [{}], "lanes": 3})
    assert "lanes: unknown key" in top and "flow" in top and "faults" in top


def test_unknown_value_is_refused_with_the_allowed_values() -> None:
    message = _error(
        {
            "name": "x",
            "flow": "three-step",
            "travellers": [{"document": "fake", "behaviour": "dances"}],
            "faults": [{"at_seconds": 1, "device": "printer", "kind": "noise"}],
        }
    )
    assert "flow = 'three-step': not allowed; allowed values: two-step, one-step" in message
    assert "travellers[0].document = 'fake'" in message and "forged-sod" in message
    assert "travellers[0].behaviour = 'dances'" in message and "walks-back" in message
    assert "faults[0].device = 'printer'" in message and "chip_reader" in message


def test_bad_numbers_reason_codes_and_missing_fields_are_refused() -> None:
    assert "travellers" in _error({"name": "x"})
    assert "count" in _error({"name": "x", "travellers": [{"count": 0}]})
    assert "NOPE" in _error({"name": "x", "travellers": [{"expect_reasons": ["NOPE"]}]})
    assert "nationality" in _error({"name": "x", "travellers": [{"nationality": "tw"}]})
    assert "at_seconds" in _error(
        {"name": "x", "travellers": [{}], "faults": [{"device": "camera", "kind": "noise"}]}
    )


def test_files_not_found_not_toml_and_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(scenarios.ScenarioError, match="built-in names: altered"):
        scenarios.load(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [", encoding="utf-8")
    with pytest.raises(scenarios.ScenarioError, match="not valid TOML"):
        scenarios.load(str(bad))
    with pytest.raises(scenarios.ScenarioError, match="no built-in scenario 'nope'"):
        scenarios.load("nope")


def test_hostile_scenario_and_token_files_are_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (2 * 1024 * 1024))
    expected = {fifo: "not a regular file", deep: "nested too deeply", big: "bytes is more than"}
    expected[Path("/dev/zero")] = "not a regular file"
    for path, reason in expected.items():
        with pytest.raises(scenarios.ScenarioError, match=reason):
            scenarios.load(str(path))
        assert main(["sim", "run", "--scenario", str(path), "--travellers", "1"]) == 2
        assert reason in capsys.readouterr().err
    deep_json = tmp_path / "tokens.json"
    deep_json.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    url = ["--central", "http://127.0.0.1:9"]
    for tokens, reason in [(fifo, "not a regular file"), (deep_json, "nested too deeply")]:
        args = ["sim", "run", "--scenario", "genuine", *url, "--central-tokens", str(tokens)]
        assert main(args) == 2
        assert reason in capsys.readouterr().err


def test_fault_lanes_and_windows() -> None:
    fault = scenarios.Fault(
        at_seconds=10, device="camera", kind="disconnect", duration_seconds=5, lanes=[1]
    )
    assert fault.hits(1) and not fault.hits(0)
    assert fault.window(14.0, 20.0, 1) and not fault.window(15.5, 20.0, 1)
    assert scenarios.Fault(at_seconds=0, device="central", kind="disconnect").hits(7)


def test_cli_lists_and_checks_scenarios(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["sim", "scenarios", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {item["name"] for item in listed} == ISSUE_BUILTINS
    assert main(["sim", "check", "mix"]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "b"\n[[travellers]]\nface = "cat"\n', encoding="utf-8")
    assert main(["sim", "check", str(bad)]) == 2
    assert "allowed values: holder, impostor" in capsys.readouterr().err


def test_chip_quirks_are_checked_and_reach_the_chip_image() -> None:
    message = _error({"name": "x", "travellers": [{"chip_quirks": ["no-such"]}]})
    assert "travellers[0].chip_quirks" in message and "no-ef-com" in message
    scenario = scenarios.load("chip-quirks")
    assert all(g.chip_quirks and g.expect == "accepted" for g in scenario.travellers)


def test_model_table_sets_the_physical_model_and_refuses_unknown_fields() -> None:
    scenario = scenarios.parse_scenario(
        {"name": "x", "travellers": [{}], "model": {"door_open_seconds": 1.5, "walking_speed": 1}}
    )
    assert scenario.model.door_open_seconds == 1.5 and scenario.model.walking_speed == 1.0
    assert scenario.model.place_document_seconds == 2.0  # the rest keeps its default
    assert scenarios.parse_scenario({"name": "x", "travellers": [{}]}).model.walking_speed == 1.2
    message = _error({"name": "x", "travellers": [{}], "model": {"door_speed": 2}})
    assert "model.door_speed: unknown key" in message and "door_open_seconds" in message
    assert "walking_speed" in _error(
        {"name": "x", "travellers": [{}], "model": {"walking_speed": 0}}
    )


def test_model_overrides_name_the_field_or_the_bad_value() -> None:
    from simulator.physical import ModelOverrideError, PhysicalModel, with_overrides

    base = PhysicalModel(door_open_seconds=1.5)
    model = with_overrides(base, ["walking_speed=0.6", " face_frames = 5 "])
    assert (model.walking_speed, model.face_frames, model.door_open_seconds) == (0.6, 5, 1.5)
    with pytest.raises(ModelOverrideError, match=r"no field 'door_speed'; fields: .*walking_speed"):
        with_overrides(base, ["door_speed=2"])
    with pytest.raises(ModelOverrideError, match="FIELD=VALUE"):
        with_overrides(base, ["walking_speed"])
    with pytest.raises(ModelOverrideError, match="walking_speed"):
        with_overrides(base, ["walking_speed=-1"])
