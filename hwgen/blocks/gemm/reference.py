"""The GEMM cores' behavioural reference for formal proofs: each output column's dot product written out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from amaranth.hdl import Const, Module, Mux, Signal, Value

from ...reference import Reference

if TYPE_CHECKING:
    from .core import GemmCoreConfig


def epilogue(slice_: GemmCoreConfig, acc: Value, col: int) -> Value:
    """Column ``col``: ``acc + bias`` wrapped to the accumulator, then ``clamp(zero_point +
    round_shift(acc·multiplier, shift, rounding))`` when ``requant``, then ``max(zero_point or 0, y)`` when
    ``relu`` — :mod:`hwgen.requant` written as plain arithmetic."""
    bias, mult, n = slice_.column_params()[col]
    if bias:
        acc = (acc + bias).as_signed()[: slice_.acc.width].as_signed()
    y = acc
    if slice_.requant:
        v = acc * mult
        if n:
            mag = Mux(v < 0, -v, v)
            if slice_.rounding == "half_even":  # a tie: the remainder is exactly half; then up if t is odd
                t, rem = mag >> n, mag & ((1 << n) - 1)
                q = t + Mux(rem > (1 << (n - 1)), 1, Mux(rem == (1 << (n - 1)), t & 1, 0))
            else:
                q = ((mag >> (n - 1)) + 1) >> 1
            v = Mux(v < 0, -q, q)
        y = slice_.zero_point + v
        out = slice_.out
        y = Mux(y < out.min, out.min, Mux(y > out.max, out.max, y))
    if slice_.relu:
        floor = slice_.zero_point if slice_.requant else 0
        y = Mux(y < floor, floor, y)
    return y


class GemmReference(Reference):
    """Records ``(slice, rows)`` run in order, forever: a row of ``k`` activation beats of the record's slice
    gives ``y[j] = epilogue(wrap_acc(Σ_kk x[kk]·W[kk][j]))`` for ``j < n``, emitted in column order after
    the row's last beat. A fixed GEMM core is one record of unbounded rows."""

    def __init__(self, config: Any, records: list[tuple[GemmCoreConfig, int]]):
        super().__init__(config.component(), emits=max(s.n for s, _ in records))
        self.records = records

    def logic(self, m: Module) -> None:
        take, x = self.take["i"], self.beat["i"]
        n_max, k_max = len(self.results), max(s.k for s, _ in self.records)
        acc_t = self.records[0][0].acc
        record = Signal(range(max(len(self.records), 2)))
        row = Signal(range(max(r for _, r in self.records) + 1))
        beat = Signal(range(k_max + 1))
        sums = [Signal(acc_t.shape, name=f"sum{j}") for j in range(n_max)]
        for i, (s, rows) in enumerate(self.records):
            with m.If(record == i):
                row_end = beat == s.k - 1
                new = []
                for j in range(s.n):
                    w = Const(0, 2)
                    for kk in range(s.k):
                        w = Mux(beat == kk, Const(int(s.weights[kk][j]), s.weight.shape), w)
                    total = Signal(acc_t.shape, name=f"new{i}_{j}")
                    m.d.comb += [total.eq(sums[j] + x * w), self.results[j].eq(epilogue(s, total, j))]
                    new.append(total)
                m.d.comb += self.emit.eq(Mux(take & row_end, s.n, 0))
                with m.If(take):
                    m.d.sync += [sums[j].eq(Mux(row_end, 0, new[j])) for j in range(s.n)]
                    m.d.sync += beat.eq(Mux(row_end, 0, beat + 1))
                    if rows and len(self.records) > 1:
                        with m.If(row_end):
                            last_row = row == rows - 1
                            m.d.sync += row.eq(Mux(last_row, 0, row + 1))
                            m.d.sync += record.eq(Mux(last_row, (i + 1) % len(self.records), i))
