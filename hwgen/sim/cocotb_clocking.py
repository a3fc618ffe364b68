"""Clock and reset for the cocotb benches (shared by the stream bench and the memory bench).

Cycle 0 of a run is the first cycle with reset low, as in the Amaranth bench: after :func:`reset`
returns, drive cycle 0's inputs at once, then ``await FallingEdge(dut.clk)`` before each later cycle.
"""

from __future__ import annotations

from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer


async def start_clock(dut: Any, driven: list) -> None:
    """Zero the driven inputs, let the design settle 1 ns, then start a 100 MHz clock.

    A rising edge at time 0 races Amaranth's time-0 evaluation of its ``always @*`` blocks on Icarus
    and latches X into registers; the settle time avoids it."""
    for h in driven:
        h.value = 0
    await Timer(1, "ns")
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())


async def reset(dut: Any, driven: list) -> None:
    """Hold reset for two rising edges with the driven inputs at 0; returns at the falling edge that
    begins cycle 0 (leaving any previous ReadOnly step first)."""
    await FallingEdge(dut.clk)
    for h in driven:
        h.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
