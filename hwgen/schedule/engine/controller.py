"""The stage controller: steps through the stages' records, slot by slot.

Per stage: ``switch_cycles`` cycles to switch (read and latch the stage
record), then ``slots`` row slots of ``slot_cycles`` cycles each. A slot ends
when its time is up *and* every unit is idle (``busy`` low), so a wrong cost
model shows as extra cycles, never as wrong data. ``done`` rises after the
last stage. Units ask :meth:`Controller.row_at` which row they handle in the
current slot.
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Shape, Signal, Value

from .plan import EnginePlan


class Controller:
    """The controller's state in module ``m``: ``stage``, ``slot``, ``timer``, ``switch``, ``running``, ``done``;
    ``slot_start`` is high in a slot's first cycle. Units append their busy signals to :attr:`busy`."""

    def __init__(self, m: Module, plan: EnginePlan, done_port: Value):
        self.m, self.plan = m, plan
        sp = plan.schedule.plans
        self.stage = Signal(range(max(len(sp), 2)), name="stage")
        self.slot = Signal(range(max(max(x.slots for x in sp) + 1, 2)), name="slot")
        self.timer = Signal(range(max(max(x.slot_cycles for x in sp) + 1, 2)), name="timer")
        self.switch = Signal(range(plan.machine.switch_cycles + 1), init=plan.machine.switch_cycles, name="switch")
        self.running = Signal(name="running")
        self.done = Signal(name="done")
        m.d.comb += done_port.eq(self.done)
        self.slot_start = self.running & (self.timer == 0)
        self.busy: list[Value] = []
        self._rows_at: dict[int, tuple[Signal, Signal]] = {}
        self.stage_rows = Signal(range(plan.rows + 1), name="stage_rows")  # rows of the current stage
        m.d.comb += self.stage_rows.eq(self.per_stage([x.rows for x in sp]))

    def per_stage(self, values: list[int]) -> Value:
        """``values[stage]``: one table look-up (a chain of multiplexers nests as deep as there are stages,
        deeper than Amaranth's simulator compiles for large engines)."""
        padded = values + [values[-1]] * ((1 << len(self.stage)) - len(values))  # every index covered
        return Array(Const(v, range(max(values) + 1)) for v in padded)[self.stage]

    def stage_is(self, s: int) -> Value:
        return self.stage == s

    def row_at(self, offset: int) -> tuple[Signal, Signal]:
        """``(row, valid)`` of the unit whose row is ``slot - offset`` in this slot (one pair per offset):
        registers loaded with the slot (:meth:`step`), so no subtractor or compare lies between the slot
        counter and the buffer addresses computed from the row."""
        if offset in self._rows_at:
            return self._rows_at[offset]
        width = Shape.cast(range(max(self.plan.rows, 2))).width
        r = Signal(width, init=-offset % (1 << width), name=f"row_off{offset}")
        v = Signal(init=offset == 0, name=f"row_ok_off{offset}")  # slot 0 of stage 0: only offset 0 has a row
        self._rows_at[offset] = (r, v)
        return r, v

    def _row_ok(self, slot: Value | int, offset: int) -> Value | bool:
        """Whether ``slot - offset`` is a row of the current stage (``0 <= slot - offset < rows``)."""
        return ((slot >= offset) if offset else 1) & (slot < offset + self.stage_rows)

    def _load_slot(self, value: Value | int) -> list:
        """Assignments that load the slot counter and, with it, every unit's row register."""
        out = [self.slot.eq(value)]
        for offset, (r, v) in self._rows_at.items():
            out += [r.eq(value - offset), v.eq(self._row_ok(value, offset))]
        return out

    def step(self) -> None:
        """Switch, run the slots, end each slot when its time is up and no unit is busy; add last."""
        m, sp, S = self.m, self.plan.schedule.plans, len(self.plan.schedule.plans)
        busy = Signal(name="busy")
        m.d.comb += busy.eq(any_of(self.busy))
        T = Signal.like(self.timer, name="slot_len")
        NS = Signal.like(self.slot, name="slots_in_stage")
        m.d.comb += [T.eq(self.per_stage([x.slot_cycles for x in sp])), NS.eq(self.per_stage([x.slots for x in sp]))]
        with m.If(~self.running & ~self.done):
            with m.If(self.switch > 1):
                m.d.sync += self.switch.eq(self.switch - 1)
            with m.Else():
                m.d.sync += [self.running.eq(1), self.timer.eq(0), *self._load_slot(0)]
        with m.Elif(self.running):
            with m.If((self.timer >= T - 1) & ~busy):
                m.d.sync += self.timer.eq(0)
                with m.If(self.slot == NS - 1):
                    m.d.sync += [self.running.eq(0), self.switch.eq(self.plan.machine.switch_cycles)]
                    with m.If(self.stage == S - 1):
                        m.d.sync += self.done.eq(1)
                    with m.Else():
                        m.d.sync += self.stage.eq(self.stage + 1)
                with m.Else():
                    m.d.sync += self._load_slot(self.slot + 1)
            with m.Else():
                m.d.sync += self.timer.eq(Mux(self.timer == T - 1, self.timer, self.timer + 1))


def any_of(terms: list[Value]) -> Value:
    """The OR of ``terms`` (0 for none)."""
    out: Value | int = 0
    for t in terms:
        out = out | t
    return out
