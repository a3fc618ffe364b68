"""The ops of a task graph: the units of work a schedule places, after fusing element-wise epilogues.

Ops are the ``gemm``, ``conv``, ``pool``, ``matmul``, ``gather``, ``concat``, ``copy``, ``add``, row-op (``softmax``,
``norm``, ``activation``, ``topk``) and ``attention`` tasks. ``relu`` and ``requant`` are fused
into the write-back of the op that produces their input (they cost no core
and no cycles); an op's *output tensor* is the tensor at the end of its fused
chain. An *op edge* is a (producer op, consumer op) pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from .graph import TaskGraph
from .rowops import ROW_BLOCKS

#: Task kinds that are ops (run on a unit); the others are fused.
OP_KINDS = ("gemm", "conv", "pool", "matmul", "gather", "concat", "copy", "add", "mul", *ROW_BLOCKS, "attention")


@dataclass
class OpGraph:
    """The ops of ``graph`` in topological order, their inputs and outputs after fusion."""

    graph: TaskGraph
    ops: list[str]
    producer: dict[str, str]  # output tensor -> op
    inputs: dict[str, list[str]]  # op -> input tensors
    out_tensor: dict[str, str]  # op -> output tensor
    finals: set[str]  # the graph's outputs

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Op edges in consumer order, then producer order."""
        idx = self.ops.index
        pairs = {(self.producer[i], op) for op in self.ops for i in self.inputs[op] if i in self.producer}
        return sorted(pairs, key=lambda e: (idx(e[1]), idx(e[0])))

    def rows(self, tensor: str) -> int:
        """Rows of ``tensor`` (an op's: the rows it computes, one per row slot of its stage)."""
        return self.graph.tasks[tensor].rows

    def tensor_bytes(self, tensor: str) -> int:
        return self.rows(tensor) * self.row_bytes(tensor)

    def whole_inputs(self, op: str) -> list[str]:
        """The inputs ``op`` reads whole rather than row by row: an attention's K and V, a matmul's ``b``, a
        conv's or pool's image, a gather's tensor and index."""
        kind = self.graph.tasks[op].op
        if kind in ("attention", "matmul"):
            return self.inputs[op][1:]
        if kind == "gather":  # the index; and the tensor when rows are picked
            return self.inputs[op][:2] if self.graph.tasks[op].params["axis"] == 0 else self.inputs[op][1:2]
        return self.inputs[op][:1] if kind in ("conv", "pool") else []

    @property
    def whole_tensors(self) -> list[str]:
        """Every tensor some op reads whole (it stays in an on-chip scratchpad), in production order."""
        found = {t for op in self.ops for t in self.whole_inputs(op)}
        return [t for t in (self.out_tensor[op] for op in self.ops) if t in found]

    def element_bytes(self, tensor: str) -> int:
        """Bytes of one element of ``tensor`` (``ceil(width / 8)``)."""
        return math.ceil(self.graph.tasks[tensor].dtype.width / 8)

    def row_bytes(self, tensor: str) -> int:
        return self.graph.tasks[tensor].cols * self.element_bytes(tensor)


def op_graph(graph: TaskGraph) -> OpGraph:
    """Fuse ``graph``'s element-wise tasks into the ops that produce their inputs."""
    order = graph.validate()
    owner: dict[str, str] = {}
    for n in order:
        t = graph.tasks[n]
        if t.op in OP_KINDS:
            owner[n] = n
        elif t.op in ("relu", "requant"):
            src = t.inputs[0]
            if graph.tasks[src].op == "input":
                raise ConfigError(f"graph.{n}", f"{t.op} of a graph input cannot be fused; apply it to an op's output")
            if len(graph.consumers(src)) > 1:
                raise ConfigError(
                    f"graph.{n}",
                    f"{t.op} reads {src}, which has other consumers too; "
                    f"it can only be fused into a single-consumer output",
                )
            owner[n] = owner[src]
    ops = [n for n in order if graph.tasks[n].op in OP_KINDS]
    out_tensor = {op: max((n for n, o in owner.items() if o == op), key=order.index) for op in ops}
    inputs = {op: [out_tensor[owner[i]] if i in owner else i for i in graph.tasks[op].inputs] for op in ops}
    return OpGraph(graph, ops, {out_tensor[o]: o for o in ops}, inputs, out_tensor, set(graph.outputs()))
