"""A 16-stage INT8 N:M sparse DSP chain (FlightLLM style) serving dense, 1:2, 2:4, 1:4, 2:8 and 4:8 weights.

    hwgen sim examples/sparse_chain_16.py       # every mode, run-time switching, back-pressure
    hwgen synth examples/sparse_chain_16.py     # DSP cascade on the board's family

Weights are pruned and compressed with hwgen.sparse (prune, compress); see
hwgen.blocks.sparse_chain.matvec_vectors for streaming y = W·x through it.
"""

from hwgen import Design, Int
from hwgen.blocks import SparseChainConfig

design = Design(
    name="sparse_chain_16",
    top=SparseChainConfig(stages=16, act=Int(8), weight=Int(8), acc=Int(32), overflow="error", max_len=1024),
    board="alveo_u280",
)
