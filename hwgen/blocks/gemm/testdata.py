"""GEMM-core test data: random and extreme rows, record programs, and the configuration tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...numtype import Int, UInt
from ...vectors import StreamVectors, biased

if TYPE_CHECKING:
    from .core import GemmCoreConfig
    from .record import RecordCoreConfig


def _weights(rng: np.random.Generator, k: int, n: int) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(v) for v in r) for r in rng.integers(-128, 128, (k, n)))


def core_configs(C: type[GemmCoreConfig]) -> dict[str, GemmCoreConfig]:
    """The fixed core's configuration table: stalls (k < lanes), partial last passes, requant + ReLU,
    unsigned activations, one-column slices, n == lanes."""

    rng = np.random.default_rng(11)
    return {
        "k8_n10_l4_requant_relu": C(
            weights=_weights(rng, 8, 10),
            lanes=4,
            requant=True,
            multiplier=(1 << 30) + 4321,
            shift=33,
            zero_point=-3,
            relu=True,
        ),
        "k2_n7_l4_stalls": C(weights=_weights(rng, 2, 7), lanes=4),
        "k2_n7_l4_stalls_mac2": C(weights=_weights(rng, 2, 7), lanes=4, mac_stages=2),
        "k8_n10_l4_requant_mac1": C(
            weights=_weights(rng, 8, 10), lanes=4, requant=True, multiplier=(1 << 29) + 3, shift=31, mac_stages=1
        ),
        "k1_n3_l2_requant": C(weights=_weights(rng, 1, 3), lanes=2, requant=True, multiplier=3, shift=2),
        "k16_n3_l8_uint_relu": C(weights=_weights(rng, 16, 3), lanes=8, act=UInt(8), relu=True, acc=Int(20)),
        "k5_n4_l4_n_eq_lanes": C(
            weights=_weights(rng, 5, 4), lanes=4, requant=True, multiplier=7, shift=0, out=UInt(8)
        ),
        # acc / 4 exactly: a quarter of all results are ties, rounded to even (ONNX QuantizeLinear)
        "k6_n5_l4_requant_even": C(
            weights=_weights(rng, 6, 5),
            lanes=4,
            requant=True,
            multiplier=1 << 20,
            shift=22,
            zero_point=1,
            rounding="half_even",
        ),
        # per-channel requantization with an int32 bias (ONNX QDQ Gemm with per-channel weight scales)
        "k8_n10_l4_per_channel_bias": C(
            weights=_weights(rng, 8, 10),
            lanes=4,
            requant=True,
            zero_point=-5,
            rounding="half_even",
            relu=True,
            bias=tuple(int(v) for v in rng.integers(-20000, 20000, 10)),
            multipliers=tuple(int(v) for v in rng.integers(1 << 29, 1 << 31, 10)),
            shifts=tuple(int(v) for v in rng.integers(36, 41, 10)),
        ),
        "k3_n5_l2_bias_raw": C(weights=_weights(rng, 3, 5), lanes=2, bias=(1, -2, 3, (1 << 31) - 1, -(1 << 31))),
    }


def core_formal_configs(C: type[GemmCoreConfig]) -> dict[str, GemmCoreConfig]:
    """Small configurations for ``hwgen prove``: a partial last pass, requantization with rounding and ReLU."""
    w = ((1, -2, 1), (-1, 1, 0))
    return {
        "k2_n3_l2_raw": C(weights=w, lanes=2, act=Int(3), weight=Int(3), acc=Int(8)),
        "k2_n3_l2_requant_relu": C(
            weights=w,
            lanes=2,
            act=Int(3),
            weight=Int(3),
            acc=Int(8),
            requant=True,
            multiplier=3,
            shift=2,
            zero_point=-1,
            out=Int(3),
            relu=True,
        ),
        "k2_n3_l2_per_channel_bias": C(
            weights=w,
            lanes=2,
            act=Int(3),
            weight=Int(3),
            acc=Int(8),
            requant=True,
            multipliers=(3, 1, 5),
            shifts=(2, 0, 3),
            bias=(-7, 0, 100),
            out=Int(4),
            rounding="half_even",
        ),
    }


def record_formal_configs(C: type[RecordCoreConfig], G: type[GemmCoreConfig]) -> dict[str, RecordCoreConfig]:
    """Small configuration for ``hwgen prove``: two slices, two records."""
    a = G(weights=((1, -1), (2, 1)), lanes=2, act=Int(2), weight=Int(3), acc=Int(8))
    b = G(weights=((-2, 1),), lanes=2, act=Int(2), weight=Int(3), acc=Int(8), requant=True, multiplier=1, shift=1)
    even = G(
        weights=((-2, 1),), lanes=2, act=Int(2), weight=Int(3), acc=Int(8), requant=True, multiplier=1, shift=1,
        rounding="half_even",
    )  # fmt: skip
    return {
        "two_slices": C(slices=(a, b), program=(0, 1), rows=(1, 2)),
        "away_and_even": C(slices=(b, even), program=(0, 1), rows=(1, 1)),
        "two_slices_epi5": C(slices=(a, b), program=(1, 0), rows=(1, 1), epilogue_stages=5),
        "columns_and_shared": C(
            slices=(b, G(weights=((1, -2), (2, 1)), lanes=2, act=Int(2), weight=Int(3), acc=Int(8), bias=(5, -9))),
            program=(1, 0, 1),
            rows=(1, 1, 1),
        ),
    }


def record_configs(C: type[RecordCoreConfig], G: type[GemmCoreConfig]) -> dict[str, RecordCoreConfig]:
    """The record core's table: one record, three slices, a slice repeated, ReLU then raw."""

    rng = np.random.default_rng(8)
    slices = (
        G(
            weights=_weights(rng, 8, 10),
            lanes=4,
            requant=True,
            multiplier=(1 << 30) + 5,
            shift=33,
            zero_point=-2,
            relu=True,
        ),
        G(weights=_weights(rng, 3, 6), lanes=4),  # k < lanes: passes wait for the drain
        G(weights=_weights(rng, 5, 4), lanes=4, requant=True, multiplier=7, shift=0, out=UInt(8)),
        G(weights=_weights(rng, 4, 6), lanes=4, requant=True, multiplier=3 << 18, shift=21, rounding="half_even"),
    )
    per_channel = G(
        weights=_weights(rng, 8, 6),
        lanes=4,
        requant=True,
        zero_point=3,
        relu=True,
        bias=tuple(int(v) for v in rng.integers(-5000, 5000, 6)),
        multipliers=tuple(int(v) for v in rng.integers(1 << 29, 1 << 31, 6)),
        shifts=tuple(int(v) for v in rng.integers(34, 38, 6)),
    )
    return {
        "one_record": C(slices=slices, program=(0,), rows=(3,)),
        "three_slices": C(slices=slices, program=(0, 1, 2), rows=(2, 3, 1)),
        "repeat_slice": C(slices=slices, program=(1, 1, 0), rows=(1, 2, 2)),
        "relu_then_raw": C(slices=slices, program=(0, 1), rows=(1, 1)),
        "three_slices_epi1": C(slices=slices, program=(0, 1, 2), rows=(2, 3, 1), epilogue_stages=1),
        "three_slices_epi2": C(slices=slices, program=(2, 0, 1), rows=(1, 2, 2), epilogue_stages=2),
        "three_slices_mac1": C(slices=slices, program=(1, 2, 0), rows=(2, 2, 1), mac_stages=1),
        "even_then_away": C(slices=slices, program=(3, 0, 3), rows=(2, 1, 1)),
        "even_then_away_epi4": C(slices=slices, program=(0, 3), rows=(1, 2), epilogue_stages=4, mac_stages=1),
        "three_slices_epi3": C(slices=slices, program=(1, 0, 2), rows=(1, 2, 2), epilogue_stages=3),
        "three_slices_mac2_epi4": C(slices=slices, program=(0, 2, 1), rows=(2, 1, 3), mac_stages=2, epilogue_stages=4),
        "even_then_away_epi5": C(slices=slices, program=(3, 0, 1), rows=(2, 2, 1), epilogue_stages=5),
        "per_channel_and_shared": C(slices=(*slices, per_channel), program=(4, 0, 4, 2), rows=(2, 1, 1, 2)),
        "per_channel_epi3_mac1": C(
            slices=(per_channel, slices[3]), program=(1, 0), rows=(2, 3), epilogue_stages=3, mac_stages=1
        ),
        "per_channel_then_away_cells": C(
            slices=(per_channel, slices[0]),
            program=(0, 1, 0),
            rows=(2, 2, 1),
            epilogue_stages=5,
            mac_stages=2,
            dsp_cells="mult18x18d",
        ),
    }


def core_stimulus(cfg: GemmCoreConfig, rng: np.random.Generator, n: int, corners: bool) -> StreamVectors:
    """``n`` random rows plus corner rows (all most-negative, all most-positive, zeros)."""
    rows = [biased(rng, cfg.act, cfg.k) for _ in range(n)]
    names = []
    if corners:
        rows = [np.full(cfg.k, cfg.act.min), np.full(cfg.k, cfg.act.max), np.zeros(cfg.k, dtype=np.int64)] + rows
        names = ["most-negative row", "most-positive row", "zero row"]
    x = np.array(rows, dtype=np.int64)
    return StreamVectors(inputs={"i": x.reshape(-1)}, expected={"o": cfg.model(x).reshape(-1)}, corners=names)


def record_stimulus(cfg: RecordCoreConfig, rng: np.random.Generator, n: int, corners: bool) -> StreamVectors:
    """``n`` runs of the program with random activations; the first run has extreme rows."""
    act = cfg.base.act
    chunks = []
    for run in range(max(1, n)):
        for sl, nrows in zip(cfg.program, cfg.rows):
            k = cfg.slices[sl].k
            x = np.array([biased(rng, act, k) for _ in range(nrows)], dtype=np.int64)
            if corners and run == 0:
                x[0] = act.min
                if nrows > 1:
                    x[1] = act.max
            chunks.append(x.reshape(-1))
    x = np.concatenate(chunks)
    return StreamVectors(
        inputs={"i": x},
        expected={"o": cfg.model(x)},
        corners=["most-negative and most-positive rows in every record"] if corners else [],
    )
