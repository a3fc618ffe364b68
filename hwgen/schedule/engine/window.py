"""The sliding-window reader: a conv's im2col row, read from the image's scratchpad one word per cycle.

For output pixel ``(oy, ox)`` (the conv's row ``r`` in this slot; rows come
in order, one per slot) the reader walks ``ky``, ``kx``, channel ``c`` (the
fastest last; :class:`~hwgen.schedule.window.Window`) and reads input pixel
``(oy·sh − top + ky, ox·sw − left + kx)``, channel ``c``, from the
scratchpad bank holding that channel; outside the image the word is the pad
value (an extra "bank" that is a constant). It times its words as
:meth:`~.buffers.Buffer.bank_reader` does: the first read in the slot's first
cycle, valid the next, each next one issued when the previous is taken.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed

from ..window import Window
from .buffers import Buffer, issue_words


def window_reader(
    m: Module, name: str, buf: Buffer, w: Window, pad_value: int, start: Value, row: Value, taken: Value
) -> tuple[Signal, list[Value], Signal]:
    """Stream the im2col row of output row ``row`` (``row`` 0 at the stage's first slot, then one more per
    slot that ``start``s): ``(valid, words, bank)`` as :meth:`~.buffers.Buffer.bank_reader` returns them,
    ``words`` ending with the pad value (the bank of a word outside the image)."""
    valid, en, _ = issue_words(m, name, w.length, start, taken)
    iy0, ix0 = _window_origin(m, name, w, start, row)
    c = Signal(range(max(w.channels, 2)), name=f"{name}_c")
    kx = Signal(range(max(w.kw, 2)), name=f"{name}_kx")
    ky = Signal(range(max(w.kh, 2)), name=f"{name}_ky")
    with m.If(en):  # the next word's position; after the row's last word all three are 0 again
        m.d.sync += c.eq(Mux(c == w.channels - 1, 0, c + 1))
        with m.If(c == w.channels - 1):
            m.d.sync += kx.eq(Mux(kx == w.kw - 1, 0, kx + 1))
            with m.If(kx == w.kw - 1):
                m.d.sync += ky.eq(Mux(ky == w.kh - 1, 0, ky + 1))
    iy, ix = Signal(signed(32), name=f"{name}_iy"), Signal(signed(32), name=f"{name}_ix")
    m.d.comb += [iy.eq(iy0 + ky), ix.eq(ix0 + kx)]
    inside = (iy >= 0) & (iy < w.height) & (ix >= 0) & (ix < w.width)
    pixel = Signal(range(max(w.height * w.width, 2)), name=f"{name}_pixel")
    m.d.comb += pixel.eq(iy * w.width + ix)
    words, bank_of = buf.read_banks(en, pixel, c)
    words.append(Const(pad_value, signed(max(pad_value.bit_length() + 1, 2))))
    bank_q = Signal(range(len(buf.banks) + 1), name=f"{name}_bank")
    with m.If(en):
        m.d.sync += bank_q.eq(Mux(inside, bank_of, len(buf.banks)))
    return valid, words, bank_q


def _window_origin(m: Module, name: str, w: Window, start: Value, row: Value) -> tuple[Value, Value]:
    """``(oy·sh − top, ox·sw − left)`` of the row being read: registers that step with each ``start`` (to
    the next output pixel, or back to the first when ``row`` is 0), the stepped value used in that cycle."""
    y0, x0 = Signal(signed(32), name=f"{name}_y0"), Signal(signed(32), name=f"{name}_x0")
    ox = Signal(range(max(w.out_width, 2)), name=f"{name}_ox")
    wrap = ox == w.out_width - 1
    first = row == 0
    next_y0 = Mux(first, -w.top, Mux(wrap, y0 + w.sh, y0))
    next_x0 = Mux(first | wrap, -w.left, x0 + w.sw)
    next_ox = Mux(first | wrap, 0, ox + 1)
    with m.If(start):
        m.d.sync += [y0.eq(next_y0), x0.eq(next_x0), ox.eq(next_ox)]
    return Mux(start, next_y0, y0), Mux(start, next_x0, x0)
