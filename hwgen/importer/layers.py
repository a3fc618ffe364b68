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
  or a quantized bias row after a MatMul);
* :class:`Conv`: a :class:`Dense` layer over the sliding windows of an image
  (a quantized ``Conv``: ``QLinearConv``, or QDQ);
* :class:`Pool`: ``MaxPool`` (the integers' maximum, one encoding in and out)
  or ``GlobalAveragePool`` (``y = Q(mean(deq(x)))``);
* :class:`Alias`: ``Flatten`` / ``Reshape`` that leave the integers as the
  hardware stores them (an image of one pixel becomes its feature row);
* :class:`Concat`: tensors side by side along the features, each requantized
  into the output's encoding;
* :class:`MatMul`: the product of two activations, its second operand
  possibly a :class:`Transpose` (``q · kᵀ``).

An image tensor ``[1, C, H, W]`` (ONNX's NCHW, batch 1) is stored one pixel
per row, channels last: ``[H·W, C]`` (:func:`graph_shape`, :func:`to_rows`,
:func:`from_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..numtype import Int, NumType, UInt
from ..schedule.window import Window

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
    # "bipolar" (QONNX BipolarQuant): the integer b is 0 or 1 and stands for (2b − 1) · scale

    @property
    def bipolar(self) -> bool:
        return self.rounding == "bipolar"

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """ONNX ``DequantizeLinear`` in float32: ``(q − zero_point) · scale`` (bipolar: ``(2b − 1) · scale``)."""
        q = np.asarray(q, dtype=np.int32)
        q = 2 * q - 1 if self.bipolar else q - self.zero_point
        return (q.astype(np.float32) * self.scale).astype(np.float32)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """ONNX ``QuantizeLinear`` in float32: ``saturate(round(x / scale) + zero_point)``, ties to even (or
        away from zero, QONNX ``HALF_UP``); bipolar: 1 where ``x ≥ 0``, else 0."""
        if self.bipolar:
            return (np.asarray(x, dtype=np.float32) >= 0).astype(np.int64)
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
    float32: bool = False  # ONNX's rule is float32 Cast → Mul → QuantizeLinear (MatMulInteger), not exact


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
class Conv:
    """One quantized convolution: :class:`Dense`'s fields with ``weights [C_out, C_in, kh, kw]`` (ONNX's
    layout; scales and zero points per output channel) and the ``window`` over the input image."""

    label: str
    x: QTensor
    weights: np.ndarray
    w_scale: np.ndarray
    w_zero: np.ndarray
    bias: np.ndarray | None
    y: QTensor
    window: Window
    relu: bool = False
    name: str = ""
    float32: bool = False  # ONNX's rule is float32 Cast → Mul → QuantizeLinear (ConvInteger), not exact


@dataclass
class Pool:
    """``mode`` ``"max"`` (``y`` has ``x``'s encoding) or ``"avg"`` (global average, ``y = Q(mean deq(x))``)
    over ``window``."""

    label: str
    x: QTensor
    y: QTensor
    mode: str
    window: Window
    name: str = ""


@dataclass
class Alias:
    """``y`` is ``x``'s integers as the hardware stores them (a ``Flatten`` or ``Reshape``)."""

    label: str
    x: QTensor
    y: QTensor
    name: str = ""


@dataclass
class Transpose:
    """``y = xᵀ`` of a 2-D tensor (one encoding): built only as a :class:`MatMul`'s second operand."""

    label: str
    x: QTensor
    y: QTensor
    name: str = ""


@dataclass
class MatMul:
    """``y = Q(deq(a) · deq(b))`` of two activations (``QLinearMatMul`` with no constant operand)."""

    label: str
    a: QTensor
    b: QTensor
    y: QTensor
    name: str = ""


@dataclass
class Concat:
    """``y = Q(deq(x_0) ‖ deq(x_1) ‖ …)`` along the features (an image's channels): ``QLinearConcat``, or QDQ."""

    label: str
    xs: list[QTensor]
    y: QTensor
    name: str = ""


Layer = Dense | Add | Conv | Pool | Alias | Transpose | MatMul | Concat


@dataclass
class Layers:
    """A model's quantized inputs (ONNX input name -> its quantized tensor), layers in order (dense layers
    and adds), and outputs (ONNX output name -> the quantized tensor it dequantizes)."""

    inputs: dict[str, QTensor] = field(default_factory=dict)
    layers: list[Layer] = field(default_factory=list)
    outputs: dict[str, QTensor] = field(default_factory=dict)


def graph_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """The ``[rows, cols]`` a tensor of ONNX ``shape`` has in the task graph (an image ``[1, C, H, W]``:
    ``[H·W, C]``)."""
    if len(shape) == 4:
        return shape[2] * shape[3], shape[1]
    return shape[0], shape[1]


def to_rows(shape: tuple[int, ...], values: np.ndarray) -> np.ndarray:
    """An ONNX tensor as the graph stores it (an image: one pixel per row, channels last)."""
    v = np.asarray(values)
    return v[0].transpose(1, 2, 0).reshape(graph_shape(shape)) if len(shape) == 4 else v


def from_rows(shape: tuple[int, ...], values: np.ndarray) -> np.ndarray:
    """A graph tensor back in its ONNX ``shape``."""
    v = np.asarray(values)
    return v.reshape(shape[2], shape[3], shape[1]).transpose(2, 0, 1)[None] if len(shape) == 4 else v


def int_type(values: np.ndarray, where: str, error: type[Exception]) -> NumType:
    """The hwgen type of an ONNX integer array (uint8 or int8)."""
    t = INT_TYPES.get(np.asarray(values).dtype)
    if t is None:
        raise error(where, f"element type {np.asarray(values).dtype} is not supported; uint8 or int8")
    return t
