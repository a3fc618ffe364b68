"""The bit-serial PE's configuration: parameters, formats, golden model, cycle model, estimator features."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param
from ...errors import ConfigError
from ...lowbit import BITMOD_FP4, DATATYPES, Datatype
from ...numtype import Int, NumType
from ...structure import Features, TimingPath, add, dsp_tiles, multiplier_path, tree_bits
from ...vectors import StreamVectors
from . import testdata
from .hardware import BitSerialPE
from .reference import BitSerialReference

Dequant = Literal["serial", "multiplier"]


@dataclass(frozen=True, kw_only=True)
class BitSerialPEConfig(BlockConfig):
    """Parameters of the BitMoD bit-serial PE (array)."""

    block_name: ClassVar[str] = "bitserial_pe"
    auto_defaults: ClassVar[dict] = {"pipeline": 0}
    summary: ClassVar[str] = (
        "BitMoD bit-serial PE: weights of mixed low-bit formats (FP4/FP3 with special "
        "values, INT2-8 by Booth, FLINT4) as shift-add terms, group dequantization"
    )

    lanes: int = param(4, "weights per row per beat", "1..16")
    rows: int = param(1, "PEs (output rows) sharing each activation beat", "1..16")
    formats: tuple[str, ...] = param(
        BITMOD_FP4, "weight formats selectable per group (format id = index)", "1..4 of " + ", ".join(DATATYPES)
    )
    act: NumType = param(Int(8), "activation type", "Int/UInt of 2..16 bits")
    scale_bits: int = param(8, "bits of the quantized group scale", "1..16")
    dequant: Dequant = param(
        "serial", "group dequantizer: bit-serial over the scale or one multiplier", "serial | multiplier"
    )
    max_group: int = param(128, "most weights per row in one group (sizes the group accumulator)", "1..65536")
    max_groups: int = param(64, "most groups per output (sizes the total)", "1..65536")
    pipeline: int | None = param(
        None,
        "register stages between the digit decoders and the Horner accumulators (1: the lane terms, 2: "
        "also the adder tree's sum); each adds a cycle of latency, none of throughput; left out, hwgen "
        "picks the fewest that meet the design's clock (0 outside a design)",
        "0..2",
    )

    @property
    def dts(self) -> list[Datatype]:
        return [DATATYPES[f.upper()] for f in self.formats]

    @property
    def code_bits(self) -> int:
        return max(d.bits for d in self.dts)

    @property
    def fmt_bits(self) -> int:
        return max(1, (len(self.formats) - 1).bit_length())

    @property
    def max_shift(self) -> int:
        return max(sh for d in self.dts for c in range(1 << d.bits) for _, sh in d.terms(c))

    @property
    def beat_type(self) -> NumType:
        """The per-beat Horner sum ``Σ_k 4^k·Σ_lanes d_k·a``: bounded by ``lanes·max|a|·max Σ_k|d_k|·4^k``."""
        amax = max(abs(self.act.min), abs(self.act.max))
        dmax = max(sum(abs(x) * 4**k for k, x in enumerate(d.digits(c))) for d in self.dts for c in range(1 << d.bits))
        return NumType.fitting(-self.lanes * amax * dmax, self.lanes * amax * dmax)

    @property
    def group_type(self) -> NumType:
        vmax = max(int(np.abs(d.grid).max()) for d in self.dts)
        amax = max(abs(self.act.min), abs(self.act.max))
        return NumType.fitting(-self.max_group * amax * vmax, self.max_group * amax * vmax)

    @property
    def total_type(self) -> NumType:
        g = self.group_type
        top = (1 << self.scale_bits) - 1
        return NumType.fitting(g.min * top * self.max_groups, g.max * top * self.max_groups)

    @property
    def dequant_cycles(self) -> int:
        return self.scale_bits if self.dequant == "serial" else 1

    def cycles_per_beat(self, fmt_ids: ArrayLike) -> int:
        return max(self.dts[f].cycles for f in fmt_ids)

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 16)
        check_range(self.where("rows"), self.rows, 1, 16)
        check_range(self.where("scale_bits"), self.scale_bits, 1, 16)
        check_range(self.where("max_group"), self.max_group, 1, 1 << 16)
        check_range(self.where("max_groups"), self.max_groups, 1, 1 << 16)
        check_range(self.where("pipeline"), self.pipeline, 0, 2)
        if not 1 <= len(self.formats) <= 4:
            raise ConfigError(
                self.where("formats"), f"{len(self.formats)} formats; a group's format id is 2 bits, so 1..4 formats"
            )
        for f in self.formats:
            if f.upper() not in DATATYPES:
                raise ConfigError(self.where("formats"), f"unknown datatype {f!r}; known: {', '.join(DATATYPES)}")
        if self.act.frac or not 2 <= self.act.width <= 16:
            raise ConfigError(self.where("act"), f"{self.act}: integers of 2..16 bits")

    def component(self) -> BitSerialPE:
        return BitSerialPE(self)

    def timing(self) -> Timing:
        c = [d.cycles for d in self.dts]
        return Timing(
            latency=self.dequant_cycles + 1 + self.pipeline,
            ii=min(c),
            ops_per_beat=self.lanes * self.rows,
            notes="cycles per beat by format: "
            + ", ".join(f"{d.name} {d.cycles}" for d in self.dts)
            + f"; dequantizer {self.dequant_cycles} cycle(s); y valid {self.dequant_cycles + 1 + self.pipeline} "
            f"cycles after the last group's last term is decoded",
        )

    # ------------------------------------------------------------- models
    def model(
        self, a: ArrayLike, code: ArrayLike, fmt: ArrayLike, scale: ArrayLike, group_last: ArrayLike, last: ArrayLike
    ) -> np.ndarray:
        """Golden model: ``y [outputs, rows]`` (see the module docstring)."""
        R, L = self.rows, self.lanes
        a = self.act.array(a).reshape(-1, L)
        code = np.asarray(code, dtype=np.int64).reshape(-1, R, L)
        fmt = np.asarray(fmt, dtype=np.int64).reshape(-1, R)
        scale = np.asarray(scale, dtype=np.int64).reshape(-1, R)
        gl = np.asarray(group_last).astype(bool).reshape(-1)
        la = np.asarray(last).astype(bool).reshape(-1)
        if (fmt >= len(self.dts)).any() or (fmt < 0).any():
            raise ConfigError("fmt", f"format id {int(fmt.max())} selects none of {list(self.formats)}")
        if (scale < 0).any() or (scale >= 1 << self.scale_bits).any():
            raise ConfigError("scale", f"group scales are {self.scale_bits}-bit, 0..{(1 << self.scale_bits) - 1}")
        out, group, total = [], [0] * R, [0] * R
        for b in range(len(a)):
            for r in range(R):
                dt = self.dts[fmt[b, r]]
                if (code[b, r] >= 1 << dt.bits).any():
                    raise ConfigError(
                        "code", f"beat {b}, row {r}: code {int(code[b, r].max())} is not a {dt.bits}-bit {dt.name} code"
                    )
                group[r] += int((a[b].astype(object) * dt.decode(code[b, r]).astype(object)).sum())
                if gl[b] or la[b]:
                    total[r] += group[r] * int(scale[b, r])
                    group[r] = 0
            if la[b]:
                out.append(total)
                total = [0] * R
        return np.array(out, dtype=self.total_type.dtype()).reshape(-1, R)

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """Beat ``b`` is taken when offered and the previous beat has applied its last term; it takes
        ``max over rows of cycles(format)`` cycles; a group's last beat also waits for the dequantizer
        (``D`` cycles per group) and the row's result is valid ``D + 1 + pipeline`` cycles after that
        hand-off (the back end runs ``pipeline`` cycles behind the digit decoders)."""
        fmt = vectors.field("i", "fmt")
        group_last, last = vectors.field("i", "group_last"), vectors.field("i", "last")
        offered = (arrivals or {}).get("i")
        D = self.dequant_cycles
        accepts, outs = [], []
        c, free_at = 0, 0
        fmt = np.asarray(fmt).reshape(len(last), -1)
        for b in range(len(last)):
            if offered is not None:
                c = max(c, offered[b])
            accepts.append(c)
            finish = c + self.cycles_per_beat(fmt[b])
            if group_last[b] or last[b]:
                finish = max(finish, free_at)
                free_at = finish + D
                if last[b]:
                    outs.append(finish + D + 1 + self.pipeline)
            c = finish
        return {"i": accepts, "o": outs}

    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """≥ ``n`` random groups (random formats, codes, scales, group sizes), plus corners: every code of
        every format, extreme activations, the special codes, scale 0 and all-ones."""
        return testdata.stimulus(self, rng, n, corners)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.configs(cls)

    def reference(self) -> BitSerialReference:
        return BitSerialReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.formal_configs(cls)

    # ------------------------------------------------------------- timing
    def timing_candidates(self, family: str) -> list[dict]:
        """Cheapest first: the lane terms registered, then the adder tree's sum too."""
        return [{"pipeline": p} for p in (0, 1, 2)]

    def timing_paths(self, family: str) -> list[TimingPath]:
        """Digit decoder (digit counter, code and format into a case table) and the lane's term mux with its
        inversion; the adder tree; the Horner beat add chained into the group add; the dequantizer's
        accumulate; the stall enable. ``pipeline`` cuts after the terms (1) and after the tree (2)."""
        P, L, G, T = self.pipeline, self.lanes, self.group_type.width, self.total_type.width
        select = (max(d.cycles for d in self.dts) - 1).bit_length() + self.code_bits + self.fmt_bits
        terms = {"luts": math.ceil(math.log(max(select, 2), 4)) + 2}  # decode levels, then mux and invert
        levels = math.ceil(math.log2(L)) if L > 1 else 0
        # the tree's nodes take L - 1 of the lanes' L negation carries; the last one is one more adder
        tree = {"adders": levels + 1, "carry_bits": self.act.width + 3 + levels}
        accum = {"adders": 2, "carry_bits": G, "luts": 1}  # 4·beat + tree, then group + beat
        if P == 0:
            shapes = [("digit decode, terms, tree and accumulate", {**terms, **tree, **accum, "adders": levels + 2})]
        elif P == 1:
            shapes = [("digit decode and terms", terms), ("tree and accumulate", {**accum, "adders": levels + 2})]
        else:
            shapes = [("digit decode and terms", terms), ("adder tree", tree), ("beat and group add", accum)]
        if self.dequant == "serial":
            shapes.append(("dequantizer accumulate", {"adders": 1, "carry_bits": T, "luts": 1}))
        else:
            mult = multiplier_path(G, self.scale_bits, family)
            shapes.append(("dequantizer multiply-accumulate", {**mult, "adders": 1, "carry_bits": T}))
        regs = self.register_bits
        shapes.append(("stall enable", {"luts": 1, "fanout": regs}))
        return [TimingPath(name, size=regs, **terms) for name, terms in shapes]

    @property
    def register_bits(self) -> int:
        """Register bits: input beat, lane-term and tree registers of the pipeline, accumulators, totals."""
        R, L, wa = self.rows, self.lanes, self.act.width
        beat_in = L * wa + R * (L * self.code_bits + self.fmt_bits + self.scale_bits) + 2
        pipe = R * (L * (wa + 4) * (self.pipeline >= 1) + (self.beat_type.width + 1) * (self.pipeline >= 2))
        accs = R * (self.beat_type.width + 2 * self.group_type.width + 3 * self.total_type.width)
        return beat_in + pipe + accs

    def features(self, family: str) -> Features:
        R, L, wa = self.rows, self.lanes, self.act.width
        G, T, B = self.group_type.width, self.total_type.width, self.beat_type.width
        feat: Features = {}
        # per lane: digit decoder (multiple and sign from digit index, code, format), a·{0,1,2,4} mux with
        # conditional inversion (one LUT per bit), then one carry-chain adder per tree node
        add(feat, "digit decoders", decode_outputs=R * L * 3)
        add(feat, "lanes", term_mux_bits=R * L * (wa + 3), tree_bits_fabric=R * tree_bits(L, wa + 4))
        add(feat, "beat and group accumulators", acc_add_bits=R * (B + G), acc_reg_bits=R * (B + G), ctrl=1)
        if self.dequant == "serial":
            add(feat, "dequantizers", acc_add_bits=R * T, acc_reg_bits=R * (G + 2 * self.scale_bits))
        else:
            add(
                feat,
                "dequantizers",
                dsp=R * dsp_tiles(G, self.scale_bits, family),
                acc_add_bits=R * T,
                acc_reg_bits=R * (G + self.scale_bits),
            )
        add(feat, "totals", acc_reg_bits=2 * R * T)
        add(feat, "input register", in_reg_bits=L * wa + R * (L * self.code_bits + self.fmt_bits + self.scale_bits) + 2)
        if self.pipeline:  # lane terms (and signs), then the tree's sum; the back end's delayed control
            terms, tree = R * L * (wa + 4), R * (self.beat_type.width + 1) * (self.pipeline >= 2)
            add(feat, "pipeline", reg_bits=terms + tree + self.pipeline * (R * self.scale_bits + 4))
        return feat
