"""ONNX import: quantized models (QDQ and QOperator) as task graphs the schedule engine builds.

    model = import_onnx("mlp_int8.onnx")          # reads, lowers, proves every requantization
    model.graph                                    # a hwgen.schedule.TaskGraph
    floats, ints = model.random_inputs(seed=1)     # inputs for onnxruntime (float) and the graph (integers)
    model.compare(model.dequantize(model.graph.run(ints)), model.onnxruntime(floats))   # 0 differing elements

What is read (:mod:`.read`), how it is lowered and proved (:mod:`.lower`,
:mod:`.scales`) and what a user edits (:func:`write_schedule`) live in the
submodules. An image ``[1, C, H, W]`` is the graph tensor ``[H·W, C]`` (one
pixel per row, channels last): :meth:`ImportedModel.quantize` and
:meth:`ImportedModel.dequantize` convert. The contract is ONNX's reference
semantics: onnxruntime with graph optimizations disabled (its optimized x86
kernels saturate u8×s8 product pairs at int16 and can differ from the
reference by several LSB).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..schedule import TaskGraph
from .layers import QTensor, from_rows, graph_shape, to_rows
from .lower import LayerReport, Lowered, lower
from .model import ModelError, OnnxModel, require
from .read import read_layers

__all__ = ["ImportedModel", "ModelError", "import_onnx"]


@dataclass
class ImportedModel:
    """A quantized ONNX model as a task graph, and the conversions between ONNX's tensors and the graph's."""

    source: str
    lowered: Lowered

    @property
    def graph(self) -> TaskGraph:
        return self.lowered.graph

    @property
    def layers(self) -> list[LayerReport]:
        return self.lowered.layers

    def quantize(self, floats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The graph's integer inputs from the model's float inputs (``QuantizeLinear`` on the host)."""
        out = {}
        for name, (tensor, q) in self.lowered.inputs.items():
            if name not in floats:
                raise ModelError(f"inputs.{name}", "no data given for this model input")
            x = np.asarray(floats[name], dtype=np.float32)
            if x.shape != q.shape:
                raise ModelError(f"inputs.{name}", f"data is {x.shape}, the model input is {q.shape}")
            out[tensor] = to_rows(q.shape, q.quantize(x))
        return out

    def dequantize(self, env: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The model's float outputs from the graph's integer tensors (``DequantizeLinear`` on the host)."""
        return {
            name: q.dequantize(from_rows(q.shape, env[tensor])) for name, (tensor, q) in self.lowered.outputs.items()
        }

    def random_inputs(self, seed: int = 1) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Random inputs over the whole quantized range: ``(floats for onnxruntime, integers for the graph)``;
        the floats are exact dequantized values, so ONNX's QuantizeLinear gives the same integers back."""
        rng = np.random.default_rng(seed)
        floats, ints = {}, {}
        for name, (tensor, q) in self.lowered.inputs.items():
            ints[tensor] = rng.integers(q.dtype.min, q.dtype.max + 1, graph_shape(q.shape))
            floats[name] = q.dequantize(from_rows(q.shape, ints[tensor]))
        assert all(np.array_equal(self.quantize(floats)[t], v) for t, v in ints.items())
        return floats, ints

    @property
    def reference_name(self) -> str:
        """What :meth:`reference` runs: ``qonnx`` for a model with QONNX ``Quant`` nodes, else ``onnxruntime``."""
        graph = require("onnx").load(self.source).graph
        return "qonnx" if any(n.op_type == "Quant" for n in graph.node) else "onnxruntime"

    def reference(self, floats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The model run by its reference: qonnx's executor for a model with QONNX ``Quant`` nodes, else
        onnxruntime with graph optimizations disabled (ONNX's reference semantics)."""
        if self.reference_name == "qonnx":
            wrapper = require("qonnx.core.modelwrapper").ModelWrapper(self.source)
            wrapper = wrapper.transform(require("qonnx.transformation.infer_shapes").InferShapes())
            feeds = {k: np.asarray(v, np.float32) for k, v in floats.items()}
            outs = require("qonnx.core.onnx_exec").execute_onnx(wrapper, feeds)
            return {name: np.asarray(outs[name]) for name in self.lowered.outputs}
        return self.onnxruntime(floats)

    def onnxruntime(self, floats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The model run by onnxruntime with graph optimizations disabled (ONNX's reference semantics)."""
        ort = require("onnxruntime")

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.log_severity_level = 3
        session = ort.InferenceSession(self.source, opts, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, {k: np.asarray(v, np.float32) for k, v in floats.items()})))

    @staticmethod
    def compare(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> dict[str, int]:
        """Differing elements per output (float32 values compared exactly)."""
        return {name: int(np.sum(ours[name] != np.asarray(theirs[name], np.float32))) for name in ours}

    def report(self) -> dict[str, Any]:
        return {
            "model": self.source,
            "graph": self.graph.name,
            "inputs": {k: {"task": t, **_encoding(q)} for k, (t, q) in self.lowered.inputs.items()},
            "outputs": {k: {"task": t, **_encoding(q)} for k, (t, q) in self.lowered.outputs.items()},
            "layers": [r.summary() for r in self.layers],
        }


def _encoding(q: QTensor) -> dict[str, Any]:
    return {"type": str(q.dtype), "scale": float(q.scale), "zero_point": q.zero_point, "shape": list(q.shape)}


def import_onnx(path: str | Path, *, batch: int | None = None) -> ImportedModel:
    """Read a quantized ONNX model and lower it to a task graph (see the package docstring); ``batch`` fixes
    a symbolic first input dimension. Raises :class:`ModelError` for anything it cannot import."""
    model = OnnxModel(path)
    return ImportedModel(str(path), lower(read_layers(model, batch), model.name))
