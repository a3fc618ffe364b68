"""The unit of a product of two activations: one multiply-accumulate a cycle, both operands read from buffers.

In the slot in which the op handles row ``r``, the unit reads, for each
output column ``n`` and each ``k``, ``a[r, k]`` (from ``a``'s input buffer or
scratchpad) and ``b[k, n]`` (``b[n, k]`` transposed; from ``b``'s scratchpad),
one pair a cycle with no gaps (``n`` outer, ``k`` inner), and accumulates
``(a − za)·(b − zb)``; after a column's last pair its sum is requantized
(:func:`hwgen.arith.requantize`) into the output register. Timing: pair
``(n, k)`` read in cycle ``n·K + k`` of the slot, column ``n``'s result valid
in cycle ``n·K + K + 1``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed

from ...arith import requantize
from ...numtype import NumType
from .buffers import EngineBuffers
from .controller import Controller
from .plan import EnginePlan, OpPlan


def build_matmul(
    m: Module, plan: EnginePlan, ctrl: Controller, bufs: EngineBuffers, o: OpPlan
) -> tuple[Signal, Signal]:
    """The unit of matmul op ``o``; returns its result ``(valid, data)``."""
    task = plan.graph.tasks[o.name]
    p = task.params
    a_type, b_type = (plan.graph.tasks[i.tensor].dtype for i in o.inputs[:2])
    k_len, n_len = o.k, o.n
    r, ok = ctrl.row_at(o.depth + 1)
    name = f"mm_{o.name}"
    k, n = Signal(range(max(k_len, 2)), name=f"{name}_k"), Signal(range(max(n_len, 2)), name=f"{name}_n")
    active = Signal(name=f"{name}_active")
    issue = Signal(name=f"{name}_issue")
    m.d.comb += issue.eq((ctrl.slot_start & ctrl.stage_is(o.stage) & ok) | active)
    last_pair = (k == k_len - 1) & (n == n_len - 1)
    with m.If(issue):
        m.d.sync += [k.eq(Mux(k == k_len - 1, 0, k + 1)), active.eq(~last_pair)]
        with m.If(k == k_len - 1):
            m.d.sync += n.eq(Mux(n == n_len - 1, 0, n + 1))
    b_row, b_col = (n, k) if p["transpose_b"] else (k, n)
    a = bufs.feeding(o.name, 0, o.inputs[0]).word_reader(f"{name}_a", issue, r, k)
    b = bufs.scratch[o.inputs[1].tensor].word_reader(f"{name}_b", issue, b_row, b_col)
    data, first, last = Signal(name=f"{name}_data"), Signal(name=f"{name}_first"), Signal(name=f"{name}_last")
    m.d.sync += [data.eq(issue), first.eq(k == 0), last.eq(k == k_len - 1)]
    da = NumType.fitting(a_type.min - p["zero_a"], a_type.max - p["zero_a"], signed=True)
    db = NumType.fitting(b_type.min - p["zero_b"], b_type.max - p["zero_b"], signed=True)
    width = da.width + db.width + k_len.bit_length() + 1
    acc, total = Signal(signed(width), name=f"{name}_acc"), Signal(signed(width), name=f"{name}_sum")
    m.d.comb += total.eq(Mux(first, 0, acc) + (a - p["zero_a"]) * (b - p["zero_b"]))
    with m.If(data):
        m.d.sync += acc.eq(total)
    out = task.dtype
    result = requantize(m, total, width, p["multiplier"], p["shift"], p["zero_point"], out.min, out.max,
                        p["rounding"] == "half_even")  # fmt: skip
    valid, y = Signal(name=f"{name}_valid"), Signal(out.shape, name=f"{name}_y")
    m.d.sync += valid.eq(data & last)
    with m.If(data & last):
        m.d.sync += y.eq(result)
    ctrl.busy.append(active | data | valid)
    return valid, y
