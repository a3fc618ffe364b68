"""Fixed-point PEs: an unsigned Q0.8 activation times a signed Q1.6 weight, 8 lanes.

Two variants of the same PE (wrapping and saturating accumulators) show one
file defining several designs.
"""

from hwgen import Design, Fixed, UFixed
from hwgen.blocks import MacPEConfig

base = MacPEConfig(
    act=UFixed(8, frac=8), weight=Fixed(8, frac=6), acc=Fixed(20, frac=14), overflow="wrap", pipeline=2, lanes=8
)
designs = [
    Design(name="mac_pe_fixed_wrap", top=base, board="icebreaker"),
    Design(name="mac_pe_fixed_sat", top=MacPEConfig(**{**base.__dict__, "overflow": "saturate"}), board="icebreaker"),
]
