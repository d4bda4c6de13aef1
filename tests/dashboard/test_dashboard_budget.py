"""The lanes page with 48 lanes transfers under 500 KB (everything the browser fetches)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.dashboard.harness import (
    PASSWORD,
    LaneSpec,
    LocalCentral,
    local_central,
    page_transfer,
)

BUDGET_BYTES = 500 * 1024

pytestmark = pytest.mark.xdist_group("dashboard_browser")


@pytest.fixture(scope="module")
def forty_eight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCentral]:
    lanes = [
        LaneSpec(f"{port}-{n:02d}", port, str(1 + n % 2))
        for port, count in (("TPE", 32), ("KHH", 10), ("TSA", 6))
        for n in range(count)
    ]
    with local_central(tmp_path_factory.mktemp("central48"), lanes) as running:
        yield running


def test_the_lanes_page_with_48_lanes_transfers_under_500_kb(
    browser: Any,
    forty_eight: LocalCentral,
    artifacts: Path,
) -> None:
    context = browser.new_context(
        viewport={"width": 3840, "height": 2160}, base_url=forty_eight.base_url
    )
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("#username", "officer1")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        transfer = page_transfer(page, "/", lambda p: p.wait_for_selector("#lane-TSA-05"))
        assert page.locator(".tile").count() == 48
        assert transfer["requests"] >= 4  # page, style, scripts, API: all of them counted
        print({k: v for k, v in transfer.items() if k != "by_url"})
        assert 0 < transfer["bytes"] < BUDGET_BYTES, transfer
        page.screenshot(path=str(artifacts / "lanes-48-3840x2160.png"))
    finally:
        context.close()
