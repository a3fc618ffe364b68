"""On-chip buffers of the engine: ring buffers of rows and whole-tensor scratchpads, one bank per writer."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import memory

from ..arena import Allocation
from ..places import Place
from .plan import MEMORY, EnginePlan, OpInput, Slice


class Buffer:
    """A logical ``rows × cols`` buffer (a ring of 2, 4, ... rows, or all ``M`` rows for a scratchpad),
    stored as one memory bank per writer: each writer owns a column range and writes only its bank (one
    write port per memory, so synthesis can use block or distributed RAM). Readers stream a row's columns
    in order across the banks. A scratchpad's banks may sit at offsets of memories shared with other
    tensors (``shared``, ``places``: the allocation's memory and offset of each bank)."""

    def __init__(
        self,
        m: Module,
        name: str,
        shape: object,
        rows: int,
        banks: list[Slice],
        *,
        ring: bool = True,
        shared: SharedMemories | None = None,
        places: list[tuple[int, int]] | None = None,
    ):
        self.m, self.name, self.rows, self.banks, self.ring = m, name, rows, banks, ring
        assert not ring or rows & (rows - 1) == 0, "ring buffers hold a power-of-two number of rows"
        self.shared, self.places = shared, places
        if shared is not None:
            self.mems = [shared.mems[i] for i, _ in places]
            self.bases = [off for _, off in places]
        else:
            self.mems, self.bases = [], [0] * len(banks)
            for i, b in enumerate(banks):
                mm = memory.Memory(shape=shape, depth=max(rows * (b.n1 - b.n0), 2), init=[])
                m.submodules[f"{name}_b{i}"] = mm
                self.mems.append(mm)
        self.cols = banks[-1].n1
        self._wports: dict[object, tuple] = {}

    def row_base(self, row: Value, width: int) -> Value | int:
        """Address of ``row``'s first word in a bank ``width`` words wide (a ring keeps ``row mod rows``),
        from the bank's own start."""
        if self.ring:
            return row[: self.rows.bit_length() - 1] * width if self.rows > 1 else 0
        return row * width

    def write_port(self, writer: object) -> tuple[memory.WritePort, int, int]:
        """The write port of ``writer``'s bank, the bank's width and its base address (address = base +
        row_base + column in bank)."""
        if writer not in self._wports:
            i = next(k for k, b in enumerate(self.banks) if b.writer == writer)
            port = self.shared.write_port(self.places[i][0]) if self.shared else self.mems[i].write_port()
            self._wports[writer] = (port, self.banks[i].n1 - self.banks[i].n0, self.bases[i])
        return self._wports[writer]

    def reader(self, name: str, start: Value, row: Value, taken: Value) -> tuple[Signal, Value, Signal]:
        """Stream the ``cols`` words of ``row``: ``start`` issues the first read (valid the next cycle); each
        word taken issues the next. Returns ``(valid, data, last)`` (``last``: the word offered is the final
        one); ``row`` must hold while the row streams."""
        valid, words, bank, last = self.bank_reader(name, start, row, taken)
        return valid, select_bank(words, bank), last

    def bank_reader(
        self, name: str, start: Value, row: Value, taken: Value
    ) -> tuple[Signal, list[Value], Signal, Signal]:
        """:meth:`reader` before the bank multiplexer: ``(valid, words, bank, last)``, ``words[i]`` bank ``i``'s
        read data (straight from its block RAM) and ``bank`` the register naming the bank of the word offered,
        so a register stage can take the read data with no logic in front of it."""
        m, n = self.m, self.cols
        valid, en, issued = issue_words(m, name, n, start, taken)
        last = Signal(name=f"{name}_last")
        m.d.comb += last.eq(issued == n)
        idx = Signal(range(max(n, 2)), name=f"{name}_idx")
        m.d.comb += idx.eq(Mux(start, 0, issued))
        words, bank_of = self.read_banks(en, row, idx)
        bank_q = Signal(range(max(len(self.banks), 2)), name=f"{name}_bank")
        with m.If(en):
            m.d.sync += bank_q.eq(bank_of)
        return valid, words, bank_q, last

    def word_reader(self, name: str, en: Value, row: Value, col: Value) -> Value:
        """Random access: the word at ``(row, col)`` read when ``en`` is high, valid the next cycle and held
        while ``en`` is low."""
        words, bank_of = self.read_banks(en, row, col)
        bank_q = Signal(range(max(len(self.banks), 2)), name=f"{name}_bank")
        with self.m.If(en):
            self.m.d.sync += bank_q.eq(bank_of)
        return select_bank(words, bank_q)

    def read_banks(self, en: Value, row: Value, col: Value) -> tuple[list[Value], Value | int]:
        """A read port per bank, enabled by ``en``, at ``(row, col)`` of the bank holding column ``col``:
        ``(each bank's read data, the index of that bank)`` (the data a cycle after ``en``)."""
        bank_of: Value | int = 0
        words = []
        for i, (b, mm) in enumerate(zip(self.banks, self.mems)):
            rp = mm.read_port()
            addr = self.bases[i] + self.row_base(row, b.n1 - b.n0) + col - b.n0
            self.m.d.comb += [rp.addr.eq(addr), rp.en.eq(en)]
            if i:
                bank_of = Mux(col >= b.n0, i, bank_of)
            words.append(rp.data)
        return words, bank_of


def issue_words(m: Module, name: str, n: int, start: Value, taken: Value) -> tuple[Signal, Signal, Signal]:
    """Reads of ``n`` words: ``start`` issues the first (valid the next cycle), each word taken issues the next.
    Returns ``(valid, en, issued)``: a word is offered, a read is issued this cycle, how many were."""
    issued = Signal(range(n + 1), name=f"{name}_issued")
    valid, en = Signal(name=f"{name}_valid"), Signal(name=f"{name}_en")
    with m.If(start):
        m.d.comb += en.eq(1)
        m.d.sync += [issued.eq(1), valid.eq(1)]
    with m.Elif(valid & taken):
        with m.If(issued < n):
            m.d.comb += en.eq(1)
            m.d.sync += issued.eq(issued + 1)
        with m.Else():
            m.d.sync += valid.eq(0)
    return valid, en, issued


def select_bank(words: list[Value], bank: Value) -> Value:
    """``words[bank]`` (a multiplexer over the banks' read data)."""
    data = words[0]
    for i in range(1, len(words)):
        data = Mux(bank == i, words[i], data)
    return data


class SharedMemories:
    """The scratchpad memories of the schedule's allocation (:mod:`hwgen.schedule.arena`), one write port
    each (the banks in a memory are produced in different stages; each router writes only in its own)."""

    def __init__(self, m: Module, allocation: Allocation):
        self.mems = []
        for i, mem in enumerate(allocation.memories):
            mm = memory.Memory(shape=mem.dtype.shape, depth=max(mem.depth, 2), init=[])
            m.submodules[f"scratch_m{i}"] = mm
            self.mems.append(mm)
        self._ports: dict[int, memory.WritePort] = {}

    def write_port(self, i: int) -> memory.WritePort:
        if i not in self._ports:
            self._ports[i] = self.mems[i].write_port()
        return self._ports[i]


class EngineBuffers:
    """Every buffer the schedule needs: an input ring per op input that is a stream or off-chip data
    (``inputs[(op, k)]``), a scratchpad per on-chip tensor (``scratch``), a 2-row write-back buffer per
    tensor written off-chip (``writeback``); each bank owned by one writer (a core's column range, an adder,
    or the memory sequencer)."""

    def __init__(self, m: Module, plan: EnginePlan):
        self.inputs: dict[tuple[str, int], Buffer] = {}
        for o in plan.ops.values():
            for k, inp in enumerate(o.inputs):
                if inp.place in (Place.STREAM, Place.OFFCHIP):
                    t = inp.tensor
                    if inp.place == Place.STREAM:
                        banks = list(plan.producer(t).slices)
                    else:
                        banks = [Slice(MEMORY, 0, plan.graph.tasks[t].cols)]
                    self.inputs[(o.name, k)] = Buffer(m, f"in_{o.name}_{k}", plan.widths[t].shape, inp.rows, banks)
        alloc = plan.schedule.allocation
        self.shared = SharedMemories(m, alloc)
        self.scratch = {}
        for t in sorted(plan.onchip):
            slices = plan.producer(t).slices
            places = [alloc.place[(t, k)] for k in range(len(slices))]
            self.scratch[t] = Buffer(m, f"scratch_{t}", plan.widths[t].shape, plan.graph.tasks[t].rows, slices,
                                     ring=False, shared=self.shared, places=places)  # fmt: skip
        self.writeback = {
            t: Buffer(m, f"wb_{t}", plan.widths[t].shape, 2, list(plan.producer(t).slices)) for t in plan.offchip_out
        }

    def feeding(self, op: str, k: int, inp: OpInput) -> Buffer:
        """The buffer input ``k`` of ``op`` is read from."""
        return self.scratch[inp.tensor] if inp.place == Place.SCRATCHPAD else self.inputs[(op, k)]
