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

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import BlockConfig, Timing, check_range, param
from ..errors import ConfigError
from ..sim.stimuli import biased
from ..sim.vectors import StreamVectors
from .gemm_core import PIPE, CoreClock, GemmCoreConfig

SWITCH_CYCLES = 2


@dataclass(frozen=True, kw_only=True)
class RecordCoreConfig(BlockConfig):
    """Parameters of a record-driven GEMM core."""

    block_name: ClassVar[str] = "record_core"
    summary: ClassVar[str] = (
        "reconfigurable GEMM core: weight slices of several tasks in one ROM, a record ROM "
        "selects slice and rows per step of the schedule; 2-cycle switch"
    )

    slices: tuple[GemmCoreConfig, ...] = param(
        (GemmCoreConfig(),),
        "the task slices this core serves",
        "1..64 gemm_core configs with equal lanes, act, weight_type, acc",
    )
    program: tuple[int, ...] = param((0,), "record ROM: the slice index of each record, run in order", "1..256")
    rows: tuple[int, ...] = param((1,), "rows each record computes (same length as program)", "1..65536 each")

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

    def validate(self) -> None:
        check_range(self.where("slices"), len(self.slices), 1, 64)
        check_range(self.where("program"), len(self.program), 1, 256)
        b = self.base
        for i, s in enumerate(self.slices):
            for f in ("lanes", "act", "weight_type", "acc"):
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

    def component(self) -> RecordCore:
        return RecordCore(self)

    def timing(self) -> Timing:
        return Timing(
            latency=PIPE,
            ii=1,
            ops_per_beat=self.base.lanes,
            notes=f"{len(self.program)} records; a record switch costs {SWITCH_CYCLES} cycles",
        )

    # ------------------------------------------------------------- models
    def split_input(self, x) -> list[np.ndarray]:
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

    def model(self, x) -> np.ndarray:
        """Golden model: every record's rows through its slice's model, results in order (flat)."""
        parts = [
            self.slices[self.program[i % len(self.program)]].model(xi).reshape(-1).astype(np.int64)
            for i, xi in enumerate(self.split_input(x))
        ]
        return np.concatenate(parts)

    def schedule(self, runs: int = 1) -> tuple[list[int], list[int]]:
        """Exact cycle model at full rate: the cycle each input beat is taken, each output beat valid."""
        accepts: list[int] = []
        outs: list[int] = []
        clock = CoreClock(cycle=SWITCH_CYCLES)  # the first record is read and latched after reset
        for _ in range(runs):
            for sl, nrows in zip(self.program, self.rows):
                s = self.slices[sl]
                last = clock.rows(s.k, s.n, s.lanes, nrows, accepts, outs)
                clock.cycle = max(clock.cycle, last + 1 + SWITCH_CYCLES)  # read + latch the next record
        return accepts, outs

    def stimulus(self, rng: np.random.Generator, n: int = 3, *, corners: bool = True) -> StreamVectors:
        """``n`` runs of the program with random activations; the first run has extreme rows."""
        act = self.base.act
        chunks = []
        for run in range(max(1, n)):
            for sl, nrows in zip(self.program, self.rows):
                k = self.slices[sl].k
                x = np.array([biased(rng, act, k) for _ in range(nrows)], dtype=np.int64)
                if corners and run == 0:
                    x[0] = act.min
                    if nrows > 1:
                        x[1] = act.max
                chunks.append(x.reshape(-1))
        x = np.concatenate(chunks)
        accepts, outs = self.schedule(max(1, n))
        return StreamVectors(
            inputs={"i": x},
            expected={"o": self.model(x)},
            schedule={"i": accepts, "o": outs},
            corners=["most-negative and most-positive rows in every record"] if corners else [],
        )


class RecordCore(wiring.Component):
    """The record-driven core; see the module docstring."""

    def __init__(self, config: RecordCoreConfig):
        self.config = cfg = config
        super().__init__(
            {"i": In(stream.Signature(cfg.base.act.shape)), "o": Out(stream.Signature(signed(cfg.out_width)))}
        )

    def _record_layout(self) -> data.StructLayout:
        cfg = self.config
        kmax = max(s.k for s in cfg.slices)
        pmax = max(s.passes for s in cfg.slices)
        words = sum(s.passes * s.k for s in cfg.slices)
        wide = max(s.acc.width for s in cfg.slices) + 34
        return data.StructLayout(
            {
                "wbase": range(max(words, 2)),
                "k_last": range(max(kmax, 2)),
                "p_last": range(max(pmax, 2)),
                "last_cols": range(cfg.base.lanes + 1),
                "rows_last": range(max(max(cfg.rows), 2)),
                "epi": self._epi_layout(wide),
            }
        )

    def _epi_layout(self, wide: int) -> data.StructLayout:
        return data.StructLayout(
            {"requant": 1, "relu": 1, "mult": 31, "shift": 6, "zp": signed(33), "lo": signed(33), "hi": signed(33)}
        )

    def elaborate(self, platform) -> Module:
        cfg = self.config
        b = cfg.base
        L = b.lanes
        m = Module()
        rec_layout = self._record_layout()

        # ---- ROMs: weights of every slice, records
        winit = [w for s in cfg.slices for w in s.rom_words()]
        rinit = []
        for sl, nrows in zip(cfg.program, cfg.rows):
            s = cfg.slices[sl]
            epi = {
                "requant": int(s.requant),
                "relu": int(s.relu),
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
            rinit.append(rec_layout.const(rec).as_value().value)
        # (ROMs of at least 2 words: a 1-word memory would have a 0-bit address)
        m.submodules.wrom = wrom = memory.Memory(
            shape=data.ArrayLayout(b.weight_type.shape, L).size, depth=max(len(winit), 2), init=winit
        )
        m.submodules.rrom = rrom = memory.Memory(shape=rec_layout.size, depth=max(len(rinit), 2), init=rinit)
        kmax = max(s.k for s in cfg.slices)
        m.submodules.rowbuf = rowbuf = memory.Memory(shape=b.act.shape, depth=max(kmax, 2), init=[])
        wr, rr, ww, rp = wrom.read_port(), rowbuf.read_port(), rowbuf.write_port(), rrom.read_port()

        # ---- controller: LOAD (ROM read) -> LATCH -> RUN
        rec = Signal(rec_layout)
        rec_idx = Signal(range(max(len(rinit), 2)))
        running = Signal()
        latch = Signal()
        m.d.comb += rp.addr.eq(rec_idx)
        row = Signal.like(rec.rows_last, name="row")
        p = Signal.like(rec.p_last, name="pass_")
        kk = Signal.like(rec.k_last, name="step")

        # ---- issue stage
        mac_valid, mac_last, mac_first, mac_p0 = Signal(), Signal(), Signal(), Signal()
        mac_cols = Signal(range(L + 1))
        mac_epi = Signal(rec_layout.members["epi"])
        x_reg = Signal(b.act.shape, reset_less=True)
        count = Signal(range(L + 1))
        o_take = ~self.o.valid | self.o.ready
        drain_now = (count > 0) & o_take
        sr_free = (count == 0) | ((count == 1) & o_take)
        hold = mac_valid & mac_last & ~sr_free
        issue_ok = ~hold
        in_pass0 = p == 0
        fire = Signal()
        end_of_pass = kk == rec.k_last
        end_of_record = end_of_pass & (p == rec.p_last) & (row == rec.rows_last)
        m.d.comb += [
            self.i.ready.eq(running & issue_ok & in_pass0),
            fire.eq(running & issue_ok & (~in_pass0 | self.i.valid)),
            wr.addr.eq(rec.wbase + p * (rec.k_last + 1) + kk),
            wr.en.eq(issue_ok),
            rr.addr.eq(kk),
            rr.en.eq(issue_ok),
            ww.addr.eq(kk),
            ww.data.eq(self.i.payload),
            ww.en.eq(self.i.valid & self.i.ready),
        ]
        with m.If(latch):
            m.d.sync += [rec.eq(rp.data), running.eq(1), latch.eq(0), row.eq(0), p.eq(0), kk.eq(0)]
        with m.Elif(~running & ~latch):  # LOAD: the ROM read issued this cycle
            m.d.sync += latch.eq(1)
        with m.If(issue_ok):
            m.d.sync += [
                mac_valid.eq(fire),
                mac_last.eq(end_of_pass),
                mac_first.eq(kk == 0),
                mac_p0.eq(in_pass0),
                x_reg.eq(self.i.payload),
                mac_epi.eq(rec.epi),
                mac_cols.eq(Mux(p == rec.p_last, rec.last_cols, L)),
            ]
        with m.If(fire):
            with m.If(end_of_record):
                m.d.sync += [running.eq(0), rec_idx.eq(Mux(rec_idx == len(rinit) - 1, 0, rec_idx + 1))]
            with m.Elif(end_of_pass):
                m.d.sync += kk.eq(0)
                with m.If(p == rec.p_last):
                    m.d.sync += [p.eq(0), row.eq(row + 1)]
                with m.Else():
                    m.d.sync += p.eq(p + 1)
            with m.Else():
                m.d.sync += kk.eq(kk + 1)

        # ---- MAC stage
        x = Signal(b.act.shape, name="x")
        m.d.comb += x.eq(Mux(mac_p0, x_reg, rr.data))
        wv = data.ArrayLayout(b.weight_type.shape, L)(wr.data)
        news = []
        for ln in range(L):
            acc = Signal(b.acc.shape, name=f"acc{ln}", reset_less=True)
            new = Signal(b.acc.shape, name=f"acc_new{ln}")
            m.d.comb += new.eq(Mux(mac_first, 0, acc) + x * wv[ln])
            with m.If(mac_valid & ~hold):
                m.d.sync += acc.eq(new)
            news.append(new)

        # ---- output shift register; the epilogue of the record that produced the results
        sr = [Signal(b.acc.shape, name=f"res{ln}", reset_less=True) for ln in range(L)]
        sr_epi = Signal(rec_layout.members["epi"])
        handover = mac_valid & mac_last & sr_free
        with m.If(handover):
            m.d.sync += [count.eq(mac_cols), sr_epi.eq(mac_epi)] + [sr[ln].eq(news[ln]) for ln in range(L)]
        with m.Elif(drain_now):
            m.d.sync += [count.eq(count - 1)] + [sr[ln].eq(sr[ln + 1]) for ln in range(L - 1)]
        y = _runtime_epilogue(m, sr[0], sr_epi, b.acc.width, cfg.out_width)
        out = Signal(signed(cfg.out_width), reset_less=True)
        with m.If(o_take):
            m.d.sync += [self.o.valid.eq(count > 0), out.eq(y)]
        m.d.comb += self.o.payload.eq(out)
        return m


def _runtime_epilogue(m: Module, acc, epi, acc_width: int, out_width: int):
    """``requant ? clamp(zp + round_shift(acc·mult, shift), lo, hi) : acc``, then ReLU if set; run-time
    parameters, rounding half away from zero (as :func:`hwgen.schedule.graph.round_shift`)."""
    prod = Signal(signed(acc_width + 32), name="rq_prod")
    m.d.comb += prod.eq(acc * epi.mult)
    mag = Signal(acc_width + 32, name="rq_mag")
    m.d.comb += mag.eq(Mux(prod < 0, -prod, prod))
    # (mag + 2^(shift-1)) >> shift  ==  ((mag >> (shift-1)) + 1) >> 1  for shift >= 1
    pre = Signal(acc_width + 32, name="rq_pre")
    m.d.comb += pre.eq(mag >> (epi.shift - 1)[:6])
    q = Signal(acc_width + 33, name="rq_q")
    m.d.comb += q.eq(Mux(epi.shift == 0, mag, (pre + 1) >> 1))
    rounded = Signal(signed(acc_width + 34), name="rq_rounded")
    m.d.comb += rounded.eq(Mux(prod < 0, -q, q))
    z = Signal(signed(acc_width + 35), name="rq_zp")
    m.d.comb += z.eq(rounded + epi.zp)
    clamped = Mux(z < epi.lo, epi.lo, Mux(z > epi.hi, epi.hi, z))
    y = Signal(signed(max(acc_width, 33) + 1), name="epi_y")
    m.d.comb += y.eq(Mux(epi.requant, clamped, acc))
    res = Signal(signed(out_width), name="epilogue")
    m.d.comb += res.eq(Mux(epi.relu & (y < 0), 0, y))
    return res
