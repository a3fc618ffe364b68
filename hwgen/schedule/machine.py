"""The target machine of a schedule: compute cores, on-chip buffer, off-chip memory."""

from __future__ import annotations

from dataclasses import dataclass

from ..values import integer, real


@dataclass(frozen=True)
class Machine:
    """The target: compute cores, on-chip buffer, off-chip memory."""

    cores: int = 2
    lanes: int = 16  # MACs per cycle per core (output columns per pass)
    onchip_bytes: int = 64 * 1024
    offchip_bytes_per_cycle: float = 16.0
    offchip_latency: int = 40  # cycles from a read request to its first data
    switch_cycles: int = 4  # cycles to switch stages (read + latch the stage record, ...)
    epilogue_stages: int = 0  # registers in each core's requantization epilogue (RecordCoreConfig), 0..2

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming ``machine.<field>`` for a value no engine can be built for."""
        integer(self.cores, "machine.cores", lo=1, hi=256)
        integer(self.lanes, "machine.lanes", lo=1, hi=64)
        integer(self.onchip_bytes, "machine.onchip_bytes", lo=0)
        real(self.offchip_bytes_per_cycle, "machine.offchip_bytes_per_cycle", positive=True)
        integer(self.offchip_latency, "machine.offchip_latency", lo=1, hi=1 << 20)
        integer(self.switch_cycles, "machine.switch_cycles", lo=2, hi=1 << 20)
        integer(self.epilogue_stages, "machine.epilogue_stages", lo=0, hi=2)
