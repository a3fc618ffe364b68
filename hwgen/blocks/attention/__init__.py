"""Decode attention over a streamed KV cache: q·Kᵀ, the online (running-max) integer softmax, ·V.

One query of one head streams in (``lanes`` elements a beat): q, then each KV
entry's key and value; the unit keeps a running maximum, a running sum and
``head_dim`` accumulators, rescaled whenever the maximum grows, so any KV
length streams once. The rule is :func:`hwgen.intkernels.online_attention`
and :func:`~hwgen.intkernels.attention_output` (exact integers); states of
split KV ranges combine with :func:`~hwgen.intkernels.combine_partials`. The
hardware is :mod:`.hardware`, its cycle model
:meth:`DecodeAttentionConfig.cycle_model`.
"""

from __future__ import annotations

from .config import DecodeAttentionConfig
from .hardware import DecodeAttention

__all__ = ["DecodeAttention", "DecodeAttentionConfig"]
