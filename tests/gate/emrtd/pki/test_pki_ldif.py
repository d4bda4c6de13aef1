"""The ICAO PKD LDIF reader (RFC 2849 subset): folding, CRLF, comments, bad values."""

from __future__ import annotations

import base64

import pytest

from gate.emrtd.docauth_errors import TrustStoreError
from gate.emrtd.pki import ldif


def test_folded_crlf_entries_with_comments() -> None:
    cert, crl = bytes(range(200)), b"\x30\x03\x02\x01\x01"
    b64 = base64.b64encode(cert).decode()
    text = (
        "version: 1\r\n# a comment\r\n\r\n"
        "dn: cn=a,o=dsc,c=NL,dc=data\r\n"
        f"userCertificate;binary:: {b64[:50]}\r\n {b64[50:120]}\r\n {b64[120:]}\r\n"
        "sn: 1\r\n\r\n"
        "dn: cn=b,o=crl,c=NL,dc=data\r\n"
        f"certificateRevocationList;binary:: {base64.b64encode(crl).decode()}\r\n"
    )
    a, b = ldif.parse(text.encode())
    assert a.dn == "cn=a,o=dsc,c=NL,dc=data" and a.certificates == [cert]
    assert b.crls == [crl] and not b.certificates
    assert ldif.parse(ldif.dump([a, b])) == [a, b]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dn: x\nuserCertificate;binary: notbase64\n", "line 2: userCertificate;binary is not"),
        ("dn: x\npkdMasterListContent:: @@@\n", "line 2: pkdMasterListContent is not valid"),
        ("dn: x\nno colon here\n", "line 2: expected 'attribute: value'"),
    ],
)
def test_bad_values_name_their_line(text: str, message: str) -> None:
    with pytest.raises(TrustStoreError, match=message):
        ldif.parse(text.encode(), source="f.ldif")


def test_binary_garbage_is_not_text() -> None:
    with pytest.raises(TrustStoreError, match="not an LDIF text file"):
        ldif.parse(b"dn: \xff\xfe")
