"""Small elliptic-curve and finite-field arithmetic for PACE mappings and chip authentication.

`cryptography` does ECDH but does not expose point addition, which PACE Generic Mapping needs
(G' = s*G + H) and which the card side of PACE-CAM needs (CA = SK_IC^-1 * SK_map). Curve
constants come from :mod:`gate.emrtd.crypto.curves` (SEC 2, RFC 5639); the arithmetic is plain
Python integers in Jacobian coordinates (a few milliseconds per scalar multiplication on
256-bit curves). It also verifies ECDSA on the RFC 5639 curves that ``cryptography`` lacks
(:class:`EcPublicKey`: brainpoolP192r1, P224r1, P320r1, used by real DSCs and AA keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from gate.emrtd.crypto.curves import BY_NAME, CURVES, CurveParams
from gate.emrtd.errors import PACEError

Point = tuple[int, int] | None  # affine; None is the point at infinity


@dataclass(frozen=True)
class Curve:
    name: str
    p: int
    a: int
    b: int
    g: tuple[int, int]
    n: int
    h: int = 1

    @classmethod
    def from_params(cls, c: CurveParams) -> Curve:
        return cls(c.name, c.p, c.a, c.b, (c.gx, c.gy), c.n, c.h)

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

    def mul2(self, k1: int, p1: Point, k2: int, p2: Point) -> Point:
        """k1 * p1 + k2 * p2 in one pass (Straus-Shamir with a joint 2-bit window): one
        doubling per bit instead of two, for ECDSA verification."""
        if p1 is None or p2 is None:
            return self.add(self.mul(k1, p1), self.mul(k2, p2))
        k1 %= self.n
        k2 %= self.n
        zero = (0, 1, 0)
        a = [zero, (p1[0], p1[1], 1)]
        b = [zero, (p2[0], p2[1], 1)]
        for _ in range(2):
            a.append(self._add(a[-1], a[1]))
            b.append(self._add(b[-1], b[1]))
        table = [self._add(a[i], b[j]) for i in range(4) for j in range(4)]
        acc = zero
        top = max(k1.bit_length(), k2.bit_length())
        for shift in range((top + 1) // 2 * 2 - 2, -2, -2):
            acc = self._double(*self._double(*acc))
            index = ((k1 >> shift) & 3) * 4 + ((k2 >> shift) & 3)
            if index:
                acc = self._add(acc, table[index])
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
    if name not in BY_NAME:
        raise PACEError(f"unsupported elliptic curve {name!r}")
    return Curve.from_params(BY_NAME[name])


def curve_by_params(p: int, a: int, b: int, gx: int, gy: int, n: int) -> Curve | None:
    """The named curve with these explicit parameters, if any."""
    for c in CURVES:
        if (c.p, c.a % c.p, c.b, c.gx, c.gy, c.n) == (p, a % p, b, gx, gy, n):
            return curve(c.name)
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


def _hex(text: str) -> int:
    return int("".join(text.split()), 16)


# RFC 5114 MODP groups with prime-order subgroups: ICAO 9303-11 standardized domain parameters
# 0 (1024/160), 1 (2048/224) and 2 (2048/256). Checked in tests: q divides p - 1, g^q = 1.
STANDARD_DH_GROUPS: dict[int, DHGroup] = {
    0: DHGroup(
        p=_hex("""B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B616073E28675A23D18
        9838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BFACCBDD7D90C4BD7098488E9C219A73724EFFD6FA
        E5644738FAA31A4FF55BCCC0A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371"""),
        g=_hex("""A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31266FEA1E5C41564B
        777E690F5504F213160217B4B01B886A5E91547F9E2749F4D7FBD7D3B9A92EE1909D0D2263F80A76A6A24C08
        7A091F531DBF0A0169B6A28AD662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24855E6EEB22B3B2E5"""),
        q=_hex("F518AA8781A8DF278ABA4E7D64B7CB9D49462353"),
    ),
    1: DHGroup(
        p=_hex("""AD107E1E9123A9D0D660FAA79559C51FA20D64E5683B9FD1B54B1597B61D0A75E6FA141DF95A56DB
        AF9A3C407BA1DF15EB3D688A309C180E1DE6B85A1274A0A66D3F8152AD6AC2129037C9EDEFDA4DF8D91E8FEF
        55B7394B7AD5B7D0B6C12207C9F98D11ED34DBF6C6BA0B2C8BBC27BE6A00E0A0B9C49708B3BF8A3170918836
        81286130BC8985DB1602E714415D9330278273C7DE31EFDC7310F7121FD5A07415987D9ADC0A486DCDF93ACC
        44328387315D75E198C641A480CD86A1B9E587E8BE60E69CC928B2B9C52172E413042E9B23F10B0E16E79763
        C9B53DCF4BA80A29E3FB73C16B8E75B97EF363E2FFA31F71CF9DE5384E71B81C0AC4DFFE0C10E64F"""),
        g=_hex("""AC4032EF4F2D9AE39DF30B5C8FFDAC506CDEBE7B89998CAF74866A08CFE4FFE3A6824A4E10B9A6F0
        DD921F01A70C4AFAAB739D7700C29F52C57DB17C620A8652BE5E9001A8D66AD7C17669101999024AF4D02727
        5AC1348BB8A762D0521BC98AE247150422EA1ED409939D54DA7460CDB5F6C6B250717CBEF180EB34118E98D1
        19529A45D6F834566E3025E316A330EFBB77A86F0C1AB15B051AE3D428C8F8ACB70A8137150B8EEB10E183ED
        D19963DDD9E263E4770589EF6AA21E7F5F2FF381B539CCE3409D13CD566AFBB48D6C019181E1BCFE94B30269
        EDFE72FE9B6AA4BD7B5A0F1C71CFFF4C19C418E1F6EC017981BC087F2A7065B384B890D3191F2BFA"""),
        q=_hex("801C0D34C58D93FE997177101F80535A4738CEBCBF389A99B36371EB"),
    ),
    2: DHGroup(
        p=_hex("""87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00E00DF8F1D61957D4
        FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C209E0C6497517ABD5A8A9D306BCF67ED91F9E672
        5B4758C022E0B1EF4275BF7B6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76
        B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8EF6A167B5A41825D967E144E5
        140564251CCACB83E6B486F6B3CA3F7971506026C0B857F689962856DED4010ABD0BE621C3A3960A54E710C3
        75F26375D7014103A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597"""),
        g=_hex("""3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA12510DBC15077BE463F
        FF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62901228F8C28CBB18A55AE31341000A650196F931
        C77A57F2DDF463E5E9EC144B777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193
        B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0ADB2A3B7313D3FE14C8484B1E
        052588B9B7D2BBD2DF016199ECD06E1557CD0915B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6
        184B523D1DB246C32F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659"""),
        q=_hex("8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3"),
    ),
}


# --------------------------------------------------------------------------- ECDSA verification


class EcCurve(ec.EllipticCurve):
    """A curve of :mod:`gate.emrtd.crypto.curves` that ``cryptography`` lacks (brainpoolP192r1,
    P224r1, P320r1), so that keys on it pass ``isinstance(key, ec.EllipticCurvePublicKey)``."""

    def __init__(self, params: CurveParams) -> None:
        self._params = params

    @property
    def name(self) -> str:
        return self._params.name

    @property
    def key_size(self) -> int:
        return self._params.n.bit_length()

    @property
    def group_order(self) -> int:
        return self._params.n


class EcPublicKey(ec.EllipticCurvePublicKey):
    """An ECDSA verification key on a curve ``cryptography`` lacks, verified with this module's
    arithmetic (SEC 1 v2 section 4.1.4). It is a public key: timing leaks nothing secret."""

    def __init__(self, params: CurveParams, point: tuple[int, int]) -> None:
        self._curve = EcCurve(params)
        self._math = Curve.from_params(params)
        if not self._math.on_curve(point):
            raise ValueError(f"public point is not on {params.name}")
        self._point = point

    @classmethod
    def from_point(cls, params: CurveParams, encoded: bytes) -> EcPublicKey:
        """From the uncompressed X9.62 encoding ``04 || x || y``; ValueError when it is not a
        point on the curve."""
        math = Curve.from_params(params)
        try:
            point = math.decode_point(encoded)
        except PACEError as exc:
            raise ValueError(str(exc)) from exc
        return cls(params, point)

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._curve

    @property
    def key_size(self) -> int:
        return self._curve.key_size

    def public_numbers(self) -> ec.EllipticCurvePublicNumbers:
        return ec.EllipticCurvePublicNumbers(self._point[0], self._point[1], self._curve)

    def public_bytes(
        self, encoding: serialization.Encoding, format: serialization.PublicFormat
    ) -> bytes:
        if (encoding, format) != (
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint,
        ):
            raise ValueError(f"{self._curve.name} keys encode only as an uncompressed X9.62 point")
        return self._math.encode_point(self._point)

    def verify(
        self,
        signature: bytes | bytearray | memoryview,
        data: bytes | bytearray | memoryview,
        signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> None:
        """``signature`` DER (r, s) over ``data`` with ``ec.ECDSA(hash)``; raises
        InvalidSignature like ``cryptography``."""
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise InvalidSignature("only ECDSA is supported")
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, utils.Prehashed):
            digest = bytes(data)
        else:
            h = hashes.Hash(algorithm)
            h.update(bytes(data))
            digest = h.finalize()
        try:
            r, s = utils.decode_dss_signature(bytes(signature))
        except ValueError:
            raise InvalidSignature("ECDSA signature is not DER") from None
        if not verify_digest(self._math, self._point, digest, r, s):
            raise InvalidSignature(f"ECDSA signature does not verify on {self._curve.name}")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, EcPublicKey)
            and other._curve.name == self._curve.name
            and other._point == self._point
        )

    def __hash__(self) -> int:
        return hash((self._curve.name, self._point))

    def __copy__(self) -> EcPublicKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> EcPublicKey:
        return self


def verify_digest(curve: Curve, q: tuple[int, int], digest: bytes, r: int, s: int) -> bool:
    """ECDSA verification (SEC 1 v2 4.1.4) of ``(r, s)`` over a message digest."""
    n = curve.n
    if not (0 < r < n and 0 < s < n):
        return False
    e = int.from_bytes(digest, "big")
    excess = len(digest) * 8 - n.bit_length()
    if excess > 0:
        e >>= excess
    w = pow(s, -1, n)
    point = curve.mul2(e * w % n, curve.g, r * w % n, q)
    return point is not None and point[0] % n == r
