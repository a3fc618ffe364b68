"""Quantized layers lowered onto a task graph, each requantization proved against ONNX's exact rule.

A :class:`~.layers.Dense` layer becomes ``gemm`` (+ bias) → ``requant`` (→
``relu``) on the integers the hardware sees:

* the input enters as its raw integers ``x``; ONNX multiplies ``x − x_zp``,
  so ``−x_zp · Σ_k W'[k, n]`` joins the bias (``W' = W − w_zp``, the weight
  zero point taken out of the weights, per column);
* ``acc = x · W' + bias'`` in ``Int(32)``, wrapping as ONNX's int32 does;
* ``y = clamp(y_zp + round_half_even(acc · S[n]))`` with
  ``S[n] = x_scale · w_scale[n] / y_scale`` (exact, from the float32
  values): the requant's multiplier and shift per column (one when all
  columns agree), chosen and proved by :mod:`.scales` over the accumulator
  range each column can reach;
* ReLU after the QuantizeLinear's rounding is ``max(y_zp, y)``.

A :class:`~.layers.Conv` is lowered the same way onto a ``conv`` task (its
weights ``[kh, kw, C_in, C_out]``; padding reads ``x_zp``, so the bias
correction holds at the borders too). A global average pool becomes an
``avgpool`` whose multiplier and shift stand for ``x_scale / (P · y_scale)``,
proved over every window sum; a max pool a ``maxpool``; a Flatten or Reshape
nothing (the next layer reads the same tensor). An image that a conv or pool
reads straight from a graph input comes on chip through a ``copy``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..numtype import Int, NumType
from ..schedule import TaskGraph
from .layers import Add, Alias, Concat, Conv, Dense, Layers, MatMul, Pool, QTensor, Transpose, graph_shape
from .model import ModelError
from .scales import Proof, best_add_point, best_fixed_point, best_float32_point

ACC = Int(32)


@dataclass
class LayerReport:
    """How one layer was lowered: its task names, requantization and the proof over its accumulators."""

    onnx: str
    gemm: str
    output: str
    multiplier: int | tuple[int, ...]
    shift: int | tuple[int, ...]
    proof: Proof

    def summary(self) -> dict:
        if isinstance(self.multiplier, tuple) and isinstance(self.shift, int):  # a rescaling add
            rule = f"a·{self.multiplier[0]} + b·{self.multiplier[1]} >> {self.shift}"
        elif isinstance(self.multiplier, tuple):
            rule = "per column (or input)"
        else:
            rule = f"x·{self.multiplier} >> {self.shift}"
        return {
            "onnx": self.onnx,
            "task": self.gemm,
            "requant": rule,
            "accumulators_checked": self.proof.checked,
            "accumulators_differing": self.proof.differing,
            "max_difference": self.proof.max_diff,
        }


@dataclass
class Lowered:
    """The task graph of a model, with the ONNX inputs and outputs each graph tensor stands for."""

    graph: TaskGraph
    inputs: dict[str, tuple[str, QTensor]]  # ONNX input -> (graph input, its quantization)
    outputs: dict[str, tuple[str, QTensor]]  # ONNX output -> (graph tensor, its quantization)
    layers: list[LayerReport] = field(default_factory=list)


class _Names:
    """ONNX tensor names as unique task-graph identifiers."""

    def __init__(self) -> None:
        self.taken: dict[str, str] = {}

    def __call__(self, onnx_name: str, suffix: str = "") -> str:
        key = onnx_name + suffix
        if key not in self.taken:
            base = re.sub(r"[^A-Za-z0-9_]", "_", onnx_name)[:40].strip("_") or "t"
            base = base if base[0].isalpha() else "t_" + base
            name, k = base + suffix, 1
            while name in self.taken.values():
                name, k = f"{base}{suffix}_{k}", k + 1
            self.taken[key] = name
        return self.taken[key]


def lower(layers: Layers, name: str) -> Lowered:
    """The task graph of ``layers`` (see the module docstring)."""
    names = _Names()
    g = TaskGraph(names(name))
    tensors: dict[str, str] = {}  # quantized ONNX tensor -> graph tensor
    inputs = {}
    for onnx_name, q in layers.inputs.items():
        tensors[q.name] = g.input(names(onnx_name), *graph_shape(q.shape), q.dtype)
        inputs[onnx_name] = (tensors[q.name], q)
    reports = []
    transposed: dict[str, str] = {}  # a Transpose's output -> the graph tensor it transposes
    for layer in layers.layers:
        _check_transposes(layer, transposed)
        _check_bipolar(layer)
        if isinstance(layer, Transpose):
            transposed[layer.y.name] = tensors[layer.x.name]
        elif isinstance(layer, MatMul):
            reports.append(_matmul(g, layer, tensors, transposed, names))
        elif isinstance(layer, Concat):
            reports.append(_concat(g, layer, tensors, names))
        elif isinstance(layer, Alias):
            tensors[layer.y.name] = tensors[layer.x.name]
        elif isinstance(layer, Pool):
            report = _pool(g, layer, tensors, names)
            reports += [report] if report else []
        elif isinstance(layer, Conv):
            reports.append(_conv(g, layer, tensors, names))
        else:
            reports.append(
                _dense(g, layer, tensors, names) if isinstance(layer, Dense) else _add(g, layer, tensors, names)
            )
    outputs = {o: (tensors[q.name], q) for o, q in layers.outputs.items()}
    g.validate()
    return Lowered(g, inputs, outputs, reports)


def _dense(g: TaskGraph, layer: Dense, tensors: dict[str, str], names: _Names) -> LayerReport:
    """A dense layer (see the module docstring). A bipolar input ``b`` stands for ``2b − 1``: the weights
    double and ``Σ W'`` leaves the bias. A bipolar output is the sign of the accumulator: ``2·acc + 1`` (odd,
    so never 0) clamped to ``−2..1``, then ReLU'd to ``b`` = 1 where ``acc ≥ 0``, else 0."""
    x, y = layer.x, layer.y
    w = layer.weights - np.broadcast_to(layer.w_zero, layer.weights.shape[1:])  # W' = W − w_zp per column
    bias = np.zeros(w.shape[1], np.int64) if layer.bias is None else layer.bias
    if x.bipolar:
        w, bias = 2 * w, bias - w.sum(axis=0)
    else:
        bias = bias - x.zero_point * w.sum(axis=0)
    acc_lo, acc_hi = _acc_range(x, w, bias)
    n = w.shape[1]
    ws = np.broadcast_to(np.asarray(layer.w_scale, np.float32), (n,))
    if y.bipolar:
        w, bias = 2 * w, 2 * bias + 1
        mult, shift, proof = 1, 0, _prove_sign(int(acc_lo.min()), int(acc_hi.max()))
    else:
        mult, shift, proof = _layer_requant(layer, ws, acc_lo, acc_hi)
    wt = NumType.fitting(int(w.min()), int(w.max()))
    gemm = g.gemm(names(layer.name), tensors[x.name], w, acc=ACC, weight=wt, bias=_wrap32(bias))
    rounding = "half_even" if y.bipolar else y.rounding
    out = g.requant(names(layer.name, "_q"), gemm, multiplier=mult, shift=shift,
                    zero_point=y.zero_point, out=y.dtype, rounding=rounding)  # fmt: skip
    if layer.relu or y.bipolar:
        out = g.relu(names(layer.name, "_relu"), out)
    tensors[y.name] = out
    return LayerReport(layer.label, gemm, out, mult, shift, proof)


def _conv(g: TaskGraph, layer: Conv, tensors: dict[str, str], names: _Names) -> LayerReport:
    """A conv: :func:`_dense`'s rule over the im2col rows (the zero points folded, padding reading ``x_zp``)."""
    x, y = layer.x, layer.y
    w = layer.weights - np.asarray(layer.w_zero).reshape(-1, 1, 1, 1)  # per output channel
    w = w.transpose(2, 3, 1, 0)  # [kh, kw, C_in, C_out]
    flat = w.reshape(-1, w.shape[3])
    bias = (np.zeros(flat.shape[1], np.int64) if layer.bias is None else layer.bias) - x.zero_point * flat.sum(axis=0)
    acc_lo, acc_hi = _acc_range(x, flat, bias)
    n = flat.shape[1]
    ws = np.broadcast_to(np.asarray(layer.w_scale, np.float32), (n,))
    mult, shift, proof = _layer_requant(layer, ws, acc_lo, acc_hi)
    win = layer.window
    conv = g.conv2d(names(layer.name), _on_chip(g, tensors, x.name, names), w, shape=(win.height, win.width),
                    stride=(win.sh, win.sw), pads=(win.top, win.left, win.bottom, win.right),
                    pad_value=x.zero_point, acc=ACC, weight=NumType.fitting(int(w.min()), int(w.max())),
                    bias=_wrap32(bias))  # fmt: skip
    out = g.requant(names(layer.name, "_q"), conv, multiplier=mult, shift=shift,
                    zero_point=y.zero_point, out=y.dtype, rounding=y.rounding)  # fmt: skip
    if layer.relu:
        out = g.relu(names(layer.name, "_relu"), out)
    tensors[y.name] = out
    return LayerReport(layer.label, conv, out, mult, shift, proof)


def _pool(g: TaskGraph, layer: Pool, tensors: dict[str, str], names: _Names) -> LayerReport | None:
    """A max pool (the integers' maximum) or a global average pool (the window sum requantized by
    ``x_scale / (P · y_scale)``, proved over every sum ``P · (x − x_zp)`` can reach)."""
    x, y, win = layer.x, layer.y, layer.window
    src = _on_chip(g, tensors, x.name, names)
    if layer.mode == "max":
        out = g.maxpool(names(layer.name), src, shape=(win.height, win.width), kernel=(win.kh, win.kw),
                        stride=(win.sh, win.sw), pads=(win.top, win.left, win.bottom, win.right))  # fmt: skip
        tensors[y.name] = out
        return None  # no requantization to report
    p = win.kh * win.kw
    scale = Fraction(float(x.scale)) / (Fraction(float(y.scale)) * p)
    lo, hi = p * (x.dtype.min - x.zero_point), p * (x.dtype.max - x.zero_point)
    mult, shift, proof = _requant([scale], np.array([lo]), np.array([hi]), y.rounding)
    out = g.avgpool(names(layer.name), src, shape=(win.height, win.width), multiplier=mult, shift=shift,
                    zero_points=(x.zero_point, y.zero_point), out=y.dtype, rounding=y.rounding)  # fmt: skip
    tensors[y.name] = out
    return LayerReport(layer.label, out, out, mult, shift, proof)


def _check_bipolar(layer: object) -> None:
    """Bipolar tensors (QONNX BipolarQuant) go into and come out of dense layers only."""
    if isinstance(layer, Dense):
        return
    tensors = [getattr(layer, f) for f in ("x", "a", "b", "y") if hasattr(layer, f)] + getattr(layer, "xs", [])
    if any(t.bipolar for t in tensors):
        raise ModelError(layer.label, "reads or makes a bipolar tensor; hwgen builds those around MatMul / Gemm only")


def _check_transposes(layer: object, transposed: dict[str, str]) -> None:
    """A transposed tensor may only be a MatMul's second operand."""
    inputs = [getattr(layer, f) for f in ("x", "a", "b") if hasattr(layer, f)]
    allowed = layer.b.name if isinstance(layer, MatMul) else None
    for q in inputs:
        if q.name in transposed and q.name != allowed:
            raise ModelError(layer.label, "reads a Transpose's output; hwgen builds a Transpose only as a MatMul's "
                             "second operand")  # fmt: skip


def _matmul(
    g: TaskGraph, layer: MatMul, tensors: dict[str, str], transposed: dict[str, str], names: _Names
) -> LayerReport:
    """The product of two activations: ``S = a_scale · b_scale / y_scale`` proved over every sum the products
    of ``(a − a_zp)`` and ``(b − b_zp)`` can reach."""
    a, b, y = layer.a, layer.b, layer.y
    k = a.shape[1]
    corners = [(p - a.zero_point) * (q - b.zero_point) for p in (a.dtype.min, a.dtype.max)
               for q in (b.dtype.min, b.dtype.max)]  # fmt: skip
    scale = Fraction(float(a.scale)) * Fraction(float(b.scale)) / Fraction(float(y.scale))
    mult, shift, proof = _requant([scale], np.array([k * min(corners)]), np.array([k * max(corners)]), y.rounding)
    other, trans = (transposed[b.name], True) if b.name in transposed else (tensors[b.name], False)
    out = g.matmul(names(layer.name), tensors[a.name], other, transpose_b=trans, zero_points=(a.zero_point,
                   b.zero_point), multiplier=mult, shift=shift, zero_point=y.zero_point, out=y.dtype,
                   rounding=y.rounding)  # fmt: skip
    tensors[y.name] = out
    return LayerReport(layer.label, out, out, mult, shift, proof)


def _concat(g: TaskGraph, layer: Concat, tensors: dict[str, str], names: _Names) -> LayerReport:
    """A concat: exact when every input has the output's encoding, else each input requantized by
    ``x_scale / y_scale``, proved over all its values against ONNX's float32 ``QuantizeLinear(
    DequantizeLinear(x))`` (:func:`.scales.float32_rule`)."""
    y = layer.y
    srcs = [tensors[x.name] for x in layer.xs]
    same = all((x.scale, x.zero_point, x.dtype) == (y.scale, y.zero_point, y.dtype) for x in layer.xs)
    if same:
        out = g.concat(names(layer.name), srcs)
        tensors[y.name] = out
        return LayerReport(layer.label, out, out, 1, 0, Proof(0, 0, 0))
    found = [best_float32_point(x.scale, y.scale, x.dtype.min - x.zero_point, x.dtype.max - x.zero_point)
             for x in layer.xs]  # fmt: skip
    rescale = [(mm, n, x.zero_point) for (mm, n, _), x in zip(found, layer.xs)]
    out = g.concat(names(layer.name), srcs, rescale=rescale, zero_point=y.zero_point, out=y.dtype)
    tensors[y.name] = out
    proof = Proof.combine([f[2] for f in found])
    return LayerReport(layer.label, out, out, tuple(f[0] for f in found), tuple(f[1] for f in found), proof)


def _on_chip(g: TaskGraph, tensors: dict[str, str], name: str, names: _Names) -> str:
    """The graph tensor of ``name``, through a ``copy`` when it is a graph input (read whole on chip)."""
    t = tensors[name]
    if g.tasks[t].op != "input":
        return t
    copy = names(name, "_onchip")
    if copy not in g.tasks:
        g.copy(copy, t)
    return copy


def _add(g: TaskGraph, layer: Add, tensors: dict[str, str], names: _Names) -> LayerReport:
    """A rescaling add: ``Sa = a_scale / y_scale`` and ``Sb = b_scale / y_scale`` as two multipliers over one
    shift, proved over every pair of operand values (all of ``a``'s type × ``b``'s, or the constant row)."""
    a, b, y = layer.a, layer.b, layer.y
    if y.rounding != "half_even":
        raise ModelError(layer.label, "a rescaling add rounds half to even here (ONNX QLinearAdd); not HALF_UP")
    sa, sb = (Fraction(float(t.scale)) / Fraction(float(y.scale)) for t in (a, b))
    da = np.arange(a.dtype.min, a.dtype.max + 1) - a.zero_point
    db = np.unique(layer.constant) if layer.constant is not None else np.arange(b.dtype.min, b.dtype.max + 1)
    ma, mb, n, proof = best_add_point(sa, sb, da, db - b.zero_point)
    other = layer.constant if layer.constant is not None else tensors[b.name]
    out = g.add(names(layer.name), tensors[a.name], other, multipliers=(ma, mb), shift=n,
                zero_points=(a.zero_point, b.zero_point), zero_point=y.zero_point, out=y.dtype)  # fmt: skip
    tensors[y.name] = out
    return LayerReport(layer.label, out, out, (ma, mb), n, proof)


def _layer_requant(
    layer: Dense | Conv, ws: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[int | tuple, int | tuple, Proof]:
    """A dense or conv layer's multiplier(s) and shift(s) for ``S[n] = x_scale · w_scale[n] / y_scale``, proved
    against the exact rule — or, for a MatMulInteger / ConvInteger layer, against ONNX's float32 steps."""
    x, y = layer.x, layer.y
    if not layer.float32:
        scales = [Fraction(float(x.scale)) * Fraction(float(w)) / Fraction(float(y.scale)) for w in ws]
        return _requant(scales, lo, hi, y.rounding)
    found = [best_float32_point(ws[j], y.scale, int(lo[j]), int(hi[j])) for j in range(len(ws))]
    proof = Proof.combine([f[2] for f in found])
    if len({f[:2] for f in found}) == 1:
        return found[0][0], found[0][1], proof
    return tuple(f[0] for f in found), tuple(f[1] for f in found), proof


def _requant(
    scales: list[Fraction], lo: np.ndarray, hi: np.ndarray, rounding: str
) -> tuple[int | tuple, int | tuple, Proof]:
    """Multiplier and shift for the scale of every column (one pair when the scales agree), proved over the
    columns' accumulator ranges ``lo..hi``."""
    if len(set(scales)) == 1:
        m, s, p = best_fixed_point(scales[0], int(lo.min()), int(hi.max()), rounding=rounding)
        return m, s, p
    found = [best_fixed_point(sc, int(a), int(b), rounding=rounding) for sc, a, b in zip(scales, lo, hi)]
    proofs = [f[2] for f in found]
    proof = Proof.combine(proofs)
    return tuple(f[0] for f in found), tuple(f[1] for f in found), proof


def _prove_sign(lo: int, hi: int) -> Proof:
    """A bipolar output's rule against QONNX's ``acc ≥ 0``, over every accumulator in ``lo..hi``."""
    acc = np.arange(lo, hi + 1, dtype=np.int64)
    ours = np.maximum(np.clip(2 * acc + 1, -2, 1), 0)
    differing = int(np.count_nonzero(ours != (acc >= 0)))
    return Proof(hi - lo + 1, differing, 1 if differing else 0)


def _acc_range(x: QTensor, w: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the least and greatest ``x · W' + bias'`` over every input row of ``x``'s type (a bipolar
    input: of 0 and 1)."""
    a_lo, a_hi = (0, 1) if x.bipolar else (x.dtype.min, x.dtype.max)  # raw inputs; the zero point is in the bias
    lo = np.minimum(a_lo * w, a_hi * w).sum(axis=0) + bias
    hi = np.maximum(a_lo * w, a_hi * w).sum(axis=0) + bias
    return lo, hi


def _wrap32(v: np.ndarray) -> np.ndarray:
    """Integers wrapped to int32, as ONNX's int32 bias arithmetic does."""
    return ((np.asarray(v, np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)
