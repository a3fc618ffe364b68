"""The 8×8 INT8 weight-stationary array of gemm_ws_8x8.py, generated for a 150 MHz clock on the ULX3S (ECP5).

    hwgen build examples/gemm_ws_8x8_ecp5_150.py     # the report shows the pipelining chosen for the clock
    hwgen report examples/gemm_ws_8x8_ecp5_150.py --pnr   # nextpnr's Fmax and critical path (minutes)
    hwgen sim examples/gemm_ws_8x8_ecp5_150.py       # random GEMMs; the MULT18X18D cells run on hwgen's model

The PE's pipelining is left out, so hwgen picks it from the clock: at 150 MHz on ECP5 that is
MULT18X18D cells with their own operand and product registers and a second, fabric product register
(pe.pipeline = 4; the weight is the cell's B register), a registered stall with a one-row skid buffer,
a registered partial-sum add below the mesh, and the latency that follows (13 cycles).
"""

from hwgen import Design, Int
from hwgen.blocks import MacPEConfig, SystolicArrayConfig

design = Design(
    name="gemm_ws_8x8_ecp5_150",
    top=SystolicArrayConfig(
        rows=8,
        cols=8,
        dataflow="weight_stationary",
        pe=MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), overflow="error", max_len=4096),
    ),
    board="ulx3s_85f",
    clock_mhz=150,
)
