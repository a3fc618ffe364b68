"""Reconfigurable multi-task schedules (InTAR): task graphs, the schedule compiler, its cost model and engine."""

from .compiler import POLICIES, Schedule, compile_schedule
from .graph import TaskGraph
from .machine import Machine
from .places import BufferKey, BufferKind, Endpoint, Pattern, Place
from .records import ConfigRecord

__all__ = [
    "TaskGraph",
    "Machine",
    "Schedule",
    "ConfigRecord",
    "compile_schedule",
    "POLICIES",
    "Place",
    "Endpoint",
    "Pattern",
    "BufferKind",
    "BufferKey",
]
