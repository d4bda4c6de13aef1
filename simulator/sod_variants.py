"""Chip images and virtual chips that behave like real documents the lane must not mistake
for clones (issue 19 item 4, issue 20 items 1-3): AA keys on curves ``cryptography`` lacks,
ECDSA AA without ActiveAuthenticationInfo, INTERNAL AUTHENTICATE answers cut by a short Le or
missing for an extended one, a bare 6988, and chips that do not return listed data groups.

The wrappers subclass the virtual chip (:class:`simulator.chip.card.VirtualChip`) and change
one command only; everything else stays the genuine chip's behaviour.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from asn1crypto import algos, cms, keys, x509
from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from gate.emrtd.cms.sod import OID_LDS_SECURITY_OBJECT, SOD_TAG, LDSSecurityObject
from gate.emrtd.crypto import certs, ecmath
from gate.emrtd.crypto.curves import BY_NAME
from gate.emrtd.iso7816 import tlv
from gate.emrtd.iso7816.apdu import CommandAPDU, ResponseAPDU
from gate.emrtd.lds import lds, securityinfos
from simulator import passports, pki
from simulator.chip.card import VirtualChip
from simulator.chip.image import ChipImage

# --------------------------------------------------------------------------- pure-Python ECDSA


@dataclass(frozen=True)
class EcSigningKey:
    """An ECDSA key on any curve of :mod:`gate.emrtd.crypto.curves`, for chips whose AA key is
    on a curve ``cryptography`` cannot sign with (brainpoolP320r1, Dutch passports)."""

    curve_name: str
    d: int

    @classmethod
    def generate(cls, curve_name: str) -> EcSigningKey:
        n = BY_NAME[curve_name].n
        return cls(curve_name, secrets.randbelow(n - 1) + 1)

    @property
    def point(self) -> bytes:
        c = ecmath.curve(self.curve_name)
        return c.encode_point(c.mul(self.d, c.g))

    def spki(self) -> bytes:
        return keys.PublicKeyInfo(
            {
                "algorithm": {
                    "algorithm": "ec",
                    "parameters": ("named", certs.CURVE_NAME_TO_OID[self.curve_name]),
                },
                "public_key": self.point,
            }
        ).dump()

    def sign(self, message: bytes, hash_name: str) -> bytes:
        """Plain r || s (BSI TR-03111) over ``message``."""
        c = ecmath.curve(self.curve_name)
        e = int.from_bytes(hashlib.new(hash_name, message).digest(), "big")
        excess = hashlib.new(hash_name).digest_size * 8 - c.n.bit_length()
        if excess > 0:
            e >>= excess
        while True:
            k = secrets.randbelow(c.n - 1) + 1
            point = c.mul(k, c.g)
            assert point is not None
            r = point[0] % c.n
            s = pow(k, -1, c.n) * (e + r * self.d) % c.n
            if r and s:
                size = (c.n.bit_length() + 7) // 8
                return r.to_bytes(size, "big") + s.to_bytes(size, "big")


# --------------------------------------------------------------------------- chip images


def with_files(image: ChipImage, dsc: pki.Issued, **files: bytes) -> ChipImage:
    """``image`` with data groups replaced and EF.SOD signed again by ``dsc``."""
    updated = {**image.files, **files}
    groups = {int(k[2:]): v for k, v in updated.items() if k.startswith("DG")}
    updated["EF.SOD"] = pki.build_sod(groups, dsc)
    updated["EF.COM"] = passports.ef_com(sorted(groups))
    return replace(image, files=updated)


def without_aa_info(image: ChipImage, dsc: pki.Issued) -> ChipImage:
    """An ECDSA AA chip whose DG14 carries no ActiveAuthenticationInfo (Portuguese ID cards):
    the reader must pick the hash from the key size."""
    return with_files(image, dsc, DG14=passports.dg14(image.ca_key, False))


# --------------------------------------------------------------------------- chip behaviours

Answer = Callable[[CommandAPDU, ResponseAPDU], ResponseAPDU]


@dataclass
class AaChip(VirtualChip):
    """A virtual chip whose answer to INTERNAL AUTHENTICATE goes through ``answer`` (given the
    command, with the Le the reader asked for, and the genuine answer), and which can sign
    with an :class:`EcSigningKey`."""

    answer: Answer | None = None
    ec_key: EcSigningKey | None = None
    ec_hash: str = "sha256"
    bare_sw: int | None = None
    """Answer INTERNAL AUTHENTICATE with this status word without secure messaging."""

    def process(self, raw: bytes) -> bytes:
        if self.bare_sw is not None and self.sm is not None and raw[1:2] == b"\x88":
            self.sm = None
            self.authenticated = False
            return self.bare_sw.to_bytes(2, "big")
        return super().process(raw)

    def _internal_authenticate(self, cmd: CommandAPDU) -> ResponseAPDU:
        if self.ec_key is not None and len(cmd.data) == 8:
            genuine = ResponseAPDU(self.ec_key.sign(cmd.data, self.ec_hash), 0x9000)
        else:
            genuine = super()._internal_authenticate(cmd)
        return self.answer(cmd, genuine) if self.answer else genuine


def truncated_at_short_le(keep: int = 200) -> Answer:
    """9000 with the signature cut to ``keep`` bytes when Le is short (seen with RSA-2048)."""

    def answer(cmd: CommandAPDU, genuine: ResponseAPDU) -> ResponseAPDU:
        if cmd.le is not None and cmd.le <= 256:
            return ResponseAPDU(genuine.data[:keep], 0x9000)
        return genuine

    return answer


def nothing_to_extended_le(then: Answer | None = None) -> Answer:
    """9000 and no data to an extended Le; ``then`` for the short one."""

    def answer(cmd: CommandAPDU, genuine: ResponseAPDU) -> ResponseAPDU:
        if cmd.le is not None and cmd.le > 256:
            return ResponseAPDU(b"", 0x9000)
        return then(cmd, genuine) if then else genuine

    return answer


def ec_aa_passport(
    mrz: str, dsc: pki.Issued, curve_name: str, *, aa_info: bool = True
) -> tuple[ChipImage, EcSigningKey]:
    """A passport whose AA key is on ``curve_name`` (any curve of the table, brainpoolP320r1
    included); serve it with ``AaChip(image, ec_key=key)``."""
    image = passports.build_passport(mrz, dsc, aa_kind=None)
    key = EcSigningKey.generate(curve_name)
    dg14 = passports.dg14(image.ca_key, aa_info)
    return with_files(image, dsc, DG14=dg14, DG15=lds.encode_dg15(key.spki())), key


# --------------------------------------------------------------------------- SOD field encodings


@dataclass(frozen=True)
class SignerSpec:
    """How one SignerInfo of a variant SOD is made (issue 20 item 9)."""

    dsc: pki.Issued
    stored_unsorted: bool = False
    """Store the signed attributes in non-DER order (message digest first) while the signature
    covers their DER encoding (sorted SET OF)."""
    digest_info_without_null: bool = False
    """RSA PKCS#1 v1.5 whose DigestInfo has no NULL hash parameters."""
    dsa: DsaSigner | None = None
    """Sign with this DSA key (the DSC certifies it)."""
    ec_key: EcSigningKey | None = None
    """Sign with this pure-Python ECDSA key (curves ``cryptography`` lacks)."""


@dataclass(frozen=True)
class DsaSigner:
    key: dsa.DSAPrivateKey


def dsa_dsc(csca: pki.Issued, *, now: datetime, serial: int) -> tuple[pki.Issued, DsaSigner]:
    """A DSC with a DSA-2048 key (ICAO 9303-12 allows DSA), issued by ``csca``."""
    key = dsa.generate_private_key(2048)
    country = certs.country_of(csca.cert.subject)
    issued = pki.issue(
        subject=pki.name(country, f"DS {country} test dsa {serial}"),
        key=key,  # type: ignore[arg-type]
        issuer=csca,
        serial=serial,
        not_before=now - timedelta(days=10),
        not_after=now + timedelta(days=365 * 11),
        ca=False,
    )
    return issued, DsaSigner(key)


def ec_dsc(csca: pki.Issued, key: EcSigningKey, *, now: datetime, serial: int) -> pki.Issued:
    """A DSC certifying ``key`` (e.g. brainpoolP224r1, as Lithuania issues), signed by
    ``csca``. The returned ``Issued.key`` is the CSCA's: sign with ``SignerSpec(ec_key=key)``."""
    country = certs.country_of(csca.cert.subject)
    spki = keys.PublicKeyInfo.load(key.spki())
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": pki.sign(csca.key, b"", csca.scheme)[0],
            "issuer": csca.cert.subject,
            "validity": {
                "not_before": x509.Time(name="utc_time", value=now - timedelta(days=10)),
                "not_after": x509.Time(name="utc_time", value=now + timedelta(days=365 * 11)),
            },
            "subject": pki.name(country, f"DS {country} test {key.curve_name} {serial}"),
            "subject_public_key_info": spki,
            "extensions": [
                {"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature"}},
                {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": {"key_identifier": certs.key_identifier(csca.cert)},
                },
            ],
        }
    )
    alg, signature = pki.sign(csca.key, tbs.dump(), csca.scheme)
    cert = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": alg, "signature_value": signature}
    )
    return pki.Issued(x509.Certificate.load(cert.dump()), csca.key, csca.scheme)


_DIGEST_OIDS = {"sha1": "1.3.14.3.2.26", "sha256": "2.16.840.1.101.3.4.2.1"}


def _pkcs1_without_null(key: rsa.RSAPrivateKey, data: bytes, hash_name: str) -> bytes:
    """EMSA-PKCS1-v1_5 (RFC 8017 9.2) with ``DigestInfo ::= SEQ { SEQ { oid }, digest }``."""
    oid = tlv.encode(0x06, securityinfos.encode_oid(_DIGEST_OIDS[hash_name])[2:])
    info = tlv.encode(
        0x30,
        tlv.encode(0x30, oid) + tlv.encode(0x04, hashlib.new(hash_name, data).digest()),
    )
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    em = b"\x00\x01" + b"\xff" * (k - len(info) - 3) + b"\x00" + info
    return pow(int.from_bytes(em, "big"), numbers.d, n).to_bytes(k, "big")


def _signer_info(spec: SignerSpec, econtent: bytes, hash_name: str) -> tuple[bytes, bytes, bytes]:
    """(SignerInfo DER, sorted attributes, stored attributes)."""
    digest = hashlib.new(hash_name, econtent).digest()
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [OID_LDS_SECURITY_OBJECT]},
            {"type": "message_digest", "values": [digest]},
        ]
    )
    signed = attrs.dump()  # asn1crypto sorts the SET OF: the DER encoding
    key = spec.dsa.key if spec.dsa else spec.dsc.key
    if spec.ec_key is not None:
        alg = algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_ecdsa"})
        plain = spec.ec_key.sign(signed, hash_name)
        half = len(plain) // 2
        r, s = int.from_bytes(plain[:half], "big"), int.from_bytes(plain[half:], "big")
        signature = algos.DSASignature({"r": r, "s": s}).dump()
    elif spec.dsa is not None:
        alg = algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_dsa"})
        signature = spec.dsa.key.sign(signed, certs.hash_for(hash_name))
    elif spec.digest_info_without_null:
        assert isinstance(key, rsa.RSAPrivateKey)
        alg = algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_rsa"})
        signature = _pkcs1_without_null(key, signed, hash_name)
    else:
        alg, signature = pki.sign(spec.dsc.key, signed, spec.dsc.scheme, hash_name)
    info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={
                    "issuer": spec.dsc.cert.issuer,
                    "serial_number": spec.dsc.cert.serial_number,
                },
            ),
            "digest_algorithm": {"algorithm": hash_name},
            "signed_attrs": attrs,
            "signature_algorithm": alg,
            "signature": signature,
        }
    ).dump()
    elements = [a.dump() for a in attrs]
    stored = signed
    if spec.stored_unsorted:
        stored = tlv.encode(0x31, b"".join(reversed(elements)))
        assert stored != signed and len(stored) == len(signed)
        # the [0] IMPLICIT SET inside the SignerInfo: same length, other order
        info = info.replace(b"\xa0" + signed[1:], b"\xa0" + stored[1:], 1)
    return info, signed, stored


def variant_sod(
    groups: Mapping[int, bytes], signers: Sequence[SignerSpec], *, hash_name: str = "sha256"
) -> bytes:
    """EF.SOD over ``groups`` with the SignerInfos ``signers`` describes."""
    lds_object = LDSSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": hash_name},
            "data_group_hash_values": [
                {
                    "data_group_number": n,
                    "data_group_hash_value": hashlib.new(hash_name, groups[n]).digest(),
                }
                for n in sorted(groups)
            ],
        }
    ).dump()
    infos = [cms.SignerInfo.load(_signer_info(s, lds_object, hash_name)[0]) for s in signers]
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": hash_name}],
            "encap_content_info": {
                "content_type": OID_LDS_SECURITY_OBJECT,
                "content": lds_object,
            },
            "certificates": [s.dsc.cert for s in signers],
            "signer_infos": infos,
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tlv.encode(SOD_TAG, info.dump())
