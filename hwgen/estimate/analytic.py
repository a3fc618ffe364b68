"""Analytic (instant) resource estimates from block parameters.

Counts follow the structure the generator emits, per device family:
multipliers map to DSP blocks when both operands are at least 2 bits and the
product at least 9 bits (Yosys ``mul2dsp`` thresholds), otherwise to LUTs;
adders cost one LUT per bit (plus carry cells on families that have them);
registers cost one flip-flop per bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..boards import FAMILIES
from ..config import BlockConfig
from ..errors import ConfigError

#: Multiplier operand limits (signed widths) of one DSP block per family.
DSP_OPERAND_BITS = {"xc7": (25, 18), "xcup": (27, 18), "ecp5": (18, 18), "ice40": (16, 16)}
#: Bits covered by one carry cell (CARRY4 / CARRY8 / CCU2C / SB_CARRY).
CARRY_BITS = {"xc7": 4, "xcup": 8, "ecp5": 2, "ice40": 1}


@dataclass
class Resources:
    """Resource counts of one design on one family.

    ``lut`` counts LUT6 on Xilinx and LUT4 on Lattice; ``bram`` counts the
    family's native block (RAMB36 / 18 Kb EBR / 4 Kb EBR).
    """

    family: str
    lut: float = 0
    ff: float = 0
    dsp: float = 0
    bram: float = 0
    carry: float = 0
    breakdown: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, part: str, **counts: float) -> None:
        """Add counts for a named sub-block (kept in the breakdown)."""
        row = self.breakdown.setdefault(part, {})
        for k, v in counts.items():
            setattr(self, k, getattr(self, k) + v)
            row[k] = row.get(k, 0) + v

    def rounded(self) -> dict[str, int]:
        return {k: int(round(getattr(self, k))) for k in ("lut", "ff", "dsp", "bram", "carry")}


def check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ConfigError("family", f"{family!r} is not supported; supported: {', '.join(FAMILIES)}")


def multiplier(res: Resources, part: str, wa: int, wb: int, count: int = 1) -> None:
    """``count`` multipliers of ``wa``×``wb`` bits."""
    amax, bmax = DSP_OPERAND_BITS[res.family]
    if min(wa, wb) >= 2 and wa + wb >= 9:
        a, b = max(wa, wb), min(wa, wb)
        tiles = math.ceil(a / amax) * math.ceil(b / bmax)
        res.add(part, dsp=count * tiles)
    else:
        res.add(part, lut=count * wa * wb * 0.6)


def adder(res: Resources, part: str, width: int, count: int = 1) -> None:
    """``count`` ripple-carry adders of ``width`` bits."""
    res.add(part, lut=count * width, carry=count * math.ceil(width / CARRY_BITS[res.family]))


def register(res: Resources, part: str, bits: int) -> None:
    res.add(part, ff=bits)


def estimate(config: BlockConfig, family: str) -> Resources:
    """Analytic resource estimate of ``config`` on ``family``."""
    check_family(family)
    fn = _ESTIMATORS.get(config.block_name)
    if fn is None:
        raise ConfigError("estimate", f"no analytic estimator for block {config.block_name!r}")
    res = Resources(family=family)
    fn(config, res)
    return res


def _mac_pe(cfg, res: Resources) -> None:
    L, P = cfg.lanes, cfg.pipeline
    pw, tw, aw = cfg.product_type.width, cfg.tree_type.width, cfg.acc.width
    multiplier(res, "multipliers", cfg.act.width, cfg.weight.width, L)
    # adder tree: level k has ceil(L / 2^k) adders of width pw + k
    n, k = L, 0
    while n > 1:
        adder(res, "adder tree", pw + k + 1, n // 2)
        n = (n + 1) // 2
        k += 1
    adder(res, "accumulator", max(aw, tw) + 1)
    if cfg.overflow == "saturate":
        res.add("accumulator", lut=max(aw, tw) + aw // 2)
    if P >= 2:
        register(res, "pipeline", L * (cfg.act.width + cfg.weight.width) + 2)
    if P >= 1:
        register(res, "pipeline", L * pw + 2)
    if P >= 3:
        register(res, "pipeline", tw + 2)
    register(res, "accumulator", 2 * aw + 2)
    res.add("control", lut=3)


def _systolic(cfg, res: Resources) -> None:
    from ..blocks.systolic.mesh import tile_spans

    R, C, pe = cfg.rows, cfg.cols, cfg.pe
    aw, ww, accw = pe.act.width, pe.weight.width, pe.acc.width
    NI, NJ = cfg.tile_rows, cfg.tile_cols
    multiplier(res, "PEs", aw, ww, R * C)
    if pe.overflow == "saturate":
        res.add("PEs", lut=R * C * accw)
    if cfg.ws:
        register(res, "mesh registers", R * (NJ - 1) * aw)                   # activations between tiles
        register(res, "skew / de-skew", sum(I for I, (_, nr) in enumerate(tile_spans(R, cfg.tile)) for _ in range(nr)) * aw)
        if cfg.psum_input:
            register(res, "skew / de-skew", sum(J * nc for J, (_, nc) in enumerate(tile_spans(C, cfg.tile))) * accw)
            register(res, "input register", C * accw)
        register(res, "skew / de-skew", sum((NJ - 1 - J) * nc for J, (_, nc) in enumerate(tile_spans(C, cfg.tile))) * accw)
        register(res, "input register", R * aw)
        res.add("control", lut=R + 8, ff=R.bit_length() + 8 + NI + NJ)
    else:
        register(res, "mesh registers", R * (C - 1) * (aw + 2) + (R - 1) * C * ww)
        register(res, "skew / de-skew", R * (R - 1) // 2 * (aw + 2) + C * (C - 1) // 2 * (ww + accw) + C * accw)
        res.add("read-out", lut=R * C * accw / 2)
        register(res, "input register", R * aw + C * ww + 2)
        res.add("control", lut=8, ff=8 + C)


_ESTIMATORS = {"mac_pe": _mac_pe, "systolic_array": _systolic}
