"""MixPE: see :mod:`hwgen.blocks.lowbit`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import data
from numpy.typing import ArrayLike

from ...arith import kept_adder_tree
from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param, pipeline_cycle_model
from ...errors import ConfigError
from ...numtype import Int, NumType, UInt
from ...pipeline import register
from ...structure import (
    Features,
    TimingPath,
    add,
    chain_paths,
    dsp_tiles,
    multiplier_path,
    series,
    tree_bits,
    tree_path,
)
from ...vectors import StreamVectors
from . import testdata
from .reference import MixPEReference
from .sum_pe import LATENCY, Cuts, SumPE, Values, pipeline_param, stall_path


@dataclass(frozen=True, kw_only=True)
class MixPEConfig(BlockConfig):
    """Parameters of the MixPE shift-and-add PE with group dequantization."""

    block_name: ClassVar[str] = "mixpe"
    auto_defaults: ClassVar[dict] = {"pipeline": 0}
    summary: ClassVar[str] = (
        "MixPE: 2-4-bit weights × 8/16-bit activations by shift-and-add, exact group sums, "
        "scale and zero-point correction once per group"
    )

    lanes: int = param(8, "weights per beat", "1..64")
    weight_bits: int = param(4, "weight bits", "2..4")
    asymmetric: bool = param(
        False, "unsigned weights with a per-group zero point (else signed, zero point 0)", "true | false"
    )
    act: NumType = param(Int(8), "activation type", "Int(8) or Int(16) (any 2..16-bit integer)")
    scale_bits: int = param(8, "bits of the per-group scale", "1..16")
    max_group: int = param(128, "most weights in one group", "1..65536")
    max_groups: int = param(64, "most groups per output", "1..65536")
    pipeline: int | None = pipeline_param(4)

    @property
    def weight(self) -> NumType:
        return UInt(self.weight_bits) if self.asymmetric else Int(self.weight_bits)

    @property
    def group_qa_type(self) -> NumType:
        return self.act.product(self.weight).sum_of(self.max_group)

    @property
    def group_a_type(self) -> NumType:
        return self.act.sum_of(self.max_group)

    @property
    def corrected_type(self) -> NumType:
        z = UInt(self.weight_bits) if self.asymmetric else Int(2)
        qa, sa = self.group_qa_type, self.group_a_type
        lo = qa.min - max(abs(sa.min), abs(sa.max)) * z.max
        hi = qa.max + max(abs(sa.min), abs(sa.max)) * z.max
        return NumType.fitting(lo, hi)

    @property
    def acc(self) -> NumType:
        c = self.corrected_type
        top = (1 << self.scale_bits) - 1
        return NumType.fitting(c.min * top * self.max_groups, c.max * top * self.max_groups)

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 64)
        check_range(self.where("weight_bits"), self.weight_bits, 2, 4)
        check_range(self.where("scale_bits"), self.scale_bits, 1, 16)
        check_range(self.where("max_group"), self.max_group, 1, 1 << 16)
        check_range(self.where("max_groups"), self.max_groups, 1, 1 << 16)
        check_range(self.where("pipeline"), self.pipeline, 0, 4)
        if self.act.frac or not 2 <= self.act.width <= 16:
            raise ConfigError(self.where("act"), f"{self.act}: integers of 2..16 bits (MixPE uses 8 or 16)")

    def component(self) -> MixPE:
        return MixPE(self)

    def timing(self) -> Timing:
        return Timing(
            latency=LATENCY + 1 + self.pipeline,
            ii=1,
            ops_per_beat=self.lanes,
            notes="one beat per cycle; group dequantization pipelined (one multiplier per group end)",
        )

    def model(
        self, a: ArrayLike, q: ArrayLike, scale: ArrayLike, zero: ArrayLike, group_last: ArrayLike, last: ArrayLike
    ) -> np.ndarray:
        """Golden model: ``y = Σ_g scale_g · (Σ_{k∈g} q_k·a_k − zero_g · Σ_{k∈g} a_k)`` per output, exact; a group
        ends at ``group_last`` (or ``last``), an output at ``last``."""
        L = self.lanes
        a = self.act.array(a).reshape(-1, L).astype(object)
        q = self.weight.array(q).reshape(-1, L).astype(object)
        scale = np.asarray(scale, dtype=np.int64).reshape(-1)
        zero = np.asarray(zero, dtype=np.int64).reshape(-1)
        if (scale < 0).any() or (scale >> self.scale_bits).any():
            raise ConfigError("scale", f"scales are {self.scale_bits}-bit unsigned")
        if not self.asymmetric and zero.any():
            raise ConfigError("zero", "symmetric (signed) weights have zero point 0; set asymmetric=True")
        if ((zero < 0) | (zero >= 1 << self.weight_bits)).any():
            raise ConfigError("zero", f"zero points are {self.weight_bits}-bit unsigned")
        out, total, sqa, sa = [], 0, 0, 0
        gl = np.asarray(group_last).astype(bool)
        la = np.asarray(last).astype(bool)
        for b in range(len(a)):
            sqa += int((a[b] * q[b]).sum())
            sa += int(a[b].sum())
            if gl[b] or la[b]:
                total += int(scale[b]) * (sqa - int(zero[b]) * sa)
                sqa = sa = 0
            if la[b]:
                out.append(total)
                total = 0
        return np.array(out, dtype=self.acc.dtype())

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """One beat per cycle; a result ``LATENCY + 1 + pipeline`` cycles after its ``last`` beat is taken."""
        last = vectors.field("i", "last")
        return pipeline_cycle_model("i", "o", len(last), np.flatnonzero(last), self.timing().latency, arrivals)

    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """≥ ``n`` random groups (random scales and zero points) in random outputs, plus extreme
        activations × extreme weights and a long min × min group."""
        return testdata.mixpe_stimulus(self, rng, n, corners)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.mixpe_configs(cls)

    def reference(self) -> MixPEReference:
        return MixPEReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.mixpe_formal_configs(cls)

    # ------------------------------------------------------------- timing
    def timing_candidates(self, family: str) -> list[dict]:
        """Cheapest first: the lane values registered, then the trees' sums, the group sums, the scaled sum."""
        return [{"pipeline": p} for p in (0, 1, 2, 3, 4)]

    def timing_paths(self, family: str) -> list[TimingPath]:
        """Lane: ``weight_bits`` gated shifts of ``a`` summed (the top one negated), cut ``lanes``; the adder
        trees, cut ``sums``; the group accumulators, cut ``group``; the zero-point correction ``Σqa − z·Σa``
        (a multiply) into its register; the scale multiply, cut ``scaled``; the total; the stall enable."""
        wa, wb, A = self.act.width, self.weight_bits, self.acc.width
        g_a, c, size = self.group_a_type.width, self.corrected_type.width, self.register_bits
        chain = [
            ("lane values", {"luts": 1, "adders": (wb - 1).bit_length() + 1, "carry_bits": wa + wb}),
            "lanes",
            ("adder trees", tree_path(self.lanes, self.lane_width)),
            "sums",
            ("group sums", {"adders": 1, "carry_bits": g_a, "luts": 1}),
            "group",
            ("zero-point correction", series(multiplier_path(g_a, wb, family), {"adders": 1, "carry_bits": c})),
        ]
        back = [
            ("scale multiply", multiplier_path(c, self.scale_bits, family)),
            "scaled",
            ("total", {"adders": 1, "carry_bits": A, "luts": 1}),
        ]
        active = MixPE.stages[: self.pipeline]
        return chain_paths(chain, active, size) + chain_paths(back, active, size) + [stall_path(size)]

    @property
    def lane_width(self) -> int:
        """Bits of one lane's ``q·a`` as the shift-and-add computes it."""
        return self.act.width + self.weight_bits + 1

    @property
    def pipeline_register_bits(self) -> int:
        """Registers of the cuts, each with the carried fields (last, group_last, scale, zero) and a valid bit:
        lane values and activations, the trees' sums, the group sums."""
        L, wa, levels, p = self.lanes, self.act.width, (self.lanes - 1).bit_length(), self.pipeline
        side = 3 + self.scale_bits + self.weight_bits
        lanes = L * (self.lane_width + wa) + side
        sums = self.lane_width + wa + 2 * levels + side
        group = self.group_qa_type.width + self.group_a_type.width + side
        scaled = self.corrected_type.width + self.scale_bits + 2
        return lanes * (p >= 1) + sums * (p >= 2) + group * (p >= 3) + scaled * (p >= 4)

    @property
    def register_bits(self) -> int:
        """Input beat, pipeline stages, group sums, corrected sum and scale, total and output register."""
        L, wa, wb = self.lanes, self.act.width, self.weight_bits
        beat = L * (wa + wb) + self.scale_bits + wb + 2
        groups = self.group_qa_type.width + self.group_a_type.width
        corr = self.corrected_type.width + self.scale_bits
        return beat + self.pipeline_register_bits + groups + corr + 2 * self.acc.width

    def features(self, family: str) -> Features:
        L, wa, wb = self.lanes, self.act.width, self.weight_bits
        feat: Features = {}
        add(
            feat,
            "shift-add lanes",
            shift_add_bits=L * wb * (wa + wb),
            tree_bits_fabric=tree_bits(L, wa + wb) + tree_bits(L, wa),
        )
        g_qa, g_a, c = self.group_qa_type.width, self.group_a_type.width, self.corrected_type.width
        add(feat, "group sums", acc_add_bits=g_qa + g_a, acc_reg_bits=g_qa + g_a, ctrl=1)
        zt = dsp_tiles(g_a, wb, family) if self.asymmetric else 0
        st = dsp_tiles(c, self.scale_bits, family)
        add(feat, "dequantizer", dsp=zt + st, corr_bits=c, corr_reg_bits=c + self.scale_bits)
        add(feat, "dequantizer", total_add_bits=self.acc.width, total_reg_bits=2 * self.acc.width)
        add(feat, "input register", in_reg_bits=L * (wa + wb) + self.scale_bits + wb + 2)
        add(feat, "pipeline", reg_bits=self.pipeline_register_bits)
        return feat


class MixPE(SumPE):
    side = ("last", "group_last", "scale", "zero")
    stages = ("lanes", "sums", "group", "scaled")

    def __init__(self, config: MixPEConfig):
        L = config.lanes
        beat = data.StructLayout(
            {
                "a": data.ArrayLayout(config.act.shape, L),
                "q": data.ArrayLayout(config.weight.shape, L),
                "scale": config.scale_bits,
                "zero": config.weight_bits,
                "group_last": 1,
                "last": 1,
            }
        )
        super().__init__(config, beat, config.acc.shape)

    def lane_values(self, m: Module, beat: Value, cuts: Cuts) -> list[Value]:
        """``q·a`` by shift-and-add: Σ q_i (a << i), the top bit negative for signed weights."""
        cfg = self.config
        out = []
        for k in range(cfg.lanes):
            a, q = beat.a[k], beat.q[k]
            terms = [Mux(q[i], a << i, 0) for i in range(cfg.weight_bits)]
            if not cfg.asymmetric:
                terms[-1] = -terms[-1]
            out.append(kept_adder_tree(m, f"lane{k}", terms)[0])
        return out

    def terms(self, m: Module, beat: Value, cuts: Cuts) -> dict[str, list[Value]]:
        """``q·a`` per lane (summed to the group's ``Σ q·a``) and the activations (summed to ``Σ a``)."""
        return {"qa": self.lane_values(m, beat, cuts), "sa": [beat.a[k] for k in range(self.config.lanes)]}

    def accumulate(self, m: Module, sums: Values, cuts: Cuts, advance: Value) -> tuple[Value, Value]:
        """Group sums ``Σ q·a`` and ``Σ a`` (cut ``group`` after them), then the corrected group sum and its
        scale registered at the group's end, then ``total += corr · scale`` and the result at ``last``."""
        cfg = self.config
        valid, side = cuts.valid, cuts.side
        g_qa = Signal(cfg.group_qa_type.shape, reset_less=True)
        g_a = Signal(cfg.group_a_type.shape, reset_less=True)
        first = Signal(init=1)
        new_qa, new_a = Signal.like(g_qa), Signal.like(g_a)
        m.d.comb += [new_qa.eq(Mux(first, 0, g_qa) + sums["qa"]), new_a.eq(Mux(first, 0, g_a) + sums["sa"])]
        with m.If(advance & valid):
            m.d.sync += [g_qa.eq(new_qa), g_a.eq(new_a), first.eq(side["group_last"] | side["last"])]
        group = cuts("group", {"qa": new_qa, "a": new_a})
        valid, side = cuts.valid, cuts.side
        ends = side["group_last"] | side["last"]
        corr = Signal(cfg.corrected_type.shape, reset_less=True)
        corr_scale = Signal(cfg.scale_bits, reset_less=True)
        corr_valid, corr_last = Signal(), Signal()
        total = Signal(cfg.acc.shape, reset_less=True)
        tfirst = Signal(init=1)
        with m.If(advance):
            m.d.sync += [corr_valid.eq(valid & ends), corr_last.eq(valid & side["last"])]
            with m.If(valid):
                m.d.sync += [corr.eq(group["qa"] - group["a"] * side["zero"]), corr_scale.eq(side["scale"])]
        scaled: Value = corr * corr_scale
        if "scaled" in cuts.active:  # the product registered before the total's add
            scaled = register(m, scaled, advance, "scaled")
            corr_valid = register(m, corr_valid, advance, "scaled_valid", reset=True)
            corr_last = register(m, corr_last, advance, "scaled_last")
        new_total = Signal(cfg.acc.shape)
        m.d.comb += new_total.eq(Mux(tfirst, 0, total) + scaled)
        with m.If(advance & corr_valid):
            m.d.sync += [total.eq(new_total), tfirst.eq(corr_last)]
        return new_total, corr_valid & corr_last
