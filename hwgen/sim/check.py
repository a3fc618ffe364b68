"""Compare simulation observations with the golden model and the timing model.

Used identically for the Amaranth simulator and cocotb runs: outputs are
decoded into fields and compared with ``np.array_equal`` against the golden
model's values; in the full-rate phase every result's latency must equal the
timing model exactly and inputs must be taken every ``ii`` cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.lib import wiring

from ..config import BlockConfig
from .engine import Phase, PhaseResult
from .vectors import StreamVectors, decode

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
    """Check every phase's outputs and, at full rate, exact latency and initiation interval."""
    timing = config.timing()
    v = Verdict(passed=True, latency_model=timing.latency, corners=list(vectors.corners))
    for phase, res in zip(phases, results):
        v.cycles[phase.name] = res.cycles
        problems = list(res.errors)
        for port, exp_fields in vectors.expected.items():
            got = decode(component, port, res.got.get(port, []))
            exp = exp_fields if isinstance(exp_fields, dict) else {"": exp_fields}
            for name, exp_arr in exp.items():
                g = got.get(name, np.array([]))
                e = np.asarray(exp_arr)
                if g.shape != e.shape or not np.array_equal(g.astype(object), e.astype(object)):
                    problems.append(_first_difference(port, name, e, g, vectors))
                    break
        full_rate = phase.in_gap == 0 and phase.out_stall == 0 and phase.memory is None
        if full_rate:
            decoded = {p: decode(component, p, res.got.get(p, [])) for p in vectors.expected}
            extra_lines, extra_problems = config.check_outputs(vectors, decoded)
            problems += extra_problems
        else:
            extra_lines = []
        for port, (in_port, idx) in vectors.triggers.items():
            fv, acc = res.first_valid.get(port, []), res.accepted.get(in_port, [])
            lat = [fv[j] - acc[idx[j]] for j in range(min(len(fv), len(idx))) if idx[j] < len(acc)]
            if full_rate:
                v.latency_measured = sorted(set(lat))
            elif lat and min(lat) < timing.latency:
                problems.append(
                    f"{port}: a result came out after {min(lat)} cycles, sooner than the model's {timing.latency}"
                )
        if full_rate:
            problems += _check_cycles(vectors, res, timing)
        phase_schedule = vectors.extra.get("phase_schedules", {}).get(phase.name)
        if phase_schedule is not None:
            problems += _check_cycles(vectors, res, timing, phase_schedule)
        outs = ", ".join(f"{len(res.got.get(p, []))} {p} beats" for p in vectors.expected)
        ins = ", ".join(f"{len(res.accepted.get(p, []))} {p} beats" for p in vectors.inputs)
        stall = "" if full_rate else f" (input gaps {phase.in_gap:.0%}, output stalls {phase.out_stall:.0%})"
        if phase.memory is not None:
            mem = phase.memory
            stall = f" (inputs from off-chip memory: {mem.bytes_per_cycle:g} B/cycle, latency {mem.latency})"
        status = "ok" if not problems else "FAIL"
        line = f"  phase {phase.name}{stall}: {ins} in, {outs} out, {res.cycles} cycles — {status}"
        if phase_schedule is not None and not problems:
            line += f"; all {sum(len(c) for c in phase_schedule.values())} transfers in the predicted cycle"
        elif full_rate and not problems:
            if vectors.schedule is not None:
                n = sum(len(c) for c in vectors.schedule.values())
                line += f"; all {n} transfers in the cycle the cycle model predicts"
            elif v.latency_measured:
                line += f"; latency {'/'.join(map(str, v.latency_measured))} cycles (model {timing.latency})"
        v.lines.append(line)
        v.lines += [f"    {x}" for x in extra_lines]
        v.problems += [f"[{phase.name}] {p}" for p in problems]
    v.passed = not v.problems
    return v


def _check_cycles(
    vectors: StreamVectors, res: PhaseResult, timing, predicted: dict[str, list[int]] | None = None
) -> list[str]:
    """Every transfer must happen in the cycle the model predicts (full rate, or ``predicted`` for a phase)."""
    predicted = predicted if predicted is not None else vectors.schedule
    if predicted is None:  # default model: one beat per ii, results `latency` after their trigger
        predicted = {}
        for port in vectors.inputs:
            predicted[port] = [i * timing.ii for i in range(vectors.beats(port))]
        for port, (in_port, idx) in vectors.triggers.items():
            predicted[port] = [predicted[in_port][i] + timing.latency for i in idx]
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
