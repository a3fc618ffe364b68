"""The GEMM cores' exact cycle model, shared by the fixed core, the record core and the schedule compiler.

A row of a ``k × n`` slice needs ``P = ceil(n / lanes)`` passes of ``k``
reduction steps, one step issued per cycle; pass 0 takes one activation per
step. At a pass's last step the MAC stage hands the ``lanes`` results to the
output shift register once it is empty (or empties that cycle); until then
the pipeline is held: nothing new is issued and no step moves. A step
reaches the accumulators ``mac_stages`` advancing cycles after the MAC
stage; the first result of a pass is valid :data:`PIPE` + ``mac_stages`` +
``epilogue_stages`` cycles after its last step is issued when nothing holds;
the results then leave one per cycle.
A record core spends :data:`SWITCH_CYCLES` more cycles between records
(read and latch the next record) and as many before the first one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

PIPE = 3  # issue -> MAC -> first output register valid
SWITCH_CYCLES = 2


@dataclass
class CoreClock:
    """The core's exact cycle model as state that runs on across rows (and records): ``cycle`` is when the
    next step is issued, ``drain_free`` the first cycle the output shift register may take a new pass,
    ``held`` the windows ``[start, end)`` of cycles in which the pipeline is held (a pass's last step waits
    at the accumulators for the shift register)."""

    cycle: int = 0
    drain_free: int = 0
    epilogue_stages: int = 0  # register stages in the epilogue: results leave that much later
    mac_stages: int = 0  # register stages between the MAC stage and the accumulators
    held: deque[tuple[int, int]] = field(default_factory=deque)

    def free(self, t: int) -> int:
        """The first cycle from ``t`` on in which the pipeline advances."""
        for start, end in self.held:
            if start <= t < end:
                t = end
        return t

    def rows(
        self,
        k: int,
        n: int,
        lanes: int,
        rows: int,
        accepts: list[int],
        outs: list[int],
        arrivals: list[int] | None = None,
    ) -> int:
        """Issue ``rows`` rows of a ``k × n`` slice; append the input accept and output valid cycles; return
        the cycle of the last issued step. ``arrivals[j]``: first cycle input beat ``j`` is offered."""
        issue = self.cycle
        for _ in range(rows):
            for p in range(-(-n // lanes)):
                cols = min(lanes, n - p * lanes)
                for kk in range(k):
                    issue = self.cycle
                    if p == 0 and arrivals is not None:
                        issue = max(issue, arrivals[len(accepts)])
                    issue = self.free(issue)
                    while self.held and self.held[0][1] <= issue:
                        self.held.popleft()  # windows before this step cannot delay it or any later one
                    if p == 0:
                        accepts.append(issue)
                    self.cycle = issue + 1
                    if kk == k - 1:
                        self._hand_over(issue, cols, outs)
        return issue

    def _hand_over(self, issue: int, cols: int, outs: list[int]) -> None:
        """A pass's last step, issued at ``issue``: it reaches the accumulators, waits (holding the pipeline)
        until the output shift register is free, hands its ``cols`` results over and they drain."""
        at_acc = issue + 1  # the MAC stage
        for _ in range(self.mac_stages):
            at_acc = self.free(at_acc) + 1
        handover = max(at_acc, self.drain_free)
        if handover > at_acc:
            self.held.append((at_acc, handover))
        outs.extend(handover + 2 + self.epilogue_stages + j for j in range(cols))
        self.drain_free = handover + cols


def gemm_cycles(
    k: int,
    n: int,
    lanes: int,
    rows: int,
    arrivals: list[int] | None = None,
    epilogue_stages: int = 0,
    mac_stages: int = 0,
) -> tuple[list[int], list[int]]:
    """The cycle each input beat is taken and each output beat is first valid, for ``rows`` rows of a
    ``k × n`` slice at ``lanes`` columns per pass, outputs always ready; ``arrivals[j]`` is the first cycle
    input beat ``j`` is offered (default: at once); ``epilogue_stages`` and ``mac_stages`` as in the core."""
    accepts: list[int] = []
    outs: list[int] = []
    clock = CoreClock(epilogue_stages=epilogue_stages, mac_stages=mac_stages)
    clock.rows(k, n, lanes, rows, accepts, outs, arrivals)
    return accepts, outs
