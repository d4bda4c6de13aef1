"""The traveller screen's state: what the page shows now, in which language.

The lane core asks for a screen (``ShowScreen(screen, data)``); this module turns it into a
snapshot the page renders: translated title and hint, pictogram, progress, countdown, the
language buttons. Snapshots go to every connected page over server-sent events (see
:mod:`gate.display.web`).

Rules:
- Only ``countdown_seconds`` is taken from the core's data: nothing else reaches the page, so a
  referral reason can never be shown to the traveller (the core does not send one either).
- Language: the traveller's touch wins for the rest of the transaction; otherwise the document's
  nationality chooses (:data:`NATIONALITY_LANGUAGE`); a new traveller (the welcome screen) starts
  again in the lane's default language.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gate.display.catalogue import Catalogue, CatalogueError, load_all

Pictogram = Literal[
    "passport", "camera", "forward", "back", "officer", "one-person", "no-entry", "emergency"
]
Tone = Literal["neutral", "go", "stop"]


@dataclass(frozen=True)
class ScreenSpec:
    pictogram: Pictogram
    tone: Tone
    step: int | None
    """Progress step (1-based into :data:`STEPS`), None: no progress bar."""


STEPS = ("progress.document", "progress.checks", "progress.face", "progress.exit")
SCREENS: dict[str, ScreenSpec] = {
    "welcome": ScreenSpec("passport", "neutral", None),
    "reading": ScreenSpec("passport", "neutral", 1),
    "enter": ScreenSpec("forward", "go", 2),
    "look_at_camera": ScreenSpec("camera", "neutral", 3),
    "proceed": ScreenSpec("forward", "go", 4),
    "take_document": ScreenSpec("passport", "neutral", None),
    "see_officer": ScreenSpec("officer", "stop", None),
    "try_again": ScreenSpec("passport", "stop", None),
    "one_person": ScreenSpec("one-person", "stop", None),
    "walk_back": ScreenSpec("back", "stop", None),
    "please_wait": ScreenSpec("officer", "neutral", None),
    "out_of_service": ScreenSpec("no-entry", "stop", None),
    "emergency": ScreenSpec("emergency", "stop", None),
}

# ICAO 9303 nationality codes whose travellers get a language of the lane without touching.
NATIONALITY_LANGUAGE: dict[str, str] = {
    "TWN": "zh-TW",
    "HKG": "zh-TW",
    "MAC": "zh-TW",
    "CHN": "zh-TW",  # the only Chinese script the screen ships; add zh-CN.po for Simplified
    "JPN": "ja",
    "KOR": "ko",
    "PRK": "ko",
    "VNM": "vi",
    "IDN": "id",
    "THA": "th",
    "PHL": "tl",
    "GBR": "en",
    "GBD": "en",
    "GBN": "en",
    "GBO": "en",
    "USA": "en",
    "AUS": "en",
    "NZL": "en",
    "CAN": "en",
    "IRL": "en",
    "SGP": "en",
}
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})
SUBSCRIBER_BACKLOG = 8


class TravellerScreen:
    """Holds the current screen and pushes snapshots to subscribers (pages)."""

    def __init__(
        self,
        languages: list[str],
        *,
        catalogues: Mapping[str, Catalogue] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not languages:
            raise CatalogueError("the traveller screen needs at least one language")
        self.languages = list(languages)
        self.catalogues = dict(catalogues) if catalogues is not None else load_all(languages)
        for language in self.languages:
            catalogue = self.catalogues[language]
            missing = [
                f"{s}.{part}"
                for s in SCREENS
                for part in ("title", "hint")
                if catalogue.text(f"{s}.{part}") is None
            ]
            if missing:
                raise CatalogueError(f"{catalogue.path}: untranslated messages {missing[:5]}")
        self.default = self.languages[0]
        self.language = self.default
        self.chosen_by: Literal["default", "document", "touch"] = "default"
        self.screen = "out_of_service"
        self._countdown_until: float | None = None
        self._countdown_total = 0
        self._clock = clock
        self.version = 0
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    # ------------------------------------------------------------------ inputs

    def show(self, screen: str, data: Mapping[str, Any] | None = None) -> None:
        """Show ``screen`` (a :class:`gate.lane.commands.Screen` value)."""
        if screen not in SCREENS:
            raise CatalogueError(f"unknown traveller screen {screen!r}; known: {sorted(SCREENS)}")
        if screen == "welcome" and self.screen != "welcome":
            self.language, self.chosen_by = self.default, "default"
        self.screen = screen
        seconds = (data or {}).get("countdown_seconds")
        self._countdown_until = None
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
            self._countdown_until = self._clock() + float(seconds)
            self._countdown_total = round(float(seconds))
        self._publish()

    def choose_language(self, language: str) -> None:
        """The traveller touched a language button."""
        if language not in self.catalogues:
            raise CatalogueError(f"language {language!r} is not offered on this lane")
        self.language, self.chosen_by = language, "touch"
        self._publish()

    def document_nationality(self, nationality: str) -> None:
        """The MRZ was read: use the nationality's language unless the traveller chose one."""
        if self.chosen_by == "touch":
            return
        language = NATIONALITY_LANGUAGE.get(nationality.upper().replace("<", ""))
        if language in self.catalogues and language != self.language:
            self.language, self.chosen_by = language, "document"
            self._publish()

    # ------------------------------------------------------------------ output

    def text(self, context: str, language: str | None = None, **values: Any) -> str:
        catalogue = self.catalogues[language or self.language]
        template = catalogue.text(context) or self.catalogues[self.default].text(context) or ""
        return template.format(**values) if values else template

    def snapshot(self) -> dict[str, Any]:
        spec = SCREENS[self.screen]
        countdown = None
        if self._countdown_until is not None:
            remaining = max(0, round(self._countdown_until - self._clock()))
            countdown = {
                "seconds": remaining,
                "total": self._countdown_total,
                "label": self.text("countdown.label", seconds="{seconds}"),
            }
        progress = None
        if spec.step is not None:
            progress = {
                "step": spec.step,
                "total": len(STEPS),
                "label": self.text("progress.label", step=spec.step, total=len(STEPS)),
                "steps": [self.text(s) for s in STEPS],
            }
        return {
            "version": self.version,
            "screen": self.screen,
            "language": self.language,
            "dir": "rtl" if self.language.split("-")[0] in RTL_LANGUAGES else "ltr",
            "title": self.text(f"{self.screen}.title"),
            "hint": self.text(f"{self.screen}.hint"),
            "pictogram": spec.pictogram,
            "tone": spec.tone,
            "progress": progress,
            "countdown": countdown,
            "choose": self.text("language.choose"),
            "languages": [
                {"code": code, "name": self.text("language.name", code)} for code in self.languages
            ],
        }

    # ------------------------------------------------------------------ subscribers

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        queue.put_nowait(self.snapshot())
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _publish(self) -> None:
        self.version += 1
        snapshot = self.snapshot()
        for queue in list(self._subscribers):
            if queue.full():  # a page that does not read: drop its oldest, keep the newest
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(snapshot)
