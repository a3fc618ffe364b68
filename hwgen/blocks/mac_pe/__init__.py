"""MAC processing element: a ``lanes``-wide dot product per beat and output, accumulated until ``last``.

Interface (valid/ready streams, ``amaranth.lib.stream``):

* ``i``: payload ``{a: act[lanes], w: weight[outputs · lanes], last: 1}``
  (output-major: ``w[j·lanes + k]`` is output ``j``'s weight for lane ``k``).
  Each accepted beat adds ``sum_k a[k] * w[j·lanes + k]`` to accumulator
  ``j``; a beat with ``last`` set closes the accumulations, emits the results
  on ``o`` and clears.
* ``o``: payload ``acc`` (the accumulator type), or ``acc[outputs]`` when
  ``outputs`` > 1, one beat per accumulation.

With ``pack_int8`` (``Int(8) × Int(8)``, even ``outputs``) output pair ``j``
shares one multiplier per lane, whose operand is ``w[2j+1]·2^18 − w[2j]``;
packed products are summed over groups of up to 8 lanes (exact there,
:mod:`hwgen.int8pack`), unpacked into ``−Σ a·w[2j]`` and ``Σ a·w[2j+1]``, and
the groups' fields summed per output; results and timing are unchanged.

Datapath (raw integers, see :mod:`hwgen.numtype`)::

    a, w --[operand regs if pipeline >= 2]--> a*w (exact; per packed pair with pack_int8)
         --[product regs if pipeline >= 1]
         --[second product regs if pipeline >= 4] --> adder tree (exact; its first half of levels
         registered if pipeline = 5) --[tree reg if pipeline >= 3]
         --> acc = f(acc + tree)

(the second product register gives the route from a DSP cell's output to the adders a cycle of its own).

where ``f`` is the overflow rule: ``wrap`` keeps the low ``acc.width`` bits
(two's complement), ``saturate`` clamps to ``[acc.min, acc.max]`` *after every
beat* (so a saturated sum can come back down), and ``error`` means the config
was proven not to overflow for accumulations of up to ``max_len`` beats (the
hardware then wraps; longer accumulations are outside the contract and the
golden model rejects them).

Timing: one beat per cycle (II = 1); the result is valid ``pipeline + 1``
cycles after the rising edge that accepts the ``last`` beat. Back-pressure on
``o`` stalls the whole pipeline only when a finished result would overwrite
one not yet taken. Data registers have no reset (so they can sit inside DSP
blocks and SRLs); only valid bits and the "first beat" flag are reset.
"""

from __future__ import annotations

from .config import MacPEConfig
from .hardware import MacPE

__all__ = ["MacPEConfig", "MacPE"]
