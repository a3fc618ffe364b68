"""The front ends: QDQ and QOperator ONNX graphs read into :class:`~.layers.Layers`.

One walk over the nodes (ONNX keeps them in topological order) handles both
formats and their mixtures:

* **QOperator**: ``QLinearMatMul``, ``QGemm`` (``com.microsoft``, as
  onnxruntime's ``quantize_static`` writes Gemm layers), ``QLinearAdd``
  (``com.microsoft``; of two activations, or of an activation and a constant
  row), ``QLinearConv``, ``QLinearGlobalAveragePool`` (``com.microsoft``),
  and ``MaxPool``, ``Flatten``, ``Reshape`` on the integers — integer in,
  integer out;
* **integer ops**: ``MatMulInteger | ConvInteger → Cast (to float) → Mul
  (by a constant scale, per tensor or per column) [→ Relu] → QuantizeLinear``
  — the int32 product requantized by ``scale / y_scale``;
* **QDQ**: ``DequantizeLinear → MatMul | Gemm | Conv [→ Relu] → QuantizeLinear``
  and ``DequantizeLinear → MaxPool | GlobalAveragePool | Flatten | Reshape |
  Transpose → QuantizeLinear``; a MatMul (``QLinearMatMul``, or QDQ) of two
  activations, its second operand possibly a 2-D Transpose (``q · kᵀ``);
  ``DequantizeLinear ×n → Concat → QuantizeLinear`` and ``QLinearConcat``
  along the features
  with the weights (per tensor or per output channel) and the int32 bias
  (scale ``x_scale · w_scale``, zero point 0) behind ``DequantizeLinear``
  nodes of constants; ``DequantizeLinear ×2 → Add → QuantizeLinear`` (an
  operand may be a dequantized constant row);
* **QONNX** (Brevitas / FINN exports): ``Quant`` nodes (2..8-bit, signed or
  unsigned, ``ROUND`` or ``HALF_UP``) on the weights (any bit width; narrow
  ranges) and on the activations between float ``MatMul`` / ``Gemm`` / ``Add``
  / ``Relu`` nodes, read as a QuantizeLinear + DequantizeLinear pair;
* the model's float inputs enter through ``QuantizeLinear`` (or ``Quant``)
  and its outputs leave through ``DequantizeLinear`` (or are a ``Quant``'s
  output): both are the host's work, recorded as the quantized tensors'
  encodings.

Anything else is a :class:`~.model.ModelError` naming the node, its op type
and what is supported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..numtype import NumType
from ..schedule.window import Window
from .layers import (
    Add,
    Alias,
    Concat,
    Conv,
    Dense,
    Layers,
    MatMul,
    Pool,
    QTensor,
    Transpose,
    graph_shape,
    int_type,
)
from .model import ModelError, OnnxModel

SUPPORTED = (
    "QuantizeLinear, DequantizeLinear, QLinearMatMul, QLinearConv, QGemm, QLinearAdd and "
    "QLinearGlobalAveragePool (com.microsoft), MatMul, Gemm, Conv, Add, MaxPool, GlobalAveragePool, Flatten and "
    "Reshape between DequantizeLinear and QuantizeLinear (QDQ), MaxPool, Flatten and Reshape of integers, MatMul "
    "of two activations (QLinearMatMul, QDQ) with a 2-D Transpose as its second operand, Concat (QLinearConcat, "
    "QDQ) along the features, MatMulInteger and "
    "ConvInteger followed by Cast, Mul by a constant scale [, Relu] and QuantizeLinear, QONNX Quant, Relu after "
    "a MatMul, Gemm or Conv, Constant"
)
#: Ops that keep integers as they are (QOperator: on the integers; QDQ: the same encoding in and out) or pool.
SHAPE_OPS = ("MaxPool", "Flatten", "Reshape", "Transpose")
#: Op types that mark a quantized model.
QUANTIZED = ("QuantizeLinear", "QLinearMatMul", "QGemm", "Quant", "BipolarQuant")
#: QONNX rounding modes hwgen builds, as requant roundings.
QONNX_ROUNDING = {"ROUND": "half_even", "HALF_EVEN": "half_even", "HALF_UP": "half_away"}


@dataclass
class _Pending:
    """A QDQ layer whose output is still float, waiting for its QuantizeLinear."""

    layer: Dense | Add


def read_layers(model: OnnxModel, batch: int | None = None) -> Layers:
    """The quantized layers of ``model``; ``batch`` sets a symbolic first input dimension (default: error)."""
    if not any(n.op_type in QUANTIZED for n in model.nodes):
        raise ModelError(
            model.where,
            "is a float model (no QuantizeLinear, QLinearMatMul or QGemm); hwgen imports quantized models: "
            "quantize it first, e.g. with onnxruntime.quantization.quantize_static",
        )
    out = Layers()
    qt: dict[str, QTensor] = {}  # integer tensors
    deq: dict[str, QTensor] = {}  # float tensors that are a dequantized integer tensor
    pending: dict[str, _Pending] = {}  # float outputs of QDQ dense layers
    accs: dict[str, Dense | Conv] = {}  # int32 (or its float cast) outputs of MatMulInteger / ConvInteger
    for node in model.nodes:
        op = node.op_type
        if op == "Constant" or all(i in model.constants or not i for i in node.input):
            continue  # constant folding happens where the constants are read
        if op == "QuantizeLinear":
            _quantize(model, node, batch, out, qt, pending)
        elif op == "DequantizeLinear":
            q = _activation(model, node, node.input[0], qt)
            _check_encoding(model, node, q, node.input[1], node.input[2] if len(node.input) > 2 else "")
            deq[node.output[0]] = q
            if node.output[0] in model.outputs:
                out.outputs[node.output[0]] = q
        elif op == "QLinearConcat":
            layer = _qoperator_concat(model, node, qt)
            qt[layer.y.name] = layer.y
            out.layers.append(layer)
        elif op == "Concat" and all(i in deq for i in node.input):
            pending[node.output[0]] = _Pending(_concat(model, node, [deq[i] for i in node.input], None))
        elif op in ("MatMulInteger", "ConvInteger"):
            accs[node.output[0]] = _integer_layer(model, node, qt)
        elif op == "Cast" and node.input[0] in accs:
            if model.attrs(node).get("to") != 1:  # TensorProto.FLOAT
                raise ModelError(model.label(node), "casts an integer product to another type than float")
            accs[node.output[0]] = accs.pop(node.input[0])
        elif op == "Mul" and any(i in accs for i in node.input):
            pending[node.output[0]] = _Pending(_scaled(model, node, accs))
        elif op == "QLinearMatMul" and node.input[3] in qt:  # two activations
            layer = _qoperator_matmul(model, node, qt)
            qt[layer.y.name] = layer.y
            out.layers.append(layer)
        elif op in ("QLinearMatMul", "QGemm", "QLinearAdd", "QLinearConv", "QLinearGlobalAveragePool"):
            layer = QOPERATOR[op](model, node, qt)
            qt[layer.y.name] = layer.y
            out.layers.append(layer)
        elif op in SHAPE_OPS and node.input[0] in qt:  # on the integers
            layer = _shape_op(model, node, qt[node.input[0]])
            layer.y = replace(layer.x, name=node.output[0], shape=layer.y.shape)
            qt[layer.y.name] = layer.y
            out.layers.append(layer)
        elif op == "MatMul" and node.input[1] in deq:  # two activations
            a, b = deq[node.input[0]] if node.input[0] in deq else None, deq[node.input[1]]
            if a is None:
                raise ModelError(
                    model.label(node), f"input {node.input[0]!r} is not a DequantizeLinear of an activation"
                )
            placeholder = QTensor(node.output[0], a.dtype, np.float32(1), 0, (a.shape[0], b.shape[1]))
            pending[node.output[0]] = _Pending(
                MatMul(model.label(node), a, b, placeholder, node.name or node.output[0])
            )
        elif op in ("MatMul", "Gemm"):
            pending[node.output[0]] = _Pending(_qdq_dense(model, node, deq))
        elif op == "Conv":
            pending[node.output[0]] = _Pending(_qdq_conv(model, node, deq))
        elif op in (*SHAPE_OPS, "GlobalAveragePool") and node.input[0] in deq:
            pending[node.output[0]] = _Pending(_shape_op(model, node, deq[node.input[0]]))
        elif op == "Add":
            pending[node.output[0]] = _Pending(_qdq_add(model, node, deq))
        elif op in ("Quant", "BipolarQuant"):
            q = _qonnx_quant(model, node, batch, out, pending)
            qt[q.name] = deq[q.name] = q
            if q.name in model.outputs:
                out.outputs[q.name] = q
        elif op == "Relu" and isinstance(getattr(pending.get(node.input[0]), "layer", None), Dense | Conv):
            pending[node.output[0]] = _Pending(replace(pending.pop(node.input[0]).layer, relu=True))
        else:
            raise ModelError(model.label(node), f"is not supported; hwgen imports {SUPPORTED}")
    for layer in accs.values():
        raise ModelError(layer.label, "its int32 product does not go on through Cast, Mul (the scale), QuantizeLinear")
    for layer in (p.layer for p in pending.values()):
        raise ModelError(layer.label, "its float output is not quantized by a QuantizeLinear")
    missing = [o for o in model.outputs if o not in out.outputs]
    if missing:
        raise ModelError(model.where, f"output {missing[0]!r} is not a DequantizeLinear of a quantized tensor")
    if not any(isinstance(layer, Dense | Conv) for layer in out.layers):
        raise ModelError(model.where, "has no quantized MatMul, Gemm or Conv layer")
    return out


# -- tensors ---------------------------------------------------------------------------
def _qparams(model: OnnxModel, node: Any, scale: str, zero: str) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(model.constant(scale, node, "the scale"), dtype=np.float32)
    z = np.asarray(model.constant(zero, node, "the zero point")) if zero else np.zeros((), np.uint8)
    return s, z


def _scalar(model: OnnxModel, node: Any, values: np.ndarray, what: str) -> Any:
    if values.size != 1:
        raise ModelError(model.label(node), f"{what} must be one value per tensor (an activation), not {values.shape}")
    return values.reshape(())[()]


def _activation(model: OnnxModel, node: Any, name: str, qt: dict[str, QTensor]) -> QTensor:
    if name not in qt:
        raise ModelError(model.label(node), f"input {name!r} is not a quantized activation hwgen follows")
    return qt[name]


def _check_encoding(model: OnnxModel, node: Any, q: QTensor, scale: str, zero: str) -> None:
    s, z = _qparams(model, node, scale, zero)
    if (
        _scalar(model, node, s, "the scale") != q.scale
        or int(_scalar(model, node, z, "the zero point")) != q.zero_point
    ):
        raise ModelError(model.label(node), f"reads {q.name!r} with another scale or zero point than it was made with")


def _output(model: OnnxModel, node: Any, name: str, scale: str, zero: str, shape: tuple[int, ...]) -> QTensor:
    s, z = _qparams(model, node, scale, zero)
    return QTensor(name, int_type(z, model.label(node), ModelError), _scalar(model, node, s, "the output scale"),
                   int(_scalar(model, node, z, "the output zero point")), shape)  # fmt: skip


def _quantize(
    model: OnnxModel, node: Any, batch: int | None, out: Layers, qt: dict, pending: dict[str, _Pending]
) -> None:
    """A QuantizeLinear: of a graph input (the host quantizes it) or of a QDQ layer's float output."""
    src, zero = node.input[0], node.input[2] if len(node.input) > 2 else ""
    if src in pending:
        layer = pending.pop(src).layer
        layer.y = _output(model, node, node.output[0], node.input[1], zero, layer.y.shape)
        keeps = isinstance(layer, Alias | Transpose) or (isinstance(layer, Pool) and layer.mode == "max")
        if keeps and (layer.y.scale, layer.y.zero_point, layer.y.dtype) != (
            layer.x.scale,
            layer.x.zero_point,
            layer.x.dtype,
        ):
            raise ModelError(
                layer.label, "its QuantizeLinear changes the encoding; hwgen keeps the integers as they are"
            )
        qt[layer.y.name] = layer.y
        out.layers.append(layer)
        return
    if src not in [i.name for i in model.inputs]:
        raise ModelError(model.label(node), f"quantizes {src!r}, which is neither a graph input nor a layer output")
    q = _output(model, node, node.output[0], node.input[1], zero, _input_shape(model, node, src, batch))
    qt[q.name] = q
    out.inputs[src] = q


def _input_shape(model: OnnxModel, node: Any, src: str, batch: int | None) -> tuple[int, ...]:
    """A graph input's ``(rows, features)`` or ``(1, C, H, W)`` (an image); ``batch`` for a symbolic first
    dimension."""
    dims = model.input_shape(src)
    if len(dims) == 4:
        if dims[0] not in (1, batch) and not (isinstance(dims[0], str) and batch in (None, 1)):
            raise ModelError(model.label(node), f"input {src!r} has shape {dims}; hwgen imports one image (N = 1)")
        if not all(isinstance(d, int) and d > 0 for d in dims[1:]):
            raise ModelError(model.label(node), f"input {src!r} has shape {dims}; C, H and W must be numbers")
        return (1, *(int(d) for d in dims[1:]))
    if len(dims) != 2:
        raise ModelError(
            model.label(node), f"input {src!r} has shape {dims}; hwgen imports [rows, features] inputs or one "
            f"[1, C, H, W] image"
        )  # fmt: skip
    if not isinstance(dims[0], int) or dims[0] < 1:
        if batch is None:
            raise ModelError(model.label(node), f"input {src!r} has a symbolic batch {dims[0]!r}; give --batch N")
        dims[0] = batch
    return int(dims[0]), int(dims[1])


# -- layers ----------------------------------------------------------------------------
def _weights(
    model: OnnxModel, node: Any, values: np.ndarray, scale: np.ndarray, zero: np.ndarray, trans: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights as ``[K, N]`` with per-column (or per-tensor) scale and zero point."""
    w = np.asarray(values)
    if w.ndim != 2:
        raise ModelError(model.label(node), f"the weights have shape {w.shape}; hwgen imports 2-D weights")
    int_type(w, model.label(node), ModelError)
    w = w.T if trans else w
    for what, v in (("weight scale", scale), ("weight zero point", zero)):
        if v.size not in (1, w.shape[1]):
            raise ModelError(model.label(node), f"the {what} has {v.size} values; one, or one per output column")
    return w.astype(np.int64), scale.reshape(-1) if scale.size > 1 else scale.reshape(()), zero.astype(np.int64)


def _qoperator_dense(model: OnnxModel, node: Any, qt: dict[str, QTensor]) -> Dense:
    ins = list(node.input) + [""] * 9
    a = model.attrs(node)
    if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0:
        raise ModelError(model.label(node), "transA and alpha other than 1 are not supported")
    if node.op_type == "QGemm" and not ins[7]:
        raise ModelError(model.label(node), "has a float output (no y_scale); hwgen imports integer layers")
    x = _activation(model, node, ins[0], qt)
    _check_encoding(model, node, x, ins[1], ins[2])
    ws, wz = _qparams(model, node, ins[4], ins[5])
    w, ws, wz = _weights(model, node, model.constant(ins[3], node, "the weight"), ws, wz, bool(a.get("transB", 0)))
    bias = None
    if node.op_type == "QGemm" and ins[6]:
        bias = np.asarray(model.constant(ins[6], node, "the bias"), dtype=np.int64).reshape(-1)
    ys, yz = (ins[6], ins[7]) if node.op_type == "QLinearMatMul" else (ins[7], ins[8])
    y = _output(model, node, node.output[0], ys, yz, (x.shape[0], w.shape[1]))
    return _checked(model, node, Dense(model.label(node), x, w, ws, wz, bias, y, name=node.name or node.output[0]))


def _dequantized_constant(model: OnnxModel, node: Any, name: str, what: str) -> tuple[np.ndarray, ...]:
    """``(values, scale, zero point, axis)`` of a DequantizeLinear (or QONNX Quant) of a constant feeding
    ``node``."""
    src = model.producer.get(name)
    if src is not None and src.op_type in ("Quant", "BipolarQuant") and src.input[0] in model.constants:
        return _qonnx_constant(model, src)
    if src is None or src.op_type != "DequantizeLinear" or src.input[0] not in model.constants:
        raise ModelError(model.label(node), f"{what} ({name!r}) must be a DequantizeLinear of an integer constant")
    s, z = _qparams(model, src, src.input[1], src.input[2] if len(src.input) > 2 else "")
    return model.constants[src.input[0]], s, z, model.attrs(src).get("axis", 1)


def _qdq_dense(model: OnnxModel, node: Any, deq: dict[str, QTensor]) -> Dense:
    a = model.attrs(node)
    if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        raise ModelError(model.label(node), "transA, alpha and beta other than 1 are not supported")
    if node.input[0] not in deq:
        raise ModelError(model.label(node), f"input {node.input[0]!r} is not a DequantizeLinear of an activation")
    x = deq[node.input[0]]
    values, ws, wz, _ = _dequantized_constant(model, node, node.input[1], "the weight")
    w, ws, wz = _weights(model, node, values, ws, wz, bool(a.get("transB", 0)))
    bias = None
    if len(node.input) > 2 and node.input[2]:
        bias = _qdq_bias(model, node, x, ws, w.shape[1])
    placeholder = QTensor(node.output[0], x.dtype, np.float32(1), 0, (x.shape[0], w.shape[1]))  # its Q sets it
    layer = Dense(model.label(node), x, w, ws, wz, bias, placeholder, name=node.name or node.output[0])
    return _checked(model, node, layer)


def _qdq_bias(model: OnnxModel, node: Any, x: QTensor, ws: np.ndarray, n: int) -> np.ndarray:
    """A QDQ layer's bias: a DequantizeLinear of an int32 constant with scale ``x_scale · w_scale``, zero 0."""
    b, bs, bz, _ = _dequantized_constant(model, node, node.input[2], "the bias")
    if np.asarray(b).dtype != np.int32 or np.any(bz != 0):
        raise ModelError(model.label(node), "the bias must be int32 with zero point 0 (quantize_static's form)")
    expect = np.broadcast_to((np.float32(x.scale) * np.asarray(ws, np.float32)).reshape(-1), (n,))
    if bs.size not in (1, n) or not np.array_equal(np.broadcast_to(bs.reshape(-1), (n,)), expect):
        raise ModelError(model.label(node), "the bias scale is not x_scale · w_scale; hwgen adds it to the int32 sum")
    return np.asarray(b, dtype=np.int64).reshape(-1)


def _checked(model: OnnxModel, node: Any, layer: Dense) -> Dense:
    k, n = layer.weights.shape
    if layer.x.shape and layer.x.shape[1] != k:
        raise ModelError(model.label(node), f"the input has {layer.x.shape[1]} features, the weights {k} rows")
    if layer.bias is not None and layer.bias.size != n:
        raise ModelError(model.label(node), f"the bias has {layer.bias.size} values for {n} columns")
    if np.any(np.asarray(layer.w_scale) <= 0) or not np.all(np.isfinite(layer.w_scale)):
        raise ModelError(model.label(node), "weight scales must be positive and finite")
    return layer


def _row(model: OnnxModel, node: Any, values: np.ndarray, cols: int) -> np.ndarray:
    """A constant add operand as one integer per column (a ``[cols]`` or ``[1, cols]`` array)."""
    v = np.asarray(values)
    int_type(v, model.label(node), ModelError)
    if v.size != cols or (v.ndim == 2 and v.shape[0] != 1) or v.ndim > 2:
        raise ModelError(model.label(node), f"adds a constant of shape {v.shape}; hwgen adds one value per column")
    return v.reshape(-1).astype(np.int64)


def _qoperator_add(model: OnnxModel, node: Any, qt: dict[str, QTensor]) -> Add:
    ins = list(node.input) + [""] * 8
    a = _activation(model, node, ins[0], qt)
    _check_encoding(model, node, a, ins[1], ins[2])
    if ins[3] in model.constants:
        bs, bz = _qparams(model, node, ins[4], ins[5])
        values = _row(model, node, model.constants[ins[3]], a.shape[1])
        b = QTensor(ins[3], int_type(values.astype(model.constants[ins[3]].dtype), model.label(node), ModelError),
                    _scalar(model, node, bs, "the scale"), int(_scalar(model, node, bz, "the zero point")))  # fmt: skip
    else:
        b, values = _activation(model, node, ins[3], qt), None
        _check_encoding(model, node, b, ins[4], ins[5])
        if b.shape != a.shape:
            raise ModelError(model.label(node), f"adds {a.shape} and {b.shape}; hwgen adds tensors of one shape")
    y = _output(model, node, node.output[0], ins[6], ins[7], a.shape)
    return Add(model.label(node), a, b, y, values, name=node.name or node.output[0])


def _qdq_add(model: OnnxModel, node: Any, deq: dict[str, QTensor]) -> Add:
    ins = list(node.input)
    if ins[0] not in deq:
        ins.reverse()  # a constant first: addition commutes
    if ins[0] not in deq:
        raise ModelError(model.label(node), "neither operand is a DequantizeLinear of an activation")
    a = deq[ins[0]]
    if ins[1] in deq:
        b, values = deq[ins[1]], None
        if b.shape != a.shape:
            raise ModelError(model.label(node), f"adds {a.shape} and {b.shape}; hwgen adds tensors of one shape")
    else:
        raw, bs, bz, _ = _dequantized_constant(model, node, ins[1], "the other operand")
        values = _row(model, node, raw, a.shape[1])
        b = QTensor(ins[1], int_type(raw, model.label(node), ModelError), _scalar(model, node, bs, "the scale"),
                    int(_scalar(model, node, bz, "the zero point")))  # fmt: skip
    placeholder = QTensor(node.output[0], a.dtype, np.float32(1), 0, a.shape)  # its QuantizeLinear sets it
    return Add(model.label(node), a, b, placeholder, values, name=node.name or node.output[0])


# -- images ----------------------------------------------------------------------------
def _image(model: OnnxModel, node: Any, x: QTensor) -> tuple[int, int, int]:
    """``(C, H, W)`` of an image input of ``node``."""
    if len(x.shape) != 4:
        raise ModelError(model.label(node), f"its input {x.name!r} has shape {x.shape}; an image [1, C, H, W]")
    return x.shape[1], x.shape[2], x.shape[3]


def _window(model: OnnxModel, node: Any, x: QTensor, kernel: tuple[int, int], default_stride: int = 1) -> Window:
    """The window of a Conv or MaxPool node over image ``x`` (its ``strides``, ``pads``; no dilation, no
    ``auto_pad``, no ``ceil_mode``)."""
    a = model.attrs(node)
    auto = a.get("auto_pad", b"NOTSET")
    if (auto.decode() if isinstance(auto, bytes) else auto) != "NOTSET":
        raise ModelError(model.label(node), f"auto_pad {auto!r} is not supported; give explicit pads")
    if any(d != 1 for d in a.get("dilations", [1, 1])) or a.get("ceil_mode", 0) or a.get("storage_order", 0):
        raise ModelError(model.label(node), "dilations, ceil_mode and storage_order other than the defaults")
    c, h, w = _image(model, node, x)
    sh, sw = a.get("strides", [default_stride, default_stride])
    top, left, bottom, right = a.get("pads", [0, 0, 0, 0])
    window = Window(h, w, c, kernel[0], kernel[1], sh, sw, top, left, bottom, right)
    try:
        window.check(model.label(node))
    except ConfigError as e:
        raise ModelError(model.label(node), e.detail) from None
    return window


def _conv_weights(
    model: OnnxModel, node: Any, values: np.ndarray, scale: np.ndarray, zero: np.ndarray, x: QTensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Window]:
    """A Conv's weights ``[C_out, C_in, kh, kw]`` (group 1), per-channel scale and zero point, and window."""
    w = np.asarray(values)
    int_type(w, model.label(node), ModelError)
    if w.ndim != 4 or model.attrs(node).get("group", 1) != 1:
        raise ModelError(model.label(node), f"weights {w.shape}, group {model.attrs(node).get('group', 1)}: hwgen "
                         "imports 2-D convolutions of group 1")  # fmt: skip
    if w.shape[1] != _image(model, node, x)[0]:
        raise ModelError(model.label(node), f"the weights take {w.shape[1]} channels, the input has {x.shape[1]}")
    for what, v in (("weight scale", scale), ("weight zero point", zero)):
        if v.size not in (1, w.shape[0]):
            raise ModelError(model.label(node), f"the {what} has {v.size} values; one, or one per output channel")
    window = _window(model, node, x, (w.shape[2], w.shape[3]))
    return w.astype(np.int64), scale.reshape(-1) if scale.size > 1 else scale.reshape(()), zero, window


def _conv_shape(window: Window, channels: int) -> tuple[int, int, int, int]:
    return (1, channels, window.out_height, window.out_width)


def _qoperator_conv(model: OnnxModel, node: Any, qt: dict[str, QTensor]) -> Conv:
    ins = list(node.input) + [""] * 9
    x = _activation(model, node, ins[0], qt)
    _check_encoding(model, node, x, ins[1], ins[2])
    ws, wz = _qparams(model, node, ins[4], ins[5])
    w, ws, wz, window = _conv_weights(model, node, model.constant(ins[3], node, "the weight"), ws, wz, x)
    bias = np.asarray(model.constant(ins[8], node, "the bias"), np.int64).reshape(-1) if ins[8] else None
    y = _output(model, node, node.output[0], ins[6], ins[7], _conv_shape(window, w.shape[0]))
    return _checked_conv(model, node, Conv(model.label(node), x, w, ws, wz, bias, y, window,
                                           name=node.name or node.output[0]))  # fmt: skip


def _qdq_conv(model: OnnxModel, node: Any, deq: dict[str, QTensor]) -> Conv:
    if node.input[0] not in deq:
        raise ModelError(model.label(node), f"input {node.input[0]!r} is not a DequantizeLinear of an activation")
    x = deq[node.input[0]]
    values, ws, wz, _ = _dequantized_constant(model, node, node.input[1], "the weight")
    w, ws, wz, window = _conv_weights(model, node, values, ws, wz, x)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        bias = _qdq_bias(model, node, x, ws, w.shape[0])
    placeholder = QTensor(node.output[0], x.dtype, np.float32(1), 0, _conv_shape(window, w.shape[0]))
    return _checked_conv(model, node, Conv(model.label(node), x, w, ws, wz, bias, placeholder, window,
                                           name=node.name or node.output[0]))  # fmt: skip


def _checked_conv(model: OnnxModel, node: Any, layer: Conv) -> Conv:
    n = layer.weights.shape[0]
    if layer.bias is not None and layer.bias.size != n:
        raise ModelError(model.label(node), f"the bias has {layer.bias.size} values for {n} output channels")
    if np.any(np.asarray(layer.w_scale) <= 0) or not np.all(np.isfinite(layer.w_scale)):
        raise ModelError(model.label(node), "weight scales must be positive and finite")
    return layer


def _qoperator_gap(model: OnnxModel, node: Any, qt: dict[str, QTensor]) -> Pool:
    if model.attrs(node).get("channels_last", 0):
        raise ModelError(model.label(node), "channels_last = 1 is not supported (hwgen reads NCHW models)")
    x = _activation(model, node, node.input[0], qt)
    _check_encoding(model, node, x, node.input[1], node.input[2])
    pool = _shape_op(model, node, x)
    pool.y = _output(model, node, node.output[0], node.input[3], node.input[4], pool.y.shape)
    return pool


def _concat(model: OnnxModel, node: Any, xs: list[QTensor], y: QTensor | None) -> Concat:
    """A Concat along the features (axis 1 of ``[rows, features]`` or of an image's NCHW: its channels)."""
    axis = model.attrs(node).get("axis", 1)
    shapes = [x.shape for x in xs]
    if axis not in (1, 1 - len(shapes[0])) or len({(s[0], *s[2:]) for s in shapes}) != 1:
        raise ModelError(model.label(node), f"concatenates {shapes} on axis {axis}; hwgen joins features (axis 1)")
    shape = (shapes[0][0], sum(s[1] for s in shapes), *shapes[0][2:])
    y = y or QTensor(node.output[0], xs[0].dtype, np.float32(1), 0, shape)  # QDQ: its QuantizeLinear sets it
    return Concat(model.label(node), xs, replace(y, shape=shape), node.name or node.output[0])


def _qoperator_concat(model: OnnxModel, node: Any, qt: dict[str, QTensor]) -> Concat:
    """``QLinearConcat(y_scale, y_zero_point, (x, x_scale, x_zero_point)...)`` (com.microsoft)."""
    ins = list(node.input)
    if len(ins) < 5 or (len(ins) - 2) % 3:
        raise ModelError(model.label(node), "expects y_scale, y_zero_point and (x, scale, zero point) triples")
    xs = []
    for k in range(2, len(ins), 3):
        x = _activation(model, node, ins[k], qt)
        _check_encoding(model, node, x, ins[k + 1], ins[k + 2])
        xs.append(x)
    return _concat(model, node, xs, _output(model, node, node.output[0], ins[0], ins[1], ()))


def _integer_layer(model: OnnxModel, node: Any, qt: dict[str, QTensor]) -> Dense | Conv:
    """A MatMulInteger or ConvInteger: ``Σ (x − x_zp)·(W − w_zp)`` in int32, its scale still to come (the Mul
    after its Cast): ``x`` carries the node's own zero point and scale 1, the weight scale is set by the Mul."""
    ins = list(node.input) + ["", ""]
    x = _activation(model, node, ins[0], qt)
    xz = np.asarray(model.constant(ins[2], node, "the input zero point")) if ins[2] else np.zeros(())
    x = replace(x, zero_point=int(_scalar(model, node, xz, "the input zero point")), scale=np.float32(1))
    wz = np.asarray(model.constant(ins[3], node, "the weight zero point")) if ins[3] else np.zeros((), np.int64)
    values = model.constant(ins[1], node, "the weight")
    label, name = model.label(node), node.name or node.output[0]
    one = np.ones((), np.float32)
    if node.op_type == "ConvInteger":
        w, ws, wz, window = _conv_weights(model, node, values, one, wz, x)
        y = QTensor(node.output[0], x.dtype, one, 0, _conv_shape(window, w.shape[0]))
        return Conv(label, x, w, ws, wz, None, y, window, name=name, float32=True)
    w, ws, wz = _weights(model, node, values, one, wz, False)
    y = QTensor(node.output[0], x.dtype, one, 0, (x.shape[0], w.shape[1]))
    return Dense(label, x, w, ws, wz, None, y, name=name, float32=True)


def _scaled(model: OnnxModel, node: Any, accs: dict[str, Dense | Conv]) -> Dense | Conv:
    """The Mul that gives an integer product its real scale (a positive constant, per tensor or per output
    column): the layer's weight scale (its input's is 1)."""
    acc_in = next(i for i in node.input if i in accs)
    other = next(i for i in node.input if i != acc_in)
    layer = accs.pop(acc_in)
    scale = np.asarray(model.constant(other, node, "the scale"), dtype=np.float32)
    n = layer.weights.shape[0] if isinstance(layer, Conv) else layer.weights.shape[1]
    per_column = scale.size == n and scale.size > 1 and (scale.ndim == 1 or scale.shape[:-1] == (1,) * (scale.ndim - 1))
    if isinstance(layer, Conv) and scale.size > 1:
        per_column = scale.reshape(-1).size == n and scale.shape[-2:] == (1, 1) and scale.ndim == 4
    if scale.size != 1 and not per_column:
        raise ModelError(model.label(node), f"scales by shape {scale.shape}: one value, or one per output channel")
    if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
        raise ModelError(model.label(node), "the scale must be positive and finite")
    layer.w_scale = scale.reshape(-1) if scale.size > 1 else scale.reshape(())
    return layer


def _qoperator_matmul(model: OnnxModel, node: Any, qt: dict[str, QTensor]) -> MatMul:
    """A QLinearMatMul of two activations."""
    ins = list(node.input)
    a, b = _activation(model, node, ins[0], qt), _activation(model, node, ins[3], qt)
    _check_encoding(model, node, a, ins[1], ins[2])
    _check_encoding(model, node, b, ins[4], ins[5])
    y = _output(model, node, node.output[0], ins[6], ins[7], (a.shape[0], b.shape[1]))
    return MatMul(model.label(node), a, b, y, node.name or node.output[0])


def _shape_op(model: OnnxModel, node: Any, x: QTensor) -> Pool | Alias | Transpose:
    """A MaxPool, GlobalAveragePool, Flatten or Reshape of ``x``, its output's encoding still ``x``'s."""
    label, name = model.label(node), node.name or node.output[0]
    op = node.op_type
    if op in ("GlobalAveragePool", "QLinearGlobalAveragePool"):
        c, h, w = _image(model, node, x)
        y = QTensor(node.output[0], x.dtype, x.scale, x.zero_point, (1, c, 1, 1))
        return Pool(label, x, y, "avg", Window(h, w, c, h, w), name)
    if op == "MaxPool":
        kernel = tuple(model.attrs(node).get("kernel_shape", []))
        if len(kernel) != 2:
            raise ModelError(label, f"kernel_shape {list(kernel)}: hwgen pools over 2-D windows")
        window = _window(model, node, x, kernel)
        y = QTensor(node.output[0], x.dtype, x.scale, x.zero_point, _conv_shape(window, x.shape[1]))
        return Pool(label, x, y, "max", window, name)
    if op == "Transpose":
        perm = list(model.attrs(node).get("perm", [1, 0]))
        if len(x.shape) != 2 or perm != [1, 0]:
            raise ModelError(label, f"transposes {x.shape} by {perm}: hwgen builds 2-D transposes only")
        return Transpose(label, x, QTensor(node.output[0], x.dtype, x.scale, x.zero_point, x.shape[::-1]), name)
    shape = _flat_shape(model, node, x)
    if graph_shape(shape) != graph_shape(x.shape) or (len(x.shape) == 4 and x.shape[2] * x.shape[3] != 1):
        raise ModelError(label, f"reshapes {x.shape} to {shape}: hwgen flattens only one-pixel images")
    return Alias(label, x, QTensor(node.output[0], x.dtype, x.scale, x.zero_point, shape), name)


def _flat_shape(model: OnnxModel, node: Any, x: QTensor) -> tuple[int, ...]:
    """The output shape of a Flatten (``axis``) or a Reshape (its constant shape, ``0`` and ``-1`` resolved)."""
    size = int(np.prod(x.shape))
    if node.op_type == "Flatten":
        axis = model.attrs(node).get("axis", 1) % max(len(x.shape), 1)
        lead = int(np.prod(x.shape[:axis]))
        return (lead, size // lead)
    dims = [int(d) for d in np.asarray(model.constant(node.input[1], node, "the shape")).reshape(-1)]
    dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1]))
        dims[dims.index(-1)] = size // known
    return tuple(dims)


QOPERATOR = {
    "QLinearMatMul": lambda model, node, qt: _qoperator_dense(model, node, qt),
    "QGemm": lambda model, node, qt: _qoperator_dense(model, node, qt),
    "QLinearAdd": lambda model, node, qt: _qoperator_add(model, node, qt),
    "QLinearConv": lambda model, node, qt: _qoperator_conv(model, node, qt),
    "QLinearGlobalAveragePool": lambda model, node, qt: _qoperator_gap(model, node, qt),
}


# -- QONNX -----------------------------------------------------------------------------
def _qonnx_params(model: OnnxModel, node: Any) -> tuple[np.ndarray, int, int, bool, bool, str]:
    """A Quant node's ``(scale, zero point, bits, signed, narrow, rounding)``, checked (a BipolarQuant: its
    scale, 0, 2, signed, not narrow, ``"bipolar"``)."""
    a = model.attrs(node)
    scale = np.asarray(model.constant(node.input[1], node, "the scale"), dtype=np.float32)
    if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
        raise ModelError(model.label(node), "scales must be positive and finite")
    if node.op_type == "BipolarQuant":
        return scale, 0, 2, True, False, "bipolar"
    zero = np.asarray(model.constant(node.input[2], node, "the zero point"))
    bits = np.asarray(model.constant(node.input[3], node, "the bit width"))
    if bits.size != 1 or bits.reshape(-1)[0] != int(bits.reshape(-1)[0]) or not 2 <= int(bits.reshape(-1)[0]) <= 32:
        raise ModelError(model.label(node), f"bit width {bits.reshape(-1).tolist()}: one integer of 2..32")
    if zero.size != 1 or zero.reshape(-1)[0] != np.rint(zero.reshape(-1)[0]):
        raise ModelError(model.label(node), "the zero point must be one integer value")
    mode = str(a.get("rounding_mode", b"ROUND").decode() if isinstance(a.get("rounding_mode"), bytes) else
               a.get("rounding_mode", "ROUND")).upper()  # fmt: skip
    if mode not in QONNX_ROUNDING:
        raise ModelError(model.label(node), f"rounding_mode {mode}: hwgen builds {', '.join(QONNX_ROUNDING)}")
    b, signed, narrow = int(bits.reshape(-1)[0]), bool(a.get("signed", 1)), bool(a.get("narrow", 0))
    return scale, int(zero.reshape(-1)[0]), b, signed, narrow, QONNX_ROUNDING[mode]


def _qonnx_constant(model: OnnxModel, node: Any) -> tuple[np.ndarray, ...]:
    """The integers a QONNX Quant makes of its constant input (``clip(x / scale + zp)`` rounded, in float32
    as QONNX computes it) with its scale, zero point and no axis."""
    scale, zero, bits, signed, narrow, rounding = _qonnx_params(model, node)
    if bits > 8:
        raise ModelError(model.label(node), f"{bits}-bit weights: hwgen's cores take up to 8-bit QONNX weights")
    x = np.asarray(model.constants[node.input[0]], dtype=np.float32)
    lo = -(1 << (bits - 1)) + int(narrow) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1 - int(narrow)
    try:
        v = np.clip(x / np.broadcast_to(scale, x.shape) + np.float32(zero), lo, hi)
    except ValueError:
        raise ModelError(model.label(node), f"scale {scale.shape} does not broadcast to {x.shape}") from None
    r = np.rint(v) if rounding == "half_even" else np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))
    if rounding == "bipolar":  # ±1 weights: QONNX's where(x ≥ 0, 1, −1)
        r = np.where(x >= 0, 1, -1)
    ints = r.astype(np.int8 if signed else np.uint8)
    per_column = scale.reshape(-1) if scale.size > 1 else scale.reshape(())
    if scale.size > 1 and (scale.ndim != 2 or scale.shape[0] != 1):
        raise ModelError(model.label(node), f"scale shape {scale.shape}: per output column as [1, N]")
    return ints, per_column, np.asarray(zero, dtype=np.int64), 1


def _qonnx_quant(model: OnnxModel, node: Any, batch: int | None, out: Layers, pending: dict) -> QTensor:
    """A QONNX Quant of an activation: of a graph input (the host quantizes it) or of a layer's float output
    (the layer's requantization); its float output is read as that integer tensor dequantized."""
    scale, zero, bits, signed, narrow, rounding = _qonnx_params(model, node)
    if narrow:
        raise ModelError(model.label(node), "a narrow-range activation is not supported; use narrow=0")
    if scale.size != 1:
        raise ModelError(model.label(node), "an activation's scale must be one value per tensor")
    dtype = NumType(bits, signed)  # a bipolar activation: b of 0 or 1 in Int(2), standing for (2b − 1) · scale
    src = node.input[0]
    if rounding == "bipolar" and src in pending and not isinstance(pending[src].layer, Dense):
        raise ModelError(model.label(node), "a bipolar activation is built after a MatMul or Gemm only")
    if src in pending:
        layer = pending.pop(src).layer
        layer.y = QTensor(node.output[0], dtype, scale.reshape(())[()], zero, layer.y.shape, rounding)
        out.layers.append(layer)
        return layer.y
    if src not in [i.name for i in model.inputs]:
        raise ModelError(model.label(node), f"quantizes {src!r}, which is neither a graph input nor a layer output")
    q = QTensor(node.output[0], dtype, scale.reshape(())[()], zero, _input_shape(model, node, src, batch), rounding)
    out.inputs[src] = q
    return q
