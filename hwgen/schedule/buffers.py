"""Buffer layout: the on-chip buffers a schedule needs, and which sequential tensors stay on chip.

Every buffer the engine allocates counts: an input ring buffer per op input
that is a stream or off-chip data (:meth:`~.stages.StageLayout.ring_rows`
rows), a scratchpad per on-chip sequential tensor (all its rows), a 2-row
write-back buffer per tensor written off-chip. Tensors an op reads whole (an
attention's K and V) are kept on chip first; the other sequential tensors in
production order while everything still fits ``onchip_bytes``.
"""

from __future__ import annotations

from ..errors import ConfigError
from .ops import OpGraph
from .places import BufferKey, BufferKind
from .stages import EdgeChoice, StageLayout


def sequential_tensors(opg: OpGraph, dataflow: EdgeChoice) -> list[str]:
    """Output tensors crossing at least one sequential edge, in production order."""
    tensors = {opg.out_tensor[a] for (a, _), df in dataflow.items() if not df}
    return sorted(tensors, key=lambda t: opg.ops.index(opg.producer[t]))


def layout(opg: OpGraph, st: StageLayout, sequential: list[str], onchip: set[str]) -> dict[BufferKey, int]:
    """Bytes of every buffer when the tensors in ``onchip`` stay on chip."""
    buf: dict[BufferKey, int] = {}
    for op in opg.ops:
        for i in opg.inputs[op]:
            if st.streamed(op, i) or i not in onchip:
                buf[BufferKey(BufferKind.INPUT, i, op)] = st.ring_rows(op, i) * opg.row_bytes(i)
    for t in opg.producer:
        if t in onchip:
            buf[BufferKey(BufferKind.SCRATCH, t)] = opg.tensor_bytes(t)
        elif t in opg.finals or t in sequential:
            buf[BufferKey(BufferKind.WRITEBACK, t)] = 2 * opg.row_bytes(t)
    return buf


def check_floor(opg: OpGraph, onchip_bytes: int) -> None:
    """Raises when ``onchip_bytes`` cannot hold even one 2-row buffer of the widest tensor."""
    tensors = list(opg.producer) + [i for op in opg.ops for i in opg.inputs[op]]
    widest = max((opg.row_bytes(t) for t in tensors), default=0)
    if onchip_bytes < 2 * widest:
        raise ConfigError(
            "machine.onchip_bytes",
            f"{onchip_bytes} bytes cannot hold even one 2-row buffer of the widest tensor ({2 * widest} bytes); "
            f"no schedule fits",
        )


def place_tensors(
    opg: OpGraph, st: StageLayout, dataflow: EdgeChoice, onchip_bytes: int, chosen: set[str] | None = None
) -> tuple[set[str], dict[BufferKey, int]]:
    """The sequential tensors kept on chip and the resulting buffers: ``chosen`` (the optimization model's
    residency; it must fit), else greedily in production order; raises when even the fixed buffers (every
    sequential tensor off chip) exceed ``onchip_bytes``."""
    check_floor(opg, onchip_bytes)
    sequential = sequential_tensors(opg, dataflow)
    onchip: set[str] = set(opg.whole_tensors)
    if chosen is not None:
        buffers = layout(opg, st, sequential, onchip | chosen)
        if not set(chosen) <= set(sequential) | onchip or sum(buffers.values()) > onchip_bytes:
            raise ConfigError("schedule", f"the residency {sorted(chosen)} does not fit or names a tensor not kept")
        return onchip | chosen, buffers
    need = sum(layout(opg, st, sequential, onchip).values())
    if onchip and need > onchip_bytes:
        sizes = ", ".join(f"{t} ({opg.tensor_bytes(t)} B)" for t in opg.whole_tensors)
        raise ConfigError(
            "schedule",
            f"the tensors read whole need on-chip scratchpads: {sizes}; with the other buffers that is {need} "
            f"bytes, more than the {onchip_bytes}-byte on-chip buffer",
        )
    if need > onchip_bytes:
        raise ConfigError(
            "schedule",
            f"the buffers need {need} bytes even with every sequential tensor off-chip, more than the "
            f"{onchip_bytes}-byte on-chip buffer",
        )
    for t in sequential:
        if sum(layout(opg, st, sequential, onchip | {t}).values()) <= onchip_bytes:
            onchip.add(t)
    return onchip, layout(opg, st, sequential, onchip)
