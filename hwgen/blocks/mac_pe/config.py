"""The MAC PE's configuration: parameters, golden model, cycle model, estimator features."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param, pipeline_cycle_model
from ...errors import ConfigError
from ...int8pack import NEGATED_MAX, NEGATED_MAX_EXACT_TERMS, NEGATED_MIN, SHIFT
from ...numtype import Int, NumType, Overflow
from ...primitives import MULT18_BITS
from ...structure import Features, TimingPath, add, dsp_tiles, multiplier_path, tree_bits
from ...vectors import StreamVectors
from . import testdata
from .hardware import MacPE, tree_split
from .reference import MacPEReference

MAX_OPERAND_BITS = 32
DspCells = Literal["inferred", "mult18x18d"]
MAX_ACC_BITS = 128


@dataclass(frozen=True, kw_only=True)
class MacPEConfig(BlockConfig):
    """Parameters of the MAC processing element."""

    block_name: ClassVar[str] = "mac_pe"
    summary: ClassVar[str] = "multiply-accumulate PE: a lanes-wide dot product per beat, accumulated until `last`"
    auto_defaults: ClassVar[dict] = {"pipeline": 1, "dsp_cells": "inferred"}

    act: NumType = param(Int(8), "activation type", f"Int/UInt/Fixed of 1..{MAX_OPERAND_BITS} bits")
    weight: NumType = param(Int(8), "weight type", f"Int/UInt/Fixed of 1..{MAX_OPERAND_BITS} bits")
    acc: NumType = param(
        Int(32),
        "accumulator and result type",
        f"Int/UInt/Fixed of up to {MAX_ACC_BITS} bits, frac = act.frac + weight.frac",
    )
    overflow: Overflow = param("error", "accumulator overflow rule", "wrap | saturate | error")
    pipeline: int | None = param(
        None,
        "register stages before the accumulator (1: products, 2: also operands, 3: also the adder tree, "
        "4: also a second product register, 5: also the middle of the adder tree); "
        "left out, hwgen picks the fewest that meet the design's clock (1 outside a design)",
        "0..5",
    )
    lanes: int = param(1, "products per beat (dot-product width, adder tree)", "1..64")
    outputs: int = param(
        1,
        "weight vectors sharing each beat's activations: that many dot products per beat, each with its own "
        "adder tree, accumulator and result (FINN's PE count; lanes is its SIMD width)",
        "1..64",
    )
    pack_int8: bool = param(
        False,
        "Int(8) x Int(8): each pair of outputs shares one multiplier per lane, whose operand packs the pair's "
        "weights as w[2j+1]·2^18 − w[2j] (27 bits: one DSP48E2 per two MACs on xcup; two DSP48E1 on xc7, "
        "whose port has 25 bits); packed products are summed over groups of up to 8 lanes, where the packed "
        "sum is exact, and unpacked before the accumulators",
        "true | false (even outputs, pipeline 0, 1, 3 or 4, dsp_cells inferred)",
    )
    dsp_cells: DspCells | None = param(
        None,
        "how multipliers are built: inferred by synthesis, or ECP5 MULT18X18D cells instantiated with the "
        "pipeline's operand (pipeline ≥ 2) and product (≥ 1) registers inside (operands ≤ 18 bits, ECP5 "
        "designs only); left "
        "out, hwgen picks it for the design's clock (inferred outside a design)",
        "inferred | mult18x18d",
    )
    max_len: int = param(
        1024, "most beats in one accumulation; bounds the overflow proof when overflow='error'", "1..16777216"
    )

    # ------------------------------------------------------------ derived
    @property
    def product_type(self) -> NumType:
        """Exact type of one ``a * w``."""
        return self.act.product(self.weight)

    @property
    def tree_type(self) -> NumType:
        """Exact type of the adder tree's sum over ``lanes`` products."""
        return self.product_type.sum_of(self.lanes)

    @property
    def multiplier_rows(self) -> int:
        """Multipliers per lane: one per output, or one per output pair with :attr:`pack_int8`."""
        return self.outputs // 2 if self.pack_int8 else self.outputs

    @property
    def pack_groups(self) -> list[tuple[int, int]]:
        """Lane ranges ``(first, end)`` whose packed products are summed before unpacking (:attr:`pack_int8`)."""
        k = NEGATED_MAX_EXACT_TERMS
        return [(g, min(g + k, self.lanes)) for g in range(0, self.lanes, k)]

    @property
    def packed_weight_type(self) -> NumType:
        """Type of a packed weight pair ``w[2j+1]·2^18 − w[2j]`` (27 signed bits)."""
        return NumType.fitting(NEGATED_MIN, NEGATED_MAX)

    @property
    def multiplier_widths(self) -> tuple[int, int]:
        """(weight operand, product) bits of one multiplier: the packed pair's with :attr:`pack_int8`."""
        if self.pack_int8:
            wb = self.packed_weight_type.width
            return wb, self.act.width + wb
        return self.weight.width, self.product_type.width

    def validate(self) -> None:
        check_range(self.where("lanes"), self.lanes, 1, 64)
        check_range(self.where("outputs"), self.outputs, 1, 64)
        if self.pack_int8:
            self._validate_packing()
        if self.dsp_cells == "mult18x18d":
            if max(self.act.width, self.weight.width) > MULT18_BITS:
                raise ConfigError(
                    self.where("dsp_cells"),
                    f"mult18x18d multiplies operands of up to {MULT18_BITS} bits, not {self.act}×{self.weight}",
                )
        check_range(self.where("pipeline"), self.pipeline, 0, 5)
        check_range(self.where("max_len"), self.max_len, 1, 1 << 24)
        for name in ("act", "weight"):
            t: NumType = getattr(self, name)
            if t.width > MAX_OPERAND_BITS:
                raise ConfigError(self.where(name), f"{t} is wider than {MAX_OPERAND_BITS} bits")
        if self.acc.width > MAX_ACC_BITS:
            raise ConfigError(self.where("acc"), f"{self.acc} is wider than {MAX_ACC_BITS} bits")
        pf = self.act.frac + self.weight.frac
        if self.acc.frac != pf:
            raise ConfigError(
                self.where("acc"),
                f"{self.acc} has {self.acc.frac} fractional bits but products of "
                f"{self.act}×{self.weight} have {pf}; use an accumulator with frac={pf}",
            )
        if self.overflow == "error":
            n = self.lanes * self.max_len
            need = self.product_type.sum_of(n)
            if not self.acc.holds(need.min, need.max):
                bits = NumType.fitting(need.min, need.max, signed=self.acc.signed or need.min < 0).width
                kind = "signed " if need.min < 0 and not self.acc.signed else ""
                raise ConfigError(
                    self.where("acc"),
                    f"{self.acc} cannot hold the sum of {n} products of "
                    f"{self.act}×{self.weight} without overflow; need ≥ {bits} "
                    f"{kind}bits or set overflow='wrap' (or 'saturate')",
                )

    def _validate_packing(self) -> None:
        """What :attr:`pack_int8` needs (each check names the parameter to change)."""
        types = f"{self.act} x {self.weight}"
        checks = [
            ("act", self.act == Int(8) and self.weight == Int(8), f"packing needs Int(8) x Int(8), not {types}"),
            ("outputs", self.outputs % 2 == 0, f"{self.outputs}: outputs pack in pairs; use an even number"),
            ("pipeline", self.pipeline is None or self.pipeline in (0, 1, 3, 4),
             f"{self.pipeline}: the tree is split at group sums when packed; use 0, 1, 3 or 4"),
            ("dsp_cells", self.dsp_cells != "mult18x18d", "mult18x18d: the 27-bit operand is not one cell; "
             "use dsp_cells='inferred'"),
        ]  # fmt: skip
        for key, ok, why in checks:
            if not ok:
                raise ConfigError(self.where(key), f"with pack_int8: {why}")

    def component(self) -> MacPE:
        return MacPE(self)

    def timing(self) -> Timing:
        return Timing(
            latency=self.pipeline + 1,
            ii=1,
            ops_per_beat=self.lanes * self.outputs,
            notes=f"{self.pipeline} register stage(s) + the result register; one beat of "
            f"{self.lanes * self.outputs} MAC(s) per cycle",
        )

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """One beat per cycle; a result ``pipeline + 1`` cycles after its ``last`` beat is taken."""
        last = vectors.field("i", "last")
        return pipeline_cycle_model("i", "o", len(last), np.flatnonzero(last), self.timing().latency, arrivals)

    # ------------------------------------------------------------- model
    def model(self, a: np.ndarray, w: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Golden model: the results of every completed accumulation.

        Args:
            a: raw activations, ``[beats, lanes]``.
            w: raw weights, ``[beats, outputs · lanes]``, output-major (``w[:, j·lanes + k]`` is output
                ``j``'s weight for lane ``k``).
            last: ``[beats]`` flags; a set flag closes an accumulation.

        Returns:
            Raw accumulator values, one per ``last`` beat (``[results]``; ``[results, outputs]`` when
            ``outputs`` > 1), exact integers (int64, or Python ints beyond 62 bits): per output ``j``,
            ``acc_j = acc.fold(acc_j + Σ_k a[k]·w[j·lanes + k], overflow)`` per beat. Packing
            (``pack_int8``) changes nothing here: its packed sums are exact. Beats after the final
            ``last`` are an open accumulation and produce nothing.

        Raises:
            ValueError: an input is out of its type's range, or (overflow =
            'error') an accumulation is longer than ``max_len`` beats.
        """
        L, O = self.lanes, self.outputs
        a = self.act.array(a).reshape(-1, L)
        w = self.weight.array(w).reshape(-1, O, L)
        last = np.asarray(last).astype(bool).reshape(-1)
        if not (len(a) == len(w) == len(last)):
            raise ValueError(f"a, w and last have {len(a)}, {len(w)} and {len(last)} beats")
        dt = self.tree_type.dtype()
        sums = (a.astype(dt)[:, None, :] * w.astype(dt)).sum(axis=2)  # [beats, outputs]
        out: list[list[int]] = []
        acc, beats = [0] * O, 0
        for s, end in zip(sums.tolist(), last.tolist()):
            beats += 1
            if self.overflow == "error" and beats > self.max_len:
                raise ValueError(
                    f"an accumulation of {beats} beats exceeds max_len={self.max_len}, "
                    f"beyond which overflow='error' proves nothing"
                )
            acc = [self.acc.fold(x + int(y), self.overflow) for x, y in zip(acc, s)]
            if end:
                out.append(acc)
                acc, beats = [0] * O, 0
        res = np.array(out, dtype=self.acc.dtype()).reshape(-1, O)
        return res[:, 0] if O == 1 else res

    def stimulus(
        self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True, max_beats: int = 8
    ) -> StreamVectors:
        """``n`` random accumulations of 1..``max_beats`` beats plus, with ``corners``, the corner sequences
        (zeros, extremes, most negative × most negative over ``max_len`` beats, all-ones bit patterns,
        accumulator edges ±1 where reachable), with golden results."""
        return testdata.stimulus(self, rng, n, corners, max_beats)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.configs(cls)

    def reference(self) -> MacPEReference:
        return MacPEReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.formal_configs(cls)

    def vendor_cells(self) -> dict[str, str]:
        return {"MULT18X18D": "ecp5"} if self.dsp_cells == "mult18x18d" else {}

    # ------------------------------------------------------------- timing
    def timing_candidates(self, family: str) -> list[dict]:
        """Cheapest first. On ECP5 MULT18X18D cells hold the operand and product registers (pipeline ≥ 2),
        which costs fewer flip-flops than fabric product registers (1) and is faster."""
        if self.pack_int8:
            return [{"pipeline": p, "dsp_cells": "inferred"} for p in (0, 1, 3, 4)]
        split = (5,) if self.lanes >= 4 else ()  # a register in the middle of a tree of 2+ levels
        if family == "ecp5" and max(self.act.width, self.weight.width) <= MULT18_BITS:
            return [{"pipeline": 0, "dsp_cells": "inferred"}] + [
                {"pipeline": p, "dsp_cells": "mult18x18d"} for p in (2, 3, 4, *split)
            ]
        return [{"pipeline": p, "dsp_cells": "inferred"} for p in (0, 1, 3, *split)]

    def timing_paths(self, family: str) -> list[TimingPath]:
        """Multiplier, adder tree (``ceil(log2 lanes)`` adders in series), accumulate, and the stall enable;
        ``pipeline`` decides which of them share a cycle."""
        P, A = self.pipeline, self.acc.width
        wb, pw = self.multiplier_widths
        regs = self.lanes * self.multiplier_rows * (self.act.width + wb + pw) + 2 * A * self.outputs
        levels = math.ceil(math.log2(self.lanes)) if self.lanes > 1 else 0
        levels += 1 if self.pack_int8 else 0  # the high field adds the low field's borrow
        mult = multiplier_path(self.act.width, wb, family)
        sat = 2 if self.overflow == "saturate" else 0
        tree = {"adders": levels, "carry_bits": pw + levels}
        acc = {"adders": 1, "carry_bits": A, "luts": 1 + sat}
        both = {"adders": levels + 1, "carry_bits": A, "luts": 1 + sat}
        cells = P >= 1 and self.dsp_cells == "mult18x18d"
        if cells:
            if P >= 2:
                mult = {"dsp_internal": 1}
            if P < 4:  # the adder tree starts at the DSP cells' outputs
                tree, both = {**tree, "dsp_out": 1}, {**both, "dsp_out": 1}
        if P == 0:
            shapes = [("multiply, tree and accumulate", {**mult, **both})]
        elif P < 3:
            shapes = [("multiplier", mult), ("tree and accumulate", both)]
        elif P < 5:
            shapes = [("multiplier", mult), ("adder tree", tree), ("accumulate", acc)]
        else:
            first = tree_split(self.lanes)
            shapes = [("multiplier", mult), ("adder tree, first levels", {"adders": first, "carry_bits": pw + first})]
            shapes.append(("adder tree, last levels", {"adders": levels - first, "carry_bits": pw + levels}))
            shapes.append(("accumulate", acc))
        if cells and P >= 4:
            shapes.append(("product route", {"dsp_out": 1}))
        shapes.append(("stall enable", {"luts": 2, "fanout": regs}))
        return [TimingPath(name, size=regs, **terms) for name, terms in shapes]

    # ----------------------------------------------------------- estimate
    def features(self, family: str) -> Features:
        """Per output (``outputs`` times): the tree, the accumulator and the register stages; with
        :attr:`pack_int8` the multipliers, product registers and trees are the packed pairs' (27-bit
        weights, group sums as wide as the packed sums), plus a packing adder per pair and lane and the
        unpacking (the high field's borrow add) per group."""
        L, P, O, MR = self.lanes, self.pipeline, self.outputs, self.multiplier_rows
        wa, A = self.act.width, self.acc.width
        wb, pw = self.multiplier_widths
        tiles = dsp_tiles(wa, wb, family)
        dsp = tiles > 0
        # adders only need the bits that reach the accumulator, unless saturation looks at all of them
        cap = 10**6 if self.overflow == "saturate" else A + 1
        groups = len(self.pack_groups)
        if self.pack_int8:
            tree = sum(tree_bits(g1 - g0, pw, 10**6) for g0, g1 in self.pack_groups) * MR
            tree += O * tree_bits(groups, self.tree_type.width, cap) if groups > 1 else 0
        else:
            tree = O * tree_bits(L, pw, cap)
        feat: Features = {}
        if dsp:
            add(feat, "multipliers", dsp=L * MR * tiles)
        else:
            add(feat, "multipliers", lut_mul=L * MR * wa * wb, lut_mul_lanes=L * MR)
        if self.pack_int8:
            add(feat, "packing", acc_add_bits=L * MR * (wb - SHIFT) + groups * MR * (pw - SHIFT))
        if not dsp:
            regime = "fabric"
        elif P == 0 and self.act.signed == self.weight.signed:
            regime = "cascade"  # products and the tree fold into the DSP post-adder chain
        else:
            regime = "dsp"
        add(feat, "adder tree", **{f"tree_bits_{regime}": tree, f"tree_adders_{regime}": O * (L - 1)})
        if self.overflow == "saturate":
            add(feat, "adder tree", **{f"tree_bits_sat_{regime}": tree})
            add(feat, "accumulator", sat_bits=O * A)
        add(feat, "accumulator", acc_add_bits=O * A, acc_reg_bits=2 * O * A, ctrl=1)
        absorb = "dsp" if dsp else "fabric"
        if P >= 2:
            add(feat, "pipeline", **{f"opnd_reg_bits_{absorb}": L * (wa + O * self.weight.width)})
        if P >= 1:
            prod_cap = 10**6 if self.pack_int8 else cap
            add(feat, "pipeline", **{f"prod_reg_bits_{absorb}": L * MR * min(pw, prod_cap)})
        if P >= 3:
            add(feat, "pipeline", tree_reg_bits=O * min(self.tree_type.width, cap))
        if P >= 5:
            first = tree_split(L)
            parts = math.ceil(L / 2**first)
            add(feat, "pipeline", tree_mid_reg_bits=O * parts * min(pw + first, cap))
        return feat
