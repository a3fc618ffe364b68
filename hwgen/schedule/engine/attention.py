"""An attention op's unit and its driver: each head's query, then its KV entries, read from the buffers.

The unit is the op's decode-attention block (one lane). In the slot in which
the op handles row ``r`` (:meth:`~.controller.Controller.row_at`), the
driver streams to it, head after head: the head's ``d`` columns of q row
``r`` (from q's input buffer or scratchpad), then for each entry ``j < n``
(``n = r + 1`` when causal, else every K row) the head's columns of K row
``j`` and of V row ``j`` (from their scratchpads), ``last`` on the head's
final V word. The first word is read in the slot's first cycle and offered
in the next; each next word is read in the cycle its predecessor is taken
(a read register that holds while the unit waits), so the unit sees its
words as its cycle model assumes: offered from cycle 1, taken as soon as it
is ready. Results leave head after head, the row's columns in order.
"""

from __future__ import annotations

import enum

from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import wiring

from .buffers import EngineBuffers
from .controller import Controller
from .plan import EnginePlan, OpPlan


class Word(enum.IntEnum):
    """What the driver reads next."""

    Q = 0
    K = 1
    V = 2


def last_entry(causal: bool, row: Value, kv_rows: int) -> Value | int:
    """The last KV entry row ``row`` attends to: itself (causal) or the last K row."""
    return row if causal else kv_rows - 1


def build_attention(
    m: Module, plan: EnginePlan, ctrl: Controller, bufs: EngineBuffers, o: OpPlan, unit: wiring.Component
) -> Value:
    """Drive ``unit`` (the block of attention op ``o``) from the buffers; return its result word."""
    cfg, fields = o.block, plan.graph.tasks[o.name].params["fields"]
    d, heads = cfg.head_dim, fields["heads"]
    kv_rows = plan.graph.tasks[o.inputs[1].tensor].rows
    r, ok = ctrl.row_at(o.depth + 1)
    name = f"att_{o.name}"
    h = Signal(range(max(heads, 2)), name=f"{name}_head")
    word = Signal(range(3), name=f"{name}_word")
    j = Signal(range(max(kv_rows, 2)), name=f"{name}_entry")
    c = Signal(range(max(d, 2)), name=f"{name}_col")
    active, valid = Signal(name=f"{name}_active"), Signal(name=f"{name}_valid")
    word_q, last_q = Signal.like(word, name=f"{name}_word_q"), Signal(name=f"{name}_last_q")
    final_entry = last_entry(fields["causal"], r, kv_rows)
    taken = valid & unit.i.ready
    start = ctrl.slot_start & ctrl.stage_is(o.stage) & ok
    issue = Signal(name=f"{name}_issue")
    m.d.comb += issue.eq(start | (active & (~valid | taken)))
    col = h * d + c
    q_buf = bufs.feeding(o.name, 0, o.inputs[0])
    k_buf, v_buf = bufs.scratch[o.inputs[1].tensor], bufs.scratch[o.inputs[2].tensor]
    q = q_buf.word_reader(f"{name}_q", issue & (word == Word.Q), r, col)
    k = k_buf.word_reader(f"{name}_k", issue & (word == Word.K), j, col)
    v = v_buf.word_reader(f"{name}_v", issue & (word == Word.V), j, col)
    head_done = (word == Word.V) & (j == final_entry) & (c == d - 1)
    with m.If(issue):
        m.d.sync += [valid.eq(1), word_q.eq(word), last_q.eq(head_done), active.eq(1)]
        with m.If(c != d - 1):
            m.d.sync += c.eq(c + 1)
        with m.Else():
            m.d.sync += c.eq(0)
            with m.Switch(word):
                with m.Case(Word.Q):
                    m.d.sync += [word.eq(Word.K), j.eq(0)]
                with m.Case(Word.K):
                    m.d.sync += word.eq(Word.V)
                with m.Default():  # Word.V
                    with m.If(j != final_entry):
                        m.d.sync += [word.eq(Word.K), j.eq(j + 1)]
                    with m.Elif(h != heads - 1):
                        m.d.sync += [word.eq(Word.Q), h.eq(h + 1), j.eq(0)]
                    with m.Else():  # the row's last word: back to the first, idle
                        m.d.sync += [word.eq(Word.Q), h.eq(0), j.eq(0), active.eq(0)]
    with m.Elif(taken):
        m.d.sync += valid.eq(0)
    m.d.comb += [
        unit.i.valid.eq(valid),
        unit.i.payload.x[0].eq(Mux(word_q == Word.Q, q, Mux(word_q == Word.K, k, v))),
        unit.i.payload.last.eq(last_q),
    ]
    ctrl.busy.append(active | valid)
    return unit.o.payload.y[0]
