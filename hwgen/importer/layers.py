"""What the front ends find in a quantized ONNX model: quantized tensors and dense layers.

Both front ends (:mod:`.qdq`, :mod:`.qoperator`) reduce a model to the same
few facts, in ONNX's own terms, before anything is lowered to a task graph:

* :class:`QTensor`: an integer tensor and how it encodes reals,
  ``real = (q − zero_point) · scale``;
* :class:`Dense`: ``y = Q(Σ_k deq(x)[k] · deq(W)[k, n] + bias[n])``, the
  integer layer every quantized MatMul / Gemm is: ``W`` raw integers with a
  scale (and zero point) per tensor or per output column, ``bias`` int32 in
  units of ``x_scale · w_scale[n]`` (ONNX's convention), ``Q`` the output
  tensor's quantization, then an optional ReLU;
* :class:`Add`: ``y = Q(deq(a) + deq(b))``, the rescaling add (a residual,
  or a quantized bias row after a MatMul).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..numtype import Int, NumType, UInt

#: ONNX integer element types the importer takes, by numpy dtype.
INT_TYPES = {np.dtype(np.uint8): UInt(8), np.dtype(np.int8): Int(8)}


@dataclass(frozen=True)
class QTensor:
    """A quantized tensor: its element type, scale and zero point (per tensor)."""

    name: str
    dtype: NumType
    scale: np.float32
    zero_point: int
    shape: tuple[int, ...] = ()
    rounding: str = "half_even"  # how reals are rounded into it (QONNX Quant may round half away from zero)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """ONNX ``DequantizeLinear`` in float32: ``(q − zero_point) · scale``."""
        return ((np.asarray(q, dtype=np.int32) - self.zero_point).astype(np.float32) * self.scale).astype(np.float32)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """ONNX ``QuantizeLinear`` in float32: ``saturate(round(x / scale) + zero_point)``, ties to even (or
        away from zero, QONNX ``HALF_UP``)."""
        v = np.asarray(x, dtype=np.float32) / self.scale
        r = np.rint(v) if self.rounding == "half_even" else np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))
        q = r + self.zero_point
        return np.clip(q, self.dtype.min, self.dtype.max).astype(np.int64)


@dataclass
class Dense:
    """One quantized dense layer (see the module docstring); ``label`` names its ONNX node."""

    label: str
    x: QTensor
    weights: np.ndarray  # [K, N] raw integers
    w_scale: np.ndarray  # float32, shape () or [N]
    w_zero: np.ndarray  # integers, shape () or [N]
    bias: np.ndarray | None  # int32 [N] in units of x.scale · w_scale, or None
    y: QTensor
    relu: bool = False
    name: str = ""  # the ONNX node's name (or its output's)


@dataclass
class Add:
    """``y = Q(deq(a) + deq(b))`` (ONNX ``QLinearAdd``, or QDQ ``Add``): ``b`` a quantized tensor, or a
    constant row (``constant``: raw integers, one per column, encoded by ``b``'s scale and zero point)."""

    label: str
    a: QTensor
    b: QTensor
    y: QTensor
    constant: np.ndarray | None = None
    name: str = ""


@dataclass
class Layers:
    """A model's quantized inputs (ONNX input name -> its quantized tensor), layers in order (dense layers
    and adds), and outputs (ONNX output name -> the quantized tensor it dequantizes)."""

    inputs: dict[str, QTensor] = field(default_factory=dict)
    layers: list[Dense | Add] = field(default_factory=list)
    outputs: dict[str, QTensor] = field(default_factory=dict)


def int_type(values: np.ndarray, where: str, error: type[Exception]) -> NumType:
    """The hwgen type of an ONNX integer array (uint8 or int8)."""
    t = INT_TYPES.get(np.asarray(values).dtype)
    if t is None:
        raise error(where, f"element type {np.asarray(values).dtype} is not supported; uint8 or int8")
    return t
