"""The fixed GEMM core: one weight slice in ROM, ``Y = epilogue(X · W)`` row by row.

The core holds a constant weight slice ``W [k, n]`` in a ROM and computes one
output row per input row: ``lanes`` output columns in parallel, one
reduction step per cycle. Activations arrive one element per beat (row-major,
``k`` beats per row); results leave one element per beat (``n`` beats per
row, column order), after the epilogue:

* ``acc``: the exact dot product wrapped to ``acc`` (the accumulators are
  ``acc.width`` bits, as in :mod:`hwgen.schedule.graph`);
* ``requant`` (optional): ``requantize(acc, multiplier, shift, zero_point,
  out)`` of :mod:`hwgen.requant` (ties away from zero, or to even with ``rounding="half_even"``);
* ``relu`` (optional, after requant): ``max(zero_point, y)`` after requant,
  else ``max(0, y)`` (the quantized ReLU).

Passes: a row needs ``P = ceil(n / lanes)`` passes of ``k`` cycles; pass 0
multiplies the activations as they arrive and stores them in a ``k``-entry row
buffer, passes 1..P-1 read them back (:mod:`.datapath`). With ``k ≥ lanes``
the core never stalls and ``R`` rows take ``R·P·k`` cycles; the exact
per-transfer timing is :mod:`.cycles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import requantize as requantize_hw
from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param
from ...errors import ConfigError
from ...numtype import Int, NumType
from ...requant import MAX_MULTIPLIER, MAX_SHIFT, Rounding, check_requant, check_rounding, requantize
from ...structure import Features, TimingPath, add, dsp_tiles, multiplier_path
from ...vectors import StreamVectors
from . import testdata
from .cycles import PIPE, gemm_cycles
from .datapath import GemmDatapath
from .reference import GemmReference


@dataclass(frozen=True, kw_only=True)
class GemmCoreConfig(BlockConfig):
    """Parameters of one GEMM compute core (weights included: they are part of the model)."""

    block_name: ClassVar[str] = "gemm_core"
    auto_defaults: ClassVar[dict] = {"mac_stages": 0}
    summary: ClassVar[str] = (
        "GEMM core for multi-task schedules: weights in ROM, lanes output columns in "
        "parallel, optional requantization and ReLU epilogue"
    )

    weights: tuple[tuple[int, ...], ...] = param(
        ((1,),), "weight slice W [k][n] (raw integers)", "1..4096 rows of 1..4096 values, all the same length"
    )
    lanes: int = param(8, "output columns computed in parallel (MACs per cycle)", "1..64")
    act: NumType = param(Int(8), "activation type", "Int/UInt of 2..32 bits")
    weight: NumType = param(Int(8), "weight type", "Int/UInt of 2..18 bits")
    acc: NumType = param(Int(32), "accumulator type (results wrap to it)", "Int of 8..48 bits")
    requant: bool = param(
        False, "apply clamp(zero_point + round_shift(acc·multiplier, shift)) (hwgen.requant)", "true | false"
    )
    multiplier: int = param(1 << 30, "requantization multiplier M0", "0..2^31-1")
    shift: int = param(30, "requantization right shift n", "0..62")
    zero_point: int = param(0, "requantization output zero point", "within out")
    out: NumType = param(Int(8), "requantized output type", "Int/UInt of 2..32 bits")
    relu: bool = param(
        False, "apply the quantized ReLU last: max(zero_point, y) after requant, else max(0, y)", "true | false"
    )
    mac_stages: int | None = param(
        None,
        "registers between the weight ROM and the accumulators (1: the products, 2: also the operands); each "
        "delays every result a cycle; left out, hwgen picks the fewest that meet the design's clock (0 outside "
        "a design; a record core's slices use the record core's own)",
        "0..2",
    )
    rounding: Rounding = param(
        "half_away",
        "how requantization rounds ties: away from zero (gemmlowp/TFLite) or to even (ONNX QuantizeLinear)",
        "half_away | half_even",
    )
    bias: tuple[int, ...] = param(
        (), "per-column integers added to the accumulators before the epilogue (wrapping to acc)", "empty or n values"
    )
    multipliers: tuple[int, ...] = param(
        (), "per-column requantization multipliers (per-channel scales; replace multiplier)", "empty or n values"
    )
    shifts: tuple[int, ...] = param((), "per-column requantization shifts (replace shift)", "empty or n values")

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
    def relu_floor(self) -> int:
        """The ReLU's lower bound: the output zero point (a real 0) after requantization, else 0."""
        return self.zero_point if self.requant else 0

    @property
    def out_type(self) -> NumType:
        return self.out if self.requant else self.acc

    @property
    def columnwise(self) -> bool:
        """Whether a parameter differs by column (bias, per-column multipliers or shifts): the epilogue then
        reads them from a column ROM."""
        return bool(self.bias or self.multipliers or self.shifts)

    def column_params(self) -> list[tuple[int, int, int]]:
        """``(bias, multiplier, shift)`` of each of the ``n`` columns (bias 0 and the shared multiplier and
        shift where not per column; multiplier 0 and shift 0 without requant)."""
        rq = self.requant
        mult = self.multipliers or (self.multiplier if rq else 0,) * self.n
        shift = self.shifts or (self.shift if rq else 0,) * self.n
        return list(zip(self.bias or (0,) * self.n, mult, shift))

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 64)
        check_range(self.where("mac_stages"), self.mac_stages, 0, 2)
        check_range(self.where("weights"), len(self.weights), 1, 4096)
        widths = {len(r) for r in self.weights}
        if len(widths) != 1:
            raise ConfigError(self.where("weights"), f"rows of different lengths {sorted(widths)}; W must be k×n")
        check_range(self.where("weights") + " columns", self.n, 1, 4096)
        for name, top in (("act", 32), ("weight", 18)):
            t = getattr(self, name)
            if t.frac or not 2 <= t.width <= top:
                raise ConfigError(self.where(name), f"{t}: integers of 2..{top} bits")
        if self.acc.frac or not self.acc.signed or not 8 <= self.acc.width <= 48:
            raise ConfigError(self.where("acc"), f"{self.acc}: a signed integer of 8..48 bits")
        w = np.array(self.weights, dtype=object)
        bad = (w < self.weight.min) | (w > self.weight.max)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise ConfigError(
                self.where("weights"),
                f"W[{r}][{c}] = {self.weights[r][c]} is outside {self.weight} ({self.weight.min}..{self.weight.max})",
            )
        if self.requant:
            check_requant(self.block_name, self.multiplier, self.shift, self.zero_point, self.out, self.rounding)
        else:
            check_rounding(self.where("rounding"), self.rounding)
        self._check_columns()

    def _check_columns(self) -> None:
        for name in ("bias", "multipliers", "shifts"):
            values = getattr(self, name)
            if values and len(values) != self.n:
                raise ConfigError(self.where(name), f"{len(values)} values for {self.n} columns; give one per column")
            if values and name != "bias" and not self.requant:
                raise ConfigError(self.where(name), "per-column requantization needs requant = true")
        for j, v in enumerate(self.bias):
            if not self.acc.holds(v, v):
                raise ConfigError(
                    self.where(f"bias[{j}]"), f"{v} is outside {self.acc} ({self.acc.min}..{self.acc.max})"
                )
        for name, hi in (("multipliers", MAX_MULTIPLIER), ("shifts", MAX_SHIFT)):
            for j, v in enumerate(getattr(self, name)):
                check_range(self.where(f"{name}[{j}]"), v, 0, hi)

    def component(self) -> GemmCore:
        return GemmCore(self)

    def timing(self) -> Timing:
        return Timing(
            latency=PIPE + self.mac_stages,
            ii=1,
            ops_per_beat=self.lanes,
            notes=f"{self.passes} pass(es) of {self.k} cycles per row; first output of a pass "
            f"{PIPE + self.mac_stages} cycles after its last step",
        )

    # ------------------------------------------------------------- models
    def model(self, x: np.ndarray) -> np.ndarray:
        """Golden model: ``x [rows, k]`` -> ``y [rows, n]``: the exact ``x · W`` wrapped to ``acc``, then the
        epilogue (:meth:`epilogue`)."""
        x = self.act.array(x).reshape(-1, self.k).astype(object)
        acc = self.acc.wrap(x.dot(np.array(self.weights, dtype=object)))
        return self.epilogue(acc)

    def epilogue(self, acc: np.ndarray) -> np.ndarray:
        """``acc + bias`` wrapped to ``acc`` (per column, when given), then ``requantize(·, multiplier, shift,
        zero_point, out)`` (:mod:`hwgen.requant`; per-column multipliers and shifts when given) when
        ``requant``, then ``max(relu_floor, y)`` when ``relu``."""
        y = np.asarray(acc, dtype=object)
        if self.bias:
            y = self.acc.wrap(y + np.array(self.bias, dtype=object))
        if self.requant:
            mult, shift = self.multipliers or self.multiplier, self.shifts or self.shift
            y = requantize(y, mult, shift, self.zero_point, self.out, self.rounding)
        if self.relu:
            y = np.maximum(y, self.relu_floor)
        return np.asarray(y).astype(self.out_type.dtype())

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """Rows of ``k`` activation beats through :func:`~.cycles.gemm_cycles` (inputs offered from
        ``arrivals["i"]`` when given)."""
        beats = vectors.beats("i")
        offered = (arrivals or {}).get("i")
        accepts, outs = gemm_cycles(self.k, self.n, self.lanes, beats // self.k, offered, mac_stages=self.mac_stages)
        return {"i": accepts, "o": outs}

    def rom_words(self) -> list[int]:
        """Weight ROM contents: word ``p·k + kk`` packs ``W[kk, p·lanes : p·lanes + lanes]`` (zero past ``n``),
        lane ``ln`` in bits ``ln·w .. ln·w + w − 1`` (``w`` = weight width)."""
        w = self.weight.width
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
        return testdata.core_stimulus(self, rng, n, corners)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.core_configs(cls)

    def reference(self) -> GemmReference:
        return GemmReference(self, [(self, 0)])

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.core_formal_configs(cls)

    # ------------------------------------------------------------- timing
    def timing_candidates(self, family: str) -> list[dict]:
        """Cheapest first: the products registered, then the operands too."""
        return [{"mac_stages": k} for k in (0, 1, 2)]

    def timing_paths(self, family: str) -> list[TimingPath]:
        """The MAC path (:func:`mac_paths`), the constant epilogue from the result shift register to the output
        register, the weight address ``p·k + step`` and the stall enable."""
        size = mac_register_bits(self, self.mac_stages)
        A = self.acc.width
        epi: dict[str, int] = {"luts": 2 if self.relu else 0}
        if self.requant:  # constant multiply, magnitude, constant shift and rounding, offset and clamp
            mult = multiplier_path(A, max(self.multiplier.bit_length(), 2), family)
            epi = {**mult, "adders": 5, "carry_bits": A + 32, "luts": 3 + epi["luts"]}
        words = max(self.passes * self.k, 2).bit_length()
        shapes = [("epilogue", epi), ("weight address", {"adders": 1, "carry_bits": words})]
        shapes.append(("stall enable", {"luts": 2, "fanout": size}))
        return mac_paths(self, self.mac_stages, family, size) + [
            TimingPath(name, size=size, **terms) for name, terms in shapes
        ]

    def features(self, family: str) -> Features:
        return core_features(
            family,
            self.lanes,
            self.act,
            self.weight,
            self.acc,
            rom_words=self.passes * self.k,
            rows=self.k,
            epilogue=self.requant,
            runtime_epilogue=False,
        )


def core_features(
    family: str,
    lanes: int,
    act: NumType,
    weight: NumType,
    acc: NumType,
    *,
    rom_words: int,
    rows: int,
    epilogue: bool,
    runtime_epilogue: bool,
) -> Features:
    """Features of one GEMM datapath: multipliers and accumulators per lane, the output shift register,
    the weight ROM (``rom_words`` words of ``lanes`` weights), the row buffer and the epilogue."""
    L, A = lanes, acc.width
    feat: Features = {}
    tiles = dsp_tiles(act.width, weight.width, family)
    add(feat, "lanes", **({"dsp": L * tiles} if tiles else {"lut_mul": L * act.width * weight.width}))
    add(feat, "lanes", acc_add_bits=L * A, acc_reg_bits=L * A)
    add(feat, "output shift register", reg_bits=L * A + A, mux_bits=L * A)
    add(feat, "memories", mem_bits=rom_words * L * weight.width + rows * act.width)
    if epilogue or runtime_epilogue:
        add(feat, "epilogue", dsp=dsp_tiles(A, 32, family), acc_add_bits=3 * (A + 32), sat_bits=A + 34)
    if runtime_epilogue:
        add(feat, "epilogue", mux_bits=A + 34, reg_bits=2 * 140)
    add(feat, "control", ctrl=4, valid_bits=4)
    return feat


class GemmCore(wiring.Component):
    """The GEMM core hardware; see the package docstring. Ports: ``i`` (one activation per beat),
    ``o`` (one result per beat)."""

    def __init__(self, config: GemmCoreConfig):
        self.config = cfg = config
        super().__init__({"i": In(stream.Signature(cfg.act.shape)), "o": Out(stream.Signature(cfg.out_type.shape))})

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        K, P, L = cfg.k, cfg.passes, cfg.lanes
        m = Module()

        # ---- memories: weight ROM (word p·K + k = W[k, p·L : p·L + L]) and the row buffer
        # (memories and counters of at least 2 words / states: a 1-word memory would have a 0-bit address)
        wlayout = data.ArrayLayout(cfg.weight.shape, L)
        m.submodules.wrom = wrom = memory.Memory(shape=wlayout.size, depth=max(P * K, 2), init=cfg.rom_words())
        m.submodules.rowbuf = rowbuf = memory.Memory(shape=cfg.act.shape, depth=max(K, 2), init=[])
        wr, rr, ww = wrom.read_port(), rowbuf.read_port(), rowbuf.write_port()

        # ---- issue stage: step (p, kk)
        p = Signal(range(max(P, 2)), name="pass_")
        kk = Signal(range(max(K, 2)), name="step")
        dp = GemmDatapath(m, self.o, cfg.act, cfg.weight, cfg.acc, L, cfg.mac_stages, cfg.n if cfg.columnwise else 0)
        in_pass0 = p == 0
        fire = Signal()  # a step is issued this cycle
        m.d.comb += [
            self.i.ready.eq(dp.issue_ok & in_pass0),
            fire.eq(dp.issue_ok & (~in_pass0 | self.i.valid)),
            wr.addr.eq(p * K + kk),
            wr.en.eq(dp.issue_ok),
            rr.addr.eq(kk),
            rr.en.eq(dp.issue_ok),
            ww.addr.eq(kk),
            ww.data.eq(self.i.payload),
            ww.en.eq(self.i.valid & self.i.ready),
        ]
        last_cols = cfg.n - (P - 1) * L
        cols = L if last_cols == L else Mux(p == P - 1, last_cols, L)
        col0 = Signal(range(max(cfg.n, 2)), name="pass_col0")  # p·L: the pass's first column
        dp.issue(fire, kk == K - 1, kk == 0, in_pass0, self.i.payload, cols, [], col0)
        with m.If(fire):
            with m.If(kk == K - 1):
                m.d.sync += [kk.eq(0), p.eq(Mux(p == P - 1, 0, p + 1))]
                if cfg.columnwise:
                    m.d.sync += col0.eq(Mux(p == P - 1, 0, col0 + L))
            with m.Else():
                m.d.sync += kk.eq(kk + 1)

        news = dp.mac(rr.data, wr.data)
        dp.drain(news, lambda acc, _stage: static_epilogue(m, cfg, acc, dp), cfg.out_type.shape, [])
        return m


def mac_register_bits(s: GemmCoreConfig, mac_stages: int) -> int:
    """Register bits of a core's datapath (accumulators, result shift register, MAC-stage registers)."""
    pw = s.act.width + s.weight.width
    return s.lanes * (2 * s.acc.width + pw * min(mac_stages, 1) + s.weight.width * (mac_stages >= 2))


def mac_paths(s: GemmCoreConfig, mac_stages: int, family: str, size: int, cells: bool = False) -> list[TimingPath]:
    """ROM read → (operand register, 2) → multiply → (product register, 1+) → accumulate → result register;
    with ``cells`` (mac_stages 2) the product register is the DSP cell's own (the operands' registers stay in
    the fabric, next to the memories: the route into the cell shares the multiply's cycle)."""
    mult = multiplier_path(s.act.width, s.weight.width, family)
    acc = {"adders": 1, "carry_bits": s.acc.width, "luts": 2}  # first-step mux, hand-over mux
    if cells:
        shapes = [("weight ROM", {"memory": 1, "luts": 1}), ("multiply", mult)]
        shapes.append(("accumulate", {**acc, "dsp_out": 1}))
    elif mac_stages == 0:
        shapes = [("weight ROM, multiply, accumulate", {"memory": 1, **mult, **acc, "luts": 3})]
    elif mac_stages == 1:
        shapes = [("weight ROM and multiply", {"memory": 1, **mult, "luts": 1}), ("accumulate", acc)]
    else:
        shapes = [("weight ROM", {"memory": 1, "luts": 1}), ("multiply", mult), ("accumulate", acc)]
    return [TimingPath(name, size=size, **terms) for name, terms in shapes]


def column_layout(acc: NumType) -> data.StructLayout:
    """A column ROM word: the column's bias (an ``acc`` integer), requantization multiplier and shift."""
    return data.StructLayout({"bias": acc.shape, "mult": 31, "shift": 6})


def column_words(slices: list[GemmCoreConfig]) -> list[int]:
    """The column ROM of ``slices``, one after another: :meth:`GemmCoreConfig.column_params` of each column."""
    lay = column_layout(slices[0].acc)
    return [
        lay.const({"bias": b, "mult": mult, "shift": sh}).as_value().value
        for s in slices
        for b, mult, sh in s.column_params()
    ]


def static_epilogue(m: Module, cfg: GemmCoreConfig, acc: Value, dp: GemmDatapath) -> Signal:
    """The fixed core's epilogue (:meth:`GemmCoreConfig.epilogue`): constant parameters, or with
    per-column ones from the column ROM (read in step with the drain)."""
    mult: int | Value = cfg.multiplier
    shift: int | Value = cfg.shift
    if cfg.columnwise:
        col = dp.column_rom(column_words([cfg]), column_layout(cfg.acc))
        if cfg.bias:
            biased = Signal(cfg.acc.shape, name="biased")
            m.d.comb += biased.eq(acc + col.bias)
            acc = biased
        mult = col.mult if cfg.multipliers else mult
        shift = col.shift if cfg.shifts else shift
    y = acc
    if cfg.requant:
        lo, hi, even = cfg.out.min, cfg.out.max, cfg.rounding == "half_even"
        y = requantize_hw(m, acc, cfg.acc.width, mult, shift, cfg.zero_point, lo, hi, even)
    if cfg.relu:
        y = Mux(y < cfg.relu_floor, cfg.relu_floor, y)
    res = Signal(cfg.out_type.shape, name="epilogue")
    m.d.comb += res.eq(y)
    return res
