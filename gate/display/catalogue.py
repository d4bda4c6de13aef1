"""gettext-style message catalogues of the traveller screen (``catalogues/*.po``).

A translator edits one PO file per language with any PO editor (Poedit, Lokalize, Weblate) or a
text editor: each message has a context naming where it appears (``msgctxt "welcome.title"``),
the English source (``msgid``) and the translation (``msgstr``). ``messages.pot`` is the
template; the completeness test (tests/display) fails when a language misses a message, keeps a
``fuzzy`` flag, or drops a ``{placeholder}``.

The subset of the PO format read here: comments (``#``), flags (``#,``), ``msgctxt``, ``msgid``,
``msgstr`` and continuation lines of adjacent string literals with the C escapes ``\\n``,
``\\t``, ``\\"`` and ``\\\\``. Plural forms are not used by the screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from gate.errors import EgateError

CATALOGUE_DIR = Path(__file__).parent / "catalogues"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


class CatalogueError(EgateError):
    """A catalogue file cannot be read; the message names the file, line and problem."""


@dataclass(frozen=True)
class Message:
    context: str
    source: str
    translation: str
    fuzzy: bool = False
    line: int = 0


@dataclass
class Catalogue:
    language: str
    path: Path
    messages: dict[str, Message] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)

    def text(self, context: str) -> str | None:
        """The translation for ``context``; None when missing, empty or fuzzy."""
        message = self.messages.get(context)
        if message is None or message.fuzzy or not message.translation:
            return None
        return message.translation


def _unquote(literal: str, where: str) -> str:
    literal = literal.strip()
    if len(literal) < 2 or not (literal.startswith('"') and literal.endswith('"')):
        raise CatalogueError(f"{where}: expected a quoted string, got {literal[:40]!r}")
    body = literal[1:-1]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body) or body[i + 1] not in _ESCAPES:
                raise CatalogueError(f"{where}: unknown escape in {literal[:40]!r}")
            out.append(_ESCAPES[body[i + 1]])
            i += 2
            continue
        if ch == '"':
            raise CatalogueError(f"{where}: unescaped quote in {literal[:40]!r}")
        out.append(ch)
        i += 1
    return "".join(out)


def parse_po(text: str, path: Path, language: str = "") -> Catalogue:
    """Parse PO text; raises :class:`CatalogueError` naming the line of the first problem."""
    catalogue = Catalogue(language or path.stem, path)
    entry: dict[str, str] = {}
    flags: set[str] = set()
    current: str | None = None
    start = 0

    def finish() -> None:
        nonlocal entry, flags, current
        if "msgid" in entry:
            if "msgstr" not in entry:
                raise CatalogueError(f"{path}:{start}: msgid without msgstr")
            if entry["msgid"] == "" and "msgctxt" not in entry:
                for row in entry["msgstr"].splitlines():
                    key, _, value = row.partition(":")
                    if key.strip():
                        catalogue.header[key.strip()] = value.strip()
            else:
                context = entry.get("msgctxt", entry["msgid"])
                if context in catalogue.messages:
                    raise CatalogueError(f"{path}:{start}: message {context!r} appears twice")
                catalogue.messages[context] = Message(
                    context, entry["msgid"], entry["msgstr"], "fuzzy" in flags, start
                )
        elif entry:
            raise CatalogueError(f"{path}:{start}: entry without msgid")
        entry, flags, current = {}, set(), None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{path}:{number}"
        if not line:
            finish()
            continue
        if line.startswith("#,"):
            if entry:
                finish()
            flags |= {f.strip() for f in line[2:].split(",")}
            start = start or number
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            if current is None:
                raise CatalogueError(f"{where}: string continuation outside an entry")
            entry[current] += _unquote(line, where)
            continue
        keyword, _, rest = line.partition(" ")
        if keyword not in ("msgctxt", "msgid", "msgstr"):
            raise CatalogueError(f"{where}: unknown keyword {keyword!r} (plural forms unused)")
        if keyword in ("msgctxt", "msgid") and "msgstr" in entry:
            finish()
        if keyword in entry:
            raise CatalogueError(f"{where}: {keyword} twice in one entry")
        if not entry:
            start = number
        entry[keyword] = _unquote(rest, where)
        current = keyword
    finish()
    return catalogue


def load(path: Path) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogueError(f"{path}: catalogue not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read: {exc}") from None
    return parse_po(text, path)


def template(directory: Path = CATALOGUE_DIR) -> Catalogue:
    return load(directory / "messages.pot")


def available(directory: Path = CATALOGUE_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.po"))


def load_all(languages: list[str], directory: Path = CATALOGUE_DIR) -> dict[str, Catalogue]:
    """The catalogues of ``languages``; a missing one is an error naming what exists."""
    out = {}
    for language in languages:
        path = directory / f"{language}.po"
        if not path.exists():
            raise CatalogueError(
                f"no traveller-screen catalogue for language {language!r} ({path}); "
                f"available: {', '.join(available(directory))}"
            )
        out[language] = load(path)
    return out


def problems(catalogue: Catalogue, reference: Catalogue) -> list[str]:
    """Why ``catalogue`` is not complete against the template ``reference`` (empty: complete)."""
    found = []
    for context, message in reference.messages.items():
        mine = catalogue.messages.get(context)
        if mine is None:
            found.append(f"{catalogue.path}: missing message {context!r}")
            continue
        if mine.fuzzy:
            found.append(f"{catalogue.path}:{mine.line}: {context!r} is marked fuzzy")
        if not mine.translation.strip():
            found.append(f"{catalogue.path}:{mine.line}: {context!r} is not translated")
        if mine.source != message.source:
            found.append(
                f"{catalogue.path}:{mine.line}: {context!r} translates an outdated source text"
            )
        wanted = set(PLACEHOLDER.findall(message.source))
        if set(PLACEHOLDER.findall(mine.translation)) != wanted:
            found.append(
                f"{catalogue.path}:{mine.line}: {context!r} must keep the placeholders "
                f"{sorted(wanted)}"
            )
    for context in catalogue.messages.keys() - reference.messages.keys():
        found.append(f"{catalogue.path}: {context!r} is not in the template (obsolete?)")
    return found
