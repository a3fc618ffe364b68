"""Hardware arithmetic helpers shared by the blocks."""

from __future__ import annotations

from collections.abc import Callable

from amaranth.hdl import C, Module, Mux, Signal, Value, signed

from .int8pack import SHIFT
from .numtype import NumType


def to_accumulator(
    m: Module, acc: NumType, rule: str, value: Value, value_type: NumType, name: str, full_name: str | None = None
) -> Signal:
    """``value`` (an exact sum whose range is ``value_type``) brought into ``acc`` by the overflow rule.

    ``saturate`` clamps to ``[acc.min, acc.max]``, emitting only the comparisons the value's range can
    trip; ``wrap`` (and ``error``, where the config proved no overflow) keeps the low ``acc.width`` bits.
    """
    full = Signal(value_type.shape, name=full_name or f"{name}_full")
    m.d.comb += full.eq(value)
    new: Value = full
    if rule == "saturate":
        if value_type.min < acc.min:
            new = Mux(full < acc.min, acc.min, new)
        if value_type.max > acc.max:
            new = Mux(full > acc.max, acc.max, new)
    out = Signal(acc.shape, name=name)
    m.d.comb += out.eq(new)
    return out


def sum_type(acc: NumType, addend: NumType) -> NumType:
    """Exact type of ``(0 or an accumulator value) + addend``."""
    return NumType.fitting(min(acc.min, 0) + addend.min, max(acc.max, 0) + addend.max)


def kept_adder_tree(
    m: Module, name: str, values: list[Value], carries: list[Value] | None = None
) -> tuple[Value, Value]:
    """Balanced pairwise sum of ``values`` plus the 1-bit ``carries``, each carry folded into one
    addition as its carry-in (``x + y + c``); returns the tree and the one carry left over (add it
    where the tree is consumed). Without ``carries`` the leftover is a constant 0.

    Every partial sum is a kept wire: otherwise Yosys merges the whole tree into one multi-operand
    ``$macc`` and maps it to carry-save full adders in LUTs, which on xc7 costs ~1.6× the LUTs of
    one carry-chain adder per node (measured: 8 lanes of 11 bits, 168 vs 101 LUT)."""
    level, spare = list(values), list(carries) if carries else []
    spare = [None] * (len(level) - len(spare)) + spare  # None: no carry-in at that node
    n = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            carry = spare.pop()
            total = level[i] + level[i + 1] if carry is None else level[i] + level[i + 1] + carry
            node = Signal(total.shape(), name=f"{name}_sum{n}", attrs={"keep": 1})
            m.d.comb += node.eq(total)
            nxt.append(node)
            n += 1
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    rest = [c for c in spare if c is not None]  # one left over (more only with a single value)
    extra: Value = C(0, 1)
    if rest:
        extra = rest[0]
        for c in rest[1:]:
            extra = extra + c
    return level[0], extra


def requantize(
    m: Module,
    acc: Value,
    acc_width: int,
    multiplier: int | Value,
    shift: int | Value,
    zero_point: int | Value,
    lo: int | Value,
    hi: int | Value,
    even: bool = False,
) -> Value:
    """``clamp(zero_point + round_shift(acc · multiplier, shift), lo, hi)`` (ties to even when ``even``,
    else away from zero) — the rule of
    :mod:`hwgen.requant`, with ``round_shift`` coded as ``sign · (((|x| >> (shift − 1)) + 1) >> 1)``.

    Every parameter is either a constant (an ``int``: the fixed core) or a run-time signal (the record
    core: a 31-bit unsigned multiplier, a 6-bit shift, signed zero point and bounds). ``acc`` is a signed
    ``acc_width``-bit value; the product is ``acc_width + 32`` bits, exact. Combinational: the three steps
    below in one cycle (a pipelined epilogue registers between them)."""
    prod = requant_product(m, acc, acc_width, multiplier)
    return requant_offset(m, requant_round(m, prod, acc_width, shift, even=even), acc_width, zero_point, lo, hi)


def requant_product(m: Module, acc: Value, acc_width: int, multiplier: int | Value) -> Signal:
    """Step 1 of :func:`requantize`: ``acc · multiplier``, ``acc_width + 32`` bits signed."""
    prod = Signal(signed(acc_width + 32), name="rq_prod")
    m.d.comb += prod.eq(acc * multiplier)
    return prod


#: Operand bits of one partial product of :func:`partial_operands`: a 17-bit chunk is unsigned and fits every
#: family's DSP multiplier port (ECP5 18, iCE40 16+, xc7 18/25) with its sign bit to spare.
PART_BITS = 17


def partial_operands(a: Value, b: Value) -> list[tuple[int, Value, Value]]:
    """``(shift, a_chunk, b_chunk)`` with ``a · b = Σ (a_chunk · b_chunk) << shift``: 17-bit chunks of ``a``
    and ``b`` (low chunks unsigned, a signed operand's top chunk signed), each pair one DSP multiply.
    Register the products and sum them to split a wide multiply into two cycles."""

    def chunks(v: Value) -> list[tuple[int, Value]]:
        n, out = len(v), []
        for lo in range(0, n, PART_BITS):
            hi = min(lo + PART_BITS, n)
            part = v[lo:hi]
            out.append((lo, part.as_signed() if v.shape().signed and hi == n else part))
        return out

    return [(sa + sb, pa, pb) for sa, pa in chunks(a) for sb, pb in chunks(b)]


def requant_round(
    m: Module,
    prod: Value,
    acc_width: int,
    shift: int | Value,
    cut: Callable[[str, dict], dict] | None = None,
    even: bool | Value = False,
) -> Signal:
    """Step 2: ``round_shift(prod, shift, rounding)``, ``acc_width + 34`` bits signed: ties away from zero,
    or to even where ``even`` (a constant, or a run-time bit) — :mod:`hwgen.requant`'s coding.

    ``cut(point, values)``, if given, sees the values crossing each inner point — ``"magnitude"`` (after
    ``|prod|``) and ``"shifted"`` (after the shift; run-time shifts only) — and returns them, registered or
    not (a pipelined epilogue)."""
    cut = cut or (lambda _point, values: values)
    W = acc_width + 32
    mag = Signal(W, name="rq_mag")
    m.d.comb += mag.eq(Mux(prod < 0, -prod, prod))
    v = cut("magnitude", {"neg": prod < 0, "mag": mag, "shift": shift, "even": even})
    neg, mag, shift, even = v["neg"], v["mag"], v["shift"], v["even"]
    q = Signal(acc_width + 33, name="rq_q")
    if isinstance(shift, int) and shift == 0:
        m.d.comb += q.eq(mag)
        return _signed_round(m, neg, q, acc_width)
    ties_even = not (isinstance(even, bool) and not even)
    pre = Signal(W, name="rq_pre")
    sticky: Value = C(0, 1)
    if ties_even:  # a bit below the half is set: not a tie
        sticky = Signal(name="rq_sticky")
        if isinstance(shift, int):
            m.d.comb += sticky.eq(mag[: shift - 1].any() if shift > 1 else 0)
        else:
            below = ~(C((1 << W) - 1, W) << (shift - 1)[: len(shift)])[:W]
            m.d.comb += sticky.eq((mag & below).any())
    if isinstance(shift, int):
        m.d.comb += pre.eq(mag >> (shift - 1))
    else:
        m.d.comb += pre.eq(mag >> (shift - 1)[: len(shift)])
        v = cut("shifted", {"neg": neg, "mag": mag, "shift": shift, "pre": pre, "sticky": sticky, "even": even})
        neg, mag, shift, pre, sticky, even = (v[k] for k in ("neg", "mag", "shift", "pre", "sticky", "even"))
    if not ties_even:
        up: Value = (pre + 1) >> 1  # t + h
    else:
        keep = C(0, 1) if isinstance(even, bool) else ~even  # True: always to even; a bit: per record
        up = (pre >> 1) + (pre[0] & (keep | sticky | pre[1]))
    m.d.comb += q.eq(up if isinstance(shift, int) else Mux(shift == 0, mag, up))
    return _signed_round(m, neg, q, acc_width)


def _signed_round(m: Module, neg: Value, q: Value, acc_width: int) -> Signal:
    rounded = Signal(signed(acc_width + 34), name="rq_rounded")
    m.d.comb += rounded.eq(Mux(neg, -q, q))
    return rounded


def requant_offset(
    m: Module, rounded: Value, acc_width: int, zero_point: int | Value, lo: int | Value, hi: int | Value
) -> Value:
    """Step 3: ``clamp(rounded + zero_point, lo, hi)``."""
    z = Signal(signed(acc_width + 35), name="rq_zp")
    m.d.comb += z.eq(rounded + zero_point)
    return Mux(z < lo, lo, Mux(z > hi, hi, z))


def rescale_add(
    m: Module, a: Value, b: Value, mults: tuple[int, int], zeros: tuple[int, int], shift: int, zero_point: int,
    lo: int, hi: int, even: bool,
) -> Value:  # fmt: skip
    """The rescaling add of two quantized values, combinational: ``clamp(zero_point + round_shift((a − za)·Ma
    + (b − zb)·Mb, shift))`` (``mults = (Ma, Mb)``, ``zeros = (za, zb)``; :func:`requant_round`'s rounding,
    ties to even when ``even``), the rule of :func:`hwgen.schedule.graph.rescale_add`."""
    total = (a - zeros[0]) * mults[0] + (b - zeros[1]) * mults[1]
    width = max(len(total), 33)
    t = Signal(signed(width), name="rescaled_sum")
    m.d.comb += t.eq(total)
    return requant_offset(m, requant_round(m, t, width - 32, shift, even=even), width - 32, zero_point, lo, hi)


def pack_negated_pair(high: Value, low: Value) -> Value:
    """The packed operand ``high·2^18 − low`` of two INT8 values (:func:`hwgen.int8pack.pack_negated`)."""
    return (high << SHIFT) - low


def unpack_negated_pair(m: Module, packed: Value, name: str) -> tuple[Signal, Signal]:
    """``(low, high)`` of a sum of negated packed products (:func:`hwgen.int8pack.unpack_negated`):
    ``low = −Σ a·w[2j]`` is the signed low 18 bits, ``high = Σ a·w[2j+1]`` the bits above plus the low
    field's sign (its borrow). Combinational, signals ``{name}_low`` / ``{name}_high``."""
    bits = packed.as_unsigned()
    low = Signal(signed(SHIFT), name=f"{name}_low")
    high = Signal(signed(len(bits) - SHIFT + 1), name=f"{name}_high")
    m.d.comb += [low.eq(bits[:SHIFT].as_signed()), high.eq(bits[SHIFT:].as_signed() + bits[SHIFT - 1])]
    return low, high
