"""Every bad input gets one line and exit 2 (or a ConfigError from the library): never a traceback, never wrong
hardware, never a silent cast. One test per class of the reproducers in the bad-input issue."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hwgen import ConfigError, Int
from hwgen.cli import main
from hwgen.int8pack import pack
from hwgen.lowbit import BITMOD_FP4, DATATYPES, booth_digits, olive_decode, olive_encode, quantize_groups
from hwgen.schedule import Machine, TaskGraph
from hwgen.sparse import compress, prune

ROOT = Path(__file__).resolve().parents[1]
HWGEN = str(Path(sys.executable).parent / "hwgen")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse usage errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code: int, err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("hwgen: error: "), err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


SCHEDULE = """\
import numpy as np
from hwgen import Int
from hwgen.schedule import Machine, TaskGraph
graph = TaskGraph({name!r})
graph.input("x", {rows}, 4)
graph.gemm("fc", "x", {weights}, acc={acc})
graph.requant("q", "fc", multiplier={mult}, shift={shift})
machine = Machine({machine})
{extra}
"""


def schedule_file(tmp_path: Path, **kw: object) -> Path:
    args = {
        "name": "g",
        "rows": 2,
        "weights": "np.ones((4, 3), dtype=int)",
        "acc": "Int(24)",
        "mult": 3,
        "shift": 2,
        "machine": "cores=1, lanes=4",
        "extra": "",
    } | kw
    p = tmp_path / "s.py"
    p.write_text(SCHEDULE.format(**args))
    return p


# ------------------------------------------------------------------------ wrong hardware or answers, exit 0
@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"weights": "np.full((4, 3), 0.5)"}, "graph.fc.weights: [0, 0] = 0.5 is not an integer"),
        ({"weights": "[[True] * 3] * 4"}, "graph.fc.weights: booleans are not integers here"),
        ({"weights": "np.full((4, 3), 300)"}, "graph.fc.weights: [0, 0] = 300 is outside -128..127"),
        ({"machine": "onchip_bytes=float('nan')"}, "machine.onchip_bytes: expected an integer, not nan"),
        ({"machine": "offchip_latency=1.5"}, "machine.offchip_latency: expected an integer, not 1.5"),
        ({"machine": "switch_cycles=2.5"}, "machine.switch_cycles: expected an integer, not 2.5"),
        ({"machine": "offchip_bytes_per_cycle=float('inf')"}, "machine.offchip_bytes_per_cycle: inf is not a finite"),
        ({"machine": "offchip_bytes_per_cycle=float('nan')"}, "machine.offchip_bytes_per_cycle: nan is not a finite"),
        ({"machine": "offchip_bytes_per_cycle='1'"}, "machine.offchip_bytes_per_cycle: expected a number, not '1'"),
        ({"machine": "lanes=1.5"}, "machine.lanes: expected an integer, not 1.5"),
        ({"machine": "lanes='16'"}, "machine.lanes: expected an integer, not '16'"),
        ({"shift": -1}, "graph.q.shift: -1 is not an integer in 0..62"),
        ({"mult": -5}, "graph.q.multiplier: -5 is not an integer in 0..2147483647"),
        ({"acc": "Int(4)"}, "graph.fc.acc: Int(4): the cores accumulate in signed integers of 8..48 bits"),
        ({"acc": "'Int(2x)'"}, "graph.fc.acc: 'Int(2x)' is not a number type"),
        ({"rows": 16.5}, "graph.x.rows: expected an integer, not 16.5"),
        ({"name": "my graph"}, "graph.name: 'my graph' is not a name"),
        ({"name": "../up"}, "graph.name: '../up' is not a name"),
    ],
)
@pytest.mark.parametrize("out", [False, True], ids=["report", "out"])
def test_bad_schedule_files_are_one_line_and_write_nothing(tmp_path, capsys, kw, fragment, out):
    f = schedule_file(tmp_path, **kw)
    target = tmp_path / "new" / "rtl"
    code, stdout, err = run(capsys, "schedule", str(f), *(["--out", str(target)] if out else []))
    one_line_error(code, err, str(f), fragment)
    assert stdout == "" and not (tmp_path / "new").exists()


def test_strings_for_types_and_other_overflow_rules_are_handled(tmp_path, capsys):
    code, out, err = run(capsys, "schedule", str(schedule_file(tmp_path, acc="'Int(24)'")))
    assert code == 0 and "auto" in out, err
    g = TaskGraph("g")
    g.input("x", 2, 4)
    with pytest.raises(ConfigError, match=r"graph\.fc\.overflow: 'bogus' is not one of wrap, saturate, error"):
        g.gemm("fc", "x", np.ones((4, 2), dtype=int), overflow="bogus")
    g.gemm("fc", "x", np.ones((4, 2), dtype=int), overflow="saturate")
    from hwgen.schedule import compile_schedule

    with pytest.raises(ConfigError, match=r"graph\.fc\.overflow: the engine's accumulators wrap; 'saturate'"):
        compile_schedule(g, Machine())


def test_run_with_inputs_out_of_range_names_the_input(tmp_path, capsys):
    f = schedule_file(tmp_path, extra="inputs = {'x': np.full((2, 4), 300)}")
    code, out, err = run(capsys, "schedule", str(f), "--run")
    one_line_error(code, err, f"{f}:inputs.x: [0, 0] = 300 is outside -128..127")
    f = schedule_file(tmp_path, extra="inputs = {'x': np.zeros((2, 4)), 'y': np.zeros((1, 1))}")
    code, out, err = run(capsys, "schedule", str(f), "--run")
    one_line_error(code, err, "inputs.y: is not an input of graph 'g'")


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: DATATYPES["FP4-ER-POS"].decode(-1), r"FP4-ER-POS codes: -1 is outside 0\.\.15"),
        (lambda: DATATYPES["FP4-ER-POS"].decode([16]), r"FP4-ER-POS codes: \[0\] = 16 is outside 0\.\.15"),
        (lambda: DATATYPES["FP4-ER-POS"].decode(1.7), r"FP4-ER-POS codes: 1\.7 is not an integer"),
        (lambda: DATATYPES["INT8"].digits(-1), r"INT8 code: -1 is out of range; allowed 0\.\.255"),
        (lambda: DATATYPES["FP4"].encode(2.5), r"FP4 values: 2\.5 is not an integer"),
        (lambda: DATATYPES["FP4"].encode(5), r"FP4 values: 5 is not on the grid"),
        (lambda: olive_encode([2.7, 1]), r"olive values: \[0\] = 2\.7 is not an integer"),
        (lambda: olive_encode([np.nan, 1]), r"olive values: \[0\] = nan is not an integer"),
        (lambda: olive_encode([np.inf, 1]), r"olive values: \[0\] = inf is not an integer"),
        (lambda: olive_decode([300]), r"olive pairs: \[0\] = 300 is outside 0\.\.255"),
        (lambda: booth_digits(200, 8), r"booth_digits\.value: 200 is out of range; allowed -128\.\.127"),
        (lambda: pack([200], [0]), r"int8pack\.a: \[0\] = 200 is outside -128\.\.127"),
        (lambda: quantize_groups(np.ones((1, 4)), (), group=4), r"candidates: \(\): give a non-empty list"),
        (lambda: quantize_groups(np.ones((1, 4)), "FP4-ER-POS", group=4), r"candidates: 'FP4-ER-POS': give a"),
        (lambda: quantize_groups(np.ones((1, 4)), group=4, scale_bits=0), r"scale_bits: 0 is out of range"),
        (lambda: quantize_groups(np.ones((1, 4)), group=0), r"group: 0 is out of range; allowed >= 1"),
        (lambda: quantize_groups(np.ones((1, 64)), group=64.0), r"group: expected an integer, not 64\.0"),
        (lambda: quantize_groups(np.zeros((0, 128))), r"weights: is empty"),
        (lambda: quantize_groups(np.array([[1.0, np.inf]]), group=2), r"weights: \[0, 1\] = inf is not a finite"),
        (lambda: Int(8).array([2.7]), r"Int\(8\): \[0\] = 2\.7 is not an integer"),
        (lambda: Int(8).array(["3"]), r"Int\(8\): \[0\] = '3' is not an integer"),
        (lambda: compress(np.array([[1.0, np.nan]]), "1:2"), r"weights: \[0, 1\] = nan is not a finite"),
        (lambda: compress(np.array([["a", "b"]]), "1:2"), r"weights: expected real numbers, not 'a'"),
        (lambda: compress(np.zeros((0, 4), dtype=int), "2:4"), r"weights: is empty"),
        (lambda: prune(np.array([[1.0, np.nan, 2.0, 3.0]]), "2:4"), r"weights: \[0, 1\] = nan is not a finite"),
    ],
)
def test_library_api_rejects_bad_values_with_config_errors(call, pattern):
    with pytest.raises(ConfigError, match=pattern):
        call()


def test_second_level_scale_is_the_documented_rule_even_for_tiny_rows():
    """``s_ch = max_g s_g / 255`` exactly; a clamp at min_scale would lose precision on tiny rows."""
    w = np.full((1, 256), 1e-7)
    w[0, 128:] = 3e-7
    q = quantize_groups(w, BITMOD_FP4, group=128)
    assert q.scale_ch[0] == pytest.approx(q.scale.max() / 255, rel=1e-12)
    assert q.scale_q.max() == 255


BOARD = """\
[board]
title = "Mine"
family = "{family}"
part = "{part}"
package = "CABGA381"
default_clock_mhz = 100.0
[capacity]
lut = 1000
ff = 1000
dsp = 10
bram = 10
[sources]
lut = "x"
ff = "x"
dsp = "x"
bram = "x"
"""


@pytest.mark.parametrize(
    ("family", "part", "fragment"),
    [
        ("xc7", "", "mine.toml:board.part: '' is not a xc7 part number"),
        ("ecp5", "not-a-part", "mine.toml:board.part: 'not-a-part' is not a ecp5 part number"),
        ("ice40", "LFE5U-85F-6BG381C", "is not a ice40 part number"),
    ],
)
def test_board_part_numbers_are_checked(tmp_path, capsys, monkeypatch, family, part, fragment):
    (tmp_path / "mine.toml").write_text(BOARD.format(family=family, part=part))
    monkeypatch.setenv("HWGEN_BOARDS", str(tmp_path))
    code, _, err = run(
        capsys, "flow", str(ROOT / "examples" / "mac_pe_int8.toml"), "--board", "mine", "--out", str(tmp_path / "flow")
    )
    one_line_error(code, err, fragment)
    assert not (tmp_path / "flow").exists()


def test_empty_board_option_is_an_error(tmp_path, capsys):
    code, _, err = run(
        capsys,
        "report",
        str(ROOT / "examples" / "mac_pe_int8.toml"),
        "--board",
        "",
        "--no-synth",
        "--out",
        str(tmp_path / "o"),
    )
    one_line_error(code, err, "--board: '' is not a board name")


@pytest.mark.parametrize("status", [0, 3])
def test_design_file_calling_sys_exit_is_an_error(tmp_path, capsys, status):
    f = tmp_path / "d.py"
    f.write_text(f"import sys\nsys.exit({status})\n")
    code, _, err = run(capsys, "build", str(f), "--out", str(tmp_path / "o"))
    one_line_error(code, err, f"called sys.exit({status})")


# ------------------------------------------------------------------------ tracebacks
def test_unreadable_toml_design(tmp_path, capsys, monkeypatch):
    f = tmp_path / "d.toml"
    f.write_text("[design]\n")
    real = Path.read_text

    def denied(self, *a, **k):
        if self == f:
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", denied)
    code, _, err = run(capsys, "build", str(f))
    one_line_error(code, err, f"{f}: cannot be read: Permission denied")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (b"\xff\xfe[board]\n", "not a UTF-8 text file"),
        (
            ("sources = 3\n" + BOARD.format(family="ecp5", part="LFE5U-85F-6BG381C").split("[sources]")[0]).encode(),
            "bad.toml:sources: expected a table [sources], not 3",
        ),
        (b'board = "x"\n', "bad.toml:board: expected a table [board], not 'x'"),
    ],
    ids=["non-utf8", "scalar-sources", "scalar-board"],
)
def test_malformed_board_files_are_one_line(tmp_path, capsys, monkeypatch, text, fragment):
    (tmp_path / "bad.toml").write_bytes(text)
    monkeypatch.setenv("HWGEN_BOARDS", str(tmp_path))
    code, _, err = run(capsys, "boards")
    one_line_error(code, err, fragment)


def test_unreadable_board_file(tmp_path, monkeypatch):
    from hwgen.boards import read_board_text
    from hwgen.errors import BoardError

    with pytest.raises(BoardError, match="cannot be read: No such file or directory"):
        read_board_text(tmp_path / "gone.toml")


@pytest.mark.parametrize("out", ["/dev/null/x", "FILE"])
def test_out_folder_that_cannot_be_made(tmp_path, capsys, out):
    if out == "FILE":
        out = str(tmp_path / "f")
        Path(out).write_text("a file")
    code, _, err = run(capsys, "build", str(ROOT / "examples" / "mac_pe_int8.toml"), "--out", out)
    one_line_error(code, err, "--out:")


def test_stimulus_that_raises_or_returns_the_wrong_thing(tmp_path, capsys):
    for body, fragment in (
        ("raise RuntimeError('boom')", "stimulus: raised RuntimeError: boom"),
        ("return 42", "stimulus: returned int, not hwgen.vectors.StreamVectors"),
    ):
        f = tmp_path / "d.py"
        f.write_text(
            textwrap.dedent(f"""
            from hwgen import Design
            from hwgen.blocks import MacPEConfig
            def stim(rng, n):
                {body}
            design = Design(name="d", top=MacPEConfig(), stimulus=stim)
        """)
        )
        code, _, err = run(capsys, "sim", str(f))
        one_line_error(code, err, fragment)


def test_user_block_whose_component_raises(tmp_path, capsys):
    f = tmp_path / "d.py"
    f.write_text(
        textwrap.dedent("""
        from dataclasses import dataclass
        from typing import ClassVar
        from hwgen import Design
        from hwgen.blocks import MacPEConfig
        @dataclass(frozen=True, kw_only=True)
        class Mine(MacPEConfig):
            block_name: ClassVar[str] = "mine"
            def component(self):
                raise KeyError("no such port")
        design = Design(name="d", top=Mine())
    """)
    )
    code, _, err = run(capsys, "build", str(f), "--out", str(tmp_path / "o"))
    one_line_error(code, err, "design d: Mine.component() raised KeyError")
    assert not (tmp_path / "o").exists()


def test_output_into_a_closed_pipe_is_quiet():
    proc = subprocess.run(f"{HWGEN} blocks | head -c 10", shell=True, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr and proc.stderr == "", proc.stderr


# ------------------------------------------------------------------------ more than one line
def test_good_spec_then_bad_spec_is_one_line_with_no_warnings(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[design]\nname = "b"\ntop = "mac_pe"\n[params]\nlanes = 99\n')
    proc = subprocess.run(
        [HWGEN, "build", str(ROOT / "examples" / "mac_pe_int8.toml"), str(bad), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    one_line_error(proc.returncode, proc.stderr, "bad.toml:params.lanes: 99 is out of range")


@pytest.mark.parametrize("kind", ["folder", "devnull", "fifo"])
def test_a_design_path_that_is_not_a_file(tmp_path, capsys, kind):
    path = {"folder": str(tmp_path), "devnull": "/dev/null", "fifo": str(tmp_path / "fifo")}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    code, _, err = run(capsys, "build", path)
    want = {
        "folder": "is a folder, not a design file",
        "devnull": "is not a regular file",
        "fifo": "is not a regular file",
    }[kind]
    one_line_error(code, err, want)


def test_python_file_with_nul_bytes(tmp_path, capsys):
    f = tmp_path / "binary.py"
    f.write_bytes(b"x = 1\x00\x00\n")
    code, _, err = run(capsys, "build", str(f))
    one_line_error(code, err, f"{f}: is not a Python source file (it contains NUL bytes)")


# ------------------------------------------------------------------------ large designs: no silent minutes
def test_estimate_never_generates_verilog(monkeypatch, capsys):
    import hwgen.design

    def forbidden(*a, **k):
        raise AssertionError("hwgen estimate elaborated the design")

    monkeypatch.setattr(hwgen.design, "to_verilog", forbidden)
    code, out, err = run(capsys, "estimate", str(ROOT / "examples" / "gemm_ws_8x8.py"), "--json")
    assert code == 0, err
    assert '"lut"' in out


def test_progress_is_silent_for_quick_steps_and_shown_for_slow_ones(capsys, monkeypatch):
    import time

    from hwgen.progress import step

    monkeypatch.delenv("HWGEN_QUIET", raising=False)
    with step("quick", after=0.5):
        pass
    assert capsys.readouterr().err == ""
    with step("slow", after=0.05):
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert "[hwgen] slow ..." in err and "[hwgen] slow: done in" in err
