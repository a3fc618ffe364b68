"""The top-k engine's hardware: a sorted insertion array and a draining output register.

Each cycle a taken score ``s`` (row index ``i``) is inserted: entry ``j``
keeps its place if it is valid and its score is ``≥ s`` (an earlier equal
score stays ahead), else takes entry ``j − 1``'s content, or the new score
at the insertion point (the first entry that does not stay). At the row's
``last`` beat the array after that insertion goes to the output register
(its first ``min(k, n)`` entries) and the array empties. The output
register presents entry 0 and shifts up as each is taken. A row's last
beat is taken only once the output register is free (empty, or giving its
last entry this cycle), so ``ready`` waits on a ``last`` beat while the
previous row still drains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

if TYPE_CHECKING:
    from .config import TopKConfig


def in_layout(cfg: TopKConfig) -> data.StructLayout:
    return data.StructLayout({"score": cfg.score.shape, "k": range(cfg.max_k + 1), "last": 1})


def out_layout(cfg: TopKConfig) -> data.StructLayout:
    return data.StructLayout({"index": range(max(cfg.max_n, 2)), "score": cfg.score.shape, "last": 1})


def entry_layout(cfg: TopKConfig) -> data.StructLayout:
    return data.StructLayout({"valid": 1, "score": cfg.score.shape, "index": range(max(cfg.max_n, 2))})


class TopK(wiring.Component):
    """The top-k engine; see the module docstring. Ports: ``i`` (score, k, last), ``o`` (index, score, last)."""

    def __init__(self, config: TopKConfig):
        self.config = config
        super().__init__({"i": In(stream.Signature(in_layout(config))), "o": Out(stream.Signature(out_layout(config)))})

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        m = Module()
        K = cfg.max_k
        lay = entry_layout(cfg)
        kept = [Signal(lay, name=f"kept{j}") for j in range(K)]
        index = Signal(range(max(cfg.max_n, 2)), name="row_index")
        row_k = Signal(range(K + 1), name="row_k")  # the row's k, from its first beat
        first = Signal(init=1, name="row_first")
        beat = self.i.payload
        k_now = Mux(first, beat.k, row_k)
        # insertion: entry j stays if valid and ≥ the new score
        stays = [kept[j].valid & (kept[j].score >= beat.score) for j in range(K)]
        new = Signal(lay, name="new_entry")
        m.d.comb += [new.valid.eq(1), new.score.eq(beat.score), new.index.eq(index)]
        inserted = []
        for j in range(K):
            # not staying: the new score at the insertion point (the first such entry), else the one above
            moved = new if j == 0 else Mux(stays[j - 1], new, kept[j - 1])
            nxt = Signal(lay, name=f"next{j}")
            m.d.comb += nxt.eq(Mux(stays[j], kept[j], moved))
            inserted.append(nxt)
        # output register: the first min(k, n) entries at the row's end, drained from entry 0
        outs = [Signal(lay, name=f"out{j}") for j in range(K)]
        left = Signal(range(K + 1), name="out_left")
        taken = self.o.valid & self.o.ready
        free = (left == 0) | ((left == 1) & taken)
        m.d.comb += [
            self.i.ready.eq(~beat.last | free),
            self.o.valid.eq(left != 0),
            self.o.payload.index.eq(outs[0].index),
            self.o.payload.score.eq(outs[0].score),
            self.o.payload.last.eq(left == 1),
        ]
        with m.If(taken):
            m.d.sync += [left.eq(left - 1)] + [outs[j].eq(outs[j + 1]) for j in range(K - 1)]
        with m.If(self.i.valid & self.i.ready):
            with m.If(beat.last):
                count = Mux(index + 1 < k_now, index + 1, k_now)  # min(n, k)
                m.d.sync += [left.eq(count), index.eq(0), first.eq(1)]
                m.d.sync += [outs[j].eq(inserted[j]) for j in range(K)] + [kept[j].valid.eq(0) for j in range(K)]
            with m.Else():
                m.d.sync += [index.eq(index + 1), first.eq(0), row_k.eq(k_now)]
                m.d.sync += [kept[j].eq(inserted[j]) for j in range(K)]
        return m
