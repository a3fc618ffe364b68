"""Calibrate the analytic estimator against Yosys and write its coefficients.

    python bench/calibrate.py [--families xc7 ecp5 xcup ice40]

(needs the `calibrate` extra: `pip install -e '.[calibrate]'`)

For every block, synthesizes the calibration half of the sweep
(``hwgen.estimate.sweep``; results cached in .hwgen_cache/), fits
non-negative coefficients per (block, family, resource)
(``hwgen.estimate.calibration.fit``) and writes

* ``hwgen/estimate/coefficients.json`` — what ``hwgen estimate`` uses;
* ``bench/calibration/data.json`` — every calibration point: parameters,
  features, synthesized resources and Yosys cell counts.

The evaluation half is never used here; ``make bench`` scores the estimator on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwgen import Design  # noqa: E402
from hwgen.estimate.calibration import COEFFICIENTS_FILE, FITTED, fit  # noqa: E402
from hwgen.estimate.sweep import DEFAULT_SWEEPS, points  # noqa: E402
from hwgen.estimate.synth import synthesize, yosys_version  # noqa: E402
from hwgen.progress import say  # noqa: E402
from hwgen.structure import flat  # noqa: E402


def collect(configs, family: str, label: str) -> list[dict]:
    rows = []
    for i, cfg in enumerate(configs):
        d = Design(name="dut", top=cfg)
        t0 = time.monotonic()
        r = synthesize(d.verilog_for(family), "dut", family)
        say(f"{label} {family} {i + 1}/{len(configs)} ({time.monotonic() - t0:.1f} s{', cached' if r.cached else ''})")
        rows.append(
            {
                "block": cfg.block_name,
                "family": family,
                "params": cfg.params(),
                "features": flat(cfg.features(family)),
                "resources": r.resources,
                "cells": r.cells,
            }
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="+", default=["xc7", "ecp5", "xcup", "ice40"])
    ap.add_argument(
        "--sweeps", nargs="+", default=None, help=f"only these sweeps (default: {', '.join(DEFAULT_SWEEPS)})"
    )
    args = ap.parse_args()
    os.environ.setdefault("HWGEN_QUIET", "0")
    data = []
    coefs = {"yosys": yosys_version(), "note": "fitted by bench/calibrate.py; do not edit", "blocks": {}}
    if args.sweeps and COEFFICIENTS_FILE.exists():  # a partial run keeps the other blocks' coefficients
        coefs["blocks"] = json.loads(COEFFICIENTS_FILE.read_text()).get("blocks", {})
    for sweep_name, (cal, _ev) in points().items():
        if sweep_name not in (args.sweeps or DEFAULT_SWEEPS):
            continue
        for fam in args.families:
            rows = collect(cal, fam, f"calibrate {sweep_name}")
            data += rows
            for block in sorted({r["block"] for r in rows}):
                mine = [r for r in rows if r["block"] == block]
                coefs["blocks"].setdefault(block, {})[fam] = {
                    res: fit([(r["features"], r["resources"]) for r in mine], res) for res in FITTED
                }
    COEFFICIENTS_FILE.write_text(json.dumps(coefs, indent=1, sort_keys=True) + "\n")
    out = ROOT / "bench" / "calibration" / "data.json"
    if args.sweeps and out.exists():
        fresh = {(d["block"], d["family"]) for d in data}
        data = [r for r in json.loads(out.read_text()) if (r["block"], r["family"]) not in fresh] + data
    out.write_text(json.dumps(data, indent=0) + "\n")
    print(f"coefficients -> {COEFFICIENTS_FILE}\ncalibration data ({len(data)} synthesized points) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
