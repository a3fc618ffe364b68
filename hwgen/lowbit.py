"""Low-bit weight datatypes (BitMoD, FLINT, OliVe, ternary), quantizers and bit packing — pure NumPy.

Every datatype is a table from codes to integer grid values (a weight is
``grid value × scale``) plus how a bit-serial PE processes it: a list of
shift-add *terms* per code, one term per cycle.

Encodings (see ``shared/specs/numerics.md``; *inferred* choices marked):

* ``INT{b}`` (b = 2..8): two's complement; processed by radix-4 Booth, one
  digit ``d ∈ {-2..2}`` per 2 bits, term ``d · 4^i`` — ``ceil(b/2)`` cycles.
* ``FP4`` (E2M1 ×2) and its variants: sign-magnitude ``s | m2 m1 m0`` with
  magnitudes 0, 1, 2, 3, 4, 6, 8, 12; code ``1000`` is the group's special
  value: ``FP4-ER-POS`` +10, ``FP4-ER-NEG`` −10, ``FP4-EA-POS`` +16,
  ``FP4-EA-NEG`` −16 (plain ``FP4``: 0). Two terms (every magnitude has at
  most two set bits).
* ``FP3``: ``s | m1 m0`` with 0, 1, 2, 4; code ``100`` = special *(inferred)*:
  ER ±3, EA ±6. Two terms.
* ``FLINT4``: sign-magnitude, magnitudes 0, 1, 2, 3, 4, 6, 8, 16; ``1000`` is
  0 *(inferred)*. Two terms.
* ``TERNARY``: 2 bits, ``00`` 0, ``01`` +1, ``11`` −1, ``10`` 0 *(inferred)*.
* OliVe pairs: see :func:`olive_encode`.

Rounding to a grid: nearest value, ties to the lower value. Datatype
selection: smallest mean squared error, ties to the earlier candidate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from .errors import ConfigError
from .values import integer, integers, real, reals

FP4_MAG = (0, 1, 2, 3, 4, 6, 8, 12)
FP3_MAG = (0, 1, 2, 4)
FLINT4_MAG = (0, 1, 2, 3, 4, 6, 8, 16)
#: abfloat 4-bit outlier magnitudes for codes s|e1 e0|m = x001 .. x111: (2 + m) · 2^(e + 2) *(bit order inferred)*.
ABFLOAT_MAG = (None, 12, 16, 24, 32, 48, 64, 96)
OLIVE_ID = 0b1000


def _twos(code: int, bits: int) -> int:
    return code - (1 << bits) if code >> (bits - 1) else code


def booth_digits(value: int, bits: int) -> list[int]:
    """Radix-4 Booth digits of a ``bits``-bit two's-complement value, least significant first."""
    bits = integer(bits, "booth_digits.bits", lo=1, hi=64)
    value = integer(value, "booth_digits.value", lo=-(1 << (bits - 1)), hi=(1 << (bits - 1)) - 1)
    u = value & ((1 << bits) - 1)
    if bits % 2:
        u |= ((u >> (bits - 1)) & 1) << bits  # sign-extend to an even width
        bits += 1
    table = {0b000: 0, 0b001: 1, 0b010: 1, 0b011: 2, 0b100: -2, 0b101: -1, 0b110: -1, 0b111: 0}
    digits, prev = [], 0
    for i in range(bits // 2):
        lo, hi = (u >> (2 * i)) & 1, (u >> (2 * i + 1)) & 1
        digits.append(table[(hi << 2) | (lo << 1) | prev])
        prev = hi
    return digits


@dataclass(frozen=True)
class Datatype:
    """A low-bit weight format: ``bits``-bit codes -> integer grid values and shift-add terms."""

    name: str
    bits: int
    values: tuple[int, ...]  # value of every code 0 .. 2^bits - 1
    cycles: int  # terms per weight in a bit-serial PE

    @cached_property
    def grid(self) -> np.ndarray:
        """Distinct representable values, ascending."""
        return np.array(sorted(set(self.values)), dtype=np.int64)

    @property
    def qmax(self) -> int:
        return int(np.abs(self.grid).max())

    def decode(self, codes: ArrayLike) -> np.ndarray:
        """Grid values of codes (``bits``-bit, ``0 .. 2^bits − 1``)."""
        c = integers(codes, f"{self.name} codes", lo=0, hi=(1 << self.bits) - 1)
        return np.asarray(self.values, dtype=np.int64)[c]

    @cached_property
    def _code_of(self) -> dict[int, int]:
        """For each value, its canonical code (the lowest code with that value)."""
        out: dict[int, int] = {}
        for c, v in enumerate(self.values):
            out.setdefault(v, c)
        return out

    def encode(self, values: ArrayLike) -> np.ndarray:
        """Codes of grid values (raises :class:`ConfigError` if a value is not on the grid)."""
        v = integers(values, f"{self.name} values")
        lut = self._code_of
        bad = ~np.isin(v, self.grid)
        if bad.any():
            raise ConfigError(f"{self.name} values", f"{int(v[bad].flat[0])} is not on the grid {self.grid.tolist()}")
        return np.vectorize(lambda x: lut[int(x)], otypes=[np.int64])(v) if v.size else v.astype(np.int64)

    def round(self, x: ArrayLike) -> np.ndarray:
        """Nearest grid value of each real ``x`` (ties to the lower value)."""
        x = reals(x, f"{self.name} values")
        g = self.grid.astype(np.float64)
        i = np.clip(np.searchsorted(g, x), 1, len(g) - 1)
        lo, hi = g[i - 1], g[i]
        return np.where(x - lo <= hi - x, lo, hi).astype(np.int64)

    def digits(self, code: int) -> tuple[int, ...]:
        """The ``cycles`` base-4 digits of one code, least significant first: ``value = Σ d_k·4^k``.

        Every digit is one of ``0, ±1, ±2, ±4``, so cycle ``k`` of a bit-serial PE adds ``d_k·a`` with a
        per-lane shift of 0, 1 or 2 and a shift by ``2k`` shared by all lanes (applied by Horner's rule,
        most significant digit first). ``INT{b}`` uses radix-4 Booth digits (the spec's table). The other
        formats use the digit vector with the fewest non-zero digits, then the smallest ``Σ|d_k|``, then
        the lexicographically smallest (so ``3 = 4 − 1`` is ``(−1, +1)``, ``12 = 8 + 4`` is ``(4, 2)``).
        """
        return self._digit_table[integer(code, f"{self.name} code", lo=0, hi=(1 << self.bits) - 1)]

    @cached_property
    def _digit_table(self) -> tuple[tuple[int, ...], ...]:
        if self.name.startswith("INT"):
            return tuple(tuple(booth_digits(v, self.bits)) for v in self.values)
        choices = sorted(
            itertools.product((0, 1, -1, 2, -2, 4, -4), repeat=self.cycles),
            key=lambda d: (sum(x != 0 for x in d), sum(abs(x) for x in d), d),
        )
        table = []
        for v in self.values:
            best = next((d for d in choices if sum(x * 4**k for k, x in enumerate(d)) == v), None)
            if best is None:
                raise AssertionError(f"{self.name}: {v} has no {self.cycles}-digit base-4 form")
            table.append(best)
        return tuple(table)

    def terms(self, code: int) -> list[tuple[int, int]]:
        """The ``cycles`` shift-add terms ``(sign in {-1,0,+1}, shift)`` of one code (zero terms pad):
        term ``k`` is digit ``k`` of :meth:`digits`, ``shift = 2k + log2|d_k|``."""
        t = [
            (int(np.sign(d)), 2 * k + abs(d).bit_length() - 1) if d else (0, 0) for k, d in enumerate(self.digits(code))
        ]
        assert len(t) == self.cycles and sum(sg << sh for sg, sh in t) == self.values[code], (self.name, code)
        return t


def _signmag(name: str, bits: int, mags: tuple[int, ...], special: int = 0) -> Datatype:
    half = 1 << (bits - 1)
    vals = [mags[c] for c in range(half)] + [special] + [-mags[c] for c in range(1, half)]
    return Datatype(name, bits, tuple(vals), 2)


def _make_registry() -> dict[str, Datatype]:
    reg: dict[str, Datatype] = {}
    for b in range(2, 9):
        reg[f"INT{b}"] = Datatype(f"INT{b}", b, tuple(_twos(c, b) for c in range(1 << b)), -(-b // 2))
    reg["FP4"] = _signmag("FP4", 4, FP4_MAG)
    for kind, sv in (("ER", 10), ("EA", 16)):
        reg[f"FP4-{kind}-POS"] = _signmag(f"FP4-{kind}-POS", 4, FP4_MAG, sv)
        reg[f"FP4-{kind}-NEG"] = _signmag(f"FP4-{kind}-NEG", 4, FP4_MAG, -sv)
    reg["FP3"] = _signmag("FP3", 3, FP3_MAG)
    for kind, sv in (("ER", 3), ("EA", 6)):
        reg[f"FP3-{kind}-POS"] = _signmag(f"FP3-{kind}-POS", 3, FP3_MAG, sv)
        reg[f"FP3-{kind}-NEG"] = _signmag(f"FP3-{kind}-NEG", 3, FP3_MAG, -sv)
    reg["FLINT4"] = _signmag("FLINT4", 4, FLINT4_MAG)
    reg["TERNARY"] = Datatype("TERNARY", 2, (0, 1, 0, -1), 1)
    return reg


DATATYPES: dict[str, Datatype] = _make_registry()
#: BitMoD's per-group candidates, in the tie-breaking order of the spec.
BITMOD_FP4 = ("FP4-ER-POS", "FP4-ER-NEG", "FP4-EA-POS", "FP4-EA-NEG")
BITMOD_FP3 = ("FP3-ER-POS", "FP3-ER-NEG", "FP3-EA-POS", "FP3-EA-NEG")


def datatype(name: str, where: str = "datatype") -> Datatype:
    """The datatype called ``name`` (any case); :class:`ConfigError` listing the known ones otherwise."""
    try:
        return DATATYPES[name.upper()]
    except (KeyError, AttributeError):
        raise ConfigError(where, f"unknown datatype {name!r}; known: {', '.join(DATATYPES)}") from None


# ----------------------------------------------------------------------------- quantization
@dataclass
class GroupQuantized:
    """Per-group quantized weights of a matrix ``[rows, K]``.

    ``codes [rows, K]``, ``dtype_id [rows, K/G]`` (index into ``candidates``),
    ``scale [rows, K/G]`` (float, before the second level), and the second
    level: ``scale_q [rows, K/G]`` (8-bit ints) and ``scale_ch [rows]`` (float)
    with ``scale ≈ scale_q · scale_ch``.
    """

    candidates: tuple[str, ...]
    group: int
    codes: np.ndarray
    dtype_id: np.ndarray
    scale: np.ndarray
    scale_q: np.ndarray
    scale_ch: np.ndarray

    def grid_values(self) -> np.ndarray:
        """The integer grid value of every weight."""
        out = np.zeros(self.codes.shape, dtype=np.int64)
        for i, name in enumerate(self.candidates):
            dt = DATATYPES[name]
            mask = np.repeat(self.dtype_id == i, self.group, axis=1)
            out[mask] = dt.decode(self.codes[mask])
        return out

    def dequantize(self) -> np.ndarray:
        """Real weights with the second-level (8-bit) scales."""
        s = np.repeat(self.scale_q * self.scale_ch[:, None], self.group, axis=1)
        return self.grid_values() * s


def quantize_groups(
    w: ArrayLike,
    candidates: tuple[str, ...] = BITMOD_FP4,
    group: int = 128,
    scale_bits: int = 8,
    min_scale: float = 1e-8,
) -> GroupQuantized:
    """BitMoD per-group quantization: per group of ``group`` weights of a row, try every candidate
    datatype with ``s = absmax / qmax`` (at least ``min_scale``), round ``w / s`` to its grid (ties
    to the lower value), keep the smallest MSE (ties to the earlier candidate); then quantize the
    group scales per row to ``scale_bits`` bits: ``s_ch = max_g s_g / (2^b - 1)``,
    ``q_s = clamp(round_half_even(s_g / s_ch), 0, 2^b - 1)``.

    An all-zero group gets scale ``min_scale`` (its codes are all 0). Raises :class:`ConfigError` for
    weights that are not a non-empty matrix of finite reals, a reduction length that is not a multiple
    of ``group`` (pad with zeros first), an empty or unknown candidate list, ``scale_bits`` outside
    1..16 and a ``min_scale`` that is not positive.
    """
    if isinstance(candidates, str) or not isinstance(candidates, tuple | list) or not candidates:
        raise ConfigError(
            "candidates", f"{candidates!r}: give a non-empty list of datatype names, e.g. ({BITMOD_FP4[0]!r},)"
        )
    group = integer(group, "group", lo=1)
    scale_bits = integer(scale_bits, "scale_bits", lo=1, hi=16)
    min_scale = real(min_scale, "min_scale", positive=True)
    w = reals(w, "weights", ndim=2, nonempty=True)
    if w.shape[1] % group:
        raise ConfigError(
            "group",
            f"group size {group} does not divide the reduction length {w.shape[1]}; "
            f"pad the weights with zero columns to a multiple of {group}",
        )
    dts = [datatype(n, "candidates") for n in candidates]
    rows, k = w.shape
    g = w.reshape(rows, k // group, group)
    absmax = np.abs(g).max(axis=2)
    best_err = np.full(absmax.shape, np.inf)
    best_id = np.zeros(absmax.shape, dtype=np.int64)
    best_codes = np.zeros(g.shape, dtype=np.int64)
    best_scale = np.zeros(absmax.shape)
    for i, dt in enumerate(dts):
        s = np.maximum(absmax / dt.qmax, min_scale)
        q = dt.round(g / s[..., None])
        err = np.mean((q * s[..., None] - g) ** 2, axis=2)
        better = err < best_err  # strict: ties keep the earlier candidate
        best_err = np.where(better, err, best_err)
        best_id = np.where(better, i, best_id)
        best_scale = np.where(better, s, best_scale)
        best_codes = np.where(better[..., None], dt.encode(q), best_codes)
    top = (1 << scale_bits) - 1
    s_ch = best_scale.max(axis=1) / top  # every s_g >= min_scale > 0, so s_ch > 0
    s_q = np.clip(np.rint(best_scale / s_ch[:, None]), 0, top).astype(np.int64)
    return GroupQuantized(tuple(candidates), group, best_codes.reshape(rows, k), best_id, best_scale, s_q, s_ch)


# ----------------------------------------------------------------------------- OliVe pairs
def olive_encode(q: ArrayLike) -> np.ndarray:
    """OliVe outlier-victim pairs: integer values (in INT4 units) -> 8-bit pair codes.

    Pairs are elements (2k, 2k+1). Normal values are INT4 in [-7, 7] (code
    ``1000`` is the outlier identifier, so -8 is not used). A value outside
    [-7, 7] is an outlier: it is rounded to the nearest abfloat magnitude
    (ties to the lower) and its neighbour (the victim) becomes 0 with code
    ``1000``. When both elements of a pair are outliers, the larger magnitude
    is kept (ties: the even element) *(the paper's rule; the public code keeps
    the even element)*. Values between 7 and 12 go to whichever of 7 and 12 is
    nearer. The byte is ``(code_odd << 4) | code_even``.
    """
    q = integers(q, "olive values")
    if q.size % 2:
        raise ConfigError("weights", f"{q.size} values cannot form outlier-victim pairs; pad to an even count")
    flat = q.reshape(-1, 2)
    mags = np.array([m for m in ABFLOAT_MAG if m is not None], dtype=np.float64)
    grid = np.concatenate([np.arange(0, 8), mags])
    out = np.zeros(len(flat), dtype=np.int64)
    for k, (e, o) in enumerate(flat):
        ra, rb = _olive_round(int(e), grid), _olive_round(int(o), grid)
        oe, oo = abs(ra) > 7, abs(rb) > 7
        if oe and oo:
            if abs(ra) >= abs(rb):
                oo, rb = False, 0
            else:
                oe, ra = False, 0
        if oe:
            out[k] = (OLIVE_ID << 4) | _abfloat_code(ra)
        elif oo:
            out[k] = (_abfloat_code(rb) << 4) | OLIVE_ID
        else:
            out[k] = ((rb & 0xF) << 4) | (ra & 0xF)
    return out


def _olive_round(v: int, grid: np.ndarray) -> int:
    a = abs(v)
    i = int(np.argmin(np.abs(grid - a) + (grid > a) * 1e-9))  # nearest; ties to the lower
    return int(grid[i]) * (1 if v >= 0 else -1)


def _abfloat_code(v: int) -> int:
    return (8 if v < 0 else 0) | ABFLOAT_MAG.index(abs(v))


def olive_decode_nibble(nib: int, other: int) -> tuple[int, int]:
    """``(mantissa, shift)`` of one element given its own nibble and its pair partner's."""
    if nib == OLIVE_ID:
        return 0, 0  # the victim
    if other == OLIVE_ID:  # this one is the abfloat outlier
        s, e, mm = nib >> 3, (nib >> 1) & 3, nib & 1
        return (-(2 + mm) if s else 2 + mm), e + 2
    return _twos(nib, 4), 0


def olive_decode(pairs: ArrayLike) -> np.ndarray:
    """Pair codes -> integer values (``mant << shift``), two per byte (even element first)."""
    out = []
    for p in integers(pairs, "olive pairs", lo=0, hi=255).ravel():
        lo, hi = int(p) & 0xF, int(p) >> 4
        for nib, other in ((lo, hi), (hi, lo)):
            mant, sh = olive_decode_nibble(nib, other)
            out.append(mant << sh)
    return np.array(out, dtype=np.int64)


# ----------------------------------------------------------------------------- bit packing
def pack_codes(codes: ArrayLike, bits: int) -> np.ndarray:
    """Pack ``bits``-bit codes LSB-first into a uint8 array (code i at bit offset i·bits)."""
    bits = integer(bits, "bits", lo=1, hi=32)
    c = integers(codes, "codes", lo=0, hi=(1 << bits) - 1).ravel()
    bit_arr = ((c[:, None] >> np.arange(bits)) & 1).astype(np.uint8).ravel()
    return np.packbits(bit_arr, bitorder="little")


def unpack_codes(packed: ArrayLike, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`."""
    bit_arr = np.unpackbits(np.asarray(packed, dtype=np.uint8), bitorder="little")[: count * bits]
    return (bit_arr.reshape(count, bits).astype(np.int64) << np.arange(bits)).sum(axis=1)
