"""The CSCA trust store: master lists, single certificates, link certificates and CRLs.

Rules (docs/document-authenticity.md):
- A master list (ICAO 9303-12 section 9: CMS SignedData, eContent id-icao-cscaMasterList) is
  trusted only when its signature verifies and its signer is one of the configured roots or is
  certified by one; then every certificate in it becomes a CSCA (self-issued) or link entry.
- A single self-issued certificate must verify with its own key; any other certificate (a
  link certificate) must verify with a CSCA already in the store or in the same import.
- A CRL must verify with the key of a stored CSCA whose subject is the CRL issuer.
- Entries can be listed, marked expired (no longer trusted, kept for audit) and removed.

The store is a directory: ``index.json`` plus ``certs/<sha256>.der`` and ``crls/<sha256>.der``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import cms, core, crl, pem, x509

from gate.emrtd.cms import signeddata
from gate.emrtd.crypto import certs
from gate.emrtd.crypto.certs import same_name
from gate.emrtd.docauth_errors import (
    DER_ERRORS,
    CertificateError,
    DocAuthError,
    MasterListError,
    TrustStoreError,
    raise_if_bug,
)

OID_CSCA_MASTER_LIST = "2.23.136.1.1.2"


class CertificateSet(core.SetOf):
    _child_spec = x509.Certificate


class CscaMasterList(core.Sequence):
    _fields = [  # noqa: RUF012 (asn1crypto's declarative API)
        ("version", core.Integer),
        ("cert_list", CertificateSet),
    ]


@dataclass
class TrustEntry:
    id: str
    kind: str  # "csca", "link", "crl"
    country: str
    subject: str
    serial: str
    not_before: str
    not_after: str
    source: str
    imported_at: str
    expired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportReport:
    source: str
    kind: str
    added: list[str] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now_iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds")


def _fp(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class StoreSnapshot:
    """A trust store as data: the index (one dict per :class:`TrustEntry`) and the DER of
    every certificate and CRL by entry id."""

    index: list[dict[str, Any]]
    objects: dict[str, bytes]


class TrustStore:
    """In-memory store; ``gate.truststore.load_store`` / ``save_store`` keep it in a
    directory (this core does no file I/O)."""

    def __init__(self) -> None:
        self.entries: dict[str, TrustEntry] = {}
        self._certs: dict[str, x509.Certificate] = {}
        self._crls: dict[str, crl.CertificateList] = {}

    # ----------------------------------------------------------------- persistence
    # Pure: the files a store is kept in are read and written by gate/truststore.py.

    def snapshot(self) -> StoreSnapshot:
        """Everything needed to keep the store: its index and each object's DER."""
        objects = {eid: cert.dump() for eid, cert in self._certs.items()}
        objects.update({eid: lst.dump() for eid, lst in self._crls.items()})
        return StoreSnapshot([e.to_dict() for e in self.entries.values()], objects)

    @classmethod
    def from_snapshot(cls, snapshot: StoreSnapshot, *, source: str = "trust store") -> TrustStore:
        """The store a snapshot describes; :class:`TrustStoreError` when it is damaged."""
        store = cls()
        names = {f.name for f in fields(TrustEntry)}
        required = {f.name for f in fields(TrustEntry) if f.default is MISSING}
        try:
            for item in snapshot.index:
                if not isinstance(item, dict) or not required <= set(item) <= names:
                    raise TrustStoreError(f"{source} has a malformed index entry: {item!r}")
                entry = TrustEntry(**item)
                der = snapshot.objects.get(entry.id)
                if der is None:
                    raise TrustStoreError(f"{source} lists {entry.id} but holds no such file")
                store._add_object(entry, der)
        except TrustStoreError:
            raise
        except (*DER_ERRORS, DocAuthError) as exc:
            raise_if_bug(exc)
            raise TrustStoreError(
                f"{source} is damaged ({exc}); remove it and import again"
            ) from exc
        return store

    def _add_object(self, entry: TrustEntry, der: bytes) -> None:
        if entry.kind == "crl":
            self._crls[entry.id] = crl.CertificateList.load(der)
        else:
            self._certs[entry.id] = certs.load_certificate(der, source=entry.source)
        self.entries[entry.id] = entry

    def merge(self, other: TrustStore) -> None:
        """Add every entry of ``other`` (e.g. several store directories at once)."""
        self.entries.update(other.entries)
        self._certs.update(other._certs)
        self._crls.update(other._crls)

    # ----------------------------------------------------------------- queries

    def certificates(self, *, include_expired: bool = False) -> list[x509.Certificate]:
        return [
            c for eid, c in self._certs.items() if include_expired or not self.entries[eid].expired
        ]

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """Active CSCA/link certificates whose subject is ``cert``'s issuer, best first."""
        aki = certs.authority_key_identifier(cert)
        found = [c for c in self.certificates() if same_name(c.subject, cert.issuer)]

        def rank(c: x509.Certificate) -> tuple[int, int]:
            key_match = 0 if aki and certs.key_identifier(c) == aki else 1
            return (key_match, 0 if certs.is_self_issued(c) else 1)

        return sorted(found, key=rank)

    def crls_for(self, issuer: x509.Certificate) -> list[crl.CertificateList]:
        out = []
        for eid, lst in self._crls.items():
            if self.entries[eid].expired:
                continue
            if same_name(lst.issuer, issuer.subject):
                out.append(lst)
        return out

    def entry_for(self, cert: x509.Certificate) -> TrustEntry | None:
        return self.entries.get(_fp(cert.dump()))

    def list_entries(self) -> list[TrustEntry]:
        return sorted(self.entries.values(), key=lambda e: (e.country, e.kind, e.not_after))

    def expiry_warnings(self, now: datetime, days: int = 90) -> list[str]:
        horizon = now + timedelta(days=days)
        out = []
        for e in self.list_entries():
            if e.expired:
                continue
            end = datetime.fromisoformat(e.not_after)
            label = f"{e.kind} {e.id[:16]} ({e.country}, {e.subject})"
            if end < now:
                out.append(f"{label} expired on {end.date()}")
            elif end <= horizon:
                out.append(f"{label} expires on {end.date()} (within {days} days)")
        return out

    # ----------------------------------------------------------------- changes

    def _find(self, prefix: str) -> TrustEntry:
        matches = [e for eid, e in self.entries.items() if eid.startswith(prefix.lower())]
        if len(matches) != 1:
            raise TrustStoreError(
                f"entry id {prefix!r} matches {len(matches)} entries: give more of the id "
                "shown by 'egate trust list'"
            )
        return matches[0]

    def remove(self, prefix: str) -> TrustEntry:
        entry = self._find(prefix)
        del self.entries[entry.id]
        self._certs.pop(entry.id, None)
        self._crls.pop(entry.id, None)
        return entry

    def expire(self, prefix: str) -> TrustEntry:
        entry = self._find(prefix)
        entry.expired = True
        return entry

    def add_certificate(
        self, cert: x509.Certificate, *, kind: str, source: str, now: datetime
    ) -> str | None:
        der = cert.dump()
        eid = _fp(der)
        if eid in self.entries:
            return None
        entry = TrustEntry(
            id=eid,
            kind=kind,
            country=certs.country_of(cert.subject),
            subject=cert.subject.human_friendly,
            serial=format(cert.serial_number, "x"),
            not_before=certs.not_before(cert).isoformat(),
            not_after=certs.not_after(cert).isoformat(),
            source=source,
            imported_at=_now_iso(now),
        )
        self._certs[eid] = cert
        self.entries[eid] = entry
        return eid

    # ----------------------------------------------------------------- imports

    def import_bytes(
        self,
        data: bytes,
        *,
        source: str,
        now: datetime,
        master_list_roots: Iterable[x509.Certificate] = (),
        anchor: bool = False,
    ) -> ImportReport:
        """Import a master list, certificate(s) (DER/PEM) or a CRL, recognised by content.

        ``anchor``: the operator vouches for these certificates, so a link certificate is
        accepted even when the CSCA that signed it is not in the store."""
        kind = detect_kind(data)
        try:
            if kind == "master_list":
                return self._import_master_list(data, source, now, list(master_list_roots))
            if kind == "crl":
                return self._import_crl(data, source, now)
            return self._import_certificates(data, source, now, anchor)
        except DER_ERRORS as exc:
            raise_if_bug(exc)
            raise TrustStoreError(
                f"{source}: {kind.replace('_', ' ')} cannot be decoded ({type(exc).__name__}: "
                f"{exc}); check the file is complete"
            ) from exc

    def _import_certificates(
        self, data: bytes, source: str, now: datetime, anchor: bool = False
    ) -> ImportReport:
        report = ImportReport(source=source, kind="certificate")
        batch = certs.load_certificates(data, source=source)
        if anchor:
            for cert in batch:
                anchor_kind = self._classify(cert) or "link"
                if self.add_certificate(cert, kind=anchor_kind, source=source, now=now):
                    report.added.append(_fp(cert.dump()))
                else:
                    report.duplicates += 1
            return report
        pending = list(batch)
        # Self-issued first; link certificates may depend on certificates of the same batch.
        for _ in range(len(pending) + 1):
            progress = False
            for cert in list(pending):
                kind = self._classify(cert)
                if kind is None:
                    continue
                pending.remove(cert)
                progress = True
                if self.add_certificate(cert, kind=kind, source=source, now=now):
                    report.added.append(_fp(cert.dump()))
                else:
                    report.duplicates += 1
            if not progress:
                break
        for cert in pending:
            report.rejected.append(
                f"{cert.subject.human_friendly}: signed by {cert.issuer.human_friendly}, whose "
                "certificate is not in the trust store; import the issuing CSCA first"
            )
        return report

    def _classify(self, cert: x509.Certificate) -> str | None:
        """'csca' when self-signed, 'link' when a stored CSCA signed it, else None."""
        try:
            if _self_signed(cert):
                return "csca"
            for issuer in self.issuers_of(cert):
                if certs.verify_certificate(cert, certs.cert_public_key(issuer)):
                    return "link"
        except CertificateError:
            return None
        return None

    def _import_crl(self, data: bytes, source: str, now: datetime) -> ImportReport:
        report = ImportReport(source=source, kind="crl")
        lst = load_crl(data, source=source)
        issuers = [c for c in self.certificates() if same_name(c.subject, lst.issuer)]
        signer = None
        for issuer in issuers:
            try:
                if certs.verify_crl(lst, issuer):
                    signer = issuer
                    break
            except CertificateError:
                continue
        if signer is None:
            report.rejected.append(
                f"CRL of {lst.issuer.human_friendly}: no stored CSCA verifies its signature; "
                "import the CSCA first"
            )
            return report
        der = lst.dump()
        eid = _fp(der)
        if eid in self.entries:
            report.duplicates += 1
            return report
        tbs = lst["tbs_cert_list"]
        next_update = tbs["next_update"].native
        self._crls[eid] = lst
        self.entries[eid] = TrustEntry(
            id=eid,
            kind="crl",
            country=certs.country_of(lst.issuer),
            subject=lst.issuer.human_friendly,
            serial=str(len(tbs["revoked_certificates"])),
            not_before=tbs["this_update"].native.isoformat(),
            not_after=(next_update or tbs["this_update"].native).isoformat(),
            source=source,
            imported_at=_now_iso(now),
        )
        report.added.append(eid)
        return report

    def _import_master_list(
        self, data: bytes, source: str, now: datetime, roots: list[x509.Certificate]
    ) -> ImportReport:
        report = ImportReport(source=source, kind="master_list")
        cert_list = verify_master_list(data, roots, source=source)
        for listed in cert_list:
            try:
                cert = certs.load_certificate(listed.dump(), source=source)
                certs.summarize(cert)
            except (DocAuthError, *DER_ERRORS) as exc:
                raise_if_bug(exc)
                report.rejected.append(f"unreadable certificate in master list: {exc}")
                continue
            kind = "csca" if _self_signed(cert) else "link"
            if self.add_certificate(cert, kind=kind, source=source, now=now):
                report.added.append(_fp(cert.dump()))
            else:
                report.duplicates += 1
        return report


def _self_signed(cert: x509.Certificate) -> bool:
    try:
        return certs.is_self_issued(cert) and certs.verify_certificate(
            cert, certs.cert_public_key(cert)
        )
    except CertificateError:
        return False


def detect_kind(data: bytes) -> str:
    """'master_list', 'crl' or 'certificate' (also for garbage: parsing then says why)."""
    der = data
    if pem.detect(data):
        try:
            kind, _h, der = pem.unarmor(data)
        except ValueError:
            return "certificate"
        if kind == "X509 CRL":
            return "crl"
        return "certificate"
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native == "signed_data":
            return "master_list"
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        pass
    try:
        lst = crl.CertificateList.load(der)
        if (
            "revoked_certificates" in lst["tbs_cert_list"]
            and lst["tbs_cert_list"]["this_update"].native
        ):
            return "crl"
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        pass
    return "certificate"


def load_crl(data: bytes, *, source: str) -> crl.CertificateList:
    der = pem.unarmor(data)[2] if pem.detect(data) else data
    try:
        lst = crl.CertificateList.load(der, strict=True)
        _ = lst.issuer.native, lst["tbs_cert_list"]["this_update"].native
        _ = [r["user_certificate"].native for r in lst["tbs_cert_list"]["revoked_certificates"]]
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise TrustStoreError(f"{source}: not a DER/PEM CRL ({exc})") from exc
    return lst


def revoked_serials(lst: crl.CertificateList) -> set[int]:
    return {int(r["user_certificate"].native) for r in lst["tbs_cert_list"]["revoked_certificates"]}


def verify_master_list(
    data: bytes, roots: list[x509.Certificate], *, source: str = "master list"
) -> list[x509.Certificate]:
    """The certificates of a CSCA master list whose signature chains to one of ``roots``."""
    if not roots:
        raise MasterListError(
            f"{source}: no master-list root configured; give the certificate of the state that "
            "signs the list (--ml-root FILE or [trust] master_list_roots)"
        )
    try:
        info = cms.ContentInfo.load(data, strict=True)
        signed = info["content"]
        econtent_type = signed["encap_content_info"]["content_type"].dotted
        econtent = bytes(signed["encap_content_info"]["content"])
        signer = signed["signer_infos"][0]
        embedded = signeddata.embedded_certificates(signed)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise MasterListError(f"{source}: not a CMS SignedData master list ({exc})") from exc
    if econtent_type != OID_CSCA_MASTER_LIST:
        raise MasterListError(
            f"{source}: eContent type {econtent_type} is not id-icao-cscaMasterList "
            f"({OID_CSCA_MASTER_LIST})"
        )
    try:
        match = signeddata.find_signer([*embedded, *roots], signer["sid"])
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise MasterListError(f"{source}: the SignerInfo cannot be decoded ({exc})") from exc
    if match is None:
        raise MasterListError(f"{source}: the master-list signer certificate is not included")
    ml_signer = match.certificate
    _verify_cms_signer(signer, econtent, ml_signer, source)
    root_ok = False
    for root in roots:
        if ml_signer.dump() == root.dump():
            root_ok = True
            break
        if same_name(ml_signer.issuer, root.subject):
            try:
                if certs.verify_certificate(ml_signer, certs.cert_public_key(root)):
                    root_ok = True
                    break
            except CertificateError:
                continue
    if not root_ok:
        raise MasterListError(
            f"{source}: signer {ml_signer.subject.human_friendly} is not certified by any "
            "configured master-list root; nothing was imported"
        )
    try:
        ml = CscaMasterList.load(econtent)
        return list(ml["cert_list"])
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise MasterListError(f"{source}: CscaMasterList cannot be decoded ({exc})") from exc


def _verify_cms_signer(
    signer: cms.SignerInfo, econtent: bytes, cert: x509.Certificate, source: str
) -> None:
    digest_name = str(signer["digest_algorithm"]["algorithm"].native)
    attributes = signeddata.signed_attributes(signer)
    if attributes is not None:
        md = attributes.message_digest
        if md is None or md != certs.digest(digest_name, econtent):
            raise MasterListError(f"{source}: message digest does not match the content")
        data = attributes.der
    else:
        data = econtent
    if not certs.verify_signature(
        certs.cert_public_key(cert),
        signer["signature_algorithm"],
        bytes(signer["signature"].native),
        data,
        digest_hint=digest_name,
    ):
        raise MasterListError(f"{source}: the master-list signature does not verify")
