"""Translations and pinned static assets of the dashboard (no server, no browser)."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from central.dashboard import assets, i18n


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    assert i18n.check_catalogs() == []


def test_placeholders_are_filled_and_unknown_keys_show_themselves() -> None:
    zh = i18n.catalog("zh-TW")
    assert zh.t("lanes.passages", count=7) == "7 人次"
    assert i18n.catalog("en").t("lanes.passages", count=7) == "7 passages"
    assert zh.t("no.such.key") == "no.such.key"
    assert i18n.catalog("en").t("lanes.passages") == "{count} passages"


def test_a_language_that_is_not_offered_is_refused() -> None:
    with pytest.raises(i18n.CatalogError, match="not offered"):
        i18n.catalog("fr")


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        ("zh-TW", "en-GB", "zh-TW"),
        ("en", "zh-TW", "en"),
        (None, "zh-TW,zh;q=0.9,en;q=0.8", "zh-TW"),
        (None, "zh-Hant-TW", "zh-TW"),
        (None, "zh-CN,en;q=0.5", "en"),
        (None, "fr-FR, en-US;q=0.7", "en"),
        ("xx", None, "en"),
        (None, ";;,", "en"),
    ],
)
def test_language_negotiation(cookie: str | None, accept: str | None, expected: str) -> None:
    assert i18n.negotiate(cookie, accept) == expected


def test_every_message_id_used_by_templates_and_scripts_exists() -> None:
    root = resources.files("central.dashboard")
    used: set[str] = set()
    pattern = re.compile(r"""\bt\(\s*['"]([a-z_]+\.[a-z0-9_.]+)['"]""")
    for folder in ("templates", "static"):
        for entry in root.joinpath(folder).iterdir():
            if entry.name.endswith((".html", ".js")):
                used |= set(pattern.findall(entry.read_text(encoding="utf-8")))
    assert used, "the pattern found no message ids: the test would not catch anything"
    missing = sorted(used - set(i18n.catalog("en").messages))
    assert missing == []


def test_manifest_pins_every_asset_with_version_licence_and_hash() -> None:
    pinned = assets.assets()
    assert {"dashboard.js", "dashboard.css", "lanes.js"} <= set(pinned)
    for asset in pinned.values():
        assert asset.integrity == assets.integrity_of(asset.body)
        assert asset.version and asset.licence == "Apache-2.0"
        assert asset.url.startswith(assets.STATIC_PREFIX + "/" + asset.name + "?v=")
    manifest = json.loads(
        resources.files("central.dashboard").joinpath("static", "MANIFEST.json").read_text()
    )
    assert manifest == assets.build_manifest(), "run python -m central.dashboard.assets"


def test_a_changed_asset_without_a_new_manifest_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = assets._static_files()
    tampered = dict(real, **{"dashboard.js": real["dashboard.js"] + b"\n// changed"})
    monkeypatch.setattr(assets, "_static_files", lambda: tampered)
    assets.assets.cache_clear()
    try:
        with pytest.raises(assets.AssetError, match=r"dashboard\.js changed"):
            assets.assets()
    finally:
        assets.assets.cache_clear()


def test_no_asset_fetches_anything_from_another_site() -> None:
    for asset in assets.assets().values():
        text = asset.body.decode("utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), asset.name
        assert "@import" not in text and "eval(" not in text, asset.name
