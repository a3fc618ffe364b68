"""GEMM compute core for multi-task schedules (InTAR): ``Y = epilogue(X · W)`` row by row, W on chip.

The core holds a constant weight slice ``W [k, n]`` in a ROM and computes one
output row per input row: ``lanes`` output columns in parallel, one
reduction step per cycle. Activations arrive one element per beat (row-major,
``k`` beats per row); results leave one element per beat (``n`` beats per
row, column order), after the epilogue:

* ``acc``: the exact dot product brought into ``acc`` by wrapping (the
  accumulators are ``acc.width`` bits, as in :mod:`hwgen.schedule.graph`);
* ``requant`` (optional): ``clamp(zero_point + round_shift(acc · multiplier,
  shift), out.min, out.max)``, ``round_shift`` rounding half away from zero;
* ``relu`` (optional, after requant): ``max(0, y)``.

Passes: a row needs ``P = ceil(n / lanes)`` passes of ``k`` cycles. Pass 0
multiplies the activations as they arrive and stores them in a ``k``-entry row
buffer; passes 1..P-1 read them back. At the end of a pass the ``lanes``
results move to an output shift register that drains one element per cycle
through the epilogue while the next pass computes; a pass may end only when
that register is empty (or empties in the same cycle), so with ``k ≥ lanes``
the core never stalls and a row of ``R`` rows takes ``R·P·k`` cycles.

Timing (pipeline: read stage, MAC stage, output register): the first output
of a pass is valid 3 cycles after the cycle its last reduction step is
issued; see :meth:`GemmCoreConfig.schedule` for the exact per-transfer model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import BlockConfig, Timing, check_range, param
from ..errors import ConfigError
from ..numtype import Int, NumType
from ..schedule.graph import round_shift
from ..sim.stimuli import biased
from ..sim.vectors import StreamVectors

PIPE = 3  # issue -> MAC -> first output register valid


@dataclass(frozen=True, kw_only=True)
class GemmCoreConfig(BlockConfig):
    """Parameters of one GEMM compute core (weights included: they are part of the model)."""

    block_name: ClassVar[str] = "gemm_core"
    summary: ClassVar[str] = (
        "GEMM core for multi-task schedules: weights in ROM, lanes output columns in "
        "parallel, optional requantization and ReLU epilogue"
    )

    weights: tuple[tuple[int, ...], ...] = param(
        ((1,),), "weight slice W [k][n] (raw integers)", "1..4096 rows of 1..4096 values, all the same length"
    )
    lanes: int = param(8, "output columns computed in parallel (MACs per cycle)", "1..64")
    act: NumType = param(Int(8), "activation type", "Int/UInt of 2..18 bits")
    weight_type: NumType = param(Int(8), "weight type", "Int/UInt of 2..18 bits")
    acc: NumType = param(Int(32), "accumulator type (results wrap to it)", "Int of 8..48 bits")
    requant: bool = param(False, "apply clamp(zp + round_shift(acc·multiplier, shift))", "true | false")
    multiplier: int = param(1 << 30, "requantization multiplier M0", "0..2^31-1")
    shift: int = param(30, "requantization right shift n", "0..62")
    zero_point: int = param(0, "requantization output zero point", "within out")
    out: NumType = param(Int(8), "requantized output type", "Int/UInt of 2..32 bits")
    relu: bool = param(False, "apply max(0, y) last", "true | false")

    @property
    def k(self) -> int:
        return len(self.weights)

    @property
    def n(self) -> int:
        return len(self.weights[0])

    @property
    def passes(self) -> int:
        return -(-self.n // self.lanes)

    @property
    def out_type(self) -> NumType:
        return self.out if self.requant else self.acc

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 64)
        check_range(self.where("weights"), len(self.weights), 1, 4096)
        widths = {len(r) for r in self.weights}
        if len(widths) != 1:
            raise ConfigError(self.where("weights"), f"rows of different lengths {sorted(widths)}; W must be k×n")
        check_range(self.where("weights") + " columns", self.n, 1, 4096)
        for name in ("act", "weight_type"):
            t = getattr(self, name)
            if t.frac or not 2 <= t.width <= 18:
                raise ConfigError(self.where(name), f"{t}: integers of 2..18 bits")
        if self.acc.frac or not self.acc.signed or not 8 <= self.acc.width <= 48:
            raise ConfigError(self.where("acc"), f"{self.acc}: a signed integer of 8..48 bits")
        w = np.array(self.weights, dtype=object)
        bad = (w < self.weight_type.min) | (w > self.weight_type.max)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise ConfigError(
                self.where("weights"),
                f"W[{r}][{c}] = {self.weights[r][c]} is outside "
                f"{self.weight_type} ({self.weight_type.min}..{self.weight_type.max})",
            )
        if self.requant:
            check_range(self.where("multiplier"), self.multiplier, 0, (1 << 31) - 1)
            check_range(self.where("shift"), self.shift, 0, 62)
            if self.out.frac or not 2 <= self.out.width <= 32:
                raise ConfigError(self.where("out"), f"{self.out}: integers of 2..32 bits")
            check_range(self.where("zero_point"), self.zero_point, self.out.min, self.out.max)

    def component(self) -> GemmCore:
        return GemmCore(self)

    def timing(self) -> Timing:
        return Timing(
            latency=PIPE,
            ii=1,
            ops_per_beat=self.lanes,
            notes=f"{self.passes} pass(es) of {self.k} cycles per row; first output of a pass "
            f"{PIPE} cycles after its last step",
        )

    # ------------------------------------------------------------- models
    def model(self, x) -> np.ndarray:
        """Golden model: ``x [rows, k]`` -> ``y [rows, n]`` (see the module docstring)."""
        x = self.act.array(x).reshape(-1, self.k).astype(object)
        acc = self.acc.wrap(x.dot(np.array(self.weights, dtype=object)))
        return self.epilogue(acc)

    def epilogue(self, acc) -> np.ndarray:
        y = np.asarray(acc, dtype=object)
        if self.requant:
            y = self.out.saturate(self.zero_point + round_shift(y * self.multiplier, self.shift)) if y.size else y
        if self.relu:
            y = np.maximum(y, 0)
        return np.asarray(y).astype(self.out_type.dtype())

    def schedule(self, rows: int, arrivals: list[int] | None = None) -> tuple[list[int], list[int]]:
        """Exact cycle model with outputs always ready: the cycle each input beat is taken and each output
        beat is first valid. ``arrivals[j]`` is the first cycle input beat ``j`` is offered (default: 0,
        full rate; an off-chip memory model gives later ones)."""
        return gemm_schedule(self.k, self.n, self.lanes, rows, arrivals)

    def rom_words(self) -> list[int]:
        """Weight ROM contents: word ``p·k + kk`` packs ``W[kk, p·lanes : p·lanes + lanes]`` (zero past ``n``),
        lane ``ln`` in bits ``ln·w .. ln·w + w − 1`` (``w`` = weight width)."""
        w = self.weight_type.width
        words = []
        for p in range(self.passes):
            for kk in range(self.k):
                word = 0
                for ln in range(self.lanes):
                    col = p * self.lanes + ln
                    v = self.weights[kk][col] if col < self.n else 0
                    word |= (v & ((1 << w) - 1)) << (ln * w)
                words.append(word)
        return words

    def stimulus(self, rng: np.random.Generator, n: int = 64, *, corners: bool = True) -> StreamVectors:
        """``n`` random rows plus corner rows (all most-negative, all most-positive, zeros)."""
        rows = [biased(rng, self.act, self.k) for _ in range(n)]
        names = []
        if corners:
            rows = [
                np.full(self.k, self.act.min),
                np.full(self.k, self.act.max),
                np.zeros(self.k, dtype=np.int64),
            ] + rows
            names = ["most-negative row", "most-positive row", "zero row"]
        x = np.array(rows, dtype=np.int64)
        y = self.model(x)
        accepts, outs = self.schedule(len(x))
        return StreamVectors(
            inputs={"i": x.reshape(-1)},
            expected={"o": y.reshape(-1)},
            corners=names,
            schedule={"i": accepts, "o": outs},
        )


@dataclass
class CoreClock:
    """The core's exact cycle model as state that runs on across rows (and records): ``cycle`` is when the
    next step is issued, ``drain_free`` the first cycle the output shift register may take a new pass."""

    cycle: int = 0
    drain_free: int = 0

    def rows(
        self,
        k: int,
        n: int,
        lanes: int,
        rows: int,
        accepts: list[int],
        outs: list[int],
        arrivals: list[int] | None = None,
    ) -> int:
        """Issue ``rows`` rows of a ``k × n`` slice; append the input accept and output valid cycles; return
        the cycle of the last issued step. ``arrivals[j]``: first cycle input beat ``j`` is offered."""
        issue = self.cycle
        for _ in range(rows):
            for p in range(-(-n // lanes)):
                cols = min(lanes, n - p * lanes)
                for kk in range(k):
                    issue = self.cycle
                    if p == 0:
                        if arrivals is not None:
                            issue = max(issue, arrivals[len(accepts)])
                        accepts.append(issue)
                    self.cycle = issue + 1
                    if kk == k - 1:
                        # the MAC stage hands the pass over once the register is empty (or empties then);
                        # until it does, nothing new is issued
                        mac = max(issue + 1, self.drain_free)
                        outs.extend(mac + 2 + j for j in range(cols))
                        self.drain_free = mac + cols
                        self.cycle = mac
        return issue


def gemm_schedule(
    k: int, n: int, lanes: int, rows: int, arrivals: list[int] | None = None
) -> tuple[list[int], list[int]]:
    """The core's exact cycle model (see :meth:`GemmCoreConfig.schedule`) from its shape alone."""
    accepts: list[int] = []
    outs: list[int] = []
    CoreClock().rows(k, n, lanes, rows, accepts, outs, arrivals)
    return accepts, outs


class GemmCore(wiring.Component):
    """The GEMM core hardware; see the module docstring."""

    def __init__(self, config: GemmCoreConfig):
        self.config = cfg = config
        super().__init__({"i": In(stream.Signature(cfg.act.shape)), "o": Out(stream.Signature(cfg.out_type.shape))})

    def elaborate(self, platform) -> Module:
        cfg = self.config
        K, P, L = cfg.k, cfg.passes, cfg.lanes
        m = Module()

        # ---- memories: weight ROM (word p·K + k = W[k, p·L : p·L + L]) and the row buffer
        wlayout = data.ArrayLayout(cfg.weight_type.shape, L)
        init = cfg.rom_words()
        m.submodules.wrom = wrom = memory.Memory(shape=wlayout.size, depth=P * K, init=init)
        m.submodules.rowbuf = rowbuf = memory.Memory(shape=cfg.act.shape, depth=K, init=[])
        wr = wrom.read_port()
        rr = rowbuf.read_port()
        ww = rowbuf.write_port()

        # ---- issue stage: step (p, kk)
        p = Signal(range(P), name="pass_")
        kk = Signal(range(K), name="step")
        mac_valid = Signal()  # the MAC stage holds a step
        mac_last = Signal()  # ... which ends its pass
        mac_first = Signal()  # ... which starts its pass
        mac_p0 = Signal()  # ... of pass 0 (activation from the input register)
        x_reg = Signal(cfg.act.shape, reset_less=True)
        count = Signal(range(L + 1))  # results left in the output shift register
        out_valid = self.o.valid
        o_take = ~out_valid | self.o.ready
        drain_now = (count > 0) & o_take
        sr_free = (count == 0) | ((count == 1) & o_take)
        hold = mac_valid & mac_last & ~sr_free  # the MAC stage must wait for the register
        issue_ok = ~hold
        in_pass0 = p == 0
        fire = Signal()  # a step is issued this cycle
        m.d.comb += [
            self.i.ready.eq(issue_ok & in_pass0),
            fire.eq(issue_ok & (~in_pass0 | self.i.valid)),
            wr.addr.eq(p * K + kk),
            wr.en.eq(issue_ok),
            rr.addr.eq(kk),
            rr.en.eq(issue_ok),
            ww.addr.eq(kk),
            ww.data.eq(self.i.payload),
            ww.en.eq(self.i.valid & self.i.ready),
        ]
        with m.If(issue_ok):
            m.d.sync += [
                mac_valid.eq(fire),
                mac_last.eq(kk == K - 1),
                mac_first.eq(kk == 0),
                mac_p0.eq(in_pass0),
                x_reg.eq(self.i.payload),
            ]
        with m.If(fire):
            with m.If(kk == K - 1):
                m.d.sync += [kk.eq(0), p.eq(Mux(p == P - 1, 0, p + 1))]
            with m.Else():
                m.d.sync += kk.eq(kk + 1)

        # ---- MAC stage
        x = Signal(cfg.act.shape, name="x")
        m.d.comb += x.eq(Mux(mac_p0, x_reg, rr.data))
        wv = data.ArrayLayout(cfg.weight_type.shape, L)(wr.data)
        accs, news = [], []
        for ln in range(L):
            acc = Signal(cfg.acc.shape, name=f"acc{ln}", reset_less=True)
            new = Signal(cfg.acc.shape, name=f"acc_new{ln}")
            m.d.comb += new.eq(Mux(mac_first, 0, acc) + x * wv[ln])
            with m.If(mac_valid & ~hold):
                m.d.sync += acc.eq(new)
            accs.append(acc)
            news.append(new)

        # ---- output shift register and epilogue
        sr = [Signal(cfg.acc.shape, name=f"res{ln}", reset_less=True) for ln in range(L)]
        handover = mac_valid & mac_last & sr_free
        cols_of_pass = Signal(range(L + 1))
        last_cols = cfg.n - (P - 1) * L
        m.d.comb += cols_of_pass.eq(L)
        if last_cols != L:
            pass_of_mac = Signal(range(P), name="mac_pass")
            with m.If(issue_ok & fire):
                m.d.sync += pass_of_mac.eq(p)
            with m.If(pass_of_mac == P - 1):
                m.d.comb += cols_of_pass.eq(last_cols)
        with m.If(handover):
            m.d.sync += [count.eq(cols_of_pass)] + [sr[ln].eq(news[ln]) for ln in range(L)]
        with m.Elif(drain_now):
            m.d.sync += [count.eq(count - 1)] + [sr[ln].eq(sr[ln + 1]) for ln in range(L - 1)]
        y = self._epilogue(m, sr[0])
        out = Signal(cfg.out_type.shape, reset_less=True)
        with m.If(o_take):
            m.d.sync += [out_valid.eq(count > 0), out.eq(y)]
        m.d.comb += self.o.payload.eq(out)
        return m

    def _epilogue(self, m: Module, acc) -> object:
        cfg = self.config
        if not cfg.requant:
            y = acc
        else:
            prod = Signal(signed(cfg.acc.width + 32), name="rq_prod")
            m.d.comb += prod.eq(acc * Const(cfg.multiplier, 32))
            if cfg.shift:
                half = 1 << (cfg.shift - 1)
                mag = Signal(cfg.acc.width + 32, name="rq_mag")
                m.d.comb += mag.eq(Mux(prod < 0, -prod, prod))
                q = Signal(signed(cfg.acc.width + 33), name="rq_shifted")
                m.d.comb += q.eq((mag + half) >> cfg.shift)
                rounded = Mux(prod < 0, -q, q)
            else:
                rounded = prod
            z = Signal(signed(cfg.acc.width + 34), name="rq_zp")
            m.d.comb += z.eq(rounded + cfg.zero_point)
            y = Mux(z < cfg.out.min, cfg.out.min, Mux(z > cfg.out.max, cfg.out.max, z))
        if cfg.relu:
            y = Mux(y < 0, 0, y)
        res = Signal(cfg.out_type.shape, name="epilogue")
        m.d.comb += res.eq(y)
        return res
