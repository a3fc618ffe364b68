"""Schedule compiler: per task boundary, dataflow or sequential execution, plus core assignment and costs.

Units of work are the *ops* of a graph: ``gemm`` and ``add`` tasks. ``relu``
and ``requant`` are fused into the write-back of the op that produces their
input (they cost no core and no cycles); an op's output is the tensor at the
end of its fused chain. Every edge between two ops is either

* ``dataflow``: producer and consumer run in the same *stage*, concurrently on
  different cores, the tensor streaming through a FIFO of ``fifo_rows`` rows
  (never stored whole), or
* ``sequential``: the consumer runs in a later stage; the tensor is kept in
  an on-chip scratchpad while it fits (allocated in production order against
  ``onchip_bytes``, counting every tensor live at the same time), else in
  off-chip memory.

Cost model (cycles): stages run one after another. A stage's ops share the
cores: each op gets at least one core, the rest go where they shorten the
stage most; a gemm on ``c`` cores is split by output columns and takes
``rows · K · ceil(ceil(N / c) / lanes)`` cycles, the issue cycles of the
generated :mod:`~hwgen.blocks.gemm_core` on its widest slice (``lanes`` output
columns per pass, one reduction step per cycle); an add takes
``ceil(elements / (c · lanes))``. A stage takes the longest
of its ops plus ``fill`` cycles per dataflow edge in it plus ``switch_cycles``
to load its configuration records. Off-chip traffic of a stage (graph inputs,
spilled tensors it reads, spilled or final tensors it writes) costs
``bytes / offchip_bytes_per_cycle`` plus ``offchip_latency`` per stream and is
not overlapped with compute. The ``auto`` policy tries every assignment of
the edges (up to 2^16) and keeps the cheapest (cycles, then off-chip bytes,
then on-chip bytes), so it is never worse than ``all-dataflow`` or
``all-sequential`` on this model. ``sequential`` makes every edge
sequential; ``dataflow`` pipelines every edge it can, in graph order, as long
as no stage needs more concurrent ops than there are cores.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

from ..errors import ConfigError
from .graph import TaskGraph

Policy = Literal["auto", "dataflow", "sequential"]
POLICIES = ("auto", "dataflow", "sequential")
MAX_SEARCH_EDGES = 16


@dataclass(frozen=True)
class Machine:
    """The target: compute cores, on-chip buffer, off-chip memory."""

    cores: int = 2
    lanes: int = 16                       # MACs (or elements) per cycle per core
    onchip_bytes: int = 64 * 1024
    offchip_bytes_per_cycle: float = 16.0
    offchip_latency: int = 40
    switch_cycles: int = 4
    fill: int = 8                         # cycles for a dataflow consumer to start after its producer
    fifo_rows: int = 2

    def validate(self) -> None:
        if not isinstance(self.cores, int) or self.cores < 1:
            raise ConfigError("machine.cores", f"{self.cores!r}: a schedule needs at least one compute core")
        if self.lanes < 1:
            raise ConfigError("machine.lanes", f"{self.lanes!r}: lanes must be positive")
        if self.offchip_bytes_per_cycle <= 0:
            raise ConfigError("machine.offchip_bytes_per_cycle", f"{self.offchip_bytes_per_cycle!r} must be > 0")
        if self.onchip_bytes < 0:
            raise ConfigError("machine.onchip_bytes", f"{self.onchip_bytes!r} must be >= 0")


@dataclass(frozen=True)
class ConfigRecord:
    """One entry of the controller's record ROM: what a core does in a stage."""

    stage: int
    task: str
    core: int
    rows: tuple[int, int]        # output rows [m0, m1)
    cols: tuple[int, int]        # output columns [n0, n1) of this core's slice
    k: int                       # reduction length (gemm) or 0
    source: tuple[str, ...]      # per input: "offchip:<tensor>", "scratchpad:<tensor>", "stream:<op>"
    destination: str             # "offchip:<tensor>", "scratchpad:<tensor>" or "stream:<op>"


@dataclass
class Schedule:
    """A compiled schedule and its costs."""

    policy: str
    decisions: dict[tuple[str, str], str]          # op edge -> dataflow | sequential-onchip | sequential-offchip
    stages: list[list[str]]
    cores: dict[str, int]
    records: list[ConfigRecord]
    cycles: int
    compute_cycles: int
    transfer_cycles: int
    onchip_bytes: int
    offchip_bytes: int
    stage_cycles: list[int] = field(default_factory=list)

    def report(self) -> dict:
        return {"policy": self.policy, "cycles": self.cycles, "compute_cycles": self.compute_cycles,
                "transfer_cycles": self.transfer_cycles, "onchip_bytes": self.onchip_bytes,
                "offchip_bytes": self.offchip_bytes, "stages": self.stages, "stage_cycles": self.stage_cycles,
                "decisions": {f"{a}->{b}": d for (a, b), d in self.decisions.items()}, "cores": self.cores}


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
                raise ConfigError(f"graph.{n}", f"{t.op} reads {src}, which has other consumers too; "
                                                f"it can only be fused into a single-consumer output")
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
    edges = sorted({(producer[i], op) for op in ops for i in inputs[op] if i in producer},
                   key=lambda e: (ops.index(e[1]), ops.index(e[0])))
    if policy == "auto":
        if len(edges) > MAX_SEARCH_EDGES:
            raise ConfigError("policy", f"auto search covers up to {MAX_SEARCH_EDGES} op edges, the graph has "
                                        f"{len(edges)}; choose 'dataflow' or 'sequential'")
        # all-sequential first: if even it does not fit, that error is the one to report
        best = _evaluate(graph, machine, ops, producer, inputs, {e: False for e in edges}, "auto")
        for bits in itertools.product((True, False), repeat=len(edges)):
            try:
                s = _evaluate(graph, machine, ops, producer, inputs, dict(zip(edges, bits)), "auto")
            except ConfigError:
                continue           # infeasible choice (too many streaming ops for the cores, stage cycle)
            if (s.cycles, s.offchip_bytes, s.onchip_bytes) < (best.cycles, best.offchip_bytes, best.onchip_bytes):
                best = s
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
        ready = [r for r, members in remaining.items()
                 if all(stage_of.get(a) is not None for (a, b), df in dataflow.items()
                        if not df and b in members and a not in members)]
        if not ready:
            raise ConfigError("schedule", "these dataflow/sequential choices put a task both before and after "
                                          "another stage (a cycle between stages)")
        r = min(ready, key=lambda x: ops.index(remaining[x][0]))
        for op in remaining[r]:
            stage_of[op] = len(stages)
        stages.append(remaining.pop(r))
    for s, members in enumerate(stages):
        if len(members) > machine.cores:
            raise ConfigError("schedule", f"stage {s} streams {len(members)} ops ({', '.join(members)}) through "
                                          f"each other but there are only {machine.cores} cores")

    def op_cycles(op: str, c: int) -> int:
        """Cycles of ``op`` on ``c`` cores: a gemm is split by output columns over ``c``
        :class:`~hwgen.blocks.gemm_core.GemmCoreConfig` cores, the widest slice taking
        ``rows · K · ceil(ceil(N / c) / lanes)`` issue cycles; an add takes ``ceil(elements / (c·lanes))``."""
        t = graph.tasks[op]
        if t.op == "gemm":
            return t.rows * t.weight.shape[0] * math.ceil(math.ceil(t.cols / c) / machine.lanes)
        return math.ceil(t.elements / (c * machine.lanes))

    out_tensor = {o: t for t, o in producer.items()}
    # storage of sequential tensors: on-chip in production order while everything live fits
    last_use = {}
    for op in ops:
        for i in inputs[op]:
            last_use[i] = max(last_use.get(i, -1), stage_of[op])
    onchip: set[str] = set()
    seq_tensors = [out_tensor[a] for (a, b), df in dataflow.items() if not df]
    seq_tensors = sorted(set(seq_tensors), key=lambda t: stage_of[producer[t]])
    fifo_bytes = sum(machine.fifo_rows * graph.tasks[out_tensor[a]].cols * math.ceil(graph.tasks[out_tensor[a]].dtype.width / 8)
                     for (a, b), df in dataflow.items() if df)
    min_need = max((graph.tasks[out_tensor[a]].cols * math.ceil(graph.tasks[out_tensor[a]].dtype.width / 8)
                    for (a, b) in dataflow), default=0) * machine.fifo_rows
    if machine.onchip_bytes < min_need:
        raise ConfigError("machine.onchip_bytes", f"{machine.onchip_bytes} bytes cannot hold even one "
                                                  f"{machine.fifo_rows}-row buffer of the widest intermediate "
                                                  f"({min_need} bytes); no schedule fits")
    if fifo_bytes > machine.onchip_bytes:
        raise ConfigError("schedule", f"the dataflow FIFOs need {fifo_bytes} bytes, more than the "
                                      f"{machine.onchip_bytes}-byte on-chip buffer")
    for t in seq_tensors:
        start, end = stage_of[producer[t]], last_use[t]
        live = [u for u in onchip if not (last_use[u] < start or stage_of[producer[u]] > end)]
        need = graph.tasks[t].bytes + sum(graph.tasks[u].bytes for u in live)
        if need + fifo_bytes <= machine.onchip_bytes:
            onchip.add(t)
    peak = 0
    for s in range(len(stages)):
        peak = max(peak, sum(graph.tasks[u].bytes for u in onchip if stage_of[producer[u]] <= s <= last_use[u]))
    decisions = {e: "dataflow" if df else ("sequential-onchip" if out_tensor[e[0]] in onchip else "sequential-offchip")
                 for e, df in dataflow.items()}

    # per stage: cores, compute and transfer cycles, records
    cores: dict[str, int] = {}
    records: list[ConfigRecord] = []
    compute = transfer = offchip_bytes = 0
    stage_cycles = []
    finals = set(graph.outputs())
    for s, members in enumerate(stages):
        alloc = {op: 1 for op in members}
        for _ in range(machine.cores - len(members)):
            worst = max(members, key=lambda op: op_cycles(op, alloc[op]))
            alloc[worst] += 1
        cores.update(alloc)
        t_compute = max(op_cycles(op, alloc[op]) for op in members)
        t_compute += machine.fill * sum(1 for (a, b), df in dataflow.items() if df and a in members)
        t_compute += machine.switch_cycles
        streams, nbytes = 0, 0
        for op in members:
            for i in inputs[op]:
                if graph.tasks[i].op == "input" or (i in producer and i not in onchip and stage_of[producer[i]] != s):
                    streams, nbytes = streams + 1, nbytes + graph.tasks[i].bytes
            t_out = out_tensor[op]
            spilled = any(not df and a == op for (a, b), df in dataflow.items()) and t_out not in onchip
            if spilled or t_out in finals:
                streams, nbytes = streams + 1, nbytes + graph.tasks[t_out].bytes
        t_transfer = math.ceil(nbytes / machine.offchip_bytes_per_cycle) + streams * machine.offchip_latency
        compute, transfer, offchip_bytes = compute + t_compute, transfer + t_transfer, offchip_bytes + nbytes
        stage_cycles.append(t_compute + t_transfer)
        core = 0
        for op in members:
            t = graph.tasks[op]
            n_total = graph.tasks[out_tensor[op]].cols
            for c in range(alloc[op]):
                n0, n1 = n_total * c // alloc[op], n_total * (c + 1) // alloc[op]
                src = tuple(_where(i, graph, producer, onchip, dataflow, stage_of, s) for i in inputs[op])
                dst = _destination(op, out_tensor[op], dataflow, onchip, finals)
                records.append(ConfigRecord(s, op, core, (0, t.rows), (n0, n1),
                                            t.weight.shape[0] if t.op == "gemm" else 0, src, dst))
                core += 1
    return Schedule(policy=policy, decisions=decisions, stages=stages, cores=cores, records=records,
                    cycles=compute + transfer, compute_cycles=compute, transfer_cycles=transfer,
                    onchip_bytes=peak + fifo_bytes, offchip_bytes=offchip_bytes, stage_cycles=stage_cycles)


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
