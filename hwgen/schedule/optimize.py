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
``time_limit`` is one budget for all three. ``HWGEN_SOLVER_TRACE=1`` prints
each objective's solve and its time.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace

import highspy

from ..errors import ConfigError
from ..progress import say
from . import cost
from .machine import Machine
from .ops import OpGraph
from .stages import StageLayout

#: Candidate stages are enumerated up to this many per graph (a guard against fan-outs that explode).
MAX_CANDIDATES = 200_000


class Infeasible(Exception):
    """No partition into stages fits the on-chip buffer (the compiler explains why)."""


class TimedOut(Exception):
    """The solver stopped (its time limit) before it found any schedule."""


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
    gap: float | None  # relative gap of the first objective (0 when optimal; None: the greedy fallback)
    seconds: float
    objective: tuple[int, int, int]  # cycles, off-chip bytes, on-chip bytes as the model counts them
    candidates: int
    bound: float | None = None  # the heuristic's lower bound on its first objective

    def describe(self) -> str:
        """One line: optimal, the best found at the time limit, or the windowed heuristic, and the gap."""
        how = {"optimal": "optimal", "feasible": "best found at the time limit",
               "heuristic": "windowed heuristic",
               "greedy": "nothing found within the time limit; the better of the dataflow and sequential "
                         "policies' schedules"}[self.status]  # fmt: skip
        if self.status in ("feasible", "heuristic"):
            how += f", gap {100 * self.gap:.1f} % to the lower bound"
        return f"solver: {how} in {self.seconds:.2f} s ({self.candidates} candidate stages)"

    def report(self) -> dict:
        """What the written report keeps (not the solve time: the same spec gives the same files)."""
        return {"status": self.status, "gap": self.gap, "candidate_stages": self.candidates,
                "lower_bound": self.bound}  # fmt: skip


def free_edges(opg: OpGraph) -> list[tuple[str, str]]:
    """Op edges that may stream (the consumer does not read the tensor whole)."""
    return [(a, b) for a, b in opg.edges if opg.out_tensor[a] not in opg.whole_inputs(b)]


def candidates(opg: OpGraph, machine: Machine, ops: list[str] | None = None) -> list[Candidate]:
    """Every candidate stage of ``ops`` (default: all): connected over free edges, at most ``machine.cores``
    ops, no whole-read edge inside, convex, one row count."""
    window = set(opg.ops if ops is None else ops)
    free = {(a, b) for a, b in free_edges(opg) if a in window and b in window}
    neighbours: dict[str, set[str]] = {op: set() for op in opg.ops}
    for a, b in free:
        neighbours[a].add(b)
        neighbours[b].add(a)
    index = {op: k for k, op in enumerate(opg.ops)}
    edges = opg.edges
    below = _descendants(opg, edges)
    found: set[frozenset[str]] = set()
    frontier = [frozenset([op]) for op in opg.ops if op in window]
    found.update(frontier)
    while frontier:
        grown = []
        for s in frontier:
            if len(s) >= machine.cores:
                continue
            for op in {n for m in s for n in neighbours[m]} - s:
                t = s | {op}
                if t not in found and _valid(opg, t, edges, free, below):
                    found.add(t)
                    grown.append(t)
        frontier = grown
        if len(found) > MAX_CANDIDATES:
            raise ConfigError(
                "policy", f"more than {MAX_CANDIDATES} candidate stages; use the windowed heuristic or fewer cores"
            )
    stages = sorted((tuple(sorted(s, key=index.__getitem__)) for s in found), key=lambda ops: [index[o] for o in ops])
    return [_candidate(opg, ops, machine) for ops in stages]  # in a fixed order: the model never sees set order


def _descendants(opg: OpGraph, edges: list[tuple[str, str]]) -> dict[str, set[str]]:
    children: dict[str, set[str]] = {op: set() for op in opg.ops}
    for a, b in edges:
        children[a].add(b)
    out: dict[str, set[str]] = {}
    for op in reversed(opg.ops):
        kids = children[op]
        out[op] = set(kids).union(*(out[k] for k in kids)) if kids else set()
    return out


def _valid(
    opg: OpGraph, s: frozenset[str], edges: list[tuple[str, str]], free: set[tuple[str, str]], below: dict
) -> bool:
    """No non-free edge inside, one row count, convex (no op outside lies between two inside)."""
    if len({opg.rows(opg.out_tensor[op]) for op in s}) > 1:
        return False
    for a, b in edges:
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


#: The full model covers graphs up to this many ops; larger ones are solved in windows (:func:`solve_windows`).
FULL_MODEL_OPS = 32
#: Ops per window of the heuristic.
WINDOW_OPS = 16


def solve_windows(
    opg: OpGraph, machine: Machine, time_limit: float = 60.0, priority: str = "cycles", size: int = WINDOW_OPS
) -> Solution:
    """The heuristic for graphs past the full model: the ops in topological order cut into windows of ``size``,
    each solved optimally in turn (the tensors of earlier windows on chip or not as decided there, the
    on-chip buffer shared out by the windows' tensor bytes, what a window leaves unused passed on), the
    stages and residencies joined. Its gap is against the full model's LP relaxation, a lower bound."""
    started = time.monotonic()
    windows = [opg.ops[i : i + size] for i in range(0, len(opg.ops), size)]
    weights = [1 + sum(opg.tensor_bytes(opg.out_tensor[op]) for op in w) for w in windows]
    remaining, stages, resident = machine.onchip_bytes, [], set()
    total = [0, 0, 0]
    status, n_cands = "optimal", 0
    each = max(time_limit / len(windows), 5.0)
    for k, ops in enumerate(windows):
        share = remaining * weights[k] // sum(weights[k:])
        try:
            sol = _solve(opg, replace(machine, onchip_bytes=share), each, PRIORITIES[priority], True, ops, resident)
        except Infeasible:  # its share is too small: the whole remainder
            sol = _solve(opg, replace(machine, onchip_bytes=remaining), each, PRIORITIES[priority], True, ops, resident)
        stages += sol.stages
        resident |= sol.onchip
        remaining -= sol.objective[2]
        total = [a + b for a, b in zip(total, sol.objective)]
        status = "optimal" if status == sol.status == "optimal" else "feasible"
        n_cands += sol.candidates
        say(f"schedule window {k + 1}/{len(windows)}: {sol.objective[0]} cycles")
    bound = lower_bound(opg, machine, priority, time_limit)
    first = total[0] if priority == "cycles" else total[1]
    gap = (first - bound) / first if first else 0.0
    return Solution(stages, resident, "heuristic", gap, time.monotonic() - started, tuple(total), n_cands, bound)


def lower_bound(opg: OpGraph, machine: Machine, priority: str, time_limit: float) -> float:
    """The first objective's least value in the full model's LP relaxation (every binary in [0, 1])."""
    h, _, _, totals = _build(opg, machine, candidates(opg, machine), time_limit, opg.ops, set(), relax=True)
    h.addConstr(totals["onchip"] <= machine.onchip_bytes)
    first = PRIORITIES[priority][0]
    h.minimize(totals[first])
    return float(h.val(totals[first]))


def smallest(opg: OpGraph, machine: Machine, time_limit: float = 60.0) -> Solution:
    """The schedule of least on-chip bytes, whatever the capacity (to explain an infeasible one)."""
    return _solve(opg, machine, time_limit, ("onchip",), capacity=False)


def _solve(
    opg: OpGraph,
    machine: Machine,
    time_limit: float,
    objectives: tuple[str, ...],
    capacity: bool,
    ops: list[str] | None = None,
    outside: set[str] = frozenset(),
) -> Solution:
    """The model over ``ops`` (all by default; tensors produced before them on chip when in ``outside``)."""
    started = time.monotonic()
    cands = candidates(opg, machine, ops)
    h, x, y, totals = _build(opg, machine, cands, time_limit, ops or opg.ops, outside)
    if capacity:
        h.addConstr(totals["onchip"] <= machine.onchip_bytes)
    status, gap, best = "optimal", 0.0, []
    deadline = started + time_limit  # one budget for every objective
    for k, name in enumerate(objectives):  # lexicographic: each optimum held while the next is minimized
        t0 = time.monotonic()
        h.setOptionValue("time_limit", max(deadline - t0, 1e-3))
        later, later_gap = _minimize(h, totals[name])
        if os.environ.get("HWGEN_SOLVER_TRACE"):  # each objective's solve, for tuning
            say(f"solver: {name} {later} {h.val(totals[name]):.0f} in {time.monotonic() - t0:.2f} s")
        status = "optimal" if status == later == "optimal" else "feasible"
        gap = later_gap if k == 0 else gap
        best.append(round(h.val(totals[name])))
        start = h.getSolution()
        h.addConstr(totals[name] <= best[-1] + 0.01)  # integers at the optimum; no room to drift
        h.setSolution(start)  # the next objective starts from this optimum
    values = {name: round(h.val(totals[name])) for name in totals}
    chosen = [c.ops for k, c in enumerate(cands) if h.val(x[k]) > 0.5]
    resident = {t for t, v in y.items() if h.val(v) > 0.5}
    return Solution(chosen, resident, status, gap, time.monotonic() - started,
                    (values["cycles"], values["offchip"], values["onchip"]), len(cands))  # fmt: skip


def _build(
    opg: OpGraph,
    machine: Machine,
    cands: list[Candidate],
    time_limit: float,
    ops: list[str],
    outside: set[str],
    relax: bool = False,
) -> tuple:
    """The model of the stages of ``ops``: ``(highs, x per candidate, y per tensor, {"cycles", "offchip",
    "onchip": expression})``; a tensor produced by an op not in ``ops`` is on chip when in ``outside`` (its
    scratchpad counted where it is produced)."""
    h = _quiet_highs()
    # every objective is an integer: a gap under 1 proves optimality
    for option, value in (("output_flag", False), ("time_limit", float(time_limit)), ("mip_rel_gap", 0.0),
                          ("mip_abs_gap", 0.999), ("random_seed", 0), ("threads", 1)):  # fmt: skip
        h.setOptionValue(option, value)
    kind = highspy.HighsVarType.kContinuous if relax else highspy.HighsVarType.kInteger
    x = [h.addVariable(lb=0, ub=1, type=kind) for _ in cands]
    covering: dict[str, list] = {op: [] for op in ops}
    for k, c in enumerate(cands):
        for op in c.ops:
            covering[op].append(x[k])
    for op in ops:
        h.addConstr(sum(covering[op]) == 1)
    # tensors that may stay on chip: those some candidate makes cross; a tensor read whole must
    may = {t for c in cands for t in c.crossing}
    whole = set(opg.whole_tensors)
    y = {t: h.addVariable(lb=1 if t in whole else 0, ub=1, type=kind) for t in sorted(may)}
    for t in sorted(may - whole):  # on chip only when its producer's stage makes it cross
        h.addConstr(y[t] <= sum(x[k] for k, c in enumerate(cands) if t in c.crossing))
    mine = set(ops)
    _order_constraints(h, opg, cands, x, mine)
    before = {t: int(t in outside) for c in cands for t in c.reads if opg.producer.get(t) not in mine | {None}}
    terms = [_stage_terms(h, opg, machine, c, x[k], y | before) for k, c in enumerate(cands)]
    onchip = [on for _, _, on in terms] + [opg.tensor_bytes(t) * y[t] for t in y]
    for t in (t for t in opg.finals if opg.producer.get(t) in mine):  # off chip: a 2-row write-back buffer
        if t in y:
            onchip.append(2 * opg.row_bytes(t) * (1 - y[t]))
        elif t in opg.producer:
            onchip.append(2 * opg.row_bytes(t))
    totals = {"cycles": sum(c for c, _, _ in terms), "offchip": sum(o for _, o, _ in terms), "onchip": sum(onchip)}
    return h, x, y, totals


def _quiet_highs() -> object:
    """A HiGHS instance; its constructor prints a banner on the process's standard output, which goes to
    /dev/null (our output is the schedule)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _order_constraints(h: object, opg: OpGraph, cands: list[Candidate], x: list, mine: set[str]) -> None:
    """A potential per op of ``mine``: equal within a stage, at least one higher across each edge between
    stages."""
    n = len(mine)
    p = {op: h.addVariable(lb=0, ub=n) for op in opg.ops if op in mine}
    edges = [(a, b) for a, b in opg.edges if a in mine and b in mine]
    together: dict[tuple[str, str], list[int]] = {}
    for k, c in enumerate(cands):
        members = set(c.ops)
        for a, b in edges:
            if a in members and b in members:
                together.setdefault((a, b), []).append(k)
    for a, b in edges:
        same = sum(x[k] for k in together.get((a, b), []))
        h.addConstr(p[b] - p[a] >= 1 - same)
        h.addConstr(p[b] - p[a] <= n * (1 - same))


def _stage_terms(h: object, opg: OpGraph, machine: Machine, c: Candidate, x: object, y: dict) -> tuple:
    """Candidate ``c``'s cycles, off-chip bytes and on-chip bytes as model expressions (0 when not chosen)."""
    mem_terms, any_terms, writes = [], [], []
    off_bytes = []
    on_bytes = [c.ring_bytes * x]
    for t, depths in c.reads.items():
        known = y.get(t, 0)  # a variable, or 0 / 1 for a graph input or a tensor produced before the window
        if isinstance(known, int) and known:  # on chip already: read in place
            continue
        act = x if isinstance(known, int) else _and_not(h, x, known)
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
    h.minimize(expr)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        return "optimal", 0.0
    if status == highspy.HighsModelStatus.kInfeasible:
        raise Infeasible
    info = h.getInfo()
    if info.primal_solution_status != highspy.kSolutionStatusFeasible:
        raise TimedOut(h.modelStatusToString(status))
    return "feasible", float(info.mip_gap)
