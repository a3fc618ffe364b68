"""The off-chip bandwidth rule shared by every memory model and the schedule cost model.

Moving ``n`` beats of ``beat_bytes`` bytes each at ``bytes_per_cycle`` bytes
per cycle takes ``ceil(n · beat_bytes / bytes_per_cycle)`` cycles: beat
``j`` (0-based) is complete ``transfer_cycles(j + 1, ...)`` cycles after the
transfer starts.
"""

from __future__ import annotations

import math

#: Guards the ceiling against binary rounding of exact products such as 3 · (1/3).
_EPS = 1e-12


def transfer_cycles(beats: int, beat_bytes: int, bytes_per_cycle: float) -> int:
    """Cycles for ``bytes_per_cycle`` to move ``beats`` beats of ``beat_bytes`` bytes: ``ceil(beats·b/B)``."""
    return int(math.ceil(beats * beat_bytes / bytes_per_cycle - _EPS))
