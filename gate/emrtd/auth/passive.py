"""Passive authentication (ICAO 9303-11 section 5.1): is the chip's data what the issuing
state signed?

Pure function of the chip's files (a :class:`~gate.emrtd.document.Document`), a trust pool
and the verification time:
1. parse EF.SOD;
2. hash every data group read and compare with the SOD;
3. verify the SignerInfo: messageDigest = hash(LDSSecurityObject), content-type attribute,
   signature over the signed attributes with the Document Signer (DSC) key;
4. find the CSCA (or link certificate) in the trust store whose key verifies the DSC;
5. validity of DSC and CSCA by the configured model, revocation of the DSC by stored CRLs;
6. issuing state of DG1 = country of DSC = country of CSCA;
7. DG1 equals the MRZ used to open the chip; the document has not expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from gate import mrz as gate_mrz
from gate.config import TrustConfig
from gate.emrtd.access.access import normalize_mrz
from gate.emrtd.auth.verdict import AuthenticityVerdict, DataGroupResult
from gate.emrtd.cms.sod import SignerPart, Sod
from gate.emrtd.crypto import certs
from gate.emrtd.docauth_errors import (
    CertificateError,
    DataGroupError,
    SodError,
    UnsupportedAlgorithmError,
)
from gate.emrtd.document import Document
from gate.emrtd.pki import path
from gate.emrtd.pki.trustpool import TrustPool


@dataclass(frozen=True)
class PaPolicy:
    """How strict passive authentication is (see [trust] in config/lane.toml)."""

    validity_model: Literal["shell", "chain"] = "shell"
    require_crl: bool = False
    strict_sod: bool = False
    check_country: bool = True

    @classmethod
    def from_config(cls, trust_config: TrustConfig) -> PaPolicy:
        """The policy of a lane's ``[trust]`` section."""
        return cls(
            validity_model=trust_config.validity_model,
            require_crl=trust_config.require_crl,
            strict_sod=trust_config.strict_sod,
        )


# --------------------------------------------------------------------------- DG1


@dataclass(frozen=True)
class Dg1Facts:
    issuing_state: str
    document_number: str
    date_of_expiry: date | None


def dg1_facts(mrz: str, today: date) -> Dg1Facts:
    """The fields passive authentication needs, read with the MRZ layer (:mod:`gate.mrz`);
    ``today`` decides the century of the expiry date."""
    if len(mrz) not in (90, 72, 88):
        raise DataGroupError(f"MRZ of {len(mrz)} characters is neither TD1, TD2 nor TD3")
    fields = gate_mrz.parse(mrz, today=today).fields
    return Dg1Facts(
        issuing_state=fields.issuing_state or mrz[2:5].replace("<", ""),
        document_number=fields.document_number,
        date_of_expiry=fields.date_of_expiry,
    )


# --------------------------------------------------------------------------- PA


def passive_authenticate(
    document: Document,
    store: TrustPool,
    *,
    at: datetime | date,
    mrz: str | None = None,
    policy: PaPolicy | None = None,
) -> AuthenticityVerdict:
    """The verdict for one document. Never raises for hostile input: every problem becomes a
    finding with a reason code."""
    policy = policy or PaPolicy()
    moment = certs.as_datetime(at)
    verdict = AuthenticityVerdict(checked_at=moment.isoformat())
    try:
        sod = document.sod(strict=policy.strict_sod)
    except SodError as exc:
        verdict.add("PA_SOD_MALFORMED", f"{exc} [{exc.code}]")
        return verdict
    sod = path.with_stored_signer(sod, store)  # a V0 SOD's DSC from the DSC store
    verdict.sod_hash_algorithm = sod.hash_algorithm
    for warning in sod.warnings:
        verdict.add("PA_SOD_WARNING", warning)

    data_groups = document.data_groups
    hashes_ok = _check_data_groups(sod, data_groups, verdict)
    signature_ok = _check_signature(sod, verdict)
    chain_ok = _check_chain(sod, store, moment, policy, verdict)
    country_ok = _check_document(sod, document, mrz, moment, policy, verdict)
    failed = any(f.severity == "fail" for f in verdict.findings)
    if hashes_ok and signature_ok and chain_ok and country_ok and not failed:
        listed = sum(d.status != "not_in_sod" for d in verdict.data_groups)
        matched = sum(d.status == "match" for d in verdict.data_groups)
        verdict.add(
            "PA_OK",
            f"signature valid; {matched} of {listed} data groups verified; SOD signed by "
            f"{verdict.chain[0].subject if verdict.chain else '?'}",
        )
    return verdict


def _check_data_groups(
    sod: Sod, data_groups: Mapping[int, bytes], verdict: AuthenticityVerdict
) -> bool:
    ok = True
    for number in sorted(data_groups):
        content = data_groups[number]
        actual = certs.digest(sod.hash_algorithm, content)
        expected = sod.dg_hashes.get(number)
        if expected is None:
            verdict.data_groups.append(DataGroupResult(number, "not_in_sod", None, actual.hex()))
            verdict.add("PA_DG_NOT_IN_SOD", f"DG{number} was read but EF.SOD has no hash for it")
            ok = False
        elif expected != actual:
            verdict.data_groups.append(
                DataGroupResult(number, "mismatch", expected.hex(), actual.hex())
            )
            verdict.add(
                "PA_DG_HASH_MISMATCH",
                f"DG{number}: {sod.hash_algorithm} {actual.hex()[:16]}... differs from the "
                f"signed {expected.hex()[:16]}...: the data group was altered or belongs to "
                "another document",
            )
            ok = False
        else:
            verdict.data_groups.append(
                DataGroupResult(number, "match", expected.hex(), actual.hex())
            )
    for number in sorted(set(sod.dg_hashes) - set(data_groups)):
        verdict.data_groups.append(
            DataGroupResult(number, "not_read", sod.dg_hashes[number].hex(), None)
        )
    return ok


def _check_signature(sod: Sod, verdict: AuthenticityVerdict) -> bool:
    """Every SignerInfo must verify (ICAO 9303 has one; several are each verified, as gmrtd
    does)."""
    results = [_check_signer(sod, signer, verdict) for signer in sod.signers]
    return bool(results) and all(results)


def _check_signer(sod: Sod, signer: SignerPart, verdict: AuthenticityVerdict) -> bool:
    dsc = signer.signer_certificate
    if dsc is None:
        verdict.add(
            "PA_DSC_MISSING",
            "EF.SOD embeds no certificate matching its SignerInfo; the signature cannot be checked",
        )
        return False
    verdict.chain.append(certs.summarize(dsc))
    try:
        candidates: list[bytes] = [sod.econtent]
        if signer.signed_attributes is not None:
            if signer.content_type_attribute != sod.econtent_type:
                verdict.add(
                    "PA_SIGNATURE_INVALID",
                    f"signed content-type attribute {signer.content_type_attribute} differs "
                    f"from the eContent type {sod.econtent_type}",
                )
                return False
            digest = certs.digest(signer.digest_algorithm, sod.econtent)
            if signer.message_digest_attribute != digest:
                verdict.add(
                    "PA_SIGNATURE_INVALID",
                    "the signed messageDigest does not match the LDSSecurityObject: the list of "
                    "data-group hashes was changed after signing",
                )
                return False
            candidates = [signer.signed_attributes]
            if signer.signed_attributes_sorted is not None:
                candidates.append(signer.signed_attributes_sorted)
        key = certs.cert_public_key(dsc)
        ok = False
        for index, signed in enumerate(candidates):
            if certs.verify_signature(
                key,
                signer.signature_algorithm,
                signer.signature,
                signed,
                digest_hint=signer.digest_algorithm,
            ):
                ok = True
                if index:
                    verdict.add(
                        "PA_SOD_WARNING",
                        "the signature covers the DER re-encoding of the signed attributes "
                        "(sorted SET OF), not the bytes stored in EF.SOD",
                    )
                break
    except UnsupportedAlgorithmError as exc:
        verdict.add("PA_ALGORITHM_UNSUPPORTED", f"SOD signature: {exc}")
        return False
    except CertificateError as exc:
        verdict.add("PA_SIGNATURE_INVALID", f"DSC public key unusable: {exc}")
        return False
    if not ok:
        verdict.add(
            "PA_SIGNATURE_INVALID",
            f"the SOD signature ({signer.signature_algorithm['algorithm'].native}) does not "
            f"verify with the key of DSC {dsc.subject.human_friendly}",
        )
    return ok


def _check_chain(
    sod: Sod,
    store: TrustPool,
    moment: datetime,
    policy: PaPolicy,
    verdict: AuthenticityVerdict,
) -> bool:
    results = [
        _check_signer_chain(signer, store, moment, policy, verdict) for signer in sod.signers
    ]
    return bool(results) and all(results)


def _check_signer_chain(
    signer: SignerPart,
    store: TrustPool,
    moment: datetime,
    policy: PaPolicy,
    verdict: AuthenticityVerdict,
) -> bool:
    """Issuer, validity, profiles, revocation and country of the DSC: gate.emrtd.pki.path."""
    dsc = signer.signer_certificate
    if dsc is None:
        return False
    signing_time = (
        certs.as_datetime(datetime.fromisoformat(signer.signing_time))
        if signer.signing_time
        else None
    )
    result = path.validate_dsc(
        dsc,
        store,
        moment=moment,
        signing_time=signing_time,
        validity_model=policy.validity_model,
        require_crl=policy.require_crl,
        check_country=policy.check_country,
    )
    verdict.chain.extend(certs.summarize(c) for c in result.chain)
    for code, detail in result.findings:
        verdict.add(code, detail)
    return result.ok


def _check_document(
    sod: Sod,
    document: Document,
    mrz: str | None,
    moment: datetime,
    policy: PaPolicy,
    verdict: AuthenticityVerdict,
) -> bool:
    if 1 not in document.data_groups:
        verdict.add("DG1_MISSING", "DG1 not supplied: issuing state, MRZ and expiry unchecked")
        return True
    try:
        chip_mrz = document.dg1_mrz
        fields = dg1_facts(chip_mrz, moment.date())
    except DataGroupError as exc:
        verdict.add("DG1_UNREADABLE", f"DG1 cannot be read: {exc}")
        return False
    verdict.issuing_state = fields.issuing_state.replace("<", "")
    ok = True
    if mrz is not None and normalize_mrz(mrz) != chip_mrz:
        masked = gate_mrz.mask_document_number(fields.document_number)
        verdict.add(
            "MRZ_DG1_MISMATCH",
            f"the printed MRZ differs from DG1 (document {masked}): "
            "the data page or the chip was replaced",
        )
    if fields.date_of_expiry is None:
        verdict.add("DOCUMENT_EXPIRED", "DG1 date of expiry is not a valid date")
    elif fields.date_of_expiry < moment.date():
        verdict.add("DOCUMENT_EXPIRED", f"document expired on {fields.date_of_expiry.isoformat()}")
    dsc = sod.signer_certificate
    if dsc is not None:  # document code and issuing state against the DSC: gate.emrtd.pki.path
        for code, detail in path.document_findings(
            dsc, chip_mrz, fields.issuing_state, check_country=policy.check_country
        ):
            verdict.add(code, detail)
            ok = ok and code not in path.FAILING
    return ok
