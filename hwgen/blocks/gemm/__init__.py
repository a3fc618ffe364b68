"""GEMM compute cores for multi-task schedules (InTAR): a fixed core and a record-driven one, one datapath.

* :class:`GemmCoreConfig` (``gemm_core``): one constant weight slice in ROM,
  ``Y = epilogue(X · W)`` row by row (:mod:`.core`);
* :class:`RecordCoreConfig` (``record_core``): several tasks' slices in one
  ROM and a record ROM of ``(slice, rows)`` steps with run-time loop bounds
  and epilogue; a record switch costs 2 cycles (:mod:`.record`). The schedule
  engine's compute core.

Both run the same datapath (:mod:`.datapath`), the same requantization rule
(:mod:`hwgen.requant`, :func:`hwgen.arith.requantize`) and the same cycle
model (:mod:`.cycles`).
"""

from __future__ import annotations

from .core import GemmCore, GemmCoreConfig
from .cycles import PIPE, SWITCH_CYCLES, CoreClock, gemm_cycles
from .record import RecordCore, RecordCoreConfig

__all__ = [
    "GemmCore",
    "GemmCoreConfig",
    "RecordCore",
    "RecordCoreConfig",
    "CoreClock",
    "gemm_cycles",
    "PIPE",
    "SWITCH_CYCLES",
]
