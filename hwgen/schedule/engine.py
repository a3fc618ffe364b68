"""The generated hardware of a compiled schedule: cores, buffers, memory sequencer and stage controller.

:func:`build_engine` turns a :class:`~hwgen.schedule.compiler.Schedule` into
one Amaranth component that runs the whole graph:

* **cores**: one :mod:`~hwgen.blocks.record_core` per compute core the
  schedule uses. Its record ROM lists, stage by stage, the gemm slice it runs
  (the task's weight columns ``n0:n1``, its fused requantization and ReLU)
  and the rows; its weight ROM holds every slice it serves.
* **buffers** (only those the schedule needs): an input ring buffer (2 rows,
  more where a join waits for a longer path) per op input that is a stream
  or off-chip data, a scratchpad per tensor kept on chip
  between stages, a 2-row write-back buffer per tensor written off-chip;
  each stored as one memory bank per writer (a core's column range, or the
  memory sequencer), so every memory has one write port and maps to RAM.
* **feeders** (one per op) stream a row of the op's input to every core of
  the op; **routers** (one per core) write each result into all of the
  tensor's destinations (consumer input buffers, scratchpad, write-back
  buffer) at its column.
* the **memory sequencer**: every slot it writes back the finished off-chip
  rows and then fetches the next input rows, one request at a time, through
  the ``mem_req`` / ``mem_rd`` / ``mem_wr`` streams to the off-chip memory
  (in simulation: :class:`hwgen.sim.memory.MemoryModel`).
* the **controller** steps through the stage records (``slot_cycles``,
  ``slots``): ``switch_cycles`` to switch, then the slots; a slot ends when
  its time is up and every unit is idle (so a model error shows as extra
  cycles, never as wrong data). ``done`` rises after the last stage.

Timing is the compiler's cost model (see :mod:`hwgen.schedule.compiler`):
``Σ_stages switch_cycles + slots · slot_cycles`` cycles to ``done``.
Supported graphs: gemm tasks (wrapping accumulators of one type) with an
optional requantization and then ReLU fused after each, and element-wise
adds (fork/join; an adder unit per add, nothing fused after it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..blocks.gemm_core import GemmCoreConfig
from ..blocks.record_core import RecordCore, RecordCoreConfig
from ..errors import ConfigError
from ..numtype import NumType
from .compiler import Machine, Schedule, ops_of
from .graph import TaskGraph


@dataclass
class OpPlan:
    """One gemm op in the engine."""

    name: str
    stage: int
    depth: int
    k: int
    n: int
    inputs: list[tuple[str, str, int]]  # per input: (tensor, "stream" | "offchip" | "scratch", buffer rows)
    out_tensor: str
    slices: list[tuple[object, int, int]]  # (core, n0, n1); an add: (("add", name), 0, n)
    epilogue: dict
    weight: np.ndarray | None
    kind: str = "gemm"  # "gemm" | "add"

    @property
    def in_tensor(self) -> str:
        return self.inputs[0][0]

    @property
    def source(self) -> str:
        return self.inputs[0][1]


@dataclass
class EnginePlan:
    """Everything static about the engine, derived from the graph and its schedule."""

    graph: TaskGraph
    machine: Machine
    schedule: Schedule
    rows: int
    ops: dict[str, OpPlan]
    widths: dict[str, NumType]  # tensor -> element type
    onchip: set[str]
    offchip_out: list[str]  # tensors written off-chip
    tensor_ids: dict[str, int]  # off-chip tensors (inputs, spilled, finals) -> memory id
    act: NumType
    weight_type: NumType
    acc: NumType
    core_programs: dict[int, list[tuple[int, str, int, int]]] = field(default_factory=dict)

    @property
    def data_width(self) -> int:
        return max(t.width for t in self.widths.values())

    def consumers(self, tensor: str) -> list[tuple[OpPlan, int]]:
        """(op, input index) of every op reading ``tensor``."""
        return [(o, k) for o in self.ops.values() for k, (t, _, _) in enumerate(o.inputs) if t == tensor]


def plan_engine(graph: TaskGraph, machine: Machine, schedule: Schedule) -> EnginePlan:
    """Check the graph is buildable and collect the engine's static tables."""
    ops, producer, inputs = ops_of(graph)
    out_tensor = {o: t for t, o in producer.items()}
    gemms = [op for op in ops if graph.tasks[op].op == "gemm"]
    for op in ops:
        t = graph.tasks[op]
        if t.op == "add" and out_tensor[op] != op:
            raise ConfigError(
                f"graph.{out_tensor[op]}",
                f"the engine does not fuse requant/relu after an add "
                f"({op}); apply them to the gemm outputs before the add",
            )
        if t.op == "gemm" and t.overflow != "wrap":
            raise ConfigError(f"graph.{op}", "the engine's accumulators wrap; overflow='saturate' is not built")
    if not gemms:
        raise ConfigError("graph", "the engine needs at least one gemm task")
    accs = {graph.tasks[op].dtype for op in gemms}
    if len(accs) != 1:
        raise ConfigError(
            "graph",
            f"all gemm tasks must share one accumulator type for the engine's cores; "
            f"found {', '.join(sorted(map(str, accs)))}",
        )
    acc = accs.pop()
    in_types = [graph.tasks[inputs[op][0]].dtype for op in gemms]
    act = NumType.fitting(min(t.min for t in in_types), max(t.max for t in in_types))
    wts = [graph.tasks[op].weight_type for op in gemms]
    weight_type = NumType.fitting(min(t.min for t in wts), max(t.max for t in wts))
    stage_of = {op: s for s, members in enumerate(schedule.stages) for op in members}
    onchip = {k.split(":", 1)[1] for k in schedule.buffers if k.startswith("scratch:")}
    plans: dict[str, OpPlan] = {}
    for s, sp in enumerate(schedule.plans):
        for op in sp.ops:
            t = graph.tasks[op]
            ins = []
            for src_t in inputs[op]:
                if src_t in producer and stage_of[producer[src_t]] == s:
                    source = "stream"
                elif src_t in onchip:
                    source = "scratch"
                else:
                    source = "offchip"
                key = f"in:{op}:{src_t}"
                tt = graph.tasks[src_t]
                nrows = schedule.buffers[key] // (tt.cols * -(-tt.dtype.width // 8)) if key in schedule.buffers else 0
                ins.append((src_t, source, nrows))
            if t.op == "gemm":
                epi = _epilogue(graph, op, out_tensor[op])
                slices = [(r.core, r.cols[0], r.cols[1]) for r in schedule.records if r.stage == s and r.task == op]
                plans[op] = OpPlan(
                    op, s, sp.depth[op], t.weight.shape[0], t.cols, ins, out_tensor[op], slices, epi, t.weight
                )
            else:
                plans[op] = OpPlan(
                    op, s, sp.depth[op], t.cols, t.cols, ins, op, [(("add", op), 0, t.cols)], {}, None, kind="add"
                )
    widths = {}
    for op in ops:
        for i in inputs[op]:
            widths[i] = graph.tasks[i].dtype
        widths[out_tensor[op]] = graph.tasks[out_tensor[op]].dtype
    finals = set(graph.outputs())
    offchip_out = [
        t
        for t in (out_tensor[op] for op in ops)
        if t in finals or (t not in onchip and any(i[0] == t for p in plans.values() for i in p.inputs))
    ]
    ids = {}
    for name, task in graph.tasks.items():
        if task.op == "input":
            ids[name] = len(ids)
    for t in offchip_out:
        ids[t] = len(ids)
    programs: dict[int, list[tuple[int, str, int, int]]] = {}
    for s in range(len(schedule.stages)):
        for p in (q for q in plans.values() if q.stage == s and q.kind == "gemm"):
            for core, n0, n1 in p.slices:
                programs.setdefault(core, []).append((s, p.name, n0, n1))
    return EnginePlan(
        graph,
        machine,
        schedule,
        schedule.plans[0].rows,
        plans,
        widths,
        onchip,
        offchip_out,
        ids,
        act,
        weight_type,
        acc,
        programs,
    )


def _epilogue(graph: TaskGraph, op: str, out: str) -> dict:
    """The fused chain after a gemm: ``[requant] [relu]`` in that order."""
    chain, t = [], out
    while t != op:
        chain.append(graph.tasks[t])
        t = graph.tasks[t].inputs[0]
    chain.reverse()
    kinds = [c.op for c in chain]
    if kinds not in ([], ["requant"], ["relu"], ["requant", "relu"]):
        raise ConfigError(
            f"graph.{out}",
            f"the engine fuses 'requant' then 'relu' after a gemm; "
            f"{' -> '.join([op] + [c.name for c in chain])} is {kinds}",
        )
    epi: dict = {"relu": "relu" in kinds, "requant": "requant" in kinds}
    if epi["requant"]:
        rq = chain[0]
        epi.update(
            multiplier=rq.params["multiplier"],
            shift=rq.params["shift"],
            zero_point=rq.params["zero_point"],
            out=rq.dtype,
        )
    return epi


def req_layout(plan: EnginePlan) -> data.StructLayout:
    return data.StructLayout(
        {"write": 1, "tensor": range(max(len(plan.tensor_ids), 2)), "row": range(max(plan.rows, 2))}
    )


class ScheduleEngine(wiring.Component):
    """The engine; see the module docstring. Ports: ``mem_req``, ``mem_rd``, ``mem_wr`` streams, ``done``."""

    def __init__(self, plan: EnginePlan):
        self.plan = plan
        W = plan.data_width
        super().__init__(
            {
                "mem_req": Out(stream.Signature(req_layout(plan))),
                "mem_rd": In(stream.Signature(W)),
                "mem_wr": Out(stream.Signature(W)),
                "done": Out(1),
            }
        )

    def core_config(self, core: int) -> RecordCoreConfig:
        p = self.plan
        slices, program = [], []
        for _, op, n0, n1 in p.core_programs[core]:
            o = p.ops[op]
            e = o.epilogue
            kw = (
                dict(
                    requant=True, multiplier=e["multiplier"], shift=e["shift"], zero_point=e["zero_point"], out=e["out"]
                )
                if e["requant"]
                else {}
            )
            cfg = GemmCoreConfig(
                weights=tuple(tuple(int(v) for v in row) for row in o.weight[:, n0:n1]),
                lanes=p.machine.lanes,
                act=p.act,
                weight_type=p.weight_type,
                acc=p.acc,
                relu=e["relu"],
                **kw,
            )
            if cfg not in slices:
                slices.append(cfg)
            program.append(slices.index(cfg))
        return RecordCoreConfig(slices=tuple(slices), program=tuple(program), rows=(p.rows,) * len(program))

    def elaborate(self, platform) -> Module:
        p = self.plan
        sp = p.schedule.plans
        S, M = len(sp), p.rows
        m = Module()

        # ------------------------------------------------------------ controller
        stage = Signal(range(max(S, 2)))
        slot = Signal(range(max(max(x.slots for x in sp) + 1, 2)))
        timer = Signal(range(max(max(x.slot_cycles for x in sp) + 1, 2)))
        switch = Signal(range(p.machine.switch_cycles + 1), init=p.machine.switch_cycles)
        running = Signal()
        done = Signal()
        m.d.comb += self.done.eq(done)
        slot_start = running & (timer == 0)
        busy_terms: list = []

        def stage_is(s: int):
            return stage == s

        rows_at: dict[int, tuple[Signal, Signal]] = {}

        def row_at(offset: int):
            """(row, valid) of the unit whose row is ``slot - offset`` this slot (one pair per offset)."""
            if offset in rows_at:
                return rows_at[offset]
            r = Signal(range(max(M, 2)), name=f"row_off{offset}")
            v = Signal(name=f"row_ok_off{offset}")
            m.d.comb += [r.eq(slot - offset), v.eq(((slot >= offset) if offset else 1) & (slot < offset + M))]
            rows_at[offset] = (r, v)
            return r, v

        # ------------------------------------------------------------ buffers (a bank per writer)
        def banks_of(tensor: str) -> list[tuple[object, int, int]]:
            return list(p.ops[_producer(p, tensor)].slices)  # (core, n0, n1)

        inbuf = {}  # (op, input index) -> ring buffer of rows
        for o in p.ops.values():
            for k, (t, source, nrows) in enumerate(o.inputs):
                if source in ("stream", "offchip"):
                    banks = banks_of(t) if source == "stream" else [("memory", 0, p.graph.tasks[t].cols)]
                    inbuf[(o.name, k)] = Buffer(m, f"in_{o.name}_{k}", p.widths[t].shape, nrows, banks)
        scratch = {
            t: Buffer(m, f"scratch_{t}", p.widths[t].shape, M, banks_of(t), ring=False) for t in sorted(p.onchip)
        }
        wback = {t: Buffer(m, f"wb_{t}", p.widths[t].shape, 2, banks_of(t)) for t in p.offchip_out}

        # ------------------------------------------------------------ cores, add units, feeders
        cores = {}
        for c in sorted(p.core_programs):
            cores[c] = comp = RecordCore(self.core_config(c))
            m.submodules[f"core{c}"] = comp
            m.d.comb += comp.o.ready.eq(1)
        feeder_valid, feeder_data = {}, {}
        for o in p.ops.values():
            r, ok = row_at(o.depth + 1)
            taken = Signal(name=f"feed_taken_{o.name}")
            if o.kind == "gemm":
                ready_all = 1
                for core, _, _ in o.slices:
                    ready_all = ready_all & cores[core].i.ready
                m.d.comb += taken.eq(ready_all)
            else:
                m.d.comb += taken.eq(1)  # an add unit takes both operands every cycle they are offered
            for k, (t, source, _) in enumerate(o.inputs):
                buf = scratch[t] if source == "scratch" else inbuf[(o.name, k)]
                valid, dat, _ = buf.reader(f"feed_{o.name}_{k}", slot_start & stage_is(o.stage) & ok, r, taken)
                feeder_valid[(o.name, k)], feeder_data[(o.name, k)] = valid, dat
                busy_terms.append(valid)
        for c, comp in cores.items():
            valid, payload = 0, 0
            for s, op, _, _ in p.core_programs[c]:
                valid = Mux(stage_is(s), feeder_valid[(op, 0)], valid)
                payload = Mux(stage_is(s), feeder_data[(op, 0)], payload)
            m.d.comb += [comp.i.valid.eq(valid), comp.i.payload.eq(payload)]
        # every result producer: (writer key, program [(stage, op, n0, n1)], result valid, result payload)
        producers = [(c, p.core_programs[c], comp.o.valid, comp.o.payload) for c, comp in cores.items()]
        for o in p.ops.values():
            if o.kind == "add":
                total = Signal(p.widths[o.out_tensor].shape, name=f"sum_{o.name}")
                m.d.comb += total.eq(feeder_data[(o.name, 0)] + feeder_data[(o.name, 1)])
                producers.append(((("add", o.name)), [(o.stage, o.name, 0, o.n)], feeder_valid[(o.name, 0)], total))

        # ------------------------------------------------------------ routers
        # column / row counters per producer; each producer writes its own bank of every destination
        for key, prog, fire, payload in producers:
            c = key if isinstance(key, int) else f"add_{key[1]}"
            ncol_max = max(n1 - n0 for _, _, n0, n1 in prog)
            j = Signal(range(ncol_max + 1), name=f"col_{c}")
            rows_done = Signal(range(M + 1), name=f"rows_done_{c}")
            last_col = Signal(name=f"last_col_{c}")
            with m.If(~running):
                m.d.sync += [j.eq(0), rows_done.eq(0)]
            with m.Elif(fire):
                with m.If(last_col):
                    m.d.sync += [j.eq(0), rows_done.eq(rows_done + 1)]
                with m.Else():
                    m.d.sync += j.eq(j + 1)
            pending = Signal(name=f"pending_{c}")
            for s, op, n0, n1 in prog:
                o = p.ops[op]
                here = stage_is(s)
                with m.If(here):
                    m.d.comb += last_col.eq(j == n1 - n0 - 1)
                # rows expected by the end of this slot: clamp(slot - depth, 0, M)
                exp = Signal(range(M + 1), name=f"expected_{c}_s{s}")
                below = (slot < o.depth) if o.depth else 0
                m.d.comb += exp.eq(Mux(below, 0, Mux(slot - o.depth > M, M, slot - o.depth)))
                with m.If(here & running):
                    m.d.comb += pending.eq(rows_done < exp)
                dests = [
                    inbuf[(cons.name, k)]
                    for cons, k in p.consumers(o.out_tensor)
                    if cons.stage == s and cons.inputs[k][1] == "stream"
                ]
                if o.out_tensor in scratch:
                    dests.append(scratch[o.out_tensor])
                if o.out_tensor in wback:
                    dests.append(wback[o.out_tensor])
                for buf in dests:
                    wp, width = buf.write_port(key)
                    with m.If(here):
                        m.d.comb += [
                            wp.addr.eq(buf.row_base(rows_done, width) + j),
                            wp.data.eq(payload),
                            wp.en.eq(fire),
                        ]
            busy_terms.append(pending)

        # ------------------------------------------------------------ memory sequencer
        actions = []  # per stage: [(kind, tensor, row offset, targets)]
        for s, x in enumerate(sp):
            acts = []
            for t in x.writes:
                acts.append(("write", t, p.ops[_producer(p, t)].depth + 2, []))
            for t, d in x.reads:
                acts.append(
                    (
                        "read",
                        t,
                        d,
                        [
                            (o.name, k)
                            for o, k in p.consumers(t)
                            if o.stage == s and o.depth == d and o.inputs[k][1] == "offchip"
                        ],
                    )
                )
            actions.append(acts)
        A = max((len(a) for a in actions), default=0)
        if A:
            self._sequencer(m, actions, A, stage, slot, slot_start, running, inbuf, wback, row_at, busy_terms)
        else:
            m.d.comb += [self.mem_req.valid.eq(0), self.mem_wr.valid.eq(0), self.mem_rd.ready.eq(1)]

        # ------------------------------------------------------------ slot / stage stepping
        busy = Signal()
        m.d.comb += busy.eq(_or(busy_terms))
        T = Signal.like(timer, name="slot_len")
        NS = Signal.like(slot, name="slots_in_stage")
        t_len, n_slots = sp[0].slot_cycles, sp[0].slots
        for s, x in enumerate(sp):
            t_len, n_slots = Mux(stage_is(s), x.slot_cycles, t_len), Mux(stage_is(s), x.slots, n_slots)
        m.d.comb += [T.eq(t_len), NS.eq(n_slots)]
        with m.If(~running & ~done):
            with m.If(switch > 1):
                m.d.sync += switch.eq(switch - 1)
            with m.Else():
                m.d.sync += [running.eq(1), slot.eq(0), timer.eq(0)]
        with m.Elif(running):
            with m.If((timer >= T - 1) & ~busy):
                m.d.sync += timer.eq(0)
                with m.If(slot == NS - 1):
                    m.d.sync += [running.eq(0), switch.eq(p.machine.switch_cycles)]
                    with m.If(stage == S - 1):
                        m.d.sync += done.eq(1)
                    with m.Else():
                        m.d.sync += stage.eq(stage + 1)
                with m.Else():
                    m.d.sync += slot.eq(slot + 1)
            with m.Else():
                m.d.sync += timer.eq(Mux(timer == T - 1, timer, timer + 1))
        return m

    def _sequencer(self, m, actions, A, stage, slot, slot_start, running, inbuf, wback, row_at, busy_terms):
        p = self.plan
        M = p.rows
        state = Signal(range(4), name="seq_state")  # 0 idle, 1 request, 2 write data, 3 read data
        wstart = Signal(name="seq_wstart")
        a = Signal(range(max(A, 2)), name="seq_action")
        count = Signal(range(max(max(p.graph.tasks[t].cols for t in p.widths) + 1, 2)), name="seq_count")
        busy_terms.append(state != 0)
        n_act = Signal(range(A + 1), name="seq_actions")
        row = Signal(range(max(M, 2)), name="seq_row")
        row_ok = Signal(name="seq_row_ok")
        is_write = Signal(name="seq_is_write")
        tid = Signal(range(max(len(p.tensor_ids), 2)), name="seq_tensor")
        n = Signal.like(count, name="seq_n")
        n_of_stage = 0
        for s, acts in enumerate(actions):
            n_of_stage = Mux(stage == s, len(acts), n_of_stage)
        m.d.comb += n_act.eq(n_of_stage)
        decoded = [
            ((stage == s) & (a == i), row_at(off), kind, t)
            for s, acts in enumerate(actions)
            for i, (kind, t, off, _) in enumerate(acts)
        ]
        for k, (cond, (r, ok), kind, t) in enumerate(decoded):
            with (m.If if k == 0 else m.Elif)(cond):
                m.d.comb += [
                    row.eq(r),
                    row_ok.eq(ok),
                    is_write.eq(kind == "write"),
                    tid.eq(p.tensor_ids[t]),
                    n.eq(p.graph.tasks[t].cols),
                ]
        cur_row = Signal.like(row, name="seq_cur_row")
        nxt = Signal(name="seq_next")  # this action is over: go to the next one
        with m.If(nxt):
            with m.If(a == n_act - 1):
                m.d.sync += state.eq(0)
            with m.Else():
                m.d.sync += [a.eq(a + 1), state.eq(1)]
        with m.If(slot_start & (n_act > 0)):
            m.d.sync += [state.eq(1), a.eq(0)]
        # request
        req = self.mem_req
        m.d.comb += [
            req.payload.write.eq(is_write),
            req.payload.tensor.eq(tid),
            req.payload.row.eq(row),
            req.valid.eq((state == 1) & row_ok),
        ]
        with m.If(state == 1):
            with m.If(~row_ok):
                m.d.comb += nxt.eq(1)
            with m.Elif(req.ready):
                m.d.sync += [count.eq(0), cur_row.eq(row)]
                with m.If(is_write):
                    m.d.sync += [state.eq(2), wstart.eq(1)]
                with m.Else():
                    m.d.sync += state.eq(3)
        with m.If(wstart):
            m.d.sync += wstart.eq(0)
        # read data -> input buffers of this stage's consumers
        m.d.comb += self.mem_rd.ready.eq(state == 3)
        with m.If((state == 3) & self.mem_rd.valid):
            m.d.sync += count.eq(count + 1)
            with m.If(count == n - 1):
                m.d.comb += nxt.eq(1)
        for s, acts in enumerate(actions):
            for i, (kind, _t, _off, targets) in enumerate(acts):
                if kind != "read":
                    continue
                for target in targets:
                    wp, width = inbuf[target].write_port("memory")
                    with m.If((stage == s) & (a == i)):
                        m.d.comb += [
                            wp.addr.eq(inbuf[target].row_base(cur_row, width) + count),
                            wp.data.eq(self.mem_rd.payload),
                            wp.en.eq((state == 3) & self.mem_rd.valid),
                        ]
        # write data <- write-back buffers
        taken = Signal(name="seq_wr_taken")
        wvalid = Signal(name="seq_wvalid")
        wdata = Signal(p.data_width, name="seq_wdata")
        m.d.comb += [self.mem_wr.valid.eq(wvalid), self.mem_wr.payload.eq(wdata), taken.eq(self.mem_wr.ready)]
        for t, buf in wback.items():
            sel = _or(
                [
                    (stage == s) & (a == i)
                    for s, acts in enumerate(actions)
                    for i, (kind, tt, _, _) in enumerate(acts)
                    if kind == "write" and tt == t
                ]
            )
            v, d, last = buf.reader(f"wb_{t}", wstart & sel, cur_row, taken)
            with m.If(sel):
                m.d.comb += [wvalid.eq(v & (state == 2)), wdata.eq(d)]
                with m.If((state == 2) & v & taken & last):
                    m.d.comb += nxt.eq(1)


def _producer(plan: EnginePlan, tensor: str) -> str:
    return next(o.name for o in plan.ops.values() if o.out_tensor == tensor)


class Buffer:
    """A logical ``rows × cols`` buffer (a ring of 2, 4, ... rows, or all ``M`` rows for a scratchpad),
    stored as one memory bank per writer: each writer owns a column range and writes only its bank (one
    write port per memory, so synthesis can use block or distributed RAM). Readers stream a row's columns
    in order across the banks."""

    def __init__(
        self, m: Module, name: str, shape, rows: int, banks: list[tuple[object, int, int]], *, ring: bool = True
    ):
        self.m, self.name, self.rows, self.banks, self.ring = m, name, rows, banks, ring
        assert not ring or rows & (rows - 1) == 0, "ring buffers hold a power-of-two number of rows"
        self.mems = []
        for i, (_, n0, n1) in enumerate(banks):
            mm = memory.Memory(shape=shape, depth=max(rows * (n1 - n0), 2), init=[])
            m.submodules[f"{name}_b{i}"] = mm
            self.mems.append(mm)
        self.cols = banks[-1][2]
        self._wports: dict[object, tuple] = {}

    def row_base(self, row, width: int):
        """Address of ``row``'s first word in a bank ``width`` words wide (a ring keeps ``row mod rows``)."""
        if self.ring:
            return row[: self.rows.bit_length() - 1] * width if self.rows > 1 else 0
        return row * width

    def write_port(self, writer) -> tuple[memory.WritePort, int]:
        """The write port of ``writer``'s bank and the bank's width (address = row_base + column in bank)."""
        if writer not in self._wports:
            i = next(k for k, (w, _, _) in enumerate(self.banks) if w == writer)
            self._wports[writer] = (self.mems[i].write_port(), self.banks[i][2] - self.banks[i][1])
        return self._wports[writer]

    def reader(self, name: str, start, row, taken):
        """Stream the ``cols`` words of ``row``: ``start`` issues the first read (valid the next cycle); each
        word taken issues the next. Returns ``(valid, data, last)`` (``last``: the word offered is the final
        one); ``row`` must hold while the row streams."""
        m, n = self.m, self.cols
        issued = Signal(range(n + 1), name=f"{name}_issued")
        valid = Signal(name=f"{name}_valid")
        last = Signal(name=f"{name}_last")
        m.d.comb += last.eq(issued == n)
        en = Signal(name=f"{name}_en")
        idx = Signal(range(max(n, 2)), name=f"{name}_idx")
        m.d.comb += idx.eq(Mux(start, 0, issued))
        with m.If(start):
            m.d.comb += en.eq(1)
            m.d.sync += [issued.eq(1), valid.eq(1)]
        with m.Elif(valid & taken):
            with m.If(issued < n):
                m.d.comb += en.eq(1)
                m.d.sync += issued.eq(issued + 1)
            with m.Else():
                m.d.sync += valid.eq(0)
        bank_q = Signal(range(max(len(self.banks), 2)), name=f"{name}_bank")
        bank_of = 0
        datas = []
        for i, ((_, n0, n1), mm) in enumerate(zip(self.banks, self.mems)):
            rp = mm.read_port()
            m.d.comb += [rp.addr.eq(self.row_base(row, n1 - n0) + idx - n0), rp.en.eq(en)]
            if i:
                bank_of = Mux(idx >= n0, i, bank_of)
            datas.append(rp.data)
        with m.If(en):
            m.d.sync += bank_q.eq(bank_of)
        data = datas[0]
        for i in range(1, len(datas)):
            data = Mux(bank_q == i, datas[i], data)
        return valid, data, last


def _or(terms):
    out = 0
    for t in terms:
        out = out | t
    return out


def build_engine(graph: TaskGraph, machine: Machine, schedule: Schedule) -> ScheduleEngine:
    """The engine component for ``schedule`` (compiled from ``graph`` for ``machine``)."""
    return ScheduleEngine(plan_engine(graph, machine, schedule))
