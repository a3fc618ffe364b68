"""Systolic-array wrappers: streams, control, input skew and output de-skew around a mesh.

Both wrappers stall the whole datapath with one signal, ``advance = ~o.valid
| o.ready``: when the output register holds a row nobody takes, every
pipeline register (skew, mesh, de-skew) holds. With DSP-registered PEs
(``pe.pipeline >= 3``) ``advance`` is a register instead and a one-row skid
buffer takes the row that leaves in the cycle the consumer stops
(:func:`hwgen.pipeline.output_stage`), so the stall's fanout starts at a
flip-flop. Data registers are reset-less
(they map into DSP blocks and SRLs); only valid bits, flags and the control
state are reset.

:class:`WeightStationaryArray` streams
    ``w``: ``{w: weight[C]}`` — one weight row per beat, ``R`` beats per tile, row 0 first;
    ``a``: ``{a: act[R], psum: acc[C] (if psum_input), last}`` — one activation row
    per beat, ``last`` on the tile's final row;
    ``o``: ``acc[C]`` — one result row per activation row.

:class:`OutputStationaryArray` streams
    ``i``: ``{a: act[R], w: weight[C], last}`` — beat ``k`` carries column ``k`` of
    the A tile and row ``k`` of the B tile; ``last`` on the final ``k``;
    ``o``: ``acc[C]`` — ``R`` result rows per tile, row 0 first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import pack_negated_pair, sum_type, to_accumulator, unpack_negated_pair
from ...hierarchy import target_family
from ...pipeline import delay, long_delay, output_stage, register, valid_delay
from ...structure import ram_read
from ..mac_pe import MacPEConfig
from .mesh import OutputStationaryMesh, WeightStationaryMesh, tile_spans
from .pe import product_delay, split_point

if TYPE_CHECKING:
    from .config import SystolicArrayConfig


def split_delay(
    m: Module,
    value: Value,
    split: int,
    cycles: int,
    advance: Value,
    name: str,
    *,
    low_extra: int = 0,
    high_extra: int = 0,
) -> Value:
    """``value`` delayed by ``cycles``; with a split accumulate (``split`` = L > 0) its low ``L`` bits by
    ``low_extra`` and its high bits by ``high_extra`` more (the halves of a split partial sum travel one
    cycle apart)."""
    if not split:
        return delay(m, value, cycles, advance, name)
    bits = value.as_unsigned()
    low = delay(m, bits[:split], cycles + low_extra, advance, f"{name}_lo")
    high = delay(m, bits[split:], cycles + high_extra, advance, f"{name}_hi")
    return Cat(low, high)


class WeightStationaryArray(wiring.Component):
    """R×C weight-stationary array; see the module docstring for the streams.

    Control: ``LOAD`` takes ``R`` weight rows, ``RUN`` takes activation rows
    until ``last``, ``DRAIN`` waits ``ws_drain - 1`` cycles, then ``LOAD``
    again (two flag registers, no FSM case statement). Latency (activation row taken → result row valid):
    :attr:`~.config.SystolicArrayConfig.ws_latency` = ``NI + NS +`` :func:`~.pe.pe_stages` (``NS`` spans):
    a registered product delays the partial sums by a cycle; a split accumulate's high half is a further
    cycle behind (its low half waits for it at the output). With column sums
    (:attr:`~.config.SystolicArrayConfig.psum_below`) the partial-sum input waits in a memory for the
    column sums and is added below the mesh.
    """

    def __init__(self, config: SystolicArrayConfig):
        self.config = cfg = config
        pe = cfg.pe
        a_fields = {"a": data.ArrayLayout(pe.act.shape, cfg.rows)}
        if cfg.psum_input:
            a_fields["psum"] = data.ArrayLayout(pe.acc.shape, cfg.cols)
        a_fields["last"] = 1
        super().__init__(
            {
                "w": In(stream.Signature(data.StructLayout({"w": data.ArrayLayout(pe.weight.shape, cfg.cols)}))),
                "a": In(stream.Signature(data.StructLayout(a_fields))),
                "o": Out(stream.Signature(data.ArrayLayout(pe.acc.shape, cfg.cols))),
            }
        )

    def elaborate(self, platform: object) -> Module:
        cfg, pe = self.config, self.config.pe
        R, C = cfg.rows, cfg.cols
        L, product_reg = split_point(pe), product_delay(pe)
        m = Module()
        read = ram_read(target_family(platform))  # delay lines in distributed RAM, or block RAM on iCE40
        packed = cfg.pack_int8  # the mesh's columns are column pairs (hwgen.int8pack, negated low weight)
        mesh_pe, MC, mesh_span, column = cfg.mesh_shape()
        column = column if cfg.psum_below else None
        m.submodules.mesh = mesh = WeightStationaryMesh(mesh_pe, R, MC, cfg.tile, mesh_span, column)
        advance, o_valid, o_payload = output_stage(m, self.o, registered=cfg.registered_stall)
        m.d.comb += mesh.advance.eq(advance)

        # ---- control: LOAD R weight rows -> RUN until `last` -> DRAIN -> LOAD
        loading = Signal(init=1)  # LOAD state
        running = Signal()  # RUN state (neither: DRAIN)
        row = Signal(range(max(R, 2)))
        drain = Signal(range(max(cfg.ws_drain, 2)))
        w_fire = self.w.valid & self.w.ready
        a_fire = self.a.valid & self.a.ready
        m.d.comb += [self.w.ready.eq(loading & advance), self.a.ready.eq(running & advance)]
        with m.If(w_fire):
            m.d.sync += row.eq(row + 1)
            with m.If(row == R - 1):
                m.d.sync += [row.eq(0), loading.eq(0), running.eq(1)]
        with m.If(a_fire & self.a.p.last):
            m.d.sync += running.eq(0)
            if cfg.ws_drain <= 1:
                m.d.sync += loading.eq(1)
            else:
                m.d.sync += drain.eq(cfg.ws_drain - 2)
        with m.If(~loading & ~running & advance):  # DRAIN
            m.d.sync += drain.eq(drain - 1)
            with m.If(drain == 0):
                m.d.sync += loading.eq(1)
        # weight row r is written by the r-th beat of a tile. With DSP-registered operands (pipeline 3) the
        # write is registered (a cycle later, stall or not: the drain's bound still holds), so the stream's
        # handshake logic does not reach every DSP's clock enable in the same cycle.
        loads = [w_fire & (row == r) for r in range(R)]
        if pe.pipeline >= 3:
            w_bus = Signal.like(self.w.p.w, name="w_bus_r", reset_less=True)
            load = Signal(R, name="load_r")
            m.d.sync += [w_bus.eq(self.w.p.w), load.eq(Cat(*loads))]
            loads, weights = list(load), w_bus
        else:
            weights = self.w.p.w
        for r in range(R):
            m.d.comb += mesh.load[r].eq(loads[r])
        for c in range(MC):
            w = pack_negated_pair(weights[2 * c + 1], weights[2 * c]) if packed else weights[c]
            m.d.comb += mesh.w_bus[c].eq(w)

        # ---- input register, then skew: tile row I by I cycles (long skews in memory)
        in_valid = Signal()
        in_a = Signal(data.ArrayLayout(pe.act.shape, R), reset_less=True)
        with m.If(advance):
            m.d.sync += [in_valid.eq(a_fire), in_a.eq(self.a.p.a)]
        act_read = act_skew_read(target_family(platform), pe)
        for I, (r0, nr) in enumerate(tile_spans(R, cfg.tile)):
            for r in range(r0, r0 + nr):
                m.d.comb += mesh.a[r].eq(long_delay(m, in_a[r], I, advance, f"skew_a{r}", read=act_read))
        spans = [(S, c) for S, (c0, n) in enumerate(tile_spans(MC, mesh_span)) for c in range(c0, c0 + n)]
        if cfg.psum_input and not cfg.psum_below:  # added at the top: span S skewed by S
            in_psum = Signal(data.ArrayLayout(pe.acc.shape, C), reset_less=True)
            with m.If(advance):
                m.d.sync += in_psum.eq(self.a.p.psum)
            for S, c in spans:
                skewed = split_delay(m, in_psum[c], L, S + product_reg, advance, f"skew_p{c}", high_extra=1)
                m.d.comb += mesh.psum_in[c].eq(skewed)

        # ---- de-skew: span S waits NS - 1 - S cycles. The de-skew registers (and, for the
        # last span, the mesh's own psum registers) hold still while the output is stalled,
        # so they drive the output payload directly: no separate output register.
        NS = cfg.span_count
        deskewed = {
            c: split_delay(m, mesh.psum_out[c], L, NS - 1 - S, advance, f"deskew{c}", low_extra=1) for S, c in spans
        }
        negated: set[int] = set()
        if packed:
            deskewed, negated = _unpack_columns(m, deskewed), set(range(0, C, 2))
        if cfg.psum_below:
            self._add_psum_below(m, deskewed, negated, o_payload, advance, read)
        else:
            for c in range(C):
                m.d.comb += o_payload[c].eq(deskewed[c])
        out_valid = valid_delay(m, in_valid, cfg.ws_latency - 2, advance, "valid")
        with m.If(advance):
            m.d.sync += o_valid.eq(out_valid)
        return m

    def _add_psum_below(
        self, m: Module, sums: dict[int, Value], negated: set[int], o_payload: Value, advance: Value, read: str
    ) -> None:
        """Result = the de-skewed column sums (minus those in ``negated``: the low fields of packed pairs) plus
        the partial-sum input, delayed (in memory) to meet them; the accumulator's low bits (wrap, or
        'error': no overflow). Combinational into the output, or a register
        (:attr:`~.config.SystolicArrayConfig.sum_register`)."""
        cfg, pe = self.config, self.config.pe
        col = cfg.column_type(cfg.rows)
        exact = sum_type(pe.acc, col) if cfg.psum_input else col
        base = cfg.ws_latency - (1 if cfg.sum_register else 0)
        psum = None
        if cfg.psum_input:
            psum = long_delay(m, self.a.p.psum.as_value(), base, advance, "psum", read=read)
        W = pe.acc.width
        for c in range(cfg.cols):
            total = -sums[c] if c in negated else sums[c]
            if psum is not None:
                word = psum[c * W : (c + 1) * W]
                word = word.as_signed() if pe.acc.signed else word
                total = word - sums[c] if c in negated else word + sums[c]
            value = to_accumulator(m, pe.acc, "wrap", total, exact, f"result{c}", full_name=f"result{c}_sum")
            if cfg.sum_register:
                value = register(m, value, advance, f"sum{c}")
            m.d.comb += o_payload[c].eq(value)


def act_skew_read(family: str | None, pe: MacPEConfig) -> str:
    """Read port of the WS activation skew memories: ``sync`` (an output register) when the PE multiplies
    its operands unregistered (``pipeline`` < 3), so a distributed-RAM read and its address fanout are not
    in series with the multiplier and the accumulate (ECP5, 8×8: 68.5 MHz with the asynchronous read
    against 84.7 MHz with the register); else the family's port (:func:`hwgen.structure.ram_read`)."""
    if family is not None and pe.pipeline < 3:
        return "sync"
    return ram_read(family)


def _unpack_columns(m: Module, packed: dict[int, Value]) -> dict[int, Value]:
    """Column sums ``2j`` (negated) and ``2j + 1`` from packed column pair ``j``
    (:func:`hwgen.int8pack.unpack_negated`): ``−Σ a·w[2j]`` is the signed low 18 bits, ``Σ a·w[2j+1]``
    the high bits plus the low field's sign (its borrow)."""
    out: dict[int, Value] = {}
    for j, p in packed.items():
        low, high = unpack_negated_pair(m, p, f"pair{j}")
        out[2 * j], out[2 * j + 1] = low, high
    return out


class OutputStationaryArray(wiring.Component):
    """R×C output-stationary array; see the module docstring for the streams.

    Each PE is read out in the cycle it finishes: per column, a multiplexer
    on a select register picks the PE whose ``done`` is high; columns are then
    de-skewed (column ``j`` waits ``C - 1 - j`` cycles) so row ``i`` of a tile
    leaves ``C + 2 + i + pe.pipeline`` cycles after its ``last`` beat was taken
    (a split accumulate's low half waits a cycle for its high half).
    """

    def __init__(self, config: SystolicArrayConfig):
        self.config = cfg = config
        pe = cfg.pe
        super().__init__(
            {
                "i": In(
                    stream.Signature(
                        data.StructLayout(
                            {
                                "a": data.ArrayLayout(pe.act.shape, cfg.rows),
                                "w": data.ArrayLayout(pe.weight.shape, cfg.cols),
                                "last": 1,
                            }
                        )
                    )
                ),
                "o": Out(stream.Signature(data.ArrayLayout(pe.acc.shape, cfg.cols))),
            }
        )

    def elaborate(self, platform: object) -> Module:
        cfg, pe = self.config, self.config.pe
        R, C = cfg.rows, cfg.cols
        m = Module()
        m.submodules.mesh = mesh = OutputStationaryMesh(pe, R, C, cfg.tile)
        advance, o_valid, o_payload = output_stage(m, self.o, registered=cfg.registered_stall)
        m.d.comb += mesh.advance.eq(advance)

        # ---- a `last` beat is taken no sooner than R cycles after the previous one
        # (`may_last` = since_last >= R, kept as its own register so `ready` is one LUT from the stream)
        since_last = Signal(range(R + 1), init=R)
        may_last = Signal(init=1)
        blocked = self.i.p.last & ~may_last
        fire = self.i.valid & self.i.ready
        m.d.comb += self.i.ready.eq(advance & ~blocked)
        with m.If(advance):
            with m.If(fire & self.i.p.last):
                m.d.sync += [since_last.eq(1), may_last.eq(R <= 1)]
            with m.Elif(since_last < R):
                m.d.sync += [since_last.eq(since_last + 1), may_last.eq(since_last + 1 >= R)]

        # ---- input register (bubbles become a = 0 with no flags), skew rows by i, columns by j
        first = Signal(init=1)  # the next beat starts a tile
        with m.If(fire):
            m.d.sync += first.eq(self.i.p.last)
        # (the activations are zeroed behind the register, by the registered `in_fire`: zeroing them on the
        # way in put the stream handshake in series with a reset of every activation bit)
        in_a = Signal(data.ArrayLayout(pe.act.shape, R), reset_less=True)
        in_w = Signal(data.ArrayLayout(pe.weight.shape, C), reset_less=True)
        in_fire, in_first, in_last = Signal(), Signal(), Signal()
        with m.If(advance):
            m.d.sync += [
                in_a.eq(self.i.p.a),
                in_w.eq(self.i.p.w),
                in_fire.eq(fire),
                in_first.eq(fire & first),
                in_last.eq(fire & self.i.p.last),
            ]
        for r in range(R):
            a_r = Mux(in_fire, in_a[r], 0)
            m.d.comb += [
                mesh.a[r].eq(delay(m, a_r, r, advance, f"skew_a{r}")),
                mesh.first[r].eq(valid_delay(m, in_first, r, advance, f"skew_f{r}")),
                mesh.last[r].eq(valid_delay(m, in_last, r, advance, f"skew_l{r}")),
            ]
        for c in range(C):
            m.d.comb += mesh.w[c].eq(delay(m, in_w[c], c, advance, f"skew_w{c}"))

        # ---- read-out: the mesh's column bus, registered, then de-skewed (column c waits C-1-c);
        # as in the WS array the (stall-enabled) de-skew registers drive the output payload directly
        L = split_point(pe)
        for c in range(C):
            col = register(m, mesh.col[c], advance, f"col{c}")
            m.d.comb += o_payload[c].eq(split_delay(m, col, L, C - 1 - c, advance, f"deskew{c}", low_extra=1))
        out_valid = valid_delay(m, mesh.col_valid[0], C - 1 + (1 if L else 0), advance, "valid")
        with m.If(advance):
            m.d.sync += o_valid.eq(out_valid)
        return m
