"""Record emission: what each core does in each stage (the controller's record ROM, as data)."""

from __future__ import annotations

from dataclasses import dataclass

from .ops import OpGraph
from .places import Endpoint, Place
from .stages import EdgeChoice, StageLayout


@dataclass(frozen=True)
class ConfigRecord:
    """One entry of the controller's record ROM: what a core does in a stage."""

    stage: int
    task: str
    core: int
    rows: tuple[int, int]  # output rows [m0, m1)
    cols: tuple[int, int]  # output columns [n0, n1) of this core's slice
    k: int  # reduction length (gemm) or 0
    sources: tuple[Endpoint, ...]  # where each input comes from
    destination: Endpoint  # where the output goes first (a stream consumer, else its tensor's place)


def stage_records(
    opg: OpGraph,
    st: StageLayout,
    stage: int,
    alloc: dict[str, int],
    onchip: set[str],
    dataflow: EdgeChoice,
    first_core: int = 0,
) -> list[ConfigRecord]:
    """Records of ``stage``: each op's output columns split evenly over its cores, cores numbered in order."""
    records = []
    core = first_core
    for op in st.stages[stage]:
        t = opg.graph.tasks[op]
        n_total = opg.graph.tasks[opg.out_tensor[op]].cols
        sources = tuple(_source(opg, st, onchip, stage, i) for i in opg.inputs[op])
        dest = _destination(opg, op, dataflow, onchip)
        for c in range(alloc[op]):
            n0, n1 = n_total * c // alloc[op], n_total * (c + 1) // alloc[op]
            k = t.weights.shape[0] if t.weights is not None else 0
            records.append(ConfigRecord(stage, op, core, (0, t.rows), (n0, n1), k, sources, dest))
            core += 1
    return records


def _source(opg: OpGraph, st: StageLayout, onchip: set[str], stage: int, tensor: str) -> Endpoint:
    if opg.graph.tasks[tensor].op == "input":
        return Endpoint(Place.OFFCHIP, tensor)
    op = opg.producer[tensor]
    if st.stage_of[op] == stage:
        return Endpoint(Place.STREAM, op)
    return Endpoint(Place.SCRATCHPAD if tensor in onchip else Place.OFFCHIP, tensor)


def _destination(opg: OpGraph, op: str, dataflow: EdgeChoice, onchip: set[str]) -> Endpoint:
    for (a, b), df in dataflow.items():
        if a == op and df:
            return Endpoint(Place.STREAM, b)
    tensor = opg.out_tensor[op]
    if tensor in opg.finals:
        return Endpoint(Place.OFFCHIP, tensor)
    return Endpoint(Place.SCRATCHPAD if tensor in onchip else Place.OFFCHIP, tensor)
