"""Scratchpad allocation: on-chip tensors share memories where their lifetimes allow.

A tensor kept on chip is stored in *banks*, one per writer of its producer (a
core's column range, or the op's unit): bank ``k`` holds ``rows × columns``
words. It is *live* from the stage that produces it to the last stage that
reads it. Banks go into shared memories, each of one element type, under two
rules:

* banks whose lifetimes intersect never overlap in a memory's addresses;
* a memory has one write port, so two banks produced in the same stage (the
  banks of one tensor, or tensors of one stage) never share a memory.

The allocator takes banks widest first (then the earliest produced) and puts
each at the lowest free offset of the existing memory it enlarges least
(first fit over the banks it coexists with), or in a new memory when every
existing one would grow by the whole bank or forbids it. The engine builds
exactly these memories, so its scratchpad bytes are the allocation's size;
``live_peak_bytes`` (the most scratchpad bytes live in any stage) is the
floor no allocation can go under.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..numtype import NumType
from .ops import OpGraph


@dataclass(frozen=True)
class Bank:
    """Bank ``index`` of ``tensor``: columns ``[n0, n1)`` of every row, live over stages ``[first, last]``."""

    tensor: str
    index: int
    words: int
    dtype: NumType
    first: int
    last: int


@dataclass
class Memory:
    """One shared scratchpad memory: its element type, depth in words, and the banks in it."""

    dtype: NumType
    depth: int = 0
    banks: list[tuple[Bank, int]] = field(default_factory=list)  # (bank, offset)

    @property
    def bytes(self) -> int:
        return self.depth * math.ceil(self.dtype.width / 8)

    def offset_for(self, bank: Bank) -> int | None:
        """The lowest offset where ``bank`` fits beside the banks it coexists with; None when one of them is
        produced in the same stage (one write port)."""
        busy = []
        for other, off in self.banks:
            if other.first == bank.first:
                return None
            if other.first <= bank.last and bank.first <= other.last:
                busy.append((off, off + other.words))
        offset = 0
        for lo, hi in sorted(busy):
            if offset + bank.words <= lo:
                break
            offset = max(offset, hi)
        return offset


@dataclass
class Allocation:
    """Every on-chip tensor's banks in shared memories."""

    memories: list[Memory]
    place: dict[tuple[str, int], tuple[int, int]]  # (tensor, bank index) -> (memory, offset in words)
    live_peak_bytes: int

    @property
    def bytes(self) -> int:
        return sum(m.bytes for m in self.memories)

    def report(self) -> dict:
        return {
            "bytes": self.bytes,
            "live_peak_bytes": self.live_peak_bytes,
            "memories": [
                {
                    "dtype": str(m.dtype),
                    "depth": m.depth,
                    "banks": [f"{b.tensor}[{b.index}]@{off}" for b, off in m.banks],
                }
                for m in self.memories
            ],  # fmt: skip
        }


def banks_of(opg: OpGraph, tensor: str, columns: list[tuple[int, int]], first: int, last: int) -> list[Bank]:
    """``tensor``'s banks for its producer's writer column ranges ``columns``."""
    rows = opg.rows(tensor)
    dtype = opg.graph.tasks[tensor].dtype
    return [Bank(tensor, k, rows * (n1 - n0), dtype, first, last) for k, (n0, n1) in enumerate(columns)]


def allocate(banks: list[Bank], element_bytes: dict[str, int]) -> Allocation:
    """Place ``banks`` (see the module docstring)."""
    memories: list[Memory] = []
    place: dict[tuple[str, int], tuple[int, int]] = {}
    for bank in sorted(banks, key=lambda b: (-b.words, b.first, b.tensor, b.index)):
        best = None
        for i, mem in enumerate(memories):
            if mem.dtype != bank.dtype:
                continue
            off = mem.offset_for(bank)
            if off is None:
                continue
            growth = max(mem.depth, off + bank.words) - mem.depth
            if growth < bank.words and (best is None or growth < best[0]):
                best = (growth, i, off)
        if best is None:
            memories.append(Memory(bank.dtype))
            best = (bank.words, len(memories) - 1, 0)
        _, i, off = best
        mem = memories[i]
        mem.banks.append((bank, off))
        mem.depth = max(mem.depth, off + bank.words)
        place[(bank.tensor, bank.index)] = (i, off)
    stages = {s for b in banks for s in (b.first, b.last)}
    peak = max(
        (sum(b.words * element_bytes[b.tensor] for b in banks if b.first <= s <= b.last) for s in stages), default=0
    )
    return Allocation(memories, place, peak)
