"""Checked conversion of user data into exact integers and finite reals.

Every library entry that takes numbers from a user (weights, activations,
codes, machine figures) converts them here, so bad data is one
:class:`~hwgen.errors.ConfigError` naming where it came from, the value and
what is allowed — never a silent cast (``2.7`` becoming ``2``, ``True``
becoming ``1``, ``-1`` wrapping to a large code) and never a raw NumPy error.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike

from .errors import ConfigError

#: Widths above this many bits use Python-int (object) arrays.
INT64_SAFE_BITS = 62


def integers(
    data: ArrayLike,
    where: str,
    *,
    lo: int | None = None,
    hi: int | None = None,
    ndim: int | None = None,
    nonempty: bool = False,
) -> np.ndarray:
    """``data`` as an exact integer array (int64, or Python ints beyond 62 bits).

    Rejects, naming the first offending element: text and other non-numbers, booleans, non-integral
    or non-finite reals, values outside ``[lo, hi]``; with ``ndim`` another number of dimensions; with
    ``nonempty`` an empty array."""
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise ConfigError(where, f"not a rectangular array of integers ({e})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ConfigError(where, f"expected {ndim}-D data, got {arr.ndim}-D of shape {arr.shape}")
    if nonempty and arr.size == 0:
        raise ConfigError(where, f"is empty (shape {arr.shape})")
    if arr.dtype == bool:
        raise ConfigError(where, f"booleans are not integers here: {arr.flat[0]!r}; use 0 and 1")
    if arr.dtype.kind in "iu":
        out = arr.astype(np.int64) if arr.dtype != np.uint64 else arr.astype(object)
    elif arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ConfigError(where, f"{_at(arr, bad)} is not an integer")
        out = arr.astype(np.int64) if not arr.size or np.abs(arr).max() < 2**62 else arr.astype(object)
    else:
        out = np.empty(arr.shape, dtype=object)
        for idx, v in np.ndenumerate(arr):
            if isinstance(v, bool | np.bool_) or not isinstance(v, Integral):
                shown = v.item() if isinstance(v, np.generic) else v
                raise ConfigError(where, f"{_index(arr, idx)}{shown!r} is not an integer")
            out[idx] = int(v)
        if not out.size or max(abs(int(v)) for v in out.flat) < 2**62:
            out = out.astype(np.int64)
    if out.size and ((lo is not None and out.min() < lo) or (hi is not None and out.max() > hi)):
        bad = ((out < lo) if lo is not None else False) | ((out > hi) if hi is not None else False)
        raise ConfigError(where, f"{_at(out, np.asarray(bad))} is outside {lo}..{hi}")
    return out


def reals(data: ArrayLike, where: str, *, ndim: int | None = None, nonempty: bool = False) -> np.ndarray:
    """``data`` as a finite float64 array; rejects text, booleans, NaN and infinities, naming the element."""
    arr = np.asarray(data)
    if ndim is not None and arr.ndim != ndim:
        raise ConfigError(where, f"expected {ndim}-D data, got {arr.ndim}-D of shape {arr.shape}")
    if nonempty and arr.size == 0:
        raise ConfigError(where, f"is empty (shape {arr.shape})")
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        first = arr.flat[0] if arr.size else arr
        shown = first.item() if isinstance(first, np.generic) else first
        raise ConfigError(where, f"expected real numbers, not {shown!r}")
    out = arr.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        raise ConfigError(where, f"{_at(out, bad)} is not a finite number")
    return out


def integer(value: object, where: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """One integer parameter (not a bool, not a real) within ``[lo, hi]``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise ConfigError(where, f"expected an integer, not {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ConfigError(where, f"{v} is out of range; allowed {allowed}")
    return v


def real(value: object, where: str, *, positive: bool = False) -> float:
    """One finite real parameter (not a bool, not text), > 0 with ``positive``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise ConfigError(where, f"expected a number, not {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(where, f"{value!r} is not a finite number")
    if positive and not v > 0:
        raise ConfigError(where, f"{value!r} must be > 0")
    return v


def _index(arr: np.ndarray, idx: tuple) -> str:
    return f"[{', '.join(map(str, idx))}] = " if arr.ndim else ""


def _at(arr: np.ndarray, bad: np.ndarray) -> str:
    """``[i, j] = v`` of the first flagged element."""
    idx = tuple(int(i) for i in np.argwhere(bad)[0]) if arr.ndim else ()
    v = arr[idx]
    return f"{_index(arr, idx)}{v.item() if isinstance(v, np.generic) else v!r}"
