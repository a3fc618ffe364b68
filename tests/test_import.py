"""ONNX import (hwgen.importer): quantized models from onnxruntime's quantize_static against onnxruntime.

The models are built by ``examples/onnx/make_models.py`` (float MLPs and a small CNN with onnx.helper,
quantized QDQ and QOperator, per-tensor and per-channel, uint8 and int8 activations; a QONNX MLP).
onnxruntime runs with graph optimizations disabled: ONNX's reference semantics are the contract.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from hwgen.importer import ModelError, import_onnx
from hwgen.importer.scales import best_fixed_point, fixed_point, prove
from hwgen.requant import round_shift
from tests.examples import load_example

HWGEN = [sys.executable, "-m", "hwgen.cli"]


def _make_models():
    return load_example("onnx", "make_models.py")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return _make_models().make_all(tmp_path_factory.mktemp("onnx"))


#: model -> (layers, rescaling adds, per-column requantization of each dense layer)
EXPECT = {
    "mlp_qdq_pt": (3, 0, [False] * 3),
    "mlp_qdq_pc": (3, 0, [True] * 3),
    "mlp_qop_pt": (3, 0, [False] * 3),
    "mlp_qop_pc": (3, 0, [True] * 3),
    "mlp_matmul_qop": (3, 0, [False] * 3),
    "mlp_matmul_qdq_s8": (3, 0, [True] * 3),
    # MatMul + a quantized bias (QLinearAdd of a constant row), and residual adds
    "mlp_bias_qop": (6, 3, [True] * 3),
    "mlp_bias_qdq": (6, 3, [False] * 3),
    "mlp_res_qop": (4, 1, [False] * 3),
    "mlp_res_qdq": (4, 1, [True] * 3),
    # QONNX: 4-bit weights (per column in the first layer), the output rounded half up
    "mlp_qonnx_w4": (2, 0, [True, False]),
    # QONNX BipolarQuant: ±1 weights, a bipolar hidden activation (the sign of the accumulator)
    "mlp_qonnx_bnn": (2, 0, [False, False]),
    # a CNN on 8×8×3: 4 convs (a residual block), MaxPool, GlobalAveragePool, a Gemm classifier
    "cnn_qdq_pt": (7, 1, [False] * 5),
    "cnn_qdq_pc": (7, 1, [True] * 5),
    "cnn_qop_pt": (7, 1, [False] * 5),
    "cnn_qop_pc": (7, 1, [True] * 5),
    # the same convs without the head: the output is a 4×4×16 feature map
    "cnn_features_qdq": (5, 1, [True] * 4),
    # q·kᵀ (a Transpose into a MatMul of two activations), then ·v: 4 dense layers, 2 matmuls
    "attn_qdq": (6, 0, [False] * 4),
    "attn_qop": (6, 0, [False] * 4),
    # MatMulInteger / ConvInteger -> Cast -> Mul -> QuantizeLinear, power-of-two scales (float32 exact)
    "mlp_int_ops": (2, 0, [False] * 2),
    "cnn_int_ops": (2, 0, [False] * 2),
    # two branches joined by a Concat (each requantized into the output's encoding)
    "cat_qdq": (4, 0, [False] * 3),
    "cat_qop": (4, 0, [True] * 3),
}


@pytest.mark.parametrize("name", list(EXPECT))
def test_golden_model_equals_the_reference_and_every_requantization_is_proved(models, name):
    """Every layer's multiplier and shift give the exact rounding rule on every reachable accumulator (every
    operand pair of an add), and the task graph's golden model equals the reference (onnxruntime; qonnx for
    QONNX) on 10 random batches over the whole input range."""
    m = import_onnx(models[name])
    layers, adds, per_channel = EXPECT[name]
    assert len(m.layers) == layers
    assert sum(m.graph.tasks[r.gemm].op == "add" for r in m.layers) == adds
    for layer in m.layers:
        # every reachable value: the fewest are a binarized layer's 2·64 + 1 sums of ±1 products
        assert layer.proof.exact and layer.proof.checked >= 129, layer.summary()
    dense = [r for r in m.layers if m.graph.tasks[r.gemm].op in ("gemm", "conv")]
    assert [isinstance(r.multiplier, tuple) for r in dense] == per_channel
    for seed in range(10):
        floats, ints = m.random_inputs(seed)
        ours = m.dequantize(m.graph.run(ints))
        theirs = m.reference(floats)
        assert set(ours) == set(theirs)
        assert all(np.array_equal(ours[k], theirs[k]) for k in ours), m.compare(ours, theirs)


def test_a_wrong_scale_would_be_caught(models):
    """The comparison is not vacuous: with one layer's multiplier halved the outputs differ from onnxruntime."""
    m = import_onnx(models["mlp_qop_pt"])
    q = m.graph.tasks[m.layers[1].output]
    q.params["multiplier"] //= 2
    floats, ints = m.random_inputs(0)
    assert sum(m.compare(m.dequantize(m.graph.run(ints)), m.onnxruntime(floats)).values()) > 0


@pytest.mark.parametrize(
    ("name", "elements"),
    [
        ("mlp_qdq_pc", 64),
        ("mlp_qop_pt", 64),
        ("mlp_matmul_qdq_s8", 64),
        ("mlp_bias_qop", 64),
        ("mlp_res_qdq", 64),
        ("mlp_qonnx_w4", 64),
        ("mlp_qonnx_bnn", 64),
        ("cnn_qdq_pc", 10),
        ("cnn_qop_pt", 10),
        ("cnn_features_qdq", 256),
        ("attn_qop", 128),
        ("cnn_int_ops", 108),
        ("cat_qop", 24),
    ],
)
def test_compile_run_on_verilator_matches_the_reference(models, name, elements, tmp_path):
    """``hwgen compile MODEL --run``: the engine on the native Verilator bench, fed random inputs, gives
    outputs equal to the reference's (and to the golden model, with the modelled cycles and traffic)."""
    out = tmp_path / "rtl"
    proc = subprocess.run(
        [*HWGEN, "compile", str(models[name]), "--out", str(out), "--run", "--cores", "2", "--lanes", "8"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reference = "qonnx" if "qonnx" in name else "onnxruntime"
    assert f"0 of {elements} output elements differ from {reference}" in proc.stdout
    assert len(list(out.glob("engine_*_auto.v"))) == 1 and len(list(out.glob("engine_*_auto.json"))) == 1


@pytest.mark.parametrize("name", ["mlp_qdq_pc", "mlp_bias_qop", "cnn_qop_pc"])
def test_import_writes_an_editable_schedule_file(models, name, tmp_path):
    """``hwgen import`` writes a .py (+ .npz) that ``hwgen schedule`` loads; its graph equals the import's
    (gemm, rescaling adds with constant rows, convs, pools and copies)."""
    from hwgen.spec import load_schedule

    target = tmp_path / "sched" / f"{name}.py"
    proc = subprocess.run([*HWGEN, "import", str(models[name]), "--out", str(target)], capture_output=True,
                          text=True, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    graph, machine, _ = load_schedule(target)
    m = import_onnx(models[name])
    _, ints = m.random_inputs(4)
    assert all(np.array_equal(graph.run(ints)[o], m.graph.run(ints)[o]) for o in m.graph.outputs())
    proc = subprocess.run([*HWGEN, "schedule", str(target), "--policy", "auto"], capture_output=True, text=True)
    assert proc.returncode == 0 and "cycles" in proc.stdout, proc.stderr


def _model(path: Path, nodes: list, x: list[int], y: list[int], inits: list) -> Path:
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph(
        nodes,
        "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y)],
        inits,
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _conv_model(path: Path) -> Path:
    """A depthwise convolution (group 2): not a convolution hwgen builds."""
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", group=2)
    return _model(path, [node], [1, 2, 8, 8], [1, 2, 6, 6], [w])


def _flatten_model(path: Path) -> Path:
    """A convolution's 6×6 feature map flattened: the NCHW order is not the rows hwgen stores."""
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv1"), helper.make_node("Flatten", ["c"], ["y"])]
    return _model(path, nodes, [1, 1, 8, 8], [1, 72], [w])


def _sigmoid_model(path: Path) -> Path:
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.ones((8, 4), np.float32) / 8, "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"), helper.make_node("Sigmoid", ["h"], ["y"])]
    return _model(path, nodes, [2, 8], [2, 4], [w])


def test_unsupported_and_bad_models_are_one_line_exit_2_nothing_written(models, tmp_path):
    mk = _make_models()
    conv = mk.quantize(_conv_model(tmp_path / "conv.onnx"), tmp_path / "conv_q.onnx", "QOperator", False)
    flat = mk.quantize(_flatten_model(tmp_path / "flat.onnx"), tmp_path / "flat_q.onnx", "QDQ", False)
    sigmoid = mk.quantize(_sigmoid_model(tmp_path / "sig.onnx"), tmp_path / "sig_q.onnx", "QDQ", False)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    cases = [
        (sigmoid, "(Sigmoid): is not supported; hwgen imports QuantizeLinear, DequantizeLinear, QLinearMatMul"),
        (conv, "(QLinearConv): weights (2, 1, 3, 3), group 2: hwgen imports 2-D convolutions of group 1"),
        (flat, "reshapes (1, 2, 6, 6) to (1, 72): hwgen flattens only one-pixel images"),
        (models["mlp_float"] if "mlp_float" in models else tmp_path / "mlp_float.onnx", "is a float model"),
        (junk, "not a readable ONNX model"),
        (tmp_path / "missing.onnx", "no such ONNX file"),
    ]
    mk.float_mlp(tmp_path / "mlp_float.onnx")
    for model, message in cases:
        out = tmp_path / "out"
        proc = subprocess.run([*HWGEN, "compile", str(model), "--out", str(out)], capture_output=True, text=True)
        assert proc.returncode == 2, (model, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr, (message, proc.stderr)
        assert not out.exists()
    proc = subprocess.run([*HWGEN, "compile", str(models["mlp_qop_pt"]), "--cores", "0", "--out", str(out)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and "--cores: 0" in proc.stderr and not out.exists(), proc.stderr
    with pytest.raises(ModelError, match="symbolic batch"):
        import_onnx(_symbolic(models["mlp_qop_pt"], tmp_path / "sym.onnx"))
    assert import_onnx(_symbolic(models["mlp_qop_pt"], tmp_path / "sym.onnx"), batch=3).graph.tasks["x"].rows == 3


def _symbolic(src: Path, dst: Path) -> Path:
    import onnx

    m = onnx.load(str(src))
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.save(m, str(dst))
    return dst


# -- the scale prover -------------------------------------------------------------------------
def _brute(scale: Fraction, m: int, n: int, lo: int, hi: int) -> int:
    return sum(int(round_shift(a * m, n, "half_even")) != round(a * scale) for a in range(lo, hi + 1))


@pytest.mark.parametrize(
    ("scale", "m", "n"),
    [
        (Fraction(1, 3), 1431655765, 32),  # the nearest: exact on this range
        (Fraction(1, 3), 1431655766, 32),  # one off
        (Fraction(3, 8), 3, 3),  # the same rational: ties at every 8th value agree
        (Fraction(3, 8), 3 * (1 << 28) + 1, 31),  # a hair above 3/8: every tie rounds up
        (Fraction(7, 10), 11, 4),  # coarse
    ],
)
def test_prove_counts_exactly_what_brute_force_counts(scale, m, n):
    lo, hi = -20000, 20000
    assert prove(scale, m, n, lo, hi).differing == _brute(scale, m, n, lo, hi)


def test_integer_ops_are_proved_against_onnx_float32_steps(tmp_path):
    """MatMulInteger → Cast → Mul → QuantizeLinear is float32 arithmetic in ONNX: with scales that are not
    powers of two no integer rule equals it everywhere. The prover counts exactly the accumulators where
    round_shift(acc·M, n) and the float32 steps differ (brute force agrees), and the golden model then
    differs from onnxruntime only where the proof said it may."""
    from hwgen.importer.scales import float32_rule, prove_float32

    path = _make_models().integer_ops(tmp_path / "int_ops.onnx", scales=(0.05, 0.05 * 0.01, 0.1))
    m = import_onnx(path)
    assert all(r.proof.differing > 0 for r in m.layers)
    scale, y_scale = np.float32(0.05 * 0.01), np.float32(0.1)
    mult, shift = m.layers[0].multiplier, m.layers[0].shift
    acc = np.arange(-300_000, 300_001)
    brute = int(np.count_nonzero(round_shift(acc * mult, shift, "half_even") != float32_rule(acc, scale, y_scale)))
    assert prove_float32(scale, y_scale, mult, shift, -300_000, 300_000).differing == brute > 0


def test_fixed_point_is_nearest_with_31_bits():
    for scale in (Fraction(1, 3), Fraction(5), Fraction(1, 1 << 40), Fraction(123456789, 1 << 50)):
        m, n = fixed_point(scale)
        assert 0 < m < 1 << 31 and 0 <= n <= 62
        assert m >= 1 << 30 or n == 62
        assert abs(Fraction(m, 1 << n) - scale) <= Fraction(1, 1 << (n + 1))
    m, n, proof = best_fixed_point(Fraction(1, 3), -(1 << 16), 1 << 16)
    assert proof.exact and proof.checked == (1 << 17) + 1


@pytest.mark.slow
def test_resnet8_end_to_end_on_verilator(tmp_path):
    """The ResNet-8-like model (32×32×3, 16/32/64 channels): the engine on the native bench equals the golden
    model, cycles and traffic equal the report; against onnxruntime, the only differences are where the
    prover found accumulators rounding apart (the 31-bit multiplier), at most 1 LSB, on at most one output."""
    from hwgen.schedule import Machine
    from hwgen.schedule.run import run_schedule

    m = import_onnx(_make_models().make_resnet8(tmp_path))
    assert sum(r.proof.differing for r in m.layers) > 0 and all(r.proof.max_diff <= 1 for r in m.layers)
    machine = Machine(cores=4, lanes=16, onchip_bytes=192 * 1024, offchip_bytes_per_cycle=8, offchip_latency=30)
    floats, ints = m.random_inputs(1)
    env = m.graph.run(ints)
    run = run_schedule(m.graph, machine, "auto", ints, sim="native")
    assert run.compare({o: env[o] for o in m.graph.outputs()}) == []
    ours, theirs = m.dequantize(run.outputs), m.reference(floats)
    ((name, q),) = ((k, v[1]) for k, v in m.lowered.outputs.items())
    lsb = np.abs(ours[name] - theirs[name]) / q.scale
    assert np.count_nonzero(lsb) <= 1 and lsb.max() <= 1.001
