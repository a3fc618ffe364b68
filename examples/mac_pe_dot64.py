"""A 64-lane INT8 dot-product PE (adder tree) with a saturating 24-bit accumulator.

Build it:   hwgen build examples/mac_pe_dot64.py
Verify it:  hwgen sim examples/mac_pe_dot64.py --vectors 2000
"""

from hwgen import Design, Int
from hwgen.blocks import MacPEConfig

design = Design(
    name="mac_pe_dot64",
    top=MacPEConfig(act=Int(8), weight=Int(8), acc=Int(24), overflow="saturate", pipeline=3, lanes=64),
    board="ulx3s_85f",
)
