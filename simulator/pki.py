"""A test eMRTD PKI: CSCAs, link certificates, Document Signers, CRLs, master lists and EF.SOD.

Certificates are assembled with asn1crypto and signed with ``cryptography`` so that we can
also issue what ``cryptography`` cannot: keys with EXPLICIT brainpool domain parameters, as
AT, DE, FI, RU and UK do. Everything here is for tests and the simulator only: keys live in
memory and are not protected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

from asn1crypto import algos, cms, crl, keys, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gate.emrtd.cms.sod import OID_LDS_SECURITY_OBJECT, SOD_TAG, LDSSecurityObject
from gate.emrtd.crypto.certs import CRYPTOGRAPHY_CURVES, CURVE_NAME_TO_OID, hash_for
from gate.emrtd.crypto.curves import BY_NAME
from gate.emrtd.iso7816 import tlv
from gate.emrtd.pki.trust import OID_CSCA_MASTER_LIST, CscaMasterList
from simulator.chip.builder import spki

KeyKind = Literal[
    "rsa2048", "rsa3072", "rsa4096", "p256", "p384", "brainpoolP256r1", "brainpoolP384r1"
]
Scheme = Literal["pkcs1", "pss", "ecdsa"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_CURVE_NAMES = {
    "p256": "secp256r1",
    "p384": "secp384r1",
    "brainpoolP256r1": "brainpoolP256r1",
    "brainpoolP384r1": "brainpoolP384r1",
}


def new_key(kind: KeyKind) -> PrivateKey:
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    return ec.generate_private_key(CRYPTOGRAPHY_CURVES[_CURVE_NAMES[kind]]())


def public_key_info(key: PrivateKey, *, explicit: bool = False) -> keys.PublicKeyInfo:
    """SubjectPublicKeyInfo; ``explicit`` spells EC domain parameters out (no curve OID)."""
    info = keys.PublicKeyInfo.load(spki(key))
    if not explicit or not isinstance(key, ec.EllipticCurvePrivateKey):
        return info
    return keys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": explicit_parameters(key.curve.name),
            },
            "public_key": key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            ),
        }
    )


def explicit_parameters(curve_name: str) -> keys.ECDomainParameters:
    """Explicit (specifiedCurve) encoding of a named curve, as some states issue it."""
    c = BY_NAME[curve_name]
    size = c.byte_length
    return keys.ECDomainParameters(
        name="specified",
        value=keys.SpecifiedECDomain(
            {
                "version": "ecdpVer1",
                "field_id": {"field_type": "prime_field", "parameters": c.p},
                "curve": {"a": c.a.to_bytes(size, "big"), "b": c.b.to_bytes(size, "big")},
                "base": b"\x04" + c.gx.to_bytes(size, "big") + c.gy.to_bytes(size, "big"),
                "order": c.n,
                "cofactor": c.h,
            }
        ),
    )


def sign(
    key: PrivateKey, data: bytes, scheme: Scheme, hash_name: str = "sha256"
) -> tuple[algos.SignedDigestAlgorithm, bytes]:
    """Signature and its AlgorithmIdentifier."""
    h = hash_for(hash_name)
    if scheme == "ecdsa":
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return (
            algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_ecdsa"}),
            key.sign(data, ec.ECDSA(h)),
        )
    assert isinstance(key, rsa.RSAPrivateKey)
    if scheme == "pss":
        salt = h.digest_size
        alg = algos.SignedDigestAlgorithm(
            {
                "algorithm": "rsassa_pss",
                "parameters": {
                    "hash_algorithm": {"algorithm": hash_name},
                    "mask_gen_algorithm": {
                        "algorithm": "mgf1",
                        "parameters": {"algorithm": hash_name},
                    },
                    "salt_length": salt,
                },
            }
        )
        pss = padding.PSS(mgf=padding.MGF1(hash_for(hash_name)), salt_length=salt)
        sig = key.sign(data, pss, h)
        return alg, sig
    return algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_rsa"}), key.sign(
        data, padding.PKCS1v15(), h
    )


def name(country: str, common_name: str, org: str = "Egate Test PKI") -> x509.Name:
    return x509.Name.build(
        {"country_name": country, "organization_name": org, "common_name": common_name}
    )


def _time(when: datetime) -> x509.Time:
    if when.year >= 2050:
        return x509.Time(name="general_time", value=when)
    return x509.Time(name="utc_time", value=when)


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key and the signature scheme that key uses."""

    cert: x509.Certificate
    key: PrivateKey
    scheme: Scheme

    @property
    def der(self) -> bytes:
        return bytes(self.cert.dump())


def _key_id(info: keys.PublicKeyInfo) -> bytes:
    return hashlib.sha1(bytes(info["public_key"].contents[1:])).digest()


def issue(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: Issued | None,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    explicit: bool = False,
    scheme: Scheme | None = None,
    hash_name: str = "sha256",
    key_usage: set[str] | None = None,
    extra_extensions: Sequence[Mapping[str, object]] = (),
) -> Issued:
    """Issue a certificate for ``key``; ``issuer`` None makes it self-signed. ``key_usage``
    replaces the profile's (an empty set drops the extension); ``extra_extensions`` are added
    as given (asn1crypto Extension dicts), e.g. a DocumentTypeList or an EKU."""
    own_scheme: Scheme = (
        scheme
        if scheme is not None
        else ("ecdsa" if isinstance(key, ec.EllipticCurvePrivateKey) else "pkcs1")
    )
    info = public_key_info(key, explicit=explicit)
    signer_key = issuer.key if issuer else key
    signer_scheme = issuer.scheme if issuer else own_scheme
    signer_info = issuer.cert.public_key if issuer else info
    usage = (
        key_usage
        if key_usage is not None
        else ({"key_cert_sign", "crl_sign"} if ca else {"digital_signature"})
    )
    extensions: list[Mapping[str, object]] = [
        *([{"extn_id": "key_usage", "critical": True, "extn_value": usage}] if usage else []),
        {"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(info)},
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": _key_id(signer_info)},
        },
    ]
    if ca:
        extensions.insert(
            0,
            {
                "extn_id": "basic_constraints",
                "critical": True,
                "extn_value": {"ca": True, "path_len_constraint": 0},
            },
        )
    extensions += extra_extensions
    # The AlgorithmIdentifier must be known before signing: sign a dummy to get it.
    alg, _ = sign(signer_key, b"", signer_scheme, hash_name)
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": alg,
            "issuer": issuer.cert.subject if issuer else subject,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": subject,
            "subject_public_key_info": info,
            "extensions": extensions,
        }
    )
    alg, signature = sign(signer_key, tbs.dump(), signer_scheme, hash_name)
    cert = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": alg, "signature_value": signature}
    )
    # Round-trip so that the object is exactly what a parser of the DER would see.
    return Issued(x509.Certificate.load(cert.dump()), key, own_scheme)


def make_csca(
    kind: KeyKind,
    *,
    country: str,
    now: datetime,
    common_name: str | None = None,
    years: int = 15,
    explicit: bool = False,
    serial: int = 1,
    scheme: Scheme | None = None,
) -> Issued:
    return issue(
        subject=name(country, common_name or f"CSCA {country} test {kind}"),
        key=new_key(kind),
        issuer=None,
        serial=serial,
        not_before=now - timedelta(days=30),
        not_after=now + timedelta(days=365 * years),
        ca=True,
        explicit=explicit,
        scheme=scheme,
    )


def make_dsc(
    csca: Issued,
    kind: KeyKind,
    *,
    now: datetime,
    serial: int,
    scheme: Scheme | None = None,
    explicit: bool = False,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    country: str | None = None,
) -> Issued:
    from gate.emrtd.crypto.certs import country_of

    country = country or country_of(csca.cert.subject)
    return issue(
        subject=name(country, f"DS {country} test {kind}{'-' + scheme if scheme else ''} {serial}"),
        key=new_key(kind),
        issuer=csca,
        serial=serial,
        not_before=not_before or now - timedelta(days=10),
        not_after=not_after or now + timedelta(days=365 * 11),
        ca=False,
        explicit=explicit,
        scheme=scheme,
    )


def make_ml_signer(csca: Issued, *, now: datetime, serial: int) -> Issued:
    """A master-list signer: certified by ``csca``, with the master-list-signer EKU
    (2.23.136.1.1.3, 9303-12 table 8)."""
    country = csca.cert.subject.native.get("country_name", "UT")
    return issue(
        subject=name(country, f"Master List Signer {country} {serial}"),
        key=new_key("p256"),
        issuer=csca,
        serial=serial,
        not_before=now - timedelta(days=10),
        not_after=now + timedelta(days=365 * 3),
        ca=False,
        extra_extensions=[
            {"extn_id": "extended_key_usage", "critical": False, "extn_value": ["2.23.136.1.1.3"]}
        ],
    )


def make_link(old: Issued, new: Issued, *, now: datetime, serial: int) -> x509.Certificate:
    """A link certificate: the new CSCA subject and key, certified by the old CSCA key."""
    linked = issue(
        subject=new.cert.subject,
        key=new.key,
        issuer=old,
        serial=serial,
        not_before=certs_not_before(new.cert),
        not_after=now + timedelta(days=365 * 10),
        ca=True,
        scheme=new.scheme,
    )
    return linked.cert


def certs_not_before(cert: x509.Certificate) -> datetime:
    value: datetime = cert["tbs_certificate"]["validity"]["not_before"].native
    return value


def make_crl(
    csca: Issued,
    revoked: Sequence[int],
    *,
    this_update: datetime,
    next_update: datetime,
    extensions: Sequence[Mapping[str, object]] = (),
) -> bytes:
    """A complete CRL of ``csca`` (``extensions``: crl_extensions, e.g. a delta indicator)."""
    alg, _ = sign(csca.key, b"", csca.scheme)
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": alg,
            "issuer": csca.cert.subject,
            "this_update": _time(this_update),
            "next_update": _time(next_update),
            "revoked_certificates": [
                {"user_certificate": serial, "revocation_date": _time(this_update)}
                for serial in revoked
            ],
            **({"crl_extensions": list(extensions)} if extensions else {}),
        }
    )
    alg, signature = sign(csca.key, tbs.dump(), csca.scheme)
    return bytes(
        crl.CertificateList(
            {"tbs_cert_list": tbs, "signature_algorithm": alg, "signature": signature}
        ).dump()
    )


def signed_data(
    econtent_type: str,
    econtent: bytes,
    signer: Issued,
    *,
    hash_name: str = "sha256",
    signing_time: datetime | None = None,
    extra_certificates: Sequence[x509.Certificate] = (),
    embed_signer: bool = True,
) -> cms.ContentInfo:
    """CMS SignedData v3 with signed attributes, as ICAO 9303-10 prescribes for EF.SOD."""
    digest = hashlib.new(hash_name, econtent).digest()
    attrs: list[dict[str, object]] = [
        {"type": "content_type", "values": [econtent_type]},
    ]
    if signing_time is not None:
        attrs.append(
            {"type": "signing_time", "values": [cms.Time(name="utc_time", value=signing_time)]}
        )
    attrs.append({"type": "message_digest", "values": [digest]})
    signed_attrs = cms.CMSAttributes(attrs)
    embedded = [*([signer.cert] if embed_signer else []), *extra_certificates]
    alg, signature = sign(signer.key, signed_attrs.dump(), signer.scheme, hash_name)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={
                    "issuer": signer.cert.issuer,
                    "serial_number": signer.cert.serial_number,
                },
            ),
            "digest_algorithm": {"algorithm": hash_name},
            "signed_attrs": signed_attrs,
            "signature_algorithm": alg,
            "signature": signature,
        }
    )
    sd = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": hash_name}],
            "encap_content_info": {"content_type": econtent_type, "content": econtent},
            **({"certificates": embedded} if embedded else {}),
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": sd})


def sign_master_list(
    signer: Issued, certificates: Sequence[x509.Certificate], *, signing_time: datetime
) -> bytes:
    ml = CscaMasterList({"version": 0, "cert_list": list(certificates)})
    return bytes(
        signed_data(OID_CSCA_MASTER_LIST, ml.dump(), signer, signing_time=signing_time).dump()
    )


def build_sod(
    data_groups: Mapping[int, bytes],
    dsc: Issued,
    *,
    hash_name: str = "sha256",
    lds_version: str | None = "0108",
    unicode_version: str = "040000",
    signing_time: datetime | None = None,
    embed_signer: bool = True,
) -> bytes:
    """EF.SOD over ``data_groups`` (number -> full DG file), signed by ``dsc``; without
    ``embed_signer`` the DSC is left out (as in some states' SODs: the PKD publishes it)."""
    value: dict[str, object] = {
        "version": 1 if lds_version else 0,
        "hash_algorithm": {"algorithm": hash_name},
        "data_group_hash_values": [
            {
                "data_group_number": n,
                "data_group_hash_value": hashlib.new(hash_name, data_groups[n]).digest(),
            }
            for n in sorted(data_groups)
        ],
    }
    if lds_version:
        value["lds_version_info"] = {
            "lds_version": lds_version,
            "unicode_version": unicode_version,
        }
    lds = LDSSecurityObject(value)
    info = signed_data(
        OID_LDS_SECURITY_OBJECT,
        lds.dump(),
        dsc,
        hash_name=hash_name,
        signing_time=signing_time,
        embed_signer=embed_signer,
    )
    return tlv.encode(SOD_TAG, bytes(info.dump()))


def curve_oid(kind: KeyKind) -> str:
    return CURVE_NAME_TO_OID[_CURVE_NAMES[kind]]


@dataclass(frozen=True)
class CountryPki:
    """One country's PKI with a DSC of every kind the benchmark and tests need."""

    country: str
    csca_rsa: Issued
    csca_ec_explicit: Issued
    dsc_rsa2048: Issued
    dsc_rsa3072: Issued
    dsc_rsa_pss: Issued
    dsc_p256: Issued
    dsc_brainpool_explicit: Issued

    @property
    def cscas(self) -> tuple[Issued, Issued]:
        return (self.csca_rsa, self.csca_ec_explicit)


def make_test_pki(now: datetime, country: str = "UT") -> CountryPki:
    """A CSCA with RSA-3072 and one with EXPLICIT brainpoolP256r1 parameters, and DSCs."""
    csca_rsa = make_csca("rsa3072", country=country, now=now, serial=1)
    csca_bp = make_csca(
        "brainpoolP256r1",
        country=country,
        now=now,
        explicit=True,
        serial=2,
        common_name=f"CSCA {country} test brainpool explicit",
    )
    return CountryPki(
        country=country,
        csca_rsa=csca_rsa,
        csca_ec_explicit=csca_bp,
        dsc_rsa2048=make_dsc(csca_rsa, "rsa2048", now=now, serial=0x1001),
        dsc_rsa3072=make_dsc(csca_rsa, "rsa3072", now=now, serial=0x1002),
        dsc_rsa_pss=make_dsc(csca_rsa, "rsa2048", now=now, serial=0x1003, scheme="pss"),
        dsc_p256=make_dsc(csca_rsa, "p256", now=now, serial=0x1004),
        dsc_brainpool_explicit=make_dsc(
            csca_bp, "brainpoolP256r1", now=now, serial=0x1005, explicit=True
        ),
    )


TEST_PKI_EPOCH = datetime(2026, 1, 15, tzinfo=UTC)
"""The moment the shared test PKI is made at (its certificates are valid around it)."""


@lru_cache(maxsize=1)
def shared_test_pki() -> CountryPki:
    """One test PKI per process (making RSA-3072 keys is slow), made at TEST_PKI_EPOCH."""
    return make_test_pki(TEST_PKI_EPOCH)
