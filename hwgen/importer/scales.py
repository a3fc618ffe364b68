"""Float requantization scales as integer multipliers and shifts, proved against the exact rule.

ONNX's quantized operators requantize an integer accumulator ``acc`` by a
real scale ``S`` (``a_scale · b_scale / y_scale``, from float32 numbers) and
round half to even: ``y = round_half_even(acc · S)``. Each float32 is a
dyadic rational, so ``S`` is an exact fraction. The hardware computes
``round_shift(acc · M, n, "half_even")`` (:mod:`hwgen.requant`) with a 31-bit
``M`` and a shift ``n``: :func:`fixed_point` picks ``M / 2^n`` nearest to
``S`` with the most bits, and :func:`prove` checks, over every accumulator
value a layer can reach, that the two rules give the same integer — exactly,
not by sampling: a float64 pass finds the few accumulators whose product
lies near a rounding boundary, and those are settled in exact integers.
:func:`best_fixed_point` searches the neighbours of the nearest ``M`` when
the nearest one differs somewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..requant import MAX_MULTIPLIER, MAX_SHIFT, round_shift

#: Accumulator values checked per float64 pass.
CHUNK = 1 << 22


@dataclass(frozen=True)
class Proof:
    """The integer rule against the exact rule over ``checked`` accumulator values: ``differing`` of them
    give another integer, by at most ``max_diff``."""

    checked: int
    differing: int
    max_diff: int

    @property
    def exact(self) -> bool:
        return self.differing == 0

    @staticmethod
    def combine(proofs: list[Proof]) -> Proof:
        """The proofs of several columns (or inputs) as one."""
        return Proof(sum(p.checked for p in proofs), sum(p.differing for p in proofs),
                     max((p.max_diff for p in proofs), default=0))  # fmt: skip


def fixed_point(scale: Fraction) -> tuple[int, int]:
    """``(M, n)`` with ``M / 2^n`` nearest to ``scale`` (> 0), ``M`` of 31 bits where the shift allows
    (``2^30 ≤ M < 2^31``, ``n ≤ 62``)."""
    if scale <= 0:
        raise ValueError(f"scale {float(scale)!r} is not positive")
    e = scale.numerator.bit_length() - scale.denominator.bit_length()  # floor(log2 scale), or one more
    if scale < Fraction(2) ** e:
        e -= 1
    n = min(30 - e, MAX_SHIFT)
    if n < 0:
        raise ValueError(f"scale {float(scale)!r} needs a multiplier over 31 bits")
    m = round(scale * (1 << n))
    if m > MAX_MULTIPLIER:  # rounded up to 2^31
        n -= 1
        m = round(scale * (1 << n))
    return m, n


def exact_round(acc: int, scale: Fraction, rounding: str = "half_even") -> int:
    """``acc · scale`` rounded in exact arithmetic: half to even, or (``half_away``) half away from zero."""
    v = acc * scale
    if rounding == "half_away":
        q = (abs(v) + Fraction(1, 2)).__floor__()
        return q if v >= 0 else -q
    return round(v)  # Fraction.__round__ rounds half to even


def prove(scale: Fraction, m: int, n: int, lo: int, hi: int, rounding: str = "half_even") -> Proof:
    """Compare ``round_shift(acc·m, n, rounding)`` with ``acc·scale`` rounded the same way, exactly, for every
    ``acc`` in ``lo..hi``."""
    approx = Fraction(m, 1 << n)
    if approx == scale:  # the same rational: the same rounding everywhere
        return Proof(hi - lo + 1, 0, 0)
    # how far the two products can be apart at the range's ends, plus float64's own error
    spread = float(abs(scale - approx)) * max(abs(lo), abs(hi)) + 1e-9
    s = float(scale)
    differing, worst = 0, 0
    for start in range(lo, hi + 1, CHUNK):
        acc = np.arange(start, min(start + CHUNK, hi + 1), dtype=np.float64)
        v = np.abs(acc * s)
        near = np.abs(v - np.floor(v) - 0.5) <= spread + 1e-12 * v
        for a in (int(x) for x in acc[near]):
            got = int(round_shift(a * m, n, rounding))
            d = abs(got - exact_round(a, scale, rounding))
            if d:
                differing, worst = differing + 1, max(worst, d)
    return Proof(hi - lo + 1, differing, worst)


def float32_rule(acc: np.ndarray, scale: np.float32, y_scale: np.float32) -> np.ndarray:
    """ONNX's ``Cast → Mul → QuantizeLinear`` of int32 accumulators, step by step in float32 (as onnxruntime
    runs them): ``round_half_even(f32(f32(f32(acc) · scale) / y_scale))`` (before the zero point and clamp)."""
    v = np.asarray(acc).astype(np.float32) * np.float32(scale)
    return np.rint((v / np.float32(y_scale)).astype(np.float32)).astype(np.int64)


def prove_float32(scale: np.float32, y_scale: np.float32, m: int, n: int, lo: int, hi: int) -> Proof:
    """Compare ``round_shift(acc·m, n, half_even)`` with :func:`float32_rule` for every ``acc`` in ``lo..hi``."""
    differing, worst = 0, 0
    for start in range(lo, hi + 1, CHUNK):
        acc = np.arange(start, min(start + CHUNK, hi + 1), dtype=np.int64)
        d = np.abs(round_shift(acc * m, n, "half_even").astype(np.int64) - float32_rule(acc, scale, y_scale))
        differing, worst = differing + int(np.count_nonzero(d)), max(worst, int(d.max(initial=0)))
    return Proof(hi - lo + 1, differing, worst)


def best_float32_point(
    scale: np.float32, y_scale: np.float32, lo: int, hi: int, neighbours: int = 8
) -> tuple[int, int, Proof]:
    """``(M, n, proof)``: the fixed point nearest ``scale / y_scale``, or the neighbour ``M ± k`` that differs
    from :func:`float32_rule` on the fewest accumulators in ``lo..hi`` (float32's own roundings make some
    differences unavoidable where products are large)."""
    m, n = fixed_point(Fraction(float(scale)) / Fraction(float(y_scale)))
    return _best_neighbour(m, n, neighbours, lambda cand: prove_float32(scale, y_scale, cand, n, lo, hi))


def prove_add(sa: Fraction, sb: Fraction, ma: int, mb: int, n: int, da: np.ndarray, db: np.ndarray) -> Proof:
    """Compare ``round_shift(ma·da + mb·db, n, half_even)`` with ``round_half_even(sa·da + sb·db)`` for every
    pair of an element of ``da`` and one of ``db`` (the zero-point-shifted operands of a rescaling add; ONNX
    rounds half to even)."""
    q = sa.denominator * sb.denominator
    num = np.add.outer(np.asarray(da, dtype=object) * (sa.numerator * sb.denominator),
                       np.asarray(db, dtype=object) * (sb.numerator * sa.denominator))  # fmt: skip
    t = num // q  # floor, on Python integers
    r = num - t * q
    exact = t + ((2 * r > q) | ((2 * r == q) & (t % 2 == 1))).astype(object)
    got = round_shift(np.add.outer(np.asarray(da, dtype=object) * ma, np.asarray(db, dtype=object) * mb), n,
                      "half_even")  # fmt: skip
    diff = np.abs((got - exact).astype(np.int64))
    return Proof(int(diff.size), int(np.count_nonzero(diff)), int(diff.max(initial=0)))


def best_add_point(
    sa: Fraction, sb: Fraction, da: np.ndarray, db: np.ndarray, neighbours: int = 2
) -> tuple[int, int, int, Proof]:
    """``(Ma, Mb, n, proof)`` for a rescaling add with scales ``sa``, ``sb``: one shift ``n`` giving the
    larger multiplier 31 bits, each multiplier the nearest, or the neighbours' best (``±neighbours`` each)
    when the nearest pair differs somewhere over the operand values ``da × db``."""
    _, n = fixed_point(max(sa, sb))
    ma0, mb0 = round(sa * (1 << n)), round(sb * (1 << n))
    best = (ma0, mb0, n, prove_add(sa, sb, ma0, mb0, n, da, db))
    for ka in range(-neighbours, neighbours + 1):
        for kb in range(-neighbours, neighbours + 1):
            if best[3].exact:
                return best
            ma, mb = ma0 + ka, mb0 + kb
            if (ka or kb) and 0 <= ma <= MAX_MULTIPLIER and 0 <= mb <= MAX_MULTIPLIER:
                p = prove_add(sa, sb, ma, mb, n, da, db)
                if p.differing < best[3].differing:
                    best = (ma, mb, n, p)
    return best


def best_fixed_point(
    scale: Fraction, lo: int, hi: int, neighbours: int = 8, rounding: str = "half_even"
) -> tuple[int, int, Proof]:
    """:func:`fixed_point`, or the neighbour ``M ± k`` (``k ≤ neighbours``) with the fewest differences
    over ``lo..hi`` when the nearest ``M`` differs somewhere; returns ``(M, n, proof)``."""
    m, n = fixed_point(scale)
    return _best_neighbour(m, n, neighbours, lambda cand: prove(scale, cand, n, lo, hi, rounding))


def _best_neighbour(m: int, n: int, neighbours: int, check: Callable[[int], Proof]) -> tuple[int, int, Proof]:
    """``(M, n, proof)``: ``m``, or the multiplier ``m ± k`` (``k ≤ neighbours``, nearest first) whose ``check``
    finds the fewest differences, searched only while the best so far differs somewhere."""
    best = (m, n, check(m))
    for k in range(1, neighbours + 1):
        if best[2].exact:
            break
        for cand in (m - k, m + k):
            if 0 < cand <= MAX_MULTIPLIER:
                p = check(cand)
                if p.differing < best[2].differing:
                    best = (cand, n, p)
    return best
