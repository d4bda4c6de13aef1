"""Fixtures of the dashboard tests: a local central service with seeded lanes and accounts, and
Debian's chromium driven by Playwright (skipped when chromium is absent, failing under CI)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from central.dashboard.harness import (
    CHROMIUM_FLAGS,
    PASSWORD,
    LaneSpec,
    LocalCentral,
    chromium_path,
    local_central,
)

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
LANES = (
    LaneSpec("TPE-T1-01", "TPE", "1"),
    LaneSpec("TPE-T1-02", "TPE", "1"),
    LaneSpec("TPE-T1-03", "TPE", "1"),
    LaneSpec("TPE-T2-01", "TPE", "2"),
    LaneSpec("KHH-01", "KHH", "I"),
)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCentral]:
    with local_central(tmp_path_factory.mktemp("central"), LANES) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it
    is open, which would break other tests' ``asyncio.run`` in the same worker."""
    path = chromium_path()
    if path is None:
        message = "Debian chromium is not installed (scripts/debian-packages.txt)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, args=list(CHROMIUM_FLAGS))
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page_as(browser: Any, site: LocalCentral) -> Iterator[Callable[..., Any]]:
    """``page_as(role)``: a new browser page logged in through the login form."""
    contexts = []
    errors: list[str] = []

    def open_page(role: str, *, width: int = 1366, height: int = 768, lang: str = "en") -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale="en-GB" if lang == "en" else "zh-TW",
            base_url=site.base_url,
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{role}: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and errors.append(f"{role}: {msg.text}"))
        page.goto("/login")
        page.fill("#username", site.username(role))
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not [e for e in errors if "status of 403" not in e], errors
