"""Integer softmax over a streamed row: I-BERT's integer exponential, an exact sum, one reciprocal per row.

Scores (``act`` integers of real scale ``scale``) stream in one per cycle, a
row ending at its ``last`` beat; the unit answers with the row's
probabilities (``out`` integers, ``y / 2^W``), ``last`` on the final one.
The rule is :func:`hwgen.intkernels.softmax` (exact integers); the hardware
is :mod:`.hardware`, its cycle model :meth:`SoftmaxConfig.cycle_model`.
"""

from __future__ import annotations

from .config import SoftmaxConfig
from .hardware import Softmax

__all__ = ["Softmax", "SoftmaxConfig"]
