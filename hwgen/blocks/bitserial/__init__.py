"""BitMoD bit-serial PE: mixed low-bit weight formats as shift-add terms, one term per cycle.

``rows`` PEs share one stream of activation beats (an array of PEs for a
matrix-vector product); each has ``lanes`` lanes. A beat carries ``lanes``
activations, and for every row ``lanes`` weight codes, the row's group
format (an index into ``formats``) and its 8-bit group scale. Every weight
is processed as its format's base-4 digits (:meth:`hwgen.lowbit.Datatype.digits`),
one per cycle, most significant first: radix-4 Booth digits for ``INT{b}``
(``ceil(b/2)`` cycles), two digits for FP4/FP3/FLINT4 and their special
values, one for ternary. The format is decoded per group at run time, so
switching formats between groups costs nothing.

Datapath per row and cycle: every lane turns its digit ``d ∈ {0, ±1, ±2, ±4}``
into ``a·|d|`` (a 3:1 mux of ``a``, ``a<<1``, ``a<<2``) and, for ``d < 0``,
inverts it; the ``+1`` of each negation enters the adder tree as a carry-in.
The lane sums are combined by Horner's rule, ``beat = 4·beat + Σ_lanes d·a``,
so the shift by ``4^k`` is one wire shift shared by all lanes, and the beat
sum is added to the group accumulator on the beat's last digit.

Semantics (exact integers, no truncation anywhere)::

    group_sum[r] = Σ_beats Σ_lanes a · value(code)              # Σ of terms, exactly
    total[r]    += group_sum[r] · scale[r]                      # on the group's last beat
    y[r]         = total[r]                                     # on the row's last beat, then 0

``y`` is in units of the per-channel scale ``s_ch`` of the second-level
scale quantization (``weight ≈ value · scale_q · s_ch``).

Timing: a beat takes ``T = max over rows of cycles(format)`` cycles; the next
beat is taken in the cycle the current one applies its last term. At a
group's last beat the group sum is handed to the dequantizer — bit-serial
over the 8 scale bits (LSB first, straight into the total:
``total += bit_i ? sum·2^i : 0``, 8 cycles) or one multiplier (1 cycle) —
and a group may end only when the dequantizer is free. ``y`` is valid ``D + 1`` cycles after the
hand-off (``D`` = 8 or 1).
"""

from __future__ import annotations

from .config import BitSerialPEConfig
from .hardware import BitSerialPE

__all__ = ["BitSerialPEConfig", "BitSerialPE"]
