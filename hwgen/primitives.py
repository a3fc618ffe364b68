"""Vendor DSP cells instantiated directly where synthesis would not use their registers, with sim models.

Yosys maps an ECP5 multiply to a ``MULT18X18D`` with every register bypassed
and cannot absorb fabric registers into it, so the cell's combinational
multiply plus its routing in and out (≈ 9 ns) bounds any ECP5 design with
multipliers near 105 MHz. :func:`registered_multiply` instantiates the cell with its
input and output registers in use instead (measured: 232 MHz for a cell
feeding a 36-bit accumulate).

The generated Verilog then contains the vendor cell. Synthesis and place and
route use the vendor's cell; every simulator (native bench, cocotb, formal,
lint) reads :func:`with_sim_models` of the Verilog, which appends
:data:`MULT18X18D_MODEL`: hwgen's behavioural model of the subset of the cell
that hwgen instantiates (registers on ``CLK0``, clock enables ``CE0``-``CE3``,
no resets, no pipeline register, no cascades), written from Lattice's sysDSP
usage guide (TN1267). Under Amaranth's simulator (``platform=None``) the
same registers are written behaviourally, so every level runs the same
design.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, Value, signed, unsigned

#: Operand width of one MULT18X18D port.
MULT18_BITS = 18


def registered_multiply(
    m: Module,
    a: Value,
    b: Value,
    *,
    a_enable: Value,
    b_enable: Value,
    p_enable: Value,
    name: str,
    cell: str = "inferred",
    platform: object = None,
    registers: str = "abp",
) -> Value:
    """``p = a_reg * b_reg``, registered: ``a_reg <= a`` when ``a_enable``, ``b_reg <= b`` when ``b_enable``,
    ``p <= a_reg * b_reg`` when ``p_enable`` (two cycles from ``a`` to ``p``). ``registers`` names the
    registers in use (``"abp"``: all three; a register left out is a wire and its enable is ignored, e.g.
    ``"b"``: a stationary operand register and a combinational product). With ``cell="mult18x18d"``
    (operands of at most 18 bits) and a ``platform`` (converting to Verilog) the registers and the
    multiply are one MULT18X18D cell; otherwise they are written behaviourally (synthesis infers them;
    Amaranth's simulator runs them)."""
    assert set(registers) <= set("abp"), registers
    wa, wb = len(a), len(b)
    sa, sb = a.shape().signed, b.shape().signed
    width = wa + wb
    p = Signal(signed(width) if (sa or sb) else unsigned(width), name=name)
    if cell != "mult18x18d" or platform is None:
        a_q = _maybe_register(m, a, a_enable, f"{name}_a", "a" in registers)
        b_q = _maybe_register(m, b, b_enable, f"{name}_b", "b" in registers)
        if "p" in registers:
            with m.If(p_enable):
                m.d.sync += p.eq(a_q * b_q)
        else:
            m.d.comb += p.eq(a_q * b_q)
        return p
    assert wa <= MULT18_BITS and wb <= MULT18_BITS, "one MULT18X18D multiplies up to 18 × 18 bits"
    a18 = Signal(signed(MULT18_BITS) if sa else unsigned(MULT18_BITS), name=f"{name}_a18")
    b18 = Signal(signed(MULT18_BITS) if sb else unsigned(MULT18_BITS), name=f"{name}_b18")
    p36 = Signal(2 * MULT18_BITS, name=f"{name}_p36")
    m.d.comb += [a18.eq(a), b18.eq(b), p.eq(p36[:width])]
    ports = {
        "p_REG_INPUTA_CLK": "CLK0" if "a" in registers else "NONE",
        "p_REG_INPUTA_CE": "CE0",
        "p_REG_INPUTB_CLK": "CLK0" if "b" in registers else "NONE",
        "p_REG_INPUTB_CE": "CE1",
        "p_REG_OUTPUT_CLK": "CLK0" if "p" in registers else "NONE",
        "p_REG_OUTPUT_CE": "CE2",
        "i_CLK0": ClockSignal(),
        "i_CE0": a_enable if "a" in registers else Const(0, 1),
        "i_CE1": b_enable if "b" in registers else Const(0, 1),
        "i_CE2": p_enable if "p" in registers else Const(0, 1),
        "i_CE3": Const(0, 1),
        "i_RST0": Const(0, 1),
        "i_SIGNEDA": Const(int(sa), 1),
        "i_SIGNEDB": Const(int(sb), 1),
        "i_SOURCEA": Const(0, 1),
        "i_SOURCEB": Const(0, 1),
    }
    for k in range(MULT18_BITS):
        ports[f"i_A{k}"] = a18[k]
        ports[f"i_B{k}"] = b18[k]
    for k in range(2 * MULT18_BITS):
        ports[f"o_P{k}"] = p36[k]
    m.submodules[f"{name}_dsp"] = Instance("MULT18X18D", **ports)
    return p


def _maybe_register(m: Module, value: Value, enable: Value, name: str, used: bool) -> Value:
    if not used:
        return value
    reg = Signal(value.shape(), name=name, reset_less=True)
    with m.If(enable):
        m.d.sync += reg.eq(value)
    return reg


def _model() -> str:
    bits = MULT18_BITS
    a_ports = ", ".join(f"A{k}" for k in range(bits))
    b_ports = ", ".join(f"B{k}" for k in range(bits))
    p_ports = ", ".join(f"P{k}" for k in range(2 * bits))
    a_cat = ", ".join(f"A{k}" for k in reversed(range(bits)))
    b_cat = ", ".join(f"B{k}" for k in reversed(range(bits)))
    p_assign = "\n".join(f"  assign P{k} = p_q[{k}];" for k in range(2 * bits))
    return f"""
// hwgen's behavioural model of the Lattice ECP5 MULT18X18D subset hwgen instantiates (for simulation only:
// synthesis uses the vendor cell). Registers on CLK0 with clock enables CE0..CE3; no resets, no pipeline
// register, no shift/cascade inputs. P = A * B (signed per SIGNEDA/SIGNEDB), 36 bits.
module MULT18X18D #(
  parameter REG_INPUTA_CLK = "NONE", parameter REG_INPUTA_CE = "CE0",
  parameter REG_INPUTB_CLK = "NONE", parameter REG_INPUTB_CE = "CE0",
  parameter REG_OUTPUT_CLK = "NONE", parameter REG_OUTPUT_CE = "CE0"
) (
  input {a_ports},
  input {b_ports},
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK0, CE0, CE1, CE2, CE3, RST0,
  output {p_ports}
);
  wire [3:0] ce = {{CE3, CE2, CE1, CE0}};
  wire ce_a = ce[REG_INPUTA_CE == "CE0" ? 0 : REG_INPUTA_CE == "CE1" ? 1 : REG_INPUTA_CE == "CE2" ? 2 : 3];
  wire ce_b = ce[REG_INPUTB_CE == "CE0" ? 0 : REG_INPUTB_CE == "CE1" ? 1 : REG_INPUTB_CE == "CE2" ? 2 : 3];
  wire ce_p = ce[REG_OUTPUT_CE == "CE0" ? 0 : REG_OUTPUT_CE == "CE1" ? 1 : REG_OUTPUT_CE == "CE2" ? 2 : 3];
  wire [17:0] a_in = {{{a_cat}}};
  wire [17:0] b_in = {{{b_cat}}};
  reg [17:0] a_r = 18'd0;
  reg [17:0] b_r = 18'd0;
  reg [35:0] p_r = 36'd0;
  wire [17:0] a_q = REG_INPUTA_CLK == "NONE" ? a_in : a_r;
  wire [17:0] b_q = REG_INPUTB_CLK == "NONE" ? b_in : b_r;
  wire signed [18:0] a_x = {{SIGNEDA & a_q[17], a_q}};
  wire signed [18:0] b_x = {{SIGNEDB & b_q[17], b_q}};
  wire signed [37:0] prod = a_x * b_x;
  wire [35:0] p_q = REG_OUTPUT_CLK == "NONE" ? prod[35:0] : p_r;
  always @(posedge CLK0) begin
    if (ce_a) a_r <= a_in;
    if (ce_b) b_r <= b_in;
    if (ce_p) p_r <= prod[35:0];
  end
{p_assign}
endmodule
"""


#: The simulation model appended by :func:`with_sim_models`.
MULT18X18D_MODEL = _model()


def with_sim_models(verilog: str) -> str:
    """``verilog`` plus the simulation model of every vendor cell it instantiates (unchanged if none)."""
    if "MULT18X18D " in verilog and "module MULT18X18D" not in verilog:
        return verilog + MULT18X18D_MODEL
    return verilog
