"""Per-stage cost: the generated engine's exact timing of one stage.

The engine runs every stage in *row slots*: the controller gives every slot
of stage ``s`` the same length ``T_s`` and in a slot every unit handles one
row. An op at depth ``d`` computes row ``r`` in slot ``r + d + 1``; slot
``r`` also fetches row ``r`` of off-chip inputs (one fetch per tensor and
consumer depth, row ``r`` in slot ``r + depth``), and an off-chip result row
is written back in the slot after it is computed. So a stage of ``M`` rows
and depth ``D`` has ``M + D (+1 if it writes off-chip)`` slots and takes
``slots · T_s`` cycles plus the machine's switch cycles, where ``T_s`` is the
longest per-row time of its units:

* a gemm slice of ``n`` columns on a core: :func:`core_row_cycles`;
* the memory sequencer: :func:`memory_slot_cycles`;
* an element-wise add or mul (an adder or multiplier unit, not a core), a
  copy or a concat (its inputs' rows one after another): ``cols + 2``;
* a row op (softmax, norm, activation on its block's unit): the block's own
  cycle model for the row, + 2 (:func:`.rowops.row_cycles`);
* a pool: its window's ``P·C`` values, one a cycle (+ feed), then its ``C``
  results, + 2;
* a gather: the index, then the row's ``cols`` words, + 3;
* a matmul of two activations: ``K·N`` products one a cycle, + 3;
* an attention: the block's cycle model for a row of every head over all
  its KV entries, + 2 (:func:`.attention.attention_cycles`);

each unit's input arrives ``feed_stages`` cycles later when the machine
registers the feeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ..bandwidth import transfer_cycles
from ..blocks.gemm import gemm_cycles
from .attention import attention_cycles
from .graph import MATMUL_OPS
from .machine import Machine
from .ops import OpGraph
from .rowops import ROW_BLOCKS, row_cycles
from .stages import StageLayout


@dataclass(frozen=True)
class StagePlan:
    """Timing of one stage in the engine: ``slots`` row slots of ``slot_cycles`` each."""

    ops: tuple[str, ...]
    depth: dict[str, int]  # op -> dataflow depth within the stage
    rows: int
    slots: int
    slot_cycles: int
    reads: tuple[tuple[str, int], ...]  # off-chip (tensor, consumer depth) fetched, in sequencer order
    writes: tuple[str, ...]  # off-chip tensors written back, in sequencer order
    unit_cycles: dict[str, int]  # per-row time of every unit (the slot is the longest)

    @property
    def cycles(self) -> int:
        return self.slots * self.slot_cycles


def memory_slot_cycles(actions: list[tuple[str, int, int]], bytes_per_cycle: float, latency: int) -> int:
    """Cycles the memory sequencer needs in a slot for ``actions`` = ``[(kind, elements, bytes each)]``
    (``kind`` = ``"read"`` or ``"write"``, in order), until it is idle; 0 without actions.

    The sequencer issues its first request in cycle 1 of the slot and each next one the cycle after the
    previous request's last beat. Read beat ``j`` arrives at ``max(req + latency + ceil((j+1)·b/B) − 1,
    previous + 1)``; write beat ``j`` is offered from ``req + 2 + j`` (one buffer read ahead) and taken at
    ``max(offer, req + ceil((j+1)·b/B))``."""
    if not actions:
        return 0
    t, last = 1, 0
    for kind, n, eb in actions:
        req, prev = t, None
        for j in range(n):
            if kind == "read":
                beat = req + latency + transfer_cycles(j + 1, eb, bytes_per_cycle) - 1
            else:
                beat = max(req + 2 + j, req + transfer_cycles(j + 1, eb, bytes_per_cycle))
            if prev is not None:
                beat = max(beat, prev + 1)
            prev = beat
        last = prev if prev is not None else req
        t = last + 1
    return last + 2


@lru_cache(maxsize=4096)
def core_row_cycles(
    k: int, n: int, lanes: int, epilogue_stages: int = 0, mac_stages: int = 0, feed_stages: int = 0
) -> int:
    """Cycles a core needs for one row of a ``k × n`` slice with activations arriving one per cycle from
    cycle ``1 + feed_stages`` of the slot, until its last result is written and it is idle (exact cycle
    model + 2)."""
    arrivals = [1 + feed_stages + j for j in range(k)]
    _, outs = gemm_cycles(k, n, lanes, 1, arrivals, epilogue_stages, mac_stages)
    return outs[-1] + 2


def unit_row_cycles(opg: OpGraph, op: str, cores: int, machine: Machine) -> int:
    """Per-row time of ``op`` on ``cores`` cores (a gemm's columns split evenly), on its adder unit or on its
    row op's unit."""
    t = opg.graph.tasks[op]
    if t.op in MATMUL_OPS:  # a conv's im2col row arrives like a gemm's row
        k, n = t.weights.shape[0], math.ceil(t.cols / cores)
        return core_row_cycles(k, n, machine.lanes, machine.epilogue_stages, machine.mac_stages, machine.feed_stages)
    if t.op in ROW_BLOCKS:
        cols = opg.graph.tasks[opg.inputs[op][0]].cols  # the input row (top-k's output is shorter)
        return row_cycles(t.op, opg.graph.row_block(op), cols, machine.feed_stages)
    if t.op == "pool":  # the window's values one a cycle, then one result per channel
        w = t.params["window"]
        return machine.feed_stages + w.length + w.channels + 2
    if t.op == "gather":  # rows: the index, then the row's words; columns: per block its index, then its words
        p = t.params
        return t.cols + 3 if p["axis"] == 0 else (t.cols // p["block"]) * (p["block"] + 1) + 2
    if t.op == "matmul":  # one product a cycle: every output column's K of them, the last result + 2
        return opg.graph.tasks[opg.inputs[op][0]].cols * t.cols + 3
    if t.op == "attention":  # the longest row: every KV entry (its words read straight from the buffers)
        kv_rows = opg.graph.tasks[opg.inputs[op][1]].rows
        return attention_cycles(opg.graph.row_block(op), t.params["fields"]["heads"], kv_rows)
    return t.cols + 2 + machine.feed_stages  # an add, mul, copy or concat unit: a word a cycle from cycle 1 (+ feed)


def allocate_cores(opg: OpGraph, members: list[str], machine: Machine) -> dict[str, int]:
    """Cores per op of a stage: one each, then every spare core to the slowest op while it is a gemm with a
    column left to give it."""
    alloc = {op: 1 for op in members}
    for _ in range(machine.cores - len(members)):
        worst = max(members, key=lambda op: (unit_row_cycles(opg, op, alloc[op], machine), -members.index(op)))
        task = opg.graph.tasks[worst]
        if task.op not in MATMUL_OPS or alloc[worst] >= task.cols:
            break
        alloc[worst] += 1
    return alloc


def plan_stage(
    opg: OpGraph,
    st: StageLayout,
    members: list[str],
    alloc: dict[str, int],
    onchip: set[str],
    sequential: list[str],
    machine: Machine,
) -> StagePlan:
    """The stage's reads, writes, unit times, slot length and slot count."""
    depth = st.depth
    reads = tuple(
        dict.fromkeys(
            (i, depth[op]) for op in members for i in opg.inputs[op] if not st.streamed(op, i) and i not in onchip
        )
    )
    writes = tuple(
        opg.out_tensor[op]
        for op in members
        if opg.out_tensor[op] in opg.finals or (opg.out_tensor[op] in sequential and opg.out_tensor[op] not in onchip)
    )
    cols = {t: opg.graph.tasks[t].cols for t in [t for t, _ in reads] + list(writes)}
    actions = [("write", cols[t], opg.element_bytes(t)) for t in writes]
    actions += [("read", cols[t], opg.element_bytes(t)) for t, _ in reads]
    units = {f"core:{op}": unit_row_cycles(opg, op, alloc[op], machine) for op in members}
    units["memory"] = memory_slot_cycles(actions, machine.offchip_bytes_per_cycle, machine.offchip_latency)
    rows = opg.rows(members[0])  # every op of a stage computes as many rows (dataflow edges are row-wise)
    slots = rows + max(depth[op] for op in members) + 1 + (1 if writes else 0)
    return StagePlan(
        tuple(members),
        {op: depth[op] for op in members},
        rows,
        slots,
        max(max(units.values()), 2),
        reads,
        writes,
        units,
    )


def offchip_bytes(opg: OpGraph, plan: StagePlan) -> int:
    """Bytes the memory sequencer moves in the stage: every read and written tensor, all rows."""
    tensors = [t for t, _ in plan.reads] + list(plan.writes)
    return plan.rows * sum(opg.row_bytes(t) for t in tensors)
