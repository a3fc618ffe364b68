"""An 8×8 weight-stationary INT8 systolic array (32-bit accumulators) for GEMMs of any shape.

    hwgen build examples/gemm_ws_8x8.py          # Verilog, manifest, report
    hwgen sim examples/gemm_ws_8x8.py            # random GEMMs (M, K, N not multiples of 8) on Verilator
    hwgen estimate examples/gemm_ws_8x8.py --gemm 100 300 50

The host-side GEMM driver (hwgen.blocks.systolic.gemm) streams each 8×8
weight tile row by row, then the activation rows with the previous reduction
tile's partial sums; see that module for the data order.
"""

from hwgen import Design, Int
from hwgen.blocks import MacPEConfig, SystolicArrayConfig

design = Design(
    name="gemm_ws_8x8",
    top=SystolicArrayConfig(
        rows=8,
        cols=8,
        dataflow="weight_stationary",
        pe=MacPEConfig(act=Int(8), weight=Int(8), acc=Int(32), overflow="error", max_len=4096),
    ),
    board="arty_a7_100t",
)
