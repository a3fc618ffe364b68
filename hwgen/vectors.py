"""Test vectors: what a block's stimulus gives every verification level.

One :class:`StreamVectors` drives every level the same way: the block's
golden model produced ``expected`` from ``inputs``; the Amaranth simulator,
cocotb and the native bench push ``inputs`` through the design's streams and
compare what comes out, beat for beat, and the block's cycle model
(:meth:`hwgen.config.BlockConfig.cycle_model`) predicts, from the same
vectors, the cycle of every transfer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .numtype import NumType

#: Fraction of random operands replaced by an edge value.
EDGE_FRACTION = 0.25


@dataclass
class StreamVectors:
    """Stimulus and golden responses of one verification run.

    Attributes:
        inputs: input port -> field values (dict of arrays, leading axis = beats; or one array for a
            plain payload).
        expected: output port -> field values in the same form.
        triggers: output port -> ``(input port, indices)``: for each output beat, the index of the input
            beat that completes it (the measured latency of output beat ``j`` is its first-valid cycle
            minus the accept cycle of that input beat).
        corners: names of the corner cases included, for the summary.
        extra: block-specific data (e.g. a GEMM plan to reassemble results).
    """

    inputs: dict[str, Any]
    expected: dict[str, Any]
    triggers: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)
    corners: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def beats(self, port: str) -> int:
        """Number of beats on ``port`` (an input or an expected output)."""
        v = self.inputs.get(port, self.expected.get(port))
        if isinstance(v, dict):
            return len(next(iter(v.values())))
        return len(v)

    def field(self, port: str, name: str) -> np.ndarray:
        """The values of field ``name`` of input port ``port`` (``""`` for a plain payload)."""
        v = self.inputs[port]
        return np.asarray(v if name == "" else v[name])


def biased(rng: np.random.Generator, t: NumType, shape: int | tuple[int, ...]) -> np.ndarray:
    """Uniform raw values of ``t`` (up to 62 bits), a quarter replaced by edge values (min, max, 0, ±1)."""
    vals = rng.integers(t.min, t.max, size=shape, endpoint=True, dtype=np.int64)
    edges = np.array(sorted({t.min, t.max, 0, min(1, t.max), max(-1, t.min)}), dtype=np.int64)
    return np.where(rng.random(shape) < EDGE_FRACTION, rng.choice(edges, size=shape), vals)
