"""Configuration that would switch protections off silently (issue 17, item 4)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gate import config
from gate.cli import main


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> config.LaneConfig:
    f = tmp_path / "lane.toml"
    f.write_text(text)
    return config.load_lane(f, env=env or {})


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[central]\nurl = "not a url"\n', "central.url"),
        ('[central]\nurl = "ftp://host/x"\n', "central.url"),
        ('[central]\nurl = "http://user:pw@host"\n', "central.url"),
        ('[policy]\naccepted_document_types = ["ZZ"]\n', "accepted_document_types"),
        ('[policy]\naccepted_document_types = [""]\n', "accepted_document_types"),
        ("[policy]\naccepted_document_types = []\n", "accepted_document_types"),
        ("[gatectl]\nretries = true\n", "gatectl.retries"),
        ('[camera]\nfps = "15"\n', "camera.fps"),
        ("[face]\nflip = 1\n", "face.flip"),
        ("[policy]\nrequire_liveness = 0\n", "policy.require_liveness"),
    ],
)
def test_malformed_values_are_refused(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(config.ConfigError, match=field.replace(".", r"\.")):
        _load(tmp_path, text)


def test_valid_document_codes_pass(tmp_path: Path) -> None:
    cfg = _load(tmp_path, '[policy]\naccepted_document_types = ["P", "P*", "ID", "AC", "V"]\n')
    assert cfg.policy.accepted_document_types == ["P", "P*", "ID", "AC", "V"]


@pytest.mark.parametrize("threshold", [-1.0, 0.0, 0.5])
def test_face_threshold_under_the_fmr_1_percent_point_needs_allow_insecure(
    tmp_path: Path, threshold: float
) -> None:
    with pytest.raises(config.ConfigError, match="allow_insecure"):
        _load(tmp_path, f"[face]\nthreshold = {threshold}\n")
    cfg = _load(tmp_path, f"[lane]\nallow_insecure = true\n[face]\nthreshold = {threshold}\n")
    assert any("[face] threshold" in w for w in config.insecure_settings(cfg))


def test_default_threshold_is_above_the_floor_and_the_floor_is_the_benchmarked_one() -> None:
    face = config.FaceConfig()
    assert face.threshold >= config.face_threshold_floor(face)
    assert config.face_threshold_floor(face) == config.FACE_FMR1_THRESHOLDS["dlib_resnet+sface"]


@pytest.mark.parametrize(
    "section",
    [
        "[policy]\nrequire_chip_authentication = false\n",
        '[policy]\ncrl_stale = "accept"\n',
        "[policy]\nrequire_liveness = false\n",
        "[policy]\nrefuse_specimen = false\n",
        '[central]\nurl = "http://central.example"\n',
        "[trust]\nrequire_crl = false\n",
    ],
)
def test_production_mode_refuses_protections_off(tmp_path: Path, section: str) -> None:
    secure = (
        '[lane]\nmode = "production"\n[central]\nurl = "https://central.example"\n'
        "[trust]\nrequire_crl = true\n[policy]\nrequire_chip_authentication = true\n"
    )
    assert config.insecure_settings(_load(tmp_path, secure)) == []
    sections = {}
    for chunk in (secure + section).split("["):
        if chunk:
            head, _, body = chunk.partition("]\n")
            sections.setdefault(head, {}).update(
                dict(line.split(" = ", 1) for line in body.splitlines() if line)
            )
    text = "".join(
        f"[{head}]\n" + "".join(f"{k} = {v}\n" for k, v in body.items())
        for head, body in sections.items()
    )
    with pytest.raises(config.ConfigError, match="allow_insecure"):
        _load(tmp_path, text)
    allowed = _load(tmp_path, text.replace("[lane]\n", "[lane]\nallow_insecure = true\n"))
    assert len(config.insecure_settings(allowed)) == 1


def test_test_mode_keeps_the_lab_defaults(tmp_path: Path) -> None:
    assert config.insecure_settings(_load(tmp_path, "[policy]\nrefuse_specimen = false\n")) == []


def test_config_check_redacts_tokens_and_url_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "lane.toml"
    f.write_text(
        '[central]\ntoken = "s3cret-token"\n[api]\ntoken = "api-secret"\n'
        '[camera]\nsource = "rtsp://admin:hunter2@10.0.0.5/stream"\n'
    )
    assert main(["config", "check", str(f)]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "api-secret" not in out and "hunter2" not in out
    shown = json.loads(out)["config"]
    assert shown["central"]["token"] == config.REDACTED
    assert shown["camera"]["source"] == "rtsp://admin:***@10.0.0.5/stream"


def test_a_mistyped_token_is_not_echoed_in_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "lane.toml"
    f.write_text("[central]\ntoken = 98765432123\n")
    assert main(["config", "check", str(f)]) == 1
    err = capsys.readouterr().err
    assert "central.token" in err and "98765432123" not in err


def test_the_value_of_a_mistyped_option_is_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "lane.toml"
    f.write_text('[central]\ntokn = "SECRETVALUE99"\n')
    assert main(["config", "check", str(f)]) == 1
    err = capsys.readouterr().err
    assert "central.tokn" in err and "unknown option" in err and "SECRETVALUE99" not in err
    with pytest.raises(config.ConfigError) as caught:
        config.load_lane(None, env={"EGATE_LANE__CENTRAL__TOKN": "SECRETVALUE98"})
    assert "EGATE_LANE__CENTRAL__TOKN" in str(caught.value)
    assert "SECRETVALUE98" not in str(caught.value)


def test_a_whole_configuration_check_names_the_overrides(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.load_lane(None, env={"EGATE_LANE__FACE__THRESHOLD": "-1.0"})
    assert "EGATE_LANE__FACE__THRESHOLD" in str(caught.value)


def test_an_error_from_an_environment_override_names_the_variable(tmp_path: Path) -> None:
    f = tmp_path / "lane.toml"
    f.write_text("")
    with pytest.raises(config.ConfigError, match="EGATE_LANE__GATECTL__RETRIES"):
        config.load_lane(f, env={"EGATE_LANE__GATECTL__RETRIES": "many"})


def test_deeply_nested_toml_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "lane.toml"
    f.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(config.ConfigError, match="nested too deeply"):
        config.load_lane(f, env={})


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_config_from_a_fifo_is_refused_not_waited_for(tmp_path: Path) -> None:
    fifo = tmp_path / "lane.toml"
    os.mkfifo(fifo)
    with pytest.raises(config.ConfigError, match="FIFO"):
        config.load_lane(fifo, env={})


def test_switching_to_a_weaker_pipeline_keeps_the_floor_of_those_models(tmp_path: Path) -> None:
    # dlib's ResNet alone at the default 0.632 lets every impostor through (FMR 100 % on lfw_dev)
    with pytest.raises(config.ConfigError, match=r"below 0\.9087"):
        _load(tmp_path, '[[face.embedding]]\nmodel = "dlib_resnet"\nweight = 1.0\n')


def test_allowed_insecure_settings_are_logged_as_warnings_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = _load(tmp_path, "[lane]\nallow_insecure = true\n[face]\nthreshold = 0.3\n")
    with caplog.at_level("WARNING", logger="egate.config"):
        assert config.warn_insecure(cfg)
    assert "[face] threshold 0.3" in caplog.text
