"""Element-wise activation units by table: GELU, SiLU, sigmoid, tanh on quantized integers.

``lanes`` integers of ``act`` (real value ``x · in_scale``) per beat; each
leaves as ``clamp(round_half_even(f(x · in_scale) / out_scale))`` in ``out``.
The rule is its table (:meth:`ActivationConfig.table`, computed once in
float64 from the function's definition), so the golden model, the hardware
(one ROM read port per lane, one beat per cycle) and the reference agree by
construction of one table; the error against the float function is that of
the output's quantization and is reported by ``make bench``.
"""

from __future__ import annotations

from .config import ActivationConfig
from .hardware import Activation

__all__ = ["Activation", "ActivationConfig"]
