"""Board files: all shipped boards load; malformed ones fail with file:key errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwgen import BoardError
from hwgen.boards import FAMILIES, available_boards, load_board, parse_board

REQUIRED = {"alveo_u280", "alveo_u55c", "zcu104", "arty_a7_100t", "ulx3s_85f", "icebreaker"}


def test_required_boards_ship_and_validate():
    assert REQUIRED <= set(available_boards())
    for name in available_boards():
        b = load_board(name)
        assert b.family in FAMILIES
        assert all(b.sources[k] for k in b.capacity)


def test_datasheet_figures():
    """Spot checks against shared/specs/estimation.md's datasheet list."""
    assert load_board("arty_a7_100t").capacity == {"lut": 63400, "ff": 126800, "dsp": 240, "bram": 135}
    u280 = load_board("alveo_u280").capacity
    assert (u280["dsp"], u280["bram"], u280["uram"]) == (9024, 2016, 960)
    assert load_board("icebreaker").capacity["dsp"] == 8
    assert load_board("ulx3s_85f").capacity["dsp"] == 156


GOOD = Path(__file__).resolve().parents[1] / "boards" / "arty_a7_100t.toml"


@pytest.mark.parametrize(
    "edit,pattern",
    [
        (
            lambda t: t.replace('family = "xc7"', 'family = "stratix"'),
            r"x\.toml:board\.family: 'stratix' is not supported",
        ),
        (lambda t: t.replace("lut = 63400", "lut = -5"), r"x\.toml:capacity\.lut: expected a count"),
        (lambda t: t.replace("lut = 63400", 'lut = "many"'), r"x\.toml:capacity\.lut"),
        (lambda t: t.replace("dsp = 240", "dsps = 240"), r"x\.toml:capacity\.dsps: unknown resource"),
        (
            lambda t: t.replace("[sources]", "[sources]\n").replace('dsp = "Xilinx', 'dspx = "Xilinx'),
            r"x\.toml:sources\.dsp: every capacity figure must cite its datasheet",
        ),
        (lambda t: t.replace("default_clock_mhz = 100.0", ""), r"x\.toml:board\.default_clock_mhz: missing"),
        (lambda t: t + "\n[extra]\n", r"x\.toml:extra: unknown table"),
        (lambda t: t.replace("[capacity]", "[capacity"), r"x\.toml: not valid TOML"),
    ],
)
def test_malformed_board_files(edit, pattern):
    with pytest.raises(BoardError, match=pattern):
        parse_board(edit(GOOD.read_text()), Path("x.toml"))


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError, match=r"unknown board 'u250'; available: alveo_u280"):
        load_board("u250")
