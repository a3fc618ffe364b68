"""The target machine of a schedule: compute cores, on-chip buffer, off-chip memory."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Machine:
    """The target: compute cores, on-chip buffer, off-chip memory."""

    cores: int = 2
    lanes: int = 16  # MACs per cycle per core (output columns per pass)
    onchip_bytes: int = 64 * 1024
    offchip_bytes_per_cycle: float = 16.0
    offchip_latency: int = 40  # cycles from a read request to its first data
    switch_cycles: int = 4  # cycles to switch stages (read + latch the stage record, ...)

    def validate(self) -> None:
        if not isinstance(self.cores, int) or self.cores < 1:
            raise ConfigError("machine.cores", f"{self.cores!r}: a schedule needs at least one compute core")
        if self.lanes < 1:
            raise ConfigError("machine.lanes", f"{self.lanes!r}: lanes must be positive")
        if self.offchip_bytes_per_cycle <= 0:
            raise ConfigError("machine.offchip_bytes_per_cycle", f"{self.offchip_bytes_per_cycle!r} must be > 0")
        if self.onchip_bytes < 0:
            raise ConfigError("machine.onchip_bytes", f"{self.onchip_bytes!r} must be >= 0")
        if self.offchip_latency < 1:
            raise ConfigError("machine.offchip_latency", f"{self.offchip_latency!r}: at least 1 cycle")
        if self.switch_cycles < 2:
            raise ConfigError(
                "machine.switch_cycles",
                f"{self.switch_cycles!r}: at least 2 cycles (the controller reads and latches the stage record)",
            )
