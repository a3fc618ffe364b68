"""Schedule compiler: per task boundary, dataflow or sequential execution, plus core assignment and costs.

Units of work are the *ops* of a graph: ``gemm``, ``add``, row-op and
``attention`` tasks. ``relu``
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

The compiler runs named steps (each a module): fusion into ops
(:mod:`.ops`), stage partitioning (:mod:`.stages`), buffer layout
(:mod:`.buffers`), per-stage cost (:mod:`.cost`) and record emission
(:mod:`.records`).

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

* a gemm slice of ``n`` columns on a core (:class:`hwgen.blocks.gemm.RecordCore`):
  the core's exact cycle model for one row whose activations arrive one per
  cycle from cycle 1 of the slot, plus 2 (last result written, unit idle);
* the memory sequencer: per slot it writes back the finished off-chip rows,
  then fetches the next input rows, one request after another against the
  off-chip memory model (a read's beat ``j`` arrives ``latency + ceil((j+1) ·
  bytes / bandwidth) − 1`` cycles after its request, at most one beat per
  cycle; writes are posted, beat ``j`` accepted from ``ceil((j+1) · bytes /
  bandwidth)`` cycles after the request) — see :func:`.cost.memory_slot_cycles`;
* an element-wise add (an adder unit, not a core): ``cols + 2``;
* a row op (softmax, norm, activation): its block's cycle model for the row,
  + 2 (:func:`.rowops.row_cycles`);
* an attention: its block's cycle model for a row of every head over all the
  KV entries, + 2 (:func:`.attention.attention_cycles`); its K and V edges
  are sequential and those tensors stay on chip.

An op input streamed from a producer ``w`` levels shallower waits ``w − 1``
slots, so its ring buffer holds ``2 + w − 1`` rows, rounded up to a power
of two; an op at depth ``d`` reading off-chip data has row ``r`` fetched in
slot ``r + d`` (one fetch per tensor and depth).

Off-chip bytes are every byte the sequencer moves; on-chip bytes are every
buffer the engine allocates: an input ring buffer per op input that is a
stream or off-chip data, a scratchpad per on-chip sequential tensor (all its rows),
a 2-row write-back buffer per tensor written off-chip. The ``auto`` policy
solves the optimization model of :mod:`.optimize` (stages and on-chip
residency as one integer program over this exact cost model; windows of 16
ops past 32 ops), ``exhaustive`` tries every assignment of the edges that may
stream (up to 2^16) with greedy residency and keeps the cheapest (cycles,
then off-chip bytes, then on-chip bytes); ``auto`` is never worse than it, nor
than ``dataflow`` or ``sequential``; an edge into an input read whole (a
conv's or pool's image, an attention's K and V) is always sequential.
``sequential`` makes every edge sequential; ``dataflow`` pipelines every edge
it can, in graph order, as long as no stage needs more concurrent ops than
there are cores.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field, replace
from typing import Literal

from ..errors import ConfigError
from . import cost, optimize
from .arena import Allocation, allocate, banks_of
from .buffers import check_floor, place_tensors, sequential_tensors
from .cost import StagePlan
from .graph import TaskGraph
from .machine import Machine
from .ops import OpGraph, op_graph
from .places import BufferKey, BufferKind, Pattern
from .records import ConfigRecord, stage_records
from .stages import EdgeChoice, partition
from .support import check_buildable
from .timing import machine_for_clock

Policy = Literal["auto", "exhaustive", "dataflow", "sequential"]
POLICIES = ("auto", "dataflow", "sequential")  # what reports compare; "exhaustive" checks "auto"
ALL_POLICIES = ("auto", "exhaustive", "dataflow", "sequential")
MAX_SEARCH_EDGES = 16


class ScheduleWarning(UserWarning):
    """The auto policy's solver stopped at its time limit with a feasible, not proven optimal, schedule."""


@dataclass
class Schedule:
    """A compiled schedule and its costs."""

    policy: str
    decisions: dict[tuple[str, str], Pattern]  # op edge -> how its tensor crosses it
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
    buffers: dict[BufferKey, int] = field(default_factory=dict)  # buffer -> bytes
    switch_cycles: int = 0
    machine: Machine | None = None  # the machine compiled for, its core stages chosen for its clock
    timing_note: str = ""  # how they were chosen (empty: set by the machine)
    solver: optimize.Solution | None = None  # the auto policy's model: status, gap, time
    allocation: Allocation | None = None  # the on-chip tensors' banks in shared scratchpad memories

    @property
    def shared_onchip_bytes(self) -> int:
        """The engine's on-chip bytes: every buffer, the scratchpads as the allocation shares them (at most
        ``onchip_bytes``, which counts every scratchpad on its own)."""
        scratch = sum(v for k, v in self.buffers.items() if k.kind == BufferKind.SCRATCH)
        return self.onchip_bytes - scratch + (self.allocation.bytes if self.allocation else scratch)

    @property
    def onchip_tensors(self) -> set[str]:
        """Tensors kept in a scratchpad between stages."""
        return {k.tensor for k in self.buffers if k.kind == BufferKind.SCRATCH}

    def buffer_rows(self, key: BufferKey, row_bytes: int) -> int:
        """Rows of buffer ``key`` (0 when the schedule has no such buffer)."""
        return self.buffers.get(key, 0) // row_bytes

    def report(self) -> dict:
        return {
            "policy": self.policy,
            "cycles": self.cycles,
            "compute_cycles": self.compute_cycles,
            "transfer_cycles": self.transfer_cycles,
            "onchip_bytes": self.onchip_bytes,
            "shared_onchip_bytes": self.shared_onchip_bytes,
            "offchip_bytes": self.offchip_bytes,
            "stages": self.stages,
            "stage_cycles": self.stage_cycles,
            "slot_cycles": [p.slot_cycles for p in self.plans],
            "slots": [p.slots for p in self.plans],
            "decisions": {f"{a}->{b}": str(d) for (a, b), d in self.decisions.items()},
            "cores": self.cores,
            "buffers": {str(k): v for k, v in self.buffers.items()},
            "core_stages": {
                "epilogue_stages": self.machine.epilogue_stages if self.machine else 0,
                "mac_stages": self.machine.mac_stages if self.machine else 0,
                "feed_stages": self.machine.feed_stages if self.machine else 0,
                "chosen": self.timing_note,
            },
            **({"solver": self.solver.report()} if self.solver else {}),
            **({"scratchpads": self.allocation.report()} if self.allocation else {}),
        }


def compile_schedule(
    graph: TaskGraph,
    machine: Machine,
    policy: Policy = "auto",
    time_limit: float = 60.0,
    priority: str = "cycles",
    reuse: bool = True,
) -> Schedule:
    """Choose dataflow/sequential per op edge, stages, cores and records for ``graph`` on ``machine`` (its
    ``None`` core stages chosen for its clock first: :func:`.timing.machine_for_clock`). ``auto`` solves the
    optimization model (:mod:`.optimize`) within ``time_limit`` seconds, least cycles first (``priority=
    "offchip"``: least off-chip bytes first), with the engine's shared scratchpads (``reuse``; else every buffer
    on its own) within ``onchip_bytes``; ``exhaustive`` tries every edge choice (up to 16 free edges)."""
    machine.validate()
    if policy not in ALL_POLICIES:
        raise ConfigError("policy", f"{policy!r} is not one of {', '.join(ALL_POLICIES)}")
    if priority not in optimize.PRIORITIES:
        raise ConfigError("priority", f"{priority!r} is not one of {', '.join(optimize.PRIORITIES)}")
    if isinstance(time_limit, bool) or not isinstance(time_limit, int | float) or not time_limit > 0:
        raise ConfigError("time_limit", f"{time_limit!r}: seconds, a number above 0")
    opg = op_graph(graph)
    check_buildable(opg)
    machine, note = machine_for_clock(graph, machine)
    schedule = _compile(opg, machine, policy, time_limit, priority, reuse)
    schedule.machine, schedule.timing_note = machine, note
    if schedule.allocation is None:  # auto's search has placed its scratchpads already
        schedule.allocation = allocate_scratchpads(opg, schedule)
    return schedule


def _compile(opg: OpGraph, machine: Machine, policy: Policy, time_limit: float, priority: str, reuse: bool) -> Schedule:
    edges = opg.edges
    free = [(a, b) for a, b in edges if opg.out_tensor[a] not in opg.whole_inputs(b)]  # the others: sequential
    if policy == "auto":
        return _optimize(opg, machine, time_limit, priority, reuse)
    if policy == "exhaustive":
        return _search(opg, machine, edges, free)
    if policy == "sequential":
        return evaluate(opg, machine, {e: False for e in edges}, policy)
    # dataflow: pipeline every edge the cores allow, in graph order
    choice = {e: False for e in edges}
    for e in free:
        choice[e] = True
        try:
            evaluate(opg, machine, choice, policy)
        except ConfigError:
            choice[e] = False
    return evaluate(opg, machine, choice, policy)


def _search(opg: OpGraph, machine: Machine, edges: list[tuple[str, str]], free: list[tuple[str, str]]) -> Schedule:
    """Every assignment of the ``free`` edges (the others read a tensor whole: sequential); the cheapest
    (cycles, then off-chip bytes, then on-chip bytes)."""
    if len(free) > MAX_SEARCH_EDGES:
        raise ConfigError(
            "policy",
            f"auto search covers up to {MAX_SEARCH_EDGES} op edges that may stream, the graph has "
            f"{len(free)}; choose 'dataflow' or 'sequential'",
        )
    best, first_error = None, None
    for bits in itertools.product((True, False), repeat=len(free)):
        try:
            s = evaluate(opg, machine, {e: False for e in edges} | dict(zip(free, bits)), "auto")
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


#: Bisection steps of the room the solver may count (see :func:`_optimize`).
ROOM_STEPS = 6


def _optimize(opg: OpGraph, machine: Machine, time_limit: float, priority: str, reuse: bool) -> Schedule:
    """The optimization model's schedule. Without ``reuse`` the solver holds every buffer, each on its own,
    under ``onchip_bytes``. With it the engine's shared scratchpads must fit: the model is solved with room
    for everything; when the shared allocation of that schedule does not fit, the room is bisected between
    ``onchip_bytes`` (always safe: shared bytes never exceed the sum) and that, keeping the best schedule
    whose shared bytes fit."""
    capacity = machine.onchip_bytes
    check_floor(opg, capacity)
    if not reuse:
        return _warn_if_stopped(_model_schedule(opg, machine, time_limit, priority))
    key = (lambda s: (s.cycles, s.offchip_bytes)) if priority == "cycles" else (lambda s: (s.offchip_bytes, s.cycles))
    roomy = _model_schedule(opg, replace(machine, onchip_bytes=1 << 50), time_limit, priority)
    roomy.allocation = allocate_scratchpads(opg, roomy)
    if roomy.shared_onchip_bytes <= capacity:
        return _warn_if_stopped(roomy)
    best, lo, hi = None, capacity, roomy.onchip_bytes
    try:
        best = _model_schedule(opg, machine, time_limit, priority)
    except ConfigError:
        pass  # nothing fits counting every buffer on its own: only larger rooms, shared, may
    for _ in range(ROOM_STEPS):
        room = (lo + hi) // 2
        if room <= lo:
            break
        try:
            s = _model_schedule(opg, replace(machine, onchip_bytes=room), time_limit, priority)
        except ConfigError:
            lo = room
            continue
        s.allocation = allocate_scratchpads(opg, s)
        if s.shared_onchip_bytes > capacity:
            hi = room
            continue
        lo = room
        if best is None or key(s) < key(best):
            best = s
    if best is None:
        raise _nothing_fits(opg, machine, time_limit, shared=True)
    return _warn_if_stopped(best)


def _greedy_fallback(opg: OpGraph, machine: Machine, why: str) -> Schedule:
    """When the solver found nothing in its time: the better (cycles, then off-chip bytes) of the dataflow and
    sequential schedules, marked as such; an error when neither fits."""
    found = []
    for policy in ("dataflow", "sequential"):
        try:
            found.append(_compile(opg, machine, policy, 1.0, "cycles", False))
        except ConfigError:
            continue
    if not found:
        raise ConfigError(
            "time_limit", f"the schedule solver stopped ({why}) without a feasible schedule; give it more time"
        )
    s = min(found, key=lambda f: (f.cycles, f.offchip_bytes, f.onchip_bytes))
    s.policy = "auto"
    s.solver = optimize.Solution(
        [tuple(st) for st in s.stages], s.onchip_tensors, "greedy", None, 0.0,
        (s.cycles, s.offchip_bytes, s.onchip_bytes), 0,
    )  # fmt: skip
    return s


def _warn_if_stopped(s: Schedule) -> Schedule:
    if s.solver is not None and s.solver.status in ("feasible", "greedy"):  # stopped at the time limit
        warnings.warn(f"auto schedule: {s.solver.describe()}", ScheduleWarning, stacklevel=4)
    return s


def _model_schedule(opg: OpGraph, machine: Machine, time_limit: float, priority: str) -> Schedule:
    """The optimization model's schedule (:mod:`.optimize`) within ``machine.onchip_bytes`` counting every
    buffer on its own, evaluated by the cost functions; its three costs must equal the model's."""
    check_floor(opg, machine.onchip_bytes)
    try:
        if len(opg.ops) <= optimize.FULL_MODEL_OPS:
            sol = optimize.solve(opg, machine, time_limit, priority)
        else:
            sol = optimize.solve_windows(opg, machine, time_limit, priority)
    except optimize.Infeasible:
        raise _nothing_fits(opg, machine, time_limit) from None
    except optimize.TimedOut as stopped:
        return _greedy_fallback(opg, machine, str(stopped))
    stage_of = {op: k for k, ops in enumerate(sol.stages) for op in ops}
    choice = {(a, b): stage_of[a] == stage_of[b] for a, b in opg.edges}
    s = evaluate(opg, machine, choice, "auto", sol.onchip)
    if (s.cycles, s.offchip_bytes, s.onchip_bytes) != sol.objective:
        raise RuntimeError(
            f"hwgen bug: the optimization model counts {sol.objective} (cycles, off-chip, on-chip bytes) but the "
            f"cost model {(s.cycles, s.offchip_bytes, s.onchip_bytes)} for stages {sol.stages}"
        )
    s.solver = sol
    return s


def _nothing_fits(opg: OpGraph, machine: Machine, time_limit: float, shared: bool = False) -> ConfigError:
    """The error when no schedule fits: the smallest schedule's on-chip bytes and its largest buffers."""
    small = optimize.smallest(opg, machine, time_limit)
    stage_of = {op: k for k, ops in enumerate(small.stages) for op in ops}
    choice = {(a, b): stage_of[a] == stage_of[b] for a, b in opg.edges}
    st = partition(opg, choice, machine.cores)
    _, buffers = place_tensors(opg, st, choice, 1 << 62, small.onchip)
    biggest = sorted(buffers.items(), key=lambda kv: -kv[1])[:3]
    what = {BufferKind.INPUT: "{op}'s input buffer of {t}", BufferKind.SCRATCH: "the scratchpad of {t}",
            BufferKind.WRITEBACK: "the write-back buffer of {t}"}  # fmt: skip
    names = ", ".join(f"{what[k.kind].format(op=k.op, t=k.tensor)} ({v} B)" for k, v in biggest)
    return ConfigError(
        "machine.onchip_bytes",
        f"{machine.onchip_bytes}: no schedule fits; the smallest needs {sum(buffers.values())} bytes on chip "
        f"counting every buffer on its own (its largest buffers: {names})"
        + ("; with scratchpads shared, none of the schedules tried fits either" if shared else ""),
    )


def evaluate(
    opg: OpGraph, machine: Machine, dataflow: EdgeChoice, policy: str, onchip: set[str] | None = None
) -> Schedule:
    """The schedule and its exact costs for one choice of dataflow (True) / sequential (False) per edge, with
    the tensors ``onchip`` on chip (None: as many as fit, in production order)."""
    st = partition(opg, dataflow, machine.cores)
    onchip, buffers = place_tensors(opg, st, dataflow, machine.onchip_bytes, onchip)
    sequential = sequential_tensors(opg, dataflow)
    decisions = {e: _pattern(opg, e, df, onchip) for e, df in dataflow.items()}
    cores: dict[str, int] = {}
    records: list[ConfigRecord] = []
    plans: list[StagePlan] = []
    for s, members in enumerate(st.stages):
        alloc = cost.allocate_cores(opg, members, machine)
        cores.update(alloc)
        plans.append(cost.plan_stage(opg, st, members, alloc, onchip, sequential, machine))
        records += stage_records(opg, st, s, alloc, onchip, dataflow)
    stage_cycles = [machine.switch_cycles + p.cycles for p in plans]
    transfer = sum(p.slot_cycles * (p.slots - p.rows - (max(p.depth.values()) if p.depth else 0)) for p in plans)
    total = sum(stage_cycles)
    return Schedule(
        policy=policy,
        decisions=decisions,
        stages=st.stages,
        cores=cores,
        records=records,
        cycles=total,
        compute_cycles=total - transfer - machine.switch_cycles * len(plans),
        transfer_cycles=transfer,
        onchip_bytes=sum(buffers.values()),
        offchip_bytes=sum(cost.offchip_bytes(opg, p) for p in plans),
        stage_cycles=stage_cycles,
        plans=plans,
        buffers=buffers,
        switch_cycles=machine.switch_cycles,
    )


def allocate_scratchpads(opg: OpGraph, schedule: Schedule) -> Allocation:
    """The on-chip tensors' banks in shared memories (:mod:`.arena`): live from their producer's stage to
    their last reader's."""
    stage_of = {op: k for k, ops in enumerate(schedule.stages) for op in ops}
    banks = []
    for t in sorted(schedule.onchip_tensors):
        op = opg.producer[t]
        last = max(stage_of[b] for b in opg.ops if t in opg.inputs[b])
        cols = [r.cols for r in schedule.records if r.task == op] or [(0, opg.graph.tasks[t].cols)]
        banks += banks_of(opg, t, cols, stage_of[op], last)
    return allocate(banks, {t: opg.element_bytes(t) for t in schedule.onchip_tensors})


def _pattern(opg: OpGraph, edge: tuple[str, str], dataflow: bool, onchip: set[str]) -> Pattern:
    if dataflow:
        return Pattern.DATAFLOW
    return Pattern.ONCHIP if opg.out_tensor[edge[0]] in onchip else Pattern.OFFCHIP
