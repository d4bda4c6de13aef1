"""Traveller screen state: screens, language choice, countdown, no referral reasons."""

from __future__ import annotations

import asyncio

import pytest

from gate.display.catalogue import CatalogueError
from gate.display.screen import TravellerScreen

LANGS = ["zh-TW", "en", "ja", "ko", "vi", "id", "th", "tl"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_screen_texts_progress_and_countdown() -> None:
    clock = Clock()
    screen = TravellerScreen(["en", "ja"], clock=clock)
    screen.show("enter", {"countdown_seconds": 10})
    snap = screen.snapshot()
    assert (snap["title"], snap["pictogram"], snap["tone"]) == ("Please enter", "forward", "go")
    assert snap["progress"]["step"] == 2 and snap["progress"]["label"] == "Step 2 of 4"
    assert snap["countdown"] == {"seconds": 10, "total": 10, "label": "{seconds} seconds left"}
    clock.now += 4
    assert screen.snapshot()["countdown"] == {
        "seconds": 6,
        "total": 10,
        "label": "{seconds} seconds left",
    }
    screen.show("proceed")
    assert screen.snapshot()["countdown"] is None


def test_referral_never_shows_a_reason() -> None:
    screen = TravellerScreen(LANGS)
    screen.show("see_officer", {"reason": "POLICY_WATCHLIST_HIT", "countdown_seconds": 0})
    text = repr(screen.snapshot())
    assert "WATCHLIST" not in text and "reason" not in text
    assert screen.snapshot()["title"] == "請洽查驗人員"  # default language: the first


def test_language_by_document_touch_and_reset() -> None:
    screen = TravellerScreen(["en", "ja", "ko"])
    screen.show("welcome")
    screen.show("reading")
    screen.document_nationality("JPN")
    assert (screen.language, screen.snapshot()["title"]) == ("ja", "パスポートを読み取っています")
    screen.choose_language("ko")
    screen.document_nationality("JPN")  # a touch wins over the document
    assert screen.language == "ko"
    screen.show("welcome")  # the next traveller starts in the default language
    assert screen.language == "en"
    screen.document_nationality("D<<")  # no language for it: stays
    assert screen.language == "en"
    with pytest.raises(CatalogueError, match="not offered"):
        screen.choose_language("th")
    with pytest.raises(CatalogueError, match="unknown traveller screen"):
        screen.show("celebrate")


def test_subscribers_get_every_change_and_slow_ones_keep_the_newest() -> None:
    async def scenario() -> None:
        screen = TravellerScreen(["en"])
        queue = screen.subscribe()
        assert (await queue.get())["screen"] == "out_of_service"
        for name in ["welcome", "reading", "enter", "look_at_camera", "proceed"] * 3:
            screen.show(name)
        got = [queue.get_nowait()["version"] for _ in range(queue.qsize())]
        assert len(got) == 8 and got[-1] == screen.version
        screen.unsubscribe(queue)
        assert screen.subscribers == 0

    asyncio.run(scenario())
