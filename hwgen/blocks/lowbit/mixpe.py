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
from ...structure import Features, add, dsp_tiles, tree_bits
from ...vectors import StreamVectors
from . import testdata
from .reference import MixPEReference
from .sum_pe import LATENCY, SumPE


@dataclass(frozen=True, kw_only=True)
class MixPEConfig(BlockConfig):
    """Parameters of the MixPE shift-and-add PE with group dequantization."""

    block_name: ClassVar[str] = "mixpe"
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
        if self.act.frac or not 2 <= self.act.width <= 16:
            raise ConfigError(self.where("act"), f"{self.act}: integers of 2..16 bits (MixPE uses 8 or 16)")

    def component(self) -> MixPE:
        return MixPE(self)

    def timing(self) -> Timing:
        return Timing(
            latency=LATENCY + 1,
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
        """One beat per cycle; a result ``LATENCY + 1`` cycles after its ``last`` beat is taken."""
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
        return feat


class MixPE(SumPE):
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

    def lane_values(self, m: Module, beat: Value) -> list[Value]:
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

    def accumulate(self, m: Module, beat: Value, valid: Value, advance: Value) -> tuple[Value, Value]:
        cfg = self.config
        qa, _ = kept_adder_tree(m, "qa", self.lane_values(m, beat))
        sa, _ = kept_adder_tree(m, "sa", [beat.a[k] for k in range(cfg.lanes)])
        g_qa = Signal(cfg.group_qa_type.shape, reset_less=True)
        g_a = Signal(cfg.group_a_type.shape, reset_less=True)
        first = Signal(init=1)
        new_qa, new_a = Signal.like(g_qa), Signal.like(g_a)
        m.d.comb += [new_qa.eq(Mux(first, 0, g_qa) + qa), new_a.eq(Mux(first, 0, g_a) + sa)]
        ends = beat.group_last | beat.last
        # stage 2: corrected group sum and its scale, registered; stage 3: multiply and add to the total
        corr = Signal(cfg.corrected_type.shape, reset_less=True)
        corr_scale = Signal(cfg.scale_bits, reset_less=True)
        corr_valid, corr_last = Signal(), Signal()
        total = Signal(cfg.acc.shape, reset_less=True)
        tfirst = Signal(init=1)
        with m.If(advance):
            m.d.sync += [corr_valid.eq(valid & ends), corr_last.eq(valid & beat.last)]
            with m.If(valid):
                m.d.sync += [
                    g_qa.eq(new_qa),
                    g_a.eq(new_a),
                    first.eq(ends),
                    corr.eq(new_qa - new_a * beat.zero),
                    corr_scale.eq(beat.scale),
                ]
        new_total = Signal(cfg.acc.shape)
        m.d.comb += new_total.eq(Mux(tfirst, 0, total) + corr * corr_scale)
        with m.If(advance & corr_valid):
            m.d.sync += [total.eq(new_total), tfirst.eq(corr_last)]
        return new_total, corr_valid & corr_last
