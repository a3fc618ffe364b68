"""hwgen benchmarks: speed and size figures, written to JSON (never asserted as tests).

    python bench/run.py [--out bench/results.json] [--only NAME ...]

Each section is a function below registered in ``SECTIONS``; results from a
partial run (``--only``) are merged into the existing JSON file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwgen import ConfigError, Design, Int, UInt  # noqa: E402
from hwgen.blocks import MacPEConfig  # noqa: E402
from hwgen.progress import say  # noqa: E402

SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {}


def section(fn: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    SECTIONS[fn.__name__] = fn
    return fn


def _timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


@section
def mac_pe() -> dict[str, Any]:
    """Issue 2: Verilog generation time (64 lanes), Verilator build time, vectors/s in both simulators."""
    from hwgen.sim.amaranth_sim import run_amaranth
    from hwgen.sim.check import FULL_RATE, check_run
    from hwgen.sim.raw import to_raw
    from hwgen.sim.runner import run_cocotb
    from hwgen.sim.verify import make_vectors

    cfg64 = MacPEConfig(lanes=64, pipeline=3, acc=Int(32), overflow="saturate")
    say("mac_pe: Verilog generation of a 64-lane MAC PE")
    gen_s, text = _timed(lambda: Design(name="mac64", top=cfg64).verilog, repeat=5)
    cold = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t=time.perf_counter(); from hwgen import Design, Int; "
            "from hwgen.blocks import MacPEConfig; "
            "Design(name='mac64', top=MacPEConfig(lanes=64, pipeline=3, acc=Int(32), "
            "overflow='saturate')).verilog; print(time.perf_counter()-t)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cold_s = float(cold.stdout.strip().splitlines()[-1])

    out: dict[str, Any] = {
        "verilog_generation_s_64_lanes": round(gen_s, 4),
        "verilog_generation_s_64_lanes_cold_process_incl_imports": round(cold_s, 3),
        "verilog_bytes_64_lanes": len(text),
    }
    for lanes in (1, 64):
        cfg = cfg64 if lanes == 64 else MacPEConfig(lanes=1, pipeline=1)
        design = Design(name=f"bench_mac{lanes}", top=cfg)
        n = 4000
        stim = make_vectors(cfg, n, seed=1)
        beats = len(stim.inputs["i"]["last"])
        results = len(stim.expected["o"])
        with tempfile.TemporaryDirectory() as tmp:
            comp = design.component()
            raw_in, raw_exp = to_raw(comp, stim)
            say(f"mac_pe: Verilator cold build, {lanes} lane(s)")
            t0 = time.perf_counter()
            from hwgen.sim.runner import build

            build(design.verilog, design.name, "verilator", Path(tmp))
            build_s = time.perf_counter() - t0
            say(f"mac_pe: Verilator simulation of {results} vectors ({beats} beats)")
            t0 = time.perf_counter()
            run = run_cocotb(design.verilog, design.name, raw_in, raw_exp, [FULL_RATE], work_dir=Path(tmp))
            sim_s = time.perf_counter() - t0
            assert run.passed, "benchmark run must also be correct"
            cycles = run.phases[0].cycles
        say(f"mac_pe: Amaranth simulation, {lanes} lane(s)")
        small = make_vectors(cfg, 400, seed=1)
        sbeats = len(small.inputs["i"]["last"])
        t0 = time.perf_counter()
        comp = cfg.component()
        res = run_amaranth(comp, small, [FULL_RATE])
        am_s = time.perf_counter() - t0
        assert check_run(cfg, comp, small, res, [FULL_RATE]).passed
        out[f"lanes_{lanes}"] = {
            "verilator_build_s": round(build_s, 2),
            "verilator_run_s_incl_startup": round(sim_s, 2),
            "verilator_vectors_per_s": round(results / sim_s, 1),
            "verilator_beats_per_s": round(beats / sim_s, 1),
            "verilator_cycles_per_s": round(cycles / sim_s, 1),
            "amaranth_vectors_per_s": round(len(small.expected["o"]) / am_s, 1),
            "amaranth_beats_per_s": round(sbeats / am_s, 1),
            "amaranth_cycles_per_s": round(res[0].cycles / am_s, 1),
            "note": "a vector is one accumulation (1-8 random beats, plus corner sequences); "
            "cocotb drives every cycle from Python",
        }
    return out


@section
def systolic() -> dict[str, Any]:
    """Issue 7: xc7 resources per PE (4/8/16, both dataflows), 32×32 generation time, 16×16 sim speed."""
    from hwgen.blocks import MacPEConfig, SystolicArrayConfig
    from hwgen.estimate.synth import synthesize
    from hwgen.sim.check import FULL_RATE
    from hwgen.sim.verify import verify_cocotb

    pe = MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), pipeline=0, max_len=4096)
    out: dict[str, Any] = {
        "pe": "INT8 x INT8 -> Int(32), overflow='error'",
        "family": "xc7",
        "reference_handwritten_8x8_axis_per_pe": {
            "lut": 33,
            "ff": 50,
            "dsp": 1,
            "source": "measured here (issue 7 text)",
        },
        "resources_per_pe": {},
    }
    variants = [
        ("default", {}),
        ("tile2", {"tile": 2}),
        ("no_psum_input", {"psum_input": False}),
        ("tile2_no_psum_input", {"tile": 2, "psum_input": False}),
    ]
    for n in (4, 8, 16):
        for df in ("weight_stationary", "output_stationary"):
            for vname, kw in variants:
                if df == "output_stationary" and vname != "default":
                    continue
                cfg = SystolicArrayConfig(rows=n, cols=n, dataflow=df, pe=pe, **kw)
                d = Design(name=f"sa{n}", top=cfg)
                say(f"systolic: synthesizing {n}x{n} {df} {vname}")
                r = synthesize(d.verilog, d.name, "xc7")
                res, pes = r.resources, n * n
                out["resources_per_pe"][f"{n}x{n}_{df}_{vname}"] = {
                    "lut_logic": round(res["lut_logic"] / pes, 2),
                    "srl": round(res["srl"] / pes, 2),
                    "ff": round(res["ff"] / pes, 2),
                    "ff_plus_srl": round((res["ff"] + res["srl"]) / pes, 2),
                    "dsp": round(res["dsp"] / pes, 3),
                    "carry": round(res["carry"] / pes, 3),
                    "totals": {k: v for k, v in res.items() if v},
                    "synth_s": r.seconds,
                }
    for df in ("weight_stationary", "output_stationary"):
        cfg = SystolicArrayConfig(rows=32, cols=32, dataflow=df, pe=pe)
        say(f"systolic: Verilog generation 32x32 {df}")
        gen_s, text = _timed(lambda cfg=cfg: Design(name="sa32", top=cfg).verilog, repeat=3)
        cold = subprocess.run(
            [
                sys.executable,
                "-c",
                "import time; t=time.perf_counter(); from hwgen import Design; "
                "from hwgen.blocks import SystolicArrayConfig; "
                f"Design(name='sa32', top=SystolicArrayConfig(rows=32, cols=32, dataflow='{df}'))"
                ".verilog; print(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        out[f"generation_s_32x32_{df}"] = round(gen_s, 2)
        out[f"generation_s_32x32_{df}_cold_process"] = round(float(cold.stdout.split()[-1]), 2)
        out[f"verilog_bytes_32x32_{df}"] = len(text)
    for df in ("weight_stationary", "output_stationary"):
        cfg = SystolicArrayConfig(rows=16, cols=16, dataflow=df, pe=pe)
        d = Design(name=f"bench_sa16_{df[0]}s", top=cfg)
        with tempfile.TemporaryDirectory() as tmp:
            say(f"systolic: Verilator 16x16 {df}")
            t0 = time.perf_counter()
            from hwgen.sim.runner import build

            build(d.verilog, d.name, "verilator", Path(tmp))
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            v = verify_cocotb(d, vectors=4000, seed=1, phases=[FULL_RATE], work_dir=Path(tmp))
            sim_s = time.perf_counter() - t0
            assert v.passed, str(v)
        cycles = v.cycles["full-rate"]
        out[f"verilator_16x16_{df}"] = {
            "build_s": round(build_s, 1),
            "cycles": cycles,
            "run_s_incl_startup": round(sim_s, 2),
            "cycles_per_s": round(cycles / sim_s, 1),
            "macs_per_s_simulated": round(cycles * 256 / sim_s),
            "note": "cocotb drives and samples every cycle from Python",
        }
    return out


@section
def estimator_accuracy() -> dict[str, Any]:
    """Issue 6: analytic estimate vs Yosys on the evaluation half of the sweep (never used for fitting)."""
    from hwgen.estimate import estimate
    from hwgen.estimate.calibration import load_coefficients, metrics
    from hwgen.estimate.sweep import points
    from hwgen.estimate.synth import synthesize
    from hwgen.svg import scatter_loglog

    calibrated = load_coefficients().get("blocks", {})
    families = [
        f
        for f in ("xc7", "ecp5", "xcup", "ice40")
        if f in os.environ.get("HWGEN_BENCH_FAMILIES", "xc7 ecp5 xcup ice40").split()
    ]
    pairs: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    timings = []
    n_points = 0
    for _sweep, (_cal, ev) in points().items():
        for fam in families:
            for i, cfg in enumerate(ev):
                block = cfg.block_name
                if fam not in calibrated.get(block, {}):
                    continue  # only (block, family) pairs with fitted coefficients are scored
                d = Design(name="dut", top=cfg)
                r = synthesize(d.verilog_for(fam), "dut", fam)
                t0 = time.perf_counter()
                est = estimate(cfg, fam).rounded()
                timings.append(time.perf_counter() - t0)
                n_points += 1
                say(f"accuracy {block} {fam} {i + 1}/{len(ev)}")
                for res in ("lut", "ff", "dsp", "carry"):
                    pairs.setdefault((block, fam, res), []).append((r.resources.get(res, 0), est[res]))
    per_family: dict[str, Any] = {}
    for fam in families:
        per_family[fam] = {}
        for res in ("lut", "ff", "dsp", "carry"):
            pts = [p for (b, f, r), v in pairs.items() if f == fam and r == res for p in v]
            per_family[fam][res] = metrics([p[0] for p in pts], [p[1] for p in pts])
            per_family[fam][res]["per_block"] = {
                b: metrics([p[0] for p in v], [p[1] for p in v])
                for (b, f, r), v in pairs.items()
                if f == fam and r == res
            }
    families = [f for f in families if any(k[1] == f for k in pairs)]
    result = {
        "design_points": n_points,
        "families": families,
        "calibrated": {b: sorted(v) for b, v in calibrated.items()},
        "estimate_time_ms_max": round(max(timings) * 1e3, 3),
        "estimate_time_ms_mean": round(sum(timings) / len(timings) * 1e3, 3),
        "metrics": per_family,
        "target": "p95 <= 10 %, median <= 5 % for LUT, FF, DSP on xc7 and ECP5",
        "note": "evaluation half of hwgen.estimate.sweep; coefficients fitted on the other half",
    }
    out = ROOT / "bench" / "estimator_accuracy.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    svgs = []
    for fam in families:
        for res in ("lut", "ff", "dsp"):
            svgs.append(
                scatter_loglog(
                    {b: v for (b, f, r), v in pairs.items() if f == fam and r == res},
                    f"{fam} {res.upper()}: analytic vs Yosys",
                    "Yosys",
                    "analytic",
                    size=300,
                )
            )
    (ROOT / "bench" / "estimator_accuracy.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hwgen estimator accuracy</title></head><body>"
        "<h1>Analytic estimate vs Yosys (evaluation points)</h1>" + "".join(svgs) + "</body></html>\n"
    )
    return {k: v for k, v in result.items() if k != "metrics"} | {
        "summary": {
            f: {
                r: {k: m[k] for k in ("p50_abs_rel_err_pct", "p95_abs_rel_err_pct", "smape_pct", "r2")}
                for r, m in v.items()
            }
            for f, v in per_family.items()
        }
    }


@section
def dense_int8_packing() -> dict[str, Any]:
    """Issue 14: the 8×8 INT8 WS array (64 MACs) with and without pack_int8, per MAC, on xcup and xc7."""
    from hwgen.blocks import MacPEConfig, SystolicArrayConfig
    from hwgen.estimate.synth import synthesize

    pe = MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), pipeline=0, overflow="wrap")
    out: dict[str, Any] = {
        "design": "8x8 WS systolic array, INT8 x INT8 -> Int(32) wrap, psum input, pipeline 0",
        "peer_finn_rtl_mvu_int8_per_mac": {"dsp": 0.5, "lut": 34, "source": "issue 14 text (FINN RTL MVU)"},
        "per_mac": {},
    }
    for pack in (False, True):
        d = Design(name="ws8", top=SystolicArrayConfig(rows=8, cols=8, pack_int8=pack, pe=pe))
        for fam in ("xcup", "xc7"):
            say(f"dense_int8_packing: synthesizing 8x8 pack_int8={pack} for {fam}")
            res = synthesize(d.verilog_for(fam), d.name, fam).resources
            out["per_mac"][f"{'packed' if pack else 'plain'}_{fam}"] = {
                k: round(res[k] / 64, 3) for k in ("dsp", "lut", "lut_logic", "ff", "carry")
            }
    packed = out["per_mac"]["packed_xcup"]
    out["xcup_packed_lut_vs_finn"] = round(packed["lut"] / 34, 3)
    # the MAC PE's lanes: 8 lanes x 8 outputs (64 MACs) sharing each beat's activations
    out["mac_pe"] = {"design": "MAC PE, 8 lanes x 8 outputs, INT8 x INT8 -> Int(32) wrap", "per_mac": {}}
    for pack in (False, True):
        for p in (0, 1):
            cfg = MacPEConfig(lanes=8, outputs=8, pack_int8=pack, pipeline=p, overflow="wrap")
            d = Design(name="mac64", top=cfg)
            for fam in ("xcup", "xc7"):
                say(f"dense_int8_packing: synthesizing MAC PE 8x8 pack_int8={pack} pipeline {p} for {fam}")
                res = synthesize(d.verilog_for(fam), d.name, fam).resources
                out["mac_pe"]["per_mac"][f"{'packed' if pack else 'plain'}_p{p}_{fam}"] = {
                    k: round(res[k] / 64, 3) for k in ("dsp", "lut", "lut_logic", "ff", "carry")
                }
    out["mac_pe"]["xcup_packed_lut_vs_finn"] = round(out["mac_pe"]["per_mac"]["packed_p0_xcup"]["lut"] / 34, 3)
    return out


@section
def sparse_chain() -> dict[str, Any]:
    """Issue 4: DSP/LUT/FF per stage (xc7, xcup), measured multiplier utilization per pattern vs a dense chain."""
    import numpy as np

    from hwgen.blocks import SparseChainConfig
    from hwgen.blocks.sparse_chain import matvec_vectors
    from hwgen.estimate.synth import synthesize
    from hwgen.sim.check import FULL_RATE
    from hwgen.sim.verify import verify_cocotb
    from hwgen.sparse import NMPattern, prune

    out: dict[str, Any] = {"synthesis": {}, "utilization": {}}
    for S in (16, 32):
        for pack in (False, True):
            cfg = SparseChainConfig(stages=S, pack_int8=pack, overflow="wrap", acc=Int(32))
            d = Design(name=f"chain{S}", top=cfg)
            for fam in ("xc7", "xcup"):
                say(f"sparse_chain: synthesizing S={S} pack={pack} for {fam}")
                r = synthesize(d.verilog, d.name, fam)
                res = r.resources
                macs = S * (2 if pack else 1)
                out["synthesis"][f"S{S}{'_pack' if pack else ''}_{fam}"] = {
                    "dsp": res["dsp"],
                    "macs_per_cycle": macs,
                    "dsp_per_mac": round(res["dsp"] / macs, 3),
                    "lut_per_stage": round(res["lut"] / S, 1),
                    "lut_logic_per_stage": round(res["lut_logic"] / S, 1),
                    "srl_per_stage": round(res["srl"] / S, 1),
                    "ff_per_stage": round(res["ff"] / S, 1),
                    "carry_per_stage": round(res["carry"] / S, 2),
                    "synth_s": r.seconds,
                }
    # utilization: the same N:M matrix in its sparse mode and in dense mode, measured on Verilator
    S, rows, K = 16, 64, 512
    cfg = SparseChainConfig(stages=S, overflow="wrap", acc=Int(32))
    design = Design(name="chain_util", top=cfg)
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, K)
    for pat in cfg.patterns:
        p = NMPattern.parse(pat)
        W = prune(rng.integers(-128, 128, (rows, K)), p)
        useful = rows * K * p.n // p.m  # stored (non-zero) weights: one MAC each
        entry = {}
        for mode in [pat, "dense"] if pat != "dense" else ["dense"]:
            vec = matvec_vectors(cfg, W, x, mode)
            say(f"sparse_chain: {rows}x{K} {pat} matrix in {mode} mode on Verilator")
            v = verify_cocotb(design, stim=vec, phases=[FULL_RATE])
            assert v.passed, str(v)
            cycles = v.cycles["full-rate"] - 16  # minus the engine's drain window after the last result
            entry[mode] = {
                "beats": len(vec.inputs["i"]["last"]),
                "cycles": cycles,
                "useful_macs": useful,
                "utilization": round(useful / (S * cycles), 4),
            }
        if pat != "dense":
            entry["speedup_vs_dense_chain"] = round(entry["dense"]["cycles"] / entry[pat]["cycles"], 3)
            entry["ideal_speedup"] = p.speedup
        out["utilization"][pat] = entry
    out["note"] = (
        f"utilization = useful MACs / (S × cycles), cycles from the first beat to the last result; "
        f"S={S}, a {rows}x{K} matrix pruned to each pattern (magnitude pruning, exactly N non-zeros "
        f"per block), one INT8 vector"
    )
    return out


def _lut_mac_baseline(lanes: int) -> str:
    """Verilog of a hand-tuned LUT-only parallel INT8×INT4 MAC: registered operands, kept products and
    a kept adder tree (one carry-chain adder per node), 32-bit accumulator. It is the stronger
    baseline: Yosys maps hwgen's mac_pe tree as one carry-save ``$macc``, which costs more LUTs."""
    from amaranth.back import verilog
    from amaranth.hdl import Module, Signal, signed

    from hwgen.arith import kept_adder_tree

    m = Module()
    a = [Signal(signed(8), name=f"a{i}") for i in range(lanes)]
    w = [Signal(signed(4), name=f"w{i}") for i in range(lanes)]
    regs = [Signal.like(x, name=f"{x.name}_q") for x in a + w]
    m.d.sync += [r.eq(x) for r, x in zip(regs, a + w)]
    prods = []
    for i in range(lanes):
        p = Signal(signed(12), name=f"p{i}", attrs={"keep": 1})
        m.d.comb += p.eq(regs[i] * regs[lanes + i])
        prods.append(p)
    tree, _ = kept_adder_tree(m, "t", prods)
    acc = Signal(signed(32))
    m.d.sync += acc.eq(acc + tree)
    return verilog.convert(m, ports=a + w + [acc], name="u_lut_mac_baseline")


@section
def lowbit_units() -> dict[str, Any]:
    """Issue 3: LUT/FF per lane (xc7, ice40) of the bit-serial / shift-add / ternary / OliVe units vs a plain
    parallel INT8×INT4 MAC; cycles per weight by datatype; MACs per LUT per cycle."""
    from hwgen.blocks import BitSerialPEConfig, MacPEConfig, MixPEConfig, OliveMACConfig, TernaryPEConfig
    from hwgen.estimate.synth import synthesize
    from hwgen.lowbit import BITMOD_FP4, DATATYPES

    out: dict[str, Any] = {
        "cycles_per_weight": {n: d.cycles for n, d in DATATYPES.items()},
        "area": {},
        "marginal_lut_per_lane": {},
    }
    lut_at: dict[tuple[str, str], dict[int, int]] = {}
    for L in (8, 16):
        units = {
            "bitmod_fp4_serial_dequant": (BitSerialPEConfig(lanes=L, formats=BITMOD_FP4), L / 2),
            "bitmod_int4_fp4_mult_dequant": (
                BitSerialPEConfig(
                    lanes=L, formats=("INT4", "FP4-ER-POS", "FP4-EA-POS", "FLINT4"), dequant="multiplier"
                ),
                L / 2,
            ),
            "mixpe_int4_x_int8": (MixPEConfig(lanes=L, weight_bits=4), L),
            "olive_int4_pairs_x_int8": (OliveMACConfig(pairs=L // 2), L),
            "ternary_x_int8": (TernaryPEConfig(lanes=L, acc=Int(32)), L),
            "baseline_int8_x_int4_mac": (MacPEConfig(act=Int(8), weight=Int(4), acc=Int(32), lanes=L, pipeline=1), L),
            "baseline_int8_x_int4_lut_tuned": (None, L),
        }
        for name, (cfg, macs) in units.items():
            if cfg is None:
                verilog, top = _lut_mac_baseline(L), "u_lut_mac_baseline"
            else:
                d = Design(name=f"u_{name}", top=cfg)
                verilog, top = d.verilog, d.name
            for fam in ("xc7", "ice40"):
                for dsp in (True, False) if name == "baseline_int8_x_int4_mac" else (cfg is not None,):
                    say(f"lowbit: synthesizing {name} L={L} on {fam}{'' if dsp else ' without DSPs'}")
                    r = synthesize(verilog, top, fam, dsp=dsp)
                    res = r.resources
                    tag = f"{name}_{fam}{'' if dsp else '_lut_only'}"
                    out["area"][f"L{L}_{tag}"] = {
                        "lut_per_lane": round(res["lut"] / L, 1),
                        "ff_per_lane": round(res["ff"] / L, 1),
                        "dsp": res["dsp"],
                        "macs_per_cycle": macs,
                        "macs_per_lut_per_cycle": round(macs / max(res["lut"], 1), 4),
                        "totals": {k: v for k, v in res.items() if v},
                    }
                    lut_at.setdefault((tag, fam), {})[L] = res["lut"]
    for (tag, _), by_l in lut_at.items():
        out["marginal_lut_per_lane"][tag] = round((by_l[16] - by_l[8]) / 8, 1)
    out["note"] = (
        "BitMoD MACs/cycle assume FP4 groups (2 cycles per weight) and include the group dequantizer; "
        "baselines: hwgen's mac_pe (INT8 x INT4, pipeline 1) with and without DSP blocks, and a hand-tuned "
        "LUT-only MAC with kept products and adder tree (no dequantizer). marginal_lut_per_lane = "
        "(LUT at 16 lanes - LUT at 8 lanes) / 8: the cost of one more lane, without fixed per-row parts"
    )
    return out


@section
def intar_schedules() -> dict[str, Any]:
    """Issue 5: the InTAR examples under the three policies: the cost report (cycles, off-chip and on-chip
    bytes), the engine measured end to end on Verilator against the memory model, Yosys resources (xc7),
    and the auto schedule's speed-up over each fixed pattern."""
    from hwgen.estimate.synth import synthesize
    from hwgen.schedule import POLICIES
    from hwgen.schedule.engine import build_engine
    from hwgen.schedule.run import run_schedule
    from hwgen.spec import load_schedule
    from hwgen.verilog import to_verilog

    out: dict[str, Any] = {}
    for example in ("attention", "mlp", "residual"):  # the InTAR examples (the decoder layer: its own section)
        g, machine, x = load_schedule(ROOT / "examples" / "schedules" / f"{example}.py")
        name = g.name
        golden = {o: g.run(x)[o] for o in g.outputs()}
        rows = {}
        for policy in POLICIES:
            say(f"intar: {name} / {policy}: simulating the engine on Verilator")
            run = run_schedule(g, machine, policy, x, sim="verilator")
            s = run.schedule
            say(f"intar: {name} / {policy}: synthesizing the engine (xc7)")
            top = f"engine_{name}_{policy}"
            res = synthesize(to_verilog(build_engine(g, machine, s), top), top, "xc7").resources
            rows[policy] = {
                "stages": s.stages,
                "decisions": {f"{a}->{b}": d for (a, b), d in s.decisions.items()},
                "model_cycles": s.cycles,
                "measured_cycles": run.cycles,
                "model_offchip_bytes": s.offchip_bytes,
                "measured_offchip_bytes": run.offchip_bytes,
                "onchip_bytes": s.onchip_bytes,
                "slot_cycles": [p.slot_cycles for p in s.plans],
                "exact": run.compare(golden) == [],
                "xc7": {k: v for k, v in res.items() if v},
            }
        auto = rows["auto"]["model_cycles"]
        out[name] = {
            "machine": machine.__dict__.copy(),
            "policies": rows,
            "auto_speedup_vs_dataflow": round(rows["dataflow"]["model_cycles"] / auto, 3),
            "auto_speedup_vs_sequential": round(rows["sequential"]["model_cycles"] / auto, 3),
        }
    return out


@section
def onnx_import() -> dict[str, Any]:
    """Issue 15: quantized ONNX models (examples/onnx/make_models.py) imported and compiled: import time (the
    proofs included), compile time, cycles and off-chip bytes under the three policies, the auto engine run on
    the native Verilator bench and compared with the reference (onnxruntime / qonnx), Yosys resources (xc7)."""

    from hwgen.estimate.synth import synthesize
    from hwgen.importer import import_onnx
    from hwgen.schedule import POLICIES, Machine, compile_schedule
    from hwgen.schedule.engine import build_engine
    from hwgen.schedule.run import run_schedule
    from hwgen.verilog import to_verilog

    maker = _example("onnx", "make_models.py")
    small = Machine(cores=2, lanes=8, onchip_bytes=16384, offchip_bytes_per_cycle=4, offchip_latency=20)
    big = Machine(cores=4, lanes=16, onchip_bytes=192 * 1024, offchip_bytes_per_cycle=8, offchip_latency=30)
    out: dict[str, Any] = {"machine": small.__dict__.copy(), "resnet8_machine": big.__dict__.copy()}
    names = ["mlp_qdq_pc", "mlp_qop_pt", "mlp_bias_qop", "mlp_res_qdq", "mlp_qonnx_w4"]
    names += ["cnn_qdq_pc", "cnn_qop_pt", "cnn_features_qdq", "resnet8_qdq_pc"]
    with tempfile.TemporaryDirectory() as tmp:
        models = maker.make_all(Path(tmp))
        models["resnet8_qdq_pc"] = maker.make_resnet8(Path(tmp), "QDQ", True)
        for name in names:
            machine = big if name.startswith("resnet8") else small
            say(f"onnx_import: {name}")
            t_import, model = _timed(lambda n=name: import_onnx(models[n]), repeat=1)
            g = model.graph
            policies = {}
            for policy in POLICIES:
                t_compile, s = _timed(lambda p=policy, g=g, m=machine: compile_schedule(g, m, p), repeat=1)
                policies[policy] = {
                    "compile_s": round(t_compile, 3),
                    "cycles": s.cycles,
                    "offchip_bytes": s.offchip_bytes,
                    "onchip_bytes": s.onchip_bytes,
                }
            floats, ints = model.random_inputs(1)
            t_run, run = _timed(lambda g=g, m=machine, i=ints: run_schedule(g, m, "auto", i, sim="native"), repeat=1)
            env = g.run(ints)
            differing = model.compare(model.dequantize(run.outputs), model.reference(floats))
            out[name] = {
                "layers": [r.summary() for r in model.layers],
                "import_s": round(t_import, 3),
                "policies": policies,
                "auto_measured_cycles": run.cycles,
                "auto_exact_vs_golden_and_report": run.compare({o: env[o] for o in g.outputs()}) == [],
                "auto_native_run_s": round(t_run, 1),
                "auto_elements_differing_from_reference": sum(differing.values()),
                "output_elements": sum(int(v.size) for v in run.outputs.values()),
            }
            if not name.startswith("resnet8"):  # the ResNet-8 engine's synthesis takes too long for the bench
                top = f"onnx_{name}_auto"
                engine = build_engine(g, machine, compile_schedule(g, machine, "auto"))
                res = synthesize(to_verilog(engine, top), top, "xc7").resources
                out[name]["xc7"] = {k: v for k, v in res.items() if v}
    return out


@section
def decoder_layer() -> dict[str, Any]:
    """Issue 16: the transformer decoder layer (examples/schedules/decoder_layer.py: d_model 64, 4 heads, 32
    tokens) on the engine: compile time, cycles and bytes under the three policies, each stage's slot and its
    slowest unit, the auto engine on the native bench against the golden model, Yosys resources (xc7)."""
    from hwgen.estimate.synth import synthesize
    from hwgen.schedule import POLICIES, compile_schedule
    from hwgen.schedule.engine import build_engine
    from hwgen.schedule.run import run_schedule
    from hwgen.spec import load_schedule
    from hwgen.verilog import to_verilog

    g, machine, x = load_schedule(ROOT / "examples" / "schedules" / "decoder_layer.py")
    golden = {o: g.run(x)[o] for o in g.outputs()}
    out: dict[str, Any] = {"machine": machine.__dict__.copy(), "policies": {}}
    for policy in POLICIES:
        say(f"decoder_layer: {policy}")
        t_compile, s = _timed(lambda p=policy: compile_schedule(g, machine, p), repeat=1)
        t_run, run = _timed(lambda p=policy: run_schedule(g, machine, p, x, sim="native"), repeat=1)
        out["policies"][policy] = {
            "compile_s": round(t_compile, 3),
            "cycles": s.cycles,
            "measured_cycles": run.cycles,
            "exact": run.compare(golden) == [],
            "offchip_bytes": s.offchip_bytes,
            "onchip_bytes": s.onchip_bytes,
            "shared_onchip_bytes": s.shared_onchip_bytes,
            "stages": [
                {
                    "ops": list(p.ops),
                    "slots": p.slots,
                    "slot_cycles": p.slot_cycles,
                    "slowest": max(p.unit_cycles, key=p.unit_cycles.get),
                }
                for p in s.plans
            ],  # fmt: skip
            "native_run_s": round(t_run, 1),
        }
    say("decoder_layer: synthesizing the auto engine (xc7)")
    top = "decoder_layer_auto"
    engine = build_engine(g, machine, compile_schedule(g, machine, "auto"))
    res = synthesize(to_verilog(engine, top), top, "xc7")
    out["xc7_auto"] = {k: v for k, v in res.resources.items() if v}
    out["xc7_synth_s"] = round(res.seconds, 1)
    return out


@section
def cascade_pruning() -> dict[str, Any]:
    """Issue 16: SpAtten's cascade token pruning (examples/pruning/cascade_pruning.py: two attention layers over
    32 tokens, layer 2 on the 16 most important): cycles, on-chip and off-chip bytes and layer 2's KV bytes with
    and without pruning, under dataflow and sequential, measured on the native bench."""

    from hwgen.schedule import compile_schedule
    from hwgen.schedule.run import run_schedule

    example = _example("pruning", "cascade_pruning.py")
    machine, x = example.machine, example.inputs
    out: dict[str, Any] = {"machine": machine.__dict__.copy(), "tokens": 32, "kept": 16}
    for prune in (True, False):
        g = example.cascade_graph(prune=prune)
        golden = {o: g.run(x)[o] for o in g.outputs()}
        rows = {}
        for policy in ("dataflow", "sequential"):
            say(f"cascade_pruning: {'pruned' if prune else 'dense'} / {policy}")
            s = compile_schedule(g, machine, policy)
            run = run_schedule(g, machine, policy, x, sim="native")
            a2 = next(p for p in s.plans if "a2" in p.ops)
            rows[policy] = {
                "cycles": s.cycles,
                "measured_cycles": run.cycles,
                "exact": run.compare(golden) == [],
                "onchip_bytes": s.onchip_bytes,
                "offchip_bytes": s.offchip_bytes,
                "layer2_attention_stage_cycles": a2.cycles,
                "layer2_attention_row_cycles": a2.unit_cycles["core:a2"],
            }
        kv = sum(g.tasks[t].rows * g.tasks[t].cols for t in ("k28", "v28"))  # Int(8): one byte an element
        out["pruned" if prune else "dense"] = {"layer2_kv_bytes": kv, "policies": rows}
    p, d = out["pruned"], out["dense"]
    out["layer2_kv_bytes_ratio"] = round(p["layer2_kv_bytes"] / d["layer2_kv_bytes"], 3)
    for policy in ("dataflow", "sequential"):
        out[f"{policy}_cycles_ratio"] = round(p["policies"][policy]["cycles"] / d["policies"][policy]["cycles"], 3)
        out[f"{policy}_layer2_attention_ratio"] = round(
            p["policies"][policy]["layer2_attention_stage_cycles"]
            / d["policies"][policy]["layer2_attention_stage_cycles"],
            3,
        )
    return out


@section
def head_pruning() -> dict[str, Any]:
    """Issue 16: SpAtten's cascade head pruning (examples/pruning/head_pruning.py: three attention layers of 4
    heads over 16 tokens, keeping 2 then 1 head) against keeping every head (the same ops, keeps (4, 4)): cycles,
    on-chip and off-chip bytes, each later layer's K+V bytes and attention stage, measured on the native bench."""

    from hwgen.schedule import compile_schedule
    from hwgen.schedule.run import run_schedule

    example = _example("pruning", "head_pruning.py")
    machine = example.machine
    out: dict[str, Any] = {"machine": machine.__dict__.copy(), "tokens": 16, "heads": 4, "kept": [2, 1]}
    for label, keeps in (("pruned", (2, 1)), ("all_heads", (4, 4))):
        g = example.head_graph(keeps=keeps)
        x = example.head_inputs(g, seed=3)
        golden = {o: g.run(x)[o] for o in g.outputs()}
        rows = {}
        for policy in ("dataflow", "sequential"):
            say(f"head_pruning: {label} / {policy}")
            s = compile_schedule(g, machine, policy)
            run = run_schedule(g, machine, policy, x, sim="native")
            rows[policy] = {
                "cycles": s.cycles,
                "measured_cycles": run.cycles,
                "exact": run.compare(golden) == [],
                "onchip_bytes": s.onchip_bytes,
                "offchip_bytes": s.offchip_bytes,
                **{
                    f"layer{n}_attention_stage_cycles": next(p for p in s.plans if f"a{n}" in p.ops).cycles
                    for n in (2, 3)
                },  # fmt: skip
            }
        kv = {
            f"layer{n}_kv_bytes": sum(g.tasks[f"{t}{n}"].rows * g.tasks[f"{t}{n}"].cols for t in "kv") for n in (2, 3)
        }
        out[label] = {**kv, "policies": rows}
    p, f = out["pruned"], out["all_heads"]
    for n in (2, 3):
        out[f"layer{n}_kv_bytes_ratio"] = round(p[f"layer{n}_kv_bytes"] / f[f"layer{n}_kv_bytes"], 3)
    for policy in ("dataflow", "sequential"):
        pp, fp = p["policies"][policy], f["policies"][policy]
        out[f"{policy}_cycles_ratio"] = round(pp["cycles"] / fp["cycles"], 3)
        out[f"{policy}_onchip_bytes_ratio"] = round(pp["onchip_bytes"] / fp["onchip_bytes"], 3)
        for n in (2, 3):
            key = f"layer{n}_attention_stage_cycles"
            out[f"{policy}_layer{n}_attention_ratio"] = round(pp[key] / fp[key], 3)
    return out


@section
def model_scale_schedules() -> dict[str, Any]:
    """Issue 18: the auto policy's optimization model at model scale. A GPT-2-medium-shaped graph
    (examples/models/gpt2_medium.py: d_model 1024, 16 heads, d_ffn 4096, 128 tokens) of one layer (the full
    model, optimal) and of 24 layers (the windowed heuristic, its gap to the LP bound): compile time, cycles,
    off-chip and on-chip bytes under auto (cycles first), auto with off-chip bytes first (COSMA's aim), the
    greedy baseline (dataflow: every edge pipelined that fits, in graph order) and sequential; off-chip bytes
    beyond the compulsory ones (the input read once, the output written once; the weights sit in on-chip
    ROMs). And the InTAR examples: auto against today's exhaustive search (never worse)."""
    import dataclasses

    from hwgen.schedule import compile_schedule
    from hwgen.schedule.ops import op_graph
    from hwgen.spec import load_schedule

    example = _example("models", "gpt2_medium.py")
    out: dict[str, Any] = {}
    # auto counts the engine's shared scratchpads; the greedy policies count every buffer on its own, so at
    # 4 MiB 24 layers fit only under auto (their K and V alone are 6 MiB) — 32 MiB compares them all
    for layers, kib in ((1, 4096), (1, 512), (24, 4096), (24, 32768)):
        g = example.gpt2_graph(layers)
        g.validate()
        machine = dataclasses.replace(example.machine, onchip_bytes=kib << 10)
        compulsory = sum(g.tasks[t].rows * g.tasks[t].cols for t in ["x", *g.outputs()])  # Int(8) tensors
        rows: dict[str, Any] = {}
        runs = (("auto", "auto", "cycles"), ("auto_offchip_first", "auto", "offchip"),
                ("greedy_dataflow", "dataflow", "cycles"), ("sequential", "sequential", "cycles"))  # fmt: skip
        for label, policy, priority in runs:
            say(f"model_scale_schedules: GPT-2 medium, {layers} layer(s), {kib} KiB / {label}")
            start = time.monotonic()
            try:
                s = compile_schedule(g, machine, policy, time_limit=600, priority=priority)
            except ConfigError as e:
                rows[label] = {"compile_s": round(time.monotonic() - start, 2), "error": str(e)}
                continue
            rows[label] = {
                "compile_s": round(time.monotonic() - start, 2),
                "cycles": s.cycles,
                "offchip_bytes": s.offchip_bytes,
                "noncompulsory_offchip_bytes": s.offchip_bytes - compulsory,
                "onchip_bytes": s.onchip_bytes,
                "shared_onchip_bytes": s.shared_onchip_bytes,
                "live_peak_scratchpad_bytes": s.allocation.live_peak_bytes,
                "stages": len(s.stages),
                **({"solver": s.solver.report()} if s.solver else {}),
            }
        ratios = {}
        for base in (b for b in ("greedy_dataflow", "sequential") if "error" not in rows[b]):
            ratios[f"auto_cycles_vs_{base}"] = round(rows["auto"]["cycles"] / rows[base]["cycles"], 4)
            extra = rows[base]["noncompulsory_offchip_bytes"]
            ratios[f"offchip_first_noncompulsory_vs_{base}"] = (
                round(rows["auto_offchip_first"]["noncompulsory_offchip_bytes"] / extra, 4) if extra else None
            )
        out[f"gpt2_medium_{layers}_layers_{kib}KiB"] = {
            "ops": len(op_graph(g).ops),
            "machine": machine.__dict__.copy(),
            "compulsory_offchip_bytes": compulsory,
            "policies": rows,
            **ratios,
        }
    examples = {}
    for example_name in ("attention", "mlp", "residual", "decoder_layer"):
        g, machine, _ = load_schedule(ROOT / "examples" / "schedules" / f"{example_name}.py")
        say(f"model_scale_schedules: {example_name}: auto vs exhaustive")
        row = {}
        for policy in ("auto", "exhaustive"):
            start = time.monotonic()
            s = compile_schedule(g, machine, policy)
            row[policy] = {"compile_s": round(time.monotonic() - start, 3), "cycles": s.cycles,
                           "offchip_bytes": s.offchip_bytes, "onchip_bytes": s.onchip_bytes}  # fmt: skip
        examples[example_name] = row
    out["examples_auto_vs_exhaustive"] = examples
    return out


def _example(*parts: str) -> Any:
    """The module ``examples/<parts...>``, executed."""
    path = ROOT.joinpath("examples", *parts)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synth_resources(cfg: Any, family: str) -> dict[str, Any]:
    """Yosys resources (non-zero counts) of a block configuration on ``family``."""
    from hwgen.estimate.synth import synthesize
    from hwgen.verilog import to_verilog

    r = synthesize(to_verilog(cfg.component(), "dut", family=family), "dut", family).resources
    return {k: v for k, v in r.items() if v}


def _scores(rng: Any, dist: str, t: Any, n: int) -> Any:
    """A row of ``n`` scores of type ``t``: uniform, attention-like (Gaussian), or peaked (one far above the
    rest)."""
    import numpy as np

    if dist == "uniform":
        x = rng.integers(t.min, t.max + 1, n)
    elif dist == "attention_like":
        x = np.rint(rng.normal(0, (t.max - t.min) / 10, n))
    else:
        x = np.rint(rng.normal(t.min / 2, 4, n))
        x[rng.integers(n)] = t.max
    return np.clip(x, t.min, t.max).astype(np.int64)


@section
def attention_units() -> dict[str, Any]:
    """Issue 16: the integer softmax's error against float softmax (max and mean absolute error of the
    probabilities, over uniform scores, attention-like Gaussian scores and peaked rows), its cycles per row
    and its resources (Yosys xc7 and ECP5); the table GELU/SiLU units' error against the float function over
    every input, and their resources; the top-k engine's throughput; the decode-attention unit's error,
    cycles against the KV length and resources."""
    import numpy as np

    from hwgen.blocks import ActivationConfig, SoftmaxConfig, TopKConfig
    from hwgen.blocks.activation.config import FUNCTIONS
    from hwgen.intkernels import softmax

    out: dict[str, Any] = {}
    rng = np.random.default_rng(0)
    for name, cfg in {
        "softmax_int8_len64": SoftmaxConfig(),
        "softmax_int8_len256": SoftmaxConfig(max_len=256),
        "softmax_int10_len128_u12": SoftmaxConfig(max_len=128, act=Int(10), scale=1 / 64, out=UInt(12)),
    }.items():
        say(f"attention_units: {name}")
        t, n = cfg.act, cfg.max_len
        errors = {}
        for dist in ("uniform", "attention_like", "peaked"):
            worst, means = 0.0, []
            for _ in range(200):
                x = _scores(rng, dist, t, n)
                y = softmax(x, cfg.iexp, cfg.sum_bits, cfg.out.width) / (1 << cfg.out.width)
                f = np.exp((x - x.max()) * cfg.scale)
                err = np.abs(y - f / f.sum())
                worst, means = max(worst, float(err.max())), means + [float(err.mean())]
            errors[dist] = {"max_abs": round(worst, 5), "mean_abs": round(float(np.mean(means)), 6)}
        res = {family: _synth_resources(cfg, family) for family in ("xc7", "ecp5")}
        out[name] = {
            "params": cfg.params(),
            "output_lsb": 1 / (1 << cfg.out.width),
            "error_vs_float": errors,
            "cycles_per_full_row": 2 * n - 1 + cfg.row_latency(n),
            "resources": res,
        }
    for name, cfg in {
        "gelu_int8": ActivationConfig(),
        "silu_int8": ActivationConfig(function="silu"),
        "gelu_int12_to_int8": ActivationConfig(act=Int(12), in_scale=1 / 256, out_scale=1 / 16),
    }.items():
        say(f"attention_units: {name}")
        x = np.arange(cfg.act.min, cfg.act.max + 1) * cfg.in_scale
        f = np.vectorize(FUNCTIONS[cfg.function])(x)
        err = np.abs(cfg.table * cfg.out_scale - f)
        out[name] = {
            "params": cfg.params(),
            "error_vs_float_over_every_input": {
                "max_abs": round(float(err.max()), 6),
                "mean_abs": round(float(err.mean()), 6),
            },  # fmt: skip
            "output_lsb": cfg.out_scale,
            "xc7": _synth_resources(cfg, "xc7"),
        }
    for name, cfg in {"topk_n1024_k16": TopKConfig(max_n=1024, max_k=16), "topk_n4096_k64": TopKConfig(
        max_n=4096, max_k=64)}.items():  # fmt: skip
        say(f"attention_units: {name}")
        vec = cfg.stimulus(rng, 20, corners=False)
        cycles = cfg.cycle_model(vec)
        scores = len(cycles["i"])
        res = {family: _synth_resources(cfg, family) for family in ("xc7", "ecp5")}
        out[name] = {
            "params": cfg.params(),
            "scores_per_cycle": round(scores / (cycles["o"][-1] + 1), 3),
            "resources": res,
        }
    return out | _decode_attention_rows(rng)


@section
def norm_units() -> dict[str, Any]:
    """Issue 16: the integer LayerNorm / RMSNorm units' error against the float function (``(x − mean) /
    sqrt(var)`` or ``x / sqrt(mean(x²))``, population statistics, clamped to the output's range like the unit)
    over uniform rows, Gaussian rows and rows with one outlier, at the maximum length; cycles per full row and
    resources (Yosys xc7 and ECP5)."""
    import numpy as np

    from hwgen.blocks import NormConfig

    out: dict[str, Any] = {}
    rng = np.random.default_rng(0)
    for name, cfg in {
        "layernorm_int8_len64": NormConfig(),
        "rmsnorm_int8_len64": NormConfig(mode="rmsnorm"),
        "layernorm_int8_len256_int12_f8": NormConfig(max_len=256, out=Int(12), out_frac=8),
    }.items():
        say(f"norm_units: {name}")
        t, n, lsb = cfg.act, cfg.max_len, 2.0**-cfg.out_frac
        errors = {}
        for dist in ("uniform", "gaussian", "outlier"):
            rows = [_norm_row(rng, dist, t, n) for _ in range(200)]
            x = np.concatenate(rows)
            y = cfg.model(x, np.tile(np.arange(n) == n - 1, len(rows)))["y"].reshape(len(rows), n) * lsb
            r = np.array(rows, dtype=float)
            centred = r - r.mean(axis=1, keepdims=True) if cfg.mode == "layernorm" else r
            with np.errstate(invalid="ignore", divide="ignore"):
                f = np.nan_to_num(centred / np.sqrt((centred**2).mean(axis=1, keepdims=True)))
            err = np.abs(y - np.clip(f, cfg.out.min * lsb, cfg.out.max * lsb))
            errors[dist] = {"max_abs": round(float(err.max()), 5), "mean_abs": round(float(err.mean()), 6),
                            "max_abs_lsb": round(float(err.max()) / lsb, 3)}  # fmt: skip
        out[name] = {
            "params": cfg.params(),
            "output_lsb": lsb,
            "error_vs_float": errors,
            "cycles_per_full_row": 2 * n - 1 + cfg.row_latency(n),
            "resources": {family: _synth_resources(cfg, family) for family in ("xc7", "ecp5")},
        }
    return out


def _norm_row(rng: Any, dist: str, t: Any, n: int) -> Any:
    """A row of ``n`` values of type ``t``: uniform, Gaussian (sd a quarter of the range's half), or Gaussian
    with one value at the type's maximum (an outlier channel)."""
    import numpy as np

    if dist == "uniform":
        return rng.integers(t.min, t.max + 1, n)
    x = np.rint(rng.normal(0, t.max / 4, n))
    if dist == "outlier":
        x[rng.integers(n)] = t.max
    return np.clip(x, t.min, t.max).astype(np.int64)


def _decode_attention_rows(rng: Any) -> dict[str, Any]:
    """The decode-attention unit: its output's error against float softmax attention over the same shifted
    scores (random and peaked keys, KV lengths up to 256), its cycles per query against the KV length (the
    slope: cycles per KV entry, and the KV bytes it takes per cycle; with several units the cache split
    evenly over their streams) and its resources (Yosys xc7, ECP5)."""
    import numpy as np

    from hwgen.blocks import DecodeAttentionConfig
    from hwgen.intkernels import attention_output, combine_partials, online_attention
    from hwgen.vectors import StreamVectors

    out: dict[str, Any] = {}
    for name, cfg in {
        "decode_attention_d64_l8_kv1024": DecodeAttentionConfig(head_dim=64, lanes=8, max_kv=1024, score_shift=9),
        "decode_attention_d64_l8_kv256_units4": DecodeAttentionConfig(
            head_dim=64, lanes=8, max_kv=256, score_shift=9, units=4
        ),
        "decode_attention_d128_l16_kv4096": DecodeAttentionConfig(head_dim=128, lanes=16, max_kv=4096, score_shift=10),
    }.items():  # fmt: skip
        say(f"attention_units: {name}")
        d, t, U = cfg.head_dim, cfg.act, cfg.units
        errs = []
        for j in range(200):
            n = int(rng.integers(U, 257))
            q = rng.integers(t.min, t.max + 1, d)
            k = rng.integers(t.min, t.max + 1, (n, d)) // (8 if j % 2 else 1)  # odd: peaked (scores close)
            v = rng.integers(t.min, t.max + 1, (n, d))
            cuts = np.linspace(0, n, U + 1).astype(int)
            states = [online_attention(q, k[a:b], v[a:b], cfg.score_shift, cfg.exp) for a, b in zip(cuts, cuts[1:])]
            st = states[0] if U == 1 else combine_partials(states, cfg.exp)
            y = attention_output(st, cfg.recip_frac, t.min, t.max)
            s = ((k @ q) >> cfg.score_shift) * cfg.scale
            w = np.exp(s - s.max())
            errs.append(np.abs(y - (w / w.sum()) @ v))
        err = np.concatenate(errs)
        cycles = {}
        for n in (16, 64, 256, 1024):
            per = n // U  # entries per stream
            beats = (1 + 2 * per) * cfg.beats
            last = (np.arange(beats) == beats - 1).astype(np.int64)
            ins = {p: {"x": np.zeros((beats, cfg.lanes)), "last": last} for p in cfg.ports}
            cycles[n] = cfg.cycle_model(StreamVectors(inputs=ins, expected={}))["o"][-1] + 1
        slope = (cycles[1024] - cycles[256]) / (1024 - 256)
        kv_bytes = 2 * d * -(-t.width // 8)
        out[name] = {
            "params": cfg.params(),
            "error_vs_float_output_lsb": {
                "max_abs": round(float(err.max()), 4),
                "mean_abs": round(float(err.mean()), 4),
                "within_half_lsb": round(float(np.mean(err < 0.5)), 4),
            },
            "cycles_per_query": cycles,
            "cycles_per_kv_entry": slope,
            "kv_bytes_per_entry": kv_bytes,
            "kv_bytes_per_cycle": round(kv_bytes / slope, 3),
            "resources": {family: _synth_resources(cfg, family) for family in ("xc7", "ecp5")},
        }
    return out


@section
def generation_scaling() -> dict[str, Any]:
    """Issue 12: Verilog generation time and peak memory of WS and OS arrays from 8×8 to 64×64 (a fresh
    process each, so peak RSS is the generation's own), against the PE count; goal ≤ 10 s and ≤ 500 MB at
    64×64, linear in PEs. Also the instant estimate of the 64×64 arrays (it must not elaborate)."""
    script = (
        "import resource, sys, time; from hwgen import Design; from hwgen.blocks import SystolicArrayConfig; "
        "n, df = int(sys.argv[1]), sys.argv[2]; t = time.perf_counter(); "
        "v = Design(name='sa', top=SystolicArrayConfig(rows=n, cols=n, dataflow=df)).verilog; "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(v))"
    )
    env = {**os.environ, "HWGEN_QUIET": "1"}
    out: dict[str, Any] = {"arrays": {}}
    for df in ("weight_stationary", "output_stationary"):
        rows = {}
        for n in (8, 16, 32, 48, 64):
            say(f"generation_scaling: {n}x{n} {df}")
            proc = subprocess.run(
                [sys.executable, "-c", script, str(n), df], capture_output=True, text=True, check=True, env=env
            )
            secs, mb, size = proc.stdout.split()
            rows[f"{n}x{n}"] = {
                "pes": n * n,
                "seconds": round(float(secs), 2),
                "peak_mb": round(float(mb)),
                "ms_per_pe": round(1000 * float(secs) / (n * n), 2),
                "verilog_kb": int(size) // 1000,
            }
        out["arrays"][df] = rows
    est = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import time; from hwgen import Design; from hwgen.blocks import SystolicArrayConfig; "
                "d = Design(name='sa', top=SystolicArrayConfig(rows=64, cols=64)); t = time.perf_counter(); "
                "d.manifest(with_verilog=False); print(time.perf_counter() - t)"
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    out["estimate_64x64_ws_s"] = round(float(est.stdout.strip()), 4)
    out["note"] = (
        "seconds include elaboration and Yosys's write_verilog, not the Python import (~0.6 s); "
        "identical mesh rows are one shared module and delay lines are one shift-register signal each"
    )
    return out


def _stream_speeds(design: Design, vectors: int, repeats: int, free_cycles: int, work: Path) -> dict[str, Any]:
    """cocotb, the native bench and free-running Verilator on one design, all rates from simulation-loop time."""
    from hwgen.sim.check import BACKPRESSURE, FULL_RATE, check_run
    from hwgen.sim.native import free_running_seconds, harness_source, native_ports, run_native
    from hwgen.sim.native_build import build_native
    from hwgen.sim.raw import to_raw
    from hwgen.sim.runner import build, run_cocotb
    from hwgen.sim.verify import make_vectors

    comp, cfg = design.component(), design.top
    say(f"native_bench: {design.name}: builds")
    t0 = time.perf_counter()
    build(design.verilog, design.name, "verilator", work)
    cocotb_build = time.perf_counter() - t0
    ins, outs = native_ports(comp)
    t0 = time.perf_counter()
    build_native(design.verilog, design.name, harness_source(design.name, ins, outs), work_dir=work)
    native_build = time.perf_counter() - t0
    small = make_vectors(cfg, vectors // 10, seed=1)
    raw_in, raw_exp = to_raw(comp, small)
    say(f"native_bench: {design.name}: cocotb")
    t0 = time.perf_counter()
    cocotb = run_cocotb(design.verilog, design.name, raw_in, raw_exp, [FULL_RATE], work_dir=work)
    cocotb_wall = time.perf_counter() - t0
    assert cocotb.passed and check_run(cfg, comp, small, cocotb.phases, [FULL_RATE]).passed
    big = make_vectors(cfg, vectors, seed=1)
    raw_in, raw_exp = to_raw(comp, big)
    out: dict[str, Any] = {}
    for phase in (FULL_RATE, BACKPRESSURE):
        say(f"native_bench: {design.name}: native, {phase.name}")
        phases = [phase] * repeats
        run = run_native(design.verilog, design.name, comp, raw_in, raw_exp, phases, work_dir=work)
        assert check_run(cfg, comp, big, run.phases, phases).passed
        out[f"native_{phase.name}"] = {
            "cycles": run.cycles,
            "cycles_per_s": round(run.cycles / run.seconds),
            "cycles_per_s_incl_process_and_io": round(run.cycles / run.wall_seconds),
        }
    say(f"native_bench: {design.name}: free-running")
    free = free_running_seconds(design.verilog, design.name, comp, raw_in, free_cycles, work_dir=work)
    c = cocotb.phases[0]
    native = out["native_full-rate"]["cycles_per_s"]
    out.update(
        {
            "cocotb": {
                "cycles": c.cycles,
                "cycles_per_s": round(c.cycles / c.seconds),
                "cycles_per_s_incl_startup": round(c.cycles / cocotb_wall),
            },
            "free_running_cycles_per_s": round(free_cycles / free),
            "native_vs_cocotb": round(native / (c.cycles / c.seconds), 1),
            "native_vs_free_running": round(native * free / free_cycles, 3),
            "build_s": {"cocotb": round(cocotb_build, 1), "native": round(native_build, 1)},
        }
    )
    return out


def _engine_speeds(work: Path) -> dict[str, Any]:
    """The MLP example's auto engine against the memory model: cocotb, native, free-running."""
    from hwgen.schedule.compiler import compile_schedule
    from hwgen.schedule.engine import build_engine
    from hwgen.schedule.run import memory_spec
    from hwgen.sim.native_memory import free_running_memory_seconds, run_native_memory
    from hwgen.sim.runner import run_cocotb_memory
    from hwgen.spec import load_schedule
    from hwgen.verilog import to_verilog

    g, machine, x = load_schedule(ROOT / "examples" / "schedules" / "mlp.py")
    engine = build_engine(g, machine, compile_schedule(g, machine, "auto"))
    spec, top = memory_spec(engine, x), "bench_engine_mlp_auto"
    verilog = to_verilog(engine, top)
    say("native_bench: MLP engine: cocotb")
    cocotb = run_cocotb_memory(verilog, top, spec, work_dir=work)
    say("native_bench: MLP engine: native (best of 5 runs)")
    runs = [run_native_memory(verilog, top, engine, spec, work_dir=work) for _ in range(5)]
    assert all(r["done_cycle"] == cocotb["done_cycle"] and r["tensors"] == cocotb["tensors"] for r in runs)
    cycles = cocotb["done_cycle"] + 1
    native = cycles / min(r["seconds"] for r in runs)
    free_cycles = 2_000_000
    free = free_cycles / free_running_memory_seconds(verilog, top, engine, spec, free_cycles, work_dir=work)
    return {
        "cycles": cycles,
        "cocotb_cycles_per_s": round(cycles / cocotb["seconds"]),
        "native_cycles_per_s": round(native),
        "free_running_cycles_per_s": round(free),
        "native_vs_cocotb": round(native * cocotb["seconds"] / cycles, 1),
        "native_vs_free_running": round(native / free, 3),
    }


@section
def native_bench() -> dict[str, Any]:
    """Issue 13: cycles/s of the native Verilator bench against cocotb and against the same Verilator model
    free-running (no stimulus logic), measured side by side: MAC PE (64 lanes), 16×16 WS array, MLP engine.
    Goal: >= 100x cocotb and >= 50% of free-running."""
    from hwgen.blocks import SystolicArrayConfig
    from hwgen.sim.native_build import native_opt
    from hwgen.sim.runner import cocotb_opt

    pe = MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), pipeline=0, max_len=4096)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out: dict[str, Any] = {
            "mac_pe_64_lanes": _stream_speeds(
                Design(name="nb_mac64", top=MacPEConfig(lanes=64, pipeline=3, acc=Int(32), overflow="saturate")),
                vectors=20000,
                repeats=10,
                free_cycles=20_000_000,
                work=work,
            ),
            "systolic_16x16_ws": _stream_speeds(
                Design(name="nb_sa16", top=SystolicArrayConfig(rows=16, cols=16, pe=pe)),
                vectors=8000,
                repeats=20,
                free_cycles=2_000_000,
                work=work,
            ),
            "mlp_engine_auto": _engine_speeds(work),
        }
    out["note"] = (
        f"rates are cycles over simulation-loop time (cocotb: its per-cycle Python loop; native: the C++ loop; "
        f"free-running: the same model clocked with inputs held, no stimulus logic); cocotb's model compiled at "
        f"its default {cocotb_opt()} (at -O1 g++ needs > 15 min for the 16×16 array's cocotb model on this "
        f"machine), native and free-running at {native_opt()}; cocotb runs 1/10 of the vectors; "
        f"the first native build includes "
        f"compiling Verilator's runtime once (later builds link it)"
    )
    return out


#: Peers measured in issue 14 with the same Yosys 0.70 recipe, nextpnr-ecp5 0.11 (LFE5U-85F, speed 6) and the same
#: serial I/O harness, 8×8 INT8 arrays, Int(32) accumulators (recorded constants: nothing is fetched at run time).
TIMING_PEERS = {
    "hand-written AXI-stream OS array (open source)": {"fmax_mhz": 86.7, "lut4_per_pe": 97.8, "ff_per_pe": 102.3},
    "Systars (Amaranth generator, OS + B-stationary)": {"fmax_mhz": 71.9, "lut4_per_pe": 137.8, "ff_per_pe": 116.1},
}
TIMING_TARGETS = (100, 150, 200)
TIMING_SEEDS = (1, 2)


def _seeded_fmax(make: Callable[[], Any], name: str, family: str = "ecp5") -> dict[str, Any]:
    """nextpnr's Fmax of ``make()`` (a fresh component per run) for each seed of ``TIMING_SEEDS``, the
    worse one, and the first run's critical path."""
    from hwgen.estimate.pnr import place_and_route

    runs = [place_and_route(make(), name, family, seed=k, target_mhz=200) for k in TIMING_SEEDS]
    return {
        "fmax_mhz_per_seed": [r.fmax_mhz for r in runs],
        "fmax_mhz": round(min(r.fmax_mhz for r in runs), 1),
        "critical_path": [runs[0].critical_start, runs[0].critical_end],
    }


def _engine_fmax() -> dict[str, Any]:
    """ECP5 Fmax (two seeds), ECP5 resources and cycles of the InTAR MLP example's engine under the auto
    policy: its cores at the default stages (none) and at the stages hwgen chooses for 100 / 150 / 200 MHz
    (``Machine.clock_mhz``; a setting chosen for several targets is placed once)."""
    from hwgen.estimate.synth import synthesize
    from hwgen.estimate.timing import estimate_fmax
    from hwgen.schedule import compile_schedule
    from hwgen.schedule.engine import build_engine
    from hwgen.schedule.timing import engine_core
    from hwgen.spec import load_schedule
    from hwgen.verilog import to_verilog

    g, machine, _ = load_schedule(ROOT / "examples" / "schedules" / "mlp.py")
    settings = {"default": replace(machine, epilogue_stages=0, mac_stages=0, feed_stages=0)}
    for t in TIMING_TARGETS:
        settings[f"target_{t}"] = replace(machine, epilogue_stages=None, mac_stages=None, feed_stages=None, clock_mhz=t)
    rows: dict[str, Any] = {}
    done: dict[tuple[int, int], dict] = {}
    for label, m in settings.items():
        s = compile_schedule(g, m, "auto")
        m = s.machine
        key = (m.epilogue_stages, m.mac_stages, m.feed_stages)
        if key not in done:
            say(f"timing: schedule engine (MLP) epilogue_stages={key[0]} mac_stages={key[1]} feed_stages={key[2]}")
            row = _seeded_fmax(lambda m=m, s=s: build_engine(g, m, s), "engine")
            v = to_verilog(build_engine(g, m, s), "engine", family="ecp5")
            res = synthesize(v, "engine", "ecp5").resources
            done[key] = row | {
                "estimate_mhz": estimate_fmax(engine_core(g, m), "ecp5").fmax_mhz,
                "cycles": s.cycles,
                "resources": {k: v for k, v in res.items() if v and k in ("lut", "ff", "dsp", "carry")},
            }
        rows[label] = {
            **done[key],
            "epilogue_stages": key[0],
            "mac_stages": key[1],
            "feed_stages": key[2],
            "choice": s.timing_note,
        }
    return rows


def _pnr_row(cfg: Any, macs: int, family: str = "ecp5") -> dict[str, Any]:
    """Fmax over two placement seeds and per-MAC resources (plain synthesis) of one configuration."""
    from hwgen.estimate.synth import synthesize
    from hwgen.estimate.timing import estimate_fmax
    from hwgen.verilog import to_verilog

    res = synthesize(to_verilog(cfg.component(), "dut", family=family), "dut", family).resources
    est = estimate_fmax(cfg, family)
    return {
        **_seeded_fmax(cfg.component, "dut", family),
        "estimate_mhz": est.fmax_mhz if est else None,
        "latency_cycles": cfg.timing().latency,
        "per_mac": {k: round(v / macs, 1) for k, v in res.items() if v and k in ("lut", "ff", "dsp", "carry")},
    }


def _ice40_timing() -> dict[str, Any]:
    """iCE40 UP5K Fmax of blocks that fit and that nextpnr-ice40 can time (LUTs only): the bit-serial PE and
    an 8-lane MAC PE of 4-bit operands (LUT multipliers), at the default and at the setting the iCE40 Fmax
    estimate picks for 50 / 100 / 150 / 200 MHz (a setting picked for several targets is placed once)."""
    from hwgen.blocks import BitSerialPEConfig
    from hwgen.estimate.timing import for_clock

    blocks = {
        "bitserial_pe": BitSerialPEConfig(),
        "mac_pe_8_lanes_int4": MacPEConfig(lanes=8, act=Int(4), weight=Int(4), acc=Int(16), overflow="wrap"),
    }
    out: dict[str, Any] = {"device": "iCE40 UP5K SG48"}
    for name, cfg in blocks.items():
        rows: dict[str, Any] = {}
        done: dict[str, dict] = {}
        for label, (c, note) in {
            "default": (cfg, ""),
            **{f"target_{t}": for_clock(cfg, t, "ice40") for t in (50, *TIMING_TARGETS)},
        }.items():
            key = json.dumps(c.params(), sort_keys=True)
            if key not in done:
                say(f"timing: iCE40 {name} {label}")
                done[key] = _pnr_row(c, c.lanes, "ice40")
            rows[label] = {**done[key], "choice": note, "pipeline": c.pipeline}
        out[name] = rows
    out["left_out"] = (
        "designs with DSP multipliers: an 8x8 array needs 64 multipliers (UP5K has 8 SB_MAC16), and "
        "nextpnr-ice40 does not time paths through SB_MAC16 (../shared/toolchain-notes.md), so the iCE40 "
        "estimate covers LUT-only designs"
    )
    return out


def _fmax_estimate_score(family: str) -> dict[str, Any]:
    """The Fmax estimate against nextpnr (seed 1) on the held-out designs of ``family``'s calibration sweep."""
    from hwgen.estimate.fmax_sweep import fmax_points, held_out, ice40_points
    from hwgen.estimate.pnr import place_and_route
    from hwgen.estimate.timing import estimate_fmax

    errs, points = [], []
    for label, cfg in fmax_points() if family == "ecp5" else ice40_points():
        if not held_out(label):
            continue
        r = place_and_route(cfg.component(), "dut", family, seed=1, target_mhz=200)
        est = estimate_fmax(cfg, family).fmax_mhz
        errs.append(abs(est - r.fmax_mhz) / r.fmax_mhz * 100)
        points.append({"design": label, "nextpnr_mhz": r.fmax_mhz, "estimate_mhz": est})
    return {
        "held_out_designs": len(points),
        "median_abs_error_pct": round(statistics.median(errs), 2),
        "p90_abs_error_pct": round(sorted(errs)[int(0.9 * (len(errs) - 1))], 2),
        "points": points,
    }


@section
def timing() -> dict[str, Any]:
    """Issue 14: ECP5 Fmax (nextpnr, two seeds, the lower kept) of the 8×8 WS/OS arrays, the MAC PE, the
    16-stage sparse chain, the BitMoD PE and the low-bit PEs at their default pipelining and at the setting
    hwgen picks for 100 / 150 / 200 MHz, with the resource cost of each, next to the peers' recorded figures;
    the schedule engine; the Fmax estimate scored on the held-out designs of the ECP5 and iCE40 calibration sweeps."""
    from hwgen.blocks import BitSerialPEConfig, MixPEConfig, OliveMACConfig, SparseChainConfig, TernaryPEConfig
    from hwgen.blocks.systolic import SystolicArrayConfig
    from hwgen.estimate.timing import for_clock

    out: dict[str, Any] = {"peers": TIMING_PEERS, "device": "LFE5U-85F CABGA381, speed 6", "seeds": list(TIMING_SEEDS)}
    hand = TIMING_PEERS["hand-written AXI-stream OS array (open source)"]["fmax_mhz"]
    driven = {
        "ws_8x8_int8": (SystolicArrayConfig(), 64),
        "os_8x8_int8": (SystolicArrayConfig(dataflow="output_stationary"), 64),
        "mac_pe_16_lanes": (MacPEConfig(lanes=16), 16),
        "sparse_chain_16_int8": (
            SparseChainConfig(stages=16, act=Int(8), weight=Int(8), acc=Int(32), max_len=1024),
            16,
        ),
        "bitserial_pe_default": (BitSerialPEConfig(), BitSerialPEConfig().lanes),
        "ternary_pe_16_lanes": (TernaryPEConfig(lanes=16, acc=Int(28)), 16),
        "olive_mac_4_pairs": (OliveMACConfig(pairs=4), 8),
        "mixpe_8_lanes": (MixPEConfig(lanes=8), 8),
    }
    for name, (cfg, macs) in driven.items():
        rows: dict[str, Any] = {}
        settings = {"default": (cfg, "")}
        if isinstance(cfg, SystolicArrayConfig):  # an ECP5 design's cheapest setting (WS: the weight in the cell)
            first = cfg.with_params(cfg.timing_candidates("ecp5")[0])
            settings["ecp5_cheapest"] = (first, "the first ECP5 candidate (what a design picks at a low clock)")
        settings |= {f"target_{t}": for_clock(cfg, t, "ecp5") for t in TIMING_TARGETS}
        done: dict[Any, dict] = {}
        for label, (c, note) in settings.items():
            say(f"timing: {name} {label}")
            key = json.dumps(c.params(), sort_keys=True)
            row = done.get(key) or _pnr_row(c, macs)
            done[key] = row
            rows[label] = {
                **row,
                "choice": note,
                "params": {k: c.params()[k] for k in ("pe", "pipeline", "dsp_cells") if k in c.params()},
            }
            rows[label]["vs_hand_written"] = round(row["fmax_mhz"] / hand, 3)
        out[name] = rows
    out["schedule_engine_mlp"] = _engine_fmax()
    out["ice40"] = _ice40_timing()
    out["fmax_estimate"] = _fmax_estimate_score("ecp5")
    out["fmax_estimate_ice40"] = _fmax_estimate_score("ice40")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    ap.add_argument("--only", nargs="*", choices=sorted(SECTIONS), default=None)
    args = ap.parse_args()
    path = Path(args.out)
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    for name in args.only or SECTIONS:
        say(f"benchmark section {name}")
        t0 = time.perf_counter()
        data[name] = SECTIONS[name]()
        data[name]["section_wall_s"] = round(time.perf_counter() - t0, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({k: v for k, v in data.items() if k in (args.only or SECTIONS)}, indent=2))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
