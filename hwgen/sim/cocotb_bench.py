"""The cocotb testbench: drives a generated design's streams from a vector file.

Run by :func:`hwgen.sim.runner.run_cocotb` (never imported by the host
process). The bench reads the JSON file named by ``HWGEN_BENCH`` (raw input
payloads, expected output payloads, phases), runs the
:class:`~hwgen.sim.streams.StreamEngine` once per phase with a reset in
between, writes every observation to ``HWGEN_RESULT`` and fails the cocotb
test on any mismatch, missing or extra beat, or timeout. Progress goes to
``HWGEN_PROGRESS`` (one line, rewritten every few thousand cycles).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from hwgen.sim.cocotb_clocking import reset, start_clock
from hwgen.sim.streams import OffchipMemory, Phase, StreamEngine


def _write_progress(path: str | None, text: str) -> None:
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)


def _sample(handles: dict[str, Any]) -> tuple[dict[str, int], list[str]]:
    """Every handle's value, and the names of those carrying X/Z bits where that matters.

    A payload is don't-care while its valid is low (the stream rule), so X/Z bits there read as 0: on
    Icarus, a pipeline register that Yosys's time-0 trigger of an ``always @*`` block missed holds X
    until data flows through it, where Amaranth's simulator and Verilator start it at 0. Valid and
    ready, and a payload whose valid is high, must be fully resolved."""
    values: dict[str, int] = {}
    bad: list[str] = []
    for name, h in handles.items():
        if h.value.is_resolvable:
            values[name] = int(h.value)
            continue
        values[name] = 0
        port, _, signal = name.rpartition("__")
        valid = handles[f"{port}__valid"].value
        if signal != "payload" or not valid.is_resolvable or int(valid):
            bad.append(name)
    return values, bad


@cocotb.test()
async def stream_bench(dut: Any) -> None:
    """Drive every phase of the vector file and check outputs in order."""
    with open(os.environ["HWGEN_BENCH"]) as f:
        spec = json.load(f)
    progress = os.environ.get("HWGEN_PROGRESS")
    inputs: dict[str, list[int]] = spec["inputs"]
    expected: dict[str, list[int]] = spec["expected"]
    handles = {}
    for p in inputs:
        for s in ("valid", "ready", "payload"):
            handles[f"{p}__{s}"] = getattr(dut, f"{p}__{s}")
    for p in expected:
        for s in ("valid", "ready", "payload"):
            handles[f"{p}__{s}"] = getattr(dut, f"{p}__{s}")
    driven = [f"{p}__{s}" for p in inputs for s in ("valid", "payload")] + [f"{p}__ready" for p in expected]

    await start_clock(dut, [handles[n] for n in driven])
    results = []
    total_out = sum(len(v) for v in expected.values())
    for phase_spec in spec["phases"]:
        memory = phase_spec.pop("memory", None)
        phase = Phase(**phase_spec, memory=OffchipMemory(**memory) if memory else None)
        await reset(dut, [handles[n] for n in driven])
        engine = StreamEngine(inputs, expected, phase, timeout_cycles=spec.get("timeout_cycles", 2000))
        first = True
        t0 = time.perf_counter()
        while not engine.finished:
            # cycle 0 is the first cycle with reset low (as in the Amaranth bench): drive it right away
            if not first:
                await FallingEdge(dut.clk)
            first = False
            for name, value in engine.drive().items():
                handles[name].value = value
            await ReadOnly()
            values, bad = _sample(handles)
            if bad:
                raise AssertionError(
                    f"[{phase.name}] cycle {engine.cycle}: {', '.join(bad)} carry X/Z bits "
                    f"(an uninitialized or undriven signal)"
                )
            engine.sample(values)
            if engine.cycle % 4096 == 0:
                done = sum(len(v) for v in engine.result.got.values())
                _write_progress(progress, f"phase {phase.name}: {done}/{total_out} results, cycle {engine.cycle}")
        results.append(engine.finish())
        results[-1].seconds = time.perf_counter() - t0
        _write_progress(progress, f"phase {phase.name}: done in {engine.cycle} cycles")

    with open(os.environ["HWGEN_RESULT"], "w") as f:
        json.dump([r.to_json() for r in results], f)
    problems = [f"[{r.name}] {e}" for r in results for e in r.errors]
    assert not problems, "; ".join(problems[:5])
