"""Design builds: deterministic files, manifest contents, atomic output, lint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwgen import ConfigError, Design, Fixed, Int, UFixed, UInt
from hwgen.blocks import MacPEConfig
from hwgen.verilog import LINT_WAIVERS, lint

ROOT = Path(__file__).resolve().parents[1]


def make(**kw) -> Design:
    return Design(name="pe", top=MacPEConfig(**kw), board="arty_a7_100t")


def test_same_design_gives_byte_identical_files(tmp_path):
    a = make(lanes=8, pipeline=2).build(tmp_path / "a", report=True)
    b = make(lanes=8, pipeline=2).build(tmp_path / "b", report=True)
    for kind in a:
        assert a[kind].read_bytes() == b[kind].read_bytes()


def test_output_does_not_depend_on_install_path_or_cwd(tmp_path):
    """A fresh interpreter in another folder writes the same bytes (no paths, times or ids)."""
    here = make(lanes=4).build(tmp_path / "here")
    code = (
        "from hwgen import Design; from hwgen.blocks import MacPEConfig; "
        f"Design(name='pe', top=MacPEConfig(lanes=4), board='arty_a7_100t').build({str(tmp_path / 'there')!r})"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    for _kind, path in here.items():
        assert path.read_bytes() == (tmp_path / "there" / path.name).read_bytes()
    assert "/" not in "".join(l for l in here["verilog"].read_text().splitlines() if "src" in l)


def test_manifest_describes_ports_timing_and_hash(tmp_path):
    d = make(lanes=16, pipeline=3, acc=Int(40))
    files = d.build(tmp_path)
    m = json.loads(files["manifest"].read_text())
    ports = {p["name"]: (p["dir"], p["width"]) for p in m["ports"]}
    assert ports["i__payload"] == ("in", 16 * 8 * 2 + 1)
    assert ports["o__payload"] == ("out", 40)
    assert ports["i__ready"] == ("out", 1) and ports["o__ready"] == ("in", 1) and ports["clk"] == ("in", 1)
    assert m["timing"]["latency_cycles"] == 4 and m["timing"]["initiation_interval"] == 1
    assert m["timing"]["throughput_gops"] == pytest.approx(16 * 100e6 / 1e9)
    assert m["params"]["acc"] == "Int(40)" and m["block"] == "mac_pe"
    import hashlib

    assert m["verilog_sha256"] == hashlib.sha256(files["verilog"].read_bytes()).hexdigest()
    a_field = next(f for f in m["streams"]["i"]["payload"] if f["field"] == "a")
    assert (a_field["count"], a_field["width"], a_field["signed"]) == (16, 8, True)
    # every port in the manifest is a port of the Verilog module
    header = files["verilog"].read_text().split("module pe(")[1].split(");")[0]
    assert {p.strip() for p in header.split(",")} == set(ports)


def test_clock_defaults_to_the_board_then_100_mhz():
    assert make().clock == 100.0
    assert Design(name="x", top=MacPEConfig(), board="icebreaker").clock == 24.0
    assert Design(name="x", top=MacPEConfig()).clock == 100.0
    assert Design(name="x", top=MacPEConfig(), clock_mhz=250).clock == 250.0


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"name": "1pe"}, r"design\.name: '1pe' is not a Verilog identifier"),
        ({"name": "a-b"}, r"design\.name"),
        ({"board": "nope"}, r"design\.board: unknown board 'nope'; available: .*arty_a7_100t"),
        ({"clock_mhz": 0}, r"design\.clock_mhz: 0 is not a clock"),
        ({"top": "mac_pe"}, r"design\.top: expected a block config"),
    ],
)
def test_bad_design_arguments(kwargs, pattern):
    args = {"name": "pe", "top": MacPEConfig(), **kwargs}
    with pytest.raises(ConfigError, match=pattern):
        Design(**args)


def test_failed_build_leaves_no_files(tmp_path, monkeypatch):
    d = make()
    monkeypatch.setattr(Design, "manifest", lambda self: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        d.build(tmp_path / "out")
    assert not any((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


LINT_CONFIGS = [
    dict(),
    dict(lanes=64, pipeline=3, acc=Int(24), overflow="saturate"),
    dict(lanes=3, pipeline=0, act=UInt(8), acc=Int(10), overflow="wrap"),
    dict(lanes=8, pipeline=2, act=UFixed(8, 8), weight=Fixed(8, 6), acc=Fixed(20, 14), overflow="saturate"),
    dict(lanes=2, act=Int(32), weight=Int(32), acc=Int(96), overflow="wrap"),
    dict(lanes=1, pipeline=0, act=UInt(1), weight=UInt(1), acc=UInt(4), overflow="saturate"),
]


@pytest.mark.parametrize("kw", LINT_CONFIGS, ids=range(len(LINT_CONFIGS)))
def test_verilator_lint_wall_is_clean_with_the_documented_waivers(kw):
    d = Design(name="pe", top=MacPEConfig(**kw))
    assert lint(d.verilog, "pe") == []


def test_waiver_list_is_short_and_documented():
    assert len(LINT_WAIVERS) <= 5
    assert all(len(why) > 40 for why in LINT_WAIVERS.values())


def test_lint_reports_real_problems():
    bad = "module pe(input clk, input [7:0] a, output [3:0] y, output z);\n  assign y = a[3:0];\nendmodule\n"
    warnings = lint(bad, "pe")
    assert any("UNDRIVEN" in w for w in warnings), warnings
