"""Typed names for where tensors live and move in a schedule: places, endpoints, edge patterns, buffers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Place(StrEnum):
    """Where an op input comes from or an op output goes."""

    OFFCHIP = "offchip"  # off-chip memory, through the memory sequencer
    SCRATCHPAD = "scratchpad"  # an on-chip scratchpad holding a whole tensor between stages
    STREAM = "stream"  # another op of the same stage, row by row through an input ring buffer


@dataclass(frozen=True)
class Endpoint:
    """A source or destination: a place and the tensor (off-chip, scratchpad) or op (stream) it names."""

    place: Place
    name: str

    def __str__(self) -> str:
        return f"{self.place}:{self.name}"


class Pattern(StrEnum):
    """How a tensor crosses one op edge (producer -> consumer)."""

    DATAFLOW = "dataflow"  # the same stage, streamed
    ONCHIP = "sequential-onchip"  # a later stage, the tensor in a scratchpad
    OFFCHIP = "sequential-offchip"  # a later stage, the tensor spilled to off-chip memory


class BufferKind(StrEnum):
    """The on-chip buffers the engine allocates."""

    INPUT = "in"  # an op input's ring buffer (a stream, or off-chip data)
    SCRATCH = "scratch"  # a whole tensor kept on chip between stages
    WRITEBACK = "writeback"  # 2 rows of a tensor on its way off chip


@dataclass(frozen=True, order=True)
class BufferKey:
    """One buffer: its kind, the tensor it holds and, for an input buffer, the op that reads it."""

    kind: BufferKind
    tensor: str
    op: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.op}:{self.tensor}" if self.kind == BufferKind.INPUT else f"{self.kind}:{self.tensor}"
