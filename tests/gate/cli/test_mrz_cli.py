from __future__ import annotations

import argparse
import json

import pytest

from gate.cli import build_parser, main
from gate.cli.mrz_cmd import mrz_group, register

TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]
TD1 = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
]


def test_parse_json_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mrz", "parse", *TD3, "--json", "--today", "2026-11-21"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"format", "valid", "fields", "checks", "errors", "candidates"} <= set(out)
    assert out["format"] == "TD3" and out["valid"] is True and out["errors"] == []
    assert out["fields"]["date_of_expiry"] == "2012-04-15"
    assert out["checks"]["composite"]["ok"] is True
    assert out["candidates"][0]["lines"] == TD3 and out["candidates"][0]["score"] == 0


def test_parse_json_invalid_exit_1_with_repair(capsys: pytest.CaptureFixture[str]) -> None:
    bad = [TD1[0].replace("D231458907", "D23I458907"), *TD1[1:]]
    assert main(["mrz", "parse", *bad, "--json", "--today", "2026-11-21"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is False and out["format"] == "TD1"
    assert any(e["line"] == 1 and e["position"] == 15 for e in out["errors"])
    assert out["candidates"][0]["lines"] == TD1
    assert out["candidates"][0]["changes"] == [[1, 9, "I", "1"]]
    assert out["candidates"][0]["bac_key"]["document_number"] == "D23145890"


def test_parse_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mrz", "parse", *TD3, "--today", "2026-11-21", "--candidates", "0"]) == 0
    text = capsys.readouterr().out
    assert "format: TD3" in text and "ERIKSSON" in text and "composite" in text
    assert "candidates" not in text


def test_parse_garbage_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mrz", "parse", "hello", "world", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is False and out["errors"] and out["candidates"] == []


def test_mrz_group_is_shared_with_other_modules() -> None:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    # Another module (the OCR reader) may register before or after this one.
    read = mrz_group(subparsers).add_parser("read")
    read.set_defaults(func=lambda args: 7)
    register(subparsers)
    assert mrz_group(subparsers) is mrz_group(subparsers)
    args = parser.parse_args(["mrz", "read"])
    assert args.func(args) == 7
    args = parser.parse_args(["mrz", "parse", *TD3])
    assert args.func.__name__ == "_parse"


def test_egate_parser_has_mrz_parse() -> None:
    args = build_parser().parse_args(["mrz", "parse", *TD3, "--json"])
    assert args.json is True and args.lines == TD3
