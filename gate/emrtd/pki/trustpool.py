"""What passive authentication asks of a trust store.

:class:`gate.emrtd.pki.trust.TrustStore` is the in-memory implementation (``gate.truststore``
keeps it on disk); anything answering these questions (a store shared between lanes, a PKD
mirror) can take its place.
"""

from __future__ import annotations

from typing import Protocol

from asn1crypto import crl, x509


class TrustPool(Protocol):
    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """Trusted CSCA and link certificates whose subject is ``cert``'s issuer."""
        ...

    def same_subject(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """Trusted CSCA and link certificates with ``cert``'s subject (its keys over time)."""
        ...

    def crls_for(self, issuer: x509.Certificate) -> list[crl.CertificateList]:
        """Stored CRLs issued under ``issuer``'s name (signatures not yet checked)."""
        ...

    def find_dsc(
        self,
        *,
        issuer: x509.Name | None = None,
        serial: int | None = None,
        key_id: bytes | None = None,
    ) -> x509.Certificate | None:
        """A stored Document Signer by issuer and serial number, or by key identifier."""
        ...
