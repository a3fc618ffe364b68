"""An ONNX model as the importer reads it: constants, producers, consumers, shapes, and its errors.

:class:`OnnxModel` loads a ``.onnx`` file (or takes a ``ModelProto``), checks it
with ``onnx.checker``, and answers what the front ends ask: the value of a
constant input (an initializer or a ``Constant`` node's output), the node
producing a tensor, the nodes reading it, a node's attributes, a graph
input's shape. Anything the importer cannot take is a :class:`ModelError`
naming the file and the node: ``model.onnx:node 'fc1' (Conv)``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ToolError


class ModelError(ConfigError):
    """An ONNX model hwgen cannot import: a node, tensor or pattern it does not support."""


def require(module: str) -> Any:
    """``module`` imported, or a :class:`ToolError` saying which extra installs it (onnx, onnxruntime and
    qonnx come with ``hwgen[onnx]``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ToolError(module.split(".")[0], "is not installed; pip install 'hwgen[onnx]'") from None


class OnnxModel:
    """An ONNX graph with the look-ups the importer needs; ``where`` names the model in errors."""

    def __init__(self, source: str | Path | Any):
        onnx = require("onnx")
        numpy_helper = require("onnx.numpy_helper")

        if isinstance(source, str | Path):
            self.where = str(source)
            p = Path(source)
            if not p.is_file():
                raise ModelError(self.where, "no such ONNX file")
            try:
                proto = onnx.load(str(p))
            except Exception as e:  # a corrupt or non-ONNX file: onnx raises several kinds
                raise ModelError(self.where, f"not a readable ONNX model ({type(e).__name__}: {e})") from None
        else:
            self.where, proto = "model", source
        try:
            onnx.checker.check_model(proto)
        except onnx.checker.ValidationError as e:
            first = str(e).strip().splitlines()[0]
            raise ModelError(self.where, f"the ONNX checker rejects it: {first}") from None
        self.proto = proto
        g = proto.graph
        self.name = g.name or "model"
        self.nodes = list(g.node)
        self.constants: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        for node in self.nodes:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                self.constants[node.output[0]] = numpy_helper.to_array(self.attrs(node)["value"])
        self.producer = {out: node for node in self.nodes for out in node.output}
        self.inputs = [i for i in g.input if i.name not in self.constants]
        self.outputs = [o.name for o in g.output]

    # -- look-ups ------------------------------------------------------------------
    def label(self, node: Any) -> str:
        return f"{self.where}:node {node.name or node.output[0]!r} ({node.op_type})"

    @staticmethod
    def attrs(node: Any) -> dict[str, Any]:
        helper = require("onnx.helper")
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def consumers(self, tensor: str) -> list[Any]:
        return [n for n in self.nodes if tensor in n.input]

    def constant(self, tensor: str, node: Any, what: str) -> np.ndarray:
        """The value of ``tensor``, an input of ``node`` that must be constant (``what`` names it)."""
        if tensor not in self.constants:
            raise ModelError(self.label(node), f"{what} ({tensor!r}) must be a constant (an initializer)")
        return self.constants[tensor]

    def input_shape(self, name: str) -> list[int | str]:
        """A graph input's dimensions: integers, or the name of a symbolic dimension."""
        vi = next(i for i in self.inputs if i.name == name)
        dims = vi.type.tensor_type.shape.dim
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
