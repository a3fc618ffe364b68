"""Low-bit PE test data: random beats, every code against extreme activations, and the configuration tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...lowbit import olive_encode
from ...numtype import Int, UInt
from ...vectors import StreamVectors, biased

if TYPE_CHECKING:
    from .mixpe import MixPEConfig
    from .olive import OliveMACConfig
    from .ternary import TernaryPEConfig


def ternary_stimulus(cfg: TernaryPEConfig, rng: np.random.Generator, n: int, corners: bool) -> StreamVectors:
    L = cfg.lanes
    seqs = []
    if corners:
        for av in (cfg.act.min, cfg.act.max):
            for code in (1, 3, 0, 2):
                seqs.append((np.full((min(3, cfg.max_len), L), av), np.full((min(3, cfg.max_len), L), code)))
        k = min(cfg.max_len, 256)
        seqs.append((np.full((k, L), cfg.act.min), np.full((k, L), 3)))
    for _ in range(n):
        k = int(rng.integers(1, min(8, cfg.max_len) + 1))
        seqs.append((biased(rng, cfg.act, (k, L)), rng.integers(0, 4, (k, L))))
    names = ["every code × extreme activations", f"min × -1 over {min(cfg.max_len, 256)} beats"]
    return sequences_to_vectors(cfg, seqs, names, "w")


def olive_stimulus(cfg: OliveMACConfig, rng: np.random.Generator, n: int, corners: bool) -> StreamVectors:
    P, L = cfg.pairs, cfg.lanes
    seqs, names = [], []
    if corners:
        every = np.arange(256)  # every byte, including both-1000 and 0000 codes
        nb = -(-256 // P)
        codes = np.resize(every, nb * P).reshape(nb, P)
        for av in (cfg.act.min, cfg.act.max):
            for at in range(0, nb, cfg.max_len):  # accumulations of at most max_len beats
                part = codes[at : at + cfg.max_len]
                seqs.append((np.full((len(part), L), av), part))
        names.append("every pair byte × extreme activations")
    for _ in range(n):
        k = int(rng.integers(1, min(8, cfg.max_len) + 1))
        q = rng.integers(-7, 8, (k, L))
        out = rng.random((k, L)) < 0.08  # ~8 % outliers, up to ±96
        q = np.where(out, rng.choice([12, 16, 24, 32, 48, 64, 96, -12, -16, -24, -32, -48, -64, -96], (k, L)), q)
        seqs.append((biased(rng, cfg.act, (k, L)), olive_encode(q).reshape(k, P)))
    return sequences_to_vectors(cfg, seqs, names + ["random INT4 with ~8 % abfloat outliers"], "pair")


def mixpe_stimulus(cfg: MixPEConfig, rng: np.random.Generator, n: int, corners: bool) -> StreamVectors:
    L, W = cfg.lanes, cfg.weight
    top = (1 << cfg.scale_bits) - 1
    zmax = (1 << cfg.weight_bits) - 1 if cfg.asymmetric else 0
    beats = {k: [] for k in ("a", "q", "scale", "zero", "group_last", "last")}

    def group(
        nb: int,
        a: int | None = None,
        q: int | None = None,
        scale: int | None = None,
        zero: int | None = None,
        last: bool = False,
    ) -> None:
        s = int(rng.integers(0, top + 1)) if scale is None else scale
        z = int(rng.integers(0, zmax + 1)) if zero is None else zero
        for b in range(nb):
            beats["a"].append(biased(rng, cfg.act, L) if a is None else np.full(L, a))
            beats["q"].append(rng.integers(W.min, W.max + 1, L) if q is None else np.full(L, q))
            beats["scale"].append(s)
            beats["zero"].append(z)
            beats["group_last"].append(int(b == nb - 1))
            beats["last"].append(int(last and b == nb - 1))

    names = []
    if corners:
        for av in (cfg.act.min, cfg.act.max):
            for qv in (W.min, W.max, 0):
                group(min(2, max(1, cfg.max_group // L)), av, qv, top, zmax, last=True)
        names.append("extreme activations × extreme weights, max scale and zero point")
        k = max(1, min(cfg.max_group // L, 16))
        group(k, cfg.act.min, W.min, top, zmax, last=True)
        names.append(f"min × min group of {k} beats")
    groups = 0
    while groups < n:
        for _ in range(int(rng.integers(1, min(3, cfg.max_groups) + 1))):  # within max_groups per output
            group(int(rng.integers(1, max(1, min(cfg.max_group // L, 6)) + 1)))
            groups += 1
        beats["last"][-1] = 1
    arr = {k: np.array(v) for k, v in beats.items()}
    y = cfg.model(arr["a"], arr["q"], arr["scale"], arr["zero"], arr["group_last"], arr["last"])
    return StreamVectors(
        inputs={"i": arr},
        expected={"o": y},
        triggers={"o": ("i", np.flatnonzero(arr["last"]))},
        corners=names + ["random groups, scales and zero points"],
    )


def sequences_to_vectors(
    cfg: TernaryPEConfig | OliveMACConfig, seqs: list, names: list[str], key: str
) -> StreamVectors:
    """Accumulations ``[(a beats, weight beats)]`` as one stream, ``last`` on each one's final beat."""
    a = np.concatenate([s[0] for s in seqs])
    w = np.concatenate([s[1] for s in seqs])
    last = np.zeros(len(a), dtype=np.int64)
    last[np.cumsum([len(s[0]) for s in seqs]) - 1] = 1
    y = cfg.model(a, w, last)
    return StreamVectors(
        inputs={"i": {"a": a, key: w, "last": last}},
        expected={"o": y},
        triggers={"o": ("i", np.flatnonzero(last))},
        corners=names,
    )


def ternary_configs(C: type[TernaryPEConfig]) -> dict[str, TernaryPEConfig]:

    return {
        "l8": C(),
        "l3_u8": C(lanes=3, act=UInt(8), acc=Int(22)),
        "l16_acc28": C(lanes=16, acc=Int(28)),
        "l8_pipe1": C(pipeline=1),
        "l5_u8_pipe2": C(lanes=5, act=UInt(8), acc=Int(22), pipeline=2),
    }


def olive_configs(C: type[OliveMACConfig]) -> dict[str, OliveMACConfig]:

    return {
        "pairs4": C(pairs=4),
        "pairs1_a16": C(pairs=1, act=Int(16), acc=Int(40)),
        "pairs4_pipe1": C(pairs=4, pipeline=1),
        "pairs3_pipe2": C(pairs=3, pipeline=2),
        "pairs2_a16_pipe3": C(pairs=2, act=Int(16), acc=Int(40), pipeline=3),
    }


def mixpe_configs(C: type[MixPEConfig]) -> dict[str, MixPEConfig]:

    return {
        "s4_a8_l8": C(lanes=8),
        "u3_a16_l4": C(lanes=4, asymmetric=True, weight_bits=3, act=Int(16)),
        "s2_l5": C(lanes=5, weight_bits=2),
        "s4_l8_pipe1": C(lanes=8, pipeline=1),
        "u4_l3_pipe2": C(lanes=3, asymmetric=True, pipeline=2),
        "u3_a16_l4_pipe3": C(lanes=4, asymmetric=True, weight_bits=3, act=Int(16), pipeline=3),
        "s4_l6_pipe4": C(lanes=6, pipeline=4),
    }


def ternary_formal_configs(C: type[TernaryPEConfig]) -> dict[str, TernaryPEConfig]:
    """Small configurations for ``hwgen prove``."""
    return {
        "l2_int3": C(lanes=2, act=Int(3), acc=Int(7), max_len=3),
        "l3_u2": C(lanes=3, act=UInt(2), acc=Int(6), max_len=2),
        "l2_int3_pipe2": C(lanes=2, act=Int(3), acc=Int(7), max_len=3, pipeline=2),
    }


def olive_formal_configs(C: type[OliveMACConfig]) -> dict[str, OliveMACConfig]:
    """Small configurations for ``hwgen prove``: every pair byte, 2-3-bit activations."""
    return {
        "pairs1_int3": C(pairs=1, act=Int(3), acc=Int(12), max_len=2),
        "pairs2_u2": C(pairs=2, act=UInt(2), acc=Int(13), max_len=2),
        "pairs1_int3_pipe3": C(pairs=1, act=Int(3), acc=Int(12), max_len=2, pipeline=3),
    }


def mixpe_formal_configs(C: type[MixPEConfig]) -> dict[str, MixPEConfig]:
    """Small configurations for ``hwgen prove``: signed and asymmetric weights, short groups."""
    return {
        "s2_l2_a3": C(lanes=2, weight_bits=2, act=Int(3), scale_bits=2, max_group=4, max_groups=2),
        "u3_l2_a2": C(lanes=2, weight_bits=3, asymmetric=True, act=Int(2), scale_bits=2, max_group=4, max_groups=2),
        "u2_l2_a2_pipe4": C(
            lanes=2, weight_bits=2, asymmetric=True, act=Int(2), scale_bits=2, max_group=4, max_groups=2, pipeline=4
        ),
    }
