"""The documentation names files that exist: a test, module or benchmark path in docs/, the
README or models/README.md that no longer exists (moved, renamed) sends a reader nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / "models" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PATH = re.compile(
    r"\b(?:gate|drivers|simulator|central|bench|scripts|tests|config)/[A-Za-z0-9_/.-]*"
    r"\.(?:py|toml|md|json|service)\b"
)


@pytest.mark.parametrize("doc", DOCS, ids=[d.relative_to(REPO).as_posix() for d in DOCS])
def test_every_repository_path_a_document_names_exists(doc: Path) -> None:
    named = set(PATH.findall(doc.read_text(encoding="utf-8")))
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert not missing, f"{doc.relative_to(REPO)} names files that do not exist: {missing}"
