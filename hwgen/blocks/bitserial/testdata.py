"""Bit-serial PE test data: random groups of random formats, every code of every format, and the table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ...lowbit import BITMOD_FP3, BITMOD_FP4
from ...numtype import Int, UInt
from ...vectors import StreamVectors, biased

if TYPE_CHECKING:
    from .config import BitSerialPEConfig


def configs(C: type[BitSerialPEConfig]) -> dict[str, BitSerialPEConfig]:
    """The configuration table every verification level runs."""

    return {
        "fp4_serial_2x4": C(rows=2, lanes=4, formats=BITMOD_FP4),
        "fp3_mult_l3": C(lanes=3, formats=BITMOD_FP3, dequant="multiplier"),
        "int_mixed_u8_3x2": C(rows=3, lanes=2, formats=("INT8", "INT4", "FLINT4", "INT2"), act=UInt(8)),
        "mixed_mult_l4": C(lanes=4, formats=("INT8", "INT4", "FLINT4", BITMOD_FP3[3]), dequant="multiplier"),
        "fp4_serial_2x4_pipe2": C(rows=2, lanes=4, formats=BITMOD_FP4, pipeline=2),
        "mixed_mult_l4_pipe1": C(lanes=4, formats=("INT8", "INT4", "FLINT4"), dequant="multiplier", pipeline=1),
    }


def formal_configs(C: type[BitSerialPEConfig]) -> dict[str, BitSerialPEConfig]:
    """Small configurations for ``hwgen prove``: FP4 and integer formats, both dequantizers."""
    return {
        "fp4_mult_2x1": C(
            rows=2,
            lanes=1,
            formats=BITMOD_FP4[:2],
            act=Int(3),
            scale_bits=2,
            dequant="multiplier",
            max_group=2,
            max_groups=2,
        ),
        "int_serial_l2": C(lanes=2, formats=("INT2", "INT3"), act=Int(2), scale_bits=2, max_group=4, max_groups=2),
    }


def stimulus(cfg: BitSerialPEConfig, rng: np.random.Generator, n: int, corners: bool) -> StreamVectors:
    """≥ ``n`` random groups (random formats, codes, scales, group sizes), plus corners: every
    code of every format, extreme activations, the special codes, scale 0 and all-ones."""
    R, L = cfg.rows, cfg.lanes
    rows: dict[str, list] = {k: [] for k in ("a", "code", "fmt", "scale", "group_last", "last")}
    names = []

    def group(
        nbeats: int,
        fmt_r: ArrayLike,
        codes: list | None = None,
        act: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        is_last: bool = False,
    ) -> None:
        for b in range(nbeats):
            av = act if act is not None else biased(rng, cfg.act, L)
            rows["a"].append(np.broadcast_to(av, (L,)).copy())
            cs = []
            for r in range(R):
                dt = cfg.dts[fmt_r[r]]
                cs.append(codes[r][b] if codes is not None else rng.integers(0, 1 << dt.bits, L))
            rows["code"].append(np.array(cs))
            rows["fmt"].append(np.array(fmt_r))
            sc = scale if scale is not None else rng.integers(0, 1 << cfg.scale_bits, R)
            rows["scale"].append(np.broadcast_to(sc, (R,)).copy())
            rows["group_last"].append(int(b == nbeats - 1))
            rows["last"].append(int(is_last and b == nbeats - 1))

    max_beats = max(1, cfg.max_group // L)  # a group holds at most max_group weights per row
    if corners:
        top = (1 << cfg.scale_bits) - 1
        for f, dt in enumerate(cfg.dts):
            allc = np.arange(1 << dt.bits)
            nb = -(-allc.size // L)
            padded = np.resize(allc, nb * L).reshape(nb, L)
            for av, label in ((cfg.act.max, "max"), (cfg.act.min, "min")):
                for at in range(0, nb, max_beats):  # one output per group of at most max_beats beats
                    part = padded[at : at + max_beats]
                    group(len(part), [f] * R, codes=[part] * R, act=np.full(L, av), scale=np.full(R, top), is_last=True)
                names.append(f"{dt.name}: every code × {label} activation, scale {top}")
        group(1, [0] * R, scale=np.zeros(R, dtype=np.int64), is_last=True)
        names.append("scale 0")
    groups = 0
    while groups < n:
        for _g in range(int(rng.integers(1, min(3, cfg.max_groups) + 1))):  # within max_groups per output
            fmt_r = rng.integers(0, len(cfg.dts), R)
            group(int(rng.integers(1, min(max_beats, 6) + 1)), fmt_r, is_last=False)
            groups += 1
        rows["last"][-1] = 1
    names.append("random formats switching between groups")
    arr = {k: np.array(v) for k, v in rows.items()}
    y = cfg.model(arr["a"], arr["code"], arr["fmt"], arr["scale"], arr["group_last"], arr["last"])
    return StreamVectors(
        inputs={"i": arr},
        expected={"o": y},
        corners=names,
        triggers={"o": ("i", np.flatnonzero(arr["last"]))},
    )
