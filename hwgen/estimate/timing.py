"""Fmax estimate from a block's structure, and timing-driven choice of its pipelining.

``estimate_fmax(config, family)`` prices each register-to-register path
shape the block reports (:meth:`hwgen.config.BlockConfig.timing_paths`) with a
linear delay model per family — ns = Σ coefficient × term over the terms of
:meth:`hwgen.structure.TimingPath.features` (a fixed clock-to-out, setup and
routing share; an unregistered DSP multiply with its routing; carry-chain
adders in series and their bits; LUT levels; log2 of the stall enable's
fanout) — fitted to nextpnr by ``bench/calibrate_fmax.py``
(``fmax_coefficients.json``). Fmax is 1000 / the slowest path. Only families
nextpnr can place (ECP5, iCE40) have coefficients; elsewhere there is no
estimate and hwgen keeps a block's default pipelining. iCE40's fit covers
LUT-only designs (nextpnr-ice40 does not time through SB_MAC16): a design
with a path term no fit design exercised gets no estimate there.

``for_clock(config, clock_mhz, family)`` sets the parameters the user left
"auto" to the first of the block's :meth:`timing_candidates` (cheapest first)
whose estimate meets the clock with :data:`TIMING_MARGIN` to spare, or the
fastest if none does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import BlockConfig
from ..errors import ConfigError

COEFFICIENTS = Path(__file__).with_name("fmax_coefficients.json")
#: How far the estimate must exceed the clock: about the estimate's held-out error, so a chosen setting
#: still meets the clock when the estimate is high by that much (measured: a 158 MHz estimate placed at
#: 137 MHz with its worse seed).
TIMING_MARGIN = 0.10


@lru_cache(maxsize=1)
def _saved() -> dict[str, Any]:
    return json.loads(COEFFICIENTS.read_text()) if COEFFICIENTS.exists() else {}


def coefficients() -> dict[str, dict[str, float]]:
    """``{family: {term: ns}}`` from ``fmax_coefficients.json`` (written by ``bench/calibrate_fmax.py``)."""
    return _saved().get("families", {})


def covered_terms(family: str) -> set[str] | None:
    """The terms the family's fit designs exercise (None: all of them); a path using another term — a DSP
    multiply on iCE40, whose SB_MAC16 nextpnr does not time — gets no estimate."""
    fit = _saved().get("fits", {}).get(family)
    return set(fit["covered"]) if fit and "covered" in fit else None


@dataclass
class FmaxEstimate:
    """Estimated Fmax of one design on one family, with every path's delay."""

    family: str
    fmax_mhz: float
    critical: str
    paths_ns: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"fmax_mhz": self.fmax_mhz, "critical": self.critical, "paths_ns": self.paths_ns}


def path_delay(features: dict[str, float], coeffs: dict[str, float]) -> float:
    """ns of one path: the model's terms weighed by the family's coefficients."""
    return sum(coeffs.get(k, 0.0) * v for k, v in features.items())


def estimate_fmax(config: BlockConfig, family: str) -> FmaxEstimate | None:
    """The Fmax estimate of ``config`` on ``family``; None without coefficients or path shapes."""
    coeffs = coefficients().get(family)
    paths = config.timing_paths(family) if coeffs else []
    covered = covered_terms(family)
    if not paths or (covered is not None and any(set(_used(p)) - covered for p in paths)):
        return None
    delays = {p.name: round(path_delay(p.features(), coeffs), 3) for p in paths}
    critical = max(delays, key=delays.get)
    return FmaxEstimate(family, round(1000.0 / delays[critical], 1), critical, delays)


def for_clock(config: BlockConfig, clock_mhz: float, family: str) -> tuple[BlockConfig, str]:
    """``config`` with its auto timing parameters chosen for ``clock_mhz`` on ``family``, and a note of the
    choice ("" when there was nothing to choose). Explicitly set parameters are never changed."""
    auto = config.auto_params
    if not auto or family not in coefficients():
        return config, ""
    tried: list[tuple[BlockConfig, FmaxEstimate]] = []
    seen: set[tuple] = set()
    for cand in config.timing_candidates(family):
        values = {k: v for k, v in cand.items() if k in auto}
        key = tuple(sorted(values.items()))
        if key in seen:
            continue
        seen.add(key)
        try:
            cfg = config.with_params(values)
        except ConfigError:
            continue  # this setting does not apply to these parameters (e.g. a split accumulate that saturates)
        est = estimate_fmax(cfg, family)
        if est is None:
            return config, ""
        tried.append((cfg, est))
        if est.fmax_mhz >= clock_mhz * (1 + TIMING_MARGIN):
            return cfg, (
                f"{_values(values)}: estimated {est.fmax_mhz:g} MHz ≥ {clock_mhz:g} MHz "
                f"+ {TIMING_MARGIN:.0%} on {family}"
            )
    if not tried:
        return config, ""
    cfg, est = max(tried, key=lambda t: t[1].fmax_mhz)
    return cfg, (
        f"no setting reaches {clock_mhz:g} MHz + {TIMING_MARGIN:.0%} on {family} by estimate; the fastest is kept "
        f"({est.fmax_mhz:g} MHz, critical path: {est.critical})"
    )


def _used(path: Any) -> list[str]:
    return [k for k, v in path.features().items() if v and k != "base"]


def _values(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in sorted(values.items()))
