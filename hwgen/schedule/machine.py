"""The target machine of a schedule: compute cores, on-chip buffer, off-chip memory."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..structure import FAMILIES
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
    #: register stages of each core (:class:`~hwgen.blocks.gemm.RecordCoreConfig`): in the requantization
    #: epilogue (``epilogue_stages``, 0..5), between the weight ROM and the
    #: accumulators (``mac_stages``, 0..2); None: chosen for ``clock_mhz`` (:func:`.timing.machine_for_clock`),
    #: 0 without a clock
    epilogue_stages: int | None = None
    mac_stages: int | None = None
    #: a register stage on every unit's input feed (a scratchpad or input-buffer read would otherwise reach a
    #: core's activation register in the same cycle); 0..1, one cycle more per unit row; None: 1 when the
    #: clock's choice is ``mac_stages`` 2, else 0
    feed_stages: int | None = None
    clock_mhz: float | None = None  # target clock of the engine on ``family``
    family: str = "ecp5"

    def __post_init__(self) -> None:
        if self.clock_mhz is None:
            for name in ("epilogue_stages", "mac_stages", "feed_stages"):
                if getattr(self, name) is None:
                    object.__setattr__(self, name, 0)
        self.validate()

    @property
    def resolved(self) -> bool:
        """Every core stage count is known (set, or chosen for the clock)."""
        return self.epilogue_stages is not None and self.mac_stages is not None and self.feed_stages is not None

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming ``machine.<field>`` for a value no engine can be built for."""
        integer(self.cores, "machine.cores", lo=1, hi=256)
        integer(self.lanes, "machine.lanes", lo=1, hi=64)
        integer(self.onchip_bytes, "machine.onchip_bytes", lo=0)
        real(self.offchip_bytes_per_cycle, "machine.offchip_bytes_per_cycle", positive=True)
        integer(self.offchip_latency, "machine.offchip_latency", lo=1, hi=1 << 20)
        integer(self.switch_cycles, "machine.switch_cycles", lo=2, hi=1 << 20)
        for name, hi in (("epilogue_stages", 5), ("mac_stages", 2), ("feed_stages", 1)):
            if getattr(self, name) is not None:
                integer(getattr(self, name), f"machine.{name}", lo=0, hi=hi)
        if self.clock_mhz is not None:
            clock = real(self.clock_mhz, "machine.clock_mhz", positive=True)
            if clock > 2000:
                raise ConfigError("machine.clock_mhz", f"{clock:g} is not a clock in (0, 2000] MHz")
        if self.family not in FAMILIES:
            raise ConfigError("machine.family", f"{self.family!r} is not one of {', '.join(FAMILIES)}")
