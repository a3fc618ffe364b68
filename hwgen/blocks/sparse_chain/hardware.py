"""The sparse chain hardware: sparse multiplexers, the MAC cascade, tap accumulators, de-skew (see the package doc)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import sum_type, to_accumulator
from ...int8pack import SHIFT
from ...pipeline import delay, register, valid_delay
from ...primitives import registered_multiply

if TYPE_CHECKING:
    from .config import SparseChainConfig


class SparseChain(wiring.Component):
    """The sparse MAC chain hardware; see the module docstring."""

    def __init__(self, config: SparseChainConfig):
        self.config = cfg = config
        S, G = cfg.stages, cfg.taps
        fields = {"x": data.ArrayLayout(cfg.act.shape, S)}
        if cfg.pack_int8:
            fields["x1"] = data.ArrayLayout(cfg.act.shape, S)
        fields |= {
            "w": data.ArrayLayout(cfg.weight.shape, S),
            "idx": data.ArrayLayout(cfg.index_bits, S),
            "mode": unsigned(cfg.mode_bits),
            "last": 1,
        }
        out = {"y": data.ArrayLayout(cfg.acc.shape, G)}
        if cfg.pack_int8:
            out["y1"] = data.ArrayLayout(cfg.acc.shape, G)
        super().__init__(
            {"i": In(stream.Signature(data.StructLayout(fields))), "o": Out(stream.Signature(data.StructLayout(out)))}
        )

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]
        fire = self.i.valid & self.i.ready

        # ---- input register; `first` marks the first beat after a `last`
        first = Signal(init=1)
        with m.If(fire):
            m.d.sync += first.eq(self.i.p.last)
        p_in = Signal(self.i.p.shape(), reset_less=True)
        v_in, first_in = Signal(), Signal()
        with m.If(advance):
            m.d.sync += [p_in.eq(self.i.p), v_in.eq(fire), first_in.eq(fire & first)]
        selects = self._selects(m, advance)
        tap_sums = self._chain(m, platform, p_in, selects, advance)
        aligned, out_valid = self._taps(m, p_in, v_in, first_in, tap_sums, advance)
        mode_out = delay(m, p_in.mode, cfg.stages + 1 + cfg.pipeline, advance, "mode_out")
        self._output(m, aligned, mode_out, out_valid, advance)
        return m

    def _selects(self, m: Module, advance: Value) -> list[Value]:
        """Each stage's sparse-multiplexer select, decoded from the beat's ``mode`` and index before the
        input register (:meth:`SparseChainConfig.select_table`), so the multiplexer is one level of
        selection after it."""
        cfg = self.config
        out = []
        for s in range(cfg.stages):
            table = cfg.select_table(s)
            width = max(1, (len(cfg.candidates(s)) - 1).bit_length())
            sel = Signal(width, name=f"sel{s}", reset_less=True)
            rom = Array(Const(v, width) for v in table)
            with m.If(advance):
                m.d.sync += sel.eq(rom[Cat(self.i.p.idx[s], self.i.p.mode)])
            out.append(sel)
        return out

    def _chain(
        self, m: Module, platform: object, p_in: Value, selects: list[Value], advance: Value
    ) -> list[list[Value]]:
        """Per stage: sparse mux, skew by ``s``, multiply (``pipeline`` more cycles), chain; returns the
        partial sum at every segment end."""
        cfg = self.config
        lanes = 2 if cfg.pack_int8 else 1
        xs = [p_in.x] + ([p_in.x1] if cfg.pack_int8 else [])
        psum = [Value.cast(0)] * lanes
        tap_sums: list[list[Value]] = []
        for s in range(cfg.stages):
            sel = [self._sparse_mux(m, s, x, selects[s], advance) for x in xs]
            w = delay(m, p_in.w[s], s, advance, f"w{s}")
            products = self._products(m, platform, s, sel, w, advance)
            if s % cfg.g_min == 0 and s > 0:
                # a group may start here: link = this stage is not a group start in the current mode
                link_in = Signal(name=f"link{s}")
                starts = [k for k, p in enumerate(cfg.nm) if s % cfg.group_len(p) == 0]
                m.d.comb += link_in.eq(~Cat(*[p_in.mode == k for k in starts]).any() if starts else 1)
                link = valid_delay(m, link_in, s + cfg.pipeline, advance, f"link{s}")
                psum = [Mux(link, ps, 0) for ps in psum]
            psum = self._stage(m, s, psum, products, advance)
            if (s + 1) % cfg.g_min == 0:
                tap_sums.append(psum)
        return tap_sums

    def _sparse_mux(self, m: Module, s: int, x: Value, select: Value, advance: Value) -> Value:
        """Stage ``s``'s activation: the candidate ``select`` picks, skewed by ``s`` cycles."""
        cfg = self.config
        cands = cfg.candidates(s)
        # padded to a power of two with the last candidate (a select never reaches it): a complete case
        inputs = [x[i] for i in cands] + [x[cands[-1]]] * ((1 << len(select)) - len(cands))
        choice = x[cands[0]] if len(cands) == 1 else Array(inputs)[select]
        return delay(m, choice.as_signed() if cfg.act.signed else choice.as_unsigned(), s, advance, f"x{s}")

    def _products(self, m: Module, platform: object, s: int, sel: list[Value], w: Value, advance: Value) -> list[Value]:
        """``x·w`` — or with INT8 packing both ``x·w`` and ``x1·w`` from one multiplier (:mod:`hwgen.int8pack`)
        — ``pipeline`` cycles after the operands (the multiplier's own registers)."""
        cfg = self.config
        mul = dict(
            a_enable=advance,
            b_enable=advance,
            p_enable=advance,
            platform=platform,
            registers=cfg.multiply_registers,
        )
        if not cfg.pack_int8:
            return [registered_multiply(m, sel[0], w, name=f"mul{s}", cell=cfg.dsp_cells, **mul)]
        pair = (sel[0] << SHIFT) + sel[1]
        packed = Signal(pair.shape(), name=f"pair{s}")
        m.d.comb += packed.eq(pair)
        prod = registered_multiply(m, packed, w, name=f"packed{s}", **mul)
        low = Signal(18, name=f"low{s}")
        m.d.comb += low.eq(prod[:SHIFT])
        return [prod[SHIFT:].as_signed() + low[SHIFT - 1], low.as_signed()]

    def _taps(
        self, m: Module, p_in: Value, v_in: Value, first_in: Value, tap_sums: list[list[Value]], advance: Value
    ) -> tuple[list[list[Value]], Value]:
        """Tap accumulators, then de-skew so every tap's result lands in the same cycle; returns the aligned
        results per tap and lane, and the results' valid bit."""
        cfg = self.config
        G, gmin = cfg.taps, cfg.g_min
        lanes = 2 if cfg.pack_int8 else 1
        aligned: list[list[Value]] = []
        out_valid = None
        for k in range(G):
            t = (k + 1) * gmin + cfg.pipeline  # cycles from p_in to the tap's registered partial sum
            v_k = valid_delay(m, v_in, t, advance, f"v_t{k}")
            f_k = valid_delay(m, first_in, t, advance, f"first_t{k}")
            l_k = valid_delay(m, p_in.last, t, advance, f"last_t{k}")
            ends = [i for i, p in enumerate(cfg.nm) if ((k + 1) * gmin) % cfg.group_len(p) == 0]
            end_in = Signal(name=f"end_in{k}")
            m.d.comb += end_in.eq(Cat(*[p_in.mode == i for i in ends]).any() if ends else 0)
            e_k = valid_delay(m, end_in, t, advance, f"end_t{k}")
            row = []
            for v in range(lanes):
                acc = Signal(cfg.acc.shape, name=f"acc{k}_{v}", reset_less=True)
                res = Signal(cfg.acc.shape, name=f"res{k}_{v}", reset_less=True)
                nxt = _overflow(m, cfg, Mux(f_k, 0, acc) + tap_sums[k][v], f"acc_next{k}_{v}")
                with m.If(advance & v_k & e_k):
                    m.d.sync += acc.eq(nxt)
                    with m.If(l_k):
                        m.d.sync += res.eq(nxt)
                row.append(delay(m, res, (G - 1 - k) * gmin, advance, f"align{k}_{v}"))
            aligned.append(row)
            if k == G - 1:
                out_valid = register(m, v_k & l_k, advance, "res_valid", reset=True)
        return aligned, out_valid

    def _output(self, m: Module, aligned: list[list[Value]], mode_out: Value, out_valid: Value, advance: Value) -> None:
        """``y[q]`` = the tap where group ``q`` ends in this mode, registered."""
        cfg = self.config
        result = Signal(self.o.p.shape(), reset_less=True)
        for v, name in enumerate(["y", "y1"][: 2 if cfg.pack_int8 else 1]):
            for q in range(cfg.taps):
                val: Value = Value.cast(0)
                for i, p in enumerate(cfg.nm):
                    step_ = cfg.group_len(p) // cfg.g_min
                    if q < cfg.stages // cfg.group_len(p):
                        val = Mux(mode_out == i, aligned[(q + 1) * step_ - 1][v], val)
                with m.If(advance):
                    m.d.sync += getattr(result, name)[q].eq(val)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(out_valid)
        m.d.comb += self.o.payload.eq(result)

    def _stage(self, m: Module, s: int, psum: list[Value], products: list[Value], advance: Value) -> list[Value]:
        """``P_s = psum + product``, registered (reset-less) and enabled by ``advance``."""
        out = []
        for v, (ps, prod) in enumerate(zip(psum, products)):
            reg = Signal(self.config.chain_type.shape, name=f"p{s}_{v}", reset_less=True)
            with m.If(advance):
                m.d.sync += reg.eq(ps + prod)
            out.append(reg)
        return out


def _overflow(m: Module, cfg: SparseChainConfig, value: Value, name: str) -> Signal:
    """``value`` (accumulator or 0, plus a chain sum) brought into the accumulator type by the overflow rule."""
    return to_accumulator(m, cfg.acc, cfg.overflow, value, sum_type(cfg.acc, cfg.chain_type), name)
