"""Meshes: tiles with a pipeline register on every tile boundary (Gemmini's Mesh level).

A mesh of ``R × C`` PEs cut into tiles of ``tile × tile`` PEs (edge tiles may
be smaller) has ``NI = ceil(R / tile)`` tile rows and ``NJ = ceil(C / tile)``
tile columns. It is built as ``NI`` *mesh rows* (one tile row each, with its
registers); identical mesh rows become one shared Verilog module
(:mod:`hwgen.hierarchy`). Every register is enabled by ``advance`` (the
array's global stall) and has no reset.

Weight-stationary timing: activations of tile row ``I`` enter at cycle
``T + I``, partial sums of tile column ``J`` at ``T + J``; tile ``(I, J)``
computes at ``T + I + J`` and the results of tile column ``J`` leave the mesh
(registered) at ``T + NI + J`` — mesh latency ``NI`` for column 0.

Output-stationary timing: tile row ``I`` enters at ``T + I``, tile column
``J``'s weights at ``T + J``; PE ``(i, j)`` accumulates at ``T + i + j`` and
is read out one cycle later through its column's read-out multiplexer, whose
select is a register (see :func:`readout`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ...hierarchy import add_shared, target_family
from ...numtype import NumType
from ...pipeline import register
from ..mac_pe import MacPEConfig
from .pe import split_point
from .tile import OutputStationaryTile, WeightStationaryTile, column_ends


def tile_spans(n: int, tile: int) -> list[tuple[int, int]]:
    """``(start, size)`` of each tile along a dimension of ``n`` PEs."""
    return [(s, min(tile, n - s)) for s in range(0, n, tile)]


def _key(kind: str, pe: MacPEConfig, rows: int, cols: int, tile: int) -> str:
    return f"{kind}(pe={sorted(pe.params().items())}, rows={rows}, cols={cols}, tile={tile})"


@dataclass(frozen=True)
class RowKind:
    """How identical mesh rows stack: ``make()`` builds one row; ``sliced`` ports carry each row's own bits
    (row ``k`` gets, or for an output drives, slice ``k``); ``shared`` ports go to every row; ``chained``
    maps an input port to the output port that feeds the next row's copy of it (the last row's drives the
    stack's output)."""

    key: str
    make: Callable[[], wiring.Component]
    sliced: tuple[str, ...]
    shared: tuple[str, ...]
    chained: tuple[tuple[str, str], ...]


def stack_part(m: Module, platform: object, name: str, kind: RowKind, count: int) -> wiring.Component:
    """``count`` rows of ``kind`` added to ``m`` as one shared module: the row itself for one, else a
    :class:`RowStack`."""
    if count == 1:
        part = kind.make()
        add_shared(m, platform, name, part, kind.key, kind.make)
    else:
        part = RowStack(kind, count)
        add_shared(m, platform, name, part, f"stack{count}_{kind.key}", lambda: RowStack(kind, count))
    return part


class RowStack(wiring.Component):
    """``count`` identical mesh rows, top to bottom, as one shared module built from two smaller stacks.

    Every mesh row of an array is the same module; stacking them in halves (64 = 32 + 32 = 4 × 16 ...)
    makes the number of distinct modules, and the wiring Amaranth and Yosys process, grow with
    ``log(rows)`` instead of ``rows``. The logic is exactly the chain of rows. Ports are the row's, flat:
    a sliced port is ``count`` times wider (row 0 in the low bits)."""

    def __init__(self, kind: RowKind, count: int):
        assert count >= 2, "one row is the row itself (stack_part)"
        self.kind, self.count = kind, count
        proto = kind.make()
        proto._MustUse__used = True  # only its signature is read
        widths = {str(path[0]): len(Value.cast(v)) for path, _, v in proto.signature.flatten(proto)}
        flows = {name: member.flow for name, member in proto.signature.members.items()}
        ports = {}
        for name, width in widths.items():
            w = width * count if name in kind.sliced else width
            ports[name] = In(w) if flows[name] == wiring.In else Out(w)
        self._row_widths, self._flows = widths, flows
        super().__init__(ports)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        kind = self.kind
        half = self.count // 2
        parts = []
        for i, (n, first) in enumerate(((half, 0), (self.count - half, half))):
            parts.append((f"rows_{i}", stack_part(m, platform, f"rows_{i}", kind, n), first))
        chained_in = {i: o for i, o in kind.chained}
        previous = None
        for _, part, first in parts:
            n = part.count if isinstance(part, RowStack) else 1
            for name in kind.sliced:
                w = self._row_widths[name]
                mine = getattr(self, name)[first * w : (first + n) * w]
                theirs = getattr(part, name)
                m.d.comb += theirs.eq(mine) if self._flows[name] == wiring.In else mine.eq(theirs)
            for name in kind.shared:
                m.d.comb += getattr(part, name).eq(getattr(self, name))
            for i, o in chained_in.items():
                m.d.comb += getattr(part, i).eq(getattr(self, i) if previous is None else getattr(previous, o))
            previous = part
        for _, o in chained_in.items():
            m.d.comb += getattr(self, o).eq(getattr(previous, o))
        return m


# --------------------------------------------------------------------------- weight stationary
#: Column-sum types of PE row ``r`` of a mesh: ``(in, out)``, see :class:`~.pe.WeightStationaryPE`.
Columns = list[tuple[NumType, NumType]]


def _ws_ports(pe: MacPEConfig, rows: int, cols: int, t_in: NumType, t_out: NumType) -> dict:
    """Ports shared by a weight-stationary mesh and each of its mesh rows."""
    return {
        "a": In(data.ArrayLayout(pe.act.shape, rows)),
        "psum_in": In(data.ArrayLayout(t_in.shape, cols)),
        "w_bus": In(data.ArrayLayout(pe.weight.shape, cols)),
        "load": In(rows),
        "advance": In(1),
        "psum_out": Out(data.ArrayLayout(t_out.shape, cols)),
    }


class WeightStationaryMeshRow(wiring.Component):
    """One tile row of a weight-stationary mesh: ``rows × cols`` PEs.

    In: ``a[rows]``, ``psum_in[cols]`` (span ``S`` skewed by ``S``),
    ``w_bus[cols]``, ``load[rows]``, ``advance``. Out: ``psum_out[cols]``,
    registered under every tile (span ``S`` valid ``S`` cycles after
    span 0). Activations are broadcast within a span of ``span`` columns (a
    multiple of ``tile``) and registered between spans.
    """

    def __init__(self, pe: MacPEConfig, rows: int, cols: int, tile: int, span: int, columns: Columns | None):
        self.pe, self.rows, self.cols, self.tile, self.span, self.columns = pe, rows, cols, tile, span, columns
        super().__init__(_ws_ports(pe, rows, cols, *column_ends(pe, columns)))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        spans = tile_spans(self.cols, self.tile)
        a = [self.a[r] for r in range(self.rows)]
        pe, nr, columns = self.pe, self.rows, self.columns
        for J, (c0, nc) in enumerate(spans):
            t = WeightStationaryTile(pe, nr, nc, columns)
            key = _key("ws_tile", pe, nr, nc, nc) + f"(columns={columns})"
            add_shared(m, platform, f"tile_{J}", t, key, lambda nc=nc: WeightStationaryTile(pe, nr, nc, columns))
            m.d.comb += [t.load.eq(self.load), t.advance.eq(self.advance)]
            for r in range(self.rows):
                m.d.comb += t.a[r].eq(a[r])
            for c in range(nc):
                m.d.comb += [
                    t.psum_in[c].eq(self.psum_in[c0 + c]),
                    t.w_bus[c].eq(self.w_bus[c0 + c]),
                    self.psum_out[c0 + c].eq(register(m, t.psum_out[c], self.advance, f"psum{c0 + c}")),
                ]
            end = c0 + nc
            if end < self.cols and end % self.span == 0:
                a = [register(m, a[r], self.advance, f"a{r}_{J}") for r in range(self.rows)]
        return m


class WeightStationaryMesh(wiring.Component):
    """``R × C`` weight-stationary PEs: ``NI`` mesh rows, partial sums flowing down.

    In: ``a[R]`` (tile row ``I`` skewed by ``I`` cycles), ``psum_in[C]``
    (span ``S`` skewed by ``S``), ``w_bus[C]``, ``load[R]``,
    ``advance``. Out: ``psum_out[C]`` (span ``S`` is ``S`` cycles later
    than span 0). ``column(n)``: the type of a column sum of ``n`` products (column sums, which
    grow down the mesh), or ``None`` (accumulators).
    """

    def __init__(
        self, pe: MacPEConfig, rows: int, cols: int, tile: int, span: int, column: Callable[[int], NumType] | None
    ):
        self.pe, self.rows, self.cols, self.tile, self.span = pe, rows, cols, tile, span
        self.columns = [(column(max(r, 1)), column(r + 1)) for r in range(rows)] if column else None
        super().__init__(_ws_ports(pe, rows, cols, *column_ends(pe, self.columns)))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        pe, C, t, s = self.pe, self.cols, self.tile, self.span
        psum = self.psum_in
        for I, (r0, nr, count) in enumerate(_stacks(self.rows, t, self.columns)):
            cols = self.columns[r0 : r0 + nr] if self.columns else None
            kind = RowKind(
                _key("ws_row", pe, nr, C, t) + f"(span={s}, columns={cols})",
                lambda nr=nr, cols=cols: WeightStationaryMeshRow(pe, nr, C, t, s, cols),
                sliced=("a", "load"),
                shared=("w_bus", "advance"),
                chained=(("psum_in", "psum_out"),),
            )
            stack = stack_part(m, platform, f"rows_{I}", kind, count)
            m.d.comb += [
                stack.advance.eq(self.advance),
                stack.load.eq(self.load[r0 : r0 + nr * count]),
                stack.psum_in.eq(psum),
                stack.w_bus.eq(self.w_bus),
                stack.a.eq(self.a.as_value()[r0 * pe.act.width : (r0 + nr * count) * pe.act.width]),
            ]
            psum = stack.psum_out
        m.d.comb += self.psum_out.eq(psum)
        return m


def _stacks(rows: int, tile: int, columns: Columns | None = None) -> list[tuple[int, int, int]]:
    """``(first PE row, PE rows per mesh row, mesh rows)`` of each run of identical mesh rows: mesh rows of
    ``tile`` PE rows (the last one smaller if ``tile`` does not divide ``rows``) that also have the same
    column-sum types."""
    runs: list[list] = []
    for r0, nr in tile_spans(rows, tile):
        key = (nr, tuple(columns[r0 : r0 + nr]) if columns else None)
        if runs and runs[-1][3] == key:
            runs[-1][2] += 1
        else:
            runs.append([r0, nr, 1, key])
    return [(r0, nr, count) for r0, nr, count, _ in runs]


# --------------------------------------------------------------------------- output stationary
class OutputStationaryMeshRow(wiring.Component):
    """One tile row of an output-stationary mesh: ``rows × cols`` PEs.

    In: ``a[rows]``, ``first[rows]``, ``last[rows]``, ``w_in[cols]`` (tile
    column ``J`` skewed by ``J``), ``advance``. Out: ``w_out[cols]``
    (registered, for the next tile row) and each PE's accumulator and flags,
    row-major (PE ``(r, c)`` at ``r * cols + c``): ``acc``, ``done``,
    ``done_high`` (see :class:`~.pe.OutputStationaryPE`).
    """

    def __init__(self, pe: MacPEConfig, rows: int, cols: int, tile: int):
        self.pe, self.rows, self.cols, self.tile = pe, rows, cols, tile
        super().__init__(
            {
                "a": In(data.ArrayLayout(pe.act.shape, rows)),
                "first": In(rows),
                "last": In(rows),
                "w_in": In(data.ArrayLayout(pe.weight.shape, cols)),
                "advance": In(1),
                "w_out": Out(data.ArrayLayout(pe.weight.shape, cols)),
                "acc": Out(data.ArrayLayout(pe.acc.width, rows * cols)),
                "done": Out(rows * cols),
                "done_high": Out(rows * cols),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        spans = tile_spans(self.cols, self.tile)
        a = [self.a[r] for r in range(self.rows)]
        first = [self.first[r] for r in range(self.rows)]
        last = [self.last[r] for r in range(self.rows)]
        for J, (c0, nc) in enumerate(spans):
            t = m.submodules[f"tile_{J}"] = OutputStationaryTile(self.pe, self.rows, nc)
            m.d.comb += t.en.eq(self.advance)
            for r in range(self.rows):
                m.d.comb += [t.a[r].eq(a[r]), t.first[r].eq(first[r]), t.last[r].eq(last[r])]
            for c in range(nc):
                for r in range(self.rows):
                    k = r * self.cols + c0 + c
                    m.d.comb += [
                        self.acc[k].eq(t.acc[r][c].as_unsigned()),
                        self.done[k].eq(t.done[r][c]),
                        self.done_high[k].eq(t.done_high[r][c]),
                    ]
                m.d.comb += [
                    t.w[c].eq(self.w_in[c0 + c]),
                    self.w_out[c0 + c].eq(register(m, self.w_in[c0 + c], self.advance, f"w{c0 + c}")),
                ]
            if J + 1 < len(spans):
                a = [register(m, a[r], self.advance, f"a{r}_{J}") for r in range(self.rows)]
                first = [register(m, first[r], self.advance, f"first{r}_{J}") for r in range(self.rows)]
                last = [register(m, last[r], self.advance, f"last{r}_{J}") for r in range(self.rows)]
        return m


#: Read-out multiplexer per family: LUT6 families select 4 words' bit per LUT on a select register, LUT4
#: families AND-OR 2 PEs' bit per LUT on the flags (a LUT4 multiplexer takes 7 LUTs per 8 words' bit
#: against 5 AND-OR). None (Amaranth's simulator, family-independent Verilog) uses the multiplexer.
READOUT_STYLE = {"ecp5": "and_or", "ice40": "and_or"}


def readout(m: Module, accs: list[Value], done: list[Value], advance: Value, name: str, style: str) -> Value:
    """Column read-out: ``accs[r]`` in the cycle ``done[r]`` is high.

    ``style="and_or"``: ``OR_r (done[r] ? accs[r] : 0)`` (0 when no row is done).
    ``style="mux"``: one ``R``-way multiplexer on a select register (any word when no row is done). The
    skew makes a column's ``done`` one-hot and moves it down one row per advancing cycle: row ``r + 1``
    finishes in the cycle after row ``r``, and row 0 of the next tile no sooner than after row ``R - 1``;
    so ``sel <= done[r] ? r + 1 : 0`` (enabled by ``advance``, like the PEs) selects the row finishing
    now, and the flags are not on the path into the multiplexer.
    """
    R = len(accs)
    if R == 1:
        return accs[0]
    if style == "and_or":
        value = Value.cast(0)
        for word, flag in zip(accs, done):
            value = value | Mux(flag, word, 0)
        return value
    sel = Signal(range(R), name=f"{name}_sel", init=0)
    nxt = 0
    for r in range(R - 1):
        nxt = Mux(done[r], r + 1, nxt)
    with m.If(advance):
        m.d.sync += sel.eq(nxt)
    return Cat(*accs).word_select(sel, len(accs[0]))


class OutputStationaryMesh(wiring.Component):
    """``R × C`` output-stationary PEs: ``NI`` mesh rows, weights flowing down.

    In: ``a[R]``, ``first[R]``, ``last[R]`` (tile row ``I`` skewed by ``I``),
    ``w[C]`` (tile column ``J`` skewed by ``J``), ``advance``. Out: the
    column read-outs ``col[C]`` / ``col_valid[C]`` (multiplexers, :func:`readout`): column
    ``j`` carries PE ``(i, j)``'s result in the cycle after its last product.
    """

    def __init__(self, pe: MacPEConfig, rows: int, cols: int, tile: int):
        self.pe, self.rows, self.cols, self.tile = pe, rows, cols, tile
        super().__init__(
            {
                "a": In(data.ArrayLayout(pe.act.shape, rows)),
                "first": In(rows),
                "last": In(rows),
                "w": In(data.ArrayLayout(pe.weight.shape, cols)),
                "advance": In(1),
                "col": Out(data.ArrayLayout(pe.acc.width, cols)),
                "col_valid": Out(cols),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        pe, C, t, A = self.pe, self.cols, self.tile, self.pe.acc.width
        w, acc, done, done_high = self.w, [], [], []
        for I, (r0, nr, count) in enumerate(_stacks(self.rows, t)):
            kind = RowKind(
                _key("os_row", pe, nr, C, t),
                lambda nr=nr: OutputStationaryMeshRow(pe, nr, C, t),
                sliced=("a", "first", "last", "acc", "done", "done_high"),
                shared=("advance",),
                chained=(("w_in", "w_out"),),
            )
            stack = stack_part(m, platform, f"rows_{I}", kind, count)
            m.d.comb += [
                stack.advance.eq(self.advance),
                stack.w_in.eq(w),
                stack.a.eq(self.a.as_value()[r0 * pe.act.width : (r0 + nr * count) * pe.act.width]),
                stack.first.eq(self.first[r0 : r0 + nr * count]),
                stack.last.eq(self.last[r0 : r0 + nr * count]),
            ]
            w = stack.w_out
            n = nr * count * C
            acc += [stack.acc[k * A : (k + 1) * A] for k in range(n)]
            done += [stack.done[k] for k in range(n)]
            done_high += [stack.done_high[k] for k in range(n)]
        L, style = split_point(pe), READOUT_STYLE.get(target_family(platform), "mux")
        for c in range(C):
            rows = range(c, self.rows * C, C)
            words, flags = [acc[k] for k in rows], [done[k] for k in rows]
            if L:  # a split accumulate's high half finishes (and is selected) a cycle after its low half
                flags_high = [done_high[k] for k in rows]
                low = readout(m, [v[:L] for v in words], flags, self.advance, f"col{c}_lo", style)
                high = readout(m, [v[L:] for v in words], flags_high, self.advance, f"col{c}_hi", style)
                m.d.comb += self.col[c].eq(Cat(low, high))
            else:
                m.d.comb += self.col[c].eq(readout(m, words, flags, self.advance, f"col{c}", style))
            m.d.comb += self.col_valid[c].eq(Cat(*flags).any())
        return m
