"""Structural features of each block, grouped by sub-block, for the analytic estimator.

A block's resources on a family are modelled as ``Σ coefficient × feature``
where the features are exact structural counts computed from the parameters
(register bits, adder bits, delay-line bits, multiplier sizes) and the
coefficients are fitted per (block, family, resource) against Yosys
(``bench/calibrate.py`` writes ``coefficients.json``). Features are split
wherever Yosys treats otherwise-equal logic differently — e.g. register bits
a DSP block can absorb versus ones it cannot, delay lines short enough to
stay flip-flops versus long enough to become shift-register LUTs — so one
linear model per family fits all regimes.

DSP counts are not fitted: they follow Yosys's multiplier mapping rules
exactly (:func:`dsp_tiles`), measured on this Yosys: xc7/xcup map a product
to a DSP48 when its operand widths sum to at least 9, ECP5 always uses
MULT18X18D, iCE40 ``-dsp`` needs at least 11.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..config import BlockConfig

#: Max signed operand widths of one DSP (A, B) and minimum product width per family.
DSP_SHAPE = {"xc7": (25, 18, 9), "xcup": (27, 18, 9), "ecp5": (18, 18, 2), "ice40": (16, 16, 11)}
#: Families with shift-register LUTs (SRL16E/SRLC32E) that absorb long delay lines.
HAS_SRL = {"xc7", "xcup"}
SRL_MIN = 3  # Yosys's minimum chain length for SRL inference
SHIFT_PACK = 18  # operand growth of the INT8 packing trick (a << 18) + b
SRL_DEPTH = 16

Features = dict[str, dict[str, float]]  # sub-block -> feature -> value
FEATURES: dict[str, Callable[[BlockConfig, str], Features]] = {}


def features_for(block: str):
    def register(fn):
        FEATURES[block] = fn
        return fn

    return register


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


def _add(feat: Features, part: str, **values: float) -> None:
    row = feat.setdefault(part, {})
    for k, v in values.items():
        if v:
            row[k] = row.get(k, 0.0) + v


def _merge(feat: Features, part: str, values: dict[str, float]) -> None:
    _add(feat, part, **values)


@features_for("mac_pe")
def mac_pe(cfg, family: str) -> Features:
    L, P = cfg.lanes, cfg.pipeline
    wa, wb, A = cfg.act.width, cfg.weight.width, cfg.acc.width
    pw = cfg.product_type.width
    tiles = dsp_tiles(wa, wb, family)
    dsp = tiles > 0
    # adders only need the bits that reach the accumulator, unless saturation looks at all of them
    cap = 10**6 if cfg.overflow == "saturate" else A + 1
    tree_bits, n, k = 0, L, 0
    while n > 1:
        tree_bits += (n // 2) * min(pw + k + 1, cap)
        n, k = (n + 1) // 2, k + 1
    feat: Features = {}
    if dsp:
        _add(feat, "multipliers", dsp=L * tiles)
    else:
        _add(feat, "multipliers", lut_mul=L * wa * wb, lut_mul_lanes=L)
    if not dsp:
        regime = "fabric"
    elif P == 0 and cfg.act.signed == cfg.weight.signed:
        regime = "cascade"  # products and the tree fold into the DSP post-adder chain
    else:
        regime = "dsp"
    _add(feat, "adder tree", **{f"tree_bits_{regime}": tree_bits, f"tree_adders_{regime}": L - 1})
    if cfg.overflow == "saturate":
        _add(feat, "adder tree", **{f"tree_bits_sat_{regime}": tree_bits})
        _add(feat, "accumulator", sat_bits=A)
    _add(feat, "accumulator", acc_add_bits=A, acc_reg_bits=2 * A, ctrl=1)
    absorb = "dsp" if dsp else "fabric"
    if P >= 2:
        _add(feat, "pipeline", **{f"opnd_reg_bits_{absorb}": L * (wa + wb)})
    if P >= 1:
        _add(feat, "pipeline", **{f"prod_reg_bits_{absorb}": L * min(pw, cap)})
    if P >= 3:
        _add(feat, "pipeline", tree_reg_bits=min(cfg.tree_type.width, cap))
    return feat


@features_for("systolic_array")
def systolic_array(cfg, family: str) -> Features:
    from ..blocks.systolic.mesh import tile_spans

    R, C, pe = cfg.rows, cfg.cols, cfg.pe
    wa, wb, A = pe.act.width, pe.weight.width, pe.acc.width
    NI, NJ = cfg.tile_rows, cfg.tile_cols
    tiles = dsp_tiles(wa, wb, family)
    feat: Features = {}
    if tiles:
        _add(feat, "PEs", dsp=R * C * tiles)
    else:
        _add(feat, "PEs", lut_mul=R * C * wa * wb, lut_mul_pes=R * C)
    _add(feat, "PEs", pe_acc_bits=R * C * A)
    if pe.overflow == "saturate":
        _add(feat, "PEs", pe_sat_bits=R * C * A)
    rows = tile_spans(R, cfg.tile)
    cols = tile_spans(C, cfg.tile)
    if cfg.ws:
        _add(feat, "mesh registers", pipe_reg_bits=R * (NJ - 1) * wa, inner_tile_pes=R * C - NI * C)
        for I, (_, nr) in enumerate(rows):
            _merge(feat, "skew / de-skew", delay_line(family, nr * wa, I))
        for J, (_, nc) in enumerate(cols):
            if cfg.psum_input:
                _merge(feat, "skew / de-skew", delay_line(family, nc * A, J))
            _merge(feat, "skew / de-skew", delay_line(family, nc * A, NJ - 1 - J))
        _add(feat, "input register", in_reg_bits=R * wa + (C * A if cfg.psum_input else 0))
        _add(feat, "control", ctrl=1, ctrl_rows=R, valid_bits=NI + NJ)
    else:
        _add(feat, "mesh registers", pipe_reg_bits=R * (C - 1) * (wa + 2) + (R - 1) * C * wb)
        for r in range(R):
            _merge(feat, "skew / de-skew", delay_line(family, wa, r))
            _merge(feat, "skew / de-skew", delay_line(family, 2, r))
        for c in range(C):
            _merge(feat, "skew / de-skew", delay_line(family, wb, c))
            _merge(feat, "skew / de-skew", delay_line(family, A, C - 1 - c))
        _add(feat, "read-out", readout_bits=R * C * A, readout_reg_bits=C * A)
        _add(feat, "input register", in_reg_bits=R * wa + C * wb + 2)
        _add(feat, "control", ctrl=1, valid_bits=C)
    return feat


@features_for("sparse_chain")
def sparse_chain(cfg, family: str) -> Features:
    S, G, gmin = cfg.stages, cfg.taps, cfg.g_min
    wa, wb, A = cfg.act.width, cfg.weight.width, cfg.acc.width
    lanes = 2 if cfg.pack_int8 else 1
    pats = cfg.nm
    cw = cfg.chain_type.width
    feat: Features = {}
    if cfg.pack_int8:
        tiles = dsp_tiles(SHIFT_PACK + wa, wb, family)
        _add(feat, "stages", **({"dsp": S * tiles} if tiles else {"lut_mul": S * (SHIFT_PACK + wa) * wb}))
        _add(feat, "stages", unpack_bits=S * 2 * cw)
    else:
        tiles = dsp_tiles(wa, wb, family)
        _add(feat, "stages", **({"dsp": S * tiles} if tiles else {"lut_mul": S * wa * wb}))
    _add(feat, "stages", chain_reg_bits=S * lanes * cw, link_bits=(G - 1) * lanes * cw)
    mux_inputs = 0
    for s in range(S):
        cands = set()
        for p in pats:
            g = cfg.group_len(p)
            base = ((s % g) // p.n) * p.m
            cands |= set(range(base, base + p.m))
        mux_inputs += len(cands)
    _add(feat, "sparse muxes", mux_input_bits=mux_inputs * wa * lanes, mode_bits=S * len(pats))
    for s in range(S):
        _merge(feat, "skew", delay_line(family, wa * lanes + wb, s))
    _add(feat, "input register", in_reg_bits=S * (wa * lanes + wb + cfg.index_bits) + 8)
    _add(feat, "tap accumulators", acc_add_bits=G * lanes * A, acc_reg_bits=2 * G * lanes * A, ctrl=1)
    if cfg.overflow == "saturate":
        _add(feat, "tap accumulators", sat_bits=G * lanes * A)
    for k in range(G):
        _merge(feat, "tap accumulators", delay_line(family, A * lanes, (G - 1 - k) * gmin))
        _merge(feat, "tap accumulators", delay_line(family, 4, (k + 1) * gmin))
    _add(feat, "output", out_reg_bits=G * lanes * A, out_mux_bits=G * lanes * A * len(pats))
    return feat


def _tree_bits(n: int, width: int) -> int:
    bits, k = 0, 0
    while n > 1:
        bits += (n // 2) * (width + k + 1)
        n, k = (n + 1) // 2, k + 1
    return bits


@features_for("ternary_pe")
def ternary_pe(cfg, family: str) -> Features:
    L, wa, A = cfg.lanes, cfg.act.width, cfg.acc.width
    feat: Features = {}
    _add(feat, "lanes", negate_bits=L * (wa + 1), tree_bits_fabric=_tree_bits(L, wa + 1))
    _add(feat, "accumulator", acc_add_bits=A, acc_reg_bits=2 * A, ctrl=1)
    _add(feat, "input register", in_reg_bits=L * (wa + 2) + 1)
    return feat


@features_for("olive_mac")
def olive_mac(cfg, family: str) -> Features:
    L, wa, A = cfg.lanes, cfg.act.width, cfg.acc.width
    tiles = dsp_tiles(wa, 4, family)
    feat: Features = {}
    _add(feat, "decoders", decode_lanes=L)
    _add(feat, "lanes", **({"dsp": L * tiles} if tiles else {"lut_mul": L * wa * 4}))
    _add(feat, "lanes", shift_bits=L * (wa + 4) * 2, tree_bits_fabric=_tree_bits(L, wa + 11))
    _add(feat, "accumulator", acc_add_bits=A, acc_reg_bits=2 * A, ctrl=1)
    _add(feat, "input register", in_reg_bits=L * (wa + 4) + 1)
    return feat


@features_for("mixpe")
def mixpe(cfg, family: str) -> Features:
    L, wa, wb = cfg.lanes, cfg.act.width, cfg.weight_bits
    feat: Features = {}
    _add(
        feat,
        "shift-add lanes",
        shift_add_bits=L * wb * (wa + wb),
        tree_bits_fabric=_tree_bits(L, wa + wb) + _tree_bits(L, wa),
    )
    g_qa, g_a, c = cfg.group_qa_type.width, cfg.group_a_type.width, cfg.corrected_type.width
    _add(feat, "group sums", acc_add_bits=g_qa + g_a, acc_reg_bits=g_qa + g_a, ctrl=1)
    zt = dsp_tiles(g_a, wb, family) if cfg.asymmetric else 0
    st = dsp_tiles(c, cfg.scale_bits, family)
    _add(feat, "dequantizer", dsp=zt + st, corr_bits=c, corr_reg_bits=c + cfg.scale_bits)
    _add(feat, "dequantizer", total_add_bits=cfg.acc.width, total_reg_bits=2 * cfg.acc.width)
    _add(feat, "input register", in_reg_bits=L * (wa + wb) + cfg.scale_bits + wb + 2)
    return feat


@features_for("bitserial_pe")
def bitserial_pe(cfg, family: str) -> Features:
    R, L, wa = cfg.rows, cfg.lanes, cfg.act.width
    G, T, B = cfg.group_type.width, cfg.total_type.width, cfg.beat_type.width
    feat: Features = {}
    # per lane: digit decoder (multiple and sign from digit index, code, format), a·{0,1,2,4} mux with
    # conditional inversion (one LUT per bit), then one carry-chain adder per tree node
    _add(feat, "digit decoders", decode_outputs=R * L * 3)
    _add(feat, "lanes", term_mux_bits=R * L * (wa + 3), tree_bits_fabric=R * _tree_bits(L, wa + 4))
    _add(feat, "beat and group accumulators", acc_add_bits=R * (B + G), acc_reg_bits=R * (B + G), ctrl=1)
    if cfg.dequant == "serial":
        _add(feat, "dequantizers", acc_add_bits=R * T, acc_reg_bits=R * (G + 2 * cfg.scale_bits))
    else:
        _add(
            feat,
            "dequantizers",
            dsp=R * dsp_tiles(G, cfg.scale_bits, family),
            acc_add_bits=R * T,
            acc_reg_bits=R * (G + cfg.scale_bits),
        )
    _add(feat, "totals", acc_reg_bits=2 * R * T)
    _add(feat, "input register", in_reg_bits=L * wa + R * (L * cfg.code_bits + cfg.fmt_bits + cfg.scale_bits) + 2)
    return feat


def features(config: BlockConfig, family: str) -> Features:
    fn = FEATURES.get(config.block_name)
    if fn is None:
        raise KeyError(config.block_name)
    return fn(config, family)


def flat(feat: Features) -> dict[str, float]:
    """Sum features over sub-blocks (the regression's view)."""
    out: dict[str, float] = {}
    for row in feat.values():
        for k, v in row.items():
            out[k] = out.get(k, 0.0) + v
    return out
