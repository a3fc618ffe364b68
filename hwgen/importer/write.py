"""An imported model written as a schedule file a user reads and edits (``hwgen import``).

The ``.py`` builds the task graph call by call — input, ``gemm`` / ``conv2d``
with its bias, ``requant`` with its multiplier and shift, ``relu``, ``add``,
``maxpool`` / ``avgpool``, ``copy`` — with the ONNX
node each layer came from in a comment, and a :class:`~hwgen.schedule.Machine`;
the arrays (weights, biases, per-column multipliers and shifts) sit in a
``.npz`` of the same name beside it. ``hwgen schedule FILE.py`` then reports
its cost under each policy and builds its engine.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..schedule import Machine, TaskGraph
from ..schedule.graph import Task


def schedule_source(graph: TaskGraph, machine: Machine, source: str, layers: dict[str, str]) -> tuple[str, dict]:
    """The schedule file's text and its arrays (name -> array); ``layers`` maps gemm tasks to ONNX nodes."""
    arrays: dict[str, np.ndarray] = {}
    lines = [
        f'"""Imported from {Path(source).name} by `hwgen import`: the model as a task graph and a machine.',
        "",
        "Arrays (weights, biases, per-column multipliers and shifts) are in the .npz beside this file. Edit the",
        'machine (cores, lanes, memory) freely; `hwgen schedule` on this file reports and builds the engine."""',
        "",
        "from pathlib import Path",
        "",
        "import numpy as np",
        "",
        "from hwgen.schedule import Machine, TaskGraph",
        "",
        'data = np.load(Path(__file__).with_suffix(".npz"))',
        f"graph = TaskGraph({graph.name!r})",
    ]
    for name in graph.order():
        t = graph.tasks[name]
        if t.op == "input":
            lines.append(f"graph.input({name!r}, {t.rows}, {t.cols}, {str(t.dtype)!r})")
        elif t.op in ("gemm", "conv"):
            lines += _matmul(t, arrays, layers.get(name, ""))
        elif t.op == "requant":
            p = t.params
            args = []
            for key in ("multiplier", "shift"):
                if isinstance(p[key], tuple):
                    arrays[f"{name}.{key}"] = np.array(p[key], dtype=np.int64)
                    args.append(f'{key}=data["{name}.{key}"].tolist()')
                else:
                    args.append(f"{key}={p[key]}")
            lines.append(
                f"graph.requant({name!r}, {t.inputs[0]!r}, {', '.join(args)}, zero_point={p['zero_point']}, "
                f"out={str(t.dtype)!r}, rounding={p['rounding']!r})"
            )
        elif t.op == "relu":
            lines.append(f"graph.relu({name!r}, {t.inputs[0]!r})")
        elif t.op == "copy":
            lines.append(f"graph.copy({name!r}, {t.inputs[0]!r})")
        elif t.op == "pool":
            lines.append(_pool(t))
        elif t.op == "add":
            lines.append(_add(t, arrays, layers.get(name, "")))
        else:  # the importer makes no other tasks
            raise AssertionError(f"no writer for task kind {t.op!r}")
    fields = ", ".join(
        f"{k}={getattr(machine, k)!r}"
        for k in ("cores", "lanes", "onchip_bytes", "offchip_bytes_per_cycle", "offchip_latency", "clock_mhz")
        if getattr(machine, k) is not None
    )
    lines += ["", f"machine = Machine({fields}, family={machine.family!r})", ""]
    return "\n".join(lines), arrays


def _matmul(t: Task, arrays: dict[str, np.ndarray], onnx: str) -> list[str]:
    """A gemm or conv2d call (its weights and bias in the arrays)."""
    name = t.name
    arrays[f"{name}.weights"] = t.weights
    bias = ""
    if t.bias is not None:
        arrays[f"{name}.bias"] = t.bias
        bias = f', bias=data["{name}.bias"]'
    types = f"acc={str(t.dtype)!r}, weight={str(t.weight)!r}{bias}"
    if t.op == "gemm":
        return [f"# {onnx}", f'graph.gemm({name!r}, {t.inputs[0]!r}, data["{name}.weights"], {types})']
    w = t.params["window"]
    shape = f"({w.kh}, {w.kw}, {w.channels}, {t.cols})"
    return [
        f"# {onnx}",
        f'graph.conv2d({name!r}, {t.inputs[0]!r}, data["{name}.weights"].reshape{shape}, '
        f"shape=({w.height}, {w.width}), stride=({w.sh}, {w.sw}), pads=({w.top}, {w.left}, {w.bottom}, {w.right}), "
        f"pad_value={t.params['pad_value']}, {types})",
    ]


def _pool(t: Task) -> str:
    w, p = t.params["window"], t.params
    where = f"{t.name!r}, {t.inputs[0]!r}, shape=({w.height}, {w.width})"
    if p["mode"] == "max":
        pads = f"({w.top}, {w.left}, {w.bottom}, {w.right})"
        return f"graph.maxpool({where}, kernel=({w.kh}, {w.kw}), stride=({w.sh}, {w.sw}), pads={pads})"
    return (
        f"graph.avgpool({where}, kernel=({w.kh}, {w.kw}), stride=({w.sh}, {w.sw}), multiplier={p['multiplier']}, "
        f"shift={p['shift']}, zero_points=({p['zero_in']}, {p['zero_point']}), out={str(t.dtype)!r}, "
        f"rounding={p['rounding']!r})"
    )


def _add(t: Task, arrays: dict[str, np.ndarray], onnx: str) -> str:
    """A rescaling add (the importer makes no other), its constant row in the arrays."""
    p = t.params
    b = repr(t.inputs[1]) if len(t.inputs) > 1 else f'data["{t.name}.b"]'
    if len(t.inputs) == 1:
        arrays[f"{t.name}.b"] = np.asarray(p["constant"], dtype=np.int64)
    return (
        f"# {onnx}\ngraph.add({t.name!r}, {t.inputs[0]!r}, {b}, multipliers=({p['multiplier_a']}, "
        f"{p['multiplier_b']}), shift={p['shift']}, zero_points=({p['zero_a']}, {p['zero_b']}), "
        f"zero_point={p['zero_point']}, out={str(t.dtype)!r}, rounding={p['rounding']!r})"
    )


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays as one compressed ``.npz`` file's bytes."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()
