"""Reconfigurable GEMM core driven by configuration records in a ROM (InTAR's per-stage switching).

The core holds the weight slices of every task it serves (one
:class:`~hwgen.blocks.gemm_core.GemmCoreConfig` each) in one weight ROM and a
program: a list of records ``(slice, rows)`` in a record ROM. It runs the
records in order and then starts over. A record makes the core compute
``rows`` output rows of its slice exactly as a :mod:`~hwgen.blocks.gemm_core`
would (same passes, row buffer, output shift register and epilogue), with
the slice's loop bounds, weight base address and epilogue parameters taken
from the record at run time.

Switching: after the last reduction step of a record is issued, the core
reads the next record from the ROM (1 cycle) and latches its fields (1
cycle), so the next record's first step is issued 3 cycles after the last
one instead of 1: **a switch costs 2 cycles** (:data:`SWITCH_CYCLES`; the
first record also starts 2 cycles after reset). Results of the old record
still in the pipeline drain with that record's epilogue, which travels with
them. Activations arrive one per beat (each record's rows, ``k`` beats each,
in program order); results leave one per beat, row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value, ValueCastable, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ...arith import PART_BITS, kept_adder_tree, partial_operands, requant_offset, requant_product, requant_round
from ...config import Arrivals, BlockConfig, CycleModel, Timing, check_range, param
from ...errors import ConfigError
from ...pipeline import register
from ...primitives import MULT18_BITS, registered_multiply
from ...structure import Features, TimingPath, chain_paths, multiplier_path
from ...vectors import StreamVectors
from . import testdata
from .core import GemmCoreConfig, column_layout, column_words, core_features, mac_paths, mac_register_bits
from .cycles import PIPE, SWITCH_CYCLES, CoreClock
from .datapath import GemmDatapath
from .reference import GemmReference

#: Record fields of the run-time epilogue: ``requant ? clamp(zp + round_shift(acc·mult, shift), lo, hi) : acc``
#: (ties to even if ``even``, else away from zero) then ReLU if ``relu``: ``max(zp, y)`` (``zp`` is 0 in records
#: without requantization).
EPILOGUE = data.StructLayout(
    {
        "requant": 1,
        "relu": 1,
        "even": 1,
        "mult": 31,
        "shift": 6,
        "zp": signed(33),
        "lo": signed(33),
        "hi": signed(33),
    }
)


@dataclass(frozen=True, kw_only=True)
class RecordCoreConfig(BlockConfig):
    """Parameters of a record-driven GEMM core."""

    block_name: ClassVar[str] = "record_core"
    auto_defaults: ClassVar[dict] = {"epilogue_stages": 0, "mac_stages": 0}
    summary: ClassVar[str] = (
        "reconfigurable GEMM core: weight slices of several tasks in one ROM, a record ROM "
        "selects slice and rows per step of the schedule; 2-cycle switch"
    )

    slices: tuple[GemmCoreConfig, ...] = param(
        (GemmCoreConfig(),),
        "the task slices this core serves",
        "1..64 gemm_core configs with equal lanes, act, weight, acc",
    )
    program: tuple[int, ...] = param((0,), "record ROM: the slice index of each record, run in order", "1..256")
    rows: tuple[int, ...] = param((1,), "rows each record computes (same length as program)", "1..65536 each")
    epilogue_stages: int | None = param(
        None,
        "registers in the run-time epilogue (1: after the multiply by the record's multiplier, 2: also "
        "after the rounding, 3: also after the magnitude, 4: also after the shift, 5: also the multiply's "
        "17-bit partial products); each delays every result a cycle, the rate stays one per cycle; left "
        "out, hwgen picks the fewest that meet the design's clock (0 outside a design)",
        "0..5",
    )
    mac_stages: int | None = param(
        None,
        "registers between the weight ROM and the accumulators (1: the products, 2: also the operands, i.e. "
        "the ROM and row-buffer outputs); each delays every result a cycle, one step per cycle stays; "
        "left out, hwgen picks the fewest that meet the design's clock (0 outside a design)",
        "0..2",
    )
    dsp_cells: str = param(
        "inferred",
        "multipliers: 'inferred' (synthesis maps them), or 'mult18x18d': ECP5 MULT18X18D cells instantiated "
        "with their own output registers (the MAC's product register, the epilogue's partial-product "
        "register), so no route into or out of a DSP shares a cycle with logic; needs epilogue_stages 5, "
        "mac_stages 2 and operands of at most 18 bits; same cycles",
        "inferred | mult18x18d",
    )

    @property
    def base(self) -> GemmCoreConfig:
        return self.slices[0]

    @property
    def out_width(self) -> int:
        return max(s.out_type.width + (0 if s.out_type.signed else 1) for s in self.slices)

    @property
    def word_base(self) -> list[int]:
        """Weight ROM address of each slice's first word (words are ``lanes`` weights)."""
        out, addr = [], 0
        for s in self.slices:
            out.append(addr)
            addr += s.passes * s.k
        return out

    @property
    def columnwise(self) -> bool:
        """Whether a slice has per-column parameters: the core then has a column ROM for every slice's."""
        return any(s.columnwise for s in self.slices)

    @property
    def column_base(self) -> list[int]:
        """Column ROM address of each slice's first column."""
        return [sum(s.n for s in self.slices[:i]) for i in range(len(self.slices))]

    def validate(self) -> None:
        check_range(self.where("slices"), len(self.slices), 1, 64)
        check_range(self.where("program"), len(self.program), 1, 256)
        b = self.base
        for i, s in enumerate(self.slices):
            for f in ("lanes", "act", "weight", "acc"):
                if getattr(s, f) != getattr(b, f):
                    raise ConfigError(
                        self.where("slices"),
                        f"slice {i} has {f} = {getattr(s, f)}, slice 0 has {getattr(b, f)}; one core has one datapath",
                    )
        if len(self.rows) != len(self.program):
            raise ConfigError(self.where("rows"), f"{len(self.rows)} entries for {len(self.program)} records")
        for i, (sl, r) in enumerate(zip(self.program, self.rows)):
            if not 0 <= sl < len(self.slices):
                raise ConfigError(
                    self.where("program"),
                    f"record {i} names slice {sl}; there are {len(self.slices)} (0..{len(self.slices) - 1})",
                )
            check_range(self.where("rows") + f"[{i}]", r, 1, 1 << 16)
        check_range(self.where("epilogue_stages"), self.epilogue_stages, 0, 5)
        check_range(self.where("mac_stages"), self.mac_stages, 0, 2)
        if self.dsp_cells not in ("inferred", "mult18x18d"):
            raise ConfigError(self.where("dsp_cells"), f"{self.dsp_cells!r}: one of 'inferred', 'mult18x18d'")
        if self.cells:
            if (self.epilogue_stages, self.mac_stages) != (5, 2):
                raise ConfigError(
                    self.where("dsp_cells"),
                    f"'mult18x18d' uses the cells' registers as the MAC's operand and product stages and the "
                    f"epilogue's partial-product stage: set epilogue_stages 5 and mac_stages 2 (they are "
                    f"{self.epilogue_stages} and {self.mac_stages})",
                )
            if max(b.act.width, b.weight.width) > MULT18_BITS:
                raise ConfigError(
                    self.where("dsp_cells"),
                    f"'mult18x18d' multiplies operands of up to {MULT18_BITS} bits; act is {b.act}, weight "
                    f"{b.weight}; use 'inferred'",
                )

    @property
    def cells(self) -> bool:
        """The multipliers are instantiated MULT18X18D cells."""
        return self.dsp_cells == "mult18x18d"

    def vendor_cells(self) -> dict[str, str]:
        return {"MULT18X18D": "ecp5"} if self.cells else {}

    def component(self) -> RecordCore:
        return RecordCore(self)

    def timing(self) -> Timing:
        return Timing(
            latency=PIPE + self.mac_stages + self.epilogue_stages,
            ii=1,
            ops_per_beat=self.base.lanes,
            notes=f"{len(self.program)} records; a record switch costs {SWITCH_CYCLES} cycles",
        )

    # ------------------------------------------------------------- models
    def split_input(self, x: np.ndarray) -> list[np.ndarray]:
        """The flat activation stream cut into the records' ``[rows, k]`` matrices (one program run or more)."""
        flat = np.asarray(x).reshape(-1)
        out, pos, i = [], 0, 0
        while pos < flat.size:
            s = self.slices[self.program[i % len(self.program)]]
            n = self.rows[i % len(self.program)] * s.k
            if pos + n > flat.size:
                raise ConfigError("x", f"the activation stream ends inside record {i % len(self.program)}")
            out.append(flat[pos : pos + n].reshape(-1, s.k))
            pos, i = pos + n, i + 1
        return out

    def model(self, x: np.ndarray) -> np.ndarray:
        """Golden model: every record's rows through its slice's model, results in order (flat)."""
        parts = [
            self.slices[self.program[i % len(self.program)]].model(xi).reshape(-1).astype(np.int64)
            for i, xi in enumerate(self.split_input(x))
        ]
        return np.concatenate(parts)

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """The program's records in order, as many runs as the input stream holds: each record's rows through
        the core's cycle model (:mod:`.cycles`), :data:`SWITCH_CYCLES` between records and before the first."""
        per_run = sum(self.slices[sl].k * r for sl, r in zip(self.program, self.rows))
        runs = -(-vectors.beats("i") // per_run)
        offered = (arrivals or {}).get("i")
        accepts: list[int] = []
        outs: list[int] = []
        # the first record: read + latch
        clock = CoreClock(cycle=SWITCH_CYCLES, epilogue_stages=self.epilogue_stages, mac_stages=self.mac_stages)
        for _ in range(runs):
            for sl, nrows in zip(self.program, self.rows):
                s = self.slices[sl]
                last = clock.rows(s.k, s.n, s.lanes, nrows, accepts, outs, offered)
                clock.cycle = max(clock.cycle, last + 1 + SWITCH_CYCLES)  # read + latch the next record
        return {"i": accepts, "o": outs}

    def stimulus(self, rng: np.random.Generator, n: int = 3, *, corners: bool = True) -> StreamVectors:
        """``n`` runs of the program with random activations; the first run has extreme rows."""
        return testdata.record_stimulus(self, rng, n, corners)

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        return testdata.record_configs(cls, GemmCoreConfig)

    def reference(self) -> GemmReference:
        return GemmReference(self, [(self.slices[s], r) for s, r in zip(self.program, self.rows)])

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        return testdata.record_formal_configs(cls, GemmCoreConfig)

    # ------------------------------------------------------------- timing
    def timing_candidates(self, family: str) -> list[dict]:
        """Every setting, fewest register bits first (an epilogue stage registers its ~60-bit value with the
        record fields still needed; a MAC stage ``lanes`` products, then also the operands)."""
        b = self.base
        pw = b.act.width + b.weight.width
        epi = {0: 0, 1: 120, 2: 200, 3: 320, 4: 440, 5: 560 + 2 * b.acc.width}
        mac = {0: 0, 1: b.lanes * pw, 2: b.lanes * (2 * pw) + b.act.width}
        settings = sorted((epi[e] + mac[k], e, k) for e in epi for k in mac)
        return [{"epilogue_stages": e, "mac_stages": k} for _, e, k in settings]

    def timing_paths(self, family: str) -> list[TimingPath]:
        """The MAC path (weight ROM read, multiply, accumulate into the result shift register), the run-time
        epilogue (a multi-DSP multiply, magnitude, variable shift, rounding, offset and clamp), the weight
        address (``pass · k + step`` into the ROM) and the stall enable; the stages decide which share a
        cycle."""
        size = mac_register_bits(self.base, self.mac_stages)
        return (
            mac_paths(self.base, self.mac_stages, family, size, self.cells)
            + epilogue_paths(self, family)
            + control_paths(self, family)
        )

    def features(self, family: str) -> Features:
        b = self.base
        feat = core_features(
            family,
            b.lanes,
            b.act,
            b.weight,
            b.acc,
            rom_words=sum(s.passes * s.k for s in self.slices),
            rows=max(s.k for s in self.slices),
            epilogue=False,
            runtime_epilogue=True,
        )
        feat["memories"]["mem_bits"] += len(self.program) * record_layout(self).size
        return feat


def epilogue_paths(cfg: RecordCoreConfig, family: str) -> list[TimingPath]:
    """The run-time requantization from the result shift register to the output register, cut after the
    partial products (5), the product (1+), the magnitude (3+), the shift (4+) and the rounding (2+)."""
    A = cfg.base.acc.width
    W = A + 32
    if cfg.epilogue_stages == 5:  # 17-bit partial products registered, then their sum
        n = -(-A // PART_BITS) * -(-31 // PART_BITS)  # chunks of acc × chunks of the multiplier
        out = {"dsp_out": 1} if cfg.cells else {}  # the cell's product register, then the route out
        multiply = [
            ("multiply: partial products", multiplier_path(PART_BITS, PART_BITS, family)),
            "parts",
            ("multiply: sum", {"adders": (n - 1).bit_length(), "carry_bits": W, **out}),
        ]
    else:
        multiply = [("multiply", {**multiplier_path(A, 32, family), "carry_bits": W})]  # with its tiles' adders
    chain = [
        *multiply,
        "product",
        ("magnitude", {"adders": 1, "carry_bits": W, "luts": 1}),
        "magnitude",
        ("shift", {"adders": 2, "luts": 6}),  # a 64-way variable shift: six mux levels, as slow as two adders
        "shifted",
        ("round", {"adders": 2, "carry_bits": W, "luts": 1}),
        "rounded",
        ("offset and clamp", {"adders": 2, "carry_bits": A + 35, "luts": 3}),
    ]
    active = ("product", "rounded", "magnitude", "shifted", "parts")[: cfg.epilogue_stages]
    return chain_paths(chain, active, mac_register_bits(cfg.base, cfg.mac_stages), "epilogue: ")


def control_paths(cfg: RecordCoreConfig, family: str) -> list[TimingPath]:
    """The weight ROM address (a counter: ``wbase`` at a row's start, +1 per step) and the stall enable of
    the MAC pipeline."""
    size = mac_register_bits(cfg.base, cfg.mac_stages)
    words = max(sum(s.passes * s.k for s in cfg.slices), 2).bit_length()
    addr = {"adders": 1, "carry_bits": words, "luts": 2}  # +1, then the row-end / record-latch mux
    stall = {"luts": 2, "fanout": size}
    return [TimingPath("weight address", size=size, **addr), TimingPath("stall enable", size=size, **stall)]


def record_layout(cfg: RecordCoreConfig) -> data.StructLayout:
    """One record: weight base address, loop bounds (last step, last pass, last row), columns of the last
    pass, and the epilogue (:data:`EPILOGUE`)."""
    kmax = max(s.k for s in cfg.slices)
    pmax = max(s.passes for s in cfg.slices)
    words = sum(s.passes * s.k for s in cfg.slices)
    fields = {
        "wbase": range(max(words, 2)),
        "k_last": range(max(kmax, 2)),
        "p_last": range(max(pmax, 2)),
        "last_cols": range(cfg.base.lanes + 1),
        "rows_last": range(max(max(cfg.rows), 2)),
        "epi": EPILOGUE,
    }
    if cfg.columnwise:  # the slice's first column in the column ROM
        fields["cbase"] = range(max(sum(s.n for s in cfg.slices), 2))
    return data.StructLayout(fields)


def record_words(cfg: RecordCoreConfig) -> list[int]:
    """The record ROM: one record per program entry."""
    lay, L = record_layout(cfg), cfg.base.lanes
    words = []
    for sl, nrows in zip(cfg.program, cfg.rows):
        s = cfg.slices[sl]
        epi = {
            "requant": int(s.requant),
            "relu": int(s.relu),
            "even": int(s.requant and s.rounding == "half_even"),
            "mult": s.multiplier if s.requant else 0,
            "shift": s.shift if s.requant else 0,
            "zp": s.zero_point if s.requant else 0,
            "lo": s.out.min if s.requant else 0,
            "hi": s.out.max if s.requant else 0,
        }
        rec = {
            "wbase": cfg.word_base[sl],
            "k_last": s.k - 1,
            "p_last": s.passes - 1,
            "last_cols": s.n - (s.passes - 1) * L,
            "rows_last": nrows - 1,
            "epi": epi,
        }
        if cfg.columnwise:
            rec["cbase"] = cfg.column_base[sl]
        words.append(lay.const(rec).as_value().value)
    return words


class RecordCore(wiring.Component):
    """The record-driven core; see the module docstring. Ports: ``i`` (activations), ``o`` (results)."""

    def __init__(self, config: RecordCoreConfig):
        self.config = cfg = config
        super().__init__(
            {"i": In(stream.Signature(cfg.base.act.shape)), "o": Out(stream.Signature(signed(cfg.out_width)))}
        )

    def elaborate(self, platform: object) -> Module:
        cfg = self.config
        b = cfg.base
        L = b.lanes
        m = Module()
        lay = record_layout(cfg)

        # ---- ROMs: weights of every slice, records; the row buffer
        # (ROMs of at least 2 words: a 1-word memory would have a 0-bit address)
        winit = [w for s in cfg.slices for w in s.rom_words()]
        rinit = record_words(cfg)
        wrom_shape = data.ArrayLayout(b.weight.shape, L).size
        m.submodules.wrom = wrom = memory.Memory(shape=wrom_shape, depth=max(len(winit), 2), init=winit)
        m.submodules.rrom = rrom = memory.Memory(shape=lay.size, depth=max(len(rinit), 2), init=rinit)
        kmax = max(s.k for s in cfg.slices)
        m.submodules.rowbuf = rowbuf = memory.Memory(shape=b.act.shape, depth=max(kmax, 2), init=[])
        # at mac_stages 2 the row buffer's write is registered too (the activation's route from the feeder no
        # longer ends at the buffer's write port); the read is transparent to it, so a step reading the
        # address written the cycle before still sees the new value
        delayed_write = cfg.mac_stages >= 2
        ww = rowbuf.write_port()
        rr = rowbuf.read_port(transparent_for=(ww,) if delayed_write else ())
        wr, rp = wrom.read_port(), rrom.read_port()

        # ---- controller: LOAD (ROM read) -> LATCH -> RUN
        rec = Signal(lay, name="rec")
        rec_idx = Signal(range(max(len(rinit), 2)), name="rec_idx")
        running = Signal(name="running")
        latch = Signal(name="latch")
        m.d.comb += rp.addr.eq(rec_idx)
        row = Signal.like(rec.rows_last, name="row")
        p = Signal.like(rec.p_last, name="pass_")
        kk = Signal.like(rec.k_last, name="step")
        waddr = Signal.like(rec.wbase, name="waddr")  # wbase + p·k + kk: counts up within a row

        # ---- issue stage
        columns = sum(s.n for s in cfg.slices) if cfg.columnwise else 0
        cell = {"cell": cfg.dsp_cells, "platform": platform}
        dp = GemmDatapath(m, self.o, b.act, b.weight, b.acc, L, cfg.mac_stages, columns, cell)
        ccol = Signal(range(max(columns, 2)), name="pass_col0")  # cbase + p·L: the pass's first column
        mac_epi = Signal(EPILOGUE, name="mac_epi")
        in_pass0 = p == 0
        fire = Signal(name="fire")
        end_of_pass = kk == rec.k_last
        end_of_record = end_of_pass & (p == rec.p_last) & (row == rec.rows_last)
        m.d.comb += [
            self.i.ready.eq(running & dp.issue_ok & in_pass0),
            fire.eq(running & dp.issue_ok & (~in_pass0 | self.i.valid)),
            wr.addr.eq(waddr),
            wr.en.eq(dp.issue_ok),
            rr.addr.eq(kk),
            rr.en.eq(dp.issue_ok),
        ]
        with m.If(latch):
            m.d.sync += [rec.eq(rp.data), running.eq(1), latch.eq(0), row.eq(0), p.eq(0), kk.eq(0)]
            m.d.sync += waddr.eq(lay(rp.data).wbase)
            if columns:
                m.d.sync += ccol.eq(lay(rp.data).cbase)
        with m.Elif(~running & ~latch):  # LOAD: the ROM read issued this cycle
            m.d.sync += latch.eq(1)
        cols = Mux(p == rec.p_last, rec.last_cols, L)
        dp.issue(fire, end_of_pass, kk == 0, in_pass0, self.i.payload, cols, [mac_epi.eq(rec.epi)], ccol)
        with m.If(fire):
            with m.If(end_of_record):
                m.d.sync += [running.eq(0), rec_idx.eq(Mux(rec_idx == len(rinit) - 1, 0, rec_idx + 1))]
            with m.Elif(end_of_pass):
                m.d.sync += kk.eq(0)
                with m.If(p == rec.p_last):
                    m.d.sync += [p.eq(0), row.eq(row + 1), waddr.eq(rec.wbase)]
                    if columns:
                        m.d.sync += ccol.eq(rec.cbase)
                with m.Else():
                    m.d.sync += [p.eq(p + 1), waddr.eq(waddr + 1)]
                    if columns:
                        m.d.sync += ccol.eq(ccol + L)
            with m.Else():
                m.d.sync += [kk.eq(kk + 1), waddr.eq(waddr + 1)]

        # ---- MAC stage; output shift register with the epilogue of the record that produced the results
        write = [(ww.addr, kk), (ww.data, self.i.payload), (ww.en, self.i.valid & self.i.ready)]
        for port, value in write:
            m.d.comb += port.eq(register(m, value, 1, f"rowbuf_{port.name}") if delayed_write else value)
        news = dp.mac(rr.data, wr.data)
        sr_epi = Signal(EPILOGUE, name="sr_epi")

        def epilogue(acc: Value, stage: Callable) -> Value:
            epi: Value = sr_epi
            if columns:  # bias, multiplier and shift of the drained column
                col = dp.column_rom(column_words(list(cfg.slices)), column_layout(b.acc))
                biased, epi = Signal(b.acc.shape, name="biased"), Signal(EPILOGUE, name="col_epi")
                m.d.comb += [biased.eq(acc + col.bias), epi.eq(sr_epi), epi.mult.eq(col.mult), epi.shift.eq(col.shift)]
                acc = biased

            def part(a: Value, w: Value, name: str) -> Value:  # a registered partial product
                return registered_multiply(m, a, w, a_enable=0, b_enable=0, p_enable=dp.o_take, name=name,
                                           registers="p", **cell)  # fmt: skip

            return runtime_epilogue(m, acc, epi, b.acc.width, cfg.out_width, stage, cfg.epilogue_stages, part)

        dp.drain(
            news,
            epilogue,
            signed(cfg.out_width),
            [sr_epi.eq(dp.at_acc(mac_epi, "acc_epi"))],
            cfg.epilogue_stages,
        )
        return m


def runtime_epilogue(
    m: Module,
    acc: Value,
    epi: Value,
    acc_width: int,
    out_width: int,
    stage: Callable | None = None,
    stages: int = 0,
    part: Callable[[Value, Value, str], Value] | None = None,
) -> Signal:
    """``requant ? requantize(acc, ...) : acc``, then ReLU if set, all parameters from the record ``epi``
    (:data:`EPILOGUE`); the same rule as :meth:`GemmCoreConfig.epilogue`. With ``stages`` (1..5) ``stage``
    registers, in pipeline order, the multiply's partial products (5; ``part(a, b, name)`` gives one
    registered, by default ``stage(a * b)``), the product (1+), the magnitude (3+), the shifted magnitude
    (4+) and the rounded value (2+), each with the record fields and the raw accumulator still needed."""
    part = part or (lambda a, b, name: stage(a * b, name))
    cuts = {3: ("magnitude",), 4: ("magnitude", "shifted"), 5: ("magnitude", "shifted")}.get(stages, ())

    def cut(point: str, values: dict) -> dict:
        if point not in cuts:
            return values
        out = {
            k: stage(v, f"epi_{point}_{k}") if isinstance(v, Value | ValueCastable) else v
            for k, v in {**values, **side}.items()
        }
        side["acc"], side["epi"] = out.pop("acc"), out.pop("epi")
        return out

    if stages >= 5:  # the multiply in two cycles: 17-bit partial products registered, then summed
        pairs = partial_operands(acc, epi.mult)
        parts = [(sh, part(a, w, f"epi_part{i}")) for i, (sh, a, w) in enumerate(pairs)]
        acc, epi = stage(acc, "epi_acc0"), stage(epi, "epi_rec0")
        prod = Signal(signed(acc_width + 32), name="rq_prod")
        m.d.comb += prod.eq(kept_adder_tree(m, "epi_parts", [v << sh for sh, v in parts])[0])
    else:
        prod = requant_product(m, acc, acc_width, epi.mult)
    side = {"acc": acc, "epi": epi}
    if stages >= 1:
        prod, side["acc"], side["epi"] = stage(prod, "epi_prod"), stage(acc, "epi_acc1"), stage(epi, "epi_rec1")
    rounded = requant_round(m, prod, acc_width, side["epi"].shift, cut, even=side["epi"].even)
    acc, epi = side["acc"], side["epi"]
    if stages >= 2:
        rounded, acc, epi = stage(rounded, "epi_rounded"), stage(acc, "epi_acc2"), stage(epi, "epi_rec2")
    clamped = requant_offset(m, rounded, acc_width, epi.zp, epi.lo, epi.hi)
    y = Signal(signed(max(acc_width, 33) + 1), name="epi_y")
    m.d.comb += y.eq(Mux(epi.requant, clamped, acc))
    res = Signal(signed(out_width), name="epilogue")
    m.d.comb += res.eq(Mux(epi.relu & (y < epi.zp), epi.zp, y))
    return res
