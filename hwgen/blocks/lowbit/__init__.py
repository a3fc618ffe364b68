"""Single-cycle low-bit PEs without general multipliers: ternary, OliVe outlier-victim, MixPE.

All three take one beat of ``lanes`` activations per cycle (II = 1), sum the
lane products through an exact adder tree and accumulate until ``last``;
the result is valid ``latency`` cycles after the ``last`` beat is taken
(input register, accumulator, output register). A full output register that
nobody takes stalls the PE.

* :class:`TernaryPEConfig` — weights in {−1, 0, +1} (2-bit codes ``00`` 0,
  ``01`` +1, ``11`` −1, ``10`` 0): add, subtract or skip. ``y = Σ a·w``.
* :class:`OliveMACConfig` — weights in OliVe outlier-victim pairs (one byte
  per pair of lanes): each nibble decodes to ``(mantissa, shift)``; the MAC
  accumulates ``(a · mantissa) << shift``. ``y = Σ a·w`` with ``w`` decoded.
* :class:`MixPEConfig` — 2..4-bit weights times 8/16-bit activations by
  shift-and-add, exact group sums, dequantization once per group:
  ``y = Σ_g s_g · (Σ_{k∈g} q_k·a_k − z_g · Σ_{k∈g} a_k)`` with an 8-bit scale
  ``s_g`` and, for asymmetric (unsigned) weights, a zero point ``z_g``.
"""

from __future__ import annotations

from .mixpe import MixPE, MixPEConfig
from .olive import OliveMAC, OliveMACConfig
from .ternary import TernaryPE, TernaryPEConfig

__all__ = ["MixPE", "MixPEConfig", "OliveMAC", "OliveMACConfig", "TernaryPE", "TernaryPEConfig"]
