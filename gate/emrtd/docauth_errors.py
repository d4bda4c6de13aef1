"""Errors of the document-authenticity domain (SOD, certificates, trust store, AA, CA).

Every error carries ``reason_code``, the registered reason code (gate/reasons.py) it means in a
decision, a finer ``code`` that names the exact defect (shown in the finding's detail, e.g.
``PA_SOD_MALFORMED`` with ``[SOD_VERSION]``), and a message that says what failed, on which
input, and what to do about it. Trust-store errors happen when an operator imports lists, not
during a passage: they carry no reason.
"""

from __future__ import annotations

from gate.emrtd.errors import EmrtdError

# What asn1crypto (and int/bytes conversions) raise on malformed DER: callers turn these into
# the domain errors below. Never crash on hostile input. Programming errors (TypeError,
# AttributeError, KeyError) are NOT here: a parser that hits one on hostile input has a bug that
# the fuzz tests must see, and it is fixed where it happens (check the type or the key first).
PARSE_ERRORS = (ValueError, IndexError, OverflowError)
# asn1crypto itself reports some malformed DER with these (a KeyError when an unknown algorithm
# OID selects no field spec, a TypeError or AttributeError on a CHOICE of the wrong kind).
_LIBRARY_QUIRKS = (KeyError, TypeError, AttributeError)
# What a DER-decoding ``except`` clause catches; its first statement is ``raise_if_bug(exc)``.
DER_ERRORS = (ValueError, IndexError, OverflowError, KeyError, TypeError, AttributeError)


def raise_if_bug(exc: BaseException) -> None:
    """Re-raise ``exc`` when it is a programming error rather than malformed input.

    A ``KeyError``, ``TypeError`` or ``AttributeError`` counts as malformed input only when
    asn1crypto raised it in its own code (the innermost frame of the traceback is in
    ``asn1crypto``); raised in egate's code it is a bug, and it propagates so that tests (the
    fuzz tests first) see it instead of a "malformed input" verdict.
    """
    if not isinstance(exc, _LIBRARY_QUIRKS) or isinstance(exc, PARSE_ERRORS):
        return
    tb = exc.__traceback__
    module = ""
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next
    if module == "asn1crypto" or module.startswith("asn1crypto."):
        return
    raise exc


class DocAuthError(EmrtdError):
    """Base of the document-authenticity errors."""

    code = "DOCAUTH_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class SodError(DocAuthError):
    """EF.SOD is not a well-formed ICAO 9303-10 document security object."""

    reason_code = "PA_SOD_MALFORMED"
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

    reason_code = "PA_CERT_INVALID"
    code = "CERT_INVALID"


class CertificateParseError(CertificateError):
    code = "CERT_PARSE"


class UnsupportedAlgorithmError(CertificateError):
    reason_code = "PA_ALGORITHM_UNSUPPORTED"
    code = "ALGORITHM_UNSUPPORTED"


class UnknownCurveError(UnsupportedAlgorithmError):
    code = "CURVE_UNKNOWN"


class TrustStoreError(DocAuthError):
    code = "TRUST_STORE"


class MasterListError(TrustStoreError):
    code = "MASTER_LIST"


class ActiveAuthError(DocAuthError):
    reason_code = "AA_NOT_COMPLETED"
    code = "AA_NOT_COMPLETED"


class ChipAuthError(DocAuthError):
    reason_code = "CA_NOT_COMPLETED"
    code = "CA_NOT_COMPLETED"


class DataGroupError(DocAuthError):
    reason_code = "PA_DG_MALFORMED"
    code = "DG_MALFORMED"
