"""The one table of curve constants (gate/emrtd/curves.py) and the arithmetic built on it."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.emrtd import ecmath
from gate.emrtd.curves import CURVES, CurveParams
from gate.emrtd.securityinfos import STANDARD_DOMAIN_PARAMETERS

_CRYPTOGRAPHY = {
    "secp192r1": ec.SECP192R1,
    "secp224r1": ec.SECP224R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
}


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


@pytest.mark.parametrize("name", sorted(_CRYPTOGRAPHY))
def test_constants_agree_with_openssl(name: str) -> None:
    c = ecmath.curve(name)
    key = ec.derive_private_key(0x1234567890ABCDEF, _CRYPTOGRAPHY[name]())
    numbers = key.public_key().public_numbers()
    assert c.mul(0x1234567890ABCDEF, c.g) == (numbers.x, numbers.y)
