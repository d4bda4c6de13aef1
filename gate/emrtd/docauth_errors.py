"""Errors of the document-authenticity domain (SOD, certificates, trust store, AA, CA).

Every error carries a stable ``code`` (used in verdicts and by tests) and a message that says
what failed, on which input, and what to do about it.
"""

from __future__ import annotations

from gate.errors import EgateError

# What asn1crypto (and int/bytes conversions) raise on malformed DER: callers turn these into
# the domain errors below. Never crash on hostile input.
PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
)


class DocAuthError(EgateError):
    """Base of the document-authenticity errors."""

    code = "DOCAUTH_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class SodError(DocAuthError):
    """EF.SOD is not a well-formed ICAO 9303-10 document security object."""

    code = "SOD_MALFORMED"


class SodEncodingError(SodError):
    code = "SOD_ENCODING"


class SodContentTypeError(SodError):
    code = "SOD_CONTENT_TYPE"


class SodVersionError(SodError):
    code = "SOD_VERSION"


class SodStructureError(SodError):
    code = "SOD_STRUCTURE"


class CertificateError(DocAuthError):
    """A certificate, public key or signature could not be used."""

    code = "CERT_INVALID"


class CertificateParseError(CertificateError):
    code = "CERT_PARSE"


class UnsupportedAlgorithmError(CertificateError):
    code = "ALGORITHM_UNSUPPORTED"


class UnknownCurveError(UnsupportedAlgorithmError):
    code = "CURVE_UNKNOWN"


class TrustStoreError(DocAuthError):
    code = "TRUST_STORE"


class MasterListError(TrustStoreError):
    code = "MASTER_LIST"


class ActiveAuthError(DocAuthError):
    code = "AA_ERROR"


class ChipAuthError(DocAuthError):
    code = "CA_ERROR"


class DataGroupError(DocAuthError):
    code = "DG_MALFORMED"
