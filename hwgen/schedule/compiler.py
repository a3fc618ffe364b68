"""Schedule compiler: per task boundary, dataflow or sequential execution, plus core assignment and costs.

Units of work are the *ops* of a graph: ``gemm`` and ``add`` tasks. ``relu``
and ``requant`` are fused into the write-back of the op that produces their
input (they cost no core and no cycles); an op's output is the tensor at the
end of its fused chain. Every edge between two ops is either

* ``dataflow``: producer and consumer run in the same *stage*, concurrently on
  different cores, the tensor passing row by row through the consumer's
  2-row input buffer (never stored whole), or
* ``sequential``: the consumer runs in a later stage; the tensor is kept in
  an on-chip scratchpad while it fits (decided in production order against
  ``onchip_bytes``, counting every buffer the engine allocates), else in
  off-chip memory.

Cost model (cycles) — the timing of the generated engine
(:mod:`hwgen.schedule.engine`), which runs every stage in *row slots*: the
controller gives every slot of stage ``s`` the same length ``T_s`` and in a
slot every unit handles one row. An op at dataflow depth ``d`` (``d`` ops
stream into it within the stage) computes row ``r`` in slot ``r + d + 1``;
slot ``r`` also fetches row ``r`` of off-chip inputs into the input buffers,
and an off-chip result row is written back in the slot after it is computed.
So a stage of ``M`` rows and depth ``D`` has ``M + D (+1 if it writes
off-chip)`` slots, and takes ``switch_cycles + slots · T_s`` cycles, where
``T_s`` is the longest per-row time of its units:

* a gemm slice of ``n`` columns on a core (:mod:`hwgen.blocks.record_core`):
  the core's exact cycle model for one row whose activations arrive one per
  cycle from cycle 1 of the slot, plus 2 (last result written, unit idle);
* the memory sequencer: per slot it writes back the finished off-chip rows,
  then fetches the next input rows, one request after another against the
  off-chip memory model (a read's beat ``j`` arrives ``latency + ceil((j+1) ·
  bytes / bandwidth) − 1`` cycles after its request, at most one beat per
  cycle; writes are posted, beat ``j`` accepted from ``ceil((j+1) · bytes /
  bandwidth)`` cycles after the request) — see :func:`memory_slot_cycles`;
* an element-wise add (an adder unit, not a core): ``cols + 3``.

An op input streamed from a producer ``w`` levels shallower waits ``w − 1``
slots, so its ring buffer holds ``2 + w − 1`` rows, rounded up to a power
of two; an op at depth ``d`` reading off-chip data has row ``r`` fetched in
slot ``r + d`` (one fetch per tensor and depth).

Off-chip bytes are every byte the sequencer moves; on-chip bytes are every
buffer the engine allocates: an input ring buffer per op input that is a
stream or off-chip data, a scratchpad per on-chip sequential tensor (all its rows),
a 2-row write-back buffer per tensor written off-chip. The ``auto`` policy
tries every assignment of the edges (up to 2^16) and keeps the cheapest
(cycles, then off-chip bytes, then on-chip bytes), so it is never worse than
``all-dataflow`` or ``all-sequential`` on this model. ``sequential`` makes
every edge sequential; ``dataflow`` pipelines every edge it can, in graph
order, as long as no stage needs more concurrent ops than there are cores.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from ..errors import ConfigError
from ..sim.engine import bytes_in_by
from .graph import TaskGraph

Policy = Literal["auto", "dataflow", "sequential"]
POLICIES = ("auto", "dataflow", "sequential")
MAX_SEARCH_EDGES = 16


@dataclass(frozen=True)
class Machine:
    """The target: compute cores, on-chip buffer, off-chip memory."""

    cores: int = 2
    lanes: int = 16  # MACs per cycle per core (output columns per pass)
    onchip_bytes: int = 64 * 1024
    offchip_bytes_per_cycle: float = 16.0
    offchip_latency: int = 40  # cycles from a read request to its first data
    switch_cycles: int = 4  # cycles to switch stages (read + latch the stage record, ...)

    def validate(self) -> None:
        if not isinstance(self.cores, int) or self.cores < 1:
            raise ConfigError("machine.cores", f"{self.cores!r}: a schedule needs at least one compute core")
        if self.lanes < 1:
            raise ConfigError("machine.lanes", f"{self.lanes!r}: lanes must be positive")
        if self.offchip_bytes_per_cycle <= 0:
            raise ConfigError("machine.offchip_bytes_per_cycle", f"{self.offchip_bytes_per_cycle!r} must be > 0")
        if self.onchip_bytes < 0:
            raise ConfigError("machine.onchip_bytes", f"{self.onchip_bytes!r} must be >= 0")
        if self.offchip_latency < 1:
            raise ConfigError("machine.offchip_latency", f"{self.offchip_latency!r}: at least 1 cycle")
        if self.switch_cycles < 2:
            raise ConfigError(
                "machine.switch_cycles",
                f"{self.switch_cycles!r}: at least 2 cycles (the controller reads and latches the stage record)",
            )


@dataclass(frozen=True)
class ConfigRecord:
    """One entry of the controller's record ROM: what a core does in a stage."""

    stage: int
    task: str
    core: int
    rows: tuple[int, int]  # output rows [m0, m1)
    cols: tuple[int, int]  # output columns [n0, n1) of this core's slice
    k: int  # reduction length (gemm) or 0
    source: tuple[str, ...]  # per input: "offchip:<tensor>", "scratchpad:<tensor>", "stream:<op>"
    destination: str  # "offchip:<tensor>", "scratchpad:<tensor>" or "stream:<op>"


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


@dataclass
class Schedule:
    """A compiled schedule and its costs."""

    policy: str
    decisions: dict[tuple[str, str], str]  # op edge -> dataflow | sequential-onchip | sequential-offchip
    stages: list[list[str]]
    cores: dict[str, int]
    records: list[ConfigRecord]
    cycles: int
    compute_cycles: int  # the stages' slots
    transfer_cycles: int  # slots spent only fetching or writing back off-chip rows
    onchip_bytes: int
    offchip_bytes: int
    stage_cycles: list[int] = field(default_factory=list)
    plans: list[StagePlan] = field(default_factory=list)
    buffers: dict[str, int] = field(default_factory=dict)  # buffer name -> bytes
    switch_cycles: int = 0

    def report(self) -> dict:
        return {
            "policy": self.policy,
            "cycles": self.cycles,
            "compute_cycles": self.compute_cycles,
            "transfer_cycles": self.transfer_cycles,
            "onchip_bytes": self.onchip_bytes,
            "offchip_bytes": self.offchip_bytes,
            "stages": self.stages,
            "stage_cycles": self.stage_cycles,
            "slot_cycles": [p.slot_cycles for p in self.plans],
            "slots": [p.slots for p in self.plans],
            "decisions": {f"{a}->{b}": d for (a, b), d in self.decisions.items()},
            "cores": self.cores,
            "buffers": self.buffers,
        }


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
                beat = req + latency + bytes_in_by(j, eb, bytes_per_cycle) - 1
            else:
                beat = max(req + 2 + j, req + bytes_in_by(j, eb, bytes_per_cycle))
            if prev is not None:
                beat = max(beat, prev + 1)
            prev = beat
        last = prev if prev is not None else req
        t = last + 1
    return last + 2


@lru_cache(maxsize=4096)
def core_row_cycles(k: int, n: int, lanes: int) -> int:
    """Cycles a core needs for one row of a ``k × n`` slice with activations arriving one per cycle from
    cycle 1 of the slot, until its last result is written and it is idle (exact cycle model + 2)."""
    from ..blocks.gemm_core import gemm_schedule

    _, outs = gemm_schedule(k, n, lanes, 1, [1 + j for j in range(k)])
    return outs[-1] + 2


def ops_of(graph: TaskGraph) -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """(ops in order, tensor -> op that produces it (after fusion), op -> input tensors)."""
    order = graph.validate()
    owner: dict[str, str] = {}
    for n in order:
        t = graph.tasks[n]
        if t.op in ("gemm", "add"):
            owner[n] = n
        elif t.op in ("relu", "requant"):
            src = t.inputs[0]
            if graph.tasks[src].op == "input":
                raise ConfigError(f"graph.{n}", f"{t.op} of a graph input cannot be fused; apply it to an op's output")
            if len(graph.consumers(src)) > 1:
                raise ConfigError(
                    f"graph.{n}",
                    f"{t.op} reads {src}, which has other consumers too; "
                    f"it can only be fused into a single-consumer output",
                )
            owner[n] = owner[src]
    ops = [n for n in order if graph.tasks[n].op in ("gemm", "add")]
    out_tensor = {op: max((n for n, o in owner.items() if o == op), key=order.index) for op in ops}
    inputs = {}
    for op in ops:
        ins = []
        for i in graph.tasks[op].inputs:
            ins.append(out_tensor[owner[i]] if i in owner else i)
        inputs[op] = ins
    return ops, {out_tensor[o]: o for o in ops}, inputs


def compile_schedule(graph: TaskGraph, machine: Machine, policy: Policy = "auto") -> Schedule:
    """Choose dataflow/sequential per op edge, stages, cores and records for ``graph`` on ``machine``."""
    machine.validate()
    if policy not in POLICIES:
        raise ConfigError("policy", f"{policy!r} is not one of {', '.join(POLICIES)}")
    ops, producer, inputs = ops_of(graph)
    edges = sorted(
        {(producer[i], op) for op in ops for i in inputs[op] if i in producer},
        key=lambda e: (ops.index(e[1]), ops.index(e[0])),
    )
    if policy == "auto":
        if len(edges) > MAX_SEARCH_EDGES:
            raise ConfigError(
                "policy",
                f"auto search covers up to {MAX_SEARCH_EDGES} op edges, the graph has "
                f"{len(edges)}; choose 'dataflow' or 'sequential'",
            )
        best, first_error = None, None
        for bits in itertools.product((True, False), repeat=len(edges)):
            try:
                s = _evaluate(graph, machine, ops, producer, inputs, dict(zip(edges, bits)), "auto")
            except ConfigError as e:
                if not any(bits):  # all-sequential: its error is the one to report if nothing fits
                    first_error = e
                continue  # infeasible choice (buffers, too many streaming ops, stage cycle)
            if best is None or (s.cycles, s.offchip_bytes, s.onchip_bytes) < (
                best.cycles,
                best.offchip_bytes,
                best.onchip_bytes,
            ):
                best = s
        if best is None:
            raise first_error if first_error else ConfigError("schedule", "no assignment of the edges fits")
        return best
    if policy == "sequential":
        return _evaluate(graph, machine, ops, producer, inputs, {e: False for e in edges}, policy)
    # dataflow: pipeline every edge the cores allow, in graph order
    choice = {e: False for e in edges}
    for e in edges:
        choice[e] = True
        try:
            _evaluate(graph, machine, ops, producer, inputs, choice, policy)
        except ConfigError:
            choice[e] = False
    return _evaluate(graph, machine, ops, producer, inputs, choice, policy)


def _evaluate(graph, machine, ops, producer, inputs, dataflow: dict, policy: str) -> Schedule:
    # stages: connected components over dataflow edges, ordered topologically
    comp = {op: op for op in ops}

    def find(x):
        while comp[x] != x:
            comp[x] = comp[comp[x]]
            x = comp[x]
        return x

    for (a, b), df in dataflow.items():
        if df:
            comp[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for op in ops:
        groups.setdefault(find(op), []).append(op)
    stage_of, stages, remaining = {}, [], dict(groups)
    while remaining:
        ready = [
            r
            for r, members in remaining.items()
            if all(
                stage_of.get(a) is not None
                for (a, b), df in dataflow.items()
                if not df and b in members and a not in members
            )
        ]
        if not ready:
            raise ConfigError(
                "schedule",
                "these dataflow/sequential choices put a task both before and after "
                "another stage (a cycle between stages)",
            )
        r = min(ready, key=lambda x: ops.index(remaining[x][0]))
        for op in remaining[r]:
            stage_of[op] = len(stages)
        stages.append(remaining.pop(r))
    for s, members in enumerate(stages):
        if len(members) > machine.cores:
            raise ConfigError(
                "schedule",
                f"stage {s} streams {len(members)} ops ({', '.join(members)}) through "
                f"each other but there are only {machine.cores} cores",
            )

    out_tensor = {o: t for t, o in producer.items()}
    finals = set(graph.outputs())
    M = {graph.tasks[op].rows for op in ops}
    if len(M) != 1:
        raise ConfigError(
            "graph", f"every task must have the same number of rows for row-slot execution; found {sorted(M)}"
        )
    rows = M.pop()

    def nbytes(t: str) -> int:
        return math.ceil(graph.tasks[t].dtype.width / 8)

    def stream_src(op: str, i: str) -> bool:
        return i in producer and stage_of[producer[i]] == stage_of[op]

    depth: dict[str, int] = {}
    for op in ops:  # graph order: producers first
        depth[op] = max((depth[producer[i]] + 1 for i in inputs[op] if stream_src(op, i)), default=0)

    def in_rows(op: str, i: str) -> int:
        """Rows of ``op``'s buffer for input ``i``: a ring of 2 plus the slots the row waits (a stream from a
        shallower producer), rounded up to a power of two."""
        wait = depth[op] - depth[producer[i]] - 1 if stream_src(op, i) else 0
        return 1 << (wait + 1).bit_length()

    # -- buffers: fixed ones, then sequential tensors on chip in production order while all fit
    seq_tensors = sorted(
        {out_tensor[a] for (a, b), df in dataflow.items() if not df}, key=lambda t: ops.index(producer[t])
    )
    widest = max(
        (graph.tasks[t].cols * nbytes(t) for t in list(producer) + [i for op in ops for i in inputs[op]]), default=0
    )
    if machine.onchip_bytes < 2 * widest:
        raise ConfigError(
            "machine.onchip_bytes",
            f"{machine.onchip_bytes} bytes cannot hold even one 2-row "
            f"buffer of the widest tensor ({2 * widest} bytes); no schedule fits",
        )

    def layout(onchip: set[str]) -> dict[str, int]:
        buf: dict[str, int] = {}
        for op in ops:
            for i in inputs[op]:
                if stream_src(op, i) or i not in onchip:
                    buf[f"in:{op}:{i}"] = in_rows(op, i) * graph.tasks[i].cols * nbytes(i)
        for t in producer:
            if t in onchip:
                buf[f"scratch:{t}"] = rows * graph.tasks[t].cols * nbytes(t)
            elif t in finals or t in seq_tensors:
                buf[f"writeback:{t}"] = 2 * graph.tasks[t].cols * nbytes(t)
        return buf

    onchip: set[str] = set()
    if sum(layout(onchip).values()) > machine.onchip_bytes:
        raise ConfigError(
            "schedule",
            f"the buffers need {sum(layout(onchip).values())} bytes even with every "
            f"sequential tensor off-chip, more than the {machine.onchip_bytes}-byte "
            f"on-chip buffer",
        )
    for t in seq_tensors:
        if sum(layout(onchip | {t}).values()) <= machine.onchip_bytes:
            onchip.add(t)
    buffers = layout(onchip)
    decisions = {
        e: "dataflow" if df else ("sequential-onchip" if out_tensor[e[0]] in onchip else "sequential-offchip")
        for e, df in dataflow.items()
    }

    # -- per stage: cores, depth, slot length, records
    cores: dict[str, int] = {}
    records: list[ConfigRecord] = []
    plans: list[StagePlan] = []
    offchip_bytes = 0
    for s, members in enumerate(stages):

        def row_time(op: str, c: int) -> int:
            t = graph.tasks[op]
            if t.op == "gemm":
                return core_row_cycles(t.weight.shape[0], math.ceil(t.cols / c), machine.lanes)
            return t.cols + 3  # an add unit: both rows stream in from cycle 1, one sum per cycle

        alloc = {op: 1 for op in members}
        for _ in range(machine.cores - len(members)):
            worst = max(members, key=lambda op: (row_time(op, alloc[op]), -members.index(op)))
            # a spare core goes to the slowest op, if it is a gemm with a column left to give it
            if graph.tasks[worst].op != "gemm" or alloc[worst] >= graph.tasks[worst].cols:
                break
            alloc[worst] += 1
        cores.update(alloc)
        D = max(depth[op] for op in members) + 1
        # off-chip inputs: one fetch per (tensor, consumer depth), row r in slot r + depth
        reads = tuple(
            dict.fromkeys(
                (i, depth[op]) for op in members for i in inputs[op] if not stream_src(op, i) and i not in onchip
            )
        )
        writes = tuple(
            out_tensor[op]
            for op in members
            if out_tensor[op] in finals or (out_tensor[op] in seq_tensors and out_tensor[op] not in onchip)
        )
        actions = [("write", graph.tasks[t].cols, nbytes(t)) for t in writes] + [
            ("read", graph.tasks[t].cols, nbytes(t)) for t, _ in reads
        ]
        units = {f"core:{op}": row_time(op, alloc[op]) for op in members}
        units["memory"] = memory_slot_cycles(actions, machine.offchip_bytes_per_cycle, machine.offchip_latency)
        T = max(max(units.values()), 2)
        slots = rows + D + (1 if writes else 0)
        plans.append(StagePlan(tuple(members), {op: depth[op] for op in members}, rows, slots, T, reads, writes, units))
        offchip_bytes += rows * sum(graph.tasks[t].cols * nbytes(t) for t in [t for t, _ in reads] + list(writes))
        core = 0
        for op in members:
            t = graph.tasks[op]
            n_total = graph.tasks[out_tensor[op]].cols
            for c in range(alloc[op]):
                n0, n1 = n_total * c // alloc[op], n_total * (c + 1) // alloc[op]
                src = tuple(_where(i, graph, producer, onchip, dataflow, stage_of, s) for i in inputs[op])
                dst = _destination(op, out_tensor[op], dataflow, onchip, finals)
                records.append(
                    ConfigRecord(
                        s, op, core, (0, t.rows), (n0, n1), t.weight.shape[0] if t.op == "gemm" else 0, src, dst
                    )
                )
                core += 1
    stage_cycles = [machine.switch_cycles + p.cycles for p in plans]
    transfer = sum(p.slot_cycles * (p.slots - p.rows - (max(p.depth.values()) if p.depth else 0)) for p in plans)
    total = sum(stage_cycles)
    return Schedule(
        policy=policy,
        decisions=decisions,
        stages=stages,
        cores=cores,
        records=records,
        cycles=total,
        compute_cycles=total - transfer - machine.switch_cycles * len(plans),
        transfer_cycles=transfer,
        onchip_bytes=sum(buffers.values()),
        offchip_bytes=offchip_bytes,
        stage_cycles=stage_cycles,
        plans=plans,
        buffers=buffers,
        switch_cycles=machine.switch_cycles,
    )


def _where(tensor, graph, producer, onchip, dataflow, stage_of, stage) -> str:
    if graph.tasks[tensor].op == "input":
        return f"offchip:{tensor}"
    op = producer[tensor]
    if stage_of[op] == stage:
        return f"stream:{op}"
    return f"{'scratchpad' if tensor in onchip else 'offchip'}:{tensor}"


def _destination(op, tensor, dataflow, onchip, finals) -> str:
    for (a, b), df in dataflow.items():
        if a == op and df:
            return f"stream:{b}"
    if tensor in finals:
        return f"offchip:{tensor}"
    return f"{'scratchpad' if tensor in onchip else 'offchip'}:{tensor}"
