"""Integer requantization: the one rule the golden models and the hardware both implement.

``round_shift(x, n, rounding)`` is ``x / 2**n`` rounded to an integer, on exact integers, with ties
(``|x| mod 2**n = 2**(n−1)``) going

* ``"half_away"`` (default; gemmlowp / TFLite): away from zero,
* ``"half_even"`` (ONNX ``QuantizeLinear``, numpy ``rint``): to the even neighbour.

Both are symmetric, so they are computed on the magnitude; with ``t = |x| >> n`` (the truncated
quotient), ``h`` bit ``n − 1`` of ``|x|`` (the half) and ``s`` whether any lower bit is set::

    round_shift(x, 0) = x
    round_shift(x, n) = sign(x) · (t + h)                         half_away, n ≥ 1
    round_shift(x, n) = sign(x) · (t + (h and (s or t odd)))      half_even, n ≥ 1

(``t + h = ((|x| >> (n − 1)) + 1) >> 1 = floor((|x| + 2**(n−1)) / 2**n)``); the hardware
(:func:`hwgen.arith.requantize`) computes exactly this coding.

``requantize(acc, multiplier, shift, zero_point, out)`` is
``clamp(zero_point + round_shift(acc · multiplier, shift), out.min, out.max)``
with a multiplier of 0..2^31 − 1 (31 bits), a shift of 0..62 and a zero point
inside ``out``; :func:`check_requant` validates those parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from .errors import ConfigError
from .numtype import NumType

MAX_MULTIPLIER = (1 << 31) - 1
MAX_SHIFT = 62
Rounding = Literal["half_away", "half_even"]
ROUNDINGS = ("half_away", "half_even")


def round_shift(x: np.ndarray | int, n: int, rounding: Rounding = "half_away") -> np.ndarray:
    """``x / 2**n`` rounded to an integer, ties as ``rounding`` says, exactly (object array of Python ints)."""
    arr = np.asarray(x, dtype=object)
    if n == 0:
        return arr
    even = check_rounding("rounding", rounding) == "half_even"

    def one(v: int) -> int:
        mag = abs(v)
        t, half, sticky = mag >> n, (mag >> (n - 1)) & 1, mag & ((1 << (n - 1)) - 1) != 0
        q = t + (half & (sticky | (t & 1)) if even else half)
        return q if v >= 0 else -q

    return np.vectorize(one, otypes=[object])(arr) if arr.size else arr


def requantize(
    acc: np.ndarray,
    multiplier: int | Sequence[int],
    shift: int | Sequence[int],
    zero_point: int,
    out: NumType,
    rounding: Rounding = "half_away",
) -> np.ndarray:
    """``clamp(zero_point + round_shift(acc · multiplier, shift, rounding), out.min, out.max)`` on exact
    integers; the parameters are checked first (:func:`check_requant`). ``multiplier`` and ``shift`` may be
    per column: sequences as long as ``acc``'s last axis (per-channel quantization)."""
    y = np.asarray(acc, dtype=object)
    if not isinstance(multiplier, int | np.integer) or not isinstance(shift, int | np.integer):
        cols = y.shape[-1] if y.ndim else 0
        mult, sh = _per_column(multiplier, cols, "multiplier"), _per_column(shift, cols, "shift")
        out_cols = [requantize(y[..., j], mult[j], sh[j], zero_point, out, rounding) for j in range(cols)]
        return np.stack(out_cols, axis=-1) if cols else y
    check_requant("requant", multiplier, shift, zero_point, out, rounding)
    if not y.size:
        return y
    return out.saturate(zero_point + round_shift(y * multiplier, shift, rounding))


def _per_column(value: object, cols: int, name: str) -> list:
    """``value`` as one parameter per column: a scalar repeated, or a sequence of exactly ``cols``."""
    if isinstance(value, int | np.integer):
        return [value] * cols
    items = list(np.asarray(value, dtype=object).reshape(-1)) if not isinstance(value, str) else None
    if items is None or len(items) != cols:
        raise ConfigError(f"requant.{name}", f"{value!r}: one value, or one per column ({cols})")
    return items


def check_rounding(where: str, rounding: object) -> str:
    """``rounding`` if it is one of :data:`ROUNDINGS`, else :class:`ConfigError` naming ``where``."""
    if not isinstance(rounding, str) or rounding not in ROUNDINGS:
        raise ConfigError(where, f"{rounding!r} is not one of {', '.join(ROUNDINGS)}")
    return rounding


def check_requant(
    where: str, multiplier: object, shift: object, zero_point: object, out: object, rounding: object = "half_away"
) -> None:
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
    check_rounding(f"{where}.rounding", rounding)
