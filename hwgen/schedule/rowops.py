"""Row ops: task-graph ops that one block's unit computes a row at a time — softmax, norm, activation.

A row op reads one tensor ``[rows, cols]`` and writes one of the same shape.
Its unit is a block built for the row (:func:`row_config`): the block's
input type is the input tensor's, its row length the tensor's ``cols``, the
other fields the user's (``fields``). Its golden model is the block's own
(:func:`row_golden`, row by row) and its time per row in an engine slot is
the block's own cycle model (:func:`row_cycles`).

* ``softmax``: :class:`~hwgen.blocks.softmax.SoftmaxConfig` (``scale``, ``out``);
* ``norm``: :class:`~hwgen.blocks.norm.NormConfig` (``mode``, ``out``, ``out_frac``);
* ``activation``: :class:`~hwgen.blocks.activation.ActivationConfig`, one lane
  (``function``, ``in_scale``, ``out``, ``out_scale``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..blocks import ActivationConfig, NormConfig, SoftmaxConfig
from ..config import BlockConfig
from ..errors import ConfigError
from ..numtype import NumType
from ..vectors import StreamVectors

#: Row op kind -> its block's config class.
ROW_BLOCKS: dict[str, type[BlockConfig]] = {
    "softmax": SoftmaxConfig,
    "norm": NormConfig,
    "activation": ActivationConfig,
}
#: The fields a user gives per kind (the input fixes ``act`` and the row length).
ROW_FIELDS = {
    "softmax": ("scale", "out"),
    "norm": ("mode", "out", "out_frac"),
    "activation": ("function", "in_scale", "out", "out_scale"),
}


def takes_rows(kind: str) -> bool:
    """Whether the unit needs row boundaries (a ``last`` flag): softmax and norm; the activation is
    element-wise."""
    return kind != "activation"


def row_config(kind: str, task: str, fields: dict[str, Any], act: NumType, cols: int) -> BlockConfig:
    """The block computing row op ``task`` (of ``kind``) on rows of ``cols`` elements of type ``act``; a
    :class:`ConfigError` names ``graph.<task>.<field>``."""
    size = {"max_len": cols} if takes_rows(kind) else {}
    try:
        return ROW_BLOCKS[kind](**fields, act=act, **size)
    except ConfigError as e:
        field = e.where.split(".", 1)[-1]
        if field in ("act", "max_len"):
            what = f"its input is {cols} columns of {act}" if field == "max_len" else f"its input is {act}"
            raise ConfigError(f"graph.{task}", f"{what}; the {kind} unit takes {e.detail}") from None
        raise ConfigError(f"graph.{task}.{field}", e.detail) from None
    except TypeError as e:  # an unknown or missing field
        raise ConfigError(f"graph.{task}", f"{e}; a {kind} takes {', '.join(ROW_FIELDS[kind])}") from None


def row_golden(kind: str, cfg: BlockConfig, x: np.ndarray) -> np.ndarray:
    """The block's golden model applied to every row of ``x`` ``[rows, cols]``."""
    rows, cols = x.shape
    if not takes_rows(kind):
        return cfg.model(x.reshape(-1)).reshape(rows, cols)
    last = np.tile(np.arange(cols) == cols - 1, rows)
    return cfg.model(x.reshape(-1), last)["y"].reshape(rows, cols)


def row_cycles(kind: str, cfg: BlockConfig, cols: int, feed_stages: int) -> int:
    """Cycles the unit needs for one row whose elements are offered one per cycle from cycle
    ``1 + feed_stages`` of the slot, until its last result is written and it is idle: the block's cycle
    model's last result + 2 (as for a core: the router writes it, the slot ends)."""
    x = np.zeros(cols, dtype=np.int64)
    port = {"x": x, "last": (np.arange(cols) == cols - 1).astype(np.int64)} if takes_rows(kind) else x
    vectors = StreamVectors(inputs={"i": port}, expected={})
    outs = cfg.cycle_model(vectors, arrivals={"i": [1 + feed_stages + j for j in range(cols)]})["o"]
    return outs[-1] + 2
