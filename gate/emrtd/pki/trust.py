"""The trust store: CSCAs, link certificates, Document Signers, CRLs and master lists.

Rules (docs/document-authenticity.md):
- A master list (ICAO 9303-12 section 9: CMS SignedData, eContent id-icao-cscaMasterList) is
  trusted only when its signature verifies, its signer carries the master-list-signer extended
  key usage and is one of the configured roots or is certified by one; then every self-signed
  certificate in it becomes a CSCA and every CA certificate a link.
- A self-signed CSCA outside a master list is trusted only out of band: the caller confirms its
  SHA-256 fingerprint (``confirm``; ``None`` means the caller vouches for what it passes).
- Only CSCAs and link certificates (CA certificates that a stored CSCA key certified) issue.
  Any other certificate is a Document Signer: kept in the DSC store, where passive
  authentication finds the signer of an EF.SOD that does not embed it, never an issuer.
- A CRL must verify with the key of a stored CSCA or link certificate of its issuer; delta CRLs
  are refused (9303-12 section 7.1.4).
- ICAO PKD downloads (LDIF) are split into their certificates, CRLs and master lists.
- Entries can be listed, marked expired (no longer trusted, kept for audit) and removed.

The store is a directory: ``index.json`` plus ``certs/<sha256>.der`` and ``crls/<sha256>.der``
(gate/truststore.py); here it is data only. DSCs are parsed when first used, so loading a
PKD-sized store costs a digest per file and a parse of the issuers and CRLs only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
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
from gate.emrtd.pki import ldif, profiles
from gate.emrtd.pki.revocation import crl_profile_problem, revoked_serials  # noqa: F401 (API)

OID_CSCA_MASTER_LIST = "2.23.136.1.1.2"


class CertificateSet(core.SetOf):
    _child_spec = x509.Certificate


class CscaMasterList(core.Sequence):
    _fields = [  # noqa: RUF012 (asn1crypto's declarative API)
        ("version", core.Integer),
        ("cert_list", CertificateSet),
    ]


ISSUER_KINDS = ("csca", "link")
KINDS = ("csca", "link", "dsc", "crl")


@dataclass
class TrustEntry:
    id: str
    kind: str  # "csca", "link", "dsc", "crl"
    country: str
    subject: str
    serial: str
    not_before: str
    not_after: str
    source: str
    imported_at: str
    expired: bool = False
    key_id: str = ""  # subjectKeyIdentifier (hex) of a certificate, to find a DSC by it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportReport:
    source: str
    kind: str
    added: list[str] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)
    """SHA-256 fingerprints of self-signed CSCAs that wait for an out-of-band confirmation."""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def absorb(self, other: ImportReport) -> None:
        self.added += other.added
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.unconfirmed += other.unconfirmed
        self.warnings += other.warnings


def _now_iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds")


def _fp(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _name_key(name: x509.Name) -> frozenset[bytes]:
    """Names equal up to the order of their RDNs (as :func:`certs.same_name`) share a key."""
    try:
        return frozenset(r.dump() for r in name.chosen)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        return frozenset({name.dump()})


@dataclass(frozen=True)
class StoreSnapshot:
    """A trust store as data: the index (one dict per :class:`TrustEntry`) and the DER of
    every certificate and CRL by entry id. ``names`` (optional) names each object's file in
    error messages."""

    index: list[dict[str, Any]]
    objects: dict[str, bytes]
    names: dict[str, str] = field(default_factory=dict)


class TrustStore:
    """In-memory trust pool (:class:`gate.emrtd.pki.trustpool.TrustPool`);
    ``gate.truststore.load_store`` / ``save_store`` keep it in a directory (this core does no
    file I/O)."""

    def __init__(self) -> None:
        self.entries: dict[str, TrustEntry] = {}
        self._der: dict[str, bytes] = {}
        self._parsed: dict[str, x509.Certificate | crl.CertificateList] = {}
        self._by_name: dict[str, dict[frozenset[bytes], list[str]]] | None = None
        self._dsc_by_serial: dict[str, list[str]] = {}
        self._dsc_by_key_id: dict[str, list[str]] = {}

    # ----------------------------------------------------------------- persistence
    # Pure: the files a store is kept in are read and written by gate/truststore.py.

    def snapshot(self) -> StoreSnapshot:
        """Everything needed to keep the store: its index and each object's DER."""
        return StoreSnapshot([e.to_dict() for e in self.entries.values()], dict(self._der))

    @classmethod
    def from_snapshot(cls, snapshot: StoreSnapshot, *, source: str = "trust store") -> TrustStore:
        """The store a snapshot describes; :class:`TrustStoreError` when it is damaged: an
        object whose SHA-256 is not its id (a replaced or truncated file) is named."""
        store = cls()
        names = {f.name for f in fields(TrustEntry)}
        required = {f.name for f in fields(TrustEntry) if f.default is MISSING}
        for item in snapshot.index:
            if not isinstance(item, dict) or not required <= set(item) <= names:
                raise TrustStoreError(f"{source} has a malformed index entry: {item!r}")
            entry = TrustEntry(**item)
            if entry.kind not in KINDS:
                raise TrustStoreError(f"{source}: entry {entry.id} has unknown kind {entry.kind!r}")
            der = snapshot.objects.get(entry.id)
            where = snapshot.names.get(entry.id, entry.id)
            if der is None:
                raise TrustStoreError(f"{source} lists {where} but holds no such file")
            if _fp(der) != entry.id:
                raise TrustStoreError(
                    f"{source}: {where} does not match its name (SHA-256 {_fp(der)[:16]}..., "
                    f"{len(der)} bytes): the file was replaced or truncated; remove the store "
                    "and import again"
                )
            store._put(entry, der)
        return store

    def _put(self, entry: TrustEntry, der: bytes, parsed: Any = None) -> None:
        self.entries[entry.id] = entry
        self._der[entry.id] = der
        if parsed is not None:
            self._parsed[entry.id] = parsed
        if entry.kind == "dsc":
            self._dsc_by_serial.setdefault(entry.serial.lower(), []).append(entry.id)
            if entry.key_id:
                self._dsc_by_key_id.setdefault(entry.key_id.lower(), []).append(entry.id)
        else:
            self._by_name = None  # DSCs are not in the name index

    def _drop(self, eid: str) -> None:
        entry = self.entries.pop(eid)
        self._der.pop(eid, None)
        self._parsed.pop(eid, None)
        for index, key in (
            (self._dsc_by_serial, entry.serial.lower()),
            (self._dsc_by_key_id, entry.key_id.lower()),
        ):
            if eid in index.get(key, []):
                index[key].remove(eid)
        self._by_name = None

    def merge(self, other: TrustStore) -> None:
        """Add every entry of ``other`` (e.g. several store directories at once)."""
        for eid, entry in other.entries.items():
            if eid not in self.entries:
                self._put(entry, other._der[eid], other._parsed.get(eid))

    def _cert(self, eid: str) -> x509.Certificate:
        cached = self._parsed.get(eid)
        if cached is None:
            cached = certs.load_certificate(self._der[eid], source=f"trust store entry {eid}")
            self._parsed[eid] = cached
        assert isinstance(cached, x509.Certificate)
        return cached

    def _crl(self, eid: str) -> crl.CertificateList:
        cached = self._parsed.get(eid)
        if cached is None:
            cached = load_crl(self._der[eid], source=f"trust store entry {eid}")
            self._parsed[eid] = cached
        assert isinstance(cached, crl.CertificateList)
        return cached

    def prepare(self) -> TrustStore:
        """Parse the issuers and CRLs and index them now rather than at the first document
        (about 0.1 s for a PKD-sized store); DSCs stay unparsed until one is needed."""
        self._names()
        return self

    def _names(self) -> dict[str, dict[frozenset[bytes], list[str]]]:
        """Active issuers (kind csca/link) and CRLs by the name key of subject / issuer."""
        if self._by_name is None:
            issuers: dict[frozenset[bytes], list[str]] = {}
            crls: dict[frozenset[bytes], list[str]] = {}
            for eid, entry in self.entries.items():
                if entry.expired:
                    continue
                if entry.kind in ISSUER_KINDS:
                    issuers.setdefault(_name_key(self._cert(eid).subject), []).append(eid)
                elif entry.kind == "crl":
                    crls.setdefault(_name_key(self._crl(eid).issuer), []).append(eid)
            self._by_name = {"issuers": issuers, "crls": crls}
        return self._by_name

    # ----------------------------------------------------------------- queries

    def certificates(self, *, include_expired: bool = False) -> list[x509.Certificate]:
        """The issuers: CSCA and link certificates (DSCs are not trust anchors)."""
        return [
            self._cert(eid)
            for eid, e in self.entries.items()
            if e.kind in ISSUER_KINDS and (include_expired or not e.expired)
        ]

    def dscs(self) -> list[x509.Certificate]:
        return [self._cert(eid) for eid, e in self.entries.items() if e.kind == "dsc"]

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """Active CSCA/link certificates whose subject is ``cert``'s issuer, best first."""
        aki = certs.authority_key_identifier(cert)
        found = [
            self._cert(eid) for eid in self._names()["issuers"].get(_name_key(cert.issuer), [])
        ]

        def rank(c: x509.Certificate) -> tuple[int, int]:
            key_match = 0 if aki and certs.key_identifier(c) == aki else 1
            return (key_match, 0 if certs.is_self_issued(c) else 1)

        return sorted(found, key=rank)

    def same_subject(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """Active CSCA/link certificates with ``cert``'s subject (its key history)."""
        return [
            self._cert(eid) for eid in self._names()["issuers"].get(_name_key(cert.subject), [])
        ]

    def crls_for(self, issuer: x509.Certificate) -> list[crl.CertificateList]:
        """Active CRLs whose issuer is ``issuer``'s subject (signatures are not checked here)."""
        return [self._crl(eid) for eid in self._names()["crls"].get(_name_key(issuer.subject), [])]

    def find_dsc(
        self,
        *,
        issuer: x509.Name | None = None,
        serial: int | None = None,
        key_id: bytes | None = None,
    ) -> x509.Certificate | None:
        """The stored Document Signer a SignerInfo names (issuer and serial, or key id)."""
        if serial is not None and issuer is not None:
            for eid in self._dsc_by_serial.get(format(serial, "x"), []):
                cert = self._cert(eid)
                if cert.serial_number == serial and same_name(cert.issuer, issuer):
                    return cert
        if key_id:
            for eid in self._dsc_by_key_id.get(key_id.hex(), []):
                return self._cert(eid)
        return None

    def entry_for(self, cert: x509.Certificate) -> TrustEntry | None:
        return self.entries.get(_fp(cert.dump()))

    def list_entries(self) -> list[TrustEntry]:
        return sorted(self.entries.values(), key=lambda e: (e.country, e.kind, e.not_after))

    def expiry_warnings(self, now: datetime, days: int = 90) -> list[str]:
        horizon = now + timedelta(days=days)
        out = []
        for e in self.list_entries():
            if e.expired or e.kind == "dsc":
                continue
            end = datetime.fromisoformat(e.not_after)
            label = f"{e.kind} {e.id[:16]} ({e.country}, {e.subject})"
            if end < now:
                out.append(f"{label} expired on {end.date()}")
            elif end <= horizon:
                out.append(f"{label} expires on {end.date()} (within {days} days)")
        return out

    def summary(self, now: datetime) -> dict[str, Any]:
        """Counts per country and kind, and the age of the newest CRL of each CSCA name."""
        counts: dict[str, dict[str, int]] = {}
        newest: dict[str, TrustEntry] = {}
        for e in self.entries.values():
            per = counts.setdefault(e.country or "??", {})
            per[e.kind] = per.get(e.kind, 0) + 1
            if e.kind == "crl" and not e.expired:
                best = newest.get(e.subject)
                if best is None or e.not_before > best.not_before:
                    newest[e.subject] = e
        crls = []
        for subject, e in sorted(newest.items()):
            issued = datetime.fromisoformat(e.not_before)
            crls.append(
                {
                    "issuer": subject,
                    "country": e.country,
                    "this_update": e.not_before,
                    "next_update": e.not_after,
                    "age_days": round((now - issued).total_seconds() / 86400, 1),
                    "stale": datetime.fromisoformat(e.not_after) < now,
                }
            )
        return {"counts": dict(sorted(counts.items())), "newest_crls": crls}

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
        self._drop(entry.id)
        return entry

    def expire(self, prefix: str) -> TrustEntry:
        entry = self._find(prefix)
        entry.expired = True
        self._by_name = None
        return entry

    def add_certificate(
        self, cert: x509.Certificate, *, kind: str, source: str, now: datetime
    ) -> str | None:
        der = cert.dump()
        eid = _fp(der)
        if eid in self.entries:
            return None
        key_id = certs.key_identifier(cert)
        entry = TrustEntry(
            id=eid,
            kind=kind,
            country=certs.country_of(cert.subject) or certs.country_of(cert.issuer),
            subject=cert.subject.human_friendly,
            serial=format(cert.serial_number, "x"),
            not_before=certs.not_before(cert).isoformat(),
            not_after=certs.not_after(cert).isoformat(),
            source=source,
            imported_at=_now_iso(now),
            key_id=key_id.hex() if key_id else "",
        )
        self._put(entry, der, cert)
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
        confirm: Collection[str] | None = None,
    ) -> ImportReport:
        """Import a master list, certificate(s) (DER/PEM), a CRL or an ICAO PKD LDIF file,
        recognised by content.

        ``confirm``: the SHA-256 fingerprints (hex) of self-signed CSCAs the operator checked
        out of band; others are reported in ``unconfirmed`` and not trusted. ``None``: the
        caller vouches for every certificate it passes (tests, files given on a command line).
        ``anchor``: a link certificate whose issuing CSCA is not in the store is accepted
        (under the same confirmation)."""
        kind = detect_kind(data)
        roots = list(master_list_roots)
        try:
            if kind == "ldif":
                return self._import_ldif(data, source, now, roots, confirm)
            if kind == "master_list":
                return self._import_master_list(data, source, now, roots)
            if kind == "crl":
                return self._import_crl(data, source, now)
            return self._import_certificates(data, source, now, anchor, confirm)
        except DER_ERRORS as exc:
            raise_if_bug(exc)
            raise TrustStoreError(
                f"{source}: {kind.replace('_', ' ')} cannot be decoded ({type(exc).__name__}: "
                f"{exc}); check the file is complete"
            ) from exc

    def _import_ldif(
        self,
        data: bytes,
        source: str,
        now: datetime,
        roots: list[x509.Certificate],
        confirm: Collection[str] | None,
    ) -> ImportReport:
        report = ImportReport(source=source, kind="ldif")
        records = ldif.parse(data, source=source)
        if not any(r.certificates or r.crls or r.master_lists for r in records):
            report.rejected.append(
                f"{source}: no PKD entry (userCertificate;binary, certificateRevocationList;"
                "binary or pkdMasterListContent) in this LDIF file"
            )
        # Master lists first (they bring the CSCAs), then certificates, then CRLs (which need
        # their CSCA), whatever the order of the entries in the file.
        for part in ("master_lists", "certificates", "crls"):
            for record in records:
                label = f"{source} ({record.dn})"
                for der in getattr(record, part):
                    try:
                        if part == "master_lists":
                            found = self._import_master_list(der, label, now, roots)
                        elif part == "certificates":
                            found = self._import_certificates(der, label, now, False, confirm)
                        else:
                            found = self._import_crl(der, label, now)
                    except DocAuthError as exc:
                        report.rejected.append(str(exc))
                        continue
                    except DER_ERRORS as exc:
                        raise_if_bug(exc)
                        report.rejected.append(f"{label}: cannot be decoded ({exc})")
                        continue
                    report.absorb(found)
        return report

    def _import_certificates(
        self,
        data: bytes,
        source: str,
        now: datetime,
        anchor: bool = False,
        confirm: Collection[str] | None = None,
    ) -> ImportReport:
        report = ImportReport(source=source, kind="certificate")
        pending = certs.load_certificates(data, source=source)

        def add(cert: x509.Certificate, kind: str) -> None:
            if self.add_certificate(cert, kind=kind, source=source, now=now):
                report.added.append(_fp(cert.dump()))
            else:
                report.duplicates += 1

        def confirmed(cert: x509.Certificate, what: str) -> bool:
            fp = _fp(cert.dump())
            if confirm is None or fp in {c.lower() for c in confirm} or fp in self.entries:
                return True
            report.unconfirmed.append(fp)
            report.rejected.append(
                f"{cert.subject.human_friendly}: {what} SHA-256 {fp} is trusted only out of "
                "band: compare the fingerprint with the issuing state's, then import again "
                f"with --confirm {fp}"
            )
            return False

        # Self-signed first: link certificates may depend on CSCAs of the same batch.
        for cert in list(pending):
            if _self_signed(cert):
                pending.remove(cert)
                if profiles.extensions(cert).ca is False:
                    report.rejected.append(
                        f"{cert.subject.human_friendly}: self-signed but not a CA certificate "
                        "(basicConstraints cA is false)"
                    )
                elif confirmed(cert, "self-signed CSCA"):
                    add(cert, "csca")
        for cert in list(pending):
            if not profiles.is_ca(cert):
                pending.remove(cert)
                add(cert, "dsc")  # a Document Signer: found by PA, never an issuer
        for _ in range(len(pending) + 1):
            progress = False
            for cert in list(pending):
                if self._certified_by_store(cert):
                    pending.remove(cert)
                    progress = True
                    add(cert, "link")
            if not progress:
                break
        for cert in pending:
            if anchor:
                if confirmed(cert, "link certificate without its issuer,"):
                    add(cert, "link")
                continue
            report.rejected.append(
                f"{cert.subject.human_friendly}: link certificate signed by "
                f"{cert.issuer.human_friendly}, whose certificate is not in the trust store; "
                "import the issuing CSCA first"
            )
        return report

    def _certified_by_store(self, cert: x509.Certificate) -> bool:
        for issuer in self.issuers_of(cert):
            try:
                if certs.verify_certificate(cert, certs.cert_public_key(issuer)):
                    return True
            except CertificateError:
                continue
        return False

    def _import_crl(self, data: bytes, source: str, now: datetime) -> ImportReport:
        report = ImportReport(source=source, kind="crl")
        lst = load_crl(data, source=source)
        problem = crl_profile_problem(lst)
        if problem:
            report.rejected.append(f"CRL of {lst.issuer.human_friendly}: {problem}")
            return report
        issuers = [
            self._cert(eid) for eid in self._names()["issuers"].get(_name_key(lst.issuer), [])
        ]
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
        entry = TrustEntry(
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
        self._put(entry, der, lst)
        report.added.append(eid)
        if next_update is not None and next_update < now:
            report.warnings.append(
                f"CRL of {lst.issuer.human_friendly} is past its nextUpdate "
                f"({next_update.date()}): fetch a current one"
            )
        return report

    def _import_master_list(
        self, data: bytes, source: str, now: datetime, roots: list[x509.Certificate]
    ) -> ImportReport:
        report = ImportReport(source=source, kind="master_list")
        verified = verify_master_list_signed(data, roots, source=source, now=now)
        report.warnings += verified.warnings
        for listed in verified.certificates:
            try:
                cert = certs.load_certificate(listed.dump(), source=source)
                certs.summarize(cert)
            except (DocAuthError, *DER_ERRORS) as exc:
                raise_if_bug(exc)
                report.rejected.append(f"unreadable certificate in master list: {exc}")
                continue
            if _self_signed(cert):
                kind = "csca"
            elif profiles.is_ca(cert):
                kind = "link"
            else:
                report.rejected.append(
                    f"{cert.subject.human_friendly} (serial {cert.serial_number:x}): neither "
                    "self-signed nor a CA certificate; a master list carries CSCAs only"
                )
                continue
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
    """'ldif', 'master_list', 'crl' or 'certificate' (also for garbage: parsing then says
    why)."""
    if ldif.looks_like_ldif(data):
        return "ldif"
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


@dataclass(frozen=True)
class VerifiedMasterList:
    certificates: list[x509.Certificate]
    signer: x509.Certificate
    warnings: list[str]


def verify_master_list(
    data: bytes, roots: list[x509.Certificate], *, source: str = "master list"
) -> list[x509.Certificate]:
    """The certificates of a CSCA master list whose signature chains to one of ``roots``."""
    return verify_master_list_signed(data, roots, source=source).certificates


def verify_master_list_signed(
    data: bytes,
    roots: list[x509.Certificate],
    *,
    source: str = "master list",
    now: datetime | None = None,
) -> VerifiedMasterList:
    """A CSCA master list checked: signature, signer certified by one of ``roots`` and
    carrying the master-list-signer extended key usage (9303-12 table 8). A signer expired
    at ``now`` is a warning: the list stays as good as when it was signed."""
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
    if not profiles.has_eku(ml_signer, profiles.OID_MASTER_LIST_SIGNER_EKU):
        raise MasterListError(
            f"{source}: signer {ml_signer.subject.human_friendly} lacks the master-list-signer "
            f"extended key usage ({profiles.OID_MASTER_LIST_SIGNER_EKU}); nothing was imported"
        )
    warnings = []
    if now is not None and not certs.valid_at(ml_signer, now):
        warnings.append(
            f"{source}: master-list signer {ml_signer.subject.human_friendly} is outside its "
            f"validity ({certs.not_before(ml_signer).date()} to "
            f"{certs.not_after(ml_signer).date()}); the list was accepted as signed"
        )
    try:
        ml = CscaMasterList.load(econtent)
        return VerifiedMasterList(list(ml["cert_list"]), ml_signer, warnings)
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
