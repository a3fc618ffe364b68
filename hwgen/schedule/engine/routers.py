"""Routers: one per result producer, writing each result into every destination of its tensor.

A producer's results come out row by row, column by column (its slice's
columns); the router counts columns and rows and writes each result at its
column into the producer's own bank of every destination: the consumer input
buffers of the same stage, the scratchpad, the write-back buffer. It is busy
while fewer rows arrived than the slot says should have (``slot − depth``).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal

from ..places import Place
from .buffers import Buffer, EngineBuffers
from .controller import Controller
from .plan import EnginePlan, OpPlan
from .units import Producer


def build_routers(
    m: Module, plan: EnginePlan, ctrl: Controller, bufs: EngineBuffers, producers: list[Producer]
) -> None:
    M = plan.rows
    for prod in producers:
        c = prod.label
        ncol_max = max(n1 - n0 for _, _, n0, n1 in prod.program)
        j = Signal(range(ncol_max + 1), name=f"col_{c}")
        rows_done = Signal(range(M + 1), name=f"rows_done_{c}")
        last_col = Signal(name=f"last_col_{c}")
        with m.If(~ctrl.running):
            m.d.sync += [j.eq(0), rows_done.eq(0)]
        with m.Elif(prod.valid):
            with m.If(last_col):
                m.d.sync += [j.eq(0), rows_done.eq(rows_done + 1)]
            with m.Else():
                m.d.sync += j.eq(j + 1)
        pending = Signal(name=f"pending_{c}")
        for s, op, n0, n1 in prod.program:
            o = plan.ops[op]
            here = ctrl.stage_is(s)
            with m.If(here):
                m.d.comb += last_col.eq(j == n1 - n0 - 1)
            # rows expected by the end of this slot: clamp(slot - depth, 0, rows of the stage)
            rows = plan.schedule.plans[s].rows
            exp = Signal(range(M + 1), name=f"expected_{c}_s{s}")
            below = (ctrl.slot < o.depth) if o.depth else 0
            m.d.comb += exp.eq(Mux(below, 0, Mux(ctrl.slot - o.depth > rows, rows, ctrl.slot - o.depth)))
            with m.If(here & ctrl.running):
                m.d.comb += pending.eq(rows_done < exp)
            for buf in _destinations(plan, bufs, o, s):
                wp, width, base = buf.write_port(prod.writer)
                with m.If(here):
                    m.d.comb += [
                        wp.addr.eq(base + buf.row_base(rows_done, width) + j),
                        wp.data.eq(prod.payload),
                        wp.en.eq(prod.valid),
                    ]
        ctrl.busy.append(pending)


def _destinations(plan: EnginePlan, bufs: EngineBuffers, o: OpPlan, stage: int) -> list[Buffer]:
    """The buffers ``o``'s output tensor goes to in ``stage``."""
    dests = [
        bufs.inputs[(cons.name, k)]
        for cons, k in plan.consumers(o.out_tensor)
        if cons.stage == stage and cons.inputs[k].place == Place.STREAM
    ]
    if o.out_tensor in bufs.scratch:
        dests.append(bufs.scratch[o.out_tensor])
    if o.out_tensor in bufs.writeback:
        dests.append(bufs.writeback[o.out_tensor])
    return dests
