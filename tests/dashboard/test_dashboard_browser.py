"""The dashboard in a real browser (Debian chromium, headless, driven by Playwright)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from central.dashboard.harness import PASSWORD, LocalCentral

pytestmark = pytest.mark.xdist_group("dashboard_browser")


def test_login_shows_every_lane_grouped_by_port_and_terminal(
    page_as: Callable[..., Any],
    artifacts: Path,
) -> None:
    page = page_as("officer")
    page.wait_for_selector("#lane-TPE-T1-01")
    headings = page.locator("section.port > h2").all_inner_texts()
    assert headings == ["KHH", "TPE"]
    tpe = page.locator("section.port", has=page.locator("h2", has_text="TPE"))
    assert tpe.locator("h3").all_inner_texts() == ["Terminal 1", "Terminal 2"]
    tile = page.locator("#lane-TPE-T1-01")
    assert tile.get_attribute("data-state") == "idle"
    text = tile.inner_text()
    assert "Idle" in text and "entry closed · exit closed" in text and "all devices OK" in text
    page.screenshot(path=str(artifacts / "lanes-1366x768.png"), full_page=True)


def test_a_tile_follows_ingested_events_within_one_second(
    page_as: Callable[..., Any],
    site: LocalCentral,
    artifacts: Path,
) -> None:
    page = page_as("officer")
    page.wait_for_selector("#lane-TPE-T1-02[data-state=idle]")
    page.wait_for_selector("#live:not(.down)")
    site.post_events(
        "TPE-T1-02",
        [
            {
                "type": "lane_state",
                "previous": "idle",
                "state": "out_of_service",
                "reason": "cleaning",
            }
        ],
    )
    page.wait_for_selector("#lane-TPE-T1-02[data-state=out_of_service]", timeout=1000)

    site.post_events(
        "TPE-T1-03",
        [
            {
                "type": "alarm",
                "alarm": "tailgating",
                "severity": "critical",
                "detail": "two people in the gate",
            }
        ],
    )
    page.wait_for_selector("#lane-TPE-T1-03[data-state=alarm]", timeout=1000)
    banner = page.locator("#alarm-banner")
    assert banner.is_visible() and re.search(r"\b[1-9]\d* active alarms", banner.inner_text())
    # colour and shape: the alarm icon is a triangle, the idle one a circle
    clip = page.eval_on_selector("#lane-TPE-T1-03 .icon", "e => getComputedStyle(e).clipPath")
    assert clip.startswith("polygon(50% 0")
    assert page.eval_on_selector(
        "#lane-TPE-T1-01 .icon", "e => getComputedStyle(e).clipPath"
    ).startswith("circle")
    # a passage counts in the tile's last hour at once
    site.post_events(
        "TPE-T1-01",
        [{"type": "transaction", "transaction_id": str(uuid.uuid4()), "decision": "accepted"}],
    )
    page.wait_for_selector("#lane-TPE-T1-01 >> text=1 passages", timeout=1000)
    page.screenshot(path=str(artifacts / "lanes-alarm.png"), full_page=True)


@pytest.mark.slow
def test_a_silent_lane_shows_offline_within_three_heartbeat_periods(
    page_as: Callable[..., Any],
    site: LocalCentral,
) -> None:
    page = page_as("officer")
    page.wait_for_selector("#lane-KHH-01[data-state=idle]")
    period = site.central.config.lanes.heartbeat_period_seconds
    site.silent.add("KHH-01")
    site.heartbeat("KHH-01")  # the last one
    started = time.monotonic()
    page.wait_for_selector("#lane-KHH-01[data-state=offline]", timeout=(3 * period + 3) * 1000)
    assert time.monotonic() - started <= 3 * period + 2
    site.silent.discard("KHH-01")
    site.heartbeat("KHH-01")
    page.wait_for_selector("#lane-KHH-01:not([data-state=offline])", timeout=2000)


def test_emergency_open_is_offered_to_supervisors_only_and_needs_confirmation(
    page_as: Callable[..., Any],
    site: LocalCentral,
    artifacts: Path,
) -> None:
    officer = page_as("officer")
    officer.goto("/lanes/TPE-T2-01")
    officer.wait_for_selector("#devices table")
    assert officer.locator("button[data-action=emergency_open]").count() == 0
    assert officer.locator("#controls").count() == 0

    site.fetch_commands("TPE-T2-01")  # drain
    sup = page_as("supervisor")
    sup.goto("/lanes/TPE-T2-01")
    sup.wait_for_selector("#devices table")
    button = sup.locator("button[data-action=emergency_open]")
    button.click()
    dialog = sup.locator("dialog[data-testid=confirm]")
    assert dialog.is_visible()
    sup.screenshot(path=str(artifacts / "lane-emergency-confirm.png"))
    sup.keyboard.press("Escape")  # cancel: nothing is sent
    assert dialog.count() == 0
    assert site.fetch_commands("TPE-T2-01") == []
    button.click()
    sup.locator("dialog[data-testid=confirm] button.danger").click()
    sup.wait_for_selector("#lane-status .notice.ok")
    commands = site.fetch_commands("TPE-T2-01")
    assert [c["action"] for c in commands] == ["emergency_open"]


def test_form_posts_without_the_csrf_token_are_refused(
    page_as: Callable[..., Any],
    site: LocalCentral,
) -> None:
    page = page_as("officer")
    # a form on the page built without the csrf_token field, as another site would post it
    with page.expect_navigation() as navigation:
        page.evaluate("""() => {
            const f = document.createElement('form'); f.method = 'post'; f.action = '/logout';
            document.body.append(f); f.submit(); }""")
    assert navigation.value.status == 403
    assert "CSRF" in page.locator("main").inner_text()
    page.goto("/lanes")
    assert page.locator("#logout-form").count() == 1  # still logged in
    with httpx.Client(base_url=site.base_url) as client:
        client.get("/login")
        r = client.post("/login", data={"username": "officer1", "password": "x" * 12})
        assert r.status_code == 403


def test_every_page_renders_for_its_role(
    page_as: Callable[..., Any],
    artifacts: Path,
) -> None:
    admin = page_as("admin")
    for path, name, ready in [
        ("/exceptions", "exceptions", "#exceptions table, #exceptions .notice"),
        ("/lanes/TPE-T1-01", "lane-detail", "#devices table"),
        ("/statistics", "statistics", "#stats .chart, #stats .notice"),
        ("/watchlist", "watchlist", "#list table, #list .notice"),
        ("/travellers", "travellers", "#list table, #list .notice"),
        ("/audit", "audit", "#audit table"),
        ("/admin", "admin", "#admin-accounts table"),
    ]:
        admin.goto(path)
        admin.wait_for_selector(ready)
        assert admin.locator(".notice.error").count() == 0, (path, admin.content())
        admin.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def _jpeg(shift: int) -> bytes:
    """A face photograph bundled with scikit-image, as a small JPEG."""
    import io

    from PIL import Image
    from skimage import data

    image = Image.fromarray(data.astronaut()[20 + shift : 260 + shift, 140:340])
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def test_a_referral_is_reviewed_beside_both_portraits_and_admitted(
    page_as: Callable[..., Any],
    site: LocalCentral,
    artifacts: Path,
) -> None:
    tid = str(uuid.uuid4())
    now = datetime.now(UTC)
    stages = [
        {"stage": s, "at": (now - timedelta(seconds=9 - i)).isoformat()}
        for i, s in enumerate(
            [
                "document_placed",
                "mrz_read",
                "chip_read",
                "document_verified",
                "face_captured",
                "face_matched",
                "decided",
            ]
        )
    ]
    site.post_events(
        "TPE-T1-01",
        [
            {
                "type": "transaction",
                "transaction_id": tid,
                "decision": "referred",
                "reasons": ["FACE_NO_MATCH"],
                "stages": stages,
                "document": {
                    "format": "TD3",
                    "document_code": "P",
                    "issuing_state": "D",
                    "nationality": "D",
                    "masked_number": "C01X****",
                    "year_of_birth": 1964,
                    "sex": "F",
                },
                "verdicts": [
                    {
                        "check": "document_authenticity",
                        "outcome": "pass",
                        "reasons": ["PA_OK", "CA_OK"],
                    },
                    {"check": "face", "outcome": "refer", "reasons": ["FACE_NO_MATCH"]},
                    {"check": "liveness", "outcome": "pass", "reasons": ["LIVENESS_OK"]},
                ],
                "scores": {"face_similarity": 0.31, "face_threshold": 0.42, "liveness": 0.97},
            }
        ],
    )
    site.put_portrait("TPE-T1-01", tid, "chip", _jpeg(0))
    site.put_portrait("TPE-T1-01", tid, "live", _jpeg(12))
    site.fetch_commands("TPE-T1-01")  # drain

    page = page_as("officer")
    page.wait_for_selector("#lane-TPE-T1-01[data-state=referred]")
    page.click("nav >> text=Exceptions")
    page.click(f"tr[data-id='{tid}'] >> text=Review")
    page.wait_for_selector("figure[data-portrait=live] img")
    for kind in ("chip", "live"):
        width = page.eval_on_selector(
            f"figure[data-portrait={kind}] img", "img => img.complete ? img.naturalWidth : 0"
        )
        assert width == 200, kind
    text = page.locator("#referral").inner_text()
    assert "0.310" in text and "threshold 0.42" in text and "0.970" in text
    # every check with its outcome and the registry's explanation in plain words
    assert "the live face does not match the chip portrait" in text
    assert "passive authentication passed" in text
    assert page.locator("tr[data-check=face] .outcome").inner_text().strip() == "refer"
    page.screenshot(path=str(artifacts / "referral.png"), full_page=True)
    assert "C01X****" in text, text

    page.fill("#note", "checked against the passport photo by hand")
    page.click("button[data-decision=admit]")
    page.wait_for_selector("#referral-status .notice.ok")
    commands = site.fetch_commands("TPE-T1-01")
    assert len(commands) == 1 and commands[0]["action"] == "referral_decision"
    assert commands[0]["args"]["transaction_id"] == tid
    assert commands[0]["args"]["decision"] == "admit"
    assert commands[0]["args"]["release"] == "exit"

    sup = page_as("supervisor")
    sup.goto("/lanes/TPE-T1-01")
    entry = sup.locator("ol.timeline > li", has_text="referred").first
    entry.wait_for()
    assert "Duration 6.0 s" in entry.inner_text()
    assert entry.locator(".bar span").count() == len(stages) - 1
    sup.wait_for_selector("#commands tr >> text=Referral decision")
    sup.screenshot(path=str(artifacts / "lane-detail-timeline.png"), full_page=True)

    sup.goto("/audit")
    sup.fill("#a-action", "referral_decision")
    sup.click("#audit-form button[type=submit]")
    sup.wait_for_function(
        "() => [...document.querySelectorAll('#audit tbody tr')].every("
        "r => r.children[3].textContent === 'referral_decision')"
    )
    rows = sup.locator("#audit tbody tr").all_inner_texts()
    assert len(rows) == 1 and "officer1" in rows[0] and tid in rows[0], rows
    sup.screenshot(path=str(artifacts / "audit-referral-decision.png"), full_page=True)


def test_statistics_are_drawn_in_the_browser_and_exported_as_csv(
    page_as: Callable[..., Any],
    site: LocalCentral,
    artifacts: Path,
) -> None:
    now = datetime.now(UTC)
    decisions = ["accepted"] * 14 + ["rejected"] * 2 + ["referred"] * 3 + ["aborted"]
    events = []
    for i, decision in enumerate(decisions):
        start = now - timedelta(hours=i % 5, minutes=i)
        end = (start + timedelta(seconds=8 + i % 7)).isoformat()
        events.append(
            {
                "type": "transaction",
                "transaction_id": str(uuid.uuid4()),
                "decision": decision,
                "occurred_at": end,
                "reasons": ["LIVENESS_FAILED"] if decision == "referred" else [],
                "stages": [
                    {"stage": "document_placed", "at": start.isoformat()},
                    {"stage": "decided", "at": end},
                ],
                "scores": {"face_similarity": 0.5 + (i % 5) / 10, "face_threshold": 0.42},
            }
        )
    site.post_events("KHH-01", events[:10])
    site.post_events("TPE-T2-01", events[10:])
    page = page_as("officer")
    page.goto("/statistics")
    page.wait_for_selector("#stats figure.chart svg rect.c0")
    titles = page.locator("#stats figure h2").all_inner_texts()
    for wanted in (
        "Passages per hour by decision",
        "Referral reasons",
        "Availability per lane",
        "Automated clearances against the same period a year earlier",
    ):
        assert wanted in titles, titles
    page.screenshot(path=str(artifacts / "statistics.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#export-csv")
    rows = Path(download.value.path()).read_text().splitlines()
    assert rows[0] == "section,key,name,value"
    period = {"from": page.input_value("#from"), "to": page.input_value("#to")}
    summary = page.request.get("/api/v1/stats/summary", params=period).json()
    accepted = summary["usage"]["automated_clearances"]
    assert accepted >= 14  # this test's, and any other test's passages
    assert f"usage,automated_clearances,,{accepted}" in rows
    assert "referral_reasons,LIVENESS_FAILED,count,3" in rows


EFFECTIVE_COLOURS = """(sel) => [...document.querySelectorAll(sel)].map((e) => {
  let bg = null;
  for (let n = e; n && !bg; n = n.parentElement) {
    const c = getComputedStyle(n).backgroundColor;
    if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') bg = c;
  }
  return [getComputedStyle(e).color, bg || 'rgb(255, 255, 255)'];
})"""


def _luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(fg: str, bg: str) -> float:
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_text_contrast_meets_wcag_aa_and_the_keyboard_reaches_everything(
    page_as: Callable[..., Any],
    site: LocalCentral,
    artifacts: Path,
) -> None:
    site.post_events(
        "TPE-T1-02", [{"type": "alarm", "alarm": "forced_door", "detail": "exit forced"}]
    )
    page = page_as("officer", lang="zh-TW")
    page.wait_for_selector("#lane-TPE-T1-02[data-state=alarm]")
    assert page.locator("h1").inner_text() == "通道"
    selectors = [
        ".nav a",
        ".who",
        ".tile .name",
        ".tile dt",
        ".tile dd",
        ".tile .state",
        ".banner .text",
        ".toolbar .muted",
        "#sound",
        "h2",
        "h3",
    ]
    for selector in selectors:
        for fg, bg in page.evaluate(EFFECTIVE_COLOURS, selector):
            assert _contrast(fg, bg) >= 4.5, (selector, fg, bg)
    page.screenshot(path=str(artifacts / "lanes-zh-TW.png"), full_page=True)

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the alarm-sound toggle
    assert page.evaluate("document.activeElement.id") == "sound"
    page.keyboard.press("Tab")  # the first tile
    assert page.evaluate("document.activeElement.dataset.lane") == "KHH-01"
    page.keyboard.press("Enter")
    page.wait_for_url("**/lanes/KHH-01")


def test_alarms_are_acknowledged_and_shelved_from_the_queue(
    page_as: Callable[..., Any],
    site: LocalCentral,
) -> None:
    site.post_events(
        "TPE-T2-01",
        [{"type": "alarm", "alarm": "watchlist_hit", "detail": "silent alarm: list entry matched"}],
    )
    page = page_as("officer")
    page.goto("/exceptions")
    row = page.locator("#exceptions tbody tr[data-kind=watchlist_hit]")
    row.wait_for()
    # a watch-list hit outranks every tailgating, forced door or offline alarm
    assert page.locator("#exceptions tbody tr").first.get_attribute("data-kind") == "watchlist_hit"
    row.locator("text=Acknowledge").click()
    page.wait_for_selector("#exceptions tbody tr[data-kind=watchlist_hit] >> text=acknowledged")
    page.locator("#exceptions tbody tr[data-kind=watchlist_hit] >> text=Shelve").click()
    page.wait_for_selector("#exceptions tbody tr[data-kind=watchlist_hit]", state="detached")
    page.check("#show-shelved")
    page.wait_for_selector("#exceptions tbody tr[data-kind=watchlist_hit] >> text=shelved")


def test_an_idle_session_is_warned_then_logged_out(
    browser: Any,
    site: LocalCentral,
) -> None:
    context = browser.new_context(base_url=site.base_url)
    try:
        page = context.new_page()
        page.clock.install()
        page.goto("/login")
        page.fill("#username", "officer1")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        idle = site.central.config.security.session_idle_minutes * 60
        page.clock.run_for((idle - 30) * 1000)
        warning = page.locator(".idle[role=alertdialog]")
        assert warning.is_visible() and "signed out in" in warning.inner_text()
        page.keyboard.press("Enter")  # "Stay signed in" has the focus
        assert warning.count() == 0
        page.clock.run_for((idle + 2) * 1000)
        page.wait_for_url("**/login?m=idle")
        assert "without activity" in page.locator(".notice").inner_text()
    finally:
        context.close()


def test_a_supervisor_edits_the_watch_list_and_an_admin_registers_a_lane(
    page_as: Callable[..., Any],
    tmp_path: Path,
) -> None:
    sup = page_as("supervisor")
    sup.goto("/watchlist")
    sup.wait_for_selector("#list .notice, #list table")
    before = sup.locator("#list-version").inner_text()
    sup.fill("#f-issuing_state", "utO")
    sup.fill("#f-document_number", "l898902c")
    sup.fill("#f-name", "ERIKSSON ANNA")
    sup.fill("#f-category", "lost-stolen")
    sup.click("#list-add button[type=submit]")
    row = sup.locator("#list tr[data-key='UTO:L898902C']")
    row.wait_for()
    assert "lost-stolen" in row.inner_text()
    assert sup.locator("#list-version").inner_text() != before
    csv = tmp_path / "import.csv"
    csv.write_text("issuing_state,document_number,name,category\nD,C01X00T47,MUSTERMANN,wanted\n")
    sup.set_input_files("#csv-file", str(csv))
    sup.click("#list-import button[type=submit]")
    sup.wait_for_selector("#list tr[data-key='D:C01X00T47']")
    row.locator("button").click()
    sup.wait_for_selector("#list tr[data-key='UTO:L898902C']", state="detached")

    admin = page_as("admin")
    admin.goto("/admin")
    admin.wait_for_selector("#admin-lanes table")
    admin.fill("#l-id", "TPE-T2-09")
    admin.fill("#l-port", "TPE")
    admin.fill("#l-terminal", "2")
    admin.click("#lane-register button[type=submit]")
    token = admin.locator("#lane-token-value")
    token.wait_for()
    assert token.inner_text().startswith("egl_")
    admin.wait_for_selector("#admin-lanes a >> text=TPE-T2-09")
