"""Row ops: task-graph ops that one block's unit computes a row at a time — softmax, norm, activation, top-k.

A row op reads one tensor ``[rows, cols]`` and writes one of the same shape
(``[rows, k]`` for top-k).
Its unit is a block built for the row (:func:`row_config`): the block's
input type is the input tensor's, its row length the tensor's ``cols``, the
other fields the user's (``fields``). Its golden model is the block's own
(:func:`row_golden`, row by row) and its time per row in an engine slot is
the block's own cycle model (:func:`row_cycles`).

* ``softmax``: :class:`~hwgen.blocks.softmax.SoftmaxConfig` (``scale``, ``out``);
* ``norm``: :class:`~hwgen.blocks.norm.NormConfig` (``mode``, ``out``, ``out_frac``);
* ``activation``: :class:`~hwgen.blocks.activation.ActivationConfig`, one lane
  (``function``, ``in_scale``, ``out``, ``out_scale``);
* ``topk``: :class:`~hwgen.blocks.topk.TopKConfig` (``k``, at most the row's
  length): the indices of the row's ``k`` largest values, in descending
  order, ties to the lower index; unsigned, as wide as the largest index.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..blocks import ActivationConfig, NormConfig, SoftmaxConfig, TopKConfig
from ..config import BlockConfig
from ..errors import ConfigError
from ..numtype import NumType, UInt
from ..vectors import StreamVectors

#: Row op kind -> its block's config class.
ROW_BLOCKS: dict[str, type[BlockConfig]] = {
    "softmax": SoftmaxConfig,
    "norm": NormConfig,
    "activation": ActivationConfig,
    "topk": TopKConfig,
}
#: The fields a user gives per kind (the input fixes ``act`` and the row length).
ROW_FIELDS = {
    "softmax": ("scale", "out"),
    "norm": ("mode", "out", "out_frac"),
    "activation": ("function", "in_scale", "out", "out_scale"),
    "topk": ("k",),
}
#: The unit's input and result payload fields (the element in, the result out).
PORT_FIELDS = {"softmax": ("x", "y"), "norm": ("x", "y"), "activation": ("", ""), "topk": ("score", "index")}


def takes_rows(kind: str) -> bool:
    """Whether the unit needs row boundaries (a ``last`` flag): softmax, norm, top-k; the activation is
    element-wise."""
    return kind != "activation"


def row_config(kind: str, task: str, fields: dict[str, Any], act: NumType, cols: int) -> BlockConfig:
    """The block computing row op ``task`` (of ``kind``) on rows of ``cols`` elements of type ``act``; a
    :class:`ConfigError` names ``graph.<task>.<field>``."""
    if kind == "topk":
        if fields["k"] > cols:
            raise ConfigError(f"graph.{task}.k", f"{fields['k']} is more than the row's {cols} values (k ≤ N)")
        args = {"max_n": cols, "max_k": fields["k"], "score": act}
    else:
        args = {**fields, "act": act, **({"max_len": cols} if takes_rows(kind) else {})}
    try:
        return ROW_BLOCKS[kind](**args)
    except ConfigError as e:
        field = e.where.split(".", 1)[-1]
        field = {"score": "act", "max_n": "max_len", "max_k": "k"}.get(field, field)  # top-k's names
        if field in ("act", "max_len"):
            what = f"its input is {cols} columns of {act}" if field == "max_len" else f"its input is {act}"
            raise ConfigError(f"graph.{task}", f"{what}; the {kind} unit takes {e.detail}") from None
        raise ConfigError(f"graph.{task}.{field}", e.detail) from None
    except TypeError as e:  # an unknown or missing field
        raise ConfigError(f"graph.{task}", f"{e}; a {kind} takes {', '.join(ROW_FIELDS[kind])}") from None


def out_shape(kind: str, cfg: BlockConfig, cols: int) -> tuple[int, NumType]:
    """Columns and type of the row op's result for rows of ``cols``."""
    if kind == "topk":
        return cfg.max_k, UInt(max((cols - 1).bit_length(), 1))
    return cols, cfg.out


def row_golden(kind: str, cfg: BlockConfig, x: np.ndarray) -> np.ndarray:
    """The block's golden model applied to every row of ``x`` ``[rows, cols]``."""
    rows, cols = x.shape
    if not takes_rows(kind):
        return cfg.model(x.reshape(-1)).reshape(rows, cols)
    stream = _row_stream(kind, cfg, x.reshape(-1), rows)
    out = cfg.model(**stream)[PORT_FIELDS[kind][1]]
    return out.reshape(rows, out_shape(kind, cfg, cols)[0])


def _row_stream(kind: str, cfg: BlockConfig, x: np.ndarray, rows: int) -> dict[str, np.ndarray]:
    """The unit's input fields for ``rows`` rows of the flat ``x``: the element, ``last``, top-k's ``k``."""
    cols = len(x) // rows
    stream = {PORT_FIELDS[kind][0]: x, "last": np.tile(np.arange(cols) == cols - 1, rows).astype(np.int64)}
    if kind == "topk":
        stream["k"] = np.full(len(x), cfg.max_k, dtype=np.int64)
    return stream


@lru_cache(maxsize=4096)  # configs are frozen; identical layers cost one evaluation
def row_cycles(kind: str, cfg: BlockConfig, cols: int, feed_stages: int) -> int:
    """Cycles the unit needs for one row whose elements are offered one per cycle from cycle
    ``1 + feed_stages`` of the slot, until its last result is written and it is idle: the block's cycle
    model's last result + 2 (as for a core: the router writes it, the slot ends)."""
    x = np.zeros(cols, dtype=np.int64)
    vectors = StreamVectors(inputs={"i": _row_stream(kind, cfg, x, 1) if takes_rows(kind) else x}, expected={})
    outs = cfg.cycle_model(vectors, arrivals={"i": [1 + feed_stages + j for j in range(cols)]})["o"]
    return outs[-1] + 2
