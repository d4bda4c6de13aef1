"""Officer dashboard: lanes-page load time, bytes transferred and live-update delay (JSON).

Starts a local central service with N lanes (default 48) heartbeating, opens the lanes page
in Debian's headless chromium (Playwright via executable_path) and measures:

- ``load``: time from navigation to every tile shown, over --loads page loads (cache off);
- ``transfer_bytes``: everything the page fetched (DevTools protocol, as on the wire);
- ``live_update``: delay from posting a lane event to the ingest API until the tile shows the
  new state in the browser (MutationObserver timestamp, same machine clock), over --updates.

    .venv/bin/python bench/dashboard.py [--lanes 48] [--loads 5] [--updates 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO  # noqa: F401  (puts the repository on sys.path)

from central.dashboard.harness import (
    CHROMIUM_FLAGS,
    PASSWORD,
    LaneSpec,
    chromium_path,
    local_central,
    page_transfer,
)

WATCH = """(laneId) => { window.__watch = new Promise((resolve) => {
  const root = document.getElementById('lanes');
  const before = document.getElementById('lane-' + laneId).dataset.state;
  const obs = new MutationObserver(() => {
    const tile = document.getElementById('lane-' + laneId);
    if (tile && tile.dataset.state !== before) { obs.disconnect(); resolve(Date.now()); }
  });
  obs.observe(root, { subtree: true, childList: true, attributes: true });
}); }"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 1),
        "p95_ms": round(_pct(values, 0.95), 1),
        "max_ms": round(max(values), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lanes", type=int, default=48)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--updates", type=int, default=30)
    args = parser.parse_args(argv)
    executable = chromium_path()
    if executable is None:
        sys.exit("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ports = ("TPE", "KHH", "TSA", "RMQ")
    lanes = [
        LaneSpec(f"{ports[i % 4]}-{i:03d}", ports[i % 4], str(1 + i % 2)) for i in range(args.lanes)
    ]
    with (
        tempfile.TemporaryDirectory() as tmp,
        local_central(Path(tmp), lanes) as site,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS))
        context = browser.new_context(
            viewport={"width": 1920, "height": 1080}, base_url=site.base_url
        )
        page = context.new_page()
        page.goto("/login")
        page.fill("#username", "officer1")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        last = lanes[-1].lane_id
        loads, transfer = [], None
        for _ in range(args.loads):
            transfer = page_transfer(page, "/", lambda p: p.wait_for_selector(f"#lane-{last}"))
            loads.append(transfer["seconds"] * 1000)
        page.wait_for_selector("#live:not(.down)")
        delays = []
        for i in range(args.updates):
            lane = lanes[i % len(lanes)].lane_id
            state = "busy" if site.status.get(lane, {}).get("state", "idle") == "idle" else "idle"
            page.wait_for_selector(f"#lane-{lane}")
            page.evaluate(WATCH, lane)  # window.__watch resolves when the tile changes
            sent = time.time() * 1000
            site.post_events(lane, [{"type": "lane_state", "state": state}])
            shown = page.evaluate("() => window.__watch")
            delays.append(float(shown) - sent)
        browser.close()
    result: dict[str, Any] = {
        "benchmark": "dashboard",
        "lanes": args.lanes,
        "load": _summary(loads),
        "transfer_bytes": transfer["bytes"] if transfer else None,
        "requests": transfer["requests"] if transfer else None,
        "live_update": _summary(delays),
        "browser": "Debian chromium headless (Playwright executable_path)",
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
