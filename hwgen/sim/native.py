"""The native Verilator bench: a generated C++ harness drives a design's streams at Verilator's own speed.

Per design hwgen renders a C++ harness (``templates/sim/native_streams.cpp.j2``)
that applies, cycle by cycle, exactly the stream rules of
:class:`~hwgen.sim.streams.StreamEngine` — the same stateless stall decisions,
the same memory arrival rule, the same drain and timeout — and records every
transfer. Python writes the beats and phases to a binary file, runs the
harness, reads the records back into :class:`~hwgen.sim.streams.PhaseResult`
objects and derives the errors with :func:`~hwgen.sim.streams.phase_errors`,
so the checker (:func:`hwgen.sim.check.check_run`) is the one every bench
uses. Nothing is driven from Python per cycle.

File formats (little-endian; counts and cycles 64-bit, payloads 32-bit words,
least significant word first):

* bench file: magic, mode (0 run the phases, 1 free-run the clock), timeout
  cycles, drain cycles, free-run cycles; per input port (signature order) its
  decision index (its position in the vectors' inputs, or ``NONE``), beat
  count and beats; per output port its decision index and expected beat count;
  the phase count and per phase seed, gap threshold, stall threshold, memory
  flag and, with memory, each input's per-beat arrival cycles;
* result file (free-run: only the seconds): per phase the cycle count, the timeout cycle (``NONE``: none),
  the loop's seconds (a double), per input the accepted cycles, per output the first-valid cycles, the taken
  cycles and the payload words (each list prefixed by its length).

One build per design: the key hashes the Verilog, the harness, Verilator's
version and the options, so runs with other vectors, seeds and phases reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import wiring

from ..ports import payload_shape, stream_ports
from ..render import environment
from .native_build import MAGIC, NONE, Cursor, build_native, run_binary, u64_bytes
from .streams import Phase, PhaseResult, phase_errors, threshold


@dataclass(frozen=True)
class NativePort:
    """One stream port as the harness sees it: the C++ names of its signals and its payload words."""

    name: str
    width: int

    @property
    def words(self) -> int:
        return max(1, -(-self.width // 32))

    def c_name(self, signal: str) -> str:
        """Verilator's C++ name of ``<port>__<signal>`` (it encodes each ``__`` as ``___05F``)."""
        return f"{self.name}__{signal}".replace("__", "___05F")

    def template_fields(self) -> dict[str, object]:
        return {
            "valid": self.c_name("valid"),
            "ready": self.c_name("ready"),
            "payload": self.c_name("payload"),
            "words": self.words,
        }


def native_ports(component: wiring.Component) -> tuple[list[NativePort], list[NativePort]]:
    """The component's input and output stream ports, in signature order."""
    ins, outs = stream_ports(component)

    def port(p: str) -> NativePort:
        return NativePort(p, Shape.cast(payload_shape(component, p)).width)

    return [port(p) for p in ins], [port(p) for p in outs]


def harness_source(top: str, ins: list[NativePort], outs: list[NativePort], controls: tuple[str, ...] = ()) -> str:
    """The C++ harness of a design with these ports; ``controls`` are extra inputs (e.g. a mutant selector)
    held at values given on the command line."""
    return (
        environment()
        .get_template("sim/native_streams.cpp.j2")
        .render(
            top=top,
            inputs=[p.template_fields() for p in ins],
            outputs=[p.template_fields() for p in outs],
            controls=list(controls),
        )
    )


# ------------------------------------------------------------------------------------------ encoding
def _words(beats: list[int], words: int) -> bytes:
    """Beats as ``words`` little-endian 32-bit words each."""
    if words <= 2 and all(0 <= b < 1 << 64 for b in beats):
        arr = np.asarray(beats, dtype=np.uint64).astype("<u8").view("<u4").reshape(-1, 2)
        return np.ascontiguousarray(arr[:, :words]).tobytes()
    return b"".join(int(b).to_bytes(4 * words, "little") for b in beats)


def bench_file(
    ins: list[NativePort],
    outs: list[NativePort],
    raw_in: dict[str, list[int]],
    raw_exp: dict[str, list[int]],
    phases: list[Phase],
    *,
    timeout_cycles: int,
    drain_cycles: int,
    free_cycles: int = 0,
) -> bytes:
    """The harness's input (see the module docstring)."""
    order_in, order_out = list(raw_in), list(raw_exp)
    parts = [u64_bytes(MAGIC, 1 if free_cycles else 0, timeout_cycles, drain_cycles, free_cycles)]
    for p in ins:
        beats = raw_in.get(p.name, [])
        parts += [u64_bytes(order_in.index(p.name) if p.name in raw_in else NONE, len(beats)), _words(beats, p.words)]
    for p in outs:
        parts.append(u64_bytes(order_out.index(p.name) if p.name in raw_exp else NONE, len(raw_exp.get(p.name, []))))
    parts.append(u64_bytes(len(phases)))
    for ph in phases:
        memory = ph.memory is not None
        gap = 0 if memory else threshold(ph.in_gap)
        parts.append(u64_bytes(ph.seed & NONE, gap, threshold(ph.out_stall), int(memory)))
        if memory:
            parts += [np.asarray(ph.memory.arrivals(len(raw_in.get(p.name, []))), dtype="<u8").tobytes() for p in ins]
    return b"".join(parts)


def read_results(data: bytes, ins: list[NativePort], outs: list[NativePort], phases: list[Phase]) -> list[PhaseResult]:
    """Decode the harness's result file into one record per phase (errors not yet derived)."""
    cur, results = Cursor(data), []
    for ph in phases:
        res = PhaseResult(name=ph.name, cycles=cur.u64())
        timeout = cur.u64()
        res.timeout_cycle = None if timeout == NONE else timeout
        res.seconds = cur.f64()
        for p in ins:
            res.accepted[p.name] = cur.counted()
        for p in outs:
            res.first_valid[p.name] = cur.counted()
            res.taken[p.name] = cur.counted()
            res.got[p.name] = cur.words(len(res.taken[p.name]), p.words)
        results.append(res)
    return results


# ------------------------------------------------------------------------------------------ running
@dataclass
class NativeRun:
    """Outcome of one native run: the phases' records and errors, how long the simulation loops ran
    (``seconds``) and how long the harness process ran, start-up and file I/O included (``wall_seconds``)."""

    phases: list[PhaseResult]
    wall_seconds: float
    binary: Path

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    @property
    def passed(self) -> bool:
        return bool(self.phases) and all(p.passed for p in self.phases)

    @property
    def cycles(self) -> int:
        return sum(p.cycles for p in self.phases)


def run_native(
    verilog: str,
    top: str,
    component: wiring.Component,
    raw_in: dict[str, list[int]],
    raw_exp: dict[str, list[int]],
    phases: list[Phase],
    *,
    timeout_cycles: int = 2000,
    drain_cycles: int = 16,
    work_dir: Path | None = None,
    controls: dict[str, int] | None = None,
) -> NativeRun:
    """Run the stream phases on ``verilog`` in the native harness and return what it observed.

    ``controls`` holds extra inputs of the design at fixed values (the build is shared by all values).
    Never raises for a failing comparison: inspect :attr:`NativeRun.passed` (or check the phases with
    :func:`hwgen.sim.check.check_run`). Raises :class:`ToolError` when the harness cannot build or run.
    """
    ins, outs = native_ports(component)
    controls = controls or {}
    binary = build_native(verilog, top, harness_source(top, ins, outs, tuple(controls)), work_dir=work_dir)
    data = bench_file(ins, outs, raw_in, raw_exp, phases, timeout_cycles=timeout_cycles, drain_cycles=drain_cycles)
    args = [str(v) for v in controls.values()]
    out, wall = run_binary(binary, data, f"native: simulating {top}", args)
    results = read_results(out, ins, outs, phases)
    for res in results:
        res.errors = phase_errors(res, raw_in, raw_exp, timeout_cycles)
    return NativeRun(results, wall, binary)


def free_running_seconds(
    verilog: str,
    top: str,
    component: wiring.Component,
    raw_in: dict[str, list[int]],
    cycles: int,
    *,
    work_dir: Path | None = None,
) -> float:
    """Seconds the same Verilator model takes to clock ``cycles`` cycles with no stimulus logic (inputs held
    valid with their first beat, outputs ready), timed in the harness like a phase: the ceiling the native
    bench is measured against."""
    ins, outs = native_ports(component)
    binary = build_native(verilog, top, harness_source(top, ins, outs), work_dir=work_dir)
    data = bench_file(ins, outs, raw_in, {}, [], timeout_cycles=0, drain_cycles=0, free_cycles=cycles)
    return Cursor(run_binary(binary, data, f"native: free-running {top}")[0]).f64()
