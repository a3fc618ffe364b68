"""Task graphs for multi-task schedules (InTAR): GEMM layers and element-wise ops with exact semantics.

A graph has one or more inputs (``[M, K]`` integer matrices streamed from
off-chip memory) and tasks that consume earlier tensors by name:

* ``gemm``: ``Y = X · W + b`` with a constant weight matrix ``W [K, N]`` and
  an optional constant bias ``b [N]`` (part of the model), accumulated exactly
  and brought into ``acc`` by its overflow rule (wrap, by default: the
  hardware's accumulators are ``acc.width`` bits; ONNX's int32 bias);
* ``conv``: a 2-D convolution of an image stored one pixel per row (channels
  last): the gemm of its im2col rows (:mod:`.window`; padding reads the
  ``pad_value``, the input's zero point) by the weights ``[kh·kw·C, C_out]``;
* ``pool``: the maximum, or the requantized sum (average pooling), of each
  channel over windows of such an image (:meth:`TaskGraph.maxpool`,
  :meth:`TaskGraph.avgpool`);
* ``matmul``: the requantized product of two activations, ``a · b`` or
  ``a · bᵀ`` (ONNX ``QLinearMatMul``; ``b`` read whole);
* ``gather``: rows of ``x`` picked by an index row (``x`` and the index read
  whole; e.g. the tokens a top-k keeps);
* ``concat``: tensors side by side, row by row, each optionally requantized
  into one encoding (ONNX ``QLinearConcat``);
* ``copy``: ``x`` itself (brings a graph input on chip for an op that reads
  it whole: a conv's image, an attention's K and V);
* ``relu``: ``max(zp, x)`` where ``zp`` is the zero point of ``x`` — that of
  the ``requant`` it follows (through other ReLUs), else 0: the quantized
  ReLU (a real value of 0 is ``zp``), so ReLU after a requantization with a
  zero point is never silently ``max(0, x)``;
* ``requant``: ``clamp(zp + round_shift(x · M0, n), out.min, out.max)`` with a
  31-bit multiplier ``M0`` and right shift ``n``, one per tensor or one per
  column (per-channel scales); ``round_shift`` rounds ties away from zero, or
  to even with ``rounding="half_even"`` (ONNX);
* ``mul``: the element-wise product of two quantized tensors, requantized (ONNX ``QLinearMul``);
* ``add``: ``a + b`` (same shapes), exact, in the narrowest type holding every sum of the two types;
  or, given multipliers, the rescaling add of two quantized tensors (ONNX
  ``QLinearAdd``): ``clamp(zp + round_shift((a − za)·Ma + (b − zb)·Mb, n))``
  in ``out``; ``b`` may be a constant row (one value per column, e.g. a
  quantized bias).

Tensors flow along edges; an edge's data volume is ``rows × cols ×
ceil(bits / 8)`` bytes. :meth:`TaskGraph.validate` rejects cycles, unknown
inputs and shape mismatches with errors naming the task.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from numbers import Integral
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..numtype import OVERFLOW_MODES, Int, NumType
from ..requant import MAX_MULTIPLIER, MAX_SHIFT, Rounding, check_requant, requantize, round_shift
from ..values import integer, integers
from .attention import attention_config, attention_golden
from .rowops import ROW_BLOCKS, out_shape, row_config, row_golden
from .window import Window

OPS = ("input", "gemm", "conv", "pool", "matmul", "gather", "concat", "copy", "relu", "requant", "add", "mul",
       *ROW_BLOCKS, "attention")  # fmt: skip
#: Tasks that multiply by constant weights on the engine's cores (a conv: its im2col rows).
MATMUL_OPS = ("gemm", "conv")
#: Largest matrix dimensions a task may have (rows, and columns / reduction length).
MAX_ROWS = 1 << 20
MAX_COLS = 1 << 16
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")


def identifier(name: object, where: str) -> str:
    """``name`` if it is an identifier of at most 48 characters (it reaches Verilog and file names)."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise ConfigError(
            where, f"{name!r} is not a name; use letters, digits and _ (not first), at most 48 characters"
        )
    return name


def _per_column(value: object, where: str, lo: int, hi: int) -> int | tuple[int, ...]:
    """One integer in ``lo..hi``, or a non-empty list of them (one per column; the length is checked against
    the tensor in :meth:`TaskGraph.validate`)."""
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(int(v) for v in integers(value, where, lo=lo, hi=hi, ndim=1, nonempty=True))
    if not isinstance(value, Integral) or isinstance(value, bool | np.bool_) or not lo <= value <= hi:
        raise ConfigError(where, f"{value!r} is not an integer in {lo}..{hi}")
    return int(value)


def _pair(value: object, where: str, lo: int, hi: int) -> tuple[int, int]:
    """One integer for both, or a pair."""
    pair = (value, value) if isinstance(value, Integral) else value
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        raise ConfigError(where, f"{value!r}: one integer or a pair")
    return integer(pair[0], where, lo=lo, hi=hi), integer(pair[1], where, lo=lo, hi=hi)


def _int_type(t: object, where: str) -> NumType:
    """A number type (or its spelling) that is an integer type."""
    t = NumType.parse(t, where)
    if t.frac:
        raise ConfigError(where, f"{t}: task graphs compute on integers; use Int(..) or UInt(..)")
    return t


@dataclass
class Task:
    """One node: its op, input tensor names, output shape/type and op parameters."""

    name: str
    op: str
    inputs: list[str]
    rows: int = 0
    cols: int = 0
    dtype: NumType = Int(8)
    weights: np.ndarray | None = None  # gemm: [K, N] raw integers
    weight: NumType = Int(8)  # gemm: the weights' number type
    overflow: str = "wrap"
    params: dict[str, Any] = field(default_factory=dict)
    bias: np.ndarray | None = None  # gemm: [N] raw integers of the accumulator type, or None

    @property
    def bytes(self) -> int:
        """Size of this task's output tensor in bytes."""
        return self.rows * self.cols * math.ceil(self.dtype.width / 8)

    @property
    def macs(self) -> int:
        if self.op in MATMUL_OPS:
            return self.rows * self.weights.shape[0] * self.cols
        return 0

    @property
    def elements(self) -> int:
        return self.rows * self.cols


class TaskGraph:
    """A DAG of tasks; build it with :meth:`input`, :meth:`gemm`, :meth:`relu`, :meth:`requant`, :meth:`add`,
    :meth:`conv2d`, :meth:`maxpool`, :meth:`avgpool`, :meth:`softmax`, :meth:`norm`, :meth:`activation`,
    :meth:`topk`, :meth:`attention`, :meth:`matmul`, :meth:`gather`, :meth:`concat`, :meth:`copy`.

    Every argument is checked when the task is added (a :class:`ConfigError` naming ``graph.<task>.<field>``):
    names are identifiers (they become Verilog and file names), sizes positive integers, number types
    :class:`NumType` (or their spelling, ``"Int(24)"``), weights integer matrices of their type, the
    requantization parameters those of :mod:`hwgen.requant`.
    """

    def __init__(self, name: str):
        self.name = identifier(name, "graph.name")
        self.tasks: dict[str, Task] = {}

    # -- construction ------------------------------------------------------------
    def _add(self, task: Task) -> str:
        if task.name in self.tasks:
            raise ConfigError(f"graph.{task.name}", "a task of this name exists already")
        self.tasks[task.name] = task
        return task.name

    def _name(self, name: str, *inputs: str) -> str:
        name = identifier(name, f"graph.{name!r}" if not isinstance(name, str) else f"graph.{name}")
        for i in inputs:
            if not isinstance(i, str):
                raise ConfigError(f"graph.{name}", f"inputs are task names (text), not {i!r}")
        return name

    def input(self, name: str, rows: int, cols: int, dtype: NumType | str = Int(8)) -> str:
        """An ``[rows, cols]`` input matrix streamed from off-chip memory."""
        name = self._name(name)
        rows = integer(rows, f"graph.{name}.rows", lo=1, hi=MAX_ROWS)
        cols = integer(cols, f"graph.{name}.cols", lo=1, hi=MAX_COLS)
        return self._add(Task(name, "input", [], rows, cols, _int_type(dtype, f"graph.{name}.dtype")))

    def gemm(
        self,
        name: str,
        x: str,
        weights: np.ndarray,
        *,
        acc: NumType | str = Int(32),
        weight: NumType | str = Int(8),
        overflow: str = "wrap",
        bias: np.ndarray | None = None,
    ) -> str:
        """``Y = x · weights + bias`` (``weights [K, N]`` raw integers of type ``weight``; ``bias [N]`` integers
        of type ``acc``, or None), exact, brought into ``acc`` by ``overflow`` (``wrap``, ``saturate`` or
        ``error``)."""
        name = self._name(name, x)
        wt = _int_type(weight, f"graph.{name}.weight")
        w = integers(weights, f"graph.{name}.weights", lo=wt.min, hi=wt.max, ndim=2, nonempty=True)
        return self._add(self._matmul("gemm", name, x, w, acc, wt, overflow, bias))

    def conv2d(
        self,
        name: str,
        x: str,
        weights: np.ndarray,
        *,
        shape: tuple[int, int],
        stride: int | tuple[int, int] = 1,
        pads: int | tuple[int, int, int, int] = 0,
        pad_value: int = 0,
        acc: NumType | str = Int(32),
        weight: NumType | str = Int(8),
        overflow: str = "wrap",
        bias: np.ndarray | None = None,
    ) -> str:
        """A 2-D convolution of the image ``x [H·W, C]`` (``shape = (H, W)``; pixel ``(y, x)`` in row
        ``y·W + x``, channels last) by ``weights [kh, kw, C, C_out]`` with ``stride`` ``(sh, sw)`` and ``pads``
        ``(top, left, bottom, right)`` of ``pad_value`` (the input's zero point): ``Y [Ho·Wo, C_out]`` =
        im2col(x) · weights flattened to ``[kh·kw·C, C_out]`` + ``bias`` (:mod:`.window`), exact, brought into
        ``acc`` like :meth:`gemm`."""
        name = self._name(name, x)
        wt = _int_type(weight, f"graph.{name}.weight")
        w = integers(weights, f"graph.{name}.weights", lo=wt.min, hi=wt.max, ndim=4, nonempty=True)
        kh, kw, cin, _ = w.shape
        window = self._window(name, shape, (kh, kw), stride, pads, cin)
        task = self._matmul("conv", name, x, w.reshape(kh * kw * cin, -1), acc, wt, overflow, bias)
        pad_value = integer(pad_value, f"graph.{name}.pad_value", lo=-(1 << 31), hi=1 << 31)
        task.params = {"window": window, "pad_value": pad_value}
        return self._add(task)

    def _matmul(
        self, kind: str, name: str, x: str, w: np.ndarray, acc: object, wt: NumType, overflow: str, bias: object
    ) -> Task:
        """A gemm or conv task with weights ``w [K, N]``, its accumulator, overflow rule and bias checked."""
        integer(w.shape[0], f"graph.{name}.weights rows", hi=MAX_COLS)
        integer(w.shape[1], f"graph.{name}.weights columns", hi=MAX_COLS)
        acc = _int_type(acc, f"graph.{name}.acc")
        if overflow not in OVERFLOW_MODES:
            raise ConfigError(f"graph.{name}.overflow", f"{overflow!r} is not one of {', '.join(OVERFLOW_MODES)}")
        b = None
        if bias is not None:
            b = integers(bias, f"graph.{name}.bias", lo=acc.min, hi=acc.max, ndim=1)
            if len(b) != w.shape[1]:
                raise ConfigError(
                    f"graph.{name}.bias", f"{len(b)} values for {w.shape[1]} columns; give one per column"
                )
        return Task(name, kind, [x], 0, w.shape[1], acc, w, wt, overflow, bias=b)

    def maxpool(
        self,
        name: str,
        x: str,
        *,
        shape: tuple[int, int],
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        pads: int | tuple[int, int, int, int] = 0,
    ) -> str:
        """The maximum of each channel over ``kernel`` windows of the image ``x [H·W, C]`` (``shape = (H, W)``;
        ``stride`` the kernel's by default; padded positions never win), ``[Ho·Wo, C]`` of ``x``'s type."""
        name = self._name(name, x)
        window = self._pool_window(name, shape, kernel, stride, pads)
        return self._add(Task(name, "pool", [x], params={"mode": "max", "window": window}))

    def avgpool(
        self,
        name: str,
        x: str,
        *,
        shape: tuple[int, int],
        kernel: int | tuple[int, int] | None = None,
        stride: int | tuple[int, int] | None = None,
        multiplier: int,
        shift: int,
        zero_points: tuple[int, int] = (0, 0),
        out: NumType | str = Int(8),
        rounding: Rounding = "half_even",
    ) -> str:
        """The requantized mean of each channel over ``kernel`` windows (the whole image by default: global
        average pooling) of ``x [H·W, C]``, no padding: ``clamp(zo + round_shift((Σ x − P·zx) · multiplier,
        shift))`` in ``out`` (``P`` values a window, ``zero_points = (zx, zo)``; ``multiplier / 2^shift`` is
        ``x_scale / (P · out_scale)``)."""
        name = self._name(name, x)
        window = self._pool_window(name, shape, kernel, stride, 0)
        out = _int_type(out, f"graph.{name}.out")
        zx = integer(zero_points[0], f"graph.{name}.zero_points[0]", lo=-(1 << 31), hi=1 << 31)
        check_requant(f"graph.{name}", multiplier, shift, zero_points[1], out, rounding)
        params = {"mode": "avg", "window": window, "multiplier": int(multiplier), "shift": int(shift),
                  "zero_in": zx, "zero_point": int(zero_points[1]), "rounding": rounding}  # fmt: skip
        return self._add(Task(name, "pool", [x], dtype=out, params=params))

    def _pool_window(self, name: str, shape: object, kernel: object, stride: object, pads: object) -> Window:
        """A pooling window: ``kernel`` (the whole image when None), ``stride`` (the kernel's when None);
        channels filled in with the graph."""
        image = _pair(shape, f"graph.{name}.shape", 1, MAX_ROWS)
        kh, kw = _pair(kernel if kernel is not None else image, f"graph.{name}.kernel", 1, 64)
        return self._window(name, shape, (kh, kw), stride if stride is not None else (kh, kw), pads, 1)

    def _window(
        self, name: str, shape: object, kernel: tuple[int, int], stride: object, pads: object, channels: int
    ) -> Window:
        """A conv's or pool's window, its image shape, stride and pads checked (``graph.<name>.<field>``)."""
        height, width = _pair(shape, f"graph.{name}.shape", 1, MAX_ROWS)
        sh, sw = _pair(stride, f"graph.{name}.stride", 1, 64)
        pad = (pads,) * 4 if isinstance(pads, Integral) else pads
        if not isinstance(pad, list | tuple) or len(pad) != 4:
            raise ConfigError(f"graph.{name}.pads", f"{pads!r}: one integer or (top, left, bottom, right)")
        top, left, bottom, right = (integer(p, f"graph.{name}.pads", lo=0, hi=64) for p in pad)
        window = Window(height, width, channels, kernel[0], kernel[1], sh, sw, top, left, bottom, right)
        window.check(f"graph.{name}")
        return window

    def matmul(
        self,
        name: str,
        a: str,
        b: str,
        *,
        transpose_b: bool = False,
        zero_points: tuple[int, int] = (0, 0),
        multiplier: int,
        shift: int,
        zero_point: int = 0,
        out: NumType | str = Int(8),
        rounding: Rounding = "half_even",
    ) -> str:
        """The product of two activations (ONNX ``QLinearMatMul`` semantics): ``y = clamp(zp + round_shift(
        Σ_k (a[r,k] − za)·(b[k,n] − zb) · multiplier, shift))`` in ``out``; ``b [K, N]``, or ``b [N, K]`` with
        ``transpose_b`` (``a · bᵀ``, e.g. ``q · Kᵀ``). ``b`` is read whole (kept on chip)."""
        name = self._name(name, a, b)
        if not isinstance(transpose_b, bool):
            raise ConfigError(f"graph.{name}.transpose_b", f"{transpose_b!r}: True or False")
        out, params = _product_requant(name, zero_points, multiplier, shift, zero_point, out, rounding)
        return self._add(Task(name, "matmul", [a, b], dtype=out, params={"transpose_b": transpose_b, **params}))

    def gather(self, name: str, x: str, index: str, *, axis: int = 0, block: int = 1) -> str:
        """Rows (``axis`` 0) or columns (``axis`` 1) of ``x`` picked by ``index`` ``[1, k]`` (e.g. a top-k's
        indices), in blocks of ``block`` (e.g. a head's columns): block ``i`` of the result is block
        ``index[0, i]`` of ``x`` — ``[k·block, cols]`` or ``[rows, k·block]``. The index is read whole, and
        ``x`` too when rows are picked (both kept on chip); an index outside ``x`` is an error of the golden
        model (the hardware would read whatever is there)."""
        name = self._name(name, x, index)
        if axis not in (0, 1):
            raise ConfigError(f"graph.{name}.axis", f"{axis!r}: 0 (rows) or 1 (columns)")
        block = integer(block, f"graph.{name}.block", lo=1, hi=MAX_COLS)
        return self._add(Task(name, "gather", [x, index], params={"axis": axis, "block": block}))

    def concat(
        self,
        name: str,
        inputs: Sequence[str],
        *,
        rescale: Sequence[tuple[int, int, int]] | None = None,
        zero_point: int = 0,
        out: NumType | str = Int(8),
        rounding: Rounding = "half_even",
    ) -> str:
        """The inputs side by side, row by row (columns of the first, then the second, ...; an image's
        channels). Exact in the widest input type; or, with ``rescale`` = one ``(multiplier, shift, zero_in)``
        per input, each value requantized into ``out``: ``clamp(zero_point + round_shift((x − zero_in) ·
        multiplier, shift))`` (ONNX ``QLinearConcat``)."""
        if not isinstance(inputs, list | tuple) or len(inputs) < 2:
            raise ConfigError(f"graph.{name}.inputs", f"{inputs!r}: a list of two or more tensors")
        name = self._name(name, *inputs)
        params: dict[str, Any] = {}
        if rescale is not None:
            if not isinstance(rescale, list | tuple) or len(rescale) != len(inputs):
                raise ConfigError(f"graph.{name}.rescale", f"{rescale!r}: one (multiplier, shift, zero_in) per input")
            out = _int_type(out, f"graph.{name}.out")
            for k, r in enumerate(rescale):
                if not isinstance(r, list | tuple) or len(r) != 3:
                    raise ConfigError(f"graph.{name}.rescale[{k}]", f"{r!r}: (multiplier, shift, zero_in)")
                check_requant(f"graph.{name}.rescale[{k}]", r[0], r[1], zero_point, out, rounding)
                integer(r[2], f"graph.{name}.rescale[{k}].zero_in", lo=-(1 << 31), hi=1 << 31)
            params = {"rescale": [tuple(int(v) for v in r) for r in rescale], "zero_point": int(zero_point),
                      "rounding": rounding}  # fmt: skip
        return self._add(Task(name, "concat", list(inputs), dtype=out, params=params))

    def copy(self, name: str, x: str) -> str:
        """``x`` itself: a row-by-row copy that brings a graph input on chip for an op reading it whole."""
        name = self._name(name, x)
        return self._add(Task(name, "copy", [x]))

    def relu(self, name: str, x: str) -> str:
        """``max(zp, x)`` with ``zp`` the zero point of ``x`` (:meth:`zero_point`)."""
        name = self._name(name, x)
        return self._add(Task(name, "relu", [x], params={"zero_point": self.zero_point(x)}))

    def zero_point(self, tensor: str) -> int:
        """The zero point of ``tensor``'s integers: a ``requant``'s, passed on by ``relu``; 0 for the others
        (inputs, gemm and add results are plain integers)."""
        t = self.tasks.get(tensor)
        return int(t.params.get("zero_point", 0)) if t is not None and t.op in ("requant", "relu") else 0

    def requant(
        self,
        name: str,
        x: str,
        *,
        multiplier: int | Sequence[int],
        shift: int | Sequence[int],
        zero_point: int = 0,
        out: NumType | str = Int(8),
        rounding: Rounding = "half_away",
    ) -> str:
        """``requantize(x, multiplier, shift, zero_point, out, rounding)`` (:mod:`hwgen.requant`);
        ``multiplier`` and ``shift`` are one integer each or one per column of ``x`` (per-channel)."""
        name = self._name(name, x)
        out = _int_type(out, f"graph.{name}.out")
        mult = _per_column(multiplier, f"graph.{name}.multiplier", 0, MAX_MULTIPLIER)
        sh = _per_column(shift, f"graph.{name}.shift", 0, MAX_SHIFT)
        check_requant(f"graph.{name}", 0, 0, zero_point, out, rounding)
        params = {
            "multiplier": mult,
            "shift": sh,
            "zero_point": int(zero_point),
            "rounding": rounding,
        }
        return self._add(Task(name, "requant", [x], dtype=out, params=params))

    def add(
        self,
        name: str,
        a: str,
        b: str | np.ndarray,
        *,
        multipliers: tuple[int, int] | None = None,
        shift: int = 0,
        zero_points: tuple[int, int] = (0, 0),
        zero_point: int = 0,
        out: NumType | str = Int(8),
        rounding: Rounding = "half_even",
    ) -> str:
        """``a + b``, exact (same shapes). With ``multipliers = (Ma, Mb)`` the rescaling add of quantized
        tensors: ``clamp(zero_point + round_shift((a − za)·Ma + (b − zb)·Mb, shift, rounding))`` in ``out``
        (``zero_points = (za, zb)``; 31-bit multipliers, :mod:`hwgen.requant`'s shift and rounding); ``b`` may
        then be a constant row, one integer per column of ``a``."""
        const = not isinstance(b, str)
        name = self._name(name, a) if const else self._name(name, a, b)
        if multipliers is None:
            if const:
                raise ConfigError(f"graph.{name}.b", "a constant operand needs the rescaling add (multipliers)")
            return self._add(Task(name, "add", [a, b]))
        if not isinstance(multipliers, list | tuple) or len(multipliers) != 2:
            raise ConfigError(f"graph.{name}.multipliers", f"{multipliers!r}: a pair (Ma, Mb)")
        out = _int_type(out, f"graph.{name}.out")
        check_requant(f"graph.{name}", 0, shift, zero_point, out, rounding)
        params: dict[str, Any] = {"zero_point": int(zero_point), "shift": int(shift), "rounding": rounding}
        for k, (m, z) in enumerate(zip(multipliers, zero_points)):
            params[f"multiplier_{'ab'[k]}"] = integer(m, f"graph.{name}.multipliers[{k}]", lo=0, hi=MAX_MULTIPLIER)
            params[f"zero_{'ab'[k]}"] = integer(z, f"graph.{name}.zero_points[{k}]", lo=-(1 << 32), hi=1 << 32)
        if const:
            params["constant"] = integers(b, f"graph.{name}.b", lo=-(1 << 32), hi=1 << 32, ndim=1, nonempty=True)
        return self._add(Task(name, "add", [a] if const else [a, b], dtype=out, params=params))

    def mul(
        self,
        name: str,
        a: str,
        b: str,
        *,
        zero_points: tuple[int, int] = (0, 0),
        multiplier: int,
        shift: int,
        zero_point: int = 0,
        out: NumType | str = Int(8),
        rounding: Rounding = "half_even",
    ) -> str:
        """The element-wise product of two tensors of one shape (ONNX ``QLinearMul``; SwiGLU's gating):
        ``clamp(zero_point + round_shift((a − za)·(b − zb) · multiplier, shift))`` in ``out`` (``zero_points =
        (za, zb)``; ``multiplier / 2^shift`` is ``a_scale · b_scale / out_scale``)."""
        name = self._name(name, a, b)
        out, params = _product_requant(name, zero_points, multiplier, shift, zero_point, out, rounding)
        return self._add(Task(name, "mul", [a, b], dtype=out, params=params))

    def softmax(self, name: str, x: str, *, scale: float = 0.0625, out: NumType | str = "UInt(8)") -> str:
        """The integer softmax of every row of ``x`` (:class:`~hwgen.blocks.softmax.SoftmaxConfig`: ``scale``
        is the real value of one LSB of ``x``; ``out`` unsigned, ``y / 2^out.width`` the probability)."""
        return self._row_op("softmax", name, x, scale=scale, out=out)

    def norm(
        self, name: str, x: str, *, mode: str = "layernorm", out: NumType | str = Int(8), out_frac: int = 4
    ) -> str:
        """LayerNorm (``mode="layernorm"``) or RMSNorm of every row of ``x``
        (:class:`~hwgen.blocks.norm.NormConfig`: ``y / 2^out_frac`` the normalized value; the affine folds into
        the next gemm)."""
        return self._row_op("norm", name, x, mode=mode, out=out, out_frac=out_frac)

    def activation(
        self,
        name: str,
        x: str,
        *,
        function: str,
        in_scale: float,
        out: NumType | str = Int(8),
        out_scale: float,
    ) -> str:
        """``function`` (``gelu``, ``silu``, ``sigmoid``, ``tanh``) of every element of ``x`` by table
        (:class:`~hwgen.blocks.activation.ActivationConfig`: ``in_scale`` / ``out_scale`` the real values of
        one LSB of ``x`` and of the result; round half to even, clamp)."""
        return self._row_op("activation", name, x, function=function, in_scale=in_scale, out=out, out_scale=out_scale)

    def topk(self, name: str, x: str, *, k: int) -> str:
        """The indices of the ``k`` largest values of every row of ``x`` (``[rows, k]``, descending, ties to the
        lower index; :class:`~hwgen.blocks.topk.TopKConfig`), unsigned, as wide as the largest index."""
        return self._row_op("topk", name, x, k=integer(k, f"graph.{name}.k", lo=1, hi=64))

    def _row_op(self, kind: str, name: str, x: str, **fields: Any) -> str:
        """A row op; its fields are checked now (the input's type and length when the graph is validated)."""
        name = self._name(name, x)
        if "out" in fields:
            fields["out"] = _int_type(fields["out"], f"graph.{name}.out")
        cfg = row_config(kind, name, fields, Int(8), fields.get("k", 1))
        return self._add(Task(name, kind, [x], dtype=out_shape(kind, cfg, 1)[1], params={"fields": fields}))

    def attention(
        self,
        name: str,
        q: str,
        k: str,
        v: str,
        *,
        heads: int,
        causal: bool = True,
        score_shift: int = 6,
        scale: float = 0.0625,
        exp_bits: int = 15,
        out: NumType | str = Int(8),
    ) -> str:
        """Multi-head attention of ``q [M, heads·d]`` over ``k, v [N, heads·d]`` (:mod:`.attention`): per row
        and head, ``(q·k_j) >> score_shift`` scores (``scale`` the real value of one LSB), the online integer
        softmax with a ``Q(exp_bits)`` exponential table, the weighted mean of the values in ``out``; ``causal``:
        row ``r`` sees entries ``0..r``."""
        name = self._name(name, q, k, v)
        heads = integer(heads, f"graph.{name}.heads", lo=1, hi=64)
        if not isinstance(causal, bool):
            raise ConfigError(f"graph.{name}.causal", f"{causal!r}: True or False")
        out = _int_type(out, f"graph.{name}.out")
        fields = {"heads": heads, "causal": causal, "score_shift": score_shift, "scale": scale,
                  "exp_bits": exp_bits, "out": out}  # fmt: skip
        attention_config(name, fields, Int(2), 2 * heads, 1)  # the user's fields, checked now
        return self._add(Task(name, "attention", [q, k, v], dtype=out, params={"fields": fields}))

    def row_block(self, name: str) -> Any:
        """The block config of row op or attention ``name`` (after :meth:`validate`)."""
        return self.tasks[name].params["block"]

    def rescales(self, name: str) -> bool:
        """Whether add ``name`` is a rescaling add (quantized operands, requantized sum)."""
        return "multiplier_a" in self.tasks[name].params

    # -- structure ---------------------------------------------------------------
    def order(self) -> list[str]:
        """Tasks in topological order; raises on unknown inputs and cycles (naming the cycle)."""
        for t in self.tasks.values():
            for i in t.inputs:
                if i not in self.tasks:
                    raise ConfigError(f"graph.{t.name}", f"input {i!r} is not a task of graph {self.name!r}")
        state: dict[str, int] = {}
        out: list[str] = []

        def visit(n: str, path: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                cyc = path[path.index(n) :] + [n]
                raise ConfigError(f"graph.{n}", f"the graph has a cycle: {' -> '.join(cyc)}")
            state[n] = 1
            for i in self.tasks[n].inputs:
                visit(i, path + [n])
            state[n] = 2
            out.append(n)

        for n in self.tasks:
            visit(n, [])
        return out

    def consumers(self, name: str) -> list[str]:
        return [t.name for t in self.tasks.values() if name in t.inputs]

    def edges(self) -> list[tuple[str, str]]:
        """(producer, consumer) pairs between tasks (inputs from off-chip excluded)."""
        return [
            (i, t.name) for t in (self.tasks[n] for n in self.order()) for i in t.inputs if self.tasks[i].op != "input"
        ]

    def outputs(self) -> list[str]:
        return [n for n in self.order() if not self.consumers(n) and self.tasks[n].op != "input"]

    def validate(self) -> list[str]:
        """Check shapes and types, fill in derived shapes; returns the topological order."""
        order = self.order()
        if not any(t.op != "input" for t in self.tasks.values()):
            raise ConfigError(f"graph.{self.name}", "has no tasks besides inputs")
        for n in order:
            t = self.tasks[n]
            if t.op == "input":
                if t.rows < 1 or t.cols < 1:
                    raise ConfigError(f"graph.{n}", f"input shape {t.rows}×{t.cols} is empty")
                continue
            src = [self.tasks[i] for i in t.inputs]
            x = src[0]
            if t.op == "pool":
                self._check_pool(t, x)
            elif t.op == "conv":
                self._check_conv(t, x)
            elif t.op == "gemm":
                if x.cols != t.weights.shape[0]:
                    raise ConfigError(
                        f"graph.{n}",
                        f"shape mismatch: input {x.name} is {x.rows}×{x.cols} but the "
                        f"weight is {t.weights.shape[0]}×{t.weights.shape[1]} "
                        f"({x.cols} != {t.weights.shape[0]})",
                    )
                t.rows = x.rows
                t.weight.array(t.weights)
            elif t.op in ("relu", "requant", "copy"):
                t.rows, t.cols = x.rows, x.cols
                if t.op == "copy":
                    t.dtype = x.dtype
                if t.op == "relu":
                    t.dtype = x.dtype
                for key in ("multiplier", "shift") if t.op == "requant" else ():
                    v = t.params[key]
                    if isinstance(v, tuple) and len(v) != t.cols:
                        raise ConfigError(
                            f"graph.{n}.{key}", f"{len(v)} values for {t.cols} columns of {x.name}; give one per column"
                        )
            elif t.op in ROW_BLOCKS:
                t.params["block"] = cfg = row_config(t.op, n, t.params["fields"], x.dtype, x.cols)
                t.rows, (t.cols, t.dtype) = x.rows, out_shape(t.op, cfg, x.cols)
            elif t.op == "attention":
                self._check_attention(t, src)
            elif t.op == "concat":
                if len({s.rows for s in src}) != 1:
                    rows = ", ".join(f"{s.name} {s.rows}" for s in src)
                    raise ConfigError(f"graph.{t.name}", f"its inputs have different rows ({rows})")
                t.rows, t.cols = x.rows, sum(s.cols for s in src)
                if "rescale" not in t.params:
                    t.dtype = NumType.fitting(min(s.dtype.min for s in src), max(s.dtype.max for s in src))
            elif t.op == "gather":
                idx = src[1]
                if idx.rows != 1:
                    raise ConfigError(f"graph.{t.name}", f"its index {idx.name} is {idx.rows}×{idx.cols}; one row")
                picked = idx.cols * t.params["block"]
                t.rows, t.cols = (picked, x.cols) if t.params["axis"] == 0 else (x.rows, picked)
                t.dtype = x.dtype
            elif t.op == "matmul":
                b = src[1]
                k, n = (b.cols, b.rows) if t.params["transpose_b"] else (b.rows, b.cols)
                if x.cols != k:
                    raise ConfigError(
                        f"graph.{t.name}", f"shape mismatch: {x.name} is {x.rows}×{x.cols}, {b.name} is "
                        f"{b.rows}×{b.cols}{' (transposed)' if t.params['transpose_b'] else ''}"
                    )  # fmt: skip
                t.rows, t.cols = x.rows, n
            elif t.op == "mul":
                if (x.rows, x.cols) != (src[1].rows, src[1].cols):
                    raise ConfigError(
                        f"graph.{n}", f"shape mismatch: {x.name} is {x.rows}×{x.cols}, {src[1].name} is "
                        f"{src[1].rows}×{src[1].cols}"
                    )  # fmt: skip
                t.rows, t.cols = x.rows, x.cols
            elif t.op == "add":
                const = t.params.get("constant")
                rows, cols = (x.rows, len(const)) if const is not None else (src[1].rows, src[1].cols)
                if (x.rows, x.cols) != (rows, cols):
                    other = "the constant row" if const is not None else src[1].name
                    raise ConfigError(
                        f"graph.{n}", f"shape mismatch: {x.name} is {x.rows}×{x.cols}, {other} is {rows}×{cols}"
                    )
                t.rows, t.cols = x.rows, x.cols
                if not self.rescales(n):  # every sum of the two types (UInt(8) + UInt(8): UInt(9), not Int(9))
                    t.dtype = NumType.fitting(x.dtype.min + src[1].dtype.min, x.dtype.max + src[1].dtype.max)
        return order

    def _check_conv(self, t: Task, x: Task) -> None:
        """A conv's image shape against its input tensor; its output rows."""
        w: Window = t.params["window"]
        if (x.rows, x.cols) != (w.height * w.width, w.channels):
            raise ConfigError(
                f"graph.{t.name}",
                f"its input {x.name} is {x.rows}×{x.cols}; a {w.height}×{w.width} image of {w.channels} channels "
                f"(the weights' C) is {w.height * w.width}×{w.channels}",
            )
        t.rows = w.out_height * w.out_width
        t.weight.array(t.weights)

    def _check_pool(self, t: Task, x: Task) -> None:
        """A pool's image shape against its input; its channels, rows, columns and (max) type."""
        w = t.params["window"] = replace(t.params["window"], channels=x.cols)
        if x.rows != w.height * w.width:
            raise ConfigError(
                f"graph.{t.name}", f"its input {x.name} has {x.rows} rows; a {w.height}×{w.width} image has "
                f"{w.height * w.width}"
            )  # fmt: skip
        t.rows, t.cols = w.out_height * w.out_width, x.cols
        if t.params["mode"] == "max":
            t.dtype = x.dtype

    def _check_attention(self, t: Task, src: list[Task]) -> None:
        """Shapes of an attention's q, k, v; its block for their type and sizes."""
        q, k, v = src
        if not q.cols == k.cols == v.cols:
            raise ConfigError(
                f"graph.{t.name}", f"q, k and v need the same columns; {q.name}, {k.name}, {v.name} have "
                f"{q.cols}, {k.cols}, {v.cols}"
            )  # fmt: skip
        if k.rows != v.rows:
            raise ConfigError(f"graph.{t.name}", f"k ({k.name}) has {k.rows} rows, v ({v.name}) {v.rows}")
        if t.params["fields"]["causal"] and q.rows != k.rows:
            raise ConfigError(
                f"graph.{t.name}.causal", f"causal attention needs as many queries as keys ({q.rows} != {k.rows})"
            )
        t.rows, t.cols = q.rows, q.cols
        act = NumType.fitting(min(s.dtype.min for s in src), max(s.dtype.max for s in src))
        t.params["block"] = attention_config(t.name, t.params["fields"], act, q.cols, k.rows)

    # -- golden model -------------------------------------------------------------
    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Execute the graph in NumPy with the integer semantics above; returns every tensor."""
        order = self.validate()
        if not isinstance(inputs, dict):
            raise ConfigError("inputs", f"expected a dict of input name -> array, not {type(inputs).__name__}")
        unknown = sorted(set(inputs) - {n for n, t in self.tasks.items() if t.op == "input"})
        if unknown:
            raise ConfigError(f"inputs.{unknown[0]}", f"is not an input of graph {self.name!r}")
        env: dict[str, np.ndarray] = {}
        for n in order:
            t = self.tasks[n]
            if t.op == "input":
                if n not in inputs:
                    raise ConfigError(f"graph.{n}", "no data given for this input")
                v = t.dtype.array(inputs[n], f"inputs.{n}")
                if v.shape != (t.rows, t.cols):
                    raise ConfigError(f"graph.{n}", f"data is {v.shape}, the input is declared {t.rows}×{t.cols}")
                env[n] = v
                continue
            x = env[t.inputs[0]]
            if t.op == "conv":
                x = t.params["window"].im2col(x, t.params["pad_value"])
            if t.op in MATMUL_OPS:
                y = x.astype(object) @ t.weights.astype(object)
                if t.bias is not None:
                    y = y + t.bias.astype(object)
                try:
                    y = t.dtype.fold(y, t.overflow)
                except ValueError as e:  # overflow='error' and the data overflowed
                    raise ConfigError(f"graph.{n}", f"{e}; use overflow='wrap' or 'saturate', or a wider acc") from None
            elif t.op == "copy":
                y = x
            elif t.op == "pool":
                y = pool(x, t.params, self.tasks[t.inputs[0]].dtype, t.dtype)
            elif t.op == "matmul":
                y = matmul(x, env[t.inputs[1]], t.params, t.dtype)
            elif t.op == "mul":
                y = multiply(x, env[t.inputs[1]], t.params, t.dtype)
            elif t.op == "concat":
                y = concat([env[i] for i in t.inputs], t.params, t.dtype)
            elif t.op == "gather":
                axis, block = t.params["axis"], t.params["block"]
                idx = env[t.inputs[1]][0].astype(np.int64)
                blocks = x.shape[axis] // block
                if idx.min() < 0 or idx.max() >= blocks:
                    bad = int(idx[(idx < 0) | (idx >= blocks)][0])
                    what = f"{blocks} {'rows' if axis == 0 else 'columns'}" + (
                        f" in blocks of {block}" if block > 1 else ""
                    )
                    raise ConfigError(f"graph.{n}", f"index {bad} is outside {t.inputs[0]}'s {what}")
                y = np.take(x, (idx[:, None] * block + np.arange(block)).reshape(-1), axis=axis)
            elif t.op == "relu":
                y = np.maximum(x, t.params["zero_point"])
            elif t.op == "requant":
                p = t.params
                y = requantize(x, p["multiplier"], p["shift"], p["zero_point"], t.dtype, p["rounding"])
            elif t.op in ROW_BLOCKS:
                y = row_golden(t.op, t.params["block"], x)
            elif t.op == "attention":
                f = t.params["fields"]
                kv = (env[t.inputs[1]], env[t.inputs[2]])
                y = attention_golden(t.params["block"], f["heads"], f["causal"], x, *kv)
            elif self.rescales(n):
                y = rescale_add(x, env[t.inputs[1]] if len(t.inputs) > 1 else t.params["constant"], t.params, t.dtype)
            else:
                y = x.astype(object) + env[t.inputs[1]].astype(object)
            env[n] = np.asarray(y).astype(t.dtype.dtype())
        return env


def _product_requant(
    name: str, zero_points: object, multiplier: object, shift: object, zero_point: object, out: object, rounding: object
) -> tuple[NumType, dict[str, Any]]:
    """A product's operand zero points and requantization into ``out``, checked: ``(out, params)``."""
    za = integer(zero_points[0], f"graph.{name}.zero_points[0]", lo=-(1 << 31), hi=1 << 31)
    zb = integer(zero_points[1], f"graph.{name}.zero_points[1]", lo=-(1 << 31), hi=1 << 31)
    out = _int_type(out, f"graph.{name}.out")
    check_requant(f"graph.{name}", multiplier, shift, zero_point, out, rounding)
    return out, {"zero_a": za, "zero_b": zb, "multiplier": int(multiplier), "shift": int(shift),
                 "zero_point": int(zero_point), "rounding": rounding}  # fmt: skip


def concat(parts: list[np.ndarray], p: dict[str, Any], out: NumType) -> np.ndarray:
    """A concat (see :meth:`TaskGraph.concat`) on exact integers."""
    if "rescale" in p:
        parts = [requantize(np.asarray(x, dtype=object) - z, m, s, p["zero_point"], out, p["rounding"])
                 for x, (m, s, z) in zip(parts, p["rescale"])]  # fmt: skip
    return np.concatenate([np.asarray(x, dtype=object) for x in parts], axis=1)


def matmul(a: np.ndarray, b: np.ndarray, p: dict[str, Any], out: NumType) -> np.ndarray:
    """The product of two activations (see :meth:`TaskGraph.matmul`) on exact integers."""
    bb = np.asarray(b, dtype=object) - p["zero_b"]
    total = (np.asarray(a, dtype=object) - p["zero_a"]) @ (bb.T if p["transpose_b"] else bb)
    return requantize(total, p["multiplier"], p["shift"], p["zero_point"], out, p["rounding"])


def multiply(a: np.ndarray, b: np.ndarray, p: dict[str, Any], out: NumType) -> np.ndarray:
    """The element-wise product (see :meth:`TaskGraph.mul`) on exact integers."""
    total = (np.asarray(a, dtype=object) - p["zero_a"]) * (np.asarray(b, dtype=object) - p["zero_b"])
    return requantize(total, p["multiplier"], p["shift"], p["zero_point"], out, p["rounding"])


def pool(x: np.ndarray, p: dict[str, Any], act: NumType, out: NumType) -> np.ndarray:
    """A pool (see :meth:`TaskGraph.maxpool`, :meth:`TaskGraph.avgpool`) on exact integers."""
    w = p["window"]
    windows = w.im2col(x, act.min).reshape(-1, w.kh * w.kw, w.channels).astype(object)
    if p["mode"] == "max":
        return windows.max(axis=1)
    total = windows.sum(axis=1) - w.kh * w.kw * p["zero_in"]
    return requantize(total, p["multiplier"], p["shift"], p["zero_point"], out, p["rounding"])


def rescale_add(a: np.ndarray, b: np.ndarray, p: dict[str, Any], out: NumType) -> np.ndarray:
    """The rescaling add (see :meth:`TaskGraph.add`) on exact integers; ``b`` broadcasts (a constant row)."""
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    t = (a - p["zero_a"]) * p["multiplier_a"] + (b - p["zero_b"]) * p["multiplier_b"]
    return out.saturate(p["zero_point"] + round_shift(t, p["shift"], p["rounding"]))
