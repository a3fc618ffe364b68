"""MAC PE test data: random accumulations, corner sequences and the configuration table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...numtype import Fixed, Int, UFixed, UInt
from ...vectors import StreamVectors, biased

if TYPE_CHECKING:
    from .config import MacPEConfig

#: Corner sequences longer than this are left out of the stimulus.
CORNER_BEAT_CAP = 4096


def configs(C: type[MacPEConfig]) -> dict[str, MacPEConfig]:
    """The configuration table every verification level runs."""

    return {
        "int8_exact_p1": C(max_len=65536),
        "int8_l4_sat_p3": C(lanes=4, pipeline=3, acc=Int(12), overflow="saturate"),
        "u8s8_l3_wrap_p0": C(lanes=3, pipeline=0, act=UInt(8), acc=Int(10), overflow="wrap"),
        "u4u4_l2_sat_p2": C(lanes=2, pipeline=2, act=UInt(4), weight=UInt(4), acc=UInt(9), overflow="saturate"),
        "fixed_l8_sat_p2": C(
            lanes=8, pipeline=2, act=UFixed(8, 8), weight=Fixed(8, 6), acc=Fixed(20, 14), overflow="saturate"
        ),
        "int32_l2_wrap_p2": C(lanes=2, pipeline=2, act=Int(32), weight=Int(32), acc=Int(96), overflow="wrap"),
        "int8_l64_sat_p3": C(lanes=64, pipeline=3, acc=Int(24), overflow="saturate", max_len=8),
        "u8s8_l4_mult18_p2": C(lanes=4, pipeline=2, act=UInt(8), acc=Int(20), overflow="wrap", dsp_cells="mult18x18d"),
        "int8_l2_mult18_p4": C(lanes=2, pipeline=4, acc=Int(20), overflow="wrap", dsp_cells="mult18x18d"),
        "int8_l3_sat_mult18_p3": C(lanes=3, pipeline=3, acc=Int(14), overflow="saturate", dsp_cells="mult18x18d"),
        "int8_l2_mult18_p1": C(lanes=2, pipeline=1, acc=Int(18), overflow="wrap", dsp_cells="mult18x18d"),
        "int8_l16_p5": C(lanes=16, pipeline=5, acc=Int(32), max_len=64),
        "u8s8_l5_sat_mult18_p5": C(
            lanes=5, pipeline=5, act=UInt(8), acc=Int(18), overflow="saturate", dsp_cells="mult18x18d"
        ),
        "u8s4_o3_l3_wrap_p2": C(
            lanes=3, outputs=3, pipeline=2, act=UInt(8), weight=Int(4), acc=Int(14), overflow="wrap"
        ),
        "int8_o2_l4_mult18_p3": C(lanes=4, outputs=2, pipeline=3, acc=Int(24), overflow="wrap", dsp_cells="mult18x18d"),
        "int8_pack_o4_l8_p0": C(lanes=8, outputs=4, pack_int8=True, pipeline=0, acc=Int(32)),
        "int8_pack_o2_l11_sat_p3": C(lanes=11, outputs=2, pack_int8=True, pipeline=3, acc=Int(20), overflow="saturate"),
        "int8_pack_o6_l4_wrap_p4": C(lanes=4, outputs=6, pack_int8=True, pipeline=4, acc=Int(16), overflow="wrap"),
        "int8_pack_o2_l16_p1": C(lanes=16, outputs=2, pack_int8=True, pipeline=1, acc=Int(32), max_len=64),
    }


def stimulus(cfg: MacPEConfig, rng: np.random.Generator, n: int, corners: bool, max_beats: int) -> StreamVectors:
    """``n`` random accumulations of 1..``max_beats`` beats plus the corner sequences, with golden results."""
    seqs: list[tuple[np.ndarray, np.ndarray]] = []
    names: list[str] = []
    L, O = cfg.lanes, cfg.outputs
    if corners:
        seqs, names = corner_sequences(cfg)
        seqs = [(a, np.tile(w, (1, O))) for a, w in seqs]  # every output gets the corner's weights
        if O > 1:
            seqs_o, names_o = output_corners(cfg)
            seqs, names = seqs + seqs_o, names + names_o
    top = max(1, min(max_beats, cfg.max_len))
    for _ in range(n):
        k = int(rng.integers(1, top + 1))
        seqs.append((biased(rng, cfg.act, (k, L)), biased(rng, cfg.weight, (k, O * L))))
    a = np.concatenate([s[0] for s in seqs]).astype(cfg.act.dtype())
    w = np.concatenate([s[1] for s in seqs]).astype(cfg.weight.dtype())
    last = np.zeros(len(a), dtype=np.int64)
    ends = np.cumsum([len(s[0]) for s in seqs]) - 1
    last[ends] = 1
    return StreamVectors(
        inputs={"i": {"a": a, "w": w, "last": last}},
        expected={"o": cfg.model(a, w, last)},
        triggers={"o": ("i", ends)},
        corners=names,
    )


def output_corners(cfg: MacPEConfig) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
    """Corners across outputs (``outputs`` > 1; for packing, the extremes of both fields of a pair at once):
    neighbouring outputs at opposite weight extremes, for the longest accumulation the stimulus allows."""
    L, O, A, W = cfg.lanes, cfg.outputs, cfg.act, cfg.weight
    k = min(cfg.max_len, CORNER_BEAT_CAP)
    seqs, names = [], []
    for av in (A.min, A.max):
        for first, second in ((W.min, W.max), (W.max, W.min)):
            w = np.array([first if j % 2 == 0 else second for j in range(O) for _ in range(L)], dtype=object)
            seqs.append((np.full((k, L), av, dtype=object), np.tile(w, (k, 1))))
            names.append(f"a = {av}, outputs alternating w = {first} / {second} for {k} beats")
    return seqs, names


def corner_sequences(cfg: MacPEConfig) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
    """The corner accumulations (operand pairs per beat) and their names."""
    L, A, W = cfg.lanes, cfg.act, cfg.weight

    def full(k: int, av: int, wv: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full((k, L), av, dtype=object), np.full((k, L), wv, dtype=object)

    seqs, names = [], []

    def add(name: str, seq: tuple[np.ndarray, np.ndarray]) -> None:
        seqs.append(seq)
        names.append(name)

    add("zeros", full(1, 0, 0))
    add("max×max", full(1, A.max, W.max))
    add("min×min", full(1, A.min, W.min))
    add("min×max", full(1, A.min, W.max))
    add("max×min", full(1, A.max, W.min))
    ones_a = -1 if A.signed else A.max
    ones_w = -1 if W.signed else W.max
    add("all-ones bits", full(min(3, cfg.max_len), ones_a, ones_w))
    k = min(cfg.max_len, CORNER_BEAT_CAP)
    add(f"min×min for {k} beats", full(k, A.min, W.min))
    add(f"max×max for {k} beats", full(k, A.max, W.max))
    add(f"max×min for {k} beats", full(k, A.max, W.min))
    if cfg.overflow != "error":
        for target, label in (
            (cfg.acc.max, "acc.max"),
            (cfg.acc.max + 1, "acc.max+1"),
            (cfg.acc.min, "acc.min"),
            (cfg.acc.min - 1, "acc.min-1"),
        ):
            seq = sum_to(cfg, target)
            if seq is not None:
                add(f"sum = {label}", seq)
        seq = sum_to(cfg, cfg.acc.max + 1)
        back = sum_to(cfg, -(cfg.acc.max // 2) or -1)
        if seq is not None and back is not None:
            add(
                "overshoot acc.max then come back",
                (np.concatenate([seq[0], back[0]]), np.concatenate([seq[1], back[1]])),
            )
    return [(s[0].astype(object), s[1].astype(object)) for s in seqs], names


def sum_to(cfg: MacPEConfig, target: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Beats whose products sum to exactly ``target`` (None if beyond the cap)."""
    L, A, W = cfg.lanes, cfg.act, cfg.weight
    # coarse steps: the product of largest magnitude with the target's sign
    cands = [(a * w, a, w) for a in (A.min, A.max) for w in (W.min, W.max)]
    cands = [c for c in cands if (c[0] > 0) == (target > 0) and c[0] != 0]
    if target == 0:
        return np.zeros((1, L), dtype=object), np.zeros((1, L), dtype=object)
    if not cands:
        return None
    p, ca, cw = max(cands, key=lambda c: abs(c[0]))
    # fine steps: one operand fixed at ±1, the other free over its range
    fine = []
    if A.min <= 1 <= A.max:
        fine.append((1, W.min, W.max, "w"))
    if W.min <= 1 <= W.max:
        fine.append((1, A.min, A.max, "a"))
    if not fine:
        return None
    _, flo, fhi, free = max(fine, key=lambda f: f[2] - f[1])
    coarse = abs(target) // (abs(p) * L)
    rest = target - coarse * p * L
    step = fhi if rest > 0 else flo
    if rest != 0 and step == 0:
        return None
    n_fine = -(-abs(rest) // (abs(step) * L)) if rest else 0
    if coarse + n_fine > CORNER_BEAT_CAP or coarse + n_fine == 0:
        return None
    av = [np.full((int(coarse), L), ca, dtype=object)]
    wv = [np.full((int(coarse), L), cw, dtype=object)]
    remaining = rest
    for _ in range(int(n_fine)):
        vals = []
        for _lane in range(L):
            v = max(flo, min(fhi, remaining))
            vals.append(v)
            remaining -= v
        vals = np.array(vals, dtype=object).reshape(1, L)
        ones = np.ones((1, L), dtype=object)
        av.append(vals if free == "a" else ones)
        wv.append(ones if free == "a" else vals)
    assert remaining == 0
    return np.concatenate(av), np.concatenate(wv)


def formal_configs(C: type[MacPEConfig]) -> dict[str, MacPEConfig]:
    """Small configurations for ``hwgen prove``: every pipeline depth and overflow rule at 2-4 bits."""
    return {
        "int3_l2_wrap_p0": C(lanes=2, pipeline=0, act=Int(3), weight=Int(3), acc=Int(6), overflow="wrap", max_len=3),
        "u3s3_l2_sat_p1": C(
            lanes=2, pipeline=1, act=UInt(3), weight=Int(3), acc=Int(5), overflow="saturate", max_len=3
        ),
        "int2_l3_err_p2": C(lanes=3, pipeline=2, act=Int(2), weight=Int(2), acc=Int(7), max_len=2),
        "int2_l2_sat_p3": C(lanes=2, pipeline=3, act=Int(2), weight=Int(2), acc=Int(4), overflow="saturate", max_len=2),
        "int2_l2_mult18_p2": C(
            lanes=2,
            pipeline=2,
            act=Int(2),
            weight=Int(2),
            acc=Int(6),
            overflow="wrap",
            max_len=2,
            dsp_cells="mult18x18d",
        ),
        "int2_l4_wrap_p5": C(lanes=4, pipeline=5, act=Int(2), weight=Int(2), acc=Int(5), overflow="wrap", max_len=2),
        "int2_o2_l2_sat_p1": C(
            lanes=2, outputs=2, pipeline=1, act=Int(2), weight=Int(2), acc=Int(4), overflow="saturate", max_len=2
        ),
    }
