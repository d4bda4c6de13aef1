"""Small elliptic-curve and finite-field arithmetic for PACE mappings and chip authentication.

`cryptography` does ECDH but does not expose point addition, which PACE Generic Mapping needs
(G' = s*G + H) and which the card side of PACE-CAM needs (CA = SK_IC^-1 * SK_map). Curve
constants come from the `ecdsa` package; the arithmetic is plain Python integers in Jacobian
coordinates (a few milliseconds per scalar multiplication on 256-bit curves).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import ecdsa.curves

from gate.emrtd.errors import PACEError

Point = tuple[int, int] | None  # affine; None is the point at infinity

_ECDSA_NAMES = {
    "secp192r1": "NIST192p", "secp224r1": "NIST224p", "secp256r1": "NIST256p",
    "secp384r1": "NIST384p", "secp521r1": "NIST521p", "brainpoolP192r1": "BRAINPOOLP192r1",
    "brainpoolP224r1": "BRAINPOOLP224r1", "brainpoolP256r1": "BRAINPOOLP256r1",
    "brainpoolP320r1": "BRAINPOOLP320r1", "brainpoolP384r1": "BRAINPOOLP384r1",
    "brainpoolP512r1": "BRAINPOOLP512r1",
}  # fmt: skip


@dataclass(frozen=True)
class Curve:
    name: str
    p: int
    a: int
    b: int
    g: tuple[int, int]
    n: int
    h: int = 1

    @property
    def size(self) -> int:
        """Field element length in bytes."""
        return (self.p.bit_length() + 7) // 8

    def on_curve(self, pt: Point) -> bool:
        if pt is None:
            return False
        x, y = pt
        if not (0 <= x < self.p and 0 <= y < self.p):
            return False
        return (y * y - (x * x * x + self.a * x + self.b)) % self.p == 0

    # -- Jacobian arithmetic
    def _double(self, x: int, y: int, z: int) -> tuple[int, int, int]:
        p = self.p
        if y == 0 or z == 0:
            return 0, 1, 0
        yy = y * y % p
        s = 4 * x * yy % p
        zz = z * z % p
        m = (3 * x * x + self.a * zz * zz) % p
        x3 = (m * m - 2 * s) % p
        y3 = (m * (s - x3) - 8 * yy * yy) % p
        z3 = 2 * y * z % p
        return x3, y3, z3

    def _add(self, p1: tuple[int, int, int], p2: tuple[int, int, int]) -> tuple[int, int, int]:
        p = self.p
        x1, y1, z1 = p1
        x2, y2, z2 = p2
        if z1 == 0:
            return p2
        if z2 == 0:
            return p1
        z1z1 = z1 * z1 % p
        z2z2 = z2 * z2 % p
        u1 = x1 * z2z2 % p
        u2 = x2 * z1z1 % p
        s1 = y1 * z2 * z2z2 % p
        s2 = y2 * z1 * z1z1 % p
        if u1 == u2:
            if s1 != s2:
                return 0, 1, 0
            return self._double(x1, y1, z1)
        hh = (u2 - u1) % p
        r = (s2 - s1) % p
        h2 = hh * hh % p
        h3 = hh * h2 % p
        v = u1 * h2 % p
        x3 = (r * r - h3 - 2 * v) % p
        y3 = (r * (v - x3) - s1 * h3) % p
        z3 = hh * z1 * z2 % p
        return x3, y3, z3

    def _affine(self, pt: tuple[int, int, int]) -> Point:
        x, y, z = pt
        if z == 0:
            return None
        zi = pow(z, -1, self.p)
        zi2 = zi * zi % self.p
        return x * zi2 % self.p, y * zi2 * zi % self.p

    def add(self, a: Point, b: Point) -> Point:
        if a is None:
            return b
        if b is None:
            return a
        return self._affine(self._add((a[0], a[1], 1), (b[0], b[1], 1)))

    def mul(self, k: int, pt: Point) -> Point:
        """k * pt with a 4-bit fixed window."""
        if pt is None or k % self.n == 0:
            return None
        k %= self.n
        base = (pt[0], pt[1], 1)
        table = [(0, 1, 0), base]
        for _ in range(14):
            table.append(self._add(table[-1], base))
        acc = (0, 1, 0)
        for shift in range((k.bit_length() + 3) // 4 * 4 - 4, -4, -4):
            for _ in range(4):
                acc = self._double(*acc)
            nib = (k >> shift) & 0xF
            if nib:
                acc = self._add(acc, table[nib])
        return self._affine(acc)

    # -- encodings
    def encode_point(self, pt: Point) -> bytes:
        if pt is None:
            raise PACEError("cannot encode the point at infinity")
        return b"\x04" + pt[0].to_bytes(self.size, "big") + pt[1].to_bytes(self.size, "big")

    def decode_point(self, data: bytes) -> tuple[int, int]:
        if len(data) != 1 + 2 * self.size or data[0] != 0x04:
            raise PACEError(
                f"public point of {len(data)} bytes is not an uncompressed {self.name} point"
            )
        pt = (
            int.from_bytes(data[1 : 1 + self.size], "big"),
            int.from_bytes(data[1 + self.size :], "big"),
        )
        if not self.on_curve(pt):
            raise PACEError(f"public point is not on {self.name}")
        return pt


@cache
def curve(name: str) -> Curve:
    if name not in _ECDSA_NAMES:
        raise PACEError(f"unsupported elliptic curve {name!r}")
    c = getattr(ecdsa.curves, _ECDSA_NAMES[name])
    cf = c.curve
    gen = c.generator
    return Curve(name, cf.p(), cf.a(), cf.b(), (gen.x(), gen.y()), gen.order())


def curve_by_params(p: int, a: int, b: int, gx: int, gy: int, n: int) -> Curve | None:
    """The named curve with these explicit parameters, if any."""
    for name in _ECDSA_NAMES:
        c = curve(name)
        if (c.p, c.a % c.p, c.b, c.g, c.n) == (p, a % p, b, (gx, gy), n):
            return c
    return None


@dataclass(frozen=True)
class DHGroup:
    """A prime-order subgroup of Z_p* (PACE-DH)."""

    p: int
    g: int
    q: int

    @property
    def size(self) -> int:
        return (self.p.bit_length() + 7) // 8

    def encode(self, y: int) -> bytes:
        return y.to_bytes(self.size, "big")

    def decode(self, data: bytes) -> int:
        y = int.from_bytes(data, "big")
        if not 1 < y < self.p - 1 or pow(y, self.q, self.p) != 1:
            raise PACEError("DH public value is outside the subgroup")
        return y
