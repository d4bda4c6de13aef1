"""Cryptographic primitives: KDF, curves, EC and DH arithmetic, X.509 and SPKI parsing."""
