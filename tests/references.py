"""Independent reference models: every block's semantics restated with plain Python loops and integers.

They share no code with the golden models under test (no NumPy arithmetic
helpers, no ``NumType.fold``, no ``hwgen.requant``); the NumPy level of
``tests/test_levels.py`` checks each golden model against them, so expected
values are never produced by the code under test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from hwgen.lowbit import DATATYPES
from hwgen.vectors import StreamVectors


def fold(value: int, t, rule: str) -> int:
    """``value`` into type ``t`` by ``rule``, written out: wrap modulo 2^width, clamp, or unchanged."""
    if rule == "saturate":
        return min(t.max, max(t.min, value))
    if rule == "wrap":
        span = 1 << t.width
        v = value % span
        return v - span if t.signed and v >= span // 2 else v
    return value


def round_half_away(value: int, shift: int) -> int:
    """``value / 2^shift`` rounded half away from zero, through exact fractions."""
    q = Fraction(value, 1 << shift)
    mag = abs(q)
    whole = int(mag)
    if mag - whole >= Fraction(1, 2):
        whole += 1
    return whole if q >= 0 else -whole


def round_to_even(value: int, shift: int) -> int:
    """``value / 2^shift`` rounded half to even: Python's ``round`` of the exact fraction."""
    return round(Fraction(value, 1 << shift))


def mac_pe(cfg, v: StreamVectors) -> dict:
    """Output ``j`` takes weights ``w[j·lanes : (j+1)·lanes]`` of each beat; one value per result, or a
    list of ``outputs`` values."""
    i, L, O = v.inputs["i"], cfg.lanes, cfg.outputs
    out, acc = [], [0] * O
    for a, w, last in zip(i["a"], i["w"], i["last"]):
        for j in range(O):
            dot = sum(int(x) * int(y) for x, y in zip(a, w[j * L : (j + 1) * L]))
            acc[j] = fold(acc[j] + dot, cfg.acc, cfg.overflow)
        if last:
            out.append(acc[0] if O == 1 else list(acc))
            acc = [0] * O
    return {"o": out}


def gemm_fold(pe, a, b, acc0=None) -> list[list[int]]:
    """``C[i][j] = fold over k of acc + a[i][k]·b[k][j]``, from ``acc0`` (or 0), in k order."""
    M, K, N = len(a), len(b), len(b[0]) if len(b) else 0
    out = []
    for i in range(M):
        row = []
        for j in range(N):
            acc = 0 if acc0 is None else int(acc0[i][j])
            for k in range(K):
                acc = fold(acc + int(a[i][k]) * int(b[k][j]), pe.acc, pe.overflow)
            row.append(acc)
        out.append(row)
    return out


def systolic_array(cfg, v: StreamVectors) -> dict:
    """Every output row of the tiled stream: WS tiles fold the psum input with the weight tile; OS tiles
    fold their K beats from zero."""
    R, C = cfg.rows, cfg.cols
    rows: list[list[int]] = []
    if cfg.ws:
        w = v.inputs["w"]["w"]
        a = v.inputs["a"]
        ends = [k for k, flag in enumerate(a["last"]) if flag]
        start = 0
        for t, end in enumerate(ends):
            tile_w = [list(r) for r in w[t * R : (t + 1) * R]]
            acts = [list(r) for r in a["a"][start : end + 1]]
            psum = a["psum"][start : end + 1] if "psum" in a else [[0] * C] * len(acts)
            rows += gemm_fold(cfg.pe, acts, tile_w, psum)
            start = end + 1
    else:
        i = v.inputs["i"]
        start = 0
        for end in [k for k, flag in enumerate(i["last"]) if flag]:
            cols_a = [list(r) for r in i["a"][start : end + 1]]  # beat k: column k of A
            a_tile = [[cols_a[k][r] for k in range(len(cols_a))] for r in range(R)]
            rows += gemm_fold(cfg.pe, a_tile, [list(r) for r in i["w"][start : end + 1]])
            start = end + 1
    return {"o": rows}


def sparse_chain(cfg, v: StreamVectors) -> dict:
    """Per beat and group: the dot product of the group's compressed weights with the activations their
    in-block indices pick; accumulated per group until ``last``."""
    i = v.inputs["i"]
    S, G = cfg.stages, cfg.taps
    xs = [i["x"]] + ([i["x1"]] if cfg.pack_int8 else [])
    outs: list[list[list[int]]] = [[] for _ in xs]
    accs = [[0] * G for _ in xs]
    for b in range(len(i["last"])):
        p = cfg.nm[int(i["mode"][b])]
        g = S * p.n // p.m
        for v_, x in enumerate(xs):
            for q in range(S // g):
                total = 0
                for j in range(g):
                    s = q * g + j
                    pos = (j // p.n) * p.m + (0 if p.dense else int(i["idx"][b][s]))
                    total += int(i["w"][b][s]) * int(x[b][pos])
                accs[v_][q] = fold(accs[v_][q] + total, cfg.acc, cfg.overflow)
        if i["last"][b]:
            for v_ in range(len(xs)):
                outs[v_].append([accs[v_][q] if q < S // g else 0 for q in range(G)])
            accs = [[0] * G for _ in xs]
    return {"o": {"y": outs[0], **({"y1": outs[1]} if cfg.pack_int8 else {})}}


def bitserial_pe(cfg, v: StreamVectors) -> dict:
    """Group sums of activation × the format's grid value, times the group scale, summed per output row."""
    i = v.inputs["i"]
    R = cfg.rows
    out, total, group = [], [0] * R, [0] * R
    for b in range(len(i["last"])):
        for r in range(R):
            dt = DATATYPES[cfg.formats[int(i["fmt"][b][r])].upper()]
            values = dt.decode(np.asarray(i["code"][b][r]))  # the format's value table (tests/test_lowbit.py)
            group[r] += sum(int(a) * int(w) for a, w in zip(i["a"][b], values))
            if i["group_last"][b] or i["last"][b]:
                total[r] += group[r] * int(i["scale"][b][r])
                group[r] = 0
        if i["last"][b]:
            out.append(total)
            total = [0] * R
    return {"o": out}


def mixpe(cfg, v: StreamVectors) -> dict:
    i = v.inputs["i"]
    out, total, sqa, sa = [], 0, 0, 0
    for b in range(len(i["last"])):
        sqa += sum(int(a) * int(q) for a, q in zip(i["a"][b], i["q"][b]))
        sa += sum(int(a) for a in i["a"][b])
        if i["group_last"][b] or i["last"][b]:
            total += int(i["scale"][b]) * (sqa - int(i["zero"][b]) * sa)
            sqa = sa = 0
        if i["last"][b]:
            out.append(total)
            total = 0
    return {"o": out}


def _sums(last, per_beat) -> list[int]:
    out, acc = [], 0
    for s, end in zip(per_beat, last):
        acc += s
        if end:
            out.append(acc)
            acc = 0
    return out


def olive_value(nib: int, other: int) -> int:
    """One nibble of an outlier-victim pair: 1000 is the victim (0) next to an outlier; next to a victim a
    nibble is an abfloat ``s e1 e0 m`` = ±(2 + m)·2^(e + 2); otherwise a signed INT4."""
    if nib == 0b1000:
        return 0
    if other == 0b1000:
        mag = (2 + (nib & 1)) << (((nib >> 1) & 3) + 2)
        return -mag if nib & 8 else mag
    return nib - 16 if nib & 8 else nib


def olive_mac(cfg, v: StreamVectors) -> dict:
    i = v.inputs["i"]
    per_beat = []
    for a, pairs in zip(i["a"], i["pair"]):
        w = []
        for p in pairs:
            lo, hi = int(p) & 0xF, int(p) >> 4
            w += [olive_value(lo, hi), olive_value(hi, lo)]
        per_beat.append(sum(int(x) * y for x, y in zip(a, w)))
    return {"o": _sums(i["last"], per_beat)}


def ternary_pe(cfg, v: StreamVectors) -> dict:
    i = v.inputs["i"]
    value = {0: 0, 1: 1, 2: 0, 3: -1}
    per_beat = [sum(int(x) * value[int(c)] for x, c in zip(a, w)) for a, w in zip(i["a"], i["w"])]
    return {"o": _sums(i["last"], per_beat)}


def gemm_rows(s, x_rows) -> list[int]:
    """One slice's rows: wrapping dot products, the column's bias (wrapping), then requantize (exact
    fractions; the column's own multiplier and shift when per-channel) and ReLU, row-major."""
    out = []
    for x in x_rows:
        for j in range(s.n):
            acc = fold(sum(int(x[k]) * int(s.weights[k][j]) for k in range(s.k)), s.acc, "wrap")
            if s.bias:
                acc = fold(acc + s.bias[j], s.acc, "wrap")
            if s.requant:
                rnd = round_to_even if s.rounding == "half_even" else round_half_away
                mult = s.multipliers[j] if s.multipliers else s.multiplier
                shift = s.shifts[j] if s.shifts else s.shift
                acc = min(s.out.max, max(s.out.min, s.zero_point + rnd(acc * mult, shift)))
            if s.relu:  # the quantized ReLU: a real 0 is the output zero point
                acc = max(acc, s.zero_point if s.requant else 0)
            out.append(acc)
    return out


def gemm_core(cfg, v: StreamVectors) -> dict:
    x = list(v.inputs["i"])
    return {"o": gemm_rows(cfg, [x[r * cfg.k : (r + 1) * cfg.k] for r in range(len(x) // cfg.k)])}


def record_core(cfg, v: StreamVectors) -> dict:
    x, pos, rec, out = list(v.inputs["i"]), 0, 0, []
    while pos < len(x):
        s = cfg.slices[cfg.program[rec % len(cfg.program)]]
        n = cfg.rows[rec % len(cfg.program)]
        out += gemm_rows(s, [x[pos + r * s.k : pos + (r + 1) * s.k] for r in range(n)])
        pos, rec = pos + n * s.k, rec + 1
    return {"o": out}


def softmax(cfg, v: StreamVectors) -> dict:
    """I-BERT's integer softmax from its definition, with Python integers: constants from the scale,
    z by integer division, the reciprocal by integer division, per row."""
    s = cfg.scale
    q_ln2, q_b = math.floor(math.log(2) / s), math.floor(1.353 / s)
    q_c = math.floor(0.344 / (0.3585 * s * s))
    l_bits = (q_b * q_b + q_c).bit_length()
    sum_bits = ((q_b * q_b + q_c) * cfg.max_len).bit_length()
    w = cfg.out.width

    def iexp(d: int) -> int:
        z = (-d) // q_ln2
        p = d + z * q_ln2
        return 0 if z >= l_bits else ((p + q_b) ** 2 + q_c) >> z

    ys, lasts, row = [], [], []
    for x, end in zip(v.inputs["i"]["x"], v.inputs["i"]["last"]):
        row.append(int(x))
        if end:
            e = [iexp(a - max(row)) for a in row]
            r = (1 << (w + sum_bits)) // sum(e)
            ys += [min((1 << w) - 1, (ei * r) >> sum_bits) for ei in e]
            lasts += [int(j == len(row) - 1) for j in range(len(row))]
            row = []
    return {"o": {"y": ys, "last": lasts}}


def activation(cfg, v: StreamVectors) -> dict:
    """Each element's function value from its definition (math.erf / math.exp / math.tanh), divided by the
    output scale, rounded half to even and clamped, with Python floats and integers."""

    def f(x: float) -> float:
        if cfg.function == "gelu":
            return 0.5 * x * (1 + math.erf(x / math.sqrt(2)))
        if cfg.function == "tanh":
            return math.tanh(x)
        sig = 1 / (1 + math.exp(-x)) if x > -700 else 0.0
        return sig if cfg.function == "sigmoid" else x * sig

    def one(x: int) -> int:
        return min(cfg.out.max, max(cfg.out.min, round(f(x * cfg.in_scale) / cfg.out_scale)))

    x = np.asarray(v.inputs["i"])
    return {"o": [one(int(a)) for a in x] if x.ndim == 1 else [[one(int(a)) for a in row] for row in x]}


def topk(cfg, v: StreamVectors) -> dict:
    """Per row: indices picked greedily, each the largest remaining score (the first such on ties)."""
    i = v.inputs["i"]
    out: dict[str, list] = {"index": [], "score": [], "last": []}
    row: list[int] = []
    k = 0
    for s, kk, end in zip(i["score"], i["k"], i["last"]):
        if not row:
            k = int(kk)
        row.append(int(s))
        if end:
            left = list(range(len(row)))
            picks = []
            for _ in range(min(k, len(row))):
                best = left[0]
                for j in left:
                    if row[j] > row[best]:
                        best = j
                picks.append(best)
                left.remove(best)
            out["index"] += picks
            out["score"] += [row[j] for j in picks]
            out["last"] += [int(p == len(picks) - 1) for p in range(len(picks))]
            row = []
    return {"o": out}


def norm(cfg, v: StreamVectors) -> dict:
    """LayerNorm / RMSNorm in integers from the definition: the mean's deviation scaled by n (or x itself),
    the root of n·2^(2P) over the sum of squares by Newton's iteration, the floor-shifted product, clamped."""
    dbits = cfg.act.width if cfg.mode == "rmsnorm" else (cfg.max_len * (cfg.act.max - cfg.act.min)).bit_length() + 1
    P, F = cfg.out_frac + dbits + 2, cfg.out_frac

    def isqrt(q: int) -> int:
        if q < 2:
            return q
        r = q
        while True:
            nxt = (r + q // r) // 2
            if nxt >= r:
                return r
            r = nxt

    ys, lasts, row = [], [], []
    for x, end in zip(v.inputs["i"]["x"], v.inputs["i"]["last"]):
        row.append(int(x))
        if end:
            n, s = len(row), sum(row)
            d = [n * a - s for a in row] if cfg.mode == "layernorm" else row
            big_d = sum(a * a for a in d)
            r = isqrt((n << (2 * P)) // big_d) if big_d else 0
            ys += [min(cfg.out.max, max(cfg.out.min, (a * r) >> (P - F))) for a in d]
            lasts += [int(j == n - 1) for j in range(n)]
            row = []
    return {"o": {"y": ys, "last": lasts}}


#: block name -> reference(config, vectors) -> expected outputs in the vectors' form
def decode_attention(cfg, v: StreamVectors) -> dict:
    """The online softmax over each query's KV entries with Python integers, from the rule's statement: the
    exponential ``round(2^F · exp(t · scale))`` computed at each use, per stream the running maximum, sum and
    accumulators rescaled by ``(x · α) >> F`` when the maximum grows; the streams' states rescaled to the
    largest maximum and summed; one reciprocal ``2^G // l`` per query."""
    F, d, lanes = cfg.exp_bits, cfg.head_dim, cfg.lanes
    ports = ["i"] if cfg.units == 1 else [f"i{u}" for u in range(cfg.units)]
    G = (((cfg.units * cfg.max_kv) << F).bit_length()) + cfg.act.width + 2

    def e(t: int) -> int:
        return math.floor(2.0**F * math.exp(t * cfg.scale) + 0.5)

    def queries(port: str) -> list[list[int]]:
        out, elems = [], []
        for x, end in zip(v.inputs[port]["x"], v.inputs[port]["last"]):
            elems += [int(a) for a in np.atleast_1d(x)]
            if end:
                out.append(elems)
                elems = []
        return out

    def state(elems: list[int]) -> tuple[int, int, list[int]]:
        q, rest = elems[:d], elems[d:]
        m = l = 0
        acc = [0] * d
        for j in range(0, len(rest), 2 * d):
            key, val = rest[j : j + d], rest[j + d : j + 2 * d]
            s = sum(a * b for a, b in zip(q, key)) >> cfg.score_shift
            if j == 0 or s > m:
                alpha = 0 if j == 0 else e(m - s)
                m, p = s, 1 << F
                l = (l * alpha) >> F
                acc = [(a * alpha) >> F for a in acc]
            else:
                p = e(s - m)
            l += p
            acc = [a + p * b for a, b in zip(acc, val)]
        return m, l, acc

    ys, lasts = [], []
    for parts in zip(*(queries(p) for p in ports)):
        states = [state(elems) for elems in parts]
        if len(states) == 1:
            _, l, acc = states[0]
        else:
            top = max(m for m, _, _ in states)
            l, acc = 0, [0] * d
            for m, lu, au in states:
                f = e(m - top)
                l += (lu * f) >> F
                acc = [a + ((b * f) >> F) for a, b in zip(acc, au)]
        r = (1 << G) // l
        out = [min(cfg.out.max, max(cfg.out.min, (a * r + (1 << (G - 1))) >> G)) for a in acc]
        ys += [out[k : k + lanes] for k in range(0, d, lanes)]
        lasts += [int(k == d - lanes) for k in range(0, d, lanes)]
    return {"o": {"y": ys, "last": lasts}}


REFERENCES = {
    "mac_pe": mac_pe,
    "systolic_array": systolic_array,
    "sparse_chain": sparse_chain,
    "bitserial_pe": bitserial_pe,
    "mixpe": mixpe,
    "olive_mac": olive_mac,
    "ternary_pe": ternary_pe,
    "gemm_core": gemm_core,
    "record_core": record_core,
    "softmax": softmax,
    "activation": activation,
    "topk": topk,
    "norm": norm,
    "decode_attention": decode_attention,
}
