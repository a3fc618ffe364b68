"""The gather unit: output row ``i`` is row ``idx[0, i]`` of ``x``, both read from scratchpads.

In the slot of output row ``i`` the unit reads the index (cycle 0), then the
``C`` words of that row of ``x``, one a cycle from cycle 1; each word is
valid the cycle after its read (cycles ``2 .. C + 1``).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal

from .buffers import EngineBuffers
from .controller import Controller
from .plan import EnginePlan, OpPlan


def build_gather(
    m: Module, plan: EnginePlan, ctrl: Controller, bufs: EngineBuffers, o: OpPlan
) -> tuple[Signal, object]:
    """The unit of gather op ``o``; returns its result ``(valid, data)``."""
    x_name, idx_name = (i.tensor for i in o.inputs[:2])
    cols, rows = o.n, plan.graph.tasks[x_name].rows
    i, ok = ctrl.row_at(o.depth + 1)
    name = f"gather_{o.name}"
    start = ctrl.slot_start & ctrl.stage_is(o.stage) & ok
    index = bufs.scratch[idx_name].word_reader(f"{name}_idx", start, 0, i)
    fetched = Signal(name=f"{name}_fetched")  # the index is on the read port's output this cycle
    streaming = Signal(name=f"{name}_streaming")
    row = Signal(range(max(rows, 2)), name=f"{name}_row")
    c = Signal(range(max(cols, 2)), name=f"{name}_c")
    issue = fetched | streaming
    m.d.sync += fetched.eq(start)
    with m.If(fetched):
        m.d.sync += row.eq(index)
    with m.If(issue):
        m.d.sync += [c.eq(Mux(c == cols - 1, 0, c + 1)), streaming.eq(c != cols - 1)]
    word = bufs.scratch[x_name].word_reader(f"{name}_x", issue, Mux(fetched, index, row), c)
    valid = Signal(name=f"{name}_valid")
    m.d.sync += valid.eq(issue)
    ctrl.busy.append(fetched | streaming | valid)
    return valid, word
