"""Off-chip memory model behind the schedule engine's ``mem_req`` / ``mem_rd`` / ``mem_wr`` streams.

Simulator-independent (the Amaranth bench and the cocotb bench both step it
once per cycle, like :class:`~hwgen.sim.streams.StreamEngine`). It holds
tensors (row-major, ``rows × cols`` integers of ``bytes`` bytes each) and
serves one request at a time, in order:

* ``mem_req`` is always ready; a request ``{write, tensor, row}`` accepted in
  cycle ``c`` starts a transfer of the row's ``cols`` elements;
* a read's beat ``j`` is offered on ``mem_rd`` from cycle ``c + latency +
  ceil((j + 1) · bytes / bandwidth) − 1`` on (and after the previous beat
  was taken): data arrive ``latency`` cycles after the request and at most
  ``bandwidth`` bytes per cycle, one beat per cycle at most;
* a write is posted: ``mem_wr`` is ready for beat ``j`` from cycle
  ``c + ceil((j + 1) · bytes / bandwidth)`` on.

It counts the bytes moved each way and records the cycle ``done`` rises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..bandwidth import transfer_cycles


@dataclass
class MemoryResult:
    """What the memory saw: final tensor contents, traffic, requests, the cycle ``done`` rose."""

    tensors: dict[str, list[list[int]]]
    bytes_read: int = 0
    bytes_written: int = 0
    requests: list[tuple[int, bool, str, int]] = field(default_factory=list)  # (cycle, write, tensor, row)
    done_cycle: int | None = None
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the simulation loop

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


class MemoryModel:
    """The memory; see the module docstring.

    Args:
        tensors: name -> ``{"id", "rows", "cols", "bytes", "width", "data"}`` (``data``: rows of ints or
            ``None`` for a tensor the engine writes).
        bytes_per_cycle, latency: bandwidth and read latency.
        tensor_bits, row_bits: field widths of the request payload (``write`` is bit 0, then tensor, row).
        max_cycles: give up (an error) after this many cycles without ``done``.
    """

    def __init__(
        self,
        tensors: dict[str, dict],
        bytes_per_cycle: float,
        latency: int,
        *,
        tensor_bits: int,
        row_bits: int,
        data_width: int,
        max_cycles: int = 10_000_000,
    ):
        self.meta = tensors
        self.by_id = {t["id"]: name for name, t in tensors.items()}
        self.bw, self.latency = float(bytes_per_cycle), int(latency)
        self.tb, self.rb, self.width = tensor_bits, row_bits, data_width
        self.max_cycles = max_cycles
        self.data = {
            n: (
                [list(r) for r in t["data"]]
                if t.get("data") is not None
                else [[0] * t["cols"] for _ in range(t["rows"])]
            )
            for n, t in tensors.items()
        }
        self.result = MemoryResult(tensors=self.data)
        self.cycle = 0
        self.req: tuple[int, bool, str, int] | None = None  # (cycle accepted, write, tensor, row)
        self.beat = 0
        self.prev_beat_cycle = -1
        self.done = False

    def _ready_at(self, j: int) -> int:
        eb = self.meta[self.req[2]]["bytes"]
        return transfer_cycles(j + 1, eb, self.bw)

    def drive(self) -> dict[str, int]:
        """Values of ``mem_req__ready``, ``mem_rd__valid/payload``, ``mem_wr__ready`` for this cycle."""
        out = {"mem_req__ready": int(self.req is None), "mem_rd__valid": 0, "mem_rd__payload": 0, "mem_wr__ready": 0}
        if self.req is not None:
            c, write, name, row = self.req
            if write:
                out["mem_wr__ready"] = int(self.cycle >= c + self._ready_at(self.beat))
            elif self.cycle >= max(c + self.latency + self._ready_at(self.beat) - 1, self.prev_beat_cycle + 1):
                out["mem_rd__valid"] = 1
                out["mem_rd__payload"] = self.data[name][row][self.beat] & ((1 << self.width) - 1)
        self._driven = out
        return out

    def sample(self, values: dict[str, int]) -> None:
        """The settled handshake signals of this cycle (transfers at the next edge)."""
        d = self._driven
        if values["done"] and not self.done:
            self.done = True
            self.result.done_cycle = self.cycle
        if self.req is not None:
            c, write, name, row = self.req
            meta = self.meta[name]
            if write and values["mem_wr__valid"] and d["mem_wr__ready"]:
                raw = values["mem_wr__payload"] & ((1 << meta["width"]) - 1)
                self.data[name][row][self.beat] = (
                    raw - (1 << meta["width"]) if meta["signed"] and raw >> (meta["width"] - 1) else raw
                )
                self._advance(meta)
            elif not write and d["mem_rd__valid"] and values["mem_rd__ready"]:
                self.prev_beat_cycle = self.cycle
                self._advance(meta)
        elif values["mem_req__valid"]:
            raw = values["mem_req__payload"]
            write = bool(raw & 1)
            tid = (raw >> 1) & ((1 << self.tb) - 1)
            row = (raw >> (1 + self.tb)) & ((1 << self.rb) - 1)
            name = self.by_id.get(tid)
            if name is None or row >= self.meta[name]["rows"]:
                self.result.errors.append(f"cycle {self.cycle}: request for tensor id {tid} row {row}: no such row")
            else:
                self.req = (self.cycle, write, name, row)
                self.beat = 0
                self.result.requests.append((self.cycle, write, name, row))
        self.cycle += 1
        if self.cycle > self.max_cycles and not self.done:
            self.result.errors.append(f"timeout: no done after {self.max_cycles} cycles")

    def _advance(self, meta: dict) -> None:
        if self.req[1]:
            self.result.bytes_written += meta["bytes"]
        else:
            self.result.bytes_read += meta["bytes"]
        self.beat += 1
        if self.beat == meta["cols"]:
            self.req = None

    @property
    def finished(self) -> bool:
        return self.done or bool(self.result.errors)
