"""The traveller screen's catalogues: complete in every language, parseable, honest."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.display import catalogue
from gate.display.catalogue import CatalogueError, parse_po
from gate.display.screen import SCREENS, STEPS

REQUIRED = ["zh-TW", "en", "ja", "ko", "vi", "id", "th", "tl"]


def test_every_required_language_has_a_catalogue() -> None:
    assert set(REQUIRED) <= set(catalogue.available())


@pytest.mark.parametrize("language", catalogue.available())
def test_catalogue_is_complete(language: str) -> None:
    template = catalogue.template()
    mine = catalogue.load(catalogue.CATALOGUE_DIR / f"{language}.po")
    assert catalogue.problems(mine, template) == []
    assert mine.header.get("Language") == language


def test_template_covers_every_screen_and_step() -> None:
    contexts = set(catalogue.template().messages)
    wanted = {f"{s}.{p}" for s in SCREENS for p in ("title", "hint")} | set(STEPS)
    wanted |= {"language.name", "language.choose", "progress.label", "countdown.label"}
    assert wanted == contexts


def test_languages_have_their_own_names() -> None:
    names = {
        lang: catalogue.load(catalogue.CATALOGUE_DIR / f"{lang}.po").text("language.name")
        for lang in REQUIRED
    }
    assert names["zh-TW"] == "繁體中文" and names["ja"] == "日本語" and names["th"] == "ไทย"
    assert len(set(names.values())) == len(REQUIRED)


def test_problems_are_found(tmp_path: Path) -> None:
    template = parse_po(
        'msgctxt "a.title"\nmsgid "Wait {seconds}"\nmsgstr ""\n\n'
        'msgctxt "b"\nmsgid "B"\nmsgstr ""\n',
        tmp_path / "messages.pot",
    )
    broken = parse_po(
        '#, fuzzy\nmsgctxt "a.title"\nmsgid "Wait {seconds}"\nmsgstr "Warte"\n\n'
        'msgctxt "c"\nmsgid "C"\nmsgstr "Z"\n',
        tmp_path / "de.po",
    )
    found = "\n".join(catalogue.problems(broken, template))
    assert "'a.title' is marked fuzzy" in found
    assert "placeholders ['{seconds}']" in found
    assert "missing message 'b'" in found
    assert "'c' is not in the template" in found
    assert broken.text("a.title") is None  # fuzzy translations are not shown


def test_parser_reads_continuations_and_escapes(tmp_path: Path) -> None:
    cat = parse_po(
        '# comment\nmsgctxt "x"\nmsgid ""\n"Two "\n"lines"\nmsgstr "A \\"quote\\"\\n"\n"next"\n',
        tmp_path / "xx.po",
    )
    message = cat.messages["x"]
    assert message.source == "Two lines"
    assert message.translation == 'A "quote"\nnext'


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('msgid "a"\n', "msgid without msgstr"),
        ('msgid "a\nmsgstr "b"\n', "expected a quoted string"),
        ('msgid "a"\nmsgstr "\\q"\n', "unknown escape"),
        ('msgid_plural "a"\n', "unknown keyword"),
        ('"dangling"\n', "continuation outside"),
        ('msgctxt "x"\nmsgid "a"\nmsgstr "b"\n\nmsgctxt "x"\nmsgid "a"\nmsgstr "b"\n', "twice"),
    ],
)
def test_parser_names_the_line_of_a_problem(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(CatalogueError, match=error):
        parse_po(text, tmp_path / "xx.po")


def test_missing_language_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no traveller-screen catalogue for language 'de'"):
        catalogue.load_all(["en", "de"])
