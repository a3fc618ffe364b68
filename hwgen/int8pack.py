"""Two INT8 products in one multiplier (the DSP48E2 packing trick), with its exactness bound.

With ``A = a << 18``, ``D = b`` (pre-adder ``A + D``) and ``B = c``, one
27×18 multiply gives ``P = a·c·2^18 + b·c``. The low field is recovered as
``bc = signed(P[17:0])`` and the high one as ``ac = signed(P[47:18]) + P[17]``
(the borrow the negative low field took from the high field).

Accumulating packed products ``Σ P_k`` and unpacking once is exact while the
low-field sum stays inside 18 signed bits: each INT8 product lies in
``[-16256, 16384]``, so any 7 fit (``7·16384 = 114688 < 2^17``); 8 overflow
only when every product is ``(-128)·(-128) = 16384`` (``8·16384 = 2^17``).
:data:`MAX_EXACT_TERMS` is therefore 7.

Packing the low operand negated, ``a·2^18 − b``, puts ``−Σ b·c`` in the low field, whose range
``[-16384·k, 16256·k]`` has the large end on the negative side, where 18 signed bits reach ``-2^17``:
exact for 8 terms (:data:`NEGATED_MAX_EXACT_TERMS`), the column of an 8-row systolic array. The operand
``a·2^18 − b`` lies in ``[-2^25 - 127, 2^25 - 2^18 + 128]``: 27 signed bits, DSP48E2's A port.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .errors import ConfigError
from .values import integers

SHIFT = 18
MAX_EXACT_TERMS = 7
NEGATED_MAX_EXACT_TERMS = 8
#: Range of the negated packed operand ``a·2^18 − b`` over INT8 ``a``, ``b``.
NEGATED_MIN, NEGATED_MAX = -128 * 2**SHIFT - 127, 127 * 2**SHIFT + 128


def pack(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """The packed operand ``a·2^18 + b`` (int64) of INT8 values ``a`` and ``b``."""
    return (_int8(a, "a") << SHIFT) + _int8(b, "b")


def _int8(x: ArrayLike, where: str) -> np.ndarray:
    return integers(x, f"int8pack.{where}", lo=-128, hi=127)


def unpack(p: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(high, low)`` fields of a packed product or packed sum, with the borrow correction."""
    p = np.asarray(p, dtype=np.int64)
    low = p & ((1 << SHIFT) - 1)
    borrow = (low >> (SHIFT - 1)) & 1
    low = low - (borrow << SHIFT)
    high = (p >> SHIFT) + borrow
    return high, low


def packed_dot(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(Σ a·c, Σ b·c)`` over the last axis through one packed accumulation; raises :class:`ConfigError`
    past :data:`MAX_EXACT_TERMS` terms, where the sum is no longer exact."""
    c = _int8(c, "c")
    terms = c.shape[-1] if c.ndim else 1
    if terms > MAX_EXACT_TERMS:
        raise ConfigError(
            "int8pack.packed_dot", f"{terms} terms; a packed sum is exact for at most {MAX_EXACT_TERMS} products"
        )
    return unpack(np.sum(pack(a, b) * c, axis=-1))


def pack_negated(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """The packed operand ``a·2^18 − b`` (int64) of INT8 values ``a`` and ``b``."""
    return (_int8(a, "a") << SHIFT) - _int8(b, "b")


def unpack_negated(p: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(high, low)`` of a sum of negated packed products ``Σ (a·2^18 − b)·c``: ``(Σ a·c, Σ b·c)``.
    The low field ``n = signed(p[17:0])`` is ``−Σ b·c``; the high one is ``(p >> 18) + (n < 0)``."""
    p = np.asarray(p, dtype=np.int64)
    neg = p & ((1 << SHIFT) - 1)
    borrow = (neg >> (SHIFT - 1)) & 1
    neg = neg - (borrow << SHIFT)
    return (p >> SHIFT) + borrow, -neg
