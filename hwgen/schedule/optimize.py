"""The ``auto`` policy's optimization model (COSMA-style): stages and on-chip residency as one integer program.

The model chooses a *partition of the ops into stages* and, for every tensor
crossing a stage boundary, whether it stays in an on-chip scratchpad or goes
through off-chip memory; every other decision follows from those (an edge
inside a stage is dataflow, one across is sequential; cores are split within
a stage by :func:`.cost.allocate_cores`). It is solved with HiGHS
(:mod:`highspy`), and its objective is the engine's exact cost model
(:mod:`.cost`), linearized without approximation:

* one binary ``x_S`` per *candidate stage* ``S``: a set of at most ``cores``
  ops, connected by edges that may stream, containing no edge into an input
  read whole and *convex* (no path leaves it and comes back); its depths,
  core split, unit times and ring buffers are constants of ``S``;
* ``Σ_{S ∋ op} x_S = 1`` per op; a potential ``p_op`` with ``p_b − p_a ≥ 1``
  across stages and ``= 0`` within one orders the stages (no cycle);
* ``y_t`` = tensor ``t`` on chip (only a tensor crossing a boundary; a tensor
  read whole always); ``off_{S,t} ≥ x_S − y_t`` = stage ``S`` reads ``t``
  from off-chip memory, ``w_{S,t} ≥ x_S − y_t`` = ``S`` writes its output
  ``t`` back;
* a stage's slot length ``T_S ≥ x_S·max(unit times, 2)`` and ``T_S ≥`` its
  memory sequencer's time, which adds up per request
  (:func:`.cost.memory_slot_cycles`: each request's beats depend only on its
  own start): ``2 + Σ (request time + 1)`` over its active requests;
* its cycles ``C_S ≥ slots·T_S``, with ``slots = rows + depth + 1`` plus one
  when it writes off-chip (``h_S``, a big-M product with ``T_S ≤ T_max``);
* on-chip bytes = every buffer :func:`.buffers.layout` allocates (ring
  buffers, scratchpads ``y_t·bytes``, 2-row input and write-back buffers for
  off-chip tensors) ``≤ onchip_bytes``.

The objectives are lexicographic, solved in turn: cycles, then off-chip bytes
with the cycles held, then on-chip bytes with both held. The chosen partition
and residency are then evaluated by the compiler's own cost functions, which
must give the same three numbers (checked; a difference is a bug).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from ..errors import ConfigError
from . import cost
from .machine import Machine
from .ops import OpGraph
from .stages import StageLayout

#: Candidate stages are enumerated up to this many per graph (a guard against fan-outs that explode).
MAX_CANDIDATES = 200_000


class Infeasible(Exception):
    """No partition into stages fits the on-chip buffer (the compiler explains why)."""


@dataclass(frozen=True)
class Candidate:
    """A stage the model may choose: its ops (graph order) and the constants of its cost."""

    ops: tuple[str, ...]
    unit: int  # the longest unit time per row (at least 2)
    base_slots: int  # rows + depth + 1 (one more when it writes off-chip)
    rows: int
    ring_bytes: int  # input ring buffers of the streams inside the stage
    reads: dict[str, list[int]]  # external input tensor -> the consumer depths it is fetched at
    consumers: dict[str, int]  # external input tensor -> ops of the stage reading it (a 2-row buffer each)
    crossing: tuple[str, ...]  # output tensors read by a later stage
    finals: tuple[str, ...]  # output tensors that are graph outputs


@dataclass
class Solution:
    """The model's choice and how the solver ended."""

    stages: list[tuple[str, ...]]
    onchip: set[str]
    status: str  # "optimal" or "feasible"
    gap: float  # relative MIP gap of the cycle objective (0 when optimal)
    seconds: float
    objective: tuple[int, int, int]  # cycles, off-chip bytes, on-chip bytes as the model counts them
    candidates: int

    def describe(self) -> str:
        """One line: optimal, or the best found at the time limit and its gap."""
        how = "optimal" if self.status == "optimal" else f"best found at the time limit, gap {100 * self.gap:.1f} %"
        return f"solver: {how} in {self.seconds:.2f} s ({self.candidates} candidate stages)"

    def report(self) -> dict:
        return {"status": self.status, "gap": self.gap, "seconds": round(self.seconds, 3),
                "candidate_stages": self.candidates}  # fmt: skip


def free_edges(opg: OpGraph) -> list[tuple[str, str]]:
    """Op edges that may stream (the consumer does not read the tensor whole)."""
    return [(a, b) for a, b in opg.edges if opg.out_tensor[a] not in opg.whole_inputs(b)]


def candidates(opg: OpGraph, machine: Machine) -> list[Candidate]:
    """Every candidate stage: connected over free edges, at most ``machine.cores`` ops, no whole-read edge
    inside, convex, one row count."""
    free = set(free_edges(opg))
    neighbours: dict[str, set[str]] = {op: set() for op in opg.ops}
    for a, b in free:
        neighbours[a].add(b)
        neighbours[b].add(a)
    index = {op: k for k, op in enumerate(opg.ops)}
    below = _descendants(opg)
    found: set[frozenset[str]] = set()
    frontier = [frozenset([op]) for op in opg.ops]
    found.update(frontier)
    while frontier:
        grown = []
        for s in frontier:
            if len(s) >= machine.cores:
                continue
            for op in {n for m in s for n in neighbours[m]} - s:
                t = s | {op}
                if t not in found and _valid(opg, t, free, below):
                    found.add(t)
                    grown.append(t)
        frontier = grown
        if len(found) > MAX_CANDIDATES:
            raise ConfigError(
                "policy", f"more than {MAX_CANDIDATES} candidate stages; use the windowed heuristic or fewer cores"
            )
    return [_candidate(opg, tuple(sorted(s, key=index.__getitem__)), machine) for s in found]


def _descendants(opg: OpGraph) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for op in reversed(opg.ops):
        kids = {b for a, b in opg.edges if a == op}
        out[op] = set(kids).union(*(out[k] for k in kids)) if kids else set()
    return out


def _valid(opg: OpGraph, s: frozenset[str], free: set[tuple[str, str]], below: dict[str, set[str]]) -> bool:
    """No non-free edge inside, one row count, convex (no op outside lies between two inside)."""
    if len({opg.rows(opg.out_tensor[op]) for op in s}) > 1:
        return False
    for a, b in opg.edges:
        if a in s and b in s and (a, b) not in free:
            return False
    outside_below = set().union(*(below[op] for op in s)) - s
    return not any(below[o] & s for o in outside_below)


def _candidate(opg: OpGraph, ops: tuple[str, ...], machine: Machine) -> Candidate:
    members = set(ops)
    depth: dict[str, int] = {}
    for op in ops:  # graph order: producers first
        depth[op] = max((depth[opg.producer[i]] + 1 for i in opg.inputs[op] if opg.producer.get(i) in members),
                        default=0)  # fmt: skip
    layout = StageLayout(opg, [list(ops)], {op: (0 if op in members else -1) for op in opg.ops}, depth)
    alloc = cost.allocate_cores(opg, list(ops), machine)
    unit = max([cost.unit_row_cycles(opg, op, alloc[op], machine) for op in ops] + [2])
    ring, reads, consumers = 0, {}, {}
    for op in ops:
        for i in dict.fromkeys(opg.inputs[op]):  # one buffer per (op, tensor)
            if opg.producer.get(i) in members:
                ring += layout.ring_rows(op, i) * opg.row_bytes(i)
            else:
                reads.setdefault(i, [])
                if depth[op] not in reads[i]:
                    reads[i].append(depth[op])
                consumers[i] = consumers.get(i, 0) + 1
    outs = [opg.out_tensor[op] for op in ops]
    crossing = tuple(t for t in outs if any(op not in members for op in _readers(opg, t)))
    return Candidate(
        ops=ops,
        unit=unit,
        base_slots=opg.rows(outs[0]) + max(depth.values()) + 1,
        rows=opg.rows(outs[0]),
        ring_bytes=ring,
        reads=reads,
        consumers=consumers,
        crossing=crossing,
        finals=tuple(t for t in outs if t in opg.finals),
    )


def _readers(opg: OpGraph, tensor: str) -> list[str]:
    return [op for op in opg.ops if tensor in opg.inputs[op]]


def request_cycles(opg: OpGraph, tensor: str, machine: Machine, kind: str) -> int:
    """One sequencer request's share of the slot: its time from request to last beat, + 1."""
    one = cost.memory_slot_cycles(
        [(kind, opg.graph.tasks[tensor].cols, opg.element_bytes(tensor))],
        machine.offchip_bytes_per_cycle,
        machine.offchip_latency,
    )
    return one - 2  # memory_slot_cycles of one request = (its time + 1) + 2


#: What the model minimizes first: cycles (then off-chip bytes) or off-chip bytes (then cycles, COSMA's aim).
PRIORITIES = {"cycles": ("cycles", "offchip", "onchip"), "offchip": ("offchip", "cycles", "onchip")}


def solve(opg: OpGraph, machine: Machine, time_limit: float = 60.0, priority: str = "cycles") -> Solution:
    """The optimal (or, at ``time_limit`` seconds, the best found) stages and on-chip tensors: least cycles,
    then off-chip bytes (``priority="offchip"``: the other way round), then on-chip bytes, within
    ``machine.onchip_bytes``; raises :class:`Infeasible`."""
    return _solve(opg, machine, time_limit, PRIORITIES[priority], capacity=True)


def smallest(opg: OpGraph, machine: Machine, time_limit: float = 60.0) -> Solution:
    """The schedule of least on-chip bytes, whatever the capacity (to explain an infeasible one)."""
    return _solve(opg, machine, time_limit, ("onchip",), capacity=False)


def _solve(opg: OpGraph, machine: Machine, time_limit: float, objectives: tuple[str, ...], capacity: bool) -> Solution:
    started = time.monotonic()
    cands = candidates(opg, machine)
    h, x, y, totals = _build(opg, machine, cands, time_limit)
    if capacity:
        h.addConstr(totals["onchip"] <= machine.onchip_bytes)
    status, gap, best = "optimal", 0.0, []
    for k, name in enumerate(objectives):  # lexicographic: each optimum held while the next is minimized
        later, later_gap = _minimize(h, totals[name])
        status = "optimal" if status == later == "optimal" else "feasible"
        gap = later_gap if k == 0 else gap
        best.append(round(h.val(totals[name])))
        h.addConstr(totals[name] <= best[-1] + 0.01)  # integers at the optimum; no room to drift
    values = {name: round(h.val(totals[name])) for name in totals}
    chosen = [c.ops for k, c in enumerate(cands) if h.val(x[k]) > 0.5]
    resident = {t for t, v in y.items() if h.val(v) > 0.5}
    return Solution(chosen, resident, status, gap, time.monotonic() - started,
                    (values["cycles"], values["offchip"], values["onchip"]), len(cands))  # fmt: skip


def _build(opg: OpGraph, machine: Machine, cands: list[Candidate], time_limit: float) -> tuple:
    """The model: ``(highs, x per candidate, y per tensor, {"cycles", "offchip", "onchip": expression})``."""
    import highspy

    h = _quiet_highs()
    for option, value in (("output_flag", False), ("time_limit", float(time_limit)), ("mip_rel_gap", 0.0),
                          ("random_seed", 0), ("threads", 1)):  # fmt: skip
        h.setOptionValue(option, value)
    x = [h.addBinary() for _ in cands]
    for op in opg.ops:
        h.addConstr(sum(x[k] for k, c in enumerate(cands) if op in c.ops) == 1)
    # tensors that may stay on chip: those some candidate makes cross; a tensor read whole must
    may = {t for c in cands for t in c.crossing}
    whole = set(opg.whole_tensors)
    y = {t: h.addVariable(lb=1 if t in whole else 0, ub=1, type=highspy.HighsVarType.kInteger) for t in may}
    for t in may - whole:  # on chip only when its producer's stage makes it cross
        h.addConstr(y[t] <= sum(x[k] for k, c in enumerate(cands) if t in c.crossing))
    _order_constraints(h, opg, cands, x)
    terms = [_stage_terms(h, opg, machine, c, x[k], y) for k, c in enumerate(cands)]
    onchip = [on for _, _, on in terms] + [opg.tensor_bytes(t) * y[t] for t in y]
    for t in opg.finals:  # a graph output off chip has a 2-row write-back buffer
        if t in y:
            onchip.append(2 * opg.row_bytes(t) * (1 - y[t]))
        elif t in opg.producer:
            onchip.append(2 * opg.row_bytes(t))
    totals = {"cycles": sum(c for c, _, _ in terms), "offchip": sum(o for _, o, _ in terms), "onchip": sum(onchip)}
    return h, x, y, totals


def _quiet_highs() -> object:
    """A HiGHS instance; its constructor prints a banner on the process's standard output, which goes to
    /dev/null (our output is the schedule)."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _order_constraints(h: object, opg: OpGraph, cands: list[Candidate], x: list) -> None:
    """A potential per op: equal within a stage, at least one higher across each edge between stages."""
    n = len(opg.ops)
    p = {op: h.addVariable(lb=0, ub=n) for op in opg.ops}
    together: dict[tuple[str, str], list[int]] = {}
    for k, c in enumerate(cands):
        members = set(c.ops)
        for a, b in opg.edges:
            if a in members and b in members:
                together.setdefault((a, b), []).append(k)
    for a, b in opg.edges:
        same = sum(x[k] for k in together.get((a, b), []))
        h.addConstr(p[b] - p[a] >= 1 - same)
        h.addConstr(p[b] - p[a] <= n * (1 - same))


def _stage_terms(h: object, opg: OpGraph, machine: Machine, c: Candidate, x: object, y: dict) -> tuple:
    """Candidate ``c``'s cycles, off-chip bytes and on-chip bytes as model expressions (0 when not chosen)."""
    mem_terms, any_terms, writes = [], [], []
    off_bytes = []
    on_bytes = [c.ring_bytes * x]
    for t, depths in c.reads.items():
        act = x if t not in y else _and_not(h, x, y[t])
        mem_terms.append(len(depths) * request_cycles(opg, t, machine, "read") * act)
        any_terms.append(act)
        off_bytes.append(c.rows * opg.row_bytes(t) * len(depths) * act)
        on_bytes.append(2 * opg.row_bytes(t) * c.consumers[t] * act)
    for t in dict.fromkeys(c.finals + c.crossing):
        if t in c.finals:  # a graph output is written back even when it also stays on chip
            act = x
        else:
            act = _and_not(h, x, y[t])
            on_bytes.append(2 * opg.row_bytes(t) * act)  # its write-back buffer
        mem_terms.append(request_cycles(opg, t, machine, "write") * act)
        any_terms.append(act)
        writes.append(act)
        off_bytes.append(c.rows * opg.row_bytes(t) * act)
    mem_max = sum(request_cycles(opg, t, machine, "read") * len(d) for t, d in c.reads.items()) + sum(
        request_cycles(opg, t, machine, "write") for t in dict.fromkeys(c.finals + c.crossing)
    )
    t_max = max(c.unit, mem_max + 2, 2)
    T = h.addVariable(lb=0, ub=t_max)
    h.addConstr(T >= c.unit * x)
    if any_terms:
        anyv = h.addVariable(lb=0, ub=1)
        for a in any_terms:
            h.addConstr(anyv >= a)
        h.addConstr(T >= 2 * anyv + sum(mem_terms))
    C = h.addVariable(lb=0)
    h.addConstr(C >= c.base_slots * T)
    if writes:
        hw = h.addVariable(lb=0, ub=1)
        for a in writes:
            h.addConstr(hw >= a)
        h.addConstr(C >= (c.base_slots + 1) * T - (c.base_slots + 1) * t_max * (1 - hw))
    return machine.switch_cycles * x + C, sum(off_bytes) if off_bytes else 0, sum(on_bytes)


def _and_not(h: object, x: object, y: object) -> object:
    """A variable ``≥ x − y`` (and ``≥ 0``): 1 when the stage is chosen and the tensor is off chip."""
    v = h.addVariable(lb=0, ub=1)
    h.addConstr(v >= x - y)
    return v


def _minimize(h: object, expr: object) -> tuple[str, float]:
    import highspy

    h.minimize(expr)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        return "optimal", 0.0
    if status == highspy.HighsModelStatus.kInfeasible:
        raise Infeasible
    info = h.getInfo()
    if info.primal_solution_status != highspy.kSolutionStatusFeasible:
        raise ConfigError(
            "policy", f"the schedule solver stopped ({h.modelStatusToString(status)}) without a feasible schedule"
        )
    return "feasible", float(info.mip_gap)
