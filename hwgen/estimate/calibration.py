"""Fitting the analytic estimator's coefficients to synthesis, and scoring it.

Coefficients are non-negative (each feature costs something or nothing) and
fitted by weighted non-negative least squares with weights ``1 / (y + 10)``,
so the fit minimizes *relative* error, which is what the accuracy targets
measure. DSP counts are structural and never fitted.

Metrics follow ``shared/specs/estimation.md`` (the wa-hls4ml benchmark's):
SMAPE, MAE, RMSE, R², and percentiles of the absolute relative error
``|y - ŷ| / (y + 1)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

FITTED = ("lut", "ff", "carry")
COEFFICIENTS_FILE = Path(__file__).resolve().parent / "coefficients.json"


def fit(rows: list[tuple[dict[str, float], dict[str, float]]], resource: str) -> dict[str, float]:
    """Coefficients for ``resource`` from ``(features, measured resources)`` rows."""
    from scipy.optimize import nnls

    names = sorted({k for f, _ in rows for k in f if k != "dsp"})
    X = np.array([[f.get(k, 0.0) for k in names] for f, _ in rows], dtype=float)
    y = np.array([m.get(resource, 0.0) for _, m in rows], dtype=float)
    w = 1.0 / (y + 10.0)
    coef, _ = nnls(X * w[:, None], y * w, maxiter=50 * len(names) + 100)
    return {k: round(float(c), 6) for k, c in zip(names, coef) if c > 1e-9}


def metrics(y: list[float], yhat: list[float]) -> dict[str, float]:
    """SMAPE (%), MAE, RMSE, R², and p50/p75/p95/max of |y - ŷ| / (y + 1) in %."""
    y_arr, p = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)
    if y_arr.size == 0:
        return {}
    denom = np.abs(y_arr) + np.abs(p)
    smape = float(np.mean(np.where(denom > 0, 2 * np.abs(p - y_arr) / np.where(denom > 0, denom, 1), 0)) * 100)
    rel = np.abs(y_arr - p) / (y_arr + 1) * 100
    ss_res = float(np.sum((y_arr - p) ** 2))
    ss_tot = float(np.sum((y_arr - y_arr.mean()) ** 2))
    return {
        "n": int(y_arr.size),
        "smape_pct": round(smape, 2),
        "mae": round(float(np.mean(np.abs(y_arr - p))), 2),
        "rmse": round(float(np.sqrt(np.mean((y_arr - p) ** 2))), 2),
        "r2": round(1 - ss_res / ss_tot, 4) if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0),
        "p50_abs_rel_err_pct": round(float(np.percentile(rel, 50)), 2),
        "p75_abs_rel_err_pct": round(float(np.percentile(rel, 75)), 2),
        "p95_abs_rel_err_pct": round(float(np.percentile(rel, 95)), 2),
        "max_abs_rel_err_pct": round(float(rel.max()), 2),
    }


def load_coefficients() -> dict[str, Any]:
    if COEFFICIENTS_FILE.exists():
        return json.loads(COEFFICIENTS_FILE.read_text())
    return {"blocks": {}}
