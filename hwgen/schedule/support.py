"""What the schedule engine builds: the checks that a graph's ops fit its cores and fused epilogues.

The cost model *is* the engine's timing, so a graph the engine cannot build
has no schedule either: :func:`check_buildable` runs before the compiler
searches anything, and the engine's plan relies on it. The engine builds

* gemm and conv tasks on record cores (:class:`~hwgen.blocks.gemm.RecordCore`):
  integer activations of 2..32 bits and weights of 2..18 bits, one signed accumulator type
  of 8..48 bits across all gemm tasks, wrapping (``overflow='wrap'``), with
  ``requant`` and then ``relu`` optionally fused after each;
* element-wise adds on adder units, row ops (softmax, norm, activation) and
  attention on their blocks' units, nothing fused after them; an attention's
  K and V computed in the graph (they are kept in on-chip scratchpads).
"""

from __future__ import annotations

from ..errors import ConfigError
from ..numtype import NumType
from .graph import MATMUL_OPS, Task, TaskGraph
from .ops import OpGraph


def check_buildable(opg: OpGraph) -> list[str]:
    """The gemm ops of ``opg``; raises :class:`ConfigError` naming the task for anything the engine cannot
    build."""
    graph = opg.graph
    for op in opg.ops:
        t = graph.tasks[op]
        if t.op not in MATMUL_OPS and opg.out_tensor[op] != op:
            raise ConfigError(
                f"graph.{opg.out_tensor[op]}",
                f"the engine does not fuse requant/relu after {'an' if t.op == 'add' else 'a'} {t.op} ({op}); "
                f"only after a gemm",
            )
        for tensor in opg.whole_inputs(op):
            if tensor not in opg.producer:
                raise ConfigError(
                    f"graph.{op}",
                    f"reads {tensor} whole from an on-chip scratchpad, but {tensor} is a graph input (off-chip); "
                    f"bring it on chip first: graph.copy('{tensor}_onchip', '{tensor}')",
                )
        if t.op in MATMUL_OPS:
            _check_gemm(graph, t, graph.tasks[opg.inputs[op][0]].dtype)
            fused_chain(graph, op, opg.out_tensor[op])
    gemms = [op for op in opg.ops if graph.tasks[op].op in MATMUL_OPS]
    if not gemms:
        raise ConfigError("graph", "the engine needs at least one gemm task")
    accs = {graph.tasks[op].dtype for op in gemms}
    if len(accs) != 1:
        raise ConfigError(
            "graph",
            f"all gemm tasks must share one accumulator type for the engine's cores; "
            f"found {', '.join(sorted(map(str, accs)))}",
        )
    return gemms


def core_types(opg: OpGraph, gemms: list[str]) -> tuple[NumType, NumType, NumType]:
    """The one datapath of every core: ``(act, weight, acc)``, the narrowest types holding every gemm's."""
    graph = opg.graph
    act = _widest([graph.tasks[opg.inputs[op][0]].dtype for op in gemms])
    weight = _widest([graph.tasks[op].weight for op in gemms])
    return act, weight, graph.tasks[gemms[0]].dtype


def _widest(types: list[NumType]) -> NumType:
    return NumType.fitting(min(t.min for t in types), max(t.max for t in types))


def _check_gemm(graph: TaskGraph, t: Task, act: NumType) -> None:
    if t.overflow != "wrap":
        raise ConfigError(
            f"graph.{t.name}.overflow", f"the engine's accumulators wrap; {t.overflow!r} is not built (use 'wrap')"
        )
    if not t.dtype.signed or not 8 <= t.dtype.width <= 48:
        raise ConfigError(f"graph.{t.name}.acc", f"{t.dtype}: the cores accumulate in signed integers of 8..48 bits")
    if not 2 <= t.weight.width <= 18:
        raise ConfigError(f"graph.{t.name}.weight", f"{t.weight}: the cores take weights of 2..18 bits")
    if not 2 <= act.width <= 32:
        raise ConfigError(f"graph.{t.name}", f"its input is {act}; the cores take activations of 2..32 bits")


def fused_chain(graph: TaskGraph, op: str, out: str) -> list[Task]:
    """The tasks fused after gemm ``op`` up to its output tensor ``out``: ``[requant] [relu]`` in that order."""
    chain, t = [], out
    while t != op:
        chain.append(graph.tasks[t])
        t = graph.tasks[t].inputs[0]
    chain.reverse()
    kinds = [c.op for c in chain]
    if kinds not in ([], ["requant"], ["relu"], ["requant", "relu"]):
        raise ConfigError(
            f"graph.{out}",
            f"the engine fuses 'requant' then 'relu' after a gemm; "
            f"{' -> '.join([op] + [c.name for c in chain])} is {kinds}",
        )
    return chain
