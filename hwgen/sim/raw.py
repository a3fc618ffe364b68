"""Test vectors as raw payload integers of a component's stream ports, and back.

The generated Verilog carries each stream payload as one flat port
(``i__payload``); :class:`~hwgen.vectors.StreamVectors` keep values per field.
These functions convert between the two with the payload's Amaranth shape, so
the host, the Amaranth simulator, cocotb and the native bench see the same bits.
"""

from __future__ import annotations

import numpy as np
from amaranth.lib import wiring

from ..ports import pack, payload_shape, unpack
from ..vectors import StreamVectors


def to_raw(component: wiring.Component, vectors: StreamVectors) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Pack the vectors into raw payload integers per port: ``(inputs, expected outputs)``."""
    raw_in = {p: pack(payload_shape(component, p), v) for p, v in vectors.inputs.items()}
    raw_exp = {p: pack(payload_shape(component, p), v) for p, v in vectors.expected.items()}
    return raw_in, raw_exp


def decode(component: wiring.Component, port: str, raws: list[int]) -> dict[str, np.ndarray]:
    """Unpack raw payloads of ``port`` into named fields."""
    return unpack(payload_shape(component, port), raws)
