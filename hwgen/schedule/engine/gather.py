"""The gather unit: blocks of rows or of columns of ``x``, picked by an index row read from a scratchpad.

Rows (``axis`` 0, blocks of ``b`` rows): output row ``s`` is row ``idx[0, s // b]·b + s mod b`` of ``x``
(its scratchpad). In the slot the unit reads the index (cycle 0), then the row's ``C`` words, one a cycle
from cycle 1; each word is valid the cycle after its read.

Columns (``axis`` 1): in the slot of row ``r``, per picked block ``i`` the unit reads ``idx[0, i]`` (one
cycle), then the block's ``b`` words of row ``r`` of ``x`` (its input buffer or scratchpad), one a cycle;
``k·(b + 1)`` reads in all, each word valid the cycle after its read.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value

from .buffers import EngineBuffers
from .controller import Controller
from .plan import EnginePlan, OpPlan


def build_gather(m: Module, plan: EnginePlan, ctrl: Controller, bufs: EngineBuffers, o: OpPlan) -> tuple[Signal, Value]:
    """The unit of gather op ``o``; returns its result ``(valid, data)``."""
    p = plan.graph.tasks[o.name].params
    r, ok = ctrl.row_at(o.depth + 1)
    start = ctrl.slot_start & ctrl.stage_is(o.stage) & ok
    reader = _rows if p["axis"] == 0 else _columns
    issue, busy, word = reader(m, plan, bufs, o, p["block"], r, start)
    valid = Signal(name=f"gather_{o.name}_valid")  # a word is valid the cycle after its read
    m.d.sync += valid.eq(issue)
    ctrl.busy.append(busy | valid)
    return valid, word


def _rows(
    m: Module, plan: EnginePlan, bufs: EngineBuffers, o: OpPlan, block: int, r: Value, start: Value
) -> tuple[Value, Value, Value]:
    """``(read issued, busy, word read)`` of a row gather."""
    x_name, idx_name = (i.tensor for i in o.inputs[:2])
    cols, rows = o.n, plan.graph.tasks[x_name].rows
    name = f"gather_{o.name}"
    blocks = max(plan.graph.tasks[idx_name].cols, 2)
    pick, within = Signal(range(blocks), name=f"{name}_pick"), Signal(range(max(block, 2)), name=f"{name}_within")
    first, wrap = r == 0, within == block - 1
    next_pick = Mux(first, 0, Mux(wrap, pick + 1, pick))
    next_within = Mux(first | wrap, 0, within + 1)
    with m.If(start):
        m.d.sync += [pick.eq(next_pick), within.eq(next_within)]
    index = bufs.scratch[idx_name].word_reader(f"{name}_idx", start, 0, next_pick)
    fetched, streaming = Signal(name=f"{name}_fetched"), Signal(name=f"{name}_streaming")
    row = Signal(range(max(rows, 2)), name=f"{name}_row")
    c = Signal(range(max(cols, 2)), name=f"{name}_c")
    issue = fetched | streaming
    m.d.sync += fetched.eq(start)
    with m.If(fetched):
        m.d.sync += row.eq(index * block + within)
    with m.If(issue):
        m.d.sync += [c.eq(Mux(c == cols - 1, 0, c + 1)), streaming.eq(c != cols - 1)]
    word = bufs.scratch[x_name].word_reader(f"{name}_x", issue, Mux(fetched, index * block + within, row), c)
    return issue, issue, word


def _columns(
    m: Module, plan: EnginePlan, bufs: EngineBuffers, o: OpPlan, block: int, r: Value, start: Value
) -> tuple[Value, Value, Value]:
    """``(read issued, busy, word read)`` of a column gather."""
    idx_name = o.inputs[1].tensor
    picks = plan.graph.tasks[idx_name].cols
    name = f"gather_{o.name}"
    active = Signal(name=f"{name}_active")
    reading = Signal(name=f"{name}_reading")  # reading a block's words (else its index)
    i = Signal(range(max(picks, 2)), name=f"{name}_i")
    c = Signal(range(max(block, 2)), name=f"{name}_c")
    base = Signal(range(max(o.k, 2)), name=f"{name}_base")
    issue_idx = start | (active & ~reading)
    index = bufs.scratch[idx_name].word_reader(f"{name}_idx", issue_idx, 0, i)
    with m.If(issue_idx):
        m.d.sync += [active.eq(1), reading.eq(1), c.eq(0)]
    with m.Elif(active & reading):
        m.d.sync += c.eq(c + 1)
        with m.If(c == 0):
            m.d.sync += base.eq(index * block)
        with m.If(c == block - 1):
            m.d.sync += [reading.eq(0), i.eq(Mux(i == picks - 1, 0, i + 1))]
            with m.If(i == picks - 1):
                m.d.sync += active.eq(0)
    issue_word = active & reading
    col = Mux(c == 0, index * block, base) + c
    word = bufs.feeding(o.name, 0, o.inputs[0]).word_reader(f"{name}_x", issue_word, r, col)
    return issue_word, active, word
