"""Integer requantization: the one rule the golden models and the hardware both implement.

``round_shift(x, n)`` is ``x / 2**n`` rounded half away from zero (gemmlowp / TFLite), on exact integers::

    round_shift(x, 0) = x
    round_shift(x, n) = sign(x) · (((|x| >> (n − 1)) + 1) >> 1)        for n ≥ 1

which equals ``sign(x) · floor((|x| + 2**(n−1)) / 2**n)``; the hardware
(:func:`hwgen.arith.requantize`) computes exactly this coding.

``requantize(acc, multiplier, shift, zero_point, out)`` is
``clamp(zero_point + round_shift(acc · multiplier, shift), out.min, out.max)``
with a multiplier of 0..2^31 − 1 (31 bits), a shift of 0..62 and a zero point
inside ``out``; :func:`check_requant` validates those parameters.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError
from .numtype import NumType

MAX_MULTIPLIER = (1 << 31) - 1
MAX_SHIFT = 62


def round_shift(x: np.ndarray | int, n: int) -> np.ndarray:
    """``x / 2**n`` rounded half away from zero, exactly (object array of Python ints)."""
    arr = np.asarray(x, dtype=object)
    if n == 0:
        return arr

    def one(v: int) -> int:
        q = ((abs(v) >> (n - 1)) + 1) >> 1
        return q if v >= 0 else -q

    return np.vectorize(one, otypes=[object])(arr) if arr.size else arr


def requantize(acc: np.ndarray, multiplier: int, shift: int, zero_point: int, out: NumType) -> np.ndarray:
    """``clamp(zero_point + round_shift(acc · multiplier, shift), out.min, out.max)`` on exact integers."""
    y = np.asarray(acc, dtype=object)
    if not y.size:
        return y
    return out.saturate(zero_point + round_shift(y * multiplier, shift))


def check_requant(where: str, multiplier: object, shift: object, zero_point: object, out: object) -> None:
    """Raise :class:`ConfigError` naming ``where.<field>`` unless the requantization parameters are buildable."""
    for name, value, lo, hi in (("multiplier", multiplier, 0, MAX_MULTIPLIER), ("shift", shift, 0, MAX_SHIFT)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or not lo <= value <= hi:
            raise ConfigError(f"{where}.{name}", f"{value!r} is not an integer in {lo}..{hi}")
    if not isinstance(out, NumType) or out.frac or not 2 <= out.width <= 32:
        raise ConfigError(f"{where}.out", f"{out!r}: the requantized type must be an integer type of 2..32 bits")
    if (
        not isinstance(zero_point, int | np.integer)
        or isinstance(zero_point, bool)
        or not out.holds(int(zero_point), int(zero_point))
    ):
        raise ConfigError(
            f"{where}.zero_point", f"{zero_point!r} is not an integer within {out} ({out.min}..{out.max})"
        )
