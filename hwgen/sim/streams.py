"""Simulator-independent stream drivers and monitors: one phase of a verification run, cycle by cycle.

The same engine runs inside cocotb (on the generated Verilog) and inside the
Amaranth simulator, so both levels push identical stimulus with identical
random stalls and check identically. Each cycle the simulator adapter:

1. asks :meth:`StreamEngine.drive` for the values of every ``<port>__valid``,
   ``<port>__payload`` (inputs) and ``<port>__ready`` (outputs);
2. applies them, lets combinational logic settle, and hands the settled
   ``valid``/``ready``/``payload`` values back through :meth:`StreamEngine.sample`;
3. advances the clock by one rising edge.

A beat is transferred at the rising edge that ends a cycle in which both
``valid`` and ``ready`` were high. Sources follow the stream rules: once
``valid`` is raised it stays up, with the same payload, until the beat is
taken. Random gaps on inputs and random ``ready`` drops on outputs are drawn
from a seeded generator.

Timing records (cycle numbers count from the first cycle after reset):
``accepted[port]`` for every input beat, ``first_valid[port]`` (the first
cycle each output beat was offered) and ``taken[port]`` for outputs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ..bandwidth import transfer_cycles
from ..errors import ConfigError


@dataclass
class Phase:
    """One run of the whole stimulus with given stall probabilities."""

    name: str
    in_gap: float = 0.0  # probability an input leaves a cycle idle between beats
    out_stall: float = 0.0  # probability an output deasserts ready in a cycle
    seed: int = 1
    memory: OffchipMemory | None = None  # inputs read from an off-chip memory model (no random gaps)


@dataclass(frozen=True)
class OffchipMemory:
    """Off-chip memory behind an input stream: a read of the whole stream is issued at cycle 0, the first
    bytes arrive after ``latency`` cycles, then ``bytes_per_cycle`` bytes per cycle fill an unbounded read
    buffer. Beat ``j`` (``beat_bytes`` bytes each) can be offered from cycle
    ``latency + ceil((j + 1) · beat_bytes / bytes_per_cycle) - 1`` on."""

    bytes_per_cycle: float
    latency: int = 0
    beat_bytes: int = 1

    def __post_init__(self) -> None:
        if not self.bytes_per_cycle > 0:
            raise ConfigError("memory.bytes_per_cycle", f"{self.bytes_per_cycle!r} must be > 0")
        if self.latency < 0:
            raise ConfigError("memory.latency", f"{self.latency!r} must be >= 0")
        if self.beat_bytes < 1:
            raise ConfigError("memory.beat_bytes", f"{self.beat_bytes!r} must be >= 1")

    def available(self, beat: int) -> int:
        """First cycle beat ``beat`` (0-based) can be offered."""
        return self.latency + transfer_cycles(beat + 1, self.beat_bytes, self.bytes_per_cycle) - 1

    def arrivals(self, beats: int) -> list[int]:
        return [self.available(j) for j in range(beats)]


@dataclass
class PhaseResult:
    """What one phase observed."""

    name: str
    cycles: int = 0
    got: dict[str, list[int]] = field(default_factory=dict)
    accepted: dict[str, list[int]] = field(default_factory=dict)
    first_valid: dict[str, list[int]] = field(default_factory=dict)
    taken: dict[str, list[int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    mismatch: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @staticmethod
    def from_json(d: dict[str, Any]) -> PhaseResult:
        return PhaseResult(**d)


class StreamEngine:
    """Drives input streams and checks output streams for one phase.

    Args:
        inputs: input port -> raw payloads to send, in order.
        expected: output port -> raw payloads expected, in order.
        phase: stall probabilities and seed.
        drain_cycles: cycles to keep watching after the last expected beat,
            to catch duplicated or spurious output beats.
        timeout_cycles: cycles without any transfer before giving up.
    """

    def __init__(
        self,
        inputs: dict[str, list[int]],
        expected: dict[str, list[int]],
        phase: Phase,
        *,
        drain_cycles: int = 16,
        timeout_cycles: int = 2000,
    ):
        self.inputs = inputs
        self.expected = expected
        self.phase = phase
        self.rng = random.Random(phase.seed)
        self.drain_cycles = drain_cycles
        self.timeout_cycles = timeout_cycles
        self.cycle = 0
        self.idle = 0
        self.drain_left: int | None = None
        self.next_in = {p: 0 for p in inputs}
        self.offering = {p: False for p in inputs}
        self.ready = {p: 1 for p in expected}
        self.seen_valid = {p: False for p in expected}
        self.result = PhaseResult(
            name=phase.name,
            got={p: [] for p in expected},
            accepted={p: [] for p in inputs},
            first_valid={p: [] for p in expected},
            taken={p: [] for p in expected},
        )

    # ------------------------------------------------------------ per cycle
    def drive(self) -> dict[str, int]:
        """Values to apply to the DUT's stream inputs for this cycle."""
        values: dict[str, int] = {}
        for p, beats in self.inputs.items():
            i = self.next_in[p]
            if i < len(beats) and not self.offering[p]:
                if self.phase.memory is not None:
                    self.offering[p] = self.cycle >= self.phase.memory.available(i)
                else:
                    self.offering[p] = self.rng.random() >= self.phase.in_gap
            offer = self.offering[p] and i < len(beats)
            values[f"{p}__valid"] = int(offer)
            values[f"{p}__payload"] = beats[i] if offer else 0
        for p in self.expected:
            draining = self.drain_left is not None
            self.ready[p] = 1 if draining else int(self.rng.random() >= self.phase.out_stall)
            values[f"{p}__ready"] = self.ready[p]
        return values

    def sample(self, values: dict[str, int]) -> None:
        """Record the settled handshake signals of this cycle (transfers at the next edge)."""
        moved = False
        r = self.result
        for p in self.inputs:
            if values[f"{p}__valid"] and values[f"{p}__ready"]:
                r.accepted[p].append(self.cycle)
                self.next_in[p] += 1
                self.offering[p] = False
                moved = True
        for p, exp in self.expected.items():
            valid = values[f"{p}__valid"]
            k = len(r.got[p])
            if valid and not self.seen_valid[p]:
                r.first_valid[p].append(self.cycle)
                self.seen_valid[p] = True
            if valid and values[f"{p}__ready"]:
                payload = values[f"{p}__payload"]
                if k >= len(exp):
                    r.errors.append(
                        f"{p}: extra output beat #{k} (payload {payload:#x}) at cycle "
                        f"{self.cycle}; only {len(exp)} expected"
                    )
                elif payload != exp[k] and r.mismatch is None:
                    r.mismatch = {"port": p, "index": k, "expected": exp[k], "got": payload, "cycle": self.cycle}
                    r.errors.append(
                        f"{p}: beat #{k} mismatch at cycle {self.cycle}: expected {exp[k]:#x}, got {payload:#x}"
                    )
                r.got[p].append(payload)
                r.taken[p].append(self.cycle)
                self.seen_valid[p] = False
                moved = True
        self.idle = 0 if moved else self.idle + 1
        self.cycle += 1
        if self.drain_left is None and self._all_done():
            self.drain_left = self.drain_cycles
        elif self.drain_left is not None:
            self.drain_left -= 1
        if self.idle > self.timeout_cycles and not self.finished:
            self._timeout()

    # ------------------------------------------------------------- status
    def _all_done(self) -> bool:
        return all(self.next_in[p] >= len(b) for p, b in self.inputs.items()) and all(
            len(self.result.got[p]) >= len(e) for p, e in self.expected.items()
        )

    @property
    def finished(self) -> bool:
        """True once everything is checked (or the run has failed for good)."""
        return (self.drain_left is not None and self.drain_left <= 0) or any(
            e.startswith("timeout") for e in self.result.errors
        )

    def _timeout(self) -> None:
        sent = {p: f"{self.next_in[p]}/{len(b)}" for p, b in self.inputs.items()}
        got = {p: f"{len(self.result.got[p])}/{len(e)}" for p, e in self.expected.items()}
        self.result.errors.append(
            f"timeout: no transfer for {self.timeout_cycles} cycles at cycle "
            f"{self.cycle}; inputs sent {sent}, outputs received {got}"
        )

    def finish(self) -> PhaseResult:
        """Close the phase: report missing beats, return the observations."""
        for p, exp in self.expected.items():
            if len(self.result.got[p]) < len(exp) and not any(e.startswith("timeout") for e in self.result.errors):
                self.result.errors.append(f"{p}: only {len(self.result.got[p])} of {len(exp)} beats arrived")
        self.result.cycles = self.cycle
        return self.result
