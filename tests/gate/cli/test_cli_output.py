"""Control characters from input never reach the terminal raw (issue 17, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.cli import main
from gate.cli.output import escape


def test_escape_makes_control_and_bidi_characters_visible() -> None:
    assert escape("A\x1b[2JB\u202eC\x9bD\x00\r") == "A\\x1b[2JB\\u202eC\\x9bD\\x00\\x0d"
    assert escape("line one\n\tline two") == "line one\n\tline two"
    assert escape("\rprogress 5/10") == "\rprogress 5/10"


def test_mrz_text_with_an_escape_sequence_is_printed_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hostile = "P<UTOERIKSSON<<ANNA\x1b]0;owned\x07<MARIA<<<<<<<<<<<<<<<<"
    main(["mrz", "parse", hostile, "L898902C36UTO7408122F1204159ZE184226B<<<<<10"])
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "\x07" not in out + err


def test_error_naming_a_hostile_file_name_is_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = tmp_path / "pass\x1b[31mport.png"
    code = main(["mrz", "read", str(name)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "\x1b" not in err and "\\x1b[31m" in err
