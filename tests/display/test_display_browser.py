"""The traveller screen in real headless Chromium (Debian ``chromium`` driven by Playwright).

The page is served by the lane's real local API; a transaction's screens are pushed the way
the daemon pushes them, and the page must follow live (SSE), in the language the traveller
touches and in the one the document's nationality chooses. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gate.daemon.api import ApiServer, bind, build_app
from gate.daemon.metrics import LaneMetrics
from gate.display.screen import TravellerScreen

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LANGUAGES = ["zh-TW", "en", "ja", "ko", "vi", "id", "th", "tl"]

pytestmark = pytest.mark.slow


class ScreenLane:
    """Just enough of a lane for the API: the screen, metrics, health and status."""

    def __init__(self) -> None:
        self.metrics = LaneMetrics()
        self.screen = TravellerScreen(LANGUAGES)

    def health(self) -> list[str]:
        return []

    def status(self) -> dict[str, Any]:
        return {"screen": self.screen.screen}

    async def maintenance(self, action: str, args: dict[str, Any]) -> tuple[str, str]:
        return "refused", "no lane"


class Server:
    def __init__(self) -> None:
        self.lane = ScreenLane()
        sock = bind("127.0.0.1:0")
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"

        async def refresh() -> None:
            return None

        app = build_app(self.lane, "", refresh)
        self.server = ApiServer(
            uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self.server.serve(sockets=[sock]),)
        )
        self.thread.start()

    def call(self, fn: Any, *args: Any) -> None:
        """Run ``fn`` in the server's loop, as the daemon does."""
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def page() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (scripts/debian-packages.txt)")
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        yield context.new_page()
        browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"screen-{name}.png"))


CONTRAST = """(selector) => {
  const lum = (c) => {
    const [r, g, b] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const el = document.querySelector(selector);
  let bg = el, color = getComputedStyle(bg).backgroundColor;
  while (color === "rgba(0, 0, 0, 0)" && bg.parentElement) {
    bg = bg.parentElement; color = getComputedStyle(bg).backgroundColor;
  }
  const a = lum(getComputedStyle(el).color), b = lum(color);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_page_follows_a_transaction_in_two_languages(server: Server, page: Any) -> None:
    page.goto(server.url + "/screen")
    server.call(server.lane.screen.show, "welcome", {})
    page.wait_for_function("document.querySelector('main').dataset.screen === 'welcome'")
    assert page.get_attribute("html", "lang") == "zh-TW"
    assert page.inner_text("h1") == "歡迎"
    assert page.locator("#language-buttons button").count() == 8
    shot(page, "welcome-zh-TW")

    # the traveller touches English
    page.click("button[data-language='en']")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.inner_text("h1") == "Welcome"
    assert page.get_attribute("button[data-language='en']", "aria-pressed") == "true"

    server.call(server.lane.screen.show, "reading", {})
    page.wait_for_function("document.querySelector('main').dataset.screen === 'reading'")
    assert page.get_attribute("#progress", "aria-valuenow") == "1"
    server.call(server.lane.screen.show, "enter", {"countdown_seconds": 10})
    page.wait_for_function("document.querySelector('main').dataset.screen === 'enter'")
    assert page.inner_text("h1") == "Please enter"
    assert page.is_visible("#countdown")
    assert page.inner_text("#countdown-text") in {"10 seconds left", "9 seconds left"}
    assert page.get_attribute("#pictogram", "href") == "#pict-forward"
    shot(page, "enter-en")
    server.call(server.lane.screen.show, "proceed", {})
    page.wait_for_function("document.querySelector('main').dataset.screen === 'proceed'")
    assert not page.is_visible("#countdown")
    assert page.get_attribute("#progress", "aria-valuenow") == "4"

    # the next traveller: back to the default, then the document says Japan
    server.call(server.lane.screen.show, "welcome", {})
    page.wait_for_function("document.documentElement.lang === 'zh-TW'")
    server.call(server.lane.screen.show, "reading", {})
    server.call(server.lane.screen.document_nationality, "JPN")
    page.wait_for_function("document.documentElement.lang === 'ja'")
    assert page.inner_text("h1") == "パスポートを読み取っています"
    server.call(server.lane.screen.show, "see_officer", {"reasons": "POLICY_WATCHLIST_HIT"})
    page.wait_for_function("document.querySelector('main').dataset.screen === 'see_officer'")
    assert page.inner_text("h1") == "係員にお申し出ください"
    body = page.inner_text("body")
    assert "WATCHLIST" not in body and "POLICY" not in body
    shot(page, "see-officer-ja")

    # WCAG 2.1 AA: text contrast and touch targets
    for selector in ("h1", "#hint", "#choose", "#language-buttons button"):
        assert page.evaluate(CONTRAST, selector) >= 4.5, selector
    for box in page.locator("#language-buttons button").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect()).map(r => [r.width, r.height])"
    ):
        assert box[0] >= 44 and box[1] >= 44
    assert page.get_attribute("#message", "aria-live") == "polite"


def test_every_language_renders(server: Server, page: Any) -> None:
    page.goto(server.url + "/screen")
    server.call(server.lane.screen.show, "look_at_camera", {"countdown_seconds": 5})
    for language in LANGUAGES:
        server.call(server.lane.screen.choose_language, language)
        page.wait_for_function(f"document.documentElement.lang === '{language}'")
        title = page.inner_text("h1")
        assert title and title == server.lane.screen.text("look_at_camera.title", language)
        shot(page, f"look-at-camera-{language}")
