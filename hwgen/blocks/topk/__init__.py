"""SpAtten's top-k engine: the k largest of a streamed row of scores, one score per cycle.

A row of scores streams in (the row's ``k`` on every beat, read at the
row's first; ``last`` ends the row). The unit keeps the best ``max_k``
seen so far in a sorted register array — each new score is compared with
every kept one at once and inserted, the ones below it moving down one
place — and at the row's end hands the first ``min(k, n)`` to an output
register that drains them, one per cycle, while the next row streams in.
Order: descending score, ties to the lower index (the earlier score).
"""

from __future__ import annotations

from .config import TopKConfig
from .hardware import TopK

__all__ = ["TopK", "TopKConfig"]
