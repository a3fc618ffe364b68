"""The native bench of a schedule engine: the off-chip memory model of :mod:`hwgen.sim.memory` in C++.

The harness (``templates/sim/native_memory.cpp.j2``) serves the engine's
``mem_req`` / ``mem_rd`` / ``mem_wr`` streams with exactly the rules of
:class:`~hwgen.sim.memory.MemoryModel` (one request at a time, the shared
bandwidth rule, posted writes) until ``done`` rises, and reports what the
memory saw. Same inputs and outputs as
:func:`hwgen.sim.runner.run_cocotb_memory`: ``spec`` from
:func:`hwgen.schedule.run.memory_spec`, the result as
:class:`~hwgen.sim.memory.MemoryResult` fields.

Bench file (little-endian 64-bit): magic, free-run cycles (0: serve the
engine; else only clock it that long, a speed reference), tensor count, per tensor its id,
rows, cols, bytes per element, width, signedness and ``rows × cols`` values
(zeros for a tensor the engine writes); bandwidth (a double), latency, tensor
and row field widths, data width, the cycle limit. Result file: the loop's
seconds (a double), the ``done`` cycle (``NONE``: never), bytes read and written, the requests (cycle, write,
tensor id, row), the errors (kind, cycle, tensor id, row), every tensor's
final values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import wiring

from ..errors import ToolError
from ..ports import payload_shape
from ..render import environment
from .native_build import MAGIC, NONE, Cursor, build_native, run_binary, u64_bytes

PORTS = ("mem_req", "mem_rd", "mem_wr")


def memory_harness_source(top: str) -> str:
    return environment().get_template("sim/native_memory.cpp.j2").render(top=top)


def memory_bench_file(spec: dict[str, Any], free_cycles: int = 0) -> bytes:
    """The harness's input for the memory model ``spec`` (see the module docstring)."""
    parts = [u64_bytes(MAGIC, free_cycles, len(spec["tensors"]))]
    for t in spec["tensors"].values():
        parts.append(u64_bytes(t["id"], t["rows"], t["cols"], t["bytes"], t["width"], int(t["signed"])))
        data = t["data"] if t.get("data") is not None else np.zeros((t["rows"], t["cols"]), dtype=np.int64)
        parts.append(np.asarray(data, dtype="<i8").reshape(-1).tobytes())
    parts.append(np.asarray([float(spec["bytes_per_cycle"])], dtype="<f8").tobytes())
    parts.append(np.asarray([int(spec["latency"])], dtype="<i8").tobytes())
    parts.append(u64_bytes(spec["tensor_bits"], spec["row_bits"], spec["data_width"], spec["max_cycles"]))
    return b"".join(parts)


def _errors(cur: Cursor, by_id: dict[int, str], max_cycles: int) -> list[str]:
    out = []
    for _ in range(cur.u64()):
        kind, cycle, tid, row = cur.u64s(4).tolist()
        if kind == 1:
            out.append(f"cycle {cycle}: request for tensor id {tid} row {row}: no such row")
        else:
            out.append(f"timeout: no done after {max_cycles} cycles")
    return out


def read_memory_result(data: bytes, spec: dict[str, Any]) -> dict[str, Any]:
    """Decode the harness's result into :class:`~hwgen.sim.memory.MemoryResult` fields."""
    cur = Cursor(data)
    seconds = cur.f64()
    done, bytes_read, bytes_written = cur.u64s(3).tolist()
    flat = cur.counted()
    by_id = {t["id"]: name for name, t in spec["tensors"].items()}
    requests = [(flat[k], bool(flat[k + 1]), by_id[flat[k + 2]], flat[k + 3]) for k in range(0, len(flat), 4)]
    errors = _errors(cur, by_id, spec["max_cycles"])
    tensors = {}
    for name, t in spec["tensors"].items():
        n = t["rows"] * t["cols"]
        values = np.frombuffer(cur.data, dtype="<i8", count=n, offset=cur.at)
        cur.at += 8 * n
        tensors[name] = values.reshape(t["rows"], t["cols"]).tolist()
    return {
        "tensors": tensors,
        "bytes_read": bytes_read,
        "bytes_written": bytes_written,
        "requests": requests,
        "done_cycle": None if done == NONE else done,
        "errors": errors,
        "seconds": seconds,
    }


def run_native_memory(
    verilog: str, top: str, component: wiring.Component, spec: dict[str, Any], *, work_dir: Path | None = None
) -> dict[str, Any]:
    """Run the schedule engine ``top`` against the memory model in the native harness; returns what the
    memory saw (:class:`~hwgen.sim.memory.MemoryResult` fields)."""
    for p in PORTS:
        width = Shape.cast(payload_shape(component, p)).width
        if width > 64:
            raise ToolError("native bench", f"{top}.{p} carries {width}-bit payloads; the memory harness takes <= 64")
    binary = build_native(verilog, top, memory_harness_source(top), kind="native-memory", work_dir=work_dir)
    out, _ = run_binary(binary, memory_bench_file(spec), f"native: running {top} against the memory model")
    return read_memory_result(out, spec)


def free_running_memory_seconds(
    verilog: str,
    top: str,
    component: wiring.Component,
    spec: dict[str, Any],
    cycles: int,
    *,
    work_dir: Path | None = None,
) -> float:
    """Seconds the engine's Verilator model takes to clock ``cycles`` cycles with no memory model (requests
    and writes always ready, no read data), timed in the harness: the ceiling of the memory bench's speed."""
    binary = build_native(verilog, top, memory_harness_source(top), kind="native-memory", work_dir=work_dir)
    out, _ = run_binary(binary, memory_bench_file(spec, free_cycles=cycles), f"native: free-running {top}")
    return Cursor(out).f64()
