"""Small float models built with onnx.helper and quantized by onnxruntime's own quantize_static.

    python examples/onnx/make_models.py [OUT_DIR]     (default: rtl_out/onnx)

writes, for an MLP 32 -> 64 -> 48 -> 16 (Gemm layers with biases, ReLU between):
mlp_qdq_pt.onnx, mlp_qdq_pc.onnx (QDQ, per-tensor / per-channel weights),
mlp_qop_pt.onnx, mlp_qop_pc.onnx (QOperator: QGemm); for the same MLP without
biases (MatMul layers): mlp_matmul_qop.onnx (QLinearMatMul), mlp_matmul_qdq_s8.onnx
(QDQ, int8 activations); with MatMul then Add (the bias as its own quantized
tensor, added by a rescaling add): mlp_bias_qop.onnx (QLinearAdd), mlp_bias_qdq.onnx;
an MLP 32 -> 48 -> 48 -> 16 whose second layer adds its input back (a
residual): mlp_res_qop.onnx, mlp_res_qdq.onnx; and a QONNX MLP 32 -> 64 -> 16 with
4-bit weights (QONNX Quant nodes, as Brevitas exports): mlp_qonnx_w4.onnx; a
binarized QONNX MLP (BipolarQuant weights and hidden activation): mlp_qonnx_bnn.onnx; a small
CNN on an 8×8×3 image (3×3 convs with a residual block, a stride-2 conv, MaxPool,
GlobalAveragePool, Flatten, a Gemm classifier): cnn_qdq_pt.onnx, cnn_qdq_pc.onnx,
cnn_qop_pt.onnx, cnn_qop_pc.onnx (QLinearConv, QLinearGlobalAveragePool), and the
same without the head, its output the last feature map: cnn_features_qdq.onnx.
Two MatMul branches joined by a Concat: cat_qdq.onnx, cat_qop.onnx (QLinearConcat).
Integer-op models (MatMulInteger / ConvInteger → Cast → Mul → [Relu →]
QuantizeLinear, power-of-two scales): mlp_int_ops.onnx, cnn_int_ops.onnx.
An attention-like block of MatMuls of two activations (``q · kᵀ`` through a
Transpose, then ``· v``): attn_qdq.onnx, attn_qop.onnx (QLinearMatMul).
``resnet8(path)`` builds a ResNet-8-like float model on 32×32×3 (three stages of
16/32/64 channels with residual blocks), quantized by ``make_resnet8``.
Calibration data is random (seeded): the models are there to be imported and
compared with onnxruntime, not to be accurate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def _save(
    path: Path, name: str, nodes: list, inits: list, x_shape: list, y: str, y_shape: list, domain: str = ""
) -> Path:
    """The model of ``nodes`` (float input ``x``, float output ``y``; ONNX opset 17, and ``domain`` version 1
    when given) written to ``path``."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, y_shape)],
        inits,
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def float_mlp(
    path: Path,
    dims: tuple[int, ...] = (32, 64, 48, 16),
    rows: int = 4,
    *,
    gemm: bool = True,
    bias: bool = False,
    residual: bool = False,
) -> Path:
    """A float MLP: Gemm layers (with bias), or MatMul layers (with ``bias``: MatMul then Add), ReLU between
    them; with ``residual`` the second layer's input is added to its output (equal widths needed)."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i, (k, n) in enumerate(zip(dims, dims[1:])):
        w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"W{i}"))
        if gemm:
            inits.append(numpy_helper.from_array((rng.standard_normal(n) * 0.1).astype(np.float32), f"b{i}"))
            nodes.append(helper.make_node("Gemm", [prev, f"W{i}", f"b{i}"], [f"fc{i}"], name=f"fc{i}"))
        else:
            nodes.append(helper.make_node("MatMul", [prev, f"W{i}"], [f"fc{i}"], name=f"fc{i}"))
            if bias:
                inits.append(numpy_helper.from_array((rng.standard_normal(n) * 0.1).astype(np.float32), f"b{i}"))
                nodes.append(helper.make_node("Add", [f"fc{i}", f"b{i}"], [f"fc{i}_b"], name=f"fc{i}_bias"))
        if residual and i == 1:
            tail = nodes[-1].output[0]
            nodes.append(helper.make_node("Add", [tail, prev], [f"res{i}"], name=f"res{i}"))
        prev = nodes[-1].output[0]
        if i < len(dims) - 2:
            nodes.append(helper.make_node("Relu", [prev], [f"relu{i}"], name=f"relu{i}"))
            prev = f"relu{i}"
    return _save(path, "mlp", nodes, inits, [rows, dims[0]], prev, [rows, dims[-1]])


def quantize(src: Path, dst: Path, fmt: str, per_channel: bool, activations: str = "uint8") -> Path:
    """``src`` quantized by onnxruntime's quantize_static (``fmt``: "QDQ" or "QOperator") with random
    calibration data; int8 weights, ``activations`` uint8 or int8."""
    import logging

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            import onnx

            shape = [d.dim_value for d in onnx.load(str(src)).graph.input[0].type.tensor_type.shape.dim]
            rng = np.random.default_rng(1)
            self.batches = iter([{"x": rng.standard_normal(shape).astype(np.float32)} for _ in range(16)])

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice to pre-process
    act = QuantType.QUInt8 if activations == "uint8" else QuantType.QInt8
    quantize_static(
        str(src),
        str(dst),
        Reader(),
        quant_format=getattr(QuantFormat, fmt),
        per_channel=per_channel,
        activation_type=act,
        weight_type=QuantType.QInt8,
    )
    return dst


def qonnx_mlp(path: Path, dims: tuple[int, ...] = (32, 64, 16), rows: int = 4) -> Path:
    """A QONNX MLP as Brevitas exports one: float MatMul layers between QONNX ``Quant`` nodes — 8-bit signed
    input, 4-bit signed narrow-range weights (per output column in the first layer), ReLU and 8-bit unsigned
    activations, an 8-bit signed output rounded half up."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(2)
    domain = "qonnx.custom_op.general"
    inits, nodes = [], []

    def const(name: str, value: np.ndarray | float) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def quant(src: str, dst: str, scale: np.ndarray | float, bits: int, signed: int, narrow: int = 0,
              rounding: str = "ROUND") -> str:  # fmt: skip
        ins = [src, const(f"{dst}_scale", scale), const(f"{dst}_zp", 0.0), const(f"{dst}_bits", float(bits))]
        nodes.append(helper.make_node("Quant", ins, [dst], name=dst, domain=domain, signed=signed, narrow=narrow,
                                      rounding_mode=rounding))  # fmt: skip
        return dst

    prev = quant("x", "x_q", 1 / 32, 8, 1)
    for i, (k, n) in enumerate(zip(dims, dims[1:])):
        w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
        wscale = (np.abs(w).max(axis=0, keepdims=True) / 7) if i == 0 else np.float32(np.abs(w).max() / 7)
        wq = quant(const(f"W{i}", w), f"W{i}_q", wscale.astype(np.float32), 4, 1, narrow=1)
        nodes.append(helper.make_node("MatMul", [prev, wq], [f"fc{i}"], name=f"fc{i}"))
        if i < len(dims) - 2:
            nodes.append(helper.make_node("Relu", [f"fc{i}"], [f"relu{i}"], name=f"relu{i}"))
            prev = quant(f"relu{i}", f"act{i}", 0.02, 8, 0)
        else:
            prev = quant(f"fc{i}", "y", 0.05, 8, 1, rounding="HALF_UP")
    return _save(path, "qonnx_mlp", nodes, inits, [rows, dims[0]], "y", [rows, dims[-1]], domain)


def float_cnn(
    path: Path, size: int = 8, channels: int = 3, widths: tuple[int, ...] = (8,), classes: int = 10,
    *, maxpool: bool = True, head: bool = True,
) -> Path:  # fmt: skip
    """A float CNN on one ``size × size × channels`` image (NCHW): a 3×3 conv stem to ``widths[0]``, then per
    width a residual block (conv-ReLU-conv, added to its input, ReLU) and, between widths, a 3×3 stride-2
    conv; a final stride-2 conv to twice the last width; with ``maxpool`` a 2×2 MaxPool; with ``head``
    GlobalAveragePool, Flatten and a Gemm to ``classes`` (else the output is the last feature map)."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits = [], []

    def conv(name: str, x: str, ci: int, co: int, stride: int = 1, relu: bool = True) -> str:
        w = (rng.standard_normal((co, ci, 3, 3)) / np.sqrt(9 * ci)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"{name}_w"))
        inits.append(numpy_helper.from_array((rng.standard_normal(co) * 0.1).astype(np.float32), f"{name}_b"))
        nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [name], name=name, kernel_shape=[3, 3],
                                      pads=[1, 1, 1, 1], strides=[stride, stride]))  # fmt: skip
        if not relu:
            return name
        nodes.append(helper.make_node("Relu", [name], [f"{name}_r"], name=f"{name}_relu"))
        return f"{name}_r"

    prev, side = conv("stem", "x", channels, widths[0]), size
    for i, wd in enumerate(widths):
        if i:
            prev, side = conv(f"down{i}", prev, widths[i - 1], wd, stride=2), (side + 1) // 2
        body = conv(f"b{i}c2", conv(f"b{i}c1", prev, wd, wd), wd, wd, relu=False)
        nodes.append(helper.make_node("Add", [body, prev], [f"b{i}sum"], name=f"b{i}sum"))
        nodes.append(helper.make_node("Relu", [f"b{i}sum"], [f"b{i}out"], name=f"b{i}relu"))
        prev = f"b{i}out"
    last = 2 * widths[-1]
    prev, side = conv("tail", prev, widths[-1], last, stride=2), (side + 1) // 2
    if maxpool:
        nodes.append(helper.make_node("MaxPool", [prev], ["pool"], name="pool", kernel_shape=[2, 2], strides=[2, 2]))
        prev, side = "pool", side // 2
    shape = [1, last, side, side]
    if head:
        nodes.append(helper.make_node("GlobalAveragePool", [prev], ["gap"], name="gap"))
        nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flat"))
        inits.append(numpy_helper.from_array((rng.standard_normal((last, classes)) / 4).astype(np.float32), "fc_w"))
        inits.append(numpy_helper.from_array((rng.standard_normal(classes) * 0.1).astype(np.float32), "fc_b"))
        nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], name="fc"))
        prev, shape = "y", [1, classes]
    return _save(path, "cnn", nodes, inits, [1, channels, size, size], prev, shape)


def float_attention(path: Path, rows: int = 8, width: int = 16) -> Path:
    """``q, k, v = x·W0, x·W1, x·W2``; ``s = q · Transpose(k)``; ``c = s · v``; ``y = c · W3`` (no softmax: a
    MatMul of two activations, exactly as ONNX defines it)."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array((rng.standard_normal((width, width)) / 4).astype(np.float32), f"W{i}")
             for i in range(4)]  # fmt: skip
    nodes = [helper.make_node("MatMul", ["x", f"W{i}"], [t], name=t) for i, t in enumerate("qkv")]
    nodes += [
        helper.make_node("Transpose", ["k"], ["kt"], name="kt", perm=[1, 0]),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="s"),
        helper.make_node("MatMul", ["s", "v"], ["c"], name="c"),
        helper.make_node("MatMul", ["c", "W3"], ["y"], name="y"),
    ]
    return _save(path, "attention", nodes, inits, [rows, width], "y", [rows, width])


def integer_ops(path: Path, conv: bool = False, scales: tuple[float, float, float] = (2**-4, 2**-9, 2**-3)) -> Path:
    """Two layers written with ONNX's integer ops, as some exporters write them: ``QuantizeLinear`` (uint8,
    zero point 128), then per layer ``MatMulInteger`` (or ``ConvInteger``, 3×3, pad 1, on a 1×2×6×6 image) with
    int8 weights, ``Cast`` to float, ``Mul`` by a constant scale, (``Relu`` after the first), ``QuantizeLinear``;
    a ``DequantizeLinear`` out. ``scales = (x, Mul, y)``: powers of two by default, so onnxruntime's float32
    steps are exact (other scales round in float32: see :func:`hwgen.importer.scales.float32_rule`)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    xs, ms, ys = (np.float32(s) for s in scales)
    consts = {"xs": xs, "xz": np.uint8(128), "ms": ms, "ys": ys, "yz": np.uint8(0), "zs": ys, "zz": np.uint8(100)}
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]
    shapes = [(2, 4), (4, 3)]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="quant_x")]
    prev, zero = "xq", "xz"
    for i, (ci, co) in enumerate(shapes):
        w = rng.integers(-20, 21, (co, ci, 3, 3) if conv else (8 * ci, 8 * co)).astype(np.int8)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        op = "ConvInteger" if conv else "MatMulInteger"
        extra = {"pads": [1, 1, 1, 1]} if conv else {}
        nodes += [
            helper.make_node(op, [prev, f"w{i}", zero], [f"acc{i}"], name=f"layer{i}", **extra),
            helper.make_node("Cast", [f"acc{i}"], [f"accf{i}"], to=TensorProto.FLOAT, name=f"cast{i}"),
            helper.make_node("Mul", [f"accf{i}", "ms"], [f"real{i}"], name=f"scale{i}"),
        ]
        real = f"real{i}"
        if i == 0:
            nodes.append(helper.make_node("Relu", [real], ["relu0"], name="relu0"))
            real = "relu0"
        out_scale, out_zero = ("ys", "yz") if i == 0 else ("zs", "zz")
        nodes.append(helper.make_node("QuantizeLinear", [real, out_scale, out_zero], [f"q{i}"], name=f"quant{i}"))
        prev, zero = f"q{i}", out_zero
    nodes.append(helper.make_node("DequantizeLinear", [prev, "zs", "zz"], ["y"], name="dequant"))
    x_shape, y_shape = ([1, 2, 6, 6], [1, 3, 6, 6]) if conv else ([4, 16], [4, 24])
    return _save(path, "int_ops", nodes, inits, x_shape, "y", y_shape)


def float_concat(path: Path, rows: int = 4) -> Path:
    """``y = concat(x·W0, x·W1) · W2`` (a 16 → 8 and a 16 → 4 branch, joined along the features)."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(5)
    shapes = [(16, 8), (16, 4), (12, 6)]
    inits = [
        numpy_helper.from_array((rng.standard_normal(s) / 4).astype(np.float32), f"W{i}") for i, s in enumerate(shapes)
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "W0"], ["a"], name="a"),
        helper.make_node("MatMul", ["x", "W1"], ["b"], name="b"),
        helper.make_node("Concat", ["a", "b"], ["c"], name="cat", axis=1),
        helper.make_node("MatMul", ["c", "W2"], ["y"], name="y"),
    ]
    return _save(path, "concat", nodes, inits, [rows, 16], "y", [rows, 6])


def resnet8(path: Path) -> Path:
    """A ResNet-8-like float model: 32×32×3, stages of 16, 32 and 64 channels, GlobalAveragePool, 10 classes."""
    return float_cnn(path, 32, 3, (16, 32, 64), maxpool=False)


def make_resnet8(out: Path, fmt: str = "QDQ", per_channel: bool = True) -> Path:
    """``resnet8`` quantized (``fmt`` QDQ or QOperator) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{'qdq' if fmt == 'QDQ' else 'qop'}_{'pc' if per_channel else 'pt'}"
    return quantize(resnet8(out / "resnet8_float.onnx"), out / f"resnet8_{tag}.onnx", fmt, per_channel)


def qonnx_bnn(path: Path, dims: tuple[int, ...] = (32, 64, 16), rows: int = 4) -> Path:
    """A binarized QONNX MLP as FINN's BNN examples are written: an 8-bit input, ``BipolarQuant`` (±1) weights
    (per output column in the first layer), a bipolar hidden activation (``BipolarQuant`` of the first
    MatMul), and an 8-bit signed output. The weight scales are powers of two: qonnx's reference computes in
    float32, and with other scales its sums round (a pre-activation of exactly 0 can come out ±tiny and flip
    the sign), which no integer rule reproduces."""
    import onnx
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(6)
    domain = "qonnx.custom_op.general"
    inits: list = []

    def const(name: str, value: np.ndarray | float) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def quant(src: str, dst: str, scale: float, bits: int) -> onnx.NodeProto:
        ins = [src, const(f"{dst}_s", scale), const(f"{dst}_z", 0.0), const(f"{dst}_b", float(bits))]
        return helper.make_node("Quant", ins, [dst], name=dst, domain=domain, signed=1, narrow=0, rounding_mode="ROUND")

    def bipolar(src: str, dst: str, scale: np.ndarray | float) -> onnx.NodeProto:
        return helper.make_node("BipolarQuant", [src, const(f"{dst}_s", scale)], [dst], name=dst, domain=domain)

    nodes = [quant("x", "x_q", 1 / 32, 8)]
    prev = "x_q"
    for i, (k, n) in enumerate(zip(dims, dims[1:])):
        w = rng.standard_normal((k, n)).astype(np.float32)
        mean = np.abs(w).mean(axis=0, keepdims=True) if i == 0 else np.abs(w).mean()
        scale = (2.0 ** np.round(np.log2(mean))).astype(np.float32)  # powers of two: qonnx's float sums are exact
        nodes.append(bipolar(const(f"W{i}", w), f"W{i}_q", scale))
        nodes.append(helper.make_node("MatMul", [prev, f"W{i}_q"], [f"fc{i}"], name=f"fc{i}"))
        last = i == len(dims) - 2
        nodes.append(quant(f"fc{i}", "y", 0.5, 8) if last else bipolar(f"fc{i}", f"act{i}", 1.0))
        prev = "y" if last else f"act{i}"
    return _save(path, "qonnx_bnn", nodes, inits, [rows, dims[0]], "y", [rows, dims[-1]], domain)


def make_all(out: Path) -> dict[str, Path]:
    """Every model of the module docstring, written into ``out``; name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    gemm, matmul = float_mlp(out / "mlp_float.onnx"), float_mlp(out / "mlp_matmul_float.onnx", gemm=False)
    made = {}
    for fmt, tag in (("QDQ", "qdq"), ("QOperator", "qop")):
        for pc in (False, True):
            name = f"mlp_{tag}_{'pc' if pc else 'pt'}"
            made[name] = quantize(gemm, out / f"{name}.onnx", fmt, pc)
    made["mlp_matmul_qop"] = quantize(matmul, out / "mlp_matmul_qop.onnx", "QOperator", False)
    made["mlp_matmul_qdq_s8"] = quantize(matmul, out / "mlp_matmul_qdq_s8.onnx", "QDQ", True, "int8")
    biased = float_mlp(out / "mlp_bias_float.onnx", gemm=False, bias=True)
    made["mlp_bias_qop"] = quantize(biased, out / "mlp_bias_qop.onnx", "QOperator", True)
    made["mlp_bias_qdq"] = quantize(biased, out / "mlp_bias_qdq.onnx", "QDQ", False)
    res = float_mlp(out / "mlp_res_float.onnx", (32, 48, 48, 16), residual=True)
    made["mlp_res_qop"] = quantize(res, out / "mlp_res_qop.onnx", "QOperator", False)
    made["mlp_res_qdq"] = quantize(res, out / "mlp_res_qdq.onnx", "QDQ", True)
    made["mlp_qonnx_w4"] = qonnx_mlp(out / "mlp_qonnx_w4.onnx")
    made["mlp_qonnx_bnn"] = qonnx_bnn(out / "mlp_qonnx_bnn.onnx")
    cnn = float_cnn(out / "cnn_float.onnx")
    for fmt, tag in (("QDQ", "qdq"), ("QOperator", "qop")):
        for pc in (False, True):
            name = f"cnn_{tag}_{'pc' if pc else 'pt'}"
            made[name] = quantize(cnn, out / f"{name}.onnx", fmt, pc)
    features = float_cnn(out / "cnn_features_float.onnx", maxpool=False, head=False)
    made["cnn_features_qdq"] = quantize(features, out / "cnn_features_qdq.onnx", "QDQ", True)
    attention = float_attention(out / "attn_float.onnx")
    made["attn_qdq"] = quantize(attention, out / "attn_qdq.onnx", "QDQ", False)
    made["attn_qop"] = quantize(attention, out / "attn_qop.onnx", "QOperator", False)
    joined = float_concat(out / "cat_float.onnx")
    made["cat_qdq"] = quantize(joined, out / "cat_qdq.onnx", "QDQ", False)
    made["cat_qop"] = quantize(joined, out / "cat_qop.onnx", "QOperator", True)
    made["mlp_int_ops"] = integer_ops(out / "mlp_int_ops.onnx")
    made["cnn_int_ops"] = integer_ops(out / "cnn_int_ops.onnx", conv=True)
    return made


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("rtl_out/onnx")
    for name, path in make_all(folder).items():
        print(f"{name}: {path}")
