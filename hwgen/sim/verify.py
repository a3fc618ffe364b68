"""Verify a design at the simulation levels against its golden model.

:func:`verify_amaranth` runs the component in Amaranth's simulator (fast, no
Verilog); :func:`verify_native` runs the generated Verilog in the native
Verilator bench (C++ harness, Verilator's speed); :func:`verify_cocotb` runs
cocotb on the generated Verilog with Verilator or Icarus. All use the block's stimulus (random vectors plus
corners, golden results from the NumPy model), the same stream engine with a
full-rate phase (exact latency and initiation interval) and a back-pressure
phase, and the same checker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..config import BlockConfig
from ..errors import HwgenError, SpecError
from ..vectors import StreamVectors
from .amaranth_sim import run_amaranth
from .check import DEFAULT_PHASES, Verdict, check_run
from .native import run_native
from .raw import to_raw
from .runner import run_cocotb
from .streams import Phase


class Built(Protocol):
    """What the Verilog-level checks need of a design (:class:`hwgen.design.Design` is one)."""

    name: str
    top: BlockConfig
    verilog: str
    stimulus: Callable[..., Any] | None

    def component(self) -> Any: ...


def user_stimulus(design: Built, vectors: int, seed: int) -> StreamVectors:
    """A design's own ``stimulus(rng, n)``; its failures and wrong results are one-line errors."""
    try:
        stim = design.stimulus(np.random.default_rng(seed), vectors)
    except HwgenError:
        raise
    except Exception as e:
        text = " ".join(str(e).split())[:300]
        raise SpecError(f"design {design.name}.stimulus", f"raised {type(e).__name__}: {text}") from None
    if not isinstance(stim, StreamVectors):
        raise SpecError(
            f"design {design.name}.stimulus",
            f"returned {type(stim).__name__}, not hwgen.vectors.StreamVectors (inputs and expected outputs)",
        )
    return stim


def make_vectors(config: BlockConfig, vectors: int, seed: int) -> StreamVectors:
    """The block's stimulus: ``vectors`` random cases plus corners, seeded."""
    return config.stimulus(np.random.default_rng(seed), vectors)


def design_vectors(design: Built, vectors: int, seed: int, stim: StreamVectors | None) -> StreamVectors:
    """``stim`` if given, else the design's own stimulus, else its top block's."""
    if stim is not None:
        return stim
    if design.stimulus is not None:
        return user_stimulus(design, vectors, seed)
    return make_vectors(design.top, vectors, seed)


def verify_amaranth(
    config: BlockConfig,
    *,
    vectors: int = 200,
    seed: int = 1,
    stim: StreamVectors | None = None,
    phases: list[Phase] = DEFAULT_PHASES,
) -> Verdict:
    """Check ``config``'s component in the Amaranth simulator."""
    stim = stim or make_vectors(config, vectors, seed)
    comp = config.component()
    results = run_amaranth(comp, stim, phases)
    return check_run(config, comp, stim, results, phases)


def verify_cocotb(
    design: Built,
    *,
    sim: str = "verilator",
    vectors: int = 1000,
    seed: int = 1,
    stim: StreamVectors | None = None,
    phases: list[Phase] = DEFAULT_PHASES,
    work_dir: Path | None = None,
) -> Verdict:
    """Check ``design``'s generated Verilog under cocotb on ``sim``."""
    stim = design_vectors(design, vectors, seed, stim)
    comp = design.component()
    verilog = design.verilog
    raw_in, raw_exp = to_raw(comp, stim)
    run = run_cocotb(verilog, design.name, raw_in, raw_exp, phases, sim=sim, work_dir=work_dir, seed=seed)
    verdict = check_run(design.top, comp, stim, run.phases, phases)
    if not run.passed:
        verdict.passed = False
        if not verdict.problems:
            verdict.problems.append(f"cocotb reported {run.failed} failing test(s) of {run.tests}; log {run.log}")
    verdict.lines.insert(
        0, f"  cocotb on {sim}: {run.tests - run.failed}/{run.tests} cocotb test(s) passed; log {run.log}"
    )
    return verdict


def verify_native(
    design: Built,
    *,
    vectors: int = 1000,
    seed: int = 1,
    stim: StreamVectors | None = None,
    phases: list[Phase] = DEFAULT_PHASES,
    work_dir: Path | None = None,
    timeout_cycles: int = 2000,
) -> Verdict:
    """Check ``design``'s generated Verilog in the native Verilator bench (same phases, same checker)."""
    stim = design_vectors(design, vectors, seed, stim)
    comp = design.component()
    raw_in, raw_exp = to_raw(comp, stim)
    run = run_native(
        design.verilog, design.name, comp, raw_in, raw_exp, phases, work_dir=work_dir, timeout_cycles=timeout_cycles
    )
    verdict = check_run(design.top, comp, stim, run.phases, phases)
    rate = f"{run.cycles / run.seconds:,.0f}" if run.seconds > 0 else "n/a"
    verdict.lines.insert(
        0, f"  native Verilator bench: {run.cycles:,} cycles in {run.seconds:.2f} s ({rate} cycles/s); {run.binary}"
    )
    return verdict
