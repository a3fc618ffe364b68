"""The hwgen CLI: commands, design files, and one clean line per bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwgen.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOOD_TOML = """\
[design]
name = "pe16"
top = "mac_pe"
board = "arty_a7_100t"

[params]
lanes = 16
act = "Int(8)"
acc = "Int(24)"
overflow = "saturate"
"""


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def write(tmp_path: Path, text: str, name: str = "d.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_build_writes_verilog_manifest_and_report(tmp_path, capsys):
    spec = write(tmp_path, GOOD_TOML)
    code, out, _ = run(capsys, "build", str(spec), "--out", str(tmp_path / "out"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["pe16.json", "pe16.md", "pe16.v"]
    m = json.loads((tmp_path / "out" / "pe16.json").read_text())
    assert m["params"]["lanes"] == 16 and m["params"]["overflow"] == "saturate"
    assert "pe16.v" in out


def test_build_python_design_files_with_several_designs(tmp_path, capsys):
    code, _, _ = run(capsys, "build", str(ROOT / "examples" / "mac_pe_fixed.py"), "--out", str(tmp_path))
    assert code == 0
    assert (tmp_path / "mac_pe_fixed_wrap.v").exists() and (tmp_path / "mac_pe_fixed_sat.v").exists()


def test_estimate_json(tmp_path, capsys):
    code, out, _ = run(capsys, "estimate", str(write(tmp_path, GOOD_TOML)), "--json")
    assert code == 0
    r = json.loads(out)
    assert r["timing"]["latency_cycles"] == 2 and r["resources"]["dsp"] == 16 and r["family"] == "xc7"
    code, out, _ = run(capsys, "estimate", str(write(tmp_path, GOOD_TOML)), "--family", "ecp5")
    assert code == 0 and "on ecp5" in out and "latency      2 cycles" in out


def test_blocks_and_boards_list(capsys):
    code, out, _ = run(capsys, "blocks")
    assert code == 0 and "mac_pe:" in out and "lanes" in out and "1..64" in out
    code, out, _ = run(capsys, "boards")
    assert code == 0 and "alveo_u280" in out and "icebreaker" in out


BAD_TOML = {
    "malformed TOML": ("[design\nname = 1", r"d\.toml: not valid TOML"),
    "unknown table": (GOOD_TOML + "\n[extras]\nx = 1\n", r"d\.toml:extras: unknown table"),
    "unknown design key": (
        GOOD_TOML.replace('top = "mac_pe"', 'top = "mac_pe"\nclock = 5'),
        r"d\.toml:design\.clock: unknown key; allowed: name, top, board, clock_mhz",
    ),
    "missing name": (GOOD_TOML.replace('name = "pe16"\n', ""), r"d\.toml:design\.name: missing"),
    "wrong type in design": (
        GOOD_TOML.replace('board = "arty_a7_100t"', "board = 7"),
        r"d\.toml:design\.board: expected text, not 7",
    ),
    "unknown block": (
        GOOD_TOML.replace('top = "mac_pe"', 'top = "gemm"'),
        r"d\.toml:design\.top: unknown block 'gemm'; available: .*mac_pe, mixpe",
    ),
    "unknown param": (GOOD_TOML + "lane = 4\n", r"d\.toml:params\.lane: unknown parameter of mac_pe; known: acc, act"),
    "wrong param type": (
        GOOD_TOML.replace("lanes = 16", 'lanes = "16"'),
        r"d\.toml:params\.lanes: expected an integer, not '16'",
    ),
    "bad number type": (
        GOOD_TOML.replace('act = "Int(8)"', 'act = "float8"'),
        r"d\.toml:params\.act: 'float8' is not a number type",
    ),
    "out of range": (
        GOOD_TOML.replace("lanes = 16", "lanes = 65"),
        r"d\.toml:params\.lanes: 65 is out of range; allowed 1\.\.64",
    ),
    "bad choice": (
        GOOD_TOML.replace('overflow = "saturate"', 'overflow = "clamp"'),
        r"d\.toml:params\.overflow: 'clamp' is not one of 'wrap', 'saturate', 'error'",
    ),
    "accumulator too narrow": (
        GOOD_TOML.replace('overflow = "saturate"', 'overflow = "error"'),
        r"d\.toml:params\.acc: Int\(24\) cannot hold the sum of 16384 products",
    ),
    "unknown board": (
        GOOD_TOML.replace("arty_a7_100t", "u999"),
        r"d\.toml:design\.board: unknown board 'u999'; available: alveo_u280",
    ),
    "bad design name": (
        GOOD_TOML.replace('name = "pe16"', 'name = "pe 16"'),
        r"design\.name: 'pe 16' is not a Verilog identifier",
    ),
}


@pytest.mark.parametrize("case", BAD_TOML)
@pytest.mark.parametrize("command", ["build", "estimate"])
def test_bad_toml_gives_one_line_exit_2_and_no_files(tmp_path, capsys, case, command):
    text, pattern = BAD_TOML[case]
    spec = write(tmp_path, text)
    out_dir = tmp_path / "out"
    argv = [command, str(spec)] + (["--out", str(out_dir)] if command == "build" else [])
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwgen: error: "), err
    import re

    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in err + out
    assert not out_dir.exists() or not any(out_dir.iterdir())


BAD_PY = {
    "syntax error": ("design = (\n", r"d\.py:1: SyntaxError"),
    "exception in user code": ("x = 1\nraise RuntimeError('oops')\n", r"d\.py:2: RuntimeError: oops"),
    "no design": ("x = 1\n", r"d\.py: defines none of `design`, `designs` or `make_design\(\)`"),
    "not a Design": ("design = 5\n", r"must give hwgen\.Design objects"),
    "config error inside": (
        "from hwgen import Design\nfrom hwgen.blocks import MacPEConfig\n"
        "design = Design(name='x', top=MacPEConfig(lanes=0))\n",
        r"d\.py:\d+: mac_pe\.lanes: 0 is out of range",
    ),
    "duplicate names": (
        "from hwgen import Design\nfrom hwgen.blocks import MacPEConfig\n"
        "designs = [Design(name='x', top=MacPEConfig()), Design(name='x', top=MacPEConfig())]\n",
        r"two designs share a name",
    ),
}


@pytest.mark.parametrize("case", BAD_PY)
def test_bad_python_design_files(tmp_path, capsys, case):
    text, pattern = BAD_PY[case]
    spec = write(tmp_path, text, "d.py")
    code, out, err = run(capsys, "build", str(spec), "--out", str(tmp_path / "out"))
    assert code == 2
    import re

    assert len(err.strip().splitlines()) == 1 and re.search(pattern, err), err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_file_and_wrong_suffix(tmp_path, capsys):
    code, _, err = run(capsys, "build", str(tmp_path / "nope.toml"))
    assert code == 2 and "no such design file" in err
    code, _, err = run(capsys, "build", str(write(tmp_path, "x", "d.yaml")))
    assert code == 2 and "must end in .py or .toml" in err


def test_one_bad_file_among_good_ones_writes_nothing(tmp_path, capsys):
    good = write(tmp_path, GOOD_TOML, "good.toml")
    bad = write(tmp_path, GOOD_TOML.replace("lanes = 16", "lanes = 0"), "bad.toml")
    code, _, _ = run(capsys, "build", str(good), str(bad), "--out", str(tmp_path / "out"))
    assert code == 2 and not (tmp_path / "out").exists()


def test_console_script_prints_no_traceback(tmp_path):
    """The installed `hwgen` entry point, as a user runs it."""
    spec = write(tmp_path, GOOD_TOML.replace("lanes = 16", "lanes = 0"))
    exe = Path(sys.executable).parent / "hwgen"
    proc = subprocess.run(
        [str(exe), "build", str(spec), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env={**os.environ, "HWGEN_QUIET": "1"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"hwgen: error: {spec}:params.lanes: 0 is out of range; allowed 1..64"
    assert proc.stdout == ""


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sim", "x.toml", "--vectors", "0"])
    assert e.value.code == 2
