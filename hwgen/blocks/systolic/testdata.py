"""Systolic-array test data: random and extreme GEMMs, and the configuration table."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ...numtype import Fixed, Int, UFixed, UInt
from ...vectors import biased
from ..mac_pe import MacPEConfig
from .gemm import Gemm

if TYPE_CHECKING:
    from .config import SystolicArrayConfig


def configs(C: type[SystolicArrayConfig]) -> dict[str, SystolicArrayConfig]:
    """The configuration table every verification level runs: both dataflows, tiles, spans, no psum input,
    unsigned × signed saturating, fixed point, narrow wrapping accumulators, pipelines, MULT18X18D cells,
    INT8 packing."""

    int8 = MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), pipeline=0, max_len=4096)
    u8s8_sat = MacPEConfig(act=UInt(8), weight=Int(8), acc=Int(12), overflow="saturate", pipeline=0)
    s4_wrap = MacPEConfig(act=Int(4), weight=Int(4), acc=Int(6), overflow="wrap", pipeline=0)
    fixed = MacPEConfig(act=UFixed(8, 8), weight=Fixed(8, 6), acc=Fixed(24, 14), overflow="saturate", pipeline=0)
    os = "output_stationary"
    int8_p1 = replace(int8, pipeline=1)
    s4_p2 = MacPEConfig(act=Int(4), weight=Int(4), acc=Int(13), overflow="wrap", pipeline=2)
    return {
        "ws_2x2_int8": C(rows=2, cols=2, pe=int8),
        "ws_3x4_u8s8_sat": C(rows=3, cols=4, pe=u8s8_sat),
        "ws_4x3_tile2_fixed": C(rows=4, cols=3, tile=2, pe=fixed),
        "ws_3x2_no_psum": C(rows=3, cols=2, psum_input=False, pe=int8),
        "os_4x3_u8s8_sat": C(rows=4, cols=3, dataflow=os, pe=u8s8_sat),
        "os_3x4_s4_wrap": C(rows=3, cols=4, dataflow=os, pe=s4_wrap),
        "ws_3x4_pipe1_u8s8_sat": C(rows=3, cols=4, pe=replace(u8s8_sat, pipeline=1)),
        "ws_4x3_tile2_pipe2": C(rows=4, cols=3, tile=2, pe=s4_p2),
        "ws_3x3_pipe2_int8": C(rows=3, cols=3, pe=replace(int8, pipeline=2)),
        "os_3x4_pipe1": C(rows=3, cols=4, dataflow=os, pe=int8_p1),
        "os_4x3_pipe2": C(rows=4, cols=3, dataflow=os, pe=s4_p2),
        "ws_3x4_pipe3_mult18": C(rows=3, cols=4, pe=replace(u8s8_sat, pipeline=3, dsp_cells="mult18x18d")),
        "os_3x3_pipe3_mult18": C(rows=3, cols=3, dataflow=os, pe=replace(int8, pipeline=3, dsp_cells="mult18x18d")),
        "ws_2x3_tile2_pipe3": C(rows=2, cols=3, tile=2, pe=replace(int8, pipeline=3)),
        "ws_3x3_pipe4_mult18": C(rows=3, cols=3, pe=replace(int8, pipeline=4, dsp_cells="mult18x18d")),
        "os_3x2_pipe4_mult18": C(rows=3, cols=2, dataflow=os, pe=replace(s4_wrap, pipeline=4, dsp_cells="mult18x18d")),
        "ws_6x3_s4_wrap_span1": C(rows=6, cols=3, span=1, pe=s4_wrap),
        "ws_5x7_span2_mult18": C(rows=5, cols=7, span=2, pe=replace(int8, dsp_cells="mult18x18d")),
        "ws_3x4_pipe1_mult18": C(rows=3, cols=4, pe=replace(int8_p1, dsp_cells="mult18x18d")),
        "ws_4x4_pack_int8": C(rows=4, cols=4, pack_int8=True, pe=int8),
        "ws_6x6_pack_pipe3_span2": C(
            rows=6, cols=6, span=2, pack_int8=True, psum_input=False, pe=replace(int8, pipeline=3, overflow="wrap")
        ),
    }


def formal_configs(C: type[SystolicArrayConfig]) -> dict[str, SystolicArrayConfig]:
    """Small configurations for ``hwgen prove``: 2×2 arrays of both dataflows, tiles, no psum input."""
    s2 = MacPEConfig(act=Int(2), weight=Int(2), acc=Int(5), overflow="wrap", pipeline=0, max_len=2)
    sat = MacPEConfig(act=UInt(2), weight=Int(2), acc=Int(4), overflow="saturate", pipeline=0, max_len=2)
    os = "output_stationary"
    return {
        "ws_2x2_wrap": C(rows=2, cols=2, pe=s2),
        "ws_2x2_tile2_sat": C(rows=2, cols=2, tile=2, pe=sat),
        "ws_2x1_no_psum": C(rows=2, cols=1, psum_input=False, pe=s2),
        "os_2x2_wrap": C(rows=2, cols=2, dataflow=os, pe=s2),
        "ws_2x2_pipe2": C(rows=2, cols=2, pe=replace(s2, pipeline=2)),
        "ws_2x2_pipe3_mult18": C(rows=2, cols=2, pe=replace(s2, pipeline=3, dsp_cells="mult18x18d")),
        "os_2x2_pipe2": C(rows=2, cols=2, dataflow=os, pe=replace(s2, pipeline=2)),
        "ws_2x3_span1": C(rows=2, cols=3, span=1, pe=s2),
        "ws_2x2_mult18": C(rows=2, cols=2, pe=replace(s2, dsp_cells="mult18x18d")),
    }


def random_gemms(
    cfg: SystolicArrayConfig,
    rng: np.random.Generator,
    n: int,
    *,
    corners: bool = True,
) -> list[Gemm]:
    """Random GEMMs totalling at least ``n`` result elements, plus corner GEMMs.

    Shapes: K and N (and M for output-stationary) are chosen not to be
    multiples of the array's R and C when the array is wider than 1; values
    are uniform with a quarter replaced by edge values (min, max, 0, ±1).
    """
    R, C, pe = cfg.rows, cfg.cols, cfg.pe
    kmax = pe.max_len if pe.overflow == "error" else 10**9
    if cfg.ws and not cfg.psum_input:
        kmax = min(kmax, R)

    def odd(base: int, limit: int) -> int:
        """A size in 1..~2.5·base that is not a multiple of base (when base > 1)."""
        v = int(rng.integers(1, max(2, int(2.5 * base) + 2)))
        if base > 1 and v % base == 0:
            v += 1
        return max(1, min(v, limit))

    gemms: list[Gemm] = []
    if corners:
        A, W = pe.act, pe.weight
        k = min(kmax, 2 * R + 1)
        m, nn = min(R + 1, 2 * R + 1), C + 1 if C > 1 else 1
        for name, av, wv in (
            ("zeros", 0, 0),
            ("min×min (most negative squared)", A.min, W.min),
            ("max×max", A.max, W.max),
            ("min×max", A.min, W.max),
            ("all-ones bits", -1 if A.signed else A.max, -1 if W.signed else W.max),
        ):
            gemms.append(Gemm(np.full((m, k), av, dtype=np.int64), np.full((k, nn), wv, dtype=np.int64), name))
        kk = min(kmax, 4096)
        gemms.append(
            Gemm(
                np.full((2, kk), A.min, dtype=np.int64),
                np.full((kk, max(1, C - 1)), W.min, dtype=np.int64),
                f"min×min over K={kk} (accumulator bound)",
            )
        )
    total = 0
    while total < n:
        M = odd(R, 4 * R + 3) if not cfg.ws else int(rng.integers(1, 2 * R + 4))
        K = odd(R, kmax)
        N = odd(C, 4 * C + 3)
        a = biased(rng, pe.act, (M, K))
        b = biased(rng, pe.weight, (K, N))
        gemms.append(Gemm(a, b, "random"))
        total += M * N
    return gemms
