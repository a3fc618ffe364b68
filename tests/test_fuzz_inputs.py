"""Property-based fuzzing of the two file formats the TOML fuzz did not cover: schedule files and board files.

Every generated file — well-formed, subtly wrong or garbage — must end in exit 0, or in exactly one line
``hwgen: error: ...`` with exit 2 and nothing written; any other exception fails the test (hypothesis then
shrinks it to a minimal reproducer). `make test` runs a few dozen cases per format, `make test-full`
(``HYPOTHESIS_PROFILE=full``) several hundred.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwgen.cli import main

ROOT = Path(__file__).resolve().parents[1]
settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "full",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def check(code: int, err: str, out_dir: Path | None = None) -> None:
    assert code in (0, 2), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hwgen: error: "), err
        if out_dir is not None:
            assert not out_dir.exists()


def call(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


# ------------------------------------------------------------------------ schedule files
def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """Valid three times in four, so that whole files are often valid and the bad value is the only one."""
    return st.one_of(good, good, good, bad)


junk = st.one_of(
    st.integers(-3, 0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(alphabet="ab1 /.", max_size=4),
    st.none(),
)
bad_value = junk.map(repr)
small = st.integers(1, 6)
type_names = mostly(
    st.sampled_from(["Int(8)", "'Int(8)'"]),
    st.sampled_from(["UInt(4)", "Int(4)", "Int(60)", "'bogus'", "Fixed(8, 4)", "None", "3"]),
)
acc_names = mostly(st.sampled_from(["Int(20)", "'Int(20)'"]), st.sampled_from(["Int(4)", "Int(60)", "'Int(2x)'"]))
names = mostly(st.sampled_from(["g", "net_1"]), st.sampled_from(["my graph", "../up", "a/b", "", "_" * 60, "7up"]))


@st.composite
def weights(draw, k: int, n: int) -> str:
    good = st.integers(-8, 8).map(lambda v: f"np.full(({k}, {n}), {v})")
    bad = st.sampled_from(
        [
            f"np.ones(({k}, {n})) * 0.5",
            f"[[True] * {n}] * {k}",
            f"np.full(({k}, {n}), 300)",
            f"np.ones(({k + 1}, {n}), dtype=int)",
            "'w'",
            f"np.ones({k})",
            f"np.full(({k}, {n}), np.nan)",
        ]
    )
    return draw(mostly(good, bad))


@st.composite
def schedule_sources(draw) -> str:
    widths = draw(st.lists(small, min_size=2, max_size=4))
    rows = draw(mostly(small.map(str), bad_value))
    lines = [
        "import numpy as np",
        "from hwgen import Int, UInt, Fixed",
        "from hwgen.schedule import Machine, TaskGraph",
        f"graph = TaskGraph({draw(names)!r})",
        f"graph.input('x', {rows}, {widths[0]}, {draw(type_names)})",
    ]
    prev = "x"
    for i, (k, n) in enumerate(zip(widths, widths[1:])):
        overflow = draw(mostly(st.just("wrap"), st.sampled_from(["saturate", "bogus"])))
        lines.append(f"graph.gemm('l{i}', {prev!r}, {draw(weights(k, n))}, acc=Int(20), overflow={overflow!r})")
        prev = f"l{i}"
        mult = draw(mostly(st.integers(1, 1 << 20).map(str), bad_value))
        shift = draw(mostly(st.integers(8, 24).map(str), st.sampled_from(["-1", "63", "2.5"])))
        lines.append(f"graph.requant('q{i}', {prev!r}, multiplier={mult}, shift={shift}, out={draw(type_names)})")
        prev = f"q{i}"
        if draw(st.booleans()):
            lines.append(f"graph.relu('r{i}', {prev!r})")
            prev = f"r{i}"
    fields = {
        "cores": small,
        "lanes": small,
        "onchip_bytes": st.integers(0, 4096),
        "offchip_latency": small,
        "switch_cycles": st.integers(2, 6),
        "offchip_bytes_per_cycle": st.floats(0.25, 8),
    }
    machine = ", ".join(f"{f}={draw(mostly(g.map(repr), bad_value))}" for f, g in fields.items() if draw(st.booleans()))
    lines.append(f"machine = Machine({machine})")
    if draw(st.booleans()):
        lines.append(f"inputs = {{'x': np.full(({rows}, {widths[0]}), {draw(st.integers(-300, 300))})}}")
    return "\n".join(lines) + "\n"


@given(source=schedule_sources(), out=st.booleans(), run=st.booleans())
def test_schedule_files_end_in_exit_0_or_one_line(tmp_path_factory, capsys, source, out, run):
    tmp = tmp_path_factory.mktemp("sched")
    f = tmp / "s.py"
    f.write_text(source)
    out_dir = tmp / "new" / "out"
    argv = ["schedule", str(f), "--policy", "sequential"]
    argv += ["--out", str(out_dir)] if out else []
    argv += ["--run"] if run and not out else []
    code, err = call(capsys, *argv)
    check(code, err, out_dir if out else None)


# ------------------------------------------------------------------------ board files
GOOD_BOARD = (ROOT / "boards" / "ulx3s_85f.toml").read_text()
BOARD_KEYS = [
    "title",
    "family",
    "part",
    "package",
    "speed_grade",
    "oscillator_mhz",
    "default_clock_mhz",
    "lut",
    "ff",
    "dsp",
    "bram",
    "[capacity]",
    "[sources]",
    "[board]",
]
values = st.one_of(
    st.sampled_from(
        [
            '""',
            '"ecp5"',
            '"xc7"',
            '"LFE5U-12F-6BG256C"',
            '"not-a-part"',
            "0",
            "-5",
            "1e9",
            "nan",
            "inf",
            "true",
            '"x"',
            "[1, 2]",
            "{a = 1}",
            "3000.0",
        ]
    ),
    st.integers(-10, 10**6).map(str),
)


@st.composite
def board_texts(draw) -> bytes:
    lines = GOOD_BOARD.splitlines()
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        kind = draw(st.sampled_from(["drop", "set", "insert", "garbage"]))
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "drop":
            lines.pop(i)
        elif kind == "set" and "=" in lines[i]:
            lines[i] = lines[i].split("=")[0] + "= " + draw(values)
        elif kind == "insert":
            lines.insert(i, f"{draw(st.sampled_from(BOARD_KEYS)).strip('[]')} = {draw(values)}")
        else:
            lines.insert(i, draw(st.text(max_size=8)))
    data = "\n".join(lines).encode()
    return data + (b"\xff" if draw(st.integers(0, 9)) == 0 else b"")


@given(text=board_texts())
def test_board_files_end_in_exit_0_or_one_line(tmp_path_factory, capsys, monkeypatch, text):
    tmp = tmp_path_factory.mktemp("board")
    (tmp / "fuzz.toml").write_bytes(text)
    monkeypatch.setenv("HWGEN_BOARDS", str(tmp))
    check(*call(capsys, "boards"))
    out_dir = tmp / "rep"
    code, err = call(
        capsys,
        "report",
        str(ROOT / "examples" / "mac_pe_int8.toml"),
        "--board",
        "fuzz",
        "--no-synth",
        "--out",
        str(out_dir),
    )
    check(code, err, out_dir)


@pytest.mark.slow
def test_fuzz_profiles_are_registered():
    assert settings.get_profile("full").max_examples >= 400
