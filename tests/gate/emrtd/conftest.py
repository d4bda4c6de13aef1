"""Fixtures of the document-authenticity tests: trust stores over the shared test PKI
(``simulator.pki.shared_test_pki``) and over real-world master lists."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gate.emrtd.crypto import certs
from gate.emrtd.pki import trust
from simulator.pki import TEST_PKI_EPOCH, shared_test_pki


@pytest.fixture(scope="session")
def pki_store() -> Callable[[], trust.TrustStore]:
    """``pki_store()``: a new trust store holding the shared test PKI's CSCAs."""

    def make() -> trust.TrustStore:
        store = trust.TrustStore()
        for csca in shared_test_pki().cscas:
            store.import_bytes(csca.der, source="test-csca", now=TEST_PKI_EPOCH)
        return store

    return make


@pytest.fixture(scope="session")
def real_world(
    testdata_dir: Callable[..., Path],
) -> Callable[[], tuple[Path, list[dict[str, Any]]]]:
    """``real_world()``: the gmrtd real-world SOD folder and its manifest's cases."""

    def load() -> tuple[Path, list[dict[str, Any]]]:
        folder = testdata_dir("epassport", "gmrtd", "sod_real_world")
        manifest = json.loads((folder / "manifest.json").read_text())
        return folder, manifest["cases"]

    return load


@pytest.fixture(scope="session")
def master_list_store(testdata_dir: Callable[..., Path]) -> Callable[[str, str], trust.TrustStore]:
    """``master_list_store(ML_FILE, ROOT_FILE)``: a trust store with a gmrtd master list
    imported under the given root certificate."""

    def make(ml: str, root: str) -> trust.TrustStore:
        folder = testdata_dir("epassport", "gmrtd", "master_lists")
        store = trust.TrustStore()
        store.import_bytes(
            (folder / ml).read_bytes(),
            source=ml,
            now=TEST_PKI_EPOCH,
            master_list_roots=[certs.load_certificate((folder / root).read_bytes())],
        )
        return store

    return make
