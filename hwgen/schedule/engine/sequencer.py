"""The memory sequencer: every slot it writes back the finished off-chip rows, then fetches the next input rows.

Per stage it has a list of *actions* (:class:`Action`): first one write per
tensor written off-chip (the row computed two slots ago, from its
write-back buffer), then one read per off-chip tensor and consumer depth (the
row the consumer handles next slot, into every consumer's input buffer). At
a slot's start it runs the stage's actions one after another, one request on
``mem_req`` each, then the row's beats on ``mem_wr`` or ``mem_rd``; an action
whose row does not exist (before the first or after the last row) is
skipped. Its state (:class:`SeqState`) is busy until the last action ends.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from amaranth.hdl import Module, Signal, Value

from ..places import Place
from .buffers import EngineBuffers
from .controller import Controller, any_of
from .plan import MEMORY, EnginePlan


class SeqState(enum.IntEnum):
    IDLE = 0
    REQUEST = 1  # offering the request
    WRITE = 2  # streaming a row from a write-back buffer
    READ = 3  # streaming a row into input buffers


@dataclass
class Action:
    """One transfer of a slot: a row of ``tensor`` (the row of the unit at ``offset``), read or written."""

    kind: str  # "read" | "write"
    tensor: str
    offset: int
    targets: list[tuple[str, int]] = field(default_factory=list)  # reads: the (op, input) buffers filled


def stage_actions(plan: EnginePlan) -> list[list[Action]]:
    """Per stage: the writes of its off-chip outputs, then the reads of its off-chip inputs."""
    actions = []
    for s, x in enumerate(plan.schedule.plans):
        acts = [Action("write", t, plan.producer(t).depth + 2) for t in x.writes]
        for t, d in x.reads:
            targets = [
                (o.name, k)
                for o, k in plan.consumers(t)
                if o.stage == s and o.depth == d and o.inputs[k].place == Place.OFFCHIP
            ]
            acts.append(Action("read", t, d, targets))
        actions.append(acts)
    return actions


class MemorySequencer:
    """The sequencer in module ``m`` driving the engine's ``mem_req`` / ``mem_rd`` / ``mem_wr`` streams."""

    def __init__(self, m: Module, plan: EnginePlan, ctrl: Controller, bufs: EngineBuffers, ports: object):
        self.m, self.plan, self.ctrl, self.bufs, self.ports = m, plan, ctrl, bufs, ports
        self.actions = stage_actions(plan)

    def build(self) -> None:
        m, p, ports = self.m, self.plan, self.ports
        A = max((len(a) for a in self.actions), default=0)
        if not A:
            m.d.comb += [ports.mem_req.valid.eq(0), ports.mem_wr.valid.eq(0), ports.mem_rd.ready.eq(1)]
            return
        self.state = state = Signal(range(4), name="seq_state")
        self.wstart = Signal(name="seq_wstart")
        self.a = Signal(range(max(A, 2)), name="seq_action")
        self.count = Signal(range(max(max(p.graph.tasks[t].cols for t in p.widths) + 1, 2)), name="seq_count")
        self.ctrl.busy.append(state != SeqState.IDLE)
        self.n_act = Signal(range(A + 1), name="seq_actions")
        self.row = Signal(range(max(p.rows, 2)), name="seq_row")
        self.row_ok = Signal(name="seq_row_ok")
        self.is_write = Signal(name="seq_is_write")
        self.tid = Signal(range(max(len(p.tensor_ids), 2)), name="seq_tensor")
        self.n = Signal.like(self.count, name="seq_n")
        self._decode()
        self.cur_row = Signal.like(self.row, name="seq_cur_row")
        self.nxt = Signal(name="seq_next")  # this action is over: go to the next one
        self._step()
        self._request()
        self._read()
        self._write()

    def _here(self, s: int, i: int) -> Value:
        return (self.ctrl.stage == s) & (self.a == i)

    def _decode(self) -> None:
        """The current action's row, whether it exists, its direction, tensor id and length."""
        m, p = self.m, self.plan
        m.d.comb += self.n_act.eq(self.ctrl.per_stage([len(acts) for acts in self.actions]))
        decoded = [
            (self._here(s, i), self.ctrl.row_at(act.offset), act)
            for s, acts in enumerate(self.actions)
            for i, act in enumerate(acts)
        ]
        for cond, (r, ok), act in decoded:  # one condition at a time holds: flat Ifs, not a deep If/Elif chain
            with m.If(cond):
                m.d.comb += [
                    self.row.eq(r),
                    self.row_ok.eq(ok),
                    self.is_write.eq(act.kind == "write"),
                    self.tid.eq(p.tensor_ids[act.tensor]),
                    self.n.eq(p.graph.tasks[act.tensor].cols),
                ]

    def _step(self) -> None:
        """Next action when one ends; restart at every slot's start."""
        m, state = self.m, self.state
        with m.If(self.nxt):
            with m.If(self.a == self.n_act - 1):
                m.d.sync += state.eq(SeqState.IDLE)
            with m.Else():
                m.d.sync += [self.a.eq(self.a + 1), state.eq(SeqState.REQUEST)]
        with m.If(self.ctrl.slot_start & (self.n_act > 0)):
            m.d.sync += [state.eq(SeqState.REQUEST), self.a.eq(0)]

    def _request(self) -> None:
        m, state, req = self.m, self.state, self.ports.mem_req
        m.d.comb += [
            req.payload.write.eq(self.is_write),
            req.payload.tensor.eq(self.tid),
            req.payload.row.eq(self.row),
            req.valid.eq((state == SeqState.REQUEST) & self.row_ok),
        ]
        with m.If(state == SeqState.REQUEST):
            with m.If(~self.row_ok):
                m.d.comb += self.nxt.eq(1)
            with m.Elif(req.ready):
                m.d.sync += [self.count.eq(0), self.cur_row.eq(self.row)]
                with m.If(self.is_write):
                    m.d.sync += [state.eq(SeqState.WRITE), self.wstart.eq(1)]
                with m.Else():
                    m.d.sync += state.eq(SeqState.READ)
        with m.If(self.wstart):
            m.d.sync += self.wstart.eq(0)

    def _read(self) -> None:
        """Read data -> the input buffers of this stage's consumers."""
        m, state, rd = self.m, self.state, self.ports.mem_rd
        m.d.comb += rd.ready.eq(state == SeqState.READ)
        with m.If((state == SeqState.READ) & rd.valid):
            m.d.sync += self.count.eq(self.count + 1)
            with m.If(self.count == self.n - 1):
                m.d.comb += self.nxt.eq(1)
        for s, acts in enumerate(self.actions):
            for i, act in enumerate(acts):
                if act.kind != "read":
                    continue
                for target in act.targets:
                    buf = self.bufs.inputs[target]
                    wp, width, base = buf.write_port(MEMORY)
                    with m.If(self._here(s, i)):
                        m.d.comb += [
                            wp.addr.eq(base + buf.row_base(self.cur_row, width) + self.count),
                            wp.data.eq(rd.payload),
                            wp.en.eq((state == SeqState.READ) & rd.valid),
                        ]

    def _write(self) -> None:
        """Write data <- the write-back buffers."""
        m, state, wr = self.m, self.state, self.ports.mem_wr
        taken = Signal(name="seq_wr_taken")
        wvalid = Signal(name="seq_wvalid")
        wdata = Signal(self.plan.data_width, name="seq_wdata")
        m.d.comb += [wr.valid.eq(wvalid), wr.payload.eq(wdata), taken.eq(wr.ready)]
        for t, buf in self.bufs.writeback.items():
            sel = any_of(
                [
                    self._here(s, i)
                    for s, acts in enumerate(self.actions)
                    for i, act in enumerate(acts)
                    if act.kind == "write" and act.tensor == t
                ]
            )
            v, d, last = buf.reader(f"wb_{t}", self.wstart & sel, self.cur_row, taken)
            with m.If(sel):
                m.d.comb += [wvalid.eq(v & (state == SeqState.WRITE)), wdata.eq(d)]
                with m.If((state == SeqState.WRITE) & v & taken & last):
                    m.d.comb += self.nxt.eq(1)
