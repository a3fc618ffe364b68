"""Compare simulation observations with the golden model and the block's cycle model.

Used identically for every simulator: outputs are decoded into fields and
compared with ``np.array_equal`` against the golden model's values; in the
full-rate phase (and a phase fed by an off-chip memory model) every transfer
must happen in the cycle the block's :meth:`~hwgen.config.BlockConfig.cycle_model`
predicts; under random stalls nothing may come out sooner than its latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.lib import wiring

from ..config import BlockConfig, CycleModel
from ..errors import ConfigError
from ..vectors import StreamVectors
from .raw import decode
from .streams import Phase, PhaseResult

FULL_RATE = Phase("full-rate", 0.0, 0.0, seed=1)
BACKPRESSURE = Phase("backpressure", in_gap=0.3, out_stall=0.3, seed=2)
DEFAULT_PHASES = [FULL_RATE, BACKPRESSURE]


@dataclass
class Verdict:
    """Result of checking one run (all phases)."""

    passed: bool
    lines: list[str] = field(default_factory=list)  # human summary, one line each
    problems: list[str] = field(default_factory=list)
    latency_measured: list[int] = field(default_factory=list)
    latency_model: int | None = None
    cycles: dict[str, int] = field(default_factory=dict)
    corners: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.lines + [f"  ✗ {p}" for p in self.problems])


def check_run(
    config: BlockConfig,
    component: wiring.Component,
    vectors: StreamVectors,
    results: list[PhaseResult],
    phases: list[Phase],
) -> Verdict:
    """Check every phase: outputs equal the golden model's; at full rate (and with inputs from an off-chip
    memory model) every transfer happens in the cycle the block's cycle model predicts; under random stalls
    no result comes sooner than the model's latency."""
    timing = config.timing()
    v = Verdict(passed=True, latency_model=timing.latency, corners=list(vectors.corners))
    for phase, res in zip(phases, results):
        v.cycles[phase.name] = res.cycles
        full_rate = phase.in_gap == 0 and phase.out_stall == 0 and phase.memory is None
        problems = list(res.errors) + _check_values(component, vectors, res)
        extra_lines: list[str] = []
        if full_rate:
            decoded = {p: decode(component, p, res.got.get(p, [])) for p in vectors.expected}
            extra_lines, extra_problems = config.check_outputs(vectors, decoded)
            problems += extra_problems
        latencies = _latencies(vectors, res)
        if full_rate:
            v.latency_measured = latencies
        elif latencies and min(latencies) < timing.latency:
            problems.append(
                f"a result came out after {min(latencies)} cycles, sooner than the model's {timing.latency}"
            )
        predicted = None
        if full_rate or phase.memory is not None:
            predicted = _predicted(config, vectors, phase)
            problems += _check_cycles(vectors, res, predicted) if isinstance(predicted, dict) else [predicted]
        line = f"  phase {phase.name}{_conditions(phase)}: {_counts(vectors, res)}, {res.cycles} cycles — "
        line += "ok" if not problems else "FAIL"
        if isinstance(predicted, dict) and not problems:
            line += f"; all {sum(len(c) for c in predicted.values())} transfers in the cycle the cycle model predicts"
        v.lines.append(line)
        v.lines += [f"    {x}" for x in extra_lines]
        v.problems += [f"[{phase.name}] {p}" for p in problems]
    v.passed = not v.problems
    return v


def _check_values(component: wiring.Component, vectors: StreamVectors, res: PhaseResult) -> list[str]:
    """Every output field equal to the golden model's, beat by beat (``np.array_equal``)."""
    problems = []
    for port, exp_fields in vectors.expected.items():
        got = decode(component, port, res.got.get(port, []))
        exp = exp_fields if isinstance(exp_fields, dict) else {"": exp_fields}
        for name, exp_arr in exp.items():
            g = got.get(name, np.array([]))
            e = np.asarray(exp_arr)
            if g.shape != e.shape or not np.array_equal(g.astype(object), e.astype(object)):
                problems.append(_first_difference(port, name, e, g, vectors))
                break
    return problems


def _latencies(vectors: StreamVectors, res: PhaseResult) -> list[int]:
    """Distinct measured latencies: each output beat's first-valid cycle minus its trigger's accept cycle."""
    lat: set[int] = set()
    for port, (in_port, idx) in vectors.triggers.items():
        fv, acc = res.first_valid.get(port, []), res.accepted.get(in_port, [])
        lat |= {fv[j] - acc[idx[j]] for j in range(min(len(fv), len(idx))) if idx[j] < len(acc)}
    return sorted(lat)


def _predicted(config: BlockConfig, vectors: StreamVectors, phase: Phase) -> CycleModel | str:
    """The block's cycle model for this phase, or a problem text when the block cannot model it."""
    arrivals = None
    if phase.memory is not None:
        arrivals = {p: phase.memory.arrivals(vectors.beats(p)) for p in vectors.inputs}
    try:
        return config.cycle_model(vectors, arrivals=arrivals)
    except ConfigError as e:
        return f"no cycle model for this phase: {e}"


def _conditions(phase: Phase) -> str:
    if phase.memory is not None:
        mem = phase.memory
        return f" (inputs from off-chip memory: {mem.bytes_per_cycle:g} B/cycle, latency {mem.latency})"
    if phase.in_gap or phase.out_stall:
        return f" (input gaps {phase.in_gap:.0%}, output stalls {phase.out_stall:.0%})"
    return ""


def _counts(vectors: StreamVectors, res: PhaseResult) -> str:
    ins = ", ".join(f"{len(res.accepted.get(p, []))} {p} beats" for p in vectors.inputs)
    outs = ", ".join(f"{len(res.got.get(p, []))} {p} beats" for p in vectors.expected)
    return f"{ins} in, {outs} out"


def _check_cycles(vectors: StreamVectors, res: PhaseResult, predicted: CycleModel) -> list[str]:
    """Every transfer must happen in the cycle the model predicts: inputs taken, outputs first valid."""
    problems = []
    for port, cycles in predicted.items():
        measured = res.accepted.get(port, []) if port in vectors.inputs else res.first_valid.get(port, [])
        what = "taken" if port in vectors.inputs else "valid"
        diff = [i for i, (p, q) in enumerate(zip(cycles, measured)) if p != q]
        if diff:
            i = diff[0]
            problems.append(
                f"{port} beat #{i} was {what} in cycle {measured[i]}; the cycle model says "
                f"{cycles[i]} ({len(diff)} of {len(cycles)} beats differ)"
            )
        elif len(measured) != len(cycles) and not problems:
            problems.append(f"{port}: {len(measured)} beats {what}, the cycle model expects {len(cycles)}")
    return problems


def _first_difference(port: str, name: str, exp: np.ndarray, got: np.ndarray, vectors: StreamVectors) -> str:
    label = f"{port}.{name}" if name else port
    if len(got) != len(exp):
        return f"{label}: {len(got)} beats arrived, {len(exp)} expected"
    diff = [
        i
        for i in range(len(exp))
        if not np.array_equal(np.asarray(exp[i], dtype=object), np.asarray(got[i], dtype=object))
    ]
    i = diff[0]
    where = ""
    if port in vectors.triggers:
        in_port, idx = vectors.triggers[port]
        start = idx[i - 1] + 1 if i > 0 else 0
        where = f" (from {in_port} beats {start}..{idx[i]})"
    return (
        f"{label}: first mismatch at beat #{i}{where}: expected {exp[i]}, got {got[i]} "
        f"({len(diff)} of {len(exp)} beats differ)"
    )
