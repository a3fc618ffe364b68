"""The engine's core pipelining chosen for a target clock (``Machine.clock_mhz``).

Every core of an engine is a :class:`~hwgen.blocks.gemm.RecordCoreConfig`
with the graph's one datapath (:func:`.support.core_types`), so the engine's
clock is bounded by that core's paths: :func:`machine_for_clock` asks the
record core's Fmax estimate (:func:`hwgen.estimate.timing.for_clock`) for the
cheapest ``epilogue_stages`` / ``mac_stages`` that meet the clock and fills
in the ones the machine leaves ``None``; ``feed_stages`` follows the MAC
stages (the feeds' register comes with the cores' registered operands: the
core estimate does not see the feed path). The compiler and the engine both
call it, so the cost model and the hardware use the same stages. At the fastest
stages on ECP5 the cores' multipliers are MULT18X18D cells (:func:`core_dsp_cells`).
"""

from __future__ import annotations

from dataclasses import replace

from ..blocks.gemm import GemmCoreConfig, RecordCoreConfig
from ..estimate.timing import for_clock
from ..numtype import NumType
from ..primitives import MULT18_BITS
from .graph import TaskGraph
from .machine import Machine
from .ops import op_graph
from .support import check_buildable, core_types

STAGES = ("epilogue_stages", "mac_stages")


def engine_core(graph: TaskGraph, machine: Machine) -> RecordCoreConfig:
    """A core with the engine's datapath (one slice as deep as the deepest gemm), its stages as the machine
    sets them (``None``: auto)."""
    opg = op_graph(graph)
    gemms = check_buildable(opg)
    act, weight, acc = core_types(opg, gemms)
    k = max(graph.tasks[op].weights.shape[0] for op in gemms)
    lanes = machine.lanes
    slice_ = GemmCoreConfig(weights=((0,) * lanes,) * k, lanes=lanes, act=act, weight=weight, acc=acc)
    stages = {name: getattr(machine, name) for name in STAGES}
    cells = core_dsp_cells(machine, act, weight) if machine.resolved else "inferred"
    return RecordCoreConfig(slices=(slice_,), **stages, dsp_cells=cells)


def core_dsp_cells(machine: Machine, act: NumType, weight: NumType) -> str:
    """The cores' multipliers (``RecordCoreConfig.dsp_cells``): ECP5 MULT18X18D cells with their own
    registers where the cores' stages are the fastest (epilogue 5, MAC 2) on ECP5 and the operands fit —
    the same cycles, and no route into or out of a DSP shares a cycle with logic; else inferred."""
    fastest = (machine.epilogue_stages, machine.mac_stages) == (5, 2)
    fits = max(act.width, weight.width) <= MULT18_BITS
    return "mult18x18d" if machine.family == "ecp5" and fastest and fits else "inferred"


def machine_for_clock(graph: TaskGraph, machine: Machine) -> tuple[Machine, str]:
    """``machine`` with its ``None`` core stages chosen for ``machine.clock_mhz``, and a note of the choice
    ("" when the machine set them all)."""
    if machine.resolved:
        return machine, ""
    core, note = for_clock(engine_core(graph, machine), machine.clock_mhz, machine.family)
    if not note:
        note = f"no Fmax estimate for {machine.family}: the cores keep their default stages"
    chosen = {name: getattr(core, name) for name in STAGES}
    feed = machine.feed_stages if machine.feed_stages is not None else int(chosen["mac_stages"] >= 2)
    return replace(machine, **chosen, feed_stages=feed), note
