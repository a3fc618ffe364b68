"""The GEMM cores' exact cycle model, shared by the fixed core, the record core and the schedule compiler.

A row of a ``k × n`` slice needs ``P = ceil(n / lanes)`` passes of ``k``
reduction steps, one step issued per cycle; pass 0 takes one activation per
step. At a pass's last step the MAC stage hands the ``lanes`` results to the
output shift register once it is empty (or empties that cycle); until then
nothing new is issued. The first result of a pass is valid :data:`PIPE`
cycles after its last step is issued; the results then leave one per cycle.
A record core spends :data:`SWITCH_CYCLES` more cycles between records
(read and latch the next record) and as many before the first one.
"""

from __future__ import annotations

from dataclasses import dataclass

PIPE = 3  # issue -> MAC -> first output register valid
SWITCH_CYCLES = 2


@dataclass
class CoreClock:
    """The core's exact cycle model as state that runs on across rows (and records): ``cycle`` is when the
    next step is issued, ``drain_free`` the first cycle the output shift register may take a new pass."""

    cycle: int = 0
    drain_free: int = 0
    epilogue_stages: int = 0  # register stages in the epilogue: results leave that much later

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
                    if p == 0:
                        if arrivals is not None:
                            issue = max(issue, arrivals[len(accepts)])
                        accepts.append(issue)
                    self.cycle = issue + 1
                    if kk == k - 1:
                        # the MAC stage hands the pass over once the register is empty (or empties then);
                        # until it does, nothing new is issued
                        mac = max(issue + 1, self.drain_free)
                        outs.extend(mac + 2 + self.epilogue_stages + j for j in range(cols))
                        self.drain_free = mac + cols
                        self.cycle = mac
        return issue


def gemm_cycles(
    k: int, n: int, lanes: int, rows: int, arrivals: list[int] | None = None, epilogue_stages: int = 0
) -> tuple[list[int], list[int]]:
    """The cycle each input beat is taken and each output beat is first valid, for ``rows`` rows of a
    ``k × n`` slice at ``lanes`` columns per pass, outputs always ready; ``arrivals[j]`` is the first cycle
    input beat ``j`` is offered (default: at once); ``epilogue_stages`` delay every output."""
    accepts: list[int] = []
    outs: list[int] = []
    CoreClock(epilogue_stages=epilogue_stages).rows(k, n, lanes, rows, accepts, outs, arrivals)
    return accepts, outs
