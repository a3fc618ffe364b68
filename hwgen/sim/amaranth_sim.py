"""Run the stream engine on a component in Amaranth's Python simulator.

This is the fast unit-test level: no Verilog, no C++ build. It runs the same
:class:`~hwgen.sim.streams.StreamEngine` as the cocotb bench.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import ClockDomain, Module, Value
from amaranth.lib import wiring
from amaranth.sim import Simulator

from ..ports import stream_ports
from ..vectors import StreamVectors
from .raw import to_raw
from .streams import Phase, PhaseResult, StreamEngine


def port_signals(component: wiring.Component) -> dict[str, Value]:
    """``<port>__valid/ready/payload`` -> the component's signals."""
    ins, outs = stream_ports(component)
    sigs: dict[str, Value] = {}
    for p in ins + outs:
        s = getattr(component, p)
        sigs[f"{p}__valid"] = s.valid
        sigs[f"{p}__ready"] = s.ready
        sigs[f"{p}__payload"] = Value.cast(s.payload).as_unsigned()
    return sigs


def run_amaranth(
    component: wiring.Component,
    vectors: StreamVectors,
    phases: list[Phase],
    *,
    timeout_cycles: int = 2000,
    vcd: str | None = None,
) -> list[PhaseResult]:
    """Push ``vectors`` through ``component`` once per phase; reset between phases."""
    raw_in, raw_exp = to_raw(component, vectors)
    sigs = port_signals(component)
    ins, outs = stream_ports(component)
    driven = [f"{p}__valid" for p in ins] + [f"{p}__payload" for p in ins] + [f"{p}__ready" for p in outs]
    results: list[PhaseResult] = []
    sync: ClockDomain

    async def bench(ctx: Any) -> None:
        for phase in phases:
            for name in driven:
                ctx.set(sigs[name], 0)
            ctx.set(sync.rst, 1)
            for _ in range(2):
                await ctx.tick()  # a plain await never raises DomainReset
            ctx.set(sync.rst, 0)
            engine = StreamEngine(raw_in, raw_exp, phase, timeout_cycles=timeout_cycles)
            while not engine.finished:
                for name, value in engine.drive().items():
                    ctx.set(sigs[name], value)
                engine.sample({name: ctx.get(sig) for name, sig in sigs.items()})
                await ctx.tick()
            results.append(engine.finish())

    sync = ClockDomain("sync")
    _simulate(component, sync, bench, vcd)
    return results


def run_amaranth_model(component: wiring.Component, model: Any, signals: dict[str, Value], driven: list[str]) -> None:
    """Step a simulator-independent model (``drive()`` / ``sample(values)`` / ``finished``) against
    ``component`` in Amaranth's simulator: reset for 2 cycles, then cycle 0 is the first with reset low."""

    async def bench(ctx: Any) -> None:
        for name in driven:
            ctx.set(signals[name], 0)
        ctx.set(sync.rst, 1)
        for _ in range(2):
            await ctx.tick()
        ctx.set(sync.rst, 0)
        while not model.finished:
            for name, value in model.drive().items():
                ctx.set(signals[name], value)
            model.sample({name: ctx.get(sig) for name, sig in signals.items()})
            await ctx.tick()

    sync = ClockDomain("sync")
    _simulate(component, sync, bench)


def _simulate(component: wiring.Component, sync: ClockDomain, bench: Any, vcd: str | None = None) -> None:
    """Run ``bench`` against ``component`` clocked by ``sync`` (100 MHz), optionally writing a VCD."""
    top = Module()
    top.submodules.dut = component
    top.domains.sync = sync
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
