"""Stream ports of a component and their payload bits: find the ports, pack field values and unpack them.

A stream payload in the generated Verilog is one flat port (``i__payload``).
Test vectors are kept per field (``{"a": array[beats, lanes], "last":
array[beats]}``); these functions convert between the two using the
payload's Amaranth shape, so the host, the Amaranth simulator and cocotb all
see the same bits.

Raw values are Python integers (exact at any width).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data, wiring


@dataclass(frozen=True)
class Leaf:
    """One scalar field of a payload: its path, bit offset, width and signedness."""

    path: tuple[str | int, ...]
    offset: int
    width: int
    signed: bool

    @property
    def name(self) -> str:
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text


def leaves(shape: Any, path: tuple = (), offset: int = 0) -> list[Leaf]:
    """Flatten an Amaranth shape (plain, struct or array layout) into scalar leaves."""
    if isinstance(shape, data.Layout):
        out: list[Leaf] = []
        for key, fld in shape:
            out += leaves(fld.shape, path + (key,), offset + fld.offset)
        return out
    s = Shape.cast(shape)
    return [Leaf(path, offset, s.width, s.signed)]


def _get(values: Any, path: tuple) -> np.ndarray:
    """Pick a leaf's per-beat values: dict keys for struct members, the last axis for arrays."""
    v = values
    lane_idx: list[int] = []
    for part in path:
        if isinstance(part, int):
            lane_idx.append(part)
        else:
            if lane_idx:
                raise ValueError("arrays of structs are not supported in test vectors")
            v = v[part]
    arr = np.asarray(v, dtype=object)
    for i in lane_idx:
        arr = arr[:, i]
    return arr


def pack(shape: Any, values: Any) -> list[int]:
    """Pack per-field values (leading axis = beats) into raw payload integers."""
    lv = leaves(shape)
    beats = None
    out: np.ndarray | None = None
    for leaf in lv:
        arr = _get(values, leaf.path) if leaf.path else np.asarray(values, dtype=object)
        if beats is None:
            beats = len(arr)
            out = np.zeros(beats, dtype=object)
        elif len(arr) != beats:
            raise ValueError(f"field {leaf.name} has {len(arr)} beats, expected {beats}")
        lo = -(1 << (leaf.width - 1)) if leaf.signed else 0
        hi = (1 << (leaf.width - 1)) - 1 if leaf.signed else (1 << leaf.width) - 1
        for v in arr:
            if not lo <= int(v) <= hi:
                raise ValueError(
                    f"field {leaf.name or 'payload'}: {v} does not fit {leaf.width} "
                    f"{'signed' if leaf.signed else 'unsigned'} bits"
                )
        mask = (1 << leaf.width) - 1
        out = out + np.array([(int(v) & mask) << leaf.offset for v in arr], dtype=object)
    return [int(v) for v in (out if out is not None else [])]


def unpack(shape: Any, raws: list[int]) -> dict[str, np.ndarray]:
    """Split raw payload integers into leaves, keyed by leaf name ('' for a plain shape).

    Array layouts come back as one 2-D array ``[beats, lanes]`` under the
    array's name; everything else as a 1-D array per leaf.
    """
    lv = leaves(shape)
    raws = [int(r) for r in raws]
    cols: dict[str, list[np.ndarray]] = {}
    for leaf in lv:
        mask = (1 << leaf.width) - 1
        vals = [(r >> leaf.offset) & mask for r in raws]
        if leaf.signed:
            top = 1 << (leaf.width - 1)
            vals = [v - (1 << leaf.width) if v & top else v for v in vals]
        arr = np.array(vals, dtype=np.int64 if leaf.width <= 62 else object)
        names = [p for p in leaf.path if not isinstance(p, int)]
        key = ".".join(str(p) for p in names)
        cols.setdefault(key, []).append(arr)
    return {k: (np.stack(v, axis=1) if len(v) > 1 or _is_array_leaf(lv, k) else v[0]) for k, v in cols.items()}


def _is_array_leaf(lv: list[Leaf], key: str) -> bool:
    return any(
        isinstance(l.path[-1], int)
        for l in lv
        if l.path and ".".join(str(p) for p in l.path if not isinstance(p, int)) == key
    )


def field_summary(shape: Any) -> list[dict[str, Any]]:
    """Payload fields for manifests: array elements folded into one entry with a ``count``.

    Each entry: ``field`` (name), ``offset`` of element 0, ``width`` of one
    element, ``signed``, ``count`` (elements, packed LSB first).
    """
    out: list[dict[str, Any]] = []
    for leaf in leaves(shape):
        name = ".".join(str(p) for p in leaf.path if not isinstance(p, int))
        if out and out[-1]["field"] == name and leaf.path and isinstance(leaf.path[-1], int):
            out[-1]["count"] += 1
            continue
        out.append({"field": name, "offset": leaf.offset, "width": leaf.width, "signed": leaf.signed, "count": 1})
    return out


def payload_shape(component: wiring.Component, port: str) -> Any:
    """The Amaranth shape (layout) of a stream port's payload."""
    return getattr(component, port).payload.shape()


def stream_ports(component: wiring.Component) -> tuple[list[str], list[str]]:
    """Names of the component's input and output stream ports, in signature order."""
    ins, outs = [], []
    for name, member in component.signature.members.items():
        if member.is_signature and {"payload", "valid", "ready"} <= set(member.signature.members.keys()):
            # an In(stream) member's signature is already flipped: its payload flows In
            flow = member.signature.members["payload"].flow
            (ins if flow == wiring.In else outs).append(name)
    return ins, outs


def inspected(component: wiring.Component) -> wiring.Component:
    """Mark a component built only to read its ports as used (no UnusedElaboratable warning)."""
    component._MustUse__used = True  # type: ignore[attr-defined]
    return component
