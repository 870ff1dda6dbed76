"""Proof of work: compact bits, targets, work, retargeting and median time past."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from .errors import ValidationError
from .params import NetworkParams
from .rejections import Code


class Compact(NamedTuple):
    target: int
    negative: bool
    overflow: bool


# A chain has few distinct bits values (one per retarget), read for every header.
@lru_cache(maxsize=256)
def decode_compact(bits: int) -> Compact:
    """Bitcoin's SetCompact: mantissa of 23 bits, sign bit, base-256 exponent."""
    size = bits >> 24
    word = bits & 0x007FFFFF
    if size <= 3:
        word >>= 8 * (3 - size)
        target = word
    else:
        target = word << (8 * (size - 3))
    negative = word != 0 and (bits & 0x00800000) != 0
    overflow = word != 0 and (
        size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32)
    )
    return Compact(target, negative, overflow)


def encode_compact(target: int, negative: bool = False) -> int:
    """Bitcoin's GetCompact; the sign bit is kept only for a non-zero mantissa."""
    size = (target.bit_length() + 7) // 8
    compact = target << 8 * (3 - size) if size <= 3 else target >> 8 * (size - 3)
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    compact |= size << 24
    if negative and compact & 0x007FFFFF:
        compact |= 0x00800000
    return compact


def target_from_bits(bits: int) -> int:
    """A valid consensus target, or ValidationError(Code.BAD_BITS)."""
    c = decode_compact(bits)
    if c.negative or c.overflow or c.target == 0:
        raise ValidationError(f"bits {bits:08x} do not encode a valid target", Code.BAD_BITS,
                              field="bits", value=f"{bits:08x}",
                              expected="a positive, non-overflowing compact target")
    return c.target


@lru_cache(maxsize=256)
def work_from_bits(bits: int) -> int:
    """Expected hashes to meet the target: 2**256 / (target + 1)."""
    return (1 << 256) // (target_from_bits(bits) + 1)


def hash_meets_target(block_hash: bytes, target: int) -> bool:
    return int.from_bytes(block_hash, "little") <= target


def check_proof_of_work(block_hash: bytes, bits: int, pow_limit_bits: int) -> None:
    target = target_from_bits(bits)
    if target > decode_compact(pow_limit_bits).target:
        raise ValidationError("target is easier than the network's limit", Code.BAD_BITS,
                              field="bits", value=f"{bits:08x}",
                              expected=f"at most the limit {pow_limit_bits:08x}")
    if not hash_meets_target(block_hash, target):
        raise ValidationError("block hash does not meet its target", Code.BAD_POW,
                              field="hash", value=block_hash[::-1].hex(),
                              expected=f"at most target {target:064x}")


def retarget(
    pow_limit_bits: int, target_timespan: int, last_bits: int, first_time: int, last_time: int
) -> int:
    """Bitcoin's CalculateNextWorkRequired with its 4x clamp and pow-limit cap."""
    span = last_time - first_time
    span = max(target_timespan // 4, min(span, target_timespan * 4))
    limit = decode_compact(pow_limit_bits).target
    new = decode_compact(last_bits).target * span // target_timespan
    return encode_compact(min(new, limit))


def is_retarget_height(params: NetworkParams, height: int) -> bool:
    return not params.no_retarget and height > 0 and height % params.retarget_interval == 0


def median_time_past(times: Sequence[int]) -> int:
    """Median of the given (up to 11) previous block times."""
    ordered = sorted(times)
    return ordered[len(ordered) // 2]
