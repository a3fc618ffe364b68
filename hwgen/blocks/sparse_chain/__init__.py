"""N:M sparse DSP chain (FlightLLM): one cascade of MAC stages serving dense and N:M sparse weights.

A chain of ``S`` stages consumes one *chunk* of ``S`` activations per beat.
In dense mode the whole chain is one dot product: stage ``s`` multiplies
``x[s]`` by its weight. In an N:M mode the chain is cut into ``M/N`` groups of
``g = S·N/M`` stages; every group computes a dot product of the *same* chunk
with a different row's compressed weights (``g`` non-zeros covering ``S``
activations), so all ``S`` stages do useful work every cycle and ``M/N`` rows
advance per beat — the ``M/N`` speed-up — at unchanged activation bandwidth.

In front of each stage a sparse multiplexer picks the activation matching
the weight's in-block index: stage ``s`` of a group (position ``j = s mod g``)
handles block ``j // N`` of the chunk and reads ``x[(j // N)·M + idx]``.
Its select among the positions it can read in any mode is decoded from
``mode`` and ``idx`` while the beat is registered, so the multiplexer is one
selection (up to 17 inputs) after the input register.
Group boundaries are every ``g_min`` stages (the smallest group of the
supported patterns); a link bit set per beat from the mode either passes the
partial sum on (inside a group) or starts a new dot product there. Inside a
``g_min`` segment the accumulate path is a plain register chain
(``P_s = P_{s-1} + x·w``), which Yosys maps to a DSP cascade.

At every segment end a tap accumulator adds the partial sum of beats of the
same accumulation: ``acc = f((first ? 0 : acc) + group_sum)`` per beat (``f`` =
wrap / saturate / proven-exact, as in the MAC PE), and on the ``last`` beat
holds the result. Tap results are de-skewed so all groups of one accumulation
leave together on ``o``: ``y[q]`` is group ``q``'s row (``q < M/N``; the rest 0).

Streams:
    ``i``: ``{x: act[S], (x1: act[S] with pack_int8), w: weight[S], idx: UInt(ib)[S],
    mode: UInt, last}`` — ``mode`` indexes ``patterns``; it must stay constant
    within an accumulation; ``w[q·g : (q+1)·g]`` / ``idx`` are group ``q``'s row
    for this chunk in the compressed format of :mod:`hwgen.sparse`.
    ``o``: ``{y: acc[G], (y1: acc[G])}`` with ``G = S / g_min``.

Timing: one beat per cycle; results are valid ``S + 3 + pipeline`` cycles
after the ``last`` beat is taken. ``pipeline`` 1 registers each product (the
MULT18X18D output register with ``dsp_cells="mult18x18d"``), 2 also the
operands (the cell's input registers), cutting the multiplexer off the
multiplier; left out, a design picks the fewest that meet its clock.

``pack_int8``: each stage computes two INT8 products sharing its weight —
``w·x`` and ``w·x1`` for two activation vectors (a batch of two) — in one
multiplier with the packing trick of :mod:`hwgen.int8pack` (operand
``x·2^18 + x1``), unpacked with the borrow correction in the stage; packed
accumulation depth is 1, within the proven bound of 7.
"""

from __future__ import annotations

from .config import SparseChainConfig
from .hardware import SparseChain
from .matvec import matvec_vectors

__all__ = ["SparseChainConfig", "SparseChain", "matvec_vectors"]
