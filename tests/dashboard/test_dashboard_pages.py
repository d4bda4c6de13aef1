"""The dashboard's pages over HTTP: login, roles, CSRF, CSP, languages, redirects, assets."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from central.dashboard import assets
from central.dashboard.harness import PASSWORD, LocalCentral
from central.dashboard.router import CSP, NAV

PAGES = [
    "/",
    "/lanes",
    "/exceptions",
    "/statistics",
    "/lanes/TPE-T1-01",
    "/referrals/x",
    "/watchlist",
    "/travellers",
    "/audit",
    "/admin",
]


def _login(site: LocalCentral, role: str) -> httpx.Client:
    client = httpx.Client(base_url=site.base_url)
    client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": site.username(role),
            "password": PASSWORD,
            "csrf_token": client.cookies["egate_csrf"],
            "next": "/",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return client


@pytest.fixture
def officer(site: LocalCentral) -> Iterator[httpx.Client]:
    client = _login(site, "officer")
    try:
        yield client
    finally:
        client.close()


def test_an_anonymous_visitor_gets_the_login_page_and_nothing_else(site: LocalCentral) -> None:
    with httpx.Client(base_url=site.base_url) as client:
        root = client.get("/")
        assert root.status_code == 200 and 'action="/login"' in root.text
        assert 'id="lanes"' not in root.text
        for path in PAGES[1:]:
            r = client.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next=%2F"), path


def test_every_page_has_a_strict_content_security_policy(officer: httpx.Client) -> None:
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    for path in PAGES:
        r = officer.get(path)
        assert r.headers["content-security-policy"] == CSP, path
        assert r.headers["x-content-type-options"] == "nosniff"
        # no inline script: every <script> is a JSON data block or a pinned file
        for tag in re.findall(r"<script[^>]*>", r.text):
            assert 'type="application/json"' in tag or 'integrity="sha384-' in tag, (path, tag)
        assert " style=" not in r.text and "<style" not in r.text, path
        assert "http://" not in r.text and "https://" not in r.text, path


def test_pages_need_the_role_they_serve(site: LocalCentral, officer: httpx.Client) -> None:
    for path in ("/watchlist", "/travellers", "/audit", "/admin"):
        r = officer.get(path)
        assert r.status_code == 403 and "may not open this page" in r.text, path
    sup = _login(site, "supervisor")
    assert sup.get("/audit").status_code == 200
    assert sup.get("/admin").status_code == 403
    sup.close()
    nav = re.findall(r'<a href="(/[a-z]*)"', officer.get("/lanes").text)
    assert "/admin" not in nav and "/audit" not in nav
    assert {p.href for p in NAV if p.role == "officer"} <= set(nav)


def test_login_refuses_a_wrong_password_and_a_form_without_its_token(
    site: LocalCentral,
) -> None:
    with httpx.Client(base_url=site.base_url) as client:
        client.get("/login")
        token = client.cookies["egate_csrf"]
        r = client.post(
            "/login",
            data={"username": "admin1", "password": "not the password", "csrf_token": token},
        )
        assert r.status_code == 401 and "User name or password is wrong" in r.text
        r = client.post("/login", data={"username": "admin1", "password": PASSWORD})
        assert r.status_code == 403 and "The form expired" in r.text
        assert "egate_session" not in client.cookies


def test_after_login_only_local_paths_are_followed(site: LocalCentral) -> None:
    with httpx.Client(base_url=site.base_url) as client:
        client.get("/login")
        for target, expected in [
            ("https://evil.example/", "/"),
            ("//evil.example", "/"),
            ("/\\evil.example", "/"),
            ("/audit?x=1", "/audit?x=1"),
        ]:
            client.cookies.delete("egate_session")
            r = client.post(
                "/login",
                data={
                    "username": "officer1",
                    "password": PASSWORD,
                    "csrf_token": client.cookies["egate_csrf"],
                    "next": target,
                },
            )
            assert r.headers["location"] == expected, target


def test_logout_needs_the_token_and_an_idle_logout_says_why(site: LocalCentral) -> None:
    client = _login(site, "officer")
    try:
        assert client.post("/logout", data={}).status_code == 403
        page = client.get("/lanes").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        r = client.post("/logout", data={"csrf_token": token.group(1), "reason": "idle"})
        assert r.status_code == 303 and r.headers["location"] == "/login?m=idle"
        assert "signed out after 15 minutes without activity" in client.get("/login?m=idle").text
        assert client.get("/lanes").status_code == 303  # the session is gone
    finally:
        client.close()


def test_language_switch_and_negotiation(site: LocalCentral, officer: httpx.Client) -> None:
    r = officer.get("/lang/zh-TW", params={"next": "/exceptions"})
    assert r.status_code == 303 and r.headers["location"] == "/exceptions"
    zh = officer.get("/exceptions").text
    assert '<html lang="zh-TW">' in zh and "異常事件" in zh
    assert officer.get("/lang/fr").status_code == 404
    assert (
        officer.get("/lang/en", params={"next": "https://evil.example"}).headers["location"] == "/"
    )
    with httpx.Client(base_url=site.base_url, headers={"Accept-Language": "zh-TW,zh;q=0.8"}) as c:
        assert "登入" in c.get("/login").text


def test_static_assets_are_served_pinned_and_nothing_else(site: LocalCentral) -> None:
    with httpx.Client(base_url=site.base_url) as client:
        for asset in assets.assets().values():
            r = client.get(asset.url)
            assert r.status_code == 200 and r.content == asset.body
            assert assets.integrity_of(r.content) == asset.integrity
            assert r.headers["content-type"].startswith(asset.content_type.split(";")[0])
            assert "immutable" in r.headers["cache-control"]
        for bad in ("MANIFEST.json", "..%2Frouter.py", "nope.js"):
            assert client.get(f"{assets.STATIC_PREFIX}/{bad}").status_code == 404


def test_repeated_failures_lock_the_account_and_the_page_says_for_how_long(
    site: LocalCentral,
) -> None:
    from central.security import create_officer

    central = site.central
    with central.db.write() as conn:
        create_officer(
            conn,
            central.config.security,
            username="locked1",
            password=PASSWORD,
            role="officer",
            at=central.now(),
        )
    threshold = central.config.security.lockout_threshold
    with httpx.Client(base_url=site.base_url) as client:
        client.get("/login")
        token = client.cookies["egate_csrf"]
        statuses = []
        for _ in range(threshold):
            r = client.post(
                "/login",
                data={"username": "locked1", "password": "wrong password!", "csrf_token": token},
            )
            statuses.append(r.status_code)
        assert statuses == [401] * (threshold - 1) + [429]
        r = client.post(
            "/login", data={"username": "locked1", "password": PASSWORD, "csrf_token": token}
        )
        assert r.status_code == 429
        seconds = central.config.security.lockout_base_seconds
        wait = re.search(r"try again in (\d+) s", r.text)
        assert wait is not None and 0 < int(wait.group(1)) <= seconds
