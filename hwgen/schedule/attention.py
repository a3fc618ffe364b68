"""The attention op of a task graph: multi-head (causal) attention of a query tensor over whole K and V tensors.

``attention(q, k, v, heads)`` with ``q [M, H·d]``, ``k, v [N, H·d]``: for
every row ``r`` of ``q`` and head ``h`` (columns ``h·d .. h·d + d − 1``),
the decode-attention block's exact rule
(:class:`~hwgen.blocks.attention.DecodeAttentionConfig`, one stream):
:func:`hwgen.intkernels.online_attention` of ``q[r]`` over the entries
``k[j], v[j]`` for ``j < r + 1`` (causal; ``q`` and ``k`` then have the same
rows) or every ``j < N``, then :func:`~hwgen.intkernels.attention_output`
into ``out``. The block is built with one lane (the engine moves one word
per cycle) and ``max_kv = N``.

In the engine the op's unit is that block; K and V are read whole, so they
stay in on-chip scratchpads (their edges are sequential) and its per-row time
is the block's cycle model for the row with the most entries
(:func:`attention_cycles`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..blocks import DecodeAttentionConfig
from ..errors import ConfigError
from ..intkernels import attention_output, online_attention
from ..numtype import NumType
from ..vectors import StreamVectors

#: The fields a user gives (the inputs fix the rest).
FIELDS = ("heads", "causal", "score_shift", "scale", "exp_bits", "out")


def attention_config(task: str, fields: dict[str, Any], act: NumType, cols: int, kv_rows: int) -> DecodeAttentionConfig:
    """The block of attention op ``task``: head size ``cols / heads``, ``max_kv = kv_rows``, one lane; a
    :class:`ConfigError` names ``graph.<task>.<field>``."""
    heads = fields["heads"]
    if cols % heads:
        raise ConfigError(f"graph.{task}.heads", f"{heads} heads do not split {cols} columns evenly")
    block = {k: v for k, v in fields.items() if k not in ("heads", "causal")}
    try:
        return DecodeAttentionConfig(head_dim=cols // heads, lanes=1, max_kv=kv_rows, act=act, **block)
    except ConfigError as e:
        field = e.where.split(".", 1)[-1]
        if field in ("act", "head_dim", "max_kv"):
            what = {"act": f"its inputs are {act}", "head_dim": f"its heads are {cols // heads} columns",
                    "max_kv": f"K and V have {kv_rows} rows"}[field]  # fmt: skip
            raise ConfigError(f"graph.{task}", f"{what}; the attention unit takes {e.detail}") from None
        raise ConfigError(f"graph.{task}.{field}", e.detail) from None


def entries(causal: bool, row: int, kv_rows: int) -> int:
    """KV entries row ``row`` attends to."""
    return row + 1 if causal else kv_rows


def attention_golden(
    cfg: DecodeAttentionConfig, heads: int, causal: bool, q: np.ndarray, k: np.ndarray, v: np.ndarray
) -> np.ndarray:
    """Every row and head by the block's rule (see the module docstring)."""
    d = cfg.head_dim
    y = np.zeros(q.shape, dtype=np.int64)
    for r in range(q.shape[0]):
        n = entries(causal, r, k.shape[0])
        for h in range(heads):
            cs = slice(h * d, (h + 1) * d)
            st = online_attention(q[r, cs], k[:n, cs], v[:n, cs], cfg.score_shift, cfg.exp)
            y[r, cs] = attention_output(st, cfg.recip_frac, cfg.out.min, cfg.out.max)
    return y


@lru_cache(maxsize=4096)  # configs are frozen; identical layers cost one evaluation
def attention_cycles(cfg: DecodeAttentionConfig, heads: int, n: int) -> int:
    """Cycles the unit needs for one row of ``heads`` queries over ``n`` entries each, its words offered from
    cycle 1 of the slot (q, then each entry's key and value, head after head), until its last output is
    written and it is idle: the block's cycle model's last output + 2."""
    d = cfg.head_dim
    query = np.arange(d * (1 + 2 * n)) == d * (1 + 2 * n) - 1
    last = np.tile(query, heads).astype(np.int64)
    vectors = StreamVectors(inputs={"i": {"x": np.zeros((len(last), 1), np.int64), "last": last}}, expected={})
    outs = cfg.cycle_model(vectors, arrivals={"i": [1] * len(last)})["o"]
    return outs[-1] + 2
