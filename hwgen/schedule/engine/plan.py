"""The engine's static plan: every op's inputs, slices and epilogue, the cores' programs, the memory ids.

:func:`plan_engine` checks that the engine can build a compiled schedule (one
accumulator type across the gemm tasks, only ``requant`` then ``relu`` fused
after a gemm, nothing fused after an add) and collects the tables the
hardware components (:mod:`.controller`, :mod:`.feeders`, :mod:`.routers`,
:mod:`.sequencer`) are generated from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...blocks.gemm import GemmCoreConfig, RecordCoreConfig
from ...config import BlockConfig
from ...numtype import NumType
from ..compiler import Schedule
from ..graph import MATMUL_OPS, TaskGraph
from ..machine import Machine
from ..ops import OpGraph, op_graph
from ..places import BufferKey, BufferKind, Place
from ..rowops import ROW_BLOCKS
from ..support import check_buildable, core_types, fused_chain
from ..timing import core_dsp_cells, machine_for_clock
from ..window import Window

#: The memory sequencer's writer key (it fills input buffers from off-chip memory).
MEMORY = "memory"
#: A unit that writes a tensor's columns ``[n0, n1)``: a core (its index), an adder (``add:<op>``), a row op's
#: unit (``row:<op>``), an attention unit (``attention:<op>``) or MEMORY.
Writer = int | str


@dataclass(frozen=True)
class Slice:
    """Columns ``[n0, n1)`` of an op's output computed by ``writer``."""

    writer: Writer
    n0: int
    n1: int


@dataclass(frozen=True)
class OpInput:
    """One input of an op: the tensor, where it comes from, the rows of its input buffer (0: none)."""

    tensor: str
    place: Place
    rows: int


@dataclass(frozen=True)
class Epilogue:
    """What is fused after a gemm: ``requantize`` (:mod:`hwgen.requant`) if ``requant``, then ReLU if ``relu``."""

    requant: bool = False
    relu: bool = False
    multiplier: int | tuple[int, ...] = 0  # one, or one per column (per-channel)
    shift: int | tuple[int, ...] = 0
    zero_point: int = 0
    out: NumType | None = None
    rounding: str = "half_away"


@dataclass
class OpPlan:
    """One op (a gemm on cores, an add on an adder unit, a row op or an attention on its block's unit) in
    the engine."""

    name: str
    stage: int
    depth: int
    k: int
    n: int
    inputs: list[OpInput]
    out_tensor: str
    slices: list[Slice]
    epilogue: Epilogue
    weights: np.ndarray | None
    kind: str = "gemm"  # "gemm" (and conv) | "add" | "copy" | "concat" | "row" | "pool" | "matmul" | "attention"
    bias: np.ndarray | None = None  # gemm: one per column, or None
    block: BlockConfig | None = None  # row, attention: the unit's block
    window: Window | None = None  # a conv (kind "gemm") or pool: its input is read through this window
    pad_value: int = 0  # a conv: the value read outside the image


@dataclass
class EnginePlan:
    """Everything static about the engine, derived from the graph and its schedule."""

    graph: TaskGraph
    machine: Machine
    schedule: Schedule
    rows: int  # the most rows of any stage (row counters' widths)
    ops: dict[str, OpPlan]
    widths: dict[str, NumType]  # tensor -> element type
    onchip: set[str]
    offchip_out: list[str]  # tensors written off-chip
    tensor_ids: dict[str, int]  # off-chip tensors (inputs, spilled, finals) -> memory id
    act: NumType
    weight: NumType
    acc: NumType
    core_programs: dict[int, list[tuple[int, str, int, int]]] = field(default_factory=dict)

    @property
    def data_width(self) -> int:
        return max(t.width for t in self.widths.values())

    def consumers(self, tensor: str) -> list[tuple[OpPlan, int]]:
        """(op, input index) of every op reading ``tensor``."""
        return [(o, k) for o in self.ops.values() for k, inp in enumerate(o.inputs) if inp.tensor == tensor]

    def producer(self, tensor: str) -> OpPlan:
        return next(o for o in self.ops.values() if o.out_tensor == tensor)

    def core_config(self, core: int) -> RecordCoreConfig:
        """The record core of compute core ``core``: the slices it serves, one record per stage it runs in."""
        slices: list[GemmCoreConfig] = []
        program = []
        for _, op, n0, n1 in self.core_programs[core]:
            o = self.ops[op]
            cfg = GemmCoreConfig(
                weights=tuple(tuple(int(v) for v in row) for row in o.weights[:, n0:n1]),
                lanes=self.machine.lanes,
                act=self.act,
                weight=self.weight,
                acc=self.acc,
                relu=o.epilogue.relu,
                bias=() if o.bias is None else tuple(int(v) for v in o.bias[n0:n1]),
                **_slice_requant(o.epilogue, n0, n1),
            )
            if cfg not in slices:
                slices.append(cfg)
            program.append(slices.index(cfg))
        return RecordCoreConfig(
            slices=tuple(slices),
            program=tuple(program),
            rows=tuple(self.schedule.plans[s].rows for s, _, _, _ in self.core_programs[core]),
            epilogue_stages=self.machine.epilogue_stages,
            mac_stages=self.machine.mac_stages,
            dsp_cells=core_dsp_cells(self.machine, self.act, self.weight),
        )


def _slice_requant(e: Epilogue, n0: int, n1: int) -> dict:
    """The requantization parameters of columns ``[n0, n1)`` of a gemm's epilogue (``{}`` without requant)."""
    if not e.requant:
        return {}
    cols = {}
    for key, many in (("multiplier", "multipliers"), ("shift", "shifts")):
        v = getattr(e, key)
        cols[many if isinstance(v, tuple) else key] = v[n0:n1] if isinstance(v, tuple) else v
    return {"requant": True, "zero_point": e.zero_point, "out": e.out, "rounding": e.rounding, **cols}


def plan_engine(graph: TaskGraph, machine: Machine, schedule: Schedule) -> EnginePlan:
    """Check the graph is buildable and collect the engine's static tables (the core stages as the
    compiler chose them for the machine's clock)."""
    opg = op_graph(graph)
    gemms = check_buildable(opg)
    machine, _ = machine_for_clock(graph, machine)
    act, weight, acc = core_types(opg, gemms)
    stage_of = {op: s for s, members in enumerate(schedule.stages) for op in members}
    onchip = schedule.onchip_tensors
    plans: dict[str, OpPlan] = {}
    for s, sp in enumerate(schedule.plans):
        for op in sp.ops:
            t = graph.tasks[op]
            ins = [_op_input(opg, schedule, stage_of, onchip, op, s, i) for i in opg.inputs[op]]
            if t.op in MATMUL_OPS:
                epi = _epilogue(graph, op, opg.out_tensor[op])
                slices = [Slice(r.core, *r.cols) for r in schedule.records if r.stage == s and r.task == op]
                plans[op] = OpPlan(
                    op,
                    s,
                    sp.depth[op],
                    t.weights.shape[0],
                    t.cols,
                    ins,
                    opg.out_tensor[op],
                    slices,
                    epi,
                    t.weights,
                    bias=t.bias,
                    window=t.params.get("window"),
                    pad_value=t.params.get("pad_value", 0),
                )
            else:
                kind = "row" if t.op in ROW_BLOCKS else t.op
                block = graph.row_block(op) if kind in ("row", "attention") else None
                slices = [Slice(f"{kind}:{op}", 0, t.cols)]
                k = graph.tasks[opg.inputs[op][0]].cols  # the input row's length (top-k: more than the output's)
                window = t.params.get("window") if kind == "pool" else None
                pad = graph.tasks[opg.inputs[op][0]].dtype.min  # a max pool's padding never wins (avg: no pads)
                plans[op] = OpPlan(
                    op, s, sp.depth[op], k, t.cols, ins, op, slices, Epilogue(), None, kind=kind, block=block,
                    window=window, pad_value=pad,
                )  # fmt: skip
    widths = {}
    for op in opg.ops:
        for i in opg.inputs[op]:
            widths[i] = graph.tasks[i].dtype
        widths[opg.out_tensor[op]] = graph.tasks[opg.out_tensor[op]].dtype
    offchip_out = [
        t
        for t in (opg.out_tensor[op] for op in opg.ops)
        if t in opg.finals or (t not in onchip and any(i.tensor == t for p in plans.values() for i in p.inputs))
    ]
    ids = {name: k for k, name in enumerate(n for n, task in graph.tasks.items() if task.op == "input")}
    for t in offchip_out:
        ids[t] = len(ids)
    programs: dict[int, list[tuple[int, str, int, int]]] = {}
    for s in range(len(schedule.stages)):
        for p in (q for q in plans.values() if q.stage == s and q.kind == "gemm"):
            for sl in p.slices:
                programs.setdefault(sl.writer, []).append((s, p.name, sl.n0, sl.n1))
    rows = max(p.rows for p in schedule.plans)
    return EnginePlan(
        graph, machine, schedule, rows, plans, widths, onchip, offchip_out, ids, act, weight, acc, programs
    )


def _op_input(
    opg: OpGraph, schedule: Schedule, stage_of: dict[str, int], onchip: set[str], op: str, stage: int, tensor: str
) -> OpInput:
    if tensor in opg.producer and stage_of[opg.producer[tensor]] == stage:
        place = Place.STREAM
    elif tensor in onchip:
        place = Place.SCRATCHPAD
    else:
        place = Place.OFFCHIP
    rows = schedule.buffer_rows(BufferKey(BufferKind.INPUT, tensor, op), opg.row_bytes(tensor))
    return OpInput(tensor, place, rows)


def _epilogue(graph: TaskGraph, op: str, out: str) -> Epilogue:
    """The fused chain after a gemm as the core's epilogue."""
    chain = fused_chain(graph, op, out)
    kinds = [c.op for c in chain]
    if "requant" not in kinds:
        return Epilogue(relu="relu" in kinds)
    rq = chain[0].params
    return Epilogue(
        True, "relu" in kinds, rq["multiplier"], rq["shift"], rq["zero_point"], chain[0].dtype, rq["rounding"]
    )
