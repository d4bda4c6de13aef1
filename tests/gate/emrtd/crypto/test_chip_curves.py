"""The one table of curve constants (gate/emrtd/crypto/curves.py) and the arithmetic built on it."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.emrtd.crypto import ecmath
from gate.emrtd.crypto.certs import CRYPTOGRAPHY_CURVES
from gate.emrtd.crypto.curves import CURVES, CurveParams
from gate.emrtd.lds.securityinfos import STANDARD_DOMAIN_PARAMETERS


def test_every_standardized_ec_domain_has_constants() -> None:
    names = {c.name for c in CURVES}
    ec_ids = {i: n for i, n in STANDARD_DOMAIN_PARAMETERS.items() if not n.startswith("modp")}
    assert set(ec_ids.values()) == names


@pytest.mark.parametrize("params", CURVES, ids=lambda c: c.name)
def test_generator_has_the_stated_order(params: CurveParams) -> None:
    c = ecmath.curve(params.name)
    assert c.on_curve(c.g)
    # (n - 1) * G = -G only if n is the order of G
    assert c.mul(params.n - 1, c.g) == (params.gx, params.p - params.gy)


@pytest.mark.parametrize("name", sorted(CRYPTOGRAPHY_CURVES))
def test_constants_agree_with_openssl(name: str) -> None:
    c = ecmath.curve(name)
    key = ec.derive_private_key(0x1234567890ABCDEF, CRYPTOGRAPHY_CURVES[name]())
    numbers = key.public_key().public_numbers()
    assert c.mul(0x1234567890ABCDEF, c.g) == (numbers.x, numbers.y)
