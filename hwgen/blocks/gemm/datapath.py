"""The one GEMM datapath both cores share: MAC lanes, output shift register, drain and epilogue.

A core (:mod:`.core`, :mod:`.record`) owns its memories and its issue
counters and drives the datapath with one *step* per cycle:

* **issue** (:meth:`GemmDatapath.issue`): while ``issue_ok`` the step's
  controls (valid, first/last step of a pass, pass 0, the pass's columns and
  any per-step payload such as the record core's epilogue) are registered
  into the MAC stage, with the activation ``x`` of a pass-0 step;
* **MAC stage** (:meth:`GemmDatapath.mac`): ``lanes`` accumulators,
  ``acc = (first ? 0 : acc) + x · w[lane]`` wrapping to the accumulator type,
  ``x`` from the input register in pass 0 and from the row buffer after;
  with ``mac_stages`` = 1 the products are registered first (the
  accumulate runs a cycle later), with 2 the operands too (the weight ROM
  and row buffer outputs, then the products);
* **drain** (:meth:`GemmDatapath.drain`): at a pass's last step the results
  move to an output shift register once it is empty (or empties this cycle:
  ``hold`` stops the issue stage until then), which drains one result per
  cycle through the epilogue into the output register;
* **columns** (with ``columns``): each step carries its pass's first column
  (``col0`` at issue); the drain counts the column of the result it drains,
  and :meth:`GemmDatapath.column_rom` reads a per-column word (bias,
  per-channel requantization) in step with it.

The pipeline from the issue stage to the accumulators advances as one: while
``hold`` every stage keeps its step (and the memories their read data).

Timing: a step's results leave ``PIPE`` = 3 cycles after it is issued (MAC
stage, shift register, output register), plus ``mac_stages`` and the
epilogue's register stages (the record core's ``epilogue_stages``), plus any
cycles the pipeline is held; see :mod:`.cycles`.
"""

from __future__ import annotations

from collections.abc import Callable

from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data, memory

from ...numtype import NumType
from ...pipeline import delay, register, valid_delay
from ...primitives import registered_multiply


class GemmDatapath:
    """The shared datapath inside a core's module ``m``; ``o`` is the core's output stream.

    Attributes after construction: ``mac_valid``, ``mac_last``, ``mac_first``, ``mac_p0``, ``mac_cols``
    (the issued step's controls, one cycle after issue), ``acc_valid``, ``acc_last``, ``acc_first``,
    ``acc_cols`` (the same ``mac_stages`` cycles later, at the accumulators), ``x_reg`` (pass-0 activation),
    ``count`` (results left in the shift register), ``o_take`` (the output register can load), ``hold``
    (the pipeline waits for the shift register), ``issue_ok`` (a step may be issued this cycle).
    """

    def __init__(
        self,
        m: Module,
        o: object,
        act: NumType,
        weight: NumType,
        acc: NumType,
        lanes: int,
        mac_stages: int = 0,
        columns: int = 0,
        cell: dict | None = None,
    ):
        self.m, self.o, self.act, self.weight, self.acc, self.lanes = m, o, act, weight, acc, lanes
        self.mac_stages, self.columns = mac_stages, columns
        #: ``{"cell": ..., "platform": ...}`` of :func:`~hwgen.primitives.registered_multiply` (mac_stages 2)
        self.cell = cell or {}
        self.mac_valid = Signal(name="mac_valid")  # the MAC stage holds a step
        self.mac_last = Signal(name="mac_last")  # ... which ends its pass
        self.mac_first = Signal(name="mac_first")  # ... which starts its pass
        self.mac_p0 = Signal(name="mac_p0")  # ... of pass 0 (activation from the input register)
        self.mac_cols = Signal(range(lanes + 1), name="mac_cols")  # ... whose pass has this many columns
        self.x_reg = Signal(act.shape, reset_less=True, name="x_reg")
        self.count = Signal(range(lanes + 1), name="count")
        self.o_take = ~o.valid | o.ready
        self.drain_now = (self.count > 0) & self.o_take
        self.sr_free = (self.count == 0) | ((self.count == 1) & self.o_take)
        self.advance = Signal(name="mac_advance")  # the pipeline moves on (not held)
        self.acc_valid = valid_delay(m, self.mac_valid, mac_stages, self.advance, "acc_valid")
        self.acc_last = self.at_acc(self.mac_last, "acc_last")
        self.acc_first = self.at_acc(self.mac_first, "acc_first")
        self.acc_cols = self.at_acc(self.mac_cols, "acc_cols")
        self.hold = self.acc_valid & self.acc_last & ~self.sr_free
        m.d.comb += self.advance.eq(~self.hold)
        self.issue_ok = self.advance
        if columns:  # the pass's first column, with the step; the column being drained
            self.mac_col0 = Signal(range(max(columns, 2)), name="mac_col0")
            self.acc_col0 = self.at_acc(self.mac_col0, "acc_col0")
            self.col = Signal(range(max(columns, 2)), name="drain_col")

    def at_acc(self, value: Value, name: str) -> Value:
        """``value`` of the MAC stage's step, delayed to the accumulators (``mac_stages`` advancing cycles)."""
        return delay(self.m, Value.cast(value), self.mac_stages, self.advance, name)

    def issue(
        self,
        fire: Value,
        last: Value,
        first: Value,
        pass0: Value,
        x: Value,
        cols: Value | int,
        extra: list,
        col0: Value | int = 0,
    ) -> None:
        """Register the step of this cycle into the MAC stage (``fire``: a step is issued; ``extra``: more
        assignments made with it, e.g. a per-step epilogue; ``col0``: the pass's first column, with
        ``columns``)."""
        with self.m.If(self.issue_ok):
            self.m.d.sync += [
                self.mac_valid.eq(fire),
                self.mac_last.eq(last),
                self.mac_first.eq(first),
                self.mac_p0.eq(pass0),
                self.x_reg.eq(x),
                self.mac_cols.eq(cols),
                *extra,
            ]
            if self.columns:
                self.m.d.sync += self.mac_col0.eq(col0)

    def mac(self, row_data: Value, weight_word: Value) -> list[Signal]:
        """The ``lanes`` accumulators; returns each lane's next value (``acc_new<lane>``)."""
        m, D = self.m, self.mac_stages
        x = Signal(self.act.shape, name="x")
        m.d.comb += x.eq(Mux(self.mac_p0, self.x_reg, row_data))
        cells = D >= 2 and self.cell.get("cell", "inferred") != "inferred"
        if D >= 2:  # operand registers: the memories' read data and the activation (in the fabric even with
            # cells: a block RAM's clock-to-output and a route into a DSP do not fit one cycle)
            x, weight_word = register(m, x, self.advance, "x_op"), register(m, weight_word, self.advance, "w_op")
        wv = data.ArrayLayout(self.weight.shape, self.lanes)(weight_word)
        news = []
        for ln in range(self.lanes):
            if cells:  # the product's register inside each lane's DSP cell (no route out of it in the cycle)
                adv = self.advance
                prod = registered_multiply(m, x, wv[ln], a_enable=0, b_enable=0, p_enable=adv, name=f"prod{ln}",
                                           registers="p", **self.cell)  # fmt: skip
            else:
                prod = x * wv[ln]
            if D >= 1 and not cells:
                prod = register(m, prod, self.advance, f"prod{ln}")
            acc = Signal(self.acc.shape, name=f"acc{ln}", reset_less=True)
            new = Signal(self.acc.shape, name=f"acc_new{ln}")
            m.d.comb += new.eq(Mux(self.acc_first, 0, acc) + prod)
            with m.If(self.acc_valid & self.advance):
                m.d.sync += acc.eq(new)
            news.append(new)
        return news

    def drain(
        self,
        news: list[Signal],
        epilogue: Callable[[Value, Callable[[Value, str], Value]], Value],
        out_shape: object,
        extra: list,
        stages: int = 0,
    ) -> None:
        """The output shift register (``res<lane>``), loaded with ``news`` at a pass's end and shifted
        one result per cycle through ``epilogue`` into the output register; ``extra``: assignments made
        at the hand-over (e.g. the epilogue parameters travelling with the results, from :meth:`at_acc`).

        ``epilogue(acc, stage)`` may cut itself with ``stage(value, name)``, a register that moves with the
        drain (enabled by ``o_take``), exactly ``stages`` times on every path; the output's valid bit is
        delayed to match, so results leave ``stages`` cycles later at the same rate."""
        m, L, o = self.m, self.lanes, self.o
        sr = [Signal(self.acc.shape, name=f"res{ln}", reset_less=True) for ln in range(L)]
        handover = self.acc_valid & self.acc_last & self.sr_free
        with m.If(handover):
            m.d.sync += [self.count.eq(self.acc_cols), *extra] + [sr[ln].eq(news[ln]) for ln in range(L)]
        with m.Elif(self.drain_now):
            m.d.sync += [self.count.eq(self.count - 1)] + [sr[ln].eq(sr[ln + 1]) for ln in range(L - 1)]
        if self.columns:  # the column of res0 next cycle, and whether it changes
            self.col_next = Mux(handover, self.acc_col0, self.col + 1)
            self.col_step = handover | self.drain_now
            with m.If(self.col_step):
                m.d.sync += self.col.eq(self.col_next)
        y = epilogue(sr[0], lambda v, name: register(m, v, self.o_take, name))
        valid = valid_delay(m, self.count > 0, stages, self.o_take, "epi_valid")
        out = Signal(out_shape, reset_less=True, name="out")
        with m.If(self.o_take):
            m.d.sync += [o.valid.eq(valid), out.eq(y)]
        m.d.comb += o.payload.eq(out)

    def column_rom(self, words: list[int], layout: data.StructLayout) -> data.View:
        """A ROM of one ``layout`` word per column, read in step with the drain: the word of the column whose
        result is in ``res0`` (call from the ``epilogue`` given to :meth:`drain`)."""
        rom = memory.Memory(shape=layout.size, depth=max(len(words), 2), init=words)
        self.m.submodules.colrom = rom
        port = rom.read_port()
        self.m.d.comb += [port.addr.eq(self.col_next), port.en.eq(self.col_step)]
        return layout(port.data)
