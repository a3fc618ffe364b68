"""Stage partitioning: which ops run together, in which order, and how deep each sits in its stage.

Ops joined by dataflow edges run in the same *stage* (connected components
over the dataflow edges); stages run in a topological order of the
sequential edges, ties broken by graph order. Within a stage an op's
*depth* is the number of ops that stream into it in a chain (``0`` for an op
fed only from memory); an op at depth ``d`` computes row ``r`` in slot
``r + d + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .ops import OpGraph

#: op edge -> True (dataflow) / False (sequential)
EdgeChoice = dict[tuple[str, str], bool]


@dataclass
class StageLayout:
    """Stages in execution order, each op's stage and depth."""

    opg: OpGraph
    stages: list[list[str]]
    stage_of: dict[str, int]
    depth: dict[str, int]

    def streamed(self, op: str, tensor: str) -> bool:
        """True when ``op`` receives ``tensor`` as a stream from an op of its own stage."""
        producer = self.opg.producer.get(tensor)
        return producer is not None and self.stage_of[producer] == self.stage_of[op]

    def ring_rows(self, op: str, tensor: str) -> int:
        """Rows of ``op``'s input buffer for ``tensor``: a ring of 2 plus the slots a row waits (a stream from
        a shallower producer), rounded up to a power of two."""
        wait = self.depth[op] - self.depth[self.opg.producer[tensor]] - 1 if self.streamed(op, tensor) else 0
        return 1 << (wait + 1).bit_length()


def partition(opg: OpGraph, dataflow: EdgeChoice, cores: int) -> StageLayout:
    """Stages for the edge choice ``dataflow``; raises when the choice orders stages in a cycle, a stage
    streams more ops through each other than there are ``cores``, or streams a tensor an op reads whole."""
    for (a, b), df in dataflow.items():
        if df and opg.out_tensor[a] in opg.whole_inputs(b):
            raise ConfigError(
                "schedule", f"{b} reads {opg.out_tensor[a]} whole, so it cannot stream from {a} (a sequential edge)"
            )
    groups = _components(opg.ops, dataflow)
    group_of = {op: k for k, g in enumerate(groups) for op in g}
    for a, b in dataflow:
        if group_of[a] == group_of[b] and opg.out_tensor[a] in opg.whole_inputs(b):
            raise ConfigError(
                "schedule", f"{b} reads {opg.out_tensor[a]} whole but other streams put it in {a}'s stage"
            )
    stages = _order(opg.ops, groups, dataflow)
    for s, members in enumerate(stages):
        if len(members) > cores:
            raise ConfigError(
                "schedule",
                f"stage {s} streams {len(members)} ops ({', '.join(members)}) through "
                f"each other but there are only {cores} cores",
            )
    for s, members in enumerate(stages):
        rows = {opg.rows(op) for op in members}
        if len(rows) > 1:  # not reachable with row-wise dataflow edges; a guard for new op kinds
            raise ConfigError("schedule", f"stage {s} mixes ops of {sorted(rows)} rows ({', '.join(members)})")
    stage_of = {op: s for s, members in enumerate(stages) for op in members}
    layout = StageLayout(opg, stages, stage_of, {})
    for op in opg.ops:  # graph order: producers first
        streamed = [layout.depth[opg.producer[i]] + 1 for i in opg.inputs[op] if layout.streamed(op, i)]
        layout.depth[op] = max(streamed, default=0)
    return layout


def _components(ops: list[str], dataflow: EdgeChoice) -> list[list[str]]:
    """Connected components over the dataflow edges (union-find), each in graph order."""
    root = {op: op for op in ops}

    def find(x: str) -> str:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for (a, b), df in dataflow.items():
        if df:
            root[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for op in ops:
        groups.setdefault(find(op), []).append(op)
    return list(groups.values())


def _order(ops: list[str], groups: list[list[str]], dataflow: EdgeChoice) -> list[list[str]]:
    """Groups in a topological order of the sequential edges, the earliest (graph order) ready group first."""
    placed: set[str] = set()
    remaining = list(groups)
    stages = []
    while remaining:
        ready = [
            g
            for g in remaining
            if all(a in placed for (a, b), df in dataflow.items() if not df and b in g and a not in g)
        ]
        if not ready:
            raise ConfigError(
                "schedule",
                "these dataflow/sequential choices put a task both before and after "
                "another stage (a cycle between stages)",
            )
        g = min(ready, key=lambda x: ops.index(x[0]))
        remaining.remove(g)
        placed |= set(g)
        stages.append(g)
    return stages
