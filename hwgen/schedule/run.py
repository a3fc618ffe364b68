"""Run a compiled schedule's engine end to end in simulation against the off-chip memory model.

:func:`run_schedule` builds the engine for ``(graph, machine, policy)``, loads
the graph inputs into the memory model, simulates until ``done`` (Amaranth's
simulator, the native Verilator bench or cocotb on the generated Verilog), and returns the outputs, the
measured cycles and off-chip traffic next to the compiler's cost report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from amaranth.hdl import Shape, Value

from ..errors import ConfigError
from ..progress import step
from ..sim.amaranth_sim import run_amaranth_model
from ..sim.memory import MemoryModel, MemoryResult
from ..sim.native_memory import run_native_memory
from ..sim.runner import run_cocotb_memory
from ..verilog import to_verilog
from .compiler import Schedule, compile_schedule
from .engine import ScheduleEngine, build_engine, req_layout
from .graph import TaskGraph
from .machine import Machine


@dataclass
class EngineRun:
    """Outputs and measurements of one end-to-end run."""

    policy: str
    schedule: Schedule
    outputs: dict[str, np.ndarray]
    cycles: int | None
    offchip_bytes: int
    errors: list[str] = field(default_factory=list)

    def compare(self, golden: dict[str, np.ndarray]) -> list[str]:
        """Problems: outputs differing from ``golden``, cycles or traffic differing from the cost report."""
        out = list(self.errors)
        for name, want in golden.items():
            got = self.outputs.get(name)
            if got is None or not np.array_equal(got, want):
                where = "missing" if got is None else f"first difference at {np.argwhere(got != want)[0].tolist()}"
                out.append(f"{self.policy}: output {name} differs from the golden model ({where})")
        if self.cycles != self.schedule.cycles:
            out.append(f"{self.policy}: {self.cycles} cycles measured, the cost report says {self.schedule.cycles}")
        if self.offchip_bytes != self.schedule.offchip_bytes:
            out.append(
                f"{self.policy}: {self.offchip_bytes} off-chip bytes measured, the cost report says "
                f"{self.schedule.offchip_bytes}"
            )
        return out


def memory_spec(engine: ScheduleEngine, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """The memory model's parameters and initial contents for ``engine``."""
    p = engine.plan
    tensors = {}
    for name, tid in p.tensor_ids.items():
        task = p.graph.tasks[name]
        data = None
        if task.op == "input":
            if name not in inputs:
                raise ConfigError(f"graph.{name}", "no data given for this input")
            data = task.dtype.array(inputs[name]).astype(np.int64).tolist()
        tensors[name] = {
            "id": tid,
            "rows": task.rows,
            "cols": task.cols,
            "bytes": -(-task.dtype.width // 8),
            "width": task.dtype.width,
            "signed": task.dtype.signed,
            "data": data,
        }
    lay = req_layout(p)
    return {
        "tensors": tensors,
        "bytes_per_cycle": p.machine.offchip_bytes_per_cycle,
        "latency": p.machine.offchip_latency,
        "tensor_bits": Shape.cast(lay.members["tensor"]).width,
        "row_bits": Shape.cast(lay.members["row"]).width,
        "data_width": p.data_width,
        "max_cycles": 4 * p.schedule.cycles + 10_000,
    }


def engine_signals(engine: ScheduleEngine) -> dict[str, Value]:
    sig = {}
    for port in ("mem_req", "mem_rd", "mem_wr"):
        s = getattr(engine, port)
        sig[f"{port}__valid"] = s.valid
        sig[f"{port}__ready"] = s.ready
        sig[f"{port}__payload"] = Value.cast(s.payload).as_unsigned()
    sig["done"] = engine.done
    return sig


DRIVEN = ["mem_req__ready", "mem_rd__valid", "mem_rd__payload", "mem_wr__ready"]


def run_schedule(
    graph: TaskGraph,
    machine: Machine,
    policy: str | Schedule,
    inputs: dict[str, np.ndarray],
    *,
    sim: str = "amaranth",
    name: str | None = None,
    memory_latency: int | None = None,
) -> EngineRun:
    """Compile (``policy``, or a schedule compiled already), build and simulate; ``sim`` is ``amaranth``
    (Amaranth's simulator), ``native`` (the generated Verilog in the native Verilator bench), or ``verilator``
    / ``icarus`` (under cocotb).

    ``memory_latency`` makes the simulated memory slower (or faster) than ``machine`` says: the engine
    must still compute the right outputs (its slots wait for late data), but its cycles then differ
    from the cost report."""
    for n, t in graph.tasks.items():
        if t.op == "input" and n not in inputs:
            raise ConfigError(f"graph.{n}", "no data given for this input")
    if isinstance(policy, Schedule):  # compiled already (e.g. with options)
        schedule, policy = policy, policy.policy
    else:
        schedule = compile_schedule(graph, machine, policy)  # type: ignore[arg-type]
    engine = build_engine(graph, machine, schedule)
    spec = memory_spec(engine, inputs)
    if memory_latency is not None:
        spec["latency"] = memory_latency
    if sim == "amaranth":
        model = MemoryModel(
            spec["tensors"],
            spec["bytes_per_cycle"],
            spec["latency"],
            tensor_bits=spec["tensor_bits"],
            row_bits=spec["row_bits"],
            data_width=spec["data_width"],
            max_cycles=spec["max_cycles"],
        )
        with step(f"amaranth: simulating the {graph.name} engine ({policy})", after=2.0):
            run_amaranth_model(engine, model, engine_signals(engine), DRIVEN)
        res = model.result
    elif sim == "native":
        top = name or f"engine_{graph.name}_{policy}"
        res = MemoryResult(**run_native_memory(to_verilog(engine, top), top, engine, spec))
    else:
        top = name or f"engine_{graph.name}_{policy}"
        res = MemoryResult(**run_cocotb_memory(to_verilog(engine, top), top, spec, sim=sim))
    outputs = {}
    for out in graph.outputs():
        t = graph.tasks[out]
        outputs[out] = np.array(res.tensors[out], dtype=np.int64).reshape(t.rows, t.cols)
    return EngineRun(policy, schedule, outputs, res.done_cycle, res.bytes_read + res.bytes_written, list(res.errors))
