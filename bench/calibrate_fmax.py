"""Calibrate the Fmax estimate against nextpnr and write its coefficients.

    python bench/calibrate_fmax.py      (needs the `calibrate` extra: pip install -e '.[calibrate]')
    python bench/calibrate_fmax.py --family ice40
    python bench/calibrate_fmax.py --terms memory --designs record_
    python bench/calibrate_fmax.py --score lowbit_

The third form places the sweep designs whose label starts with the prefix
and scores the current coefficients on them, changing nothing (designs added
after the last fit). The second form fits only the named terms, on the sweep designs whose label
starts with the given prefix, keeping every other coefficient as it is (a new
term for a new block without re-placing the whole sweep).

Places and routes every design of ``hwgen.estimate.fmax_sweep`` on the ECP5
(LFE5U-85F, speed 6, seed 1, 200 MHz target; cached in .hwgen_cache/pnr),
fits the delay coefficients of ``hwgen.estimate.timing`` on the fit half and
writes ``hwgen/estimate/fmax_coefficients.json``. The fit alternates between
taking each design's slowest path under the current coefficients and a
non-negative least-squares solve of the measured clock periods over those
paths' terms, until the choice of paths settles. ``make bench`` scores the
held-out half.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwgen.estimate.fmax_sweep import fmax_points, held_out, ice40_points  # noqa: E402
from hwgen.estimate.pnr import place_and_route  # noqa: E402
from hwgen.estimate.timing import COEFFICIENTS, path_delay  # noqa: E402
from hwgen.progress import say  # noqa: E402

FAMILY = "ecp5"
DEVICES = {"ecp5": "nextpnr-ecp5 0.11, LFE5U-85F speed 6", "ice40": "nextpnr-ice40 0.11, iCE40 UP5K SG48"}
TERMS = (
    "base", "mult", "dsp_internal", "dsp_out", "lut_mult_bits", "memory", "adders", "carry_bits", "luts",
    "fanout_log2", "size_log2", "mult_x_size_log2", "dsp_out_x_size_log2",
)  # fmt: skip
START = {
    "base": 2.0,
    "mult": 5.0,
    "dsp_internal": 3.0,
    "dsp_out": 3.0,
    "lut_mult_bits": 0.3,
    "memory": 3.0,
    "adders": 0.8,
    "carry_bits": 0.07,
    "luts": 0.6,
}


def measure(family: str = FAMILY, prefix: str = "") -> list[dict]:
    """Place and route every sweep design of ``family`` (cached) whose label starts with ``prefix``; one row
    per design with its paths' terms."""
    rows = []
    sweep = fmax_points() if family == "ecp5" else ice40_points()
    pts = [(label, cfg) for label, cfg in sweep if label.startswith(prefix)]
    for i, (label, cfg) in enumerate(pts):
        r = place_and_route(cfg.component(), "dut", family, seed=1, target_mhz=200)
        say(f"fmax sweep {i + 1}/{len(pts)} {label}: {r.fmax_mhz} MHz{' (cached)' if r.cached else ''}")
        paths = [p.features() for p in cfg.timing_paths(family)]
        rows.append({"label": label, "held_out": held_out(label), "fmax_mhz": r.fmax_mhz, "paths": paths})
    return rows


def fit(rows: list[dict]) -> dict[str, float]:
    """Delay coefficients (ns per term) from the fit rows' measured periods."""
    coeffs = dict(START)
    chosen: list[int] | None = None
    for _ in range(20):
        pick = [max(range(len(r["paths"])), key=lambda k: path_delay(r["paths"][k], coeffs)) for r in rows]
        if pick == chosen:
            break
        chosen = pick
        X = np.array([[r["paths"][k].get(t, 0.0) for t in TERMS] for r, k in zip(rows, pick)])
        y = np.array([1000.0 / r["fmax_mhz"] for r in rows])
        coeffs = {t: round(float(c), 4) for t, c in zip(TERMS, nnls(X, y)[0])}
    return coeffs


def fit_terms(rows: list[dict], coeffs: dict[str, float], free: list[str]) -> dict[str, float]:
    """``coeffs`` with only the ``free`` terms refitted on ``rows`` (the others fixed), by the same
    alternating slowest-path / non-negative least-squares solve as :func:`fit`."""
    coeffs = {**{t: 0.0 for t in TERMS}, **coeffs, **{t: START.get(t, 1.0) for t in free}}
    chosen: list[int] | None = None
    for _ in range(20):
        pick = [max(range(len(r["paths"])), key=lambda k: path_delay(r["paths"][k], coeffs)) for r in rows]
        if pick == chosen:
            break
        chosen = pick
        fixed = {t: c for t, c in coeffs.items() if t not in free}
        X = np.array([[r["paths"][k].get(t, 0.0) for t in free] for r, k in zip(rows, pick)])
        y = np.array([1000.0 / r["fmax_mhz"] - path_delay(r["paths"][k], fixed) for r, k in zip(rows, pick)])
        coeffs |= {t: round(float(c), 4) for t, c in zip(free, nnls(X, y)[0])}
    return coeffs


def estimate(paths: list[dict], coeffs: dict[str, float]) -> float:
    return 1000.0 / max(path_delay(p, coeffs) for p in paths)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", default=FAMILY, choices=list(DEVICES), help="the nextpnr family to fit")
    parser.add_argument("--terms", nargs="+", default=None, help="fit only these terms (others kept)")
    parser.add_argument("--designs", default="", help="with --terms: the sweep designs whose label starts so")
    parser.add_argument("--score", metavar="PREFIX", help="only score the saved coefficients on these designs")
    args = parser.parse_args(argv)
    if args.score is not None:
        return score(args.family, args.score)
    bad = [t for t in args.terms or [] if t not in TERMS]
    if bad:
        parser.error(f"--terms: {', '.join(bad)} not among {', '.join(TERMS)}")
    if args.terms:
        return refit_terms(args.terms, args.designs)
    rows = measure(args.family)
    train = [r for r in rows if not r["held_out"]]
    coeffs = fit(train)
    for r in rows:
        r["estimate_mhz"] = round(estimate(r["paths"], coeffs), 1)
    errs = [abs(r["estimate_mhz"] - r["fmax_mhz"]) / r["fmax_mhz"] * 100 for r in rows if r["held_out"]]
    saved = json.loads(COEFFICIENTS.read_text()) if COEFFICIENTS.exists() else {"families": {}}
    saved["families"][args.family] = coeffs
    saved.setdefault("fits", {})[args.family] = {
        "device": DEVICES[args.family],
        "fit_designs": len(train),
        "held_out_designs": len(errs),
        "held_out_median_error_pct": round(float(np.median(errs)), 2),
        # terms no fit design exercises: a design whose paths use one gets no estimate on this family
        "covered": sorted({t for r in train for p in r["paths"] for t, v in p.items() if v}),
    }
    if args.family == FAMILY:  # the file's headline figures are the ECP5 fit's
        saved["fit_designs"] = len(train)
        saved["held_out_median_error_pct"] = round(float(np.median(errs)), 2)
    COEFFICIENTS.write_text(json.dumps(saved, indent=1) + "\n")
    for r in rows:
        tag = "  (held out)" if r["held_out"] else ""
        say(f"{r['label']:<28} nextpnr {r['fmax_mhz']:7.2f}  estimate {r['estimate_mhz']:7.1f}{tag}")
    say(f"coefficients {coeffs}; held-out median |error| {np.median(errs):.1f}% over {len(errs)} designs")
    return 0


def score(family: str, prefix: str) -> int:
    """Place the designs starting with ``prefix`` and print the saved coefficients' error on each."""
    coeffs = json.loads(COEFFICIENTS.read_text())["families"][family]
    errs = []
    for r in measure(family, prefix):
        est = estimate(r["paths"], coeffs)
        errs.append(abs(est - r["fmax_mhz"]) / r["fmax_mhz"] * 100)
        say(f"{r['label']:<28} nextpnr {r['fmax_mhz']:7.2f}  estimate {est:7.1f}  error {errs[-1]:5.1f}%")
    say(f"median |error| {np.median(errs):.1f}%, p90 {np.percentile(errs, 90):.1f}% over {len(errs)} designs")
    return 0


def refit_terms(terms: list[str], prefix: str) -> int:
    """Refit ``terms`` on the designs starting with ``prefix``; the file's other figures stay."""
    saved = json.loads(COEFFICIENTS.read_text())
    rows = measure(prefix=prefix)
    train = [r for r in rows if not r["held_out"]]
    coeffs = fit_terms(train, saved["families"][FAMILY], terms)
    errs = []
    for r in rows:
        r["estimate_mhz"] = round(estimate(r["paths"], coeffs), 1)
        tag = "  (held out)" if r["held_out"] else ""
        say(f"{r['label']:<24} nextpnr {r['fmax_mhz']:7.2f}  estimate {r['estimate_mhz']:7.1f}{tag}")
        if r["held_out"]:
            errs.append(abs(r["estimate_mhz"] - r["fmax_mhz"]) / r["fmax_mhz"] * 100)
    saved["families"][FAMILY] = coeffs
    saved.setdefault("refits", []).append(
        {
            "terms": terms,
            "designs": prefix,
            "fit_designs": len(train),
            "held_out_median_error_pct": round(float(np.median(errs)), 2) if errs else None,
        }
    )
    COEFFICIENTS.write_text(json.dumps(saved, indent=1) + "\n")
    say(f"{', '.join(f'{t} = {coeffs[t]}' for t in terms)}; held-out median |error| "
        f"{np.median(errs) if errs else float('nan'):.1f}% over {len(errs)} designs")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
