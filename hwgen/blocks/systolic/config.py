"""Configuration, golden model and cycle model of the systolic array.

Semantics (both dataflows compute the same thing): every output is a fold
over the reduction index, in order,

    acc = psum (or 0);  for k in 0..K-1:  acc = f(acc + a[k] * w[k])

with ``f`` the PE's overflow rule (wrap to ``acc.width`` bits, or saturate
after every step). With ``overflow='error'`` the config guarantees no
overflow for reductions of up to ``pe.max_len`` products.

Cycle model (``NI`` = tile rows of the mesh, ``NS`` = spans of ``span``
columns, full rate, output always ready; PE pipelining adds
:func:`~.pe.pe_stages`):

* weight-stationary: a weight tile takes ``R`` cycles to load (one row of
  ``C`` weights per beat, row 0 first); activation rows are then taken one
  per cycle; each result row is valid ``ws_latency = NI + NS`` cycles
  after its activation row was taken (input register, ``NI`` tile rows,
  ``NS - 1`` de-skew stages; the last de-skew stage drives the output, through
  the partial-sum add when that is below the mesh, one more register at
  pipeline ≥ 3). The next weight tile can start loading ``NS`` cycles after
  the tile's last activation row (the last wavefront must have left tile
  row 0 before row 0's weights change).
* output-stationary: one ``(a column, w row)`` beat per cycle; ``R`` result
  rows per tile; row ``i`` is valid ``C + 2 + i`` cycles after the tile's
  ``last`` beat was taken; a ``last`` beat is taken no sooner than ``R``
  cycles after the previous one (so result rows never collide).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param
from ...errors import ConfigError
from ...int8pack import NEGATED_MAX, NEGATED_MAX_EXACT_TERMS, NEGATED_MIN, SHIFT
from ...numtype import Int, NumType
from ...pipeline import RAM_DELAY_MIN
from ...primitives import MULT18_BITS
from ...structure import Features, TimingPath, add, delay_line, dsp_tiles, memory_delay, merge, multiplier_path
from ...vectors import StreamVectors
from ..mac_pe import MacPEConfig
from . import testdata
from .array import OutputStationaryArray, WeightStationaryArray, act_skew_read
from .gemm import assemble, gemm_vectors, golden_gemm
from .mesh import READOUT_STYLE, tile_spans
from .pe import pe_stages, product_delay, split_point, weight_in_cell
from .reference import SystolicReference

Dataflow = Literal["weight_stationary", "output_stationary"]
DATAFLOWS = ("weight_stationary", "output_stationary")
MAX_DIM = 64


@dataclass(frozen=True, kw_only=True)
class SystolicArrayConfig(BlockConfig):
    """Parameters of an R×C systolic array."""

    block_name: ClassVar[str] = "systolic_array"
    auto_defaults: ClassVar[dict] = {"pe.pipeline": 0}
    summary: ClassVar[str] = (
        "R×C systolic array (weight- or output-stationary) of MAC PEs with "
        "input skew / output de-skew and valid/ready streams"
    )

    rows: int = param(8, "R: PE rows (reduction K per weight tile for WS; output rows for OS)", f"1..{MAX_DIM}")
    cols: int = param(8, "C: PE columns (output columns)", f"1..{MAX_DIM}")
    dataflow: Dataflow = param(
        "weight_stationary", "which operand stays in the PEs", "weight_stationary | output_stationary"
    )
    pe: MacPEConfig = param(
        MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), pipeline=None, max_len=4096),
        "PE number types, overflow rule and K bound (max_len); lanes must be 1; pipeline: register stages "
        "inside each PE (0: multiply and accumulate in one cycle, 1: registered product, 2: registered "
        "product and an accumulate split into two carry-registered halves, not with saturate; 3: registered "
        "operands and product, the DSP cell's own registers, e.g. ECP5 MULT18X18D with dsp_cells; 4: 3 and a second "
        "product register in fabric); left out, "
        "hwgen picks the fewest stages that meet the design's clock (0 outside a design)",
        "a mac_pe table",
    )
    tile: int = param(
        1,
        "PEs per tile side: PEs inside a tile are chained combinationally, tiles are separated by registers",
        "1..64 (1 for output_stationary)",
    )
    psum_input: bool = param(
        True,
        "WS: each activation row carries a partial-sum vector (needed to chain K tiles of a GEMM), added below "
        "the mesh to the column sums (at the top with overflow='saturate' or pipeline 2)",
        "true | false",
    )
    span: int | None = param(
        None,
        "WS: columns an activation is broadcast to before it is registered again (a multiple of tile); left "
        "out: the largest multiple of tile up to 8 (weight_stationary), 1 (output_stationary)",
        "1..64 (1 for output_stationary)",
    )
    pack_int8: bool = param(
        False,
        "WS, Int(8) x Int(8): each pair of columns shares one multiplier per row, whose operand packs the "
        "pair's weights as w[2j+1]·2^18 − w[2j] (27 bits: one DSP48E2 per two MACs on xcup; two DSP48E1 "
        "on xc7, whose port has 25 bits); column sums stay packed down the mesh, unpacked below it",
        "true | false (rows ≤ 8, even cols and span, tile 1, pipeline 0, 1, 3 or 4, overflow wrap or error, "
        "dsp_cells inferred)",
    )

    def __post_init__(self) -> None:
        tile_ok = isinstance(self.tile, int) and not isinstance(self.tile, bool) and self.tile >= 1
        if self.span is None:  # with a bad tile the checks that follow report the tile
            ws = self.dataflow == "weight_stationary" and tile_ok
            object.__setattr__(self, "span", max(self.tile, 8 // self.tile * self.tile) if ws else 1)
        super().__post_init__()

    def validate(self) -> None:
        check_range(self.where("rows"), self.rows, 1, MAX_DIM)
        check_range(self.where("cols"), self.cols, 1, MAX_DIM)
        check_range(self.where("tile"), self.tile, 1, MAX_DIM)
        if self.pe.lanes != 1:
            raise ConfigError(
                self.where("pe.lanes"), f"{self.pe.lanes}: a systolic PE does one MAC per cycle; use lanes=1"
            )
        if self.pe.outputs != 1 or self.pe.pack_int8:
            key, value = ("pe.outputs", self.pe.outputs) if self.pe.outputs != 1 else ("pe.pack_int8", True)
            raise ConfigError(
                self.where(key),
                f"{value}: a systolic PE has one weight; use outputs=1 (the array's pack_int8 packs its columns)",
            )
        # a systolic PE gives pipeline 3 and 4 its own meaning (operands + product in the DSP cell) and has no
        # adder tree to split (the MAC PE's 5)
        check_range(self.where("pe.pipeline"), self.pe.pipeline, 0, 4)
        if self.pe.pipeline == 2 and self.pe.overflow == "saturate":
            raise ConfigError(
                self.where("pe.pipeline"),
                "2 splits the accumulate into halves, which cannot saturate after every step; "
                "use pipeline 0 or 1 with overflow='saturate'",
            )
        if self.pe.pipeline == 2 and self.pe.acc.width <= self.pe.product_type.width:
            raise ConfigError(
                self.where("pe.pipeline"),
                f"2 splits the accumulator above the product's {self.pe.product_type.width} bits, "
                f"so it needs an accumulator wider than that ({self.pe.acc} is not); use pipeline 0 or 1",
            )
        if self.dataflow == "output_stationary" and self.tile != 1:
            raise ConfigError(
                self.where("tile"),
                f"{self.tile}: output_stationary reads each PE out in the cycle it finishes, which needs tile=1",
            )
        check_range(self.where("span"), self.span, 1, MAX_DIM)
        if self.dataflow == "output_stationary" and self.span != 1:
            raise ConfigError(
                self.where("span"), f"{self.span}: output_stationary registers activations at every PE; use span=1"
            )
        if self.span % self.tile:
            raise ConfigError(
                self.where("span"), f"{self.span} is not a multiple of tile={self.tile}; use a multiple of {self.tile}"
            )
        if self.pack_int8:
            self._validate_packing()
        if self.dataflow == "output_stationary" and self.pe.dsp_cells == "mult18x18d" and self.pe.pipeline < 3:
            raise ConfigError(
                self.where("pe.dsp_cells"),
                f"mult18x18d: an output-stationary PE's operands move every cycle, so the cell's registers are "
                f"used from pipeline 3 (pipeline is {self.pe.pipeline}); use pipeline 3 or 4, or dsp_cells='inferred'",
            )

    def _validate_packing(self) -> None:
        """What :attr:`pack_int8` needs (each check names the parameter to change)."""
        pe, k = self.pe, NEGATED_MAX_EXACT_TERMS
        types = f"{pe.act} x {pe.weight}"
        checks = [
            ("dataflow", self.ws, "packing shares a weight-stationary row's activation; use weight_stationary"),
            ("pe.act", pe.act == Int(8) and pe.weight == Int(8), f"packing needs Int(8) x Int(8), not {types}"),
            ("rows", self.rows <= k, f"{self.rows}: a packed column sum is exact for at most {k} rows; use ≤ {k}"),
            ("cols", self.cols % 2 == 0, f"{self.cols}: columns pack in pairs; use an even number"),
            ("tile", self.tile == 1, f"{self.tile}: packed arrays use tile=1"),
            ("span", self.span % 2 == 0, f"{self.span}: a span holds whole column pairs; use an even span"),
            ("pe.pipeline", pe.pipeline != 2, "2 splits the accumulate, packed sums do not; use 0, 1, 3 or 4"),
            ("pe.overflow", pe.overflow != "saturate", "saturate acts at every step; use wrap or error"),
            ("pe.dsp_cells", pe.dsp_cells == "inferred", f"{pe.dsp_cells}: the 27-bit operand is not one cell; "
             "use dsp_cells='inferred'"),
        ]  # fmt: skip
        for key, ok, why in checks:
            if not ok:
                raise ConfigError(self.where(key), f"with pack_int8: {why}")

    # ------------------------------------------------------------ derived
    @property
    def packed_pe(self) -> MacPEConfig:
        """The PE of a packed mesh (:attr:`pack_int8`): the activation times the 27-bit packed weight pair,
        exact column sums (no accumulator bound inside the mesh)."""
        pe = self.pe
        return MacPEConfig(
            act=pe.act, weight=Int(27), acc=Int(48), overflow="wrap", pipeline=pe.pipeline, max_len=pe.max_len
        )

    def packed_column_type(self, n: int) -> NumType:
        """Type of a packed column sum of ``n`` rows: ``n`` products of an INT8 activation and a packed
        weight pair in ``[NEGATED_MIN, NEGATED_MAX]``."""
        corners = [a * w for a in (-128, 127) for w in (NEGATED_MIN, NEGATED_MAX)]
        return NumType.fitting(n * min(corners), n * max(corners))

    @property
    def ws(self) -> bool:
        return self.dataflow == "weight_stationary"

    @property
    def registered_stall(self) -> bool:
        """Whether the global stall is a register with a one-row output skid buffer (DSP-registered PEs)."""
        return self.pe.pipeline >= 3

    @property
    def tile_rows(self) -> int:
        """NI: tile rows of the mesh."""
        return len(tile_spans(self.rows, self.tile))

    @property
    def tile_cols(self) -> int:
        """NJ: tile columns of the mesh."""
        return len(tile_spans(self.cols, self.tile))

    @property
    def span_count(self) -> int:
        """NS: spans of ``span`` columns (WS; an activation takes one cycle per span)."""
        return len(tile_spans(self.cols, self.span))

    @property
    def psum_below(self) -> bool:
        """WS: the mesh computes column sums (exact, as wide as ``k`` products need at row ``k``, wrapping at
        the accumulator's width) and the partial-sum input is added below the mesh. Equal to the k-order fold
        because wrapping addition is associative (and 'error' proves no overflow); saturation after every
        step is not, and a split accumulate (pipeline 2) keeps full-width sums, so those add it at the top."""
        return self.ws and self.pe.overflow != "saturate" and self.pe.pipeline != 2

    def column_type(self, n: int) -> NumType:
        """Type of a column sum of ``n`` products: exact, or the accumulator (wrapping) once that is wider."""
        pe = self.pe
        corners = [a * w for a in (pe.act.min, pe.act.max) for w in (pe.weight.min, pe.weight.max)]
        exact = NumType.fitting(n * min(corners), n * max(corners), pe.product_type.frac)
        return exact if exact.width < pe.acc.width else pe.acc

    @property
    def sum_register(self) -> bool:
        """WS with :attr:`psum_below` at pipeline ≥ 3: the sum of the column sums and the partial sums is
        registered (a cycle), not added on the way to the output."""
        return self.psum_below and self.pe.pipeline >= 3

    # ---- latency of each level (cycles) -------------------------------------------------
    #: PE: combinational (its registers belong to the mesh).
    pe_latency: ClassVar[int] = 0
    #: Tile: a combinational grid of PEs.
    tile_latency: ClassVar[int] = 0
    #: Wrapper input register (stream payload -> skew).
    input_latency: ClassVar[int] = 1

    @property
    def mesh_latency(self) -> int:
        """WS: mesh input of tile row 0 -> registered result of tile column 0 (one register per tile row)."""
        return self.tile_rows * (self.tile_latency + 1)

    @property
    def deskew_latency(self) -> int:
        """WS: de-skew of span 0 (the last span needs none and drives the output directly)."""
        return self.span_count - 1

    @property
    def ws_latency(self) -> int:
        """WS: cycles from taking an activation row to its result row being valid (the partial sum's add below
        the mesh is combinational, or a register of its own with :attr:`sum_register`)."""
        stages = self.input_latency + self.mesh_latency + self.deskew_latency + pe_stages(self.pe)
        return stages + (1 if self.sum_register else 0)

    def os_latency(self, row: int) -> int:
        """OS: cycles from taking a tile's ``last`` beat to result row ``row`` being valid:
        input register, the wavefront to PE (row, j) (``row + j``), the PE's accumulator (1),
        the read-out register (1), de-skew of column j (``C - 1 - j``), and the PE's pipeline stages."""
        return self.input_latency + row + 1 + 1 + (self.cols - 1) + pe_stages(self.pe)

    @property
    def ws_drain(self) -> int:
        """WS: cycles from the last activation row of a tile to the first weight row of the next (one more
        when the multiplier registers its activation operand: the weight is read a cycle after it)."""
        return self.span_count + (1 if self.pe.pipeline >= 3 else 0)

    def component(self) -> WeightStationaryArray | OutputStationaryArray:
        return WeightStationaryArray(self) if self.ws else OutputStationaryArray(self)

    def timing(self) -> Timing:
        if self.ws:
            return Timing(
                latency=self.ws_latency,
                ii=1,
                ops_per_beat=self.rows * self.cols,
                notes=f"weight-stationary: load R={self.rows} weight rows, then one activation row "
                f"per cycle, result after {self.ws_latency} cycles; {self.ws_drain} drain "
                f"cycle(s) before the next weight tile",
            )
        return Timing(
            latency=self.os_latency(0),
            ii=1,
            ops_per_beat=self.rows * self.cols,
            notes=f"output-stationary: one (A column, B row) beat per cycle; result row i "
            f"{self.cols + 2}+i cycles after the tile's last beat",
        )

    # ------------------------------------------------------------- models
    def model(self, acc0: np.ndarray, a: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Golden model of one tile (or a whole GEMM): ``acc0 [M,N]`` folded with ``a [M,K] · w [K,N]`` in k
        order with the PE's rule (:func:`mac_fold`); exact integers."""
        return mac_fold(self.pe, acc0, a, w)

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """The tiles of ``vectors`` (WS: activation rows per weight tile, from ``a.last``; OS: K beats per
        tile, from ``i.last``) through :meth:`tile_cycles`; inputs from memory are not modelled."""
        if arrivals:
            raise ConfigError(self.where("cycle_model"), "the array's cycle model assumes inputs at full rate")
        port = "a" if self.ws else "i"
        ends = np.flatnonzero(vectors.field(port, "last"))
        tiles = np.diff(np.concatenate([[-1], ends])).tolist()
        accepts, outs = self.tile_cycles(tiles)
        if self.ws:
            return {"w": accepts[0], "a": accepts[1], "o": outs}
        return {"i": accepts[0], "o": outs}

    def tile_cycles(self, tiles: list[int]) -> tuple[list[list[int]], list[int]]:
        """The cycle model for a sequence of tiles at full rate.

        Args:
            tiles: WS: activation rows per weight tile; OS: K (beats) per tile.

        Returns:
            ``(accepts, outputs)``: WS: ``accepts = [w accepts, a accepts]``;
            OS: ``accepts = [i accepts]``; ``outputs`` = first-valid cycle of
            every output beat, in order.
        """
        if self.ws:
            w_acc, a_acc, outs, t = [], [], [], 0
            for m_rows in tiles:
                w_acc += [t + r for r in range(self.rows)]
                start = t + self.rows
                rows = [start + i for i in range(m_rows)]
                a_acc += rows
                outs += [x + self.ws_latency for x in rows]
                t = rows[-1] + self.ws_drain
            return [w_acc, a_acc], outs
        acc, outs, t, prev_last = [], [], 0, None
        for k_beats in tiles:
            for k in range(k_beats):
                if k == k_beats - 1 and prev_last is not None:
                    t = max(t, prev_last + self.rows)
                acc.append(t)
                t += 1
            prev_last = acc[-1]
            outs += [prev_last + self.os_latency(i) for i in range(self.rows)]
        return [acc], outs

    def check_outputs(self, vectors: StreamVectors, outputs: dict) -> tuple[list[str], list[str]]:
        """Reassemble every GEMM's C from the output rows and compare with the NumPy GEMM."""
        plan = vectors.extra.get("plan")
        if plan is None:
            return [], []
        rows = outputs["o"][""] if isinstance(outputs["o"], dict) else outputs["o"]
        if len(rows) < sum(len(v) for v in [vectors.expected["o"]]):
            return [], []  # missing beats are reported by the beat check
        lines, problems, shapes = [], [], []
        for g, got in zip(plan.gemms, assemble(self, plan, rows)):
            want = golden_gemm(self, g.a, g.b)
            if not np.array_equal(got.astype(object), want.astype(object)):
                i, j = np.argwhere(got.astype(object) != want.astype(object))[0]
                problems.append(
                    f"GEMM {g.name} {g.shape[0]}×{g.shape[1]}×{g.shape[2]}: C[{i},{j}] = {got[i, j]}, "
                    f"NumPy says {want[i, j]}"
                )
            shapes.append(g.shape)
        n_out = sum(m * n for m, _, n in shapes)
        lines.append(
            f"{len(shapes)} GEMMs reassembled ({n_out} outputs; shapes "
            f"{', '.join('×'.join(map(str, s)) for s in shapes[:6])}{', …' if len(shapes) > 6 else ''}) "
            f"{'equal' if not problems else 'DIFFER from'} NumPy"
        )
        return lines, problems

    # ----------------------------------------------------------- stimulus
    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """Random GEMMs (M, K, N not multiples of the array) plus extreme-value GEMMs, tiled for the array.

        ``n`` is the number of random output elements to aim for (≥ n results
        are checked); corner GEMMs use the most negative / most positive
        operands and all-ones bit patterns.
        """
        return gemm_vectors(self, testdata.random_gemms(self, rng, n, corners=corners))

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.configs(cls)

    def reference(self) -> SystolicReference:
        return SystolicReference(self)

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.formal_configs(cls)

    # ------------------------------------------------------------- timing
    def timing_candidates(self, family: str) -> list[dict]:
        """Cheapest first. On ECP5 a MULT18X18D with its own registers holds the weight (WS, any pipeline)
        and the product, so the cell beats fabric registers (pipeline 1, 2) on flip-flops and speed."""
        if family == "ecp5" and max(self.pe.act.width, self.pe.weight.width) <= MULT18_BITS:
            first = [{"pe.pipeline": 0, "pe.dsp_cells": "mult18x18d" if self.ws else "inferred"}]
            return first + [{"pe.pipeline": p, "pe.dsp_cells": "mult18x18d"} for p in (3, 4)]
        return [{"pe.pipeline": p, "pe.dsp_cells": "inferred"} for p in (0, 1, 2)]

    def timing_paths(self, family: str) -> list[TimingPath]:
        """PE paths (a tile chains ``tile`` PEs' adders), the OS read-out bus and the stall enable."""
        pe, R, C = self.pe, self.rows, self.cols
        mpe, _, _, coltype = self.mesh_shape() if self.ws else (pe, C, 1, self.column_type)
        regs = R * C * (pe.acc.width + pe.act.width + pe.weight.width)
        mult = multiplier_path(pe.act.width, mpe.weight.width, family)
        split = split_point(pe)
        width = max(split, pe.acc.width - split) + 1 if split else pe.acc.width
        if self.psum_below:
            width = coltype(R).width
        sat = 2 if pe.overflow == "saturate" else 0
        chained = self.tile if self.ws else 1
        acc = {"adders": chained, "carry_bits": width, "luts": sat * chained + (0 if self.ws else 1)}
        if pe.pipeline == 3 and pe.dsp_cells == "mult18x18d":  # the accumulate starts at the DSP's output
            shapes = [("PE multiplier", {"dsp_internal": 1}), ("PE accumulate", {**acc, "dsp_out": 1})]
        elif pe.pipeline == 4 and pe.dsp_cells == "mult18x18d":  # the route out of the DSP has its own cycle
            shapes = [("PE multiplier", {"dsp_internal": 1}), ("PE product route", {"dsp_out": 1})]
            shapes.append(("PE accumulate", acc))
        elif pe.pipeline == 0:
            shapes = [("PE multiply-accumulate", {**mult, **acc})]
        else:
            shapes = [("PE multiplier", mult), ("PE accumulate", acc)]
        if not self.ws and READOUT_STYLE.get(family, "mux") == "mux":  # select register -> 4:1 per LUT level
            shapes.append(("read-out multiplexer", {"luts": max(1, math.ceil(math.log(R, 4)))}))
        elif not self.ws:  # done flags -> AND-OR tree of 2 PEs per LUT
            shapes.append(("read-out bus", {"luts": max(1, math.ceil(math.log(2 * R, 4)))}))
        if self.psum_below:
            below = 2 if self.pack_int8 else 1  # a packed pair's high field adds its low field's borrow first
            shapes.append(("partial-sum add below the mesh", {"adders": below, "carry_bits": pe.acc.width}))
        shapes.append(("stall enable", {"luts": 1, "fanout": regs}))
        return [TimingPath(name, size=regs, **terms) for name, terms in shapes]

    # ----------------------------------------------------------- estimate
    def features(self, family: str) -> Features:
        if self.ws:
            return self._ws_features(family)
        return self._os_features(family)

    def mesh_shape(self) -> tuple[MacPEConfig, int, int, Callable[[int], NumType]]:
        """WS: (PE, columns, span, column-sum type) of the mesh: the array's, or the packed pairs'."""
        if self.pack_int8:
            return self.packed_pe, self.cols // 2, self.span // 2, self.packed_column_type
        return self.pe, self.cols, self.span, self.column_type

    def _ws_features(self, family: str) -> Features:
        R, C, pe = self.rows, self.cols, self.pe
        mpe, MC, mspan, coltype = self.mesh_shape()
        wa, A = pe.act.width, pe.acc.width
        feat: Features = {}
        tiles = dsp_tiles(wa, mpe.weight.width, family)
        if tiles:
            add(feat, "PEs", dsp=R * MC * tiles)
        else:
            add(feat, "PEs", lut_mul=R * MC * wa * mpe.weight.width, lut_mul_pes=R * MC)
        if self.psum_below:  # column sums as wide as the products so far need
            add(feat, "PEs", pe_acc_bits=MC * sum(coltype(r + 1).width for r in range(R)))
        else:
            add(feat, "PEs", pe_acc_bits=R * C * A)
        if pe.overflow == "saturate":
            add(feat, "PEs", pe_sat_bits=R * C * A)
        if not weight_in_cell(mpe):
            add(feat, "PEs", weight_reg_bits=R * MC * mpe.weight.width)
        NS, ram = len(tile_spans(MC, mspan)), RAM_DELAY_MIN
        out_bits = coltype(R).width if self.psum_below else A
        add(feat, "mesh registers", pipe_reg_bits=R * (NS - 1) * wa, inner_tile_pes=R * MC - self.tile_rows * MC)
        for I, (_, nr) in enumerate(tile_spans(R, self.tile)):
            merge(feat, "skew / de-skew", memory_delay(family, nr * wa, I, ram, act_skew_read(family, pe)))
        for S, (_, nc) in enumerate(tile_spans(MC, mspan)):
            if self.psum_input and not self.psum_below:
                merge(feat, "skew / de-skew", delay_line(family, nc * A, S + product_delay(pe)))
            merge(feat, "skew / de-skew", delay_line(family, nc * out_bits, NS - 1 - S))
        if self.pack_int8:  # packing the weight pairs (w bus), unpacking the column-sum pairs (high field)
            add(feat, "packing", acc_add_bits=MC * (mpe.weight.width + out_bits - SHIFT))
        if self.psum_below and self.psum_input:
            merge(feat, "partial-sum input", memory_delay(family, C * A, self.ws_latency, ram))
            add(feat, "partial-sum input", acc_add_bits=C * A)
        if self.sum_register:
            add(feat, "partial-sum input", reg_bits=C * A)
        in_psum = self.psum_input and not self.psum_below
        add(feat, "input register", in_reg_bits=R * wa + (C * A if in_psum else 0))
        add(feat, "control", ctrl=1, ctrl_rows=R, valid_bits=self.ws_latency)
        return feat

    def _os_features(self, family: str) -> Features:
        R, C, pe = self.rows, self.cols, self.pe
        wa, wb, A = pe.act.width, pe.weight.width, pe.acc.width
        feat: Features = {}
        tiles = dsp_tiles(wa, wb, family)
        if tiles:
            add(feat, "PEs", dsp=R * C * tiles)
        else:
            add(feat, "PEs", lut_mul=R * C * wa * wb, lut_mul_pes=R * C)
        add(feat, "PEs", pe_acc_bits=R * C * A)
        if pe.overflow == "saturate":
            add(feat, "PEs", pe_sat_bits=R * C * A)
        add(feat, "mesh registers", pipe_reg_bits=R * (C - 1) * (wa + 2) + (R - 1) * C * wb)
        for r in range(R):
            merge(feat, "skew / de-skew", delay_line(family, wa, r))
            merge(feat, "skew / de-skew", delay_line(family, 2, r))
        for c in range(C):
            merge(feat, "skew / de-skew", delay_line(family, wb, c))
            merge(feat, "skew / de-skew", delay_line(family, A, C - 1 - c))
        if READOUT_STYLE.get(family, "mux") == "mux":  # R-way multiplexer: a LUT6 takes 4 words (or 2 + a level)
            sel_bits = (R - 1).bit_length() if R > 1 else 0
            add(feat, "read-out", readout_luts=C * A * math.ceil((R - 1) / 3), pipe_reg_bits=C * (A + sel_bits))
        else:  # the column register is a plain register, priced like the mesh's (fitted on far more designs)
            add(feat, "read-out", readout_bits=R * C * A, pipe_reg_bits=C * A)
        add(feat, "input register", in_reg_bits=R * wa + C * wb + 2)
        add(feat, "control", ctrl=1, valid_bits=C)
        return feat


def mac_fold(pe: MacPEConfig, acc0: np.ndarray, a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``acc = acc0; for k: acc = pe.acc.fold(acc + a[:, k] ⊗ w[k, :], pe.overflow)`` with exact integers."""
    a = pe.act.array(a)
    w = pe.weight.array(w)
    need = NumType.fitting(min(pe.acc.min, 0) + pe.product_type.min, max(pe.acc.max, 0) + pe.product_type.max)
    dt = np.int64 if need.width <= 62 else object
    acc = np.array(acc0, dtype=dt)
    a, w = a.astype(dt), w.astype(dt)
    for k in range(a.shape[1]):
        acc = pe.acc.fold(acc + a[:, k : k + 1] * w[k : k + 1, :], pe.overflow)
    return acc
