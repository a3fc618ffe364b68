"""Simulator-independent stream drivers and monitors: one phase of a verification run, cycle by cycle.

The same rules run inside cocotb (on the generated Verilog), inside the
Amaranth simulator, and — as C++ — inside the native Verilator harness
(:mod:`hwgen.sim.native`), so every level pushes identical stimulus with
identical stalls and reaches the identical verdict. Each cycle the simulator
adapter:

1. asks :meth:`StreamEngine.drive` for the values of every ``<port>__valid``,
   ``<port>__payload`` (inputs) and ``<port>__ready`` (outputs);
2. applies them, lets combinational logic settle, and hands the settled
   ``valid``/``ready``/``payload`` values back through :meth:`StreamEngine.sample`;
3. advances the clock by one rising edge.

A beat is transferred at the rising edge that ends a cycle in which both
``valid`` and ``ready`` were high. Sources follow the stream rules: once
``valid`` is raised it stays up, with the same payload, until the beat is
taken.

Random stalls are *stateless*: whether input port ``k`` (in the order of the
inputs) stays idle in cycle ``c`` and whether output port ``k`` drops
``ready`` in cycle ``c`` is ``decision(seed, kind, k, c) < threshold``, with
:func:`decision` a splitmix64 hash and the threshold the probability scaled
to 2^64 (:func:`threshold`). So the decisions depend only on the phase's seed,
the port and the cycle — never on the order a simulator asks for them — and
the C++ harness computes the very same ones.

Timing records (cycle numbers count from the first cycle after reset):
``accepted[port]`` for every input beat, ``first_valid[port]`` (the first
cycle each output beat was offered) and ``taken[port]`` for outputs. The
errors of a phase (mismatch, extra or missing beats, timeout) are derived from
the records by :func:`phase_errors`, the same way for every bench.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..bandwidth import transfer_cycles
from ..errors import ConfigError

MASK64 = (1 << 64) - 1
#: decision kinds
IN_GAP, OUT_STALL = 1, 2


def splitmix64(x: int) -> int:
    """One step of the splitmix64 mixer (Steele, Lea, Flood 2014), on 64-bit unsigned integers."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def decision(seed: int, kind: int, port: int, cycle: int) -> int:
    """The 64-bit random value of (phase seed, decision kind, port index, cycle)."""
    h = splitmix64(seed & MASK64)
    h = splitmix64(h ^ ((kind << 32) | port))
    return splitmix64(h ^ (cycle & MASK64))


def threshold(probability: float) -> int:
    """``probability`` as a 64-bit threshold: an event happens when ``decision(...) < threshold``."""
    return min(MASK64, int(probability * 2.0**64)) if probability > 0 else 0


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
    timeout_cycle: int | None = None
    seconds: float = 0.0  # wall time of the phase's simulation loop (not part of what benches must agree on)

    @property
    def passed(self) -> bool:
        return not self.errors

    def transfers(self) -> dict[str, Any]:
        """Every recorded transfer (cycles and payloads): what two benches must agree on exactly."""
        return {
            "cycles": self.cycles,
            "got": self.got,
            "accepted": self.accepted,
            "first_valid": self.first_valid,
            "taken": self.taken,
        }

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @staticmethod
    def from_json(d: dict[str, Any]) -> PhaseResult:
        return PhaseResult(**d)


def phase_errors(
    result: PhaseResult, inputs: dict[str, list[int]], expected: dict[str, list[int]], timeout_cycles: int
) -> list[str]:
    """The errors of a phase from its records: a timeout, per output the first mismatching beat, extra
    beats, missing beats."""
    errors = []
    if result.timeout_cycle is not None:
        sent = {p: f"{len(result.accepted.get(p, []))}/{len(b)}" for p, b in inputs.items()}
        got = {p: f"{len(result.got.get(p, []))}/{len(e)}" for p, e in expected.items()}
        errors.append(
            f"timeout: no transfer for {timeout_cycles} cycles at cycle {result.timeout_cycle}; inputs sent "
            f"{sent}, outputs received {got}"
        )
    mismatch_reported = False
    for p, exp in expected.items():
        got, taken = result.got.get(p, []), result.taken.get(p, [])
        for k, payload in enumerate(got):
            if k >= len(exp):
                errors.append(
                    f"{p}: extra output beat #{k} (payload {payload:#x}) at cycle {taken[k]}; only {len(exp)} expected"
                )
            elif payload != exp[k] and not mismatch_reported:
                errors.append(f"{p}: beat #{k} mismatch at cycle {taken[k]}: expected {exp[k]:#x}, got {payload:#x}")
                mismatch_reported = True
        if len(got) < len(exp) and result.timeout_cycle is None:
            errors.append(f"{p}: only {len(got)} of {len(exp)} beats arrived")
    return errors


class StreamEngine:
    """Drives input streams and monitors output streams for one phase (see the module docstring).

    Args:
        inputs: input port -> raw payloads to send, in order.
        expected: output port -> raw payloads expected, in order.
        phase: stall probabilities and seed, or an off-chip memory model feeding the inputs.
        drain_cycles: cycles to keep watching after the last expected beat,
            to catch duplicated or spurious output beats (a phase ends at the first beat beyond the
            expected ones: a design that floods its output fails at once).
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
        self.gap_threshold = threshold(phase.in_gap) if phase.memory is None else 0
        self.stall_threshold = threshold(phase.out_stall)
        self.arrivals = (
            {p: phase.memory.arrivals(len(b)) for p, b in inputs.items()} if phase.memory is not None else None
        )
        self.drain_cycles = drain_cycles
        self.timeout_cycles = timeout_cycles
        self.cycle = 0
        self.idle = 0
        self.drain_left: int | None = None
        self.next_in = {p: 0 for p in inputs}
        self.offering = {p: False for p in inputs}
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
        seed, c = self.phase.seed, self.cycle
        for k, (p, beats) in enumerate(self.inputs.items()):
            i = self.next_in[p]
            if i < len(beats) and not self.offering[p]:
                if self.arrivals is not None:
                    self.offering[p] = c >= self.arrivals[p][i]
                else:
                    self.offering[p] = not (self.gap_threshold and decision(seed, IN_GAP, k, c) < self.gap_threshold)
            offer = self.offering[p] and i < len(beats)
            values[f"{p}__valid"] = int(offer)
            # with valid low the payload already shows a beat (the next one; the first once all are sent):
            # a design that takes a beat without valid then counts one twice, and fails
            values[f"{p}__payload"] = beats[i % len(beats)] if beats else 0
        for k, p in enumerate(self.expected):
            stall = (
                self.drain_left is None
                and self.stall_threshold
                and decision(seed, OUT_STALL, k, c) < (self.stall_threshold)
            )
            values[f"{p}__ready"] = 0 if stall else 1
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
        for p in self.expected:
            valid = values[f"{p}__valid"]
            if valid and not self.seen_valid[p]:
                r.first_valid[p].append(self.cycle)
                self.seen_valid[p] = True
            if valid and values[f"{p}__ready"]:
                r.got[p].append(values[f"{p}__payload"])
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
            r.timeout_cycle = self.cycle

    # ------------------------------------------------------------- status
    def _all_done(self) -> bool:
        return all(self.next_in[p] >= len(b) for p, b in self.inputs.items()) and all(
            len(self.result.got[p]) >= len(e) for p, e in self.expected.items()
        )

    @property
    def finished(self) -> bool:
        """True once everything is checked (or the run has timed out)."""
        extra = any(len(self.result.got[p]) > len(e) for p, e in self.expected.items())
        return (self.drain_left is not None and self.drain_left <= 0) or self.result.timeout_cycle is not None or extra

    def finish(self) -> PhaseResult:
        """Close the phase: derive its errors from the records, return the observations."""
        self.result.cycles = self.cycle
        self.result.errors = phase_errors(self.result, self.inputs, self.expected, self.timeout_cycles)
        return self.result
