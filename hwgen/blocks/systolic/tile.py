"""Tiles: combinational grids of PEs (Gemmini's Tile level).

Inside a tile nothing is registered between PEs: activations are broadcast
along a tile row, partial sums (WS) ripple down a tile column in the same
cycle. Tile latency is therefore 0 cycles; the mesh puts registers between
tiles. A ``rows × cols`` tile holds ``rows·cols`` PEs.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ...numtype import NumType
from ..mac_pe import MacPEConfig
from .pe import OutputStationaryPE, WeightStationaryPE

#: Cycles from a tile's inputs to its outputs.
TILE_LATENCY = 0


def column_ends(pe: MacPEConfig, columns: list[tuple[NumType, NumType]] | None) -> tuple[NumType, NumType]:
    """Partial-sum types entering the first and leaving the last of PE rows with column-sum types
    ``columns`` (accumulators without)."""
    return (columns[0][0], columns[-1][1]) if columns else (pe.acc, pe.acc)


class WeightStationaryTile(wiring.Component):
    """``rows × cols`` weight-stationary PEs.

    In: ``a[rows]``, ``psum_in[cols]``, ``w_bus[cols]``, ``load[rows]``, ``advance``
    (enables the PEs' pipeline registers). Out: ``psum_out[cols]`` = the column sums after the
    tile's last row. ``columns[r]``: (in, out) column-sum types of PE row ``r`` (column sums, see
    :class:`~.pe.WeightStationaryPE`); left out, partial sums are accumulators.
    """

    def __init__(self, pe: MacPEConfig, rows: int, cols: int, columns: list[tuple[NumType, NumType]] | None = None):
        self.pe, self.rows, self.cols, self.columns = pe, rows, cols, columns
        t_in, t_out = column_ends(pe, columns)
        super().__init__(
            {
                "a": In(data.ArrayLayout(pe.act.shape, rows)),
                "psum_in": In(data.ArrayLayout(t_in.shape, cols)),
                "w_bus": In(data.ArrayLayout(pe.weight.shape, cols)),
                "load": In(rows),
                "advance": In(1),
                "psum_out": Out(data.ArrayLayout(t_out.shape, cols)),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        for c in range(self.cols):
            psum = self.psum_in[c]
            for r in range(self.rows):
                column = self.columns[r] if self.columns else None
                pe = m.submodules[f"pe_{r}_{c}"] = WeightStationaryPE(self.pe, column)
                m.d.comb += [
                    pe.a.eq(self.a[r]),
                    pe.psum_in.eq(psum),
                    pe.w_bus.eq(self.w_bus[c]),
                    pe.load.eq(self.load[r]),
                    pe.advance.eq(self.advance),
                ]
                psum = pe.psum_out
            m.d.comb += self.psum_out[c].eq(psum)
        return m


class OutputStationaryTile(wiring.Component):
    """``rows × cols`` output-stationary PEs.

    In: ``a[rows]``, ``w[cols]``, ``first[rows]``, ``last[rows]``, ``en``.
    Out: ``acc[rows][cols]``, ``done[rows][cols]``, ``done_high[rows][cols]`` (see the PE).
    """

    def __init__(self, pe: MacPEConfig, rows: int, cols: int):
        self.pe, self.rows, self.cols = pe, rows, cols
        grid = data.ArrayLayout(data.ArrayLayout(pe.acc.shape, cols), rows)
        super().__init__(
            {
                "a": In(data.ArrayLayout(pe.act.shape, rows)),
                "w": In(data.ArrayLayout(pe.weight.shape, cols)),
                "first": In(rows),
                "last": In(rows),
                "en": In(1),
                "acc": Out(grid),
                "done": Out(data.ArrayLayout(cols, rows)),
                "done_high": Out(data.ArrayLayout(cols, rows)),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        for r in range(self.rows):
            for c in range(self.cols):
                pe = m.submodules[f"pe_{r}_{c}"] = OutputStationaryPE(self.pe)
                m.d.comb += [
                    pe.a.eq(self.a[r]),
                    pe.w.eq(self.w[c]),
                    pe.en.eq(self.en),
                    pe.first.eq(self.first[r]),
                    pe.last.eq(self.last[r]),
                    self.acc[r][c].eq(pe.acc),
                    self.done[r][c].eq(pe.done),
                    self.done_high[r][c].eq(pe.done_high),
                ]
        return m
