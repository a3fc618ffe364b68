"""Integer-only kernels for transformer non-linearities: exact integer rules hardware can match bit for bit.

The exponential follows I-BERT (Kim et al., 2021): for an input ``d ≤ 0`` of
real scale ``S`` (``real = d · S``) write ``d·S = −z·ln2 + p·S`` with an
integer ``z ≥ 0`` and ``p·S ∈ (−ln2, 0]``; then
``exp(d·S) = 2^−z · exp(p·S)`` and ``exp(p·S) ≈ a·(p·S + b)² + c`` with
``a = 0.3585, b = 1.353, c = 0.344``. In integers (:class:`IExp`)::

    q_ln2 = floor(ln2 / S),  q_b = floor(b / S),  q_c = floor(c / (a · S²))
    z = floor(−d / q_ln2),   p = d + z · q_ln2            (−q_ln2 < p ≤ 0)
    L = (p + q_b)² + q_c                                  (exp(p·S) ≈ L · a·S²)
    iexp(d) = L >> z          (0 once z reaches L's width)

The constants come from ``S`` by Python's float arithmetic (IEEE double,
the same everywhere), so the rule is one exact integer function of ``d``.

:func:`softmax` uses it over a row ``x``: ``e_i = iexp(x_i − max x)``,
``s = Σ e_i``, ``R = floor(2^F / s)``, ``y_i = min(2^W − 1, (e_i · R) >> (F − W))``
with ``W`` the output's bits (``y / 2^W`` ≈ the probability).

Decode attention (:func:`online_attention`) streams a query's KV entries once
with the online softmax: a running maximum, and the running sum and output
rescaled whenever the maximum grows. Its exponential is a table in ``Q(F)``
fixed point (:class:`ExpTable`): ``E(t) = round(2^F · exp(t · S))`` for
``t ≤ 0``, so ``E(0) = 2^F`` is exactly 1.0 and a rescale is a multiply and
a shift by ``F``; :func:`combine_partials` merges the states of several KV
ranges by the same rescaling (the Lean Attention split).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .errors import ConfigError

#: I-BERT's second-order polynomial for exp on (−ln2, 0]: a·(x + b)² + c.
I_EXP_A, I_EXP_B, I_EXP_C = 0.3585, 1.353, 0.344


@dataclass(frozen=True)
class IExp:
    """The integer exponential for inputs of real scale ``scale`` (module docstring), for ``−d`` up to
    ``d_max``."""

    scale: float
    d_max: int

    def __post_init__(self) -> None:
        if not (isinstance(self.scale, float | int) and math.isfinite(self.scale) and 0 < self.scale <= math.log(2)):
            raise ConfigError("scale", f"{self.scale!r}: a real in (0, ln 2] (the input LSB's value)")

    @cached_property
    def q_ln2(self) -> int:
        return math.floor(math.log(2) / self.scale)

    @cached_property
    def q_b(self) -> int:
        return math.floor(I_EXP_B / self.scale)

    @cached_property
    def q_c(self) -> int:
        return math.floor(I_EXP_C / (I_EXP_A * self.scale**2))

    @cached_property
    def l_max(self) -> int:
        """The largest ``L`` (at ``p = 0``): ``iexp(0)``, the value of 1.0."""
        return self.q_b**2 + self.q_c

    @cached_property
    def l_bits(self) -> int:
        return self.l_max.bit_length()

    @cached_property
    def z_divider(self) -> tuple[int, int]:
        """``(m, s)`` with ``floor(v / q_ln2) = (v · m) >> s`` for every ``0 ≤ v ≤ d_max`` (checked)."""
        v = np.arange(self.d_max + 1, dtype=np.int64)
        want = v // self.q_ln2
        for s in range(self.d_max.bit_length(), 64):
            m = -(-(1 << s) // self.q_ln2)  # ceil(2^s / q_ln2)
            if (m * self.d_max).bit_length() < 63 and np.array_equal((v * m) >> s, want):
                return m, s
        raise AssertionError("no multiply-shift divider")  # cannot happen: s = bits(d_max) + bits(q_ln2) works

    def z(self, neg_d: np.ndarray) -> np.ndarray:
        """``floor(−d / q_ln2)`` of ``neg_d = −d ≥ 0``."""
        return np.asarray(neg_d, dtype=np.int64) // self.q_ln2

    def __call__(self, d: np.ndarray) -> np.ndarray:
        """``iexp(d)`` of integers ``d ≤ 0`` (an int64 array)."""
        d = np.asarray(d, dtype=np.int64)
        z = self.z(-d)
        p = d + z * self.q_ln2
        big_l = (p + self.q_b) ** 2 + self.q_c
        return np.where(z >= self.l_bits, 0, big_l >> np.minimum(z, self.l_bits))


def softmax(x: np.ndarray, iexp: IExp, sum_bits: int, out_bits: int) -> np.ndarray:
    """The integer softmax of one row ``x`` (module docstring); ``sum_bits`` bounds ``Σ e`` (``F = out_bits
    + sum_bits``)."""
    x = np.asarray(x, dtype=np.int64)
    e = iexp(x - x.max())
    total = int(e.sum())
    recip = (1 << (out_bits + sum_bits)) // total
    return np.minimum((1 << out_bits) - 1, (e * recip) >> sum_bits)


@dataclass(frozen=True)
class ExpTable:
    """``E(t) = floor(2^frac · exp(t · scale) + 1/2)`` for integers ``t ≤ 0`` (0 below ``-size + 1``, where it
    rounds to 0): a table of ``size`` entries, ``E(0) = 2^frac`` exactly. The entries come from Python's
    ``math.exp`` (IEEE double, the same everywhere) and are checked monotone."""

    scale: float
    frac: int

    def __post_init__(self) -> None:
        if not (isinstance(self.scale, float | int) and math.isfinite(self.scale) and 0 < self.scale <= math.log(2)):
            raise ConfigError("scale", f"{self.scale!r}: a real in (0, ln 2] (the shifted score LSB's value)")

    @cached_property
    def entries(self) -> tuple[int, ...]:
        """``E(0), E(-1), ...`` down to the last non-zero value."""
        out, t = [], 0
        while True:
            e = math.floor(2.0**self.frac * math.exp(-t * self.scale) + 0.5)
            if e == 0:
                return tuple(out)
            out.append(e)
            t += 1

    @property
    def size(self) -> int:
        return len(self.entries)

    @cached_property
    def _table(self) -> np.ndarray:
        return np.asarray(self.entries, dtype=np.int64)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """``E(t)`` of integers ``t ≤ 0`` (an int64 array)."""
        neg = -np.asarray(t, dtype=np.int64)
        return np.where(neg < self.size, self._table[np.minimum(neg, self.size - 1)], 0)

    def at(self, t: int) -> int:
        """``E(t)`` of one integer ``t ≤ 0``."""
        return self.entries[-t] if -t < self.size else 0


@dataclass
class AttentionState:
    """The online softmax state of one query over a KV range: running maximum ``m`` (a shifted score),
    running sum ``l`` and output accumulators ``acc`` (``Q(F)`` units; ``acc / l`` ≈ the attention output)."""

    m: int
    l: int  # noqa: E741 - the name the online-softmax literature uses
    acc: np.ndarray


def online_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, score_shift: int, exp: ExpTable) -> AttentionState:
    """The online softmax over KV entries ``k[j], v[j]`` (rows), exact integers::

        s_j = (q · k_j) >> score_shift                      (floor)
        entry 0:  m = s_0, l = 2^F, acc = 2^F · v_0
        entry j:  if s_j > m:  α = E(m − s_j); m = s_j; l = (l·α) >> F; acc = (acc·α) >> F; p = 2^F
                  else:        p = E(s_j − m)
                  l += p; acc += p · v_j

    (``>>`` floors; ``F = exp.frac``)."""
    q, k, v = (np.asarray(a, dtype=np.int64) for a in (q, k, v))
    one, F = 1 << exp.frac, exp.frac
    scores = (k @ q) >> score_shift
    st = AttentionState(int(scores[0]), one, one * v[0])
    for s, row in zip(scores[1:], v[1:]):
        s = int(s)
        if s > st.m:
            alpha = exp.at(st.m - s)
            st = AttentionState(s, (st.l * alpha) >> F, (st.acc * alpha) >> F)
            p = one
        else:
            p = exp.at(s - st.m)
        st.l += p
        st.acc = st.acc + p * row
    return st


def combine_partials(states: list[AttentionState], exp: ExpTable) -> AttentionState:
    """The states of several KV ranges as one, in one step: ``M = max m_u``; ``l = Σ (l_u · E_u) >> F`` and
    ``acc = Σ (acc_u · E_u) >> F`` with ``E_u = E(m_u − M)`` (each term floored)."""
    top, F = max(st.m for st in states), exp.frac
    factors = [exp.at(st.m - top) for st in states]
    total = sum((st.l * e) >> F for st, e in zip(states, factors))
    acc = sum(((st.acc * e) >> F for st, e in zip(states, factors)), np.zeros_like(states[0].acc))
    return AttentionState(top, total, acc)


def attention_output(st: AttentionState, recip_frac: int, lo: int, hi: int) -> np.ndarray:
    """The normalized output ``y_i = clamp(lo, hi, (acc_i · R + 2^(G−1)) >> G)`` with ``R = floor(2^G / l)``,
    ``G = recip_frac`` (``acc / l`` rounded half up, through one reciprocal)."""
    G = recip_frac
    recip = (1 << G) // st.l
    return np.clip((st.acc * recip + (1 << (G - 1))) >> G, lo, hi)
