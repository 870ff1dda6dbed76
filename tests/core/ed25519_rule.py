"""The signature acceptance rule of docs/architecture.md, written out in plain integers.

An independent statement of the consensus rule, slow and obvious, so the tests
can check that the fast verifier (libsodium through PyNaCl) accepts and refuses
exactly what the rule says. Curve arithmetic follows RFC 8032 section 6.
"""

from __future__ import annotations

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)
IDENTITY: Point = (0, 1, 1, 0)


def add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    pa = (y1 - x1) * (y2 - x2) % P
    pb = (y1 + x1) * (y2 + x2) % P
    pc = 2 * t1 * t2 * D % P
    pd = 2 * z1 * z2 % P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def mul(scalar: int, point: Point) -> Point:
    result = IDENTITY
    while scalar > 0:
        if scalar & 1:
            result = add(result, point)
        point = add(point, point)
        scalar >>= 1
    return result


def neg(point: Point) -> Point:
    x, y, z, t = point
    return (-x % P, y, z, -t % P)


def same(a: Point, b: Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _x_of(y: int, sign: int) -> int | None:
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def decode(data: bytes) -> Point | None:
    """The point of a canonical encoding (y < p, on the curve), else None."""
    n = int.from_bytes(data, "little")
    y, sign = n & ((1 << 255) - 1), n >> 255
    if y >= P:
        return None
    x = _x_of(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


def encode(point: Point) -> bytes:
    zinv = pow(point[2], P - 2, P)
    x, y = point[0] * zinv % P, point[1] * zinv % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def small_order(point: Point) -> bool:
    return same(mul(8, point), IDENTITY)


_BASE_Y = 4 * pow(5, P - 2, P) % P
_BASE_X = _x_of(_BASE_Y, 0)
assert _BASE_X is not None
BASE: Point = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % P)


def challenge(r: bytes, public_key: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + public_key + message).digest(), "little") % L


def equation_holds(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Only the cofactorless equation [S]B = R + [k]A, on any points that decode."""
    a, r = decode(public_key), decode(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    k = challenge(signature[:32], public_key, message)
    return same(mul(s, BASE), add(r, mul(k, a)))


def rule_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """The acceptance rule, step by step as docs/architecture.md states it."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = decode(public_key)
    if a is None or small_order(a):
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    r_bytes = signature[:32]
    r = decode(r_bytes)
    if r is None or small_order(r):
        return False
    k = challenge(r_bytes, public_key, message)
    return encode(add(mul(s, BASE), mul(k, neg(a)))) == r_bytes


def secret_scalar(seed: bytes) -> int:
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")
