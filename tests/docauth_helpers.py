"""Shared helpers for the document-authenticity tests (not a test module)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from gate.emrtd import certs, trust
from simulator import pki
from tests.conftest import require_testdata

NOW = datetime(2026, 1, 15, tzinfo=UTC)


def real_world() -> tuple[Path, list[dict[str, Any]]]:
    folder = require_testdata("epassport", "gmrtd", "sod_real_world")
    manifest = json.loads((folder / "manifest.json").read_text())
    return folder, manifest["cases"]


def master_list_store(ml: str, root: str) -> trust.TrustStore:
    folder = require_testdata("epassport", "gmrtd", "master_lists")
    store = trust.TrustStore()
    store.import_bytes(
        (folder / ml).read_bytes(),
        source=ml,
        now=NOW,
        master_list_roots=[certs.load_certificate((folder / root).read_bytes())],
    )
    return store


def inside_validity(*items: Any) -> datetime:
    """A moment where every given certificate is valid."""
    start = max(certs.not_before(c) for c in items) + timedelta(days=1)
    assert start < min(certs.not_after(c) for c in items)
    return start


@lru_cache(maxsize=1)
def shared_pki() -> pki.CountryPki:
    return pki.make_test_pki(NOW)


def pki_store() -> trust.TrustStore:
    store = trust.TrustStore()
    for csca in shared_pki().cscas:
        store.import_bytes(csca.der, source="test-csca", now=NOW)
    return store
