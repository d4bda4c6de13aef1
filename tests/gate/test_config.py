from __future__ import annotations

from pathlib import Path

import pytest

from gate import config
from gate.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["lane.toml", "central.toml"])
def test_example_files_are_valid(name: str) -> None:
    assert main(["config", "check", str(REPO / "config" / name)]) == 0


def test_env_overrides_file(tmp_path: Path) -> None:
    f = tmp_path / "lane.toml"
    f.write_text('[camera]\nfps = 10\n[lane]\nid = "A1"\n')
    env = {"EGATE_LANE__CAMERA__FPS": "25", "EGATE_LANE__POLICY__ELIGIBLE_NATIONALITIES": '["DEU"]'}
    cfg = config.load_lane(f, env=env)
    assert cfg.camera.fps == 25
    assert cfg.lane.id == "A1"
    assert cfg.policy.eligible_nationalities == ["DEU"]


def test_env_override_of_a_text_field_with_digits_stays_text(tmp_path: Path) -> None:
    env = {
        "EGATE_LANE__LANE__ID": "12",
        "EGATE_LANE__LANE__NAME": "true",
        "EGATE_LANE__CENTRAL__TOKEN": "0123456789",
        "EGATE_LANE__CAMERA__FPS": "25",
    }
    cfg = config.load_lane(None, env=env)
    assert (cfg.lane.id, cfg.lane.name, cfg.central.token) == ("12", "true", "0123456789")
    assert cfg.camera.fps == 25  # numbers still reach numeric fields as numbers
    # a number written in the file for a text field is still refused
    f = tmp_path / "lane.toml"
    f.write_text("[lane]\nname = 3\n")
    with pytest.raises(config.ConfigError, match=r"lane\.name"):
        config.load_lane(f, env={})
    with pytest.raises(config.ConfigError, match="EGATE_LANE__CAMERA__FPS"):
        config.load_lane(None, env={**env, "EGATE_LANE__CAMERA__FPS": "fast"})


def test_invalid_value_names_field_value_and_reason(tmp_path: Path) -> None:
    f = tmp_path / "lane.toml"
    f.write_text("[camera]\nfps = -3\n")
    with pytest.raises(config.ConfigError) as err:
        config.load_lane(f, env={})
    text = str(err.value)
    assert "camera.fps" in text and "-3" in text and "greater than 0" in text


def test_unknown_option_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "lane.toml"
    f.write_text("[camera]\nfsp = 3\n")
    with pytest.raises(config.ConfigError, match=r"camera\.fsp.*unknown option"):
        config.load_lane(f, env={})


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "lane.toml"
    f.write_text("[camera\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load_lane(f, env={})
    with pytest.raises(config.ConfigError, match="file not found"):
        config.load_lane(tmp_path / "nope.toml", env={})


def test_env_override_into_scalar_is_an_error() -> None:
    with pytest.raises(config.ConfigError, match="not a section"):
        config.apply_env({"lane": "x"}, {"EGATE_LANE__LANE__ID": "y"}, "EGATE_LANE__")


def test_check_command_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "central.toml"
    f.write_text('[database]\nurl = "mysql://x"\n')
    assert main(["config", "check", str(f)]) == 1
    assert "database.url" in capsys.readouterr().err


def test_bad_nationality_code(tmp_path: Path) -> None:
    f = tmp_path / "lane.toml"
    f.write_text('[policy]\neligible_nationalities = ["germany"]\n')
    with pytest.raises(config.ConfigError, match="not an ICAO 9303 nationality code"):
        config.load_lane(f, env={})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("passage_timeout_seconds", 600.0),
        ("passage_timeout_seconds", 0.2),
        ("heartbeat_seconds", 60.0),
    ],
)
def test_gatectl_times_must_fit_the_controller_protocol(field: str, value: float) -> None:
    # CONFIGURE carries u16 milliseconds, passage >= 500 ms, heartbeat timeout = 3 periods
    from pydantic import ValidationError

    from gate.config import GateControllerConfig

    with pytest.raises(ValidationError, match=field):
        GateControllerConfig(**{field: value})


def test_confinement_backstop_must_outlast_every_step() -> None:
    from gate.config import PassageConfig

    with pytest.raises(ValueError, match="confinement_seconds"):
        PassageConfig(confinement_seconds=50.0, on_referral="hold_for_officer")
    assert PassageConfig(confinement_seconds=50.0).confinement_seconds == 50.0
