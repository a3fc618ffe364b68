"""The engine's compute units and their feeders.

* **cores**: one record core (:class:`~hwgen.blocks.gemm.RecordCore`) per
  compute core the schedule uses; its records list, stage by stage, the gemm
  slice it runs (the task's weight columns ``n0:n1``, its fused requant and
  ReLU) and the rows;
* **adders** and **multipliers**: one element-wise unit per ``add`` or ``mul``
  task (a ``copy`` passes its row through);
* **row units**: one unit per row op, its block's component
  (:mod:`hwgen.schedule.rowops`), fed a row per slot (``last`` on its final
  element) and always ready for results; attention units, each driven by
  its own reader (:mod:`.attention`);
* **feeders** (one per op input): stream a row of the input buffer (or the
  scratchpad) to every unit of the op, starting with the slot in which the
  op handles that row.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Array, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring

from ...arith import requantize, rescale_add
from ...blocks.gemm import RecordCore
from ..rowops import PORT_FIELDS, takes_rows
from .attention import build_attention
from .buffers import EngineBuffers, select_bank
from .controller import Controller
from .gather import build_gather
from .matmul import build_matmul
from .plan import EnginePlan, OpPlan, Writer
from .pool import PoolUnit
from .window import window_reader


@dataclass
class Producer:
    """A unit that produces results: its writer key, its program ``[(stage, op, n0, n1)]``, result valid/data."""

    writer: Writer
    program: list[tuple[int, str, int, int]]
    valid: Value
    payload: Value

    @property
    def label(self) -> str:
        """The unit's name in signal names: the core index, or ``add_<op>``."""
        return str(self.writer) if isinstance(self.writer, int) else self.writer.replace(":", "_")


def build_cores(m: Module, plan: EnginePlan) -> dict[int, RecordCore]:
    """One record core per compute core, outputs always ready (the routers never stall)."""
    cores = {}
    for c in sorted(plan.core_programs):
        cores[c] = comp = RecordCore(plan.core_config(c))
        m.submodules[f"core{c}"] = comp
        m.d.comb += comp.o.ready.eq(1)
    return cores


def build_row_units(m: Module, plan: EnginePlan) -> dict[str, wiring.Component]:
    """One unit per row op and attention (its block's component) and per pool, outputs always ready."""
    units = {}
    for o in plan.ops.values():
        if o.kind == "pool":
            task = plan.graph.tasks[o.name]
            act = plan.graph.tasks[o.inputs[0].tensor].dtype
            units[o.name] = comp = PoolUnit(task.params, act, task.dtype)
            m.submodules[f"pool_{o.name}"] = comp
            m.d.comb += comp.o.ready.eq(1)
        elif o.kind in ("row", "attention"):
            units[o.name] = comp = o.block.component()
            m.submodules[f"row_{o.name}"] = comp
            m.d.comb += comp.o.ready.eq(1)
    return units


def build_feeders(
    m: Module,
    plan: EnginePlan,
    ctrl: Controller,
    bufs: EngineBuffers,
    cores: dict[int, RecordCore],
    rows: dict[str, wiring.Component],
    phases: dict[str, Signal],
) -> dict[tuple[str, int], tuple[Signal, Value]]:
    """Per op input ``(op, k)``: the ``(valid, data)`` of the row streamed to the op's units this slot (a
    concat takes its inputs' words one input after another: its ``phases`` signal names the input)."""
    feeds = {}
    for o in plan.ops.values():
        if o.kind in ("attention", "matmul", "gather"):  # their drivers read the buffers themselves
            continue
        r, ok = ctrl.row_at(o.depth + 1)
        taken = Signal(name=f"feed_taken_{o.name}")
        if o.kind == "gemm":
            ready_all: Value | int = 1
            for sl in o.slices:
                ready_all = ready_all & cores[sl.writer].i.ready
            m.d.comb += taken.eq(ready_all)
        elif o.kind in ("row", "pool"):
            m.d.comb += taken.eq(rows[o.name].i.ready)
        else:
            m.d.comb += taken.eq(1)  # an adder takes both operands every cycle they are offered
        takes = [taken if o.kind != "concat" else phases[o.name] == k for k in range(len(o.inputs))]
        for k, inp in enumerate(o.inputs):
            taken = takes[k]
            start = ctrl.slot_start & ctrl.stage_is(o.stage) & ok
            name = f"feed_{o.name}_{k}"
            buf = bufs.feeding(o.name, k, inp)
            ready = Signal(name=f"{name}_stage_ready") if plan.machine.feed_stages else taken
            if o.window is not None:  # a conv: its im2col row through the sliding window
                read_valid, words, bank = window_reader(m, name, buf, o.window, o.pad_value, start, r, ready)
            else:
                read_valid, words, bank, _ = buf.bank_reader(name, start, r, ready)
            if plan.machine.feed_stages:
                valid, dat = feed_queue(m, name, read_valid, words, bank, ready, taken)
                ctrl.busy.append(read_valid)  # words still read (the queue's own words: its valid, below)
            else:
                valid, dat = read_valid, select_bank(words, bank)
            feeds[(o.name, k)] = (valid, dat)
            ctrl.busy.append(valid)
    return feeds


def feed_queue(
    m: Module, name: str, valid: Value, words: list[Value], bank: Value, ready: Signal, taken: Value
) -> tuple[Value, Value]:
    """A register stage on a feed: a two-entry queue. Each word reaches the unit a cycle after the buffer read
    offers it, one per cycle; ``ready`` (to the reader) is "not full", a function of registers only, so the
    unit's ``taken`` does not reach the read. Each entry keeps every bank's read data and the bank index, and
    the bank multiplexer comes after the entries: a block RAM's output reaches a register with no logic
    between (its clock-to-output delay alone is most of a 100 MHz cycle on ECP5)."""
    count = Signal(range(3), name=f"{name}_count")
    head, tail = Signal(name=f"{name}_head"), Signal(name=f"{name}_tail")
    entries = [
        ([Signal.like(w, name=f"{name}_e{e}_b{i}", reset_less=True) for i, w in enumerate(words)],
         Signal.like(bank, name=f"{name}_e{e}_bank", reset_less=True))
        for e in range(2)
    ]  # fmt: skip
    out_valid = Signal(name=f"{name}_q_valid")
    m.d.comb += [ready.eq(count != 2), out_valid.eq(count != 0)]
    push, pop = valid & ready, out_valid & taken
    for e, (regs, reg_bank) in enumerate(entries):
        with m.If(push & (tail == e)):
            m.d.sync += [r.eq(w) for r, w in zip(regs, words)] + [reg_bank.eq(bank)]
    with m.If(push):
        m.d.sync += tail.eq(~tail)
    with m.If(pop):
        m.d.sync += head.eq(~head)
    m.d.sync += count.eq(count + push - pop)
    regs = [Mux(head, entries[1][0][i], entries[0][0][i]) for i in range(len(words))]
    return out_valid, select_bank(regs, Mux(head, entries[1][1], entries[0][1]))


def connect_units(
    m: Module,
    plan: EnginePlan,
    ctrl: Controller,
    bufs: EngineBuffers,
    cores: dict[int, RecordCore],
    rows: dict[str, wiring.Component],
    feeds: dict,
    phases: dict[str, Signal],
) -> list[Producer]:
    """Drive every core from the feeder of the op it runs in the current stage, every row unit from its op's
    and every attention unit from its driver; build the adders; return every result producer (cores first,
    then adders, row and attention units)."""
    for c, comp in cores.items():
        valid: Value | int = 0
        payload: Value | int = 0
        for s, op, _, _ in plan.core_programs[c]:
            valid = Mux(ctrl.stage_is(s), feeds[(op, 0)][0], valid)
            payload = Mux(ctrl.stage_is(s), feeds[(op, 0)][1], payload)
        m.d.comb += [comp.i.valid.eq(valid), comp.i.payload.eq(payload)]
    producers = [Producer(c, plan.core_programs[c], comp.o.valid, comp.o.payload) for c, comp in cores.items()]
    for o in plan.ops.values():
        if o.kind in ("add", "mul"):
            total = Signal(plan.widths[o.out_tensor].shape, name=f"{o.kind}_{o.name}")
            m.d.comb += total.eq(_adder(m, plan, o, feeds) if o.kind == "add" else _multiplier(m, plan, o, feeds))
            producers.append(Producer(o.slices[0].writer, [(o.stage, o.name, 0, o.n)], feeds[(o.name, 0)][0], total))
        elif o.kind == "row":
            result = _row_unit(m, o, rows[o.name], feeds[(o.name, 0)])
            producers.append(Producer(o.slices[0].writer, [(o.stage, o.name, 0, o.n)], rows[o.name].o.valid, result))
        elif o.kind == "pool":
            unit, (valid, x) = rows[o.name], feeds[(o.name, 0)]
            m.d.comb += [unit.i.valid.eq(valid), unit.i.payload.eq(x)]
            producers.append(Producer(o.slices[0].writer, [(o.stage, o.name, 0, o.n)], unit.o.valid, unit.o.payload))
        elif o.kind == "matmul":
            valid, y = build_matmul(m, plan, ctrl, bufs, o)
            producers.append(Producer(o.slices[0].writer, [(o.stage, o.name, 0, o.n)], valid, y))
        elif o.kind == "gather":
            valid, word = build_gather(m, plan, ctrl, bufs, o)
            producers.append(Producer(o.slices[0].writer, [(o.stage, o.name, 0, o.n)], valid, word))
        elif o.kind == "concat":
            valid, data = _concat(m, plan, o, feeds, phases[o.name])
            producers.append(Producer(o.slices[0].writer, [(o.stage, o.name, 0, o.n)], valid, data))
        elif o.kind == "copy":  # the row as it is read
            producers.append(Producer(o.slices[0].writer, [(o.stage, o.name, 0, o.n)], *feeds[(o.name, 0)]))
        elif o.kind == "attention":
            result = build_attention(m, plan, ctrl, bufs, o, rows[o.name])
            producers.append(Producer(o.slices[0].writer, [(o.stage, o.name, 0, o.n)], rows[o.name].o.valid, result))
    return producers


def _adder(m: Module, plan: EnginePlan, o: OpPlan, feeds: dict) -> Value:
    """An add unit's result: ``a + b``, or the rescaling add (:func:`~hwgen.arith.rescale_add`) of ``a`` and
    ``b`` — the second operand streamed, or a constant row read at the column counter."""
    valid, a = feeds[(o.name, 0)]
    task = plan.graph.tasks[o.name]
    if not plan.graph.rescales(o.name):
        return a + feeds[(o.name, 1)][1]
    p = task.params
    if "constant" in p:
        col = Signal(range(max(o.n, 2)), name=f"col_{o.name}")
        with m.If(valid):
            m.d.sync += col.eq(Mux(col == o.n - 1, 0, col + 1))
        const = [int(v) for v in p["constant"]]
        b = Array(Const(v, signed(max(v.bit_length() for v in const) + 1)) for v in const)[col]
    else:
        b = feeds[(o.name, 1)][1]
    out = task.dtype
    mults, zeros = (p["multiplier_a"], p["multiplier_b"]), (p["zero_a"], p["zero_b"])
    even = p["rounding"] == "half_even"
    return rescale_add(m, a, b, mults, zeros, p["shift"], p["zero_point"], out.min, out.max, even)


def _multiplier(m: Module, plan: EnginePlan, o: OpPlan, feeds: dict) -> Value:
    """A mul unit's result: ``clamp(zp + round_shift((a − za)·(b − zb)·M, shift))`` of the two streamed
    operands (:meth:`~hwgen.schedule.graph.TaskGraph.mul`), combinational."""
    p, out = plan.graph.tasks[o.name].params, plan.graph.tasks[o.name].dtype
    a, b = feeds[(o.name, 0)][1], feeds[(o.name, 1)][1]
    product = (a - p["zero_a"]) * (b - p["zero_b"])
    width = len(product)
    t = Signal(signed(width), name=f"product_{o.name}")
    m.d.comb += t.eq(product)
    return requantize(m, t, width, p["multiplier"], p["shift"], p["zero_point"], out.min, out.max,
                      p["rounding"] == "half_even")  # fmt: skip


def concat_phases(plan: EnginePlan) -> dict[str, Signal]:
    """Per concat op, the register naming the input whose words it takes."""
    return {o.name: Signal(range(max(len(o.inputs), 2)), name=f"concat_phase_{o.name}")
            for o in plan.ops.values() if o.kind == "concat"}  # fmt: skip


def _concat(m: Module, plan: EnginePlan, o: OpPlan, feeds: dict, phase: Signal) -> tuple[Value, Value]:
    """A concat unit: the inputs' rows one after another (``phase`` moves on after each input's columns),
    each word requantized into the output's encoding when the op rescales."""
    task = plan.graph.tasks[o.name]
    cols = [plan.graph.tasks[i.tensor].cols for i in o.inputs]
    col = Signal(range(max(max(cols), 2)), name=f"concat_col_{o.name}")
    valid: Value | int = 0
    data: Value | int = 0
    for k, width in enumerate(cols):
        v, x = feeds[(o.name, k)]
        if "rescale" in task.params:
            mult, shift, zero = task.params["rescale"][k]
            even, out = task.params["rounding"] == "half_even", task.dtype
            centred = Signal(signed(len(x) + zero.bit_length() + 2), name=f"concat_x{k}_{o.name}")
            m.d.comb += centred.eq(x - zero)
            x = requantize(m, centred, len(centred), mult, shift, task.params["zero_point"], out.min, out.max, even)
        valid, data = Mux(phase == k, v, valid), Mux(phase == k, x, data)
        with m.If((phase == k) & v):
            m.d.sync += col.eq(Mux(col == width - 1, 0, col + 1))
            with m.If(col == width - 1):
                m.d.sync += phase.eq((k + 1) % len(cols))
    return valid, data


def _row_unit(m: Module, o: OpPlan, unit: wiring.Component, feed: tuple[Value, Value]) -> Value:
    """Feed row unit ``unit`` its op's row (``last`` on the ``k``-th element taken, counted here; top-k's
    ``k`` a constant); return its result payload."""
    valid, x = feed
    kind = o.block.block_name
    m.d.comb += unit.i.valid.eq(valid)
    if not takes_rows(kind):
        m.d.comb += unit.i.payload.eq(x)
        return unit.o.payload
    col = Signal(range(max(o.k, 2)), name=f"rowcol_{o.name}")
    with m.If(valid & unit.i.ready):
        m.d.sync += col.eq(Mux(col == o.k - 1, 0, col + 1))
    element, result = PORT_FIELDS[kind]
    m.d.comb += [getattr(unit.i.payload, element).eq(x), unit.i.payload.last.eq(col == o.k - 1)]
    if kind == "topk":
        m.d.comb += unit.i.payload.k.eq(o.n)
    return getattr(unit.o.payload, result)
