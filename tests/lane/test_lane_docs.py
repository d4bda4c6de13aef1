"""docs/lane.md holds the current state diagram and states x inputs table."""

from __future__ import annotations

from pathlib import Path

from gate.lane.describe import BEGIN, END, markdown
from gate.lane.inputs import INPUT_TYPES
from gate.lane.states import PassageState

DOC = Path(__file__).resolve().parents[2] / "docs" / "lane.md"


def test_docs_lane_md_is_generated_from_the_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == markdown(), (
        "docs/lane.md is out of date: replace its generated part with the output of "
        "`egate lane states`"
    )


def test_the_table_names_every_state_and_input() -> None:
    generated = markdown()
    for state in PassageState:
        assert f"`{state.value}`" in generated
    for kind in INPUT_TYPES:
        assert f"`{kind.__name__}`" in generated
