"""Structural counts for the analytic estimator: what a block's features are made of.

Every block reports its resources as *features* (:data:`Features`): exact
structural counts per sub-block (register bits, adder bits, delay-line bits,
multiplier sizes), computed from its parameters by
:meth:`hwgen.config.BlockConfig.features`. The estimator
(:mod:`hwgen.estimate`) weighs them with coefficients fitted to Yosys per
family. Features are split wherever Yosys treats otherwise-equal logic
differently — register bits a DSP block can absorb versus ones it cannot,
delay lines short enough to stay flip-flops versus long enough to become
shift-register LUTs — so one linear model per family fits all regimes.

DSP counts are not fitted: they follow Yosys's multiplier mapping rules
exactly (:func:`dsp_tiles`), measured on this Yosys: xc7/xcup map a product
to a DSP48 when its operand widths sum to at least 9, ECP5 always uses
MULT18X18D, iCE40 ``-dsp`` needs at least 11.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

#: Device families hwgen estimates and synthesizes for, with their Yosys pass.
FAMILIES: dict[str, str] = {
    "xc7": "Xilinx 7-series (DSP48E1, RAMB36E1)",
    "xcup": "Xilinx UltraScale+ (DSP48E2, RAMB36E2, URAM288)",
    "ecp5": "Lattice ECP5 (MULT18X18D, DP16KD 18 Kb EBR)",
    "ice40": "Lattice iCE40 UltraPlus (SB_MAC16, SB_RAM40_4K, SB_SPRAM256KA)",
}
#: Max signed operand widths of one DSP (A, B) and minimum product width per family.
DSP_SHAPE = {"xc7": (25, 18, 9), "xcup": (27, 18, 9), "ecp5": (18, 18, 2), "ice40": (16, 16, 11)}
#: Families with shift-register LUTs (SRL16E/SRLC32E) that absorb long delay lines.
HAS_SRL = {"xc7", "xcup"}
SRL_MIN = 3  # Yosys's minimum chain length for SRL inference
SRL_DEPTH = 16
SHIFT_PACK = 18  # operand growth of the INT8 packing trick (a << 18) + b

#: sub-block -> feature -> count
Features = dict[str, dict[str, float]]


def dsp_tiles(wa: int, wb: int, family: str) -> int:
    """DSP blocks one ``wa × wb`` multiplier takes on ``family`` (0 = built from LUTs)."""
    amax, bmax, ymin = DSP_SHAPE[family]
    if min(wa, wb) < 2 or wa + wb < ymin:
        return 0
    a, b = max(wa, wb), min(wa, wb)
    if a <= amax and b <= bmax:
        return 1
    na = 1 if a <= amax else 1 + math.ceil((a - amax) / (amax - 1))
    nb = 1 if b <= bmax else 1 + math.ceil((b - bmax) / (bmax - 1))
    return na * nb


def delay_line(family: str, bits: int, depth: int) -> dict[str, float]:
    """Features of a ``bits``-wide, ``depth``-deep reset-less delay line."""
    if depth <= 0 or bits <= 0:
        return {}
    if family in HAS_SRL and depth >= SRL_MIN:
        return {"srl_lines": bits * math.ceil(depth / SRL_DEPTH)}
    return {"delay_ff_bits": bits * depth}


def ram_read(family: str | None) -> str:
    """The read port of :func:`hwgen.pipeline.ram_delay` for ``family``: ``sync`` on iCE40 (it has block RAM
    only), else ``comb`` (distributed RAM; None: a family-independent conversion)."""
    return "sync" if family == "ice40" else "comb"


def memory_delay(family: str, bits: int, depth: int, ram_min: int, read: str | None = None) -> dict[str, float]:
    """Features of :func:`hwgen.pipeline.long_delay` from ``ram_min`` cycles on, else :func:`delay_line`:
    a memory of ``depth`` words read asynchronously, or with ``read="sync"`` (iCE40's default,
    :func:`ram_read`) of ``depth - 1`` words and an output register."""
    if depth < ram_min or bits <= 0:
        return delay_line(family, bits, depth)
    sync = (read or ram_read(family)) == "sync"
    words = depth - 1 if sync else depth
    feat = {"ram_delay_bits": bits * words, "ram_delay_words": bits * math.ceil(words / 16)}
    return feat | ({"delay_ff_bits": bits} if sync else {})


def tree_bits(n: int, width: int, cap: int | None = None) -> int:
    """Adder bits of a balanced tree over ``n`` values of ``width`` bits (each level one bit wider),
    each node capped at ``cap`` bits when only the low bits are used."""
    bits, k = 0, 0
    while n > 1:
        node = width + k + 1
        bits += (n // 2) * (node if cap is None else min(node, cap))
        n, k = (n + 1) // 2, k + 1
    return bits


def add(feat: Features, part: str, **values: float) -> None:
    """Add ``values`` to sub-block ``part`` (zero counts are left out)."""
    row = feat.setdefault(part, {})
    for k, v in values.items():
        if v:
            row[k] = row.get(k, 0.0) + v


def merge(feat: Features, part: str, values: dict[str, float]) -> None:
    """Add a feature dict (e.g. a :func:`delay_line`) to sub-block ``part``."""
    add(feat, part, **values)


def flat(feat: Features) -> dict[str, float]:
    """Features summed over sub-blocks (the regression's view)."""
    out: dict[str, float] = {}
    for row in feat.values():
        for k, v in row.items():
            out[k] = out.get(k, 0.0) + v
    return out


@dataclass(frozen=True)
class TimingPath:
    """The shape of one register-to-register path, for the Fmax estimate (:mod:`hwgen.estimate.timing`).

    ``mult``: an unregistered DSP multiplier on the path (inputs and output in fabric registers);
    ``dsp_internal``: the path from a DSP cell's own input registers to its own output register;
    ``dsp_out``: the path starts at a DSP cell's output register (the route out of the DSP column);
    ``lut_mult_bits``: the operand bits (``wa + wb``) of a multiplier built from LUTs instead;
    ``memory``: the path starts at a memory's synchronous read port (block RAM clock-to-out and its
    output multiplexers);
    ``adders``: carry-chain adders in series, the longest ``carry_bits`` wide; ``luts``: LUT levels
    outside carry chains (muxes, saturation compares, OR trees); ``fanout``: the largest fanout of a
    net on the path (the stall enable of a block reaches every register it holds); ``size``: the
    design's register bits (routing grows with the area the design spreads over).
    """

    name: str
    mult: int = 0
    dsp_internal: int = 0
    dsp_out: int = 0
    lut_mult_bits: int = 0
    memory: int = 0
    adders: int = 0
    carry_bits: int = 0
    luts: int = 0
    fanout: int = 1
    size: int = 1

    def features(self) -> dict[str, float]:
        """The path's terms in the delay model (ns = Σ coefficient × term)."""
        return {
            "base": 1.0,
            "mult": float(self.mult),
            "dsp_internal": float(self.dsp_internal),
            "dsp_out": float(self.dsp_out),
            "lut_mult_bits": float(self.lut_mult_bits),
            "memory": float(self.memory),
            "adders": float(self.adders),
            "carry_bits": float(self.carry_bits),
            "luts": float(self.luts),
            "fanout_log2": math.log2(max(self.fanout, 1)),
            "size_log2": math.log2(max(self.size, 1)),
            # routes into and out of the DSP columns grow with the area the design spreads over
            "mult_x_size_log2": self.mult * math.log2(max(self.size, 1)),
            "dsp_out_x_size_log2": self.dsp_out * math.log2(max(self.size, 1)),
        }


def series(*segments: dict[str, int]) -> dict[str, int]:
    """The terms of path segments one after another: counts add up; ``carry_bits`` (the widest adder) and
    ``fanout`` (the largest) do not."""
    terms: dict[str, int] = {}
    for seg in segments:
        for k, v in seg.items():
            terms[k] = max(terms.get(k, 0), v) if k in ("carry_bits", "fanout") else terms.get(k, 0) + v
    return terms


def chain_paths(
    chain: list[tuple[str, dict[str, int]] | str], active: Collection[str], size: int, prefix: str = ""
) -> list[TimingPath]:
    """The register-to-register paths of a chain of segments ``(name, terms)`` and named cut points (a
    ``str`` between segments): an ``active`` cut point is a register and ends a path; the segments between
    two registers are one path (:func:`series`), named ``prefix`` + their names. ``size``: the design's
    register bits."""
    paths: list[TimingPath] = []
    names: list[str] = []
    terms: list[dict[str, int]] = []
    for item in [*chain, ""]:
        if isinstance(item, str):
            if item and item not in active:
                continue
            if names:
                paths.append(TimingPath(prefix + ", ".join(names), size=size, **series(*terms)))
            names, terms = [], []
        else:
            names.append(item[0])
            terms.append(item[1])
    return paths


def tree_path(n: int, width: int) -> dict[str, int]:
    """The terms of a balanced adder tree over ``n`` values of ``width`` bits (one carry chain per level)."""
    levels = math.ceil(math.log2(n)) if n > 1 else 0
    return {"adders": levels, "carry_bits": width + levels} if levels else {}


def multiplier_path(wa: int, wb: int, family: str) -> dict[str, int]:
    """The multiplier terms of a :class:`TimingPath`: one DSP multiply (a product wider than one DSP block
    adds the carry chains that sum the blocks' partial products, ``log2(tiles)`` levels of ``wa + wb`` bits)
    or a LUT multiplier."""
    tiles = dsp_tiles(wa, wb, family)
    if not tiles:
        return {"lut_mult_bits": wa + wb}
    levels = math.ceil(math.log2(tiles))
    return {"mult": 1, "adders": levels, "carry_bits": wa + wb} if levels else {"mult": 1}
