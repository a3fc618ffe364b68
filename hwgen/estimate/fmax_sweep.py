"""The designs the Fmax estimate is calibrated and scored on (nextpnr, ECP5), split into fit and held-out.

A third of the designs (by a hash of their label) is held out: ``bench/calibrate_fmax.py`` fits the delay
coefficients on the others and ``make bench`` scores the estimate on the held-out ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from ..blocks.bitserial import BitSerialPEConfig
from ..blocks.gemm import GemmCoreConfig, RecordCoreConfig
from ..blocks.lowbit import MixPEConfig, OliveMACConfig, TernaryPEConfig
from ..blocks.mac_pe import MacPEConfig
from ..blocks.sparse_chain import SparseChainConfig
from ..blocks.systolic import SystolicArrayConfig
from ..config import BlockConfig
from ..numtype import Int, UInt


def fmax_points() -> list[tuple[str, BlockConfig]]:
    """``(label, config)`` of every calibration design: systolic arrays of both dataflows at every PE
    pipelining, tiles, spans, no psum input, 16-bit PEs; MAC PEs over lanes × pipeline; both with ECP5
    MULT18X18D cells; sparse chains over stages × pipeline, with cells and with INT8 packing; BitMoD
    bit-serial PEs over pipeline."""
    pts: list[tuple[str, BlockConfig]] = []
    base = SystolicArrayConfig().pe
    for n in (4, 8):
        for df in ("weight_stationary", "output_stationary"):
            for p in (0, 1, 2):
                cfg = SystolicArrayConfig(rows=n, cols=n, dataflow=df, pe=replace(base, pipeline=p))
                pts.append((f"sys_{df[:2]}_{n}x{n}_p{p}", cfg))
    pts.append(("sys_ws_8x8_nopsum_p0", SystolicArrayConfig(psum_input=False, pe=replace(base, pipeline=0))))
    pts.append(("sys_ws_8x8_tile2_p0", SystolicArrayConfig(tile=2, pe=replace(base, pipeline=0))))
    pts.append(("sys_ws_8x8_tile2_p1", SystolicArrayConfig(tile=2, pe=replace(base, pipeline=1))))
    s16 = MacPEConfig(act=Int(16), weight=Int(16), acc=Int(48), pipeline=0)
    pts.append(("sys_ws_4x4_s16_p0", SystolicArrayConfig(rows=4, cols=4, pe=s16)))
    for lanes in (1, 4, 16):
        for p in (0, 1, 2, 3):
            pts.append((f"mac_l{lanes}_p{p}", MacPEConfig(lanes=lanes, pipeline=p)))
    pts.append(("mac_l8_u4_p1", MacPEConfig(act=UInt(4), weight=Int(4), acc=Int(24), lanes=8, pipeline=1)))
    pts.append(("mac_l1_s16_p1", MacPEConfig(act=Int(16), weight=Int(16), acc=Int(48), pipeline=1)))
    for p in (3, 4):
        cells = replace(base, pipeline=p, dsp_cells="mult18x18d")
        for n in (4, 8):
            for df in ("weight_stationary", "output_stationary"):
                cfg = SystolicArrayConfig(rows=n, cols=n, dataflow=df, pe=cells)
                pts.append((f"sys_{df[:2]}_{n}x{n}_p{p}_mult18", cfg))
    for n in (4, 8):  # the weight in the cell's B register, nothing else registered in the cell
        pts.append(
            (
                f"sys_ws_{n}x{n}_p0_mult18",
                SystolicArrayConfig(rows=n, cols=n, pe=replace(base, pipeline=0, dsp_cells="mult18x18d")),
            )
        )
    for p in (0, 3):  # activations registered at every PE (no broadcast)
        cells = "mult18x18d" if p else "inferred"
        pts.append(
            (f"sys_ws_8x8_span1_p{p}", SystolicArrayConfig(span=1, pe=replace(base, pipeline=p, dsp_cells=cells)))
        )
    for lanes in (4, 16):  # a register in the middle of the adder tree
        pts.append((f"mac_l{lanes}_p5_mult18", MacPEConfig(lanes=lanes, pipeline=5, dsp_cells="mult18x18d")))
    for lanes in (4, 16):
        for p in (2, 3):
            pts.append((f"mac_l{lanes}_p{p}_mult18", MacPEConfig(lanes=lanes, pipeline=p, dsp_cells="mult18x18d")))
    for S in (8, 16, 32):
        for p in (0, 1, 2):
            kinds = ["inferred"] if p == 0 else ["mult18x18d"] if S == 32 else ["inferred", "mult18x18d"]
            for cells in kinds:
                cfg = SparseChainConfig(stages=S, max_len=1024, pipeline=p, dsp_cells=cells)
                pts.append((f"chain_s{S}_p{p}{'_mult18' if cells != 'inferred' else ''}", cfg))
    for p in (0, 2):
        cfg = SparseChainConfig(stages=8, pack_int8=True, overflow="wrap", pipeline=p, dsp_cells="inferred")
        pts.append((f"chain_s8_pack_p{p}", cfg))
    for p in (0, 1, 2):  # BitMoD bit-serial PEs: one row of 4 lanes, and 4 rows of 8 with multiplier dequantizers
        pts.append((f"bitserial_l4_p{p}", BitSerialPEConfig(pipeline=p)))
        pts.append((f"bitserial_r4_l8_mult_p{p}", BitSerialPEConfig(rows=4, lanes=8, dequant="multiplier", pipeline=p)))
    for lanes, stages in (
        (16, ((0, 0), (2, 0), (1, 1), (2, 1), (2, 2), (3, 2), (4, 1), (4, 2), (5, 1), (5, 2))),
        (4, ((0, 0), (2, 2), (4, 2))),
    ):
        for epi, mac in stages:  # record cores as the schedule engine builds them
            pts.append((f"record_l{lanes}_e{epi}_m{mac}", record_point(lanes, epi, mac)))
    return pts + lowbit_points()


def lowbit_points() -> list[tuple[str, BlockConfig]]:
    """The low-bit PEs (ternary, OliVe, MixPE) at every pipelining: added after the last fit, so the estimate
    is scored on them (``bench/calibrate_fmax.py --score lowbit_``) before any refit uses them."""
    pts: list[tuple[str, BlockConfig]] = []
    for p in (0, 1, 2):
        pts.append((f"lowbit_ternary_l16_p{p}", TernaryPEConfig(lanes=16, acc=Int(28), pipeline=p)))
    for p in (0, 1, 2, 3):
        pts.append((f"lowbit_olive_pairs4_p{p}", OliveMACConfig(pairs=4, pipeline=p)))
    for p in (0, 1, 2, 3, 4):
        pts.append((f"lowbit_mixpe_s4_l8_p{p}", MixPEConfig(lanes=8, pipeline=p)))
        pts.append((f"lowbit_mixpe_u4_l16_p{p}", MixPEConfig(lanes=16, asymmetric=True, pipeline=p)))
    return pts


def ice40_points() -> list[tuple[str, BlockConfig]]:
    """``(label, config)`` of the iCE40 (UP5K) calibration designs: blocks whose multipliers are LUTs there
    (operands of fewer than 11 bits together; nextpnr-ice40 does not time through SB_MAC16) and that fit
    5,280 LUTs — MAC PEs and 4×4 systolic arrays of 4-bit operands, BitMoD bit-serial PEs."""
    pts: list[tuple[str, BlockConfig]] = []
    small = {"act": Int(4), "weight": Int(4), "acc": Int(16), "overflow": "wrap"}
    for lanes in (1, 4, 8, 16):
        for p in (0, 1, 2, 3):
            pts.append((f"ice40_mac_l{lanes}_i4_p{p}", MacPEConfig(lanes=lanes, pipeline=p, **small)))
    for df in ("weight_stationary", "output_stationary"):
        for p in (0, 1):
            pe = MacPEConfig(pipeline=p, dsp_cells="inferred", **small)
            pts.append((f"ice40_sys_{df[:2]}_4x4_i4_p{p}", SystolicArrayConfig(rows=4, cols=4, dataflow=df, pe=pe)))
    for p in (0, 1, 2):
        pts.append((f"ice40_bitserial_l4_p{p}", BitSerialPEConfig(pipeline=p)))
        pts.append((f"ice40_bitserial_r2_l8_p{p}", BitSerialPEConfig(rows=2, lanes=8, pipeline=p)))
        pts.append((f"ice40_bitserial_l2_p{p}", BitSerialPEConfig(lanes=2, pipeline=p)))
    return pts


def record_point(lanes: int, epilogue_stages: int, mac_stages: int) -> RecordCoreConfig:
    """A record core of two INT8 slices (64 deep, 2 and 1 passes; Int(24) accumulators, requantized)."""
    weights = [tuple(tuple(((r * 7 + c * 3 + s) % 255) - 127 for c in range(n)) for r in range(64)) for s, n in
               ((0, 2 * lanes), (1, lanes))]  # fmt: skip
    slices = tuple(
        GemmCoreConfig(weights=w, lanes=lanes, acc=Int(24), requant=True, multiplier=1 << 20, shift=24) for w in weights
    )
    return RecordCoreConfig(
        slices=slices, program=(0, 1), rows=(4, 4), epilogue_stages=epilogue_stages, mac_stages=mac_stages
    )


def held_out(label: str) -> bool:
    """Whether the design ``label`` of :func:`fmax_points` is held out of the fit: a third of them, picked by
    a hash of the label (so adding designs does not move the others)."""
    return int(hashlib.sha256(label.encode()).hexdigest()[:8], 16) % 3 == 0
