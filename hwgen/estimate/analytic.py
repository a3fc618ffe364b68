"""Analytic (instant) resource estimates from block parameters.

``estimate(config, family)`` evaluates the block's structural features
(:meth:`hwgen.config.BlockConfig.features`, built from :mod:`hwgen.structure`) against coefficients calibrated on Yosys
(``coefficients.json``, written by ``bench/calibrate.py``), per sub-block, so
reports can show where the resources go. DSP counts are exact mapping rules.
A block or family without calibrated coefficients falls back to textbook
costs (one LUT per adder bit, one FF per register bit) and says so in
``Resources.calibrated``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from ..config import BlockConfig
from ..errors import ConfigError
from ..structure import FAMILIES
from .calibration import FITTED, load_coefficients

#: Bits covered by one carry cell (CARRY4 / CARRY8 / CCU2C / SB_CARRY), for the fallback model.
CARRY_BITS = {"xc7": 4, "xcup": 8, "ecp5": 2, "ice40": 1}
#: Fallback costs when a block/family is not calibrated: resource -> feature-name suffix -> cost.
FALLBACK = {
    "lut": {
        "lut_mul": 0.6,
        "tree_bits": 1.0,
        "acc_add_bits": 1.0,
        "sat_bits": 1.5,
        "srl_lines": 1.0,
        "readout_bits": 0.5,
        "readout_luts": 1.0,
        "mux_bits": 0.5,
        "mem_bits": 1 / 32,
        "pe_sat_bits": 1.5,
        "term_mux_bits": 1.0,
        "decode_outputs": 1.0,
        "ctrl": 4.0,
    },
    "ff": {"reg_bits": 1.0, "delay_ff_bits": 1.0, "valid_bits": 1.0, "ctrl": 4.0},
    "carry": {},
}


@dataclass
class Resources:
    """Resource counts of one design on one family (LUT6 on Xilinx, LUT4 on Lattice; BRAM in native blocks)."""

    family: str
    lut: float = 0
    ff: float = 0
    dsp: float = 0
    bram: float = 0
    carry: float = 0
    calibrated: bool = True
    estimated: bool = True
    breakdown: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, part: str, **counts: float) -> None:
        row = self.breakdown.setdefault(part, {})
        for k, v in counts.items():
            setattr(self, k, getattr(self, k) + v)
            row[k] = row.get(k, 0) + v

    def rounded(self) -> dict[str, int]:
        return {k: int(round(getattr(self, k))) for k in ("lut", "ff", "dsp", "bram", "carry")}

    @property
    def status(self) -> str:
        """``calibrated``, ``uncalibrated`` (textbook costs per feature) or ``not estimated``."""
        if not self.estimated:
            return "not estimated"
        return "calibrated" if self.calibrated else "uncalibrated"

    def summary(self) -> dict:
        """The manifest's ``estimate`` entry: family, status, rounded counts (None if not estimated), breakdown."""
        return {
            "family": self.family,
            "status": self.status,
            "analytic": self.rounded() if self.estimated else None,
            "breakdown": {k: {r: round(n, 1) for r, n in v.items()} for k, v in self.breakdown.items()},
        }


def check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ConfigError("family", f"{family!r} is not supported; supported: {', '.join(FAMILIES)}")


@lru_cache(maxsize=1)
def _coefficients() -> dict:
    return load_coefficients()


def _fallback_cost(resource: str, feature: str) -> float:
    for suffix, cost in FALLBACK[resource].items():
        if suffix in feature:
            return cost
    return 0.0


def estimate(config: BlockConfig, family: str) -> Resources:
    """Analytic resource estimate of ``config`` on ``family`` (microseconds; no synthesis)."""
    check_family(family)
    feats = config.features(family)
    if feats is None:  # the block gives no features: reported as "not estimated", never a failure
        return Resources(family=family, calibrated=False, estimated=False)
    coefs = _coefficients().get("blocks", {}).get(config.block_name, {}).get(family)
    res = Resources(family=family, calibrated=coefs is not None)
    for part, values in feats.items():
        counts: dict[str, float] = {"dsp": values.get("dsp", 0.0)}
        for resource in FITTED:
            if coefs is not None:
                c = coefs.get(resource, {})
                counts[resource] = sum(c.get(k, 0.0) * v for k, v in values.items())
            elif resource == "carry":
                counts[resource] = sum(
                    math.ceil(v / CARRY_BITS[family]) for k, v in values.items() if "tree_bits" in k or "acc_add" in k
                )
            else:
                counts[resource] = sum(_fallback_cost(resource, k) * v for k, v in values.items())
        res.add(part, **{k: v for k, v in counts.items() if v})
    return res
