"""The generated hardware of a compiled schedule: cores, buffers, memory sequencer and stage controller.

:func:`build_engine` turns a :class:`~hwgen.schedule.compiler.Schedule` into
one Amaranth component that runs the whole graph:

* **cores**: one :class:`~hwgen.blocks.gemm.RecordCore` per compute core the
  schedule uses. Its record ROM lists, stage by stage, the gemm slice it runs
  (the task's weight columns ``n0:n1``, its fused requantization and ReLU)
  and the rows; its weight ROM holds every slice it serves.
* **buffers** (only those the schedule needs): an input ring buffer (2 rows,
  more where a join waits for a longer path) per op input that is a stream
  or off-chip data, a scratchpad per tensor kept on chip
  between stages, a 2-row write-back buffer per tensor written off-chip;
  each stored as one memory bank per writer (a core's column range, or the
  memory sequencer), so every memory has one write port and maps to RAM.
* **feeders** (one per op) stream a row of the op's input to every core of
  the op; **routers** (one per core) write each result into all of the
  tensor's destinations (consumer input buffers, scratchpad, write-back
  buffer) at its column.
* the **memory sequencer**: every slot it writes back the finished off-chip
  rows and then fetches the next input rows, one request at a time, through
  the ``mem_req`` / ``mem_rd`` / ``mem_wr`` streams to the off-chip memory
  (in simulation: :class:`hwgen.sim.memory.MemoryModel`).
* the **controller** steps through the stage records (``slot_cycles``,
  ``slots``): ``switch_cycles`` to switch, then the slots; a slot ends when
  its time is up and every unit is idle (so a model error shows as extra
  cycles, never as wrong data). ``done`` rises after the last stage.

Timing is the compiler's cost model (see :mod:`hwgen.schedule.compiler`):
``Σ_stages switch_cycles + slots · slot_cycles`` cycles to ``done``.
Supported graphs: gemm tasks (wrapping accumulators of one type) with an
optional requantization and then ReLU fused after each, element-wise
adds (fork/join; an adder unit per add, nothing fused after it), and row ops
(softmax, norm, activation: a unit per op, its block's component,
:mod:`hwgen.schedule.rowops`), and attention (a decode-attention unit per
op reading q row by row and K, V whole from scratchpads, :mod:`.attention`).

Components, one module each: :mod:`.plan` (the static tables),
:mod:`.controller`, :mod:`.buffers`, :mod:`.units` (cores, adders, feeders),
:mod:`.routers`, :mod:`.sequencer`.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..compiler import Schedule
from ..graph import TaskGraph
from ..machine import Machine
from .buffers import Buffer, EngineBuffers
from .controller import Controller
from .plan import EnginePlan, OpPlan, plan_engine
from .routers import build_routers
from .sequencer import MemorySequencer
from .units import build_cores, build_feeders, build_row_units, concat_phases, connect_units


def req_layout(plan: EnginePlan) -> data.StructLayout:
    """The ``mem_req`` payload: ``{write, tensor id, row}``."""
    return data.StructLayout(
        {"write": 1, "tensor": range(max(len(plan.tensor_ids), 2)), "row": range(max(plan.rows, 2))}
    )


class ScheduleEngine(wiring.Component):
    """The engine; see the package docstring. Ports: ``mem_req``, ``mem_rd``, ``mem_wr`` streams, ``done``."""

    def __init__(self, plan: EnginePlan):
        self.plan = plan
        W = plan.data_width
        super().__init__(
            {
                "mem_req": Out(stream.Signature(req_layout(plan))),
                "mem_rd": In(stream.Signature(W)),
                "mem_wr": Out(stream.Signature(W)),
                "done": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        plan = self.plan
        ctrl = Controller(m, plan, self.done)
        bufs = EngineBuffers(m, plan)
        cores = build_cores(m, plan)
        rows = build_row_units(m, plan)
        phases = concat_phases(plan)
        feeds = build_feeders(m, plan, ctrl, bufs, cores, rows, phases)
        producers = connect_units(m, plan, ctrl, bufs, cores, rows, feeds, phases)
        build_routers(m, plan, ctrl, bufs, producers)
        MemorySequencer(m, plan, ctrl, bufs, self).build()
        ctrl.step()
        return m


def build_engine(graph: TaskGraph, machine: Machine, schedule: Schedule) -> ScheduleEngine:
    """The engine component for ``schedule`` (compiled from ``graph`` for ``machine``)."""
    return ScheduleEngine(plan_engine(graph, machine, schedule))


__all__ = ["ScheduleEngine", "build_engine", "req_layout", "plan_engine", "EnginePlan", "OpPlan", "Buffer"]
