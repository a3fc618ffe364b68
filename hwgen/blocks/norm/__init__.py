"""LayerNorm and RMSNorm over a streamed row, in integers: exact sums, one division and one square root a row.

A row of ``n`` integers ``x`` streams in (``last`` ends it); each leaves
normalized, ``y ≈ x̂ · 2^F`` with ``x̂ = (x − mean) / std`` (LayerNorm) or
``x / rms`` (RMSNorm). With ``d = n·x − Σx`` (LayerNorm) or ``d = x``
(RMSNorm) and ``D = Σ d²`` both are ``x̂ = d · sqrt(n / D)``, so in
integers (``P`` guard bits, :attr:`NormConfig.guard_shift`)::

    r = isqrt(floor(n · 2^(2P) / D))          (≈ 2^P · sqrt(n / D))
    y = clamp((d · r) >> (P − F))             (floor; 0 when D = 0: every d is 0)

γ and β are left to the next layer: a LayerNorm's affine folds into the
following linear layer's weights and bias. The hardware takes the row into
a buffer, reads it back for ``D``, divides, takes the root (one result bit
per cycle each) and reads the row once more to emit it
(:mod:`..rowunit`).
"""

from __future__ import annotations

from .config import NormConfig
from .hardware import Norm

__all__ = ["Norm", "NormConfig"]
