"""Translations of the officer dashboard (en and zh-TW) and the choice of language.

Catalogues are flat JSON files in ``translations/`` keyed by dotted message ids; every
catalogue has exactly the keys of the English one (a test checks). Placeholders are written
``{name}`` and filled by :func:`Catalog.t` here and by ``t()`` in ``static/dashboard.js`` in the
browser, which receives the whole catalogue of the page's language.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

LANGUAGES: dict[str, str] = {"en": "English", "zh-TW": "繁體中文"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "egate_lang"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class CatalogError(ValueError):
    """A translation catalogue is missing, malformed or out of step with the English one."""


@dataclass(frozen=True)
class Catalog:
    language: str
    messages: dict[str, str]

    def t(self, key: str, **values: object) -> str:
        """The message ``key`` with its placeholders filled; an unknown key shows as itself."""
        text = self.messages.get(key)
        if text is None:
            return key
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


@cache
def catalog(language: str) -> Catalog:
    if language not in LANGUAGES:
        raise CatalogError(f"language {language!r} is not offered; use one of {sorted(LANGUAGES)}")
    path = resources.files(__package__).joinpath("translations", f"{language}.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"translation catalogue {language}.json cannot be read: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise CatalogError(f"{language}.json must be one JSON object of string to string")
    return Catalog(language, data)


def check_catalogs() -> list[str]:
    """Problems between the catalogues: keys missing or extra, placeholders that differ."""
    reference = catalog(DEFAULT_LANGUAGE).messages
    problems = []
    for language in LANGUAGES:
        messages = catalog(language).messages
        for key in sorted(set(reference) - set(messages)):
            problems.append(f"{language}: missing {key}")
        for key in sorted(set(messages) - set(reference)):
            problems.append(f"{language}: extra {key}")
        for key in sorted(set(reference) & set(messages)):
            want = set(_PLACEHOLDER.findall(reference[key]))
            got = set(_PLACEHOLDER.findall(messages[key]))
            if want != got:
                problems.append(
                    f"{language}: {key} has placeholders {sorted(got)}, not {sorted(want)}"
                )
    return problems


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the officer's choice (cookie), else the browser's, else English."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if not tag:
            continue
        if tag.startswith("zh") and tag not in ("zh-cn", "zh-sg", "zh-hans"):
            return "zh-TW"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE
