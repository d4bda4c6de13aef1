"""Certificates, public keys and signature verification for eMRTD PKI objects.

Parsing is done with asn1crypto (which accepts everything states actually issue); the
mathematics with ``cryptography``. Keys whose EC domain parameters are encoded explicitly
(AT, DE, FI, RU, UK... sign with explicit brainpool parameters; OpenSSL 3 refuses them) are
matched against the named curves in :mod:`gate.emrtd.crypto.curves` and verified with that curve.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

from asn1crypto import algos, core, crl, keys, pem, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa, utils

from gate.emrtd.crypto import ecmath, signatures
from gate.emrtd.crypto.curves import BY_NAME, CURVES, CurveParams
from gate.emrtd.docauth_errors import (
    DER_ERRORS,
    CertificateParseError,
    UnknownCurveError,
    UnsupportedAlgorithmError,
    raise_if_bug,
)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | dsa.DSAPublicKey

# Named-curve OIDs (SEC 2, RFC 5639) -> our curve names.
CURVE_OIDS: dict[str, str] = {
    "1.2.840.10045.3.1.1": "secp192r1",
    "1.3.132.0.33": "secp224r1",
    "1.2.840.10045.3.1.7": "secp256r1",
    "1.3.132.0.34": "secp384r1",
    "1.3.132.0.35": "secp521r1",
    "1.3.36.3.3.2.8.1.1.3": "brainpoolP192r1",
    "1.3.36.3.3.2.8.1.1.5": "brainpoolP224r1",
    "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
    "1.3.36.3.3.2.8.1.1.9": "brainpoolP320r1",
    "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
    "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
}
CURVE_NAME_TO_OID = {v: k for k, v in CURVE_OIDS.items()}

# The curves of curves.py that `cryptography` (OpenSSL) verifies and generates keys on.
CRYPTOGRAPHY_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp192r1": ec.SECP192R1,
    "secp224r1": ec.SECP224R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

# BSI TR-03111 ecdsa-plain-signatures (r || s instead of DER).
_ECDSA_PLAIN = {
    "0.4.0.127.0.7.1.1.4.1.1": "sha1",
    "0.4.0.127.0.7.1.1.4.1.2": "sha224",
    "0.4.0.127.0.7.1.1.4.1.3": "sha256",
    "0.4.0.127.0.7.1.1.4.1.4": "sha384",
    "0.4.0.127.0.7.1.1.4.1.5": "sha512",
}


def hash_for(name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[name]()
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"hash algorithm {name!r} is not supported: expected one of {sorted(_HASHES)}"
        ) from None


def digest(name: str, data: bytes) -> bytes:
    """The hash of ``data`` with a hash named as asn1crypto names it (sha1, sha256...)."""
    if name not in _HASHES:
        raise UnsupportedAlgorithmError(
            f"hash algorithm {name!r} is not supported: expected one of {sorted(_HASHES)}"
        )
    return hashlib.new(name, data).digest()


# --------------------------------------------------------------------------- certificates


def load_certificates(data: bytes, *, source: str = "input") -> list[x509.Certificate]:
    """Every certificate in DER or PEM ``data`` (a PEM file may hold several)."""
    try:
        if pem.detect(data):
            return [_load_der(der, source) for kind, _h, der in pem.unarmor(data, multiple=True)]
    except ValueError as exc:
        raise CertificateParseError(f"{source}: PEM armour is broken ({exc})") from exc
    return [_load_der(data, source)]


def load_certificate(data: bytes, *, source: str = "input") -> x509.Certificate:
    certs = load_certificates(data, source=source)
    if len(certs) != 1:
        raise CertificateParseError(f"{source}: expected one certificate, found {len(certs)}")
    return certs[0]


def _load_der(der: bytes, source: str) -> x509.Certificate:
    try:
        cert = x509.Certificate.load(der, strict=True)
        # Touch the fields we rely on so that broken encodings fail here, not later.
        _ = cert.subject.native, cert.issuer.native, cert.serial_number
        _ = cert["tbs_certificate"]["validity"].native
        _ = cert["signature_algorithm"]["algorithm"].dotted, cert["signature_value"].native
        _ = cert.public_key["algorithm"]["algorithm"].dotted
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise CertificateParseError(
            f"{source}: not a DER X.509 certificate ({type(exc).__name__}: {exc}); "
            "check that the file is a certificate (DER or PEM) and not truncated"
        ) from exc
    return cert


def country_of(name: x509.Name) -> str:
    """The countryName attribute (upper-case alpha-2) or '' when there is none."""
    try:
        for rdn in name.chosen:
            for atv in rdn:
                if atv["type"].native == "country_name":
                    return str(atv["value"].native).strip().upper()
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        return ""
    return ""


def not_before(cert: x509.Certificate) -> datetime:
    value: datetime = cert["tbs_certificate"]["validity"]["not_before"].native
    return value


def not_after(cert: x509.Certificate) -> datetime:
    value: datetime = cert["tbs_certificate"]["validity"]["not_after"].native
    return value


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def same_name(a: x509.Name, b: x509.Name) -> bool:
    """Name equality, also when a state lists the same RDNs in another order."""
    if a == b:
        return True
    try:
        return {r.dump() for r in a.chosen} == {r.dump() for r in b.chosen}
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        return False


def key_identifier(cert: x509.Certificate) -> bytes | None:
    try:
        kid = cert.key_identifier
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        return None
    return bytes(kid) if kid else None


def authority_key_identifier(cert: x509.Certificate) -> bytes | None:
    try:
        kid = cert.authority_key_identifier
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        return None
    return bytes(kid) if kid else None


def _ascii_name_key(name: x509.Name) -> tuple[tuple[tuple[str, bytes], ...], ...] | None:
    """The name as RFC 4518 string preparation leaves a printable-ASCII one (case folded,
    inner whitespace collapsed, outer stripped); None when an attribute is not printable
    ASCII (then asn1crypto's full preparation decides)."""
    rdns = []
    for rdn in name.chosen:
        atvs = []
        for atv in rdn:
            value = atv["value"]
            raw = (value.chosen if isinstance(value, core.Choice) else value).contents or b""
            if any(b < 0x20 or b > 0x7E for b in raw):
                return None
            atvs.append((atv["type"].dotted, b" ".join(raw.lower().split())))
        rdns.append(tuple(sorted(atvs)))
    return tuple(rdns)


def is_self_issued(cert: x509.Certificate) -> bool:
    """Subject equals issuer (RFC 5280 name matching); fast for the usual ASCII names, which
    matters when a PKD import classifies 20,000 certificates."""
    subject, issuer = cert.subject, cert.issuer
    if subject.dump() == issuer.dump():
        return True
    try:
        a, b = _ascii_name_key(subject), _ascii_name_key(issuer)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        a = b = None
    if a is not None and b is not None:
        return a == b
    return bool(subject == issuer)


@dataclass(frozen=True)
class CertSummary:
    """What an officer or operator needs to know about a certificate."""

    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    country: str
    key: str
    fingerprint_sha256: str

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def describe_key(info: keys.PublicKeyInfo) -> str:
    try:
        algo = info["algorithm"]["algorithm"].native
        if algo in ("rsa", "rsassa_pss"):
            bits = int(_rsa_numbers(info).n).bit_length()
            return f"RSA-{bits}" + (" (PSS)" if algo == "rsassa_pss" else "")
        if algo == "ec":
            params = info["algorithm"]["parameters"]
            if params.name == "named":
                return f"EC {CURVE_OIDS.get(params.chosen.dotted, params.chosen.dotted)}"
            curve = curve_from_parameters(params)
            return f"EC {curve.name} (explicit parameters)"
        return str(algo)
    except (*DER_ERRORS, UnknownCurveError) as exc:
        raise_if_bug(exc)
        return "unrecognised key"


def summarize(cert: x509.Certificate) -> CertSummary:
    return CertSummary(
        subject=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"),
        not_before=not_before(cert).isoformat(),
        not_after=not_after(cert).isoformat(),
        country=country_of(cert.subject),
        key=describe_key(cert.public_key),
        fingerprint_sha256=fingerprint(cert),
    )


def valid_at(cert: x509.Certificate, when: datetime | date) -> bool:
    moment = as_datetime(when)
    return not_before(cert) <= moment <= not_after(cert)


def as_datetime(when: datetime | date) -> datetime:
    """An aware datetime: naive ones are taken as UTC, a bare date as its noon UTC."""
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime(when.year, when.month, when.day, 12, tzinfo=UTC)


# --------------------------------------------------------------------------- public keys


def curve_from_parameters(params: keys.ECDomainParameters) -> CurveParams:
    """The named curve that ``params`` (named or explicit) stands for."""
    if not isinstance(params, keys.ECDomainParameters):
        raise UnknownCurveError(
            f"EC key without domain parameters (found {type(params).__name__}): "
            "ICAO 9303 keys name their curve or carry explicit parameters"
        )
    if params.name == "named":
        dotted = params.chosen.dotted
        name = CURVE_OIDS.get(dotted)
        if name is None:
            raise UnknownCurveError(f"EC curve {dotted} is not one that eMRTDs use")
        return BY_NAME[name]
    if params.name != "specified":
        raise UnknownCurveError("EC key with implicitly-CA parameters cannot be verified")
    spec = params.chosen
    try:
        p = int(spec["field_id"]["parameters"].native)
        a = int.from_bytes(spec["curve"]["a"].native, "big")
        b = int.from_bytes(spec["curve"]["b"].native, "big")
        n = int(spec["order"].native)
        base = bytes(spec["base"].native)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise UnknownCurveError(f"explicit EC parameters are malformed ({exc})") from exc
    if spec["field_id"]["field_type"].native != "prime_field":
        raise UnknownCurveError("explicit EC parameters over a binary field are not supported")
    for curve in CURVES:
        if (curve.p, curve.a, curve.b, curve.n) == (p, a, b, n) and _base_x(
            base, curve
        ) == curve.gx:
            return curve
    raise UnknownCurveError(
        f"explicit EC parameters (p of {p.bit_length()} bits) match none of "
        f"{', '.join(c.name for c in CURVES)}"
    )


def _base_x(base: bytes, curve: CurveParams) -> int | None:
    size = curve.byte_length
    if len(base) == 1 + 2 * size and base[0] == 4:
        return int.from_bytes(base[1 : 1 + size], "big")
    if len(base) == 1 + size and base[0] in (2, 3):
        return int.from_bytes(base[1:], "big")
    return None


def ec_public_key(point: bytes, curve: CurveParams) -> ec.EllipticCurvePublicKey:
    cls = CRYPTOGRAPHY_CURVES.get(curve.name)
    try:
        if cls is None:  # brainpoolP192r1, P224r1, P320r1: the project's own arithmetic
            return ecmath.EcPublicKey.from_point(curve, point)
        return ec.EllipticCurvePublicKey.from_encoded_point(cls(), point)
    except ValueError as exc:
        raise CertificateParseError(f"EC public point is not on {curve.name} ({exc})") from exc


def _rsa_numbers(info: keys.PublicKeyInfo) -> rsa.RSAPublicNumbers:
    raw = info["public_key"].contents
    if not raw:
        raise CertificateParseError("RSA public key is empty")
    parsed = keys.RSAPublicKey.load(raw[1:])
    return rsa.RSAPublicNumbers(
        int(parsed["public_exponent"].native), int(parsed["modulus"].native)
    )


def public_key(info: keys.PublicKeyInfo) -> PublicKey:
    """A ``cryptography`` public key from a SubjectPublicKeyInfo, explicit EC curves included."""
    try:
        algo = info["algorithm"]["algorithm"].native
        if algo in ("rsa", "rsassa_pss"):
            return _rsa_numbers(info).public_key()
        if algo == "ec":
            curve = curve_from_parameters(info["algorithm"]["parameters"])
            raw = info["public_key"].contents
            return ec_public_key(raw[1:], curve)
        if algo == "dsa":
            return signatures.dsa_public_key(info)
    except (UnknownCurveError, CertificateParseError):
        raise
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise CertificateParseError(f"public key cannot be decoded ({exc})") from exc
    raise UnsupportedAlgorithmError(f"public key algorithm {algo!r} is not supported")


OID_RSA = "1.2.840.113549.1.1.1"
OID_RSASSA_PSS = "1.2.840.113549.1.1.10"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"


class _AlgorithmIdentifier(core.Sequence):
    _fields = [  # noqa: RUF012
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _RawSpki(core.Sequence):
    """SubjectPublicKeyInfo without asn1crypto's algorithm table (which lacks PKCS#3 DH and
    raises KeyError for an OID it does not know)."""

    _fields = [  # noqa: RUF012
        ("algorithm", _AlgorithmIdentifier),
        ("public_key", core.OctetBitString),
    ]


@dataclass(frozen=True)
class SpkiParts:
    """A SubjectPublicKeyInfo split into its parts, whatever the algorithm."""

    algorithm: str  # dotted OID
    parameters: bytes | None  # DER of the algorithm parameters; None when absent
    key: bytes  # the subjectPublicKey bits


def split_spki(spki_der: bytes) -> SpkiParts:
    """The one SubjectPublicKeyInfo reader: DG15 (AA), DG14 (CA, DH keys included) and
    certificates' keys all start here."""
    try:
        info = _RawSpki.load(spki_der, strict=True)
        algorithm = info["algorithm"]["algorithm"].dotted
        params = info["algorithm"]["parameters"]
        parameters = None if isinstance(params, core.Void) else params.dump()
        key = bytes(info["public_key"].native)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise CertificateParseError(f"not a SubjectPublicKeyInfo ({exc})") from exc
    return SpkiParts(algorithm, parameters, key)


def public_key_from_der(spki_der: bytes) -> PublicKey:
    algorithm = split_spki(spki_der).algorithm
    if algorithm not in (OID_RSA, OID_RSASSA_PSS, OID_EC_PUBLIC_KEY):
        raise UnsupportedAlgorithmError(f"public key algorithm {algorithm} is not supported")
    try:
        info = keys.PublicKeyInfo.load(spki_der, strict=True)
        _ = info["algorithm"]["algorithm"].native
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise CertificateParseError(f"not a SubjectPublicKeyInfo ({exc})") from exc
    return public_key(info)


# --------------------------------------------------------------------------- signatures


def signature_hash(algorithm: algos.SignedDigestAlgorithm, digest_hint: str | None) -> str:
    dotted = algorithm["algorithm"].dotted
    if dotted in _ECDSA_PLAIN:
        return _ECDSA_PLAIN[dotted]
    try:
        return str(algorithm.hash_algo)
    except ValueError:
        if digest_hint:
            return digest_hint
        raise UnsupportedAlgorithmError(
            f"signature algorithm {algorithm['algorithm'].native} names no hash"
        ) from None


def verify_signature(
    key: PublicKey,
    algorithm: algos.SignedDigestAlgorithm,
    signature: bytes,
    data: bytes,
    *,
    digest_hint: str | None = None,
) -> bool:
    """True when ``signature`` over ``data`` verifies; raises for unsupported algorithms."""
    try:
        return _verify(key, algorithm, signature, data, digest_hint)
    except DER_ERRORS as exc:
        raise_if_bug(exc)
        raise UnsupportedAlgorithmError(
            f"signature algorithm parameters cannot be used ({type(exc).__name__}: {exc})"
        ) from exc


def _verify(
    key: PublicKey,
    algorithm: algos.SignedDigestAlgorithm,
    signature: bytes,
    data: bytes,
    digest_hint: str | None,
) -> bool:
    dotted = algorithm["algorithm"].dotted
    try:
        kind = "ecdsa" if dotted in _ECDSA_PLAIN else algorithm.signature_algo
    except ValueError:
        raise UnsupportedAlgorithmError(
            f"signature algorithm {algorithm['algorithm'].native} is not supported"
        ) from None
    if kind == "rsassa_pss":
        params = algorithm["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1":
            raise UnsupportedAlgorithmError("RSA-PSS with a mask generation other than MGF1")
        mgf_hash = mgf["parameters"]["algorithm"].native
        salt = int(params["salt_length"].native)
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        try:
            key.verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(hash_for(mgf_hash)), salt_length=salt),
                hash_for(hash_name),
            )
        except InvalidSignature:
            return False
        return True
    hash_name = signature_hash(algorithm, digest_hint)
    if kind == "rsassa_pkcs1v15":
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        return signatures.verify_pkcs1v15(key, signature, data, hash_for(hash_name))
    if kind == "dsa":
        if not isinstance(key, dsa.DSAPublicKey):
            return False
        return signatures.verify_dsa(key, signature, data, hash_for(hash_name))
    if kind == "ecdsa":
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        der = _ecdsa_der(signature, key, plain=dotted in _ECDSA_PLAIN)
        if der is None:
            return False
        try:
            key.verify(der, data, ec.ECDSA(hash_for(hash_name)))
        except InvalidSignature:
            return False
        return True
    raise UnsupportedAlgorithmError(f"signature algorithm {kind!r} is not supported")


def _ecdsa_der(signature: bytes, key: ec.EllipticCurvePublicKey, *, plain: bool) -> bytes | None:
    """Re-encode an ECDSA signature as minimal DER (accepts plain r||s and lax DER)."""
    size = (key.curve.key_size + 7) // 8
    if plain or (len(signature) == 2 * size and signature[:1] != b"\x30"):
        if len(signature) % 2:
            return None
        half = len(signature) // 2
        r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    else:
        try:
            parsed = algos.DSASignature.load(signature)
            r, s = int(parsed["r"].native), int(parsed["s"].native)
        except DER_ERRORS as exc:
            raise_if_bug(exc)
            return None
    if r <= 0 or s <= 0:
        return None
    return utils.encode_dss_signature(r, s)


def verify_certificate(cert: x509.Certificate, issuer_key: PublicKey) -> bool:
    """Whether ``cert`` was signed by ``issuer_key``."""
    return verify_signature(
        issuer_key,
        cert["signature_algorithm"],
        bytes(cert["signature_value"].native),
        cert["tbs_certificate"].dump(),
    )


def verify_crl(crl_: crl.CertificateList, issuer: x509.Certificate) -> bool:
    """Whether the CRL was signed by the key of ``issuer`` (a CSCA)."""
    return verify_signature(
        cert_public_key(issuer),
        crl_["signature_algorithm"],
        bytes(crl_["signature"].native),
        crl_["tbs_cert_list"].dump(),
    )


def cert_public_key(cert: x509.Certificate) -> PublicKey:
    return public_key(cert.public_key)
