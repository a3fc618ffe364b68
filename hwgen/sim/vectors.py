"""Test vectors: stimulus and expected responses per stream port.

One :class:`StreamVectors` drives every verification level the same way: the
NumPy model produces ``expected`` from ``inputs``; the Amaranth simulator and
cocotb on the generated Verilog both push ``inputs`` through the DUT's
streams and compare what comes out, beat for beat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from amaranth.lib import wiring

from .packing import pack, unpack


@dataclass
class StreamVectors:
    """Stimulus and golden responses of one verification run.

    Attributes:
        inputs: input port name -> field values (dict of arrays, leading axis
            = beats; or one array for a plain payload).
        expected: output port name -> field values in the same form.
        triggers: output port -> ``(input port, indices)``: for each output
            beat, the index of the input beat that completes it. The
            measured latency of output beat ``j`` is its first-valid cycle
            minus the accept cycle of that input beat.
        corners: names of the corner cases included, for the summary.
        schedule: the cycle model's prediction at full rate (inputs always
            offered, outputs always ready): input port -> the cycle each beat
            is taken; output port -> the first cycle each beat is valid.
            When absent, the block's :class:`~hwgen.config.Timing` (latency
            after each trigger, one beat per ``ii``) is the model.
        extra: block-specific data (e.g. a GEMM plan to reassemble results).
    """

    inputs: dict[str, Any]
    expected: dict[str, Any]
    triggers: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)
    corners: list[str] = field(default_factory=list)
    schedule: dict[str, list[int]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def beats(self, port: str) -> int:
        v = self.inputs.get(port, self.expected.get(port))
        if isinstance(v, dict):
            return len(next(iter(v.values())))
        return len(v)


def payload_shape(component: wiring.Component, port: str):
    """The Amaranth shape (layout) of a stream port's payload."""
    return getattr(component, port).payload.shape()


def stream_ports(component: wiring.Component) -> tuple[list[str], list[str]]:
    """Names of the component's input and output stream ports, in signature order."""
    ins, outs = [], []
    for name, member in component.signature.members.items():
        if member.is_signature and {"payload", "valid", "ready"} <= set(member.signature.members.keys()):
            # an In(stream) member's signature is already flipped: its payload flows In
            flow = member.signature.members["payload"].flow
            (ins if flow == wiring.In else outs).append(name)
    return ins, outs


def to_raw(component: wiring.Component, vectors: StreamVectors) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Pack the vectors into raw payload integers per port."""
    raw_in = {p: pack(payload_shape(component, p), v) for p, v in vectors.inputs.items()}
    raw_exp = {p: pack(payload_shape(component, p), v) for p, v in vectors.expected.items()}
    return raw_in, raw_exp


def decode(component: wiring.Component, port: str, raws: list[int]) -> dict[str, np.ndarray]:
    """Unpack raw payloads of ``port`` into named fields."""
    return unpack(payload_shape(component, port), raws)
