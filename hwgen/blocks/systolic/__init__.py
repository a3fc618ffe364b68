"""Systolic arrays: PE -> tile -> mesh -> skew/de-skew wrapper, plus the host-side GEMM driver."""

from .array import OutputStationaryArray, WeightStationaryArray
from .config import SystolicArrayConfig, mac_fold
from .gemm import Gemm, assemble, gemm_cycles, gemm_vectors, golden_gemm
from .testdata import random_gemms

__all__ = [
    "SystolicArrayConfig",
    "WeightStationaryArray",
    "OutputStationaryArray",
    "Gemm",
    "gemm_vectors",
    "golden_gemm",
    "assemble",
    "gemm_cycles",
    "random_gemms",
    "mac_fold",
]
