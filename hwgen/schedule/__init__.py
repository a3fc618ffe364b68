"""Reconfigurable multi-task schedules (InTAR): task graphs, the schedule compiler and its cost model."""

from .compiler import POLICIES, ConfigRecord, Machine, Schedule, compile_schedule
from .graph import TaskGraph, round_shift

__all__ = ["TaskGraph", "Machine", "Schedule", "ConfigRecord", "compile_schedule", "POLICIES", "round_shift"]
