"""Number types of the DSL: signed/unsigned integers and fixed point.

A :class:`NumType` is a two's-complement (or unsigned) bit vector of
``width`` bits whose raw integer ``r`` stands for the real value
``r / 2**frac``. ``Int(8)`` is ``NumType(8, signed=True, frac=0)``,
``UInt(4)`` is unsigned, ``Fixed(16, frac=8)`` is a signed Q7.8.

Everything hwgen computes on numbers is done on the *raw integers*, so the
hardware and the NumPy golden models agree bit for bit. The width rules are
range based: the type of a product or of a sum of ``n`` terms is the narrowest
type that holds every value the operation can produce, e.g.
``Int(8) * Int(8) -> Int(16)`` (because ``-128 * -128 = 16384`` needs 16
signed bits) and ``UInt(8) * Int(8) -> Int(16)``.

NumPy arrays of raw values use ``int64`` while every value fits in 62 bits
and Python integers (``dtype=object``) beyond, so no model ever overflows
silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
from amaranth.hdl import Shape, signed, unsigned
from numpy.typing import ArrayLike

from .errors import ConfigError
from .values import integers

Overflow = Literal["wrap", "saturate", "error"]
OVERFLOW_MODES: tuple[str, ...] = ("wrap", "saturate", "error")

#: Widths above this many bits use Python-int (object) arrays in the models.
INT64_SAFE_BITS = 62
MAX_WIDTH = 256


@dataclass(frozen=True)
class NumType:
    """A fixed-width integer or fixed-point number type.

    Args:
        width: total bits, 1..256.
        signed: two's complement when true.
        frac: fractional bits (0 for integers); the real value is
            ``raw / 2**frac``.
    """

    width: int
    signed: bool = True
    frac: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.width, int) or isinstance(self.width, bool) or not 1 <= self.width <= MAX_WIDTH:
            raise ConfigError("type.width", f"{self.width!r} is not an integer in 1..{MAX_WIDTH}")
        if not isinstance(self.frac, int) or isinstance(self.frac, bool) or not 0 <= self.frac <= MAX_WIDTH:
            raise ConfigError("type.frac", f"{self.frac!r} is not an integer in 0..{MAX_WIDTH}")
        if self.signed and self.width < 2:
            raise ConfigError("type.width", "a signed type needs at least 2 bits; use UInt(1) for a flag")

    # ---------------------------------------------------------------- ranges
    @property
    def min(self) -> int:
        """Most negative raw value."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        """Most positive raw value."""
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def shape(self) -> Shape:
        """The Amaranth shape of the raw bits."""
        return signed(self.width) if self.signed else unsigned(self.width)

    @property
    def is_integer(self) -> bool:
        return self.frac == 0

    def holds(self, lo: int, hi: int) -> bool:
        """True when every raw value in ``[lo, hi]`` is representable."""
        return self.min <= lo and hi <= self.max

    # ----------------------------------------------------------- width rules
    @staticmethod
    def fitting(lo: int, hi: int, frac: int = 0, *, signed: bool | None = None) -> NumType:
        """The narrowest type holding every raw value in ``[lo, hi]``.

        Signedness is inferred from ``lo < 0`` unless given.
        """
        if signed is None:
            signed = lo < 0
        if signed:
            width = 2
            while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
                width += 1
        else:
            if lo < 0:
                raise ConfigError("type", f"an unsigned type cannot hold {lo}")
            width = max(1, int(hi).bit_length())
        return NumType(width, signed, frac)

    def product(self, other: NumType) -> NumType:
        """Exact type of ``self * other`` (fractional bits add)."""
        corners = [a * b for a in (self.min, self.max) for b in (other.min, other.max)]
        return NumType.fitting(min(corners), max(corners), self.frac + other.frac)

    def sum_of(self, n: int) -> NumType:
        """Exact type of a sum of ``n`` values of this type."""
        if n < 1:
            raise ConfigError("type", f"a sum needs at least one term, not {n}")
        return NumType.fitting(self.min * n, self.max * n, self.frac, signed=self.signed)

    # -------------------------------------------------- NumPy raw arithmetic
    def dtype(self) -> type:
        """NumPy dtype able to hold this type's raw values exactly."""
        return np.int64 if self.width <= INT64_SAFE_BITS else object

    def array(self, values: ArrayLike, where: str | None = None) -> np.ndarray:
        """Raw values as an exact NumPy array; raises :class:`ConfigError` (naming ``where``) for anything
        that is not an integer of this type's range (text, booleans, fractions, NaN, out of range)."""
        arr = integers(values, where or str(self), lo=self.min, hi=self.max)
        return arr.astype(self.dtype()) if arr.dtype != self.dtype() else arr

    def wrap(self, values: ArrayLike) -> np.ndarray:
        """Two's-complement wrap-around of raw integers into this type."""
        arr = np.asarray(values)
        span = 1 << self.width
        if arr.dtype != object and self.width >= 63:
            arr = arr.astype(object)
        if arr.dtype == object:
            return np.vectorize(lambda v: ((int(v) - self.min) % span) + self.min, otypes=[object])(arr)
        return ((arr - self.min) % span + self.min).astype(np.int64)

    def saturate(self, values: ArrayLike) -> np.ndarray:
        """Clamp raw integers to ``[min, max]``."""
        arr = np.asarray(values)
        if arr.dtype == object:
            return np.vectorize(lambda v: max(self.min, min(self.max, int(v))), otypes=[object])(arr)
        lo = max(self.min, np.iinfo(np.int64).min)
        hi = min(self.max, np.iinfo(np.int64).max)
        return np.clip(arr, lo, hi).astype(np.int64)

    def fold(self, values: np.ndarray | int, rule: Overflow) -> np.ndarray | int:
        """Exact integers brought into this type by an overflow rule: ``wrap`` (two's complement),
        ``saturate`` (clamp to ``[min, max]``) or ``error`` (must already fit; raises ``ValueError``
        otherwise). A Python ``int`` gives an ``int``; arrays give arrays. This is the one golden rule
        of every accumulator (``acc = fold(acc + x, rule)`` once per step)."""
        if rule not in OVERFLOW_MODES:
            raise ConfigError("overflow", f"{rule!r} is not one of {', '.join(OVERFLOW_MODES)}")
        if isinstance(values, int | np.integer) and not isinstance(values, bool):
            v = int(values)
            if rule == "wrap":
                return (v - self.min) % (1 << self.width) + self.min
            if rule == "saturate":
                return max(self.min, min(self.max, v))
            if not self.min <= v <= self.max:
                raise ValueError(f"{self}: {v} overflows the type with overflow='error'")
            return v
        if rule == "wrap":
            return self.wrap(values)
        if rule == "saturate":
            return self.saturate(values)
        arr = np.asarray(values)
        if arr.size and (arr.min() < self.min or arr.max() > self.max):
            bad = arr[(arr < self.min) | (arr > self.max)].flat[0]
            raise ValueError(f"{self}: {bad} overflows the type with overflow='error'")
        return arr

    def to_unsigned(self, values: ArrayLike) -> np.ndarray:
        """Raw values as their bit patterns (unsigned integers of ``width`` bits)."""
        arr = np.asarray(values)
        if arr.dtype == object or self.width >= 63:
            return np.vectorize(lambda v: int(v) & ((1 << self.width) - 1), otypes=[object])(arr)
        return arr.astype(np.int64) & ((1 << self.width) - 1)

    def from_unsigned(self, bits: ArrayLike) -> np.ndarray:
        """Bit patterns of ``width`` bits back to raw values (sign-extended)."""
        arr = np.asarray(bits)
        if not self.signed:
            return arr
        if arr.dtype == object or self.width >= 63:
            top = 1 << (self.width - 1)
            return np.vectorize(lambda v: int(v) - (1 << self.width) if int(v) & top else int(v), otypes=[object])(arr)
        arr = arr.astype(np.int64)
        return np.where(arr >= (1 << (self.width - 1)), arr - (1 << self.width), arr)

    def to_real(self, values: ArrayLike) -> np.ndarray:
        """Real values (float64) of raw integers, for display only."""
        return np.asarray(values, dtype=np.float64) / (1 << self.frac)

    def from_real(self, reals: ArrayLike, *, overflow: Literal["saturate", "error"] = "saturate") -> np.ndarray:
        """Quantize reals to raw values: round half to even, then saturate (or raise)."""
        scaled = np.rint(np.asarray(reals, dtype=np.float64) * (1 << self.frac))
        if not np.all(np.isfinite(scaled)):
            raise ValueError(f"{self}: cannot quantize NaN or infinite values")
        if overflow == "error" and (scaled.min() < self.min or scaled.max() > self.max):
            raise ValueError(f"{self}: value outside {self.to_real(self.min)}..{self.to_real(self.max)}")
        return self.saturate(scaled.astype(object) if self.width > INT64_SAFE_BITS else scaled.astype(np.int64))

    # ------------------------------------------------------------- spelling
    def __str__(self) -> str:
        if self.frac == 0:
            return f"{'Int' if self.signed else 'UInt'}({self.width})"
        if self.signed:
            return f"Fixed({self.width}, frac={self.frac})"
        return f"UFixed({self.width}, frac={self.frac})"

    def __repr__(self) -> str:
        return str(self)

    @staticmethod
    def parse(text: str, where: str = "type") -> NumType:
        """Parse ``Int(8)``, ``UInt(4)``, ``Fixed(16, frac=8)``, ``UFixed(8, frac=8)``,
        or the short forms ``int8``, ``uint4``, ``q7.8`` (signed, 1+7+8 bits) and
        ``uq0.8``."""
        if isinstance(text, NumType):
            return text
        if not isinstance(text, str):
            raise ConfigError(where, f"expected a number type such as 'Int(8)', not {text!r}")
        s = text.strip()
        m = re.fullmatch(r"(U?Int)\(\s*(\d+)\s*\)", s)
        if m:
            return _make(where, int(m[2]), m[1] == "Int", 0)
        m = re.fullmatch(r"(U?Fixed)\(\s*(\d+)\s*,\s*(?:frac\s*=\s*)?(\d+)\s*\)", s)
        if m:
            return _make(where, int(m[2]), m[1] == "Fixed", int(m[3]))
        m = re.fullmatch(r"(u?int)(\d+)", s.lower())
        if m:
            return _make(where, int(m[2]), m[1] == "int", 0)
        m = re.fullmatch(r"(u?q)(\d+)\.(\d+)", s.lower())
        if m:
            is_signed = m[1] == "q"
            return _make(where, int(m[2]) + int(m[3]) + int(is_signed), is_signed, int(m[3]))
        raise ConfigError(
            where,
            f"{text!r} is not a number type; write Int(8), UInt(4), "
            f"Fixed(16, frac=8), UFixed(8, frac=4), int8, uint4 or q7.8",
        )


def _make(where: str, width: int, is_signed: bool, frac: int) -> NumType:
    try:
        return NumType(width, is_signed, frac)
    except ConfigError as e:
        raise ConfigError(where, e.detail) from None


def Int(width: int) -> NumType:
    """Signed two's-complement integer of ``width`` bits."""
    return NumType(width, True, 0)


def UInt(width: int) -> NumType:
    """Unsigned integer of ``width`` bits."""
    return NumType(width, False, 0)


def Fixed(width: int, frac: int) -> NumType:
    """Signed fixed point: ``width`` bits of which ``frac`` are fractional."""
    return NumType(width, True, frac)


def UFixed(width: int, frac: int) -> NumType:
    """Unsigned fixed point: ``width`` bits of which ``frac`` are fractional."""
    return NumType(width, False, frac)
