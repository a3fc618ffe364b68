"""Processing elements of the systolic array (combinational datapaths + their own state).

Both PEs compute one multiply-accumulate per cycle with the MAC PE's number
types and overflow rule (:class:`~hwgen.blocks.mac_pe.MacPEConfig`); the
registers *between* PEs belong to the mesh, so a tile can chain PEs
combinationally.

* :class:`WeightStationaryPE`: holds one weight (loaded from the column's
  weight bus when ``load`` is high); ``psum_out = f(psum_in + a * w)``, or,
  for a column sum (:attr:`~.config.SystolicArrayConfig.psum_below`), the
  exact ``psum_in + a * w`` in the column's width at that row (wrapping only
  where that width is the accumulator's).
* :class:`OutputStationaryPE`: holds one accumulator;
  ``acc <= f((first ? 0 : acc) + a * w)`` when ``en``; ``done`` is high in
  the cycle after the ``last`` product, while ``acc`` holds the result.

``f`` wraps (two's complement at ``acc.width``) or saturates per step.
``pe.pipeline`` adds register stages inside the PE (see :func:`split_point`):

* 0: the product feeds the accumulate adder in the same cycle;
* 1: the product is registered (the multiplier and the adder get a cycle each);
* 2: also the accumulate is split at bit ``L``: the low ``L`` bits add in one
  cycle, the high bits (with the registered carry and the product's sign) one
  cycle later. A partial sum then travels as two halves, the high half one
  cycle behind the low half; the array skews and de-skews the halves.
* 3: registered operands and product (:func:`hwgen.primitives.registered_multiply`:
  a DSP cell's own input and output registers; with ``pe.dsp_cells =
  "mult18x18d"`` an ECP5 MULT18X18D instantiated with them). The WS weight
  register is the multiplier's B register.
* 4: 3 and a second (fabric) product register, so the route from the DSP
  cell to the accumulate adder has a cycle of its own.

Data registers are reset-less so Yosys can absorb them into DSP blocks; the
flags delayed with the product (OS) clear on reset.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...arith import sum_type, to_accumulator
from ...numtype import NumType
from ...pipeline import register
from ...primitives import registered_multiply
from ..mac_pe import MacPEConfig


def product_delay(pe: MacPEConfig) -> int:
    """Cycles from the PE's operands to its product: 0, 1 (registered product), 2 (operands too) or 3 (and
    a second product register)."""
    return {0: 0, 1: 1, 2: 1, 3: 2, 4: 3}[pe.pipeline]


def pe_stages(pe: MacPEConfig) -> int:
    """Cycles the PE's registers add to the array's latency: the product's delay and a split's lag."""
    return product_delay(pe) + (1 if split_point(pe) else 0)


def split_point(pe: MacPEConfig) -> int:
    """``L``: bits of the low half of a split (``pipeline=2``) accumulate; at least the product's width, so
    the product's high part is only its sign. 0 when the PE does not split."""
    if pe.pipeline != 2:
        return 0
    return max(pe.product_type.width, pe.acc.width // 2)


def pe_product(
    m: Module,
    pe: MacPEConfig,
    a: Value,
    b: Value,
    b_enable: Value,
    advance: Value,
    platform: object,
    *,
    stationary_b: bool = False,
) -> Value:
    """``a * b``, :func:`product_delay` cycles later. Pipelines 3 and 4 register both operands in the
    multiplier (``b`` when ``b_enable``, ``a`` when ``advance``; :func:`~hwgen.primitives.registered_multiply`).
    Below that ``b`` must already be a register, or, with ``stationary_b`` and MULT18X18D cells, it is
    the cell's B register (loaded when ``b_enable``), so a stationary weight costs no fabric flip-flops."""
    if pe.pipeline >= 3 or stationary_b:
        regs = "abp" if pe.pipeline >= 3 else "bp" if pe.pipeline >= 1 else "b"
        prod = registered_multiply(
            m, a, b, a_enable=advance, b_enable=b_enable, p_enable=advance, name="prod", cell=pe.dsp_cells,
            platform=platform, registers=regs,
        )  # fmt: skip
        return register(m, prod, advance, "prod2") if pe.pipeline == 4 else prod
    return register(m, a * b, advance, "prod") if pe.pipeline >= 1 else a * b


def weight_in_cell(pe: MacPEConfig) -> bool:
    """Whether a WS PE's stationary weight is a multiplier register (MULT18X18D cells at any pipeline, or
    pipelines 3 and 4, whose multiplier registers both operands)."""
    return pe.pipeline >= 3 or pe.dsp_cells == "mult18x18d"


class _Product:
    """The PE's product ``prod`` and its split parts for ``pipeline = 2``: ``low`` (the product's low ``L``
    bits, sign-extended) now and ``high`` (the product's sign extension into the high ``H`` bits) one cycle
    later."""

    def __init__(self, m: Module, pe: MacPEConfig, prod: Value, advance: Value):
        self.value = prod
        self.split = split_point(pe)
        if self.split:
            full = Signal(pe.acc.shape)
            m.d.comb += full.eq(prod)
            L, H = self.split, pe.acc.width - self.split
            self.low = full.as_unsigned()[:L]
            neg = register(m, prod < 0, advance, "prod_neg") if pe.product_type.signed else Value.cast(0)
            self.high = neg.replicate(H)


def split_add(
    m: Module, pe: MacPEConfig, base_low: Value, base_high: Value, p: _Product, advance: Value, name: str
) -> tuple[Value, Value]:
    """Split accumulate: ``(low, high)`` with ``low = base_low + p.low`` (mod 2^L) now and ``high =
    base_high + p.high + carry`` (mod 2^H), the carry of this cycle's low add registered for the next."""
    L, H = p.split, pe.acc.width - p.split
    low = Signal(L + 1, name=f"{name}_lo")
    m.d.comb += low.eq(base_low + p.low)
    carry = register(m, low[L], advance, f"{name}_carry")
    high = Signal(H, name=f"{name}_hi")
    m.d.comb += high.eq(base_high + p.high + carry)
    return low[:L], high


def accumulate(m: Module, pe: MacPEConfig, base: Value, product: Value, name: str) -> Signal:
    """``f(base + product)`` as a signal of the accumulator type (wrap or saturate)."""
    return to_accumulator(
        m, pe.acc, pe.overflow, base + product, sum_type(pe.acc, pe.product_type), name, full_name=f"{name}_sum"
    )


def column_add(m: Module, out: NumType, base: Value, base_type: NumType, product: Value, pe: MacPEConfig) -> Signal:
    """``base + product`` in type ``out``: exact, or its low ``out.width`` bits where ``out`` is the
    (wrapping) accumulator."""
    exact = NumType.fitting(base_type.min + pe.product_type.min, base_type.max + pe.product_type.max)
    return to_accumulator(m, out, "wrap", base + product, exact, "psum", full_name="psum_sum")


class WeightStationaryPE(wiring.Component):
    """One weight-stationary MAC.

    Ports: ``a`` (act), ``psum_in`` (acc), ``w_bus`` (weight), ``load``,
    ``advance`` (1) in; ``psum_out`` (acc) out; with ``column = (in type, out type)`` the partial sums
    are column sums of those types (see the module docstring). ``w`` is the stationary weight
    register (the multiplier's B register when :func:`weight_in_cell`). Latency from ``a`` to
    ``psum_out``: :func:`product_delay` cycles (0: combinational); with ``pipeline=2`` the high half of ``psum_in`` /
    ``psum_out`` is the partial sum of the wavefront one cycle earlier. The
    weight updates the cycle after ``load``.
    """

    def __init__(self, pe: MacPEConfig, column: tuple[NumType, NumType] | None = None):
        self.pe, self.column = pe, column
        t_in, t_out = column or (pe.acc, pe.acc)
        super().__init__(
            {
                "a": In(pe.act.shape),
                "psum_in": In(t_in.shape),
                "w_bus": In(pe.weight.shape),
                "load": In(1),
                "advance": In(1),
                "psum_out": Out(t_out.shape),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m, pe = Module(), self.pe
        w = self.w_bus
        if not weight_in_cell(pe):
            w = Signal(pe.weight.shape, reset_less=True)
            with m.If(self.load):
                m.d.sync += w.eq(self.w_bus)
        prod = pe_product(m, pe, self.a, w, self.load, self.advance, platform, stationary_b=weight_in_cell(pe))
        p = _Product(m, pe, prod, self.advance)
        if self.column is not None:
            t_in, t_out = self.column
            m.d.comb += self.psum_out.eq(column_add(m, t_out, self.psum_in, t_in, p.value, pe))
            return m
        if not p.split:
            m.d.comb += self.psum_out.eq(accumulate(m, pe, self.psum_in, p.value, "psum"))
            return m
        L = p.split
        bits = self.psum_in.as_unsigned()
        low, high = split_add(m, pe, bits[:L], bits[L:], p, self.advance, "psum")
        m.d.comb += self.psum_out.eq(Cat(low, high))
        return m


class OutputStationaryPE(wiring.Component):
    """One output-stationary MAC.

    Ports: ``a`` (act), ``w`` (weight), ``en``, ``first``, ``last`` in;
    ``acc`` (accumulator register), ``done`` and ``done_high`` out. When
    ``en``: ``acc <= f((first ? 0 : acc) + a * w)`` and ``done <= last``;
    both hold while ``en`` is low. So ``done`` is high exactly while ``acc``
    holds a finished result (latency ``1 +`` :func:`product_delay`: the
    flags travel with the product). With ``pipeline=2`` the
    high half of ``acc`` finishes one cycle after the low half and is valid
    while ``done_high`` is high (otherwise ``done_high = done``). Bubbles must
    arrive as ``a = 0`` with both flags low (they then add nothing).
    """

    def __init__(self, pe: MacPEConfig):
        self.pe = pe
        super().__init__(
            {
                "a": In(pe.act.shape),
                "w": In(pe.weight.shape),
                "en": In(1),
                "first": In(1),
                "last": In(1),
                "acc": Out(pe.acc.shape),
                "done": Out(1),
                "done_high": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m, pe, en = Module(), self.pe, self.en
        p = _Product(m, pe, pe_product(m, pe, self.a, self.w, en, en, platform), en)
        first, last = self.first, self.last
        for k in range(product_delay(pe)):  # the flags travel with the product
            first = register(m, first, en, f"first_p{k}", reset=True)
            last = register(m, last, en, f"last_p{k}", reset=True)
        done = register(m, last, en, "done", reset=True)  # holds through stalls: a stalled read-out is kept
        m.d.comb += self.done.eq(done)
        if not p.split:
            acc = Signal(pe.acc.shape, reset_less=True)
            with m.If(en):
                m.d.sync += acc.eq(accumulate(m, pe, Mux(first, 0, acc), p.value, "acc_next"))
            m.d.comb += [self.acc.eq(acc), self.done_high.eq(done)]
            return m
        L, H = p.split, pe.acc.width - p.split
        acc_lo = Signal(L, reset_less=True)
        acc_hi = Signal(H, reset_less=True)
        first_hi = register(m, first, en, "first_hi", reset=True)
        low, high = split_add(m, pe, Mux(first, 0, acc_lo), Mux(first_hi, 0, acc_hi), p, en, "acc")
        with m.If(en):
            m.d.sync += [acc_lo.eq(low), acc_hi.eq(high)]
        m.d.comb += [self.acc.eq(Cat(acc_lo, acc_hi)), self.done_high.eq(register(m, done, en, "done_hi", reset=True))]
        return m
